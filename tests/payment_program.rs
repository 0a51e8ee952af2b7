//! The payment platform program: the seed's requirement list walked over
//! its plan, the examples planned, and the binary's main job.

use payrun::finding::Severity;
use payrun::plan::{Action, Plan};
use serde_json::Value;

use crate::support::engine::Stack;

fn repo_file(path: &str) -> String {
    std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).unwrap()
}

/// A plan on an empty state with the product's providers: no cloud call.
async fn plan_of(path: &str) -> Plan {
    let s = Stack::product(&repo_file(path));
    s.plan().await
}

fn of_kind<'a>(plan: &'a Plan, kind: &str) -> Vec<&'a payrun::plan::ResourceChange> {
    plan.changes
        .iter()
        .filter(|c| c.address.kind() == kind)
        .collect()
}

fn after(c: &payrun::plan::ResourceChange) -> &Value {
    c.after.as_ref().unwrap()
}

#[tokio::test]
async fn the_seed_requirements_are_in_the_plan() {
    let plan = plan_of("programs/payment.rhai").await;
    assert!(plan.changes.iter().all(|c| c.action == Action::Create));

    // VPC over 3 AZs: public and private subnets, NAT per AZ, route tables, NACL.
    assert_eq!(of_kind(&plan, "aws.ec2.vpc").len(), 1);
    let subnets = of_kind(&plan, "aws.ec2.subnet");
    assert_eq!(subnets.len(), 6);
    let azs: std::collections::BTreeSet<&str> = subnets
        .iter()
        .map(|s| after(s)["az"].as_str().unwrap())
        .collect();
    assert_eq!(azs.len(), 3);
    assert_eq!(of_kind(&plan, "aws.ec2.nat_gateway").len(), 3);
    assert_eq!(of_kind(&plan, "aws.ec2.network_acl").len(), 1);
    assert!(of_kind(&plan, "aws.ec2.route_table").len() >= 4);

    // EKS 1.28 as asked, all five control-plane log types, Fargate only, IRSA.
    let cluster = of_kind(&plan, "aws.eks.cluster");
    assert_eq!(cluster.len(), 1);
    assert_eq!(after(cluster[0])["version"], "1.28");
    assert_eq!(
        after(cluster[0])["enabled_log_types"],
        serde_json::json!([
            "api",
            "audit",
            "authenticator",
            "controllerManager",
            "scheduler"
        ])
    );
    assert_eq!(
        of_kind(&plan, "aws.eks.node_group").len(),
        0,
        "no EC2 worker nodes"
    );
    let profiles = of_kind(&plan, "aws.eks.fargate_profile");
    assert!(profiles.len() >= 4);
    assert_eq!(of_kind(&plan, "aws.iam.openid_connect_provider").len(), 1);

    // Three namespaces, each with a 2 CPU / 4Gi quota and its own IRSA role.
    let namespaces: Vec<&str> = of_kind(&plan, "k8s.namespace")
        .iter()
        .map(|c| c.address.purpose())
        .collect();
    for ns in ["payment", "fraud-detection", "reporting"] {
        assert!(namespaces.contains(&ns), "{namespaces:?}");
        let quota = plan
            .changes
            .iter()
            .find(|c| c.address.kind() == "k8s.resource_quota" && c.address.purpose() == ns)
            .unwrap();
        assert_eq!(after(quota)["cpu"], "2");
        assert_eq!(after(quota)["memory"], "4Gi");
        let role = plan
            .changes
            .iter()
            .find(|c| {
                c.address.kind() == "aws.iam.role" && c.address.purpose() == format!("svc-{ns}")
            })
            .unwrap();
        // The principal tag Lattice auth policies allow callers by.
        assert_eq!(after(role)["tags"]["payrun:service"], ns);
        let trust = serde_json::to_string(&after(role)["assume_role_policy"]).unwrap();
        assert!(
            trust.contains(&format!("system:serviceaccount:{ns}:{ns}")),
            "{trust}"
        );
    }

    // ECR per service: scan on push, keep the last 10 images, a scan gate.
    let repos = of_kind(&plan, "aws.ecr.repository");
    assert_eq!(repos.len(), 3);
    assert!(repos.iter().all(|r| after(r)["scan_on_push"] == true));
    let lifecycles = of_kind(&plan, "aws.ecr.lifecycle_policy");
    assert_eq!(lifecycles.len(), 3);
    assert!(
        lifecycles
            .iter()
            .all(|l| after(l)["rules"][0]["selection"]["count_number"] == 10)
    );
    assert_eq!(of_kind(&plan, "aws.ecr.image_scan_gate").len(), 3);

    // Names carry the suffix; nothing is retained or protected from deletion.
    for c in &plan.changes {
        if let Some(tags) = after(c).get("tags") {
            assert!(
                tags["Name"].as_str().unwrap().ends_with("-qa"),
                "{}: {tags}",
                c.address
            );
        }
        let text = serde_json::to_string(after(c)).unwrap();
        assert!(
            !text.contains("deletion_protection\":true"),
            "{}",
            c.address
        );
        assert!(!text.contains("\"retain"), "{}", c.address);
    }

    // Where AWS disagrees, the plan says so.
    let codes: Vec<(&str, Severity)> = plan
        .findings
        .iter()
        .map(|f| (f.code.as_str(), f.severity))
        .collect();
    for code in [
        "eks-version-unsupported",
        "fargate-networkpolicy",
        "fargate-daemonset-csi",
    ] {
        assert!(
            codes.iter().any(|(c, _)| *c == code),
            "{code} missing from {codes:?}"
        );
    }
    assert!(plan.findings.iter().any(|f| {
        f.message
            .starts_with("capacity: 50000 concurrent transactions")
    }));
    // App Mesh as asked, from the service graph, with its end of support an
    // error until acknowledged.
    let mesh_eos = plan
        .findings
        .iter()
        .find(|f| f.code == "appmesh-end-of-support")
        .expect("App Mesh end-of-support finding");
    assert_eq!(mesh_eos.severity, Severity::Error);
    assert!(
        mesh_eos.message.contains("2026-09-30"),
        "{}",
        mesh_eos.message
    );
    assert!(
        mesh_eos
            .remedy
            .as_deref()
            .unwrap_or_default()
            .contains("--var mesh=lattice"),
        "{:?}",
        mesh_eos.remedy
    );
    let mesh = of_kind(&plan, "aws.appmesh.mesh");
    assert_eq!(mesh.len(), 1);
    assert_eq!(after(mesh[0])["egress_filter"], "DROP_ALL");
    for kind in ["virtual_node", "virtual_router", "route", "virtual_service"] {
        assert_eq!(
            of_kind(&plan, &format!("aws.appmesh.{kind}")).len(),
            3,
            "{kind}"
        );
    }
    let backends = |svc: &str| {
        let node = plan
            .changes
            .iter()
            .find(|c| c.address.kind() == "aws.appmesh.virtual_node" && c.address.purpose() == svc)
            .unwrap();
        after(node)["backends"].clone()
    };
    assert_eq!(
        backends("payment"),
        serde_json::json!([
            "fraud-detection.fraud-detection.svc.cluster.local",
            "reporting.reporting.svc.cluster.local"
        ])
    );
    assert_eq!(backends("fraud-detection"), serde_json::json!([]));
    assert_eq!(backends("reporting"), serde_json::json!([]));
    assert_eq!(of_kind(&plan, "aws.vpclattice.service").len(), 0);
    // A finding raised in a stdlib module names the module's file.
    let tls = plan
        .findings
        .iter()
        .find(|f| f.message.contains("listeners have no TLS"))
        .unwrap();
    assert!(
        tls.source
            .as_deref()
            .unwrap_or_default()
            .starts_with("stdlib/mesh.rhai:"),
        "{:?}",
        tls.source
    );
}

