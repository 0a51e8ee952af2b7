//! Tags: sent at create as tag specifications, changed in place by
//! difference, and read back without the keys AWS owns (`aws:`).

use std::collections::BTreeMap;

use std::error::Error as StdError;
use std::future::Future;

use aws_sdk_ec2::error::ProvideErrorMetadata;
use aws_sdk_ec2::types::{Filter, ResourceType, Tag, TagSpecification};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;

use super::error::AwsResultExt;
use crate::provider::ProviderError;

pub(crate) type Tags = BTreeMap<String, String>;

pub(crate) const STACK: &str = "payrun:stack";
pub(crate) const ADDRESS: &str = "payrun:address";

pub(crate) fn to_aws(tags: &Tags) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

/// The tag specification for a create call; `None` when there is no tag.
pub(crate) fn spec(resource: ResourceType, tags: &Tags) -> Option<TagSpecification> {
    (!tags.is_empty()).then(|| {
        TagSpecification::builder()
            .resource_type(resource)
            .set_tags(Some(to_aws(tags)))
            .build()
    })
}

/// Tags as the program writes them: AWS-owned keys left out.
pub(crate) fn from_aws(tags: &[Tag]) -> Tags {
    tags.iter()
        .filter_map(|t| {
            Some((
                t.key()?.to_string(),
                t.value().unwrap_or_default().to_string(),
            ))
        })
        .filter(|(k, _)| !k.starts_with("aws:"))
        .collect()
}

/// Filters that find what a create for `address` in `stack` made.
pub(crate) fn owner_filters(stack: &str, address: &str) -> Vec<Filter> {
    vec![
        Filter::builder()
            .name(format!("tag:{STACK}"))
            .values(stack)
            .build(),
        Filter::builder()
            .name(format!("tag:{ADDRESS}"))
            .values(address)
            .build(),
    ]
}

/// Did a create for `address` in `stack` make the resource with these tags?
/// Checked on our side too, since not every Describe honours tag filters.
pub(crate) fn owned_by(tags: &[Tag], stack: &str, address: &str) -> bool {
    let tags = from_aws(tags);
    tags.get(STACK).map(String::as_str) == Some(stack)
        && tags.get(ADDRESS).map(String::as_str) == Some(address)
}

/// Changes the tags of `id` from `before` to `after`: one DeleteTags for
/// removed keys, one CreateTags for added or changed ones.
pub(crate) async fn update(
    ec2: &aws_sdk_ec2::Client,
    subject: &str,
    id: &str,
    before: &Tags,
    after: &Tags,
) -> Result<(), ProviderError> {
    reconcile(
        subject,
        before,
        after,
        ("ec2:DeleteTags", |keys: Vec<String>| {
            let keys = keys.iter().map(|k| Tag::builder().key(k).build()).collect();
            ec2.delete_tags().resources(id).set_tags(Some(keys)).send()
        }),
        ("ec2:CreateTags", |tags: Tags| {
            ec2.create_tags()
                .resources(id)
                .set_tags(Some(to_aws(&tags)))
                .send()
        }),
    )
    .await
}

/// The update of a kind whose only in-place change is its tags (every other
/// argument forces replacement).
pub(crate) async fn update_only_tags(
    ec2: &aws_sdk_ec2::Client,
    op: &crate::provider::UpdateOp,
) -> Result<crate::provider::Applied, ProviderError> {
    let tags_of = |v: &serde_json::Value| -> Tags {
        v.get("tags")
            .and_then(|t| serde_json::from_value(t.clone()).ok())
            .unwrap_or_default()
    };
    let subject = op.address.to_string();
    update(
        ec2,
        &subject,
        &op.id,
        &tags_of(&op.before),
        &tags_of(&op.after),
    )
    .await?;
    Ok(op.unchanged())
}

/// Did a create for `address` in `stack` make the resource with these tags?
pub(crate) fn owns(tags: &Tags, stack: &str, address: &str) -> bool {
    tags.get(STACK).map(String::as_str) == Some(stack)
        && tags.get(ADDRESS).map(String::as_str) == Some(address)
}

/// Changes a resource's tags from `before` to `after` with its service's
/// own calls, each named by its IAM action: `untag` with the keys `after`
/// drops, then `tag` with the pairs it adds or changes; neither is sent when
/// it has nothing to do. Every service's tag update is this.
pub(crate) async fn reconcile<U, UF, UO, UE, T, TF, TO, TE>(
    subject: &str,
    before: &Tags,
    after: &Tags,
    (untag_action, untag): (&str, U),
    (tag_action, tag): (&str, T),
) -> Result<(), ProviderError>
where
    U: FnOnce(Vec<String>) -> UF,
    UF: Future<Output = Result<UO, SdkError<UE, HttpResponse>>>,
    UE: ProvideErrorMetadata + StdError + Send + Sync + 'static,
    T: FnOnce(Tags) -> TF,
    TF: Future<Output = Result<TO, SdkError<TE, HttpResponse>>>,
    TE: ProvideErrorMetadata + StdError + Send + Sync + 'static,
{
    let (removed, changed) = difference(before, after);
    if !removed.is_empty() {
        untag(removed).await.or_fail(subject, untag_action)?;
    }
    if !changed.is_empty() {
        tag(changed).await.or_fail(subject, tag_action)?;
    }
    Ok(())
}

/// Keys in `before` that `after` drops, and pairs `after` adds or changes.
pub(crate) fn difference(before: &Tags, after: &Tags) -> (Vec<String>, Tags) {
    let removed = before
        .keys()
        .filter(|k| !after.contains_key(*k) && !k.starts_with("aws:"))
        .cloned()
        .collect();
    let changed = after
        .iter()
        .filter(|(k, v)| before.get(*k) != Some(*v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    (removed, changed)
}
