//! Checks: findings about a program that need no cloud call: naming
//! limits, platform facts (EKS versions, App Mesh, Fargate limits) and
//! program acknowledgements.

mod limits;
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
    out.extend(platform::findings(graph, &platform::today()));
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
            f.message = format!(
                "{} (acknowledged at {}: {})",
                f.message, ack.pos, ack.reason
            );
        }
    }
}
