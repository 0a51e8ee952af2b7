//! `aws.ec2.flow_log`: a VPC's flow log delivered to a CloudWatch log
//! group; every argument replaces it, since EC2 cannot change one.

use std::collections::HashMap;

use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::{
    FlowLog, FlowLogsResourceType, LogDestinationType, ResourceType, TrafficType,
};
use payrun_derive::Args;
use serde::Deserialize;
use serde_json::Map;

use super::observed::Observed;
use super::described::{self, Described};
use super::{gone_is_ok, incomplete, parse};
use crate::provider::aws::error::AwsResultExt;
use crate::provider::aws::refresh::Refresh;
use crate::provider::aws::tags::{self, Tags};
use crate::provider::schema::{KindSchema, validate_as};
use crate::provider::{Applied, CreateOp, DeleteOp, ProviderError, ReadItem, ReadResult, UpdateOp};

#[derive(Deserialize, Args)]
#[serde(deny_unknown_fields)]
#[arg(kind = "aws.ec2.flow_log")]
pub(crate) struct FlowLogArgs {
    #[serde(rename = "vpc")]
    #[arg(force_new, formerly = "vpc_id")]
    vpc_id: String,
    #[serde(rename = "log_group")]
    #[arg(force_new, takes = "name", formerly = "log_group")]
    log_group_name: String,
    #[serde(rename = "deliver_logs_role")]
    #[arg(force_new, takes = "arn", formerly = "deliver_logs_role")]
    deliver_logs_permission_arn: String,
    #[serde(default)]
    #[arg(force_new)]
    traffic_type: Option<String>,
    #[serde(default)]
    tags: Tags,
}

pub(super) const SCHEMA: KindSchema = KindSchema {
    kind: FlowLogArgs::KIND,
    name_prefix: "flowlog",
    name_max: 255,
    taggable: true,
    named_by_arg: false,
    create_before_destroy: false,
    args: FlowLogArgs::SPECS,
    outputs: &[],
    validate: &validate_as::<FlowLogArgs>,
    reads_each: None,
    doc: "A flow log of `vpc` into the log group `log_group`, written by the role `deliver_logs_role`; `traffic_type` ALL (default), ACCEPT or REJECT.",
};

const TRAFFIC_DEFAULT: &str = "ALL";

pub(super) async fn create(ec2: &Client, op: &CreateOp) -> Result<Applied, ProviderError> {
    let subject = op.address.to_string();
    let args: FlowLogArgs = parse(&op.args, &subject)?;
    let traffic = args.traffic_type.as_deref().unwrap_or(TRAFFIC_DEFAULT);
    let out = ec2
        .create_flow_logs()
        .resource_ids(&args.vpc_id)
        .resource_type(FlowLogsResourceType::Vpc)
        .traffic_type(TrafficType::from(traffic))
        .log_destination_type(LogDestinationType::CloudWatchLogs)
        .log_group_name(&args.log_group_name)
        .deliver_logs_permission_arn(&args.deliver_logs_permission_arn)
        .client_token(&op.token)
        .set_tag_specifications(tags::spec(ResourceType::VpcFlowLog, &args.tags).map(|s| vec![s]))
        .send()
        .await
        .or_fail(&subject, "ec2:CreateFlowLogs")?;
    if let Some(failure) = out.unsuccessful().first() {
        let why = failure
            .error()
            .and_then(|e| e.message())
            .unwrap_or("no reason given");
        return Err(
            ProviderError::new(format!("{subject}: ec2:CreateFlowLogs failed: {why}"))
                .with_code("FlowLogUnsuccessful"),
        );
    }
    let id = out
        .flow_log_ids()
        .first()
        .ok_or_else(|| incomplete(&subject, "CreateFlowLogs", "a flow log id"))?
        .clone();
    Ok(Applied {
        id,
        outputs: Map::new(),
    })
}

pub(super) async fn read(
    ec2: &Client,
    cx: &Refresh<'_>,
    items: &[ReadItem],
) -> Result<Vec<ReadResult>, ProviderError> {
    let live: HashMap<String, FlowLog> = described::in_stack(ec2, cx, SCHEMA.kind, items).await?;
    Ok(items
        .iter()
        .map(|item| match live.get(&item.id) {
            None => ReadResult::Gone,
            Some(f) => ReadResult::Found {
                args: Observed::new(&item.args)
                    .set("vpc", f.resource_id().unwrap_or_default())
                    .set("log_group", f.log_group_name().unwrap_or_default())
                    .set(
                        "deliver_logs_role",
                        f.deliver_logs_permission_arn().unwrap_or_default(),
                    )
                    .optional(
                        "traffic_type",
                        f.traffic_type()
                            .map_or(TRAFFIC_DEFAULT, TrafficType::as_str),
                        TRAFFIC_DEFAULT,
                    )
                    .tags(&tags::from_aws(f.tags()))
                    .finish(),
                outputs: Map::new(),
            },
        })
        .collect())
}

pub(super) async fn update(ec2: &Client, op: &UpdateOp) -> Result<Applied, ProviderError> {
    let subject = op.address.to_string();
    let before: FlowLogArgs = parse(&op.before, &subject)?;
    let after: FlowLogArgs = parse(&op.after, &subject)?;
    tags::update(ec2, &subject, &op.id, &before.tags, &after.tags).await?;
    Ok(op.unchanged())
}

pub(super) async fn delete(ec2: &Client, op: &DeleteOp) -> Result<(), ProviderError> {
    let subject = op.address.to_string();
    gone_is_ok(
        ec2.delete_flow_logs()
            .flow_log_ids(&op.id)
            .send()
            .await
            .map(drop)
            .or_fail(&subject, "ec2:DeleteFlowLogs"),
    )
}

pub(super) async fn adopt(ec2: &Client, op: &CreateOp) -> Result<Option<Applied>, ProviderError> {
    let found = described::owned::<FlowLog>(ec2, op, Vec::new()).await?;
    Ok(found.first().map(|f| Applied {
        id: f.id().to_string(),
        outputs: Map::new(),
    }))
}
