//! EKS Kubernetes version facts, shared by the provider (which upgrades a
//! cluster step by step) and the checks (which judge the version a program
//! asks for and the path to it): the release calendar, from EKS itself
//! (`DescribeClusterVersions`) when the plan reads the cloud and from the
//! copy embedded in payrun otherwise, and the rule that a cluster moves one
//! minor version per update, never down.

use serde::{Deserialize, Serialize};

/// The embedded copy of the Amazon EKS Kubernetes release calendar:
/// (minor, release on EKS, end of standard support, end of extended
/// support). Source: docs.aws.amazon.com/eks/latest/userguide/kubernetes-versions.html,
/// read on [`EMBEDDED_AS_OF`]. EKS gives each minor 14 months of standard
/// support and 12 of extended support after it.
const EMBEDDED: &[(&str, &str, &str, &str)] = &[
    ("1.25", "2023-02-21", "2024-05-01", "2025-05-01"),
    ("1.26", "2023-04-11", "2024-06-11", "2025-06-11"),
    ("1.27", "2023-05-24", "2024-07-24", "2025-07-24"),
    ("1.28", "2023-09-26", "2024-11-26", "2025-11-26"),
    ("1.29", "2024-01-23", "2025-03-23", "2026-03-23"),
    ("1.30", "2024-05-23", "2025-07-23", "2026-07-23"),
    ("1.31", "2024-09-26", "2025-11-26", "2026-11-26"),
    ("1.32", "2025-01-23", "2026-03-23", "2027-03-23"),
    ("1.33", "2025-05-29", "2026-07-29", "2027-07-29"),
    ("1.34", "2025-10-02", "2026-12-02", "2027-12-02"),
    ("1.35", "2026-01-27", "2027-03-27", "2028-03-27"),
    ("1.36", "2026-06-02", "2027-08-02", "2028-08-02"),
];

/// When the embedded calendar was last brought up to date.
pub const EMBEDDED_AS_OF: &str = "2026-12-06";

pub const CALENDAR_PAGE: &str = "docs.aws.amazon.com/eks/latest/userguide/kubernetes-versions.html";

pub const UPDATE_GUIDE: &str = "docs.aws.amazon.com/eks/latest/userguide/update-cluster.html";

/// What EKS does to a control plane left on a version past the end of its
/// extended support, in the words of the calendar's FAQ.
pub const AUTO_UPGRADE: &str = "EKS upgrades a control plane left past the end of extended support on its own, to the oldest supported version, at a time it does not announce; add-ons and nodes are not upgraded with it";

/// One Kubernetes minor version on EKS. Dates are `YYYY-MM-DD` (UTC).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Version {
    pub version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub released: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_of_standard_support: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_of_extended_support: Option<String>,
    /// EKS's own word on it when read live (`STANDARD_SUPPORT`,
    /// `EXTENDED_SUPPORT`, `UNSUPPORTED`): what decides when a date is
    /// missing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

/// Where a calendar comes from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "from", rename_all = "lowercase")]
pub enum Source {
    /// EKS's `DescribeClusterVersions`, read during the plan's refresh.
    Live { region: String, read_on: String },
    /// The copy compiled into payrun; `why` says why the live one was not
    /// used when it was tried.
    Embedded {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        why: Option<String>,
    },
}

/// Where a version stands on a day.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Support {
    Standard,
    Extended,
    Unsupported,
}

/// The EKS release calendar a plan judges versions by.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Calendar {
    pub source: Source,
    pub versions: Vec<Version>,
}

impl Calendar {
    /// The copy compiled into payrun.
    pub fn embedded() -> Self {
        Self {
            source: Source::Embedded { why: None },
            versions: EMBEDDED
                .iter()
                .map(|(v, released, standard, extended)| Version {
                    version: (*v).to_string(),
                    released: Some((*released).to_string()),
                    end_of_standard_support: Some((*standard).to_string()),
                    end_of_extended_support: Some((*extended).to_string()),
                    status: None,
                })
                .collect(),
        }
    }

    /// The embedded copy, saying why the live one is not used.
    pub fn embedded_because(why: impl Into<String>) -> Self {
        Self {
            source: Source::Embedded {
                why: Some(why.into()),
            },
            ..Self::embedded()
        }
    }

