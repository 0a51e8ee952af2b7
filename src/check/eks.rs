//! EKS upgrades: a cluster moves one Kubernetes minor version per update,
//! never down. Checked against the planned changes, since the recorded
//! version lives in state, not in the program. A version several minors
//! up is a path of in-place updates the provider walks in one apply.

use serde_json::Value;

use super::context::kinds::ClusterArgs;
use crate::address::Address;
use crate::eks_versions::{PathError, UPDATE_GUIDE, upgrade_path};
use crate::finding::Finding;
use crate::plan::{Action, ResourceChange};

/// A planned in-place upgrade of an EKS cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Upgrade {
    pub cluster: Address,
    pub from: String,
    /// The versions passed through, the program's last.
    pub steps: Vec<String>,
}

fn version(v: Option<&Value>) -> Option<&str> {
    v?.get("version")?.as_str()
}

fn cluster_updates(
    changes: &[ResourceChange],
) -> impl Iterator<Item = (&ResourceChange, &str, &str)> {
    changes
        .iter()
        .filter(|c| c.address.kind() == ClusterArgs::KIND && c.action == Action::Update)
        .filter_map(|c| Some((c, version(c.before.as_ref())?, version(c.after.as_deref())?)))
}

/// The clusters a plan upgrades, with the path each takes.
pub fn upgrades(changes: &[ResourceChange]) -> Vec<Upgrade> {
    cluster_updates(changes)
        .filter_map(|(c, from, to)| {
            let steps = upgrade_path(from, to).ok().filter(|s| !s.is_empty())?;
            Some(Upgrade {
                cluster: c.address.clone(),
                from: from.to_string(),
                steps,
            })
        })
        .collect()
}

/// An error finding for each planned cluster update EKS cannot make: a
/// downgrade, another major version, an unreadable version.
pub fn findings(changes: &[ResourceChange]) -> Vec<Finding> {
    cluster_updates(changes)
        .filter_map(|(c, from, to)| {
            let problem = upgrade_path(from, to).err()?;
            let (code, remedy) = match &problem {
                PathError::Downgrade { .. } => (
                    "eks-version-downgrade",
                    format!("set `version` to {from} or above (the version the cluster runs); to go back, create a new cluster under another suffix and move the workloads"),
                ),
                _ => (
                    "eks-version-path",
                    format!("set `version` to a 1.x minor version at or above {from}, e.g. `1.31`"),
                ),
            };
            Some(
                Finding::error(code, problem.to_string())
                    .at(&c.address)
                    .remedy(remedy)
                    .source(UPDATE_GUIDE),
            )
        })
        .collect()
}

/// The check of this module, as [`super::CHECKS`] runs it.
pub const CHECK: super::Check = super::Check {
    name: "eks upgrades",
    codes: &["eks-version-downgrade", "eks-version-path"],
    run: |cx| findings(cx.changes),
};
