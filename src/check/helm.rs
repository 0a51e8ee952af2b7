//! A program with Helm releases needs the `helm` CLI: warn at plan time
//! (apply refuses in its preflight, before changing anything).

use std::path::Path;

use super::context::kinds::ReleaseArgs;
use crate::finding::Finding;
use crate::graph::DesiredGraph;

/// Findings for `graph` when `helm` is the helm CLI found (if any).
pub fn findings(graph: &DesiredGraph, helm: Option<&Path>) -> Vec<Finding> {
    let Some(first) = graph.order().find(|a| a.kind() == ReleaseArgs::KIND) else {
        return Vec::new();
    };
    if helm.is_some() {
        return Vec::new();
    }
    vec![
        Finding::warning(
            "helm-missing",
            format!(
                "{first} is a Helm release, but `helm` is not on PATH; apply will refuse to start"
            ),
        )
        .at(first)
        .remedy("install Helm 3 (https://helm.sh/docs/intro/install/) and put it on PATH"),
    ]
}

/// The check of this module, as [`super::CHECKS`] runs it.
pub const CHECK: super::Check = super::Check {
    name: "helm",
    codes: &["helm-missing"],
    run: |cx| findings(cx.graph, cx.facts.helm.as_deref()),
};
