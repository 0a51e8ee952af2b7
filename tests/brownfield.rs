//! Bringing existing infrastructure in, on moto: objects made with boto3
//! behind payrun's back are discovered, written as a program with `adopt`,
//! imported by an apply that makes and deletes nothing (counted at the
//! proxy), and then managed like any other; `import --generate` keeps live
//! values that differ from the defaults; `moved` changes state alone.

use serde_json::Value;

use crate::support::bin::text;
use crate::support::fault::FaultProxy;
use crate::support::on_moto::{OnMoto, acting, python};

/// The calls at the proxy since `before` that are not reads.
fn writes(proxy: &FaultProxy, before: &std::collections::BTreeMap<String, usize>) -> Vec<String> {
    proxy
        .actions()
        .into_iter()
        .filter(|(a, n)| *n > before.get(a).copied().unwrap_or(0))
        .map(|(a, _)| a)
        .filter(|a| {
            !a.starts_with("Describe")
                && !a.starts_with("List")
                && !a.starts_with("Get")
                && a != "GetResourceRequestStatus"
        })
        .collect()
}

fn plan_json(m: &OnMoto, endpoint: &str, program: &str) -> (Option<i32>, Value) {
    let out = m.run(
        endpoint,
        &["plan", program, "--json", "--detailed-exitcode"],
    );
    let plan = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("plan --json: {e}: {}", text(&out)));
    (out.status.code(), plan)
}

const KINDS: &[&str] = &[
    "aws.ec2.vpc",
    "aws.ec2.subnet",
    "aws.ec2.internet_gateway",
    "aws.ec2.route_table",
    "aws.ec2.route",
    "aws.ec2.route_table_association",
    "aws.ec2.security_group",
    "aws.ec2.security_group_ingress",
    "aws.ec2.security_group_egress",
    "aws.kms.key",
    "aws.logs.log_group",
    "aws.ecr.repository",
    "awscc.sqs.queue",
];

