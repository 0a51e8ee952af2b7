//! The terminal view in a real terminal: an apply of the payment platform
//! in the sandbox, inside tmux (Debian's package, which `scripts/test-env`
//! installs), read back with `capture-pane` as it runs. One line per
//! resource in flight with its elapsed time, one overall bar, no log line
//! torn into the bars, the summary at the end; narrowed to 60 columns
//! mid-apply, no line of the live view wraps and no stale bar is left;
//! NO_COLOR, and an output that is not a terminal, give plain lines.

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use crate::support::bin::text;
use crate::support::sandbox::{root, shell};

/// A tmux server of this test alone.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn new() -> Self {
        let found = Command::new("tmux").arg("-V").output();
        assert!(
            found.as_ref().is_ok_and(|o| o.status.success()),
            "tmux is missing: `scripts/test-env` installs it (Debian's tmux package)"
        );
        Self {
            socket: format!("payrun-view-{}", std::process::id()),
        }
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .unwrap()
    }

    /// A session `name` of `width`×40 running `script` under bash.
    fn start(&self, name: &str, width: u16, script: &str) {
        let out = self.run(&[
            "new-session",
            "-d",
            "-s",
            name,
            "-x",
            &width.to_string(),
            "-y",
            "40",
            "bash",
            "-c",
            script,
        ]);
        assert!(out.status.success(), "{}", text(&out));
    }

    /// The visible screen of `name`, one string per row.
    fn screen(&self, name: &str) -> Vec<String> {
        let out = self.run(&["capture-pane", "-p", "-t", name]);
        // Without the empty rows below the cursor (and those a capture
        // taken between the live view's clear and its redraw holds).
        let mut rows: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect();
        while rows.last().is_some_and(|r| r.trim().is_empty()) {
            rows.pop();
        }
        rows
    }

    /// Everything the pane held, scrollback included.
    fn history(&self, name: &str) -> String {
        let out = self.run(&["capture-pane", "-p", "-J", "-S", "-", "-t", name]);
        String::from_utf8_lossy(&out.stdout).to_string()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.run(&["kill-server"]);
    }
}

const SPINNER: &str = "⠁⠂⠄⡀⢀⠠⠐⠈⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏⠖⠲⠤⠒⠓⠆⠃⠉⠘⠰⠚⠛⠞⠟⠻⠽⠾⠷⠯⠿ ";

/// `  ⠁ [  2s] aws.ec2.vpc.main: creating`: a resource in flight (its
/// text cut with `…` where the row would be wider than 60).
fn in_flight(line: &str) -> bool {
    let mut chars = line.chars();
    line.starts_with("  ")
        && chars.nth(2).is_some_and(|c| SPINNER.contains(c))
        && line[2..].split_once(" [").is_some_and(|(_, rest)| {
            rest.split_once("s] ").is_some_and(|(secs, what)| {
                secs.trim().parse::<u64>().is_ok()
                    && what.starts_with(|c: char| c.is_ascii_lowercase())
            })
        })
}

/// `00:00:02 [=====>   ] 57/191`: the overall bar.
fn overall(line: &str) -> bool {
    line.len() > 10
        && line.as_bytes()[2] == b':'
        && line.contains(" [")
        && line.trim_end().ends_with("/191")
}

const ASKED: &str = "--suffix qa --var certificate_arn=arn:aws:acm:us-east-1:123456789012:certificate/11111111-2222-3333-4444-555555555555 --acknowledge eks-version-unsupported=sandbox --acknowledge appmesh-end-of-support=sandbox";

