//! The PCI DSS controls that must run, judged at plan time for programs in
//! scope (see `pci::in_scope`): a web application firewall on every
//! internet-facing load balancer (6.4.2), an audit trail (10.2.1, 10.3.4,
//! 10.5.1), threat detection with an alert path (11.5.1, 10.7.2), and
//! cluster access through named access entries (7.2, 8.2). A control that
//! runs outside the program (an organization trail, GuardDuty owned by
//! another stack) is accepted by the person running payrun with
//! `--acknowledge CODE=REASON`, never by the program.
//!
//! A missing control is no one resource's fault: its finding points at the
//! EKS cluster (the system component whose activity goes unrecorded or
//! unwatched), else at the program's first resource.

use serde_json::Value;

use crate::address::Address;
use crate::finding::Finding;
use crate::graph::DesiredGraph;
use crate::script::ResourceSpec;
use crate::value::as_ref;

use super::context::Context;

const STANDARD: &str = "PCI DSS v4.0.1";

const WAF_ANNOTATION: &str = "alb.ingress.kubernetes.io/wafv2-acl-arn";
const CLUSTER: &str = "aws.eks.cluster";
const TRAIL: &str = "awscc.cloudtrail.trail";
const DETECTOR: &str = "awscc.guardduty.detector";
const RULE: &str = "awscc.events.rule";
const ACCESS_ENTRY: &str = "awscc.eks.access_entry";
const ADMIN_POLICY: &str = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy";

fn requirement(f: Finding, numbers: &str, what: &str) -> Finding {
    f.source(format!("{STANDARD} Requirement {numbers} ({what})"))
}

/// Where a missing control's finding points.
fn anchor(graph: &DesiredGraph) -> Option<&Address> {
    graph
        .of_kind(CLUSTER)
        .next()
        .or_else(|| graph.resources().next())
        .map(|s| &s.address)
}

fn located(f: Finding, at: Option<&Address>) -> Finding {
    match at {
        Some(a) => f.at(a),
        None => f,
    }
}

fn is_true(v: &Value) -> bool {
    v.as_bool() == Some(true)
}

/// Is this value given (a literal, or a ref payrun resolves at apply)?
fn given(v: &Value) -> bool {
    !v.is_null() && v.as_str() != Some("")
}

/// 6.4.2: an internet-facing ALB Ingress without a web ACL, or an
/// internet-facing application load balancer no web ACL is associated
/// with.
fn waf(graph: &DesiredGraph) -> Vec<Finding> {
    let mut out = Vec::new();
    let finding = |address: &Address, what: String| {
        requirement(
            Finding::error("pci-waf", what)
                .at(address)
                .remedy("put a WAFv2 web ACL in front of it: `web_acl: pci::web_acl(\"edge\", #{ kms_key: key }).acl` in `workloads::ingress` (stdlib/pci.rhai; the annotation alb.ingress.kubernetes.io/wafv2-acl-arn), or an `awscc::wafv2::web_acl_association` naming the load balancer"),
            "6.4.2",
            "an automated technical solution detects and prevents web-based attacks on public-facing web applications",
        )
    };
    for spec in graph.of_kind("k8s.ingress") {
        if spec.args["scheme"].as_str() != Some("internet-facing") {
            continue;
        }
        if !given(&spec.args["annotations"][WAF_ANNOTATION]) {
            out.push(finding(
                &spec.address,
                format!(
                    "{}: the internet-facing load balancer has no web application firewall (no `{WAF_ANNOTATION}` annotation)",
                    spec.address
                ),
            ));
        }
    }
    let associated: Vec<Address> = graph
        .of_kind("awscc.wafv2.web_acl_association")
        .filter_map(|s| as_ref(&s.args["resource_arn"]))
        .map(|r| r.address)
        .collect();
    for spec in graph.of_kind("awscc.elasticloadbalancingv2.load_balancer") {
        let public = spec.args["scheme"].as_str() == Some("internet-facing");
        let application = spec.args["type"]
            .as_str()
            .is_none_or(|t| t == "application");
        if public && application && !associated.contains(&spec.address) {
            out.push(finding(
                &spec.address,
                format!(
                    "{}: the internet-facing application load balancer has no web ACL associated with it",
                    spec.address
                ),
            ));
        }
    }
    out
}