#[test]
fn discovered_objects_are_imported_by_a_generated_program_that_makes_nothing() {
    let m = OnMoto::new("", "bf");
    let team = format!("bf-{}", std::process::id());
    let made: Value = serde_json::from_str(&python(&format!(
        r#"
ec2 = client('ec2')
T = [{{'Key': 'team', 'Value': '{team}'}}]
def spec(kind, name):
    return [{{'ResourceType': kind, 'Tags': T + [{{'Key': 'Name', 'Value': name}}]}}]
vpc = ec2.create_vpc(CidrBlock='10.91.0.0/16', TagSpecifications=spec('vpc', 'legacy'))['Vpc']['VpcId']
ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={{'Value': True}})
a = ec2.create_subnet(VpcId=vpc, CidrBlock='10.91.1.0/24', AvailabilityZone='us-east-1a', TagSpecifications=spec('subnet', 'public-a'))['Subnet']['SubnetId']
ec2.modify_subnet_attribute(SubnetId=a, MapPublicIpOnLaunch={{'Value': True}})
b = ec2.create_subnet(VpcId=vpc, CidrBlock='10.91.2.0/24', AvailabilityZone='us-east-1b', TagSpecifications=spec('subnet', 'private-b'))['Subnet']['SubnetId']
igw = ec2.create_internet_gateway(TagSpecifications=spec('internet-gateway', 'legacy'))['InternetGateway']['InternetGatewayId']
ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
rt = ec2.create_route_table(VpcId=vpc, TagSpecifications=spec('route-table', 'public'))['RouteTable']['RouteTableId']
ec2.create_route(RouteTableId=rt, DestinationCidrBlock='0.0.0.0/0', GatewayId=igw)
assoc = ec2.associate_route_table(RouteTableId=rt, SubnetId=a)['AssociationId']
sg = ec2.create_security_group(GroupName='web-{team}', Description='web tier', VpcId=vpc, TagSpecifications=spec('security-group', 'web'))['GroupId']
ec2.authorize_security_group_ingress(GroupId=sg, IpPermissions=[{{'IpProtocol': 'tcp', 'FromPort': 443, 'ToPort': 443, 'IpRanges': [{{'CidrIp': '0.0.0.0/0'}}]}}])
key = client('kms').create_key(Description='legacy data', Tags=[{{'TagKey': 'team', 'TagValue': '{team}'}}])['KeyMetadata']['KeyId']
client('logs').create_log_group(logGroupName='/legacy/{team}', tags={{'team': '{team}'}})
client('logs').put_retention_policy(logGroupName='/legacy/{team}', retentionInDays=30)
client('ecr').create_repository(repositoryName='legacy-{team}', tags=[{{'Key': 'team', 'Value': '{team}'}}])
client('sqs').create_queue(QueueName='legacy-{team}', Attributes={{'VisibilityTimeout': '60'}}, tags={{'team': '{team}'}})
print(json.dumps(dict(vpc=vpc, a=a, b=b, igw=igw, rt=rt, assoc=assoc, sg=sg, key=key)))
"#
    )))
    .unwrap();
    let proxy = FaultProxy::start(28, 0.0, 0.0, m.p.path());
    let e = proxy.endpoint.clone();

    // Discover, and write the program.
    let mut args = vec!["discover", "--tag"];
    let tag = format!("team={team}");
    args.push(&tag);
    for k in KINDS {
        args.extend(["--kind", k]);
    }
    args.extend(["--generate", "programs/legacy.rhai"]);
    let found = m.ok(&e, &args);
    let listing = String::from_utf8_lossy(&found.stdout).to_string();
    assert!(
        listing.contains("14 objects no stack records in us-east-1"),
        "{listing}"
    );
    let program = std::fs::read_to_string(m.p.path().join("programs/legacy.rhai")).unwrap();
    for want in [
        "let vpc_legacy = aws::ec2::vpc(\"legacy\", #{".to_string(),
        "enable_dns_hostnames: true".to_string(),
        "vpc: vpc_legacy,".to_string(),
        "map_public_ip: true".to_string(),
        "gateway: internet_gateway_legacy,".to_string(),
        "route_table: route_table_public, subnet: subnet_public_a".to_string(),
        format!("name: \"web-{team}\""),
        "retention_in_days: 30".to_string(),
        format!("name: \"legacy-{team}\""),
        "visibility_timeout: 60".to_string(),
        format!("adopt(vpc_legacy, \"{}\");", made["vpc"].as_str().unwrap()),
        format!("adopt(queue_legacy_{}, \"", team.replace('-', "_")),
        format!("/legacy-{team}\");"),
    ] {
        assert!(program.contains(&want), "{want}\n{program}");
    }
    assert_eq!(program.matches("adopt(").count(), 14, "{program}");
    assert!(!program.contains("payrun:"), "{program}");

    // Its plan imports, and nothing else: no create, delete or replace.
    let (code, plan) = plan_json(&m, &e, "programs/legacy.rhai");
    assert_eq!(code, Some(2), "{plan}");
    let changes = plan["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 14, "{plan}");
    for c in changes {
        assert!(c["import_at"].is_string(), "not an import: {c}");
        assert!(
            c["action"] == "update" || c["action"] == "no-op",
            "an import plans {}: {c}",
            c["action"]
        );
    }
    for (address, action) in acting(&plan) {
        assert_eq!(action, "update", "{address}");
    }

    // The apply makes and deletes nothing: it adds payrun's tags.
    let before = proxy.actions();
    m.ok(&e, &["apply", "programs/legacy.rhai", "--auto-approve"]);
    let written = writes(&proxy, &before);
    for w in &written {
        assert!(
            ["CreateTags", "TagResource", "UpdateResource"].contains(&w.as_str()),
            "the import apply called {w} (all writes: {written:?})"
        );
    }
    let (code, plan) = plan_json(&m, &e, "programs/legacy.rhai");
    assert_eq!(code, Some(0), "{plan}");
    let vpc_tags = python(&format!(
        "print(json.dumps({{t['Key']: t['Value'] for t in client('ec2').describe_vpcs(VpcIds=['{}'])['Vpcs'][0]['Tags']}}))",
        made["vpc"].as_str().unwrap()
    ));
    assert!(
        vpc_tags.contains("\"payrun:address\": \"aws.ec2.vpc.legacy\""),
        "{vpc_tags}"
    );

    // Managed now: destroy takes every object away.
    m.ok(&e, &["destroy", "programs/legacy.rhai", "--auto-approve"]);
    let left = python(&format!(
        r#"
ec2 = client('ec2')
left = []
left += [v['VpcId'] for v in ec2.describe_vpcs(Filters=[{{'Name': 'tag:team', 'Values': ['{team}']}}])['Vpcs']]
left += [s['SubnetId'] for s in ec2.describe_subnets(Filters=[{{'Name': 'tag:team', 'Values': ['{team}']}}])['Subnets']]
left += [g['LogGroupName'] for g in client('logs').describe_log_groups(logGroupNamePrefix='/legacy/{team}')['logGroups']]
left += [r['repositoryName'] for r in client('ecr').describe_repositories()['repositories'] if r['repositoryName'] == 'legacy-{team}']
left += [q for q in client('sqs').list_queues(QueueNamePrefix='legacy-{team}').get('QueueUrls', [])]
state = client('kms').describe_key(KeyId='{key}')['KeyMetadata']['KeyState']
print(json.dumps(dict(left=left, key=state)))
"#,
        key = made["key"].as_str().unwrap()
    ));
    assert_eq!(
        left, "{\"left\": [], \"key\": \"PendingDeletion\"}",
        "destroy left objects behind"
    );
}

