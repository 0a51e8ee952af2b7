//! `aws.ec2.eip`: an Elastic IP address in the VPC domain.

use std::collections::HashMap;

use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::{Address, DomainType, Filter, ResourceType};
use payrun_derive::Args;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{filter, gone_is_ok, ids, incomplete, parse};
use crate::provider::aws::error::AwsResultExt;
use crate::provider::aws::refresh::Refresh;
use crate::provider::aws::observed::Observed;
use crate::provider::aws::tags::{self, Tags};
use crate::provider::schema::{KindSchema, validate_as};
use crate::provider::{Applied, CreateOp, DeleteOp, ProviderError, ReadItem, ReadResult, UpdateOp};

#[derive(Deserialize, Args)]
#[serde(deny_unknown_fields)]
#[arg(kind = "aws.ec2.eip")]
struct EipArgs {
    #[serde(default)]
    tags: Tags,
}

pub(super) const SCHEMA: KindSchema = KindSchema {
    kind: EipArgs::KIND,
    name_prefix: "eip",
    name_max: 255,
    taggable: true,
    named_by_arg: false,
    create_before_destroy: false,
    args: EipArgs::SPECS,
    outputs: &["public_ip"],
    validate: &validate_as::<EipArgs>,
    reads_each: None,
    doc: "An Elastic IP address (VPC domain), e.g. for a NAT gateway.",
};

fn outputs(a: &Address) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("public_ip".into(), json!(a.public_ip().unwrap_or_default()));
    m
}

pub(super) async fn create(ec2: &Client, op: &CreateOp) -> Result<Applied, ProviderError> {
    let subject = op.address.to_string();
    let args: EipArgs = parse(&op.args, &subject)?;
    let out = ec2
        .allocate_address()
        .domain(DomainType::Vpc)
        .set_tag_specifications(tags::spec(ResourceType::ElasticIp, &args.tags).map(|s| vec![s]))
        .send()
        .await
        .or_fail(&subject, "ec2:AllocateAddress")?;
    let id = out
        .allocation_id()
        .ok_or_else(|| incomplete(&subject, "AllocateAddress", "an allocation id"))?
        .to_string();
    let mut outputs = Map::new();
    outputs.insert(
        "public_ip".into(),
        json!(out.public_ip().unwrap_or_default()),
    );
    Ok(Applied { id, outputs })
}

pub(super) async fn read(
    ec2: &Client,
    cx: &Refresh<'_>,
    items: &[ReadItem],
) -> Result<Vec<ReadResult>, ProviderError> {
    // DescribeAddresses is not paginated: one call answers for every
    // address the stack's tag finds (and one more for a recorded address
    // it does not find, by its allocation id).
    let describe = |f: Filter| async move {
        ec2.describe_addresses()
            .filters(f)
            .send()
            .await
            .or_fail(SCHEMA.kind, "ec2:DescribeAddresses")
            .map(|o| o.addresses().to_vec())
    };
    let mut found: Vec<Address> = Vec::new();
    if let Some(stack) = cx.stack() {
        found = describe(filter(&format!("tag:{}", tags::STACK), [stack.to_string()])).await?;
        let tagged: Vec<(String, tags::Tags)> = found
            .iter()
            .map(|a| (a.allocation_id().unwrap_or_default().to_string(), tags::from_aws(a.tags())))
            .collect();
        cx.unrecorded_among(SCHEMA.kind, items, tagged.iter().map(|(id, t)| (id.as_str(), t)));
    }
    let missing: Vec<ReadItem> = items
        .iter()
        .filter(|i| !found.iter().any(|a| a.allocation_id() == Some(i.id.as_str())))
        .cloned()
        .collect();
    if !missing.is_empty() {
        found.extend(describe(filter("allocation-id", ids(&missing))).await?);
    }
    let live: HashMap<&str, &Address> = found
        .iter()
        .map(|a| (a.allocation_id().unwrap_or_default(), a))
        .collect();
    Ok(items
        .iter()
        .map(|item| match live.get(item.id.as_str()) {
            None => ReadResult::Gone,
            Some(a) => ReadResult::Found {
                args: Observed::new(&item.args)
                    .tags(&tags::from_aws(a.tags()))
                    .finish(),
                outputs: outputs(a),
            },
        })
        .collect())
}

pub(super) async fn update(ec2: &Client, op: &UpdateOp) -> Result<Applied, ProviderError> {
    tags::update_only_tags(ec2, op).await
}

pub(super) async fn delete(ec2: &Client, op: &DeleteOp) -> Result<(), ProviderError> {
    gone_is_ok(
        ec2.release_address()
            .allocation_id(&op.id)
            .send()
            .await
            .map(drop)
            .or_fail(&op.address.to_string(), "ec2:ReleaseAddress"),
    )
}

pub(super) async fn adopt(ec2: &Client, op: &CreateOp) -> Result<Option<Applied>, ProviderError> {
    let subject = op.address.to_string();
    let out = ec2
        .describe_addresses()
        .set_filters(Some(tags::owner_filters(&op.stack, &subject)))
        .send()
        .await
        .or_fail(&subject, "ec2:DescribeAddresses")?;
    Ok(out
        .addresses()
        .iter()
        .find(|a| tags::owned_by(a.tags(), &op.stack, &subject))
        .map(|a| Applied {
            id: a.allocation_id().unwrap_or_default().to_string(),
            outputs: outputs(a),
        }))
}
