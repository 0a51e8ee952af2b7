//! The Kubernetes layer: apply, refresh, update, drift, conflicts, rollouts
//! and deletes against the Kubernetes API stand-in; Helm releases against
//! the `helm` stand-in; plan-time checks (API versions, quota arithmetic,
//! a missing `helm`).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use payrun::address::Address;
use payrun::apply::{ApplyError, Hook, OpKind, Outcome};
use payrun::plan::{Action, Mode, Plan};
use payrun::provider::Registry;
use payrun::provider::fake::{FakeConfig, FakeProvider};
use payrun::provider::k8s::helm::{HelmConfig, HelmProvider};
use payrun::provider::k8s::{K8sConfig, K8sProvider};
use payrun::ui::PlainView;
use serde_json::json;

use crate::support::engine::{Stack, messages};
use crate::support::helm_standin::HelmStandIn;
use crate::support::kube_standin::{KubeStandIn, Rollout};

fn addr(s: &str) -> Address {
    s.parse().unwrap()
}

fn fast() -> K8sConfig {
    K8sConfig {
        poll: Duration::from_millis(5),
        rollout_timeout: Duration::from_secs(20),
        delete_timeout: Duration::from_secs(20),
        ..K8sConfig::default()
    }
}

pub fn stack(program: &str, helm_path: Option<std::ffi::OsString>) -> Stack {
    let fake = Arc::new(FakeProvider::new(FakeConfig::default()));
    let registry = Registry::new()
        .with("fake", fake.clone())
        .with("k8s", Arc::new(K8sProvider::new(fast())))
        .with(
            "helm",
            Arc::new(HelmProvider::new(HelmConfig {
                path: helm_path,
                ..HelmConfig::default()
            })),
        );
    Stack::with_registry(program, fake, registry)
}

fn actions(plan: &Plan) -> Vec<(String, Action)> {
    plan.changes
        .iter()
        .filter(|c| c.action != Action::NoOp)
        .map(|c| (c.address.to_string(), c.action))
        .collect()
}

/// Progress messages and failures, for tests that look at what apply said.
#[derive(Default)]
struct Recorder(Mutex<Vec<String>>);

impl Hook for Recorder {
    fn started(&self, _: &Address, _: OpKind) {}
    fn progress(&self, address: &Address, _: OpKind, message: &str) {
        self.0.lock().unwrap().push(format!("{address}: {message}"));
    }
    fn finished(&self, address: &Address, _: OpKind, outcome: &Outcome, _: Duration) {
        if let Outcome::Failed { error } = outcome {
            self.0
                .lock()
                .unwrap()
                .push(format!("{address} failed: {error}"));
        }
    }
    fn message(&self, _: &str) {}
    fn summary(&self, _: &payrun::apply::ApplySummary) {}
}

