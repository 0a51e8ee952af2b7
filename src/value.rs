//! Argument values: JSON plus three markers the host understands.
//!
//! * `{"$ref": "aws.ec2.vpc.main#id"}`: an output of another resource, not
//!   known until that resource exists.
//! * `{"$template": ["arn:", {"$ref": ...}, "/x"]}`: a string built from text
//!   and refs (interpolation and concatenation in the script).
//! * `{"$secret": {"env": "DB_PASSWORD", "digest": "hmac-sha256:..."}}`: a
//!   secret read from the environment right before the provider call. Only
//!   the name of its source and a digest keyed by the stack key
//!   ([`crate::state::StackKey`]) are ever stored, planned or logged.
//!
//! In the script a ref is its own type (`script::OutputRef`); put into text
//! by interpolation or concatenation it becomes a string carrying
//! private-use sentinels, which the script layer keeps from being read
//! (no string function or comparison sees them); [`decode_script_strings`]
//! turns those strings into markers once the script has finished. A map key
//! may carry refs too (an IRSA trust policy's condition key names the
//! cluster's OIDC issuer): keys keep the sentinel text, and [`resolve`]
//! substitutes it once the value is known.

use std::sync::Arc;

use serde_json::{Map, Value, json};

use crate::address::Address;

const OPEN: char = '\u{E000}';
const CLOSE: char = '\u{E001}';

/// One output of one resource.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RefTarget {
    pub address: Address,
    pub attr: String,
}

impl RefTarget {
    fn decode(s: &str) -> Option<Self> {
        let (addr, attr) = s.split_once('#')?;
        Some(Self {
            address: addr.parse().ok()?,
            attr: attr.to_string(),
        })
    }
}

impl std::fmt::Display for RefTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.address, self.attr)
    }
}

/// The string a script sees for `handle.attr`.
pub fn script_ref(address: &Address, attr: &str) -> String {
    format!("{OPEN}{address}#{attr}{CLOSE}")
}

/// Does a script string carry a ref?
pub fn has_script_ref(s: &str) -> bool {
    s.contains(OPEN)
}

/// Turn every sentinel string into a `$ref` or `$template` marker.
pub fn decode_script_strings(mut v: Value) -> Value {
    decode_in_place(&mut v);
    v
}

/// In place: only the strings that carry a ref are replaced, so the maps
/// and lists around them are not rebuilt.
fn decode_in_place(v: &mut Value) {
    match v {
        Value::String(s) if has_script_ref(s) => *v = decode_string(s),
        Value::Array(items) => items.iter_mut().for_each(decode_in_place),
        Value::Object(map) => map.values_mut().for_each(decode_in_place),
        _ => {}
    }
}

fn decode_string(s: &str) -> Value {
    let mut parts: Vec<Value> = Vec::new();
    let mut rest = s;
    while let Some(start) = rest.find(OPEN) {
        if start > 0 {
            parts.push(Value::String(rest[..start].to_string()));
        }
        let after = &rest[start + OPEN.len_utf8()..];
        let Some(end) = after.find(CLOSE) else {
            parts.push(Value::String(rest.to_string()));
            rest = "";
            break;
        };
        let inner = &after[..end];
        if is_ref_text(inner) {
            parts.push(json!({ "$ref": inner }));
        } else {
            parts.push(Value::String(inner.to_string()));
        }
        rest = &after[end + CLOSE.len_utf8()..];
    }
    if !rest.is_empty() {
        parts.push(Value::String(rest.to_string()));
    }
    if parts.len() == 1 && is_ref(&parts[0]) {
        return parts.pop().unwrap_or(Value::Null);
    }
    json!({ "$template": parts })
}

/// The one entry of a marker map `{"$key": inner}`; looked at, not hashed.
fn marker<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    let obj = v.as_object()?;
    if obj.len() != 1 {
        return None;
    }
    let (k, inner) = obj.iter().next()?;
    (k == key).then_some(inner)
}

