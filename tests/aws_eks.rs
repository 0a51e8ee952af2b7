//! EKS: a Fargate cluster in the platform network through the whole engine
//! against moto (profiles created one at a time, no-op replan, destroy in
//! order, upgrade findings), an in-place version upgrade and an add-on's
//! version resolved, pinned and deleted against moto (add-ons and
//! UpdateClusterVersion served by the test launcher's extensions of moto),
//! and the end-of-support finding through the binary.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use async_trait::async_trait;
use aws_sdk_eks::error::ProvideErrorMetadata;
use payrun::address::Address;
use payrun::plan::Action;
use payrun::provider::aws::AwsProvider;
use payrun::provider::fake::{FakeConfig, FakeProvider};
use payrun::provider::{
    Applied, CreateOp, DeleteOp, KindSchema, Provider, ProviderError, ReadItem, ReadResult,
    Registry, UpdateOp,
};
use predicates::str::contains;
use serde_json::{Value, json};

use crate::support::bin::Project;
use crate::support::engine::Stack;
use crate::support::moto;

const NAMESPACES: [&str; 4] = ["payment", "fraud-detection", "reporting", "kube-system"];

const FARGATE: &str = r#"
import "network" as network;
import "eks" as eks;

acknowledge("eks-version-unsupported", "moto test");
let net = network::vpc("main", #{ cidr: "10.1.0.0/16", azs: ["us-east-1a", "us-east-1b"], nat: "single" });
let c = eks::fargate_cluster("payments", #{
    version: config().vars.k8s_version ?? "1.28",
    role: "arn:aws:iam::123456789012:role/eks-cluster",
    pod_execution_role: "arn:aws:iam::123456789012:role/eks-fargate-pods",
    subnets: net.private_subnets,
    kms_key: "arn:aws:kms:us-east-1:123456789012:key/0b6c6f7e-1111-2222-3333-444455556666",
    namespaces: ["payment", "fraud-detection", "reporting", "kube-system"],
    addons: [],
});
export("oidc_issuer_host", c.cluster.oidc_issuer_host);
export("k8s", eks::kubernetes_cluster(c.cluster));
"#;

/// Times every create of a Fargate profile around the AWS provider, so the
/// test sees when the provider itself ran them.
struct Timed {
    inner: Arc<AwsProvider>,
    creates: Mutex<Vec<(String, Instant, Instant)>>,
}

#[async_trait]
impl Provider for Timed {
    fn schemas(&self) -> &'static [KindSchema] {
        self.inner.schemas()
    }
    async fn read(&self, kind: &str, items: &[ReadItem]) -> Result<Vec<ReadResult>, ProviderError> {
        self.inner.read(kind, items).await
    }
    async fn create(&self, op: &CreateOp) -> Result<Applied, ProviderError> {
        let start = Instant::now();
        let out = self.inner.create(op).await;
        if op.address.kind() == "aws.eks.fargate_profile" {
            self.creates
                .lock()
                .unwrap()
                .push((op.address.to_string(), start, Instant::now()));
        }
        out
    }
    async fn update(&self, op: &UpdateOp) -> Result<Applied, ProviderError> {
        self.inner.update(op).await
    }
    async fn delete(&self, op: &DeleteOp) -> Result<(), ProviderError> {
        self.inner.delete(op).await
    }
    async fn adopt(&self, op: &CreateOp) -> Result<Option<Applied>, ProviderError> {
        self.inner.adopt(op).await
    }
    fn concurrency_key(&self, kind: &str, args: &Value) -> Option<String> {
        self.inner.concurrency_key(kind, args)
    }
}

struct Order(Arc<Mutex<Vec<String>>>);

impl payrun::apply::Hook for Order {
    fn started(&self, a: &Address, _: payrun::apply::OpKind) {
        self.0.lock().unwrap().push(a.to_string());
    }
    fn progress(&self, _: &Address, _: payrun::apply::OpKind, _: &str) {}
    fn finished(
        &self,
        _: &Address,
        _: payrun::apply::OpKind,
        _: &payrun::apply::Outcome,
        _: std::time::Duration,
    ) {
    }
    fn message(&self, _: &str) {}
    fn summary(&self, _: &payrun::apply::ApplySummary) {}
}

