//! Platform facts: where what a program asks for collides with what AWS
//! offers today. Each finding names its source and a remedy; none is hidden.

use serde_json::Value;

use super::Context;
use super::context::kinds::{
    AddonArgs, ClusterArgs, NetworkPolicyArgs, ObjectArgs, ReleaseArgs, SecretProviderClassArgs,
};
use crate::eks_versions::{AUTO_UPGRADE, Calendar, Support};
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

/// The finding, if any, for an EKS cluster on `version` on `today`, judged
/// by `calendar` (EKS's own answer when the plan read the cloud, the
/// embedded copy otherwise; the finding names which).
pub fn eks_version_finding(version: &str, today: &str, calendar: &Calendar) -> Option<Finding> {
    let newest = calendar
        .newest_supported(today)
        .unwrap_or("the newest version");
    let remedy = upgrade_remedy(version, newest);
    let source = calendar.describe_source();
    let Some(v) = calendar.get(version) else {
        return Some(
            Finding::warning(
                "eks-version-unknown",
                format!("Kubernetes {version} is not in the EKS release calendar"),
            )
            .remedy(remedy)
            .source(source),
        );
    };
    let date = |d: &Option<String>| {
        d.clone()
            .unwrap_or_else(|| "a date EKS does not give".into())
    };
    let (standard, extended) = (
        date(&v.end_of_standard_support),
        date(&v.end_of_extended_support),
    );
    match Calendar::support(v, today)? {
        Support::Unsupported => Some(
            Finding::error(
                "eks-version-unsupported",
                format!(
                    "Kubernetes {version} left EKS standard support on {standard} and extended support on {extended}: EKS no longer creates clusters on it"
                ),
            )
            .remedy(format!("{remedy}; left as it is, {AUTO_UPGRADE}"))
            .source(source),
        ),
        Support::Extended => Some(
            Finding::warning(
                "eks-version-extended-support",
                format!(
                    "Kubernetes {version} left EKS standard support on {standard}; extended support (billed per cluster hour) ends {extended}, after which {AUTO_UPGRADE}"
                ),
            )
            .remedy(remedy)
            .source(source),
        ),
        Support::Standard => None,
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
pub fn findings(graph: &DesiredGraph, today: &str, calendar: &Calendar) -> Vec<Finding> {
    let mut out = Vec::new();
    // payrun serves no kind of self-managed EC2 node (managed node group,
    // instance): a cluster runs its pods on Fargate alone unless EKS Auto
    // Mode runs nodes for it, where DaemonSets run and NetworkPolicy is
    // enforced.
    let clusters: Vec<ClusterArgs> = Context::each::<ClusterArgs>(graph)
        .map(|(_, c)| c)
        .collect();
    let fargate_only = !clusters.is_empty() && clusters.iter().all(|c| c.auto_mode.is_none());
    let mut mesh_reported = false;
    let mut netpol_reported = false;
    for spec in graph.resources() {
        let address = &spec.address;
        let kind = address.kind();
        if let Some(cluster) = Context::args::<ClusterArgs>(spec)
            && let Some(f) = eks_version_finding(&cluster.version, today, calendar)
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
    run: |cx| findings(cx.graph, &cx.facts.today, &cx.facts.calendar),
};

#[cfg(test)]
mod tests {
    use super::*;

    fn judged(version: &str, today: &str) -> Option<Finding> {
        eks_version_finding(version, today, &Calendar::embedded())
    }

    #[test]
    fn version_128_is_past_extended_support() {
        let f = judged("1.28", "2026-12-06").unwrap();
        assert_eq!(f.code, "eks-version-unsupported");
        assert!(
            f.message.contains("2024-11-26") && f.message.contains("2025-11-26"),
            "{}",
            f.message
        );
        let remedy = f.remedy.unwrap();
        assert!(remedy.contains("--var k8s_version=1.36"), "{remedy}");
        assert!(
            remedy.contains("in place through 1.28 → 1.29 → 1.30 → 1.31 → 1.32 → 1.33 → 1.34 → 1.35 → 1.36 in one apply"),
            "{remedy}"
        );
        assert!(
            remedy.contains(
                "EKS upgrades a control plane left past the end of extended support on its own"
            ),
            "{remedy}"
        );
        assert!(
            f.source
                .unwrap()
                .starts_with("payrun's embedded EKS calendar as of")
        );
    }

    /// Three dates, one calendar: each version's window moves with the day.
    #[test]
    fn calendar_windows_on_three_dates() {
        let code = |v: &str, d: &str| judged(v, d).map(|f| f.code);
        // Before 1.34 left standard support.
        assert_eq!(code("1.34", "2026-11-26"), None);
        assert_eq!(
            code("1.33", "2026-11-26").as_deref(),
            Some("eks-version-extended-support")
        );
        assert_eq!(
            code("1.31", "2026-11-26").as_deref(),
            Some("eks-version-unsupported")
        );
        // The day it did.
        assert_eq!(
            code("1.34", "2026-12-02").as_deref(),
            Some("eks-version-extended-support")
        );
        assert_eq!(code("1.36", "2026-12-02"), None);
        // A year on: 1.34 is past extended support, 1.36 in extended.
        assert_eq!(
            code("1.34", "2027-12-02").as_deref(),
            Some("eks-version-unsupported")
        );
        assert_eq!(
            code("1.36", "2027-12-02").as_deref(),
            Some("eks-version-extended-support")
        );
        assert_eq!(
            code("1.99", "2026-11-26").as_deref(),
            Some("eks-version-unknown")
        );
    }
}
