//! `aws.kms.key`: a symmetric customer managed key, rotated yearly by
//! default; delete schedules its deletion after `deletion_window_in_days`.
//!
//! KMS has no batched DescribeKey: reads go one key at a time, with the
//! rotation status, tags and (when the program sets one) policy of each.

use std::collections::HashMap;

use aws_sdk_kms::Client;
use aws_sdk_kms::types::{KeyMetadata, KeyState, Tag};
use payrun_derive::Args;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::provider::aws::call::{found, gone_is_ok, incomplete, parse};
use crate::provider::aws::refresh::Refresh;
use crate::provider::aws::error::AwsResultExt;
use crate::provider::aws::observed::Observed;
use crate::provider::aws::policy_document;
use crate::provider::aws::tags::{self, Tags};
use crate::provider::schema::{KindSchema, validate_as};
use crate::provider::{Applied, CreateOp, DeleteOp, ProviderError, ReadItem, ReadResult, UpdateOp};

#[derive(Deserialize, Args)]
#[serde(deny_unknown_fields)]
#[arg(kind = "aws.kms.key")]
pub(crate) struct KeyArgs {
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    pub(crate) enable_key_rotation: Option<bool>,
    #[serde(default)]
    deletion_window_in_days: Option<i32>,
    #[serde(default)]
    #[arg(document)]
    policy: Option<Map<String, Value>>,
    #[serde(default)]
    tags: Tags,
}

pub(super) const SCHEMA: KindSchema = KindSchema {
    kind: KeyArgs::KIND,
    name_prefix: "key",
    name_max: 250,
    taggable: true,
    named_by_arg: false,
    create_before_destroy: true,
    args: KeyArgs::SPECS,
    outputs: &["arn", "key_id"],
    validate: &validate_as::<KeyArgs>,
    reads_each: Some("a DescribeKey and a GetKeyRotationStatus per key (and a GetKeyPolicy where the program writes one); tags come from one read of the stack"),
    doc: "A KMS key: `description`, `enable_key_rotation` (default true), `deletion_window_in_days` (7 to 30, default 7), `policy` (a map; default: the account's key policy).",
};

const ROTATION_DEFAULT: bool = true;
const DELETION_WINDOW_DEFAULT: i32 = 7;
const POLICY_NAME: &str = "default";

fn to_aws(tags: &Tags) -> Vec<Tag> {
    tags.iter()
        .filter_map(|(k, v)| Tag::builder().tag_key(k).tag_value(v).build().ok())
        .collect()
}

fn outputs(key: &KeyMetadata) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("arn".into(), json!(key.arn().unwrap_or_default()));
    m.insert("key_id".into(), json!(key.key_id()));
    m
}

async fn describe(
    kms: &Client,
    subject: &str,
    id: &str,
) -> Result<Option<KeyMetadata>, ProviderError> {
    let out = found(
        kms.describe_key()
            .key_id(id)
            .send()
            .await
            .or_fail(subject, "kms:DescribeKey"),
    )?;
    Ok(out
        .and_then(|o| o.key_metadata().cloned())
        .filter(|k| !matches!(k.key_state(), Some(KeyState::PendingDeletion))))
}

async fn live_tags(kms: &Client, subject: &str, id: &str) -> Result<Tags, ProviderError> {
    let tags: Vec<Tag> = kms
        .list_resource_tags()
        .key_id(id)
        .send()
        .await
        .or_fail(subject, "kms:ListResourceTags")?
        .tags()
        .to_vec();
    Ok(tags
        .iter()
        .map(|t| (t.tag_key().to_string(), t.tag_value().to_string()))
        .filter(|(k, _)| !k.starts_with("aws:"))
        .collect())
}

async fn set_rotation(
    kms: &Client,
    subject: &str,
    id: &str,
    on: bool,
) -> Result<(), ProviderError> {
    if on {
        kms.enable_key_rotation()
            .key_id(id)
            .send()
            .await
            .or_fail(subject, "kms:EnableKeyRotation")?;
    } else {
        kms.disable_key_rotation()
            .key_id(id)
            .send()
            .await
            .or_fail(subject, "kms:DisableKeyRotation")?;
    }
    Ok(())
}

