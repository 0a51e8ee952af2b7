//! The AWS provider: serves the `aws.*` kinds through the AWS SDK.
//!
//! Construction is cheap and synchronous; credentials, region and clients are
//! resolved on the first call, so `payrun plan` on an empty state never needs
//! them.

#[macro_use]
mod dispatch;

mod api_calls;
mod call;
pub(crate) mod cloudcontrol;
mod config;
mod error;
mod observed;
mod policy_document;
pub(crate) mod refresh;
mod retry;
mod state_bucket;
pub(crate) mod tags;
mod wait;

use std::collections::{BTreeMap, HashMap};
use std::sync::LazyLock;

use async_trait::async_trait;
use tokio::sync::OnceCell;

use super::{
    Applied, CreateOp, DeleteOp, KindSchema, Leftover, Listed, Provider, ProviderError, ReadItem,
    ReadResult, StackFound, StackRead, UpdateOp,
};
use api_calls::ApiCalls;
pub use config::AwsSettings;
use dispatch::{Served, Service};
pub use state_bucket::{StateBucket, StateKeys};

/// `services!(ec2: aws_sdk_ec2, ...)`: every service the provider serves,
/// one line each: its module (a folder of kind files with a `kinds!`
/// list), its SDK crate and, after `=>`, a function adjusting its client's
/// configuration when it needs more than the common one; from them the
/// lazily built client, the schemas and the kind table.
macro_rules! services {
    ($($name:ident: $sdk:ident $(=> $configure:path)?),* $(,)?) => {
        $(pub(crate) mod $name;)*

        /// One SDK client per service, built on its first call.
        #[derive(Default)]
        struct Clients {
            $($name: OnceCell<$sdk::Client>,)*
        }

        $(#[async_trait]
        impl Service for $sdk::Client {
            async fn of(aws: &AwsProvider) -> &Self {
                aws.clients
                    .$name
                    .get_or_init(|| async {
                        let conf = $sdk::config::Builder::from(aws.sdk().await)
                            .interceptor(aws.calls.clone())
                            .interceptor(retry::RetryPolicy::new(
                                aws.settings.retry_budget.unwrap_or(retry::DEFAULT_BUDGET),
                            ))
                            .retry_partition(retry::RetryPolicy::partition(stringify!($name)));
                        $(let conf = $configure(conf, &aws.settings);)?
                        $sdk::Client::from_conf(conf.build())
                    })
                    .await
            }
        })*

        /// Every kind the AWS provider serves, by kind name.
        static KINDS: LazyLock<HashMap<&'static str, &'static dyn Served>> = LazyLock::new(|| {
            let mut table: HashMap<&'static str, &'static dyn Served> = HashMap::new();
            $(for kind in $name::KINDS {
                table.insert(kind.schema.kind, kind);
            })*
            table
        });

        /// Every kind's schema, in the order of the services and their lists.
        pub static SCHEMAS: LazyLock<Vec<KindSchema>> = LazyLock::new(|| {
            [$($name::KINDS.iter().map(|k| *k.schema).collect::<Vec<_>>()),*].concat()
        });
    };
}

mod discover;

services!(
    ec2: aws_sdk_ec2,
    iam: aws_sdk_iam,
    kms: aws_sdk_kms,
    secretsmanager: aws_sdk_secretsmanager,
    logs: aws_sdk_cloudwatchlogs,
    ecr: aws_sdk_ecr,
    eks: aws_sdk_eks,
    vpclattice: aws_sdk_vpclattice,
    appmesh: aws_sdk_appmesh,
    s3: aws_sdk_s3 => s3::configure,
);

/// Cloud Control serves the generated `awscc` kinds, through their own
/// provider.
#[async_trait]
impl Service for aws_sdk_cloudcontrol::Client {
    async fn of(aws: &AwsProvider) -> &Self {
        aws.cloudcontrol
            .get_or_init(|| async {
                let conf = aws_sdk_cloudcontrol::config::Builder::from(aws.sdk().await)
                    .interceptor(aws.calls.clone())
                    .interceptor(retry::RetryPolicy::new(
                        aws.settings.retry_budget.unwrap_or(retry::DEFAULT_BUDGET),
                    ))
                    .retry_partition(retry::RetryPolicy::partition("cloudcontrol"));
                aws_sdk_cloudcontrol::Client::from_conf(conf.build())
            })
            .await
    }
}