#[tokio::test]
async fn fargate_cluster_profiles_one_at_a_time_noop_replan_and_ordered_destroy() {
    let aws = Arc::new(moto::provider());
    let timed = Arc::new(Timed {
        inner: aws.clone(),
        creates: Mutex::default(),
    });
    let fake = Arc::new(FakeProvider::new(FakeConfig::default()));
    let mut s = Stack::with_registry(FARGATE, fake, Registry::new().with("aws", timed.clone()));
    s.suffix = "eksfg".into();

    let plan = s.plan().await;
    assert!(
        plan.findings
            .iter()
            .any(|f| f.code == "eks-version-unsupported" && f.message.contains("acknowledged")),
        "{:?}",
        plan.findings
    );
    let summary = s.apply_plan(&plan).await;
    assert!(summary.ok(), "{summary}");

    let mut creates = timed.creates.lock().unwrap().clone();
    assert_eq!(creates.len(), NAMESPACES.len(), "{creates:?}");
    creates.sort_by_key(|c| c.1);
    for pair in creates.windows(2) {
        assert!(
            pair[1].1 >= pair[0].2,
            "{} started before {} finished",
            pair[1].0,
            pair[0].0
        );
    }
    assert_eq!(
        timed.concurrency_key(
            "aws.eks.fargate_profile",
            &json!({ "cluster": "eks-payments-eksfg" })
        ),
        Some("eks-fargate:eks-payments-eksfg".to_string())
    );

    let state = s.state();
    let cluster = &state.resources[&"aws.eks.cluster.payments".parse::<Address>().unwrap()];
    assert_eq!(cluster.id, "eks-payments-eksfg");
    let issuer = cluster.outputs["oidc_issuer"].as_str().unwrap();
    assert!(
        issuer.starts_with("https://oidc.eks.us-east-1.amazonaws.com/id/"),
        "{issuer}"
    );
    assert_eq!(
        cluster.outputs["oidc_issuer_host"].as_str().unwrap(),
        issuer.trim_start_matches("https://")
    );
    assert!(!cluster.outputs["ca_data"].as_str().unwrap().is_empty());
    assert_eq!(cluster.outputs["version"], json!("1.28"));

    let again = s.plan().await;
    let changed: Vec<_> = again
        .changes
        .iter()
        .filter(|c| c.action != Action::NoOp)
        .map(|c| (c.address.to_string(), c.action, c.changes.clone()))
        .collect();
    assert!(changed.is_empty(), "{changed:?}");
    let k8s = &again.outputs["k8s"];
    assert_eq!(k8s["name"], json!("eks-payments-eksfg"));
    assert_eq!(k8s["version"], json!("1.28"));

    // One minor up is an in-place update; several are one plan of ordered
    // in-place steps; down is refused at plan time.
    s.set_var("k8s_version", "1.29");
    let up = s.plan().await;
    let c = up
        .changes
        .iter()
        .find(|c| c.address.kind() == "aws.eks.cluster")
        .unwrap();
    assert_eq!(c.action, Action::Update);
    assert!(!up.has_errors(), "{:?}", up.findings);
    s.set_var("k8s_version", "1.31");
    let steps = s.plan().await;
    assert!(!steps.has_errors(), "{:?}", steps.findings);
    let c = steps
        .changes
        .iter()
        .find(|c| c.address.kind() == "aws.eks.cluster")
        .unwrap();
    assert_eq!(c.action, Action::Update);
    let version = c.changes.iter().find(|a| a.name == "version").unwrap();
    assert_eq!(
        version.note.as_deref(),
        Some(
            "in place, 3 EKS updates (1.28 → 1.29 → 1.30 → 1.31), each waiting for ACTIVE; before each, the cluster's add-ons move to a version the next one supports"
        )
    );
    s.set_var("k8s_version", "1.27");
    let down = s.plan().await;
    let f = down
        .findings
        .iter()
        .find(|f| f.code == "eks-version-downgrade")
        .expect("a finding for the downgrade");
    assert_eq!(
        f.message,
        "EKS cannot downgrade a cluster from Kubernetes 1.28 to 1.27"
    );
    assert!(down.has_errors());
    s.set_var("k8s_version", "1.28");

    let destroy = s.plan_mode(payrun::plan::Mode::Destroy).await;
    let order = Arc::new(Mutex::new(Vec::new()));
    let summary = s
        .apply_with(&destroy, Arc::new(Order(order.clone())))
        .await
        .unwrap();
    assert!(summary.ok(), "{summary}");
    let order = order.lock().unwrap().clone();
    let pos = |a: &str| {
        order
            .iter()
            .position(|x| x == a)
            .unwrap_or_else(|| panic!("{a} not destroyed: {order:?}"))
    };
    for ns in NAMESPACES {
        assert!(
            pos(&format!("aws.eks.fargate_profile.payments-{ns}"))
                < pos("aws.eks.cluster.payments")
        );
    }
    assert!(pos("aws.eks.cluster.payments") < pos("aws.ec2.subnet.private-a"));
    assert!(s.state().resources.is_empty());
    let conf = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_types::region::Region::new(moto::REGION))
        .endpoint_url(moto::moto().endpoint.clone())
        .load()
        .await;
    let eks = aws_sdk_eks::Client::new(&conf);
    let gone = eks
        .describe_cluster()
        .name("eks-payments-eksfg")
        .send()
        .await;
    assert!(gone.is_err(), "the cluster is still there");
}

