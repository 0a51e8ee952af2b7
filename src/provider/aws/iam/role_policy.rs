//! `aws.iam.role_policy`: an inline policy of a role, named by its physical
//! name; id `<role>:<policy name>`.

use aws_sdk_iam::Client;
use payrun_derive::Args;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::provider::aws::call::{found, gone_is_ok, parse};
use crate::provider::aws::refresh::Refresh;
use crate::provider::aws::error::AwsResultExt;
use crate::provider::aws::observed::Observed;
use crate::provider::aws::policy_document;
use crate::provider::schema::{KindSchema, validate_as};
use crate::provider::{Applied, CreateOp, DeleteOp, ProviderError, ReadItem, ReadResult, UpdateOp};

#[derive(Deserialize, Args)]
#[serde(deny_unknown_fields)]
#[arg(kind = "aws.iam.role_policy")]
pub(crate) struct RolePolicyArgs {
    #[arg(force_new)]
    pub(crate) role: String,
    #[arg(document)]
    pub(crate) policy: Map<String, Value>,
}

pub(super) const SCHEMA: KindSchema = KindSchema {
    kind: RolePolicyArgs::KIND,
    name_prefix: "inline",
    name_max: 128,
    taggable: false,
    named_by_arg: false,
    create_before_destroy: false,
    args: RolePolicyArgs::SPECS,
    outputs: &["name"],
    validate: &validate_as::<RolePolicyArgs>,
    reads_each: None,
    doc: "An inline policy of `role` (a role name): `policy` (a map).",
};

fn split(id: &str) -> (&str, &str) {
    id.split_once(':').unwrap_or((id, ""))
}

fn outputs(name: &str) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("name".into(), json!(name));
    m
}

async fn put(
    iam: &Client,
    subject: &str,
    role: &str,
    name: &str,
    policy: Map<String, Value>,
) -> Result<(), ProviderError> {
    iam.put_role_policy()
        .role_name(role)
        .policy_name(name)
        .policy_document(policy_document::to_json(&Value::Object(policy)))
        .send()
        .await
        .or_fail(subject, "iam:PutRolePolicy")?;
    Ok(())
}

pub(super) async fn create(iam: &Client, op: &CreateOp) -> Result<Applied, ProviderError> {
    let subject = op.address.to_string();
    let args: RolePolicyArgs = parse(&op.args, &subject)?;
    put(iam, &subject, &args.role, &op.name, args.policy).await?;
    Ok(Applied {
        id: format!("{}:{}", args.role, op.name),
        outputs: outputs(&op.name),
    })
}

/// IAM has no batched GetRolePolicy: one call per recorded policy.
/// In a refresh of a stack, from IAM's account authorization details,
/// read once for every IAM kind of the refresh; alone, one GetRolePolicy
/// per policy.
pub(super) async fn read(
    iam: &Client,
    cx: &Refresh<'_>,
    items: &[ReadItem],
) -> Result<Vec<ReadResult>, ProviderError> {
    let found_policy = |item: &ReadItem, role: &str, document: &str| ReadResult::Found {
        args: Observed::new(&item.args)
            .set("role", role)
            .document("policy", policy_document::decode(document))
            .finish(),
        outputs: outputs(split(&item.id).1),
    };
    if cx.stack().is_some() {
        let account = cx.iam().await?;
        return Ok(items
            .iter()
            .map(|item| {
                let (role, name) = split(&item.id);
                account
                    .roles
                    .get(role)
                    .and_then(|r| {
                        r.detail
                            .role_policy_list()
                            .iter()
                            .find(|p| p.policy_name() == Some(name))
                    })
                    .and_then(|p| p.policy_document())
                    .map_or(ReadResult::Gone, |d| found_policy(item, role, d))
            })
            .collect());
    }
    let mut results = Vec::with_capacity(items.len());
    for item in items {
        let (role, name) = split(&item.id);
        let live = found(
            iam.get_role_policy()
                .role_name(role)
                .policy_name(name)
                .send()
                .await
                .or_fail(SCHEMA.kind, "iam:GetRolePolicy"),
        )?;
        results.push(match live {
            None => ReadResult::Gone,
            Some(out) => found_policy(item, out.role_name(), out.policy_document()),
        });
    }
    Ok(results)
}

pub(super) async fn update(iam: &Client, op: &UpdateOp) -> Result<Applied, ProviderError> {
    let subject = op.address.to_string();
    let after: RolePolicyArgs = parse(&op.after, &subject)?;
    let (role, name) = split(&op.id);
    put(iam, &subject, role, name, after.policy).await?;
    Ok(op.unchanged())
}

pub(super) async fn delete(iam: &Client, op: &DeleteOp) -> Result<(), ProviderError> {
    let (role, name) = split(&op.id);
    gone_is_ok(
        iam.delete_role_policy()
            .role_name(role)
            .policy_name(name)
            .send()
            .await
            .map(drop)
            .or_fail(&op.address.to_string(), "iam:DeleteRolePolicy"),
    )
}

/// The policy name carries the stack's suffix, so one found under it on the
/// role is the one an interrupted create made.
pub(super) async fn adopt(iam: &Client, op: &CreateOp) -> Result<Option<Applied>, ProviderError> {
    let subject = op.address.to_string();
    let args: RolePolicyArgs = parse(&op.args, &subject)?;
    let live = found(
        iam.get_role_policy()
            .role_name(&args.role)
            .policy_name(&op.name)
            .send()
            .await
            .or_fail(&subject, "iam:GetRolePolicy"),
    )?;
    Ok(live.map(|_| Applied {
        id: format!("{}:{}", args.role, op.name),
        outputs: outputs(&op.name),
    }))
}
