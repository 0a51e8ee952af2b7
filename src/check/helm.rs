//! A program with Helm releases needs the `helm` CLI: warn at plan time
//! (apply refuses in its preflight, before changing anything).

use std::ffi::OsStr;

use crate::finding::Finding;
use crate::graph::DesiredGraph;
use crate::provider::k8s::helm::{find_helm, is_helm_kind};

/// Findings for `graph` when `helm` is looked up on `path`.
pub fn findings(graph: &DesiredGraph, path: Option<&OsStr>) -> Vec<Finding> {
    let Some(first) = graph.order().iter().find(|a| is_helm_kind(a.kind())) else {
        return Vec::new();
    };
    if find_helm(path).is_some() {
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
