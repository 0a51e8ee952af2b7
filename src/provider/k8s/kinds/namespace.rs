//! A namespace and what bounds it: its ResourceQuota and LimitRange.

use std::collections::BTreeMap;

use payrun_derive::Args;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::{ClusterArgs, Resources, metadata, object_name};

#[derive(Debug, Deserialize, Args, Serialize)]
#[serde(deny_unknown_fields)]
#[arg(kind = "k8s.namespace")]
pub struct NamespaceArgs {
    #[arg(placement = super::CLUSTER_PLACEMENT, formerly = "cluster")]
    pub kube: ClusterArgs,
    #[serde(default)]
    #[arg(force_new)]
    pub name: Option<String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    /// Pod Security Standard enforced in the namespace (`restricted`,
    /// `baseline`, `privileged`).
    #[serde(default)]
    pub pod_security: Option<String>,
    #[serde(default)]
    pub force_conflicts: bool,
}

impl NamespaceArgs {
    pub fn render(&self, purpose: &str) -> Value {
        let mut labels = self.labels.clone();
        if let Some(level) = &self.pod_security {
            labels.insert("pod-security.kubernetes.io/enforce".into(), level.clone());
        }
        json!({
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": metadata(object_name(purpose, &self.name), None, &labels, &self.annotations),
        })
    }
}

#[derive(Debug, Deserialize, Args, Serialize)]
#[serde(deny_unknown_fields)]
#[arg(kind = "k8s.resource_quota")]
pub struct ResourceQuotaArgs {
    #[arg(placement = super::CLUSTER_PLACEMENT, formerly = "cluster")]
    pub kube: ClusterArgs,
    #[arg(force_new)]
    pub namespace: String,
    #[serde(default)]
    #[arg(force_new)]
    pub name: Option<String>,
    /// Both the requests and the limits of all pods together.
    pub cpu: String,
    pub memory: String,
    #[serde(default)]
    pub pods: Option<u32>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub force_conflicts: bool,
}

impl ResourceQuotaArgs {
    pub fn render(&self, purpose: &str) -> Value {
        let mut hard = Map::new();
        hard.insert("requests.cpu".into(), json!(self.cpu));
        hard.insert("limits.cpu".into(), json!(self.cpu));
        hard.insert("requests.memory".into(), json!(self.memory));
        hard.insert("limits.memory".into(), json!(self.memory));
        if let Some(p) = self.pods {
            hard.insert("pods".into(), json!(p.to_string()));
        }
        json!({
            "apiVersion": "v1",
            "kind": "ResourceQuota",
            "metadata": metadata(object_name(purpose, &self.name), Some(&self.namespace), &self.labels, &BTreeMap::new()),
            "spec": { "hard": hard },
        })
    }
}

#[derive(Debug, Deserialize, Args, Serialize)]
#[serde(deny_unknown_fields)]
#[arg(kind = "k8s.limit_range")]
pub struct LimitRangeArgs {
    #[arg(placement = super::CLUSTER_PLACEMENT, formerly = "cluster")]
    pub kube: ClusterArgs,
    #[arg(force_new)]
    pub namespace: String,
    #[serde(default)]
    #[arg(force_new)]
    pub name: Option<String>,
    /// Requests of a container that states none.
    pub requests: Resources,
    /// Limits of a container that states none.
    pub limits: Resources,
    #[serde(default)]
    pub max: Option<Resources>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub force_conflicts: bool,
}

impl LimitRangeArgs {
    pub fn render(&self, purpose: &str) -> Value {
        let mut limit = json!({
            "type": "Container",
            "default": self.limits.render(),
            "defaultRequest": self.requests.render(),
        });
        if let Some(max) = &self.max {
            limit["max"] = max.render();
        }
        json!({
            "apiVersion": "v1",
            "kind": "LimitRange",
            "metadata": metadata(object_name(purpose, &self.name), Some(&self.namespace), &self.labels, &BTreeMap::new()),
            "spec": { "limits": [limit] },
        })
    }
}
