//! Every finding code payrun raises, once: what it means and how severe it
//! is. `Finding::error` and `Finding::warning` refuse (in debug builds, so
//! in every test) a code that is not here or not of that severity, and
//! `payrun docs findings` prints this table, so a code is never a free
//! string. A code raised as either severity (an end-of-support date that
//! warns before it and errs after it) lists both.

use crate::finding::Severity;

/// A registered finding code.
#[derive(Debug)]
pub struct Code {
    pub code: &'static str,
    pub severities: &'static [Severity],
    pub doc: &'static str,
}

const E: &[Severity] = &[Severity::Error];
const W: &[Severity] = &[Severity::Warning];
const EW: &[Severity] = &[Severity::Error, Severity::Warning];

const fn code(code: &'static str, severities: &'static [Severity], doc: &'static str) -> Code {
    Code {
        code,
        severities,
        doc,
    }
}

pub const CODES: &[Code] = &[
    code(
        "program",
        EW,
        "raised by the program itself: `plan_error(...)` or a stdlib warning",
    ),
    code(
        "protected",
        E,
        "a resource declared `protect: true` that the plan deletes or replaces; only `--allow-destroy ADDRESS` lifts it, for one run",
    ),
    code(
        "name-too-long",
        E,
        "a physical name longer than the cloud accepts",
    ),
    code(
        "secret-unset",
        E,
        "a `secret_env(NAME)` whose variable is not set at plan time",
    ),
    code(
        "secret-without-value",
        E,
        "a secret with neither `value: secret_env(...)` nor `generate`",
    ),
    code(
        "ecr-repository-name",
        E,
        "an ECR repository name the registry refuses",
    ),
    code(
        "iam-broad-statement",
        W,
        "an IAM statement allowing actions on every resource",
    ),
    code(
        "iam-confused-deputy",
        E,
        "a role a service may assume with no source account, ARN or organization condition",
    ),
    code(
        "subnet-outside-vpc",
        E,
        "a subnet block outside its VPC's block",
    ),
    code(
        "subnet-overlap",
        E,
        "two subnets of one VPC with overlapping blocks",
    ),
    code(
        "az-region",
        E,
        "an availability zone outside the stack's region",
    ),
    code(
        "eks-version-unsupported",
        E,
        "an EKS Kubernetes version past extended support",
    ),
    code(
        "eks-version-extended-support",
        W,
        "an EKS Kubernetes version in paid extended support",
    ),
    code(
        "eks-version-unknown",
        W,
        "a Kubernetes version not in payrun's EKS calendar",
    ),
    code(
        "eks-version-downgrade",
        E,
        "a cluster version below the one the cluster runs",
    ),
    code(
        "eks-version-path",
        E,
        "a cluster version EKS cannot upgrade to (another major, unreadable)",
    ),
    code(
        "appmesh-end-of-support",
        EW,
        "AWS App Mesh, at or past its end of support",
    ),
    code(
        "fargate-daemonset",
        W,
        "a DaemonSet on a Fargate-only cluster, which runs none",
    ),
    code(
        "fargate-daemonset-addon",
        W,
        "an EKS add-on that runs as a DaemonSet on a Fargate-only cluster",
    ),
    code(
        "fargate-daemonset-csi",
        W,
        "the Secrets Store CSI driver (a DaemonSet) on a Fargate-only cluster",
    ),
    code(
        "fargate-networkpolicy",
        W,
        "NetworkPolicy objects, not enforced for Fargate pods",
    ),
    code(
        "eks-authentication-mode",
        E,
        "a planned change of an EKS cluster's authentication mode back towards CONFIG_MAP, which EKS refuses",
    ),
    code(
        "fargate-logging-config",
        E,
        "an `aws-logging` ConfigMap Fargate's log router would refuse or Fluent Bit could not parse",
    ),
    code(
        "helm-missing",
        W,
        "helm releases declared and no `helm` on PATH",
    ),
    code(
        "k8s-api-removed",
        E,
        "an apiVersion the cluster (or a step of its upgrade) no longer serves",
    ),
    code(
        "k8s-api-not-served",
        E,
        "an apiVersion newer than the cluster serves",
    ),
    code(
        "k8s-controller-order",
        EW,
        "an object served by a controller with no dependency on it",
    ),
    code(
        "k8s-namespace-by-name",
        W,
        "a namespace named as text, so the object is not ordered after it",
    ),
    code(
        "k8s-quota-exceeded",
        E,
        "workloads that do not fit their namespace quota in a rollout",
    ),
    code(
        "k8s-quota-needs-resources",
        E,
        "a workload without requests or a LimitRange default in a namespace with a quota",
    ),
    code(
        "pci-undeclared-rule",
        W,
        "in PCI DSS scope: a security group rule opened outside payrun, which the plan revokes (1.2.5, 1.2.7, 1.3.1)",
    ),
    code(
        "pci-eks-audit-logs",
        E,
        "PCI DSS: EKS control-plane audit logs off",
    ),
    code(
        "pci-eks-public-endpoint",
        E,
        "PCI DSS: an EKS endpoint open to the internet",
    ),
    code(
        "pci-eks-secrets-encryption",
        E,
        "PCI DSS: EKS secrets without envelope encryption",
    ),
    code("pci-flow-logs", W, "PCI DSS: a VPC without flow logs"),
    code(
        "pci-waf",
        E,
        "PCI DSS 6.4.2: an internet-facing load balancer without a web application firewall",
    ),
    code(
        "pci-audit-trail",
        E,
        "PCI DSS 10.2.1, 10.3.4, 10.5.1: no multi-region CloudTrail trail with log file validation and a customer managed key",
    ),
    code(
        "pci-threat-detection",
        E,
        "PCI DSS 11.5.1, 10.7.2: no GuardDuty detector reading the EKS audit logs, or its findings routed nowhere",
    ),
    code(
        "pci-cluster-access",
        E,
        "PCI DSS 7.2, 8.2: an EKS cluster whose access is not through named access entries (aws-auth, or its creator as admin)",
    ),
    code(
        "guardduty-fargate-runtime",
        W,
        "GuardDuty Runtime Monitoring does not cover EKS pods on Fargate",
    ),
    code(
        "pci-image-scanning",
        E,
        "PCI DSS: an ECR repository without scanning",
    ),
    code("pci-key-rotation", E, "PCI DSS: a KMS key without rotation"),
    code(
        "pci-log-encryption",
        W,
        "PCI DSS: a log group without a KMS key",
    ),
    code(
        "pci-log-retention",
        E,
        "PCI DSS: logs kept less than a year",
    ),
    code(
        "pci-mutable-tags",
        W,
        "PCI DSS: ECR tags that can be overwritten",
    ),
    code(
        "pci-open-ingress",
        E,
        "PCI DSS: ingress from anywhere to a non-public port",
    ),
    code(
        "pci-pod-security",
        W,
        "PCI DSS: a namespace without the restricted pod security level",
    ),
    code("pci-tls", E, "PCI DSS: a listener without TLS"),
];

