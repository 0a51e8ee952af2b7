//! `k8s.object`: any manifest, for the kinds payrun has no typed form of.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::ClusterArgs;

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ObjectArgs {
    pub cluster: ClusterArgs,
    /// A whole object: `apiVersion`, `kind`, `metadata.name`, ...
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
