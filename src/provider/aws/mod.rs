//! The AWS provider: serves the `aws.*` kinds through the AWS SDK.
//!
//! Construction is cheap and synchronous; credentials, region and clients are
//! resolved on the first call, so `payrun plan` on an empty state never needs
//! them.

mod api_calls;
mod config;
mod ec2;
mod error;
mod tags;

use std::collections::BTreeMap;

use async_trait::async_trait;
use tokio::sync::OnceCell;

use super::{
    Applied, CreateOp, DeleteOp, KindSchema, Provider, ProviderError, ReadItem, ReadResult,
    UpdateOp,
};
use api_calls::ApiCalls;
pub use config::AwsSettings;

/// Every kind the AWS provider serves.
pub static SCHEMAS: &[KindSchema] = ec2::SCHEMAS;

/// The provider for `aws.*` kinds.
pub struct AwsProvider {
    settings: AwsSettings,
    sdk: OnceCell<aws_types::SdkConfig>,
    ec2: OnceCell<aws_sdk_ec2::Client>,
    calls: ApiCalls,
}

impl AwsProvider {
    pub fn new(settings: AwsSettings) -> Self {
        Self {
            settings,
            sdk: OnceCell::new(),
            ec2: OnceCell::new(),
            calls: ApiCalls::default(),
        }
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
}

fn unknown_kind(kind: &str) -> ProviderError {
    ProviderError::new(format!("the AWS provider does not serve `{kind}`")).with_code("UnknownKind")
}

#[async_trait]
impl Provider for AwsProvider {
    fn schemas(&self) -> &'static [KindSchema] {
        SCHEMAS
    }

    async fn read(&self, kind: &str, items: &[ReadItem]) -> Result<Vec<ReadResult>, ProviderError> {
        if items.is_empty() {
            return Ok(Vec::new());
        }
        if !ec2::serves(kind) {
            return Err(unknown_kind(kind));
        }
        ec2::read(self.ec2().await, kind, items).await
    }

    async fn create(&self, op: &CreateOp) -> Result<Applied, ProviderError> {
        if !ec2::serves(op.address.kind()) {
            return Err(unknown_kind(op.address.kind()));
        }
        ec2::create(self.ec2().await, op).await
    }

    async fn update(&self, op: &UpdateOp) -> Result<Applied, ProviderError> {
        if !ec2::serves(op.address.kind()) {
            return Err(unknown_kind(op.address.kind()));
        }
        ec2::update(self.ec2().await, op).await
    }

    async fn delete(&self, op: &DeleteOp) -> Result<(), ProviderError> {
        if !ec2::serves(op.address.kind()) {
            return Err(unknown_kind(op.address.kind()));
        }
        ec2::delete(self.ec2().await, op).await
    }

    async fn adopt(&self, op: &CreateOp) -> Result<Option<Applied>, ProviderError> {
        if !ec2::serves(op.address.kind()) {
            return Err(unknown_kind(op.address.kind()));
        }
        ec2::adopt(self.ec2().await, op).await
    }
}
