//! `aws.ec2.subnet`: a subnet in one availability zone, optionally marked for
//! public or internal load balancers.

use std::collections::HashMap;

use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::{AttributeBooleanValue, ResourceType, Subnet};
use payrun_derive::Args;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::described::{self, Described};
use super::{gone_is_ok, incomplete, parse};
use crate::provider::arg_values::network_block;
use crate::provider::aws::refresh::Refresh;
use crate::provider::aws::error::AwsResultExt;
use crate::provider::aws::observed::Observed;
use crate::provider::aws::tags::{self, Tags};
use crate::provider::schema::{ArgError, CheckArgs, KindSchema, validate_checked};
use crate::provider::{Applied, CreateOp, DeleteOp, ProviderError, ReadItem, ReadResult, UpdateOp};

/// Which load balancers the AWS Load Balancer Controller may put here.
#[derive(Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum LoadBalancerRole {
    Public,
    Internal,
}

impl LoadBalancerRole {
    const ALL: [Self; 2] = [Self::Public, Self::Internal];

    fn tag(self) -> &'static str {
        match self {
            Self::Public => "kubernetes.io/role/elb",
            Self::Internal => "kubernetes.io/role/internal-elb",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Public => "public",
            Self::Internal => "internal",
        }
    }
}

#[derive(Deserialize, Args)]
#[serde(deny_unknown_fields)]
#[arg(kind = "aws.ec2.subnet")]
pub(crate) struct SubnetArgs {
    #[serde(rename = "vpc")]
    #[arg(force_new, formerly = "vpc_id")]
    pub(crate) vpc_id: String,
    #[arg(force_new)]
    pub(crate) cidr: String,
    #[arg(force_new)]
    pub(crate) az: String,
    #[serde(default)]
    pub(crate) map_public_ip: Option<bool>,
    #[serde(default)]
    load_balancer_role: Option<LoadBalancerRole>,
    #[serde(default)]
    pub(crate) tags: Tags,
}

/// AWS makes subnets of /16 to /28, inside their VPC's block (checked
/// over the whole program, in `check::network`).
impl CheckArgs for SubnetArgs {
    fn check(&self) -> Result<(), ArgError> {
        network_block("cidr", &self.cidr, "subnet", 16..=28).map(|_| ())
    }
}

impl SubnetArgs {
    /// The tags AWS holds: the program's plus the load balancer role tag.
    fn aws_tags(&self) -> Tags {
        let mut tags = self.tags.clone();
        if let Some(role) = self.load_balancer_role {
            tags.insert(role.tag().into(), "1".into());
        }
        tags
    }
}

pub(super) const SCHEMA: KindSchema = KindSchema {
    kind: SubnetArgs::KIND,
    name_prefix: "subnet",
    name_max: 255,
    taggable: true,
    named_by_arg: false,
    create_before_destroy: false,
    args: SubnetArgs::SPECS,
    outputs: &["arn", "az_id"],
    validate: &validate_checked::<SubnetArgs>,
    reads_each: None,
    doc: "A subnet: `vpc`, `cidr`, `az`, `map_public_ip` (default false), `load_balancer_role` (\"public\" or \"internal\": the Kubernetes load balancer role tag).",
};

fn outputs(s: &Subnet) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("arn".into(), json!(s.subnet_arn().unwrap_or_default()));
    m.insert(
        "az_id".into(),
        json!(s.availability_zone_id().unwrap_or_default()),
    );
    m
}

async fn set_map_public_ip(
    ec2: &Client,
    subject: &str,
    id: &str,
    value: bool,
) -> Result<(), ProviderError> {
    ec2.modify_subnet_attribute()
        .subnet_id(id)
        .map_public_ip_on_launch(AttributeBooleanValue::builder().value(value).build())
        .send()
        .await
        .or_fail(subject, "ec2:ModifySubnetAttribute")?;
    Ok(())
}