/// The payment platform's Kubernetes layer. `CLUSTER` is replaced with the
/// cluster map.
pub const PLATFORM: &str = r#"
let cluster = CLUSTER;
let namespaces = #{};
let accounts = #{};
for svc in ["payment", "fraud-detection", "reporting"] {
    let ns = k8s::namespace(svc, #{ kube: cluster, pod_security: "restricted" });
    k8s::resource_quota(svc, #{ kube: cluster, namespace: ns, cpu: "2", memory: "4Gi", pods: 20 });
    k8s::limit_range(svc, #{
        kube: cluster, namespace: ns,
        requests: #{ cpu: "250m", memory: "256Mi" },
        limits: #{ cpu: "500m", memory: "512Mi" },
    });
    k8s::network_policy(`${svc}-default-deny`, #{
        kube: cluster, namespace: ns, name: "default-deny", policy_types: ["Ingress", "Egress"],
    });
    k8s::network_policy(`${svc}-allow-dns`, #{
        kube: cluster, namespace: ns, name: "allow-dns", policy_types: ["Egress"],
        egress: [#{
            to: [#{ namespaceSelector: #{ matchLabels: #{ "kubernetes.io/metadata.name": "kube-system" } } }],
            ports: [#{ port: 53, protocol: "UDP" }, #{ port: 53, protocol: "TCP" }],
        }],
    });
    accounts[svc] = k8s::service_account(svc, #{
        kube: cluster, namespace: ns, role: `arn:aws:iam::123456789012:role/irsa-${svc}`,
    });
    namespaces[svc] = ns;
}
let ns = namespaces["payment"];
k8s::network_policy("payment-allow-ingress", #{
    kube: cluster, namespace: ns, name: "allow-from-alb", policy_types: ["Ingress"],
    pod_selector: #{ app: "payment-api" },
    ingress: [#{ from: [#{ ipBlock: #{ cidr: "10.0.0.0/16" } }], ports: [#{ port: 8080, protocol: "TCP" }] }],
});
let secrets = k8s::secret_provider_class("payment-api", #{
    kube: cluster, namespace: ns,
    objects: [#{ name: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:payment/db", alias: "db" }],
});
let api = k8s::deployment("payment-api", #{
    kube: cluster, namespace: ns,
    image: "123456789012.dkr.ecr.eu-west-1.amazonaws.com/payment-api:1.4.2",
    port: 8080, service_account: accounts["payment"],
    requests: #{ cpu: "250m", memory: "512Mi" }, limits: #{ cpu: "500m", memory: "1Gi" },
    readiness: #{ path: "/healthz", initial_delay: 5, period: 10 },
    liveness: #{ path: "/livez" },
    secret_provider: secrets, progress_deadline: 300,
});
let svc = k8s::service("payment-api", #{ kube: cluster, namespace: ns, deployment: api, port: 80, target_port: 8080 });
k8s::ingress("payment-api", #{
    kube: cluster, namespace: ns, service: svc, service_port: 80, host: "pay.example.com",
    certificate_arn: "arn:aws:acm:eu-west-1:123456789012:certificate/4f7c", health_check_path: "/healthz",
});
k8s::hpa("payment-api", #{ kube: cluster, namespace: ns, deployment: api, min_replicas: 2, max_replicas: 3, cpu_utilization: 70 });
k8s::pdb("payment-api", #{ kube: cluster, namespace: ns, deployment: api, min_available: 1 });
k8s::security_group_policy("payment-api", #{
    kube: cluster, namespace: ns, deployment: api, security_groups: ["sg-0123456789abcdef0"],
});
k8s::config_map("payment-api", #{ kube: cluster, namespace: ns, data: #{ LOG_LEVEL: "info" } });
"#;

pub fn platform(cluster: &str) -> String {
    PLATFORM.replace("CLUSTER", cluster)
}

const API: &str = r#"
let cluster = CLUSTER;
let ns = k8s::namespace("payment", #{ kube: cluster });
k8s::resource_quota("payment", #{ kube: cluster, namespace: ns, cpu: "2", memory: "4Gi" });
let sa = k8s::service_account("api", #{ kube: cluster, namespace: ns, role: "arn:aws:iam::123456789012:role/api" });
let api = k8s::deployment("api", #{
    kube: cluster, namespace: ns, image: "api:1", replicas: 2, port: 8080, service_account: sa,
    requests: #{ cpu: "0.25", memory: "256Mi" }, limits: #{ cpu: "0.5", memory: "512Mi" },
    readiness: #{ path: "/healthz" },
});
k8s::service("api", #{ kube: cluster, namespace: ns, deployment: api, port: 80, target_port: 8080 });
"#;

fn api(standin: &KubeStandIn) -> String {
    API.replace("CLUSTER", &standin.cluster_rhai())
}

#[tokio::test]
async fn standin_apply_then_second_plan_is_a_no_op() {
    let k = KubeStandIn::start();
    let s = stack(&api(&k), None);
    let plan = s.plan().await;
    assert_eq!(plan.summary(), (5, 0, 0));
    let summary = s.apply_plan(&plan).await;
    assert!(summary.ok(), "{summary}");

    let d = k.object("deployments", "payment", "api").unwrap();
    assert_eq!(
        d["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"],
        json!(0)
    );
    assert_eq!(
        d["spec"]["template"]["spec"]["serviceAccountName"],
        json!("api")
    );
    // The server's own fields are there: a naive comparison would see drift.
    assert_eq!(d["spec"]["revisionHistoryLimit"], json!(10));
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["cpu"],
        json!("500m")
    );
    let sa = k.object("serviceaccounts", "payment", "api").unwrap();
    assert_eq!(
        sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"],
        json!("arn:aws:iam::123456789012:role/api")
    );
    let state = s.state();
    assert_eq!(
        state.resources[&addr("k8s.namespace.payment")].id,
        "payment"
    );
    assert!(
        state.resources[&addr("k8s.deployment.api")].outputs["uid"]
            .as_str()
            .unwrap()
            .starts_with("uid-")
    );
    // Apply waited for the rollout: the deployment was read until complete.
    let reads = k
        .requests()
        .iter()
        .filter(|r| *r == "GET /apis/apps/v1/namespaces/payment/deployments/api")
        .count();
    assert!(reads >= 2, "{reads}");

    let before = k.requests().len();
    let again = s.plan().await;
    assert!(!again.has_changes(), "{:?}", actions(&again));
    // Refresh lists each resource once per namespace: no per-object reads.
    let mut refresh: Vec<String> = k.requests()[before..].to_vec();
    refresh.sort();
    assert_eq!(
        refresh,
        vec![
            "GET /api/v1/namespaces",
            "GET /api/v1/namespaces/payment/resourcequotas",
            "GET /api/v1/namespaces/payment/serviceaccounts",
            "GET /api/v1/namespaces/payment/services",
            "GET /apis/apps/v1/namespaces/payment/deployments",
        ]
    );
}

/// A state recorded when the Kubernetes kinds' connection was called
/// `cluster` plans no change and no replacement: the old name is read as
/// `kube`, the connection is the same cluster.
#[tokio::test]
async fn a_state_recorded_with_the_old_cluster_argument_plans_no_change() {
    let k = KubeStandIn::start();
    let s = stack(&api(&k), None);
    let summary = s.apply().await;
    assert!(summary.ok(), "{summary}");
    s.record_under_old_name(None, "kube", "cluster");
    let plan = s.plan().await;
    assert!(!plan.has_changes(), "{:?}", actions(&plan));
}

#[tokio::test]
async fn standin_deployment_update_rolls_with_max_unavailable_zero_and_waits() {
    let k = KubeStandIn::start();
    let s = stack(&api(&k), None);
    assert!(s.apply().await.ok());

    s.write(&api(&k).replace("api:1", "api:2"));
    let plan = s.plan().await;
    assert_eq!(
        actions(&plan),
        vec![("k8s.deployment.api".to_string(), Action::Update)]
    );
    let change = plan.change(&addr("k8s.deployment.api")).unwrap();
    assert_eq!(change.changes.len(), 1);
    assert_eq!(change.changes[0].name, "image");

    k.script("api", Rollout::CompleteAfter(4));
    let hook = Arc::new(Recorder::default());
    let summary = s.apply_with(&plan, hook.clone()).await.unwrap();
    assert!(summary.ok(), "{summary}");
    let d = k.object("deployments", "payment", "api").unwrap();
    assert_eq!(d["metadata"]["generation"], json!(2));
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"][0]["image"],
        json!("api:2")
    );
    assert_eq!(
        d["spec"]["strategy"]["rollingUpdate"],
        json!({ "maxUnavailable": 0, "maxSurge": 1 })
    );
    let said = hook.0.lock().unwrap().clone();
    // While rolling, both old replicas stay ready beside one updated pod.
    assert!(
        said.iter()
            .filter(|m| m.starts_with("k8s.deployment.api: rollout")
                && m.contains("2/2 ready, 1 updated"))
            .count()
            >= 3,
        "{said:?}"
    );
    assert!(!s.plan().await.has_changes());
}

#[tokio::test]
async fn standin_failing_rollout_fails_the_apply_with_the_pods_reason() {
    let k = KubeStandIn::start();
    let s = stack(&api(&k), None);
    assert!(s.apply().await.ok());

    s.write(&api(&k).replace("api:1", "api:does-not-exist"));
    k.script(
        "api",
        Rollout::Stall {
            reason: "ImagePullBackOff".into(),
            message: "Back-off pulling image \"api:does-not-exist\"".into(),
        },
    );
    let summary = s.apply().await;
    assert_eq!(summary.failed.len(), 1, "{summary}");
    let (failed, error) = &summary.failed[0];
    assert_eq!(failed, &addr("k8s.deployment.api"));
    assert!(
        error.contains("the rollout of Deployment payment/api failed (progress deadline exceeded)"),
        "{error}"
    );
    assert!(
        error.contains("pod api-5d8f7-x2k9q container api: ImagePullBackOff (Back-off pulling image \"api:does-not-exist\")"),
        "{error}"
    );
    // The failed update is not recorded: the next plan still wants it.
    let again = s.plan().await;
    assert_eq!(
        actions(&again),
        vec![("k8s.deployment.api".to_string(), Action::Update)]
    );
}

#[tokio::test]
async fn standin_rollout_timeout_arg_bounds_the_wait() {
    let k = KubeStandIn::start();
    let s = stack(
        &api(&k).replace("replicas: 2,", "replicas: 2, timeout: 0,"),
        None,
    );
    k.script("api", Rollout::CompleteAfter(1000));
    let summary = s.apply().await;
    assert_eq!(summary.failed.len(), 1, "{summary}");
    assert!(
        summary.failed[0].1.contains("(not complete after 0s)"),
        "{}",
        summary.failed[0].1
    );
}

#[tokio::test]
async fn standin_destroy_deletes_in_the_foreground_namespace_last_and_waits_until_gone() {
    let k = KubeStandIn::start();
    let s = stack(&api(&k), None);
    assert!(s.apply().await.ok());
    assert_eq!(k.keys().len(), 5);

    let plan = s.plan_mode(Mode::Destroy).await;
    assert_eq!(plan.summary(), (0, 0, 5));
    let summary = s.apply_plan(&plan).await;
    assert!(summary.ok(), "{summary}");
    assert!(k.keys().is_empty(), "{:?}", k.keys());
    assert!(
        k.propagation().iter().all(|p| p == "Foreground"),
        "{:?}",
        k.propagation()
    );
    let gone = k.gone();
    assert_eq!(gone.len(), 5);
    assert_eq!(gone.last().unwrap(), "namespaces//payment", "{gone:?}");
    // Each delete finished only once the object answered 404.
    assert!(s.state().resources.is_empty());
}

#[tokio::test]
async fn standin_drift_is_planned_and_fields_of_another_manager_need_force_conflicts() {
    let k = KubeStandIn::start();
    let s = stack(&api(&k), None);
    assert!(s.apply().await.ok());

    k.edit(
        "deployments",
        "payment",
        "api",
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": { "name": "api", "namespace": "payment" },
            "spec": { "replicas": 5 },
        }),
    );
    let plan = s.plan().await;
    let change = plan.change(&addr("k8s.deployment.api")).unwrap();
    assert_eq!(change.action, Action::Update);
    assert_eq!(change.drift.len(), 1, "{:?}", change.drift);
    assert!(
        change.drift[0].contains("spec.replicas") && change.drift[0].contains('5'),
        "{:?}",
        change.drift
    );

    let summary = s.apply_plan(&plan).await;
    assert_eq!(summary.failed.len(), 1);
    let error = &summary.failed[0].1;
    assert!(
        error.contains("conflict with \"kubectl-edit\": /spec/replicas"),
        "{error}"
    );
    assert!(error.contains("set `force_conflicts: true`"), "{error}");

    s.write(&api(&k).replace("replicas: 2,", "replicas: 2, force_conflicts: true,"));
    assert!(s.apply().await.ok());
    let d = k.object("deployments", "payment", "api").unwrap();
    assert_eq!(d["spec"]["replicas"], json!(2));
    assert!(!s.plan().await.has_changes());
}

#[tokio::test]
async fn standin_object_deleted_outside_payrun_is_created_again() {
    let k = KubeStandIn::start();
    let s = stack(&api(&k), None);
    assert!(s.apply().await.ok());
    k.remove("services", "payment", "api");
    let plan = s.plan().await;
    let change = plan.change(&addr("k8s.service.api")).unwrap();
    assert_eq!(change.action, Action::Create);
    assert_eq!(change.drift, vec!["deleted outside payrun".to_string()]);
    assert!(s.apply_plan(&plan).await.ok());
    assert!(k.object("services", "payment", "api").is_some());
}

#[tokio::test]
async fn standin_generic_object_of_a_custom_kind_found_by_discovery() {
    let k = KubeStandIn::start();
    let program = format!(
        r#"
let cluster = {};
let ns = k8s::namespace("payment", #{{ kube: cluster }});
k8s::object("fraud-rules", #{{ kube: cluster, manifest: #{{
    apiVersion: "example.com/v1", kind: "Widget",
    metadata: #{{ name: "fraud-rules", namespace: ns }},
    spec: #{{ size: 3 }},
}} }});
"#,
        k.cluster_rhai()
    );
    let s = stack(&program, None);
    assert!(s.apply().await.ok());
    let w = k.object("widgets", "payment", "fraud-rules").unwrap();
    assert_eq!(w["spec"]["size"], json!(3));
    assert!(
        k.requests()
            .contains(&"GET /apis/example.com/v1".to_string())
    );
    assert!(!s.plan().await.has_changes());
    s.write(&program.replace("size: 3", "size: 4"));
    let plan = s.plan().await;
    assert_eq!(
        actions(&plan),
        vec![("k8s.object.fraud-rules".to_string(), Action::Update)]
    );
    assert!(s.apply_plan(&plan).await.ok());
    assert_eq!(
        k.object("widgets", "payment", "fraud-rules").unwrap()["spec"]["size"],
        json!(4)
    );

    // Renamed in the manifest: the new object is applied, the old deleted.
    s.write(&program.replace("name: \"fraud-rules\"", "name: \"fraud-rules-v2\""));
    assert!(s.apply().await.ok());
    assert!(k.object("widgets", "payment", "fraud-rules").is_none());
    assert!(k.object("widgets", "payment", "fraud-rules-v2").is_some());
}

