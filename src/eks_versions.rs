//! EKS Kubernetes version facts, shared by the provider (which upgrades a
//! cluster step by step) and the checks (which judge the version a program
//! asks for and the path to it): the release calendar and the rule that a
//! cluster moves one minor version per update, never down.

/// EKS Kubernetes versions: (minor, end of standard support, end of
/// extended support). Source: the Amazon EKS Kubernetes release calendar
/// (docs.aws.amazon.com/eks/latest/userguide/kubernetes-versions.html).
pub const CALENDAR: &[(&str, &str, &str)] = &[
    ("1.25", "2024-05-01", "2025-05-01"),
    ("1.26", "2024-06-11", "2025-06-11"),
    ("1.27", "2024-07-24", "2025-07-24"),
    ("1.28", "2024-11-26", "2025-11-26"),
    ("1.29", "2025-03-23", "2026-03-23"),
    ("1.30", "2025-07-23", "2026-07-23"),
    ("1.31", "2025-11-26", "2026-11-26"),
    ("1.32", "2026-03-23", "2027-03-23"),
    ("1.33", "2026-07-29", "2027-07-29"),
    ("1.34", "2026-12-02", "2027-12-02"),
    ("1.35", "2027-03-27", "2028-03-27"),
];

pub const CALENDAR_SOURCE: &str = "Amazon EKS Kubernetes release calendar, docs.aws.amazon.com/eks/latest/userguide/kubernetes-versions.html";

pub const UPDATE_GUIDE: &str = "docs.aws.amazon.com/eks/latest/userguide/update-cluster.html";

/// The newest version in the calendar still in standard support on `today`
/// (`YYYY-MM-DD`).
pub fn newest_supported(today: &str) -> Option<&'static str> {
    CALENDAR
        .iter()
        .rev()
        .find(|(_, standard, _)| *standard > today)
        .map(|(v, _, _)| *v)
}

/// `1.29` → `(1, 29)`.
pub fn parse(version: &str) -> Option<(u64, u64)> {
    let (major, minor) = version.split_once('.')?;
    Some((major.parse().ok()?, minor.parse().ok()?))
}

/// Why a cluster cannot go from one version to another.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    #[error("cannot compare Kubernetes versions `{from}` and `{to}`: write them as `1.29`")]
    Unreadable { from: String, to: String },
    #[error("EKS cannot downgrade a cluster from Kubernetes {from} to {to}")]
    Downgrade { from: String, to: String },
    #[error("EKS cannot move a cluster from Kubernetes {from} to {to}: another major version")]
    OtherMajor { from: String, to: String },
}

/// The versions a cluster on `from` passes through to reach `to`, one minor
/// version per EKS update, `to` last; empty when they are the same.
pub fn upgrade_path(from: &str, to: &str) -> Result<Vec<String>, PathError> {
    if from == to {
        return Ok(Vec::new());
    }
    let pair = || (from.to_string(), to.to_string());
    let (Some((fa, fb)), Some((ta, tb))) = (parse(from), parse(to)) else {
        let (from, to) = pair();
        return Err(PathError::Unreadable { from, to });
    };
    if (ta, tb) < (fa, fb) {
        let (from, to) = pair();
        return Err(PathError::Downgrade { from, to });
    }
    if ta != fa {
        let (from, to) = pair();
        return Err(PathError::OtherMajor { from, to });
    }
    Ok((fb + 1..=tb).map(|m| format!("{fa}.{m}")).collect())
}

/// `1.28 → 1.29 → 1.30`: the path as the plan shows it.
pub fn describe_path(from: &str, steps: &[String]) -> String {
    std::iter::once(from)
        .chain(steps.iter().map(String::as_str))
        .collect::<Vec<_>>()
        .join(" → ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_goes_up_one_minor_at_a_time_and_never_down() {
        assert_eq!(upgrade_path("1.29", "1.29"), Ok(vec![]));
        assert_eq!(upgrade_path("1.28", "1.29"), Ok(vec!["1.29".to_string()]));
        let steps = upgrade_path("1.28", "1.35").unwrap();
        assert_eq!(steps.len(), 7);
        assert_eq!(
            describe_path("1.28", &steps),
            "1.28 → 1.29 → 1.30 → 1.31 → 1.32 → 1.33 → 1.34 → 1.35"
        );
        assert!(matches!(
            upgrade_path("1.29", "1.28"),
            Err(PathError::Downgrade { .. })
        ));
        assert!(matches!(
            upgrade_path("1.29", "2.0"),
            Err(PathError::OtherMajor { .. })
        ));
        assert!(matches!(
            upgrade_path("1.29", "latest"),
            Err(PathError::Unreadable { .. })
        ));
    }

    #[test]
    fn newest_supported_follows_the_calendar() {
        assert_eq!(newest_supported("2026-12-01"), Some("1.35"));
        assert_eq!(newest_supported("2024-01-01"), Some("1.35"));
    }
}
