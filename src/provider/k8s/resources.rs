//! Where an object lives in the API: its resource (plural) and whether it
//! is namespaced. Known kinds from a table; the rest by discovery.

use kube::Client;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind};
use kube::discovery::Scope;
use serde_json::Value;

/// (apiVersion, kind, plural, namespaced)
const KNOWN: &[(&str, &str, &str, bool)] = &[
    ("v1", "Namespace", "namespaces", false),
    ("v1", "ResourceQuota", "resourcequotas", true),
    ("v1", "LimitRange", "limitranges", true),
    ("v1", "ServiceAccount", "serviceaccounts", true),
    ("v1", "ConfigMap", "configmaps", true),
    ("v1", "Secret", "secrets", true),
    ("v1", "Service", "services", true),
    ("v1", "Pod", "pods", true),
    ("apps/v1", "Deployment", "deployments", true),
    (
        "networking.k8s.io/v1",
        "NetworkPolicy",
        "networkpolicies",
        true,
    ),
    ("networking.k8s.io/v1", "Ingress", "ingresses", true),
    (
        "autoscaling/v2",
        "HorizontalPodAutoscaler",
        "horizontalpodautoscalers",
        true,
    ),
    (
        "policy/v1",
        "PodDisruptionBudget",
        "poddisruptionbudgets",
        true,
    ),
    (
        "secrets-store.csi.x-k8s.io/v1",
        "SecretProviderClass",
        "secretproviderclasses",
        true,
    ),
    (
        "vpcresources.k8s.aws/v1beta1",
        "SecurityGroupPolicy",
        "securitygrouppolicies",
        true,
    ),
];

/// One object's address in the API.
#[derive(Clone, Debug)]
pub struct Target {
    pub resource: ApiResource,
    pub namespace: Option<String>,
    pub name: String,
}

impl Target {
    pub fn api(&self, client: &Client) -> Api<DynamicObject> {
        match &self.namespace {
            Some(ns) => Api::namespaced_with(client.clone(), ns, &self.resource),
            None => Api::all_with(client.clone(), &self.resource),
        }
    }

    pub fn describe(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{} {ns}/{}", self.resource.kind, self.name),
            None => format!("{} {}", self.resource.kind, self.name),
        }
    }
}

fn gvk(api_version: &str, kind: &str) -> GroupVersionKind {
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    GroupVersionKind::gvk(group, version, kind)
}

/// A resource of the Kubernetes API itself.
pub fn known(api_version: &str, kind: &str) -> Option<(ApiResource, bool)> {
    KNOWN
        .iter()
        .find(|(v, k, _, _)| *v == api_version && *k == kind)
        .map(|(v, k, plural, namespaced)| {
            (
                ApiResource::from_gvk_with_plural(&gvk(v, k), plural),
                *namespaced,
            )
        })
}

/// The target of a manifest, asking the API server about kinds not in the
/// table.
pub async fn target(client: &Client, manifest: &Value) -> Result<Target, String> {
    let api_version = manifest["apiVersion"].as_str().unwrap_or_default();
    let kind = manifest["kind"].as_str().unwrap_or_default();
    let name = manifest["metadata"]["name"]
        .as_str()
        .ok_or("the manifest has no metadata.name")?
        .to_string();
    let (resource, namespaced) = match known(api_version, kind) {
        Some(found) => found,
        None => {
            let (resource, caps) = kube::discovery::pinned_kind(client, &gvk(api_version, kind))
                .await
                .map_err(|e| format!("the cluster does not serve {api_version} {kind}: {e}"))?;
            (resource, caps.scope == Scope::Namespaced)
        }
    };
    let namespace = if namespaced {
        Some(
            manifest["metadata"]["namespace"]
                .as_str()
                .unwrap_or("default")
                .to_string(),
        )
    } else {
        None
    };
    Ok(Target {
        resource,
        namespace,
        name,
    })
}
