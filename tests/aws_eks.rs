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
use aws_smithy_mocks::{MockResponse, RuleMode, mock, mock_client};
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

/// An EKS that moto does not provide: add-ons, updates and version
/// upgrades, kept in memory and served through stubbed SDK answers.
#[derive(Default)]
struct World {
    version: String,
    tags: std::collections::HashMap<String, String>,
    cluster_gone: bool,
    addon: Option<Addon>,
    /// Describes left before a new add-on reports ACTIVE.
    creating: u32,
}

fn not_found() -> DescribeAddonError {
    DescribeAddonError::ResourceNotFoundException(
        ResourceNotFoundException::builder()
            .message("No addon: coredns found in cluster: eks-payments-mock")
            .meta(
                ErrorMetadata::builder()
                    .code("ResourceNotFoundException")
                    .message("No addon: coredns found in cluster: eks-payments-mock")
                    .build(),
            )
            .build(),
    )
}

fn cluster_of(version: &str, tags: &std::collections::HashMap<String, String>) -> Cluster {
    Cluster::builder()
        .set_tags(Some(tags.clone()))
        .name("eks-payments-mock")
        .arn("arn:aws:eks:us-east-1:123456789012:cluster/eks-payments-mock")
        .version(version)
        .status(ClusterStatus::Active)
        .endpoint("https://ABCDEF.gr7.us-east-1.eks.amazonaws.com")
        .role_arn("arn:aws:iam::123456789012:role/eks-cluster")
        .certificate_authority(Certificate::builder().data("LS0tLS1CRUdJTg==").build())
        .identity(
            Identity::builder()
                .oidc(
                    Oidc::builder()
                        .issuer("https://oidc.eks.us-east-1.amazonaws.com/id/ABCDEF")
                        .build(),
                )
                .build(),
        )
        .resources_vpc_config(
            VpcConfigResponse::builder()
                .subnet_ids("subnet-1")
                .subnet_ids("subnet-2")
                .cluster_security_group_id("sg-cluster")
                .endpoint_private_access(true)
                .endpoint_public_access(false)
                .build(),
        )
        .logging(
            aws_sdk_eks::types::Logging::builder()
                .cluster_logging(
                    aws_sdk_eks::types::LogSetup::builder()
                        .set_types(Some(
                            [
                                "api",
                                "audit",
                                "authenticator",
                                "controllerManager",
                                "scheduler",
                            ]
                            .map(aws_sdk_eks::types::LogType::from)
                            .to_vec(),
                        ))
                        .enabled(true)
                        .build(),
                )
                .build(),
        )
        .build()
}

fn addon_versions() -> DescribeAddonVersionsOutput {
    let version = |v: &str, default: bool| {
        AddonVersionInfo::builder()
            .addon_version(v)
            .compatibilities(
                Compatibility::builder()
                    .cluster_version("1.29")
                    .default_version(default)
                    .build(),
            )
            .build()
    };
    DescribeAddonVersionsOutput::builder()
        .addons(
            AddonInfo::builder()
                .addon_name("coredns")
                .addon_versions(version("v1.11.1-eksbuild.11", false))
                .addon_versions(version("v1.11.1-eksbuild.9", true))
                .addon_versions(version("v1.10.1-eksbuild.13", false))
                .build(),
        )
        .build()
}

