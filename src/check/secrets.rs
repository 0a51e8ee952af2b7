//! Secrets the plan reads from the environment: each variable must be set
//! when the plan is made and again when it is applied (the value itself is
//! never stored).

use serde_json::Value;

use crate::address::Address;
use crate::finding::Finding;
use crate::plan::ResourceChange;
use crate::value::as_secret;

pub const UNSET: &str = "secret-unset";

/// A `secret-unset` finding for every secret of the planned changes whose
/// variable is not set now (`env_set` says).
pub fn findings(changes: &[ResourceChange], env_set: fn(&str) -> bool) -> Vec<Finding> {
    fn walk(v: &Value, address: &Address, env_set: fn(&str) -> bool, out: &mut Vec<Finding>) {
        if let Some((env, _)) = as_secret(v) {
            if !env_set(env) {
                out.push(unset(address, env));
            }
            return;
        }
        match v {
            Value::Array(items) => items.iter().for_each(|i| walk(i, address, env_set, out)),
            Value::Object(map) => map.values().for_each(|i| walk(i, address, env_set, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    for c in changes {
        if let Some(after) = &c.after {
            walk(after, &c.address, env_set, &mut out);
        }
    }
    out
}

fn unset(address: &Address, env: &str) -> Finding {
    Finding::error(
        UNSET,
        format!("{address} reads a secret from ${env}, which is not set"),
    )
    .at(address)
    .remedy(format!(
        "export {env} before plan and apply (the value is never stored)"
    ))
}

/// The check of this module, as [`super::CHECKS`] runs it.
pub const CHECK: super::Check = super::Check {
    name: "unset secrets",
    codes: &["secret-unset"],
    run: |cx| findings(cx.changes, cx.facts.env_set),
};
