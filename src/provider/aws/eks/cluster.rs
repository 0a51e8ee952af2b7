//! `aws.eks.cluster`: an EKS control plane with private endpoint access,
//! every control-plane log type and envelope encryption of secrets. Create,
//! upgrade, configuration changes and delete wait until EKS has settled,
//! reporting progress (a create takes 10 to 15 minutes).

use aws_sdk_eks::Client;
use aws_sdk_eks::types::{
    AuthenticationMode, BlockStorage, Cluster, ClusterStatus, ComputeConfigRequest,
    CreateAccessConfigRequest, ElasticLoadBalancing, EncryptionConfig,
    KubernetesNetworkConfigRequest, LogSetup, LogType, Logging, Provider, StorageConfigRequest,
    UpdateAccessConfigRequest, VpcConfigRequest,
};
use payrun_derive::Args;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{
    SETTLE_TIMEOUT, found, owned_by, tags_from, until_gone, until_update_done, update_tags,
    while_in_use,
};
use crate::eks_versions::{describe_path, upgrade_path};
use crate::provider::aws::refresh::Refresh;
use crate::provider::aws::call::{incomplete, parse};
use crate::provider::aws::error::AwsResultExt;
use crate::provider::aws::observed::Observed;
use crate::provider::aws::tags::Tags;
use crate::provider::aws::wait::{self, Poll};
use crate::provider::schema::{KindSchema, validate_as};
use crate::provider::{
    Applied, CreateOp, DeleteOp, ProgressFn, ProviderError, ReadItem, ReadResult, UpdateOp,
};

const ALL_LOG_TYPES: [&str; 5] = [
    "api",
    "audit",
    "authenticator",
    "controllerManager",
    "scheduler",
];

fn yes() -> bool {
    true
}

fn all_log_types() -> Vec<String> {
    ALL_LOG_TYPES.iter().map(ToString::to_string).collect()
}

/// The node pools EKS Auto Mode builds in.
const BUILT_IN_POOLS: [&str; 2] = ["general-purpose", "system"];

fn built_in_pools() -> Vec<String> {
    BUILT_IN_POOLS.iter().map(ToString::to_string).collect()
}

/// How a cluster authenticates, from the oldest to the newest; EKS moves a
/// cluster only forward along it.
pub(crate) const AUTHENTICATION_MODES: [&str; 3] = ["CONFIG_MAP", "API_AND_CONFIG_MAP", "API"];

/// EKS Auto Mode: EKS runs the cluster's nodes, their block storage and
/// its load balancers.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub(crate) struct AutoMode {
    /// The IAM role the nodes run as (trusting ec2.amazonaws.com, with
    /// AmazonEKSWorkerNodeMinimalPolicy and
    /// AmazonEC2ContainerRegistryPullOnly). EKS does not let it change
    /// once Auto Mode is on.
    #[serde(rename = "node_role")]
    pub(crate) node_role_arn: String,
    /// The built-in node pools to run: `general-purpose` and `system`
    /// unless given.
    #[serde(default = "built_in_pools")]
    pub(crate) node_pools: Vec<String>,
}

#[derive(Deserialize, Args)]
#[serde(deny_unknown_fields)]
#[arg(kind = "aws.eks.cluster")]
pub(crate) struct ClusterArgs {
    /// Kubernetes minor version, `1.31`.
    #[arg(explained = upgrade_note)]
    pub(crate) version: String,
    #[serde(rename = "role")]
    #[arg(force_new, takes = "arn", formerly = "role_arn")]
    role_arn: String,
    #[serde(rename = "subnets")]
    #[arg(force_new, formerly = "subnet_ids")]
    subnet_ids: Vec<String>,
    #[serde(default)]
    #[serde(rename = "security_groups")]
    #[arg(force_new, formerly = "security_group_ids")]
    security_group_ids: Vec<String>,
    #[serde(default = "yes")]
    #[arg(default = "true")]
    endpoint_private_access: bool,
    #[serde(default)]
    pub(crate) endpoint_public_access: bool,
    /// Where the public endpoint answers from; required with public access,
    /// so it is never open to the whole internet by default.
    #[serde(default)]
    pub(crate) public_access_cidrs: Vec<String>,
    #[serde(default = "all_log_types")]
    pub(crate) enabled_log_types: Vec<String>,
    #[serde(default)]
    /// The KMS key (ARN) Kubernetes secrets are envelope-encrypted with.
    #[arg(force_new, takes = "arn", formerly = "secrets_kms_key_arn")]
    pub(crate) kms_key: Option<String>,
    /// EKS Auto Mode, `#{ node_role: role }`: EKS runs the nodes (compute),
    /// their EBS volumes (block storage) and the load balancer controller
    /// (load balancing), all three together; no Fargate profile or
    /// self-installed controller is needed. Needs `authentication_mode`
    /// `API` or `API_AND_CONFIG_MAP` and Kubernetes 1.29 or later.
    #[serde(default)]
    pub(crate) auto_mode: Option<AutoMode>,
    /// `API` (access entries only), `API_AND_CONFIG_MAP`, or `CONFIG_MAP`
    /// (the deprecated aws-auth ConfigMap). A cluster moves only forward,
    /// in place.
    #[serde(default)]
    #[arg(default = r#""CONFIG_MAP""#)]
    pub(crate) authentication_mode: Option<String>,
    /// Make whoever creates the cluster its administrator through an access
    /// entry. Fixed at create.
    #[serde(default)]
    #[arg(force_new, default = "true")]
    pub(crate) bootstrap_creator_admin: Option<bool>,
    #[serde(default)]
    tags: Tags,
}

