//! Faults on purpose: the fault-injection proxy (`fault_proxy.py`) in
//! front of moto, a seeded random source, and a census of what a stack has
//! live in moto, counted per kind straight from EC2.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};

use aws_sdk_ec2::types::{Filter, NatGatewayState, Tag};
use serde_json::Value;

use super::moto;

/// A seeded xorshift: every random test prints its seed and replays with it.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// The proxy in front of moto; it stops when dropped (its stdin closes).
pub struct FaultProxy {
    pub endpoint: String,
    pub log: PathBuf,
    _child: Child,
    _stdin: ChildStdin,
}

impl FaultProxy {
    /// `refuse`: share of calls answered 503/throttling without reaching
    /// moto; `lose`: share of calls moto carries out whose reply is then
    /// dropped (503 or a reset connection).
    pub fn start(seed: u64, refuse: f64, lose: f64, log_dir: &Path) -> Self {
        Self::start_only(seed, refuse, lose, None, log_dir)
    }

    /// Faults only calls whose action matches `actions` (a regex).
    pub fn start_only(
        seed: u64,
        refuse: f64,
        lose: f64,
        actions: Option<&str>,
        log_dir: &Path,
    ) -> Self {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let log = log_dir.join(format!("fault-proxy-{seed}.jsonl"));
        let mut child = Command::new(root.join(".venv/bin/python"))
            .arg(root.join("tests/support/fault_proxy.py"))
            .args(["--upstream", &moto::moto().endpoint])
            .args(["--seed", &seed.to_string()])
            .args(["--refuse", &refuse.to_string()])
            .args(["--lose", &lose.to_string()])
            .args(actions.map(|a| ["--actions", a]).into_iter().flatten())
            .arg("--log")
            .arg(&log)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("fault proxy starts");
        let stdin = child.stdin.take().expect("proxy stdin");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("proxy stdout"))
            .read_line(&mut line)
            .expect("proxy reports its port");
        let port = line
            .trim()
            .strip_prefix("PORT ")
            .unwrap_or_else(|| panic!("fault proxy said {line:?}"));
        Self {
            endpoint: format!("http://127.0.0.1:{port}"),
            log,
            _child: child,
            _stdin: stdin,
        }
    }

    /// Keeps each of the next `count` requests whose action matches
    /// `actions` (a regex) for `ms` before forwarding it, whatever becomes
    /// of the client meanwhile.
    pub fn hold(&self, actions: &str, ms: u64, count: usize) {
        let body = serde_json::json!({ "hold": { "actions": actions, "ms": ms, "count": count } });
        moto::moto_api_at(&self.endpoint, "/__fault/config", &body.to_string());
    }

    /// Requests per action since the proxy started.
    pub fn actions(&self) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for line in std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
        {
            if let Ok(v) = serde_json::from_str::<Value>(line) {
                let a = v["action"].as_str().unwrap_or("?").to_string();
                *counts.entry(a).or_default() += 1;
            }
        }
        counts
    }

    /// Requests per decision (`pass`, `refuse`, `lose-503`, `lose-reset`).
    pub fn decisions(&self) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for line in std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
        {
            if let Ok(v) = serde_json::from_str::<Value>(line) {
                let d = v["decision"].as_str().unwrap_or("?").to_string();
                *counts.entry(d).or_default() += 1;
            }
        }
        counts
    }
}

/// What of one stack is live in moto.
#[derive(Debug, Default)]
pub struct Census {
    /// Tagged resources per kind: (id, `payrun:address`).
    pub tagged: BTreeMap<&'static str, Vec<(String, String)>>,
    /// Untaggable resources per kind, found in the stack's tables, ACLs and
    /// groups.
    pub untagged: BTreeMap<&'static str, usize>,
    /// Security group rules in the stack's groups that no address claims
    /// (AWS's default allow-all egress left behind, say).
    pub undeclared_rules: Vec<String>,
}

fn ours(tags: &[Tag], stack: &str) -> Option<String> {
    let get = |k: &str| {
        tags.iter()
            .find(|t| t.key() == Some(k))
            .and_then(|t| t.value())
    };
    (get("payrun:stack") == Some(stack)).then(|| get("payrun:address").unwrap_or("").to_string())
}

