//! PCI DSS checks: a program tagged `DataClassification = pci` gets a
//! finding, naming the requirement, for each thing a QSA would fail; the
//! same program out of scope gets none; the platform's own stdlib passes.

use payrun::finding::Severity;
use payrun::plan::Plan;

use crate::support::engine::Stack;

const VIOLATIONS: &str = r#"
default_tags(#{ DataClassification: config().vars.class ?? "pci" });
let key = aws::kms::key("data", #{ enable_key_rotation: false });
aws::logs::log_group("audit", #{ retention_in_days: 90 });
let vpc = aws::ec2::vpc("main", #{ cidr: "10.0.0.0/16" });
let sg = aws::ec2::security_group("web", #{ vpc: vpc, description: "web" });
aws::ec2::security_group_ingress("ssh", #{ security_group: sg.id, protocol: "tcp", from_port: 22, to_port: 22, cidr: "0.0.0.0/0" });
aws::ec2::security_group_ingress("https", #{ security_group: sg.id, protocol: "tcp", from_port: 443, to_port: 443, cidr: "0.0.0.0/0" });
aws::ec2::security_group_ingress("vpc", #{ security_group: sg.id, protocol: "-1", from_port: 0, to_port: 0, cidr: "10.0.0.0/16" });
aws::ecr::repository("api", #{ scan_on_push: false, image_tag_mutability: "MUTABLE" });
aws::eks::cluster("main", #{
    version: "1.35", role: "arn:aws:iam::123456789012:role/eks", subnets: ["subnet-1", "subnet-2"],
    endpoint_public_access: true, public_access_cidrs: ["0.0.0.0/0"], enabled_log_types: ["api", "scheduler"],
});
let cluster = #{ kubeconfig: "/nowhere", context: "x", version: "1.35" };
let ns = k8s::namespace("shop", #{ kube: cluster });
k8s::ingress("shop", #{ kube: cluster, namespace: ns, service: "shop", service_port: 80, scheme: "internet-facing", ssl_policy: "ELBSecurityPolicy-2016-08" });
"#;

fn pci(plan: &Plan) -> Vec<(String, Severity, String, String)> {
    let mut out: Vec<_> = plan
        .findings
        .iter()
        .filter(|f| f.code.starts_with("pci-"))
        .map(|f| {
            (
                f.code.clone(),
                f.severity,
                f.address
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default(),
                f.source.clone().unwrap_or_default(),
            )
        })
        .collect();
    out.sort();
    out
}

#[tokio::test]
async fn each_violation_is_a_finding_naming_its_requirement() {
    let s = Stack::product(VIOLATIONS);
    let plan = s.plan().await;
    let got: Vec<(String, Severity, String)> = pci(&plan)
        .into_iter()
        .map(|(c, s, a, _)| (c, s, a))
        .collect();
    let e = Severity::Error;
    let w = Severity::Warning;
    let want: Vec<(String, Severity, String)> = [
        ("pci-audit-trail", e, "aws.eks.cluster.main"),
        ("pci-cluster-access", e, "aws.eks.cluster.main"),
        ("pci-eks-audit-logs", e, "aws.eks.cluster.main"),
        ("pci-eks-public-endpoint", e, "aws.eks.cluster.main"),
        ("pci-eks-secrets-encryption", e, "aws.eks.cluster.main"),
        ("pci-flow-logs", w, "aws.ec2.vpc.main"),
        ("pci-image-scanning", e, "aws.ecr.repository.api"),
        ("pci-key-rotation", e, "aws.kms.key.data"),
        ("pci-log-encryption", w, "aws.logs.log_group.audit"),
        ("pci-log-retention", e, "aws.logs.log_group.audit"),
        ("pci-mutable-tags", w, "aws.ecr.repository.api"),
        ("pci-open-ingress", e, "aws.ec2.security_group_ingress.ssh"),
        ("pci-pod-security", w, "k8s.namespace.shop"),
        ("pci-threat-detection", e, "aws.eks.cluster.main"),
        ("pci-tls", e, "k8s.ingress.shop"),
        ("pci-tls", e, "k8s.ingress.shop"),
        ("pci-waf", e, "k8s.ingress.shop"),
    ]
    .into_iter()
    .map(|(c, s, a)| (c.to_string(), s, a.to_string()))
    .collect();
    assert_eq!(got, want);
    // Each names the standard and the requirement.
    for (code, _, _, source) in pci(&plan) {
        assert!(
            source.starts_with("PCI DSS v4.0.1 Requirement "),
            "{code}: {source}"
        );
    }
    let ssh = plan
        .findings
        .iter()
        .find(|f| f.code == "pci-open-ingress")
        .unwrap();
    assert_eq!(
        ssh.message,
        "aws.ec2.security_group_ingress.ssh: port 22 (tcp) is open to 0.0.0.0/0"
    );
    assert!(plan.has_errors());
}

#[tokio::test]
async fn out_of_scope_programs_are_not_checked() {
    let s = Stack::product(VIOLATIONS);
    s.set_var("class", "internal");
    assert_eq!(pci(&s.plan().await), vec![]);
}

/// The platform as asked meets every rule but one it cannot meet alone: a
/// certificate for the payment host, which only its owner can issue.
#[tokio::test]
async fn the_payment_platform_fails_only_for_want_of_a_certificate() {
    let program = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("programs/payment.rhai"),
    )
    .unwrap();
    let s = Stack::product(&program);
    let codes: Vec<String> = pci(&s.plan().await).into_iter().map(|f| f.0).collect();
    assert_eq!(codes, ["pci-tls"]);
    s.set_var(
        "certificate_arn",
        "arn:aws:acm:us-east-1:123456789012:certificate/11111111-2222-3333-4444-555555555555",
    );
    assert_eq!(pci(&s.plan().await), vec![]);
}

/// A program under review must not be able to lift the compliance gate it
/// is reviewed by: its `acknowledge("pci-...")` is refused and said so;
/// the person running payrun acknowledges on the command line or in
/// payrun.toml, and the plan says who.
#[test]
fn only_the_person_running_payrun_acknowledges_a_pci_finding() {
    let p = crate::support::bin::Project::new(
        r#"default_tags(#{ DataClassification: "pci" });
aws::kms::key("data", #{ enable_key_rotation: false });
acknowledge("pci-key-rotation", "the HSM team rotates it");
"#,
    );
    let program = p.path().join("programs/main.rhai").display().to_string();
    let plan = |args: &[&str]| {
        let out = p
            .payrun()
            .arg("plan")
            .args(args)
            // The account's own controls are another stack's.
            .args([
                "--acknowledge",
                "pci-audit-trail=the organization trail covers this account",
                "--acknowledge",
                "pci-threat-detection=the security account runs GuardDuty",
            ])
            .env_remove("PAYRUN_FAKE_CLOUD")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).replace(&program, "main.rhai");
        let finding: Vec<String> = stdout
            .lines()
            .skip_while(|l| !l.contains("[pci-key-rotation]"))
            .take(4)
            .map(|l| l.trim().to_string())
            .collect();
        (out.status.code(), finding)
    };
    let refused = "the program's acknowledgement at main.rhai:3:1 is refused: a program may not acknowledge its own compliance findings";
    let message = "aws.kms.key.data: `enable_key_rotation: false`: the key protecting account data never rotates";
    let remedy =
        "remedy: leave `enable_key_rotation` out (payrun turns rotation on) or set it to true";
    let source = "source: PCI DSS v4.0.1 Requirement 3.7.4 (cryptographic keys are changed at the end of their cryptoperiod)";
    let at = "at: main.rhai:2:11".to_string();

    assert_eq!(
        plan(&[]),
        (
            Some(1),
            vec![
                format!("error [pci-key-rotation]: {message} ({refused})"),
                at.clone(),
                format!(
                    "{remedy}; or accept it knowingly: --acknowledge pci-key-rotation=\"REASON\" (or `pci-key-rotation = \"REASON\"` under [acknowledge] in payrun.toml)"
                ),
                source.to_string(),
            ]
        )
    );
    assert_eq!(
        plan(&[
            "--acknowledge",
            "pci-key-rotation=keys rotate in the HSM, QSA ticket 4711"
        ]),
        (
            Some(0),
            vec![
                format!(
                    "warning [pci-key-rotation]: {message} (acknowledged on the command line by --acknowledge: keys rotate in the HSM, QSA ticket 4711; {refused})"
                ),
                at.clone(),
                remedy.to_string(),
                source.to_string(),
            ]
        )
    );
    p.add_to_project_file(
        "\n[acknowledge]\npci-key-rotation = \"keys rotate in the HSM, QSA ticket 4711\"\n",
    );
    assert_eq!(
        plan(&[]),
        (
            Some(0),
            vec![
                format!(
                    "warning [pci-key-rotation]: {message} (acknowledged in payrun.toml: keys rotate in the HSM, QSA ticket 4711; {refused})"
                ),
                at.clone(),
                remedy.to_string(),
                source.to_string(),
            ]
        )
    );
}

/// Findings outside the compliance gate stay the program's to acknowledge.
#[tokio::test]
async fn a_program_acknowledges_its_other_findings() {
    let s = Stack::product(
        r#"plan_error("the widget is past its support", "use the gadget");
acknowledge("program", "QA keeps the widget until March");
"#,
    );
    let plan = s.plan().await;
    let f = plan.findings.iter().find(|f| f.code == "program").unwrap();
    assert_eq!(f.severity, Severity::Warning);
    assert_eq!(
        f.message
            .replace(&s.program().display().to_string(), "main.rhai"),
        "the widget is past its support (acknowledged in the program at main.rhai:2:1: QA keeps the widget until March)"
    );
}

const TRUSTS_A_SERVICE: &str = r#"
default_tags(#{ DataClassification: config().vars.class ?? "pci" });
aws::iam::role("lambda", #{
    assume_role_policy: #{ Version: "2012-10-17", Statement: [#{
        Effect: "Allow", Principal: #{ Service: ["lambda.amazonaws.com", "events.amazonaws.com"] }, Action: "sts:AssumeRole",
    }] },
});
aws::iam::role("scoped", #{
    assume_role_policy: #{ Version: "2012-10-17", Statement: [#{
        Effect: "Allow", Principal: #{ Service: "lambda.amazonaws.com" }, Action: "sts:AssumeRole",
        Condition: #{ StringEquals: #{ "aws:sourceaccount": "123456789012" } },
    }] },
});
aws::iam::role("people", #{
    assume_role_policy: #{ Version: "2012-10-17", Statement: [#{
        Effect: "Allow", Principal: #{ AWS: "arn:aws:iam::123456789012:root" }, Action: "sts:AssumeRole",
    }] },
});
acknowledge("iam-confused-deputy", "the function is ours");
"#;

