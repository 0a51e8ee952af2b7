//! `aws.vpclattice.service_network_vpc_association`: a VPC joins a service
//! network, so its clients resolve and reach the network's services; the
//! security groups filter what enters the network from the VPC.

use aws_sdk_vpclattice::Client;
use aws_sdk_vpclattice::types::{
    ServiceNetworkVpcAssociationStatus as Status, ServiceNetworkVpcAssociationSummary as Summary,
};
use payrun_derive::Args;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{found, incomplete, parse, tagging, wait};
use crate::provider::aws::error::AwsResultExt;
use crate::provider::aws::refresh::Refresh;
use crate::provider::aws::tags::Tags;
use crate::provider::schema::{KindSchema, validate_as};
use crate::provider::{Applied, CreateOp, DeleteOp, ProviderError, ReadItem, ReadResult, UpdateOp};

#[derive(Deserialize, Args)]
#[serde(deny_unknown_fields)]
#[arg(kind = "aws.vpclattice.service_network_vpc_association")]
struct VpcAssociationArgs {
    #[serde(rename = "service_network")]
    #[arg(force_new, formerly = "service_network")]
    service_network_identifier: String,
    #[serde(rename = "vpc")]
    #[arg(force_new, formerly = "vpc_identifier")]
    vpc_identifier: String,
    #[serde(default)]
    #[serde(rename = "security_groups")]
    #[arg(formerly = "security_group_ids")]
    security_group_ids: Vec<String>,
    #[serde(default)]
    tags: Tags,
}

pub(super) const SCHEMA: KindSchema = KindSchema {
    kind: VpcAssociationArgs::KIND,
    name_prefix: "snva",
    name_max: 255,
    taggable: true,
    named_by_arg: false,
    create_before_destroy: false,
    args: VpcAssociationArgs::SPECS,
    outputs: &["arn"],
    validate: &validate_as::<VpcAssociationArgs>,
    reads_each: None,
    doc: "Associates `vpc` with `service_network`; `security_groups` filter traffic from the VPC.",
};

fn outputs(arn: Option<&str>) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("arn".into(), json!(arn.unwrap_or_default()));
    m
}

async fn status(client: &Client, subject: &str, id: &str) -> Result<Option<String>, ProviderError> {
    let got = found(
        client
            .get_service_network_vpc_association()
            .service_network_vpc_association_identifier(id)
            .send()
            .await
            .or_fail(subject, "vpc-lattice:GetServiceNetworkVpcAssociation"),
    )?;
    Ok(got.map(|a| a.status().map_or("UNKNOWN", Status::as_str).to_string()))
}

async fn list(
    client: &Client,
    subject: &str,
    service_network: &str,
    vpc: Option<&str>,
) -> Result<Vec<Summary>, ProviderError> {
    let listed = client
        .list_service_network_vpc_associations()
        .service_network_identifier(service_network)
        .set_vpc_identifier(vpc.map(str::to_string))
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .or_fail(subject, "vpc-lattice:ListServiceNetworkVpcAssociations");
    Ok(found(listed)?.unwrap_or_default())
}

pub(super) async fn create(client: &Client, op: &CreateOp) -> Result<Applied, ProviderError> {
    let subject = op.address.to_string();
    let args: VpcAssociationArgs = parse(&op.args, &subject)?;
    let out = client
        .create_service_network_vpc_association()
        .service_network_identifier(&args.service_network_identifier)
        .vpc_identifier(&args.vpc_identifier)
        .set_security_group_ids(
            (!args.security_group_ids.is_empty()).then_some(args.security_group_ids),
        )
        .client_token(&op.token)
        .set_tags(tagging::to_aws(&args.tags))
        .send()
        .await
        .or_fail(&subject, "vpc-lattice:CreateServiceNetworkVpcAssociation")?;
    let id = out
        .id()
        .ok_or_else(|| incomplete(&subject, "CreateServiceNetworkVpcAssociation", "an id"))?
        .to_string();
    let (s, i) = (subject.as_str(), id.as_str());
    if out.status() != Some(&Status::Active) {
        wait::until_active(&op.progress, s, || status(client, s, i)).await?;
    }
    Ok(Applied {
        id,
        outputs: outputs(out.arn()),
    })
}

/// One List per service network. The summary has no security groups, so
/// `security_groups` keeps its recorded value.
pub(super) async fn read(
    client: &Client,
    _cx: &Refresh<'_>,
    items: &[ReadItem],
) -> Result<Vec<ReadResult>, ProviderError> {
    super::read_by_network(
        items,
        |sn| async move { list(client, SCHEMA.kind, &sn, None).await },
        Summary::id,
        |a| a.status() == Some(&Status::DeleteInProgress),
        &[
            ("service_network", Summary::service_network_id),
            ("vpc", Summary::vpc_id),
        ],
        |a| outputs(a.arn()),
    )
    .await
}

pub(super) async fn update(client: &Client, op: &UpdateOp) -> Result<Applied, ProviderError> {
    let subject = op.address.to_string();
    let before: VpcAssociationArgs = parse(&op.before, &subject)?;
    let after: VpcAssociationArgs = parse(&op.after, &subject)?;
    if before.security_group_ids != after.security_group_ids {
        client
            .update_service_network_vpc_association()
            .service_network_vpc_association_identifier(&op.id)
            .set_security_group_ids(Some(after.security_group_ids.clone()))
            .send()
            .await
            .or_fail(&subject, "vpc-lattice:UpdateServiceNetworkVpcAssociation")?;
    }
    let arn = op.recorded("arn");
    tagging::update(client, &subject, arn, &before.tags, &after.tags).await?;
    Ok(op.unchanged())
}

/// Asynchronous: waits until the association is gone, since the service
/// network cannot be deleted while a VPC is still associated.
pub(super) async fn delete(client: &Client, op: &DeleteOp) -> Result<(), ProviderError> {
    let subject = op.address.to_string();
    let sent = client
        .delete_service_network_vpc_association()
        .service_network_vpc_association_identifier(&op.id)
        .send()
        .await
        .or_fail(&subject, "vpc-lattice:DeleteServiceNetworkVpcAssociation");
    wait::deleted(&op.progress, &subject, sent, || {
        status(client, &subject, &op.id)
    })
    .await
}

pub(super) async fn adopt(
    client: &Client,
    op: &CreateOp,
) -> Result<Option<Applied>, ProviderError> {
    let subject = op.address.to_string();
    let args: VpcAssociationArgs = parse(&op.args, &subject)?;
    let candidates = list(
        client,
        &subject,
        &args.service_network_identifier,
        Some(&args.vpc_identifier),
    )
    .await?;
    let candidates = candidates
        .iter()
        .map(|a| (a.id(), a.arn(), outputs(a.arn())))
        .collect();
    tagging::adopt_owned(client, op, candidates).await
}
