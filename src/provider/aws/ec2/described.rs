//! What every EC2 kind reads the same way, written once: a resource type
//! as its Describe* call returns it (`Described`), every page of that call
//! collected (`describe`), a batch of recorded ids read in one call
//! (`live`), and adoption by the stack's and address's tags (`owned`).

use std::collections::HashMap;
use std::future::Future;

use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::{
    Filter, FlowLog, InternetGateway, NatGateway, NetworkAcl, RouteTable, SecurityGroup,
    SecurityGroupRule, Subnet, Tag, Vpc, VpcEndpoint,
};

use super::{filter, ids};
use crate::provider::aws::error::AwsResultExt;
use crate::provider::aws::tags;
use crate::provider::{CreateOp, ProviderError, ReadItem};

/// An EC2 resource type as its Describe* call returns it.
pub(super) trait Described: Sized + Send + Sync {
    /// The filter that selects it by id, `vpc-id`.
    const ID_FILTER: &'static str;
    fn id(&self) -> &str;
    fn tags(&self) -> &[Tag];
    /// Every one matching `filters`, all pages; `subject` names what the
    /// call was for in an error.
    fn describe(
        ec2: &Client,
        subject: &str,
        filters: Vec<Filter>,
    ) -> impl Future<Output = Result<Vec<Self>, ProviderError>> + Send;
}

/// `Type: describe_call.set_filters_method, "ec2:Action", "id-filter", id_getter;`
macro_rules! described {
    ($($ty:ident: $call:ident . $set:ident, $action:literal, $filter:literal, $id:ident;)*) => {$(
        impl Described for $ty {
            const ID_FILTER: &'static str = $filter;
            fn id(&self) -> &str {
                self.$id().unwrap_or_default()
            }
            fn tags(&self) -> &[Tag] {
                $ty::tags(self)
            }
            async fn describe(
                ec2: &Client,
                subject: &str,
                filters: Vec<Filter>,
            ) -> Result<Vec<Self>, ProviderError> {
                ec2.$call()
                    .$set(Some(filters))
                    .into_paginator()
                    .items()
                    .send()
                    .try_collect()
                    .await
                    .or_fail(subject, $action)
            }
        }
    )*};
}

described! {
    Vpc: describe_vpcs.set_filters, "ec2:DescribeVpcs", "vpc-id", vpc_id;
    Subnet: describe_subnets.set_filters, "ec2:DescribeSubnets", "subnet-id", subnet_id;
    InternetGateway: describe_internet_gateways.set_filters, "ec2:DescribeInternetGateways", "internet-gateway-id", internet_gateway_id;
    NatGateway: describe_nat_gateways.set_filter, "ec2:DescribeNatGateways", "nat-gateway-id", nat_gateway_id;
    RouteTable: describe_route_tables.set_filters, "ec2:DescribeRouteTables", "route-table-id", route_table_id;
    SecurityGroup: describe_security_groups.set_filters, "ec2:DescribeSecurityGroups", "group-id", group_id;
    SecurityGroupRule: describe_security_group_rules.set_filters, "ec2:DescribeSecurityGroupRules", "security-group-rule-id", security_group_rule_id;
    NetworkAcl: describe_network_acls.set_filters, "ec2:DescribeNetworkAcls", "network-acl-id", network_acl_id;
    VpcEndpoint: describe_vpc_endpoints.set_filters, "ec2:DescribeVpcEndpoints", "vpc-endpoint-id", vpc_endpoint_id;
    FlowLog: describe_flow_logs.set_filter, "ec2:DescribeFlowLogs", "flow-log-id", flow_log_id;
}

/// Every `T` of the account and region whose `name` filter is one of
/// `values`.
pub(super) async fn describe<T: Described>(
    ec2: &Client,
    subject: &str,
    name: &str,
    values: Vec<String>,
) -> Result<Vec<T>, ProviderError> {
    T::describe(ec2, subject, vec![filter(name, values)]).await
}

/// The recorded `T`s of a batch that still exist, by id: one call (of as
/// many pages as it takes) for the whole batch.
pub(super) async fn live<T: Described>(
    ec2: &Client,
    subject: &str,
    items: &[ReadItem],
) -> Result<HashMap<String, T>, ProviderError> {
    Ok(describe::<T>(ec2, subject, T::ID_FILTER, ids(items))
        .await?
        .into_iter()
        .map(|t| (t.id().to_string(), t))
        .collect())
}

/// The `T`s tagged as this stack's resource at `op`'s address, for
/// adoption after a create whose reply was lost: the tags go on at the
/// create itself, so a resource the cloud made carries them. `also`
/// narrows the call further (a NAT gateway's state).
pub(super) async fn owned<T: Described>(
    ec2: &Client,
    op: &CreateOp,
    also: Vec<Filter>,
) -> Result<Vec<T>, ProviderError> {
    let subject = op.address.to_string();
    let mut filters = tags::owner_filters(&op.stack, &subject);
    filters.extend(also);
    let found = T::describe(ec2, &subject, filters).await?;
    Ok(found
        .into_iter()
        .filter(|t| tags::owned_by(t.tags(), &op.stack, &subject))
        .collect())
}
