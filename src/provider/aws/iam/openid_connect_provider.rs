//! `aws.iam.openid_connect_provider`: an OIDC identity provider (an EKS
//! cluster's issuer, for IRSA); id: its ARN.

use aws_sdk_iam::Client;
use aws_sdk_iam::operation::get_open_id_connect_provider::GetOpenIdConnectProviderOutput;
use payrun_derive::Args;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{from_aws, to_aws};
use crate::provider::aws::call::{found, gone_is_ok, incomplete, parse};
use crate::provider::aws::refresh::Refresh;
use crate::provider::aws::error::AwsResultExt;
use crate::provider::aws::observed::Observed;
use crate::provider::aws::tags::{self, Tags};
use crate::provider::schema::{KindSchema, validate_as};
use crate::provider::{Applied, CreateOp, DeleteOp, ProviderError, ReadItem, ReadResult, UpdateOp};

#[derive(Deserialize, Args)]
#[serde(deny_unknown_fields)]
#[arg(kind = "aws.iam.openid_connect_provider")]
struct OidcArgs {
    #[arg(force_new)]
    url: String,
    client_ids: Vec<String>,
    #[serde(default)]
    thumbprints: Vec<String>,
    #[serde(default)]
    tags: Tags,
}

pub(super) const SCHEMA: KindSchema = KindSchema {
    kind: OidcArgs::KIND,
    name_prefix: "oidc",
    name_max: 255,
    taggable: true,
    named_by_arg: false,
    create_before_destroy: false,
    args: OidcArgs::SPECS,
    outputs: &["arn", "issuer_host"],
    validate: &validate_as::<OidcArgs>,
    reads_each: Some("one GetOpenIDConnectProvider per provider: IAM lists providers without their settings"),
    doc: "An OIDC identity provider: `url` (https://...), `client_ids` (e.g. [\"sts.amazonaws.com\"]), `thumbprints`. Output `issuer_host`: the url without `https://`.",
};

fn host(url: &str) -> &str {
    url.strip_prefix("https://").unwrap_or(url)
}

fn outputs(arn: &str, url: &str) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("arn".into(), json!(arn));
    m.insert("issuer_host".into(), json!(host(url)));
    m
}

async fn get(
    iam: &Client,
    subject: &str,
    arn: &str,
) -> Result<Option<GetOpenIdConnectProviderOutput>, ProviderError> {
    found(
        iam.get_open_id_connect_provider()
            .open_id_connect_provider_arn(arn)
            .send()
            .await
            .or_fail(subject, "iam:GetOpenIDConnectProvider"),
    )
}

pub(super) async fn create(iam: &Client, op: &CreateOp) -> Result<Applied, ProviderError> {
    let subject = op.address.to_string();
    let args: OidcArgs = parse(&op.args, &subject)?;
    let out = iam
        .create_open_id_connect_provider()
        .url(&args.url)
        .set_client_id_list(Some(args.client_ids))
        .set_thumbprint_list((!args.thumbprints.is_empty()).then_some(args.thumbprints))
        .set_tags(Some(to_aws(&args.tags)))
        .send()
        .await
        .or_fail(&subject, "iam:CreateOpenIDConnectProvider")?;
    let arn = out
        .open_id_connect_provider_arn()
        .ok_or_else(|| incomplete(&subject, "CreateOpenIDConnectProvider", "an ARN"))?;
    Ok(Applied {
        id: arn.to_string(),
        outputs: outputs(arn, &args.url),
    })
}

