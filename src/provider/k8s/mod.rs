//! The Kubernetes provider: in-cluster objects applied with server-side
//! apply (field manager `payrun`), read back as the fields payrun manages,
//! deleted in the foreground; Deployments wait for their rollout.

mod bearer;
mod client;
pub mod helm;
pub mod kinds;
mod resources;
mod rollout;
mod ssa;
pub mod token;

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Map, Value, json};

use client::Clients;
pub use client::eks_kubeconfig;
pub use kinds::{ClusterArgs, SCHEMAS, render};

use super::{
    Applied, CreateOp, DeleteOp, KindSchema, ProgressFn, Provider, ProviderError, ReadItem,
    ReadResult, UpdateOp,
};
use crate::address::Address;
use crate::provider::aws::AwsSettings;

/// How often and how long the provider waits.
#[derive(Clone, Debug)]
pub struct K8sConfig {
    pub poll: Duration,
    /// Default wait for a rollout without `timeout`/`progress_deadline`.
    pub rollout_timeout: Duration,
    pub delete_timeout: Duration,
    /// Use a kubeconfig whose cluster has `insecure-skip-tls-verify`.
    pub insecure_kubeconfig: bool,
    /// The AWS provider's settings: EKS tokens are signed with them.
    pub aws: AwsSettings,
    /// How long one EKS token is used before another is signed.
    pub token_lifetime: Duration,
}

impl Default for K8sConfig {
    fn default() -> Self {
        Self {
            poll: Duration::from_secs(2),
            rollout_timeout: Duration::from_secs(11 * 60),
            delete_timeout: Duration::from_secs(10 * 60),
            insecure_kubeconfig: false,
            aws: AwsSettings::default(),
            token_lifetime: token::TOKEN_LIFETIME,
        }
    }
}

/// The `k8s.*` kinds.
pub struct K8sProvider {
    config: K8sConfig,
    clients: Clients,
}

/// The args key under which refresh reports fields changed in the cluster:
/// the plan shows them and the update applies the manifest again.
pub const DRIFT_KEY: &str = "drift";

impl K8sProvider {
    pub fn new(config: K8sConfig) -> Self {
        let tokens = token::TokenSource::new(config.aws.clone(), config.token_lifetime);
        Self {
            clients: Clients::new(std::sync::Arc::new(tokens)),
            config,
        }
    }

    /// The manifest from args as given to a create or update (secrets
    /// read) or as recorded (secrets as markers: rendered as places whose
    /// drift is reported sealed).
    fn manifest(address: &Address, args: &Value) -> Result<Value, ProviderError> {
        render(
            address.kind(),
            address.purpose(),
            &ssa::with_secret_places(args),
        )
        .map_err(|e| ProviderError::new(format!("{address}: {e}")))
    }

    async fn connect(
        &self,
        address: &Address,
        args: &Value,
        manifest: &Value,
    ) -> Result<(kube::Client, resources::Target), ProviderError> {
        let cluster =
            kinds::cluster(args).map_err(|e| ProviderError::new(format!("{address}: {e}")))?;
        let client = self
            .clients
            .get(&cluster, self.config.insecure_kubeconfig)
            .await?;
        let target = resources::target(&client, manifest)
            .await
            .map_err(|e| ProviderError::new(format!("{address}: {e}")))?;
        Ok((client, target))
    }

    fn outputs(live: &Value) -> Map<String, Value> {
        let mut m = Map::new();
        if let Some(uid) = live["metadata"]["uid"].as_str() {
            m.insert("uid".into(), json!(uid));
        }
        m
    }

    /// Apply the object for `stack`: labelled with it, applied under its
    /// own field manager. A create first makes sure the object is not
    /// another stack's.
    async fn apply(
        &self,
        address: &Address,
        args: &Value,
        stack: &str,
        creating: bool,
        progress: &ProgressFn,
    ) -> Result<Applied, ProviderError> {
        let mut manifest = Self::manifest(address, args)?;
        kinds::label_stack(&mut manifest, stack);
        let (client, target) = self.connect(address, args, &manifest).await?;
        if creating
            && let Some(live) = ssa::get(&client, &target).await?
            && let Some(owner) = kinds::owning_stack(&live)
            && owner != kinds::stack_label_value(stack)
        {
            return Err(ProviderError::new(format!(
                "{address}: {} belongs to stack {owner}, which payrun does not take over",
                target.describe()
            ))
            .with_code("OwnedByAnotherStack")
            .with_fix(format!(
                "give the object another name in this stack (`name: ...`), or remove it from stack {owner}'s program first"
            )));
        }
        let live = ssa::apply(
            &client,
            &target,
            &manifest,
            &ssa::field_manager(stack),
            kinds::force_conflicts(args),
        )
        .await?;
        if manifest["kind"] == "Deployment" && manifest["apiVersion"] == "apps/v1" {
            let timeout = kinds::rollout_timeout(args)
                .map(Duration::from_secs)
                .unwrap_or(self.config.rollout_timeout);
            rollout::wait(&client, &target, self.config.poll, timeout, progress).await?;
        }
        Ok(Applied {
            id: target.name.clone(),
            outputs: Self::outputs(&live),
        })
    }
}

