//! Checks without holes: `validate` and `plan` run the same checks and
//! agree on findings and exit codes; an acknowledgement names what it
//! accepts (a misspelt `--acknowledge` is an error, a program's
//! `acknowledge` names one finding); PCI DSS scope and Fargate's DaemonSet
//! limit hold whatever kinds a program happens to declare.

use payrun::finding::Severity;

use crate::support::bin::Project;
use crate::support::engine::{Stack, messages};

/// A secret whose variable is not set (a check over the planned changes)
/// and a subnet outside its VPC (a check over the graph).
const TWO_FINDINGS: &str = r#"fake::secret("db", #{ value: secret_env("DB_TEST_CHECKS_UNSET"), description: "db" });
let vpc = aws::ec2::vpc("main", #{ cidr: "10.0.0.0/16" });
aws::ec2::subnet("a", #{ vpc: vpc, cidr: "10.1.0.0/24", az: "us-east-1a" });
"#;

fn project(program: &str) -> Project {
    let p = Project::new(program);
    p.add_to_project_file("[allow]\nsecret_env = [\"DB_TEST_CHECKS_UNSET\"]\n");
    p
}

/// Exit code, the `Findings:` block of stdout, and stderr.
fn run(p: &Project, args: &[&str]) -> (Option<i32>, String, String) {
    let out = p
        .payrun()
        .args(args)
        .env_remove("DB_TEST_CHECKS_UNSET")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let findings: Vec<&str> = stdout
        .lines()
        .skip_while(|l| *l != "Findings:")
        .take_while(|l| !l.is_empty())
        .collect();
    (
        out.status.code(),
        findings.join("\n"),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

// Guards `validate` saying "Success!" where `plan` of the same program
// exited 1 (`secret-unset` and the EKS upgrade check ran in plan only).
#[test]
fn validate_and_plan_report_the_same_findings_and_exit_code() {
    let p = project(TWO_FINDINGS);
    let validate = run(&p, &["validate"]);
    let plan = run(&p, &["plan"]);
    assert_eq!(validate.0, Some(1), "{validate:?}");
    assert_eq!(validate, plan);
    let program = p.path().join("programs/main.rhai").display().to_string();
    assert_eq!(
        validate.1,
        [
            "Findings:",
            "  error [secret-unset]: fake.secret.db reads a secret from $DB_TEST_CHECKS_UNSET, which is not set",
            &format!("      at: {program}:1:7"),
            "      remedy: export DB_TEST_CHECKS_UNSET before plan and apply (the value is never stored)",
            "  error [subnet-outside-vpc]: aws.ec2.subnet.a: `10.1.0.0/24` lies outside `10.0.0.0/16`, the block of aws.ec2.vpc.main",
            &format!("      at: {program}:3:11"),
            "      remedy: take the subnet from the VPC's block, e.g. `cidr: cidr_subnet(\"10.0.0.0/16\", 8, 0)`",
        ]
        .join("\n")
    );
    // validate writes nothing: no state, no key.
    let validate_only = project(TWO_FINDINGS);
    run(&validate_only, &["validate"]);
    assert!(!validate_only.path().join(".payrun").exists());

    // Acknowledged, both pass alike.
    let args = [
        "--acknowledge",
        "secret-unset=the secret is set in CI",
        "--acknowledge",
        "subnet-outside-vpc=checking the plan",
    ];
    let validate = run(&p, &[&["validate"], &args[..]].concat());
    let plan = run(&p, &[&["plan"], &args[..]].concat());
    assert_eq!(validate.0, Some(0), "{validate:?}");
    assert_eq!((validate.0, validate.1), (plan.0, plan.1));
}

// Guards a misspelt `--acknowledge` code being ignored: the finding it
// meant stayed an error and nothing said why.
#[test]
fn an_acknowledgement_of_a_code_no_finding_has_is_an_error() {
    let p = project(TWO_FINDINGS);
    for command in ["plan", "validate"] {
        let (code, _, stderr) = run(&p, &[command, "--acknowledge", "secret-unsett=CI sets it"]);
        assert_eq!(code, Some(1));
        assert_eq!(
            stderr,
            concat!(
                "error: --acknowledge secret-unsett: no finding of the plan has that code; the codes raised are secret-unset, subnet-outside-vpc\n",
                "  fix: did you mean --acknowledge secret-unset=\"REASON\"? Otherwise drop --acknowledge secret-unsett=...\n"
            ),
            "{command}"
        );
    }
    // The fix as printed.
    let (code, findings, _) = run(
        &p,
        &[
            "plan",
            "--acknowledge",
            "secret-unset=REASON",
            "--acknowledge",
            "subnet-outside-vpc=REASON",
        ],
    );
    assert_eq!(code, Some(0), "{findings}");

    let clean = project(r#"fake::network("main", #{ cidr: "10.0.0.0/16" });"#);
    let (code, _, stderr) = run(&clean, &["plan", "--acknowledge", "secret-unset=CI"]);
    assert_eq!(code, Some(1));
    assert_eq!(
        stderr,
        "error: --acknowledge secret-unset: the plan raises no findings, so there is nothing to acknowledge\n  fix: drop --acknowledge secret-unset=...\n"
    );
}

// Guards `acknowledge("program", ...)` waiving every `plan_error` of the
// program, including ones written after it, at once.
#[tokio::test]
async fn a_program_acknowledges_one_finding_not_a_family() {
    let s = Stack::new("");
    let program = s.program().display().to_string();
    s.write(&format!(
        r#"plan_error("the widget is past its support", "use the gadget");
plan_error("the gizmo is past its support", "use the gadget");
acknowledge("program", "QA keeps them until March");
acknowledge("program", "{program}:2:1", "QA keeps the gizmo until March");
"#
    ));
    let plan = s.plan().await;
    let got: Vec<(Severity, String)> = plan
        .findings
        .iter()
        .map(|f| (f.severity, f.message.replace(&program, "main.rhai")))
        .collect();
    assert_eq!(
        got,
        [
            (
                Severity::Error,
                "the widget is past its support (the program's acknowledgement at main.rhai:3:1 is not applied: `program` is raised 2 times; name this one with `acknowledge(\"program\", \"main.rhai:1:1\", \"REASON\")`)".to_string()
            ),
            (
                Severity::Warning,
                "the gizmo is past its support (acknowledged in the program at main.rhai:4:1: QA keeps the gizmo until March)".to_string()
            ),
        ]
    );

    // By resource: each of two findings of one code is named by its own.
    let s = Stack::new(
        r#"let net = fake::network("main", #{ cidr: "10.0.0.0/16" });
let subnet = fake::subnet("a", #{ network_id: net.id, cidr: "10.0.1.0/24" });
let one = fake::server("a-purpose-long-enough-to-pass-the-limit", #{ subnet_id: subnet.id, size: "small" });
fake::server("b-purpose-long-enough-to-pass-the-limit", #{ subnet_id: subnet.id, size: "small" });
acknowledge("name-too-long", one, "a test of long names");
"#,
    );
    let plan = s.plan().await;
    let mut got: Vec<(String, Severity)> = plan
        .findings
        .iter()
        .filter(|f| f.code == "name-too-long")
        .map(|f| (f.address.as_ref().unwrap().to_string(), f.severity))
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            (
                "fake.server.a-purpose-long-enough-to-pass-the-limit".to_string(),
                Severity::Warning
            ),
            (
                "fake.server.b-purpose-long-enough-to-pass-the-limit".to_string(),
                Severity::Error
            ),
        ]
    );
}

// Guards PCI DSS scope following the tags of taggable kinds only: a pci
// program of Kubernetes objects (which carry no tags) got no finding until
// any VPC was added.
#[tokio::test]
async fn pci_scope_is_the_programs_classification_not_its_kinds() {
    let s = Stack::product(
        r#"default_tags(#{ DataClassification: "pci" });
let cluster = #{ kubeconfig: "/nowhere", context: "x", version: "1.35" };
k8s::ingress("shop", #{ kube: cluster, namespace: "shop", service: "shop", service_port: 80, scheme: "internet-facing" });
"#,
    );
    let plan = s.plan().await;
    let tls: Vec<(&str, Severity, String)> = plan
        .findings
        .iter()
        .filter(|f| f.code.starts_with("pci-"))
        .map(|f| (f.code.as_str(), f.severity, f.message.clone()))
        .collect();
    assert_eq!(
        tls,
        [
            (
                "pci-tls",
                Severity::Error,
                "k8s.ingress.shop: the internet-facing load balancer has no certificate, so it serves plain HTTP".to_string()
            ),
            (
                "pci-waf",
                Severity::Error,
                "k8s.ingress.shop: the internet-facing load balancer has no web application firewall (no `alb.ingress.kubernetes.io/wafv2-acl-arn` annotation)".to_string()
            ),
            (
                "pci-audit-trail",
                Severity::Error,
                "no CloudTrail trail records the API calls made to this platform's AWS account".to_string()
            ),
            (
                "pci-threat-detection",
                Severity::Error,
                "no GuardDuty detector watches this platform's account for intrusions".to_string()
            ),
        ]
    );
}

// Guards the TLS rule reading an ingress as payrun makes it: an ALB is
// `internal` unless `scheme` says otherwise, and the check took a missing
// scheme for internet-facing, failing an internal ALB for want of a
// certificate.
#[tokio::test]
async fn pci_tls_judges_an_ingress_by_the_scheme_payrun_gives_it() {
    let s = Stack::product(
        r#"default_tags(#{ DataClassification: "pci" });
let cluster = #{ kubeconfig: "/nowhere", context: "x", version: "1.35" };
k8s::ingress("internal", #{ kube: cluster, namespace: "shop", service: "shop", service_port: 80 });
k8s::ingress("public", #{ kube: cluster, namespace: "shop", service: "shop", service_port: 80, scheme: "internet-facing" });
"#,
    );
    let plan = s.plan().await;
    let tls = messages(&plan, "pci-tls");
    assert_eq!(
        tls,
        [
            "k8s.ingress.public: the internet-facing load balancer has no certificate, so it serves plain HTTP"
        ]
    );
}

// Guards a DaemonSet declared through `k8s::object` on a Fargate-only
// cluster: it was applied and scheduled nothing, with no finding.
#[tokio::test]
async fn a_daemonset_object_on_a_fargate_only_cluster_is_a_finding() {
    let s = Stack::product(
        r#"aws::eks::cluster("main", #{
    version: "1.35", role: "arn:aws:iam::123456789012:role/eks", subnets: ["subnet-1", "subnet-2"],
});
let cluster = #{ kubeconfig: "/nowhere", context: "x", version: "1.35" };
k8s::object("agent", #{ kube: cluster, manifest: #{
    apiVersion: "apps/v1", kind: "DaemonSet",
    metadata: #{ name: "node-agent", namespace: "kube-system" },
    spec: #{ selector: #{ matchLabels: #{ app: "agent" } }, template: #{
        metadata: #{ labels: #{ app: "agent" } },
        spec: #{ containers: [#{ name: "agent", image: "agent:1" }] },
    } },
} });
"#,
    );
    let plan = s.plan().await;
    let found: Vec<_> = plan
        .findings
        .iter()
        .filter(|f| f.code == "fargate-daemonset")
        .map(|f| {
            (
                f.severity,
                f.message.clone(),
                f.remedy.clone().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        found,
        [(
            Severity::Warning,
            "k8s.object.agent: DaemonSet `node-agent` schedules nothing: Fargate runs no DaemonSets, and this cluster has only Fargate".to_string(),
            "run the agent as a sidecar of the pods that need it, or add an EKS managed node group for it".to_string()
        )]
    );
}

/// The checks read the facts of the run from their context, not from the
/// clock or the cloud: the same program on another day, or judged by EKS's
/// own calendar rather than the embedded one, has other findings.
#[test]
fn checks_judge_end_of_support_by_the_date_and_calendar_they_are_given() {
    use payrun::check::{Context, Facts, findings_in};
    use payrun::eks_versions::{Calendar, Version};
    let s = Stack::product(
        r#"
aws::eks::cluster("payments", #{
    version: "1.31",
    role: "arn:aws:iam::123456789012:role/eks-cluster",
    subnets: ["subnet-1", "subnet-2"],
});
"#,
    );
    let (graph, program) = s.evaluate().unwrap();
    let judged = |today: &str, calendar: &Calendar| -> Vec<(String, Severity, String)> {
        let facts = Facts {
            today: today.into(),
            helm: None,
            env_set: |_| true,
            calendar: calendar.clone(),
        };
        let cx = Context {
            graph: &graph,
            program: &program,
            registry: &s.registry,
            changes: &[],
            facts: &facts,
        };
        findings_in(&cx)
            .unwrap()
            .into_iter()
            .filter(|f| f.code.starts_with("eks-version"))
            .map(|f| (f.code, f.severity, f.source.unwrap_or_default()))
            .collect()
    };
    let codes = |today: &str, calendar: &Calendar| -> Vec<(String, Severity)> {
        judged(today, calendar)
            .into_iter()
            .map(|(c, s, _)| (c, s))
            .collect()
    };
    let version = |v: &str, standard: &str, extended: &str| Version {
        version: v.into(),
        released: Some("2024-09-26".into()),
        end_of_standard_support: Some(standard.into()),
        end_of_extended_support: Some(extended.into()),
        status: None,
    };
    let embedded = Calendar::embedded();
    // What EKS answers agrees with the embedded table for 1.31 ...
    let agreeing = Calendar::live(
        "us-east-1",
        "2026-12-06",
        vec![version("1.31", "2025-11-26", "2026-11-26")],
    );
    // ... or, here, has moved its end of extended support by a year.
    let extended = Calendar::live(
        "us-east-1",
        "2026-12-06",
        vec![version("1.31", "2025-11-26", "2027-11-26")],
    );
    let none: Vec<(String, Severity)> = vec![];
    let warning = vec![(
        "eks-version-extended-support".to_string(),
        Severity::Warning,
    )];
    let error = vec![("eks-version-unsupported".to_string(), Severity::Error)];
    for calendar in [&embedded, &agreeing] {
        assert_eq!(codes("2025-06-01", calendar), none);
        assert_eq!(codes("2026-01-01", calendar), warning);
        assert_eq!(codes("2026-12-01", calendar), error);
    }
    // The live answer wins where it disagrees.
    assert_eq!(codes("2026-12-01", &extended), warning);
    // Each finding names the calendar it read.
    let (_, _, source) = judged("2026-12-01", &embedded).remove(0);
    assert!(
        source.starts_with("payrun's embedded EKS calendar as of"),
        "{source}"
    );
    let (_, _, source) = judged("2026-12-01", &extended).remove(0);
    assert!(
        source.starts_with("EKS DescribeClusterVersions in us-east-1, read 2026-12-06"),
        "{source}"
    );
}

/// Whether a secret's variable is set is a fact the checks are given, as
/// the date is: the same plan is judged by the environment it is made in.
#[tokio::test]
async fn unset_secrets_are_judged_by_the_environment_the_checks_are_given() {
    use payrun::check::{Context, Facts, findings_in};
    let s = Stack::new(
        r#"fake::secret("db", #{ value: secret_env("DB_FACT_TEST"), description: "db" });"#,
    );
    s.allow_secret_env("DB_FACT_TEST");
    let (graph, program) = s.evaluate().unwrap();
    let plan = s.plan().await;
    let codes = |env_set: fn(&str) -> bool| -> Vec<String> {
        let facts = Facts {
            today: "2026-12-01".into(),
            helm: None,
            env_set,
            calendar: payrun::eks_versions::Calendar::embedded(),
        };
        let cx = Context {
            graph: &graph,
            program: &program,
            registry: &s.registry,
            changes: &plan.changes,
            facts: &facts,
        };
        findings_in(&cx)
            .unwrap()
            .into_iter()
            .map(|f| format!("{} {}", f.code, f.message))
            .collect()
    };
    assert_eq!(
        codes(|name| name != "DB_FACT_TEST"),
        vec!["secret-unset fake.secret.db reads a secret from $DB_FACT_TEST, which is not set"]
    );
    assert_eq!(codes(|_| true), Vec::<String>::new());
}

// Guards the Fargate log router's configuration: a backtick string kept
// `\n` as two characters, so the `aws-logging` ConfigMap held one line
// Fluent Bit cannot parse and no pod log reached CloudWatch.
#[test]
fn an_aws_logging_config_fargate_would_refuse_is_an_error_at_its_line() {
    let program = |output: &str| {
        format!(
            r#"let kube = #{{ kubeconfig: "/nowhere", context: "x", version: "1.35" }};
let ns = k8s::namespace("aws-observability", #{{ kube: kube, name: "aws-observability" }});
k8s::config_map("aws-logging", #{{
    kube: kube, namespace: ns, name: "aws-logging",
    data: #{{ "output.conf": {output} }},
}});
"#
        )
    };
    let findings = |output: &str| -> Vec<(String, Option<String>)> {
        let s = Stack::product(&program(output));
        let plan = block_on(s.plan());
        plan.findings
            .iter()
            .filter(|f| f.code == "fargate-logging-config")
            .map(|f| {
                let line = f.line.as_deref().and_then(|l| l.rsplit('/').next());
                (f.message.clone(), line.map(str::to_string))
            })
            .collect()
    };
    let good = r#""[OUTPUT]\n    Name cloudwatch_logs\n    Match *\n""#;
    assert_eq!(findings(good), vec![]);
    let prefix = "Fargate's log router would refuse or not parse this configuration: ";
    let line = Some("main.rhai:3:6".to_string());
    // A backtick string keeps `\n` as written.
    let got = findings(r#"`[OUTPUT]\n    Name cloudwatch_logs\n    Match *\n`"#);
    assert_eq!(got[0].1, line);
    assert!(
        got[0].0.starts_with(&format!(
            "{prefix}`output.conf` line 1: holds `\\n` or `\\t` as two characters"
        )),
        "{got:?}"
    );
    // An output Fargate does not support.
    let got = findings(r#""[OUTPUT]\n    Name opensearch\n    Match *\n""#);
    assert_eq!(
        got,
        vec![(
            format!(
                "{prefix}`output.conf` line 1: [OUTPUT] `Name opensearch`: Fargate's log router supports only es, firehose, kinesis_firehose, cloudwatch, cloudwatch_logs, kinesis"
            ),
            line.clone()
        )]
    );
    // A section that takes the configuration over 5,300 characters.
    let long = format!(
        r#""[OUTPUT]\n    Name cloudwatch_logs\n    Match *\n    log_stream_prefix {}\n""#,
        "x".repeat(5300)
    );
    let got = findings(&long);
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(
        got[0].0.contains("over the 5300 Fargate accepts"),
        "{got:?}"
    );
    assert_eq!(got[0].1, line);
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

/// Each PCI DSS control that must run (issue: the platform's controls),
/// left out of a program in scope: its code at the line of what it leaves
/// unprotected, and gone once the remedy it names is applied.
#[test]
fn a_pci_control_left_out_is_an_error_at_its_line_that_its_remedy_clears() {
    const HEAD: &str = r#"import "pci" as pci;
default_tags(#{ DataClassification: "pci" });
let key = aws::kms::key("platform", #{});
let kube = #{ kubeconfig: "/nowhere", context: "x", version: "1.35" };
"#;
    // (code, the program without the control, with the remedy applied,
    // the line the finding names)
    let cluster = r#"let c = aws::eks::cluster("main", #{ version: "1.35", role: "arn:aws:iam::123456789012:role/eks", subnets: ["subnet-1", "subnet-2"], authentication_mode: "API", bootstrap_creator_admin: false });
"#;
    let controls = r#"pci::audit_trail("audit", #{ account: "123456789012", kms_key: key });
pci::threat_detection("platform", #{ account: "123456789012", eks: #{ cluster: c, compute: "auto", account: "123456789012" } });
pci::cluster_access(#{ eks: #{ cluster: c, account: "123456789012" }, namespaces: ["payment"] });
"#;
    // The controls but the one whose line names `control`.
    let without = |controls: &str, control: &str| {
        controls
            .lines()
            .filter(|l| !l.contains(control))
            .map(|l| format!("{l}\n"))
            .collect::<String>()
    };
    let ingress = |annotations: &str| {
        format!(
            r#"let waf = pci::web_acl("edge", #{{ kms_key: key }});
k8s::ingress("shop", #{{ kube: kube, namespace: "shop", service: "shop", service_port: 80, scheme: "internet-facing", certificate_arn: "arn:aws:acm:us-east-1:123456789012:certificate/x"{annotations} }});
"#
        )
    };
    let waf_annotation =
        r#", annotations: #{ "alb.ingress.kubernetes.io/wafv2-acl-arn": waf.acl.arn }"#;
    let cases: Vec<(&str, String, String, &str)> = vec![
        (
            "pci-waf",
            format!("{HEAD}{cluster}{controls}{}", ingress("")),
            format!("{HEAD}{cluster}{controls}{}", ingress(waf_annotation)),
            "main.rhai:10:6",
        ),
        (
            "pci-audit-trail",
            format!(
                "{HEAD}{cluster}{}{}",
                controls.lines().skip(1).collect::<Vec<_>>().join("\n") + "\n",
                ingress(waf_annotation)
            ),
            format!("{HEAD}{cluster}{controls}{}", ingress(waf_annotation)),
            "main.rhai:5:19",
        ),
        (
            "pci-threat-detection",
            format!(
                "{HEAD}{cluster}{}{}",
                without(controls, "threat_detection"),
                ingress(waf_annotation)
            ),
            format!("{HEAD}{cluster}{controls}{}", ingress(waf_annotation)),
            "main.rhai:5:19",
        ),
        (
            "pci-cluster-access",
            format!(
                "{HEAD}{}{}{}",
                cluster.replace(
                    r#", authentication_mode: "API", bootstrap_creator_admin: false"#,
                    ""
                ),
                without(controls, "cluster_access"),
                ingress(waf_annotation)
            ),
            format!("{HEAD}{cluster}{controls}{}", ingress(waf_annotation)),
            "main.rhai:5:19",
        ),
    ];
    for (code, without, with, line) in cases {
        let raised = |program: &str| -> Vec<(String, Option<String>, String)> {
            let plan = block_on(Stack::product(program).plan());
            plan.findings
                .iter()
                .filter(|f| {
                    [
                        "pci-waf",
                        "pci-audit-trail",
                        "pci-threat-detection",
                        "pci-cluster-access",
                    ]
                    .contains(&f.code.as_str())
                })
                .map(|f| {
                    let at = f.line.as_deref().and_then(|l| l.rsplit('/').next());
                    (
                        f.code.clone(),
                        at.map(str::to_string),
                        f.remedy.clone().unwrap_or_default(),
                    )
                })
                .collect()
        };
        let found = raised(&without);
        assert_eq!(found.len(), 1, "{code}: {found:#?}\n{without}");
        assert_eq!(found[0].0, code, "{found:#?}");
        assert_eq!(found[0].1.as_deref(), Some(line), "{code}: {found:#?}");
        assert!(!found[0].2.is_empty());
        assert_eq!(raised(&with), vec![], "{code}: the remedy applied\n{with}");
    }
}