/// The target of a `$ref` marker.
pub fn as_ref(v: &Value) -> Option<RefTarget> {
    RefTarget::decode(marker(v, "$ref")?.as_str()?)
}

/// Is `v` a `$ref` marker? Its target is not parsed.
fn is_ref(v: &Value) -> bool {
    marker(v, "$ref").is_some_and(|t| t.as_str().is_some_and(is_ref_text))
}

/// Is `s` an encoded ref, `kind.purpose#attr`? Nothing is allocated.
fn is_ref_text(s: &str) -> bool {
    ref_parts(s).is_some()
}

fn as_template(v: &Value) -> Option<&Vec<Value>> {
    marker(v, "$template")?.as_array()
}

/// The environment variable behind a `$secret` marker.
pub fn as_secret(v: &Value) -> Option<(&str, Option<&str>)> {
    let s = marker(v, "$secret")?.as_object()?;
    Some((
        s.get("env")?.as_str()?,
        s.get("digest").and_then(Value::as_str),
    ))
}

/// Is there a `$secret` marker anywhere in `v`?
pub fn holds_secret(v: &Value) -> bool {
    as_secret(v).is_some()
        || match v {
            Value::Array(items) => items.iter().any(holds_secret),
            Value::Object(map) => map.values().any(holds_secret),
            _ => false,
        }
}

/// A secret marker for the environment variable `env`.
pub fn secret_marker(env: &str, digest: Option<String>) -> Value {
    let mut inner = Map::new();
    inner.insert("env".into(), Value::String(env.to_string()));
    if let Some(d) = digest {
        inner.insert("digest".into(), Value::String(d));
    }
    json!({ "$secret": inner })
}

/// For providers that report differences as paths: `live` was read back
/// where the program put the secret `marker`. Refresh compares it by
/// digest and keeps only a marker (see `plan::sealed`).
pub fn read_back_secret(marker: &Value, live: &Value) -> Value {
    json!({ "$sealed": { "marker": marker, "live": live } })
}

/// The (marker, live value) of a [`read_back_secret`] report.
pub fn as_sealed(v: &Value) -> Option<(&Value, &Value)> {
    let inner = marker(v, "$sealed")?.as_object()?;
    Some((inner.get("marker")?, inner.get("live")?))
}

/// Every ref inside `v`, in order of appearance.
pub fn collect_refs(v: &Value, out: &mut Vec<RefTarget>) {
    visit_refs(v, &mut |address, attr| {
        if let Ok(address) = address.parse() {
            out.push(RefTarget {
                address,
                attr: attr.to_string(),
            });
        }
    });
}

/// Every ref inside `v`, in order of appearance, as the text of its
/// address and its output: borrowed, nothing parsed or allocated.
pub fn visit_refs<'a>(v: &'a Value, f: &mut dyn FnMut(&'a str, &'a str)) {
    if let Some(text) = marker(v, "$ref").and_then(Value::as_str) {
        if let Some((address, attr)) = ref_parts(text) {
            f(address, attr);
        }
        return;
    }
    match v {
        Value::Array(items) => items.iter().for_each(|i| visit_refs(i, f)),
        Value::Object(map) => {
            for (k, i) in map {
                visit_key_refs(k, f);
                visit_refs(i, f);
            }
        }
        _ => {}
    }
}

/// The refs inside a map key, as [`visit_refs`] gives them.
fn visit_key_refs<'a>(key: &'a str, f: &mut dyn FnMut(&'a str, &'a str)) {
    let mut rest = key;
    while let Some(start) = rest.find(OPEN) {
        let after = &rest[start + OPEN.len_utf8()..];
        let Some(end) = after.find(CLOSE) else { break };
        if let Some((address, attr)) = ref_parts(&after[..end]) {
            f(address, attr);
        }
        rest = &after[end + CLOSE.len_utf8()..];
    }
}

