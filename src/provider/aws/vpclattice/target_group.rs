//! `aws.vpclattice.target_group`: an IP target group in a VPC; pods (or
//! anything with an address in the VPC) register into it, and listeners
//! forward to it.

use aws_sdk_vpclattice::Client;
use aws_sdk_vpclattice::operation::get_target_group::GetTargetGroupOutput;
use aws_sdk_vpclattice::types::{
    HealthCheckConfig, Matcher, TargetGroupConfig, TargetGroupProtocol, TargetGroupStatus,
    TargetGroupType,
};
use payrun_derive::Args;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{found, identifier, incomplete, parse, tagging, wait};
use crate::provider::aws::error::AwsResultExt;
use crate::provider::aws::refresh::Refresh;
use crate::provider::aws::tags::Tags;
use crate::provider::schema::{KindSchema, validate_as};
use crate::provider::{Applied, CreateOp, DeleteOp, ProviderError, ReadItem, ReadResult, UpdateOp};

#[derive(Deserialize, Args)]
#[serde(deny_unknown_fields)]
#[arg(kind = "aws.vpclattice.target_group")]
struct TargetGroupArgs {
    #[serde(rename = "type")]
    #[arg(force_new)]
    target_type: TargetType,
    #[arg(force_new)]
    config: ConfigArgs,
    #[serde(default)]
    tags: Tags,
}

/// Only IP targets: pods on Fargate register by address.
#[derive(Clone, Copy, Deserialize)]
enum TargetType {
    #[serde(rename = "IP")]
    Ip,
}

#[derive(Clone, Copy, Deserialize, PartialEq, Eq)]
pub(super) enum Protocol {
    #[serde(rename = "HTTP")]
    Http,
    #[serde(rename = "HTTPS")]
    Https,
}