#[test]
fn import_generate_keeps_live_values_and_a_create_only_difference_is_refused() {
    let m = OnMoto::new("", "gen");
    let made: Value = serde_json::from_str(&python(
        r#"
ec2 = client('ec2')
vpc = ec2.create_vpc(CidrBlock='10.92.0.0/16')['Vpc']['VpcId']
subnet = ec2.create_subnet(VpcId=vpc, CidrBlock='10.92.1.0/24', AvailabilityZone='us-east-1a')['Subnet']['SubnetId']
ec2.modify_subnet_attribute(SubnetId=subnet, MapPublicIpOnLaunch={'Value': True})
client('logs').create_log_group(logGroupName='/gen/app')
client('logs').put_retention_policy(logGroupName='/gen/app', retentionInDays=14)
print(json.dumps(dict(vpc=vpc, subnet=subnet)))
"#,
    ))
    .unwrap();
    let e = crate::support::moto::moto().endpoint.clone();
    let subnet = made["subnet"].as_str().unwrap();
    m.ok(
        &e,
        &[
            "import",
            "--generate",
            "programs/subnet.rhai",
            "aws.ec2.subnet",
            subnet,
        ],
    );
    m.ok(
        &e,
        &[
            "import",
            "--generate",
            "programs/logs.rhai",
            "aws.logs.log_group",
            "/gen/app",
        ],
    );
    let subnet_program = std::fs::read_to_string(m.p.path().join("programs/subnet.rhai")).unwrap();
    let logs_program = std::fs::read_to_string(m.p.path().join("programs/logs.rhai")).unwrap();
    assert!(
        subnet_program.contains("map_public_ip: true"),
        "{subnet_program}"
    );
    assert!(
        subnet_program.contains(&format!("vpc: \"{}\"", made["vpc"].as_str().unwrap())),
        "{subnet_program}"
    );
    assert!(
        logs_program.contains("name: \"/gen/app\""),
        "{logs_program}"
    );
    assert!(
        logs_program.contains("retention_in_days: 14"),
        "{logs_program}"
    );
    // Written once: a second import to the same file is refused.
    let again = m.run(
        &e,
        &[
            "import",
            "--generate",
            "programs/logs.rhai",
            "aws.logs.log_group",
            "/gen/app",
        ],
    );
    assert_eq!(again.status.code(), Some(1), "{}", text(&again));
    assert!(text(&again).contains("programs/logs.rhai exists; nothing was written"));

    // A create-only property that differs from the live one: refused at
    // plan, naming it.
    let wrong = subnet_program.replace("10.92.1.0/24", "10.92.9.0/24");
    std::fs::write(m.p.path().join("programs/wrong.rhai"), &wrong).unwrap();
    let refused = m.run(&e, &["plan", "programs/wrong.rhai"]);
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
    for want in [
        "the live object differs from the declaration where only a new object could follow it: `cidr` forces replacement",
        "fix: declare what it is live: `cidr: \"10.92.1.0/24\"`",
    ] {
        assert!(text(&refused).contains(want), "{want}\n{}", text(&refused));
    }

    for program in ["programs/subnet.rhai", "programs/logs.rhai"] {
        m.ok(&e, &["apply", program, "--auto-approve"]);
        let (code, plan) = plan_json(&m, &e, program);
        assert_eq!(code, Some(0), "{program}: {plan}");
    }
    let live = python(&format!(
        "print(client('ec2').describe_subnets(SubnetIds=['{subnet}'])['Subnets'][0]['MapPublicIpOnLaunch'], client('logs').describe_log_groups(logGroupNamePrefix='/gen/app')['logGroups'][0]['retentionInDays'])"
    ));
    assert_eq!(live, "True 14");
    for program in ["programs/subnet.rhai", "programs/logs.rhai"] {
        m.ok(&e, &["destroy", program, "--auto-approve"]);
    }
}

