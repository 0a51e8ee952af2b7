//! EKS upgrades: a cluster moves one Kubernetes minor version per update,
//! never down. Checked against the planned changes, since the recorded
//! version lives in state, not in the program.

use serde_json::Value;

use crate::finding::Finding;
use crate::plan::{Action, ResourceChange};

/// `1.29` → `(1, 29)`.
fn minor(version: &str) -> Option<(u64, u64)> {
    let (major, minor) = version.split_once('.')?;
    Some((major.parse().ok()?, minor.parse().ok()?))
}

/// Why EKS cannot move a cluster from `from` to `to` in one update, if it
/// cannot.
pub fn upgrade_problem(from: &str, to: &str) -> Option<String> {
    if from == to {
        return None;
    }
    let (Some((fa, fb)), Some((ta, tb))) = (minor(from), minor(to)) else {
        return Some(format!(
            "cannot compare Kubernetes versions `{from}` and `{to}`: write them as `1.29`"
        ));
    };
    if (ta, tb) < (fa, fb) {
        return Some(format!(
            "EKS cannot downgrade a cluster from Kubernetes {from} to {to}"
        ));
    }
    if ta != fa || tb > fb + 1 {
        let next = format!("{fa}.{}", fb + 1);
        return Some(format!(
            "EKS upgrades a cluster one minor version at a time: {from} → {to} skips versions; upgrade to {next} first, apply, then continue"
        ));
    }
    None
}

/// An error finding for each planned cluster update that skips a minor
/// version or goes down.
pub fn findings(changes: &[ResourceChange]) -> Vec<Finding> {
    let version = |v: &Option<Value>| {
        v.as_ref()
            .and_then(|v| v.get("version"))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    changes
        .iter()
        .filter(|c| c.address.kind() == "aws.eks.cluster" && c.action == Action::Update)
        .filter_map(|c| {
            let problem = upgrade_problem(&version(&c.before)?, &version(&c.after)?)?;
            Some(
                Finding::error("eks-version-skip", problem)
                    .at(&c.address)
                    .remedy("set `version` to the next minor version of the recorded one")
                    .source("docs.aws.amazon.com/eks/latest/userguide/update-cluster.html"),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_minor_up_is_fine_two_or_down_are_not() {
        assert_eq!(upgrade_problem("1.28", "1.29"), None);
        assert_eq!(upgrade_problem("1.29", "1.29"), None);
        assert!(
            upgrade_problem("1.28", "1.30")
                .unwrap()
                .contains("upgrade to 1.29 first")
        );
        assert!(
            upgrade_problem("1.29", "1.28")
                .unwrap()
                .contains("downgrade")
        );
    }
}