fn validate(args: &Value) -> Result<(), crate::provider::ArgError> {
    validate_as::<ClusterArgs>(args)?;
    let a: ClusterArgs = serde_json::from_value(args.clone()).map_err(|e| e.to_string())?;
    if a.endpoint_public_access && a.public_access_cidrs.is_empty() {
        return Err("`public_access_cidrs`: required when `endpoint_public_access` is true (the CIDRs allowed to reach the public endpoint)".into());
    }
    if !a.endpoint_public_access && !a.public_access_cidrs.is_empty() {
        return Err(
            "`public_access_cidrs`: only meaningful with `endpoint_public_access: true`".into(),
        );
    }
    if !a.endpoint_private_access && !a.endpoint_public_access {
        return Err("`endpoint_private_access`: at least one of private and public endpoint access must be on".into());
    }
    if let Some(mode) = &a.authentication_mode
        && !AUTHENTICATION_MODES.contains(&mode.as_str())
    {
        return Err(crate::provider::ArgError::new(
            format!("`authentication_mode`: unknown mode `{mode}`"),
            format!("use one of {}", AUTHENTICATION_MODES.join(", ")),
        ));
    }
    if let Some(auto) = &a.auto_mode {
        if a.authentication_mode.as_deref().unwrap_or("CONFIG_MAP") == "CONFIG_MAP" {
            return Err(crate::provider::ArgError::new(
                "`auto_mode` needs access entries, which `authentication_mode` CONFIG_MAP (EKS's default) does not have",
                "add `authentication_mode: \"API\"`",
            ));
        }
        if let Some(p) = auto.node_pools.iter().find(|p| !BUILT_IN_POOLS.contains(&p.as_str())) {
            return Err(crate::provider::ArgError::new(
                format!("`auto_mode.node_pools`: `{p}` is not a built-in node pool"),
                format!("use {} (others are NodePool objects in the cluster)", BUILT_IN_POOLS.join(", ")),
            ));
        }
        if crate::eks_versions::parse(&a.version).is_some_and(|v| v < (1, 29)) {
            return Err(crate::provider::ArgError::new(
                format!("`auto_mode`: EKS Auto Mode needs Kubernetes 1.29 or later, not {}", a.version),
                "set `version` to 1.29 or later",
            ));
        }
    }
    if let Some(t) = a
        .enabled_log_types
        .iter()
        .find(|t| !ALL_LOG_TYPES.contains(&t.as_str()))
    {
        return Err(format!(
            "`enabled_log_types`: unknown log type `{t}` (one of {})",
            ALL_LOG_TYPES.join(", ")
        )
        .into());
    }
    Ok(())
}

pub(super) const SCHEMA: KindSchema = KindSchema {
    kind: ClusterArgs::KIND,
    name_prefix: "eks",
    name_max: 100,
    taggable: true,
    named_by_arg: false,
    create_before_destroy: false,
    args: ClusterArgs::SPECS,
    outputs: &[
        "arn",
        "endpoint",
        "ca_data",
        "oidc_issuer",
        "oidc_issuer_host",
        "security_group_id",
        "version",
    ],
    validate: &validate,
    reads_each: Some("one DescribeCluster per cluster: EKS has no batched describe"),
    doc: "An EKS cluster: `version`, `role`, `subnets`, `security_groups`, `endpoint_private_access` (true), `endpoint_public_access` with `public_access_cidrs`, `enabled_log_types` (all five by default), `kms_key` (envelope encryption of secrets), `auto_mode` (EKS Auto Mode), `authentication_mode` and `bootstrap_creator_admin` (access entries).",
};

