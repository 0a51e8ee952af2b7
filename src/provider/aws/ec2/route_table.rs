//! `aws.ec2.route_table`: a route table in a VPC; its routes and subnet
//! associations are kinds of their own.

use std::collections::HashMap;

use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::{ResourceType, RouteTable};
use payrun_derive::Args;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::described::{self, Described};
use super::{arn, gone_is_ok, incomplete, parse};
use crate::provider::aws::error::AwsResultExt;
use crate::provider::aws::refresh::Refresh;
use crate::provider::aws::observed::Observed;
use crate::provider::aws::tags::{self, Tags};
use crate::provider::schema::{KindSchema, validate_as};
use crate::provider::{Applied, CreateOp, DeleteOp, ProviderError, ReadItem, ReadResult, UpdateOp};

#[derive(Deserialize, Args)]
#[serde(deny_unknown_fields)]
#[arg(kind = "aws.ec2.route_table")]
struct RouteTableArgs {
    #[serde(rename = "vpc")]
    #[arg(force_new, formerly = "vpc_id")]
    vpc_id: String,
    #[serde(default)]
    tags: Tags,
}

pub(super) const SCHEMA: KindSchema = KindSchema {
    kind: RouteTableArgs::KIND,
    name_prefix: "rt",
    name_max: 255,
    taggable: true,
    named_by_arg: false,
    // No name of its own to collide: the new table is made first and the
    // subnets' associations move onto it, so the old one is free to go
    // (deleted first, it is still associated and EC2 refuses).
    create_before_destroy: true,
    args: RouteTableArgs::SPECS,
    outputs: &["arn"],
    validate: &validate_as::<RouteTableArgs>,
    reads_each: None,
    doc: "A route table in `vpc`.",
};

fn outputs(ec2: &Client, rt: &RouteTable) -> Map<String, Value> {
    let id = rt.route_table_id().unwrap_or_default();
    let mut m = Map::new();
    m.insert(
        "arn".into(),
        arn(ec2, rt.owner_id(), &format!("route-table/{id}")),
    );
    m
}

pub(super) async fn create(ec2: &Client, op: &CreateOp) -> Result<Applied, ProviderError> {
    let subject = op.address.to_string();
    let args: RouteTableArgs = parse(&op.args, &subject)?;
    let out = ec2
        .create_route_table()
        .client_token(&op.token)
        .vpc_id(&args.vpc_id)
        .set_tag_specifications(tags::spec(ResourceType::RouteTable, &args.tags).map(|s| vec![s]))
        .send()
        .await
        .or_fail(&subject, "ec2:CreateRouteTable")?;
    let rt = out
        .route_table()
        .ok_or_else(|| incomplete(&subject, "CreateRouteTable", "a route table"))?;
    Ok(Applied {
        id: rt.route_table_id().unwrap_or_default().to_string(),
        outputs: outputs(ec2, rt),
    })
}

pub(super) async fn read(
    ec2: &Client,
    cx: &Refresh<'_>,
    items: &[ReadItem],
) -> Result<Vec<ReadResult>, ProviderError> {
    let live: HashMap<String, RouteTable> = described::in_stack(ec2, cx, SCHEMA.kind, items).await?;
    Ok(items
        .iter()
        .map(|item| match live.get(&item.id) {
            None => ReadResult::Gone,
            Some(rt) => ReadResult::Found {
                args: Observed::new(&item.args)
                    .set("vpc", rt.vpc_id().unwrap_or_default())
                    .tags(&tags::from_aws(rt.tags()))
                    .finish(),
                outputs: outputs(ec2, rt),
            },
        })
        .collect())
}

pub(super) async fn update(ec2: &Client, op: &UpdateOp) -> Result<Applied, ProviderError> {
    tags::update_only_tags(ec2, op).await
}

pub(super) async fn delete(ec2: &Client, op: &DeleteOp) -> Result<(), ProviderError> {
    gone_is_ok(
        ec2.delete_route_table()
            .route_table_id(&op.id)
            .send()
            .await
            .map(drop)
            .or_fail(&op.address.to_string(), "ec2:DeleteRouteTable"),
    )
}

pub(super) async fn adopt(ec2: &Client, op: &CreateOp) -> Result<Option<Applied>, ProviderError> {
    let found = described::owned::<RouteTable>(ec2, op, Vec::new()).await?;
    Ok(found.first().map(|rt| Applied {
        id: rt.id().to_string(),
        outputs: outputs(ec2, rt),
    }))
}
