//! `aws.iam.role`: a role with its trust policy; its permissions are the
//! `role_policy` and `role_policy_attachment` kinds.

use aws_sdk_iam::Client;
use aws_sdk_iam::types::{Role, RoleDetail};
use payrun_derive::Args;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{from_aws, to_aws};
use crate::provider::aws::call::{found, gone_is_ok, incomplete, parse};
use crate::provider::aws::refresh::Refresh;
use crate::provider::aws::error::AwsResultExt;
use crate::provider::aws::observed::Observed;
use crate::provider::aws::policy_document;
use crate::provider::aws::tags::{self, Tags};
use crate::provider::schema::{KindSchema, validate_as};
use crate::provider::{Applied, CreateOp, DeleteOp, ProviderError, ReadItem, ReadResult, UpdateOp};

#[derive(Deserialize, Args)]
#[serde(deny_unknown_fields)]
#[arg(kind = "aws.iam.role")]
pub(crate) struct RoleArgs {
    #[arg(document)]
    pub(crate) assume_role_policy: Map<String, Value>,
    #[serde(default)]
    pub(crate) description: Option<String>,
    #[serde(default)]
    pub(crate) max_session_duration: Option<i32>,
    #[serde(default)]
    pub(crate) permissions_boundary: Option<String>,
    #[serde(default)]
    #[arg(force_new)]
    pub(crate) path: Option<String>,
    #[serde(default)]
    pub(crate) tags: Tags,
}

pub(super) const SCHEMA: KindSchema = KindSchema {
    kind: RoleArgs::KIND,
    name_prefix: "role",
    name_max: 64,
    taggable: true,
    named_by_arg: false,
    create_before_destroy: true,
    args: RoleArgs::SPECS,
    outputs: &["arn", "name", "unique_id"],
    validate: &validate_as::<RoleArgs>,
    reads_each: None,
    doc: "An IAM role: `assume_role_policy` (a map), `description`, `max_session_duration` (seconds, default 3600), `permissions_boundary` (a policy ARN), `path` (default `/`).",
};

const MAX_SESSION_DEFAULT: i32 = 3600;
const PATH_DEFAULT: &str = "/";

fn outputs(role: &Role) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("arn".into(), json!(role.arn()));
    m.insert("name".into(), json!(role.role_name()));
    m.insert("unique_id".into(), json!(role.role_id()));
    m
}

async fn get(iam: &Client, subject: &str, name: &str) -> Result<Option<Role>, ProviderError> {
    let out = found(
        iam.get_role()
            .role_name(name)
            .send()
            .await
            .or_fail(subject, "iam:GetRole"),
    )?;
    Ok(out.and_then(|o| o.role().cloned()))
}

pub(super) async fn create(iam: &Client, op: &CreateOp) -> Result<Applied, ProviderError> {
    let subject = op.address.to_string();
    let args: RoleArgs = parse(&op.args, &subject)?;
    let out = iam
        .create_role()
        .role_name(&op.name)
        .assume_role_policy_document(policy_document::to_json(&Value::Object(
            args.assume_role_policy,
        )))
        .set_description(args.description)
        .set_max_session_duration(args.max_session_duration)
        .set_permissions_boundary(args.permissions_boundary)
        .set_path(args.path)
        .set_tags(Some(to_aws(&args.tags)))
        .send()
        .await
        .or_fail(&subject, "iam:CreateRole")?;
    let role = out
        .role()
        .ok_or_else(|| incomplete(&subject, "CreateRole", "a role"))?;
    Ok(Applied {
        id: role.role_name().to_string(),
        outputs: outputs(role),
    })
}

/// In a refresh of a stack, from IAM's account authorization details and
/// ListRoles, read once for every IAM kind of the refresh (two calls a
/// page of 1,000 roles), which also find the stack's roles no item
/// records; alone, one GetRole per role.
pub(super) async fn read(
    iam: &Client,
    cx: &Refresh<'_>,
    items: &[ReadItem],
) -> Result<Vec<ReadResult>, ProviderError> {
    if let Some(stack) = cx.stack() {
        let account = cx.iam().await?;
        let tagged: Vec<(&str, Tags)> = account
            .roles
            .iter()
            .map(|(name, r)| (name.as_str(), from_aws(r.detail.tags())))
            .filter(|(_, t)| t.get(tags::STACK).is_some_and(|s| s == stack))
            .collect();
        cx.unrecorded_among(SCHEMA.kind, items, tagged.iter().map(|(n, t)| (*n, t)));
        return Ok(items
            .iter()
            .map(|item| match account.roles.get(&item.id) {
                None => ReadResult::Gone,
                Some(r) => found_role(item, &r.detail, r.description.as_deref(), r.max_session_duration),
            })
            .collect());
    }
    let mut results = Vec::with_capacity(items.len());
    for item in items {
        results.push(match get(iam, SCHEMA.kind, &item.id).await? {
            None => ReadResult::Gone,
            Some(role) => found_role(
                item,
                &RoleDetail::builder()
                    .role_name(role.role_name())
                    .role_id(role.role_id())
                    .arn(role.arn())
                    .path(role.path())
                    .set_assume_role_policy_document(role.assume_role_policy_document().map(str::to_string))
                    .set_permissions_boundary(role.permissions_boundary().cloned())
                    .set_tags(Some(role.tags().to_vec()))
                    .build(),
                role.description(),
                role.max_session_duration(),
            ),
        });
    }
    Ok(results)
}