#[tokio::test]
async fn standin_the_platform_applies_and_plans_clean() {
    let k = KubeStandIn::start();
    let s = stack(&platform(&k.cluster_rhai()), None);
    let plan = s.plan().await;
    assert!(
        plan.findings.iter().all(|f| f.code != "k8s-quota-exceeded"),
        "{:?}",
        plan.findings
    );
    let summary = s.apply_plan(&plan).await;
    assert!(summary.ok(), "{summary}");
    let ing = k.object("ingresses", "payment", "payment-api").unwrap();
    assert_eq!(
        ing["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"],
        json!("payment-api")
    );
    let np = k
        .object("networkpolicies", "fraud-detection", "default-deny")
        .unwrap();
    assert_eq!(np["spec"]["policyTypes"], json!(["Ingress", "Egress"]));
    assert!(!s.plan().await.has_changes());
}

#[tokio::test]
async fn kubernetes_kinds_plan_as_creates_before_the_cluster_exists() {
    // The cluster's endpoint and name come from a resource not yet created:
    // no client is built, nothing is read.
    let program = r#"
let eks = fake::server("cluster", #{ subnet_id: "subnet-1", size: "large" });
let cluster = #{ name: eks.id, endpoint: eks.endpoint, ca_data: eks.arn, version: "1.28" };
let ns = k8s::namespace("payment", #{ kube: cluster });
k8s::service_account("api", #{ kube: cluster, namespace: ns, role: "arn:aws:iam::1:role/api" });
"#;
    let s = stack(program, None);
    let plan = s.plan().await;
    assert_eq!(plan.summary(), (3, 0, 0));
    let sa = plan.change(&addr("k8s.service_account.api")).unwrap();
    assert!(sa.deps.contains(&addr("k8s.namespace.payment")));
    assert!(sa.deps.contains(&addr("fake.server.cluster")));
}

#[tokio::test]
async fn plan_rejects_api_versions_the_cluster_does_not_serve() {
    let program = r#"
let cluster = #{ kubeconfig: "/nowhere", context: "x", version: "1.28" };
k8s::object("old-pdb", #{ kube: cluster, manifest: #{
    apiVersion: "policy/v1beta1", kind: "PodDisruptionBudget",
    metadata: #{ name: "api", namespace: "payment" }, spec: #{ minAvailable: 1 },
} });
let old = #{ kubeconfig: "/nowhere", context: "x", version: "1.22" };
k8s::hpa("api", #{ kube: old, namespace: "payment", deployment: "api", min_replicas: 1, max_replicas: 2 });
"#;
    let s = stack(program, None);
    let plan = s.plan().await;
    let mut errors: Vec<String> = plan
        .findings
        .iter()
        .filter(|f| f.code.starts_with("k8s-api"))
        .map(|f| format!("{}: {}", f.code, f.message))
        .collect();
    errors.sort();
    assert_eq!(
        errors,
        vec![
            "k8s-api-not-served: k8s.hpa.api: autoscaling/v2 HorizontalPodAutoscaler is served from Kubernetes 1.23; the cluster runs 1.22",
            "k8s-api-removed: k8s.object.old-pdb: policy/v1beta1 PodDisruptionBudget is no longer served since Kubernetes 1.25; the cluster runs 1.28",
        ]
    );
    assert!(plan.has_errors());
}

#[tokio::test]
async fn plan_checks_quota_arithmetic_at_the_height_of_a_rollout() {
    let program = r#"
let cluster = #{ kubeconfig: "/nowhere", context: "x" };
let ns = k8s::namespace("payment", #{ kube: cluster });
k8s::resource_quota("payment", #{ kube: cluster, namespace: ns, cpu: "2", memory: "4Gi" });
let api = k8s::deployment("api", #{ kube: cluster, namespace: ns, image: "api:1", replicas: 2,
    requests: #{ cpu: "250m", memory: "512Mi" }, limits: #{ cpu: "500m", memory: "1Gi" } });
k8s::hpa("api", #{ kube: cluster, namespace: ns, deployment: api, min_replicas: 2, max_replicas: 4 });
k8s::deployment("worker", #{ kube: cluster, namespace: ns, image: "worker:1",
    requests: #{ cpu: "100m", memory: "128Mi" } });
"#;
    let s = stack(program, None);
    let plan = s.plan().await;
    let found: Vec<String> = plan
        .findings
        .iter()
        .filter(|f| f.code.starts_with("k8s-quota"))
        .map(|f| format!("{}: {}", f.code, f.message))
        .collect();
    assert_eq!(
        found,
        vec![
            "k8s-quota-needs-resources: k8s.deployment.worker: namespace payment has a ResourceQuota on limits.cpu, but the deployment sets no limits.cpu and no LimitRange gives a default; its pods would be rejected",
            "k8s-quota-needs-resources: k8s.deployment.worker: namespace payment has a ResourceQuota on limits.memory, but the deployment sets no limits.memory and no LimitRange gives a default; its pods would be rejected",
            "k8s-quota-exceeded: namespace payment: workloads need 2500m of limits.cpu at the height of a rollout (api: (4 + 1 surge) × 500m), but its quota allows 2",
            "k8s-quota-exceeded: namespace payment: workloads need 5Gi of limits.memory at the height of a rollout (api: (4 + 1 surge) × 1Gi), but its quota allows 4Gi",
        ]
    );
}

const RELEASE: &str = r#"
let cluster = CLUSTER;
helm::release("lb-controller", #{
    kube: cluster, chart: "aws-load-balancer-controller", repo: "https://aws.github.io/eks-charts",
    version: "1.6.2", namespace: "kube-system",
    values: #{ clusterName: "payments", replicaCount: 2, serviceAccount: #{ create: false, name: "lb" } },
});
"#;

#[tokio::test]
async fn standin_helm_release_installs_reads_back_and_upgrades() {
    let k = KubeStandIn::start();
    let helm = HelmStandIn::new();
    let program = RELEASE.replace("CLUSTER", &k.cluster_rhai());
    let s = stack(&program, Some(helm.path()));
    assert!(s.apply().await.ok());

    let calls = helm.calls();
    let install = calls.iter().find(|c| c.starts_with("upgrade")).unwrap();
    let kubeconfig = k.kubeconfig().display().to_string();
    assert!(install.starts_with(
        "upgrade --install lb-controller aws-load-balancer-controller --namespace kube-system --repo https://aws.github.io/eks-charts --version 1.6.2 --values "
    ), "{install}");
    assert!(
        install.ends_with(&format!(
            "--atomic --wait --timeout 600s --kubeconfig {kubeconfig} --kube-context standin"
        )),
        "{install}"
    );
    assert_eq!(
        helm.values("lb-controller").unwrap(),
        json!({ "clusterName": "payments", "replicaCount": 2, "serviceAccount": { "create": false, "name": "lb" } })
    );
    // The values file is removed once helm is done with it.
    let values_file = install
        .split("--values ")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap();
    assert!(!std::path::Path::new(values_file).exists());
    assert_eq!(
        s.state().resources[&addr("helm.release.lb-controller")].outputs["revision"],
        json!("1")
    );

    assert!(!s.plan().await.has_changes());
    assert!(
        helm.calls()
            .iter()
            .any(|c| c.starts_with("status lb-controller --namespace kube-system -o json"))
    );
    assert!(
        helm.calls()
            .iter()
            .any(|c| c.starts_with("get values lb-controller --namespace kube-system -o json"))
    );

    // Values changed by hand show as drift and are put back.
    helm.set_values(
        "lb-controller",
        json!({ "clusterName": "payments", "replicaCount": 1 }),
    );
    let plan = s.plan().await;
    let change = plan.change(&addr("helm.release.lb-controller")).unwrap();
    assert_eq!(change.action, Action::Update);
    assert!(
        change.drift[0].starts_with("`values` changed outside payrun"),
        "{:?}",
        change.drift
    );

    s.write(&program.replace("1.6.2", "1.7.1"));
    let plan = s.plan().await;
    let change = plan.change(&addr("helm.release.lb-controller")).unwrap();
    let changed: Vec<&str> = change.changes.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(changed, vec!["values", "version"]);
    assert!(s.apply_plan(&plan).await.ok());
    assert_eq!(
        s.state().resources[&addr("helm.release.lb-controller")].outputs["revision"],
        json!("2")
    );
    assert!(!s.plan().await.has_changes());

    let plan = s.plan_mode(Mode::Destroy).await;
    assert!(s.apply_plan(&plan).await.ok());
    assert!(
        helm.calls()
            .last()
            .unwrap()
            .starts_with("uninstall lb-controller --namespace kube-system --wait")
    );
}

#[tokio::test]
async fn standin_helm_failure_reports_the_rollback() {
    let k = KubeStandIn::start();
    let helm = HelmStandIn::new();
    helm.fail_upgrades("timed out waiting for the condition");
    let s = stack(
        &RELEASE.replace("CLUSTER", &k.cluster_rhai()),
        Some(helm.path()),
    );
    let summary = s.apply().await;
    assert_eq!(summary.failed.len(), 1);
    assert!(
        summary.failed[0]
            .1
            .contains("rolled back due to atomic being set: timed out waiting for the condition"),
        "{}",
        summary.failed[0].1
    );
    assert!(s.state().resources.is_empty());
}

/// Guards against a delete that drops a live release from state because
/// helm failed with "not found" somewhere in its message: only helm's own
/// release-not-found error means the release is gone.
#[tokio::test]
async fn a_helm_delete_that_cannot_reach_the_cluster_fails_and_keeps_the_release() {
    let k = KubeStandIn::start();
    let helm = HelmStandIn::new();
    let s = stack(
        &RELEASE.replace("CLUSTER", &k.cluster_rhai()),
        Some(helm.path()),
    );
    assert!(s.apply().await.ok());
    let working = std::fs::read_to_string(k.kubeconfig()).unwrap();
    let config: serde_json::Value = serde_json::from_str(&working).unwrap();
    let kubeconfig = k.kubeconfig().display().to_string();
    let server = config["clusters"][0]["cluster"]["server"]
        .as_str()
        .unwrap()
        .to_string();
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut no_context = config.clone();
    no_context["contexts"][0]["name"] = json!("elsewhere");
    let mut no_plugin = config.clone();
    no_plugin["users"][0]["user"] = json!({ "exec": { "apiVersion": "client.authentication.k8s.io/v1beta1", "command": "payrun-no-such-plugin" } });
    let mut down = config.clone();
    down["clusters"][0]["cluster"]["server"] = json!(format!("http://127.0.0.1:{closed}"));
    let cases = [
        (
            Some(no_context),
            "Error: Kubernetes cluster unreachable: context \"standin\" does not exist".to_string(),
        ),
        (
            None,
            format!(
                "Error: Kubernetes cluster unreachable: stat {kubeconfig}: no such file or directory"
            ),
        ),
        (
            Some(no_plugin),
            format!(
                "Error: Kubernetes cluster unreachable: Get \"{server}/version\": getting credentials: exec: executable payrun-no-such-plugin not found"
            ),
        ),
        (
            Some(down),
            format!(
                "Error: Kubernetes cluster unreachable: Get \"http://127.0.0.1:{closed}/version\": dial tcp 127.0.0.1:{closed}: connect: connection refused"
            ),
        ),
    ];
    for (broken, helm_says) in cases {
        std::fs::write(k.kubeconfig(), &working).unwrap();
        let plan = s.plan_mode(Mode::Destroy).await;
        match broken {
            Some(config) => std::fs::write(k.kubeconfig(), config.to_string()).unwrap(),
            None => std::fs::remove_file(k.kubeconfig()).unwrap(),
        }
        let summary = s.apply_plan(&plan).await;
        assert_eq!(
            summary.failed,
            vec![(
                addr("helm.release.lb-controller"),
                format!(
                    "helm uninstall lb-controller failed: {helm_says}\n  fix: make the release's kubeconfig and context exist and reach the cluster, then run payrun again; the release stays in state until helm says it is gone"
                ),
            )]
        );
        assert!(
            s.state()
                .resources
                .contains_key(&addr("helm.release.lb-controller")),
            "{helm_says}: the release left state"
        );
        assert!(helm.values("lb-controller").is_some());
    }

    // Reachable again, and uninstalled by hand since the plan: helm's
    // "Release not loaded" is the one answer that means gone.
    std::fs::write(k.kubeconfig(), &working).unwrap();
    let plan = s.plan_mode(Mode::Destroy).await;
    helm.forget("lb-controller");
    assert!(s.apply_plan(&plan).await.ok());
    assert!(s.state().resources.is_empty());
    assert_eq!(
        helm.calls().last().unwrap(),
        &format!(
            "uninstall lb-controller --namespace kube-system --wait --kubeconfig {kubeconfig} --kube-context standin"
        )
    );
}

#[tokio::test]
async fn without_helm_plan_warns_and_apply_refuses_before_changing_anything() {
    let k = KubeStandIn::start();
    let empty = tempfile::tempdir().unwrap();
    let program = format!(
        "let ns = k8s::namespace(\"payment\", #{{ kube: {} }});\n{}",
        k.cluster_rhai(),
        RELEASE.replace("CLUSTER", &k.cluster_rhai())
    );
    let s = stack(&program, Some(empty.path().as_os_str().to_owned()));
    let (graph, _) = s.evaluate().unwrap();
    let findings = payrun::check::helm_findings(&graph, Some(empty.path().as_os_str()));
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0].code, "helm-missing");
    assert_eq!(findings[0].severity, payrun::finding::Severity::Warning);
    let with_helm = HelmStandIn::new();
    assert!(payrun::check::helm_findings(&graph, Some(&with_helm.path())).is_empty());

    let plan = s.plan().await;
    let hook: Arc<dyn Hook> = Arc::new(PlainView::new(Box::new(std::io::sink())));
    let err = s.apply_with(&plan, hook).await.unwrap_err();
    assert!(matches!(err, ApplyError::Preflight(_)));
    assert!(err.to_string().contains("`helm` is not on PATH"), "{err}");
    // Nothing was applied: not even the namespace, which needs no helm.
    assert!(k.keys().is_empty());
    assert!(s.state().resources.is_empty());
}

#[tokio::test]
async fn plan_warns_when_a_declared_namespace_is_named_as_text() {
    let program = r#"
let cluster = #{ kubeconfig: "/nowhere", context: "x" };
k8s::namespace("payment", #{ kube: cluster });
k8s::config_map("flags", #{ kube: cluster, namespace: "payment", data: #{ a: "b" } });
k8s::config_map("other", #{ kube: cluster, namespace: "kube-system", data: #{ a: "b" } });
"#;
    let s = stack(program, None);
    let plan = s.plan().await;
    let warnings = messages(&plan, "k8s-namespace-by-name");
    assert_eq!(
        warnings,
        vec![
            "k8s.config_map.flags names namespace `payment` as text, so it is not ordered after k8s.namespace.payment"
        ]
    );
}

/// A secret the program marks in helm values, a Deployment's environment
/// and a Secret's `stringData`: it reaches the cluster, and neither it, nor
/// a value changed by hand there, nor their plain SHA-256 reaches a plan,
/// its JSON or anything in the state directory, after apply and after a
/// refresh that finds drift.
#[tokio::test]
async fn standin_secrets_read_back_are_sealed_in_plans_and_state() {
    const SECRET: &str = "db-pass-5e1f0c-never-planned";
    const EDITED_ENV: &str = "env-edited-by-hand-77a1";
    const EDITED_HELM: &str = "helm-edited-by-hand-93c2";
    // SAFETY: this variable is read by this test only.
    unsafe { std::env::set_var("K8S_SEALED_DB_PASSWORD", SECRET) };
    let k = KubeStandIn::start();
    let helm = HelmStandIn::new();
    let program = r#"
let cluster = CLUSTER;
let ns = k8s::namespace("payment", #{ kube: cluster });
k8s::deployment("api", #{
    kube: cluster, namespace: ns, image: "api:1", replicas: 1, force_conflicts: true,
    env: #{
        DB_PASSWORD: secret_env("K8S_SEALED_DB_PASSWORD"),
        API_TOKEN: #{ secret: "api", key: "token" },
        LOG_LEVEL: "info",
    },
});
k8s::object("db", #{ kube: cluster, manifest: #{
    apiVersion: "v1", kind: "Secret", metadata: #{ name: "db", namespace: "payment" },
    stringData: #{ password: secret_env("K8S_SEALED_DB_PASSWORD") },
} });
helm::release("app", #{
    kube: cluster, chart: "app", repo: "https://charts.example.com", version: "1.0.0", namespace: "payment",
    values: #{ replicaCount: 1, db: #{ password: secret_env("K8S_SEALED_DB_PASSWORD") } },
});
"#
    .replace("CLUSTER", &k.cluster_rhai());
    let s = stack(&program, Some(helm.path()));
    s.allow_secret_env("K8S_SEALED_DB_PASSWORD");
    let leaks = |what: &str, text: &str| {
        for needle in [
            SECRET.to_string(),
            EDITED_ENV.to_string(),
            EDITED_HELM.to_string(),
            plain_sha256(SECRET),
            plain_sha256(EDITED_ENV),
            plain_sha256(EDITED_HELM),
        ] {
            assert!(!text.contains(&needle), "{what} holds {needle}: {text}");
        }
    };
    let check_plan = |plan: &Plan| {
        leaks(
            "the plan",
            &payrun::ui::render_plan(plan, &payrun::ui::Style::plain()),
        );
        leaks("the plan's JSON", &serde_json::to_string(plan).unwrap());
    };
    check_plan(&s.plan().await);
    assert!(s.apply().await.ok());

    // It reached the cluster and the release.
    let d = k.object("deployments", "payment", "api").unwrap();
    let env = &d["spec"]["template"]["spec"]["containers"][0]["env"];
    assert!(
        env.as_array()
            .unwrap()
            .contains(&json!({ "name": "DB_PASSWORD", "value": SECRET })),
        "{env}"
    );
    assert!(
        env.as_array().unwrap().contains(&json!({
            "name": "API_TOKEN", "valueFrom": { "secretKeyRef": { "name": "api", "key": "token" } },
        })),
        "{env}"
    );
    use base64::Engine;
    let stored = k.object("secrets", "payment", "db").unwrap();
    assert_eq!(
        stored["data"]["password"],
        json!(base64::engine::general_purpose::STANDARD.encode(SECRET))
    );
    assert_eq!(helm.values("app").unwrap()["db"]["password"], json!(SECRET));

    // Read back unchanged: compared by digest, no change planned.
    let plan = s.plan().await;
    check_plan(&plan);
    assert_eq!(actions(&plan), vec![]);

    // Changed by hand in the cluster and in the release.
    k.edit(
        "deployments",
        "payment",
        "api",
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": { "name": "api", "namespace": "payment" },
            "spec": { "template": { "spec": { "containers": [
                { "name": "api", "env": [{ "name": "DB_PASSWORD", "value": EDITED_ENV }] },
            ] } } },
        }),
    );
    helm.set_values(
        "app",
        json!({ "replicaCount": 1, "db": { "password": EDITED_HELM } }),
    );
    let plan = s.plan().await;
    check_plan(&plan);
    assert_eq!(
        actions(&plan),
        vec![
            ("helm.release.app".to_string(), Action::Update),
            ("k8s.deployment.api".to_string(), Action::Update),
        ]
    );
    for address in ["helm.release.app", "k8s.deployment.api"] {
        let drift = &plan.change(&addr(address)).unwrap().drift;
        assert!(
            drift.iter().any(|d| d.contains("(sensitive)")),
            "{address}: {drift:?}"
        );
    }
    assert!(s.apply_plan(&plan).await.ok());
    assert_eq!(helm.values("app").unwrap()["db"]["password"], json!(SECRET));
    let d = k.object("deployments", "payment", "api").unwrap();
    let env = &d["spec"]["template"]["spec"]["containers"][0]["env"];
    assert!(
        env.as_array()
            .unwrap()
            .contains(&json!({ "name": "DB_PASSWORD", "value": SECRET })),
        "{env}"
    );
    let plan = s.plan().await;
    check_plan(&plan);
    assert_eq!(actions(&plan), vec![]);

    // Nothing in the state directory (state, backups, key) holds them.
    for entry in std::fs::read_dir(s.dir.path().join(".payrun")).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        leaks(
            &path.display().to_string(),
            &String::from_utf8_lossy(&bytes),
        );
    }
    let plan = s.plan_mode(Mode::Destroy).await;
    check_plan(&plan);
    assert!(s.apply_plan(&plan).await.ok());
}