pub(super) async fn create(ec2: &Client, op: &CreateOp) -> Result<Applied, ProviderError> {
    let subject = op.address.to_string();
    let args: SubnetArgs = parse(&op.args, &subject)?;
    let out = ec2
        .create_subnet()
        .vpc_id(&args.vpc_id)
        .cidr_block(&args.cidr)
        .availability_zone(&args.az)
        .set_tag_specifications(tags::spec(ResourceType::Subnet, &args.aws_tags()).map(|s| vec![s]))
        .send()
        .await
        .or_fail(&subject, "ec2:CreateSubnet")?;
    let subnet = out
        .subnet()
        .ok_or_else(|| incomplete(&subject, "CreateSubnet", "a subnet"))?;
    let made = Applied {
        id: subnet.subnet_id().unwrap_or_default().to_string(),
        outputs: outputs(subnet),
    };
    op.made(&made);
    complete(ec2, op, &made).await
}

/// Public addresses on launch, when the program asks for them.
pub(super) async fn complete(
    ec2: &Client,
    op: &CreateOp,
    made: &Applied,
) -> Result<Applied, ProviderError> {
    let subject = op.address.to_string();
    let args: SubnetArgs = parse(&op.args, &subject)?;
    if args.map_public_ip == Some(true) {
        set_map_public_ip(ec2, &subject, &made.id, true).await?;
    }
    Ok(made.clone())
}

pub(super) async fn read(
    ec2: &Client,
    cx: &Refresh<'_>,
    items: &[ReadItem],
) -> Result<Vec<ReadResult>, ProviderError> {
    let live: HashMap<String, Subnet> = described::in_stack(ec2, cx, SCHEMA.kind, items).await?;
    Ok(items
        .iter()
        .map(|item| {
            let Some(s) = live.get(&item.id) else {
                return ReadResult::Gone;
            };
            let mut tags = tags::from_aws(s.tags());
            let mut role = None;
            for r in LoadBalancerRole::ALL {
                if tags.remove(r.tag()).is_some() {
                    role = Some(r.name());
                }
            }
            let mut o = Observed::new(&item.args);
            o.set("vpc", s.vpc_id().unwrap_or_default())
                .set("cidr", s.cidr_block().unwrap_or_default())
                .set("az", s.availability_zone().unwrap_or_default())
                .optional(
                    "map_public_ip",
                    s.map_public_ip_on_launch().unwrap_or(false),
                    false,
                )
                .maybe("load_balancer_role", role)
                .tags(&tags);
            ReadResult::Found {
                args: o.finish(),
                outputs: outputs(s),
            }
        })
        .collect())
}

pub(super) async fn update(ec2: &Client, op: &UpdateOp) -> Result<Applied, ProviderError> {
    let subject = op.address.to_string();
    let before: SubnetArgs = parse(&op.before, &subject)?;
    let after: SubnetArgs = parse(&op.after, &subject)?;
    let public_ip = after.map_public_ip.unwrap_or(false);
    if public_ip != before.map_public_ip.unwrap_or(false) {
        set_map_public_ip(ec2, &subject, &op.id, public_ip).await?;
    }
    tags::update(ec2, &subject, &op.id, &before.aws_tags(), &after.aws_tags()).await?;
    Ok(op.unchanged())
}

pub(super) async fn delete(ec2: &Client, op: &DeleteOp) -> Result<(), ProviderError> {
    gone_is_ok(
        ec2.delete_subnet()
            .subnet_id(&op.id)
            .send()
            .await
            .map(drop)
            .or_fail(&op.address.to_string(), "ec2:DeleteSubnet"),
    )
}

pub(super) async fn adopt(ec2: &Client, op: &CreateOp) -> Result<Option<Applied>, ProviderError> {
    let found = described::owned::<Subnet>(ec2, op, Vec::new()).await?;
    Ok(found.first().map(|s| Applied {
        id: s.id().to_string(),
        outputs: outputs(s),
    }))
}