/// IAM has no batched GetOpenIDConnectProvider: one call per provider.
pub(super) async fn read(
    iam: &Client,
    _cx: &Refresh<'_>,
    items: &[ReadItem],
) -> Result<Vec<ReadResult>, ProviderError> {
    let mut results = Vec::with_capacity(items.len());
    for item in items {
        let Some(p) = get(iam, SCHEMA.kind, &item.id).await? else {
            results.push(ReadResult::Gone);
            continue;
        };
        let live_url = p.url().unwrap_or_default();
        let url = match item.args.get("url").and_then(Value::as_str) {
            Some(w) if host(w) == host(live_url) => w.to_string(),
            _ => format!("https://{}", host(live_url)),
        };
        results.push(ReadResult::Found {
            args: Observed::new(&item.args)
                .set("url", url.clone())
                .set_list("client_ids", p.client_id_list().to_vec())
                .set_list("thumbprints", p.thumbprint_list().to_vec())
                .tags(&from_aws(p.tags()))
                .finish(),
            outputs: outputs(&item.id, &url),
        });
    }
    Ok(results)
}

pub(super) async fn update(iam: &Client, op: &UpdateOp) -> Result<Applied, ProviderError> {
    let subject = op.address.to_string();
    let before: OidcArgs = parse(&op.before, &subject)?;
    let after: OidcArgs = parse(&op.after, &subject)?;
    for id in after
        .client_ids
        .iter()
        .filter(|c| !before.client_ids.contains(c))
    {
        iam.add_client_id_to_open_id_connect_provider()
            .open_id_connect_provider_arn(&op.id)
            .client_id(id)
            .send()
            .await
            .or_fail(&subject, "iam:AddClientIDToOpenIDConnectProvider")?;
    }
    for id in before
        .client_ids
        .iter()
        .filter(|c| !after.client_ids.contains(c))
    {
        iam.remove_client_id_from_open_id_connect_provider()
            .open_id_connect_provider_arn(&op.id)
            .client_id(id)
            .send()
            .await
            .or_fail(&subject, "iam:RemoveClientIDFromOpenIDConnectProvider")?;
    }
    if before.thumbprints != after.thumbprints {
        iam.update_open_id_connect_provider_thumbprint()
            .open_id_connect_provider_arn(&op.id)
            .set_thumbprint_list(Some(after.thumbprints))
            .send()
            .await
            .or_fail(&subject, "iam:UpdateOpenIDConnectProviderThumbprint")?;
    }
    tags::reconcile(
        &subject,
        &before.tags,
        &after.tags,
        ("iam:UntagOpenIDConnectProvider", |keys| {
            iam.untag_open_id_connect_provider()
                .open_id_connect_provider_arn(&op.id)
                .set_tag_keys(Some(keys))
                .send()
        }),
        ("iam:TagOpenIDConnectProvider", |tags| {
            iam.tag_open_id_connect_provider()
                .open_id_connect_provider_arn(&op.id)
                .set_tags(Some(to_aws(&tags)))
                .send()
        }),
    )
    .await?;
    Ok(op.unchanged())
}

pub(super) async fn delete(iam: &Client, op: &DeleteOp) -> Result<(), ProviderError> {
    gone_is_ok(
        iam.delete_open_id_connect_provider()
            .open_id_connect_provider_arn(&op.id)
            .send()
            .await
            .map(drop)
            .or_fail(&op.address.to_string(), "iam:DeleteOpenIDConnectProvider"),
    )
}

/// IAM allows one provider per issuer URL in an account: the one listed for
/// this URL and tagged for this address is the one an interrupted create
/// made.
pub(super) async fn adopt(iam: &Client, op: &CreateOp) -> Result<Option<Applied>, ProviderError> {
    let subject = op.address.to_string();
    let args: OidcArgs = parse(&op.args, &subject)?;
    let list = iam
        .list_open_id_connect_providers()
        .send()
        .await
        .or_fail(&subject, "iam:ListOpenIDConnectProviders")?;
    for entry in list.open_id_connect_provider_list() {
        let Some(arn) = entry.arn() else { continue };
        if !arn.ends_with(host(&args.url)) {
            continue;
        }
        if let Some(p) = get(iam, &subject, arn).await?
            && tags::owns(&from_aws(p.tags()), &op.stack, &subject)
        {
            return Ok(Some(Applied {
                id: arn.to_string(),
                outputs: outputs(arn, &args.url),
            }));
        }
    }
    Ok(None)
}
