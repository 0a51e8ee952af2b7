//! EKS kinds: the cluster, its Fargate profiles and its add-ons; one file
//! per kind.

mod addon;

pub(crate) use addon::AddonArgs;
pub(crate) use cluster::{AUTHENTICATION_MODES, ClusterArgs};
mod cluster;
mod fargate_profile;

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use aws_sdk_eks::Client;
use aws_sdk_eks::types::UpdateStatus;
use serde_json::Value;

use super::call::found;
use super::error::AwsResultExt;
use super::tags::{self, Tags};
use super::wait::{self, Poll};
use crate::provider::{ProgressFn, ProviderError};

kinds!(
    Client;
    cluster, fargate_profile, addon);

/// The key under which Fargate profile operations of one cluster queue.
pub(super) fn concurrency_key(kind: &str, args: &Value) -> Option<String> {
    (kind == fargate_profile::SCHEMA.kind)
        .then(|| args.get("cluster").and_then(Value::as_str))
        .flatten()
        .map(|c| format!("eks-fargate:{c}"))
}

/// Creates, updates and deletes wait this long at most: a cluster takes 10
/// to 15 minutes to create and as long to upgrade.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(40 * 60);

/// After a delete call (`sent`): done at once when the resource was already
/// gone, else wait until `describe` finds nothing, showing the status it
/// reports meanwhile.
async fn until_gone<S, T, F, Fut>(
    progress: &ProgressFn,
    subject: &str,
    sent: Result<S, ProviderError>,
    describe: F,
    status: impl Fn(&T) -> &str,
) -> Result<(), ProviderError>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<Option<T>, ProviderError>>,
{
    let status = &status;
    let describe = &describe;
    wait::until_deleted(progress, subject, SETTLE_TIMEOUT, sent, || async move {
        Ok(describe().await?.map(|x| status(&x).to_string()))
    })
    .await
}

/// EKS tags as the program writes them: AWS-owned keys left out.
fn tags_from(live: Option<&HashMap<String, String>>) -> Tags {
    live.map(|m| {
        m.iter()
            .filter(|(k, _)| !k.starts_with("aws:"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    })
    .unwrap_or_default()
}

fn owned_by(live: Option<&HashMap<String, String>>, stack: &str, address: &str) -> bool {
    let t = tags_from(live);
    t.get(tags::STACK).map(String::as_str) == Some(stack)
        && t.get(tags::ADDRESS).map(String::as_str) == Some(address)
}

/// Changes the tags of the resource at `arn` from `before` to `after`.
async fn update_tags(
    eks: &Client,
    subject: &str,
    arn: &str,
    before: &Tags,
    after: &Tags,
) -> Result<(), ProviderError> {
    tags::reconcile(
        subject,
        before,
        after,
        ("eks:UntagResource", |keys| {
            eks.untag_resource()
                .resource_arn(arn)
                .set_tag_keys(Some(keys))
                .send()
        }),
        ("eks:TagResource", |tags: Tags| {
            eks.tag_resource()
                .resource_arn(arn)
                .set_tags(Some(tags.into_iter().collect()))
                .send()
        }),
    )
    .await
}

/// Waits for an update EKS runs in the background (a version upgrade, a
/// configuration change) to succeed.
async fn until_update_done(
    eks: &Client,
    progress: &ProgressFn,
    subject: &str,
    cluster: &str,
    addon: Option<&str>,
    update_id: &str,
) -> Result<(), ProviderError> {
    wait::until(progress, subject, SETTLE_TIMEOUT, || async {
        let out = eks
            .describe_update()
            .name(cluster)
            .set_addon_name(addon.map(str::to_string))
            .update_id(update_id)
            .send()
            .await
            .or_fail(subject, "eks:DescribeUpdate")?;
        let Some(update) = out.update() else {
            return Ok(Poll::Pending("update not visible yet".into()));
        };
        match update.status() {
            Some(UpdateStatus::Successful) => Ok(Poll::Ready(())),
            Some(UpdateStatus::Failed | UpdateStatus::Cancelled) => {
                let why: Vec<String> = update
                    .errors()
                    .iter()
                    .map(|e| {
                        format!(
                            "{}: {}",
                            e.error_code().map_or("Error", |c| c.as_str()),
                            e.error_message().unwrap_or_default()
                        )
                    })
                    .collect();
                Err(ProviderError::new(format!(
                    "{subject}: EKS update {update_id} failed: {}",
                    why.join("; ")
                ))
                .with_code("UpdateFailed"))
            }
            other => Ok(Poll::Pending(format!(
                "update {}",
                other.map_or("InProgress", UpdateStatus::as_str)
            ))),
        }
    })
    .await
}

/// Retries `call` while EKS answers ResourceInUseException (another
/// operation on the same cluster is running), with growing pauses.
async fn while_in_use<T, F, Fut>(progress: &ProgressFn, mut call: F) -> Result<T, ProviderError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ProviderError>>,
{
    let mut pause = Duration::from_secs(2);
    let mut tries = 0;
    loop {
        match call().await {
            Err(e) if e.code.as_deref() == Some("ResourceInUseException") && tries < 12 => {
                tries += 1;
                progress(&format!(
                    "cluster busy with another operation, retrying in {}s",
                    pause.as_secs()
                ));
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(30));
            }
            other => return other,
        }
    }
}

/// EKS's release calendar, as `DescribeClusterVersions` gives it (every
/// version it knows, every page): dates as `YYYY-MM-DD` (UTC).
pub(crate) async fn cluster_versions(
    eks: &Client,
) -> Result<Vec<crate::eks_versions::Version>, ProviderError> {
    let listed: Vec<aws_sdk_eks::types::ClusterVersionInformation> = eks
        .describe_cluster_versions()
        .include_all(true)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .or_fail("the EKS release calendar", "eks:DescribeClusterVersions")?;
    let day = |d: Option<&aws_smithy_types::DateTime>| {
        d.and_then(|d| {
            let t = std::time::UNIX_EPOCH + Duration::from_secs(u64::try_from(d.secs()).ok()?);
            Some(humantime::format_rfc3339_seconds(t).to_string()[..10].to_string())
        })
    };
    Ok(listed
        .iter()
        .filter_map(|v| {
            Some(crate::eks_versions::Version {
                version: v.cluster_version()?.to_string(),
                released: day(v.release_date()),
                end_of_standard_support: day(v.end_of_standard_support_date()),
                end_of_extended_support: day(v.end_of_extended_support_date()),
                status: v.version_status().map(|s| s.as_str().to_string()),
            })
        })
        .collect())
}
