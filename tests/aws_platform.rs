//! The platform's network through the whole engine against moto: apply, a
//! no-op replan whose API calls are bounded by kinds, an in-place tag
//! update, a replacement, drift repaired, destroy checked through EC2
//! itself, and a process killed right after a create.

use std::collections::BTreeSet;

use aws_sdk_ec2::types::Filter;
use payrun::address::Address;
use payrun::plan::Action;
use predicates::str::contains;

use crate::support::engine::Stack;
use crate::support::moto;

pub const NETWORK: &str = r#"
import "network" as network;

default_tags(#{ Environment: config().vars.environment ?? "test", Project: "payrun", DataClassification: "pci" });
let net = network::vpc("main", #{
    cidr: "10.0.0.0/16",
    azs: ["us-east-1a", "us-east-1b", "us-east-1c"],
    nat: "per-az",
    private_offset: config().vars.private_offset ?? 8,
});
let alb = aws::ec2::security_group("alb", #{ vpc: net.vpc, description: "ALB: HTTPS from the internet" });
aws::ec2::security_group_ingress("alb-https", #{
    security_group: alb.id, protocol: "tcp", from_port: 443, to_port: 443, cidr: "0.0.0.0/0", description: "HTTPS",
});
let cluster = aws::ec2::security_group("cluster", #{ vpc: net.vpc, description: "EKS control plane and pods" });
aws::ec2::security_group_ingress("cluster-from-alb", #{
    security_group: cluster.id, protocol: "tcp", from_port: 8080, to_port: 8080, source_security_group: alb.id,
});
aws::ec2::security_group_egress("alb-to-cluster", #{
    security_group: alb.id, protocol: "tcp", from_port: 8080, to_port: 8080, source_security_group: cluster.id,
});
export("vpc_id", net.vpc.id);
export("private_subnet_ids", net.private_subnets);
"#;

fn addr(s: &str) -> Address {
    s.parse().unwrap()
}

fn tag_filter(stack: &str) -> Filter {
    Filter::builder()
        .name("tag:payrun:stack")
        .values(stack)
        .build()
}

fn has_stack_tag(tags: &[aws_sdk_ec2::types::Tag], stack: &str) -> bool {
    tags.iter()
        .any(|t| t.key() == Some("payrun:stack") && t.value() == Some(stack))
}