pub(super) async fn create(kms: &Client, op: &CreateOp) -> Result<Applied, ProviderError> {
    let subject = op.address.to_string();
    let args: KeyArgs = parse(&op.args, &subject)?;
    let out = kms
        .create_key()
        .set_description(args.description)
        .set_policy(
            args.policy
                .map(|p| policy_document::to_json(&Value::Object(p))),
        )
        .set_tags(Some(to_aws(&args.tags)))
        .send()
        .await
        .or_fail(&subject, "kms:CreateKey")?;
    let key = out
        .key_metadata()
        .ok_or_else(|| incomplete(&subject, "CreateKey", "key metadata"))?;
    let made = Applied {
        id: key.key_id().to_string(),
        outputs: outputs(key),
    };
    op.made(&made);
    complete(kms, op, &made).await
}

/// Rotation goes on after the key exists: a create interrupted in between,
/// or a key adopted after a lost reply, gets it here.
pub(super) async fn complete(
    kms: &Client,
    op: &CreateOp,
    made: &Applied,
) -> Result<Applied, ProviderError> {
    let subject = op.address.to_string();
    let args: KeyArgs = parse(&op.args, &subject)?;
    if args.enable_key_rotation.unwrap_or(ROTATION_DEFAULT) {
        set_rotation(kms, &subject, &made.id, true).await?;
    }
    Ok(made.clone())
}

/// Per key: DescribeKey, GetKeyRotationStatus and, where the program
/// writes one, GetKeyPolicy (KMS has no batched form of them); the tags
/// come from the refresh's one read of the stack's tags, which also finds
/// the stack's keys no item records (a key scheduled for deletion is gone,
/// though it keeps its tags for its waiting period). A key the stack's
/// tag does not find, or a read alone, asks ListResourceTags.
pub(super) async fn read(
    kms: &Client,
    cx: &Refresh<'_>,
    items: &[ReadItem],
) -> Result<Vec<ReadResult>, ProviderError> {
    let subject = SCHEMA.kind;
    let tagged: Option<HashMap<String, Tags>> = match cx.tagged().await {
        Some(all) => Some(
            all?.iter()
                .filter_map(|(arn, t)| Some((arn.split_once(":key/")?.1.to_string(), t.clone())))
                .collect(),
        ),
        None => None,
    };
    if let (Some(tagged), Some(stack)) = (&tagged, cx.stack()) {
        for (id, t) in tagged {
            let ours = t.get(tags::STACK).is_some_and(|s| s == stack);
            if ours
                && !items.iter().any(|i| &i.id == id)
                && describe(kms, subject, id).await?.is_some()
            {
                cx.unrecorded(subject, id, t);
            }
        }
    }
    let mut results = Vec::with_capacity(items.len());
    for item in items {
        let Some(key) = describe(kms, subject, &item.id).await? else {
            results.push(ReadResult::Gone);
            continue;
        };
        let rotation = kms
            .get_key_rotation_status()
            .key_id(&item.id)
            .send()
            .await
            .or_fail(subject, "kms:GetKeyRotationStatus")?
            .key_rotation_enabled();
        let policy = if item.args.get("policy").is_some_and(|p| !p.is_null()) {
            kms.get_key_policy()
                .key_id(&item.id)
                .policy_name(POLICY_NAME)
                .send()
                .await
                .or_fail(subject, "kms:GetKeyPolicy")?
                .policy()
                .and_then(policy_document::decode)
        } else {
            None
        };
        // The deletion window is only sent with ScheduleKeyDeletion, so it
        // keeps its recorded value.
        let args = Observed::new(&item.args)
            .maybe("description", key.description().filter(|d| !d.is_empty()))
            .optional("enable_key_rotation", rotation, ROTATION_DEFAULT)
            .document("policy", policy)
            .tags(&match tagged.as_ref().and_then(|t| t.get(&item.id)) {
                Some(t) => t
                    .iter()
                    .filter(|(k, _)| !k.starts_with("aws:"))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
                None => live_tags(kms, subject, &item.id).await?,
            })
            .finish();
        results.push(ReadResult::Found {
            args,
            outputs: outputs(&key),
        });
    }
    Ok(results)
}

