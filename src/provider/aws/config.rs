//! `AwsSettings` and the one-time loading of the SDK configuration from the
//! default chain (environment, profile, SSO, instance metadata).

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_types::SdkConfig;
use aws_types::region::Region;

/// What the program or the command line says about the AWS account to use.
/// Anything left `None` comes from the default chain: `AWS_REGION`,
/// `AWS_PROFILE`, `AWS_ENDPOINT_URL`, the shared config files, SSO, IMDS.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AwsSettings {
    pub region: Option<String>,
    /// An alternative endpoint for every service (an emulator, a VPC
    /// endpoint).
    pub endpoint_url: Option<String>,
    pub profile: Option<String>,
    /// How long a read or an idempotent call keeps retrying throttling and
    /// 5xx answers (default [`super::retry::DEFAULT_BUDGET`]).
    pub retry_budget: Option<std::time::Duration>,
    /// How long one attempt of one request may take (default
    /// [`DEFAULT_REQUEST_TIMEOUT`]): the SDK gives up on it after that, and
    /// a create interrupted by a crash is looked for again once that long
    /// has passed since it was sent, since until then it may still be
    /// carried out.
    pub request_timeout: Option<std::time::Duration>,
}

/// The default of [`AwsSettings::request_timeout`].
pub const DEFAULT_REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

impl AwsSettings {
    /// The SDK configuration these settings resolve to: what the AWS
    /// provider calls with, and what EKS tokens are signed with.
    pub async fn load(&self) -> SdkConfig {
        load(self).await
    }
}

pub(super) async fn load(settings: &AwsSettings) -> SdkConfig {
    let attempt = settings.request_timeout.unwrap_or(DEFAULT_REQUEST_TIMEOUT);
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .retry_config(RetryConfig::adaptive())
        .timeout_config(
            aws_config::timeout::TimeoutConfig::builder()
                .operation_attempt_timeout(attempt)
                .build(),
        );
    if let Some(profile) = &settings.profile {
        loader = loader.profile_name(profile);
    }
    if let Some(region) = &settings.region {
        loader = loader.region(Region::new(region.clone()));
    }
    if let Some(url) = &settings.endpoint_url {
        loader = loader.endpoint_url(url);
    }
    loader.load().await
}
