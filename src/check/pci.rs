//! PCI DSS checks of what a program declares, for programs in scope.
//!
//! A program is in scope when it classifies itself `DataClassification =
//! pci`: in `default_tags` (as programs/payment.rhai does), in the tags of
//! any resource, or in the labels of any Kubernetes object. Which kinds it
//! happens to declare does not matter: a program of Kubernetes objects
//! alone, which carry no tags, is in scope all the same. Each finding names the PCI DSS
//! v4.0.1 requirement it comes from, the argument at fault and the fix.
//! Errors are what a QSA would fail outright (keys that never rotate, audit
//! logs kept less than a year, a payment endpoint without TLS, a port open
//! to the internet); warnings are the hardening the standard asks for but
//! leaves to judgement.
//!
//! Only what the program states is checked: a value payrun does not know
//! until apply (a ref) passes, and a default payrun itself sets (rotation
//! on, scan on push, every control-plane log type) is already compliant.

use std::collections::BTreeSet;

use serde_json::Value;

use super::context::Context;
use super::context::kinds::{
    ClusterArgs, FlowLogArgs, IngressArgs, IngressRuleArgs, KeyArgs, KindArgs, LogGroupArgs,
    NamespaceArgs, RepositoryArgs, VpcArgs,
};
use crate::address::Address;
use crate::finding::Finding;
use crate::graph::DesiredGraph;
use crate::script::{Program, ResourceSpec};
use crate::value::as_ref;

const STANDARD: &str = "PCI DSS v4.0.1";

/// Ports a payment platform may open to the internet: HTTPS, and HTTP for
/// the redirect to it.
const PUBLIC_PORTS: [i32; 2] = [80, 443];

/// ALB policies that negotiate TLS 1.2 or later only.
const MODERN_TLS_POLICIES: &[&str] = &[
    "ELBSecurityPolicy-TLS13-1-2-2021-06",
    "ELBSecurityPolicy-TLS13-1-2-Res-2021-06",
    "ELBSecurityPolicy-TLS13-1-3-2021-06",
    "ELBSecurityPolicy-TLS13-1-2-Ext1-2021-06",
    "ELBSecurityPolicy-TLS13-1-2-Ext2-2021-06",
    "ELBSecurityPolicy-TLS-1-2-2017-01",
    "ELBSecurityPolicy-TLS-1-2-Ext-2018-06",
    "ELBSecurityPolicy-FS-1-2-2019-08",
    "ELBSecurityPolicy-FS-1-2-Res-2019-08",
    "ELBSecurityPolicy-FS-1-2-Res-2020-10",
];

/// Is the program in PCI DSS scope: do its default tags, or the tags or
/// labels of any resource, say `DataClassification = pci`?
pub(super) fn in_scope(graph: &DesiredGraph, program: &Program) -> bool {
    let pci = |c: &str| c.eq_ignore_ascii_case("pci");
    program
        .default_tags
        .get(CLASSIFICATION)
        .is_some_and(|c| pci(c))
        || graph.resources().any(|s| {
            ["tags", "labels"].iter().any(|field| {
                s.args
                    .get(field)
                    .and_then(|t| t.get(CLASSIFICATION))
                    .and_then(Value::as_str)
                    .is_some_and(pci)
            })
        })
}

/// The tag (or label) that puts a program in scope when it is `pci`.
const CLASSIFICATION: &str = "DataClassification";

