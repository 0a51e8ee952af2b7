//! `aws.ec2.network_acl`: a network ACL in a VPC; its entries and subnet
//! associations are kinds of their own.

use std::collections::HashMap;

use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::{NetworkAcl, ResourceType};
use payrun_derive::Args;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::described::{self, Described};
use super::{arn, filter, gone_is_ok, incomplete, parse, recorded};
use crate::provider::aws::error::{AwsResultExt, is_not_found};
use crate::provider::aws::refresh::Refresh;
use crate::provider::aws::observed::Observed;
use crate::provider::aws::tags::{self, Tags};
use crate::provider::schema::{KindSchema, validate_as};
use crate::provider::{Applied, CreateOp, DeleteOp, ProviderError, ReadItem, ReadResult, UpdateOp};

#[derive(Deserialize, Args)]
#[serde(deny_unknown_fields)]
#[arg(kind = "aws.ec2.network_acl")]
struct NetworkAclArgs {
    #[serde(rename = "vpc")]
    #[arg(force_new, formerly = "vpc_id")]
    vpc_id: String,
    #[serde(default)]
    tags: Tags,
}

pub(super) const SCHEMA: KindSchema = KindSchema {
    kind: NetworkAclArgs::KIND,
    name_prefix: "acl",
    name_max: 255,
    taggable: true,
    named_by_arg: false,
    create_before_destroy: false,
    args: NetworkAclArgs::SPECS,
    outputs: &["arn"],
    validate: &validate_as::<NetworkAclArgs>,
    reads_each: None,
    doc: "A network ACL in `vpc`; it denies everything until entries allow traffic.",
};

fn outputs(ec2: &Client, acl: &NetworkAcl) -> Map<String, Value> {
    let id = acl.network_acl_id().unwrap_or_default();
    let mut m = Map::new();
    m.insert(
        "arn".into(),
        arn(ec2, acl.owner_id(), &format!("network-acl/{id}")),
    );
    m
}

/// The ACLs with these ids that still exist, in one call when all do. EC2
/// fails the whole call for a missing id, naming it: such ids are dropped
/// and the call repeated.
pub(super) async fn describe_ids(
    ec2: &Client,
    subject: &str,
    mut ids: Vec<String>,
) -> Result<Vec<NetworkAcl>, ProviderError> {
    while !ids.is_empty() {
        let result = ec2
            .describe_network_acls()
            .set_network_acl_ids(Some(ids.clone()))
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .or_fail(subject, "ec2:DescribeNetworkAcls");
        match result {
            Ok(acls) => return Ok(acls),
            Err(e) if is_not_found(&e) => {
                let before = ids.len();
                ids.retain(|id| !e.message.contains(id.as_str()));
                if ids.len() == before {
                    return Err(e);
                }
            }
            Err(e) => return Err(e),
        }
    }
    Ok(Vec::new())
}

pub(super) async fn create(ec2: &Client, op: &CreateOp) -> Result<Applied, ProviderError> {
    let subject = op.address.to_string();
    let args: NetworkAclArgs = parse(&op.args, &subject)?;
    let out = ec2
        .create_network_acl()
        .client_token(&op.token)
        .vpc_id(&args.vpc_id)
        .set_tag_specifications(tags::spec(ResourceType::NetworkAcl, &args.tags).map(|s| vec![s]))
        .send()
        .await
        .or_fail(&subject, "ec2:CreateNetworkAcl")?;
    let acl = out
        .network_acl()
        .ok_or_else(|| incomplete(&subject, "CreateNetworkAcl", "an ACL"))?;
    Ok(Applied {
        id: acl.network_acl_id().unwrap_or_default().to_string(),
        outputs: outputs(ec2, acl),
    })
}

/// Read by the stack's tag (or, alone, by id): a filter, so one missing
/// ACL does not fail the batch.
pub(super) async fn read(
    ec2: &Client,
    cx: &Refresh<'_>,
    items: &[ReadItem],
) -> Result<Vec<ReadResult>, ProviderError> {
    // By VPC, not by id, where the tag does not find one: moto serves no
    // `network-acl-id` filter.
    let live: HashMap<String, NetworkAcl> =
        described::in_stack_or(ec2, cx, SCHEMA.kind, items, |missing| {
            vec![
                filter("vpc-id", recorded(missing, "vpc")),
                filter("default", ["false".to_string()]),
            ]
        })
        .await?;
    Ok(items
        .iter()
        .map(|item| match live.get(&item.id) {
            None => ReadResult::Gone,
            Some(acl) => ReadResult::Found {
                args: Observed::new(&item.args)
                    .set("vpc", acl.vpc_id().unwrap_or_default())
                    .tags(&tags::from_aws(acl.tags()))
                    .finish(),
                outputs: outputs(ec2, acl),
            },
        })
        .collect())
}

pub(super) async fn update(ec2: &Client, op: &UpdateOp) -> Result<Applied, ProviderError> {
    tags::update_only_tags(ec2, op).await
}

pub(super) async fn delete(ec2: &Client, op: &DeleteOp) -> Result<(), ProviderError> {
    gone_is_ok(
        ec2.delete_network_acl()
            .network_acl_id(&op.id)
            .send()
            .await
            .map(drop)
            .or_fail(&op.address.to_string(), "ec2:DeleteNetworkAcl"),
    )
}

pub(super) async fn adopt(ec2: &Client, op: &CreateOp) -> Result<Option<Applied>, ProviderError> {
    let found = described::owned::<NetworkAcl>(ec2, op, Vec::new()).await?;
    Ok(found.first().map(|acl| Applied {
        id: acl.id().to_string(),
        outputs: outputs(ec2, acl),
    }))
}
