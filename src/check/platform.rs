//! Platform facts: where what a program asks for collides with what AWS
//! offers today. Each finding names its source and a remedy; none is hidden.

use serde_json::Value;

use super::Context;
use super::context::kinds::{
    AddonArgs, ClusterArgs, NetworkPolicyArgs, ObjectArgs, ReleaseArgs, SecretProviderClassArgs,
};
use crate::eks_versions::{CALENDAR, CALENDAR_SOURCE, newest_supported};
use crate::finding::Finding;
use crate::graph::DesiredGraph;

/// AWS App Mesh end of support. Source: the App Mesh end-of-support notice
/// (docs.aws.amazon.com/app-mesh/latest/userguide/what-is-app-mesh.html).
pub const APP_MESH_END_OF_SUPPORT: &str = "2026-09-30";

/// EKS add-ons that run as DaemonSets, which Fargate does not run.
const DAEMONSET_ADDONS: &[&str] = &[
    "vpc-cni",
    "kube-proxy",
    "aws-ebs-csi-driver",
    "aws-efs-csi-driver",
    "amazon-cloudwatch-observability",
    "eks-pod-identity-agent",
    "aws-guardduty-agent",
];

/// Helm charts whose main workload is a DaemonSet.
const DAEMONSET_CHARTS: &[&str] = &[
    "secrets-store-csi-driver",
    "secrets-store-csi-driver-provider-aws",
    "aws-for-fluent-bit",
];

/// Today's date, `YYYY-MM-DD` (UTC).
pub fn today() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()[..10].to_string()
}

/// Choose a supported version; an existing cluster gets there in place,
/// through every minor version between, in one apply.
fn upgrade_remedy(version: &str, newest: &str) -> String {
    let path = match crate::eks_versions::upgrade_path(version, newest) {
        Ok(steps) if steps.len() > 1 => format!(
            "; an existing cluster upgrades in place through {} in one apply (one EKS update per minor version, add-ons moved along at each step)",
            crate::eks_versions::describe_path(version, &steps)
        ),
        Ok(steps) if steps.len() == 1 => {
            "; an existing cluster upgrades in place in one EKS update".to_string()
        }
        _ => String::new(),
    };
    format!("choose a supported version, e.g. `--var k8s_version={newest}`{path}")
}

/// The finding, if any, for an EKS cluster on `version` on `today`.
pub fn eks_version_finding(version: &str, today: &str) -> Option<Finding> {
    let newest = newest_supported(today).unwrap_or("the newest version");
    let remedy = upgrade_remedy(version, newest);
    let Some((_, standard, extended)) = CALENDAR.iter().find(|(v, _, _)| *v == version) else {
        return Some(
            Finding::warning(
                "eks-version-unknown",
                format!("Kubernetes {version} is not in payrun's EKS release calendar"),
            )
            .remedy(remedy)
            .source(CALENDAR_SOURCE),
        );
    };
    if today >= *extended {
        Some(
            Finding::error(
                "eks-version-unsupported",
                format!(
                    "Kubernetes {version} left EKS standard support on {standard} and extended support on {extended}: EKS no longer creates clusters on it"
                ),
            )
            .remedy(remedy)
            .source(CALENDAR_SOURCE),
        )
    } else if today >= *standard {
        Some(
            Finding::warning(
                "eks-version-extended-support",
                format!(
                    "Kubernetes {version} left EKS standard support on {standard}; extended support (billed per cluster hour) ends {extended}"
                ),
            )
            .remedy(remedy)
            .source(CALENDAR_SOURCE),
        )
    } else {
        None
    }
}

/// The name of a DaemonSet in a manifest (or in the items of a `List`).
fn daemonset(manifest: &Value) -> Option<String> {
    if manifest.get("kind").and_then(Value::as_str) == Some("DaemonSet") {
        let name = manifest.pointer("/metadata/name").and_then(Value::as_str);
        return Some(name.unwrap_or("(unnamed)").to_string());
    }
    manifest
        .get("items")?
        .as_array()?
        .iter()
        .find_map(daemonset)
}

