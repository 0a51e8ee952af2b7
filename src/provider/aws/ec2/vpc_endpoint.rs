//! `aws.ec2.vpc_endpoint`: a gateway endpoint (route tables) or an interface
//! endpoint (subnets and security groups) to an AWS service.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::{ResourceType, State, VpcEndpoint, VpcEndpointType};
use payrun_derive::Args;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::described::Described;
use super::{filter, incomplete, parse, recorded};
use crate::provider::aws::error::{AwsResultExt, is_not_found};
use crate::provider::aws::refresh::Refresh;
use crate::provider::aws::observed::Observed;
use crate::provider::aws::tags::{self, Tags};
use crate::provider::aws::wait::{self, Poll};
use crate::provider::schema::{KindSchema, validate_as};
use crate::provider::{
    Applied, CreateOp, DeleteOp, ProgressFn, ProviderError, ReadItem, ReadResult, UpdateOp,
};

#[derive(Clone, Copy, Deserialize, PartialEq, Eq)]
enum EndpointType {
    Gateway,
    Interface,
}

#[derive(Deserialize, Args)]
#[serde(deny_unknown_fields)]
#[arg(kind = "aws.ec2.vpc_endpoint")]
struct EndpointArgs {
    #[serde(rename = "vpc")]
    #[arg(force_new, formerly = "vpc_id")]
    vpc_id: String,
    /// `com.amazonaws.{region}.s3`
    #[arg(force_new)]
    service_name: String,
    #[serde(default, rename = "type")]
    #[arg(force_new)]
    endpoint_type: Option<EndpointType>,
    #[serde(default)]
    #[serde(rename = "route_tables")]
    #[arg(formerly = "route_table_ids")]
    route_table_ids: Vec<String>,
    #[serde(default)]
    #[serde(rename = "subnets")]
    #[arg(formerly = "subnet_ids")]
    subnet_ids: Vec<String>,
    #[serde(default)]
    #[serde(rename = "security_groups")]
    #[arg(formerly = "security_group_ids")]
    security_group_ids: Vec<String>,
    #[serde(default)]
    private_dns: Option<bool>,
    #[serde(default)]
    tags: Tags,
}

impl EndpointArgs {
    fn kind(&self) -> EndpointType {
        self.endpoint_type.unwrap_or(EndpointType::Gateway)
    }
}

pub(super) const SCHEMA: KindSchema = KindSchema {
    kind: EndpointArgs::KIND,
    name_prefix: "vpce",
    name_max: 255,
    taggable: true,
    named_by_arg: false,
    create_before_destroy: false,
    args: EndpointArgs::SPECS,
    outputs: &["dns_name"],
    validate: &validate_as::<EndpointArgs>,
    reads_each: None,
    doc: "A VPC endpoint: `vpc`, `service_name`, `type` (\"Gateway\", the default, with `route_tables`; or \"Interface\" with `subnets`, `security_groups`, `private_dns`).",
};

const SETTLE_TIMEOUT: Duration = Duration::from_secs(10 * 60);

fn outputs(e: &VpcEndpoint) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert(
        "dns_name".into(),
        json!(
            e.dns_entries()
                .first()
                .and_then(|d| d.dns_name())
                .unwrap_or_default()
        ),
    );
    m
}

/// The endpoint's state in lower case: EC2 answers `available` where the
/// SDK's enum expects `Available`, so the enum cannot be matched on.
fn state(e: &VpcEndpoint) -> String {
    e.state()
        .map_or("unknown", State::as_str)
        .to_ascii_lowercase()
}

pub(super) fn is_gone(e: &VpcEndpoint) -> bool {
    matches!(
        state(e).as_str(),
        "deleted" | "deleting" | "failed" | "rejected" | "expired"
    )
}

/// Only the endpoint itself being missing means it is gone: a missing route
/// in one of its tables is a real failure.
fn is_missing_endpoint(e: &ProviderError) -> bool {
    is_not_found(e)
        && e.code
            .as_deref()
            .is_some_and(|c| c.starts_with("InvalidVpcEndpoint"))
}

