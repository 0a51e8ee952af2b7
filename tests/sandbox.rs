//! `scripts/sandbox` as the README uses it: start the stand-ins as
//! background processes, plan the payment platform through `DIR/env` and
//! `DIR/payrun.args`, apply a small program whose refresh reaches moto and
//! the Kubernetes stand-in, stop, and nothing of the sandbox keeps running.

use crate::support::bin::text;
use crate::support::sandbox::{shell, target_dir};

fn running(pid: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit_once(')')
            .is_some_and(|(_, s)| !s.starts_with(" Z"))
    })
}

const PROGRAM: &str = r#"
let cluster = #{ kubeconfig: config().kubeconfig, context: config().vars.kube_context };
k8s::namespace("sandbox", #{ kube: cluster });
aws::ecr::repository("sandbox", #{});
"#;

#[test]
fn the_sandbox_plans_the_payment_platform_and_stops_clean() {
    let tmp = tempfile::tempdir().unwrap();
    let sb = tmp.path().join("sb");
    let started = shell(&sb, "scripts/sandbox start \"$SB\"");
    assert!(started.status.success(), "{}", text(&started));
    let pids = std::fs::read_to_string(sb.join("pids")).unwrap();
    let pids: Vec<&str> = pids.lines().collect();
    assert_eq!(pids.len(), 2, "{pids:?}");
    assert!(pids.iter().all(|p| running(p)), "{pids:?}");

    // The README's plan, acknowledgements included.
    let plan = shell(
        &sb,
        r#". "$SB/env"
command -v helm payrun
payrun plan programs/payment.rhai $(cat "$SB/payrun.args") \
    --var certificate_arn=arn:aws:acm:us-east-1:123456789012:certificate/11111111-2222-3333-4444-555555555555 \
    --acknowledge eks-version-unsupported="1.28, as the mission asks" \
    --acknowledge appmesh-end-of-support="the mesh as asked""#,
    );
    let out = text(&plan);
    assert!(plan.status.success(), "{out}");
    let found = String::from_utf8_lossy(&plan.stdout);
    let mut lines = found.lines();
    assert_eq!(lines.next(), Some(sb.join("helm/helm").to_str().unwrap()));
    assert_eq!(
        lines.next(),
        Some(target_dir().join("debug/payrun").to_str().unwrap())
    );
    assert!(
        found.contains("Plan: 191 to add, 0 to change, 0 to destroy."),
        "{out}"
    );

    // Applied, then refreshed: both clouds answer through env and args, and
    // helm reaches the cluster.
    std::fs::write(tmp.path().join("small.rhai"), PROGRAM).unwrap();
    let small = shell(
        &sb,
        r#". "$SB/env"
set -e
payrun apply "$SB/../small.rhai" $(cat "$SB/payrun.args") --suffix sb --auto-approve
payrun plan "$SB/../small.rhai" $(cat "$SB/payrun.args") --suffix sb --detailed-exitcode
helm status nothing --kubeconfig "$SB/kubeconfig" --kube-context standin"#,
    );
    let out = text(&small);
    assert_eq!(small.status.code(), Some(1), "{out}");
    assert!(out.contains("Apply complete"), "{out}");
    assert!(out.contains("Error: release: not found"), "{out}");

    let stopped = shell(&sb, "scripts/sandbox stop \"$SB\"");
    assert!(stopped.status.success(), "{}", text(&stopped));
    assert!(!pids.iter().any(|p| running(p)), "{pids:?} still run");
    assert!(!sb.join("pids").exists());
}
