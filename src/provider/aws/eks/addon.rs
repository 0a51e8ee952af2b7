//! `aws.eks.addon`: an EKS-managed add-on (CoreDNS, the EBS CSI driver...).
//! An unpinned version resolves to EKS's default for the cluster's
//! Kubernetes version; `configuration_values` is written as a map and sent
//! as JSON.

use aws_sdk_eks::Client;
use aws_sdk_eks::types::{Addon, AddonStatus, ResolveConflicts};
use payrun_derive::Args;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{
    SETTLE_TIMEOUT, found, owned_by, tags_from, until_gone, until_update_done, update_tags,
    while_in_use,
};
use crate::provider::aws::call::{incomplete, parse};
use crate::provider::aws::refresh::Refresh;
use crate::provider::aws::error::AwsResultExt;
use crate::provider::aws::observed::Observed;
use crate::provider::aws::tags::Tags;
use crate::provider::aws::wait::{self, Poll};
use crate::provider::schema::{KindSchema, validate_as};
use crate::provider::{
    Applied, CreateOp, DeleteOp, ProgressFn, ProviderError, ReadItem, ReadResult, UpdateOp,
};

#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
enum Conflicts {
    #[default]
    Overwrite,
    None,
    Preserve,
}

impl From<Conflicts> for ResolveConflicts {
    fn from(c: Conflicts) -> Self {
        match c {
            Conflicts::Overwrite => ResolveConflicts::Overwrite,
            Conflicts::None => ResolveConflicts::None,
            Conflicts::Preserve => ResolveConflicts::Preserve,
        }
    }
}

#[derive(Deserialize, Args)]
#[serde(deny_unknown_fields)]
#[arg(kind = "aws.eks.addon")]
pub(crate) struct AddonArgs {
    #[serde(rename = "cluster")]
    #[arg(force_new, formerly = "cluster_name")]
    pub(crate) cluster_name: String,
    #[arg(force_new)]
    pub(crate) addon_name: String,
    /// Pinned version; when absent, EKS's default for the cluster version.
    #[serde(default)]
    pub(crate) addon_version: Option<String>,
    /// The Kubernetes version of the cluster as the program declares it:
    /// when it changes, an unpinned add-on moves to EKS's default for the
    /// new version. Compared by the plan, never sent.
    #[serde(default)]
    #[allow(dead_code)]
    #[arg(explained = follows_cluster)]
    pub(crate) cluster_version: Option<String>,
    #[serde(default)]
    #[arg(default = "\"OVERWRITE\"")]
    resolve_conflicts: Conflicts,
    #[serde(default)]
    pub(crate) configuration_values: Option<Map<String, Value>>,
    #[serde(default)]
    #[serde(rename = "service_account_role")]
    #[arg(takes = "arn", formerly = "service_account_role")]
    pub(crate) service_account_role_arn: Option<String>,
    #[serde(default)]
    pub(crate) tags: Tags,
}

pub(super) const SCHEMA: KindSchema = KindSchema {
    kind: AddonArgs::KIND,
    name_prefix: "addon",
    name_max: 100,
    taggable: true,
    named_by_arg: false,
    create_before_destroy: false,
    args: AddonArgs::SPECS,
    outputs: &["arn", "addon_version"],
    validate: &validate_as::<AddonArgs>,
    reads_each: Some("one DescribeAddon per add-on: EKS has no batched describe"),
    doc: "An EKS add-on: `cluster`, `addon_name`, `addon_version` (default: EKS's default for the cluster version), `cluster_version` (the cluster's declared version: a change moves an unpinned add-on to the new default), `resolve_conflicts` (OVERWRITE), `configuration_values` (a map), `service_account_role`.",
};

/// The plan's note on a change of `cluster_version`.
fn follows_cluster(_before: &Value, after: &Value) -> Option<String> {
    Some(format!(
        "moves to EKS's default version of the add-on for Kubernetes {} unless `addon_version` pins one",
        after.as_str()?
    ))
}