/// `--var mesh=lattice`, the remedy the App Mesh finding names: the same
/// graph on VPC Lattice, and no App Mesh finding.
#[tokio::test]
async fn the_mesh_remedy_connects_the_graph_with_lattice() {
    let s = Stack::product(&repo_file("programs/payment.rhai"));
    s.set_var("mesh", "lattice");
    let plan = s.plan().await;
    assert_eq!(of_kind(&plan, "aws.vpclattice.service_network").len(), 1);
    assert_eq!(of_kind(&plan, "aws.vpclattice.service").len(), 3);
    assert!(
        plan.changes
            .iter()
            .all(|c| !c.address.kind().starts_with("aws.appmesh."))
    );
    assert!(
        !plan
            .findings
            .iter()
            .any(|f| f.code == "appmesh-end-of-support")
    );

    s.set_var("mesh", "istio");
    let err = s.error();
    assert!(
        err.contains("--var mesh=istio: choose app_mesh (as asked) or lattice"),
        "{err}"
    );
}

#[tokio::test]
async fn every_example_plans() {
    for example in [
        "examples/dev.rhai",
        "examples/fargate-secrets.rhai",
        "examples/lattice.rhai",
    ] {
        let plan = plan_of(example).await;
        assert!(plan.summary().0 > 10, "{example}: {:?}", plan.summary());
        // An example is a program that works as printed: no error finding
        // (the PCI controls that run included).
        let errors: Vec<&str> = plan
            .findings
            .iter()
            .filter(|f| f.severity == payrun::finding::Severity::Error)
            .map(|f| f.code.as_str())
            .collect();
        assert!(errors.is_empty(), "{example}: {errors:?}");
        assert!(
            !plan
                .findings
                .iter()
                .any(|f| f.code == "appmesh-end-of-support"),
            "{example}"
        );
    }
    let secrets = plan_of("examples/fargate-secrets.rhai").await;
    assert!(
        !secrets
            .findings
            .iter()
            .any(|f| f.code == "fargate-daemonset-csi")
    );
}

