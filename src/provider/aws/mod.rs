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
mod vpclattice;

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
    LazyLock::new(|| [ec2::SCHEMAS, vpclattice::SCHEMAS].concat());

/// `aws.ec2.vpc` → `ec2`: which service module serves a kind.
fn service(kind: &str) -> &str {
    kind.split('.').nth(1).unwrap_or_default()
}

/// The provider for `aws.*` kinds.
pub struct AwsProvider {
    settings: AwsSettings,
    sdk: OnceCell<aws_types::SdkConfig>,
    ec2: OnceCell<aws_sdk_ec2::Client>,
    vpclattice: OnceCell<aws_sdk_vpclattice::Client>,
    calls: ApiCalls,
}

impl AwsProvider {
    pub fn new(settings: AwsSettings) -> Self {
        Self {
            settings,
            sdk: OnceCell::new(),
            ec2: OnceCell::new(),
            vpclattice: OnceCell::new(),
            calls: ApiCalls::default(),
        }
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

    async fn vpclattice(&self) -> &aws_sdk_vpclattice::Client {
        self.vpclattice
            .get_or_init(|| async {
                let conf = aws_sdk_vpclattice::config::Builder::from(self.sdk().await)
                    .interceptor(self.calls.clone())
                    .build();
                aws_sdk_vpclattice::Client::from_conf(conf)
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
            "vpclattice" if vpclattice::serves(kind) => {
                vpclattice::read(self.vpclattice().await, kind, items).await
            }
            _ => Err(unknown_kind(kind)),
        }
    }

    async fn create(&self, op: &CreateOp) -> Result<Applied, ProviderError> {
        let kind = op.address.kind();
        match service(kind) {
            "ec2" if ec2::serves(kind) => ec2::create(self.ec2().await, op).await,
            "vpclattice" if vpclattice::serves(kind) => {
                vpclattice::create(self.vpclattice().await, op).await
            }
            _ => Err(unknown_kind(kind)),
        }
    }

    async fn update(&self, op: &UpdateOp) -> Result<Applied, ProviderError> {
        let kind = op.address.kind();
        match service(kind) {
            "ec2" if ec2::serves(kind) => ec2::update(self.ec2().await, op).await,
            "vpclattice" if vpclattice::serves(kind) => {
                vpclattice::update(self.vpclattice().await, op).await
            }
            _ => Err(unknown_kind(kind)),
        }
    }

    async fn delete(&self, op: &DeleteOp) -> Result<(), ProviderError> {
        let kind = op.address.kind();
        match service(kind) {
            "ec2" if ec2::serves(kind) => ec2::delete(self.ec2().await, op).await,
            "vpclattice" if vpclattice::serves(kind) => {
                vpclattice::delete(self.vpclattice().await, op).await
            }
            _ => Err(unknown_kind(kind)),
        }
    }

    async fn adopt(&self, op: &CreateOp) -> Result<Option<Applied>, ProviderError> {
        let kind = op.address.kind();
        match service(kind) {
            "ec2" if ec2::serves(kind) => ec2::adopt(self.ec2().await, op).await,
            "vpclattice" if vpclattice::serves(kind) => {
                vpclattice::adopt(self.vpclattice().await, op).await
            }
            _ => Err(unknown_kind(kind)),
        }
    }
}
