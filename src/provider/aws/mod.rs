//! The AWS provider: serves the `aws.*` kinds through the AWS SDK.
//!
//! Construction is cheap and synchronous; credentials, region and clients are
//! resolved on the first call, so `payrun plan` on an empty state never needs
//! them.

mod api_calls;
mod config;
mod ec2;
mod eks;
mod error;
mod observed;
mod tags;
mod wait;

use std::collections::BTreeMap;
use std::sync::LazyLock;

use async_trait::async_trait;
use tokio::sync::OnceCell;

use super::{
    Applied, CreateOp, DeleteOp, KindSchema, Provider, ProviderError, ReadItem, ReadResult,
    UpdateOp,
};
use api_calls::ApiCalls;
pub use config::AwsSettings;

/// Every kind the AWS provider serves: each service module's schemas.
pub static SCHEMAS: LazyLock<Vec<KindSchema>> =
    LazyLock::new(|| [ec2::SCHEMAS, eks::SCHEMAS].concat());

/// `aws.ec2.vpc` → `ec2`: which service module serves a kind.
fn service(kind: &str) -> &str {
    kind.split('.').nth(1).unwrap_or_default()
}

/// The provider for `aws.*` kinds.
pub struct AwsProvider {
    settings: AwsSettings,
    sdk: OnceCell<aws_types::SdkConfig>,
    ec2: OnceCell<aws_sdk_ec2::Client>,
    eks: OnceCell<aws_sdk_eks::Client>,
    calls: ApiCalls,
}

impl AwsProvider {
    pub fn new(settings: AwsSettings) -> Self {
        Self {
            settings,
            sdk: OnceCell::new(),
            ec2: OnceCell::new(),
            eks: OnceCell::new(),
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

    /// AWS operations sent so far, by operation name (`DescribeVpcs`).
    pub fn api_calls(&self) -> BTreeMap<String, u64> {
        self.calls.snapshot()
    }

    async fn sdk(&self) -> &aws_types::SdkConfig {
        self.sdk.get_or_init(|| config::load(&self.settings)).await
    }

    async fn ec2(&self) -> &aws_sdk_ec2::Client {
        self.ec2
            .get_or_init(|| async {
                let conf = aws_sdk_ec2::config::Builder::from(self.sdk().await)
                    .interceptor(self.calls.clone())
                    .build();
                aws_sdk_ec2::Client::from_conf(conf)
            })
            .await
    }

    async fn eks(&self) -> &aws_sdk_eks::Client {
        self.eks
            .get_or_init(|| async {
                let conf = aws_sdk_eks::config::Builder::from(self.sdk().await)
                    .interceptor(self.calls.clone())
                    .build();
                aws_sdk_eks::Client::from_conf(conf)
            })
            .await
    }
}

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
            "eks" if eks::serves(kind) => eks::read(self.eks().await, kind, items).await,
            _ => Err(unknown_kind(kind)),
        }
    }

    async fn create(&self, op: &CreateOp) -> Result<Applied, ProviderError> {
        let kind = op.address.kind();
        match service(kind) {
            "ec2" if ec2::serves(kind) => ec2::create(self.ec2().await, op).await,
            "eks" if eks::serves(kind) => eks::create(self.eks().await, op).await,
            _ => Err(unknown_kind(kind)),
        }
    }

    async fn update(&self, op: &UpdateOp) -> Result<Applied, ProviderError> {
        let kind = op.address.kind();
        match service(kind) {
            "ec2" if ec2::serves(kind) => ec2::update(self.ec2().await, op).await,
            "eks" if eks::serves(kind) => eks::update(self.eks().await, op).await,
            _ => Err(unknown_kind(kind)),
        }
    }

    async fn delete(&self, op: &DeleteOp) -> Result<(), ProviderError> {
        let kind = op.address.kind();
        match service(kind) {
            "ec2" if ec2::serves(kind) => ec2::delete(self.ec2().await, op).await,
            "eks" if eks::serves(kind) => eks::delete(self.eks().await, op).await,
            _ => Err(unknown_kind(kind)),
        }
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
            "eks" if eks::serves(kind) => eks::adopt(self.eks().await, op).await,
            _ => Err(unknown_kind(kind)),
        }
    }
}