/// The remedies the plan prints work as printed: the binary's plan with
/// `--var k8s_version=1.36 --var mesh=lattice --var certificate_arn=...`
/// has no error and exits 0; as asked it exits 1 naming all three.
#[test]
fn the_printed_remedies_plan_clean() {
    let root = env!("CARGO_MANIFEST_DIR");
    let state = tempfile::tempdir().unwrap();
    let plan = |extra: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_payrun"))
            .current_dir(root)
            .args(["plan", "programs/payment.rhai", "--suffix", "remedy"])
            .arg("--state-dir")
            .arg(state.path())
            .args(extra)
            .env("NO_COLOR", "1")
            .env_remove("PAYRUN_FAKE_CLOUD")
            .output()
            .unwrap()
    };
    let asked = plan(&[]);
    assert_eq!(asked.status.code(), Some(1));
    let out = String::from_utf8_lossy(&asked.stdout).to_string();
    for want in [
        "error [eks-version-unsupported]",
        "--var k8s_version=1.36",
        "error [appmesh-end-of-support]",
        "--var mesh=lattice",
        "error [pci-tls]",
        "--var certificate_arn=arn:aws:acm:",
    ] {
        assert!(out.contains(want), "{want} missing:\n{out}");
    }
    let fixed = plan(&[
        "--var",
        "k8s_version=1.36",
        "--var",
        "mesh=lattice",
        "--var",
        "certificate_arn=arn:aws:acm:us-east-1:123456789012:certificate/11111111-2222-3333-4444-555555555555",
    ]);
    let out = String::from_utf8_lossy(&fixed.stdout).to_string();
    assert_eq!(
        fixed.status.code(),
        Some(0),
        "{out}\n{}",
        String::from_utf8_lossy(&fixed.stderr)
    );
    assert!(!out.contains("error ["), "{out}");
    assert!(
        out.contains("+ aws.eks.cluster \"eks-payments-remedy\""),
        "{out}"
    );
    assert!(
        out.contains("+ version                 = \"1.36\""),
        "{out}"
    );
}

fn change<'a>(plan: &'a Plan, address: &str) -> &'a Value {
    let c = plan
        .changes
        .iter()
        .find(|c| c.address.to_string() == address)
        .unwrap_or_else(|| panic!("{address} is not in the plan"));
    after(c)
}

