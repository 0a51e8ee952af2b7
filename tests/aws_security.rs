//! The security kinds (IAM, KMS, Secrets Manager, CloudWatch Logs, ECR and
//! flow logs) through the whole engine against moto: create, a no-op
//! replan, in-place updates, destroy; policies compared by meaning; IRSA
//! trust scoped to one service account; a secret's value kept out of every
//! output; and the image scan gate.

use payrun::address::Address;
use payrun::plan::Action;
use serde_json::{Value, json};

use crate::support::engine::{Stack, messages};
use crate::support::moto;

fn addr(s: &str) -> Address {
    s.parse().unwrap()
}

const SECURITY: &str = r#"
let retention = config().vars.retention ?? 7;
let action = config().vars.action ?? "s3:GetObject";
let key = aws::kms::key("data", #{ description: "payments data" });
aws::kms::alias("data", #{ kms_key: key });
let logs = aws::logs::log_group("app", #{ retention_in_days: retention, kms_key: key });
let read = aws::iam::policy("read", #{
    description: "read the payments bucket",
    policy: #{ Version: "2012-10-17", Statement: [#{ Effect: "Allow", Action: [action], Resource: ["arn:aws:s3:::payments/*"] }] },
});
let role = aws::iam::role("app", #{
    description: "the payments app",
    assume_role_policy: #{ Version: "2012-10-17", Statement: [#{ Effect: "Allow", Principal: #{ Service: "vpc-flow-logs.amazonaws.com" }, Action: "sts:AssumeRole" }] },
});
aws::iam::role_policy("app-logs", #{
    role: role.name,
    policy: #{ Version: "2012-10-17", Statement: [#{ Effect: "Allow", Action: ["logs:PutLogEvents", "logs:CreateLogStream"], Resource: [logs.arn] }] },
});
aws::iam::role_policy_attachment("app-read", #{ role: role.name, policy: read });
aws::secretsmanager::secret("db", #{ generate: #{ length: 24, exclude_punctuation: true }, kms_key: key });
let repo = aws::ecr::repository("api", #{});
aws::ecr::lifecycle_policy("api", #{
    repository: repo.name,
    rules: [#{ rule_priority: 1, description: "keep the last 10 images", selection: #{ tag_status: "any", count_type: "imageCountMoreThan", count_number: 10 }, action: #{ type: "expire" } }],
});
let vpc = aws::ec2::vpc("main", #{ cidr: "10.42.0.0/16" });
aws::ec2::flow_log("main", #{ vpc: vpc, log_group: logs, deliver_logs_role: role });
"#;

fn noisy(plan: &payrun::plan::Plan) -> Vec<String> {
    plan.changes
        .iter()
        .filter(|c| c.action != Action::NoOp)
        .map(|c| format!("{} {:?} {:?} {:?}", c.address, c.action, c.changes, c.drift))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn security_kinds_create_update_and_destroy() {
    let s = Stack::aws(SECURITY, "sec");
    let summary = s.apply().await;
    assert!(summary.ok(), "{summary}");
    assert_eq!(summary.created, 12, "{summary}");

    let again = s.plan().await;
    assert!(!again.has_changes(), "{:?}", noisy(&again));

    // A state recorded before the KMS key arguments were one spelling
    // (`kms_key_id`, `target_key_id`) plans no change: the old names are
    // read as `kms_key`.
    for (address, old) in [
        ("aws.logs.log_group.app", "kms_key_id"),
        ("aws.secretsmanager.secret.db", "kms_key_id"),
        ("aws.kms.alias.data", "target_key_id"),
    ] {
        s.record_under_old_name(Some(address), "kms_key", old);
    }
    let renamed = s.plan().await;
    assert!(!renamed.has_changes(), "{:?}", noisy(&renamed));

    // A policy change and a retention change are in-place updates.
    s.set_var("action", "s3:PutObject");
    s.set_var("retention", 30);
    let plan = s.plan().await;
    assert_eq!(
        plan.change(&addr("aws.iam.policy.read")).unwrap().action,
        Action::Update
    );
    assert_eq!(
        plan.change(&addr("aws.logs.log_group.app")).unwrap().action,
        Action::Update
    );
    assert_eq!(plan.summary(), (0, 2, 0), "{:?}", noisy(&plan));
    let summary = s.apply_plan(&plan).await;
    assert!(summary.ok(), "{summary}");
    assert!(
        !s.plan().await.has_changes(),
        "{:?}",
        noisy(&s.plan().await)
    );

    let conf = moto::sdk_config().await;
    let iam = aws_sdk_iam::Client::new(&conf);
    let state = s.state();
    let policy_arn = state.resources[&addr("aws.iam.policy.read")].id.clone();
    let role_name = state.resources[&addr("aws.iam.role.app")].id.clone();
    let p = iam
        .get_policy()
        .policy_arn(&policy_arn)
        .send()
        .await
        .unwrap();
    let version = iam
        .get_policy_version()
        .policy_arn(&policy_arn)
        .version_id(p.policy().unwrap().default_version_id().unwrap())
        .send()
        .await
        .unwrap();
    assert!(
        version
            .policy_version()
            .unwrap()
            .document()
            .unwrap()
            .contains("s3:PutObject")
    );
    let logs = aws_sdk_cloudwatchlogs::Client::new(&conf);
    let group = logs
        .describe_log_groups()
        .log_group_name_prefix("logs-app-sec")
        .send()
        .await
        .unwrap();
    assert_eq!(group.log_groups()[0].retention_in_days(), Some(30));

    let summary = s.destroy().await;
    assert!(summary.ok(), "{summary}");
    assert!(s.state().resources.is_empty());
    let role = iam.get_role().role_name(&role_name).send().await;
    assert!(role.is_err(), "the role survived destroy");
    let ecr = aws_sdk_ecr::Client::new(&conf);
    let repos = ecr.describe_repositories().send().await.unwrap();
    assert!(
        repos
            .repositories()
            .iter()
            .all(|r| r.repository_name() != Some("ecr-api-sec")),
        "the repository survived destroy"
    );
}

const WRITTEN: &str = r#"
aws::iam::policy("spelling", #{
    policy: #{ Version: "2012-10-17", Statement: [#{ Sid: "Read", Effect: "Allow", Action: ["s3:GetObject"], Resource: ["arn:aws:s3:::a/*", "arn:aws:s3:::b/*"] }] },
});
"#;

const RESPELLED: &str = r#"
aws::iam::policy("spelling", #{
    policy: #{ Statement: #{ Resource: ["arn:aws:s3:::b/*", "arn:aws:s3:::a/*"], Action: "s3:GetObject", Effect: "Allow", Sid: "Read" }, Version: "2012-10-17" },
});
"#;

#[tokio::test(flavor = "multi_thread")]
async fn a_policy_spelled_differently_is_a_no_op() {
    let s = Stack::aws(WRITTEN, "spell");
    assert!(s.apply().await.ok());
    s.write(RESPELLED);
    let plan = s.plan().await;
    assert!(!plan.has_changes(), "{:?}", noisy(&plan));
    // A real change still shows.
    s.write(&RESPELLED.replace("s3:GetObject", "s3:DeleteObject"));
    let plan = s.plan().await;
    assert_eq!(
        plan.change(&addr("aws.iam.policy.spelling"))
            .unwrap()
            .action,
        Action::Update
    );
    assert!(s.destroy().await.ok());
}

const IRSA: &str = r#"
import "iam" as iam;
let oidc = aws::iam::openid_connect_provider("eks", #{
    url: "https://oidc.eks.us-east-1.amazonaws.com/id/0123456789ABCDEF",
    client_ids: ["sts.amazonaws.com"],
    thumbprints: ["9e99a48a9960b14926bb7f3b02e22da2b0ab7280"],
});
aws::iam::role("payments-api", #{
    assume_role_policy: iam::irsa_trust_policy(oidc.arn, oidc.issuer_host, "payments", "api"),
});
"#;

#[tokio::test(flavor = "multi_thread")]
async fn an_irsa_role_trusts_exactly_its_service_account() {
    let s = Stack::aws(IRSA, "irsa");
    let summary = s.apply().await;
    assert!(summary.ok(), "{summary}");
    assert!(!s.plan().await.has_changes());

    let state = s.state();
    let oidc_arn = state.resources[&addr("aws.iam.openid_connect_provider.eks")]
        .id
        .clone();
    let role = state.resources[&addr("aws.iam.role.payments-api")]
        .id
        .clone();
    let iam = aws_sdk_iam::Client::new(&moto::sdk_config().await);
    let live = iam.get_role().role_name(&role).send().await.unwrap();
    let text = live.role().unwrap().assume_role_policy_document().unwrap();
    let decoded = if text.starts_with('{') {
        text.to_string()
    } else {
        urlencoding_decode(text)
    };
    let doc: Value = serde_json::from_str(&decoded).unwrap();
    let host = "oidc.eks.us-east-1.amazonaws.com/id/0123456789ABCDEF";
    let statement = match &doc["Statement"] {
        Value::Array(items) => {
            assert_eq!(items.len(), 1, "{doc}");
            items[0].clone()
        }
        one => one.clone(),
    };
    assert_eq!(statement["Effect"], "Allow");
    assert_eq!(statement["Principal"], json!({ "Federated": oidc_arn }));
    let action = &statement["Action"];
    assert!(
        action == "sts:AssumeRoleWithWebIdentity"
            || *action == json!(["sts:AssumeRoleWithWebIdentity"]),
        "{doc}"
    );
    assert_eq!(
        statement["Condition"],
        json!({ "StringEquals": {
            format!("{host}:sub"): "system:serviceaccount:payments:api",
            format!("{host}:aud"): "sts.amazonaws.com",
        }}),
        "{doc}"
    );
    assert!(s.destroy().await.ok());
}

fn urlencoding_decode(text: &str) -> String {
    let mut out = Vec::new();
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            out.push(u8::from_str_radix(&text[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

const SECRET: &str = r#"
aws::secretsmanager::secret("api-token", #{ value: secret_env("LEAK_TEST_API_TOKEN"), description: "the API token" });
"#;

const TOKEN: &str = "tok-7f3a9c21-never-stored";

/// payrun on moto with every log on (`PAYRUN_LOG=trace`, and the SDK
/// asked to print request bodies).
fn payrun_on_moto(p: &crate::support::bin::Project, args: &[&str]) -> assert_cmd::Command {
    payrun_on_moto_as(p, "leak", args)
}

fn payrun_on_moto_as(
    p: &crate::support::bin::Project,
    suffix: &str,
    args: &[&str],
) -> assert_cmd::Command {
    let endpoint = moto::moto().endpoint.clone();
    let mut cmd = p.payrun();
    cmd.args(args)
        .args(["--suffix", suffix, "--endpoint-url", &endpoint])
        .env_remove("PAYRUN_FAKE_CLOUD")
        .env_remove("PAYRUN_LOG_WIRE")
        .env("PAYRUN_LOG", "trace")
        // The SDK's own switch for printing signed request bodies (the
        // CreateSecret request carries SecretString) at trace.
        .env("LOG_SIGNABLE_BODY", "true")
        .env("LEAK_TEST_API_TOKEN", TOKEN)
        .envs(moto::client_env());
    cmd
}

/// `secret` in a log, as text or as the SDK prints a body (`Bytes([116,
/// 111, ...])`).
fn logs_secret(log: &str, secret: &str) -> bool {
    let bytes: Vec<String> = secret.bytes().map(|b| b.to_string()).collect();
    log.contains(secret) || log.contains(&bytes.join(", "))
}

/// Log lines at `level` from targets other than payrun's own.
fn dependency_lines<'a>(log: &'a str, level: &str) -> Vec<&'a str> {
    log.lines()
        .filter(|l| l.contains(&format!(" {level} ")) && !l.contains(&format!(" {level} payrun")))
        .collect()
}

fn files_containing(dir: &std::path::Path, needle: &str) -> Vec<String> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files_containing(&path, needle));
        } else if std::fs::read(&path)
            .unwrap()
            .windows(needle.len())
            .any(|w| w == needle.as_bytes())
        {
            out.push(path.display().to_string());
        }
    }
    out
}

#[test]
fn a_secret_value_reaches_no_state_plan_or_log() {
    let p = crate::support::bin::Project::new(SECRET);
    p.add_to_project_file("[allow]\nsecret_env = [\"LEAK_TEST_API_TOKEN\"]\n");
    let plan_file = p.path().join("saved.plan");
    let plan_file = plan_file.to_str().unwrap();
    let mut seen = String::new();
    for args in [
        vec!["plan", "--out", plan_file],
        vec!["plan", "--json"],
        vec!["apply", plan_file, "--auto-approve"],
    ] {
        let out = payrun_on_moto(&p, &args)
            .assert()
            .success()
            .get_output()
            .clone();
        seen.push_str(&String::from_utf8_lossy(&out.stdout));
        seen.push_str(&String::from_utf8_lossy(&out.stderr));
    }
    // Whatever PAYRUN_LOG says, no dependency logs below info: the SDK's
    // request and response bodies are at debug and trace.
    assert_eq!(dependency_lines(&seen, "DEBUG"), Vec::<&str>::new());
    assert_eq!(dependency_lines(&seen, "TRACE"), Vec::<&str>::new());
    assert!(!seen.contains("PAYRUN_LOG_WIRE"));
    assert!(seen.contains("aws.secretsmanager.secret.api-token"));
    assert!(
        !logs_secret(&seen, TOKEN),
        "the value was printed or logged"
    );
    // The state, the saved plan and everything else in the project.
    assert_eq!(files_containing(p.path(), TOKEN), Vec::<String>::new());

    // It did reach Secrets Manager.
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let sm = aws_sdk_secretsmanager::Client::new(&moto::sdk_config().await);
        let v = sm
            .get_secret_value()
            .secret_id("secret-api-token-leak")
            .send()
            .await
            .unwrap();
        assert_eq!(v.secret_string(), Some(TOKEN));
    });
    let out = payrun_on_moto(&p, &["destroy", "--auto-approve"])
        .assert()
        .success()
        .get_output()
        .clone();
    assert!(!logs_secret(&String::from_utf8_lossy(&out.stderr), TOKEN));
}