impl Census {
    pub async fn take(stack: &str) -> Self {
        let ec2 = moto::ec2().await;
        let f = || {
            Filter::builder()
                .name("tag:payrun:stack")
                .values(stack)
                .build()
        };
        let mut c = Census::default();
        let mut add = |kind: &'static str, id: Option<&str>, tags: &[Tag]| {
            if let Some(a) = ours(tags, stack) {
                c.tagged
                    .entry(kind)
                    .or_default()
                    .push((id.unwrap_or_default().to_string(), a));
            }
        };
        let vpcs = ec2.describe_vpcs().filters(f()).send().await.unwrap();
        for x in vpcs.vpcs() {
            add("aws.ec2.vpc", x.vpc_id(), x.tags());
        }
        let subnets = ec2.describe_subnets().filters(f()).send().await.unwrap();
        for x in subnets.subnets() {
            add("aws.ec2.subnet", x.subnet_id(), x.tags());
        }
        let igws = ec2
            .describe_internet_gateways()
            .filters(f())
            .send()
            .await
            .unwrap();
        for x in igws.internet_gateways() {
            add(
                "aws.ec2.internet_gateway",
                x.internet_gateway_id(),
                x.tags(),
            );
        }
        let eips = ec2.describe_addresses().filters(f()).send().await.unwrap();
        for x in eips.addresses() {
            add("aws.ec2.eip", x.allocation_id(), x.tags());
        }
        let nats = ec2
            .describe_nat_gateways()
            .filter(f())
            .send()
            .await
            .unwrap();
        for x in nats.nat_gateways().iter().filter(|n| {
            !matches!(
                n.state(),
                Some(NatGatewayState::Deleted | NatGatewayState::Deleting)
            )
        }) {
            add("aws.ec2.nat_gateway", x.nat_gateway_id(), x.tags());
        }
        let rts = ec2
            .describe_route_tables()
            .filters(f())
            .send()
            .await
            .unwrap();
        for x in rts.route_tables() {
            add("aws.ec2.route_table", x.route_table_id(), x.tags());
        }
        let acls = ec2
            .describe_network_acls()
            .filters(f())
            .send()
            .await
            .unwrap();
        for x in acls.network_acls() {
            add("aws.ec2.network_acl", x.network_acl_id(), x.tags());
        }
        let sgs = ec2
            .describe_security_groups()
            .filters(f())
            .send()
            .await
            .unwrap();
        for x in sgs.security_groups() {
            add("aws.ec2.security_group", x.group_id(), x.tags());
        }
        // Untaggable kinds hang on the stack's tables, ACLs and groups.
        let mut untagged: BTreeMap<&'static str, usize> = BTreeMap::new();
        for rt in rts.route_tables() {
            if ours(rt.tags(), stack).is_none() {
                continue;
            }
            *untagged.entry("aws.ec2.route").or_default() += rt
                .routes()
                .iter()
                .filter(|r| r.gateway_id() != Some("local"))
                .count();
            *untagged
                .entry("aws.ec2.route_table_association")
                .or_default() += rt
                .associations()
                .iter()
                .filter(|a| a.main() != Some(true))
                .count();
        }
        for acl in acls.network_acls() {
            if ours(acl.tags(), stack).is_none() {
                continue;
            }
            *untagged.entry("aws.ec2.network_acl_entry").or_default() += acl
                .entries()
                .iter()
                .filter(|e| e.rule_number() != Some(32767))
                .count();
            *untagged
                .entry("aws.ec2.network_acl_association")
                .or_default() += acl.associations().len();
        }
        c.untagged = untagged;
        let groups: Vec<String> = sgs
            .security_groups()
            .iter()
            .filter(|g| ours(g.tags(), stack).is_some())
            .filter_map(|g| g.group_id().map(str::to_string))
            .collect();
        if !groups.is_empty() {
            let rules = ec2
                .describe_security_group_rules()
                .filters(
                    Filter::builder()
                        .name("group-id")
                        .set_values(Some(groups))
                        .build(),
                )
                .send()
                .await
                .unwrap();
            for r in rules.security_group_rules() {
                let kind = if r.is_egress() == Some(true) {
                    "aws.ec2.security_group_egress"
                } else {
                    "aws.ec2.security_group_ingress"
                };
                match ours(r.tags(), stack) {
                    Some(a) => c.tagged.entry(kind).or_default().push((
                        r.security_group_rule_id().unwrap_or_default().to_string(),
                        a,
                    )),
                    None => c.undeclared_rules.push(format!(
                        "{} {} {:?} {:?}-{:?} {:?}",
                        r.group_id().unwrap_or_default(),
                        if r.is_egress() == Some(true) {
                            "egress"
                        } else {
                            "ingress"
                        },
                        r.ip_protocol(),
                        r.from_port(),
                        r.to_port(),
                        r.cidr_ipv4()
                    )),
                }
            }
        }
        // Lattice service networks and services (not being deleted), by
        // their tags.
        let lattice = aws_sdk_vpclattice::Client::new(&moto::sdk_config().await);
        let lattice_tags = |arn: String| {
            let lattice = lattice.clone();
            async move {
                let out = lattice
                    .list_tags_for_resource()
                    .resource_arn(arn)
                    .send()
                    .await
                    .unwrap();
                out.tags()
                    .map(|t| {
                        t.iter()
                            .map(|(k, v)| Tag::builder().key(k).value(v).build())
                            .collect::<Vec<_>>()
                    })
                    .unwrap_or_default()
            }
        };
        let networks = lattice.list_service_networks().send().await.unwrap();
        for n in networks.items() {
            let tags = lattice_tags(n.arn().unwrap_or_default().to_string()).await;
            if let Some(a) = ours(&tags, stack) {
                c.tagged
                    .entry("aws.vpclattice.service_network")
                    .or_default()
                    .push((n.id().unwrap_or_default().to_string(), a));
            }
        }
        let services = lattice.list_services().send().await.unwrap();
        for x in services.items().iter().filter(|x| {
            x.status() != Some(&aws_sdk_vpclattice::types::ServiceStatus::DeleteInProgress)
        }) {
            let tags = lattice_tags(x.arn().unwrap_or_default().to_string()).await;
            if let Some(a) = ours(&tags, stack) {
                c.tagged
                    .entry("aws.vpclattice.service")
                    .or_default()
                    .push((x.id().unwrap_or_default().to_string(), a));
            }
        }
        c
    }

    pub fn total(&self) -> usize {
        self.tagged.values().map(Vec::len).sum::<usize>()
            + self.untagged.values().sum::<usize>()
            + self.undeclared_rules.len()
    }

    /// Addresses carried by more than one live resource.
    pub fn duplicates(&self) -> Vec<String> {
        let mut seen = BTreeSet::new();
        let mut dups = Vec::new();
        for (id, a) in self.tagged.values().flatten() {
            if !seen.insert(a.clone()) {
                dups.push(format!("{a} ({id})"));
            }
        }
        dups
    }

    /// Live tagged resources that the state does not record, and recorded
    /// resources whose kind counts differ from what is live.
    pub fn against_state(&self, state: &Value) -> Vec<String> {
        let resources = state["resources"].as_object().cloned().unwrap_or_default();
        let ids: BTreeSet<&str> = resources
            .values()
            .filter_map(|r| r["id"].as_str())
            .collect();
        let mut problems = Vec::new();
        for (kind, live) in &self.tagged {
            for (id, a) in live {
                if !ids.contains(id.as_str()) {
                    problems.push(format!("orphan {kind} {id} ({a})"));
                }
            }
        }
        let mut recorded: BTreeMap<String, usize> = BTreeMap::new();
        for r in resources.values() {
            *recorded
                .entry(r["kind"].as_str().unwrap_or_default().to_string())
                .or_default() += 1;
        }
        for (kind, n) in &recorded {
            let live = self
                .tagged
                .get(kind.as_str())
                .map(Vec::len)
                .or_else(|| self.untagged.get(kind.as_str()).copied())
                .unwrap_or(0);
            if live != *n {
                problems.push(format!("{kind}: {n} recorded, {live} live"));
            }
        }
        for (kind, n) in &self.untagged {
            if recorded.get(*kind).copied().unwrap_or(0) != *n {
                problems.push(format!("{kind}: {n} live untaggable, not as recorded"));
            }
        }
        problems.extend(
            self.undeclared_rules
                .iter()
                .map(|r| format!("undeclared rule {r}")),
        );
        problems.extend(
            self.duplicates()
                .into_iter()
                .map(|d| format!("duplicate {d}")),
        );
        problems
    }
}

/// A trial count (or first seed) from the environment, `default` when
/// unset: the test command runs a few, `scripts/trials` many.
pub fn env_count(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Runs `cmd` (its output thrown away) and kills it with -9 once `delay`
/// has passed, unless it ended by then: whether it was killed.
pub fn run_killed_after(mut cmd: std::process::Command, delay: std::time::Duration) -> bool {
    let mut child = cmd
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() && start.elapsed() < delay {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let killed = child.try_wait().unwrap().is_none();
    if killed {
        child.kill().unwrap();
    }
    let _ = child.wait();
    killed
}