fn outputs(a: &Addon) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("arn".into(), json!(a.addon_arn().unwrap_or_default()));
    m.insert(
        "addon_version".into(),
        json!(a.addon_version().unwrap_or_default()),
    );
    m
}

fn config_json(a: &AddonArgs) -> Option<String> {
    a.configuration_values
        .as_ref()
        .map(|m| Value::Object(m.clone()).to_string())
}

/// The version to install: the pinned one, else EKS's default for the
/// cluster's Kubernetes version.
async fn resolve_version(
    eks: &Client,
    subject: &str,
    a: &AddonArgs,
) -> Result<String, ProviderError> {
    if let Some(v) = &a.addon_version {
        return Ok(v.clone());
    }
    let cluster = eks
        .describe_cluster()
        .name(&a.cluster_name)
        .send()
        .await
        .or_fail(subject, "eks:DescribeCluster")?;
    let k8s = cluster
        .cluster()
        .and_then(|c| c.version())
        .ok_or_else(|| incomplete(subject, "DescribeCluster", "a Kubernetes version"))?
        .to_string();
    versions(eks, subject, &a.addon_name, &k8s)
        .await?
        .into_iter()
        .find(|(_, default)| *default)
        .map(|(v, _)| v)
        .ok_or_else(|| {
            ProviderError::new(format!(
                "{subject}: EKS offers no default version of the `{}` add-on for Kubernetes {k8s}",
                a.addon_name
            ))
            .with_code("NoAddonVersion")
            .with_fix(format!(
                "pin `addon_version` (`aws eks describe-addon-versions --addon-name {} --kubernetes-version {k8s}` lists them)",
                a.addon_name
            ))
        })
}

/// The versions of an add-on EKS offers for Kubernetes `k8s`, in EKS's
/// order (newest first), each with whether it is the default there.
async fn versions(
    eks: &Client,
    subject: &str,
    addon: &str,
    k8s: &str,
) -> Result<Vec<(String, bool)>, ProviderError> {
    let out = eks
        .describe_addon_versions()
        .addon_name(addon)
        .kubernetes_version(k8s)
        .send()
        .await
        .or_fail(subject, "eks:DescribeAddonVersions")?;
    Ok(out
        .addons()
        .iter()
        .filter(|info| info.addon_name() == Some(addon))
        .flat_map(|info| info.addon_versions())
        .filter_map(|v| {
            let compatible = v
                .compatibilities()
                .iter()
                .find(|c| c.cluster_version() == Some(k8s))?;
            Some((v.addon_version()?.to_string(), compatible.default_version()))
        })
        .collect())
}

/// Before a cluster moves from Kubernetes `current` to `next`: every
/// add-on on it runs a version `next` supports, else it moves to one both
/// support (EKS's default for `current` when that is one), so no step
/// leaves an add-on behind. Add-ons keep their configuration; conflicts
/// with fields changed in the cluster are preserved.
pub(super) async fn ready_for(
    eks: &Client,
    progress: &ProgressFn,
    subject: &str,
    cluster: &str,
    current: &str,
    next: &str,
) -> Result<(), ProviderError> {
    let mut names = Vec::new();
    let mut pages = eks
        .list_addons()
        .cluster_name(cluster)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        names.extend(page.or_fail(subject, "eks:ListAddons")?.addons().to_vec());
    }
    for name in names {
        let id = format!("{cluster}:{name}");
        let Some(addon) = describe(eks, subject, &id).await? else {
            continue;
        };
        let running = addon.addon_version().unwrap_or_default().to_string();
        let for_next = versions(eks, subject, &name, next).await?;
        if for_next.iter().any(|(v, _)| *v == running) {
            continue;
        }
        let for_current = versions(eks, subject, &name, current).await?;
        let both: Vec<&(String, bool)> = for_current
            .iter()
            .filter(|(v, _)| for_next.iter().any(|(w, _)| w == v))
            .collect();
        let Some((pick, _)) = both.iter().find(|(_, d)| *d).or(both.first()) else {
            return Err(ProviderError::new(format!(
                "{subject}: the `{name}` add-on runs {running}, which Kubernetes {next} does not support, and EKS offers no version that runs on both {current} and {next}"
            ))
            .with_code("NoAddonVersion")
            .with_fix(format!(
                "aws eks describe-addon-versions --addon-name {name} --kubernetes-version {next}  # pin one of these as the add-on's `addon_version`, apply at {current}, then upgrade"
            )));
        };
        progress(&format!(
            "add-on {name}: {running} → {pick}, ready for Kubernetes {next}"
        ));
        let out = while_in_use(progress, || async {
            eks.update_addon()
                .cluster_name(cluster)
                .addon_name(&name)
                .addon_version(pick)
                .resolve_conflicts(ResolveConflicts::Preserve)
                .send()
                .await
                .or_fail(subject, "eks:UpdateAddon")
        })
        .await?;
        if let Some(update) = out.update().and_then(|u| u.id()) {
            until_update_done(eks, progress, subject, cluster, Some(&name), update).await?;
        }
        until_active(eks, progress, subject, &id).await?;
    }
    Ok(())
}

