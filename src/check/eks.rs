//! EKS upgrades: a cluster moves one Kubernetes minor version per update,
//! never down. Checked against the planned changes, since the recorded
//! version lives in state, not in the program. A version several minors
//! up is a path of in-place updates the provider walks in one apply.

use serde_json::Value;

use super::context::kinds::{AUTHENTICATION_MODES, ClusterArgs};
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

/// An error finding for each planned cluster update that moves its
/// authentication mode back (EKS moves it only forward: CONFIG_MAP →
/// API_AND_CONFIG_MAP → API).
pub fn access_findings(changes: &[ResourceChange]) -> Vec<Finding> {
    fn mode(v: Option<&Value>) -> &str {
        v.and_then(|v| v.get("authentication_mode"))
            .and_then(Value::as_str)
            .unwrap_or("CONFIG_MAP")
    }
    let rank = |m: &str| AUTHENTICATION_MODES.iter().position(|x| *x == m);
    changes
        .iter()
        .filter(|c| c.address.kind() == ClusterArgs::KIND && c.action == Action::Update)
        .filter_map(|c| {
            let (from, to) = (mode(c.before.as_ref()), mode(c.after.as_deref()));
            (rank(to)? < rank(from)?).then(|| {
                Finding::error(
                    "eks-authentication-mode",
                    format!("EKS cannot move a cluster's authentication mode back from {from} to {to}"),
                )
                .at(&c.address)
                .remedy(format!("keep `authentication_mode: \"{from}\"` (or move forward: CONFIG_MAP → API_AND_CONFIG_MAP → API)"))
                .source("docs.aws.amazon.com/eks/latest/userguide/grant-k8s-access.html#set-cam")
            })
        })
        .collect()
}

/// The check of this module, as [`super::CHECKS`] runs it.
pub const CHECK: super::Check = super::Check {
    name: "eks upgrades",
    codes: &[
        "eks-version-downgrade",
        "eks-version-path",
        "eks-authentication-mode",
    ],
    run: |cx| {
        let mut out = findings(cx.changes);
        out.extend(access_findings(cx.changes));
        out
    },
};

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;

    use super::*;

    fn update(before: &str, after: &str) -> ResourceChange {
        ResourceChange {
            address: "aws.eks.cluster.main".parse().unwrap(),
            action: Action::Update,
            name: "eks-main-qa".into(),
            id: Some("eks-main-qa".into()),
            before: Some(json!({ "version": "1.35", "authentication_mode": before })),
            after: Some(Arc::new(
                json!({ "version": "1.35", "authentication_mode": after }),
            )),
            changes: Vec::new(),
            replace_because: Vec::new(),
            drift: Vec::new(),
            deps: Vec::new(),
            prior_deps: Vec::new(),
            outputs: serde_json::Map::new(),
            declared_at: None,
            completing: false,
            create_before_destroy: false,
            generation: 0,
            deposed: Vec::new(),
            duplicates: Vec::new(),
            live_drift: serde_json::Map::new(),
            gone: false,
            protect: false,
            protected_before: false,
            import_at: None,
        }
    }

    #[test]
    fn an_authentication_mode_moves_only_forward() {
        assert!(access_findings(&[update("CONFIG_MAP", "API")]).is_empty());
        assert!(access_findings(&[update("API_AND_CONFIG_MAP", "API")]).is_empty());
        let back = access_findings(&[update("API", "API_AND_CONFIG_MAP")]);
        assert_eq!(back.len(), 1);
        assert_eq!(back[0].code, "eks-authentication-mode");
        assert_eq!(
            back[0].message,
            "EKS cannot move a cluster's authentication mode back from API to API_AND_CONFIG_MAP"
        );
    }
}
