//! `aws.vpclattice.service`: a service clients reach by its Lattice DNS
//! name; listeners route its traffic to target groups.

use aws_sdk_vpclattice::Client;
use aws_sdk_vpclattice::types::{DnsEntry, ServiceStatus};
use payrun_derive::Args;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{AuthType, found, incomplete, parse, tagging, wait};
use crate::provider::aws::error::AwsResultExt;
use crate::provider::aws::refresh::Refresh;
use crate::provider::aws::tags::Tags;
use crate::provider::schema::{KindSchema, validate_as};
use crate::provider::{
    Applied, CreateOp, DeleteOp, ProgressFn, ProviderError, ReadItem, ReadResult, UpdateOp,
};

#[derive(Deserialize, Args)]
#[serde(deny_unknown_fields)]
#[arg(kind = "aws.vpclattice.service")]
struct ServiceArgs {
    #[serde(default)]
    #[arg(default = "\"NONE\"")]
    auth_type: AuthType,
    #[serde(default)]
    tags: Tags,
}

pub(super) const SCHEMA: KindSchema = KindSchema {
    kind: ServiceArgs::KIND,
    name_prefix: "svc",
    name_max: 40,
    taggable: true,
    named_by_arg: false,
    create_before_destroy: false,
    args: ServiceArgs::SPECS,
    outputs: &["arn", "name", "dns_name"],
    validate: &validate_as::<ServiceArgs>,
    reads_each: Some("one GetService per service: Lattice lists them without their auth type (the stack's unrecorded services come from one read of the stack's tags)"),
    doc: "A VPC Lattice service; `auth_type` NONE (default) or AWS_IAM; outputs `arn` and `dns_name`.",
};

fn outputs(arn: Option<&str>, name: Option<&str>, dns: Option<&DnsEntry>) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("arn".into(), json!(arn.unwrap_or_default()));
    m.insert("name".into(), json!(name.unwrap_or_default()));
    m.insert(
        "dns_name".into(),
        json!(dns.and_then(DnsEntry::domain_name).unwrap_or_default()),
    );
    m
}

async fn status(client: &Client, subject: &str, id: &str) -> Result<Option<String>, ProviderError> {
    let got = found(
        client
            .get_service()
            .service_identifier(id)
            .send()
            .await
            .or_fail(subject, "vpc-lattice:GetService"),
    )?;
    Ok(got.map(|s| {
        s.status()
            .map_or("UNKNOWN", ServiceStatus::as_str)
            .to_string()
    }))
}

async fn wait_active(
    client: &Client,
    progress: &ProgressFn,
    subject: &str,
    id: &str,
) -> Result<(), ProviderError> {
    wait::until_active(progress, subject, || status(client, subject, id)).await
}

pub(super) async fn create(client: &Client, op: &CreateOp) -> Result<Applied, ProviderError> {
    let subject = op.address.to_string();
    let args: ServiceArgs = parse(&op.args, &subject)?;
    let out = client
        .create_service()
        .name(&op.name)
        .auth_type(args.auth_type.to_aws())
        .client_token(&op.token)
        .set_tags(tagging::to_aws(&args.tags))
        .send()
        .await
        .or_fail(&subject, "vpc-lattice:CreateService")?;
    let id = out
        .id()
        .ok_or_else(|| incomplete(&subject, "CreateService", "an id"))?
        .to_string();
    if out.status() != Some(&ServiceStatus::Active) {
        wait_active(client, &op.progress, &subject, &id).await?;
    }
    Ok(Applied {
        id,
        outputs: outputs(out.arn(), Some(&op.name), out.dns_entry()),
    })
}

/// One GetService per item: the List summary has no auth type.
pub(super) async fn read(
    client: &Client,
    cx: &Refresh<'_>,
    items: &[ReadItem],
) -> Result<Vec<ReadResult>, ProviderError> {
    super::unrecorded(cx, SCHEMA.kind, items, "service", |id| async move {
        Ok(found(
            client
                .get_service()
                .service_identifier(&id)
                .send()
                .await
                .or_fail(SCHEMA.kind, "vpc-lattice:GetService"),
        )?
        .is_some_and(|s| s.status() != Some(&ServiceStatus::DeleteInProgress)))
    })
    .await?;
    let mut results = Vec::with_capacity(items.len());
    for item in items {
        let got = found(
            client
                .get_service()
                .service_identifier(&item.id)
                .send()
                .await
                .or_fail(&item.address.to_string(), "vpc-lattice:GetService"),
        )?;
        results.push(match got {
            None => ReadResult::Gone,
            Some(s) if s.status() == Some(&ServiceStatus::DeleteInProgress) => ReadResult::Gone,
            Some(s) => {
                let mut args = Map::new();
                let auth = s.auth_type().map_or("NONE", |a| a.as_str());
                if item.args.get("auth_type").is_some_and(|v| !v.is_null()) || auth != "NONE" {
                    args.insert("auth_type".into(), json!(auth));
                }
                ReadResult::Found {
                    args,
                    outputs: outputs(s.arn(), s.name(), s.dns_entry()),
                }
            }
        });
    }
    Ok(results)
}

pub(super) async fn update(client: &Client, op: &UpdateOp) -> Result<Applied, ProviderError> {
    let subject = op.address.to_string();
    let before: ServiceArgs = parse(&op.before, &subject)?;
    let after: ServiceArgs = parse(&op.after, &subject)?;
    if before.auth_type != after.auth_type {
        client
            .update_service()
            .service_identifier(&op.id)
            .auth_type(after.auth_type.to_aws())
            .send()
            .await
            .or_fail(&subject, "vpc-lattice:UpdateService")?;
    }
    let arn = op.recorded("arn");
    tagging::update(client, &subject, arn, &before.tags, &after.tags).await?;
    Ok(op.unchanged())
}

/// DeleteService is asynchronous: waits until GetService says it is gone.
pub(super) async fn delete(client: &Client, op: &DeleteOp) -> Result<(), ProviderError> {
    let subject = op.address.to_string();
    let sent = client
        .delete_service()
        .service_identifier(&op.id)
        .send()
        .await
        .or_fail(&subject, "vpc-lattice:DeleteService");
    wait::deleted(&op.progress, &subject, sent, || {
        status(client, &subject, &op.id)
    })
    .await
}

pub(super) async fn adopt(
    client: &Client,
    op: &CreateOp,
) -> Result<Option<Applied>, ProviderError> {
    let subject = op.address.to_string();
    let all: Vec<_> = client
        .list_services()
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .or_fail(&subject, "vpc-lattice:ListServices")?;
    let candidates = all
        .iter()
        .filter(|s| s.name() == Some(op.name.as_str()))
        .map(|s| (s.id(), s.arn(), outputs(s.arn(), s.name(), s.dns_entry())))
        .collect();
    tagging::adopt_owned(client, op, candidates).await
}
