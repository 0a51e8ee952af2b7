//! Tags: sent at create as tag specifications, changed in place by
//! difference, and read back without the keys AWS owns (`aws:`).

use std::collections::BTreeMap;

use aws_sdk_ec2::types::{Filter, ResourceType, Tag, TagSpecification};

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
    let (removed, changed) = difference(before, after);
    let removed: Vec<Tag> = removed
        .iter()
        .map(|k| Tag::builder().key(k).build())
        .collect();
    if !removed.is_empty() {
        ec2.delete_tags()
            .resources(id)
            .set_tags(Some(removed))
            .send()
            .await
            .or_fail(subject, "ec2:DeleteTags")?;
    }
    if !changed.is_empty() {
        ec2.create_tags()
            .resources(id)
            .set_tags(Some(to_aws(&changed)))
            .send()
            .await
            .or_fail(subject, "ec2:CreateTags")?;
    }
    Ok(())
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
