//! EC2 network kinds: VPC, subnets, gateways, routes, security groups,
//! network ACLs and VPC endpoints; one file per kind.

pub(crate) mod described;
mod eip;
mod flow_log;
mod internet_gateway;
mod nat_gateway;
mod network_acl;
mod network_acl_association;
mod network_acl_entry;
mod route;
mod route_table;
mod route_table_association;
mod security_group;
mod security_group_egress;
mod security_group_ingress;
mod security_group_rule;
mod subnet;
mod sweep;
mod vpc;
mod vpc_endpoint;

pub(crate) use flow_log::FlowLogArgs;
pub(crate) use security_group_ingress::IngressRuleArgs;
pub(crate) use subnet::SubnetArgs;
pub(crate) use vpc::VpcArgs;

use std::collections::BTreeSet;

use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::Filter;
use serde_json::Value;

use super::call::{gone_is_ok, incomplete, parse};
use super::observed;
use crate::provider::ReadItem;
pub(super) use sweep::sweep;

kinds!(
    Client;
    vpc: complete | stack,
    subnet: complete | stack,
    internet_gateway: complete | stack,
    eip: stack,
    nat_gateway: stack,
    route_table: stack,
    route,
    route_table_association,
    security_group: complete | stack,
    security_group_ingress: stack,
    security_group_egress: stack,
    network_acl: stack,
    network_acl_entry,
    network_acl_association,
    vpc_endpoint: stack,
    flow_log: stack,
);

fn filter(name: &str, values: impl IntoIterator<Item = String>) -> Filter {
    Filter::builder()
        .name(name)
        .set_values(Some(values.into_iter().collect()))
        .build()
}

/// The ids of a batch, each once.
fn ids(items: &[ReadItem]) -> Vec<String> {
    distinct(items.iter().map(|i| i.id.clone()))
}

/// A string argument of every recorded item, each value once.
fn recorded(items: &[ReadItem], arg: &str) -> Vec<String> {
    distinct(
        items
            .iter()
            .filter_map(|i| i.args.get(arg).and_then(Value::as_str).map(str::to_string)),
    )
}

fn distinct(values: impl Iterator<Item = String>) -> Vec<String> {
    values.collect::<BTreeSet<_>>().into_iter().collect()
}

/// `arn:{partition}:ec2:{region}:{owner}:{resource}`.
fn arn(ec2: &Client, owner: Option<&str>, resource: &str) -> Value {
    let region = ec2
        .config()
        .region()
        .map(|r| r.as_ref().to_string())
        .unwrap_or_default();
    let partition = if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    };
    Value::String(format!(
        "arn:{partition}:ec2:{region}:{}:{resource}",
        owner.unwrap_or_default()
    ))
}
