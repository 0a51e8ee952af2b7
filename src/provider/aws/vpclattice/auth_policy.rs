//! `aws.vpclattice.auth_policy`: the IAM policy a service network or
//! service with auth type AWS_IAM enforces on every request. Its id is the
//! identifier of the resource it is attached to.

use aws_sdk_vpclattice::Client;
use payrun_derive::Args;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::{found, gone_is_ok, identifier, parse};
use crate::provider::aws::error::AwsResultExt;
use crate::provider::aws::refresh::Refresh;
use crate::provider::schema::{KindSchema, validate_as};
use crate::provider::{Applied, CreateOp, DeleteOp, ProviderError, ReadItem, ReadResult, UpdateOp};

#[derive(Deserialize, Args)]
#[serde(deny_unknown_fields)]
#[arg(kind = "aws.vpclattice.auth_policy")]
struct AuthPolicyArgs {
    #[serde(rename = "resource")]
    #[arg(force_new, formerly = "resource")]
    resource_identifier: String,
    policy: Map<String, Value>,
}

pub(super) const SCHEMA: KindSchema = KindSchema {
    kind: AuthPolicyArgs::KIND,
    name_prefix: "authz",
    name_max: 255,
    taggable: false,
    named_by_arg: false,
    create_before_destroy: false,
    args: AuthPolicyArgs::SPECS,
    outputs: &[],
    validate: &validate_as::<AuthPolicyArgs>,
    reads_each: Some("one GetAuthPolicy per policy: Lattice has no batched read"),
    doc: "The auth policy (an IAM policy document map) of the service or service network `resource`.",
};

async fn put(client: &Client, subject: &str, args: &AuthPolicyArgs) -> Result<(), ProviderError> {
    let policy = Value::Object(args.policy.clone()).to_string();
    client
        .put_auth_policy()
        .resource_identifier(&args.resource_identifier)
        .policy(policy)
        .send()
        .await
        .or_fail(subject, "vpc-lattice:PutAuthPolicy")?;
    Ok(())
}

pub(super) async fn create(client: &Client, op: &CreateOp) -> Result<Applied, ProviderError> {
    let subject = op.address.to_string();
    let args: AuthPolicyArgs = parse(&op.args, &subject)?;
    put(client, &subject, &args).await?;
    Ok(Applied {
        id: args.resource_identifier,
        outputs: Map::new(),
    })
}

/// One GetAuthPolicy per item: Lattice has no List for auth policies.
pub(super) async fn read(
    client: &Client,
    _cx: &Refresh<'_>,
    items: &[ReadItem],
) -> Result<Vec<ReadResult>, ProviderError> {
    let mut results = Vec::with_capacity(items.len());
    for item in items {
        let subject = item.address.to_string();
        let got = found(
            client
                .get_auth_policy()
                .resource_identifier(&item.id)
                .send()
                .await
                .or_fail(&subject, "vpc-lattice:GetAuthPolicy"),
        )?;
        let policy = got
            .as_ref()
            .and_then(|p| p.policy())
            .filter(|p| !p.is_empty());
        results.push(match policy {
            None => ReadResult::Gone,
            Some(text) => {
                let live: Value = serde_json::from_str(text).map_err(|e| {
                    ProviderError::new(format!(
                        "{subject}: GetAuthPolicy answered a policy that is not JSON: {e}"
                    ))
                    .with_code("IncompleteResponse")
                })?;
                let mut args = Map::new();
                args.insert(
                    "resource".into(),
                    identifier(&item.args, "resource", &item.id),
                );
                args.insert("policy".into(), live);
                ReadResult::Found {
                    args,
                    outputs: Map::new(),
                }
            }
        });
    }
    Ok(results)
}

pub(super) async fn update(client: &Client, op: &UpdateOp) -> Result<Applied, ProviderError> {
    let subject = op.address.to_string();
    let after: AuthPolicyArgs = parse(&op.after, &subject)?;
    put(client, &subject, &after).await?;
    Ok(op.unchanged())
}

pub(super) async fn delete(client: &Client, op: &DeleteOp) -> Result<(), ProviderError> {
    gone_is_ok(
        client
            .delete_auth_policy()
            .resource_identifier(&op.id)
            .send()
            .await
            .or_fail(&op.address.to_string(), "vpc-lattice:DeleteAuthPolicy"),
    )
}

/// PutAuthPolicy replaces whatever policy the resource has, so a repeated
/// create is harmless and there is nothing to adopt.
#[allow(clippy::unused_async)]
pub(super) async fn adopt(
    _client: &Client,
    _op: &CreateOp,
) -> Result<Option<Applied>, ProviderError> {
    Ok(None)
}