/// A cluster in two subnets of its own VPC, with CoreDNS when `addon` is
/// set (at `addon_version` when that is set too).
const UPGRADE_CLUSTER: &str = r#"
acknowledge("eks-version-unsupported", "moto test");
acknowledge("eks-version-extended-support", "moto test");
let version = config().vars.k8s_version ?? "1.28";
let vpc = aws::ec2::vpc("eks", #{ cidr: "10.3.0.0/16" });
let a = aws::ec2::subnet("eks-a", #{ vpc: vpc, cidr: "10.3.1.0/24", az: "us-east-1a" });
let b = aws::ec2::subnet("eks-b", #{ vpc: vpc, cidr: "10.3.2.0/24", az: "us-east-1b" });
let c = aws::eks::cluster("payments", #{
    version: version,
    role: "arn:aws:iam::123456789012:role/eks-cluster",
    subnets: [a.id, b.id],
});
if config().vars.addon ?? false {
    let a = #{ cluster: c, addon_name: "coredns", cluster_version: version, configuration_values: #{ computeType: "Fargate" } };
    if config().vars.addon_version != () { a.addon_version = config().vars.addon_version; }
    aws::eks::addon("coredns", a);
}
if config().vars.flowschema ?? false {
    let kube = #{ name: c.id, endpoint: c.endpoint, ca_data: c.ca_data, version: c.version };
    k8s::object("old-flow", #{ kube: kube, manifest: #{
        apiVersion: "flowcontrol.apiserver.k8s.io/v1beta3",
        kind: "FlowSchema",
        metadata: #{ name: "old-flow" },
        spec: #{ priorityLevelConfiguration: #{ name: "global-default" } },
    } });
}
"#;

/// The version the test launcher's DescribeAddonVersions gives as the
/// default for Kubernetes 1.`minor` (`addon_version_for` in
/// tests/support/moto_launcher.py), compatible with 1.`minor` and the
/// next minor version only.
fn launcher_addon_version(minor: u32) -> String {
    format!("v1.0.0-eksbuild.{minor}")
}

fn calls(s: &Stack, operation: &str) -> u64 {
    s.aws_calls().get(operation).copied().unwrap_or(0)
}

async fn eks_on_moto() -> aws_sdk_eks::Client {
    aws_sdk_eks::Client::new(&moto::sdk_config().await)
}

async fn live_version(cluster: &str) -> (String, String) {
    let live = eks_on_moto()
        .await
        .describe_cluster()
        .name(cluster)
        .send()
        .await
        .unwrap();
    let live = live.cluster().unwrap();
    (
        live.version().unwrap().to_string(),
        live.status().unwrap().as_str().to_string(),
    )
}

