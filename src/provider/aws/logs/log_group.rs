//! `aws.logs.log_group`: a log group, named by its physical name or, for
//! names AWS fixes (`/aws/eks/<cluster>/cluster`), by `name`; id: the name.

use std::collections::HashMap;

use aws_sdk_cloudwatchlogs::Client;
use aws_sdk_cloudwatchlogs::types::LogGroup;
use payrun_derive::Args;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::provider::aws::call::{gone_is_ok, parse};
use crate::provider::aws::refresh::Refresh;
use crate::provider::aws::error::AwsResultExt;
use crate::provider::aws::observed::Observed;
use crate::provider::aws::tags::{self, Tags};
use crate::provider::schema::{ArgError, CheckArgs, KindSchema, validate_checked};
use crate::provider::{Applied, CreateOp, DeleteOp, ProviderError, ReadItem, ReadResult, UpdateOp};

#[derive(Deserialize, Args)]
#[serde(deny_unknown_fields)]
#[arg(kind = "aws.logs.log_group")]
pub(crate) struct LogGroupArgs {
    #[serde(default)]
    #[arg(force_new)]
    name: Option<String>,
    #[serde(default)]
    pub(crate) retention_in_days: Option<i32>,
    #[serde(default)]
    /// The KMS key (ARN) the log group is encrypted with.
    #[arg(takes = "arn", formerly = "kms_key_id")]
    pub(crate) kms_key: Option<String>,
    #[serde(default)]
    tags: Tags,
}

/// The retentions CloudWatch Logs accepts, in days (PutRetentionPolicy).
const RETENTION_DAYS: &[i32] = &[
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];

impl CheckArgs for LogGroupArgs {
    fn check(&self) -> Result<(), ArgError> {
        match self.retention_in_days {
            Some(days) if !RETENTION_DAYS.contains(&days) => {
                let next = RETENTION_DAYS.iter().find(|d| **d > days).unwrap_or(&3653);
                let listed: Vec<String> = RETENTION_DAYS.iter().map(i32::to_string).collect();
                Err(ArgError::new(
                    format!(
                        "`retention_in_days`: CloudWatch Logs keeps logs {} days, not {days}",
                        listed.join(", ")
                    ),
                    format!(
                        "use one of those, e.g. `retention_in_days: {next}`, or leave it out to keep logs forever"
                    ),
                ))
            }
            _ => Ok(()),
        }
    }
}

pub(super) const SCHEMA: KindSchema = KindSchema {
    kind: LogGroupArgs::KIND,
    name_prefix: "logs",
    name_max: 512,
    taggable: true,
    named_by_arg: false,
    create_before_destroy: false,
    args: LogGroupArgs::SPECS,
    outputs: &["arn", "name"],
    validate: &validate_checked::<LogGroupArgs>,
    reads_each: None,
    doc: "A CloudWatch log group: `retention_in_days` (default: never expire), `kms_key` (a key, or its ARN), `name` (default: the physical name).",
};

fn outputs(name: &str, arn: &str) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("arn".into(), json!(arn.trim_end_matches(":*")));
    m.insert("name".into(), json!(name));
    m
}

fn arn(g: &LogGroup) -> &str {
    g.log_group_arn()
        .or(g.arn())
        .unwrap_or_default()
        .trim_end_matches(":*")
}

async fn describe(
    logs: &Client,
    subject: &str,
    prefix: Option<&str>,
) -> Result<HashMap<String, LogGroup>, ProviderError> {
    let all: Vec<LogGroup> = logs
        .describe_log_groups()
        .set_log_group_name_prefix(prefix.map(str::to_string))
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .or_fail(subject, "logs:DescribeLogGroups")?;
    Ok(all
        .into_iter()
        .filter_map(|g| Some((g.log_group_name()?.to_string(), g)))
        .collect())
}