/// The Resource Groups Tagging API serves no kind: a refresh reads the
/// stack's tags of several services through it at once.
#[async_trait]
impl Service for aws_sdk_resourcegroupstagging::Client {
    async fn of(aws: &AwsProvider) -> &Self {
        aws.tagging
            .get_or_init(|| async {
                let conf = aws_sdk_resourcegroupstagging::config::Builder::from(aws.sdk().await)
                    .interceptor(aws.calls.clone())
                    .interceptor(retry::RetryPolicy::new(
                        aws.settings.retry_budget.unwrap_or(retry::DEFAULT_BUDGET),
                    ))
                    .retry_partition(retry::RetryPolicy::partition("tagging"));
                aws_sdk_resourcegroupstagging::Client::from_conf(conf.build())
            })
            .await
    }
}

/// The provider for `aws.*` kinds.
pub struct AwsProvider {
    settings: AwsSettings,
    sdk: OnceCell<aws_types::SdkConfig>,
    clients: Clients,
    tagging: OnceCell<aws_sdk_resourcegroupstagging::Client>,
    cloudcontrol: OnceCell<aws_sdk_cloudcontrol::Client>,
    calls: ApiCalls,
}

impl AwsProvider {
    pub fn new(settings: AwsSettings) -> Self {
        Self {
            settings,
            sdk: OnceCell::new(),
            clients: Clients::default(),
            tagging: OnceCell::new(),
            cloudcontrol: OnceCell::new(),
            calls: ApiCalls::default(),
        }
    }

    /// A provider whose EKS calls go to `eks` (a client with a stubbed
    /// transport, in tests).
    pub fn with_eks_client(settings: AwsSettings, eks: aws_sdk_eks::Client) -> Self {
        let p = Self::new(settings);
        p.clients.eks.set(eks).ok();
        p
    }

    /// Serves the `aws.vpclattice.*` kinds through `client` rather than one
    /// built from the settings (a client on recorded or mocked responses).
    #[must_use]
    pub fn with_vpclattice_client(self, client: aws_sdk_vpclattice::Client) -> Self {
        self.clients.vpclattice.set(client).ok();
        self
    }

    /// Serves the `aws.appmesh.*` kinds through `client` rather than one
    /// built from the settings (a client on mocked responses, in tests).
    #[must_use]
    pub fn with_appmesh_client(self, client: aws_sdk_appmesh::Client) -> Self {
        self.clients.appmesh.set(client).ok();
        self
    }

    /// AWS operations sent so far, by operation name (`DescribeVpcs`).
    pub fn api_calls(&self) -> BTreeMap<String, u64> {
        self.calls.snapshot()
    }

    async fn sdk(&self) -> &aws_types::SdkConfig {
        self.sdk.get_or_init(|| config::load(&self.settings)).await
    }

    fn kind(kind: &str) -> Result<&'static dyn Served, ProviderError> {
        KINDS.get(kind).copied().ok_or_else(|| unknown_kind(kind))
    }
}

/// `aws.ec2.vpc` → `ec2`: which service a kind belongs to.
fn service(kind: &str) -> &str {
    kind.split('.').nth(1).unwrap_or_default()
}

fn unknown_kind(kind: &str) -> ProviderError {
    ProviderError::new(format!("the AWS provider does not serve `{kind}`")).with_code("UnknownKind")
}

