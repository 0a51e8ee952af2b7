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
use crate::script::{AcknowledgedBy, Acknowledgement, Program};

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

/// An acknowledgement turns that code's errors into warnings that still
/// show, saying who acknowledged it and why. The person running payrun
/// outranks the program: `--acknowledge`, then payrun.toml, then
/// `acknowledge(code, reason)` in the program.
///
/// A compliance gate is acknowledged only by the person running payrun: a
/// program under review that acknowledges its own PCI DSS finding is
/// refused, and the plan says so.
fn acknowledge(findings: &mut [Finding], program: &Program) {
    for f in findings.iter_mut() {
        let mut acks: Vec<&Acknowledgement> = program
            .acknowledged
            .iter()
            .filter(|a| a.code == f.code)
            .collect();
        acks.sort_by_key(|a| a.by());
        let gate = reviewer_only(&f.code);
        let accepted = acks
            .iter()
            .find(|a| !gate || a.by() != AcknowledgedBy::Program);
        let mut notes = Vec::new();
        if let Some(ack) = accepted {
            if f.severity == Severity::Error {
                f.severity = Severity::Warning;
            }
            notes.push(format!("acknowledged {}", ack.describe()));
        }
        if gate {
            for refused in acks.iter().filter(|a| a.by() == AcknowledgedBy::Program) {
                notes.push(format!(
                    "the program's acknowledgement at {} is refused: a program may not acknowledge its own compliance findings",
                    refused.at
                ));
            }
            if accepted.is_none() && !notes.is_empty() {
                let how = format!(
                    "or accept it knowingly: --acknowledge {}=\"REASON\" (or `{} = \"REASON\"` under [acknowledge] in payrun.toml)",
                    f.code, f.code
                );
                f.remedy = Some(match f.remedy.take() {
                    Some(r) => format!("{r}; {how}"),
                    None => how,
                });
            }
        }
        if !notes.is_empty() {
            f.message = format!("{} ({})", f.message, notes.join("; "));
        }
    }
}

/// Findings only the person running payrun may acknowledge: the PCI DSS
/// rules, and the IAM rule raised only for programs in PCI DSS scope.
fn reviewer_only(code: &str) -> bool {
    code.starts_with("pci-") || code == iam::CONFUSED_DEPUTY
}

/// Helm findings with `helm` looked up on `path` rather than the process's
/// PATH.
pub fn helm_findings(graph: &DesiredGraph, path: Option<&std::ffi::OsStr>) -> Vec<Finding> {
    helm::findings(graph, path)
}
