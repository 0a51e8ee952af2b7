//! Lattice tags: a map sent at create, found again through
//! ListTagsForResource, changed in place by difference.

use std::collections::HashMap;

use aws_sdk_vpclattice::Client;

use serde_json::{Map, Value};

use crate::provider::aws::error::AwsResultExt;
use crate::provider::aws::tags::{self, Tags, owns};
use crate::provider::{Applied, CreateOp, ProviderError};

/// The tags of a create call; `None` when there is no tag.
pub(super) fn to_aws(tags: &Tags) -> Option<HashMap<String, String>> {
    (!tags.is_empty()).then(|| tags.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
}

/// Did a create for `address` in `stack` make the resource at `arn`?
pub(super) async fn owned_by(
    client: &Client,
    subject: &str,
    arn: &str,
    stack: &str,
    address: &str,
) -> Result<bool, ProviderError> {
    let out = client
        .list_tags_for_resource()
        .resource_arn(arn)
        .send()
        .await
        .or_fail(subject, "vpc-lattice:ListTagsForResource")?;
    let tags: Tags = out
        .tags()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .collect();
    Ok(owns(&tags, stack, address))
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
    tags::reconcile(
        subject,
        before,
        after,
        ("vpc-lattice:UntagResource", |keys| {
            client
                .untag_resource()
                .resource_arn(arn)
                .set_tag_keys(Some(keys))
                .send()
        }),
        ("vpc-lattice:TagResource", |tags: Tags| {
            client
                .tag_resource()
                .resource_arn(arn)
                .set_tags(Some(tags.into_iter().collect()))
                .send()
        }),
    )
    .await
}

/// A resource a List found: its id, its ARN and the outputs it would have.
pub(super) type Candidate<'a> = (Option<&'a str>, Option<&'a str>, Map<String, Value>);

/// What an interrupted create made: the first candidate whose tags name
/// this stack and address.
pub(super) async fn adopt_owned(
    client: &Client,
    op: &CreateOp,
    candidates: Vec<Candidate<'_>>,
) -> Result<Option<Applied>, ProviderError> {
    let subject = op.address.to_string();
    for (id, arn, outputs) in candidates {
        let (Some(id), Some(arn)) = (id, arn) else {
            continue;
        };
        if owned_by(client, &subject, arn, &op.stack, &subject).await? {
            return Ok(Some(Applied {
                id: id.to_string(),
                outputs,
            }));
        }
    }
    Ok(None)
}