/// `kind.purpose#attr` → (`kind.purpose`, `attr`), when it is a ref.
fn ref_parts(text: &str) -> Option<(&str, &str)> {
    let (address, attr) = text.split_once('#')?;
    crate::address::split(address).ok()?;
    Some((address, attr))
}

/// A key with each ref replaced by `f(ref)`; `None` keeps the sentinel.
fn map_key(key: &str, f: &dyn Fn(&RefTarget) -> Option<String>) -> String {
    let mut out = String::new();
    let mut rest = key;
    while let Some(start) = rest.find(OPEN) {
        out.push_str(&rest[..start]);
        let after = &rest[start + OPEN.len_utf8()..];
        let Some(end) = after.find(CLOSE) else { break };
        let inner = &after[..end];
        match RefTarget::decode(inner).and_then(|t| f(&t)) {
            Some(text) => out.push_str(&text),
            None => {
                out.push(OPEN);
                out.push_str(inner);
                out.push(CLOSE);
            }
        }
        rest = &after[end + CLOSE.len_utf8()..];
    }
    out.push_str(rest);
    out
}

/// A key as people read it: `${aws.eks.cluster.main.oidc_issuer}:sub`.
pub fn display_key(key: &str) -> String {
    map_key(key, &|t| Some(format!("${{{t}}}")))
}

/// Does `v` still hold a ref or template (a value known only after apply)?
pub fn is_known(v: &Value) -> bool {
    if is_ref(v) || as_template(v).is_some() {
        return false;
    }
    match v {
        Value::Array(items) => items.iter().all(is_known),
        Value::Object(map) => map.iter().all(|(k, v)| !has_script_ref(k) && is_known(v)),
        _ => true,
    }
}

