//! `aws.ec2.nat_gateway`: a NAT gateway in a subnet. Create and delete wait
//! until AWS has settled it (a minute or two), reporting progress.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::{ConnectivityType, NatGateway, NatGatewayState, ResourceType};
use payrun_derive::Args;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::described::{self, Described};
use super::{filter, gone_is_ok, incomplete, parse};
use crate::provider::aws::error::AwsResultExt;
use crate::provider::aws::refresh::Refresh;
use crate::provider::aws::observed::Observed;
use crate::provider::aws::tags::{self, Tags};
use crate::provider::aws::wait::{self, Poll};
use crate::provider::schema::{KindSchema, validate_as};
use crate::provider::{
    Applied, CreateOp, DeleteOp, ProgressFn, ProviderError, ReadItem, ReadResult, UpdateOp,
};

#[derive(Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum Connectivity {
    Public,
    Private,
}

#[derive(Deserialize, Args)]
#[serde(deny_unknown_fields)]
#[arg(kind = "aws.ec2.nat_gateway")]
struct NatGatewayArgs {
    #[serde(rename = "subnet")]
    #[arg(force_new, formerly = "subnet_id")]
    subnet_id: String,
    /// The Elastic IP of a public NAT gateway.
    #[serde(default)]
    #[serde(rename = "eip")]
    #[arg(force_new, formerly = "eip")]
    allocation_id: Option<String>,
    #[serde(default)]
    #[arg(force_new)]
    connectivity: Option<Connectivity>,
    #[serde(default)]
    tags: Tags,
}

pub(super) const SCHEMA: KindSchema = KindSchema {
    kind: NatGatewayArgs::KIND,
    name_prefix: "nat",
    name_max: 255,
    taggable: true,
    named_by_arg: false,
    create_before_destroy: false,
    args: NatGatewayArgs::SPECS,
    outputs: &["public_ip", "private_ip"],
    validate: &validate_as::<NatGatewayArgs>,
    reads_each: None,
    doc: "A NAT gateway: `subnet`, `eip` (an Elastic IP), `connectivity` (\"public\", the default, or \"private\").",
};

const SETTLE_TIMEOUT: Duration = Duration::from_secs(15 * 60);

fn outputs(n: &NatGateway) -> Map<String, Value> {
    let primary = n
        .nat_gateway_addresses()
        .iter()
        .find(|a| a.is_primary().unwrap_or(true));
    let mut m = Map::new();
    m.insert(
        "public_ip".into(),
        json!(primary.and_then(|a| a.public_ip()).unwrap_or_default()),
    );
    m.insert(
        "private_ip".into(),
        json!(primary.and_then(|a| a.private_ip()).unwrap_or_default()),
    );
    m
}

pub(super) fn is_gone(n: &NatGateway) -> bool {
    matches!(
        n.state(),
        Some(NatGatewayState::Deleted | NatGatewayState::Deleting | NatGatewayState::Failed)
    )
}

async fn describe(
    ec2: &Client,
    subject: &str,
    id: &str,
) -> Result<Option<NatGateway>, ProviderError> {
    let out = ec2
        .describe_nat_gateways()
        .filter(filter("nat-gateway-id", [id.to_string()]))
        .send()
        .await
        .or_fail(subject, "ec2:DescribeNatGateways")?;
    Ok(out.nat_gateways().first().cloned())
}

/// Waits until the gateway is available; a failed gateway is an error
/// carrying AWS's failure code.
async fn until_available(
    ec2: &Client,
    progress: &ProgressFn,
    subject: &str,
    id: &str,
) -> Result<NatGateway, ProviderError> {
    wait::until(progress, subject, SETTLE_TIMEOUT, || async {
        let Some(n) = describe(ec2, subject, id).await? else {
            return Ok(Poll::Pending("not visible yet".into()));
        };
        match n.state() {
            Some(NatGatewayState::Available) => Ok(Poll::Ready(n)),
            Some(NatGatewayState::Failed) => {
                let code = n.failure_code().unwrap_or("Failed");
                Err(ProviderError::new(format!(
                    "{subject}: NAT gateway {id} failed: {code}: {}",
                    n.failure_message().unwrap_or("(no message)")
                ))
                .with_code(code)
                .with_fix("check that the subnet has a route to an internet gateway and that the Elastic IP is not in use elsewhere"))
            }
            other => Ok(Poll::Pending(
                other.map_or("unknown", NatGatewayState::as_str).to_string(),
            )),
        }
    })
    .await
}

