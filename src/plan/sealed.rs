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

/// Args as state keeps them: each write-only argument (which the cloud
/// never reports back) only as the digest of its value, keyed by the stack
/// key, under a marker with no variable (`(sensitive)` in a plan).
pub fn seal_write_only(schema: &KindSchema, mut recorded: Value, key: &StackKey) -> Value {
    if let Value::Object(map) = &mut recorded {
        for spec in schema.args.iter().filter(|a| a.write_only) {
            if let Some(v) = map.get_mut(spec.name)
                && !v.is_null()
                && as_secret(v).is_none()
            {
                *v = secret_marker("", Some(key.digest(text_of(v).as_bytes())));
            }
        }
    }
    recorded
}

/// The recorded args a plan compares with `after`: a write-only argument
/// kept as a digest is the program's value again where that value has the
/// digest (unchanged), and stays `(sensitive)` where it does not.
pub fn unseal_write_only(schema: &KindSchema, recorded: &mut Value, after: &Value, key: &StackKey) {
    let Value::Object(map) = recorded else { return };
    for spec in schema.args.iter().filter(|a| a.write_only) {
        let (Some(v), Some(wanted)) = (map.get_mut(spec.name), after.get(spec.name)) else {
            continue;
        };
        if let Some(("", Some(digest))) = as_secret(v)
            && as_secret(wanted).is_none()
            && key.digest(text_of(wanted).as_bytes()) == digest
        {
            *v = wanted.clone();
        }
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
    fn a_write_only_argument_is_kept_as_a_digest_and_compared_by_it() {
        static ARGS: [crate::provider::schema::ArgSpec; 2] = [
            crate::provider::schema::ArgSpec {
                write_only: true,
                ..crate::provider::schema::ArgSpec::new("password")
            },
            crate::provider::schema::ArgSpec::new("tier"),
        ];
        let schema = KindSchema {
            args: &ARGS,
            ..crate::provider::fake::SCHEMAS[0]
        };
        let k = key();
        let written = json!({ "password": "hunter2", "tier": "Standard" });
        let recorded = seal_write_only(&schema, written.clone(), &k);
        assert!(!recorded.to_string().contains("hunter2"), "{recorded}");
        assert_eq!(recorded["tier"], "Standard");
        let mut before = recorded.clone();
        unseal_write_only(&schema, &mut before, &written, &k);
        assert_eq!(before, written, "the same value is no change");
        let mut before = recorded.clone();
        let changed = json!({ "password": "changed", "tier": "Standard" });
        unseal_write_only(&schema, &mut before, &changed, &k);
        assert_eq!(before, recorded, "a new value is a change from (sensitive)");
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
