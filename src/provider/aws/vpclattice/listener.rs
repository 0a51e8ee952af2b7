//! `aws.vpclattice.listener`: where a service accepts traffic (protocol,
//! port) and the target groups its default action forwards to.
//!
//! A listener lives inside its service: every call names both, so the
//! service identifier is an argument and a change of it replaces.

use aws_sdk_vpclattice::Client;
use aws_sdk_vpclattice::types::{ForwardAction, ListenerProtocol, RuleAction, WeightedTargetGroup};
use payrun_derive::Args;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::target_group::Protocol;
use super::{found, gone_is_ok, identifier, incomplete, parse, tagging};
use crate::provider::aws::error::AwsResultExt;
use crate::provider::aws::refresh::Refresh;
use crate::provider::aws::tags::Tags;
use crate::provider::schema::{KindSchema, validate_as};
use crate::provider::{Applied, CreateOp, DeleteOp, ProviderError, ReadItem, ReadResult, UpdateOp};

#[derive(Deserialize, Args)]
#[serde(deny_unknown_fields)]
#[arg(kind = "aws.vpclattice.listener")]
struct ListenerArgs {
    #[serde(rename = "service")]
    #[arg(force_new, formerly = "service")]
    service_identifier: String,
    #[arg(force_new)]
    protocol: Protocol,
    /// Defaults to 80 for HTTP and 443 for HTTPS.
    #[serde(default)]
    #[arg(force_new)]
    port: Option<i32>,
    default_action: DefaultAction,
    #[serde(default)]
    tags: Tags,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DefaultAction {
    forward: Forward,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Forward {
    target_groups: Vec<WeightedArgs>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WeightedArgs {
    target_group_identifier: String,
    #[serde(default)]
    weight: Option<i32>,
}

pub(super) const SCHEMA: KindSchema = KindSchema {
    kind: ListenerArgs::KIND,
    name_prefix: "lsn",
    name_max: 63,
    taggable: true,
    named_by_arg: false,
    create_before_destroy: false,
    args: ListenerArgs::SPECS,
    outputs: &["arn"],
    validate: &validate_as::<ListenerArgs>,
    reads_each: Some("one GetListener per listener: Lattice lists them without their actions"),
    doc: "A VPC Lattice listener on `service`; `default_action`: #{ forward: #{ target_groups: [#{ target_group_identifier, weight }] } }.",
};

fn action(a: &DefaultAction, subject: &str) -> Result<RuleAction, ProviderError> {
    let groups = a
        .forward
        .target_groups
        .iter()
        .map(|t| {
            WeightedTargetGroup::builder()
                .target_group_identifier(&t.target_group_identifier)
                .set_weight(t.weight)
                .build()
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ProviderError::new(format!("{subject}: {e}")).with_code("InvalidArguments"))?;
    let forward = ForwardAction::builder()
        .set_target_groups(Some(groups))
        .build()
        .map_err(|e| ProviderError::new(format!("{subject}: {e}")).with_code("InvalidArguments"))?;
    Ok(RuleAction::Forward(forward))
}

/// The default action in the program's shape; weights given back only
/// where the program wrote one (Lattice fills in its default).
fn observed_action(recorded: &Value, live: Option<&RuleAction>) -> Value {
    let written: Vec<Value> = recorded
        .pointer("/default_action/forward/target_groups")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let Some(Ok(forward)) = live.map(RuleAction::as_forward) else {
        return Value::Null;
    };
    let groups: Vec<Value> = forward
        .target_groups()
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let w = written.get(i).cloned().unwrap_or(Value::Null);
            let mut m = Map::new();
            m.insert(
                "target_group_identifier".into(),
                identifier(&w, "target_group_identifier", t.target_group_identifier()),
            );
            if w.get("weight").is_some_and(|v| !v.is_null()) {
                m.insert("weight".into(), json!(t.weight()));
            }
            Value::Object(m)
        })
        .collect();
    json!({ "forward": { "target_groups": groups } })
}

fn outputs(arn: Option<&str>) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("arn".into(), json!(arn.unwrap_or_default()));
    m
}

fn service_of(args: &Value) -> &str {
    args.get("service")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

pub(super) async fn create(client: &Client, op: &CreateOp) -> Result<Applied, ProviderError> {
    let subject = op.address.to_string();
    let args: ListenerArgs = parse(&op.args, &subject)?;
    let out = client
        .create_listener()
        .service_identifier(&args.service_identifier)
        .name(&op.name)
        .protocol(ListenerProtocol::from(args.protocol.as_str()))
        .set_port(args.port)
        .default_action(action(&args.default_action, &subject)?)
        .client_token(&op.token)
        .set_tags(tagging::to_aws(&args.tags))
        .send()
        .await
        .or_fail(&subject, "vpc-lattice:CreateListener")?;
    let id = out
        .id()
        .ok_or_else(|| incomplete(&subject, "CreateListener", "an id"))?
        .to_string();
    Ok(Applied {
        id,
        outputs: outputs(out.arn()),
    })
}

/// One GetListener per item: the List summary has no default action.
pub(super) async fn read(
    client: &Client,
    _cx: &Refresh<'_>,
    items: &[ReadItem],
) -> Result<Vec<ReadResult>, ProviderError> {
    let mut results = Vec::with_capacity(items.len());
    for item in items {
        let got = found(
            client
                .get_listener()
                .service_identifier(service_of(&item.args))
                .listener_identifier(&item.id)
                .send()
                .await
                .or_fail(&item.address.to_string(), "vpc-lattice:GetListener"),
        )?;
        results.push(match got {
            None => ReadResult::Gone,
            Some(l) => {
                let mut args = Map::new();
                args.insert(
                    "service".into(),
                    identifier(
                        &item.args,
                        "service",
                        l.service_id().unwrap_or_default(),
                    ),
                );
                args.insert(
                    "protocol".into(),
                    json!(l.protocol().map(ListenerProtocol::as_str)),
                );
                if item.args.get("port").is_some_and(|v| !v.is_null()) {
                    args.insert("port".into(), json!(l.port()));
                }
                args.insert(
                    "default_action".into(),
                    observed_action(&item.args, l.default_action()),
                );
                ReadResult::Found {
                    args,
                    outputs: outputs(l.arn()),
                }
            }
        });
    }
    Ok(results)
}

pub(super) async fn update(client: &Client, op: &UpdateOp) -> Result<Applied, ProviderError> {
    let subject = op.address.to_string();
    let before: ListenerArgs = parse(&op.before, &subject)?;
    let after: ListenerArgs = parse(&op.after, &subject)?;
    if op.changed.iter().any(|c| c == "default_action") {
        client
            .update_listener()
            .service_identifier(&after.service_identifier)
            .listener_identifier(&op.id)
            .default_action(action(&after.default_action, &subject)?)
            .send()
            .await
            .or_fail(&subject, "vpc-lattice:UpdateListener")?;
    }
    let arn = op.recorded("arn");
    tagging::update(client, &subject, arn, &before.tags, &after.tags).await?;
    Ok(op.unchanged())
}

pub(super) async fn delete(client: &Client, op: &DeleteOp) -> Result<(), ProviderError> {
    gone_is_ok(
        client
            .delete_listener()
            .service_identifier(service_of(&op.args))
            .listener_identifier(&op.id)
            .send()
            .await
            .or_fail(&op.address.to_string(), "vpc-lattice:DeleteListener"),
    )
}

pub(super) async fn adopt(
    client: &Client,
    op: &CreateOp,
) -> Result<Option<Applied>, ProviderError> {
    let subject = op.address.to_string();
    let all: Vec<_> = found(
        client
            .list_listeners()
            .service_identifier(service_of(&op.args))
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .or_fail(&subject, "vpc-lattice:ListListeners"),
    )?
    .unwrap_or_default();
    let candidates = all
        .iter()
        .filter(|l| l.name() == Some(op.name.as_str()))
        .map(|l| (l.id(), l.arn(), outputs(l.arn())))
        .collect();
    tagging::adopt_owned(client, op, candidates).await
}
