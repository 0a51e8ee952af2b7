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
    // `$set` is the request's filter setter (`filters`, or `filter` where
    // the API names it so); `$live` drops what the type keeps visible for
    // a while after its delete.
    macro_rules! each {
        ($call:ident, $set:ident, $kind:expr, $id:ident, $live:expr) => {
            let out: Vec<_> = ec2
                .$call()
                .$set(of_stack(stack))
                .into_paginator()
                .items()
                .send()
                .try_collect()
                .await
                .or_fail(subject, concat!("ec2:", stringify!($call)))?;
            for x in out.iter().filter($live) {
                f.add($kind, x.$id(), x.tags());
            }
        };
        ($call:ident, $kind:expr, $id:ident) => {
            each!($call, filters, $kind, $id, |_| true);
        };
    }
    each!(describe_vpcs, "aws.ec2.vpc", vpc_id);
    each!(describe_subnets, "aws.ec2.subnet", subnet_id);
    each!(
        describe_internet_gateways,
        "aws.ec2.internet_gateway",
        internet_gateway_id
    );
    each!(describe_route_tables, "aws.ec2.route_table", route_table_id);
    each!(describe_network_acls, "aws.ec2.network_acl", network_acl_id);
    each!(describe_security_groups, "aws.ec2.security_group", group_id);
    each!(
        describe_security_group_rules,
        "aws.ec2.security_group_rule",
        security_group_rule_id
    );
    each!(
        describe_nat_gateways,
        filter,
        "aws.ec2.nat_gateway",
        nat_gateway_id,
        |n| !matches!(
            n.state(),
            Some(NatGatewayState::Deleted | NatGatewayState::Failed)
        )
    );
    each!(
        describe_vpc_endpoints,
        filters,
        "aws.ec2.vpc_endpoint",
        vpc_endpoint_id,
        |e| e
            .state()
            .is_none_or(|s| !s.as_str().eq_ignore_ascii_case("deleted"))
    );
    each!(
        describe_flow_logs,
        filter,
        "aws.ec2.flow_log",
        flow_log_id,
        |_| true
    );
    // DescribeAddresses has no paginator.
    let addresses = ec2
        .describe_addresses()
        .filters(of_stack(stack))
        .send()
        .await
        .or_fail(subject, "ec2:DescribeAddresses")?;
    for a in addresses.addresses() {
        f.add("aws.ec2.eip", a.allocation_id(), a.tags());
    }
    f.left.sort();
    Ok(f.left)
}
