//! ECR kinds: repositories, lifecycle policies, the registry's scanning
//! configuration and the image scan gate; one file per kind.

mod image_scan_gate;
mod lifecycle_policy;
mod registry_scanning_configuration;
mod repository;

pub(crate) use repository::RepositoryArgs;

use aws_sdk_ecr::Client;
use aws_sdk_ecr::types::Tag;

use super::tags::Tags;

kinds!(
    Client;
    repository: stack,
    lifecycle_policy,
    registry_scanning_configuration,
    image_scan_gate,
);

fn to_aws(tags: &Tags) -> Vec<Tag> {
    tags.iter()
        .filter_map(|(k, v)| Tag::builder().key(k).value(v).build().ok())
        .collect()
}

pub(crate) fn from_aws(tags: &[Tag]) -> Tags {
    tags.iter()
        .map(|t| (t.key().to_string(), t.value().to_string()))
        .filter(|(k, _)| !k.starts_with("aws:"))
        .collect()
}