/// A role as read, in the program's terms.
fn found_role(
    item: &ReadItem,
    role: &RoleDetail,
    description: Option<&str>,
    max_session_duration: Option<i32>,
) -> ReadResult {
    let args = Observed::new(&item.args)
        .document(
            "assume_role_policy",
            role.assume_role_policy_document()
                .and_then(policy_document::decode),
        )
        .maybe("description", description.filter(|d| !d.is_empty()))
        .optional(
            "max_session_duration",
            max_session_duration.unwrap_or(MAX_SESSION_DEFAULT),
            MAX_SESSION_DEFAULT,
        )
        .maybe(
            "permissions_boundary",
            role.permissions_boundary()
                .and_then(|b| b.permissions_boundary_arn()),
        )
        .optional("path", role.path().unwrap_or(PATH_DEFAULT), PATH_DEFAULT)
        .tags(&from_aws(role.tags()))
        .finish();
    let mut outputs = Map::new();
    outputs.insert("arn".into(), json!(role.arn().unwrap_or_default()));
    outputs.insert("name".into(), json!(role.role_name().unwrap_or_default()));
    outputs.insert("unique_id".into(), json!(role.role_id().unwrap_or_default()));
    ReadResult::Found { args, outputs }
}

pub(super) async fn update(iam: &Client, op: &UpdateOp) -> Result<Applied, ProviderError> {
    let subject = op.address.to_string();
    let before: RoleArgs = parse(&op.before, &subject)?;
    let after: RoleArgs = parse(&op.after, &subject)?;
    let changed = |k: &str| op.changed.iter().any(|c| c == k);
    if changed("assume_role_policy") {
        iam.update_assume_role_policy()
            .role_name(&op.id)
            .policy_document(policy_document::to_json(&Value::Object(
                after.assume_role_policy.clone(),
            )))
            .send()
            .await
            .or_fail(&subject, "iam:UpdateAssumeRolePolicy")?;
    }
    if changed("description") || changed("max_session_duration") {
        iam.update_role()
            .role_name(&op.id)
            .description(after.description.clone().unwrap_or_default())
            .max_session_duration(after.max_session_duration.unwrap_or(MAX_SESSION_DEFAULT))
            .send()
            .await
            .or_fail(&subject, "iam:UpdateRole")?;
    }
    if changed("permissions_boundary") {
        match &after.permissions_boundary {
            Some(arn) => {
                iam.put_role_permissions_boundary()
                    .role_name(&op.id)
                    .permissions_boundary(arn)
                    .send()
                    .await
                    .or_fail(&subject, "iam:PutRolePermissionsBoundary")?;
            }
            None => {
                iam.delete_role_permissions_boundary()
                    .role_name(&op.id)
                    .send()
                    .await
                    .or_fail(&subject, "iam:DeleteRolePermissionsBoundary")?;
            }
        }
    }
    tags::reconcile(
        &subject,
        &before.tags,
        &after.tags,
        ("iam:UntagRole", |keys| {
            iam.untag_role()
                .role_name(&op.id)
                .set_tag_keys(Some(keys))
                .send()
        }),
        ("iam:TagRole", |tags| {
            iam.tag_role()
                .role_name(&op.id)
                .set_tags(Some(to_aws(&tags)))
                .send()
        }),
    )
    .await?;
    Ok(op.unchanged())
}

pub(super) async fn delete(iam: &Client, op: &DeleteOp) -> Result<(), ProviderError> {
    gone_is_ok(
        iam.delete_role()
            .role_name(&op.id)
            .send()
            .await
            .map(drop)
            .or_fail(&op.address.to_string(), "iam:DeleteRole"),
    )
}

pub(super) async fn adopt(iam: &Client, op: &CreateOp) -> Result<Option<Applied>, ProviderError> {
    let subject = op.address.to_string();
    let Some(role) = get(iam, &subject, &op.name).await? else {
        return Ok(None);
    };
    Ok(
        tags::owns(&from_aws(role.tags()), &op.stack, &subject).then(|| Applied {
            id: role.role_name().to_string(),
            outputs: outputs(&role),
        }),
    )
}
