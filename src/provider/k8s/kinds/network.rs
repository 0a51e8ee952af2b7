//! Who may talk to whom: NetworkPolicy, and SecurityGroupPolicy (security
//! groups for pods, the VPC CNI's custom resource).

use std::collections::BTreeMap;

use payrun_derive::Args;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{ClusterArgs, app_selector, metadata, object_name};

#[derive(Debug, Deserialize, Args, Serialize)]
#[serde(deny_unknown_fields)]
#[arg(kind = "k8s.network_policy")]
pub struct NetworkPolicyArgs {
    #[arg(placement = super::CLUSTER_PLACEMENT, formerly = "cluster")]
    pub kube: ClusterArgs,
    #[arg(force_new)]
    pub namespace: String,
    #[serde(default)]
    #[arg(force_new)]
    pub name: Option<String>,
    /// Labels of the pods it applies to; empty selects every pod.
    #[serde(default)]
    pub pod_selector: BTreeMap<String, String>,
    /// `Ingress`, `Egress`; with no rules of a type, all of it is denied.
    pub policy_types: Vec<String>,
    /// NetworkPolicy ingress rules, as Kubernetes writes them.
    #[serde(default)]
    pub ingress: Option<Vec<Value>>,
    #[serde(default)]
    pub egress: Option<Vec<Value>>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub force_conflicts: bool,
}

impl NetworkPolicyArgs {
    pub fn render(&self, purpose: &str) -> Value {
        let mut spec = json!({
            "podSelector": if self.pod_selector.is_empty() { json!({}) } else { json!({ "matchLabels": self.pod_selector }) },
            "policyTypes": self.policy_types,
        });
        if let Some(i) = &self.ingress {
            spec["ingress"] = json!(i);
        }
        if let Some(e) = &self.egress {
            spec["egress"] = json!(e);
        }
        json!({
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": metadata(object_name(purpose, &self.name), Some(&self.namespace), &self.labels, &BTreeMap::new()),
            "spec": spec,
        })
    }
}

#[derive(Debug, Deserialize, Args, Serialize)]
#[serde(deny_unknown_fields)]
#[arg(kind = "k8s.security_group_policy")]
pub struct SecurityGroupPolicyArgs {
    #[arg(placement = super::CLUSTER_PLACEMENT, formerly = "cluster")]
    pub kube: ClusterArgs,
    #[arg(force_new)]
    pub namespace: String,
    #[serde(default)]
    #[arg(force_new)]
    pub name: Option<String>,
    /// The deployment whose pods get the groups (its `app` label).
    #[serde(default)]
    pub deployment: Option<String>,
    #[serde(default)]
    pub pod_selector: Option<BTreeMap<String, String>>,
    pub security_groups: Vec<String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub force_conflicts: bool,
}

impl SecurityGroupPolicyArgs {
    pub fn render(&self, purpose: &str) -> Value {
        let selector = match (&self.pod_selector, &self.deployment) {
            (Some(s), _) => s.clone(),
            (None, Some(d)) => app_selector(d),
            (None, None) => BTreeMap::new(),
        };
        json!({
            "apiVersion": "vpcresources.k8s.aws/v1beta1",
            "kind": "SecurityGroupPolicy",
            "metadata": metadata(object_name(purpose, &self.name), Some(&self.namespace), &self.labels, &BTreeMap::new()),
            "spec": {
                "podSelector": { "matchLabels": selector },
                "securityGroups": { "groupIds": self.security_groups },
            },
        })
    }
}