/// Replace every ref whose value `lookup` knows; templates whose parts all
/// become known collapse into a string. What stays unknown keeps its marker.
pub fn resolve(v: &Value, lookup: &dyn Fn(&RefTarget) -> Option<Value>) -> Value {
    if let Some(t) = as_ref(v) {
        return lookup(&t).unwrap_or_else(|| v.clone());
    }
    if let Some(parts) = as_template(v) {
        let parts: Vec<Value> = parts.iter().map(|p| resolve(p, lookup)).collect();
        if parts.iter().all(is_known) {
            let mut s = String::new();
            for p in &parts {
                match p {
                    Value::String(t) => s.push_str(t),
                    Value::Null => {}
                    other => s.push_str(&other.to_string()),
                }
            }
            return Value::String(s);
        }
        return json!({ "$template": parts });
    }
    match v {
        Value::Array(items) => Value::Array(items.iter().map(|i| resolve(i, lookup)).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let key = if has_script_ref(k) {
                        map_key(k, &|t| match lookup(t)? {
                            Value::String(s) => Some(s),
                            other => Some(other.to_string()),
                        })
                    } else {
                        k.clone()
                    };
                    (key, resolve(v, lookup))
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

/// `resolve`, sharing `v` when nothing in it is known yet: a plan's new
/// resources keep the program's own args instead of a copy of each.
/// `may_know(address, attr)` is a cheap first answer: `false` where
/// `lookup` surely knows nothing, so most refs are never parsed.
pub fn resolve_shared(
    v: &Arc<Value>,
    lookup: &dyn Fn(&RefTarget) -> Option<Value>,
    may_know: &dyn Fn(&str, &str) -> bool,
) -> Arc<Value> {
    let mut known = false;
    let mut check = |address: &str, attr: &str| {
        known = known
            || may_know(address, attr)
                && address.parse().is_ok_and(|address| {
                    lookup(&RefTarget {
                        address,
                        attr: attr.to_string(),
                    })
                    .is_some()
                });
    };
    visit_refs(v, &mut check);
    if known || has_settled_template(v) {
        Arc::new(resolve(v, lookup))
    } else {
        Arc::clone(v)
    }
}

/// A template with no ref left, which `resolve` turns into text.
fn has_settled_template(v: &Value) -> bool {
    if let Some(parts) = as_template(v) {
        return parts.iter().all(is_known) || parts.iter().any(has_settled_template);
    }
    match v {
        Value::Array(items) => items.iter().any(has_settled_template),
        Value::Object(map) => map.values().any(has_settled_template),
        _ => false,
    }
}

/// Serde for a shared value (`Option<Arc<Value>>`), written as the value
/// itself.
pub mod shared {
    use std::sync::Arc;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use serde_json::Value;

    pub fn serialize<S: Serializer>(v: &Option<Arc<Value>>, s: S) -> Result<S::Ok, S::Error> {
        v.as_deref().serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Arc<Value>>, D::Error> {
        Ok(Option::<Value>::deserialize(d)?.map(Arc::new))
    }
}

/// What typed validation sees for a value known only after apply.
pub const UNKNOWN: &str = "(known after apply)";

/// Text as a plan renders it for another program to read: a template's
/// literal parts as they are, each part known only after apply as
/// [`UNKNOWN`]; `None` for what is not text.
pub fn text_with_placeholders(v: &Value) -> Option<String> {
    if is_ref(v) {
        return Some(UNKNOWN.into());
    }
    if let Some(parts) = as_template(v) {
        return Some(
            parts
                .iter()
                .map(|p| match p {
                    Value::String(t) => t.clone(),
                    Value::Null => String::new(),
                    p if is_ref(p) => UNKNOWN.into(),
                    other => other.to_string(),
                })
                .collect(),
        );
    }
    v.as_str().map(str::to_string)
}

/// A stand-in value of the right shape for typed validation: refs and
/// templates become strings, secrets become strings.
/// Does `for_validation` leave `v` as it is (no ref, template or secret
/// anywhere, no ref in a key)? Then the value can be validated without a
/// copy.
pub fn is_plain(v: &Value) -> bool {
    if is_ref(v) || as_template(v).is_some() || as_secret(v).is_some() {
        return false;
    }
    match v {
        Value::Array(items) => items.iter().all(is_plain),
        Value::Object(map) => map.iter().all(|(k, v)| !has_script_ref(k) && is_plain(v)),
        _ => true,
    }
}

pub fn for_validation(v: &Value) -> Value {
    if is_ref(v) || as_template(v).is_some() || as_secret(v).is_some() {
        return Value::String(UNKNOWN.into());
    }
    match v {
        Value::Array(items) => Value::Array(items.iter().map(for_validation).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let key = if has_script_ref(k) {
                        display_key(k)
                    } else {
                        k.clone()
                    };
                    (key, for_validation(v))
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

/// How a value reads in a plan: refs as `(known after apply)`, secrets as
/// `(sensitive)`, everything else as compact JSON.
pub fn display(v: &Value) -> String {
    if as_secret(v).is_some() {
        return "(sensitive)".into();
    }
    if !is_known_shallow(v) {
        return "(known after apply)".into();
    }
    match v {
        Value::String(s) => format!("{s:?}"),
        Value::Array(items) => {
            let inner: Vec<String> = items.iter().map(display).collect();
            format!("[{}]", inner.join(", "))
        }
        Value::Object(map) => {
            let inner: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{} = {}", display_key(k), display(v)))
                .collect();
            format!("{{ {} }}", inner.join(", "))
        }
        other => other.to_string(),
    }
}

fn is_known_shallow(v: &Value) -> bool {
    !is_ref(v) && as_template(v).is_none()
}

/// Do two documents mean the same with set semantics: keys in any order,
/// a one-element list the same as its element, lists of strings in any
/// order, scalars compared as text (`true` and `"true"`)? IAM and KMS
/// policies are compared this way.
pub fn same_document(a: &Value, b: &Value) -> bool {
    canonical_document(a) == canonical_document(b)
}

fn canonical_document(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let mut out = Map::new();
            for k in keys {
                out.insert(k.clone(), canonical_document(&m[k]));
            }
            Value::Object(out)
        }
        Value::Array(items) if items.len() == 1 => canonical_document(&items[0]),
        Value::Array(items) => {
            let mut items: Vec<Value> = items.iter().map(canonical_document).collect();
            if items.iter().all(Value::is_string) {
                items.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
            }
            Value::Array(items)
        }
        Value::Bool(b) => Value::String(b.to_string()),
        Value::Number(n) => Value::String(n.to_string()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr() -> Address {
        "aws.ec2.vpc.main".parse().unwrap()
    }

    #[test]
    fn whole_string_ref_becomes_ref() {
        let s = script_ref(&addr(), "id");
        let v = decode_script_strings(Value::String(s));
        assert_eq!(v, json!({"$ref": "aws.ec2.vpc.main#id"}));
    }

    #[test]
    fn interpolated_ref_becomes_template_and_resolves() {
        let s = format!("arn:{}/x", script_ref(&addr(), "id"));
        let v = decode_script_strings(json!({ "nested": [s] }));
        let mut refs = Vec::new();
        collect_refs(&v, &mut refs);
        assert_eq!(refs.len(), 1);
        assert!(!is_known(&v));
        let r = resolve(&v, &|_| Some(json!("vpc-1")));
        assert_eq!(r, json!({ "nested": ["arn:vpc-1/x"] }));
    }

    #[test]
    fn resolve_shared_copies_only_what_it_can_resolve() {
        let key = format!("{}:sub", script_ref(&addr(), "oidc_issuer"));
        let v = Arc::new(decode_script_strings(json!({
            "vpc": script_ref(&addr(), "id"),
            "arn": format!("arn:{}/x", script_ref(&addr(), "arn")),
            "condition": { key: "system:serviceaccount" },
            "plain": ["a", 1],
        })));
        let nothing = |_: &RefTarget| None;
        let shared = resolve_shared(&v, &nothing, &|_, _| true);
        assert!(
            Arc::ptr_eq(&shared, &v),
            "nothing known: the args are shared"
        );
        // A first answer of `false` is taken as it is: lookup is not asked.
        let everything = |_: &RefTarget| Some(json!("known"));
        let shared = resolve_shared(&v, &everything, &|_, _| false);
        assert!(Arc::ptr_eq(&shared, &v));
        for only in ["id", "arn", "oidc_issuer"] {
            let lookup = |t: &RefTarget| (t.attr == only).then(|| json!("known"));
            let resolved = resolve_shared(&v, &lookup, &|_, _| true);
            assert!(!Arc::ptr_eq(&resolved, &v), "{only} is known: a copy");
            assert_eq!(*resolved, resolve(&v, &lookup), "{only}");
        }
        let mut seen = Vec::new();
        visit_refs(&v, &mut |address, attr| {
            seen.push(format!("{address}#{attr}"))
        });
        assert_eq!(
            seen,
            [
                "aws.ec2.vpc.main#id",
                "aws.ec2.vpc.main#arn",
                "aws.ec2.vpc.main#oidc_issuer"
            ]
        );
    }

    #[test]
    fn refs_in_map_keys_are_collected_and_resolved() {
        let key = format!("{}:sub", script_ref(&addr(), "oidc_issuer"));
        let v = decode_script_strings(
            json!({ "StringEquals": { key.clone(): "system:serviceaccount:payment:api" } }),
        );
        let mut refs = Vec::new();
        collect_refs(&v, &mut refs);
        assert_eq!(refs.len(), 1);
        assert!(!is_known(&v));
        assert_eq!(display_key(&key), "${aws.ec2.vpc.main.oidc_issuer}:sub");
        let r = resolve(&v, &|_| Some(json!("oidc.example/id/ABC")));
        assert_eq!(
            r,
            json!({ "StringEquals": { "oidc.example/id/ABC:sub": "system:serviceaccount:payment:api" } })
        );
        assert!(is_known(&r));
    }
}
