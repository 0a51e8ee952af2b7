//! Server-side apply under the field manager `payrun`, reads, foreground
//! deletes that wait until the object is gone, and drift: the fields payrun
//! wrote that the cluster now holds differently (server defaults and other
//! managers' fields are not drift).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use kube::Client;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams};
use serde_json::{Map, Value};

use super::resources::Target;
use crate::kube_quantity as quantity;
use crate::provider::{ProgressFn, ProviderError};
use crate::value::{as_secret, read_back_secret, secret_marker};

pub const FIELD_MANAGER: &str = "payrun";

/// The field manager of `stack`'s objects: each stack owns its own fields,
/// so two stacks on one cluster never apply as one manager.
pub fn field_manager(stack: &str) -> String {
    format!("{FIELD_MANAGER}/{stack}")
}

/// A kube error worded for the person running payrun.
pub fn error(target: &Target, doing: &str, e: kube::Error) -> ProviderError {
    match e {
        kube::Error::Api(status) => {
            let reason = status.reason.clone();
            let mut err = ProviderError::new(format!(
                "{doing} {}: {} ({})",
                target.describe(),
                status.message,
                status.code
            ))
            .with_code(reason.clone());
            if status.code == 409 && reason == "Conflict" {
                err = err.with_fix(
                    "another field manager owns these fields; set `force_conflicts: true` to take them over",
                );
            }
            if status.code == 429 || status.code >= 500 {
                err = err.retryable();
            }
            err
        }
        other => ProviderError::new(format!("{doing} {}: {other}", target.describe())).retryable(),
    }
}

/// Apply `manifest`; the object as the server holds it afterwards.
pub async fn apply(
    client: &Client,
    target: &Target,
    manifest: &Value,
    manager: &str,
    force: bool,
) -> Result<Value, ProviderError> {
    let mut params = PatchParams::apply(manager);
    if force {
        params = params.force();
    }
    let applied = target
        .api(client)
        .patch(&target.name, &params, &Patch::Apply(manifest))
        .await
        .map_err(|e| error(target, "applying", e))?;
    serde_json::to_value(applied).map_err(|e| ProviderError::new(e.to_string()))
}

/// The object, or `None` when it does not exist.
pub async fn get(client: &Client, target: &Target) -> Result<Option<Value>, ProviderError> {
    let found = target
        .api(client)
        .get_opt(&target.name)
        .await
        .map_err(|e| error(target, "reading", e))?;
    found
        .map(|o| serde_json::to_value(o).map_err(|e| ProviderError::new(e.to_string())))
        .transpose()
}

/// Every object of the target's resource in its namespace (or the whole
/// cluster), by name, each with the `apiVersion` and `kind` a list leaves
/// out of its items.
pub async fn list(
    client: &Client,
    target: &Target,
) -> Result<BTreeMap<String, Value>, ProviderError> {
    let listed = target
        .api(client)
        .list(&ListParams::default())
        .await
        .map_err(|e| error(target, "listing", e))?;
    let mut out = BTreeMap::new();
    for item in listed.items {
        let mut v = serde_json::to_value(item).map_err(|e| ProviderError::new(e.to_string()))?;
        v["apiVersion"] = Value::String(target.resource.api_version.clone());
        v["kind"] = Value::String(target.resource.kind.clone());
        if let Some(name) = v["metadata"]["name"].as_str() {
            out.insert(name.to_string(), v);
        }
    }
    Ok(out)
}

/// Delete with foreground propagation (dependents first) and wait until
/// the object is gone.
pub async fn delete(
    client: &Client,
    target: &Target,
    poll: Duration,
    timeout: Duration,
    progress: &ProgressFn,
) -> Result<(), ProviderError> {
    match target
        .api(client)
        .delete(&target.name, &DeleteParams::foreground())
        .await
    {
        Ok(_) => {}
        Err(kube::Error::Api(s)) if s.code == 404 => return Ok(()),
        Err(e) => return Err(error(target, "deleting", e)),
    }
    let started = Instant::now();
    let mut wait = first_wait(poll);
    loop {
        if get(client, target).await?.is_none() {
            return Ok(());
        }
        let elapsed = started.elapsed();
        if elapsed >= timeout {
            return Err(ProviderError::new(format!(
                "{} is still there {}s after its deletion (a finalizer may be holding it)",
                target.describe(),
                elapsed.as_secs()
            ))
            .with_code("DeleteTimeout")
            .retryable());
        }
        progress(&format!("waiting until gone ({}s)", elapsed.as_secs()));
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(poll);
    }
}

/// Waits start short and double up to `poll`: most objects are gone (or
/// rolled out) within a second, and a few seconds per object add up over a
/// platform's worth of them.
pub fn first_wait(poll: Duration) -> Duration {
    poll.min(Duration::from_millis(250))
}

