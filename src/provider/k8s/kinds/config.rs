//! What pods run as and read: ServiceAccount (with its IRSA role) and
//! ConfigMap.

use std::collections::BTreeMap;

use payrun_derive::Args;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{ClusterArgs, metadata, object_name};

/// The annotation EKS reads to hand a pod the role's credentials.
pub const IRSA_ANNOTATION: &str = "eks.amazonaws.com/role-arn";

#[derive(Debug, Deserialize, Args, Serialize)]
#[serde(deny_unknown_fields)]
#[arg(kind = "k8s.service_account")]
pub struct ServiceAccountArgs {
    #[arg(placement = super::CLUSTER_PLACEMENT, formerly = "cluster")]
    pub kube: ClusterArgs,
    #[arg(force_new)]
    pub namespace: String,
    #[serde(default)]
    #[arg(force_new)]
    pub name: Option<String>,
    /// The IAM role pods of this account assume (IRSA).
    #[serde(default)]
    #[serde(rename = "role")]
    #[arg(takes = "arn", formerly = "role_arn")]
    pub role_arn: Option<String>,
    #[serde(default)]
    pub automount_token: Option<bool>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    #[serde(default)]
    pub force_conflicts: bool,
}

impl ServiceAccountArgs {
    pub fn render(&self, purpose: &str) -> Value {
        let mut annotations = self.annotations.clone();
        if let Some(arn) = &self.role_arn {
            annotations.insert(IRSA_ANNOTATION.into(), arn.clone());
        }
        let mut sa = json!({
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": metadata(object_name(purpose, &self.name), Some(&self.namespace), &self.labels, &annotations),
        });
        if let Some(a) = self.automount_token {
            sa["automountServiceAccountToken"] = json!(a);
        }
        sa
    }
}

#[derive(Debug, Deserialize, Args, Serialize)]
#[serde(deny_unknown_fields)]
#[arg(kind = "k8s.config_map")]
pub struct ConfigMapArgs {
    #[arg(placement = super::CLUSTER_PLACEMENT, formerly = "cluster")]
    pub kube: ClusterArgs,
    #[arg(force_new)]
    pub namespace: String,
    #[serde(default)]
    #[arg(force_new)]
    pub name: Option<String>,
    pub data: BTreeMap<String, String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    #[serde(default)]
    pub force_conflicts: bool,
}

impl ConfigMapArgs {
    pub fn render(&self, purpose: &str) -> Value {
        json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": metadata(object_name(purpose, &self.name), Some(&self.namespace), &self.labels, &self.annotations),
            "data": self.data,
        })
    }
}
