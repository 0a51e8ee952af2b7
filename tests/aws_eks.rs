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
    version: config.vars.k8s_version ?? "1.28",
    role_arn: "arn:aws:iam::123456789012:role/eks-cluster",
    pod_execution_role_arn: "arn:aws:iam::123456789012:role/eks-fargate-pods",
    subnet_ids: net.private_subnet_ids,
    secrets_kms_key_arn: "arn:aws:kms:us-east-1:123456789012:key/0b6c6f7e-1111-2222-3333-444455556666",
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
            &json!({ "cluster_name": "eks-payments-eksfg" })
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

    // One minor up is an in-place update; two is refused at plan time.
    s.set_var("k8s_version", "1.29");
    let up = s.plan().await;
    let c = up
        .changes
        .iter()
        .find(|c| c.address.kind() == "aws.eks.cluster")
        .unwrap();
    assert_eq!(c.action, Action::Update);
    assert!(!up.findings.iter().any(|f| f.code == "eks-version-skip"));
    s.set_var("k8s_version", "1.30");
    let skip = s.plan().await;
    let f = skip
        .findings
        .iter()
        .find(|f| f.code == "eks-version-skip")
        .expect("a finding for the skipped minor version");
    assert!(
        f.message
            .contains("EKS upgrades a cluster one minor version at a time: 1.28 → 1.30 skips versions; upgrade to 1.29 first"),
        "{}",
        f.message
    );
    assert!(skip.has_errors());
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
let vpc = aws::ec2::vpc("eks", #{ cidr: "10.3.0.0/16" });
let a = aws::ec2::subnet("eks-a", #{ vpc_id: vpc.id, cidr: "10.3.1.0/24", az: "us-east-1a" });
let b = aws::ec2::subnet("eks-b", #{ vpc_id: vpc.id, cidr: "10.3.2.0/24", az: "us-east-1b" });
let c = aws::eks::cluster("payments", #{
    version: config.vars.k8s_version ?? "1.28",
    role_arn: "arn:aws:iam::123456789012:role/eks-cluster",
    subnet_ids: [a.id, b.id],
});
if config.vars.addon ?? false {
    let a = #{ cluster_name: c.id, addon_name: "coredns", configuration_values: #{ computeType: "Fargate" } };
    if config.vars.addon_version != () { a.addon_version = config.vars.addon_version; }
    aws::eks::addon("coredns", a);
}
"#;

/// What the test launcher's DescribeAddonVersions offers for every add-on
/// (`ADDON_VERSION` in tests/support/moto_launcher.py): one version, the
/// default for every Kubernetes version.
const LAUNCHER_ADDON_VERSION: &str = "v1.0.0-eksbuild.1";

fn calls(s: &Stack, operation: &str) -> u64 {
    s.aws_calls().get(operation).copied().unwrap_or(0)
}

async fn eks_on_moto() -> aws_sdk_eks::Client {
    aws_sdk_eks::Client::new(&moto::sdk_config().await)
}

#[tokio::test]
async fn cluster_upgrade_one_minor_in_place_two_refused_on_moto() {
    let s = Stack::aws(UPGRADE_CLUSTER, "eksup");
    let summary = s.apply().await;
    assert!(summary.ok(), "{summary}");
    assert_eq!(calls(&s, "CreateCluster"), 1, "one CreateCluster");

    s.set_var("k8s_version", "1.29");
    let plan = s.plan().await;
    let change = plan
        .change(&"aws.eks.cluster.payments".parse().unwrap())
        .unwrap();
    assert_eq!(change.action, Action::Update);
    assert!(change.replace_because.is_empty());
    let summary = s.apply_plan(&plan).await;
    assert!(summary.ok(), "{summary}");
    assert_eq!(
        calls(&s, "UpdateClusterVersion"),
        1,
        "one UpdateClusterVersion"
    );
    let live = eks_on_moto()
        .await
        .describe_cluster()
        .name("eks-payments-eksup")
        .send()
        .await
        .unwrap();
    let live = live.cluster().unwrap();
    assert_eq!(
        (live.version(), live.status().map(|s| s.as_str())),
        (Some("1.29"), Some("ACTIVE"))
    );
    let state = s.state();
    let cluster = &state.resources[&"aws.eks.cluster.payments".parse::<Address>().unwrap()];
    assert_eq!(cluster.outputs["version"], json!("1.29"));
    assert!(!s.plan().await.has_changes());

    s.set_var("k8s_version", "1.31");
    let plan = s.plan().await;
    assert!(
        plan.findings.iter().any(|f| f.code == "eks-version-skip"
            && f.message
                .contains("1.29 → 1.31 skips versions; upgrade to 1.30 first")),
        "{:?}",
        plan.findings
    );
    assert!(
        s.apply_with(&plan, Arc::new(Order(Arc::default())))
            .await
            .is_err()
    );

    // The provider refuses on its own too, before any call.
    let aws = s.registry.provider("aws.eks.cluster").unwrap();
    let before = cluster.args.clone();
    let mut after = before.clone();
    after["version"] = json!("1.31");
    let err = aws
        .update(&UpdateOp {
            address: "aws.eks.cluster.payments".parse().unwrap(),
            name: cluster.name.clone(),
            stack: s.stack_name(),
            id: cluster.id.clone(),
            before,
            after,
            changed: vec!["version".into()],
            outputs: cluster.outputs.clone(),
            progress: Arc::new(|_: &str| {}),
        })
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "aws.eks.cluster.payments: EKS upgrades a cluster one minor version at a time: 1.29 → 1.31 skips versions; upgrade to 1.30 first, apply, then continue\n  fix: set `version` to one minor version above 1.29"
    );
    assert_eq!(
        calls(&s, "UpdateClusterVersion"),
        1,
        "no second UpdateClusterVersion"
    );
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
        Some(LAUNCHER_ADDON_VERSION),
        "the default for 1.29"
    );
    assert_eq!(
        a.configuration_values(),
        Some(r#"{"computeType":"Fargate"}"#)
    );
    let addr: Address = "aws.eks.addon.coredns".parse().unwrap();
    assert_eq!(
        s.state().resources[&addr].outputs["addon_version"],
        json!(LAUNCHER_ADDON_VERSION)
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
    version: config.vars.k8s_version ?? "1.28",
    role_arn: "arn:aws:iam::123456789012:role/eks-cluster",
    subnet_ids: ["subnet-1", "subnet-2"],
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
