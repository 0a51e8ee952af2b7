//! App Mesh tags: a list sent at create, found again through
//! ListTagsForResource, changed in place by difference.

use aws_sdk_appmesh::Client;
use aws_sdk_appmesh::types::TagRef;

use super::invalid;
use crate::provider::ProviderError;
use crate::provider::aws::error::AwsResultExt;
use crate::provider::aws::tags::{self, Tags, difference, owns};

/// The tags of a create call; `None` when there is no tag.
pub(super) fn to_aws(tags: &Tags, subject: &str) -> Result<Option<Vec<TagRef>>, ProviderError> {
    if tags.is_empty() {
        return Ok(None);
    }
    tags.iter()
        .map(|(k, v)| {
            TagRef::builder()
                .key(k)
                .value(v)
                .build()
                .map_err(|e| invalid(subject, e))
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// Did a create for `address` in `stack` make the resource at `arn`?
pub(super) async fn owned_by(
    client: &Client,
    subject: &str,
    arn: &str,
    stack: &str,
) -> Result<bool, ProviderError> {
    let out = client
        .list_tags_for_resource()
        .resource_arn(arn)
        .send()
        .await
        .or_fail(subject, "appmesh:ListTagsForResource")?;
    let tags: Tags = out
        .tags()
        .iter()
        .map(|t| (t.key().to_string(), t.value().to_string()))
        .collect();
    Ok(owns(&tags, stack, subject))
}

/// Changes the tags of `arn` from `before` to `after`: one UntagResource for
/// removed keys, one TagResource for added or changed ones.
pub(super) async fn update(
    client: &Client,
    subject: &str,
    arn: &str,
    before: &Tags,
    after: &Tags,
) -> Result<(), ProviderError> {
    // TagRef is built fallibly, so the pairs are built before the call.
    let (_, changed) = difference(before, after);
    let refs = to_aws(&changed, subject)?;
    tags::reconcile(
        subject,
        before,
        after,
        ("appmesh:UntagResource", |keys| {
            client
                .untag_resource()
                .resource_arn(arn)
                .set_tag_keys(Some(keys))
                .send()
        }),
        ("appmesh:TagResource", |_| {
            client.tag_resource().resource_arn(arn).set_tags(refs).send()
        }),
    )
    .await
}
