//! `aws.ecr.repository`: an image repository, tags immutable and scanned on
//! push by default; destroy deletes it with its images. id: its name.
//!
//! One DescribeRepositories (per page) reads every repository of the stack;
//! tags need one ListTagsForResource per repository, which has no batched
//! form.

use std::collections::HashMap;

use aws_sdk_ecr::Client;
use aws_sdk_ecr::types::{
    EncryptionConfiguration, EncryptionType, ImageScanningConfiguration, ImageTagMutability,
    Repository,
};
use payrun_derive::Args;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{from_aws, to_aws};
use crate::provider::arg_values::one_of;
use crate::provider::aws::refresh::Refresh;
use crate::provider::aws::call::{found, gone_is_ok, incomplete, parse};
use crate::provider::aws::error::AwsResultExt;
use crate::provider::aws::observed::Observed;
use crate::provider::aws::tags::{self, Tags};
use crate::provider::schema::{ArgError, CheckArgs, KindSchema, validate_checked};
use crate::provider::{Applied, CreateOp, DeleteOp, ProviderError, ReadItem, ReadResult, UpdateOp};

#[derive(Deserialize, Args)]
#[serde(deny_unknown_fields)]
#[arg(kind = "aws.ecr.repository")]
pub(crate) struct RepositoryArgs {
    /// The repository's name (default: the physical name): an imported
    /// repository keeps its own.
    #[serde(default)]
    #[arg(force_new)]
    name: Option<String>,
    #[serde(default)]
    pub(crate) scan_on_push: Option<bool>,
    #[serde(default)]
    pub(crate) image_tag_mutability: Option<String>,
    #[serde(default)]
    #[arg(force_new)]
    kms_key: Option<String>,
    #[serde(default)]
    force_delete: Option<bool>,
    #[serde(default)]
    tags: Tags,
}

/// The SDK's tag mutabilities without the `_WITH_EXCLUSION` forms, which
/// need exclusion filters this kind does not take.
const MUTABILITIES: &[&str] = &["IMMUTABLE", "MUTABLE"];

impl CheckArgs for RepositoryArgs {
    fn check(&self) -> Result<(), ArgError> {
        if let Some(m) = &self.image_tag_mutability {
            one_of("image_tag_mutability", m, MUTABILITIES)?;
        }
        Ok(())
    }
}

pub(super) const SCHEMA: KindSchema = KindSchema {
    kind: RepositoryArgs::KIND,
    name_prefix: "ecr",
    name_max: 256,
    taggable: true,
    named_by_arg: false,
    create_before_destroy: false,
    args: RepositoryArgs::SPECS,
    outputs: &["arn", "name", "url", "registry_id"],
    validate: &validate_checked::<RepositoryArgs>,
    reads_each: None,
    doc: "An ECR repository: `name` (default: the physical name), `scan_on_push` (default true), `image_tag_mutability` (IMMUTABLE by default, or MUTABLE), `kms_key` (a key ARN: KMS encryption), `force_delete` (default true: destroy deletes its images).",
};

const SCAN_DEFAULT: bool = true;
const MUTABILITY_DEFAULT: &str = "IMMUTABLE";

fn outputs(r: &Repository) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("arn".into(), json!(r.repository_arn().unwrap_or_default()));
    m.insert(
        "name".into(),
        json!(r.repository_name().unwrap_or_default()),
    );
    m.insert("url".into(), json!(r.repository_uri().unwrap_or_default()));
    m.insert(
        "registry_id".into(),
        json!(r.registry_id().unwrap_or_default()),
    );
    m
}

async fn describe(
    ecr: &Client,
    subject: &str,
    names: Option<Vec<String>>,
) -> Result<Vec<Repository>, ProviderError> {
    Ok(found(
        ecr.describe_repositories()
            .set_repository_names(names)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .or_fail(subject, "ecr:DescribeRepositories"),
    )?
    .unwrap_or_default())
}

async fn live_tags(ecr: &Client, subject: &str, arn: &str) -> Result<Tags, ProviderError> {
    let out = ecr
        .list_tags_for_resource()
        .resource_arn(arn)
        .send()
        .await
        .or_fail(subject, "ecr:ListTagsForResource")?;
    Ok(from_aws(out.tags()))
}

pub(super) async fn create(ecr: &Client, op: &CreateOp) -> Result<Applied, ProviderError> {
    let subject = op.address.to_string();
    let args: RepositoryArgs = parse(&op.args, &subject)?;
    let name = args.name.clone().unwrap_or_else(|| op.name.clone());
    let encryption = match &args.kms_key {
        Some(key) => Some(
            EncryptionConfiguration::builder()
                .encryption_type(EncryptionType::Kms)
                .kms_key(key)
                .build()
                .map_err(|e| ProviderError::new(format!("{subject}: {e}")))?,
        ),
        None => None,
    };
    let out = ecr
        .create_repository()
        .repository_name(&name)
        .image_tag_mutability(ImageTagMutability::from(
            args.image_tag_mutability
                .as_deref()
                .unwrap_or(MUTABILITY_DEFAULT),
        ))
        .image_scanning_configuration(
            ImageScanningConfiguration::builder()
                .scan_on_push(args.scan_on_push.unwrap_or(SCAN_DEFAULT))
                .build(),
        )
        .set_encryption_configuration(encryption)
        .set_tags(Some(to_aws(&args.tags)))
        .send()
        .await
        .or_fail(&subject, "ecr:CreateRepository")?;
    let r = out
        .repository()
        .ok_or_else(|| incomplete(&subject, "CreateRepository", "a repository"))?;
    Ok(Applied {
        id: name,
        outputs: outputs(r),
    })
}

