//! The generated `awscc` kinds end to end through the binary, on moto and
//! the launcher's Cloud Control front: a fraud-events queue and its
//! dead-letter queue, an alerts topic subscribed to it, an idempotency
//! table with point-in-time recovery and a customer managed key, and a WAF
//! web ACL with two AWS managed rule groups. It plans offline, applies,
//! shows through the services' own APIs, replans as a no-op, takes back a
//! change made behind its back, replaces on a create-only change, and
//! destroys leaving nothing.

use serde_json::Value;

use crate::support::moto;
use crate::support::on_moto::{OnMoto, python};

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

fn actions(plan: &Value) -> Vec<(String, String)> {
    plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["action"] != "no-op")
        .map(|c| {
            (
                c["address"].as_str().unwrap().to_string(),
                c["action"].as_str().unwrap().to_string(),
            )
        })
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect()
}

#[test]
fn generated_kinds_plan_apply_drift_replace_and_destroy_on_moto() {
    let endpoint = moto::moto().endpoint.clone();
    let m = OnMoto::new(PROGRAM, "cc");
    // Offline: nothing recorded, no call.
    let offline = m.run("http://127.0.0.1:9", &["plan", "--json"]);
    assert!(
        offline.status.success(),
        "{}",
        crate::support::bin::text(&offline)
    );
    let offline: Value = serde_json::from_slice(&offline.stdout).unwrap();
    assert_eq!(offline["changes"].as_array().unwrap().len(), 7);

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

    // Behind payrun's back: the visibility timeout, through SQS itself.
    python(&format!(
        "client('sqs').set_queue_attributes(QueueUrl='{url}', Attributes={{'VisibilityTimeout': '5'}})"
    ));
    let (code, p, shown) = plan(&m, &endpoint, &[]);
    assert_eq!(code, Some(2), "{p}");
    assert_eq!(
        actions(&p),
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
        actions(&p),
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
         print(json.dumps([[u for u in q if u.endswith('-cc')], [x for x in t if x.endswith('-cc')], [x['Identifier'] for x in w if 'edge-cc' in x['Identifier']], [x['TopicArn'] for x in s if x['TopicArn'].endswith('-cc')]]))",
    );
    assert_eq!(left, "[[], [], [], []]");
}
