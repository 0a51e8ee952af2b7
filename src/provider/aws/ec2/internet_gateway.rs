//! `aws.ec2.internet_gateway`: an internet gateway and its attachment to a
//! VPC. The attachment is the `vpc` argument rather than a kind of its
//! own: a gateway serves at most one VPC, and moving it is an in-place
//! detach and attach.

use std::collections::HashMap;

use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::{AttachmentStatus, InternetGateway, ResourceType};
use payrun_derive::Args;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::described::{self, Described};
use super::{arn, gone_is_ok, incomplete, parse};
use crate::provider::aws::error::{AwsResultExt, is_not_found};
use crate::provider::aws::refresh::Refresh;
use crate::provider::aws::observed::Observed;
use crate::provider::aws::tags::{self, Tags};
use crate::provider::schema::{KindSchema, validate_as};
use crate::provider::{Applied, CreateOp, DeleteOp, ProviderError, ReadItem, ReadResult, UpdateOp};

#[derive(Deserialize, Args)]
#[serde(deny_unknown_fields)]
#[arg(kind = "aws.ec2.internet_gateway")]
struct InternetGatewayArgs {
    #[serde(default)]
    #[serde(rename = "vpc")]
    #[arg(formerly = "vpc_id")]
    vpc_id: Option<String>,
    #[serde(default)]
    tags: Tags,
}

pub(super) const SCHEMA: KindSchema = KindSchema {
    kind: InternetGatewayArgs::KIND,
    name_prefix: "igw",
    name_max: 255,
    taggable: true,
    named_by_arg: false,
    create_before_destroy: false,
    args: InternetGatewayArgs::SPECS,
    outputs: &["arn"],
    validate: &validate_as::<InternetGatewayArgs>,
    reads_each: None,
    doc: "An internet gateway, attached to `vpc` when given.",
};

fn outputs(ec2: &Client, igw: &InternetGateway) -> Map<String, Value> {
    let id = igw.internet_gateway_id().unwrap_or_default();
    let mut m = Map::new();
    m.insert(
        "arn".into(),
        arn(ec2, igw.owner_id(), &format!("internet-gateway/{id}")),
    );
    m
}

fn attached_vpc(igw: &InternetGateway) -> Option<&str> {
    igw.attachments()
        .iter()
        .find(|a| {
            matches!(
                a.state(),
                Some(AttachmentStatus::Attached | AttachmentStatus::Attaching)
            ) || a.state().is_some_and(|s| s.as_str() == "available")
        })
        .and_then(|a| a.vpc_id())
}

async fn attach(ec2: &Client, subject: &str, id: &str, vpc: &str) -> Result<(), ProviderError> {
    ec2.attach_internet_gateway()
        .internet_gateway_id(id)
        .vpc_id(vpc)
        .send()
        .await
        .or_fail(subject, "ec2:AttachInternetGateway")?;
    Ok(())
}

async fn detach(ec2: &Client, subject: &str, id: &str, vpc: &str) -> Result<(), ProviderError> {
    match ec2
        .detach_internet_gateway()
        .internet_gateway_id(id)
        .vpc_id(vpc)
        .send()
        .await
        .or_fail(subject, "ec2:DetachInternetGateway")
    {
        Ok(_) => Ok(()),
        Err(e) if is_not_found(&e) || e.code.as_deref() == Some("Gateway.NotAttached") => Ok(()),
        Err(e) => Err(e),
    }
}

pub(super) async fn create(ec2: &Client, op: &CreateOp) -> Result<Applied, ProviderError> {
    let subject = op.address.to_string();
    let args: InternetGatewayArgs = parse(&op.args, &subject)?;
    let out = ec2
        .create_internet_gateway()
        .set_tag_specifications(
            tags::spec(ResourceType::InternetGateway, &args.tags).map(|s| vec![s]),
        )
        .send()
        .await
        .or_fail(&subject, "ec2:CreateInternetGateway")?;
    let igw = out
        .internet_gateway()
        .ok_or_else(|| incomplete(&subject, "CreateInternetGateway", "a gateway"))?;
    let made = Applied {
        id: igw.internet_gateway_id().unwrap_or_default().to_string(),
        outputs: outputs(ec2, igw),
    };
    op.made(&made);
    complete(ec2, op, &made).await
}