fn split(id: &str) -> (&str, &str) {
    id.split_once(':').unwrap_or(("", id))
}

async fn describe(eks: &Client, subject: &str, id: &str) -> Result<Option<Addon>, ProviderError> {
    let (cluster, name) = split(id);
    found(
        eks.describe_addon()
            .cluster_name(cluster)
            .addon_name(name)
            .send()
            .await
            .or_fail(subject, "eks:DescribeAddon"),
    )
    .map(|o| o.and_then(|o| o.addon().cloned()))
}

async fn until_active(
    eks: &Client,
    progress: &ProgressFn,
    subject: &str,
    id: &str,
) -> Result<Addon, ProviderError> {
    wait::until(progress, subject, SETTLE_TIMEOUT, || async {
        let Some(a) = describe(eks, subject, id).await? else {
            return Ok(Poll::Pending("not visible yet".into()));
        };
        match a.status() {
            Some(AddonStatus::Active) => Ok(Poll::Ready(a)),
            Some(AddonStatus::CreateFailed | AddonStatus::UpdateFailed | AddonStatus::Degraded) => {
                let why: Vec<String> = a
                    .health()
                    .map(|h| {
                        h.issues()
                            .iter()
                            .map(|i| i.message().unwrap_or_default().to_string())
                            .collect()
                    })
                    .unwrap_or_default();
                Err(ProviderError::new(format!(
                    "{subject}: add-on {id} is {}: {}",
                    a.status().map_or("", AddonStatus::as_str),
                    why.join("; ")
                ))
                .with_code("AddonFailed")
                .with_fix("on a Fargate-only cluster, add-ons need a Fargate profile for their namespace (kube-system) and CoreDNS needs `configuration_values: #{ computeType: \"Fargate\" }`"))
            }
            other => Ok(Poll::Pending(
                other.map_or("UNKNOWN", AddonStatus::as_str).to_string(),
            )),
        }
    })
    .await
}

pub(super) async fn create(eks: &Client, op: &CreateOp) -> Result<Applied, ProviderError> {
    let subject = op.address.to_string();
    let a: AddonArgs = parse(&op.args, &subject)?;
    let version = resolve_version(eks, &subject, &a).await?;
    eks.create_addon()
        .cluster_name(&a.cluster_name)
        .addon_name(&a.addon_name)
        .addon_version(&version)
        .resolve_conflicts(a.resolve_conflicts.into())
        .set_configuration_values(config_json(&a))
        .set_service_account_role_arn(a.service_account_role_arn.clone())
        .set_tags(Some(a.tags.clone().into_iter().collect()))
        .client_request_token(&op.token)
        .send()
        .await
        .or_fail(&subject, "eks:CreateAddon")?;
    let id = format!("{}:{}", a.cluster_name, a.addon_name);
    let live = until_active(eks, &op.progress, &subject, &id).await?;
    Ok(Applied {
        id,
        outputs: outputs(&live),
    })
}