/// With wire logs on, the SDK prints the signed CreateSecret request with
/// its SecretString; payrun says what the logs may hold first, and scrubs
/// the secret value from them.
#[test]
fn wire_logs_are_opt_in_and_say_they_may_hold_secrets() {
    let p = crate::support::bin::Project::new(SECRET);
    p.add_to_project_file("[allow]\nsecret_env = [\"LEAK_TEST_API_TOKEN\"]\n");
    let out = payrun_on_moto_as(&p, "wire", &["apply", "--auto-approve"])
        .env("PAYRUN_LOG_WIRE", "1")
        .assert()
        .success()
        .get_output()
        .clone();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("warning: PAYRUN_LOG_WIRE=1: logs show the AWS SDK's and the Kubernetes client's traffic, request and response bodies included; payrun scrubs the secret values it reads, but the logs may still contain credentials and other data: keep them out of CI logs, tickets and chat\n"),
        "{stderr}"
    );
    assert!(!dependency_lines(&stderr, "TRACE").is_empty());
    assert!(
        stderr.contains("(redacted)"),
        "the wire log shows the request body, scrubbed"
    );
    assert!(!logs_secret(&stderr, TOKEN), "{stderr}");
    payrun_on_moto_as(&p, "wire", &["destroy", "--auto-approve"])
        .assert()
        .success();
}