    /// EKS's own answer, read in `region` on `today`. The live answer wins
    /// wherever it speaks; a version it does not list keeps the embedded
    /// facts, so a short answer never makes a known version unknown.
    pub fn live(region: &str, today: &str, answered: Vec<Version>) -> Self {
        let mut versions = answered;
        for known in Self::embedded().versions {
            if !versions.iter().any(|v| v.version == known.version) {
                versions.push(known);
            }
        }
        versions.sort_by_key(|v| parse(&v.version).unwrap_or((0, 0)));
        Self {
            source: Source::Live {
                region: region.to_string(),
                read_on: today.to_string(),
            },
            versions,
        }
    }

    pub fn get(&self, version: &str) -> Option<&Version> {
        self.versions.iter().find(|v| v.version == version)
    }

    /// Where `v` stands on `today`: by its dates, else by EKS's status.
    pub fn support(v: &Version, today: &str) -> Option<Support> {
        if let Some(extended) = &v.end_of_extended_support
            && today >= extended.as_str()
        {
            return Some(Support::Unsupported);
        }
        if let Some(standard) = &v.end_of_standard_support {
            return Some(if today >= standard.as_str() {
                Support::Extended
            } else {
                Support::Standard
            });
        }
        match v.status.as_deref()? {
            "STANDARD_SUPPORT" => Some(Support::Standard),
            "EXTENDED_SUPPORT" => Some(Support::Extended),
            "UNSUPPORTED" => Some(Support::Unsupported),
            _ => None,
        }
    }

    /// The newest version in standard support on `today` (released by
    /// then, where the calendar says when).
    pub fn newest_supported(&self, today: &str) -> Option<&str> {
        self.versions
            .iter()
            .rev()
            .filter(|v| v.released.as_deref().is_none_or(|r| r <= today))
            .find(|v| Self::support(v, today) == Some(Support::Standard))
            .map(|v| v.version.as_str())
    }

    /// Where the facts come from, as a finding's `source` says it.
    pub fn describe_source(&self) -> String {
        match &self.source {
            Source::Live { region, read_on } => format!(
                "EKS DescribeClusterVersions in {region}, read {read_on} (the live calendar)"
            ),
            Source::Embedded { why } => {
                let why = why.as_deref().map(|w| format!("; {w}")).unwrap_or_default();
                format!(
                    "payrun's embedded EKS calendar as of {EMBEDDED_AS_OF}, from {CALENDAR_PAGE}{why}"
                )
            }
        }
    }
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
        let c = Calendar::embedded();
        assert_eq!(c.newest_supported("2026-12-06"), Some("1.36"));
        // 1.36 was not out yet: the newest then was 1.35.
        assert_eq!(c.newest_supported("2026-05-01"), Some("1.35"));
        assert_eq!(c.newest_supported("2025-06-01"), Some("1.33"));
    }

    #[test]
    fn the_live_answer_wins_and_the_embedded_fills_in() {
        let live = Calendar::live(
            "us-east-1",
            "2026-12-06",
            vec![Version {
                version: "1.35".into(),
                released: Some("2026-01-27".into()),
                end_of_standard_support: Some("2026-12-01".into()),
                end_of_extended_support: Some("2027-12-01".into()),
                status: Some("EXTENDED_SUPPORT".into()),
            }],
        );
        let v = live.get("1.35").unwrap();
        assert_eq!(Calendar::support(v, "2026-12-06"), Some(Support::Extended));
        assert_eq!(
            live.get("1.36").unwrap().released.as_deref(),
            Some("2026-06-02")
        );
        assert!(
            live.describe_source()
                .starts_with("EKS DescribeClusterVersions in us-east-1")
        );
    }

    #[test]
    fn a_version_without_dates_stands_where_eks_says() {
        let v = Version {
            version: "1.37".into(),
            released: None,
            end_of_standard_support: None,
            end_of_extended_support: None,
            status: Some("STANDARD_SUPPORT".into()),
        };
        assert_eq!(Calendar::support(&v, "2026-12-06"), Some(Support::Standard));
    }
}
