//! The AWS provider: serves the `aws.*` kinds through the AWS SDK.
//!
//! Construction is cheap and synchronous; credentials, region and clients are
//! resolved on the first call, so `payrun plan` on an empty state never needs
//! them.

#[macro_use]
mod dispatch;

mod api_calls;
mod appmesh;
mod call;
mod config;
mod ec2;
mod ecr;
mod eks;
mod error;
mod iam;
mod kms;
mod logs;
mod observed;
mod policy_document;
mod retry;
mod secretsmanager;
mod state_bucket;
mod tags;
mod vpclattice;
mod wait;

use std::collections::BTreeMap;
use std::sync::LazyLock;

use async_trait::async_trait;
use tokio::sync::OnceCell;

use super::{
    Applied, CreateOp, DeleteOp, KindSchema, Leftover, Provider, ProviderError, ReadItem,
    ReadResult, UpdateOp,
};
use api_calls::ApiCalls;
pub use config::AwsSettings;
pub use state_bucket::{StateBucket, StateKeys};

/// Every kind the AWS provider serves: each service module's schemas.
pub static SCHEMAS: LazyLock<Vec<KindSchema>> = LazyLock::new(|| {
    [
        ec2::SCHEMAS,
        iam::SCHEMAS,
        kms::SCHEMAS,
        secretsmanager::SCHEMAS,
        logs::SCHEMAS,
        ecr::SCHEMAS,
        eks::SCHEMAS,
        vpclattice::SCHEMAS,
        appmesh::SCHEMAS,
    ]
    .concat()
});

/// `aws.ec2.vpc` → `ec2`: which service module serves a kind.
fn service(kind: &str) -> &str {
    kind.split('.').nth(1).unwrap_or_default()
}

/// The provider for `aws.*` kinds.
pub struct AwsProvider {
    settings: AwsSettings,
    sdk: OnceCell<aws_types::SdkConfig>,
    ec2: OnceCell<aws_sdk_ec2::Client>,
    iam: OnceCell<aws_sdk_iam::Client>,
    kms: OnceCell<aws_sdk_kms::Client>,
    secretsmanager: OnceCell<aws_sdk_secretsmanager::Client>,
    logs: OnceCell<aws_sdk_cloudwatchlogs::Client>,
    ecr: OnceCell<aws_sdk_ecr::Client>,
    eks: OnceCell<aws_sdk_eks::Client>,
    vpclattice: OnceCell<aws_sdk_vpclattice::Client>,
    appmesh: OnceCell<aws_sdk_appmesh::Client>,
    calls: ApiCalls,
}

impl AwsProvider {
    pub fn new(settings: AwsSettings) -> Self {
        Self {
            settings,
            sdk: OnceCell::new(),
            ec2: OnceCell::new(),
            iam: OnceCell::new(),
            kms: OnceCell::new(),
            secretsmanager: OnceCell::new(),
            logs: OnceCell::new(),
            ecr: OnceCell::new(),
            eks: OnceCell::new(),
            vpclattice: OnceCell::new(),
            appmesh: OnceCell::new(),
            calls: ApiCalls::default(),
        }
    }

    /// A provider whose EKS calls go to `eks` (a client with a stubbed
    /// transport, in tests).
    pub fn with_eks_client(settings: AwsSettings, eks: aws_sdk_eks::Client) -> Self {
        let p = Self::new(settings);
        p.eks.set(eks).ok();
        p
    }

    /// Serves the `aws.vpclattice.*` kinds through `client` rather than one
    /// built from the settings (a client on recorded or mocked responses).
    #[must_use]
    pub fn with_vpclattice_client(self, client: aws_sdk_vpclattice::Client) -> Self {
        Self {
            vpclattice: OnceCell::new_with(Some(client)),
            ..self
        }
    }

    /// Serves the `aws.appmesh.*` kinds through `client` rather than one
    /// built from the settings (a client on mocked responses, in tests).
    #[must_use]
    pub fn with_appmesh_client(self, client: aws_sdk_appmesh::Client) -> Self {
        Self {
            appmesh: OnceCell::new_with(Some(client)),
            ..self
        }
    }