/// One DescribeAddon per add-on: EKS has no batch describe.
pub(super) async fn read(
    eks: &Client,
    _cx: &Refresh<'_>,
    items: &[ReadItem],
) -> Result<Vec<ReadResult>, ProviderError> {
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let Some(a) = describe(eks, SCHEMA.kind, &item.id).await? else {
            out.push(ReadResult::Gone);
            continue;
        };
        if a.status() == Some(&AddonStatus::Deleting) {
            out.push(ReadResult::Gone);
            continue;
        }
        let pinned = item.args.get("addon_version").is_some_and(|v| !v.is_null());
        let config = a
            .configuration_values()
            .filter(|c| !c.is_empty())
            .and_then(|c| serde_json::from_str::<Value>(c).ok());
        let mut observed = Observed::new(&item.args);
        observed
            .set("cluster", a.cluster_name().unwrap_or_default())
            .set("addon_name", a.addon_name().unwrap_or_default())
            .maybe("configuration_values", config)
            .maybe("service_account_role", a.service_account_role_arn())
            .tags(&tags_from(a.tags()));
        if pinned {
            observed.maybe("addon_version", a.addon_version());
        }
        out.push(ReadResult::Found {
            args: observed.finish(),
            outputs: outputs(&a),
        });
    }
    Ok(out)
}

pub(super) async fn update(eks: &Client, op: &UpdateOp) -> Result<Applied, ProviderError> {
    let subject = op.address.to_string();
    let before: AddonArgs = parse(&op.before, &subject)?;
    let after: AddonArgs = parse(&op.after, &subject)?;
    let (cluster, name) = split(&op.id);
    let settings = [
        "addon_version",
        "cluster_version",
        "resolve_conflicts",
        "configuration_values",
        "service_account_role",
    ];
    if op.changed.iter().any(|c| settings.contains(&c.as_str())) {
        let version = resolve_version(eks, &subject, &after).await?;
        let out = eks
            .update_addon()
            .cluster_name(cluster)
            .addon_name(name)
            .addon_version(version)
            .resolve_conflicts(after.resolve_conflicts.into())
            .configuration_values(config_json(&after).unwrap_or_default())
            .set_service_account_role_arn(after.service_account_role_arn.clone())
            .send()
            .await
            .or_fail(&subject, "eks:UpdateAddon")?;
        if let Some(id) = out.update().and_then(|u| u.id()) {
            until_update_done(eks, &op.progress, &subject, cluster, Some(name), id).await?;
        }
    }
    let live = until_active(eks, &op.progress, &subject, &op.id).await?;
    if op.changed.iter().any(|c| c == "tags") {
        update_tags(
            eks,
            &subject,
            live.addon_arn().unwrap_or_default(),
            &before.tags,
            &after.tags,
        )
        .await?;
    }
    Ok(Applied {
        id: op.id.clone(),
        outputs: outputs(&live),
    })
}

pub(super) async fn delete(eks: &Client, op: &DeleteOp) -> Result<(), ProviderError> {
    let subject = op.address.to_string();
    let (cluster, name) = split(&op.id);
    let sent = eks
        .delete_addon()
        .cluster_name(cluster)
        .addon_name(name)
        .send()
        .await
        .or_fail(&subject, "eks:DeleteAddon");
    until_gone(
        &op.progress,
        &subject,
        sent,
        || describe(eks, &subject, &op.id),
        |a| a.status().map_or("UNKNOWN", AddonStatus::as_str),
    )
    .await
}

/// An add-on is addressed by its cluster and name: one carrying our tags is
/// what an interrupted create made.
pub(super) async fn adopt(eks: &Client, op: &CreateOp) -> Result<Option<Applied>, ProviderError> {
    let subject = op.address.to_string();
    let a: AddonArgs = parse(&op.args, &subject)?;
    let id = format!("{}:{}", a.cluster_name, a.addon_name);
    let Some(live) = describe(eks, &subject, &id).await? else {
        return Ok(None);
    };
    if !owned_by(live.tags(), &op.stack, &subject) {
        return Ok(None);
    }
    let live = until_active(eks, &op.progress, &subject, &id).await?;
    Ok(Some(Applied {
        id,
        outputs: outputs(&live),
    }))
}
