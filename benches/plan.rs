//! Evaluate + plan of a generated 10,000-resource program on the fake test
//! provider: time per stage and peak memory (VmHWM).
//!
//! `cargo bench --bench plan` (or `-- 20000` for another size).

use std::fmt::Write;
use std::time::Instant;

use payrun::graph::DesiredGraph;
use payrun::plan::{Mode, PlanOptions, make_plan};
use payrun::provider::Registry;
use payrun::provider::fake::{FakeConfig, FakeProvider};
use payrun::script::{ScriptConfig, evaluate};
use payrun::state::State;
use payrun::ui::render_plan;

/// 1 network per 100 resources, 10 subnets each, servers in the rest.
fn program(total: usize) -> String {
    let mut s = String::new();
    let networks = (total / 100).max(1);
    let mut count = 0;
    for n in 0..networks {
        let _ = writeln!(
            s,
            "let n{n} = fake::network(\"n{n}\", #{{ cidr: \"10.{}.0.0/16\", dns: true }});",
            n % 256
        );
        count += 1;
        for sn in 0..10 {
            let _ = writeln!(
                s,
                "let s{n}_{sn} = fake::subnet(\"n{n}-s{sn}\", #{{ network_id: n{n}.id, cidr: cidr_subnet(\"10.{}.0.0/16\", 8, {sn}) }});",
                n % 256
            );
            count += 1;
        }
        let mut v = 0;
        while count < total * (n + 1) / networks {
            let _ = writeln!(
                s,
                "fake::server(\"n{n}-v{v}\", #{{ subnet_id: s{n}_{}.id, size: \"small\", labels: #{{ net: `${{n{n}.arn}}/v{v}` }} }});",
                v % 10
            );
            v += 1;
            count += 1;
        }
    }
    s
}

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

fn main() {
    let total: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(10_000);
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("bench.rhai");
    std::fs::write(&path, program(total)).expect("write program");
    let registry = Registry::new().with(
        "fake",
        std::sync::Arc::new(FakeProvider::new(FakeConfig::default())),
    );
    let config = ScriptConfig {
        suffix: "bench".into(),
        region: "us-east-1".into(),
        stack: "bench-bench".into(),
        vars: Default::default(),
        stdlib_dirs: vec![],
        ..ScriptConfig::default()
    };
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let rss_before = peak_rss_mib();

    let t = Instant::now();
    let program = evaluate(&path, &registry, &config).expect("program evaluates");
    let eval = t.elapsed();
    let t = Instant::now();
    let graph = DesiredGraph::build(&program, &registry).expect("graph builds");
    let build = t.elapsed();
    let t = Instant::now();
    let state = State::new("bench-bench");
    let mut plan = rt
        .block_on(make_plan(
            Some((&graph, &program)),
            &state,
            &payrun::state::StackKey::from_bytes([7; 32]),
            &registry,
            "bench",
            PlanOptions {
                mode: Mode::Apply,
                refresh: true,
                replace: Vec::new(),
                mocks: Vec::new(),
            },
        ))
        .expect("plan");
    payrun::check::review(&mut plan, &graph, &program, &registry).expect("checks");
    let planning = t.elapsed();
    let t = Instant::now();
    let text = render_plan(&plan, &payrun::ui::Style::plain());
    let rendering = t.elapsed();
    let total_time = eval + build + planning;
    assert_eq!(plan.changes.len(), total);
    println!("resources:            {total}");
    println!("evaluate (Rhai):      {:>8.1} ms", eval.as_secs_f64() * 1e3);
    println!(
        "graph (petgraph):     {:>8.1} ms",
        build.as_secs_f64() * 1e3
    );
    println!(
        "plan (diff+checks):   {:>8.1} ms",
        planning.as_secs_f64() * 1e3
    );
    println!(
        "evaluate + plan:      {:>8.1} ms",
        total_time.as_secs_f64() * 1e3
    );
    println!(
        "render ({} KiB):  {:>8.1} ms",
        text.len() / 1024,
        rendering.as_secs_f64() * 1e3
    );
    println!(
        "peak RSS:             {:>8.1} MiB (at start {rss_before:.1} MiB)",
        peak_rss_mib()
    );
}
