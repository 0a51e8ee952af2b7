//! Stage timing: how long each stage of a command took and the peak memory
//! so far, logged at `debug`.

/// Runs one stage of a command, logging how long it took and the peak
/// memory so far at `debug` (`PAYRUN_LOG=payrun=debug`): where a slow
/// plan spends its time and memory.
pub fn timed<T>(stage: &str, f: impl FnOnce() -> T) -> T {
    let start = std::time::Instant::now();
    let out = f();
    if tracing::enabled!(tracing::Level::DEBUG) {
        tracing::debug!(
            stage,
            ms = format!("{:.1}", start.elapsed().as_secs_f64() * 1000.0),
            peak_mib = peak_rss_mib(),
            "stage done"
        );
    }
    out
}

/// The process's peak resident memory so far (`VmHWM`), in MiB; 0 where
/// `/proc` does not say.
fn peak_rss_mib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|kb| kb.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kb| kb / 1024)
}