/// The plan's note on a version change: the in-place steps it takes.
fn upgrade_note(before: &Value, after: &Value) -> Option<String> {
    let (from, to) = (before.as_str()?, after.as_str()?);
    let steps = upgrade_path(from, to).ok().filter(|s| !s.is_empty())?;
    let path = describe_path(from, &steps);
    Some(match steps.len() {
        1 => format!(
            "in place, 1 EKS update ({path}) that waits for ACTIVE; before it, the cluster's add-ons move to a version {to} supports"
        ),
        n => format!(
            "in place, {n} EKS updates ({path}), each waiting for ACTIVE; before each, the cluster's add-ons move to a version the next one supports"
        ),
    })
}

fn outputs(c: &Cluster) -> Map<String, Value> {
    let issuer = c
        .identity()
        .and_then(|i| i.oidc())
        .and_then(|o| o.issuer())
        .unwrap_or_default();
    let mut m = Map::new();
    m.insert("arn".into(), json!(c.arn().unwrap_or_default()));
    m.insert("endpoint".into(), json!(c.endpoint().unwrap_or_default()));
    m.insert(
        "ca_data".into(),
        json!(
            c.certificate_authority()
                .and_then(|a| a.data())
                .unwrap_or_default()
        ),
    );
    m.insert("oidc_issuer".into(), json!(issuer));
    m.insert(
        "oidc_issuer_host".into(),
        json!(issuer.strip_prefix("https://").unwrap_or(issuer)),
    );
    m.insert(
        "security_group_id".into(),
        json!(
            c.resources_vpc_config()
                .and_then(|v| v.cluster_security_group_id())
                .unwrap_or_default()
        ),
    );
    m.insert("version".into(), json!(c.version().unwrap_or_default()));
    m
}

fn vpc_config(a: &ClusterArgs, with_network: bool) -> VpcConfigRequest {
    let mut b = VpcConfigRequest::builder()
        .endpoint_private_access(a.endpoint_private_access)
        .endpoint_public_access(a.endpoint_public_access);
    if a.endpoint_public_access {
        b = b.set_public_access_cidrs(Some(a.public_access_cidrs.clone()));
    }
    if with_network {
        b = b
            .set_subnet_ids(Some(a.subnet_ids.clone()))
            .set_security_group_ids(Some(a.security_group_ids.clone()));
    }
    b.build()
}

fn logging(enabled: &[String]) -> Logging {
    let (on, off): (Vec<_>, Vec<_>) = ALL_LOG_TYPES
        .iter()
        .partition(|t| enabled.iter().any(|e| e == *t));
    let setup = |types: Vec<&&str>, enabled: bool| {
        LogSetup::builder()
            .set_types(Some(types.into_iter().map(|t| LogType::from(*t)).collect()))
            .enabled(enabled)
            .build()
    };
    let mut b = Logging::builder();
    if !on.is_empty() {
        b = b.cluster_logging(setup(on, true));
    }
    if !off.is_empty() {
        b = b.cluster_logging(setup(off, false));
    }
    b.build()
}

fn enabled_logs(c: &Cluster) -> Vec<String> {
    let on: Vec<String> = c
        .logging()
        .map(|l| {
            l.cluster_logging()
                .iter()
                .filter(|s| s.enabled() == Some(true))
                .flat_map(|s| s.types().iter().map(|t| t.as_str().to_string()))
                .collect()
        })
        .unwrap_or_default();
    ALL_LOG_TYPES
        .iter()
        .filter(|t| on.iter().any(|o| o == *t))
        .map(ToString::to_string)
        .collect()
}

async fn describe(
    eks: &Client,
    subject: &str,
    name: &str,
) -> Result<Option<Cluster>, ProviderError> {
    found(
        eks.describe_cluster()
            .name(name)
            .send()
            .await
            .or_fail(subject, "eks:DescribeCluster"),
    )
    .map(|o| o.and_then(|o| o.cluster().cloned()))
}

