//! EKS tokens that last the wait: kube clients sign a new token once the
//! last has lived its lifetime, so a rollout longer than a token's life
//! still succeeds against the stand-in as an EKS cluster (which refuses
//! old tokens, as EKS does after 15 minutes); helm gets an exec credential
//! that runs payrun, never a token.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use payrun::provider::Registry;
use payrun::provider::aws::AwsSettings;
use payrun::provider::fake::{FakeConfig, FakeProvider};
use payrun::provider::k8s::helm::{HelmConfig, HelmProvider};
use payrun::provider::k8s::{K8sConfig, K8sProvider};

use crate::support::engine::Stack;
use crate::support::helm_standin::HelmStandIn;
use crate::support::kube_standin::{KubeStandIn, Rollout};
use crate::support::moto::moto;

/// Not the region of the environment (`us-east-1`): tokens must be signed
/// with the provider's settings.
const REGION: &str = "eu-central-1";

/// How old a token the stand-in still lets in.
const ACCEPTED_FOR: Duration = Duration::from_secs(3);

const DEPLOYMENT: &str = r#"
let cluster = CLUSTER;
let ns = k8s::namespace("payment", #{ kube: cluster });
k8s::deployment("api", #{
    kube: cluster, namespace: ns, image: "api:1", replicas: 2, port: 8080,
    requests: #{ cpu: "0.25", memory: "256Mi" }, limits: #{ cpu: "0.5", memory: "512Mi" },
    readiness: #{ path: "/healthz" },
});
"#;

fn settings() -> AwsSettings {
    AwsSettings {
        region: Some(REGION.into()),
        // Credentials come from the environment moto's harness sets.
        endpoint_url: Some(moto().endpoint.clone()),
        profile: None,
        retry_budget: Some(Duration::from_secs(15)),
        request_timeout: None,
    }
}

fn k8s_stack(program: &str, token_lifetime: Duration) -> Stack {
    let fake = Arc::new(FakeProvider::new(FakeConfig::default()));
    let k8s = K8sProvider::new(K8sConfig {
        poll: Duration::from_millis(250),
        rollout_timeout: Duration::from_secs(60),
        delete_timeout: Duration::from_secs(60),
        aws: settings(),
        token_lifetime,
        ..K8sConfig::default()
    });
    let registry = Registry::new()
        .with("fake", fake.clone())
        .with("k8s", Arc::new(k8s));
    Stack::with_registry(program, fake, registry)
}

/// The presigned URL inside an EKS token.
fn signed_url(token: &str) -> String {
    let encoded = token.strip_prefix("k8s-aws-v1.").unwrap();
    String::from_utf8(
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(encoded)
            .unwrap(),
    )
    .unwrap()
}

/// A rollout that takes about seven seconds: longer than two token
/// lifetimes of the stand-in.
fn long_rollout(k: &KubeStandIn) {
    k.script("api", Rollout::CompleteAfter(28));
}

#[tokio::test]
async fn eks_tokens_are_renewed_during_a_rollout_longer_than_their_lifetime() {
    let k = KubeStandIn::start_eks(ACCEPTED_FOR);
    let s = k8s_stack(
        &DEPLOYMENT.replace("CLUSTER", &k.eks_cluster_rhai("payments")),
        Duration::from_secs(1),
    );
    long_rollout(&k);
    let started = std::time::Instant::now();
    let summary = s.apply().await;
    assert!(summary.ok(), "{summary} refusals: {:?}", k.refusals());
    assert!(
        started.elapsed() > ACCEPTED_FOR * 2,
        "{:?}",
        started.elapsed()
    );
    assert!(k.refusals().is_empty(), "{:?}", k.refusals());
    let tokens = k.tokens();
    assert!(tokens.len() >= 3, "renewed only {} times", tokens.len() - 1);
    for token in &tokens {
        let url = signed_url(token);
        // The provider's region and the credentials of its chain.
        assert!(
            url.starts_with(&format!(
                "https://sts.{REGION}.amazonaws.com/?Action=GetCallerIdentity"
            )),
            "{url}"
        );
        assert!(url.contains("X-Amz-Credential=testing%2F"), "{url}");
        assert!(
            url.contains(&format!("%2F{REGION}%2Fsts%2Faws4_request")),
            "{url}"
        );
    }
}

