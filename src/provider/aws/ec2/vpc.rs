//! `aws.ec2.vpc`: a VPC and its DNS attributes.

use std::collections::HashMap;

use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::{AttributeBooleanValue, ResourceType, Vpc, VpcAttributeName};
use payrun_derive::Args;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::described::{self, Described};
use super::{arn, gone_is_ok, incomplete, parse};
use crate::provider::arg_values::network_block;
use crate::provider::aws::refresh::Refresh;
use crate::provider::aws::error::AwsResultExt;
use crate::provider::aws::observed::Observed;
use crate::provider::aws::tags::{self, Tags};
use crate::provider::schema::{ArgError, CheckArgs, KindSchema, validate_checked};
use crate::provider::{Applied, CreateOp, DeleteOp, ProviderError, ReadItem, ReadResult, UpdateOp};

#[derive(Deserialize, Args)]
#[serde(deny_unknown_fields)]
#[arg(kind = "aws.ec2.vpc")]
pub(crate) struct VpcArgs {
    #[arg(force_new)]
    pub(crate) cidr: String,
    #[serde(default)]
    pub(crate) enable_dns_support: Option<bool>,
    #[serde(default)]
    pub(crate) enable_dns_hostnames: Option<bool>,
    #[serde(default)]
    pub(crate) tags: Tags,
}

/// The sizes of VPC block AWS creates.
pub const VPC_PREFIXES: std::ops::RangeInclusive<u8> = 16..=28;

impl CheckArgs for VpcArgs {
    fn check(&self) -> Result<(), ArgError> {
        network_block("cidr", &self.cidr, "VPC", VPC_PREFIXES).map(|_| ())
    }
}

pub(super) const SCHEMA: KindSchema = KindSchema {
    kind: VpcArgs::KIND,
    name_prefix: "vpc",
    name_max: 255,
    taggable: true,
    named_by_arg: false,
    create_before_destroy: false,
    args: VpcArgs::SPECS,
    outputs: &["arn", "owner_id"],
    validate: &validate_checked::<VpcArgs>,
    reads_each: None,
    doc: "A VPC: `cidr`, `enable_dns_support` (default true), `enable_dns_hostnames` (default false).",
};

const DNS_SUPPORT_DEFAULT: bool = true;
const DNS_HOSTNAMES_DEFAULT: bool = false;

fn outputs(ec2: &Client, vpc: &Vpc) -> Map<String, Value> {
    let id = vpc.vpc_id().unwrap_or_default();
    let mut m = Map::new();
    m.insert("arn".into(), arn(ec2, vpc.owner_id(), &format!("vpc/{id}")));
    m.insert("owner_id".into(), json!(vpc.owner_id().unwrap_or_default()));
    m
}

async fn set_dns(
    ec2: &Client,
    subject: &str,
    id: &str,
    attribute: VpcAttributeName,
    value: bool,
) -> Result<(), ProviderError> {
    let flag = AttributeBooleanValue::builder().value(value).build();
    let call = ec2.modify_vpc_attribute().vpc_id(id);
    let call = match attribute {
        VpcAttributeName::EnableDnsHostnames => call.enable_dns_hostnames(flag),
        _ => call.enable_dns_support(flag),
    };
    call.send()
        .await
        .or_fail(subject, "ec2:ModifyVpcAttribute")?;
    Ok(())
}

async fn dns(
    ec2: &Client,
    subject: &str,
    id: &str,
    attribute: VpcAttributeName,
) -> Result<Option<bool>, ProviderError> {
    let out = ec2
        .describe_vpc_attribute()
        .vpc_id(id)
        .attribute(attribute.clone())
        .send()
        .await
        .or_fail(subject, "ec2:DescribeVpcAttribute")?;
    let flag = match attribute {
        VpcAttributeName::EnableDnsHostnames => out.enable_dns_hostnames(),
        _ => out.enable_dns_support(),
    };
    Ok(flag.and_then(AttributeBooleanValue::value))
}

pub(super) async fn create(ec2: &Client, op: &CreateOp) -> Result<Applied, ProviderError> {
    let subject = op.address.to_string();
    let args: VpcArgs = parse(&op.args, &subject)?;
    let out = ec2
        .create_vpc()
        .cidr_block(&args.cidr)
        .set_tag_specifications(tags::spec(ResourceType::Vpc, &args.tags).map(|s| vec![s]))
        .send()
        .await
        .or_fail(&subject, "ec2:CreateVpc")?;
    let vpc = out
        .vpc()
        .ok_or_else(|| incomplete(&subject, "CreateVpc", "a VPC"))?;
    let made = Applied {
        id: vpc.vpc_id().unwrap_or_default().to_string(),
        outputs: outputs(ec2, vpc),
    };
    op.made(&made);
    complete(ec2, op, &made).await
}

