//! Exactly-once changes under faults, through the real binary on moto: a
//! 40-resource EC2 network applied while the process is killed with -9 at
//! random moments, and through a proxy that refuses calls or loses replies
//! after moto acted. Every trial must converge (apply succeeds within three
//! runs, then `plan --detailed-exitcode` exits 0) with no duplicate, no
//! orphan and no undeclared rule, and destroy must leave nothing and say so
//! truthfully.
//!
//! The README's test command runs a small sample; `scripts/trials` runs the
//! long one by setting `PAYRUN_TRIALS_KILL` (kill -9 trials) and
//! `PAYRUN_TRIALS_SEEDS` (seeds per proxy mode and rate). Seeds are printed.

use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::bin::Project;
use crate::support::fault::{Census, FaultProxy, Rng, env_count, run_killed_after};
use crate::support::moto;

/// VPC (DNS attributes) + internet gateway + 6 subnets over 3 AZs (public
/// ones with public IPs) + 3 EIPs + 3 NAT gateways + 4 route tables + 4
/// routes + 6 associations + a network ACL with 2 entries and 3
/// associations + 2 security groups with 4 rules = 40 resources. The
/// cluster group's egress is identical to the default rule AWS gives every
/// new group.
pub const NETWORK40: &str = r#"
let vpc = aws::ec2::vpc("main", #{ cidr: "10.60.0.0/16", enable_dns_support: true, enable_dns_hostnames: true });
let igw = aws::ec2::internet_gateway("main", #{ vpc: vpc });
let public_rt = aws::ec2::route_table("public", #{ vpc: vpc });
aws::ec2::route("public-default", #{ route_table: public_rt.id, destination_cidr: "0.0.0.0/0", gateway: igw.id });
let acl = aws::ec2::network_acl("private", #{ vpc: vpc });
aws::ec2::network_acl_entry("private-in", #{ network_acl: acl.id, rule_number: 100, egress: false, protocol: "all", action: "allow", cidr: "0.0.0.0/0" });
aws::ec2::network_acl_entry("private-out", #{ network_acl: acl.id, rule_number: 100, egress: true, protocol: "all", action: "allow", cidr: "0.0.0.0/0" });
let zones = ["a", "b", "c"];
for i in 0..3 {
    let z = zones[i];
    let pubnet = aws::ec2::subnet(`public-${z}`, #{ vpc: vpc, cidr: `10.60.${i}.0/24`, az: `us-east-1${z}`, map_public_ip: true, load_balancer_role: "public" });
    let privnet = aws::ec2::subnet(`private-${z}`, #{ vpc: vpc, cidr: `10.60.${10 + i}.0/24`, az: `us-east-1${z}`, load_balancer_role: "internal" });
    aws::ec2::route_table_association(`public-${z}`, #{ route_table: public_rt.id, subnet: pubnet.id });
    let eip = aws::ec2::eip(`nat-${z}`, #{});
    let nat = aws::ec2::nat_gateway(z, #{ subnet: pubnet.id, eip: eip });
    let rt = aws::ec2::route_table(`private-${z}`, #{ vpc: vpc });
    aws::ec2::route(`private-${z}-default`, #{ route_table: rt.id, destination_cidr: "0.0.0.0/0", nat_gateway: nat.id });
    aws::ec2::route_table_association(`private-${z}`, #{ route_table: rt.id, subnet: privnet.id });
    aws::ec2::network_acl_association(`private-${z}`, #{ network_acl: acl.id, subnet: privnet.id });
}
let cluster = aws::ec2::security_group("cluster", #{ vpc: vpc, description: "EKS cluster" });
let alb = aws::ec2::security_group("alb", #{ vpc: vpc, description: "public load balancer" });
aws::ec2::security_group_ingress("alb-https", #{ security_group: alb.id, protocol: "tcp", from_port: 443, to_port: 443, cidr: "0.0.0.0/0", description: "HTTPS" });
aws::ec2::security_group_egress("alb-to-cluster", #{ security_group: alb.id, protocol: "tcp", from_port: 8080, to_port: 8080, source_security_group: cluster.id });
aws::ec2::security_group_ingress("cluster-from-alb", #{ security_group: cluster.id, protocol: "tcp", from_port: 8080, to_port: 8080, source_security_group: alb.id });
aws::ec2::security_group_egress("cluster-all", #{ security_group: cluster.id, protocol: "-1", cidr: "0.0.0.0/0" });
export("vpc_id", vpc.id);
"#;

const RESOURCES: usize = 40;

/// One trial's project and stack on moto.
struct Trial {
    p: Project,
    suffix: String,
}

/// A payrun run's exit code and what it printed on stderr.
struct Run {
    code: Option<i32>,
    stderr: String,
    stdout: String,
}

impl Run {
    fn stderr_and_stdout(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
}

impl Trial {
    fn new(suffix: &str) -> Self {
        Self {
            p: Project::new(NETWORK40),
            suffix: suffix.to_string(),
        }
    }

    fn stack(&self) -> String {
        format!("main.{}", self.suffix)
    }

    fn command(&self, endpoint: &str, args: &[&str]) -> std::process::Command {
        let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("payrun"));
        cmd.current_dir(self.p.path())
            .args(args)
            .args(["--suffix", &self.suffix, "--endpoint-url", endpoint])
            // A trial must end: a fault that outlasts this is a failure.
            .args(["--retry-budget", "60s", "--lock-timeout", "30s"])
            // moto, warmed up by the earlier tests, serves a request in far
            // less: a lookup after a kill waits this long from the killed
            // create's start before it concludes nothing was made.
            .args(["--request-timeout", "5s"])
            .env("NO_COLOR", "1")
            .env_remove("PAYRUN_LOG")
            .env_remove("PAYRUN_FAKE_CLOUD")
            .envs(moto::client_env())
            .stdin(Stdio::null());
        cmd
    }

    fn run(&self, endpoint: &str, args: &[&str]) -> Run {
        self.output(self.command(endpoint, args))
    }

    fn run_env(&self, endpoint: &str, args: &[&str], env: (&str, &str)) -> Run {
        let mut cmd = self.command(endpoint, args);
        cmd.env(env.0, env.1);
        self.output(cmd)
    }

    fn output(&self, mut cmd: std::process::Command) -> Run {
        let out = cmd.output().expect("payrun runs");
        Run {
            code: out.status.code(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        }
    }

    fn state(&self) -> Value {
        let path = self.p.path().join(format!(".payrun/{}.json", self.stack()));
        serde_json::from_slice(&std::fs::read(path).unwrap_or_else(|_| b"{}".to_vec()))
            .unwrap_or(Value::Null)
    }

    fn census(&self) -> Census {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(Census::take(&self.stack()))
    }

    /// Apply (at most three runs) until it succeeds; returns the runs used.
    fn converge(&self, endpoint: &str, label: &str) -> usize {
        let mut last = String::new();
        for n in 1..=3 {
            let r = self.run(endpoint, &["apply", "--auto-approve"]);
            if r.code == Some(0) {
                return n;
            }
            last = r.stderr;
        }
        panic!("{label}: apply did not succeed within 3 runs; last stderr:\n{last}");
    }

    /// After convergence: a clean plan on plain moto and a census that
    /// matches the state exactly.
    fn check_converged(&self, label: &str) {
        let plan = self.run(&moto::moto().endpoint, &["plan", "--detailed-exitcode"]);
        assert_eq!(
            plan.code,
            Some(0),
            "{label}: plan after convergence:\n{}",
            plan.stderr
        );
        let state = self.state();
        assert_eq!(
            state["resources"].as_object().map_or(0, |r| r.len()),
            RESOURCES,
            "{label}: every resource recorded"
        );
        assert!(
            state["intents"].as_object().is_none_or(|i| i.is_empty()),
            "{label}: intents left: {}",
            state["intents"]
        );
        let census = self.census();
        let problems = census.against_state(&state);
        assert!(problems.is_empty(), "{label}: {problems:#?}");
    }

    /// Destroy until it says it is done; whenever it exits 0, nothing of
    /// the stack may be live.
    fn destroy(&self, endpoint: &str, label: &str) -> usize {
        for n in 1..=3 {
            let r = self.run(endpoint, &["destroy", "--auto-approve"]);
            let left = self.census();
            if r.code == Some(0) {
                assert_eq!(
                    left.total(),
                    0,
                    "{label}: destroy exited 0 with the stack still live: {left:#?}\n{}",
                    r.stderr
                );
                return n;
            }
        }
        let left = self.census();
        panic!("{label}: destroy did not finish within 3 runs; still live: {left:#?}");
    }
}

/// How long a clean apply of the network takes here, measured once: the
/// kills are drawn within it.
fn apply_time() -> Duration {
    static TIME: std::sync::OnceLock<Duration> = std::sync::OnceLock::new();
    *TIME.get_or_init(|| {
        let t = Trial::new("calibrate");
        let endpoint = moto::moto().endpoint.clone();
        // The first apply also warms moto's EC2 backend up: timed is the
        // second.
        t.converge(&endpoint, "calibration");
        t.destroy(&endpoint, "calibration");
        let start = Instant::now();
        t.converge(&endpoint, "calibration");
        let took = start.elapsed();
        t.destroy(&endpoint, "calibration");
        eprintln!(
            "a clean apply of the network takes {} ms here",
            took.as_millis()
        );
        took
    })
}

fn kill_trial(seed: u64) {
    let label = format!("kill -9 trial, seed {seed}");
    let window = apply_time().as_millis() as u64;
    let t = Trial::new(&format!("k{seed}"));
    let mut rng = Rng::new(seed);
    let endpoint = moto::moto().endpoint.clone();
    // Up to two kills at random moments of the first two applies.
    let mut kills = 0;
    for _ in 0..2 {
        let delay = Duration::from_millis(5 + rng.below(window));
        if !run_killed_after(t.command(&endpoint, &["apply", "--auto-approve"]), delay) {
            eprintln!(
                "{label}: the apply ended by itself before the kill at {} ms",
                delay.as_millis()
            );
            continue;
        }
        kills += 1;
    }
    let runs = t.converge(&endpoint, &label);
    t.check_converged(&label);
    let destroys = t.destroy(&endpoint, &label);
    eprintln!("{label}: {kills} kills, converged in {runs} applies, destroyed in {destroys}");
}

fn proxy_trial(seed: u64, refuse: f64, lose: f64) {
    let mode = if lose > 0.0 {
        "lost replies"
    } else {
        "refused calls"
    };
    let rate = refuse.max(lose);
    let label = format!("{mode} at {:.0}%, seed {seed}", rate * 100.0);
    let t = Trial::new(&format!("{}{seed}{}", &mode[..1], (rate * 100.0) as u32));
    let proxy = FaultProxy::start(seed, refuse, lose, t.p.path());
    let runs = t.converge(&proxy.endpoint, &label);
    t.check_converged(&label);
    let destroys = t.destroy(&proxy.endpoint, &label);
    eprintln!(
        "{label}: converged in {runs} applies, destroyed in {destroys}; proxy decisions {:?}",
        proxy.decisions()
    );
}

#[test]
fn kill_9_at_random_moments_converges_without_duplicates_or_orphans() {
    let n = env_count("PAYRUN_TRIALS_KILL", 3);
    let first = env_count("PAYRUN_TRIALS_FIRST_SEED", 1);
    for seed in first..first + n {
        kill_trial(seed);
    }
}

#[test]
fn lost_replies_never_duplicate_and_destroy_tells_the_truth() {
    let seeds = env_count("PAYRUN_TRIALS_SEEDS", 1);
    for rate in rates_or(0.3) {
        for seed in 1..=seeds {
            proxy_trial(seed, 0.0, rate);
        }
    }
}

#[test]
fn refused_calls_are_retried_and_never_duplicate() {
    let seeds = env_count("PAYRUN_TRIALS_SEEDS", 1);
    // Refusals slow every call down (the adaptive rate limiter backs off),
    // so the test command's sample refuses 10%; scripts/trials adds 30%.
    for rate in rates_or(0.1) {
        for seed in 1..=seeds {
            proxy_trial(100 + seed, rate, 0.0);
        }
    }
}

fn rates_or(sample: f64) -> Vec<f64> {
    match std::env::var("PAYRUN_TRIALS_RATES") {
        Ok(v) => v.split(',').filter_map(|r| r.parse().ok()).collect(),
        Err(_) => vec![sample],
    }
}

/// Every create call of the network, and every call after a first one that
/// makes something (an attachment, an association).
const CREATES: &str = "^(CreateVpc|CreateInternetGateway|AttachInternetGateway|CreateSubnet|AllocateAddress|CreateNatGateway|CreateRouteTable|CreateRoute|AssociateRouteTable|CreateNetworkAcl|CreateNetworkAclEntry|ReplaceNetworkAclAssociation|CreateSecurityGroup|AuthorizeSecurityGroupIngress|AuthorizeSecurityGroupEgress)$";

// Guards: a create whose reply is lost (after moto made the resource) is
// looked for and adopted, never sent again blindly: each kind of the
// network, every create's reply lost.
#[test]
fn a_lost_reply_on_every_create_kind_adopts_instead_of_duplicating() {
    let t = Trial::new("lostall");
    let proxy = FaultProxy::start_only(7, 0.0, 1.0, Some(CREATES), t.p.path());
    let runs = t.converge(&proxy.endpoint, "every create's reply lost");
    assert_eq!(runs, 1, "one apply adopts everything");
    t.check_converged("every create's reply lost");
    let calls = proxy.actions();
    // Exactly one create per resource of each kind: no call was re-sent.
    let per_kind = [
        ("CreateVpc", 1),
        ("CreateInternetGateway", 1),
        ("CreateSubnet", 6),
        ("AllocateAddress", 3),
        ("CreateNatGateway", 3),
        ("CreateRouteTable", 4),
        ("CreateRoute", 4),
        ("AssociateRouteTable", 6),
        ("CreateNetworkAcl", 1),
        ("CreateNetworkAclEntry", 2),
        ("ReplaceNetworkAclAssociation", 3),
        ("CreateSecurityGroup", 2),
        ("AuthorizeSecurityGroupIngress", 2),
        ("AuthorizeSecurityGroupEgress", 2),
    ];
    for (action, n) in per_kind {
        assert_eq!(calls.get(action).copied(), Some(n), "{action}: {calls:?}");
    }
    eprintln!("calls with every create reply lost: {calls:?}");
    t.destroy(&moto::moto().endpoint, "every create's reply lost");
}

// Guards: a resource recorded after its first create call, whose other
// calls a crash cut off, is shown as completing and completed.
#[test]
fn an_interrupted_multi_call_create_completes() {
    let endpoint = moto::moto().endpoint.clone();
    for (n, victim) in [
        "aws.ec2.vpc.main",
        "aws.ec2.subnet.public-a",
        "aws.ec2.security_group.cluster",
        "aws.ec2.internet_gateway.main",
    ]
    .into_iter()
    .enumerate()
    {
        let t = Trial::new(&format!("between{n}"));
        let r = t.run_env(
            &endpoint,
            &["apply", "--auto-approve", "--parallelism", "1"],
            ("PAYRUN_TEST_ABORT_AFTER_FIRST_CALL", victim),
        );
        assert_ne!(r.code, Some(0), "{victim}: {}", r.stderr);
        assert!(
            r.stderr
                .contains(&format!("aborting after the first create call of {victim}")),
            "{}",
            r.stderr
        );
        let plan = t.run(&endpoint, &["plan"]);
        let shown = plan.stderr_and_stdout();
        assert!(
            shown.contains(&format!(
                "# {victim} will be updated in-place (completing an interrupted create)"
            )),
            "{victim}: {shown}"
        );
        assert_eq!(t.converge(&endpoint, victim), 1);
        t.check_converged(victim);
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(completed(&t, victim));
        t.destroy(&endpoint, victim);
    }
}

/// The calls after the first one were made.
async fn completed(t: &Trial, victim: &str) {
    let ec2 = moto::ec2().await;
    let state = t.state();
    let id = |a: &str| state["resources"][a]["id"].as_str().unwrap().to_string();
    match victim {
        "aws.ec2.subnet.public-a" => {
            let subnet = ec2
                .describe_subnets()
                .subnet_ids(id(victim))
                .send()
                .await
                .unwrap();
            assert_eq!(subnet.subnets()[0].map_public_ip_on_launch(), Some(true));
        }
        "aws.ec2.vpc.main" => {
            let dns = ec2
                .describe_vpc_attribute()
                .vpc_id(id(victim))
                .attribute(aws_sdk_ec2::types::VpcAttributeName::EnableDnsHostnames)
                .send()
                .await
                .unwrap();
            assert_eq!(
                dns.enable_dns_hostnames().and_then(|v| v.value()),
                Some(true)
            );
        }
        "aws.ec2.internet_gateway.main" => {
            let igw = ec2
                .describe_internet_gateways()
                .internet_gateway_ids(id(victim))
                .send()
                .await
                .unwrap();
            assert_eq!(
                igw.internet_gateways()[0].attachments()[0].vpc_id(),
                Some(id("aws.ec2.vpc.main").as_str())
            );
        }
        // The census found no undeclared rule: the default egress went,
        // and the declared allow-all egress is the one rule left.
        _ => {}
    }
}

// Guards: the happy path pays nothing for the protocol: a clean apply makes
// no lookups, and a no-op plan one Describe per kind.
#[test]
fn calls_per_resource_of_a_clean_apply_and_a_noop_plan() {
    let t = Trial::new("calls");
    let proxy = FaultProxy::start(1, 0.0, 0.0, t.p.path());
    assert_eq!(t.converge(&proxy.endpoint, "clean apply"), 1);
    let apply = proxy.actions();
    let plan = t.run(&proxy.endpoint, &["plan", "--detailed-exitcode"]);
    assert_eq!(plan.code, Some(0), "{}", plan.stderr);
    let all = proxy.actions();
    let noop: std::collections::BTreeMap<&String, usize> = all
        .iter()
        .map(|(a, n)| (a, n - apply.get(a).copied().unwrap_or(0)))
        .filter(|(_, n)| *n > 0)
        .collect();
    let apply_calls: usize = apply.values().sum();
    let plan_calls: usize = noop.values().sum();
    eprintln!(
        "clean apply: {apply_calls} calls for {RESOURCES} resources ({:.2} per resource): {apply:?}",
        apply_calls as f64 / RESOURCES as f64
    );
    eprintln!(
        "no-op plan: {plan_calls} calls for {RESOURCES} resources ({:.2} per resource): {noop:?}",
        plan_calls as f64 / RESOURCES as f64
    );
    // A clean apply looks nothing up: the only reads are NAT gateway waits
    // and, per network ACL association, the subnet's current association
    // that ReplaceNetworkAclAssociation needs.
    for (a, _) in apply.iter().filter(|(a, _)| a.starts_with("Describe")) {
        assert!(
            a == "DescribeNatGateways" || a == "DescribeNetworkAcls",
            "a clean apply read {a}: {apply:?}"
        );
    }
    // 14 kinds are read with one Describe each (the three route-table
    // kinds and the three ACL kinds each describe their tables; the group
    // and both rule kinds share one DescribeSecurityGroupRules), plus the
    // VPC's two DNS attributes, which have no batched read.
    assert!(noop.keys().all(|a| a.starts_with("Describe")), "{noop:?}");
    assert_eq!(
        noop.get(&"DescribeSecurityGroupRules".to_string()),
        Some(&1),
        "{noop:?}"
    );
    assert_eq!(plan_calls, 15, "{noop:?}");
    t.destroy(&moto::moto().endpoint, "calls");
}

// Guards: destroy says truthfully what it left: a resource of the stack
// that the state forgot is found by the stack's tag and named, and the
// exit code is not 0.
#[test]
fn destroy_names_what_of_the_stack_is_still_live_and_fails() {
    let t = Trial::new("honest");
    let endpoint = moto::moto().endpoint.clone();
    assert_eq!(t.converge(&endpoint, "honest destroy"), 1);
    let forgotten = "aws.ec2.security_group.alb";
    let id = t.state()["resources"][forgotten]["id"]
        .as_str()
        .unwrap()
        .to_string();
    for a in [
        forgotten,
        "aws.ec2.security_group_ingress.alb-https",
        "aws.ec2.security_group_egress.alb-to-cluster",
        "aws.ec2.security_group_ingress.cluster-from-alb",
    ] {
        let r = t.run(&endpoint, &["state", "rm", a]);
        assert_eq!(r.code, Some(0), "{}", r.stderr);
    }
    let r = t.run(&endpoint, &["destroy", "--auto-approve"]);
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    assert!(
        r.stderr.contains(&format!(
            "still live: aws.ec2.security_group {id} ({forgotten})"
        )),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains("The destroy left these resources of the stack"),
        "{}",
        r.stderr
    );
    // Clean up what the test made the state forget.
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let ec2 = moto::ec2().await;
        let rules = ec2
            .describe_security_group_rules()
            .filters(
                aws_sdk_ec2::types::Filter::builder()
                    .name("group-id")
                    .values(&id)
                    .build(),
            )
            .send()
            .await
            .unwrap();
        for rule in rules.security_group_rules() {
            let id = rule.security_group_rule_id().unwrap();
            if rule.is_egress() == Some(true) {
                let _ = ec2
                    .revoke_security_group_egress()
                    .group_id(rule.group_id().unwrap())
                    .security_group_rule_ids(id)
                    .send()
                    .await;
            } else {
                let _ = ec2
                    .revoke_security_group_ingress()
                    .group_id(rule.group_id().unwrap())
                    .security_group_rule_ids(id)
                    .send()
                    .await;
            }
        }
        ec2.delete_security_group()
            .group_id(&id)
            .send()
            .await
            .unwrap();
    });
    assert_eq!(t.census().total(), 0, "{:#?}", t.census());
}

// Guards: a create interrupted before anything was recorded, for a
// resource the program then drops, is found and deleted, not forgotten.
#[test]
fn an_interrupted_create_the_program_drops_is_found_and_deleted() {
    let t = Trial::new("dropped");
    let endpoint = moto::moto().endpoint.clone();
    let victim = "aws.ec2.route_table.private-c";
    let r = t.run_env(
        &endpoint,
        &["apply", "--auto-approve", "--parallelism", "1"],
        ("PAYRUN_TEST_ABORT_AFTER_CREATE", victim),
    );
    assert_ne!(r.code, Some(0));
    assert!(t.state()["intents"].get(victim).is_some(), "{}", t.state());
    // The program no longer declares zone c.
    let program = NETWORK40.replace(
        "for i in 0..3 {",
        "for i in 0..3 {\n    if i == 2 { continue; }",
    );
    std::fs::write(t.p.path().join("programs/main.rhai"), program).unwrap();
    let plan = t.run(&endpoint, &["plan"]);
    assert!(
        plan.stdout
            .contains("its create was interrupted: deleted if it was made"),
        "{}",
        plan.stdout
    );
    let r = t.run(&endpoint, &["apply", "--auto-approve"]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert!(
        t.state()["intents"]
            .as_object()
            .is_none_or(|i| i.is_empty())
    );
    let census = t.census();
    assert!(
        census.tagged["aws.ec2.route_table"]
            .iter()
            .all(|(_, a)| a != victim),
        "{census:#?}"
    );
    let problems = census.against_state(&t.state());
    assert!(problems.is_empty(), "{problems:#?}");
    t.destroy(&endpoint, "dropped");
}