pub fn findings(graph: &DesiredGraph, program: &Program) -> Vec<Finding> {
    if !in_scope(graph, program) {
        return Vec::new();
    }
    let mut out = Vec::new();
    let flow_logged: BTreeSet<Address> = graph
        .of_kind(FlowLogArgs::KIND)
        .filter_map(|s| s.args.get("vpc").and_then(as_ref))
        .map(|r| r.address)
        .collect();
    for spec in graph.resources() {
        let address = &spec.address;
        let found = match address.kind() {
            KeyArgs::KIND => typed(spec, kms_key),
            LogGroupArgs::KIND => typed(spec, log_group),
            ClusterArgs::KIND => typed(spec, eks_cluster),
            VpcArgs::KIND if !flow_logged.contains(address) => vec![requirement(
                Finding::warning(
                    "pci-flow-logs",
                    format!("{address}: no flow log records the traffic in and out of this VPC"),
                )
                .at(address)
                .remedy("add an `aws::ec2::flow_log` for the VPC (network::vpc makes one unless `flow_logs: false`)"),
                "10.2.1",
                "audit logs are enabled and active for all system components",
            )],
            IngressRuleArgs::KIND => typed(spec, open_ingress),
            RepositoryArgs::KIND => typed(spec, repository),
            IngressArgs::KIND => typed(spec, ingress),
            NamespaceArgs::KIND => typed(spec, namespace),
            _ => Vec::new(),
        };
        out.extend(found);
    }
    out
}

/// A check of one resource's typed args; args that do not deserialize were
/// refused at their builder call already.
fn typed<A: KindArgs>(
    spec: &ResourceSpec,
    check: fn(&Address, &A) -> Vec<Finding>,
) -> Vec<Finding> {
    Context::args::<A>(spec).map_or_else(Vec::new, |args| check(&spec.address, &args))
}

fn requirement(f: Finding, number: &str, what: &str) -> Finding {
    f.source(format!("{STANDARD} Requirement {number} ({what})"))
}

fn kms_key(address: &Address, args: &KeyArgs) -> Vec<Finding> {
    if args.enable_key_rotation == Some(false) {
        return vec![requirement(
            Finding::error(
                "pci-key-rotation",
                format!("{address}: `enable_key_rotation: false`: the key protecting account data never rotates"),
            )
            .at(address)
            .remedy("leave `enable_key_rotation` out (payrun turns rotation on) or set it to true"),
            "3.7.4",
            "cryptographic keys are changed at the end of their cryptoperiod",
        )];
    }
    Vec::new()
}

fn log_group(address: &Address, args: &LogGroupArgs) -> Vec<Finding> {
    let mut out = Vec::new();
    if let Some(days) = args.retention_in_days
        && days < 365
    {
        out.push(requirement(
            Finding::error(
                "pci-log-retention",
                format!("{address}: logs are kept {days} days; audit logs must be kept at least a year"),
            )
            .at(address)
            .remedy("set `retention_in_days` to 365 or more (CloudWatch accepts 400, 545, 731, ...), or leave it out to keep them"),
            "10.5.1",
            "audit log history is retained for at least 12 months",
        ));
    }
    if args.kms_key.is_none() {
        out.push(requirement(
            Finding::warning(
                "pci-log-encryption",
                format!("{address}: encrypted only with a key AWS owns, so key policy cannot limit who reads these logs"),
            )
            .at(address)
            .remedy("set `kms_key` to a customer managed key whose policy admits CloudWatch Logs"),
            "10.3.2",
            "audit log files are protected from unauthorized modification and access",
        ));
    }
    out
}

fn eks_cluster(address: &Address, args: &ClusterArgs) -> Vec<Finding> {
    let mut out = Vec::new();
    if args.kms_key.is_none() {
        out.push(requirement(
            Finding::error(
                "pci-eks-secrets-encryption",
                format!("{address}: Kubernetes secrets are not envelope-encrypted with a KMS key"),
            )
            .at(address)
            .remedy("set `kms_key` to a customer managed KMS key"),
            "3.5.1",
            "stored account data is rendered unreadable",
        ));
    }
    {
        let missing: Vec<&str> = ["api", "audit", "authenticator"]
            .into_iter()
            .filter(|t| !args.enabled_log_types.iter().any(|v| v == t))
            .collect();
        if !missing.is_empty() {
            out.push(requirement(
                Finding::error(
                    "pci-eks-audit-logs",
                    format!(
                        "{address}: control-plane log types {} are off: access to the cluster is not logged",
                        missing.join(", ")
                    ),
                )
                .at(address)
                .remedy("leave `enabled_log_types` out (payrun enables all five) or list api, audit and authenticator"),
                "10.2.1",
                "audit logs capture all individual access and administrative actions",
            ));
        }
    }
    let cidrs = &args.public_access_cidrs;
    if args.endpoint_public_access && (cidrs.is_empty() || cidrs.iter().any(|c| is_anywhere(c))) {
        out.push(requirement(
            Finding::error(
                "pci-eks-public-endpoint",
                format!("{address}: the Kubernetes API endpoint is open to the whole internet"),
            )
            .at(address)
            .remedy("list the administrators' networks in `public_access_cidrs`, or turn `endpoint_public_access` off and reach the API through the VPC"),
            "1.3.1",
            "inbound traffic to the CDE is restricted to what is necessary",
        ));
    }
    out
}

