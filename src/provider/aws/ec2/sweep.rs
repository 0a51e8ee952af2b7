//! `sweep`: what of a stack is still live in EC2, found by the stack's tag,
//! one Describe per resource type (DescribeTags cannot serve: it keeps
//! answering for deleted resources on some endpoints).

use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::{
    Filter, FlowLog, InternetGateway, NatGateway, NatGatewayState, NetworkAcl, RouteTable,
    SecurityGroup, SecurityGroupRule, Subnet, Tag, Vpc, VpcEndpoint,
};

use super::described::Described;
use super::{
    eip, flow_log, internet_gateway, nat_gateway, network_acl, route_table, security_group,
    security_group_egress, security_group_ingress, subnet, vpc, vpc_endpoint,
};
use crate::provider::aws::error::AwsResultExt;
use crate::provider::aws::tags;
use crate::provider::{Leftover, ProviderError};

fn of_stack(stack: &str) -> Filter {
    Filter::builder()
        .name(format!("tag:{}", tags::STACK))
        .values(stack)
        .build()
}

struct Found<'a> {
    stack: &'a str,
    left: Vec<Leftover>,
}

impl Found<'_> {
    /// Adds the resource when its tags (checked here too: not every
    /// endpoint honours tag filters) say it is the stack's.
    fn add(&mut self, kind: &str, id: Option<&str>, tags: &[Tag]) {
        let tags = tags::from_aws(tags);
        if tags.get(tags::STACK).map(String::as_str) != Some(self.stack) {
            return;
        }
        self.left.push(Leftover {
            kind: kind.to_string(),
            id: id.unwrap_or_default().to_string(),
            address: tags.get(tags::ADDRESS).cloned(),
        });
    }
}

/// Adds every `T` of the stack that `live` keeps, as a leftover of `kind`.
async fn each<T: Described>(
    ec2: &Client,
    f: &mut Found<'_>,
    kind: &str,
    live: impl Fn(&T) -> bool,
) -> Result<(), ProviderError> {
    for x in T::describe(ec2, SUBJECT, vec![of_stack(f.stack)]).await? {
        if live(&x) {
            f.add(kind, Some(x.id()), x.tags());
        }
    }
    Ok(())
}

const SUBJECT: &str = "the destroy check";

/// Every one found is live.
fn all<T>(_: &T) -> bool {
    true
}

pub(in crate::provider::aws) async fn sweep(
    ec2: &Client,
    stack: &str,
) -> Result<Vec<Leftover>, ProviderError> {
    let mut f = Found {
        stack,
        left: Vec::new(),
    };
    each::<Vpc>(ec2, &mut f, vpc::SCHEMA.kind, all).await?;
    each::<Subnet>(ec2, &mut f, subnet::SCHEMA.kind, all).await?;
    each::<InternetGateway>(ec2, &mut f, internet_gateway::SCHEMA.kind, all).await?;
    each::<RouteTable>(ec2, &mut f, route_table::SCHEMA.kind, all).await?;
    each::<NetworkAcl>(ec2, &mut f, network_acl::SCHEMA.kind, all).await?;
    each::<SecurityGroup>(ec2, &mut f, security_group::SCHEMA.kind, all).await?;
    // One call for both directions of rule.
    for r in SecurityGroupRule::describe(ec2, SUBJECT, vec![of_stack(stack)]).await? {
        let kind = if r.is_egress() == Some(true) {
            security_group_egress::SCHEMA.kind
        } else {
            security_group_ingress::SCHEMA.kind
        };
        f.add(kind, Some(r.id()), r.tags());
    }
    // What a type keeps visible for a while after its delete is gone.
    each::<NatGateway>(ec2, &mut f, nat_gateway::SCHEMA.kind, |n| {
        !matches!(
            n.state(),
            Some(NatGatewayState::Deleted | NatGatewayState::Failed)
        )
    })
    .await?;
    each::<VpcEndpoint>(ec2, &mut f, vpc_endpoint::SCHEMA.kind, |e| {
        e.state()
            .is_none_or(|s| !s.as_str().eq_ignore_ascii_case("deleted"))
    })
    .await?;
    each::<FlowLog>(ec2, &mut f, flow_log::SCHEMA.kind, all).await?;
    // DescribeAddresses has no paginator.
    let addresses = ec2
        .describe_addresses()
        .filters(of_stack(stack))
        .send()
        .await
        .or_fail(SUBJECT, "ec2:DescribeAddresses")?;
    for a in addresses.addresses() {
        f.add(eip::SCHEMA.kind, a.allocation_id(), a.tags());
    }
    f.left.sort();
    Ok(f.left)
}