/// The registered code, if it is one.
pub fn lookup(code: &str) -> Option<&'static Code> {
    CODES.iter().find(|c| c.code == code)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every code written as a literal in `src` is registered, with every
    /// severity it is raised as: caught here even when no test raises it.
    #[test]
    fn every_code_in_the_source_is_registered() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = vec![root];
        let mut raised = Vec::new();
        while let Some(p) = files.pop() {
            if p.is_dir() {
                files.extend(std::fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
                continue;
            }
            if p.ends_with("check/codes.rs") || p.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let text = std::fs::read_to_string(&p).unwrap();
            for (severity, call) in [
                (Severity::Error, "Finding::error("),
                (Severity::Warning, "Finding::warning("),
            ] {
                for part in text.split(call).skip(1) {
                    let arg = part.trim_start();
                    if let Some(rest) = arg.strip_prefix('"') {
                        let code = &rest[..rest.find('"').unwrap()];
                        raised.push((code.to_string(), severity, p.display().to_string()));
                    }
                }
            }
        }
        assert!(raised.len() > 30, "{raised:?}");
        for (code, severity, file) in raised {
            let registered =
                lookup(&code).unwrap_or_else(|| panic!("{file}: `{code}` is not in CODES"));
            assert!(
                registered.severities.contains(&severity),
                "{file}: `{code}` raised as {severity:?}, registered as {:?}",
                registered.severities
            );
        }
        // Each registered code is declared by exactly one check (but the
        // protection the plan judges after every check, in
        // src/plan/protect.rs), and each check declares only registered
        // codes.
        for c in CODES
            .iter()
            .filter(|c| c.code != crate::plan::protect::CODE)
        {
            let by: Vec<&str> = crate::check::CHECKS
                .iter()
                .filter(|k| k.codes.contains(&c.code))
                .map(|k| k.name)
                .collect();
            assert_eq!(by.len(), 1, "`{}` is declared by {by:?}", c.code);
        }
        for check in crate::check::CHECKS {
            for code in check.codes {
                assert!(
                    lookup(code).is_some(),
                    "{}: `{code}` is not in CODES",
                    check.name
                );
            }
        }
        let mut names: Vec<&str> = CODES.iter().map(|c| c.code).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), CODES.len(), "a code is registered twice");
    }
}