fn is_anywhere(cidr: &str) -> bool {
    matches!(cidr, "0.0.0.0/0" | "::/0")
}

fn open_ingress(address: &Address, IngressRuleArgs(rule): &IngressRuleArgs) -> Vec<Finding> {
    let Some(cidr) = rule.cidr.as_deref() else {
        return Vec::new();
    };
    if !is_anywhere(cidr) {
        return Vec::new();
    }
    let protocol = rule.protocol.as_str();
    let from = rule.from_port;
    let to = rule.to_port.or(from);
    let web_only = matches!(protocol, "tcp" | "6")
        && matches!((from, to), (Some(f), Some(t)) if f == t && PUBLIC_PORTS.contains(&f));
    if web_only {
        return Vec::new();
    }
    let ports = match (from, to) {
        _ if matches!(protocol, "-1" | "all") => "every port".to_string(),
        (Some(f), Some(t)) if f == t => format!("port {f}"),
        (Some(f), Some(t)) => format!("ports {f}-{t}"),
        _ => "every port".to_string(),
    };
    vec![requirement(
        Finding::error(
            "pci-open-ingress",
            format!("{address}: {ports} ({protocol}) is open to {cidr}"),
        )
        .at(address)
        .remedy("admit only the networks or security groups that need it (`source_security_group`); only 443 (and 80 for the redirect) may face the internet"),
        "1.3.1",
        "inbound traffic to the CDE is restricted to what is necessary",
    )]
}

fn repository(address: &Address, args: &RepositoryArgs) -> Vec<Finding> {
    let mut out = Vec::new();
    if args.scan_on_push == Some(false) {
        out.push(requirement(
            Finding::error(
                "pci-image-scanning",
                format!("{address}: `scan_on_push: false`: images are not checked for known vulnerabilities"),
            )
            .at(address)
            .remedy("leave `scan_on_push` out (payrun scans on push) and gate deployments on `aws::ecr::image_scan_gate`"),
            "6.3.3",
            "known vulnerabilities are identified and patched",
        ));
    }
    if args.image_tag_mutability.as_deref() == Some("MUTABLE") {
        out.push(requirement(
            Finding::warning(
                "pci-mutable-tags",
                format!("{address}: tags are mutable, so the image a tag names can change after it was scanned"),
            )
            .at(address)
            .remedy("leave `image_tag_mutability` out (payrun makes tags immutable)"),
            "6.5.1",
            "changes to system components are controlled",
        ));
    }
    out
}