/// A provider on stubbed EKS answers over `world`, and the rules that
/// answer, to count calls.
fn stubbed(world: &Arc<Mutex<World>>) -> (AwsProvider, Vec<aws_smithy_mocks::Rule>) {
    let w = world.clone();
    let describe_cluster =
        mock!(aws_sdk_eks::Client::describe_cluster).then_compute_response(move |_| {
            let w = w.lock().unwrap();
            if w.cluster_gone {
                return MockResponse::Error(DescribeClusterError::ResourceNotFoundException(
                    ResourceNotFoundException::builder()
                        .message("No cluster found for name: eks-payments-mock.")
                        .meta(
                            ErrorMetadata::builder()
                                .code("ResourceNotFoundException")
                                .build(),
                        )
                        .build(),
                ));
            }
            MockResponse::Output(
                DescribeClusterOutput::builder()
                    .cluster(cluster_of(&w.version, &w.tags))
                    .build(),
            )
        });
    let w = world.clone();
    let delete_cluster =
        mock!(aws_sdk_eks::Client::delete_cluster).then_compute_output(move |_| {
            w.lock().unwrap().cluster_gone = true;
            DeleteClusterOutput::builder().build()
        });
    let w = world.clone();
    let create_cluster =
        mock!(aws_sdk_eks::Client::create_cluster).then_compute_output(move |req| {
            let mut w = w.lock().unwrap();
            w.version = req.version().unwrap_or_default().to_string();
            w.tags = req.tags().cloned().unwrap_or_default();
            CreateClusterOutput::builder()
                .cluster(cluster_of(&w.version, &w.tags))
                .build()
        });
    let w = world.clone();
    let upgrade =
        mock!(aws_sdk_eks::Client::update_cluster_version).then_compute_output(move |req| {
            w.lock().unwrap().version = req.version().unwrap_or_default().to_string();
            UpdateClusterVersionOutput::builder()
                .update(
                    Update::builder()
                        .id("upgrade-1")
                        .status(UpdateStatus::InProgress)
                        .build(),
                )
                .build()
        });
    let describe_update = mock!(aws_sdk_eks::Client::describe_update).then_output(|| {
        DescribeUpdateOutput::builder()
            .update(
                Update::builder()
                    .id("upgrade-1")
                    .status(UpdateStatus::Successful)
                    .build(),
            )
            .build()
    });
    let versions = mock!(aws_sdk_eks::Client::describe_addon_versions)
        .match_requests(|r| {
            r.addon_name() == Some("coredns") && r.kubernetes_version() == Some("1.29")
        })
        .then_output(addon_versions);
    let w = world.clone();
    let create_addon = mock!(aws_sdk_eks::Client::create_addon).then_compute_output(move |req| {
        let addon = Addon::builder()
            .addon_name(req.addon_name().unwrap_or_default())
            .cluster_name(req.cluster_name().unwrap_or_default())
            .addon_version(req.addon_version().unwrap_or_default())
            .addon_arn("arn:aws:eks:us-east-1:123456789012:addon/eks-payments-mock/coredns/1")
            .set_configuration_values(req.configuration_values().map(str::to_string))
            .set_tags(req.tags().cloned())
            .status(AddonStatus::Creating)
            .build();
        let mut w = w.lock().unwrap();
        w.addon = Some(addon.clone());
        w.creating = 1;
        CreateAddonOutput::builder().addon(addon).build()
    });
    let w = world.clone();
    let describe_addon =
        mock!(aws_sdk_eks::Client::describe_addon).then_compute_response(move |_| {
            let mut w = w.lock().unwrap();
            let creating = w.creating > 0;
            w.creating = w.creating.saturating_sub(1);
            match &w.addon {
                Some(a) => {
                    let status = if creating {
                        AddonStatus::Creating
                    } else {
                        AddonStatus::Active
                    };
                    let mut a = a.clone();
                    a.status = Some(status);
                    MockResponse::Output(DescribeAddonOutput::builder().addon(a).build())
                }
                None => MockResponse::Error(not_found()),
            }
        });
    let w = world.clone();
    let update_addon = mock!(aws_sdk_eks::Client::update_addon).then_compute_output(move |req| {
        let mut w = w.lock().unwrap();
        if let Some(a) = w.addon.as_mut() {
            a.addon_version = req.addon_version().map(str::to_string);
            a.configuration_values = req.configuration_values().map(str::to_string);
        }
        UpdateAddonOutput::builder()
            .update(
                Update::builder()
                    .id("upgrade-1")
                    .status(UpdateStatus::InProgress)
                    .build(),
            )
            .build()
    });
    let w = world.clone();
    let delete_addon = mock!(aws_sdk_eks::Client::delete_addon).then_compute_output(move |_| {
        let addon = w.lock().unwrap().addon.take();
        DeleteAddonOutput::builder().set_addon(addon).build()
    });
    let rules = vec![
        describe_cluster,
        create_cluster,
        upgrade,
        describe_update,
        versions,
        create_addon,
        describe_addon,
        update_addon,
        delete_addon,
        delete_cluster,
    ];
    let client = mock_client!(aws_sdk_eks, RuleMode::MatchAny, &rules);
    let provider = AwsProvider::with_eks_client(
        AwsSettings {
            region: Some("us-east-1".into()),
            ..AwsSettings::default()
        },
        client,
    );
    (provider, rules)
}

