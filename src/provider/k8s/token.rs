//! The EKS bearer token: a presigned STS GetCallerIdentity URL naming the
//! cluster (`x-k8s-aws-id`), as `aws eks get-token` makes it.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_credential_types::provider::ProvideCredentials;
use aws_sigv4::http_request::{
    SignableBody, SignableRequest, SignatureLocation, SigningSettings, sign,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use aws_types::SdkConfig;
use base64::Engine;
use tokio::sync::{Mutex, OnceCell};

use crate::provider::aws::AwsSettings;

pub const TOKEN_PREFIX: &str = "k8s-aws-v1.";
const CLUSTER_HEADER: &str = "x-k8s-aws-id";

/// EKS accepts a token for 15 minutes after signing, whatever its
/// `X-Amz-Expires` says; payrun uses one for 14, as `aws eks get-token`
/// does, so a request never carries a token in its last minute.
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(14 * 60);

/// A signed token and the moment payrun stops using it.
#[derive(Clone, Debug)]
pub struct Token {
    pub token: String,
    pub expires: SystemTime,
}

/// EKS tokens signed with the AWS provider's own settings (region,
/// endpoint, profile, credential chain), one per cluster and region,
/// signed again once the last one has lived its lifetime.
pub struct TokenSource {
    settings: AwsSettings,
    lifetime: Duration,
    sdk: OnceCell<SdkConfig>,
    tokens: Mutex<HashMap<(String, String), Token>>,
}

impl TokenSource {
    pub fn new(settings: AwsSettings, lifetime: Duration) -> Self {
        Self {
            settings,
            lifetime,
            sdk: OnceCell::new(),
            tokens: Mutex::default(),
        }
    }

    pub fn settings(&self) -> &AwsSettings {
        &self.settings
    }

    pub fn lifetime(&self) -> Duration {
        self.lifetime
    }

    async fn sdk(&self) -> &SdkConfig {
        self.sdk.get_or_init(|| self.settings.load()).await
    }

    /// The region a token for a cluster in `region` (or, unsaid, in the
    /// provider's region) is signed for.
    pub async fn region(&self, region: Option<&str>) -> Result<String, String> {
        match region.or(self.settings.region.as_deref()) {
            Some(r) => Ok(r.to_string()),
            None => self
                .sdk()
                .await
                .region()
                .map(|r| r.to_string())
                .ok_or_else(|| {
                    "no AWS region: set --region, AWS_REGION or the cluster's `region`".into()
                }),
        }
    }

    /// A token for `cluster` that has at least its use left: the last one,
    /// or a new one when the last has lived its lifetime.
    pub async fn token(&self, cluster: &str, region: Option<&str>) -> Result<Token, String> {
        let region = self.region(region).await?;
        let key = (cluster.to_string(), region.clone());
        let mut tokens = self.tokens.lock().await;
        if let Some(t) = tokens.get(&key)
            && SystemTime::now() < t.expires
        {
            return Ok(t.clone());
        }
        let credentials = self
            .sdk()
            .await
            .credentials_provider()
            .ok_or("no AWS credentials provider is configured")?
            .provide_credentials()
            .await
            .map_err(|e| format!("no AWS credentials for the EKS token: {e}"))?;
        let now = SystemTime::now();
        let token = Token {
            token: eks_token(cluster, &region, credentials, now)?,
            expires: now + self.lifetime,
        };
        tokens.insert(key, token.clone());
        Ok(token)
    }
}

/// A token for `cluster` signed with `credentials` at `time`.
pub fn eks_token(
    cluster: &str,
    region: &str,
    credentials: Credentials,
    time: SystemTime,
) -> Result<String, String> {
    let identity: Identity = credentials.into();
    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(Duration::from_secs(60));
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("sts")
        .time(time)
        .settings(settings)
        .build()
        .map_err(|e| format!("signing the EKS token: {e}"))?
        .into();
    let url =
        format!("https://sts.{region}.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15");
    let request = SignableRequest::new(
        "GET",
        url.as_str(),
        [(CLUSTER_HEADER, cluster)].into_iter(),
        SignableBody::Bytes(&[]),
    )
    .map_err(|e| format!("signing the EKS token: {e}"))?;
    let (instructions, _) = sign(request, &params)
        .map_err(|e| format!("signing the EKS token: {e}"))?
        .into_parts();
    let mut signed = url;
    for (k, v) in instructions.params() {
        signed.push('&');
        signed.push_str(k);
        signed.push('=');
        signed.push_str(&percent_encode(v));
    }
    Ok(format!(
        "{TOKEN_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(signed)
    ))
}

/// What a kubeconfig's exec credential plugin prints for `token`
/// (`client.authentication.k8s.io/v1beta1`): the client runs the plugin
/// again once `expirationTimestamp` has passed.
pub fn exec_credential(token: &Token) -> serde_json::Value {
    serde_json::json!({
        "kind": "ExecCredential",
        "apiVersion": EXEC_API_VERSION,
        "spec": {},
        "status": {
            "expirationTimestamp": humantime::format_rfc3339_seconds(token.expires).to_string(),
            "token": token.token,
        },
    })
}

/// The exec credential API helm's client and payrun speak.
pub const EXEC_API_VERSION: &str = "client.authentication.k8s.io/v1beta1";

/// Query-string encoding: everything but unreserved characters.
fn percent_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_is_a_presigned_get_caller_identity_naming_the_cluster() {
        let creds = Credentials::new(
            "AKIDEXAMPLE",
            "secret",
            Some("session".into()),
            None,
            "test",
        );
        let time = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let token = eks_token("payments", "eu-west-1", creds, time).unwrap();
        let encoded = token.strip_prefix(TOKEN_PREFIX).unwrap();
        assert!(!encoded.contains('='), "no padding");
        let url = String::from_utf8(
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(encoded)
                .unwrap(),
        )
        .unwrap();
        assert!(url.starts_with(
            "https://sts.eu-west-1.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15&"
        ));
        assert!(url.contains("X-Amz-Algorithm=AWS4-HMAC-SHA256"));
        assert!(
            url.contains(
                "X-Amz-Credential=AKIDEXAMPLE%2F20231114%2Feu-west-1%2Fsts%2Faws4_request"
            )
        );
        assert!(url.contains("X-Amz-Expires=60"));
        assert!(url.contains("X-Amz-SignedHeaders=host%3Bx-k8s-aws-id"));
        assert!(url.contains("X-Amz-Security-Token=session"));
        assert!(url.contains("X-Amz-Signature="));
        // Deterministic for the same inputs: nothing random goes in.
        let again = eks_token(
            "payments",
            "eu-west-1",
            Credentials::new(
                "AKIDEXAMPLE",
                "secret",
                Some("session".into()),
                None,
                "test",
            ),
            time,
        )
        .unwrap();
        assert_eq!(token, again);
    }
}
