//! What the cloud reports back for a secret never reaches a plan in plain
//! text: refresh seals it into a `$secret` marker keyed by the stack key,
//! so it compares with the recorded marker by digest and shows as
//! `(sensitive)`.
//!
//! Two ways a secret comes back. Arguments read back in the program's
//! shape (helm values, AWS arguments) carry the live value where the
//! recorded args hold a marker. Providers that report differences as
//! paths (Kubernetes drift) wrap the live value at a place the program
//! marked in [`crate::value::read_back_secret`] with the marker it had.

use serde_json::{Map, Value};

use crate::provider::schema::KindSchema;
use crate::state::StackKey;
use crate::value::{as_sealed, as_secret, secret_marker};

/// Seal every secret in `live` (args read back for a resource recorded
/// with `recorded` args).
pub fn seal_args(
    schema: Option<&KindSchema>,
    recorded: &Value,
    live: Map<String, Value>,
    key: &StackKey,
) -> Map<String, Value> {
    let mut out = Map::new();
    for (name, value) in live {
        let before = recorded.get(&name).unwrap_or(&Value::Null);
        let whole = schema.and_then(|s| s.arg(&name)).is_some_and(|a| a.secret);
        let sealed = if whole && as_secret(&value).is_none() {
            Some(seal_value(before, &value, key))
        } else {
            seal(before, value, key)
        };
        // None: everything the provider reported matched the secrets, so
        // the argument is as recorded.
        if let Some(v) = sealed {
            out.insert(name, v);
        }
    }
    out
}

/// `None`: a container of sealed reports that all matched, so nothing is
/// left to report.
fn seal(recorded: &Value, live: Value, key: &StackKey) -> Option<Value> {
    if let Some((marker, plain)) = as_sealed(&live) {
        return match as_secret(marker) {
            Some((env, digest)) => {
                let d = key.digest(text_of(plain).as_bytes());
                if digest == Some(d.as_str()) {
                    None
                } else {
                    Some(secret_marker(env, Some(d)))
                }
            }
            None => Some(secret_marker(
                "",
                Some(key.digest(text_of(plain).as_bytes())),
            )),
        };
    }
    if as_secret(recorded).is_some() && as_secret(&live).is_none() {
        return Some(seal_value(recorded, &live, key));
    }
    match live {
        Value::Object(map) => {
            let had = !map.is_empty();
            let mut out = Map::new();
            for (k, v) in map {
                let r = recorded.get(&k).unwrap_or(&Value::Null);
                if let Some(v) = seal(r, v, key) {
                    out.insert(k, v);
                }
            }
            if had && out.is_empty() && recorded.is_null() {
                None
            } else {
                Some(Value::Object(out))
            }
        }
        Value::Array(items) => Some(Value::Array(
            items
                .into_iter()
                .enumerate()
                .map(|(i, v)| {
                    let r = recorded.get(i).unwrap_or(&Value::Null);
                    seal(r, v, key).unwrap_or(Value::Null)
                })
                .collect(),
        )),
        other => Some(other),
    }
}

/// The live value where the record has a marker, as a marker.
fn seal_value(recorded: &Value, live: &Value, key: &StackKey) -> Value {
    let env = as_secret(recorded).map(|(env, _)| env).unwrap_or_default();
    secret_marker(env, Some(key.digest(text_of(live).as_bytes())))
}

/// A secret as the program gave it: text as is, anything else as JSON.
fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::read_back_secret;
    use serde_json::json;

    fn key() -> StackKey {
        StackKey::from_bytes([7; 32])
    }

    #[test]
    fn a_live_value_under_a_recorded_marker_compares_by_digest() {
        let k = key();
        let recorded = json!({ "values": { "db": { "password": secret_marker("DB", Some(k.digest(b"hunter2"))) }, "replicas": 2 } });
        let same = seal_args(
            None,
            &recorded,
            json!({ "values": { "db": { "password": "hunter2" }, "replicas": 3 } })
                .as_object()
                .unwrap()
                .clone(),
            &k,
        );
        assert_eq!(
            Value::Object(same),
            json!({ "values": { "db": { "password": secret_marker("DB", Some(k.digest(b"hunter2"))) }, "replicas": 3 } })
        );
        let changed = seal_args(
            None,
            &recorded,
            json!({ "values": { "db": { "password": "changed" } } })
                .as_object()
                .unwrap()
                .clone(),
            &k,
        );
        let text = Value::Object(changed).to_string();
        assert!(!text.contains("changed"), "{text}");
        assert!(text.contains(&k.digest(b"changed")), "{text}");
    }

    #[test]
    fn sealed_reports_that_match_vanish_and_others_stay_sealed() {
        let k = key();
        let marker = secret_marker("DB", Some(k.digest(b"hunter2")));
        let live = json!({ "drift": {
            "spec.env[DB].value": read_back_secret(&marker, &json!("hunter2")),
        } });
        let sealed = seal_args(None, &json!({}), live.as_object().unwrap().clone(), &k);
        assert!(sealed.is_empty(), "{sealed:?}");

        let live = json!({ "drift": {
            "spec.env[DB].value": read_back_secret(&marker, &json!("edited-by-hand")),
            "spec.replicas": 5,
        } });
        let sealed = seal_args(None, &json!({}), live.as_object().unwrap().clone(), &k);
        let text = Value::Object(sealed.clone()).to_string();
        assert!(!text.contains("edited-by-hand"), "{text}");
        assert_eq!(sealed["drift"]["spec.replicas"], json!(5));
        assert_eq!(
            as_secret(&sealed["drift"]["spec.env[DB].value"]),
            Some(("DB", Some(k.digest(b"edited-by-hand").as_str())))
        );
    }
}