#[test]
fn the_apply_view_in_a_real_terminal() {
    let tmux = Tmux::new();
    let tmp = tempfile::tempdir().unwrap();
    let sb = tmp.path().join("sb");
    let started = shell(&sb, "scripts/sandbox start \"$SB\"");
    assert!(started.status.success(), "{}", text(&started));
    let sb_s = sb.display().to_string();
    let root_s = root().display().to_string();
    let script = format!(
        "cd {root_s}; . {sb_s}/env; unset NO_COLOR PAYRUN_LOG; export TERM=xterm-256color; \
         (sleep 2; scripts/sandbox push {sb_s} ecr-payment-qa:1.0.0 ecr-fraud-detection-qa:1.0.0 ecr-reporting-qa:1.0.0 >/dev/null 2>&1) & \
         payrun apply programs/payment.rhai $(cat {sb_s}/payrun.args) {ASKED} --auto-approve > {sb_s}/plan.txt; \
         echo \"EXIT=$?\"; sleep 600"
    );
    tmux.start("view", 120, &script);

    let deadline = Instant::now() + Duration::from_secs(180);
    let mut wide = Vec::new();
    let mut narrow = Vec::new();
    let mut resized = false;
    let last = loop {
        std::thread::sleep(Duration::from_millis(100));
        let screen = tmux.screen("view");
        if screen.iter().any(|l| l.starts_with("EXIT=")) {
            break screen;
        }
        assert!(
            Instant::now() < deadline,
            "the apply did not end:\n{}",
            screen.join("\n")
        );
        let progressed = screen
            .iter()
            .find(|l| overall(l))
            .and_then(|l| {
                l.trim_end()
                    .strip_suffix("/191")?
                    .rsplit(' ')
                    .next()?
                    .parse::<u32>()
                    .ok()
            })
            .unwrap_or(0);
        if resized {
            narrow.push(screen);
        } else {
            wide.push(screen);
            if progressed >= 40 {
                let out = tmux.run(&["resize-window", "-t", "view", "-x", "60", "-y", "40"]);
                assert!(out.status.success(), "{}", text(&out));
                resized = true;
            }
        }
    };
    assert!(resized, "the apply ended before it could be narrowed");
    assert!(last.iter().any(|l| l == "EXIT=0"), "{}", last.join("\n"));

    // While it runs (120 columns): resources in flight, each on one line
    // with its elapsed time, above one overall bar.
    let busy = wide
        .iter()
        .filter(|s| s.iter().filter(|l| in_flight(l)).count() >= 2)
        .count();
    assert!(
        busy >= 1,
        "no screen showed resources in flight:\n{}",
        wide.last().unwrap().join("\n")
    );
    for (i, screen) in wide.iter().chain(&narrow).enumerate() {
        let bars = screen.iter().filter(|l| overall(l)).count();
        assert!(
            bars <= 1,
            "screen {i}: {bars} overall bars:\n{}",
            screen.join("\n")
        );
        for line in screen {
            // A log line never shares a row with the live view.
            let torn = (line.contains('✓') && !line.starts_with('✓'))
                || (line.contains("/191") && !overall(line))
                || (line.contains("] 1") && line.contains("✓"));
            assert!(
                !torn,
                "screen {i}: torn line {line:?}:\n{}",
                screen.join("\n")
            );
        }
        // The live view sits at the bottom: in-flight lines, then the bar.
        if let Some(bar) = screen.iter().position(|l| overall(l)) {
            let first = screen[..bar]
                .iter()
                .rposition(|l| !in_flight(l))
                .map_or(0, |p| p + 1);
            for line in &screen[first..bar] {
                assert!(in_flight(line), "screen {i}: {line:?}");
            }
        }
    }
    // Narrowed to 60 columns: the live view's lines are cut to fit, none
    // wraps onto a second row.
    let narrowed_busy = narrow
        .iter()
        .filter(|s| s.iter().any(|l| in_flight(l)))
        .collect::<Vec<_>>();
    assert!(!narrowed_busy.is_empty(), "nothing ran after the resize");
    for screen in &narrowed_busy {
        let bar = screen
            .iter()
            .position(|l| overall(l))
            .unwrap_or(screen.len());
        let first = screen[..bar]
            .iter()
            .position(|l| in_flight(l))
            .unwrap_or(bar);
        for line in &screen[first..bar] {
            assert!(
                in_flight(line) && line.chars().count() <= 60,
                "a live line wrapped or overflowed at 60 columns: {line:?}\n{}",
                screen.join("\n")
            );
        }
    }
    // The summary at the end, and no bar or spinner left anywhere.
    let history = tmux.history("view");
    assert!(
        history.contains("Apply complete! Resources: 191 added, 0 changed, 0 destroyed."),
        "{history}"
    );
    assert!(
        !last.iter().any(|l| overall(l) || in_flight(l)),
        "{}",
        last.join("\n")
    );
    assert!(
        !history.lines().any(overall),
        "a stale bar is left:\n{history}"
    );
    println!(
        "captured at 120 columns:\n{}",
        wide[wide.len() / 2].join("\n")
    );
    println!("captured at 60 columns:\n{}", narrowed_busy[0].join("\n"));
    println!("captured at the end:\n{}", last.join("\n"));

    // NO_COLOR in the same terminal, and an output that is no terminal:
    // plain, timestamped lines, no bar.
    let plain = format!(
        "cd {root_s}; . {sb_s}/env; export NO_COLOR=1 TERM=xterm-256color; \
         payrun destroy programs/payment.rhai $(cat {sb_s}/payrun.args) {ASKED} --auto-approve >/dev/null; \
         echo \"EXIT=$?\"; sleep 600"
    );
    tmux.start("plain", 120, &plain);
    let deadline = Instant::now() + Duration::from_secs(180);
    let mut seen = Vec::new();
    loop {
        std::thread::sleep(Duration::from_millis(200));
        let screen = tmux.screen("plain");
        let ended = screen.iter().any(|l| l.starts_with("EXIT="));
        seen.push(screen);
        if ended {
            break;
        }
        assert!(Instant::now() < deadline, "the destroy did not end");
    }
    let end = seen.last().unwrap();
    assert!(end.iter().any(|l| l == "EXIT=0"), "{}", end.join("\n"));
    for screen in &seen {
        assert!(
            !screen
                .iter()
                .any(|l| in_flight(l) || overall(l) || l.contains("\u{1b}")),
            "NO_COLOR drew the live view:\n{}",
            screen.join("\n")
        );
    }
    let history = tmux.history("plain");
    assert!(
        history
            .lines()
            .any(|l| l.starts_with("20") && l.contains("Z aws.ec2.vpc.main: destroyed after")),
        "{history}"
    );
    std::fs::write(
        sb.join("small.rhai"),
        "let cluster = #{ kubeconfig: config().kubeconfig, context: config().vars.kube_context };\nk8s::namespace(\"piped\", #{ kube: cluster });\naws::ecr::repository(\"piped\", #{});\n",
    )
    .unwrap();
    let piped = format!(
        "cd {root_s}; . {sb_s}/env; unset NO_COLOR; export TERM=xterm-256color; \
         payrun apply {sb_s}/small.rhai $(cat {sb_s}/payrun.args) --auto-approve 2>&1 | cat; \
         echo \"EXIT=${{PIPESTATUS[0]}}\"; sleep 600"
    );
    tmux.start("piped", 120, &piped);
    let deadline = Instant::now() + Duration::from_secs(60);
    let screen = loop {
        std::thread::sleep(Duration::from_millis(200));
        let screen = tmux.screen("piped");
        if screen.iter().any(|l| l.starts_with("EXIT=")) {
            break screen;
        }
        assert!(Instant::now() < deadline, "the piped apply did not end");
    };
    assert!(
        screen.iter().any(|l| l == "EXIT=0"),
        "{}",
        screen.join("\n")
    );
    assert!(
        screen
            .iter()
            .any(|l| l.starts_with("20") && l.contains("Z aws.ecr.repository.piped: created after")),
        "{}",
        screen.join("\n")
    );
    assert!(
        !screen.iter().any(|l| in_flight(l) || l.contains("\u{1b}")),
        "{}",
        screen.join("\n")
    );
    let stopped = shell(&sb, "scripts/sandbox stop \"$SB\"");
    assert!(stopped.status.success(), "{}", text(&stopped));
}