async fn describe_one(
    ec2: &Client,
    subject: &str,
    id: &str,
) -> Result<Option<VpcEndpoint>, ProviderError> {
    match ec2
        .describe_vpc_endpoints()
        .vpc_endpoint_ids(id)
        .send()
        .await
        .or_fail(subject, "ec2:DescribeVpcEndpoints")
    {
        Ok(out) => Ok(out.vpc_endpoints().first().cloned()),
        Err(e) if is_missing_endpoint(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

async fn until_available(
    ec2: &Client,
    progress: &ProgressFn,
    subject: &str,
    id: &str,
) -> Result<VpcEndpoint, ProviderError> {
    wait::until(progress, subject, SETTLE_TIMEOUT, || async {
        let Some(e) = describe_one(ec2, subject, id).await? else {
            return Ok(Poll::Pending("not visible yet".into()));
        };
        match state(&e).as_str() {
            "available" => Ok(Poll::Ready(e)),
            s @ ("failed" | "rejected") => Err(ProviderError::new(format!(
                "{subject}: VPC endpoint {id} is {s}: {}",
                e.failure_reason().unwrap_or("(no reason given)")
            ))
            .with_code("VpcEndpointFailed")
            .with_fix("check the service name, and for an interface endpoint that its subnets are in zones the service supports")),
            other => Ok(Poll::Pending(other.to_string())),
        }
    })
    .await
}

pub(super) async fn create(ec2: &Client, op: &CreateOp) -> Result<Applied, ProviderError> {
    let subject = op.address.to_string();
    let args: EndpointArgs = parse(&op.args, &subject)?;
    let interface = args.kind() == EndpointType::Interface;
    let out = ec2
        .create_vpc_endpoint()
        .client_token(&op.token)
        .vpc_id(&args.vpc_id)
        .service_name(&args.service_name)
        .vpc_endpoint_type(if interface {
            VpcEndpointType::Interface
        } else {
            VpcEndpointType::Gateway
        })
        .set_route_table_ids(Some(args.route_table_ids.clone()).filter(|v| !v.is_empty()))
        .set_subnet_ids(Some(args.subnet_ids.clone()).filter(|v| !v.is_empty()))
        .set_security_group_ids(Some(args.security_group_ids.clone()).filter(|v| !v.is_empty()))
        .set_private_dns_enabled(if interface { args.private_dns } else { None })
        .set_tag_specifications(tags::spec(ResourceType::VpcEndpoint, &args.tags).map(|s| vec![s]))
        .send()
        .await
        .or_fail(&subject, "ec2:CreateVpcEndpoint")?;
    let id = out
        .vpc_endpoint()
        .and_then(VpcEndpoint::vpc_endpoint_id)
        .ok_or_else(|| incomplete(&subject, "CreateVpcEndpoint", "an endpoint id"))?
        .to_string();
    let e = until_available(ec2, &op.progress, &subject, &id).await?;
    Ok(Applied {
        outputs: outputs(&e),
        id,
    })
}

/// Read by the stack's tag, and a recorded endpoint the tag does not find
/// (or, alone, every one) by the VPC it was made in: a filter, so one
/// missing endpoint does not fail the batch (and moto, unlike EC2, serves
/// no `vpc-endpoint-id` filter).
pub(super) async fn read(
    ec2: &Client,
    cx: &Refresh<'_>,
    items: &[ReadItem],
) -> Result<Vec<ReadResult>, ProviderError> {
    let live: HashMap<String, VpcEndpoint> =
        super::described::in_stack_or(ec2, cx, SCHEMA.kind, items, |missing| {
            vec![filter("vpc-id", recorded(missing, "vpc"))]
        })
        .await?
        .into_iter()
        .filter(|(_, e)| !is_gone(e))
        .collect();
    Ok(items
        .iter()
        .map(|item| {
            let Some(e) = live.get(&item.id) else {
                return ReadResult::Gone;
            };
            let interface = e.vpc_endpoint_type() == Some(&VpcEndpointType::Interface);
            let mut o = Observed::new(&item.args);
            o.set("vpc", e.vpc_id().unwrap_or_default())
                .set("service_name", e.service_name().unwrap_or_default())
                .optional(
                    "type",
                    if interface { "Interface" } else { "Gateway" },
                    "Gateway",
                )
                .set_list("route_tables", e.route_table_ids().to_vec())
                .set_list("subnets", e.subnet_ids().to_vec())
                .set_list(
                    "security_groups",
                    e.groups()
                        .iter()
                        .filter_map(|g| g.group_id().map(str::to_string))
                        .collect(),
                );
            if interface {
                o.maybe("private_dns", e.private_dns_enabled());
            }
            o.tags(&tags::from_aws(e.tags()));
            ReadResult::Found {
                args: o.finish(),
                outputs: outputs(e),
            }
        })
        .collect())
}

/// Members of `after` not in `before`, and of `before` not in `after`.
fn difference(before: &[String], after: &[String]) -> (Vec<String>, Vec<String>) {
    let b: BTreeSet<&String> = before.iter().collect();
    let a: BTreeSet<&String> = after.iter().collect();
    (
        a.difference(&b).map(|s| (*s).clone()).collect(),
        b.difference(&a).map(|s| (*s).clone()).collect(),
    )
}

pub(super) async fn update(ec2: &Client, op: &UpdateOp) -> Result<Applied, ProviderError> {
    let subject = op.address.to_string();
    let before: EndpointArgs = parse(&op.before, &subject)?;
    let after: EndpointArgs = parse(&op.after, &subject)?;
    let (add_rt, remove_rt) = difference(&before.route_table_ids, &after.route_table_ids);
    let (add_sn, remove_sn) = difference(&before.subnet_ids, &after.subnet_ids);
    let (add_sg, remove_sg) = difference(&before.security_group_ids, &after.security_group_ids);
    let dns_changed = before.private_dns != after.private_dns;
    let some = |v: Vec<String>| Some(v).filter(|v| !v.is_empty());
    if [
        &add_rt, &remove_rt, &add_sn, &remove_sn, &add_sg, &remove_sg,
    ]
    .iter()
    .any(|v| !v.is_empty())
        || dns_changed
    {
        ec2.modify_vpc_endpoint()
            .vpc_endpoint_id(&op.id)
            .set_add_route_table_ids(some(add_rt))
            .set_remove_route_table_ids(some(remove_rt))
            .set_add_subnet_ids(some(add_sn))
            .set_remove_subnet_ids(some(remove_sn))
            .set_add_security_group_ids(some(add_sg))
            .set_remove_security_group_ids(some(remove_sg))
            .set_private_dns_enabled(if dns_changed { after.private_dns } else { None })
            .send()
            .await
            .or_fail(&subject, "ec2:ModifyVpcEndpoint")?;
    }
    tags::update(ec2, &subject, &op.id, &before.tags, &after.tags).await?;
    Ok(op.unchanged())
}

/// Waits until the endpoint is gone, so its network interfaces no longer
/// hold the subnets and security groups.
pub(super) async fn delete(ec2: &Client, op: &DeleteOp) -> Result<(), ProviderError> {
    let subject = op.address.to_string();
    let out = match ec2
        .delete_vpc_endpoints()
        .vpc_endpoint_ids(&op.id)
        .send()
        .await
        .or_fail(&subject, "ec2:DeleteVpcEndpoints")
    {
        Err(e) if is_missing_endpoint(&e) => return Ok(()),
        // A deleted endpoint stays visible for a while, and deleting it
        // again can fail on the routes it no longer has (moto does).
        Err(e) => {
            return match describe_one(ec2, &subject, &op.id).await? {
                Some(live) if !is_gone(&live) => Err(e),
                _ => Ok(()),
            };
        }
        Ok(out) => out,
    };
    if let Some(item) = out.unsuccessful().first() {
        let code = item
            .error()
            .and_then(|e| e.code())
            .unwrap_or("Unsuccessful");
        if !(code.starts_with("InvalidVpcEndpoint") && code.ends_with("NotFound")) {
            return Err(ProviderError::new(format!(
                "{subject}: ec2:DeleteVpcEndpoints failed: {code}: {}",
                item.error()
                    .and_then(|e| e.message())
                    .unwrap_or("(no message)")
            ))
            .with_code(code));
        }
        return Ok(());
    }
    wait::until(&op.progress, &subject, SETTLE_TIMEOUT, || async {
        match describe_one(ec2, &subject, &op.id).await? {
            Some(e) if state(&e) != "deleted" => Ok(Poll::Pending(state(&e))),
            _ => Ok(Poll::Ready(())),
        }
    })
    .await
}

pub(super) async fn adopt(ec2: &Client, op: &CreateOp) -> Result<Option<Applied>, ProviderError> {
    let subject = op.address.to_string();
    let found = super::described::owned::<VpcEndpoint>(ec2, op, Vec::new()).await?;
    let Some(e) = found.iter().find(|e| !is_gone(e)) else {
        return Ok(None);
    };
    let id = e.id().to_string();
    let e = until_available(ec2, &op.progress, &subject, &id).await?;
    Ok(Some(Applied {
        outputs: outputs(&e),
        id,
    }))
}
