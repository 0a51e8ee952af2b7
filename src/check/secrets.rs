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
/// variable is not set now.
pub fn findings(changes: &[ResourceChange]) -> Vec<Finding> {
    fn walk(v: &Value, address: &Address, out: &mut Vec<Finding>) {
        if let Some((env, _)) = as_secret(v) {
            if std::env::var_os(env).is_none() {
                out.push(unset(address, env));
            }
            return;
        }
        match v {
            Value::Array(items) => items.iter().for_each(|i| walk(i, address, out)),
            Value::Object(map) => map.values().for_each(|i| walk(i, address, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    for c in changes {
        if let Some(after) = &c.after {
            walk(after, &c.address, &mut out);
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
pub struct Unset;

impl super::Check for Unset {
    fn name(&self) -> &'static str {
        "unset secrets"
    }
    fn codes(&self) -> &'static [&'static str] {
        &["secret-unset"]
    }
    fn run(&self, cx: &super::Context<'_>) -> Vec<crate::finding::Finding> {
        findings(cx.changes)
    }
}
