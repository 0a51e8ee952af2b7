//! `aws.eks.fargate_profile`: which pods of a cluster run on Fargate, in
//! which private subnets. EKS runs one Fargate profile operation per cluster
//! at a time: the provider's concurrency key queues them, and a busy cluster
//! is retried.

use std::collections::BTreeMap;

use aws_sdk_eks::Client;
use aws_sdk_eks::types::{FargateProfile, FargateProfileSelector, FargateProfileStatus};
use payrun_derive::Args;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::{SETTLE_TIMEOUT, found, owned_by, tags_from, until_gone, update_tags, while_in_use};
use crate::provider::aws::call::parse;
use crate::provider::aws::refresh::Refresh;
use crate::provider::aws::error::AwsResultExt;
use crate::provider::aws::observed::Observed;
use crate::provider::aws::tags::Tags;
use crate::provider::aws::wait::{self, Poll};
use crate::provider::schema::{KindSchema, validate_as};
use crate::provider::{
    Applied, CreateOp, DeleteOp, ProgressFn, ProviderError, ReadItem, ReadResult, UpdateOp,
};

#[derive(Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
struct Selector {
    namespace: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    labels: BTreeMap<String, String>,
}

#[derive(Deserialize, Args)]
#[serde(deny_unknown_fields)]
#[arg(kind = "aws.eks.fargate_profile")]
struct FargateProfileArgs {
    #[serde(rename = "cluster")]
    #[arg(force_new, formerly = "cluster_name")]
    cluster_name: String,
    #[serde(rename = "pod_execution_role")]
    #[arg(force_new, takes = "arn", formerly = "pod_execution_role")]
    pod_execution_role_arn: String,
    /// Private subnets only: Fargate pods get no public address.
    #[serde(rename = "subnets")]
    #[arg(force_new, formerly = "subnet_ids")]
    subnet_ids: Vec<String>,
    #[arg(force_new)]
    selectors: Vec<Selector>,
    #[serde(default)]
    tags: Tags,
}

pub(super) const SCHEMA: KindSchema = KindSchema {
    kind: FargateProfileArgs::KIND,
    name_prefix: "fp",
    name_max: 100,
    taggable: true,
    named_by_arg: false,
    create_before_destroy: true,
    args: FargateProfileArgs::SPECS,
    outputs: &["arn"],
    validate: &validate_as::<FargateProfileArgs>,
    reads_each: Some("one DescribeFargateProfile per profile: EKS has no batched describe"),
    doc: "An EKS Fargate profile: `cluster`, `pod_execution_role`, `subnets` (private), `selectors` (list of #{ namespace, labels }).",
};

/// The id is `cluster:profile`, the two names EKS addresses it by.
fn split(id: &str) -> (&str, &str) {
    id.split_once(':').unwrap_or(("", id))
}

fn outputs(p: &FargateProfile) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert(
        "arn".into(),
        json!(p.fargate_profile_arn().unwrap_or_default()),
    );
    m
}

async fn describe(
    eks: &Client,
    subject: &str,
    id: &str,
) -> Result<Option<FargateProfile>, ProviderError> {
    let (cluster, name) = split(id);
    found(
        eks.describe_fargate_profile()
            .cluster_name(cluster)
            .fargate_profile_name(name)
            .send()
            .await
            .or_fail(subject, "eks:DescribeFargateProfile"),
    )
    .map(|o| o.and_then(|o| o.fargate_profile().cloned()))
}

async fn until_active(
    eks: &Client,
    progress: &ProgressFn,
    subject: &str,
    id: &str,
) -> Result<FargateProfile, ProviderError> {
    wait::until(progress, subject, SETTLE_TIMEOUT, || async {
        let Some(p) = describe(eks, subject, id).await? else {
            return Ok(Poll::Pending("not visible yet".into()));
        };
        match p.status() {
            Some(FargateProfileStatus::Active) => Ok(Poll::Ready(p)),
            Some(FargateProfileStatus::CreateFailed) => Err(ProviderError::new(format!(
                "{subject}: Fargate profile {id} failed to create"
            ))
            .with_code("CreateFailed")
            .with_fix("check that the subnets are private (no route to an internet gateway) and that the pod execution role trusts eks-fargate-pods.amazonaws.com")),
            other => Ok(Poll::Pending(
                other.map_or("UNKNOWN", FargateProfileStatus::as_str).to_string(),
            )),
        }
    })
    .await
}