#[async_trait]
impl Provider for AwsProvider {
    fn schemas(&self) -> &'static [KindSchema] {
        &SCHEMAS
    }

    async fn read(&self, kind: &str, items: &[ReadItem]) -> Result<Vec<ReadResult>, ProviderError> {
        if items.is_empty() {
            return Ok(Vec::new());
        }
        Self::kind(kind)?
            .read(self, &refresh::Refresh::alone(self), items)
            .await
    }

    /// Every kind at once in one [`refresh::Refresh`], which makes the
    /// reads several kinds answer from (the stack's tags, IAM's details)
    /// once; a kind that lists itself by the stack's tag is read even with
    /// nothing recorded, for what the tag finds.
    async fn read_stack(&self, read: StackRead<'_>) -> StackFound {
        let cx = refresh::Refresh::of_stack(self, read.stack, read.kinds);
        let cx = &cx;
        let reads = read.kinds.iter().map(|(kind, items)| async move {
            let served = match Self::kind(kind) {
                Ok(served) => served,
                Err(e) => return Some((kind.clone(), Err(e))),
            };
            if items.is_empty() && !served.lists_stack() {
                return None;
            }
            Some((kind.clone(), served.read(self, cx, items).await))
        });
        let kinds = futures_util::future::join_all(reads)
            .await
            .into_iter()
            .flatten()
            .collect();
        StackFound {
            kinds,
            unrecorded: cx.take_unrecorded(),
        }
    }

    fn listed_kinds(&self) -> Vec<&'static str> {
        discover::LISTED.to_vec()
    }

    /// One discovery for every kind: what several kinds read (the VPCs,
    /// the route tables, the groups, the tags) is read once.
    async fn list(&self, kinds: &[String]) -> Vec<Result<Vec<Listed>, ProviderError>> {
        let discovery = discover::Discovery::default();
        let mut out = Vec::with_capacity(kinds.len());
        for kind in kinds {
            out.push(discovery.list(self, kind).await.unwrap_or_else(|| {
                Err(ProviderError::new(format!(
                    "payrun does not list {kind} yet: it lists {}",
                    discover::LISTED.join(", ")
                ))
                .with_fix(format!(
                    "import one by its id: `payrun import --generate FILE {kind} ID`"
                )))
            }));
        }
        out
    }

    fn settle_window(&self) -> std::time::Duration {
        self.settings
            .request_timeout
            .unwrap_or(config::DEFAULT_REQUEST_TIMEOUT)
    }

    async fn create(&self, op: &CreateOp) -> Result<Applied, ProviderError> {
        Self::kind(op.address.kind())?.create(self, op).await
    }

    async fn update(&self, op: &UpdateOp) -> Result<Applied, ProviderError> {
        Self::kind(op.address.kind())?.update(self, op).await
    }

    async fn delete(&self, op: &DeleteOp) -> Result<(), ProviderError> {
        Self::kind(op.address.kind())?.delete(self, op).await
    }

    async fn complete(&self, op: &CreateOp, made: &Applied) -> Result<Applied, ProviderError> {
        Self::kind(op.address.kind())?
            .complete(self, op, made)
            .await
    }

    async fn sweep(&self, stack: &str, kinds: &[&str]) -> Result<Vec<Leftover>, ProviderError> {
        if !kinds.iter().any(|k| service(k) == "ec2") {
            return Ok(Vec::new());
        }
        ec2::sweep(aws_sdk_ec2::Client::of(self).await, stack).await
    }

    fn concurrency_key(&self, kind: &str, args: &serde_json::Value) -> Option<String> {
        match service(kind) {
            "eks" => eks::concurrency_key(kind, args),
            _ => None,
        }
    }

    async fn adopt(&self, op: &CreateOp) -> Result<Option<Applied>, ProviderError> {
        Self::kind(op.address.kind())?.adopt(self, op).await
    }
}

#[async_trait]
impl super::PlatformFacts for AwsProvider {
    async fn eks_calendar(&self, today: &str) -> crate::eks_versions::Calendar {
        use crate::eks_versions::Calendar;
        let client = <aws_sdk_eks::Client as Service>::of(self).await;
        let region = client
            .config()
            .region()
            .map_or_else(|| "the default region".to_string(), ToString::to_string);
        match eks::cluster_versions(client).await {
            Ok(versions) if !versions.is_empty() => Calendar::live(&region, today, versions),
            Ok(_) => Calendar::embedded_because(format!(
                "EKS DescribeClusterVersions in {region} listed no versions"
            )),
            Err(e) => Calendar::embedded_because(format!(
                "EKS DescribeClusterVersions in {region} failed: {}",
                e.message
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{KINDS, SCHEMAS};

    #[test]
    fn every_kind_is_in_the_table_once() {
        assert_eq!(KINDS.len(), SCHEMAS.len());
        for schema in SCHEMAS.iter() {
            assert!(KINDS.contains_key(schema.kind), "{}", schema.kind);
        }
    }
}