async fn live_addon_version(cluster: &str, addon: &str) -> String {
    eks_on_moto()
        .await
        .describe_addon()
        .cluster_name(cluster)
        .addon_name(addon)
        .send()
        .await
        .unwrap()
        .addon()
        .unwrap()
        .addon_version()
        .unwrap()
        .to_string()
}

/// 1.28 → 1.29 in one update, then 1.29 → 1.31 in one apply of two
/// ordered updates, CoreDNS moved along before the step its version would
/// not survive (the launcher, like EKS's readiness checks, refuses a step
/// an add-on does not support); a downgrade is refused by the plan and by
/// the provider on its own.
#[tokio::test]
async fn cluster_upgrades_in_place_one_or_several_minors_never_down_on_moto() {
    let s = Stack::aws(UPGRADE_CLUSTER, "eksup");
    s.set_var("addon", true);
    let summary = s.apply().await;
    assert!(summary.ok(), "{summary}");
    assert_eq!(calls(&s, "CreateCluster"), 1, "one CreateCluster");
    let cluster = "eks-payments-eksup";
    assert_eq!(
        live_addon_version(cluster, "coredns").await,
        launcher_addon_version(28)
    );

    s.set_var("k8s_version", "1.29");
    let plan = s.plan().await;
    let change = plan
        .change(&"aws.eks.cluster.payments".parse().unwrap())
        .unwrap();
    assert_eq!(change.action, Action::Update);
    assert!(change.replace_because.is_empty());
    let summary = s.apply_plan(&plan).await;
    assert!(summary.ok(), "{summary}");
    assert_eq!(calls(&s, "UpdateClusterVersion"), 1);
    assert_eq!(
        live_version(cluster).await,
        ("1.29".to_string(), "ACTIVE".to_string())
    );
    // The 1.28 build runs on 1.29: only the add-on's own update (its
    // `cluster_version` changed) moves it to the default for 1.29.
    assert_eq!(calls(&s, "UpdateAddon"), 1);
    assert_eq!(
        live_addon_version(cluster, "coredns").await,
        launcher_addon_version(29)
    );
    let state = s.state();
    let recorded = &state.resources[&"aws.eks.cluster.payments".parse::<Address>().unwrap()];
    assert_eq!(recorded.outputs["version"], json!("1.29"));
    assert!(!s.plan().await.has_changes());

    s.set_var("k8s_version", "1.31");
    let plan = s.plan().await;
    assert!(!plan.has_errors(), "{:?}", plan.findings);
    let summary = s.apply_plan(&plan).await;
    assert!(summary.ok(), "{summary}");
    assert_eq!(calls(&s, "UpdateClusterVersion"), 3, "two more steps");
    assert_eq!(
        live_version(cluster).await,
        ("1.31".to_string(), "ACTIVE".to_string())
    );
    // Before 1.31 the 1.29 build had to move (to the 1.30 default); after
    // the upgrade the add-on's own update took it to the 1.31 default.
    assert_eq!(calls(&s, "UpdateAddon"), 3);
    assert_eq!(
        live_addon_version(cluster, "coredns").await,
        launcher_addon_version(31)
    );
    assert!(!s.plan().await.has_changes());

    s.set_var("k8s_version", "1.30");
    let plan = s.plan().await;
    assert!(
        plan.findings
            .iter()
            .any(|f| f.code == "eks-version-downgrade" && f.message.contains("1.31 to 1.30")),
        "{:?}",
        plan.findings
    );
    assert!(
        s.apply_with(&plan, Arc::new(Order(Arc::default())))
            .await
            .is_err()
    );

    // The provider refuses on its own too, before any update call.
    let state = s.state();
    let recorded = &state.resources[&"aws.eks.cluster.payments".parse::<Address>().unwrap()];
    let aws = s.registry.provider("aws.eks.cluster").unwrap();
    let before = recorded.args.clone();
    let mut after = before.clone();
    after["version"] = json!("1.30");
    let err = aws
        .update(&UpdateOp {
            address: "aws.eks.cluster.payments".parse().unwrap(),
            name: recorded.name.clone(),
            stack: s.stack_name(),
            id: recorded.id.clone(),
            before,
            after,
            changed: vec!["version".into()],
            outputs: recorded.outputs.clone(),
            progress: Arc::new(|_: &str| {}),
        })
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "aws.eks.cluster.payments: EKS cannot downgrade a cluster from Kubernetes 1.31 to 1.30\n  fix: set `version` to 1.31 or above (the version the cluster runs)"
    );
    assert_eq!(calls(&s, "UpdateClusterVersion"), 3, "no further update");

    // An apiVersion one of the steps stops serving is a finding before the
    // first step runs.
    s.set_var("k8s_version", "1.33");
    s.set_var("flowschema", true);
    let plan = s.plan().await;
    let f = plan
        .findings
        .iter()
        .find(|f| f.code == "k8s-api-removed")
        .unwrap_or_else(|| panic!("{:?}", plan.findings));
    assert_eq!(
        f.message,
        "k8s.object.old-flow: flowcontrol.apiserver.k8s.io/v1beta3 FlowSchema is no longer served since Kubernetes 1.32; the upgrade 1.31 → 1.32 → 1.33 reaches 1.32 at step 1 of 2, so the plan stops before its first step"
    );
    assert!(
        s.apply_with(&plan, Arc::new(Order(Arc::default())))
            .await
            .is_err()
    );
    assert_eq!(calls(&s, "UpdateClusterVersion"), 3, "no step taken");
    assert_eq!(
        live_version(cluster).await,
        ("1.31".to_string(), "ACTIVE".to_string())
    );
}