#[test]
fn moved_on_moto_calls_nothing_that_writes_and_a_saved_plan_moves_the_same() {
    let m = OnMoto::new(
        "let net = aws::ec2::vpc(\"a\", #{ cidr: \"10.93.0.0/16\" });\naws::ec2::subnet(\"one\", #{ vpc: net, cidr: \"10.93.1.0/24\", az: \"us-east-1a\" });\n",
        "mv",
    );
    let proxy = FaultProxy::start(29, 0.0, 0.0, m.p.path());
    let e = proxy.endpoint.clone();
    m.ok(&e, &["apply", "--auto-approve"]);
    let id = m.state()["resources"]["aws.ec2.vpc.a"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    std::fs::write(
        m.p.path().join("programs/main.rhai"),
        "let net = aws::ec2::vpc(\"main\", #{ cidr: \"10.93.0.0/16\" });\nmoved(\"aws.ec2.vpc.a\", \"aws.ec2.vpc.main\");\naws::ec2::subnet(\"one\", #{ vpc: net, cidr: \"10.93.1.0/24\", az: \"us-east-1a\" });\n",
    )
    .unwrap();
    let plan = m.run(&e, &["plan", "--out", "move.plan", "--detailed-exitcode"]);
    assert_eq!(plan.status.code(), Some(2), "{}", text(&plan));
    assert!(
        text(&plan).contains("Plan: 0 to add, 0 to change, 0 to destroy, 1 to move."),
        "{}",
        text(&plan)
    );
    let before = proxy.actions();
    m.ok(&e, &["apply", "--auto-approve", "move.plan"]);
    assert_eq!(writes(&proxy, &before), Vec::<String>::new());
    let st = m.state();
    assert_eq!(st["resources"]["aws.ec2.vpc.main"]["id"], id.as_str());
    assert!(st["resources"].get("aws.ec2.vpc.a").is_none());
    let (code, plan) = m.plan_json(&e);
    assert_eq!(code, Some(0), "{plan}");
    m.ok(&e, &["destroy", "--auto-approve"]);
}

#[test]
fn an_imported_secret_keeps_its_value_which_is_never_read_or_written() {
    let m = OnMoto::new("", "sec");
    let name = format!("legacy-db-{}", std::process::id());
    let arn = python(&format!(
        "print(client('secretsmanager').create_secret(Name='{name}', SecretString='s3cr3t-legacy-value')['ARN'])"
    ));
    let e = crate::support::moto::moto().endpoint.clone();
    m.ok(
        &e,
        &[
            "import",
            "--generate",
            "programs/secret.rhai",
            "aws.secretsmanager.secret",
            &arn,
        ],
    );
    let program = std::fs::read_to_string(m.p.path().join("programs/secret.rhai")).unwrap();
    for want in [
        format!("name: \"{name}\""),
        "// never read back; to manage it, declare where it comes from: value: secret_env(\""
            .to_string(),
        format!("adopt(secret_legacy_db_{}, \"{arn}\");", std::process::id()),
    ] {
        assert!(program.contains(&want), "{want}\n{program}");
    }
    let plan = m.run(&e, &["plan", "programs/secret.rhai"]);
    let shown = text(&plan);
    assert!(!shown.contains("s3cr3t-legacy-value"), "{shown}");
    m.ok(&e, &["apply", "programs/secret.rhai", "--auto-approve"]);
    let (code, plan) = plan_json(&m, &e, "programs/secret.rhai");
    assert_eq!(code, Some(0), "{plan}");
    let state = std::fs::read_to_string(m.p.path().join(".payrun/secret.sec.json")).unwrap();
    assert!(!state.contains("s3cr3t-legacy-value"));
    let value = python(&format!(
        "print(client('secretsmanager').get_secret_value(SecretId='{name}')['SecretString'])"
    ));
    assert_eq!(value, "s3cr3t-legacy-value");
}

// Fault: an import apply killed with -9 at a random moment, its tag calls
// held at the proxy so some are served after the process died; the next
// apply converges on the same objects, and nothing is ever made or
// deleted. Seeded: PAYRUN_IMPORT_KILL_SEED replays one trial.
#[test]
fn an_import_killed_at_random_converges_and_makes_nothing() {
    use crate::support::fault::{Rng, env_count, run_killed_after};
    let trials = env_count("PAYRUN_IMPORT_KILL_TRIALS", 5);
    let first = env_count("PAYRUN_IMPORT_KILL_SEED", 1);
    for seed in first..first + trials {
        let mut rng = Rng::new(seed);
        let delay = std::time::Duration::from_millis(rng.below(1_200));
        eprintln!("import kill trial: seed {seed}, kill after {delay:?}");
        let m = OnMoto::new("", &format!("kill{seed}"));
        let team = format!("kill-{}-{seed}", std::process::id());
        let made = python(&format!(
            r#"
ec2 = client('ec2')
T = [{{'Key': 'team', 'Value': '{team}'}}]
vpc = ec2.create_vpc(CidrBlock='10.94.0.0/16', TagSpecifications=[{{'ResourceType': 'vpc', 'Tags': T}}])['Vpc']['VpcId']
for i in range(3):
    ec2.create_subnet(VpcId=vpc, CidrBlock=f'10.94.{{i}}.0/24', AvailabilityZone='us-east-1a', TagSpecifications=[{{'ResourceType': 'subnet', 'Tags': T}}])
client('logs').create_log_group(logGroupName='/kill/{team}', tags={{'team': '{team}'}})
print(vpc)
"#
        ));
        let proxy = FaultProxy::start(seed, 0.0, 0.0, m.p.path());
        let e = proxy.endpoint.clone();
        let tag = format!("team={team}");
        m.ok(
            &e,
            &[
                "discover",
                "--tag",
                &tag,
                "--kind",
                "aws.ec2.vpc",
                "--kind",
                "aws.ec2.subnet",
                "--kind",
                "aws.logs.log_group",
                "--generate",
                "programs/legacy.rhai",
            ],
        );
        proxy.hold("CreateTags|TagResource", 150 + rng.below(400), 8);
        let before = proxy.actions();
        let killed = run_killed_after(
            m.command(&e, &["apply", "programs/legacy.rhai", "--auto-approve"]),
            delay,
        );
        eprintln!("  seed {seed}: killed {killed}");
        m.ok(&e, &["apply", "programs/legacy.rhai", "--auto-approve"]);
        let (code, plan) = plan_json(&m, &e, "programs/legacy.rhai");
        assert_eq!(code, Some(0), "seed {seed}: {plan}");
        for w in writes(&proxy, &before) {
            assert!(
                ["CreateTags", "TagResource"].contains(&w.as_str()),
                "seed {seed}: the import called {w}"
            );
        }
        let state: Value = serde_json::from_str(
            &std::fs::read_to_string(m.p.path().join(format!(".payrun/legacy.kill{seed}.json")))
                .unwrap(),
        )
        .unwrap();
        let resources = state["resources"].as_object().unwrap();
        assert_eq!(resources.len(), 5, "seed {seed}: {state}");
        let vpcs: Vec<&Value> = resources
            .iter()
            .filter(|(a, _)| a.starts_with("aws.ec2.vpc."))
            .map(|(_, r)| &r["id"])
            .collect();
        assert_eq!(vpcs, vec![made.as_str()], "seed {seed}");
        m.ok(&e, &["destroy", "programs/legacy.rhai", "--auto-approve"]);
    }
}