async fn until_active(
    eks: &Client,
    progress: &ProgressFn,
    subject: &str,
    name: &str,
) -> Result<Cluster, ProviderError> {
    wait::until(progress, subject, SETTLE_TIMEOUT, || async {
        let Some(c) = describe(eks, subject, name).await? else {
            return Ok(Poll::Pending("not visible yet".into()));
        };
        match c.status() {
            Some(ClusterStatus::Active) => Ok(Poll::Ready(c)),
            Some(ClusterStatus::Failed) => Err(ProviderError::new(format!(
                "{subject}: cluster {name} failed to create"
            ))
            .with_code("ClusterFailed")
            .with_fix("check the cluster role's trust policy (eks.amazonaws.com) and that the subnets are in at least two availability zones")),
            other => Ok(Poll::Pending(
                other.map_or("UNKNOWN", ClusterStatus::as_str).to_string(),
            )),
        }
    })
    .await
}

pub(super) async fn create(eks: &Client, op: &CreateOp) -> Result<Applied, ProviderError> {
    let subject = op.address.to_string();
    let a: ClusterArgs = parse(&op.args, &subject)?;
    // The API still takes the resource list with the key, though the SDK
    // marks it deprecated now that EKS encrypts all API data by default.
    #[allow(deprecated)]
    let encryption = a.kms_key.as_ref().map(|key| {
        vec![
            EncryptionConfig::builder()
                .resources("secrets")
                .provider(Provider::builder().key_arn(key).build())
                .build(),
        ]
    });
    let access = (a.authentication_mode.is_some() || a.bootstrap_creator_admin.is_some()).then(|| {
        CreateAccessConfigRequest::builder()
            .set_authentication_mode(a.authentication_mode.as_deref().map(AuthenticationMode::from))
            .set_bootstrap_cluster_creator_admin_permissions(a.bootstrap_creator_admin)
            .build()
    });
    let (compute, storage, network) = auto_mode_config(a.auto_mode.as_ref());
    eks.create_cluster()
        .name(&op.name)
        .version(&a.version)
        .role_arn(&a.role_arn)
        .resources_vpc_config(vpc_config(&a, true))
        .logging(logging(&a.enabled_log_types))
        .set_encryption_config(encryption)
        .set_access_config(access)
        .set_compute_config(a.auto_mode.is_some().then_some(compute))
        .set_storage_config(a.auto_mode.is_some().then_some(storage))
        .set_kubernetes_network_config(a.auto_mode.is_some().then_some(network))
        // Auto Mode runs CoreDNS, kube-proxy and the VPC CNI itself; EKS
        // refuses the self-managed ones beside it.
        .set_bootstrap_self_managed_addons(a.auto_mode.is_some().then_some(false))
        .set_tags(Some(a.tags.clone().into_iter().collect()))
        .client_request_token(&op.token)
        .send()
        .await
        .or_fail(&subject, "eks:CreateCluster")?;
    let c = until_active(eks, &op.progress, &subject, &op.name).await?;
    Ok(Applied {
        id: op.name.clone(),
        outputs: outputs(&c),
    })
}

/// The three settings of EKS Auto Mode, which go on or off together:
/// compute (with its node role and pools), block storage, load balancing.
fn auto_mode_config(
    auto: Option<&AutoMode>,
) -> (ComputeConfigRequest, StorageConfigRequest, KubernetesNetworkConfigRequest) {
    let on = auto.is_some();
    let compute = ComputeConfigRequest::builder()
        .enabled(on)
        .set_node_role_arn(auto.map(|a| a.node_role_arn.clone()))
        .set_node_pools(auto.map(|a| a.node_pools.clone()))
        .build();
    let storage = StorageConfigRequest::builder()
        .block_storage(BlockStorage::builder().enabled(on).build())
        .build();
    let network = KubernetesNetworkConfigRequest::builder()
        .elastic_load_balancing(ElasticLoadBalancing::builder().enabled(on).build())
        .build();
    (compute, storage, network)
}

/// Auto Mode as DescribeCluster reports it: on when its compute is.
fn live_auto_mode(c: &Cluster) -> Option<Value> {
    let compute = c.compute_config().filter(|c| c.enabled() == Some(true))?;
    Some(json!({
        "node_role": compute.node_role_arn().unwrap_or_default(),
        "node_pools": compute.node_pools(),
    }))
}

