//! EKS: a Fargate cluster in the platform network through the whole engine
//! against moto (profiles created one at a time, no-op replan, destroy in
//! order, upgrade findings), add-ons and version upgrades against stubbed
//! EKS answers (moto serves no add-ons, updates or version upgrades), and
//! the end-of-support finding through the binary.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use async_trait::async_trait;
use aws_sdk_eks::operation::create_addon::CreateAddonOutput;
use aws_sdk_eks::operation::create_cluster::CreateClusterOutput;
use aws_sdk_eks::operation::delete_addon::DeleteAddonOutput;
use aws_sdk_eks::operation::delete_cluster::DeleteClusterOutput;
use aws_sdk_eks::operation::describe_addon::{DescribeAddonError, DescribeAddonOutput};
use aws_sdk_eks::operation::describe_addon_versions::DescribeAddonVersionsOutput;
use aws_sdk_eks::operation::describe_cluster::{DescribeClusterError, DescribeClusterOutput};
use aws_sdk_eks::operation::describe_update::DescribeUpdateOutput;
use aws_sdk_eks::operation::update_addon::UpdateAddonOutput;
use aws_sdk_eks::operation::update_cluster_version::UpdateClusterVersionOutput;
use aws_sdk_eks::types::error::ResourceNotFoundException;
use aws_sdk_eks::types::{
    Addon, AddonInfo, AddonStatus, AddonVersionInfo, Certificate, Cluster, ClusterStatus,
    Compatibility, Identity, Oidc, Update, UpdateStatus, VpcConfigResponse,
};
use aws_smithy_types::error::ErrorMetadata;
use payrun::address::Address;
use payrun::plan::Action;
use payrun::provider::aws::{AwsProvider, AwsSettings};
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
