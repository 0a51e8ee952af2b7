//! `aws.kms.alias`: `alias/<physical name>` pointing at a key; id: the
//! alias name.

use std::collections::HashMap;

use aws_sdk_kms::Client;
use aws_sdk_kms::types::AliasListEntry;
use payrun_derive::Args;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::provider::aws::call::{gone_is_ok, parse};
use crate::provider::aws::refresh::Refresh;
use crate::provider::aws::error::AwsResultExt;
use crate::provider::aws::observed::Observed;
use crate::provider::schema::{KindSchema, validate_as};
use crate::provider::{Applied, CreateOp, DeleteOp, ProviderError, ReadItem, ReadResult, UpdateOp};

#[derive(Deserialize, Args)]
#[serde(deny_unknown_fields)]
#[arg(kind = "aws.kms.alias")]
struct AliasArgs {
    /// The key the alias names.
    #[arg(formerly = "target_key_id")]
    kms_key: String,
}

pub(super) const SCHEMA: KindSchema = KindSchema {
    kind: AliasArgs::KIND,
    name_prefix: "alias",
    // 256 for the whole `alias/...` name.
    name_max: 250,
    taggable: false,
    named_by_arg: false,
    create_before_destroy: false,
    args: AliasArgs::SPECS,
    outputs: &["arn", "name"],
    validate: &validate_as::<AliasArgs>,
    reads_each: None,
    doc: "A KMS alias `alias/<physical name>` for the key `kms_key` (a key, or its id).",
};

fn outputs(name: &str, arn: Option<&str>) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("arn".into(), json!(arn.unwrap_or_default()));
    m.insert("name".into(), json!(name));
    m
}

async fn list(
    kms: &Client,
    subject: &str,
) -> Result<HashMap<String, AliasListEntry>, ProviderError> {
    let all: Vec<AliasListEntry> = kms
        .list_aliases()
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .or_fail(subject, "kms:ListAliases")?;
    Ok(all
        .into_iter()
        .filter_map(|a| Some((a.alias_name()?.to_string(), a)))
        .collect())
}

/// The key id the alias targets, however the program named it (id or ARN).
fn key_id(target: &str) -> &str {
    target.rsplit_once("key/").map_or(target, |(_, id)| id)
}

pub(super) async fn create(kms: &Client, op: &CreateOp) -> Result<Applied, ProviderError> {
    let subject = op.address.to_string();
    let args: AliasArgs = parse(&op.args, &subject)?;
    let name = format!("alias/{}", op.name);
    kms.create_alias()
        .alias_name(&name)
        .target_key_id(&args.kms_key)
        .send()
        .await
        .or_fail(&subject, "kms:CreateAlias")?;
    let live = list(kms, &subject).await?;
    Ok(Applied {
        outputs: outputs(&name, live.get(&name).and_then(AliasListEntry::alias_arn)),
        id: name,
    })
}

/// One ListAliases (per page) for every alias of the stack.
pub(super) async fn read(
    kms: &Client,
    _cx: &Refresh<'_>,
    items: &[ReadItem],
) -> Result<Vec<ReadResult>, ProviderError> {
    let live = list(kms, SCHEMA.kind).await?;
    Ok(items
        .iter()
        .map(|item| match live.get(&item.id) {
            None => ReadResult::Gone,
            Some(a) => {
                let target = a.target_key_id().unwrap_or_default();
                let written = item.args.get("kms_key").and_then(Value::as_str);
                let value = match written {
                    Some(w) if key_id(w) == target => w.to_string(),
                    _ => target.to_string(),
                };
                ReadResult::Found {
                    args: Observed::new(&item.args)
                        .set("kms_key", value)
                        .finish(),
                    outputs: outputs(&item.id, a.alias_arn()),
                }
            }
        })
        .collect())
}

pub(super) async fn update(kms: &Client, op: &UpdateOp) -> Result<Applied, ProviderError> {
    let subject = op.address.to_string();
    let after: AliasArgs = parse(&op.after, &subject)?;
    kms.update_alias()
        .alias_name(&op.id)
        .target_key_id(&after.kms_key)
        .send()
        .await
        .or_fail(&subject, "kms:UpdateAlias")?;
    Ok(op.unchanged())
}

pub(super) async fn delete(kms: &Client, op: &DeleteOp) -> Result<(), ProviderError> {
    gone_is_ok(
        kms.delete_alias()
            .alias_name(&op.id)
            .send()
            .await
            .map(drop)
            .or_fail(&op.address.to_string(), "kms:DeleteAlias"),
    )
}

/// The alias name carries the stack's suffix: one that exists is the one an
/// interrupted create made.
pub(super) async fn adopt(kms: &Client, op: &CreateOp) -> Result<Option<Applied>, ProviderError> {
    let subject = op.address.to_string();
    let name = format!("alias/{}", op.name);
    let live = list(kms, &subject).await?;
    Ok(live.get(&name).map(|a| Applied {
        outputs: outputs(&name, a.alias_arn()),
        id: name.clone(),
    }))
}