/// Everything EC2 still holds for `stack`, found through Describe calls
/// (tags are checked here too: moto ignores tag filters on some kinds).
pub async fn leftovers(stack: &str) -> Vec<String> {
    let ec2 = moto::ec2().await;
    let f = || tag_filter(stack);
    let mut out = Vec::new();
    let mut keep = |what: &str, id: Option<&str>, tags: &[aws_sdk_ec2::types::Tag]| {
        if has_stack_tag(tags, stack) {
            out.push(format!("{what} {}", id.unwrap_or_default()));
        }
    };
    for v in ec2
        .describe_vpcs()
        .filters(f())
        .send()
        .await
        .unwrap()
        .vpcs()
    {
        keep("vpc", v.vpc_id(), v.tags());
    }
    for x in ec2
        .describe_subnets()
        .filters(f())
        .send()
        .await
        .unwrap()
        .subnets()
    {
        keep("subnet", x.subnet_id(), x.tags());
    }
    for x in ec2
        .describe_route_tables()
        .filters(f())
        .send()
        .await
        .unwrap()
        .route_tables()
    {
        keep("route table", x.route_table_id(), x.tags());
    }
    for x in ec2
        .describe_internet_gateways()
        .filters(f())
        .send()
        .await
        .unwrap()
        .internet_gateways()
    {
        keep("igw", x.internet_gateway_id(), x.tags());
    }
    for x in ec2
        .describe_nat_gateways()
        .filter(f())
        .send()
        .await
        .unwrap()
        .nat_gateways()
    {
        let state = x
            .state()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default();
        if state != "deleted" && state != "deleting" {
            keep("nat", x.nat_gateway_id(), x.tags());
        }
    }
    for x in ec2
        .describe_addresses()
        .filters(f())
        .send()
        .await
        .unwrap()
        .addresses()
    {
        keep("eip", x.allocation_id(), x.tags());
    }
    for x in ec2
        .describe_security_groups()
        .filters(f())
        .send()
        .await
        .unwrap()
        .security_groups()
    {
        keep("sg", x.group_id(), x.tags());
    }
    for x in ec2
        .describe_network_acls()
        .filters(f())
        .send()
        .await
        .unwrap()
        .network_acls()
    {
        keep("acl", x.network_acl_id(), x.tags());
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn the_platform_network_end_to_end() {
    let s = Stack::aws(NETWORK, "e2e");
    s.account_baseline();
    let stack = s.stack_name();

    let plan = s.plan().await;
    let (add, change, destroy) = plan.summary();
    assert_eq!((change, destroy), (0, 0));
    let kinds: BTreeSet<&str> = plan.changes.iter().map(|c| c.address.kind()).collect();
    let count = |kind: &str| {
        plan.changes
            .iter()
            .filter(|c| c.address.kind() == kind)
            .count()
    };
    assert_eq!(count("aws.ec2.subnet"), 6);
    assert_eq!(count("aws.ec2.nat_gateway"), 3);
    assert_eq!(count("aws.ec2.eip"), 3);
    assert_eq!(count("aws.ec2.route_table"), 4);
    assert_eq!(count("aws.ec2.internet_gateway"), 1);
    assert_eq!(count("aws.ec2.network_acl"), 1);
    assert_eq!(count("aws.ec2.security_group"), 2);
    let summary = s.apply_plan(&plan).await;
    assert!(summary.ok(), "{summary}");
    assert_eq!(summary.created, add);

    // The ALB accepts HTTPS only.
    let state = s.state();
    let alb_rules: Vec<_> = state
        .resources
        .iter()
        .filter(|(a, r)| {
            r.kind == "aws.ec2.security_group_ingress" && a.purpose().starts_with("alb")
        })
        .collect();
    assert_eq!(alb_rules.len(), 1);
    assert_eq!(alb_rules[0].1.args["from_port"], 443);
    assert_eq!(alb_rules[0].1.args["to_port"], 443);
    let vpc_tags = &state.resources[&addr("aws.ec2.vpc.main")].args["tags"];
    assert_eq!(vpc_tags["Name"], format!("vpc-main-{}", s.suffix));
    assert_eq!(vpc_tags["DataClassification"], "pci");

    // A second plan is a no-op, and refreshing costs one Describe per kind
    // (and page), whatever the number of resources. The one exception EC2
    // imposes: a VPC's two DNS attributes have no batched Describe, so each
    // VPC costs two DescribeVpcAttribute calls.
    let before = s.aws_calls();
    let again = s.plan().await;
    let noisy: Vec<_> = again
        .changes
        .iter()
        .filter(|c| c.action != Action::NoOp)
        .map(|c| (&c.address, &c.changes, &c.drift))
        .collect();
    assert!(!again.has_changes(), "{noisy:?}");
    let after = s.aws_calls();
    let delta: Vec<(String, u64)> = after
        .iter()
        .map(|(k, v)| (k.clone(), v - before.get(k).copied().unwrap_or(0)))
        .filter(|(_, n)| *n > 0)
        .collect();
    let vpc_attribute_calls: u64 = delta
        .iter()
        .filter(|(k, _)| k == "DescribeVpcAttribute")
        .map(|(_, n)| n)
        .sum();
    let describe_calls: u64 = delta
        .iter()
        .filter(|(k, _)| k != "DescribeVpcAttribute")
        .map(|(_, n)| n)
        .sum();
    assert!(
        delta.iter().all(|(k, _)| k.starts_with("Describe")),
        "{delta:?}"
    );
    assert!(
        describe_calls as usize <= kinds.len(),
        "a no-op plan of {} resources of {} kinds made {describe_calls} Describe calls: {delta:?}",
        plan.changes.len(),
        kinds.len()
    );
    assert_eq!(vpc_attribute_calls, 2, "{delta:?}");

    // A tag change is an in-place update.
    s.set_var("environment", "qa");
    let plan = s.plan().await;
    let vpc = plan.change(&addr("aws.ec2.vpc.main")).unwrap();
    assert_eq!(vpc.action, Action::Update);
    assert_eq!(
        plan.summary().0,
        0,
        "no resource is created for a tag change"
    );
    assert!(s.apply_plan(&plan).await.ok());
    assert!(!s.plan().await.has_changes());

    // A subnet CIDR change is a replacement.
    s.set_var("private_offset", 9);
    let plan = s.plan().await;
    let subnet = plan.change(&addr("aws.ec2.subnet.private-a")).unwrap();
    assert_eq!(subnet.action, Action::Replace);
    assert!(
        subnet
            .replace_because
            .contains(&"`cidr` forces replacement".to_string())
    );
    let summary = s.apply_plan(&plan).await;
    assert!(summary.ok(), "{summary}");
    assert!(!s.plan().await.has_changes());

    // A route table deleted out of band shows as drift and is recreated.
    let rt = s.state().resources[&addr("aws.ec2.route_table.private-b")]
        .id
        .clone();
    let ec2 = moto::ec2().await;
    let table = ec2
        .describe_route_tables()
        .route_table_ids(&rt)
        .send()
        .await
        .unwrap();
    for assoc in table.route_tables()[0].associations() {
        ec2.disassociate_route_table()
            .association_id(assoc.route_table_association_id().unwrap())
            .send()
            .await
            .unwrap();
    }
    ec2.delete_route_table()
        .route_table_id(&rt)
        .send()
        .await
        .unwrap();
    let plan = s.plan().await;
    let c = plan.change(&addr("aws.ec2.route_table.private-b")).unwrap();
    assert_eq!(c.action, Action::Create);
    assert_eq!(c.drift, vec!["deleted outside payrun".to_string()]);
    let summary = s.apply_plan(&plan).await;
    assert!(summary.ok(), "{summary}");
    assert!(!s.plan().await.has_changes());
    assert_ne!(
        s.state().resources[&addr("aws.ec2.route_table.private-b")].id,
        rt
    );

    // Destroy leaves nothing tagged with the stack.
    let summary = s.destroy().await;
    assert!(summary.ok(), "{summary}");
    assert_eq!(leftovers(&stack).await, Vec::<String>::new());
}

/// `payrun` against moto, with the emulator's dummy credentials.
fn payrun_on_moto(p: &crate::support::bin::Project, args: &[&str]) -> assert_cmd::Command {
    let endpoint = moto::moto().endpoint.clone();
    let mut cmd = p.payrun();
    cmd.args(args)
        .args(["--suffix", "crash", "--endpoint-url", &endpoint])
        .env_remove("PAYRUN_FAKE_CLOUD")
        .envs(moto::client_env());
    cmd
}

#[test]
fn a_process_killed_right_after_a_create_leaves_no_duplicate() {
    let p = crate::support::bin::Project::new(NETWORK);
    p.add_to_project_file(crate::support::bin::Project::ACCOUNT_BASELINE);
    std::fs::create_dir_all(p.path().join("stdlib")).unwrap();
    for m in ["network.rhai", "naming.rhai", "keys.rhai"] {
        let from = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("stdlib")
            .join(m);
        std::fs::copy(from, p.path().join("stdlib").join(m)).unwrap();
    }
    // Killed after the VPC and then a NAT gateway were created in AWS but
    // before state recorded them; each run adopts the previous victim and
    // goes on.
    let mut log = String::new();
    // One operation at a time, so each victim is certainly created in its
    // run and nothing else is in flight when the process dies.
    for victim in ["aws.ec2.vpc.main", "aws.ec2.nat_gateway.a"] {
        let out = payrun_on_moto(&p, &["apply", "--auto-approve", "--parallelism", "1"])
            .env("PAYRUN_TEST_ABORT_AFTER_CREATE", victim)
            .assert()
            .failure()
            .stderr(contains(format!("aborting after creating {victim}")))
            .get_output()
            .clone();
        log.push_str(&String::from_utf8_lossy(&out.stderr));
    }
    let out = payrun_on_moto(&p, &["apply", "--auto-approve"])
        .assert()
        .success()
        .stderr(contains("adopted after an interrupted apply"))
        .get_output()
        .clone();
    log.push_str(&String::from_utf8_lossy(&out.stderr));

    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let ec2 = moto::ec2().await;
        let f = || tag_filter("main.crash");
        assert_eq!(
            ec2.describe_vpcs()
                .filters(f())
                .send()
                .await
                .unwrap()
                .vpcs()
                .len(),
            1
        );
        assert_eq!(
            ec2.describe_subnets()
                .filters(f())
                .send()
                .await
                .unwrap()
                .subnets()
                .len(),
            6
        );
        let nats = ec2
            .describe_nat_gateways()
            .filter(f())
            .send()
            .await
            .unwrap();
        let live = nats
            .nat_gateways()
            .iter()
            .filter(|n| {
                has_stack_tag(n.tags(), "main.crash")
                    && n.state().map(|s| s.as_str()) == Some("available")
            })
            .count();
        assert_eq!(live, 3);
    });
    payrun_on_moto(&p, &["plan", "--detailed-exitcode"])
        .assert()
        .code(0);
    let out = payrun_on_moto(&p, &["destroy", "--auto-approve"])
        .assert()
        .success()
        .get_output()
        .clone();
    let left = rt.block_on(leftovers("main.crash"));
    assert_eq!(
        left,
        Vec::<String>::new(),
        "{log}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Blast radius on the platform's network, through the binary on moto:
/// `--target` makes exactly a NAT gateway and what it needs, `--exclude`
/// everything but the NAT gateways and the routes through them, `--replace`
/// one route table and what hangs on it; the plan JSON says which, and the
/// calls moto received (counted at the proxy) agree.
#[test]
fn target_exclude_and_replace_change_exactly_what_they_name_on_moto() {
    use crate::support::fault::FaultProxy;
    use crate::support::on_moto::{OnMoto, acting};
    let m = OnMoto::new(NETWORK, "radius");
    m.p.add_to_project_file(crate::support::bin::Project::ACCOUNT_BASELINE);
    std::fs::create_dir_all(m.p.path().join("stdlib")).unwrap();
    for module in ["network.rhai", "naming.rhai", "keys.rhai"] {
        let from = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("stdlib")
            .join(module);
        std::fs::copy(from, m.p.path().join("stdlib").join(module)).unwrap();
    }
    let proxy = FaultProxy::start(5, 0.0, 0.0, m.p.path());
    let calls = |before: &std::collections::BTreeMap<String, usize>, action: &str| {
        proxy.actions().get(action).copied().unwrap_or(0) - before.get(action).copied().unwrap_or(0)
    };
    let s = |a: &str, b: &str| (a.to_string(), b.to_string());

    // --target: the NAT gateway of zone a and what it needs.
    let out = m.run(
        &proxy.endpoint,
        &["plan", "--json", "--target", "aws.ec2.nat_gateway.a"],
    );
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        acting(&plan),
        [
            s("aws.ec2.eip.nat-a", "create"),
            s("aws.ec2.nat_gateway.a", "create"),
            s("aws.ec2.subnet.public-a", "create"),
            s("aws.ec2.vpc.main", "create"),
        ]
    );
    assert_eq!(plan["partial"]["left_out"].as_array().unwrap().len(), 40);
    let before = proxy.actions();
    m.ok(
        &proxy.endpoint,
        &[
            "apply",
            "--auto-approve",
            "--target",
            "aws.ec2.nat_gateway.a",
        ],
    );
    for (action, n) in [
        ("CreateVpc", 1),
        ("CreateSubnet", 1),
        ("AllocateAddress", 1),
        ("CreateNatGateway", 1),
        ("CreateRouteTable", 0),
        ("CreateSecurityGroup", 0),
        ("CreateInternetGateway", 0),
    ] {
        assert_eq!(calls(&before, action), n, "{action}");
    }

    // --exclude: everything but the NAT gateways and the routes through
    // them (the one of zone a, already made, is left as it is); their
    // addresses, which need no NAT gateway, are made.
    let out = m.run(
        &proxy.endpoint,
        &["plan", "--json", "--exclude", "aws.ec2.nat_gateway.*"],
    );
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut left: Vec<String> = plan["partial"]["left_out"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_string())
        .collect();
    left.sort();
    assert_eq!(
        left,
        [
            "aws.ec2.nat_gateway.b",
            "aws.ec2.nat_gateway.c",
            "aws.ec2.route.private-a-default",
            "aws.ec2.route.private-b-default",
            "aws.ec2.route.private-c-default",
        ]
        .map(String::from)
    );
    let before = proxy.actions();
    m.ok(
        &proxy.endpoint,
        &[
            "apply",
            "--auto-approve",
            "--exclude",
            "aws.ec2.nat_gateway.*",
        ],
    );
    assert_eq!(calls(&before, "CreateNatGateway"), 0);
    assert_eq!(calls(&before, "AllocateAddress"), 2);
    assert_eq!(
        calls(&before, "CreateRoute"),
        1,
        "only the public default route"
    );
    assert_eq!(calls(&before, "CreateRouteTable"), 4);
    assert_eq!(calls(&before, "CreateSubnet"), 5);

    // The rest, then --replace of one route table: it and what hangs on
    // it, nothing else.
    m.ok(&proxy.endpoint, &["apply", "--auto-approve"]);
    let (code, plan) = m.plan_json(&proxy.endpoint);
    assert_eq!(code, Some(0), "{plan}");
    let out = m.run(
        &proxy.endpoint,
        &[
            "plan",
            "--json",
            "--replace",
            "aws.ec2.route_table.private-a",
        ],
    );
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let changed = acting(&plan);
    assert!(
        changed.contains(&s("aws.ec2.route_table.private-a", "replace")),
        "{changed:?}"
    );
    for (address, _) in &changed {
        assert!(
            [
                "aws.ec2.route_table.private-a",
                "aws.ec2.route.private-a-default",
                "aws.ec2.route_table_association.private-a",
            ]
            .contains(&address.as_str()),
            "{address} changed: {changed:?}"
        );
    }
    let before = proxy.actions();
    m.ok(
        &proxy.endpoint,
        &[
            "apply",
            "--auto-approve",
            "--replace",
            "aws.ec2.route_table.private-a",
        ],
    );
    assert_eq!(calls(&before, "CreateRouteTable"), 1);
    assert_eq!(calls(&before, "DeleteRouteTable"), 1);
    assert_eq!(calls(&before, "CreateSubnet"), 0);
    assert_eq!(calls(&before, "CreateNatGateway"), 0);
    let (code, plan) = m.plan_json(&proxy.endpoint);
    assert_eq!(code, Some(0), "{plan}");
    m.ok(&proxy.endpoint, &["destroy", "--auto-approve"]);
}
