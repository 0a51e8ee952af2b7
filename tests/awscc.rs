//! The generated `awscc` kinds end to end through the binary, on moto and
//! the launcher's Cloud Control front: a fraud-events queue and its
//! dead-letter queue, an alerts topic subscribed to it, an idempotency
//! table with point-in-time recovery and a customer managed key, and a WAF
//! web ACL with two AWS managed rule groups. It plans offline, applies,
//! shows through the services' own APIs, replans as a no-op, takes back a
//! change made behind its back, replaces on a create-only change, and
//! destroys leaving nothing.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::fault::{FaultProxy, Rng, env_count, run_killed_after};
use crate::support::moto;
use crate::support::on_moto::{OnMoto, acting, python};

pub const PROGRAM: &str = r#"
let key = aws::kms::key("events", #{ description: "fraud events" });
let dlq = awscc::sqs::queue("fraud-dlq", #{
    message_retention_period: 1209600,
    queue_name: config().vars.dlq_name ?? (),
});
let queue = awscc::sqs::queue("fraud", #{
    visibility_timeout: 60,
    redrive_policy: #{ deadLetterTargetArn: dlq, maxReceiveCount: 5 },
});
let topic = awscc::sns::topic("alerts", #{});
awscc::sns::subscription("alerts-to-fraud", #{ topic_arn: topic, protocol: "sqs", endpoint: queue.arn });
awscc::dynamodb::table("idempotency", #{
    key_schema: [#{ attribute_name: "pk", key_type: "HASH" }],
    attribute_definitions: [#{ attribute_name: "pk", attribute_type: "S" }],
    billing_mode: "PAY_PER_REQUEST",
    point_in_time_recovery_specification: #{ point_in_time_recovery_enabled: true },
    sse_specification: #{ sse_enabled: true, sse_type: "KMS", kms_master_key_id: key.arn },
});
let managed = |name, priority| #{
    name: name, priority: priority, override_action: #{ none: #{} },
    statement: #{ managed_rule_group_statement: #{ vendor_name: "AWS", name: name } },
    visibility_config: #{ cloudwatch_metrics_enabled: true, metric_name: name, sampled_requests_enabled: true },
};
awscc::wafv2::web_acl("edge", #{
    scope: "REGIONAL",
    default_action: #{ allow: #{} },
    visibility_config: #{ cloudwatch_metrics_enabled: true, metric_name: "edge", sampled_requests_enabled: true },
    rules: [managed.call("AWSManagedRulesCommonRuleSet", 0), managed.call("AWSManagedRulesKnownBadInputsRuleSet", 1)],
});
// Write-only properties: kept in state only as digests, never drift.
awscc::ssm::parameter("fraud-threshold", #{
    type: "String", value: "0.87",
    description: config().vars.threshold_note ?? "scores above it are held for review",
});
awscc::events::connection("partner-api", #{
    authorization_type: "API_KEY",
    auth_parameters: #{ api_key_auth_parameters: #{ api_key_name: "x-api-key", api_key_value: secret_env("PARTNER_API_KEY") } },
});
export("queue_url", queue.queue_url);
"#;

fn plan(m: &OnMoto, endpoint: &str, vars: &[&str]) -> (Option<i32>, Value, String) {
    let mut args = vec!["plan", "--json", "--detailed-exitcode"];
    args.extend(vars.iter().flat_map(|v| ["--var", v]));
    let out = m.run(endpoint, &args);
    let json: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", crate::support::bin::text(&out)));
    let mut text_args = vec!["plan"];
    text_args.extend(vars.iter().flat_map(|v| ["--var", v]));
    let shown = String::from_utf8_lossy(&m.run(endpoint, &text_args).stdout).to_string();
    (out.status.code(), json, shown)
}