/// One DescribeCluster per cluster: EKS has no batch describe.
pub(super) async fn read(
    eks: &Client,
    _cx: &Refresh<'_>,
    items: &[ReadItem],
) -> Result<Vec<ReadResult>, ProviderError> {
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let Some(c) = describe(eks, SCHEMA.kind, &item.id).await? else {
            out.push(ReadResult::Gone);
            continue;
        };
        if c.status() == Some(&ClusterStatus::Deleting) {
            out.push(ReadResult::Gone);
            continue;
        }
        let vpc = c.resources_vpc_config();
        let public = vpc.is_some_and(|v| v.endpoint_public_access());
        let cidrs: Vec<String> = if public {
            vpc.map(|v| v.public_access_cidrs().to_vec())
                .unwrap_or_default()
        } else {
            Vec::new()
        };
        let key = c
            .encryption_config()
            .iter()
            .find_map(|e| e.provider().and_then(|p| p.key_arn()));
        out.push(ReadResult::Found {
            args: Observed::new(&item.args)
                .set("version", c.version().unwrap_or_default())
                .set("role", c.role_arn().unwrap_or_default())
                .set_list(
                    "subnets",
                    vpc.map(|v| v.subnet_ids().to_vec()).unwrap_or_default(),
                )
                .set_list(
                    "security_groups",
                    vpc.map(|v| v.security_group_ids().to_vec())
                        .unwrap_or_default(),
                )
                .optional(
                    "endpoint_private_access",
                    vpc.is_some_and(|v| v.endpoint_private_access()),
                    true,
                )
                .optional("endpoint_public_access", public, false)
                .set_list("public_access_cidrs", cidrs)
                .optional("enabled_log_types", enabled_logs(&c), all_log_types())
                .maybe("kms_key", key)
                .maybe("auto_mode", live_auto_mode(&c))
                .optional(
                    "authentication_mode",
                    c.access_config()
                        .and_then(|a| a.authentication_mode())
                        .map_or("CONFIG_MAP", AuthenticationMode::as_str),
                    "CONFIG_MAP",
                )
                .maybe(
                    "bootstrap_creator_admin",
                    item.args
                        .get("bootstrap_creator_admin")
                        .filter(|v| !v.is_null())
                        .and(
                            c.access_config()
                                .and_then(|a| a.bootstrap_cluster_creator_admin_permissions()),
                        ),
                )
                .tags(&tags_from(c.tags()))
                .finish(),
            outputs: outputs(&c),
        });
    }
    Ok(out)
}

/// A version change upgrades in place, one minor version per EKS update
/// (`upgrade`); endpoint and logging changes go through
/// UpdateClusterConfig. Each waits for EKS to finish before the next, since
/// EKS runs one update at a time.
pub(super) async fn update(eks: &Client, op: &UpdateOp) -> Result<Applied, ProviderError> {
    let subject = op.address.to_string();
    let before: ClusterArgs = parse(&op.before, &subject)?;
    let after: ClusterArgs = parse(&op.after, &subject)?;
    let changed = |k: &str| op.changed.iter().any(|c| c == k);
    if before.version != after.version {
        upgrade(eks, op, &subject, &after.version).await?;
    }
    let endpoint = [
        "endpoint_private_access",
        "endpoint_public_access",
        "public_access_cidrs",
    ]
    .iter()
    .any(|k| changed(k));
    // EKS takes one kind of change per UpdateClusterConfig, and runs one
    // update at a time: each waits for the last.
    if changed("authentication_mode")
        && let Some(mode) = &after.authentication_mode
    {
        let out = while_in_use(&op.progress, || async {
            eks.update_cluster_config()
                .name(&op.id)
                .access_config(
                    UpdateAccessConfigRequest::builder()
                        .authentication_mode(AuthenticationMode::from(mode.as_str()))
                        .build(),
                )
                .send()
                .await
                .or_fail(&subject, "eks:UpdateClusterConfig")
        })
        .await?;
        if let Some(id) = out.update().and_then(|u| u.id()) {
            until_update_done(eks, &op.progress, &subject, &op.id, None, id).await?;
        }
    }
    if changed("auto_mode") {
        let (compute, storage, network) = auto_mode_config(after.auto_mode.as_ref());
        let out = while_in_use(&op.progress, || async {
            eks.update_cluster_config()
                .name(&op.id)
                .compute_config(compute.clone())
                .storage_config(storage.clone())
                .kubernetes_network_config(network.clone())
                .send()
                .await
                .or_fail(&subject, "eks:UpdateClusterConfig")
        })
        .await?;
        if let Some(id) = out.update().and_then(|u| u.id()) {
            until_update_done(eks, &op.progress, &subject, &op.id, None, id).await?;
        }
    }
    if endpoint || changed("enabled_log_types") {
        let out = eks
            .update_cluster_config()
            .name(&op.id)
            .set_resources_vpc_config(endpoint.then(|| vpc_config(&after, false)))
            .set_logging(changed("enabled_log_types").then(|| logging(&after.enabled_log_types)))
            .send()
            .await
            .or_fail(&subject, "eks:UpdateClusterConfig")?;
        if let Some(id) = out.update().and_then(|u| u.id()) {
            until_update_done(eks, &op.progress, &subject, &op.id, None, id).await?;
        }
    }
    let c = until_active(eks, &op.progress, &subject, &op.id).await?;
    if changed("tags") {
        update_tags(
            eks,
            &subject,
            c.arn().unwrap_or_default(),
            &before.tags,
            &after.tags,
        )
        .await?;
    }
    Ok(Applied {
        id: op.id.clone(),
        outputs: outputs(&c),
    })
}

