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
use crate::provider::aws::refresh::Refresh;
use crate::provider::aws::tags;
use crate::provider::{CreateOp, ProviderError, ReadItem};

/// An EC2 resource type as its Describe* call returns it.
pub(crate) trait Described: Sized + Send + Sync {
    /// The filter that selects it by id, `vpc-id`.
    const ID_FILTER: &'static str;
    fn id(&self) -> &str;
    fn tags(&self) -> &[Tag];
    /// Deleted, or on its way out (a NAT gateway EC2 still describes for
    /// an hour after): neither a recorded resource nor an unrecorded one.
    fn gone(&self) -> bool;
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
    ($($ty:ident: $call:ident . $set:ident, $action:literal, $filter:literal, $id:ident $(, gone = $gone:path)?;)*) => {$(
        impl Described for $ty {
            const ID_FILTER: &'static str = $filter;
            fn id(&self) -> &str {
                self.$id().unwrap_or_default()
            }
            fn tags(&self) -> &[Tag] {
                $ty::tags(self)
            }
            fn gone(&self) -> bool {
                described!(@gone self $($gone)?)
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
    (@gone $self:ident $gone:path) => {
        $gone($self)
    };
    (@gone $self:ident) => {
        false
    };
}

described! {
    Vpc: describe_vpcs.set_filters, "ec2:DescribeVpcs", "vpc-id", vpc_id;
    Subnet: describe_subnets.set_filters, "ec2:DescribeSubnets", "subnet-id", subnet_id;
    InternetGateway: describe_internet_gateways.set_filters, "ec2:DescribeInternetGateways", "internet-gateway-id", internet_gateway_id;
    NatGateway: describe_nat_gateways.set_filter, "ec2:DescribeNatGateways", "nat-gateway-id", nat_gateway_id, gone = super::nat_gateway::is_gone;
    RouteTable: describe_route_tables.set_filters, "ec2:DescribeRouteTables", "route-table-id", route_table_id;
    SecurityGroup: describe_security_groups.set_filters, "ec2:DescribeSecurityGroups", "group-id", group_id;
    SecurityGroupRule: describe_security_group_rules.set_filters, "ec2:DescribeSecurityGroupRules", "security-group-rule-id", security_group_rule_id;
    NetworkAcl: describe_network_acls.set_filters, "ec2:DescribeNetworkAcls", "network-acl-id", network_acl_id;
    VpcEndpoint: describe_vpc_endpoints.set_filters, "ec2:DescribeVpcEndpoints", "vpc-endpoint-id", vpc_endpoint_id, gone = super::vpc_endpoint::is_gone;
    FlowLog: describe_flow_logs.set_filter, "ec2:DescribeFlowLogs", "flow-log-id", flow_log_id;
}

/// Every `T` of the account and region whose `name` filter is one of
/// `values`.
pub(crate) async fn describe<T: Described>(
    ec2: &Client,
    subject: &str,
    name: &str,
    values: Vec<String>,
) -> Result<Vec<T>, ProviderError> {
    T::describe(ec2, subject, vec![filter(name, values)]).await
}

/// Every `T` of the account and region, all pages.
pub(crate) async fn describe_all<T: Described>(
    ec2: &Client,
    subject: &str,
) -> Result<Vec<T>, ProviderError> {
    T::describe(ec2, subject, Vec::new()).await
}

/// The most values one filter carries in a call: EC2 caps the ids of a
/// request at 200.
const FILTER_VALUES: usize = 200;

/// The recorded `T`s of a batch that still exist, by id, read in a
/// refresh of a stack: every `T` carrying the stack's tag in one call (of
/// as many pages as it takes), which also finds those no item records
/// (reported to `cx`); a recorded one the tag does not find (its tag taken
/// off behind payrun's back) is read by its id in a second call, made only
/// then. Outside a refresh of a stack, by id (200 to a call).
pub(super) async fn in_stack<T: Described>(
    ec2: &Client,
    cx: &Refresh<'_>,
    kind: &str,
    items: &[ReadItem],
) -> Result<HashMap<String, T>, ProviderError> {
    in_stack_or(ec2, cx, kind, items, |missing| {
        vec![filter(T::ID_FILTER, ids(missing))]
    })
    .await
}

/// [`in_stack`], with `by` the filters that find the recorded `T`s the
/// stack's tag does not (or, outside a refresh of a stack, all of them):
/// for types whose id filter an emulator does not serve, the VPC they are
/// in.
pub(super) async fn in_stack_or<T: Described>(
    ec2: &Client,
    cx: &Refresh<'_>,
    kind: &str,
    items: &[ReadItem],
    by: impl Fn(&[ReadItem]) -> Vec<Filter>,
) -> Result<HashMap<String, T>, ProviderError> {
    let mut found: HashMap<String, T> = HashMap::new();
    if let Some(stack) = cx.stack() {
        found.extend(
            T::describe(
                ec2,
                kind,
                vec![filter(&format!("tag:{}", tags::STACK), [stack.to_string()])],
            )
            .await?
            .into_iter()
            .filter(|t| !t.gone())
            .map(|t| (t.id().to_string(), t)),
        );
        let tagged: Vec<(String, tags::Tags)> = found
            .values()
            .map(|t| (t.id().to_string(), tags::from_aws(t.tags())))
            .collect();
        cx.unrecorded_among(kind, items, tagged.iter().map(|(id, t)| (id.as_str(), t)));
    }
    let missing: Vec<ReadItem> = items
        .iter()
        .filter(|i| !found.contains_key(&i.id))
        .cloned()
        .collect();
    for chunk in missing.chunks(FILTER_VALUES) {
        found.extend(
            T::describe(ec2, kind, by(chunk))
                .await?
                .into_iter()
                .filter(|t| !t.gone())
                .map(|t| (t.id().to_string(), t)),
        );
    }
    Ok(found)
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