pub(super) async fn update(kms: &Client, op: &UpdateOp) -> Result<Applied, ProviderError> {
    let subject = op.address.to_string();
    let before: KeyArgs = parse(&op.before, &subject)?;
    let after: KeyArgs = parse(&op.after, &subject)?;
    let changed = |k: &str| op.changed.iter().any(|c| c == k);
    if changed("description") {
        kms.update_key_description()
            .key_id(&op.id)
            .description(after.description.clone().unwrap_or_default())
            .send()
            .await
            .or_fail(&subject, "kms:UpdateKeyDescription")?;
    }
    if changed("enable_key_rotation") {
        let on = after.enable_key_rotation.unwrap_or(ROTATION_DEFAULT);
        set_rotation(kms, &subject, &op.id, on).await?;
    }
    if changed("policy")
        && let Some(policy) = &after.policy
    {
        kms.put_key_policy()
            .key_id(&op.id)
            .policy_name(POLICY_NAME)
            .policy(policy_document::to_json(&Value::Object(policy.clone())))
            .send()
            .await
            .or_fail(&subject, "kms:PutKeyPolicy")?;
    }
    tags::reconcile(
        &subject,
        &before.tags,
        &after.tags,
        ("kms:UntagResource", |keys| {
            kms.untag_resource()
                .key_id(&op.id)
                .set_tag_keys(Some(keys))
                .send()
        }),
        ("kms:TagResource", |tags| {
            kms.tag_resource()
                .key_id(&op.id)
                .set_tags(Some(to_aws(&tags)))
                .send()
        }),
    )
    .await?;
    Ok(op.unchanged())
}

pub(super) async fn delete(kms: &Client, op: &DeleteOp) -> Result<(), ProviderError> {
    let subject = op.address.to_string();
    let args: KeyArgs = parse(&op.args, &subject)?;
    let window = args
        .deletion_window_in_days
        .unwrap_or(DELETION_WINDOW_DEFAULT);
    if describe(kms, &subject, &op.id).await?.is_none() {
        return Ok(());
    }
    gone_is_ok(
        kms.schedule_key_deletion()
            .key_id(&op.id)
            .pending_window_in_days(window)
            .send()
            .await
            .map(drop)
            .or_fail(&subject, "kms:ScheduleKeyDeletion"),
    )
}

/// Keys have no name to look up: the enabled keys are listed and the one
/// tagged for this address is the one an interrupted create made.
pub(super) async fn adopt(kms: &Client, op: &CreateOp) -> Result<Option<Applied>, ProviderError> {
    let subject = op.address.to_string();
    for id in key_ids(kms, &subject).await? {
        let Some(key) = describe(kms, &subject, &id).await? else {
            continue;
        };
        if tags::owns(&live_tags(kms, &subject, &id).await?, &op.stack, &subject) {
            return Ok(Some(Applied {
                id,
                outputs: outputs(&key),
            }));
        }
    }
    Ok(None)
}

/// The id of every key of the account in the region, of any manager and
/// state: ListKeys, every page.
async fn key_ids(kms: &Client, subject: &str) -> Result<Vec<String>, ProviderError> {
    let keys: Vec<_> = kms
        .list_keys()
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .or_fail(subject, "kms:ListKeys")?;
    Ok(keys
        .into_iter()
        .filter_map(|k| k.key_id.filter(|id| !id.is_empty()))
        .collect())
}

/// The account's enabled customer managed keys in the region: one
/// DescribeKey each, since KMS has no batched read of a key's manager and
/// state. A key deleted between the list and its describe is left out.
pub(in crate::provider::aws) async fn customer_keys(
    kms: &Client,
    subject: &str,
) -> Result<Vec<KeyMetadata>, ProviderError> {
    let mut out = Vec::new();
    for id in key_ids(kms, subject).await? {
        if let Some(key) = describe(kms, subject, &id).await?
            && key.key_manager() == Some(&aws_sdk_kms::types::KeyManagerType::Customer)
            && key.key_state() == Some(&KeyState::Enabled)
        {
            out.push(key);
        }
    }
    Ok(out)
}