/// A service principal trusted with no source condition, in scope: an
/// error naming the role, where it is declared and the fix; the program
/// cannot acknowledge it away.
#[tokio::test]
async fn a_service_trust_without_a_source_condition_is_a_confused_deputy() {
    let s = Stack::product(TRUSTS_A_SERVICE);
    let plan = s.plan().await;
    let found: Vec<_> = plan
        .findings
        .iter()
        .filter(|f| f.code == "iam-confused-deputy")
        .collect();
    assert_eq!(found.len(), 1, "{found:?}");
    let f = found[0];
    let program = s.program().display().to_string();
    assert_eq!(f.severity, Severity::Error);
    assert_eq!(
        f.message.replace(&program, "main.rhai"),
        "aws.iam.role.lambda: lambda.amazonaws.com, events.amazonaws.com may assume this role with no aws:SourceAccount, aws:SourceArn or aws:SourceOrgID condition, so the service can be made to use it for another account's resources (confused deputy) (the program's acknowledgement at main.rhai:19:1 is refused: a program may not acknowledge its own compliance findings)"
    );
    assert_eq!(
        f.remedy.as_deref().unwrap(),
        "add to the statement that trusts lambda.amazonaws.com, events.amazonaws.com: `Condition: #{ StringEquals: #{ \"aws:SourceAccount\": net.vpc.owner_id }, ArnLike: #{ \"aws:SourceArn\": \"arn:aws:SERVICE:REGION:ACCOUNT:RESOURCE\" } }`, the account and the resource the service acts for; or accept it knowingly: --acknowledge iam-confused-deputy=\"REASON\" (or `iam-confused-deputy = \"REASON\"` under [acknowledge] in payrun.toml)"
    );
    assert_eq!(
        f.source.as_deref().unwrap().replace(&program, "main.rhai"),
        "main.rhai:3:11"
    );

    s.set_var("class", "internal");
    let plan = s.plan().await;
    assert!(
        plan.findings
            .iter()
            .all(|f| f.code != "iam-confused-deputy"),
        "out of scope, no finding"
    );
}
