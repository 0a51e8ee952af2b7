//! `aws.ec2.network_acl_association`: which network ACL a subnet uses.
//!
//! A subnet always has exactly one ACL, so create and update replace the
//! subnet's current association, and delete hands the subnet back to its
//! VPC's default ACL. The id is the association id, which changes with every
//! replacement: an association replaced outside payrun reads as gone.

use std::collections::HashMap;

use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::{NetworkAcl, NetworkAclAssociation};
use payrun_derive::Args;
use serde::Deserialize;
use serde_json::Map;

use super::described::Described;
use super::{filter, ids, incomplete, parse};
use crate::provider::aws::error::AwsResultExt;
use crate::provider::aws::refresh::Refresh;
use crate::provider::aws::observed::Observed;
use crate::provider::schema::{KindSchema, validate_as};
use crate::provider::{Applied, CreateOp, DeleteOp, ProviderError, ReadItem, ReadResult, UpdateOp};

#[derive(Deserialize, Args)]
#[serde(deny_unknown_fields)]
#[arg(kind = "aws.ec2.network_acl_association")]
struct AssociationArgs {
    #[serde(rename = "network_acl")]
    #[arg(formerly = "network_acl_id")]
    network_acl_id: String,
    #[serde(rename = "subnet")]
    #[arg(force_new, formerly = "subnet_id")]
    subnet_id: String,
}

pub(super) const SCHEMA: KindSchema = KindSchema {
    kind: AssociationArgs::KIND,
    name_prefix: "aclassoc",
    name_max: 255,
    taggable: false,
    named_by_arg: false,
    create_before_destroy: false,
    args: AssociationArgs::SPECS,
    outputs: &[],
    validate: &validate_as::<AssociationArgs>,
    reads_each: None,
    doc: "Makes `subnet` use `network_acl`; deleting it returns the subnet to the VPC's default ACL.",
};

fn association(
    acls: &[NetworkAcl],
    key: impl Fn(&NetworkAclAssociation) -> bool,
) -> Option<(&NetworkAcl, &NetworkAclAssociation)> {
    acls.iter()
        .find_map(|acl| acl.associations().iter().find(|a| key(a)).map(|a| (acl, a)))
}

async fn replace(
    ec2: &Client,
    subject: &str,
    association_id: &str,
    acl: &str,
) -> Result<String, ProviderError> {
    let out = ec2
        .replace_network_acl_association()
        .association_id(association_id)
        .network_acl_id(acl)
        .send()
        .await
        .or_fail(subject, "ec2:ReplaceNetworkAclAssociation")?;
    Ok(out
        .new_association_id()
        .ok_or_else(|| incomplete(subject, "ReplaceNetworkAclAssociation", "an association id"))?
        .to_string())
}

/// The subnet's current association (every subnet has one).
async fn current(
    ec2: &Client,
    subject: &str,
    subnet: &str,
) -> Result<Option<(String, String)>, ProviderError> {
    let acls = NetworkAcl::describe(
        ec2,
        subject,
        vec![filter("association.subnet-id", [subnet.to_string()])],
    )
    .await?;
    Ok(
        association(&acls, |a| a.subnet_id() == Some(subnet)).map(|(acl, a)| {
            (
                a.network_acl_association_id()
                    .unwrap_or_default()
                    .to_string(),
                acl.network_acl_id().unwrap_or_default().to_string(),
            )
        }),
    )
}

pub(super) async fn create(ec2: &Client, op: &CreateOp) -> Result<Applied, ProviderError> {
    let subject = op.address.to_string();
    let args: AssociationArgs = parse(&op.args, &subject)?;
    let (association_id, _) = current(ec2, &subject, &args.subnet_id)
        .await?
        .ok_or_else(|| {
            ProviderError::new(format!(
                "{subject}: subnet {} has no network ACL association",
                args.subnet_id
            ))
            .with_code("InvalidSubnetID.NotFound")
            .with_fix("check that the subnet exists in this region")
        })?;
    Ok(Applied {
        id: replace(ec2, &subject, &association_id, &args.network_acl_id).await?,
        outputs: Map::new(),
    })
}

pub(super) async fn read(
    ec2: &Client,
    _cx: &Refresh<'_>,
    items: &[ReadItem],
) -> Result<Vec<ReadResult>, ProviderError> {
    let acls = NetworkAcl::describe(
        ec2,
        SCHEMA.kind,
        vec![filter("association.association-id", ids(items))],
    )
    .await?;
    let live: HashMap<&str, (&NetworkAcl, &NetworkAclAssociation)> = acls
        .iter()
        .flat_map(|acl| acl.associations().iter().map(move |a| (acl, a)))
        .filter_map(|(acl, a)| Some((a.network_acl_association_id()?, (acl, a))))
        .collect();
    Ok(items
        .iter()
        .map(|item| match live.get(item.id.as_str()) {
            None => ReadResult::Gone,
            Some((acl, a)) => ReadResult::Found {
                args: Observed::new(&item.args)
                    .set("network_acl", acl.network_acl_id().unwrap_or_default())
                    .set("subnet", a.subnet_id().unwrap_or_default())
                    .finish(),
                outputs: Map::new(),
            },
        })
        .collect())
}

pub(super) async fn update(ec2: &Client, op: &UpdateOp) -> Result<Applied, ProviderError> {
    let subject = op.address.to_string();
    let args: AssociationArgs = parse(&op.after, &subject)?;
    Ok(Applied {
        id: replace(ec2, &subject, &op.id, &args.network_acl_id).await?,
        outputs: Map::new(),
    })
}

pub(super) async fn delete(ec2: &Client, op: &DeleteOp) -> Result<(), ProviderError> {
    let subject = op.address.to_string();
    let acls = NetworkAcl::describe(
        ec2,
        &subject,
        vec![filter("association.association-id", [op.id.clone()])],
    )
    .await?;
    let Some((acl, _)) = association(&acls, |a| {
        a.network_acl_association_id() == Some(op.id.as_str())
    }) else {
        return Ok(());
    };
    let vpc = acl.vpc_id().unwrap_or_default().to_string();
    let defaults = NetworkAcl::describe(
        ec2,
        &subject,
        vec![
            filter("vpc-id", [vpc.clone()]),
            filter("default", ["true".to_string()]),
        ],
    )
    .await?;
    let default = defaults
        .iter()
        .find(|a| a.is_default() == Some(true))
        .and_then(NetworkAcl::network_acl_id)
        .ok_or_else(|| {
            ProviderError::new(format!("{subject}: VPC {vpc} has no default network ACL"))
                .with_code("DefaultNetworkAclNotFound")
        })?;
    replace(ec2, &subject, &op.id, default).await?;
    Ok(())
}

pub(super) async fn adopt(ec2: &Client, op: &CreateOp) -> Result<Option<Applied>, ProviderError> {
    let subject = op.address.to_string();
    let args: AssociationArgs = parse(&op.args, &subject)?;
    Ok(current(ec2, &subject, &args.subnet_id)
        .await?
        .filter(|(_, acl)| *acl == args.network_acl_id)
        .map(|(id, _)| Applied {
            id,
            outputs: Map::new(),
        }))
}