    /// AWS operations sent so far, by operation name (`DescribeVpcs`).
    pub fn api_calls(&self) -> BTreeMap<String, u64> {
        self.calls.snapshot()
    }

    async fn sdk(&self) -> &aws_types::SdkConfig {
        self.sdk.get_or_init(|| config::load(&self.settings)).await
    }
}

/// A lazily built client per service; every client counts its calls.
macro_rules! client {
    ($($name:ident: $sdk:ident),* $(,)?) => {
        impl AwsProvider {
            $(async fn $name(&self) -> &$sdk::Client {
                self.$name
                    .get_or_init(|| async {
                        let conf = $sdk::config::Builder::from(self.sdk().await)
                            .interceptor(self.calls.clone())
                            .interceptor(retry::RetryPolicy::new(
                                self.settings.retry_budget.unwrap_or(retry::DEFAULT_BUDGET),
                            ))
                            .retry_partition(retry::RetryPolicy::partition(stringify!($name)))
                            .build();
                        $sdk::Client::from_conf(conf)
                    })
                    .await
            })*
        }
    };
}

client!(
    ec2: aws_sdk_ec2,
    iam: aws_sdk_iam,
    kms: aws_sdk_kms,
    secretsmanager: aws_sdk_secretsmanager,
    logs: aws_sdk_cloudwatchlogs,
    ecr: aws_sdk_ecr,
    eks: aws_sdk_eks,
    vpclattice: aws_sdk_vpclattice,
    appmesh: aws_sdk_appmesh,
);

fn unknown_kind(kind: &str) -> ProviderError {
    ProviderError::new(format!("the AWS provider does not serve `{kind}`")).with_code("UnknownKind")
}

