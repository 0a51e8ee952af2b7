//! `aws.ecr.lifecycle_policy`: the lifecycle rules of a repository (keep
//! the last N images...); id: the repository name.
//!
//! ECR has no batched GetLifecyclePolicy: one call per repository.

use aws_sdk_ecr::Client;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::provider::aws::call::{found, gone_is_ok, parse};
use crate::provider::aws::error::AwsResultExt;
use crate::provider::aws::observed::Observed;
use crate::provider::aws::policy_document;
use crate::provider::schema::{ArgSpec, KindSchema, validate_as};
use crate::provider::{Applied, CreateOp, DeleteOp, ProviderError, ReadItem, ReadResult, UpdateOp};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LifecyclePolicyArgs {
    repository: String,
    rules: Vec<Map<String, Value>>,
}

pub(super) const SCHEMA: KindSchema = KindSchema {
    kind: "aws.ecr.lifecycle_policy",
    name_prefix: "lifecycle",
    name_max: 256,
    taggable: false,
    named_by_arg: false,
    create_before_destroy: false,
    args: &[ArgSpec::force_new("repository"), ArgSpec::new("rules")],
    outputs: &[],
    validate: validate_as::<LifecyclePolicyArgs>,
    doc: "The lifecycle policy of `repository`: `rules`, a list of ECR lifecycle rules (`rulePriority`, `selection`, `action`).",
};

fn text(rules: &[Map<String, Value>]) -> String {
    json!({ "rules": rules }).to_string()
}

async fn put(
    ecr: &Client,
    subject: &str,
    repository: &str,
    rules: &[Map<String, Value>],
) -> Result<(), ProviderError> {
    ecr.put_lifecycle_policy()
        .repository_name(repository)
        .lifecycle_policy_text(text(rules))
        .send()
        .await
        .or_fail(subject, "ecr:PutLifecyclePolicy")?;
    Ok(())
}

pub(super) async fn create(ecr: &Client, op: &CreateOp) -> Result<Applied, ProviderError> {
    let subject = op.address.to_string();
    let args: LifecyclePolicyArgs = parse(&op.args, &subject)?;
    put(ecr, &subject, &args.repository, &args.rules).await?;
    Ok(Applied {
        id: args.repository,
        outputs: Map::new(),
    })
}

pub(super) async fn read(
    ecr: &Client,
    items: &[ReadItem],
) -> Result<Vec<ReadResult>, ProviderError> {
    let mut results = Vec::with_capacity(items.len());
    for item in items {
        let live = found(
            ecr.get_lifecycle_policy()
                .repository_name(&item.id)
                .send()
                .await
                .or_fail(SCHEMA.kind, "ecr:GetLifecyclePolicy"),
        )?;
        let Some(out) = live else {
            results.push(ReadResult::Gone);
            continue;
        };
        let rules = out
            .lifecycle_policy_text()
            .and_then(policy_document::decode)
            .and_then(|d| d.get("rules").cloned());
        results.push(ReadResult::Found {
            args: Observed::new(&item.args)
                .set("repository", item.id.clone())
                .document("rules", rules)
                .finish(),
            outputs: Map::new(),
        });
    }
    Ok(results)
}

pub(super) async fn update(ecr: &Client, op: &UpdateOp) -> Result<Applied, ProviderError> {
    let subject = op.address.to_string();
    let after: LifecyclePolicyArgs = parse(&op.after, &subject)?;
    put(ecr, &subject, &op.id, &after.rules).await?;
    Ok(op.unchanged())
}

pub(super) async fn delete(ecr: &Client, op: &DeleteOp) -> Result<(), ProviderError> {
    gone_is_ok(
        ecr.delete_lifecycle_policy()
            .repository_name(&op.id)
            .send()
            .await
            .map(drop)
            .or_fail(&op.address.to_string(), "ecr:DeleteLifecyclePolicy"),
    )
}

/// A repository has one lifecycle policy: whatever is there is replaced by
/// the create, so nothing is adopted.
pub(super) async fn adopt(_ecr: &Client, _op: &CreateOp) -> Result<Option<Applied>, ProviderError> {
    Ok(None)
}