fn ingress(address: &Address, args: &IngressArgs) -> Vec<Finding> {
    // payrun makes an ALB `internal` unless asked otherwise.
    if args.scheme.as_deref() != Some("internet-facing") {
        return Vec::new();
    }
    let mut out = Vec::new();
    if args.certificate_arn.is_none() {
        out.push(requirement(
            Finding::error(
                "pci-tls",
                format!("{address}: the internet-facing load balancer has no certificate, so it serves plain HTTP"),
            )
            .at(address)
            .remedy("issue an ACM certificate for the payment host and pass its ARN as `certificate_arn` (`--var certificate_arn=arn:aws:acm:...` for programs/payment.rhai)"),
            "4.2.1",
            "strong cryptography protects account data over open, public networks",
        ));
    }
    if let Some(policy) = args.ssl_policy.as_deref()
        && !MODERN_TLS_POLICIES.contains(&policy)
    {
        out.push(requirement(
            Finding::error(
                "pci-tls",
                format!("{address}: `ssl_policy` {policy} is not one payrun knows to allow TLS 1.2 or later only"),
            )
            .at(address)
            .remedy("use ELBSecurityPolicy-TLS13-1-2-2021-06 (TLS 1.3 and 1.2)"),
            "4.2.1",
            "strong cryptography protects account data over open, public networks",
        ));
    }
    out
}

fn namespace(address: &Address, args: &NamespaceArgs) -> Vec<Finding> {
    if args.pod_security.as_deref() == Some("restricted") {
        return Vec::new();
    }
    vec![requirement(
        Finding::warning(
            "pci-pod-security",
            format!("{address}: pods are admitted without the `restricted` Pod Security Standard"),
        )
        .at(address)
        .remedy("set `pod_security: \"restricted\"` (workloads::tenant does)"),
        "2.2.1",
        "configuration standards harden every system component",
    )]
}

/// The check of this module, as [`super::CHECKS`] runs it.
/// Rules found on a group of the program that no declaration accounts for
/// (a port opened by hand), which the plan revokes: in scope, a finding of
/// its own besides the drift, since PCI DSS asks that every rule be
/// justified and reviewed (1.2.5, 1.2.7) and that nothing open to the
/// internet reach the cardholder data environment unasked (1.3.1). A
/// warning, not an error: the apply it stands in is what removes the rule.
fn undeclared_rule_findings(cx: &Context<'_>) -> Vec<Finding> {
    cx.changes
        .iter()
        .filter_map(|c| {
            let change = c.changes.iter().find(|a| a.name == "undeclared_rules")?;
            let rules: Vec<&str> = change
                .before
                .as_ref()?
                .as_array()?
                .iter()
                .filter_map(Value::as_str)
                .collect();
            (!rules.is_empty()).then(|| {
                Finding::warning(
                    "pci-undeclared-rule",
                    format!(
                        "{}: rule{} no declaration accounts for, opened outside payrun: {}; this apply revokes {}",
                        c.address,
                        if rules.len() == 1 { "" } else { "s" },
                        rules.join(", "),
                        if rules.len() == 1 { "it" } else { "them" }
                    ),
                )
                .at(&c.address)
                .remedy("find who opened it; declare it with `aws::ec2::security_group_ingress` (or `_egress`) if it is needed, with its business justification in `description`")
                .source(format!("{STANDARD} Requirements 1.2.5, 1.2.7 (rules justified and reviewed) and 1.3.1 (inbound traffic to the CDE restricted)"))
            })
        })
        .collect()
}

pub const CHECK: super::Check = super::Check {
    name: "pci",
    codes: &[
        "pci-undeclared-rule",
        "pci-eks-audit-logs",
        "pci-eks-public-endpoint",
        "pci-eks-secrets-encryption",
        "pci-flow-logs",
        "pci-image-scanning",
        "pci-key-rotation",
        "pci-log-encryption",
        "pci-log-retention",
        "pci-mutable-tags",
        "pci-open-ingress",
        "pci-pod-security",
        "pci-tls",
    ],
    run: |cx| {
        if !in_scope(cx.graph, cx.program) {
            return Vec::new();
        }
        let mut out = findings(cx.graph, cx.program);
        out.extend(undeclared_rule_findings(cx));
        out
    },
};

#[cfg(test)]
mod tests {
    use super::is_anywhere;

    #[test]
    fn anywhere() {
        assert!(is_anywhere("0.0.0.0/0"));
        assert!(is_anywhere("::/0"));
        assert!(!is_anywhere("10.0.0.0/8"));
    }
}