/// An apply that died between two steps of an upgrade left the cluster
/// one step along (here: moved to 1.30 behind payrun's back, as the dead
/// apply's first step would have): the next plan sees it and the apply
/// takes only the step that is left.
#[tokio::test]
async fn an_upgrade_interrupted_between_steps_continues_where_the_cluster_is_on_moto() {
    let s = Stack::aws(UPGRADE_CLUSTER, "eksresume");
    s.set_var("k8s_version", "1.29");
    let summary = s.apply().await;
    assert!(summary.ok(), "{summary}");
    let cluster = "eks-payments-eksresume";
    let eks = eks_on_moto().await;
    let update = eks
        .update_cluster_version()
        .name(cluster)
        .version("1.30")
        .send()
        .await
        .unwrap();
    let id = update.update().unwrap().id().unwrap().to_string();
    // The plan may be made while that step still runs.
    s.set_var("k8s_version", "1.31");
    let plan = s.plan().await;
    assert!(!plan.has_errors(), "{:?}", plan.findings);
    let summary = s.apply_plan(&plan).await;
    assert!(summary.ok(), "{summary}");
    let done = eks
        .describe_update()
        .name(cluster)
        .update_id(&id)
        .send()
        .await
        .unwrap();
    assert_eq!(
        done.update().unwrap().status().unwrap().as_str(),
        "Successful"
    );
    assert_eq!(calls(&s, "UpdateClusterVersion"), 1, "only 1.30 → 1.31");
    assert_eq!(
        live_version(cluster).await,
        ("1.31".to_string(), "ACTIVE".to_string())
    );
    assert!(!s.plan().await.has_changes());
    let summary = s.destroy().await;
    assert!(summary.ok(), "{summary}");
}

