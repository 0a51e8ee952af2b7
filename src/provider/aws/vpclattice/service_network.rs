//! `aws.vpclattice.service_network`: the logical boundary services are
//! associated with and VPCs join; its auth type says whether its auth
//! policy is enforced.

use aws_sdk_vpclattice::Client;
use payrun_derive::Args;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{AuthType, found, gone_is_ok, incomplete, parse, tagging};
use crate::provider::aws::error::AwsResultExt;
use crate::provider::aws::refresh::Refresh;
use crate::provider::aws::tags::Tags;
use crate::provider::schema::{KindSchema, validate_as};
use crate::provider::{Applied, CreateOp, DeleteOp, ProviderError, ReadItem, ReadResult, UpdateOp};

#[derive(Deserialize, Args)]
#[serde(deny_unknown_fields)]
#[arg(kind = "aws.vpclattice.service_network")]
struct ServiceNetworkArgs {
    #[serde(default)]
    #[arg(default = "\"NONE\"")]
    auth_type: AuthType,
    #[serde(default)]
    tags: Tags,
}

pub(super) const SCHEMA: KindSchema = KindSchema {
    kind: ServiceNetworkArgs::KIND,
    name_prefix: "sn",
    name_max: 63,
    taggable: true,
    named_by_arg: false,
    create_before_destroy: false,
    args: ServiceNetworkArgs::SPECS,
    outputs: &["arn", "name"],
    validate: &validate_as::<ServiceNetworkArgs>,
    reads_each: Some("one GetServiceNetwork per network: Lattice lists them without their auth type (the stack's unrecorded networks come from one read of the stack's tags)"),
    doc: "A VPC Lattice service network; `auth_type` NONE (default) or AWS_IAM.",
};

fn outputs(arn: Option<&str>, name: Option<&str>) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("arn".into(), json!(arn.unwrap_or_default()));
    m.insert("name".into(), json!(name.unwrap_or_default()));
    m
}

pub(super) async fn create(client: &Client, op: &CreateOp) -> Result<Applied, ProviderError> {
    let subject = op.address.to_string();
    let args: ServiceNetworkArgs = parse(&op.args, &subject)?;
    let out = client
        .create_service_network()
        .name(&op.name)
        .auth_type(args.auth_type.to_aws())
        .client_token(&op.token)
        .set_tags(tagging::to_aws(&args.tags))
        .send()
        .await
        .or_fail(&subject, "vpc-lattice:CreateServiceNetwork")?;
    let id = out
        .id()
        .ok_or_else(|| incomplete(&subject, "CreateServiceNetwork", "an id"))?
        .to_string();
    Ok(Applied {
        id,
        outputs: outputs(out.arn(), Some(&op.name)),
    })
}

/// One GetServiceNetwork per item: the List summary has no auth type.
pub(super) async fn read(
    client: &Client,
    cx: &Refresh<'_>,
    items: &[ReadItem],
) -> Result<Vec<ReadResult>, ProviderError> {
    super::unrecorded(cx, SCHEMA.kind, items, "servicenetwork", |id| async move {
        Ok(found(
            client
                .get_service_network()
                .service_network_identifier(&id)
                .send()
                .await
                .or_fail(SCHEMA.kind, "vpc-lattice:GetServiceNetwork"),
        )?
        .is_some())
    })
    .await?;
    let mut results = Vec::with_capacity(items.len());
    for item in items {
        let got = found(
            client
                .get_service_network()
                .service_network_identifier(&item.id)
                .send()
                .await
                .or_fail(&item.address.to_string(), "vpc-lattice:GetServiceNetwork"),
        )?;
        results.push(match got {
            None => ReadResult::Gone,
            Some(sn) => {
                let mut args = Map::new();
                let auth = sn.auth_type().map_or("NONE", |a| a.as_str());
                if item.args.get("auth_type").is_some_and(|v| !v.is_null()) || auth != "NONE" {
                    args.insert("auth_type".into(), json!(auth));
                }
                ReadResult::Found {
                    args,
                    outputs: outputs(sn.arn(), sn.name()),
                }
            }
        });
    }
    Ok(results)
}

pub(super) async fn update(client: &Client, op: &UpdateOp) -> Result<Applied, ProviderError> {
    let subject = op.address.to_string();
    let before: ServiceNetworkArgs = parse(&op.before, &subject)?;
    let after: ServiceNetworkArgs = parse(&op.after, &subject)?;
    if before.auth_type != after.auth_type {
        client
            .update_service_network()
            .service_network_identifier(&op.id)
            .auth_type(after.auth_type.to_aws())
            .send()
            .await
            .or_fail(&subject, "vpc-lattice:UpdateServiceNetwork")?;
    }
    let arn = op.recorded("arn");
    tagging::update(client, &subject, arn, &before.tags, &after.tags).await?;
    Ok(op.unchanged())
}

/// Synchronous: Lattice refuses it (ConflictException) while services or
/// VPCs are still associated, and payrun deletes those first.
pub(super) async fn delete(client: &Client, op: &DeleteOp) -> Result<(), ProviderError> {
    gone_is_ok(
        client
            .delete_service_network()
            .service_network_identifier(&op.id)
            .send()
            .await
            .or_fail(&op.address.to_string(), "vpc-lattice:DeleteServiceNetwork"),
    )
}

pub(super) async fn adopt(
    client: &Client,
    op: &CreateOp,
) -> Result<Option<Applied>, ProviderError> {
    let subject = op.address.to_string();
    let all: Vec<_> = client
        .list_service_networks()
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .or_fail(&subject, "vpc-lattice:ListServiceNetworks")?;
    let candidates = all
        .iter()
        .filter(|s| s.name() == Some(op.name.as_str()))
        .map(|sn| (sn.id(), sn.arn(), outputs(sn.arn(), sn.name())))
        .collect();
    tagging::adopt_owned(client, op, candidates).await
}