#[test]
fn generated_kinds_plan_apply_drift_replace_and_destroy_on_moto() {
    let endpoint = moto::moto().endpoint.clone();
    let m = OnMoto::new(PROGRAM, "cc").with_env("PARTNER_API_KEY", "pk-live-7c1e0a");
    m.p.add_to_project_file("[allow]\nsecret_env = [\"PARTNER_API_KEY\"]\n");
    // Offline: nothing recorded, no call.
    let offline = m.run("http://127.0.0.1:9", &["plan", "--json"]);
    assert!(
        offline.status.success(),
        "{}",
        crate::support::bin::text(&offline)
    );
    let offline: Value = serde_json::from_slice(&offline.stdout).unwrap();
    assert_eq!(offline["changes"].as_array().unwrap().len(), 9);

    m.ok(&endpoint, &["apply", "--auto-approve"]);
    let state = m.state();
    let url = state["outputs"]["queue_url"].as_str().unwrap().to_string();
    assert!(
        url.ends_with("/queue-fraud-qa") || url.ends_with("/queue-fraud-cc"),
        "{url}"
    );

    // The services' own APIs see what Cloud Control made.
    let seen = python(&format!(
        "sqs = client('sqs')\n\
         a = sqs.get_queue_attributes(QueueUrl='{url}', AttributeNames=['All'])['Attributes']\n\
         ddb = client('dynamodb')\n\
         t = ddb.describe_table(TableName='table-idempotency-cc')['Table']\n\
         pitr = ddb.describe_continuous_backups(TableName='table-idempotency-cc')['ContinuousBackupsDescription']['PointInTimeRecoveryDescription']['PointInTimeRecoveryStatus']\n\
         print(json.dumps([a['VisibilityTimeout'], json.loads(a['RedrivePolicy'])['deadLetterTargetArn'].split(':')[-1], t['TableStatus'], pitr, t['SSEDescription']['SSEType']]))"
    ));
    assert_eq!(
        seen,
        r#"["60", "queue-fraud-dlq-cc", "ACTIVE", "ENABLED", "KMS"]"#
    );
    let (code, p, _) = plan(&m, &endpoint, &[]);
    assert_eq!(code, Some(0), "{p}");

    // What is write-only is in state only as a digest: neither the key
    // (a secret) nor the note (plain text in the program) is there.
    let recorded = m.state().to_string();
    for plain in ["pk-live-7c1e0a", "scores above it"] {
        assert!(!recorded.contains(plain), "{plain} in state: {recorded}");
    }
    let noted = ["threshold_note=tuned weekly by the fraud team"];
    let (code, p, shown) = plan(&m, &endpoint, &noted);
    assert_eq!(code, Some(2), "{p}");
    assert_eq!(
        acting(&p),
        [(
            "awscc.ssm.parameter.fraud-threshold".to_string(),
            "update".to_string()
        )]
    );
    assert!(
        shown.contains(r#"~ description = (sensitive) -> "tuned weekly by the fraud team""#),
        "{shown}"
    );
    let mut apply = vec!["apply", "--auto-approve"];
    apply.extend(noted.iter().flat_map(|v| ["--var", v]));
    m.ok(&endpoint, &apply);
    let (code, p, _) = plan(&m, &endpoint, &noted);
    assert_eq!(code, Some(0), "{p}");
    m.ok(&endpoint, &["apply", "--auto-approve"]);
    let (code, p, _) = plan(&m, &endpoint, &[]);
    assert_eq!(code, Some(0), "{p}");

    // Behind payrun's back: the visibility timeout, through SQS itself.
    python(&format!(
        "client('sqs').set_queue_attributes(QueueUrl='{url}', Attributes={{'VisibilityTimeout': '5'}})"
    ));
    let (code, p, shown) = plan(&m, &endpoint, &[]);
    assert_eq!(code, Some(2), "{p}");
    assert_eq!(
        acting(&p),
        [("awscc.sqs.queue.fraud".to_string(), "update".to_string())]
    );
    assert!(
        shown.contains("(drift: `visibility_timeout` changed outside payrun: 60 → 5)"),
        "{shown}"
    );
    m.ok(&endpoint, &["apply", "--auto-approve"]);
    let back = python(&format!(
        "print(client('sqs').get_queue_attributes(QueueUrl='{url}', AttributeNames=['VisibilityTimeout'])['Attributes']['VisibilityTimeout'])"
    ));
    assert_eq!(back, "60");
    let (code, p, _) = plan(&m, &endpoint, &[]);
    assert_eq!(code, Some(0), "{p}");

    // A create-only property changed: the dead-letter queue is replaced
    // (the new one first, under its new name), the queue that names it
    // follows in place.
    let renamed = ["dlq_name=fraud-dlq-renamed-cc"];
    let (code, p, shown) = plan(&m, &endpoint, &renamed);
    assert_eq!(code, Some(2), "{p}");
    assert_eq!(
        acting(&p),
        [
            ("awscc.sqs.queue.fraud".to_string(), "update".to_string()),
            (
                "awscc.sqs.queue.fraud-dlq".to_string(),
                "replace".to_string()
            ),
        ]
    );
    assert!(
        shown.contains("(`queue_name` forces replacement)"),
        "{shown}"
    );
    let mut apply = vec!["apply", "--auto-approve"];
    apply.extend(renamed.iter().flat_map(|v| ["--var", v]));
    m.ok(&endpoint, &apply);
    let queues = python(
        "print(sorted(u.rsplit('/', 1)[1] for u in client('sqs').list_queues(QueueNamePrefix='fraud-dlq').get('QueueUrls', [])))",
    );
    assert_eq!(queues, "['fraud-dlq-renamed-cc']");
    let (code, p, _) = plan(&m, &endpoint, &renamed);
    assert_eq!(code, Some(0), "{p}");

    let mut destroy = vec!["destroy", "--auto-approve"];
    destroy.extend(renamed.iter().flat_map(|v| ["--var", v]));
    m.ok(&endpoint, &destroy);
    let left = python(
        "cc = client('cloudcontrol')\n\
         q = client('sqs').list_queues().get('QueueUrls', [])\n\
         t = client('dynamodb').list_tables()['TableNames']\n\
         w = cc.list_resources(TypeName='AWS::WAFv2::WebACL', ResourceModel=json.dumps({'Scope': 'REGIONAL'}))['ResourceDescriptions']\n\
         s = client('sns').list_topics()['Topics']\n\
         print(json.dumps([[u for u in q if u.endswith('-cc')], [x for x in t if x.endswith('-cc')], [x['Identifier'] for x in w if x['Identifier'].startswith('web-acl-edge-cc|')], [x['TopicArn'] for x in s if x['TopicArn'].endswith('-cc')]]))",
    );
    assert_eq!(left, "[[], [], [], []]");
}

// ── Exactly once, under faults ────────────────────────────────────────────

/// Twelve generated resources over the front: queues named by payrun (SQS
/// makes a name once), REST APIs and a web ACL whose identifiers the cloud
/// mints (a second create would be a second API), a table, a topic and its
/// subscription, a parameter.
pub const TWELVE: &str = r#"
let dlq = awscc::sqs::queue("orders-dlq", #{ message_retention_period: 1209600 });
let orders = awscc::sqs::queue("orders", #{ visibility_timeout: 60, redrive_policy: #{ deadLetterTargetArn: dlq, maxReceiveCount: 5 } });
awscc::sqs::queue("refunds", #{ visibility_timeout: 30 });
awscc::sqs::queue("chargebacks", #{ visibility_timeout: 30 });
for i in 0..3 {
    awscc::apigateway::rest_api(`partner-${i}`, #{ description: `partner gateway ${i}` });
}
let topic = awscc::sns::topic("events", #{});
awscc::sns::subscription("events-to-orders", #{ topic_arn: topic, protocol: "sqs", endpoint: orders.arn });
awscc::dynamodb::table("ledger", #{
    key_schema: [#{ attribute_name: "pk", key_type: "HASH" }],
    attribute_definitions: [#{ attribute_name: "pk", attribute_type: "S" }],
    billing_mode: "PAY_PER_REQUEST",
});
awscc::wafv2::web_acl("edge", #{
    scope: "REGIONAL", default_action: #{ allow: #{} },
    visibility_config: #{ cloudwatch_metrics_enabled: true, metric_name: "edge", sampled_requests_enabled: true },
});
awscc::ssm::parameter("concurrency", #{ type: "String", value: "50000" });
"#;

const TWELVE_RESOURCES: usize = 12;

/// The tagged types of [`TWELVE`] (the subscription carries no tags: SNS
/// makes one subscription of a topic to an endpoint, however often asked).
const TAGGED_TYPES: &[&str] = &[
    "AWS::SQS::Queue",
    "AWS::ApiGateway::RestApi",
    "AWS::SNS::Topic",
    "AWS::DynamoDB::Table",
    "AWS::WAFv2::WebACL",
    "AWS::SSM::Parameter",
];

/// What of `stack` is live, through Cloud Control itself (moto's own
/// resources and the front's): identifiers by the `payrun:address` tag.
fn census(stack: &str) -> std::collections::BTreeMap<String, Vec<String>> {
    let types = serde_json::to_string(TAGGED_TYPES).unwrap();
    let out = python(&format!(
        "cc = client('cloudcontrol')\n\
         found = {{}}\n\
         for t in json.loads('{types}'):\n\
         \x20   token = None\n\
         \x20   while True:\n\
         \x20       kw = {{'TypeName': t}}\n\
         \x20       if t == 'AWS::WAFv2::WebACL':\n\
         \x20           kw['ResourceModel'] = json.dumps({{'Scope': 'REGIONAL'}})\n\
         \x20       if token:\n\
         \x20           kw['NextToken'] = token\n\
         \x20       page = cc.list_resources(**kw)\n\
         \x20       for d in page['ResourceDescriptions']:\n\
         \x20           props = json.loads(cc.get_resource(TypeName=t, Identifier=d['Identifier'])['ResourceDescription']['Properties'])\n\
         \x20           tags = props.get('Tags') or []\n\
         \x20           tags = tags if isinstance(tags, dict) else {{x['Key']: x['Value'] for x in tags}}\n\
         \x20           if tags.get('payrun:stack') == '{stack}':\n\
         \x20               found.setdefault(tags.get('payrun:address'), []).append(d['Identifier'])\n\
         \x20       token = page.get('NextToken')\n\
         \x20       if not token:\n\
         \x20           break\n\
         print(json.dumps(found))"
    ));
    serde_json::from_str(&out).unwrap()
}

struct CcTrial {
    m: OnMoto,
    label: String,
}

impl CcTrial {
    fn new(suffix: &str, label: String) -> Self {
        Self {
            m: OnMoto::new(TWELVE, suffix),
            label,
        }
    }

    fn command(&self, endpoint: &str, args: &[&str]) -> std::process::Command {
        let mut all = args.to_vec();
        // moto serves a request in far less: a lookup after a kill waits
        // this long from the killed create's start.
        all.extend(["--request-timeout", "5s"]);
        self.m.command(endpoint, &all)
    }

    fn converge(&self, endpoint: &str) -> usize {
        let mut last = String::new();
        for n in 1..=3 {
            let out = self
                .command(endpoint, &["apply", "--auto-approve"])
                .output()
                .unwrap();
            if out.status.success() {
                return n;
            }
            last = String::from_utf8_lossy(&out.stderr).into_owned();
        }
        panic!(
            "{}: apply did not succeed within 3 runs:\n{last}",
            self.label
        );
    }

    /// Every address live exactly once, as its state records it, nothing
    /// of the stack live that state does not hold, the next plan empty.
    fn check_converged(&self) {
        let label = &self.label;
        let endpoint = &moto::moto().endpoint;
        let plan = self
            .command(endpoint, &["plan", "--detailed-exitcode"])
            .output()
            .unwrap();
        assert_eq!(
            plan.status.code(),
            Some(0),
            "{label}: plan after convergence: {}",
            crate::support::bin::text(&plan)
        );
        let state = self.m.state();
        let resources = state["resources"].as_object().unwrap();
        assert_eq!(resources.len(), TWELVE_RESOURCES, "{label}");
        assert!(
            state["intents"].as_object().is_none_or(|i| i.is_empty()),
            "{label}: intents left: {}",
            state["intents"]
        );
        let live = census(&self.m.stack());
        let duplicates: Vec<_> = live.iter().filter(|(_, ids)| ids.len() > 1).collect();
        assert!(duplicates.is_empty(), "{label}: duplicates {duplicates:?}");
        for (address, ids) in &live {
            let recorded = resources
                .get(address)
                .and_then(|r| r["id"].as_str())
                .unwrap_or_else(|| panic!("{label}: orphan {address} {ids:?}"));
            assert_eq!(ids, &[recorded.to_string()], "{label}: {address}");
        }
        assert_eq!(
            live.len(),
            TWELVE_RESOURCES - 1,
            "{label}: every tagged resource live: {live:?}"
        );
    }

    fn destroy(&self, endpoint: &str) -> usize {
        for n in 1..=3 {
            let out = self
                .command(endpoint, &["destroy", "--auto-approve"])
                .output()
                .unwrap();
            if out.status.success() {
                let left = census(&self.m.stack());
                assert!(
                    left.is_empty(),
                    "{}: destroy exited 0 with {left:?} live",
                    self.label
                );
                return n;
            }
        }
        panic!(
            "{}: destroy did not finish within 3 runs: {:?}",
            self.label,
            census(&self.m.stack())
        );
    }
}

/// How long a clean apply of [`TWELVE`] takes here: the kills are drawn
/// within it.
fn twelve_apply_time() -> Duration {
    let t = CcTrial::new("cccal", "calibration".into());
    let endpoint = moto::moto().endpoint.clone();
    let start = Instant::now();
    t.converge(&endpoint);
    let took = start.elapsed();
    t.destroy(&endpoint);
    eprintln!(
        "a clean apply of the twelve takes {} ms here",
        took.as_millis()
    );
    took
}

#[test]
fn generated_kinds_killed_at_random_moments_converge_without_duplicates_or_orphans() {
    let n = env_count("PAYRUN_TRIALS_AWSCC_KILL", 2);
    let first = env_count("PAYRUN_TRIALS_FIRST_SEED", 1);
    let window = twelve_apply_time().as_millis() as u64;
    let endpoint = moto::moto().endpoint.clone();
    for seed in first..first + n {
        let t = CcTrial::new(
            &format!("cck{seed}"),
            format!("awscc kill -9 trial, seed {seed}"),
        );
        let mut rng = Rng::new(seed);
        let mut kills = 0;
        for _ in 0..2 {
            let delay = Duration::from_millis(5 + rng.below(window));
            if run_killed_after(t.command(&endpoint, &["apply", "--auto-approve"]), delay) {
                kills += 1;
            }
        }
        let runs = t.converge(&endpoint);
        t.check_converged();
        let destroys = t.destroy(&endpoint);
        eprintln!(
            "{}: {kills} kills, converged in {runs} applies, destroyed in {destroys}",
            t.label
        );
    }
}

#[test]
fn generated_kinds_with_replies_lost_or_calls_refused_never_duplicate() {
    // Refused calls are retried with backoff up to 20 s a wait: at 30 % a
    // trial takes minutes, so the test command's sample refuses 10 % and
    // `scripts/trials` (which sets the seeds) 30 %.
    let long = std::env::var_os("PAYRUN_TRIALS_AWSCC_SEEDS").is_some();
    let n = env_count("PAYRUN_TRIALS_AWSCC_SEEDS", 1);
    let first = env_count("PAYRUN_TRIALS_FIRST_SEED", 1);
    let refuse_rate = if long { 0.3 } else { 0.1 };
    for seed in first..first + n {
        for (mode, refuse, lose) in [
            ("lost replies", 0.0, 0.3),
            ("refused calls", refuse_rate, 0.0),
        ] {
            let rate = f64::max(refuse, lose) * 100.0;
            let t = CcTrial::new(
                &format!("cc{}{seed}", &mode[..1]),
                format!("awscc {mode} at {rate:.0}%, seed {seed}"),
            );
            let proxy = FaultProxy::start(seed, refuse, lose, t.m.p.path());
            let runs = t.converge(&proxy.endpoint);
            t.check_converged();
            let destroys = t.destroy(&proxy.endpoint);
            let decisions = proxy.decisions();
            assert!(
                decisions.keys().any(|d| d != "pass"),
                "{}: no fault was made: {decisions:?}",
                t.label
            );
            eprintln!(
                "{}: converged in {runs} applies, destroyed in {destroys}; proxy decisions {decisions:?}",
                t.label
            );
        }
    }
}

/// What a generated kind costs in calls: a clean apply, and a no-op plan,
/// which reads each resource with one GetResource (Cloud Control has no
/// batched read of whole models).
#[test]
fn generated_kinds_calls_per_resource_of_an_apply_and_a_no_op_plan() {
    let t = CcTrial::new("cccalls", "calls".into());
    let proxy = FaultProxy::start(7, 0.0, 0.0, t.m.p.path());
    t.converge(&proxy.endpoint);
    let applied = proxy.actions();
    let plan = t
        .command(&proxy.endpoint, &["plan", "--detailed-exitcode"])
        .output()
        .unwrap();
    assert_eq!(
        plan.status.code(),
        Some(0),
        "{}",
        crate::support::bin::text(&plan)
    );
    let all = proxy.actions();
    let planned: std::collections::BTreeMap<&String, usize> = all
        .iter()
        .map(|(a, n)| (a, n - applied.get(a).copied().unwrap_or(0)))
        .filter(|(_, n)| *n > 0)
        .collect();
    eprintln!(
        "clean apply of {TWELVE_RESOURCES} generated resources: {applied:?}; no-op plan: {planned:?}"
    );
    assert_eq!(applied.get("CreateResource"), Some(&TWELVE_RESOURCES));
    assert_eq!(
        planned,
        [(&"GetResource".to_string(), TWELVE_RESOURCES)]
            .into_iter()
            .collect()
    );
    t.destroy(&moto::moto().endpoint);
}