/// The platform's IAM is scoped to this account and to each tenant's own
/// secret: EKS assumes the cluster role only for this account's cluster,
/// a tenant decrypts with the shared platform key only through Secrets
/// Manager and only its own secret, and a Lattice caller must be of this
/// account, not merely carry the tag. None of it is an iam-confused-deputy
/// finding, in the program or the examples in PCI DSS scope.
#[tokio::test]
async fn the_platforms_iam_names_its_account_region_and_secret() {
    let account = serde_json::json!({ "$ref": "aws.ec2.vpc.main#owner_id" });
    let s = Stack::product(&repo_file("programs/payment.rhai"));
    let plan = s.plan().await;
    let trust = &change(&plan, "aws.iam.role.payments-cluster")["assume_role_policy"];
    assert_eq!(
        trust["Statement"][0]["Condition"],
        serde_json::json!({
            "StringEquals": { "aws:SourceAccount": account },
            "ArnLike": { "aws:SourceArn": { "$template": [
                "arn:aws:eks:us-east-1:", account, ":cluster/eks-payments-qa",
            ] } },
        })
    );
    for tenant in ["payment", "fraud-detection", "reporting"] {
        let policy = &change(&plan, &format!("aws.iam.role_policy.svc-{tenant}"))["policy"];
        assert_eq!(
            policy["Statement"][1],
            serde_json::json!({
                "Sid": "DecryptOwnSecret", "Effect": "Allow", "Action": ["kms:Decrypt"],
                "Resource": [{ "$ref": "aws.kms.key.platform#arn" }],
                "Condition": { "StringEquals": {
                    "kms:ViaService": "secretsmanager.us-east-1.amazonaws.com",
                    "kms:EncryptionContext:SecretARN": { "$ref": format!("aws.secretsmanager.secret.{tenant}#arn") },
                } },
            }),
            "{tenant}"
        );
    }
    assert!(
        plan.findings
            .iter()
            .all(|f| f.code != "iam-confused-deputy")
    );

    s.set_var("mesh", "lattice");
    let plan = s.plan().await;
    for callee in ["fraud-detection", "reporting"] {
        let policy = &change(&plan, &format!("aws.vpclattice.auth_policy.{callee}"))["policy"];
        assert_eq!(
            policy["Statement"][0]["Condition"]["StringEquals"]["aws:PrincipalAccount"], account,
            "{callee}"
        );
    }
    assert!(
        plan.findings
            .iter()
            .all(|f| f.code != "iam-confused-deputy")
    );
    for example in ["examples/fargate-secrets.rhai", "examples/lattice.rhai"] {
        let plan = plan_of(example).await;
        assert!(
            plan.findings
                .iter()
                .all(|f| f.code != "iam-confused-deputy"),
            "{example}"
        );
    }
}

// Guards the Fargate log router's configuration as the plan renders it:
// each section header and key on its own line (a backtick string had kept
// `\n` as two characters), and nothing the check refuses.
#[test]
fn the_aws_logging_config_map_holds_real_lines() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_payrun"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "plan",
            "programs/payment.rhai",
            "--suffix",
            "lines",
            "--json",
        ])
        .arg("--state-dir")
        .arg(tempfile::tempdir().unwrap().path())
        .env_remove("PAYRUN_FAKE_CLOUD")
        .output()
        .unwrap();
    let plan: Plan = serde_json::from_slice(&out.stdout).unwrap();
    let data = &change(&plan, "k8s.config_map.aws-logging")["data"];
    let output = data["output.conf"].as_str().unwrap();
    assert!(!output.contains("\\n"), "{output}");
    assert_eq!(
        output.lines().take(3).collect::<Vec<_>>(),
        ["[OUTPUT]", "    Name cloudwatch_logs", "    Match *"]
    );
    assert!(
        output.contains("\n    log_group_name /aws/eks/eks-payments-lines/fargate\n"),
        "{output}"
    );
    for key in ["filters.conf", "parsers.conf"] {
        let text = data[key].as_str().unwrap();
        assert!(
            text.starts_with('[') && text.lines().count() >= 4,
            "{key}: {text}"
        );
    }
    assert!(
        !plan
            .findings
            .iter()
            .any(|f| f.code == "fargate-logging-config")
    );
}
