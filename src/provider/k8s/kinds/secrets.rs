//! SecretProviderClass: Secrets Manager secrets the Secrets Store CSI
//! driver mounts into pods, so no secret value is ever a Kubernetes object.

use std::collections::BTreeMap;

use payrun_derive::Args;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{ClusterArgs, metadata, object_name};

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SecretObject {
    /// Secret name or ARN.
    pub name: String,
    /// `secretsmanager` (default) or `ssmparameter`.
    #[serde(default, rename = "type")]
    pub object_type: Option<String>,
    /// File name in the mount.
    #[serde(default)]
    pub alias: Option<String>,
}

#[derive(Debug, Deserialize, Args, Serialize)]
#[serde(deny_unknown_fields)]
#[arg(kind = "k8s.secret_provider_class")]
pub struct SecretProviderClassArgs {
    #[arg(placement = super::CLUSTER_PLACEMENT, formerly = "cluster")]
    pub kube: ClusterArgs,
    #[arg(force_new)]
    pub namespace: String,
    #[serde(default)]
    #[arg(force_new)]
    pub name: Option<String>,
    /// `aws` (default).
    #[serde(default)]
    pub provider: Option<String>,
    #[serde(default)]
    pub region: Option<String>,
    pub objects: Vec<SecretObject>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub force_conflicts: bool,
}

impl SecretProviderClassArgs {
    /// The AWS provider reads `objects` as a YAML list inside a string.
    fn objects_yaml(&self) -> String {
        let mut out = String::new();
        for o in &self.objects {
            out.push_str(&format!("- objectName: {}\n", json!(o.name)));
            let t = o.object_type.as_deref().unwrap_or("secretsmanager");
            out.push_str(&format!("  objectType: {}\n", json!(t)));
            if let Some(a) = &o.alias {
                out.push_str(&format!("  objectAlias: {}\n", json!(a)));
            }
        }
        out
    }

    pub fn render(&self, purpose: &str) -> Value {
        let mut parameters = json!({ "objects": self.objects_yaml() });
        if let Some(r) = &self.region {
            parameters["region"] = json!(r);
        }
        json!({
            "apiVersion": "secrets-store.csi.x-k8s.io/v1",
            "kind": "SecretProviderClass",
            "metadata": metadata(object_name(purpose, &self.name), Some(&self.namespace), &self.labels, &BTreeMap::new()),
            "spec": {
                "provider": self.provider.as_deref().unwrap_or("aws"),
                "parameters": parameters,
            },
        })
    }
}