#[async_trait]
impl Provider for AwsProvider {
    fn schemas(&self) -> &'static [KindSchema] {
        &SCHEMAS
    }

    // Each operation goes to the service module of the kind: one arm per
    // service, the module then dispatches per kind.

    async fn read(&self, kind: &str, items: &[ReadItem]) -> Result<Vec<ReadResult>, ProviderError> {
        if items.is_empty() {
            return Ok(Vec::new());
        }
        match service(kind) {
            "ec2" if ec2::serves(kind) => ec2::read(self.ec2().await, kind, items).await,
            "iam" if iam::serves(kind) => iam::read(self.iam().await, kind, items).await,
            "kms" if kms::serves(kind) => kms::read(self.kms().await, kind, items).await,
            "logs" if logs::serves(kind) => logs::read(self.logs().await, kind, items).await,
            "ecr" if ecr::serves(kind) => ecr::read(self.ecr().await, kind, items).await,
            "secretsmanager" if secretsmanager::serves(kind) => {
                secretsmanager::read(self.secretsmanager().await, kind, items).await
            }
            "eks" if eks::serves(kind) => eks::read(self.eks().await, kind, items).await,
            "vpclattice" if vpclattice::serves(kind) => {
                vpclattice::read(self.vpclattice().await, kind, items).await
            }
            "appmesh" if appmesh::serves(kind) => {
                appmesh::read(self.appmesh().await, kind, items).await
            }
            _ => Err(unknown_kind(kind)),
        }
    }

    async fn create(&self, op: &CreateOp) -> Result<Applied, ProviderError> {
        let kind = op.address.kind();
        match service(kind) {
            "ec2" if ec2::serves(kind) => ec2::create(self.ec2().await, op).await,
            "iam" if iam::serves(kind) => iam::create(self.iam().await, op).await,
            "kms" if kms::serves(kind) => kms::create(self.kms().await, op).await,
            "logs" if logs::serves(kind) => logs::create(self.logs().await, op).await,
            "ecr" if ecr::serves(kind) => ecr::create(self.ecr().await, op).await,
            "secretsmanager" if secretsmanager::serves(kind) => {
                secretsmanager::create(self.secretsmanager().await, op).await
            }
            "eks" if eks::serves(kind) => eks::create(self.eks().await, op).await,
            "vpclattice" if vpclattice::serves(kind) => {
                vpclattice::create(self.vpclattice().await, op).await
            }
            "appmesh" if appmesh::serves(kind) => appmesh::create(self.appmesh().await, op).await,
            _ => Err(unknown_kind(kind)),
        }
    }

    async fn update(&self, op: &UpdateOp) -> Result<Applied, ProviderError> {
        let kind = op.address.kind();
        match service(kind) {
            "ec2" if ec2::serves(kind) => ec2::update(self.ec2().await, op).await,
            "iam" if iam::serves(kind) => iam::update(self.iam().await, op).await,
            "kms" if kms::serves(kind) => kms::update(self.kms().await, op).await,
            "logs" if logs::serves(kind) => logs::update(self.logs().await, op).await,
            "ecr" if ecr::serves(kind) => ecr::update(self.ecr().await, op).await,
            "secretsmanager" if secretsmanager::serves(kind) => {
                secretsmanager::update(self.secretsmanager().await, op).await
            }
            "eks" if eks::serves(kind) => eks::update(self.eks().await, op).await,
            "vpclattice" if vpclattice::serves(kind) => {
                vpclattice::update(self.vpclattice().await, op).await
            }
            "appmesh" if appmesh::serves(kind) => appmesh::update(self.appmesh().await, op).await,
            _ => Err(unknown_kind(kind)),
        }
    }

    async fn delete(&self, op: &DeleteOp) -> Result<(), ProviderError> {
        let kind = op.address.kind();
        match service(kind) {
            "ec2" if ec2::serves(kind) => ec2::delete(self.ec2().await, op).await,
            "iam" if iam::serves(kind) => iam::delete(self.iam().await, op).await,
            "kms" if kms::serves(kind) => kms::delete(self.kms().await, op).await,
            "logs" if logs::serves(kind) => logs::delete(self.logs().await, op).await,
            "ecr" if ecr::serves(kind) => ecr::delete(self.ecr().await, op).await,
            "secretsmanager" if secretsmanager::serves(kind) => {
                secretsmanager::delete(self.secretsmanager().await, op).await
            }
            "eks" if eks::serves(kind) => eks::delete(self.eks().await, op).await,
            "vpclattice" if vpclattice::serves(kind) => {
                vpclattice::delete(self.vpclattice().await, op).await
            }
            "appmesh" if appmesh::serves(kind) => appmesh::delete(self.appmesh().await, op).await,
            _ => Err(unknown_kind(kind)),
        }
    }

    async fn complete(&self, op: &CreateOp, made: &Applied) -> Result<Applied, ProviderError> {
        let kind = op.address.kind();
        match service(kind) {
            "ec2" if ec2::serves(kind) => ec2::complete(self.ec2().await, op, made).await,
            _ => Ok(made.clone()),
        }
    }

    async fn sweep(&self, stack: &str, kinds: &[&str]) -> Result<Vec<Leftover>, ProviderError> {
        if !kinds.iter().any(|k| service(k) == "ec2") {
            return Ok(Vec::new());
        }
        ec2::sweep(self.ec2().await, stack).await
    }

    fn concurrency_key(&self, kind: &str, args: &serde_json::Value) -> Option<String> {
        match service(kind) {
            "eks" => eks::concurrency_key(kind, args),
            _ => None,
        }
    }

    async fn adopt(&self, op: &CreateOp) -> Result<Option<Applied>, ProviderError> {
        let kind = op.address.kind();
        match service(kind) {
            "ec2" if ec2::serves(kind) => ec2::adopt(self.ec2().await, op).await,
            "iam" if iam::serves(kind) => iam::adopt(self.iam().await, op).await,
            "kms" if kms::serves(kind) => kms::adopt(self.kms().await, op).await,
            "logs" if logs::serves(kind) => logs::adopt(self.logs().await, op).await,
            "ecr" if ecr::serves(kind) => ecr::adopt(self.ecr().await, op).await,
            "secretsmanager" if secretsmanager::serves(kind) => {
                secretsmanager::adopt(self.secretsmanager().await, op).await
            }
            "eks" if eks::serves(kind) => eks::adopt(self.eks().await, op).await,
            "vpclattice" if vpclattice::serves(kind) => {
                vpclattice::adopt(self.vpclattice().await, op).await
            }
            "appmesh" if appmesh::serves(kind) => appmesh::adopt(self.appmesh().await, op).await,
            _ => Err(unknown_kind(kind)),
        }
    }
}