/// The registry listed (DescribeRepositories, a page of 1,000); the tags
/// from the refresh's one read of the stack's tags, which also finds the
/// stack's repositories no item records. A repository the stack's tag does
/// not find (or every one, where the tagging API does not cover ECR, as
/// in moto), or a read alone, asks ListTagsForResource.
pub(super) async fn read(
    ecr: &Client,
    cx: &Refresh<'_>,
    items: &[ReadItem],
) -> Result<Vec<ReadResult>, ProviderError> {
    let subject = SCHEMA.kind;
    let tagged: Option<HashMap<String, Tags>> = match cx.tagged().await {
        Some(all) => {
            let repos: HashMap<String, Tags> = all?
                .iter()
                .filter_map(|(arn, t)| Some((arn.split_once(":repository/")?.1.to_string(), t.clone())))
                .collect();
            cx.unrecorded_among(subject, items, repos.iter().map(|(n, t)| (n.as_str(), t)));
            Some(repos)
        }
        None => None,
    };
    if items.is_empty() {
        return Ok(Vec::new());
    }
    // Naming the repositories fails the whole call when one is gone, so the
    // registry is listed instead.
    let live: HashMap<String, Repository> = describe(ecr, subject, None)
        .await?
        .into_iter()
        .filter_map(|r| Some((r.repository_name()?.to_string(), r)))
        .collect();
    let mut results = Vec::with_capacity(items.len());
    for item in items {
        let Some(r) = live.get(&item.id) else {
            results.push(ReadResult::Gone);
            continue;
        };
        let scan = r
            .image_scanning_configuration()
            .is_some_and(ImageScanningConfiguration::scan_on_push);
        let mutability = r
            .image_tag_mutability()
            .map_or(MUTABILITY_DEFAULT, ImageTagMutability::as_str);
        let args = Observed::new(&item.args)
            .maybe("name", item.args.get("name").and_then(Value::as_str))
            .optional("scan_on_push", scan, SCAN_DEFAULT)
            .optional("image_tag_mutability", mutability, MUTABILITY_DEFAULT)
            .maybe(
                "kms_key",
                r.encryption_configuration()
                    .and_then(EncryptionConfiguration::kms_key),
            )
            .maybe(
                "force_delete",
                item.args
                    .get("force_delete")
                    .filter(|v| !v.is_null())
                    .cloned(),
            )
            .tags(&match tagged.as_ref().and_then(|t| t.get(&item.id)) {
                Some(t) => t
                    .iter()
                    .filter(|(k, _)| !k.starts_with("aws:"))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
                None => live_tags(ecr, subject, r.repository_arn().unwrap_or_default()).await?,
            })
            .finish();
        results.push(ReadResult::Found {
            args,
            outputs: outputs(r),
        });
    }
    Ok(results)
}

pub(super) async fn update(ecr: &Client, op: &UpdateOp) -> Result<Applied, ProviderError> {
    let subject = op.address.to_string();
    let before: RepositoryArgs = parse(&op.before, &subject)?;
    let after: RepositoryArgs = parse(&op.after, &subject)?;
    let changed = |k: &str| op.changed.iter().any(|c| c == k);
    if changed("image_tag_mutability") {
        ecr.put_image_tag_mutability()
            .repository_name(&op.id)
            .image_tag_mutability(ImageTagMutability::from(
                after
                    .image_tag_mutability
                    .as_deref()
                    .unwrap_or(MUTABILITY_DEFAULT),
            ))
            .send()
            .await
            .or_fail(&subject, "ecr:PutImageTagMutability")?;
    }
    if changed("scan_on_push") {
        ecr.put_image_scanning_configuration()
            .repository_name(&op.id)
            .image_scanning_configuration(
                ImageScanningConfiguration::builder()
                    .scan_on_push(after.scan_on_push.unwrap_or(SCAN_DEFAULT))
                    .build(),
            )
            .send()
            .await
            .or_fail(&subject, "ecr:PutImageScanningConfiguration")?;
    }
    let arn = op.recorded("arn");
    tags::reconcile(
        &subject,
        &before.tags,
        &after.tags,
        ("ecr:UntagResource", |keys| {
            ecr.untag_resource()
                .resource_arn(arn)
                .set_tag_keys(Some(keys))
                .send()
        }),
        ("ecr:TagResource", |tags| {
            ecr.tag_resource()
                .resource_arn(arn)
                .set_tags(Some(to_aws(&tags)))
                .send()
        }),
    )
    .await?;
    Ok(op.unchanged())
}

pub(super) async fn delete(ecr: &Client, op: &DeleteOp) -> Result<(), ProviderError> {
    let args: RepositoryArgs = parse(&op.args, &op.address.to_string())?;
    let force = args.force_delete.unwrap_or(true);
    gone_is_ok(
        ecr.delete_repository()
            .repository_name(&op.id)
            .force(force)
            .send()
            .await
            .map(drop)
            .or_fail(&op.address.to_string(), "ecr:DeleteRepository"),
    )
}

pub(super) async fn adopt(ecr: &Client, op: &CreateOp) -> Result<Option<Applied>, ProviderError> {
    let subject = op.address.to_string();
    let args: RepositoryArgs = parse(&op.args, &subject)?;
    let name = args.name.unwrap_or_else(|| op.name.clone());
    let live = describe(ecr, &subject, Some(vec![name.clone()])).await?;
    let Some(r) = live.first() else {
        return Ok(None);
    };
    let owned = tags::owns(
        &live_tags(ecr, &subject, r.repository_arn().unwrap_or_default()).await?,
        &op.stack,
        &subject,
    );
    Ok(owned.then(|| Applied {
        id: name,
        outputs: outputs(r),
    }))
}
