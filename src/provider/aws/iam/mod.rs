//! IAM kinds: roles, their inline and managed policies, policy attachments
//! and OIDC identity providers; one file per kind.
//!
//! IAM has no batched read that carries tags and documents (ListRoles and
//! ListPolicies leave both out), so reads go one Get per recorded resource.

mod openid_connect_provider;
mod policy;
mod role;
mod role_policy;
mod role_policy_attachment;

pub(crate) use policy::PolicyArgs;
pub(crate) use role::RoleArgs;
pub(crate) use role_policy::RolePolicyArgs;

use aws_sdk_iam::Client;
use aws_sdk_iam::types::Tag;

use super::tags::Tags;

kinds!(
    Client;
    role: stack,
    role_policy,
    policy,
    role_policy_attachment,
    openid_connect_provider,
);

fn to_aws(tags: &Tags) -> Vec<Tag> {
    tags.iter()
        .filter_map(|(k, v)| Tag::builder().key(k).value(v).build().ok())
        .collect()
}

fn from_aws(tags: &[Tag]) -> Tags {
    tags.iter()
        .map(|t| (t.key().to_string(), t.value().to_string()))
        .filter(|(k, _)| !k.starts_with("aws:"))
        .collect()
}