/// Walks the cluster from the version it runs to `to`: for each minor
/// version on the way, the cluster's add-ons move to a version that step
/// supports, then one UpdateClusterVersion, waiting until the update
/// succeeded and the cluster is ACTIVE. The path starts from the live
/// version, after any update still running, so an apply interrupted
/// between steps continues where the cluster is.
async fn upgrade(
    eks: &Client,
    op: &UpdateOp,
    subject: &str,
    to: &str,
) -> Result<(), ProviderError> {
    let live = until_active(eks, &op.progress, subject, &op.id).await?;
    let from = live.version().unwrap_or_default().to_string();
    let steps = upgrade_path(&from, to).map_err(|e| {
        ProviderError::new(format!("{subject}: {e}"))
            .with_code("UnsupportedUpgrade")
            .with_fix(format!(
                "set `version` to {from} or above (the version the cluster runs)"
            ))
    })?;
    // Idempotency token per cluster and step: a cluster recreated under the
    // same name is another cluster.
    let born = live.created_at().map_or(0, |t| t.secs());
    let mut current = from;
    for (i, step) in steps.iter().enumerate() {
        super::addon::ready_for(eks, &op.progress, subject, &op.id, &current, step).await?;
        (op.progress)(&format!(
            "Kubernetes {current} → {step} (step {} of {})",
            i + 1,
            steps.len()
        ));
        let token = format!("payrun-{born}-{step}");
        let out = while_in_use(&op.progress, || async {
            eks.update_cluster_version()
                .name(&op.id)
                .version(step)
                .client_request_token(&token)
                .send()
                .await
                .or_fail(subject, "eks:UpdateClusterVersion")
        })
        .await?;
        let id = out
            .update()
            .and_then(|u| u.id())
            .ok_or_else(|| incomplete(subject, "UpdateClusterVersion", "an update id"))?;
        until_update_done(eks, &op.progress, subject, &op.id, None, id).await?;
        until_active(eks, &op.progress, subject, &op.id).await?;
        current = step.clone();
    }
    Ok(())
}

/// Waits until the cluster is gone, so its subnets and role can go too.
pub(super) async fn delete(eks: &Client, op: &DeleteOp) -> Result<(), ProviderError> {
    let subject = op.address.to_string();
    let sent = eks
        .delete_cluster()
        .name(&op.id)
        .send()
        .await
        .or_fail(&subject, "eks:DeleteCluster");
    until_gone(
        &op.progress,
        &subject,
        sent,
        || describe(eks, &subject, &op.id),
        |c| c.status().map_or("UNKNOWN", ClusterStatus::as_str),
    )
    .await
}

/// The cluster is named after the resource, so a create that went through
/// left a cluster of that name carrying our tags.
pub(super) async fn adopt(eks: &Client, op: &CreateOp) -> Result<Option<Applied>, ProviderError> {
    let subject = op.address.to_string();
    let Some(c) = describe(eks, &subject, &op.name).await? else {
        return Ok(None);
    };
    if !owned_by(c.tags(), &op.stack, &subject) {
        return Ok(None);
    }
    let c = until_active(eks, &op.progress, &subject, &op.name).await?;
    Ok(Some(Applied {
        id: op.name.clone(),
        outputs: outputs(&c),
    }))
}
