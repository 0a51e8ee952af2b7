//! `aws.vpclattice.service_network_service_association`: a service joins a
//! service network, so clients in the network's VPCs can reach it.

use aws_sdk_vpclattice::Client;
use aws_sdk_vpclattice::types::{
    DnsEntry, ServiceNetworkServiceAssociationStatus as Status,
    ServiceNetworkServiceAssociationSummary as Summary,
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
#[arg(kind = "aws.vpclattice.service_network_service_association")]
struct ServiceAssociationArgs {
    #[serde(rename = "service_network")]
    #[arg(force_new, formerly = "service_network")]
    service_network_identifier: String,
    #[serde(rename = "service")]
    #[arg(force_new, formerly = "service")]
    service_identifier: String,
    #[serde(default)]
    tags: Tags,
}

pub(super) const SCHEMA: KindSchema = KindSchema {
    kind: ServiceAssociationArgs::KIND,
    name_prefix: "snsa",
    name_max: 255,
    taggable: true,
    named_by_arg: false,
    create_before_destroy: false,
    args: ServiceAssociationArgs::SPECS,
    outputs: &["arn", "dns_name"],
    validate: &validate_as::<ServiceAssociationArgs>,
    reads_each: None,
    doc: "Associates `service` with `service_network`; outputs the `dns_name` clients use.",
};

fn outputs(arn: Option<&str>, dns: Option<&DnsEntry>) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("arn".into(), json!(arn.unwrap_or_default()));
    m.insert(
        "dns_name".into(),
        json!(dns.and_then(DnsEntry::domain_name).unwrap_or_default()),
    );
    m
}

async fn status(client: &Client, subject: &str, id: &str) -> Result<Option<String>, ProviderError> {
    let got = found(
        client
            .get_service_network_service_association()
            .service_network_service_association_identifier(id)
            .send()
            .await
            .or_fail(subject, "vpc-lattice:GetServiceNetworkServiceAssociation"),
    )?;
    Ok(got.map(|a| a.status().map_or("UNKNOWN", Status::as_str).to_string()))
}

async fn list(
    client: &Client,
    subject: &str,
    service_network: &str,
    service: Option<&str>,
) -> Result<Vec<Summary>, ProviderError> {
    let listed = client
        .list_service_network_service_associations()
        .service_network_identifier(service_network)
        .set_service_identifier(service.map(str::to_string))
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .or_fail(subject, "vpc-lattice:ListServiceNetworkServiceAssociations");
    Ok(found(listed)?.unwrap_or_default())
}

pub(super) async fn create(client: &Client, op: &CreateOp) -> Result<Applied, ProviderError> {
    let subject = op.address.to_string();
    let args: ServiceAssociationArgs = parse(&op.args, &subject)?;
    let out = client
        .create_service_network_service_association()
        .service_network_identifier(&args.service_network_identifier)
        .service_identifier(&args.service_identifier)
        .client_token(&op.token)
        .set_tags(tagging::to_aws(&args.tags))
        .send()
        .await
        .or_fail(
            &subject,
            "vpc-lattice:CreateServiceNetworkServiceAssociation",
        )?;
    let id = out
        .id()
        .ok_or_else(|| incomplete(&subject, "CreateServiceNetworkServiceAssociation", "an id"))?
        .to_string();
    let (s, i) = (subject.as_str(), id.as_str());
    if out.status() != Some(&Status::Active) {
        wait::until_active(&op.progress, s, || status(client, s, i)).await?;
    }
    Ok(Applied {
        id,
        outputs: outputs(out.arn(), out.dns_entry()),
    })
}

/// One List per service network.
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
            ("service", Summary::service_id),
        ],
        |a| outputs(a.arn(), a.dns_entry()),
    )
    .await
}

pub(super) async fn update(client: &Client, op: &UpdateOp) -> Result<Applied, ProviderError> {
    let subject = op.address.to_string();
    let before: ServiceAssociationArgs = parse(&op.before, &subject)?;
    let after: ServiceAssociationArgs = parse(&op.after, &subject)?;
    let arn = op.recorded("arn");
    tagging::update(client, &subject, arn, &before.tags, &after.tags).await?;
    Ok(op.unchanged())
}

/// Asynchronous: waits until the association is gone, since neither the
/// service nor the network can be deleted while it stands.
pub(super) async fn delete(client: &Client, op: &DeleteOp) -> Result<(), ProviderError> {
    let subject = op.address.to_string();
    let sent = client
        .delete_service_network_service_association()
        .service_network_service_association_identifier(&op.id)
        .send()
        .await
        .or_fail(
            &subject,
            "vpc-lattice:DeleteServiceNetworkServiceAssociation",
        );
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
    let args: ServiceAssociationArgs = parse(&op.args, &subject)?;
    let candidates = list(
        client,
        &subject,
        &args.service_network_identifier,
        Some(&args.service_identifier),
    )
    .await?;
    let candidates = candidates
        .iter()
        .map(|a| (a.id(), a.arn(), outputs(a.arn(), a.dns_entry())))
        .collect();
    tagging::adopt_owned(client, op, candidates).await
}