impl Protocol {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Self::Http => "HTTP",
            Self::Https => "HTTPS",
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigArgs {
    port: i32,
    protocol: Protocol,
    vpc_identifier: String,
    #[serde(default)]
    health_check: Option<HealthCheckArgs>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HealthCheckArgs {
    #[serde(default)]
    enabled: Option<bool>,
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    port: Option<i32>,
    #[serde(default)]
    protocol: Option<Protocol>,
    #[serde(default)]
    interval_seconds: Option<i32>,
    #[serde(default)]
    timeout_seconds: Option<i32>,
    #[serde(default)]
    healthy_threshold: Option<i32>,
    #[serde(default)]
    unhealthy_threshold: Option<i32>,
    /// HTTP codes that mean healthy: `"200"`, `"200-299"`.
    #[serde(default)]
    matcher: Option<String>,
}

pub(super) const SCHEMA: KindSchema = KindSchema {
    kind: TargetGroupArgs::KIND,
    name_prefix: "tg",
    name_max: 128,
    taggable: true,
    named_by_arg: false,
    create_before_destroy: true,
    args: TargetGroupArgs::SPECS,
    outputs: &["arn", "name"],
    validate: &validate_as::<TargetGroupArgs>,
    reads_each: Some("one GetTargetGroup per target group: Lattice lists them without their configuration"),
    doc: "A VPC Lattice target group of `type` IP; `config`: #{ port, protocol (HTTP/HTTPS), vpc_identifier, health_check }.",
};

fn health_check(h: &HealthCheckArgs) -> HealthCheckConfig {
    HealthCheckConfig::builder()
        .set_enabled(h.enabled)
        .set_path(h.path.clone())
        .set_port(h.port)
        .set_protocol(h.protocol.map(|p| TargetGroupProtocol::from(p.as_str())))
        .set_health_check_interval_seconds(h.interval_seconds)
        .set_health_check_timeout_seconds(h.timeout_seconds)
        .set_healthy_threshold_count(h.healthy_threshold)
        .set_unhealthy_threshold_count(h.unhealthy_threshold)
        .set_matcher(h.matcher.clone().map(Matcher::HttpCode))
        .build()
}

/// The health check as the program wrote it: AWS fills in defaults for the
/// fields left out, so only written fields are given back.
fn observed_health_check(written: &Map<String, Value>, live: &HealthCheckConfig) -> Value {
    let mut m = Map::new();
    for key in written.keys() {
        let v = match key.as_str() {
            "enabled" => live.enabled().map(Value::from),
            "path" => live.path().map(Value::from),
            "port" => live.port().map(Value::from),
            "protocol" => live.protocol().map(|p| Value::from(p.as_str())),
            "interval_seconds" => live.health_check_interval_seconds().map(Value::from),
            "timeout_seconds" => live.health_check_timeout_seconds().map(Value::from),
            "healthy_threshold" => live.healthy_threshold_count().map(Value::from),
            "unhealthy_threshold" => live.unhealthy_threshold_count().map(Value::from),
            "matcher" => live
                .matcher()
                .and_then(|m| m.as_http_code().ok())
                .map(|c| Value::from(c.as_str())),
            _ => None,
        };
        m.insert(key.clone(), v.unwrap_or(Value::Null));
    }
    Value::Object(m)
}

fn observed_config(recorded: &Value, live: &TargetGroupConfig) -> Value {
    let written = recorded.get("config").cloned().unwrap_or(Value::Null);
    let mut m = Map::new();
    m.insert("port".into(), json!(live.port()));
    m.insert(
        "protocol".into(),
        json!(live.protocol().map(TargetGroupProtocol::as_str)),
    );
    m.insert(
        "vpc_identifier".into(),
        identifier(
            &written,
            "vpc_identifier",
            live.vpc_identifier().unwrap_or_default(),
        ),
    );
    if let Some(Value::Object(hc)) = written.get("health_check") {
        m.insert(
            "health_check".into(),
            live.health_check()
                .map_or(Value::Null, |l| observed_health_check(hc, l)),
        );
    }
    Value::Object(m)
}

fn outputs(arn: Option<&str>, name: Option<&str>) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("arn".into(), json!(arn.unwrap_or_default()));
    m.insert("name".into(), json!(name.unwrap_or_default()));
    m
}

async fn get(
    client: &Client,
    subject: &str,
    id: &str,
) -> Result<Option<GetTargetGroupOutput>, ProviderError> {
    found(
        client
            .get_target_group()
            .target_group_identifier(id)
            .send()
            .await
            .or_fail(subject, "vpc-lattice:GetTargetGroup"),
    )
}

fn status(tg: Option<&GetTargetGroupOutput>) -> Option<String> {
    tg.map(|t| {
        t.status()
            .map_or("UNKNOWN", TargetGroupStatus::as_str)
            .to_string()
    })
}

pub(super) async fn create(client: &Client, op: &CreateOp) -> Result<Applied, ProviderError> {
    let subject = op.address.to_string();
    let args: TargetGroupArgs = parse(&op.args, &subject)?;
    let TargetType::Ip = args.target_type;
    let config = TargetGroupConfig::builder()
        .port(args.config.port)
        .protocol(TargetGroupProtocol::from(args.config.protocol.as_str()))
        .vpc_identifier(&args.config.vpc_identifier)
        .set_health_check(args.config.health_check.as_ref().map(health_check))
        .build();
    let out = client
        .create_target_group()
        .name(&op.name)
        .r#type(TargetGroupType::Ip)
        .config(config)
        .client_token(&op.token)
        .set_tags(tagging::to_aws(&args.tags))
        .send()
        .await
        .or_fail(&subject, "vpc-lattice:CreateTargetGroup")?;
    let id = out
        .id()
        .ok_or_else(|| incomplete(&subject, "CreateTargetGroup", "an id"))?
        .to_string();
    let (s, i) = (subject.as_str(), id.as_str());
    if out.status() != Some(&TargetGroupStatus::Active) {
        wait::until_active(&op.progress, s, || async move { Ok(status(get(client, s, i).await?.as_ref())) }).await?;
    }
    Ok(Applied {
        id,
        outputs: outputs(out.arn(), Some(&op.name)),
    })
}

/// One GetTargetGroup per item: the List summary has no health check.
pub(super) async fn read(
    client: &Client,
    _cx: &Refresh<'_>,
    items: &[ReadItem],
) -> Result<Vec<ReadResult>, ProviderError> {
    let mut results = Vec::with_capacity(items.len());
    for item in items {
        let got = get(client, &item.address.to_string(), &item.id).await?;
        results.push(match got {
            None => ReadResult::Gone,
            Some(t) if t.status() == Some(&TargetGroupStatus::DeleteInProgress) => ReadResult::Gone,
            Some(t) => {
                let mut args = Map::new();
                args.insert(
                    "type".into(),
                    json!(t.r#type().map_or("IP", TargetGroupType::as_str)),
                );
                if let Some(c) = t.config() {
                    args.insert("config".into(), observed_config(&item.args, c));
                }
                ReadResult::Found {
                    args,
                    outputs: outputs(t.arn(), t.name()),
                }
            }
        });
    }
    Ok(results)
}

pub(super) async fn update(client: &Client, op: &UpdateOp) -> Result<Applied, ProviderError> {
    let subject = op.address.to_string();
    let before: TargetGroupArgs = parse(&op.before, &subject)?;
    let after: TargetGroupArgs = parse(&op.after, &subject)?;
    let arn = op.recorded("arn");
    tagging::update(client, &subject, arn, &before.tags, &after.tags).await?;
    Ok(op.unchanged())
}

/// DeleteTargetGroup is asynchronous: waits until GetTargetGroup says it is
/// gone. Lattice refuses it while a listener still forwards to the group.
pub(super) async fn delete(client: &Client, op: &DeleteOp) -> Result<(), ProviderError> {
    let subject = op.address.to_string();
    let sent = client
        .delete_target_group()
        .target_group_identifier(&op.id)
        .send()
        .await
        .or_fail(&subject, "vpc-lattice:DeleteTargetGroup");
    let s = subject.as_str();
    wait::deleted(&op.progress, s, sent, || async move {
        Ok(status(get(client, s, &op.id).await?.as_ref()))
    })
    .await
}

pub(super) async fn adopt(
    client: &Client,
    op: &CreateOp,
) -> Result<Option<Applied>, ProviderError> {
    let subject = op.address.to_string();
    let all: Vec<_> = client
        .list_target_groups()
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .or_fail(&subject, "vpc-lattice:ListTargetGroups")?;
    let candidates = all
        .iter()
        .filter(|t| t.name() == Some(op.name.as_str()))
        .map(|t| (t.id(), t.arn(), outputs(t.arn(), t.name())))
        .collect();
    tagging::adopt_owned(client, op, candidates).await
}
