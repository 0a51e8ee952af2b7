//! `aws.ec2.security_group`: a security group without inline rules; its
//! rules are the `security_group_ingress` and `security_group_egress` kinds.
//!
//! The allow-all egress rule AWS adds to every new group is removed at
//! create, so the group allows exactly what the program declares.

use std::collections::HashMap;

use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::{IpPermission, IpRange, ResourceType, SecurityGroup};
use payrun_derive::Args;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::described::{self, Described};
use super::{arn, gone_is_ok, incomplete, parse};
use crate::provider::aws::error::{AwsResultExt, is_not_found};
use crate::provider::aws::observed::Observed;
use crate::provider::aws::tags::{self, Tags};
use crate::provider::schema::{KindSchema, validate_as};
use crate::provider::{Applied, CreateOp, DeleteOp, ProviderError, ReadItem, ReadResult, UpdateOp};

#[derive(Deserialize, Args)]
#[serde(deny_unknown_fields)]
#[arg(kind = "aws.ec2.security_group")]
struct SecurityGroupArgs {
    #[serde(rename = "vpc")]
    #[arg(force_new, formerly = "vpc_id")]
    vpc_id: String,
    #[serde(default)]
    #[arg(force_new)]
    description: Option<String>,
    #[serde(default)]
    tags: Tags,
}

pub(super) const SCHEMA: KindSchema = KindSchema {
    kind: SecurityGroupArgs::KIND,
    name_prefix: "sg",
    name_max: 255,
    taggable: true,
    named_by_arg: false,
    create_before_destroy: true,
    args: SecurityGroupArgs::SPECS,
    outputs: &["arn", "name"],
    validate: validate_as::<SecurityGroupArgs>,
    doc: "A security group in `vpc` (group name: the physical name); rules are separate kinds and egress starts empty.",
};

const DEFAULT_DESCRIPTION: &str = "Managed by payrun";

fn outputs(ec2: &Client, g: &SecurityGroup) -> Map<String, Value> {
    let id = g.group_id().unwrap_or_default();
    let mut m = Map::new();
    m.insert(
        "arn".into(),
        g.security_group_arn().map_or_else(
            || arn(ec2, g.owner_id(), &format!("security-group/{id}")),
            |a| json!(a),
        ),
    );
    m.insert("name".into(), json!(g.group_name().unwrap_or_default()));
    m
}

async fn revoke_default_egress(ec2: &Client, subject: &str, id: &str) -> Result<(), ProviderError> {
    let all = IpPermission::builder()
        .ip_protocol("-1")
        .ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
        .build();
    match ec2
        .revoke_security_group_egress()
        .group_id(id)
        .ip_permissions(all)
        .send()
        .await
        .or_fail(subject, "ec2:RevokeSecurityGroupEgress")
    {
        Err(e)
            if !(is_not_found(&e) || e.code.as_deref() == Some("InvalidPermission.NotFound")) =>
        {
            Err(e)
        }
        _ => Ok(()),
    }
}

pub(super) async fn create(ec2: &Client, op: &CreateOp) -> Result<Applied, ProviderError> {
    let subject = op.address.to_string();
    let args: SecurityGroupArgs = parse(&op.args, &subject)?;
    let out = ec2
        .create_security_group()
        .group_name(&op.name)
        .description(args.description.as_deref().unwrap_or(DEFAULT_DESCRIPTION))
        .vpc_id(&args.vpc_id)
        .set_tag_specifications(
            tags::spec(ResourceType::SecurityGroup, &args.tags).map(|s| vec![s]),
        )
        .send()
        .await
        .or_fail(&subject, "ec2:CreateSecurityGroup")?;
    let id = out
        .group_id()
        .ok_or_else(|| incomplete(&subject, "CreateSecurityGroup", "a group id"))?
        .to_string();
    let mut outputs = Map::new();
    outputs.insert(
        "arn".into(),
        out.security_group_arn().map_or_else(
            || arn(ec2, None, &format!("security-group/{id}")),
            |a| json!(a),
        ),
    );
    outputs.insert("name".into(), json!(op.name));
    let made = Applied { id, outputs };
    op.made(&made);
    complete(ec2, op, &made).await
}

/// The allow-all egress rule AWS adds to every new group goes, so the group
/// allows exactly what the program declares.
pub(super) async fn complete(
    ec2: &Client,
    op: &CreateOp,
    made: &Applied,
) -> Result<Applied, ProviderError> {
    revoke_default_egress(ec2, &op.address.to_string(), &made.id).await?;
    Ok(made.clone())
}

pub(super) async fn read(
    ec2: &Client,
    items: &[ReadItem],
) -> Result<Vec<ReadResult>, ProviderError> {
    let live: HashMap<String, SecurityGroup> = described::live(ec2, SCHEMA.kind, items).await?;
    Ok(items
        .iter()
        .map(|item| match live.get(&item.id) {
            None => ReadResult::Gone,
            Some(g) => ReadResult::Found {
                args: Observed::new(&item.args)
                    .set("vpc", g.vpc_id().unwrap_or_default())
                    .optional(
                        "description",
                        g.description().unwrap_or_default(),
                        DEFAULT_DESCRIPTION,
                    )
                    .tags(&tags::from_aws(g.tags()))
                    .finish(),
                outputs: outputs(ec2, g),
            },
        })
        .collect())
}

pub(super) async fn update(ec2: &Client, op: &UpdateOp) -> Result<Applied, ProviderError> {
    let subject = op.address.to_string();
    let before: SecurityGroupArgs = parse(&op.before, &subject)?;
    let after: SecurityGroupArgs = parse(&op.after, &subject)?;
    tags::update(ec2, &subject, &op.id, &before.tags, &after.tags).await?;
    Ok(op.unchanged())
}

pub(super) async fn delete(ec2: &Client, op: &DeleteOp) -> Result<(), ProviderError> {
    gone_is_ok(
        ec2.delete_security_group()
            .group_id(&op.id)
            .send()
            .await
            .map(drop)
            .or_fail(&op.address.to_string(), "ec2:DeleteSecurityGroup"),
    )
}

pub(super) async fn adopt(ec2: &Client, op: &CreateOp) -> Result<Option<Applied>, ProviderError> {
    let found = described::owned::<SecurityGroup>(ec2, op, Vec::new()).await?;
    Ok(found.first().map(|g| Applied {
        id: g.id().to_string(),
        outputs: outputs(ec2, g),
    }))
}
