//! `k8s.object`: any manifest, for the kinds payrun has no typed form of.

use payrun_derive::Args;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::ClusterArgs;

#[derive(Debug, Deserialize, Args, Serialize)]
#[serde(deny_unknown_fields)]
#[arg(kind = "k8s.object")]
pub struct ObjectArgs {
    #[arg(placement = super::CLUSTER_PLACEMENT, formerly = "cluster")]
    pub kube: ClusterArgs,
    /// A whole object: `apiVersion`, `kind`, `metadata.name`, ...
    #[arg(holds_secrets)]
    pub manifest: Value,
    #[serde(default)]
    pub force_conflicts: bool,
}

impl ObjectArgs {
    pub fn render(&self) -> Result<Value, String> {
        let m = &self.manifest;
        for field in ["apiVersion", "kind"] {
            if !m.get(field).is_some_and(Value::is_string) {
                return Err(format!("`manifest.{field}` must be a string"));
            }
        }
        if !m.pointer("/metadata/name").is_some_and(Value::is_string) {
            return Err("`manifest.metadata.name` must be a string".into());
        }
        let mut m = m.clone();
        let labels = m["metadata"]
            .as_object_mut()
            .ok_or("`manifest.metadata` must be a map")?
            .entry("labels")
            .or_insert_with(|| Value::Object(Default::default()));
        if let Some(l) = labels.as_object_mut() {
            l.insert(super::MANAGED_BY.0.into(), super::MANAGED_BY.1.into());
        }
        Ok(m)
    }
}

/// A Secret's values written in the program, which would then sit in
/// state and plans: the offending field and what to write instead.
pub fn secret_in_the_open(manifest: &Value) -> Option<(String, String)> {
    if manifest.get("kind").and_then(Value::as_str) != Some("Secret") {
        return None;
    }
    for field in ["data", "stringData"] {
        let Some(values) = manifest.get(field).and_then(Value::as_object) else {
            continue;
        };
        for (key, value) in values {
            let marked = crate::value::as_secret(value).is_some();
            if field == "stringData" && marked {
                continue;
            }
            let fix = if marked {
                format!(
                    "`data` takes base64: move it to `stringData: #{{ {key}: secret_env(\"NAME\") }}`"
                )
            } else {
                format!(
                    "read it at apply time: `stringData: #{{ {key}: secret_env(\"NAME\") }}`, or keep it in Secrets Manager and mount it with `k8s::secret_provider_class`"
                )
            };
            return Some((format!("manifest.{field}.{key}"), fix));
        }
    }
    None
}
