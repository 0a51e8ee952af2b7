//! Checks: findings about a program that need no cloud call: naming
//! limits, IAM and secret hygiene, platform facts (EKS versions, App Mesh, Fargate limits),
//! PCI DSS rules for programs in scope, Kubernetes manifests and quotas,
//! helm availability, and program acknowledgements.

pub mod eks;
mod helm;
mod iam;
pub mod k8s;
mod limits;
pub mod pci;
pub mod platform;

use crate::finding::{Finding, Severity};
use crate::graph::DesiredGraph;
use crate::provider::Registry;
use crate::script::Program;

/// Every finding for a program, with the program's acknowledgements
/// applied.
pub fn program_findings(
    graph: &DesiredGraph,
    program: &Program,
    registry: &Registry,
) -> Vec<Finding> {
    let mut out = program.findings.clone();
    out.extend(limits::findings(graph, registry));
    out.extend(iam::findings(graph));
    out.extend(platform::findings(graph, &platform::today()));
    out.extend(pci::findings(graph));
    out.extend(k8s::findings(graph));
    out.extend(helm::findings(graph, std::env::var_os("PATH").as_deref()));
    acknowledge(&mut out, program);
    out
}

/// `acknowledge(code, reason)` in a program turns that code's errors into
/// warnings that still show, with where and why they were acknowledged.
fn acknowledge(findings: &mut [Finding], program: &Program) {
    for f in findings.iter_mut() {
        if let Some(ack) = program.acknowledged.iter().find(|a| a.code == f.code) {
            if f.severity == Severity::Error {
                f.severity = Severity::Warning;
            }
            f.message = format!("{} (acknowledged at {}: {})", f.message, ack.at, ack.reason);
        }
    }
}

/// Helm findings with `helm` looked up on `path` rather than the process's
/// PATH.
pub fn helm_findings(graph: &DesiredGraph, path: Option<&std::ffi::OsStr>) -> Vec<Finding> {
    helm::findings(graph, path)
}