const MOCK_CLUSTER: &str = r#"
acknowledge("eks-version-unsupported", "stubbed EKS");
acknowledge("eks-version-extended-support", "stubbed EKS");
let c = aws::eks::cluster("payments", #{
    version: config.vars.k8s_version ?? "1.28",
    role_arn: "arn:aws:iam::123456789012:role/eks-cluster",
    subnet_ids: ["subnet-1", "subnet-2"],
});
if config.vars.addon ?? false {
    let a = #{ cluster_name: c.id, addon_name: "coredns", configuration_values: #{ computeType: "Fargate" } };
    if config.vars.addon_version != () { a.addon_version = config.vars.addon_version; }
    aws::eks::addon("coredns", a);
}
"#;

fn stubbed_stack(world: &Arc<Mutex<World>>) -> (Stack, Vec<aws_smithy_mocks::Rule>) {
    let (provider, rules) = stubbed(world);
    let fake = Arc::new(FakeProvider::new(FakeConfig::default()));
    let mut s = Stack::with_registry(
        MOCK_CLUSTER,
        fake,
        Registry::new().with("aws", Arc::new(provider)),
    );
    s.suffix = "mock".into();
    (s, rules)
}

fn rule(rules: &[aws_smithy_mocks::Rule], i: usize) -> &aws_smithy_mocks::Rule {
    &rules[i]
}

#[tokio::test]
async fn cluster_upgrade_one_minor_in_place_two_refused_smithy_mock() {
    let world = Arc::new(Mutex::new(World::default()));
    let (s, rules) = stubbed_stack(&world);
    let summary = s.apply().await;
    assert!(summary.ok(), "{summary}");
    assert_eq!(rule(&rules, 1).num_calls(), 1, "one CreateCluster");

    s.set_var("k8s_version", "1.29");
    let plan = s.plan().await;
    let change = plan
        .change(&"aws.eks.cluster.payments".parse().unwrap())
        .unwrap();
    assert_eq!(change.action, Action::Update);
    assert!(change.replace_because.is_empty());
    let summary = s.apply_plan(&plan).await;
    assert!(summary.ok(), "{summary}");
    assert_eq!(rule(&rules, 2).num_calls(), 1, "one UpdateClusterVersion");
    assert_eq!(world.lock().unwrap().version, "1.29");
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
        rule(&rules, 2).num_calls(),
        1,
        "no second UpdateClusterVersion"
    );
}

#[tokio::test]
async fn addon_version_resolved_then_pinned_then_deleted_smithy_mock() {
    let world = Arc::new(Mutex::new(World::default()));
    let (s, rules) = stubbed_stack(&world);
    s.set_var("k8s_version", "1.29");
    assert!(s.apply().await.ok());

    s.set_var("addon", true);
    let summary = s.apply().await;
    assert!(summary.ok(), "{summary}");
    {
        let w = world.lock().unwrap();
        let a = w.addon.as_ref().unwrap();
        assert_eq!(
            a.addon_version(),
            Some("v1.11.1-eksbuild.9"),
            "the default for 1.29"
        );
        assert_eq!(
            a.configuration_values(),
            Some(r#"{"computeType":"Fargate"}"#)
        );
    }
    let addr: Address = "aws.eks.addon.coredns".parse().unwrap();
    assert_eq!(
        s.state().resources[&addr].outputs["addon_version"],
        json!("v1.11.1-eksbuild.9")
    );
    assert_eq!(rule(&rules, 4).num_calls(), 1, "one DescribeAddonVersions");
    assert!(
        !s.plan().await.has_changes(),
        "an unpinned version is not drift"
    );

    s.set_var("addon_version", "v1.11.1-eksbuild.11");
    let plan = s.plan().await;
    assert_eq!(plan.change(&addr).unwrap().action, Action::Update);
    assert!(s.apply_plan(&plan).await.ok());
    assert_eq!(rule(&rules, 7).num_calls(), 1, "one UpdateAddon");
    assert_eq!(
        world
            .lock()
            .unwrap()
            .addon
            .as_ref()
            .unwrap()
            .addon_version(),
        Some("v1.11.1-eksbuild.11")
    );
    assert!(!s.plan().await.has_changes());

    let summary = s.destroy().await;
    assert!(summary.ok(), "{summary}");
    assert!(world.lock().unwrap().addon.is_none());
    assert_eq!(rule(&rules, 8).num_calls(), 1, "one DeleteAddon");
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