#[tokio::test]
async fn addon_version_resolved_then_pinned_then_deleted_on_moto() {
    let s = Stack::aws(UPGRADE_CLUSTER, "eksaddon");
    s.set_var("k8s_version", "1.29");
    let summary = s.apply().await;
    assert!(summary.ok(), "{summary}");

    s.set_var("addon", true);
    let summary = s.apply().await;
    assert!(summary.ok(), "{summary}");
    let eks = eks_on_moto().await;
    let live = || {
        eks.describe_addon()
            .cluster_name("eks-payments-eksaddon")
            .addon_name("coredns")
            .send()
    };
    let got = live().await.unwrap();
    let a = got.addon().unwrap();
    assert_eq!(
        a.addon_version(),
        Some(launcher_addon_version(29).as_str()),
        "the default for 1.29"
    );
    assert_eq!(
        a.configuration_values(),
        Some(r#"{"computeType":"Fargate"}"#)
    );
    let addr: Address = "aws.eks.addon.coredns".parse().unwrap();
    assert_eq!(
        s.state().resources[&addr].outputs["addon_version"],
        json!(launcher_addon_version(29))
    );
    assert_eq!(
        calls(&s, "DescribeAddonVersions"),
        1,
        "one DescribeAddonVersions"
    );
    assert!(
        !s.plan().await.has_changes(),
        "an unpinned version is not drift"
    );

    s.set_var("addon_version", "v1.11.1-eksbuild.11");
    let plan = s.plan().await;
    assert_eq!(plan.change(&addr).unwrap().action, Action::Update);
    let summary = s.apply_plan(&plan).await;
    assert!(summary.ok(), "{summary}");
    assert_eq!(calls(&s, "UpdateAddon"), 1, "one UpdateAddon");
    assert_eq!(
        live().await.unwrap().addon().unwrap().addon_version(),
        Some("v1.11.1-eksbuild.11")
    );
    assert_eq!(
        calls(&s, "DescribeAddonVersions"),
        1,
        "a pinned version is not looked up"
    );
    assert!(!s.plan().await.has_changes());

    let summary = s.destroy().await;
    assert!(summary.ok(), "{summary}");
    let gone = live().await.unwrap_err();
    assert_eq!(
        gone.as_service_error().and_then(|e| e.code()),
        Some("ResourceNotFoundException"),
        "{gone:?}"
    );
    assert_eq!(calls(&s, "DeleteAddon"), 1, "one DeleteAddon");
}

#[test]
fn plan_shows_the_end_of_support_date_and_the_var_to_change() {
    let p = Project::new(
        r#"
aws::eks::cluster("payments", #{
    version: config().vars.k8s_version ?? "1.28",
    role: "arn:aws:iam::123456789012:role/eks-cluster",
    subnets: ["subnet-1", "subnet-2"],
});
"#,
    );
    p.payrun()
        .arg("plan")
        .assert()
        .stdout(contains("eks-version-unsupported"))
        .stdout(contains("extended support on 2025-11-26"))
        .stdout(contains("--var k8s_version="));
}

/// kill -9 of an apply of a two-step upgrade (1.29 → 1.31 with CoreDNS) at
/// a seeded moment after its first UpdateClusterVersion was accepted
/// (while that step runs, or after it, before or during the next): the
/// next apply finishes the path from where the cluster is, the add-on
/// ends at the 1.31 default, and the plan after it is empty.
#[test]
fn an_upgrade_killed_mid_path_finishes_on_the_next_apply_on_moto() {
    // The launcher's EKS update takes 1 s: a kill within 900 ms lands while
    // the first step runs, a later one after it (at 1.30, moving on).
    for (i, (seed, from_ms, window_ms)) in [
        (0x5eed_0014_u64, 0, 900),
        (0x5eed_0015, 0, 900),
        (0x5eed_0016, 1000, 900),
        (0x5eed_0017, 1000, 900),
    ]
    .into_iter()
    .enumerate()
    {
        upgrade_kill_trial(seed, from_ms, window_ms, &format!("eksk{i}"));
    }
}