/// Every field of `desired` whose live value differs, by dotted path, with
/// the live value (`null` when the field is gone).
pub fn drift(desired: &Value, live: &Value) -> Map<String, Value> {
    let mut out = Map::new();
    walk(desired, live, String::new(), &mut out);
    out
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// A place the program filled with a `secret_env(...)`: rendered as this
/// prefix and the marker, so the manifest keeps its shape and drift there
/// is reported sealed, never as the live text.
const SECRET_PLACE: char = '\u{e001}';

/// `args` with every secret marker replaced by its place holder, for
/// rendering a manifest from recorded args (deletes, refresh).
pub fn with_secret_places(args: &Value) -> Value {
    if as_secret(args).is_some() {
        return Value::String(format!("{SECRET_PLACE}{args}"));
    }
    match args {
        Value::Array(items) => Value::Array(items.iter().map(with_secret_places).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), with_secret_places(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn secret_place(v: &Value) -> Option<Value> {
    let text = v.as_str()?.strip_prefix(SECRET_PLACE)?;
    serde_json::from_str(text).ok()
}

fn holds_secret_place(v: &Value) -> bool {
    match v {
        Value::String(_) => secret_place(v).is_some(),
        Value::Array(items) => items.iter().any(holds_secret_place),
        Value::Object(map) => map.values().any(holds_secret_place),
        _ => false,
    }
}

/// What drift reports of `live` at a place whose desired value is
/// `desired`: sealed when the program put a secret anywhere there.
fn reported(desired: &Value, live: &Value) -> Value {
    if holds_secret_place(desired) {
        read_back_secret(&secret_marker("", None), live)
    } else {
        live.clone()
    }
}

/// Fields the API server takes but never returns.
const WRITE_ONLY: &[&str] = &["stringData"];

fn walk(desired: &Value, live: &Value, path: String, out: &mut Map<String, Value>) {
    if let Some(marker) = secret_place(desired) {
        if !live.is_null() {
            out.insert(path, read_back_secret(&marker, live));
        }
        return;
    }
    match (desired, live) {
        (Value::Object(d), Value::Object(l)) => {
            for (k, v) in d {
                let p = join(&path, k);
                match l.get(k) {
                    Some(lv) => walk(v, lv, p, out),
                    None if v.is_null() || WRITE_ONLY.contains(&k.as_str()) => {}
                    None => {
                        out.insert(p, Value::Null);
                    }
                }
            }
        }
        (Value::Array(d), Value::Array(l)) => {
            let named = |items: &Vec<Value>| {
                items
                    .iter()
                    .all(|i| i.get("name").and_then(Value::as_str).is_some())
            };
            // Lists of named items (containers, ports, env) merge by name.
            if !d.is_empty() && named(d) && named(l) {
                for item in d {
                    let name = item["name"].as_str().unwrap_or_default();
                    let p = format!("{path}[{name}]");
                    match l.iter().find(|i| i["name"] == item["name"]) {
                        Some(li) => walk(item, li, p, out),
                        None => {
                            out.insert(p, Value::Null);
                        }
                    }
                }
            } else if d.len() == l.len() {
                for (i, (dv, lv)) in d.iter().zip(l).enumerate() {
                    walk(dv, lv, format!("{path}[{i}]"), out);
                }
            } else {
                out.insert(path, reported(desired, live));
            }
        }
        (d, l) if scalar_same(d, l) => {}
        _ => {
            out.insert(path, reported(desired, live));
        }
    }
}

/// The server keeps quantities canonical (`0.5` → `500m`) and int-or-string
/// fields as given; either form of the same value is no drift.
fn scalar_same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::String(x), Value::String(y)) => x == y || quantity::same(x, y),
        (Value::Number(n), Value::String(s)) | (Value::String(s), Value::Number(n)) => {
            n.to_string() == *s
        }
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn server_defaults_and_other_fields_are_not_drift() {
        let desired = json!({
            "metadata": { "name": "api", "labels": { "app": "api" } },
            "spec": {
                "replicas": 2,
                "template": { "spec": { "containers": [
                    { "name": "api", "image": "api:1", "resources": { "requests": { "cpu": "0.5" } } }
                ] } },
            },
        });
        let live = json!({
            "metadata": { "name": "api", "uid": "u", "labels": { "app": "api", "other": "x" } },
            "spec": {
                "replicas": 2,
                "revisionHistoryLimit": 10,
                "template": { "spec": { "restartPolicy": "Always", "containers": [
                    { "name": "envoy", "image": "envoy" },
                    { "name": "api", "image": "api:1", "imagePullPolicy": "IfNotPresent",
                      "resources": { "requests": { "cpu": "500m" } } }
                ] } },
            },
            "status": { "replicas": 2 },
        });
        assert_eq!(drift(&desired, &live), Map::new());
    }

    #[test]
    fn changed_and_missing_fields_are_drift() {
        let desired = json!({
            "spec": { "replicas": 2, "template": { "spec": { "containers": [
                { "name": "api", "image": "api:1" }
            ] } } },
            "metadata": { "labels": { "team": "payments" } },
        });
        let live = json!({
            "spec": { "replicas": 5, "template": { "spec": { "containers": [
                { "name": "api", "image": "api:2" }
            ] } } },
            "metadata": { "labels": {} },
        });
        let d = drift(&desired, &live);
        assert_eq!(d["spec.replicas"], json!(5));
        assert_eq!(
            d["spec.template.spec.containers[api].image"],
            json!("api:2")
        );
        assert_eq!(d["metadata.labels.team"], Value::Null);
        assert_eq!(d.len(), 3);
    }
}
