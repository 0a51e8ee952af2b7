//! `sweep`: what of a stack is still live in EC2, found by the stack's tag,
//! one Describe per resource type (DescribeTags cannot serve: it keeps
//! answering for deleted resources on some endpoints).

use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::{Filter, NatGatewayState, Tag};

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

pub(in crate::provider::aws) async fn sweep(
    ec2: &Client,
    stack: &str,
) -> Result<Vec<Leftover>, ProviderError> {
    let subject = "the destroy check";
    let mut f = Found {
        stack,
        left: Vec::new(),
    };
    macro_rules! each {
        ($call:ident, $items:ident, $kind:expr, $id:ident) => {
            let out: Vec<_> = ec2
                .$call()
                .filters(of_stack(stack))
                .into_paginator()
                .items()
                .send()
                .try_collect()
                .await
                .or_fail(subject, concat!("ec2:", stringify!($call)))?;
            for x in &out {
                f.add($kind, x.$id(), x.tags());
            }
        };
    }
    each!(describe_vpcs, vpcs, "aws.ec2.vpc", vpc_id);
    each!(describe_subnets, subnets, "aws.ec2.subnet", subnet_id);
    each!(
        describe_internet_gateways,
        internet_gateways,
        "aws.ec2.internet_gateway",
        internet_gateway_id
    );
    each!(
        describe_route_tables,
        route_tables,
        "aws.ec2.route_table",
        route_table_id
    );
    each!(
        describe_network_acls,
        network_acls,
        "aws.ec2.network_acl",
        network_acl_id
    );
    each!(
        describe_security_groups,
        security_groups,
        "aws.ec2.security_group",
        group_id
    );
    each!(
        describe_security_group_rules,
        security_group_rules,
        "aws.ec2.security_group_rule",
        security_group_rule_id
    );
    let addresses = ec2
        .describe_addresses()
        .filters(of_stack(stack))
        .send()
        .await
        .or_fail(subject, "ec2:DescribeAddresses")?;
    for a in addresses.addresses() {
        f.add("aws.ec2.eip", a.allocation_id(), a.tags());
    }
    let nats: Vec<_> = ec2
        .describe_nat_gateways()
        .filter(of_stack(stack))
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .or_fail(subject, "ec2:DescribeNatGateways")?;
    for n in nats.iter().filter(|n| {
        !matches!(
            n.state(),
            Some(NatGatewayState::Deleted | NatGatewayState::Failed)
        )
    }) {
        f.add("aws.ec2.nat_gateway", n.nat_gateway_id(), n.tags());
    }
    let endpoints: Vec<_> = ec2
        .describe_vpc_endpoints()
        .filters(of_stack(stack))
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .or_fail(subject, "ec2:DescribeVpcEndpoints")?;
    for e in endpoints.iter().filter(|e| {
        e.state()
            .is_none_or(|s| !s.as_str().eq_ignore_ascii_case("deleted"))
    }) {
        f.add("aws.ec2.vpc_endpoint", e.vpc_endpoint_id(), e.tags());
    }
    let logs: Vec<_> = ec2
        .describe_flow_logs()
        .filter(of_stack(stack))
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .or_fail(subject, "ec2:DescribeFlowLogs")?;
    for l in &logs {
        f.add("aws.ec2.flow_log", l.flow_log_id(), l.tags());
    }
    f.left.sort();
    Ok(f.left)
}