pub(super) async fn create(eks: &Client, op: &CreateOp) -> Result<Applied, ProviderError> {
    let subject = op.address.to_string();
    let a: FargateProfileArgs = parse(&op.args, &subject)?;
    let selectors: Vec<FargateProfileSelector> = a
        .selectors
        .iter()
        .map(|s| {
            FargateProfileSelector::builder()
                .namespace(&s.namespace)
                .set_labels((!s.labels.is_empty()).then(|| s.labels.clone().into_iter().collect()))
                .build()
        })
        .collect();
    while_in_use(&op.progress, || async {
        eks.create_fargate_profile()
            .cluster_name(&a.cluster_name)
            .fargate_profile_name(&op.name)
            .pod_execution_role_arn(&a.pod_execution_role_arn)
            .set_subnets(Some(a.subnet_ids.clone()))
            .set_selectors(Some(selectors.clone()))
            .set_tags(Some(a.tags.clone().into_iter().collect()))
            .client_request_token(&op.token)
            .send()
            .await
            .or_fail(&subject, "eks:CreateFargateProfile")
    })
    .await?;
    let id = format!("{}:{}", a.cluster_name, op.name);
    let p = until_active(eks, &op.progress, &subject, &id).await?;
    Ok(Applied {
        id,
        outputs: outputs(&p),
    })
}

/// One DescribeFargateProfile per profile: EKS has no batch describe.
pub(super) async fn read(
    eks: &Client,
    _cx: &Refresh<'_>,
    items: &[ReadItem],
) -> Result<Vec<ReadResult>, ProviderError> {
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let Some(p) = describe(eks, SCHEMA.kind, &item.id).await? else {
            out.push(ReadResult::Gone);
            continue;
        };
        if matches!(
            p.status(),
            Some(FargateProfileStatus::Deleting | FargateProfileStatus::DeleteFailed)
        ) {
            out.push(ReadResult::Gone);
            continue;
        }
        let selectors: Vec<Value> = p
            .selectors()
            .iter()
            .map(|s| {
                let sel = Selector {
                    namespace: s.namespace().unwrap_or_default().to_string(),
                    labels: s
                        .labels()
                        .map(|l| l.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                        .unwrap_or_default(),
                };
                serde_json::to_value(sel).unwrap_or(Value::Null)
            })
            .collect();
        out.push(ReadResult::Found {
            args: Observed::new(&item.args)
                .set("cluster", p.cluster_name().unwrap_or_default())
                .set(
                    "pod_execution_role",
                    p.pod_execution_role_arn().unwrap_or_default(),
                )
                .set_list("subnets", p.subnets().to_vec())
                .set("selectors", Value::Array(selectors))
                .tags(&tags_from(p.tags()))
                .finish(),
            outputs: outputs(&p),
        });
    }
    Ok(out)
}

/// Only tags change in place; everything else replaces the profile.
pub(super) async fn update(eks: &Client, op: &UpdateOp) -> Result<Applied, ProviderError> {
    let subject = op.address.to_string();
    let before: FargateProfileArgs = parse(&op.before, &subject)?;
    let after: FargateProfileArgs = parse(&op.after, &subject)?;
    let arn = op.recorded("arn");
    update_tags(eks, &subject, arn, &before.tags, &after.tags).await?;
    Ok(op.unchanged())
}

/// Waits until the profile is gone: the cluster cannot be deleted before.
pub(super) async fn delete(eks: &Client, op: &DeleteOp) -> Result<(), ProviderError> {
    let subject = op.address.to_string();
    let (cluster, name) = split(&op.id);
    let sent = while_in_use(&op.progress, || async {
        eks.delete_fargate_profile()
            .cluster_name(cluster)
            .fargate_profile_name(name)
            .send()
            .await
            .or_fail(&subject, "eks:DeleteFargateProfile")
    })
    .await;
    until_gone(
        &op.progress,
        &subject,
        sent,
        || describe(eks, &subject, &op.id),
        |p| p.status().map_or("UNKNOWN", FargateProfileStatus::as_str),
    )
    .await
}

/// The profile is named after the resource: one of that name carrying our
/// tags is what an interrupted create made.
pub(super) async fn adopt(eks: &Client, op: &CreateOp) -> Result<Option<Applied>, ProviderError> {
    let subject = op.address.to_string();
    let a: FargateProfileArgs = parse(&op.args, &subject)?;
    let id = format!("{}:{}", a.cluster_name, op.name);
    let Some(p) = describe(eks, &subject, &id).await? else {
        return Ok(None);
    };
    if !owned_by(p.tags(), &op.stack, &subject) {
        return Ok(None);
    }
    let p = until_active(eks, &op.progress, &subject, &id).await?;
    Ok(Some(Applied {
        id,
        outputs: outputs(&p),
    }))
}
