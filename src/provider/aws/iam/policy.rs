//! `aws.iam.policy`: a customer managed policy; id: its ARN. A document
//! change makes a new default version (older versions are deleted first,
//! since IAM keeps at most five).

use aws_sdk_iam::Client;
use aws_sdk_iam::types::{Policy, PolicyScopeType};
use payrun_derive::Args;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{from_aws, to_aws};
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
#[arg(kind = "aws.iam.policy")]
pub(crate) struct PolicyArgs {
    #[arg(document)]
    pub(crate) policy: Map<String, Value>,
    #[serde(default)]
    #[arg(force_new)]
    pub(crate) description: Option<String>,
    #[serde(default)]
    pub(crate) tags: Tags,
}

pub(super) const SCHEMA: KindSchema = KindSchema {
    kind: PolicyArgs::KIND,
    name_prefix: "policy",
    name_max: 128,
    taggable: true,
    named_by_arg: false,
    create_before_destroy: true,
    args: PolicyArgs::SPECS,
    outputs: &["arn", "name"],
    validate: &validate_as::<PolicyArgs>,
    reads_each: Some("a GetPolicy and a GetPolicyVersion per policy: the account authorization details carry no policy tags"),
    doc: "A customer managed IAM policy: `policy` (a map), `description`.",
};

fn outputs(p: &Policy) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("arn".into(), json!(p.arn().unwrap_or_default()));
    m.insert("name".into(), json!(p.policy_name().unwrap_or_default()));
    m
}

async fn get(iam: &Client, subject: &str, arn: &str) -> Result<Option<Policy>, ProviderError> {
    let out = found(
        iam.get_policy()
            .policy_arn(arn)
            .send()
            .await
            .or_fail(subject, "iam:GetPolicy"),
    )?;
    Ok(out.and_then(|o| o.policy().cloned()))
}

async fn delete_old_versions(iam: &Client, subject: &str, arn: &str) -> Result<(), ProviderError> {
    let versions = iam
        .list_policy_versions()
        .policy_arn(arn)
        .send()
        .await
        .or_fail(subject, "iam:ListPolicyVersions")?;
    for v in versions.versions() {
        if let (false, Some(id)) = (v.is_default_version(), v.version_id()) {
            gone_is_ok(
                iam.delete_policy_version()
                    .policy_arn(arn)
                    .version_id(id)
                    .send()
                    .await
                    .map(drop)
                    .or_fail(subject, "iam:DeletePolicyVersion"),
            )?;
        }
    }
    Ok(())
}

pub(super) async fn create(iam: &Client, op: &CreateOp) -> Result<Applied, ProviderError> {
    let subject = op.address.to_string();
    let args: PolicyArgs = parse(&op.args, &subject)?;
    let out = iam
        .create_policy()
        .policy_name(&op.name)
        .policy_document(policy_document::to_json(&Value::Object(args.policy)))
        .set_description(args.description)
        .set_tags(Some(to_aws(&args.tags)))
        .send()
        .await
        .or_fail(&subject, "iam:CreatePolicy")?;
    let p = out
        .policy()
        .ok_or_else(|| incomplete(&subject, "CreatePolicy", "a policy"))?;
    Ok(Applied {
        id: p.arn().unwrap_or_default().to_string(),
        outputs: outputs(p),
    })
}

/// ListPolicies leaves tags and documents out: one GetPolicy and one
/// GetPolicyVersion per recorded policy.
pub(super) async fn read(
    iam: &Client,
    _cx: &Refresh<'_>,
    items: &[ReadItem],
) -> Result<Vec<ReadResult>, ProviderError> {
    let mut results = Vec::with_capacity(items.len());
    for item in items {
        let Some(p) = get(iam, SCHEMA.kind, &item.id).await? else {
            results.push(ReadResult::Gone);
            continue;
        };
        let document = match p.default_version_id() {
            Some(version) => iam
                .get_policy_version()
                .policy_arn(&item.id)
                .version_id(version)
                .send()
                .await
                .or_fail(SCHEMA.kind, "iam:GetPolicyVersion")?
                .policy_version()
                .and_then(|v| v.document())
                .and_then(policy_document::decode),
            None => None,
        };
        results.push(ReadResult::Found {
            args: Observed::new(&item.args)
                .document("policy", document)
                .maybe("description", p.description().filter(|d| !d.is_empty()))
                .tags(&from_aws(p.tags()))
                .finish(),
            outputs: outputs(&p),
        });
    }
    Ok(results)
}

pub(super) async fn update(iam: &Client, op: &UpdateOp) -> Result<Applied, ProviderError> {
    let subject = op.address.to_string();
    let before: PolicyArgs = parse(&op.before, &subject)?;
    let after: PolicyArgs = parse(&op.after, &subject)?;
    if op.changed.iter().any(|c| c == "policy") {
        delete_old_versions(iam, &subject, &op.id).await?;
        iam.create_policy_version()
            .policy_arn(&op.id)
            .policy_document(policy_document::to_json(&Value::Object(after.policy)))
            .set_as_default(true)
            .send()
            .await
            .or_fail(&subject, "iam:CreatePolicyVersion")?;
    }
    tags::reconcile(
        &subject,
        &before.tags,
        &after.tags,
        ("iam:UntagPolicy", |keys| {
            iam.untag_policy()
                .policy_arn(&op.id)
                .set_tag_keys(Some(keys))
                .send()
        }),
        ("iam:TagPolicy", |tags| {
            iam.tag_policy()
                .policy_arn(&op.id)
                .set_tags(Some(to_aws(&tags)))
                .send()
        }),
    )
    .await?;
    Ok(op.unchanged())
}

pub(super) async fn delete(iam: &Client, op: &DeleteOp) -> Result<(), ProviderError> {
    let subject = op.address.to_string();
    match delete_old_versions(iam, &subject, &op.id).await {
        Err(e) if crate::provider::aws::error::is_not_found(&e) => return Ok(()),
        other => other?,
    }
    gone_is_ok(
        iam.delete_policy()
            .policy_arn(&op.id)
            .send()
            .await
            .map(drop)
            .or_fail(&subject, "iam:DeletePolicy"),
    )
}

pub(super) async fn adopt(iam: &Client, op: &CreateOp) -> Result<Option<Applied>, ProviderError> {
    let subject = op.address.to_string();
    let local: Vec<Policy> = iam
        .list_policies()
        .scope(PolicyScopeType::Local)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .or_fail(&subject, "iam:ListPolicies")?;
    let Some(arn) = local
        .iter()
        .find(|p| p.policy_name() == Some(op.name.as_str()))
        .and_then(Policy::arn)
    else {
        return Ok(None);
    };
    let Some(p) = get(iam, &subject, arn).await? else {
        return Ok(None);
    };
    Ok(
        tags::owns(&from_aws(p.tags()), &op.stack, &subject).then(|| Applied {
            id: arn.to_string(),
            outputs: outputs(&p),
        }),
    )
}