pub(super) async fn create(ec2: &Client, op: &CreateOp) -> Result<Applied, ProviderError> {
    let subject = op.address.to_string();
    let args: NatGatewayArgs = parse(&op.args, &subject)?;
    let out = ec2
        .create_nat_gateway()
        .client_token(&op.token)
        .subnet_id(&args.subnet_id)
        .set_allocation_id(args.allocation_id.clone())
        .set_connectivity_type(args.connectivity.map(|c| match c {
            Connectivity::Public => ConnectivityType::Public,
            Connectivity::Private => ConnectivityType::Private,
        }))
        .set_tag_specifications(tags::spec(ResourceType::Natgateway, &args.tags).map(|s| vec![s]))
        .send()
        .await
        .or_fail(&subject, "ec2:CreateNatGateway")?;
    let id = out
        .nat_gateway()
        .and_then(NatGateway::nat_gateway_id)
        .ok_or_else(|| incomplete(&subject, "CreateNatGateway", "a gateway id"))?
        .to_string();
    let n = until_available(ec2, &op.progress, &subject, &id).await?;
    Ok(Applied {
        outputs: outputs(&n),
        id,
    })
}

pub(super) async fn read(
    ec2: &Client,
    cx: &Refresh<'_>,
    items: &[ReadItem],
) -> Result<Vec<ReadResult>, ProviderError> {
    let mut live: HashMap<String, NatGateway> = described::in_stack(ec2, cx, SCHEMA.kind, items).await?;
    live.retain(|_, n| !is_gone(n));
    Ok(items
        .iter()
        .map(|item| {
            let Some(n) = live.get(&item.id) else {
                return ReadResult::Gone;
            };
            let allocation = n
                .nat_gateway_addresses()
                .iter()
                .find(|a| a.is_primary().unwrap_or(true))
                .and_then(|a| a.allocation_id());
            let connectivity = n.connectivity_type().map_or("public", |c| match c {
                ConnectivityType::Private => "private",
                _ => "public",
            });
            ReadResult::Found {
                args: Observed::new(&item.args)
                    .set("subnet", n.subnet_id().unwrap_or_default())
                    .maybe("eip", allocation)
                    .optional("connectivity", connectivity, "public")
                    .tags(&tags::from_aws(n.tags()))
                    .finish(),
                outputs: outputs(n),
            }
        })
        .collect())
}

pub(super) async fn update(ec2: &Client, op: &UpdateOp) -> Result<Applied, ProviderError> {
    let subject = op.address.to_string();
    let before: NatGatewayArgs = parse(&op.before, &subject)?;
    let after: NatGatewayArgs = parse(&op.after, &subject)?;
    tags::update(ec2, &subject, &op.id, &before.tags, &after.tags).await?;
    Ok(op.unchanged())
}

/// Waits until the gateway is gone, so its Elastic IP and subnet can go too.
pub(super) async fn delete(ec2: &Client, op: &DeleteOp) -> Result<(), ProviderError> {
    let subject = op.address.to_string();
    gone_is_ok(
        ec2.delete_nat_gateway()
            .nat_gateway_id(&op.id)
            .send()
            .await
            .map(drop)
            .or_fail(&subject, "ec2:DeleteNatGateway"),
    )?;
    wait::until(&op.progress, &subject, SETTLE_TIMEOUT, || async {
        match describe(ec2, &subject, &op.id).await? {
            Some(n) if n.state() != Some(&NatGatewayState::Deleted) => Ok(Poll::Pending(
                n.state()
                    .map_or("unknown", NatGatewayState::as_str)
                    .to_string(),
            )),
            _ => Ok(Poll::Ready(())),
        }
    })
    .await
}

/// Finds the gateway by its tags; a create interrupted while AWS was still
/// provisioning it is waited for, as create would have.
pub(super) async fn adopt(ec2: &Client, op: &CreateOp) -> Result<Option<Applied>, ProviderError> {
    let subject = op.address.to_string();
    let state = filter("state", ["pending".to_string(), "available".to_string()]);
    let found = described::owned::<NatGateway>(ec2, op, vec![state]).await?;
    let Some(n) = found.iter().find(|n| !is_gone(n)) else {
        return Ok(None);
    };
    let id = n.id().to_string();
    let n = until_available(ec2, &op.progress, &subject, &id).await?;
    Ok(Some(Applied {
        outputs: outputs(&n),
        id,
    }))
}