fn upgrade_kill_trial(seed: u64, from_ms: u64, window_ms: u64, suffix: &str) {
    use std::process::Stdio;
    use std::time::Duration;

    use crate::support::fault::Rng;

    let endpoint = moto::moto().endpoint.clone();
    let project = Project::new(UPGRADE_CLUSTER);
    let run = |args: &[&str]| {
        let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("payrun"));
        cmd.current_dir(project.path())
            .args(args)
            .args(["--suffix", suffix, "--endpoint-url", &endpoint])
            .args(["--var", "addon=true"])
            .env("NO_COLOR", "1")
            .env_remove("PAYRUN_FAKE_CLOUD")
            .envs(moto::client_env())
            .stdin(Stdio::null());
        cmd
    };
    let ok = |args: &[&str]| {
        let out = run(args).output().unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let cluster = format!("eks-payments-{suffix}");
    let cluster = cluster.as_str();
    ok(&["apply", "--auto-approve", "--var", "k8s_version=1.29"]);
    assert_eq!(rt.block_on(live_version(cluster)).0, "1.29");

    let mut rng = Rng::new(seed);
    let after = Duration::from_millis(from_ms + rng.below(window_ms));
    eprintln!(
        "upgrade kill trial, seed {seed:#x}: kill {} ms after the first step started",
        after.as_millis()
    );
    let mut child = run(&["apply", "--auto-approve", "--var", "k8s_version=1.31"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait for the first step to be under way (the cluster UPDATING).
    let started = std::time::Instant::now();
    loop {
        let (_, status) = rt.block_on(live_version(cluster));
        if status == "UPDATING" {
            break;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the apply ended before its first step"
        );
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no step started"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(after);
    child.kill().unwrap();
    let _ = child.wait();
    let (killed_at, _) = rt.block_on(live_version(cluster));
    eprintln!("upgrade kill trial, seed {seed:#x}: killed with the cluster at {killed_at}");

    ok(&["apply", "--auto-approve", "--var", "k8s_version=1.31"]);
    assert_eq!(
        rt.block_on(live_version(cluster)),
        ("1.31".to_string(), "ACTIVE".to_string())
    );
    assert_eq!(
        rt.block_on(live_addon_version(cluster, "coredns")),
        launcher_addon_version(31)
    );
    let out = run(&["plan", "--detailed-exitcode", "--var", "k8s_version=1.31"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    ok(&["destroy", "--auto-approve", "--var", "k8s_version=1.31"]);
}

/// A plan that reads the cloud judges EKS versions by EKS's own calendar
/// (DescribeClusterVersions, served by the launcher's extension) and says
/// so; offline, by the embedded calendar, which says that.
#[test]
fn a_refreshing_plan_judges_versions_by_eks_own_calendar() {
    let endpoint = moto::moto().endpoint.clone();
    let project = Project::new(
        r#"
aws::ec2::vpc("cal", #{ cidr: "10.9.0.0/16" });
if config().vars.cluster ?? false {
    aws::eks::cluster("payments", #{
        version: "1.31",
        role: "arn:aws:iam::123456789012:role/eks-cluster",
        subnets: ["subnet-1", "subnet-2"],
    });
}
"#,
    );
    let run = |args: &[&str]| {
        let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("payrun"));
        cmd.current_dir(project.path())
            .args(args)
            .args(["--suffix", "calendar", "--endpoint-url", &endpoint])
            .env("NO_COLOR", "1")
            .env_remove("PAYRUN_FAKE_CLOUD")
            .envs(moto::client_env());
        cmd.output().unwrap()
    };
    // Offline (nothing recorded yet, so no refresh): the embedded calendar.
    let offline = run(&["plan", "--var", "cluster=true"]);
    let text = String::from_utf8_lossy(&offline.stdout);
    assert!(text.contains("error [eks-version-unsupported]"), "{text}");
    assert!(
        text.contains("payrun's embedded EKS calendar as of"),
        "{text}"
    );
    // With a stack to refresh: EKS's answer.
    let applied = run(&["apply", "--auto-approve"]);
    assert!(
        applied.status.success(),
        "{}",
        String::from_utf8_lossy(&applied.stderr)
    );
    let live = run(&["plan", "--var", "cluster=true"]);
    let text = String::from_utf8_lossy(&live.stdout);
    assert!(text.contains("error [eks-version-unsupported]"), "{text}");
    assert!(
        text.contains("EKS DescribeClusterVersions in us-east-1, read "),
        "{text}"
    );
    assert!(text.contains("--var k8s_version=1.36"), "{text}");
    // `--refresh=false` reads nothing: the embedded calendar again.
    let unrefreshed = run(&["plan", "--var", "cluster=true", "--refresh=false"]);
    let text = String::from_utf8_lossy(&unrefreshed.stdout);
    assert!(
        text.contains("payrun's embedded EKS calendar as of"),
        "{text}"
    );
    let destroyed = run(&["destroy", "--auto-approve"]);
    assert!(
        destroyed.status.success(),
        "{}",
        String::from_utf8_lossy(&destroyed.stderr)
    );
}