/// The DNS attributes the program sets away from AWS's defaults.
pub(super) async fn complete(
    ec2: &Client,
    op: &CreateOp,
    made: &Applied,
) -> Result<Applied, ProviderError> {
    let subject = op.address.to_string();
    let args: VpcArgs = parse(&op.args, &subject)?;
    // Hostnames need DNS support, so support is settled first.
    if let Some(v) = args
        .enable_dns_support
        .filter(|v| *v != DNS_SUPPORT_DEFAULT)
    {
        set_dns(
            ec2,
            &subject,
            &made.id,
            VpcAttributeName::EnableDnsSupport,
            v,
        )
        .await?;
    }
    if let Some(v) = args
        .enable_dns_hostnames
        .filter(|v| *v != DNS_HOSTNAMES_DEFAULT)
    {
        set_dns(
            ec2,
            &subject,
            &made.id,
            VpcAttributeName::EnableDnsHostnames,
            v,
        )
        .await?;
    }
    Ok(made.clone())
}

pub(super) async fn read(
    ec2: &Client,
    cx: &Refresh<'_>,
    items: &[ReadItem],
) -> Result<Vec<ReadResult>, ProviderError> {
    let subject = SCHEMA.kind;
    let live: HashMap<String, Vpc> = described::in_stack(ec2, cx, subject, items).await?;
    let mut results = Vec::with_capacity(items.len());
    for item in items {
        let Some(vpc) = live.get(&item.id) else {
            results.push(ReadResult::Gone);
            continue;
        };
        let mut o = Observed::new(&item.args);
        o.set("cidr", vpc.cidr_block().unwrap_or_default());
        // EC2 has no batched form of DescribeVpcAttribute: the attributes
        // are read only for VPCs whose program sets them.
        for (key, attribute, default) in [
            (
                "enable_dns_support",
                VpcAttributeName::EnableDnsSupport,
                DNS_SUPPORT_DEFAULT,
            ),
            (
                "enable_dns_hostnames",
                VpcAttributeName::EnableDnsHostnames,
                DNS_HOSTNAMES_DEFAULT,
            ),
        ] {
            if item.args.get(key).is_some_and(|v| !v.is_null())
                && let Some(v) = dns(ec2, subject, &item.id, attribute).await?
            {
                o.optional(key, v, default);
            }
        }
        o.tags(&tags::from_aws(vpc.tags()));
        results.push(ReadResult::Found {
            args: o.finish(),
            outputs: outputs(ec2, vpc),
        });
    }
    Ok(results)
}

pub(super) async fn update(ec2: &Client, op: &UpdateOp) -> Result<Applied, ProviderError> {
    let subject = op.address.to_string();
    let before: VpcArgs = parse(&op.before, &subject)?;
    let after: VpcArgs = parse(&op.after, &subject)?;
    let support = after.enable_dns_support.unwrap_or(DNS_SUPPORT_DEFAULT);
    let hostnames = after.enable_dns_hostnames.unwrap_or(DNS_HOSTNAMES_DEFAULT);
    if support != before.enable_dns_support.unwrap_or(DNS_SUPPORT_DEFAULT) && support {
        set_dns(
            ec2,
            &subject,
            &op.id,
            VpcAttributeName::EnableDnsSupport,
            true,
        )
        .await?;
    }
    if hostnames != before.enable_dns_hostnames.unwrap_or(DNS_HOSTNAMES_DEFAULT) {
        set_dns(
            ec2,
            &subject,
            &op.id,
            VpcAttributeName::EnableDnsHostnames,
            hostnames,
        )
        .await?;
    }
    if support != before.enable_dns_support.unwrap_or(DNS_SUPPORT_DEFAULT) && !support {
        set_dns(
            ec2,
            &subject,
            &op.id,
            VpcAttributeName::EnableDnsSupport,
            false,
        )
        .await?;
    }
    tags::update(ec2, &subject, &op.id, &before.tags, &after.tags).await?;
    Ok(op.unchanged())
}

pub(super) async fn delete(ec2: &Client, op: &DeleteOp) -> Result<(), ProviderError> {
    let subject = op.address.to_string();
    gone_is_ok(
        ec2.delete_vpc()
            .vpc_id(&op.id)
            .send()
            .await
            .map(drop)
            .or_fail(&subject, "ec2:DeleteVpc"),
    )
}

pub(super) async fn adopt(ec2: &Client, op: &CreateOp) -> Result<Option<Applied>, ProviderError> {
    let found = described::owned::<Vpc>(ec2, op, Vec::new()).await?;
    Ok(found.first().map(|v| Applied {
        id: v.id().to_string(),
        outputs: outputs(ec2, v),
    }))
}
