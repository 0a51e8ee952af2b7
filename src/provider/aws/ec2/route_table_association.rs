//! `aws.ec2.route_table_association`: which route table a subnet uses. Its
//! id is the association id, which changes when the table is switched.

use std::collections::HashMap;

use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::{RouteTable, RouteTableAssociation};
use payrun_derive::Args;
use serde::Deserialize;
use serde_json::Map;

use super::described::describe;
use super::{gone_is_ok, ids, incomplete, parse};
use crate::provider::aws::error::AwsResultExt;
use crate::provider::aws::refresh::Refresh;
use crate::provider::aws::observed::Observed;
use crate::provider::schema::{KindSchema, validate_as};
use crate::provider::{Applied, CreateOp, DeleteOp, ProviderError, ReadItem, ReadResult, UpdateOp};

#[derive(Deserialize, Args)]
#[serde(deny_unknown_fields)]
#[arg(kind = "aws.ec2.route_table_association")]
struct AssociationArgs {
    #[serde(rename = "route_table")]
    #[arg(formerly = "route_table_id")]
    route_table_id: String,
    #[serde(rename = "subnet")]
    #[arg(force_new, formerly = "subnet_id")]
    subnet_id: String,
}

pub(super) const SCHEMA: KindSchema = KindSchema {
    kind: AssociationArgs::KIND,
    name_prefix: "rtassoc",
    name_max: 255,
    taggable: false,
    named_by_arg: false,
    create_before_destroy: false,
    args: AssociationArgs::SPECS,
    outputs: &[],
    validate: &validate_as::<AssociationArgs>,
    reads_each: None,
    doc: "Makes `subnet` use `route_table`.",
};

pub(super) async fn create(ec2: &Client, op: &CreateOp) -> Result<Applied, ProviderError> {
    let subject = op.address.to_string();
    let args: AssociationArgs = parse(&op.args, &subject)?;
    let out = ec2
        .associate_route_table()
        .route_table_id(&args.route_table_id)
        .subnet_id(&args.subnet_id)
        .send()
        .await
        .or_fail(&subject, "ec2:AssociateRouteTable")?;
    Ok(Applied {
        id: out
            .association_id()
            .ok_or_else(|| incomplete(&subject, "AssociateRouteTable", "an association id"))?
            .to_string(),
        outputs: Map::new(),
    })
}

pub(super) async fn read(
    ec2: &Client,
    _cx: &Refresh<'_>,
    items: &[ReadItem],
) -> Result<Vec<ReadResult>, ProviderError> {
    let tables = describe::<RouteTable>(
        ec2,
        SCHEMA.kind,
        "association.route-table-association-id",
        ids(items),
    )
    .await?;
    let live: HashMap<&str, &RouteTableAssociation> = tables
        .iter()
        .flat_map(|rt| rt.associations())
        .filter_map(|a| Some((a.route_table_association_id()?, a)))
        .collect();
    Ok(items
        .iter()
        .map(|item| match live.get(item.id.as_str()) {
            Some(a) if a.subnet_id().is_some() => ReadResult::Found {
                args: Observed::new(&item.args)
                    .set("route_table", a.route_table_id().unwrap_or_default())
                    .set("subnet", a.subnet_id().unwrap_or_default())
                    .finish(),
                outputs: Map::new(),
            },
            _ => ReadResult::Gone,
        })
        .collect())
}

/// Switching tables keeps the subnet routed throughout.
pub(super) async fn update(ec2: &Client, op: &UpdateOp) -> Result<Applied, ProviderError> {
    let subject = op.address.to_string();
    let args: AssociationArgs = parse(&op.after, &subject)?;
    let out = ec2
        .replace_route_table_association()
        .association_id(&op.id)
        .route_table_id(&args.route_table_id)
        .send()
        .await
        .or_fail(&subject, "ec2:ReplaceRouteTableAssociation")?;
    Ok(Applied {
        id: out
            .new_association_id()
            .ok_or_else(|| {
                incomplete(
                    &subject,
                    "ReplaceRouteTableAssociation",
                    "an association id",
                )
            })?
            .to_string(),
        outputs: Map::new(),
    })
}

pub(super) async fn delete(ec2: &Client, op: &DeleteOp) -> Result<(), ProviderError> {
    gone_is_ok(
        ec2.disassociate_route_table()
            .association_id(&op.id)
            .send()
            .await
            .map(drop)
            .or_fail(&op.address.to_string(), "ec2:DisassociateRouteTable"),
    )
}

pub(super) async fn adopt(ec2: &Client, op: &CreateOp) -> Result<Option<Applied>, ProviderError> {
    let subject = op.address.to_string();
    let args: AssociationArgs = parse(&op.args, &subject)?;
    let tables = describe::<RouteTable>(
        ec2,
        &subject,
        "association.subnet-id",
        vec![args.subnet_id.clone()],
    )
    .await?;
    Ok(tables
        .iter()
        .flat_map(|rt| rt.associations())
        .find(|a| {
            a.subnet_id() == Some(args.subnet_id.as_str())
                && a.route_table_id() == Some(args.route_table_id.as_str())
        })
        .and_then(|a| a.route_table_association_id())
        .map(|id| Applied {
            id: id.to_string(),
            outputs: Map::new(),
        }))
}