/// What a client that keeps its first token (as a client built with one
/// did) runs into: the stand-in refuses the token in mid-rollout.
#[tokio::test]
async fn a_client_that_never_renews_its_token_is_refused_in_a_long_rollout() {
    let k = KubeStandIn::start_eks(ACCEPTED_FOR);
    let s = k8s_stack(
        &DEPLOYMENT.replace("CLUSTER", &k.eks_cluster_rhai("payments")),
        Duration::from_secs(3600),
    );
    long_rollout(&k);
    let summary = s.apply().await;
    assert_eq!(summary.failed.len(), 1, "{summary}");
    let (address, error) = &summary.failed[0];
    assert_eq!(address.to_string(), "k8s.deployment.api");
    assert!(
        error.contains("401") || error.contains("Unauthorized"),
        "{error}"
    );
    assert_eq!(k.tokens().len(), 1);
    assert!(
        k.refusals().iter().all(|r| r.starts_with("token signed ")),
        "{:?}",
        k.refusals()
    );
}

const RELEASE: &str = r#"
let cluster = CLUSTER;
helm::release("lb-controller", #{
    kube: cluster, chart: "aws-load-balancer-controller", repo: "https://aws.github.io/eks-charts",
    version: "1.6.2", namespace: "kube-system",
    values: #{ clusterName: "payments" },
});
"#;

/// Guards against a token in helm's arguments (any process on the host may
/// read them) or in its kubeconfig: helm runs `payrun eks-token` and gets
/// each token on that process's stdout.
#[tokio::test]
async fn helm_gets_an_exec_credential_and_no_token_in_its_arguments_or_kubeconfig() {
    let k = KubeStandIn::start_eks(Duration::from_secs(60));
    let helm = HelmStandIn::new();
    let payrun = assert_cmd::cargo::cargo_bin("payrun");
    let fake = Arc::new(FakeProvider::new(FakeConfig::default()));
    let registry = Registry::new().with("fake", fake.clone()).with(
        "helm",
        Arc::new(HelmProvider::new(HelmConfig {
            path: Some(helm.path()),
            aws: settings(),
            token_lifetime: Duration::from_secs(300),
            credential_command: Some(payrun.clone()),
            ..HelmConfig::default()
        })),
    );
    let s = Stack::with_registry(
        &RELEASE.replace("CLUSTER", &k.eks_cluster_rhai("payments")),
        fake,
        registry,
    );
    let summary = s.apply().await;
    assert!(summary.ok(), "{summary} refusals: {:?}", k.refusals());

    let calls = helm.calls();
    assert!(
        calls.iter().any(|c| c.starts_with("upgrade --install")),
        "{calls:?}"
    );
    for call in &calls {
        assert!(!call.contains("k8s-aws-v1."), "{call}");
    }
    let kubeconfig = helm.last_kubeconfig().unwrap();
    assert!(
        !kubeconfig.to_string().contains("k8s-aws-v1."),
        "{kubeconfig}"
    );
    let user = &kubeconfig["users"][0]["user"];
    assert!(user.get("token").is_none(), "{user}");
    assert_eq!(
        user["exec"],
        serde_json::json!({
            "apiVersion": "client.authentication.k8s.io/v1beta1",
            "command": payrun.display().to_string(),
            "args": [
                "eks-token", "--cluster", "payments", "--region", REGION,
                "--token-lifetime", "300s", "--endpoint-url", moto().endpoint,
            ],
            "interactiveMode": "Never",
        })
    );
    // The controller the chart runs reached the cluster with a token the
    // credential printed, signed for the provider's region.
    assert!(
        k.object("deployments", "kube-system", "aws-load-balancer-controller")
            .is_some()
    );
    let tokens = k.tokens();
    assert!(!tokens.is_empty());
    assert!(
        signed_url(&tokens[0]).starts_with(&format!("https://sts.{REGION}.amazonaws.com/")),
        "{}",
        signed_url(&tokens[0])
    );
}

/// `payrun eks-token` prints an ExecCredential whose expiry is the
/// lifetime it was given.
#[test]
fn eks_token_prints_an_exec_credential_expiring_after_its_lifetime() {
    let endpoint = moto().endpoint.clone();
    let out = assert_cmd::Command::cargo_bin("payrun")
        .unwrap()
        .current_dir(std::env::temp_dir())
        .args(["eks-token", "--cluster", "payments", "--region", REGION])
        .args(["--token-lifetime", "90s", "--endpoint-url", &endpoint])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let credential: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(credential["kind"], "ExecCredential");
    assert_eq!(
        credential["apiVersion"],
        "client.authentication.k8s.io/v1beta1"
    );
    let token = credential["status"]["token"].as_str().unwrap();
    assert!(signed_url(token).contains("X-Amz-SignedHeaders=host%3Bx-k8s-aws-id"));
    let expires = humantime::parse_rfc3339(
        credential["status"]["expirationTimestamp"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    let left = expires
        .duration_since(std::time::SystemTime::now())
        .unwrap_or_default();
    assert!(
        left > Duration::from_secs(60) && left <= Duration::from_secs(90),
        "{left:?}"
    );
}
