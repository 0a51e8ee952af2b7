//! The Kubernetes kinds payrun knows: typed args that render to manifests in
//! pure functions, and their schemas. `k8s.object` takes any manifest.

mod config;
mod namespace;
mod network;
mod object;
mod secrets;
mod traffic;
mod workload;

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::provider::schema::{KindSchema, Placement, validate_as};

pub use config::{ConfigMapArgs, ServiceAccountArgs};
pub use namespace::{LimitRangeArgs, NamespaceArgs, ResourceQuotaArgs};
pub use network::{NetworkPolicyArgs, SecurityGroupPolicyArgs};
pub use object::{ObjectArgs, secret_in_the_open};
pub use secrets::SecretProviderClassArgs;
pub use traffic::{IngressArgs, ServiceArgs};
pub use workload::{DeploymentArgs, HpaArgs, PdbArgs};

/// The label every object payrun applies carries; adoption after a crash
/// looks for it.
pub const MANAGED_BY: (&str, &str) = ("app.kubernetes.io/managed-by", "payrun");

/// The label naming the stack an object belongs to.
pub const STACK_LABEL: &str = "payrun/stack";

/// `stack` as a label value (at most 63 characters, alphanumeric at both
/// ends; stack names are letters, digits, `-`, `_` and one `.`).
pub fn stack_label_value(stack: &str) -> String {
    let mut v: String = stack.chars().take(63).collect();
    while v.ends_with(|c: char| !c.is_ascii_alphanumeric()) {
        v.pop();
    }
    v
}

/// Label the manifest with its stack.
pub fn label_stack(manifest: &mut Value, stack: &str) {
    if let Some(labels) = manifest
        .pointer_mut("/metadata/labels")
        .and_then(Value::as_object_mut)
    {
        labels.insert(STACK_LABEL.into(), json!(stack_label_value(stack)));
    }
}

/// The stack a live object belongs to, if any.
pub fn owning_stack(live: &Value) -> Option<String> {
    live.pointer("/metadata/labels")?
        .get(STACK_LABEL)?
        .as_str()
        .map(str::to_string)
}

/// Where a Kubernetes kind is applied: an EKS cluster (its outputs) or a
/// kubeconfig context.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq, Hash)]
#[serde(deny_unknown_fields)]
pub struct ClusterArgs {
    /// The EKS cluster name: the `x-k8s-aws-id` of the token.
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub endpoint: Option<String>,
    /// Base64 PEM, as EKS reports it.
    #[serde(default)]
    pub ca_data: Option<String>,
    /// Region of the cluster's STS endpoint; defaults to the AWS config's.
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub kubeconfig: Option<String>,
    #[serde(default)]
    pub context: Option<String>,
    /// Kubernetes version (`1.28`), for plan-time checks of rendered
    /// manifests.
    #[serde(default)]
    pub version: Option<String>,
}

impl ClusterArgs {
    /// Either an EKS cluster or a kubeconfig, never half of each.
    pub fn check(&self) -> Result<(), String> {
        let eks = [&self.name, &self.endpoint, &self.ca_data];
        let eks_given = eks.iter().filter(|v| v.is_some()).count();
        match (eks_given, &self.kubeconfig) {
            (3, None) => Ok(()),
            (0, Some(_)) => Ok(()),
            (0, None) => Err(
                "`kube` needs `name`, `endpoint` and `ca_data` (an EKS cluster) or `kubeconfig`"
                    .into(),
            ),
            (_, Some(_)) => Err(
                "`kube` takes either `name`/`endpoint`/`ca_data` or `kubeconfig`/`context`, not both"
                    .into(),
            ),
            _ => Err("`kube` needs all of `name`, `endpoint` and `ca_data`".into()),
        }
    }
}

/// CPU and memory, as requests, limits or quota.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Resources {
    #[serde(default)]
    pub cpu: Option<String>,
    #[serde(default)]
    pub memory: Option<String>,
}

