//! Refresh reads the stack, not the list, through the real binary on moto:
//! a create the cloud carries out after the next run looked for it (held by
//! the fault proxy until then) leaves a duplicate the next plan finds by
//! the stack's tag and the apply deletes; an object tagged with the stack
//! by hand is reported and left alone; a port opened by hand on a group of
//! the stack is drift the apply revokes; and a no-op plan of 1,001
//! resources takes at most 50 calls.

use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::support::bin::text;
use crate::support::fault::{Census, FaultProxy};
use crate::support::moto;
use crate::support::on_moto::{OnMoto, python};

/// Starts `apply` and kills it (-9) once its create of `address` is under
/// way (its intent is written, and a moment later its request is at the
/// proxy, which holds it).
fn apply_killed_mid_create(m: &OnMoto, endpoint: &str, address: &str) {
    let mut child = m
        .command(
            endpoint,
            &["apply", "--auto-approve", "--request-timeout", "1s"],
        )
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while m.state()["intents"].get(address).is_none() {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the apply ended before creating {address}"
        );
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no intent for {address}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    child.kill().unwrap();
    let _ = child.wait();
}

/// Waits until the proxy has answered `n` requests of `action` (a held one
/// is logged once moto has served it).
fn served(proxy: &FaultProxy, action: &str, n: usize) {
    let start = Instant::now();
    while proxy.actions().get(action).copied().unwrap_or(0) < n {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "{action} not served {n} times"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The race, made to happen: the killed apply's create is held at the
/// proxy until after the next apply looked for it (waiting out its 1 s
/// request window) and made the resource again; then it is served. The
/// plan after finds the second object by the stack's tag and plans it for
/// deletion, naming the tags that prove it is the stack's; the apply
/// deletes it, and exactly one is left.
fn race(program: &str, suffix: &str, address: &str, create: &str, count: impl Fn(&str) -> usize) {
    let m = OnMoto::new(program, suffix);
    let proxy = FaultProxy::start(1, 0.0, 0.0, m.p.path());
    proxy.hold(create, 4000, 1);
    apply_killed_mid_create(&m, &proxy.endpoint, address);
    m.ok(
        &proxy.endpoint,
        &["apply", "--auto-approve", "--request-timeout", "1s"],
    );
    // The held create reaches the cloud only now.
    served(&proxy, create, 2);
    assert_eq!(count(&m.stack()), 2, "the race left two of {address}");

    let (code, plan) = m.plan_json(&proxy.endpoint);
    assert_eq!(code, Some(2), "{plan}");
    let change = plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["address"] == address)
        .unwrap();
    let recorded = change["id"].as_str().unwrap();
    let duplicates = change["duplicates"].as_array().unwrap();
    assert_eq!(duplicates.len(), 1, "{change}");
    assert_ne!(duplicates[0].as_str().unwrap(), recorded);
    let shown = m.run(&proxy.endpoint, &["plan"]);
    let shown = String::from_utf8_lossy(&shown.stdout);
    assert!(
        shown.contains(&format!(
            "(duplicate {}: tagged payrun:stack={} and payrun:address={address}, but state records {recorded};",
            duplicates[0].as_str().unwrap(),
            m.stack()
        )),
        "{shown}"
    );
    assert!(
        shown.contains("0 to add, 0 to change, 1 to destroy."),
        "{shown}"
    );

    m.ok(&proxy.endpoint, &["apply", "--auto-approve"]);
    assert_eq!(count(&m.stack()), 1, "one {address} left");
    let (code, plan) = m.plan_json(&proxy.endpoint);
    assert_eq!(code, Some(0), "{plan}");
    m.ok(&proxy.endpoint, &["destroy", "--auto-approve"]);
    assert_eq!(count(&m.stack()), 0);
}

#[test]
fn a_vpc_made_twice_by_a_crash_race_is_found_and_deleted() {
    race(
        r#"aws::ec2::vpc("main", #{ cidr: "10.77.0.0/16" });"#,
        "racevpc",
        "aws.ec2.vpc.main",
        "CreateVpc",
        |stack| {
            let rt = tokio::runtime::Runtime::new().unwrap();
            let census = rt.block_on(Census::take(stack));
            census.tagged.get("aws.ec2.vpc").map_or(0, Vec::len)
        },
    );
}

#[test]
fn a_lattice_service_made_twice_by_a_crash_race_is_found_and_deleted() {
    race(
        r#"aws::vpclattice::service("api", #{});"#,
        "racelattice",
        "aws.vpclattice.service.api",
        "POST /services",
        |stack| {
            let rt = tokio::runtime::Runtime::new().unwrap();
            rt.block_on(lattice_services_of(stack))
        },
    );
}

/// Lattice services tagged with `stack` and not being deleted.
async fn lattice_services_of(stack: &str) -> usize {
    let client = aws_sdk_vpclattice::Client::new(&moto::sdk_config().await);
    let listed = client.list_services().send().await.unwrap();
    let mut n = 0;
    for s in listed.items() {
        let tags = client
            .list_tags_for_resource()
            .resource_arn(s.arn().unwrap_or_default())
            .send()
            .await
            .unwrap();
        let ours = tags
            .tags()
            .and_then(|t| t.get("payrun:stack"))
            .is_some_and(|v| v == stack);
        let deleting =
            s.status() == Some(&aws_sdk_vpclattice::types::ServiceStatus::DeleteInProgress);
        if ours && !deleting {
            n += 1;
        }
    }
    n
}

/// Runs a boto3 snippet against moto (`ec2` is a client there); prints
/// what it prints.
fn boto3(code: &str) -> String {
    python(&format!("ec2 = client('ec2')\n{code}"))
}

// Guards the drift a PCI assessor cares about most: a port opened by hand
// on a group payrun manages left the plan at exit 0.
#[test]
fn a_port_opened_by_hand_is_drift_the_apply_revokes() {
    let m = OnMoto::new(
        r#"
default_tags(#{ DataClassification: "pci" });
let vpc = aws::ec2::vpc("main", #{ cidr: "10.78.0.0/16" });
let web = aws::ec2::security_group("web", #{ vpc: vpc, description: "web tier" });
aws::ec2::security_group_ingress("web-https", #{ security_group: web.id, protocol: "tcp", from_port: 443, to_port: 443, cidr: "0.0.0.0/0" });
aws::ec2::security_group("shared", #{ vpc: vpc, description: "with a controller", exclusive: false });
"#,
        "port22",
    );
    m.p.add_to_project_file(crate::support::bin::Project::ACCOUNT_BASELINE);
    let proxy = FaultProxy::start(2, 0.0, 0.0, m.p.path());
    m.ok(&proxy.endpoint, &["apply", "--auto-approve"]);
    let describes = |before: &std::collections::BTreeMap<String, usize>| {
        let after = proxy.actions();
        after
            .into_iter()
            .map(|(a, n)| (a.clone(), n - before.get(&a).copied().unwrap_or(0)))
            .filter(|(a, n)| *n > 0 && a.starts_with("Describe"))
            .collect::<std::collections::BTreeMap<_, _>>()
    };
    let before = proxy.actions();
    let (code, _) = m.plan_json(&proxy.endpoint);
    assert_eq!(code, Some(0));
    let clean_calls = describes(&before);

    let state = m.state();
    let group = state["resources"]["aws.ec2.security_group.web"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let shared = state["resources"]["aws.ec2.security_group.shared"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    for g in [&group, &shared] {
        boto3(&format!(
            "ec2.authorize_security_group_ingress(GroupId='{g}', IpPermissions=[{{'IpProtocol': 'tcp', 'FromPort': 22, 'ToPort': 22, 'IpRanges': [{{'CidrIp': '0.0.0.0/0'}}]}}])"
        ));
    }
    let rule = boto3(&format!(
        "print([r['SecurityGroupRuleId'] for r in ec2.describe_security_group_rules(Filters=[{{'Name': 'group-id', 'Values': ['{group}']}}])['SecurityGroupRules'] if r.get('FromPort') == 22][0])"
    ));

    let out = m.run(&proxy.endpoint, &["plan", "--detailed-exitcode"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(
        shown.contains("# aws.ec2.security_group.web will be updated in-place"),
        "{shown}"
    );
    assert!(
        shown.contains(&format!("ingress tcp 22 from 0.0.0.0/0 ({rule})")),
        "{shown}"
    );
    assert!(shown.contains("revoked by apply"), "{shown}");
    // In PCI DSS scope it is a finding of its own, which the apply settles.
    assert!(
        shown.contains(&format!(
            "warning [pci-undeclared-rule]: aws.ec2.security_group.web: rule no declaration accounts for, opened outside payrun: ingress tcp 22 from 0.0.0.0/0 ({rule}); this apply revokes it"
        )),
        "{shown}"
    );
    // A group shared with other tools keeps the old behaviour.
    assert!(
        !shown.contains("aws.ec2.security_group.shared will be"),
        "{shown}"
    );

    m.ok(&proxy.endpoint, &["apply", "--auto-approve"]);
    let left = boto3(&format!(
        "print(sorted(r['GroupId'] for r in ec2.describe_security_group_rules()['SecurityGroupRules'] if r.get('FromPort') == 22 and r['GroupId'] in ('{group}', '{shared}')))"
    ));
    assert_eq!(
        left,
        format!("['{shared}']"),
        "revoked on the managed group only"
    );

    let before = proxy.actions();
    let (code, plan) = m.plan_json(&proxy.endpoint);
    assert_eq!(code, Some(0), "{plan}");
    assert_eq!(
        describes(&before),
        clean_calls,
        "the no-op plan's calls are unchanged"
    );
    m.ok(&proxy.endpoint, &["destroy", "--auto-approve"]);
}

#[test]
fn an_object_tagged_with_the_stack_by_hand_is_reported_and_left_alone() {
    let m = OnMoto::new(
        r#"aws::ec2::vpc("main", #{ cidr: "10.79.0.0/16" });"#,
        "byhand",
    );
    let endpoint = moto::moto().endpoint.clone();
    m.ok(&endpoint, &["apply", "--auto-approve"]);
    let stack = m.stack();
    let vpc = boto3(&format!(
        "v = ec2.create_vpc(CidrBlock='10.80.0.0/16', TagSpecifications=[{{'ResourceType': 'vpc', 'Tags': [{{'Key': 'payrun:stack', 'Value': '{stack}'}}]}}])['Vpc']['VpcId']\nprint(v)"
    ));
    let (code, plan) = m.plan_json(&endpoint);
    assert_eq!(code, Some(0), "nothing to change: {plan}");
    assert_eq!(
        plan["unaccounted"],
        serde_json::json!([{ "kind": "aws.ec2.vpc", "id": vpc }])
    );
    let shown = m.run(&endpoint, &["plan"]);
    let shown = String::from_utf8_lossy(&shown.stdout);
    assert!(
        shown.contains(&format!(
            "Objects tagged payrun:stack={stack} that no address of the stack accounts for (left alone):\n  aws.ec2.vpc {vpc} (no payrun:address tag)"
        )),
        "{shown}"
    );
    m.ok(&endpoint, &["apply", "--auto-approve"]);
    let still = boto3(&format!(
        "print(len(ec2.describe_vpcs(VpcIds=['{vpc}'])['Vpcs']))"
    ));
    assert_eq!(still, "1", "the hand-made VPC is left alone");
    boto3(&format!("ec2.delete_vpc(VpcId='{vpc}')"));
    m.ok(&endpoint, &["destroy", "--auto-approve"]);
}

/// 1,001 resources: a VPC, 250 security groups with a rule each, 250 log
/// groups, 125 IAM roles and 125 secrets.
pub const STACK1001: &str = r#"
let vpc = aws::ec2::vpc("main", #{ cidr: "10.90.0.0/16" });
for i in 0..250 {
    let sg = aws::ec2::security_group(`g${i}`, #{ vpc: vpc, description: `group ${i}` });
    aws::ec2::security_group_ingress(`g${i}-https`, #{ security_group: sg.id, protocol: "tcp", from_port: 443, to_port: 443, cidr: "10.0.0.0/8" });
    aws::logs::log_group(`l${i}`, #{ retention_in_days: 7 });
}
for i in 0..125 {
    aws::iam::role(`r${i}`, #{ assume_role_policy: #{ Version: "2012-10-17", Statement: [#{
        Effect: "Allow", Principal: #{ AWS: "arn:aws:iam::123456789012:root" }, Action: "sts:AssumeRole",
    }] } });
    aws::secretsmanager::secret(`s${i}`, #{ generate: #{ length: 32 } });
}
"#;

/// A no-op plan of 1,001 resources reads the stack in at most 50 calls
/// (counted at the proxy, per action): one read by the stack's tag per EC2
/// kind, one shared read of the groups' rules, the log groups by pages of
/// 50 with their tags from one tagging-API read, IAM's authorization
/// details and role list, secrets by tag. Tags, retention, descriptions
/// stay observed: a tag changed behind payrun's back is still drift.
#[test]
fn a_no_op_plan_of_1001_resources_takes_at_most_50_calls() {
    let m = OnMoto::new(STACK1001, "k1001");
    let proxy = FaultProxy::start(3, 0.0, 0.0, m.p.path());
    m.ok(
        &proxy.endpoint,
        &["apply", "--auto-approve", "--parallelism", "20"],
    );
    let before = proxy.actions();
    let start = Instant::now();
    let (code, plan) = m.plan_json(&proxy.endpoint);
    let took = start.elapsed();
    assert_eq!(
        code,
        Some(0),
        "{}",
        plan["changes"].as_array().map_or(0, Vec::len)
    );
    let calls: std::collections::BTreeMap<String, usize> = proxy
        .actions()
        .into_iter()
        .map(|(a, n)| (a.clone(), n - before.get(&a).copied().unwrap_or(0)))
        .filter(|(_, n)| *n > 0)
        .collect();
    let total: usize = calls.values().sum();
    eprintln!(
        "no-op plan of 1,001 resources: {total} calls in {} ms: {calls:?}",
        took.as_millis()
    );
    assert!(total <= 50, "{total} calls: {calls:?}");
    // Drift is still seen: a log group's tag changed by hand.
    let log_group = m.state()["resources"]["aws.logs.log_group.l7"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let script = format!(
        "logs = client('logs')\narn = logs.describe_log_groups(logGroupNamePrefix='{log_group}')['logGroups'][0]['logGroupArn']\nlogs.tag_resource(resourceArn=arn, tags={{'Team': 'by-hand'}})"
    );
    python(&script);
    let (code, plan) = m.plan_json(&proxy.endpoint);
    assert_eq!(code, Some(2));
    let drifted: Vec<&str> = plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["action"] != "no-op")
        .map(|c| c["address"].as_str().unwrap())
        .collect();
    assert_eq!(drifted, ["aws.logs.log_group.l7"]);
    m.ok(
        &proxy.endpoint,
        &["destroy", "--auto-approve", "--parallelism", "20"],
    );
}

/// `--refresh-only`: a change made outside payrun (a log group's retention,
/// a VPC deleted) is shown by `plan --refresh-only`, recorded by `apply
/// --refresh-only` with no call that changes the cloud (counted at the
/// proxy), and the next ordinary plan proposes to put it back.
#[test]
fn refresh_only_records_drift_and_changes_nothing_in_the_cloud() {
    let m = OnMoto::new(
        r#"
aws::logs::log_group("app", #{ retention_in_days: 30 });
aws::ec2::vpc("spare", #{ cidr: "10.81.0.0/16" });
"#,
        "refronly",
    );
    let proxy = FaultProxy::start(4, 0.0, 0.0, m.p.path());
    m.ok(&proxy.endpoint, &["apply", "--auto-approve"]);
    let state = m.state();
    let group = state["resources"]["aws.logs.log_group.app"]["name"]
        .as_str()
        .unwrap()
        .to_string();
    let vpc = state["resources"]["aws.ec2.vpc.spare"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    python(&format!(
        "client('logs').put_retention_policy(logGroupName='{group}', retentionInDays=60)\nclient('ec2').delete_vpc(VpcId='{vpc}')"
    ));

    let shown = m.run(
        &proxy.endpoint,
        &["plan", "--refresh-only", "--detailed-exitcode"],
    );
    assert_eq!(shown.status.code(), Some(2), "{}", text(&shown));
    let shown = String::from_utf8_lossy(&shown.stdout);
    for want in [
        "Refresh only: nothing in the cloud changes. State of stack `main.refronly` will record what changed outside payrun:",
        "  # aws.ec2.vpc.spare was deleted outside payrun: state forgets it",
        "  # aws.logs.log_group.app\n  #   (drift: `retention_in_days` changed outside payrun: 30 → 60)",
        "Plan: 2 to record in state, nothing to change in the cloud.",
    ] {
        assert!(shown.contains(want), "{want}\n{shown}");
    }

    let before = proxy.actions();
    m.ok(
        &proxy.endpoint,
        &["apply", "--refresh-only", "--auto-approve"],
    );
    let writes: Vec<String> = proxy
        .actions()
        .into_iter()
        .filter(|(a, n)| *n > before.get(a).copied().unwrap_or(0))
        .map(|(a, _)| a)
        .filter(|a| {
            !["Describe", "List", "Get"]
                .iter()
                .any(|read| a.starts_with(read))
        })
        .collect();
    assert!(
        writes.is_empty(),
        "a refresh-only apply changed the cloud: {writes:?}"
    );
    let state = m.state();
    assert_eq!(
        state["resources"]["aws.logs.log_group.app"]["args"]["retention_in_days"],
        60
    );
    assert!(state["resources"].get("aws.ec2.vpc.spare").is_none());
    let live = python(&format!(
        "print(client('logs').describe_log_groups(logGroupNamePrefix='{group}')['logGroups'][0]['retentionInDays'])"
    ));
    assert_eq!(live, "60", "the cloud kept what was done outside payrun");

    // The ordinary plan puts the program back: the retention to 30, the
    // VPC made again.
    let (code, plan) = m.plan_json(&proxy.endpoint);
    assert_eq!(code, Some(2), "{plan}");
    assert_eq!(
        crate::support::on_moto::acting(&plan),
        [
            ("aws.ec2.vpc.spare".to_string(), "create".to_string()),
            ("aws.logs.log_group.app".to_string(), "update".to_string()),
        ]
    );
    m.ok(&proxy.endpoint, &["apply", "--auto-approve"]);
    let (code, plan) = m.plan_json(&proxy.endpoint);
    assert_eq!(code, Some(0), "{plan}");
    // Neither goes with destroy.
    let refused = m.run(
        &proxy.endpoint,
        &["destroy", "--refresh-only", "--auto-approve"],
    );
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
    assert!(
        String::from_utf8_lossy(&refused.stderr)
            .contains("--refresh-only reads the cloud into state: it goes with neither --refresh=false nor destroy"),
        "{}",
        text(&refused)
    );
    m.ok(&proxy.endpoint, &["destroy", "--auto-approve"]);
}

/// `forget(address)`: a recorded resource leaves state and the program
/// without being destroyed. The plan says so, the apply makes no call that
/// changes the cloud (counted at the proxy), and the object, still tagged
/// with the stack, is passed over by later plans rather than reported at
/// each. Forgetting what the program still declares is an error at the
/// forget.
#[test]
fn forget_lets_go_of_a_resource_without_destroying_it() {
    let m = OnMoto::new(
        r#"
aws::ec2::vpc("main", #{ cidr: "10.82.0.0/16" });
aws::ec2::vpc("legacy", #{ cidr: "10.83.0.0/16" });
"#,
        "forget",
    );
    let proxy = FaultProxy::start(6, 0.0, 0.0, m.p.path());
    m.ok(&proxy.endpoint, &["apply", "--auto-approve"]);
    let legacy = m.state()["resources"]["aws.ec2.vpc.legacy"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let program = m.p.path().join("programs/main.rhai");

    std::fs::write(
        &program,
        r#"aws::ec2::vpc("main", #{ cidr: "10.82.0.0/16" });
aws::ec2::vpc("legacy", #{ cidr: "10.83.0.0/16" });
forget("aws.ec2.vpc.legacy");
"#,
    )
    .unwrap();
    let refused = m.run(&proxy.endpoint, &["plan"]);
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(
        err.contains(
            "forget(\"aws.ec2.vpc.legacy\"): the program still declares aws.ec2.vpc.legacy"
        ) && err.contains("main.rhai:3:1"),
        "{err}"
    );

    std::fs::write(
        &program,
        r#"aws::ec2::vpc("main", #{ cidr: "10.82.0.0/16" });
forget("aws.ec2.vpc.legacy");
"#,
    )
    .unwrap();
    let shown = m.run(&proxy.endpoint, &["plan", "--detailed-exitcode"]);
    assert_eq!(shown.status.code(), Some(2), "{}", text(&shown));
    let shown = String::from_utf8_lossy(&shown.stdout);
    for want in [
        "  # aws.ec2.vpc.legacy will be forgotten (forget at ".to_string(),
        format!("it leaves state and stays in the cloud as {legacy}, no longer managed by payrun"),
        "Plan: 0 to add, 0 to change, 0 to destroy, 1 to forget.".to_string(),
    ] {
        assert!(shown.contains(&want), "{want}\n{shown}");
    }
    let before = proxy.actions();
    m.ok(&proxy.endpoint, &["apply", "--auto-approve"]);
    let writes: Vec<String> = proxy
        .actions()
        .into_iter()
        .filter(|(a, n)| *n > before.get(a).copied().unwrap_or(0))
        .map(|(a, _)| a)
        .filter(|a| !a.starts_with("Describe") && !a.starts_with("List") && !a.starts_with("Get"))
        .collect();
    assert!(
        writes.is_empty(),
        "forgetting changed the cloud: {writes:?}"
    );
    assert!(m.state()["resources"].get("aws.ec2.vpc.legacy").is_none());
    let still = boto3(&format!(
        "print(len(ec2.describe_vpcs(VpcIds=['{legacy}'])['Vpcs']))"
    ));
    assert_eq!(still, "1", "the forgotten VPC was destroyed");

    // Passed over from now on, with or without the forget.
    let (code, plan) = m.plan_json(&proxy.endpoint);
    assert_eq!(code, Some(0), "{plan}");
    assert!(plan.get("unaccounted").is_none(), "{plan}");
    std::fs::write(
        &program,
        r#"aws::ec2::vpc("main", #{ cidr: "10.82.0.0/16" });"#,
    )
    .unwrap();
    let (code, plan) = m.plan_json(&proxy.endpoint);
    assert_eq!(code, Some(0), "{plan}");
    m.ok(&proxy.endpoint, &["destroy", "--auto-approve"]);
    let still = boto3(&format!(
        "print(len(ec2.describe_vpcs(VpcIds=['{legacy}'])['Vpcs']))"
    ));
    assert_eq!(still, "1", "destroy took what the stack had let go of");
    boto3(&format!("ec2.delete_vpc(VpcId='{legacy}')"));
}