/// The attachment to the program's VPC. An attach whose reply was lost, or
/// one made before a crash, is found attached and left as it is.
pub(super) async fn complete(
    ec2: &Client,
    op: &CreateOp,
    made: &Applied,
) -> Result<Applied, ProviderError> {
    let subject = op.address.to_string();
    let args: InternetGatewayArgs = parse(&op.args, &subject)?;
    let Some(vpc) = &args.vpc_id else {
        return Ok(made.clone());
    };
    let error = match attach(ec2, &subject, &made.id, vpc).await {
        Ok(()) => return Ok(made.clone()),
        Err(e) => e,
    };
    if !(error.retryable || error.code.as_deref() == Some("Resource.AlreadyAssociated")) {
        return Err(error);
    }
    let live = ec2
        .describe_internet_gateways()
        .internet_gateway_ids(&made.id)
        .send()
        .await
        .or_fail(&subject, "ec2:DescribeInternetGateways")?;
    let attached = live
        .internet_gateways()
        .first()
        .and_then(attached_vpc)
        .map(str::to_string);
    match attached {
        Some(v) if v == *vpc => Ok(made.clone()),
        None if error.retryable => {
            attach(ec2, &subject, &made.id, vpc).await?;
            Ok(made.clone())
        }
        _ => Err(error),
    }
}

pub(super) async fn read(
    ec2: &Client,
    cx: &Refresh<'_>,
    items: &[ReadItem],
) -> Result<Vec<ReadResult>, ProviderError> {
    let live: HashMap<String, InternetGateway> = described::in_stack(ec2, cx, SCHEMA.kind, items).await?;
    Ok(items
        .iter()
        .map(|item| match live.get(&item.id) {
            None => ReadResult::Gone,
            Some(g) => ReadResult::Found {
                args: Observed::new(&item.args)
                    .maybe("vpc", attached_vpc(g))
                    .tags(&tags::from_aws(g.tags()))
                    .finish(),
                outputs: outputs(ec2, g),
            },
        })
        .collect())
}

pub(super) async fn update(ec2: &Client, op: &UpdateOp) -> Result<Applied, ProviderError> {
    let subject = op.address.to_string();
    let before: InternetGatewayArgs = parse(&op.before, &subject)?;
    let after: InternetGatewayArgs = parse(&op.after, &subject)?;
    if before.vpc_id != after.vpc_id {
        if let Some(vpc) = &before.vpc_id {
            detach(ec2, &subject, &op.id, vpc).await?;
        }
        if let Some(vpc) = &after.vpc_id {
            attach(ec2, &subject, &op.id, vpc).await?;
        }
    }
    tags::update(ec2, &subject, &op.id, &before.tags, &after.tags).await?;
    Ok(op.unchanged())
}

pub(super) async fn delete(ec2: &Client, op: &DeleteOp) -> Result<(), ProviderError> {
    let subject = op.address.to_string();
    let args: InternetGatewayArgs = parse(&op.args, &subject)?;
    if let Some(vpc) = &args.vpc_id {
        detach(ec2, &subject, &op.id, vpc).await?;
    }
    gone_is_ok(
        ec2.delete_internet_gateway()
            .internet_gateway_id(&op.id)
            .send()
            .await
            .map(drop)
            .or_fail(&subject, "ec2:DeleteInternetGateway"),
    )
}

pub(super) async fn adopt(ec2: &Client, op: &CreateOp) -> Result<Option<Applied>, ProviderError> {
    let found = described::owned::<InternetGateway>(ec2, op, Vec::new()).await?;
    Ok(found.first().map(|g| Applied {
        id: g.id().to_string(),
        outputs: outputs(ec2, g),
    }))
}