impl Resources {
    fn render(&self) -> Value {
        let mut m = Map::new();
        if let Some(c) = &self.cpu {
            m.insert("cpu".into(), json!(c));
        }
        if let Some(mem) = &self.memory {
            m.insert("memory".into(), json!(mem));
        }
        Value::Object(m)
    }
}

/// `metadata` of a rendered object.
fn metadata(
    name: &str,
    namespace: Option<&str>,
    labels: &BTreeMap<String, String>,
    annotations: &BTreeMap<String, String>,
) -> Value {
    let mut labels = labels.clone();
    labels.insert(MANAGED_BY.0.into(), MANAGED_BY.1.into());
    let mut m = Map::new();
    m.insert("name".into(), json!(name));
    if let Some(ns) = namespace {
        m.insert("namespace".into(), json!(ns));
    }
    m.insert("labels".into(), json!(labels));
    if !annotations.is_empty() {
        m.insert("annotations".into(), json!(annotations));
    }
    Value::Object(m)
}

/// The object's name: the `name` arg, else the resource's purpose.
fn object_name<'a>(purpose: &'a str, name: &'a Option<String>) -> &'a str {
    name.as_deref().unwrap_or(purpose)
}

/// Pods of a workload carry `app: <name>`; selectors default to it.
fn app_selector(app: &str) -> BTreeMap<String, String> {
    BTreeMap::from([("app".to_string(), app.to_string())])
}

/// A Kubernetes object lives in the cluster its connection points at: the
/// EKS cluster (name and region) or the kubeconfig context. A new version
/// (an upgrade), a new kubeconfig path, endpoint or CA is the same cluster:
/// the object is updated in place (or, for the version alone, left as it
/// is), never replaced.
pub static CLUSTER_PLACEMENT: Placement = Placement {
    identity: cluster_identity,
    compared: cluster_compared,
};

fn cluster_identity(cluster: &Value) -> Value {
    if cluster.get("name").is_some_and(|n| !n.is_null()) {
        json!({ "name": cluster["name"], "region": cluster.get("region").cloned().unwrap_or(Value::Null) })
    } else {
        json!({ "context": cluster.get("context").cloned().unwrap_or(Value::Null) })
    }
}

fn cluster_compared(cluster: &Value) -> Value {
    let mut c = cluster.clone();
    if let Some(m) = c.as_object_mut() {
        m.remove("version");
    }
    c
}

/// Typed validation plus the `kube` form, which serde alone cannot say.
fn validate<T: DeserializeOwned>(args: &Value) -> Result<(), crate::provider::ArgError> {
    validate_as::<T>(args)?;
    let cluster: ClusterArgs =
        serde_json::from_value(args.get("kube").cloned().unwrap_or(Value::Null))
            .map_err(|e| format!("`kube`: {e}"))?;
    Ok(cluster.check()?)
}

macro_rules! kind {
    ($prefix:literal, $args:ident, $doc:literal) => {
        KindSchema {
            kind: $args::KIND,
            name_prefix: $prefix,
            name_max: 253,
            taggable: false,
            named_by_arg: true,
            create_before_destroy: false,
            args: $args::SPECS,
            outputs: &["uid"],
            validate: &validate::<$args>,
            reads_each: Some(
                "one GET per object: the objects of a program live in many namespaces and kinds",
            ),
            doc: $doc,
        }
    };
}

