//! `aws.ec2.route`: one IPv4 route in a route table, to an internet gateway
//! or a NAT gateway. Its id is `{route_table_id}_{destination_cidr}`: AWS
//! gives routes none.

use std::collections::HashMap;

use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::{Route, RouteOrigin, RouteTable};
use payrun_derive::Args;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::described::describe;
use super::{gone_is_ok, parse, recorded};
use crate::provider::arg_values::block;
use crate::provider::aws::refresh::Refresh;
use crate::provider::aws::error::AwsResultExt;
use crate::provider::aws::observed::Observed;
use crate::provider::schema::{ArgError, KindSchema, typed};
use crate::provider::{Applied, CreateOp, DeleteOp, ProviderError, ReadItem, ReadResult, UpdateOp};

#[derive(Deserialize, Args)]
#[serde(deny_unknown_fields)]
#[arg(kind = "aws.ec2.route")]
struct RouteArgs {
    #[serde(rename = "route_table")]
    #[arg(force_new, formerly = "route_table_id")]
    route_table_id: String,
    #[arg(force_new)]
    destination_cidr: String,
    #[serde(default)]
    #[serde(rename = "gateway")]
    #[arg(formerly = "gateway_id")]
    gateway_id: Option<String>,
    #[serde(default)]
    #[serde(rename = "nat_gateway")]
    #[arg(formerly = "nat_gateway_id")]
    nat_gateway_id: Option<String>,
}

fn validate(args: &Value) -> Result<(), ArgError> {
    block(
        "destination_cidr",
        &typed::<RouteArgs>(args)?.destination_cidr,
    )?;
    let has = |k: &str| args.get(k).is_some_and(|v| !v.is_null());
    match (has("gateway"), has("nat_gateway")) {
        (true, false) | (false, true) => Ok(()),
        _ => Err(
            "give exactly one target: `gateway` (an internet gateway) or `nat_gateway`"
                .into(),
        ),
    }
}

pub(super) const SCHEMA: KindSchema = KindSchema {
    kind: RouteArgs::KIND,
    name_prefix: "route",
    name_max: 255,
    taggable: false,
    named_by_arg: false,
    create_before_destroy: false,
    args: RouteArgs::SPECS,
    outputs: &[],
    validate: &validate,
    reads_each: None,
    doc: "A route: `route_table`, `destination_cidr`, and one of `gateway` or `nat_gateway`.",
};

fn route_id(table: &str, cidr: &str) -> String {
    format!("{table}_{cidr}")
}

fn find<'a>(rt: &'a RouteTable, cidr: &str) -> Option<&'a Route> {
    rt.routes()
        .iter()
        .find(|r| r.destination_cidr_block() == Some(cidr))
}

fn observed(item_args: &Value, table: &str, r: &Route) -> Map<String, Value> {
    Observed::new(item_args)
        .set("route_table", table)
        .set(
            "destination_cidr",
            r.destination_cidr_block().unwrap_or_default(),
        )
        .maybe("gateway", r.gateway_id())
        .maybe("nat_gateway", r.nat_gateway_id())
        .finish()
}

pub(super) async fn create(ec2: &Client, op: &CreateOp) -> Result<Applied, ProviderError> {
    let subject = op.address.to_string();
    let args: RouteArgs = parse(&op.args, &subject)?;
    ec2.create_route()
        .route_table_id(&args.route_table_id)
        .destination_cidr_block(&args.destination_cidr)
        .set_gateway_id(args.gateway_id.clone())
        .set_nat_gateway_id(args.nat_gateway_id.clone())
        .send()
        .await
        .or_fail(&subject, "ec2:CreateRoute")?;
    Ok(Applied {
        id: route_id(&args.route_table_id, &args.destination_cidr),
        outputs: Map::new(),
    })
}

pub(super) async fn read(
    ec2: &Client,
    _cx: &Refresh<'_>,
    items: &[ReadItem],
) -> Result<Vec<ReadResult>, ProviderError> {
    let tables: HashMap<String, RouteTable> = describe::<RouteTable>(
        ec2,
        SCHEMA.kind,
        "route-table-id",
        recorded(items, "route_table"),
    )
    .await?
    .into_iter()
    .map(|rt| (rt.route_table_id().unwrap_or_default().to_string(), rt))
    .collect();
    Ok(items
        .iter()
        .map(|item| {
            let table = item
                .args
                .get("route_table")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let cidr = item
                .args
                .get("destination_cidr")
                .and_then(Value::as_str)
                .unwrap_or_default();
            match tables.get(table).and_then(|rt| find(rt, cidr)) {
                Some(r) => ReadResult::Found {
                    args: observed(&item.args, table, r),
                    outputs: Map::new(),
                },
                None => ReadResult::Gone,
            }
        })
        .collect())
}

pub(super) async fn update(ec2: &Client, op: &UpdateOp) -> Result<Applied, ProviderError> {
    let subject = op.address.to_string();
    let args: RouteArgs = parse(&op.after, &subject)?;
    ec2.replace_route()
        .route_table_id(&args.route_table_id)
        .destination_cidr_block(&args.destination_cidr)
        .set_gateway_id(args.gateway_id.clone())
        .set_nat_gateway_id(args.nat_gateway_id.clone())
        .send()
        .await
        .or_fail(&subject, "ec2:ReplaceRoute")?;
    Ok(Applied {
        id: op.id.clone(),
        outputs: Map::new(),
    })
}

pub(super) async fn delete(ec2: &Client, op: &DeleteOp) -> Result<(), ProviderError> {
    let subject = op.address.to_string();
    let args: RouteArgs = parse(&op.args, &subject)?;
    gone_is_ok(
        ec2.delete_route()
            .route_table_id(&args.route_table_id)
            .destination_cidr_block(&args.destination_cidr)
            .send()
            .await
            .map(drop)
            .or_fail(&subject, "ec2:DeleteRoute"),
    )
}

/// A route is found by its table and destination; a different target is
/// then an update in the next plan.
pub(super) async fn adopt(ec2: &Client, op: &CreateOp) -> Result<Option<Applied>, ProviderError> {
    let subject = op.address.to_string();
    let args: RouteArgs = parse(&op.args, &subject)?;
    let tables = describe::<RouteTable>(
        ec2,
        &subject,
        "route-table-id",
        vec![args.route_table_id.clone()],
    )
    .await?;
    let found = tables
        .first()
        .and_then(|rt| find(rt, &args.destination_cidr));
    Ok(found
        .filter(|r| r.origin() == Some(&RouteOrigin::CreateRoute) || r.origin().is_none())
        .map(|_| Applied {
            id: route_id(&args.route_table_id, &args.destination_cidr),
            outputs: Map::new(),
        }))
}