#[async_trait]
impl Provider for K8sProvider {
    fn schemas(&self) -> &'static [KindSchema] {
        SCHEMAS
    }

    async fn read(
        &self,
        _kind: &str,
        items: &[ReadItem],
    ) -> Result<Vec<ReadResult>, ProviderError> {
        // One list per cluster, resource and namespace, not one read per
        // object.
        let mut lists: HashMap<(String, String, Option<String>), BTreeMap<String, Value>> =
            HashMap::new();
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            let manifest = Self::manifest(&item.address, &item.args)?;
            let (client, target) = self.connect(&item.address, &item.args, &manifest).await?;
            let key = (
                item.args["kube"].to_string(),
                format!("{}/{}", target.resource.api_version, target.resource.plural),
                target.namespace.clone(),
            );
            if !lists.contains_key(&key) {
                let listed = ssa::list(&client, &target).await?;
                lists.insert(key.clone(), listed);
            }
            out.push(match lists[&key].get(&target.name) {
                None => ReadResult::Gone,
                Some(live) => {
                    let drift = ssa::drift(&manifest, live);
                    let mut args = Map::new();
                    if !drift.is_empty() {
                        args.insert(DRIFT_KEY.into(), Value::Object(drift));
                    }
                    ReadResult::Found {
                        args,
                        outputs: Self::outputs(live),
                    }
                }
            });
        }
        Ok(out)
    }

    async fn create(&self, op: &CreateOp) -> Result<Applied, ProviderError> {
        self.apply(&op.address, &op.args, &op.stack, true, &op.progress)
            .await
    }

    /// A manifest that now names another object (`k8s.object`): the new
    /// one is applied, then the old one deleted.
    async fn update(&self, op: &UpdateOp) -> Result<Applied, ProviderError> {
        let applied = self
            .apply(&op.address, &op.after, &op.stack, false, &op.progress)
            .await?;
        let before = Self::manifest(&op.address, &op.before)?;
        let after = Self::manifest(&op.address, &op.after)?;
        let identity = |m: &Value| {
            (
                m["apiVersion"].clone(),
                m["kind"].clone(),
                m["metadata"]["namespace"].clone(),
                m["metadata"]["name"].clone(),
            )
        };
        if identity(&before) != identity(&after) {
            let (client, target) = self.connect(&op.address, &op.before, &before).await?;
            ssa::delete(
                &client,
                &target,
                self.config.poll,
                self.config.delete_timeout,
                &op.progress,
            )
            .await?;
        }
        Ok(applied)
    }

    async fn delete(&self, op: &DeleteOp) -> Result<(), ProviderError> {
        let manifest = Self::manifest(&op.address, &op.args)?;
        let (client, target) = self.connect(&op.address, &op.args, &manifest).await?;
        ssa::delete(
            &client,
            &target,
            self.config.poll,
            self.config.delete_timeout,
            &op.progress,
        )
        .await
    }

    /// Server-side apply is idempotent: an object payrun applied before the
    /// crash is found by name and its `managed-by` label.
    async fn adopt(&self, op: &CreateOp) -> Result<Option<Applied>, ProviderError> {
        let manifest = Self::manifest(&op.address, &op.args)?;
        let (client, target) = self.connect(&op.address, &op.args, &manifest).await?;
        let Some(live) = ssa::get(&client, &target).await? else {
            return Ok(None);
        };
        let (label, value) = kinds::MANAGED_BY;
        if live["metadata"]["labels"][label] != value {
            return Ok(None);
        }
        // Another stack's object is not this crash's to adopt; the create
        // that follows says whose it is.
        if kinds::owning_stack(&live).is_some_and(|o| o != kinds::stack_label_value(&op.stack)) {
            return Ok(None);
        }
        self.apply(&op.address, &op.args, &op.stack, false, &op.progress)
            .await
            .map(Some)
    }
}