/// The `k8s.*` kinds.
pub static SCHEMAS: &[KindSchema] = &[
    kind!(
        "ns",
        NamespaceArgs,
        "A namespace; every namespaced kind refers to it, so it is deleted last."
    ),
    kind!(
        "quota",
        ResourceQuotaArgs,
        "A ResourceQuota: requests and limits of CPU and memory of a namespace."
    ),
    kind!(
        "limits",
        LimitRangeArgs,
        "A LimitRange: container defaults so every pod fits the namespace quota."
    ),
    kind!(
        "netpol",
        NetworkPolicyArgs,
        "A NetworkPolicy; `policy_types` without rules denies all."
    ),
    kind!(
        "sa",
        ServiceAccountArgs,
        "A ServiceAccount; `role` becomes the IRSA annotation."
    ),
    kind!("cm", ConfigMapArgs, "A ConfigMap."),
    kind!(
        "deploy",
        DeploymentArgs,
        "A Deployment rolled with maxUnavailable 0; apply waits for the rollout."
    ),
    kind!(
        "svc",
        ServiceArgs,
        "A Service in front of a deployment's pods."
    ),
    kind!(
        "ing",
        IngressArgs,
        "An Ingress for the AWS Load Balancer Controller: an ALB with IP targets (Fargate) and an HTTPS listener."
    ),
    kind!(
        "hpa",
        HpaArgs,
        "A HorizontalPodAutoscaler (autoscaling/v2) of a deployment."
    ),
    kind!(
        "pdb",
        PdbArgs,
        "A PodDisruptionBudget (policy/v1) of a deployment's pods."
    ),
    kind!(
        "spc",
        SecretProviderClassArgs,
        "A SecretProviderClass (secrets-store.csi.x-k8s.io/v1): Secrets Manager secrets mounted into pods."
    ),
    kind!(
        "sgp",
        SecurityGroupPolicyArgs,
        "A SecurityGroupPolicy (vpcresources.k8s.aws/v1beta1): security groups for a deployment's pods."
    ),
    kind!(
        "obj",
        ObjectArgs,
        "Any Kubernetes object, from its manifest."
    ),
];

fn typed<T: DeserializeOwned>(args: &Value) -> Result<T, String> {
    serde_path_to_error::deserialize(args.clone())
        .map_err(|e| format!("`{}`: {}", e.path(), e.inner()))
}

/// The manifest of a resource of `kind` declared as `purpose`.
pub fn render(kind: &str, purpose: &str, args: &Value) -> Result<Value, String> {
    Ok(match kind {
        "k8s.namespace" => typed::<NamespaceArgs>(args)?.render(purpose),
        "k8s.resource_quota" => typed::<ResourceQuotaArgs>(args)?.render(purpose),
        "k8s.limit_range" => typed::<LimitRangeArgs>(args)?.render(purpose),
        "k8s.network_policy" => typed::<NetworkPolicyArgs>(args)?.render(purpose),
        "k8s.service_account" => typed::<ServiceAccountArgs>(args)?.render(purpose),
        "k8s.config_map" => typed::<ConfigMapArgs>(args)?.render(purpose),
        "k8s.deployment" => typed::<DeploymentArgs>(args)?.render(purpose),
        "k8s.service" => typed::<ServiceArgs>(args)?.render(purpose),
        "k8s.ingress" => typed::<IngressArgs>(args)?.render(purpose),
        "k8s.hpa" => typed::<HpaArgs>(args)?.render(purpose),
        "k8s.pdb" => typed::<PdbArgs>(args)?.render(purpose),
        "k8s.secret_provider_class" => typed::<SecretProviderClassArgs>(args)?.render(purpose),
        "k8s.security_group_policy" => typed::<SecurityGroupPolicyArgs>(args)?.render(purpose),
        "k8s.object" => typed::<ObjectArgs>(args)?.render()?,
        other => return Err(format!("{other} is not a Kubernetes kind")),
    })
}

/// The `kube` arg of any Kubernetes kind: the connection to its cluster.
pub fn cluster(args: &Value) -> Result<ClusterArgs, String> {
    let c: ClusterArgs = serde_json::from_value(args.get("kube").cloned().unwrap_or(Value::Null))
        .map_err(|e| format!("`kube`: {e}"))?;
    c.check()?;
    Ok(c)
}

/// Take ownership of fields another field manager set.
pub fn force_conflicts(args: &Value) -> bool {
    args.get("force_conflicts")
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

/// Seconds an applied deployment may take to roll out.
pub fn rollout_timeout(args: &Value) -> Option<u64> {
    let timeout = args.get("timeout").and_then(Value::as_u64);
    let deadline = args.get("progress_deadline").and_then(Value::as_u64);
    timeout.or(deadline.map(|d| d + 60))
}

#[cfg(test)]
mod tests;
