//! Checks: findings about a program that need no cloud call (naming limits
//! here; platform facts and PCI DSS rules beside it).

mod helm;
pub mod k8s;

use crate::finding::Finding;
use crate::graph::DesiredGraph;
use crate::provider::Registry;

/// Findings for every resource of the program.
pub fn program_findings(graph: &DesiredGraph, registry: &Registry) -> Vec<Finding> {
    let mut out = Vec::new();
    for address in graph.order() {
        let (Some(spec), Some(schema)) = (graph.spec(address), registry.schema(address.kind()))
        else {
            continue;
        };
        if spec.name.len() > schema.name_max {
            out.push(
                Finding::error(
                    "name-too-long",
                    format!(
                        "{address}: name `{}` is {} characters; {} allows at most {}",
                        spec.name,
                        spec.name.len(),
                        schema.kind,
                        schema.name_max
                    ),
                )
                .at(address)
                .remedy(format!(
                    "shorten the purpose `{}` or the suffix by {} characters",
                    address.purpose(),
                    spec.name.len() - schema.name_max
                ))
                .source(spec.pos.to_string()),
            );
        }
    }
    out.extend(k8s::findings(graph));
    out.extend(helm::findings(graph, std::env::var_os("PATH").as_deref()));
    out
}

/// Helm findings with `helm` looked up on `path` rather than the process's
/// PATH.
pub fn helm_findings(graph: &DesiredGraph, path: Option<&std::ffi::OsStr>) -> Vec<Finding> {
    helm::findings(graph, path)
}