#[tokio::test(flavor = "multi_thread")]
async fn the_plan_shows_no_secret_value() {
    // SAFETY: this variable is read by this test only.
    unsafe { std::env::set_var("PLAN_TEST_API_TOKEN", TOKEN) };
    let s = Stack::aws(
        &SECRET.replace("LEAK_TEST_API_TOKEN", "PLAN_TEST_API_TOKEN"),
        "leakplan",
    );
    s.allow_secret_env("PLAN_TEST_API_TOKEN");
    let plan = s.plan().await;
    let text = payrun::ui::render_plan(&plan, &payrun::ui::Style::plain());
    let json = serde_json::to_string(&plan).unwrap();
    assert!(text.contains("api-token"), "{text}");
    assert!(!text.contains(TOKEN), "{text}");
    assert!(!json.contains(TOKEN), "{json}");
    assert!(
        json.contains("\"hmac-sha256:"),
        "the plan records a keyed digest: {json}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_scan_gate_passes_a_clean_image_and_stops_a_vulnerable_one() {
    let repository = "scan-gate-images";
    let ecr = aws_sdk_ecr::Client::new(&moto::sdk_config().await);
    ecr.create_repository()
        .repository_name(repository)
        .send()
        .await
        .unwrap();
    for (seed, tag) in [(1, "clean"), (2, "vulnerable")] {
        ecr.put_image()
            .repository_name(repository)
            .image_tag(tag)
            .image_manifest(moto::manifest(seed))
            .send()
            .await
            .unwrap();
    }
    moto::scan_result(repository, "clean", json!({}), &[]);
    moto::scan_result(
        repository,
        "vulnerable",
        json!({ "CRITICAL": 1, "HIGH": 2, "MEDIUM": 4 }),
        &[
            ("CVE-2024-0001", "CRITICAL"),
            ("CVE-2024-0002", "HIGH"),
            ("CVE-2024-0003", "HIGH"),
            ("CVE-2024-0004", "MEDIUM"),
        ],
    );

    let clean = Stack::aws(
        &format!(
            r#"let gate = aws::ecr::image_scan_gate("api", #{{ repository: "{repository}", tag: "clean", fail_on_severity: "HIGH", timeout: "30s" }});
               export("gate", gate.id);"#
        ),
        "gateok",
    );
    let summary = clean.apply().await;
    assert!(summary.ok(), "{summary}");
    let gate = &clean.state().resources[&addr("aws.ecr.image_scan_gate.api")];
    assert!(gate.id.starts_with("sha256:"), "{}", gate.id);
    assert!(!clean.plan().await.has_changes());

    let vulnerable = Stack::aws(
        &format!(
            r#"aws::ecr::image_scan_gate("api", #{{ repository: "{repository}", tag: "vulnerable", fail_on_severity: "HIGH", timeout: "30s" }});"#
        ),
        "gatebad",
    );
    let summary = vulnerable.apply().await;
    assert!(!summary.ok());
    let (failed, why) = &summary.failed[0];
    assert_eq!(failed, &addr("aws.ecr.image_scan_gate.api"));
    assert!(
        why.contains("has 3 CVE(s) at or above HIGH: CRITICAL 1, HIGH 2, MEDIUM 4"),
        "{why}"
    );
    assert!(why.contains("CVE-2024-0001"), "{why}");
    assert!(vulnerable.state().resources.is_empty());
}

/// A pipeline pushes the image once the repository exists: the gate waits
/// for the push (within its timeout), then scans; with no push it fails
/// naming the push to make.
#[tokio::test(flavor = "multi_thread")]
async fn the_scan_gate_waits_for_the_push() {
    let repository = "scan-gate-later";
    let ecr = aws_sdk_ecr::Client::new(&moto::sdk_config().await);
    ecr.create_repository()
        .repository_name(repository)
        .send()
        .await
        .unwrap();
    let later = Stack::aws(
        &format!(
            r#"aws::ecr::image_scan_gate("api", #{{ repository: "{repository}", tag: "1.0.0", timeout: "60s" }});"#
        ),
        "gatewait",
    );
    let plan = later.plan().await;
    let apply = tokio::spawn(async move {
        let summary = later.apply_plan(&plan).await;
        (summary.ok(), summary.to_string(), later)
    });
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert!(!apply.is_finished(), "the gate did not wait for the push");
    moto::scan_result(repository, "1.0.0", json!({}), &[]);
    ecr.put_image()
        .repository_name(repository)
        .image_tag("1.0.0")
        .image_manifest(moto::manifest(3))
        .send()
        .await
        .unwrap();
    let (ok, summary, later) = apply.await.unwrap();
    assert!(ok, "{summary}");
    let gate = &later.state().resources[&addr("aws.ecr.image_scan_gate.api")];
    assert!(gate.id.starts_with("sha256:"), "{}", gate.id);

    let never = Stack::aws(
        &format!(
            r#"aws::ecr::image_scan_gate("api", #{{ repository: "{repository}", tag: "never", timeout: "1s" }});"#
        ),
        "gatenever",
    );
    let summary = never.apply().await;
    let (_, why) = &summary.failed[0];
    assert!(
        why.contains("no image scan-gate-later:never was pushed within"),
        "{why}"
    );
    assert!(why.contains("push the image"), "{why}");
}

/// A policy with broad statements is one warning naming each of them.
#[tokio::test]
async fn broad_iam_statements_are_one_warning_per_policy() {
    let s = Stack::product(
        r#"aws::iam::policy("ops", #{ policy: #{ Version: "2012-10-17", Statement: [
            #{ Effect: "Allow", Action: "*", Resource: "arn:aws:s3:::logs/*" },
            #{ Sid: "Tags", Effect: "Allow", Action: ["ec2:CreateTags", "ec2:DescribeTags"], Resource: "*" },
            #{ Effect: "Allow", Action: ["ec2:DescribeInstances"], Resource: "*" },
            #{ Effect: "Deny", Action: "*", Resource: "*" },
        ] } });"#,
    );
    let plan = s.plan().await;
    let broad = messages(&plan, "iam-broad-statement");
    assert_eq!(
        broad,
        [
            "aws.iam.policy.ops: statement 1 allows every action (`Action: \"*\"`); statement `Tags` allows ec2:CreateTags on every resource (`Resource: \"*\"`)"
        ]
    );
}
