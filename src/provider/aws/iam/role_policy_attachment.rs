//! `aws.iam.role_policy_attachment`: a managed policy attached to a role;
//! id `<role>|<policy arn>`.

use std::collections::{BTreeSet, HashMap};

use aws_sdk_iam::Client;
use aws_sdk_iam::types::AttachedPolicy;
use payrun_derive::Args;
use serde::Deserialize;
use serde_json::Map;

use crate::provider::aws::call::{found, gone_is_ok, parse};
use crate::provider::aws::refresh::Refresh;
use crate::provider::aws::error::AwsResultExt;
use crate::provider::aws::observed::Observed;
use crate::provider::schema::{KindSchema, validate_as};
use crate::provider::{Applied, CreateOp, DeleteOp, ProviderError, ReadItem, ReadResult, UpdateOp};

#[derive(Deserialize, Args)]
#[serde(deny_unknown_fields)]
#[arg(kind = "aws.iam.role_policy_attachment")]
struct AttachmentArgs {
    #[arg(force_new)]
    role: String,
    #[serde(rename = "policy")]
    #[arg(force_new, takes = "arn", formerly = "policy")]
    policy_arn: String,
}

pub(super) const SCHEMA: KindSchema = KindSchema {
    kind: AttachmentArgs::KIND,
    name_prefix: "attach",
    name_max: 255,
    taggable: false,
    named_by_arg: false,
    create_before_destroy: false,
    args: AttachmentArgs::SPECS,
    outputs: &[],
    validate: &validate_as::<AttachmentArgs>,
    reads_each: None,
    doc: "Attaches the managed policy `policy` to `role` (a role name).",
};

fn split(id: &str) -> (&str, &str) {
    id.split_once('|').unwrap_or((id, ""))
}

async fn attached(
    iam: &Client,
    subject: &str,
    role: &str,
) -> Result<Option<Vec<AttachedPolicy>>, ProviderError> {
    found(
        iam.list_attached_role_policies()
            .role_name(role)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .or_fail(subject, "iam:ListAttachedRolePolicies"),
    )
}

pub(super) async fn create(iam: &Client, op: &CreateOp) -> Result<Applied, ProviderError> {
    let subject = op.address.to_string();
    let args: AttachmentArgs = parse(&op.args, &subject)?;
    iam.attach_role_policy()
        .role_name(&args.role)
        .policy_arn(&args.policy_arn)
        .send()
        .await
        .or_fail(&subject, "iam:AttachRolePolicy")?;
    Ok(Applied {
        id: format!("{}|{}", args.role, args.policy_arn),
        outputs: Map::new(),
    })
}

/// In a refresh of a stack, from IAM's account authorization details,
/// read once for every IAM kind of the refresh; alone, one
/// ListAttachedRolePolicies per role, whatever the number of its
/// attachments.
pub(super) async fn read(
    iam: &Client,
    cx: &Refresh<'_>,
    items: &[ReadItem],
) -> Result<Vec<ReadResult>, ProviderError> {
    let roles: BTreeSet<&str> = items.iter().map(|i| split(&i.id).0).collect();
    let mut live: HashMap<&str, Vec<String>> = HashMap::new();
    if cx.stack().is_some() {
        let account = cx.iam().await?;
        for role in roles {
            let arns = account
                .roles
                .get(role)
                .map(|r| {
                    r.detail
                        .attached_managed_policies()
                        .iter()
                        .filter_map(|p| p.policy_arn().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            live.insert(role, arns);
        }
    } else {
        for role in roles {
            let arns = attached(iam, SCHEMA.kind, role)
                .await?
                .unwrap_or_default()
                .iter()
                .filter_map(|p| p.policy_arn().map(str::to_string))
                .collect();
            live.insert(role, arns);
        }
    }
    Ok(items
        .iter()
        .map(|item| {
            let (role, arn) = split(&item.id);
            if live.get(role).is_some_and(|a| a.iter().any(|x| x == arn)) {
                ReadResult::Found {
                    args: Observed::new(&item.args)
                        .set("role", role)
                        .set("policy", arn)
                        .finish(),
                    outputs: Map::new(),
                }
            } else {
                ReadResult::Gone
            }
        })
        .collect())
}

/// Every argument replaces the attachment: nothing changes in place.
pub(super) async fn update(_iam: &Client, op: &UpdateOp) -> Result<Applied, ProviderError> {
    Ok(op.unchanged())
}

pub(super) async fn delete(iam: &Client, op: &DeleteOp) -> Result<(), ProviderError> {
    let (role, arn) = split(&op.id);
    gone_is_ok(
        iam.detach_role_policy()
            .role_name(role)
            .policy_arn(arn)
            .send()
            .await
            .map(drop)
            .or_fail(&op.address.to_string(), "iam:DetachRolePolicy"),
    )
}

pub(super) async fn adopt(iam: &Client, op: &CreateOp) -> Result<Option<Applied>, ProviderError> {
    let subject = op.address.to_string();
    let args: AttachmentArgs = parse(&op.args, &subject)?;
    let live = attached(iam, &subject, &args.role)
        .await?
        .unwrap_or_default();
    Ok(live
        .iter()
        .any(|p| p.policy_arn() == Some(args.policy_arn.as_str()))
        .then(|| Applied {
            id: format!("{}|{}", args.role, args.policy_arn),
            outputs: Map::new(),
        }))
}