/// Platform findings for a program.
pub fn findings(graph: &DesiredGraph, today: &str) -> Vec<Finding> {
    let mut out = Vec::new();
    // payrun serves no kind of EC2 node (managed node group, instance):
    // every cluster a program declares runs its pods on Fargate alone.
    let fargate_only = graph.of_kind(ClusterArgs::KIND).next().is_some();
    let mut mesh_reported = false;
    let mut netpol_reported = false;
    for spec in graph.resources() {
        let address = &spec.address;
        let kind = address.kind();
        if let Some(cluster) = Context::args::<ClusterArgs>(spec)
            && let Some(f) = eks_version_finding(&cluster.version, today)
        {
            out.push(f.at(address));
        }
        if kind.starts_with("aws.appmesh.") && !mesh_reported {
            mesh_reported = true;
            let f = if today >= APP_MESH_END_OF_SUPPORT {
                Finding::error(
                    "appmesh-end-of-support",
                    format!(
                        "AWS App Mesh reached end of support on {APP_MESH_END_OF_SUPPORT}: the App Mesh console and API no longer serve meshes"
                    ),
                )
            } else {
                Finding::warning(
                    "appmesh-end-of-support",
                    format!(
                        "AWS App Mesh reaches end of support on {APP_MESH_END_OF_SUPPORT}: after it the App Mesh console and API no longer serve meshes"
                    ),
                )
            };
            out.push(
                f.at(address)
                    .remedy("move service-to-service traffic to Amazon VPC Lattice, as AWS recommends for EKS: `--var mesh=lattice` for programs/payment.rhai, `lattice::from_graph` in your own (examples/lattice.rhai)")
                    .source("AWS App Mesh end-of-support notice, docs.aws.amazon.com/app-mesh/latest/userguide/what-is-app-mesh.html"),
            );
        }
        if !fargate_only {
            continue;
        }
        if let Some(AddonArgs {
            addon_name: name, ..
        }) = Context::args::<AddonArgs>(spec)
            && DAEMONSET_ADDONS.contains(&name.as_str())
        {
            out.push(
                Finding::warning(
                    "fargate-daemonset-addon",
                    format!("the `{name}` add-on runs as a DaemonSet; Fargate runs no DaemonSets, so on this Fargate-only cluster it schedules nothing"),
                )
                .at(address)
                .remedy("keep it only if EC2 nodes will join the cluster; Fargate pods get networking and kube-proxy from the Fargate platform")
                .source("docs.aws.amazon.com/eks/latest/userguide/fargate.html (Fargate considerations: DaemonSets are not supported)"),
            );
        }
        if let Some(object) = Context::args::<ObjectArgs>(spec)
            && let Some(name) = daemonset(&object.manifest)
        {
            out.push(
                Finding::warning(
                    "fargate-daemonset",
                    format!("{address}: DaemonSet `{name}` schedules nothing: Fargate runs no DaemonSets, and this cluster has only Fargate"),
                )
                .at(address)
                .remedy("run the agent as a sidecar of the pods that need it, or add an EKS managed node group for it")
                .source("docs.aws.amazon.com/eks/latest/userguide/fargate.html (Fargate considerations: DaemonSets are not supported)"),
            );
        }
        let csi = kind == SecretProviderClassArgs::KIND
            || Context::args::<ReleaseArgs>(spec)
                .is_some_and(|r| DAEMONSET_CHARTS.iter().any(|c| r.chart.ends_with(c)));
        if csi {
            out.push(
                Finding::warning(
                    "fargate-daemonset-csi",
                    format!("{address}: the Secrets Store CSI driver (and fluent-bit style agents) run as DaemonSets, which Fargate does not run: pods mounting the CSI volume stay Pending"),
                )
                .at(address)
                .remedy("on Fargate deliver secrets through IRSA instead: External Secrets Operator or an init container (examples/fargate-secrets.rhai)")
                .source("docs.aws.amazon.com/secretsmanager/latest/userguide/integrating_csi_driver.html (not supported on Fargate)"),
            );
        }
        if kind == NetworkPolicyArgs::KIND && !netpol_reported {
            netpol_reported = true;
            out.push(
                Finding::warning(
                    "fargate-networkpolicy",
                    "NetworkPolicy objects are accepted but not enforced for pods on Fargate",
                )
                .at(address)
                .remedy("enforce the same service paths with security groups for pods (SecurityGroupPolicy), derived from the same service graph")
                .source("docs.aws.amazon.com/eks/latest/userguide/cni-network-policy.html (network policies do not apply to Fargate pods)"),
            );
        }
    }
    out
}

/// The check of this module, as [`super::CHECKS`] runs it.
pub const CHECK: super::Check = super::Check {
    name: "platform",
    codes: &[
        "eks-version-unsupported",
        "eks-version-extended-support",
        "eks-version-unknown",
        "appmesh-end-of-support",
        "fargate-daemonset",
        "fargate-daemonset-addon",
        "fargate-daemonset-csi",
        "fargate-networkpolicy",
    ],
    run: |cx| findings(cx.graph, &cx.facts.today),
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_128_is_past_extended_support() {
        let f = eks_version_finding("1.28", "2026-11-26").unwrap();
        assert_eq!(f.code, "eks-version-unsupported");
        assert!(
            f.message.contains("2024-11-26") && f.message.contains("2025-11-26"),
            "{}",
            f.message
        );
        let remedy = f.remedy.unwrap();
        assert!(remedy.contains("--var k8s_version=1.35"), "{remedy}");
        assert!(
            remedy.contains("in place through 1.28 → 1.29 → 1.30 → 1.31 → 1.32 → 1.33 → 1.34 → 1.35 in one apply"),
            "{remedy}"
        );
    }

    #[test]
    fn calendar_windows() {
        assert!(eks_version_finding("1.34", "2026-11-26").is_none());
        assert_eq!(
            eks_version_finding("1.33", "2026-11-26").unwrap().code,
            "eks-version-extended-support"
        );
        assert_eq!(
            eks_version_finding("1.31", "2026-11-26").unwrap().code,
            "eks-version-unsupported"
        );
        assert_eq!(
            eks_version_finding("1.99", "2026-11-26").unwrap().code,
            "eks-version-unknown"
        );
        assert_eq!(newest_supported("2026-11-26"), Some("1.35"));
    }
}