/// What a trail lacks of 10.2.1 (every region, logging), 10.3.4 (log file
/// validation) and 3.5/10.3.2 (a customer managed key).
fn trail_gaps(spec: &ResourceSpec) -> Vec<&'static str> {
    let a = &spec.args;
    let mut gaps = Vec::new();
    if !is_true(&a["is_logging"]) {
        gaps.push("`is_logging: true`");
    }
    if !is_true(&a["is_multi_region_trail"]) {
        gaps.push("`is_multi_region_trail: true`");
    }
    if !is_true(&a["enable_log_file_validation"]) {
        gaps.push("`enable_log_file_validation: true`");
    }
    if !given(&a["kms_key_id"]) {
        gaps.push("`kms_key_id` (a customer managed key)");
    }
    gaps
}

fn audit_trail(graph: &DesiredGraph) -> Vec<Finding> {
    let what = "audit logs of all access are enabled, protected and kept at least twelve months";
    let trails: Vec<&ResourceSpec> = graph.of_kind(TRAIL).collect();
    if trails.iter().any(|t| trail_gaps(t).is_empty()) {
        return Vec::new();
    }
    if trails.is_empty() {
        return vec![requirement(
            located(
                Finding::error(
                    "pci-audit-trail",
                    "no CloudTrail trail records the API calls made to this platform's AWS account".to_string(),
                ),
                anchor(graph),
            )
            .remedy("add `pci::audit_trail(\"audit\", #{ account: net.vpc.owner_id, kms_key: key })` (stdlib/pci.rhai); where an organization trail covers this account, accept it with --acknowledge pci-audit-trail=\"REASON\""),
            "10.2.1, 10.5.1",
            what,
        )];
    }
    trails
        .into_iter()
        .map(|t| {
            requirement(
                Finding::error(
                    "pci-audit-trail",
                    format!(
                        "{}: the trail is not a complete audit trail: it needs {}",
                        t.address,
                        trail_gaps(t).join(", ")
                    ),
                )
                .at(&t.address)
                .remedy("set what the message names (`pci::audit_trail` sets all of it)"),
                "10.2.1, 10.3.4, 10.5.1",
                what,
            )
        })
        .collect()
}

/// Does a detector's spec watch EKS audit logs?
fn watches_eks(spec: &ResourceSpec) -> bool {
    let feature = spec.args["features"].as_array().is_some_and(|fs| {
        fs.iter()
            .any(|f| f["name"] == "EKS_AUDIT_LOGS" && f["status"] == "ENABLED")
    });
    feature || is_true(&spec.args["data_sources"]["kubernetes"]["audit_logs"]["enable"])
}

fn threat_detection(graph: &DesiredGraph) -> Vec<Finding> {
    let what = "intrusion-detection techniques detect and alert on intrusions; failures of critical controls are alerted";
    let clusters = graph.of_kind(CLUSTER).count();
    let detectors: Vec<&ResourceSpec> = graph
        .of_kind(DETECTOR)
        .filter(|d| is_true(&d.args["enable"]))
        .collect();
    let other_stack = "; where another stack of this account owns GuardDuty, accept it with --acknowledge pci-threat-detection=\"REASON\"";
    let Some(detector) = detectors.first() else {
        return vec![requirement(
            located(
                Finding::error(
                    "pci-threat-detection",
                    "no GuardDuty detector watches this platform's account for intrusions".to_string(),
                ),
                anchor(graph),
            )
            .remedy(format!(
                "add `pci::threat_detection(\"platform\", #{{ account: net.vpc.owner_id, kms_key: key, eks: eks }})` (stdlib/pci.rhai){other_stack}"
            )),
            "11.5.1, 10.7.2",
            what,
        )];
    };
    let mut out = Vec::new();
    if clusters > 0 && !detectors.iter().any(|d| watches_eks(d)) {
        out.push(requirement(
            Finding::error(
                "pci-threat-detection",
                format!(
                    "{}: GuardDuty does not read the EKS clusters' audit logs",
                    detector.address
                ),
            )
            .at(&detector.address)
            .remedy("add `#{ name: \"EKS_AUDIT_LOGS\", status: \"ENABLED\" }` to the detector's `features`"),
            "11.5.1",
            what,
        ));
    }
    let routed = graph.of_kind(RULE).any(|r| {
        r.args["event_pattern"]["source"]
            .as_array()
            .is_some_and(|s| s.iter().any(|s| s == "aws.guardduty"))
            && r.args["targets"].as_array().is_some_and(|t| !t.is_empty())
    });
    if !routed {
        out.push(requirement(
            Finding::error(
                "pci-threat-detection",
                format!(
                    "{}: GuardDuty's findings reach no one: no EventBridge rule sends them anywhere",
                    detector.address
                ),
            )
            .at(&detector.address)
            .remedy("route them to an alert topic: `awscc::events::rule` with `event_pattern: #{ source: [\"aws.guardduty\"] }` and a target (`pci::threat_detection` makes both)"),
            "10.7.2",
            what,
        ));
    }
    out
}