/// `printf VALUE | sha256sum`.
fn plain_sha256(value: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(value.as_bytes()))
}

/// A Secret's values written in the program would sit in state and plans.
#[tokio::test]
async fn a_secret_written_in_the_open_is_a_script_error() {
    let s = stack(
        r#"
let cluster = #{ kubeconfig: "/k", context: "c" };
k8s::object("db", #{ kube: cluster, manifest: #{
    apiVersion: "v1", kind: "Secret", metadata: #{ name: "db", namespace: "payment" },
    stringData: #{ password: "hunter2" },
} });
"#,
        None,
    );
    let Err(e) = s.evaluate() else {
        panic!("a Secret's value in the program was accepted")
    };
    let e = e.to_string();
    assert!(
        e.contains("`manifest.stringData.password` of k8s::object(\"db\") is a Secret's value and must not be written in the program"),
        "{e}"
    );
    assert!(e.contains("main.rhai:3:6"), "{e}");
    assert!(
        e.contains("fix: read it at apply time: `stringData: #{ password: secret_env(\"NAME\") }`"),
        "{e}"
    );
}

/// Two stacks on one cluster: each object carries its stack's label and is
/// applied under its stack's field manager; an object of one stack
/// declared in the other is refused naming its owner, never taken over.
#[tokio::test]
async fn standin_two_stacks_share_a_cluster_and_never_take_over_each_others_objects() {
    let k = KubeStandIn::start();
    let program = |ns: &str| {
        format!(
            r#"
let cluster = {};
let ns = k8s::namespace("{ns}", #{{ kube: cluster }});
k8s::config_map("settings", #{{ kube: cluster, namespace: ns, data: #{{ LOG_LEVEL: "info" }} }});
"#,
            k.cluster_rhai()
        )
    };
    let mut qa = stack(&program("payment-qa"), None);
    qa.suffix = "qa".into();
    let mut perf = stack(&program("payment-perf"), None);
    perf.suffix = "perf".into();
    assert!(qa.apply().await.ok());
    assert!(perf.apply().await.ok());
    let ns = k.object("namespaces", "", "payment-qa").unwrap();
    assert_eq!(ns["metadata"]["labels"]["payrun/stack"], json!("main.qa"));
    let ns = k.object("namespaces", "", "payment-perf").unwrap();
    assert_eq!(ns["metadata"]["labels"]["payrun/stack"], json!("main.perf"));
    // Each plan is about its own objects only.
    for s in [&qa, &perf] {
        let plan = s.plan().await;
        assert!(!plan.has_changes(), "{:?}", actions(&plan));
        assert_eq!(plan.changes.len(), 2);
    }

    // perf declares qa's namespace too.
    perf.write(&format!(
        "{}\nk8s::namespace(\"payment-qa\", #{{ kube: {} }});\n",
        program("payment-perf"),
        k.cluster_rhai()
    ));
    let summary = perf.apply().await;
    assert_eq!(summary.failed.len(), 1, "{:?}", summary.failed);
    let (address, error) = &summary.failed[0];
    assert_eq!(address.to_string(), "k8s.namespace.payment-qa");
    assert!(
        error.contains(
            "Namespace payment-qa belongs to stack main.qa, which payrun does not take over"
        ),
        "{error}"
    );
    // Still qa's, unchanged, and qa has nothing to do.
    let ns = k.object("namespaces", "", "payment-qa").unwrap();
    assert_eq!(ns["metadata"]["labels"]["payrun/stack"], json!("main.qa"));
    assert!(!qa.plan().await.has_changes());
}

const LB_CONTROLLER: &str = r#"
let cluster = CLUSTER;
let ns = k8s::namespace("payment", #{ kube: cluster });
let controller = helm::release("aws-load-balancer-controller", #{
    kube: cluster, chart: "aws-load-balancer-controller", repo: "https://aws.github.io/eks-charts",
    version: "1.7.2", namespace: "kube-system", values: #{ clusterName: "payments" },
});
let api = k8s::deployment("api", #{ kube: cluster, namespace: ns, image: "api:1", replicas: 1, port: 8080 });
let svc = k8s::service("api", #{ kube: cluster, namespace: ns, deployment: api, port: 80, target_port: 8080 });
let ingress = k8s::ingress("api", #{ kube: cluster, namespace: ns, service: svc, service_port: 80, health_check_path: "/healthz" });
WIRING
"#;

/// An ALB Ingress depends on the load balancer controller: created after
/// it runs, deleted while it still runs, so the controller deletes the ALB
/// and lifts the finalizer before it is uninstalled. The stand-in keeps a
/// deleted Ingress for ever once the controller is gone, as EKS does.
#[tokio::test]
async fn standin_an_alb_ingress_goes_before_its_controller() {
    let k = KubeStandIn::start();
    let helm = HelmStandIn::new();
    let program = LB_CONTROLLER
        .replace("CLUSTER", &k.cluster_rhai())
        .replace("WIRING", "depends_on(ingress, controller);");
    let s = stack(&program, Some(helm.path()));
    let plan = s.plan().await;
    assert!(
        !plan
            .findings
            .iter()
            .any(|f| f.code == "k8s-controller-order"),
        "{:?}",
        plan.findings
    );
    assert!(s.apply_plan(&plan).await.ok());
    assert!(
        k.object("deployments", "kube-system", "aws-load-balancer-controller")
            .is_some()
    );
    let ingress = k.object("ingresses", "payment", "api").unwrap();
    assert_eq!(
        ingress["metadata"]["finalizers"],
        json!(["ingress.k8s.aws/resources"])
    );
    assert_eq!(k.albs(), vec!["ingresses/payment/api".to_string()]);

    let plan = s.plan_mode(Mode::Destroy).await;
    assert!(s.apply_plan(&plan).await.ok());
    assert_eq!(
        k.alb_events(),
        vec![
            "created ingresses/payment/api".to_string(),
            "deleted ingresses/payment/api".to_string()
        ]
    );
    assert!(k.albs().is_empty());
    assert!(k.keys().is_empty(), "{:?}", k.keys());
    let uninstall = helm
        .calls()
        .iter()
        .position(|c| c.starts_with("uninstall aws-load-balancer-controller"))
        .unwrap();
    assert!(uninstall > 0);
}

/// Without the edge the plan says what a destroy would leave behind.
#[tokio::test]
async fn an_alb_ingress_without_a_path_to_its_controller_is_an_error() {
    let program = LB_CONTROLLER
        .replace("CLUSTER", "#{ kubeconfig: \"/k\", context: \"c\" }")
        .replace("WIRING", "");
    let s = stack(&program, None);
    let plan = s.plan().await;
    let f = plan
        .findings
        .iter()
        .find(|f| f.code == "k8s-controller-order")
        .unwrap();
    assert_eq!(f.severity, payrun::finding::Severity::Error);
    assert_eq!(
        f.message,
        "k8s.ingress.api is served by helm.release.aws-load-balancer-controller (an ALB) but does not depend on it: a destroy could uninstall the controller first and leave the cloud resources behind it, holding the subnets"
    );
    assert!(
        f.remedy
            .as_deref()
            .unwrap()
            .starts_with("make it depend on the controller: `depends_on(ingress, lbc.release)`"),
        "{:?}",
        f.remedy
    );
}

/// Every operation of an apply, in the order they started and finished.
#[derive(Default)]
struct Timeline(Mutex<Vec<String>>);

impl Hook for Timeline {
    fn started(&self, address: &Address, op: OpKind) {
        self.0
            .lock()
            .unwrap()
            .push(format!("start {} {address}", op.verb_ing()));
    }
    fn progress(&self, _: &Address, _: OpKind, _: &str) {}
    fn finished(&self, address: &Address, op: OpKind, _: &Outcome, _: Duration) {
        self.0
            .lock()
            .unwrap()
            .push(format!("done {} {address}", op.verb_ing()));
    }
    fn message(&self, _: &str) {}
    fn summary(&self, _: &payrun::apply::ApplySummary) {}
}

const PODS_SECURITY_GROUP: &str = r#"
let cluster = CLUSTER;
let vpc = aws::ec2::vpc("pods", #{ cidr: "10.7.0.0/16" });
let sg = aws::ec2::security_group("api", #{ vpc: vpc, description: DESCRIPTION });
let ns = k8s::namespace("payment", #{ kube: cluster });
let api = k8s::deployment("api", #{ kube: cluster, namespace: ns, image: "api:1", replicas: 1, port: 8080 });
k8s::security_group_policy("api", #{ kube: cluster, namespace: ns, deployment: api, security_groups: [sg.id] });
"#;

/// A forced replacement of the security group the payment pods run in
/// (its description changed), against moto and the Kubernetes stand-in:
/// the new group exists before the SecurityGroupPolicy moves to it, and
/// the old group is deleted only once nothing points at it.
#[tokio::test]
async fn standin_a_pods_security_group_is_replaced_before_the_old_one_goes_on_moto() {
    let k = KubeStandIn::start();
    let program = |description: &str| {
        PODS_SECURITY_GROUP
            .replace("CLUSTER", &k.cluster_rhai())
            .replace("DESCRIPTION", &format!("{description:?}"))
    };
    let fake = Arc::new(FakeProvider::new(FakeConfig::default()));
    let registry = Registry::new()
        .with("aws", Arc::new(crate::support::moto::provider()))
        .with("k8s", Arc::new(K8sProvider::new(fast())));
    let mut s = Stack::with_registry(&program("payment api pods"), fake, registry);
    s.suffix = "sgcbd".into();
    assert!(s.apply().await.ok());
    let sg = addr("aws.ec2.security_group.api");
    let old = s.state().resources[&sg].id.clone();
    let policy = || {
        k.object("securitygrouppolicies", "payment", "api").unwrap()["spec"]["securityGroups"]
            ["groupIds"]
            .clone()
    };
    assert_eq!(policy(), json!([old]));

    s.write(&program("payment api pods, PCI zone"));
    let plan = s.plan().await;
    let change = plan.change(&sg).unwrap();
    assert_eq!(change.action, Action::Replace);
    assert!(change.create_before_destroy, "{change:?}");
    assert_eq!(change.name, "sg-api-sgcbd-2");
    let sgp = addr("k8s.security_group_policy.api");
    assert_eq!(plan.change(&sgp).unwrap().action, Action::Update);

    let timeline = Arc::new(Timeline::default());
    let summary = s.apply_with(&plan, timeline.clone()).await.unwrap();
    assert!(summary.ok(), "{summary}");
    let events = timeline.0.lock().unwrap().clone();
    let at = |e: &str| {
        events
            .iter()
            .position(|x| x == e)
            .unwrap_or_else(|| panic!("no `{e}` in {events:?}"))
    };
    assert!(
        at("done creating aws.ec2.security_group.api")
            < at("start updating k8s.security_group_policy.api"),
        "{events:?}"
    );
    assert!(
        at("done updating k8s.security_group_policy.api")
            < at("start destroying aws.ec2.security_group.api"),
        "{events:?}"
    );
    let new = s.state().resources[&sg].id.clone();
    assert_ne!(new, old);
    assert_eq!(policy(), json!([new]));
    let ec2 = aws_sdk_ec2::Client::new(&crate::support::moto::sdk_config().await);
    let live: Vec<String> = ec2
        .describe_security_groups()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("group-id")
                .values(&old)
                .values(&new)
                .build(),
        )
        .send()
        .await
        .unwrap()
        .security_groups()
        .iter()
        .filter_map(|g| g.group_id().map(String::from))
        .collect();
    assert_eq!(live, vec![new], "the old group is gone, the new one live");
    assert!(!s.plan().await.has_changes());
    assert!(s.destroy().await.ok());
}
