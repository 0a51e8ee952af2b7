//! VPC Lattice kinds: service networks, services, target groups, listeners,
//! their associations and auth policies; one file per kind.
//!
//! Lattice has no batch Describe: List summaries lack the settings a plan
//! compares (auth type, target group config, listener action), so kinds
//! whose settings are only in Get are read one Get per resource; the
//! associations are read with one List per service network. Tags are not
//! read back (one ListTagsForResource per resource): they keep their
//! recorded value and are changed in place by difference. A refresh of a
//! stack finds the service networks and services carrying the stack's tag
//! that no item records through its one read of the stack's tags.

mod auth_policy;
mod listener;
mod service;
mod service_network;
mod service_network_service_association;
mod service_network_vpc_association;
mod tagging;
mod target_group;
mod wait;

use std::collections::{BTreeSet, HashMap};
use std::future::Future;

use aws_sdk_vpclattice::Client;
use serde::Deserialize;
use serde_json::Value;

use crate::provider::aws::call::{found, gone_is_ok, incomplete, parse};
use crate::provider::aws::refresh::Refresh;
use crate::provider::{ProviderError, ReadItem, ReadResult};

/// The objects of `kind` (ARNs `…:<resource>/<id>`) that the refresh's read
/// of the stack's tags finds and no item records, reported to `cx` once
/// `alive` confirms each (one keeps its tags while Lattice deletes it).
async fn unrecorded<F, Fut>(
    cx: &Refresh<'_>,
    kind: &str,
    items: &[ReadItem],
    resource: &str,
    alive: F,
) -> Result<(), ProviderError>
where
    F: Fn(String) -> Fut,
    Fut: Future<Output = Result<bool, ProviderError>>,
{
    let (Some(tagged), Some(stack)) = (cx.tagged().await, cx.stack()) else {
        return Ok(());
    };
    let marker = format!(":{resource}/");
    for (arn, t) in tagged? {
        let Some((_, id)) = arn.split_once(&marker) else {
            continue;
        };
        let ours = t.get(crate::provider::aws::tags::STACK).is_some_and(|s| s == stack);
        if ours && !items.iter().any(|i| i.id == id) && alive(id.to_string()).await? {
            cx.unrecorded(kind, id, t);
        }
    }
    Ok(())
}

kinds!(
    Client;
    service_network: stack,
    service_network_vpc_association,
    service: stack,
    target_group,
    listener,
    service_network_service_association,
    auth_policy,
);

/// Who may call a service network or service: anyone in the associated
/// VPCs (`NONE`) or principals its auth policy allows (`AWS_IAM`).
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
enum AuthType {
    #[default]
    #[serde(rename = "NONE")]
    None,
    #[serde(rename = "AWS_IAM")]
    AwsIam,
}

impl AuthType {
    fn as_str(self) -> &'static str {
        match self {
            Self::None => "NONE",
            Self::AwsIam => "AWS_IAM",
        }
    }

    fn to_aws(self) -> aws_sdk_vpclattice::types::AuthType {
        aws_sdk_vpclattice::types::AuthType::from(self.as_str())
    }
}

/// An identifier argument as the program wrote it when it names `live_id`
/// (Lattice accepts an id or an ARN), else the live id.
fn identifier(recorded: &Value, key: &str, live_id: &str) -> Value {
    match recorded.get(key).and_then(Value::as_str) {
        Some(w) if w == live_id || w.rsplit('/').next() == Some(live_id) => Value::from(w),
        _ => Value::from(live_id),
    }
}

/// The last part of an id-or-ARN: the id List calls answer with.
fn id_of(identifier: &str) -> &str {
    identifier.rsplit('/').next().unwrap_or(identifier)
}

/// An identifier argument of an association and the live id it names.
type Identifier<S> = (&'static str, fn(&S) -> Option<&str>);

/// Reads associations with one List per service network the items name:
/// an item whose id no list answers, or that is being deleted, is gone;
/// for the others, each `(argument, id)` of `identifiers` is given back as
/// the program wrote it when it names the live id, and `outputs` of the
/// summary.
async fn read_by_network<S, L, Fut>(
    items: &[ReadItem],
    mut list: L,
    id: fn(&S) -> Option<&str>,
    deleting: fn(&S) -> bool,
    identifiers: &[Identifier<S>],
    outputs: fn(&S) -> serde_json::Map<String, Value>,
) -> Result<Vec<ReadResult>, ProviderError>
where
    L: FnMut(String) -> Fut,
    Fut: Future<Output = Result<Vec<S>, ProviderError>>,
{
    let networks: BTreeSet<&str> = items
        .iter()
        .filter_map(|i| {
            i.args
                .get("service_network")
                .and_then(Value::as_str)
        })
        .map(id_of)
        .collect();
    let mut live: HashMap<String, S> = HashMap::new();
    for sn in networks {
        for a in list(sn.to_string()).await? {
            live.insert(id(&a).unwrap_or_default().to_string(), a);
        }
    }
    Ok(items
        .iter()
        .map(|item| match live.get(&item.id) {
            Some(a) if !deleting(a) => ReadResult::Found {
                args: identifiers
                    .iter()
                    .map(|(key, live_id)| {
                        let value = identifier(&item.args, key, live_id(a).unwrap_or_default());
                        (key.to_string(), value)
                    })
                    .collect(),
                outputs: outputs(a),
            },
            _ => ReadResult::Gone,
        })
        .collect())
}