/// Runtime monitoring covers EKS pods on EC2 nodes, not on Fargate: said
/// wherever a Fargate-only cluster is watched.
fn fargate_runtime(graph: &DesiredGraph) -> Vec<Finding> {
    if graph.of_kind(DETECTOR).next().is_none() {
        return Vec::new();
    }
    graph
        .of_kind(CLUSTER)
        .filter(|c| c.args["auto_mode"].is_null())
        .filter(|c| {
            graph
                .of_kind("aws.eks.fargate_profile")
                .any(|p| as_ref(&p.args["cluster"]).is_some_and(|r| r.address == c.address))
        })
        .map(|c| {
            Finding::warning(
                "guardduty-fargate-runtime",
                format!(
                    "{}: GuardDuty Runtime Monitoring does not cover EKS pods on Fargate: intrusion detection here rests on the EKS audit logs, VPC flow logs and DNS logs GuardDuty reads",
                    c.address
                ),
            )
            .at(&c.address)
            .remedy("run the pods on EKS Auto Mode (`--var compute=auto` for programs/payment.rhai), where `pci::threat_detection` turns runtime monitoring on")
            .source("docs.aws.amazon.com/guardduty/latest/ug/runtime-monitoring.html (Fargate is supported for Amazon ECS only)")
        })
        .collect()
}

fn cluster_access(graph: &DesiredGraph) -> Vec<Finding> {
    graph
        .of_kind(CLUSTER)
        .filter_map(|c| {
            let a = &c.args;
            let mut gaps = Vec::new();
            if a["authentication_mode"].as_str() != Some("API") {
                gaps.push("access is still granted through the aws-auth ConfigMap (`authentication_mode` is not \"API\")".to_string());
            }
            if a["bootstrap_creator_admin"].as_bool() != Some(false) {
                gaps.push("whoever creates the cluster is its administrator (`bootstrap_creator_admin` is not false)".to_string());
            }
            let admins = graph.of_kind(ACCESS_ENTRY).any(|e| {
                as_ref(&e.args["cluster_name"]).is_some_and(|r| r.address == c.address)
                    && e.args["access_policies"]
                        .as_array()
                        .is_some_and(|ps| ps.iter().any(|p| p["policy_arn"] == ADMIN_POLICY))
            });
            if !admins {
                gaps.push("no access entry names who administers it".to_string());
            }
            (!gaps.is_empty()).then(|| {
                requirement(
                    Finding::error(
                        "pci-cluster-access",
                        format!("{}: {}", c.address, gaps.join("; ")),
                    )
                    .at(&c.address)
                    .remedy("set `authentication_mode: \"API\"` and `bootstrap_creator_admin: false` on the cluster (eks::platform does) and name its administrators, deployers and auditors with `pci::cluster_access(#{ eks: eks, namespaces: [\"payment\"] })` (stdlib/pci.rhai)"),
                    "7.2.1, 7.2.2, 8.2.1, 8.2.2",
                    "access is granted to named individuals by need to know, through individual IDs",
                )
            })
        })
        .collect()
}

/// The check of this module, as [`super::CHECKS`] runs it.
pub const CHECK: super::Check = super::Check {
    name: "pci controls",
    codes: &[
        "pci-waf",
        "pci-audit-trail",
        "pci-threat-detection",
        "pci-cluster-access",
        "guardduty-fargate-runtime",
    ],
    run: |cx: &Context<'_>| {
        if !super::pci::in_scope(cx.graph, cx.program) {
            return Vec::new();
        }
        let mut out = waf(cx.graph);
        out.extend(audit_trail(cx.graph));
        out.extend(threat_detection(cx.graph));
        out.extend(fargate_runtime(cx.graph));
        out.extend(cluster_access(cx.graph));
        out
    },
};