async fn live_tags(logs: &Client, subject: &str, arn: &str) -> Result<Tags, ProviderError> {
    Ok(logs
        .list_tags_for_resource()
        .resource_arn(arn)
        .send()
        .await
        .or_fail(subject, "logs:ListTagsForResource")?
        .tags()
        .map(|t| {
            t.iter()
                .filter(|(k, _)| !k.starts_with("aws:"))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default())
}

async fn set_retention(
    logs: &Client,
    subject: &str,
    name: &str,
    days: Option<i32>,
) -> Result<(), ProviderError> {
    match days {
        Some(days) => {
            logs.put_retention_policy()
                .log_group_name(name)
                .retention_in_days(days)
                .send()
                .await
                .or_fail(subject, "logs:PutRetentionPolicy")?;
        }
        None => {
            logs.delete_retention_policy()
                .log_group_name(name)
                .send()
                .await
                .or_fail(subject, "logs:DeleteRetentionPolicy")?;
        }
    }
    Ok(())
}

pub(super) async fn create(logs: &Client, op: &CreateOp) -> Result<Applied, ProviderError> {
    let subject = op.address.to_string();
    let args: LogGroupArgs = parse(&op.args, &subject)?;
    let name = args.name.clone().unwrap_or_else(|| op.name.clone());
    logs.create_log_group()
        .log_group_name(&name)
        .set_kms_key_id(args.kms_key.clone())
        .set_tags(Some(args.tags.clone().into_iter().collect()))
        .send()
        .await
        .or_fail(&subject, "logs:CreateLogGroup")?;
    let live = describe(logs, &subject, Some(&name)).await?;
    let made = Applied {
        outputs: outputs(&name, live.get(&name).map(arn).unwrap_or_default()),
        id: name,
    };
    op.made(&made);
    complete(logs, op, &made).await
}

/// The retention goes on after the group exists: a create interrupted in
/// between, or a group adopted after a lost reply, gets it here.
pub(super) async fn complete(
    logs: &Client,
    op: &CreateOp,
    made: &Applied,
) -> Result<Applied, ProviderError> {
    let subject = op.address.to_string();
    let args: LogGroupArgs = parse(&op.args, &subject)?;
    if args.retention_in_days.is_some() {
        set_retention(logs, &subject, &made.id, args.retention_in_days).await?;
    }
    Ok(made.clone())
}

/// One DescribeLogGroups (per page of 50, by the names' common prefix) for
/// the recorded groups; their tags come from the refresh's one read of the
/// stack's tags (the Resource Groups Tagging API), which also finds the
/// stack's groups no item records. A group whose stack tag is gone (taken
/// off behind payrun's back), or a read outside a refresh of a stack, asks
/// ListTagsForResource for it alone.
pub(super) async fn read(
    logs: &Client,
    cx: &Refresh<'_>,
    items: &[ReadItem],
) -> Result<Vec<ReadResult>, ProviderError> {
    let subject = SCHEMA.kind;
    let tagged: Option<HashMap<String, Tags>> = match cx.tagged().await {
        Some(all) => {
            let groups: HashMap<String, Tags> = all?
                .iter()
                .filter_map(|(arn, t)| Some((arn.split_once(":log-group:")?.1.to_string(), t.clone())))
                .collect();
            cx.unrecorded_among(subject, items, groups.iter().map(|(n, t)| (n.as_str(), t)));
            Some(groups)
        }
        None => None,
    };
    if items.is_empty() {
        return Ok(Vec::new());
    }
    let prefix = common_prefix(items.iter().map(|i| i.id.as_str()));
    let live = describe(logs, subject, Some(prefix).filter(|p| !p.is_empty())).await?;
    let mut results = Vec::with_capacity(items.len());
    for item in items {
        let Some(g) = live.get(&item.id) else {
            results.push(ReadResult::Gone);
            continue;
        };
        let tags = match tagged.as_ref().and_then(|t| t.get(&item.id)) {
            Some(t) => without_aws_keys(t),
            None => live_tags(logs, subject, arn(g)).await?,
        };
        let args = Observed::new(&item.args)
            .maybe("name", item.args.get("name").and_then(Value::as_str))
            .maybe("retention_in_days", g.retention_in_days())
            .maybe("kms_key", g.kms_key_id())
            .tags(&tags)
            .finish();
        results.push(ReadResult::Found {
            args,
            outputs: outputs(&item.id, arn(g)),
        });
    }
    Ok(results)
}

/// The longest prefix every name shares.
fn common_prefix<'a>(mut names: impl Iterator<Item = &'a str>) -> &'a str {
    let Some(first) = names.next() else {
        return "";
    };
    names.fold(first, |common, name| {
        let len = common
            .char_indices()
            .zip(name.chars())
            .take_while(|((_, a), b)| a == b)
            .last()
            .map_or(0, |((i, a), _)| i + a.len_utf8());
        &common[..len]
    })
}

fn without_aws_keys(t: &Tags) -> Tags {
    t.iter()
        .filter(|(k, _)| !k.starts_with("aws:"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

pub(super) async fn update(logs: &Client, op: &UpdateOp) -> Result<Applied, ProviderError> {
    let subject = op.address.to_string();
    let before: LogGroupArgs = parse(&op.before, &subject)?;
    let after: LogGroupArgs = parse(&op.after, &subject)?;
    let changed = |k: &str| op.changed.iter().any(|c| c == k);
    if changed("retention_in_days") {
        set_retention(logs, &subject, &op.id, after.retention_in_days).await?;
    }
    if changed("kms_key") {
        match &after.kms_key {
            Some(key) => {
                logs.associate_kms_key()
                    .log_group_name(&op.id)
                    .kms_key_id(key)
                    .send()
                    .await
                    .or_fail(&subject, "logs:AssociateKmsKey")?;
            }
            None => {
                logs.disassociate_kms_key()
                    .log_group_name(&op.id)
                    .send()
                    .await
                    .or_fail(&subject, "logs:DisassociateKmsKey")?;
            }
        }
    }
    let arn = op.recorded("arn");
    tags::reconcile(
        &subject,
        &before.tags,
        &after.tags,
        ("logs:UntagResource", |keys| {
            logs.untag_resource()
                .resource_arn(arn)
                .set_tag_keys(Some(keys))
                .send()
        }),
        ("logs:TagResource", |tags| {
            logs.tag_resource()
                .resource_arn(arn)
                .set_tags(Some(tags.into_iter().collect()))
                .send()
        }),
    )
    .await?;
    Ok(op.unchanged())
}

pub(super) async fn delete(logs: &Client, op: &DeleteOp) -> Result<(), ProviderError> {
    gone_is_ok(
        logs.delete_log_group()
            .log_group_name(&op.id)
            .send()
            .await
            .map(drop)
            .or_fail(&op.address.to_string(), "logs:DeleteLogGroup"),
    )
}

pub(super) async fn adopt(logs: &Client, op: &CreateOp) -> Result<Option<Applied>, ProviderError> {
    let subject = op.address.to_string();
    let args: LogGroupArgs = parse(&op.args, &subject)?;
    let name = args.name.unwrap_or_else(|| op.name.clone());
    let live = describe(logs, &subject, Some(&name)).await?;
    let Some(g) = live.get(&name) else {
        return Ok(None);
    };
    let owned = tags::owns(
        &live_tags(logs, &subject, arn(g)).await?,
        &op.stack,
        &subject,
    );
    Ok(owned.then(|| Applied {
        outputs: outputs(&name, arn(g)),
        id: name.clone(),
    }))
}
