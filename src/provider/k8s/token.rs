//! The EKS bearer token: a presigned STS GetCallerIdentity URL naming the
//! cluster (`x-k8s-aws-id`), as `aws eks get-token` makes it.

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    SignableBody, SignableRequest, SignatureLocation, SigningSettings, sign,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use base64::Engine;

pub const TOKEN_PREFIX: &str = "k8s-aws-v1.";
const CLUSTER_HEADER: &str = "x-k8s-aws-id";

/// EKS accepts a token for 15 minutes after signing, whatever it says; a
/// client older than this gets a fresh one.
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(10 * 60);

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

/// A token from the credentials and region the AWS config resolves.
pub async fn eks_token_from_env(cluster: &str, region: Option<&str>) -> Result<String, String> {
    use aws_credential_types::provider::ProvideCredentials;
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let region = region
        .map(str::to_string)
        .or_else(|| config.region().map(|r| r.to_string()))
        .ok_or("no AWS region: set AWS_REGION or the cluster's `region`")?;
    let provider = config
        .credentials_provider()
        .ok_or("no AWS credentials provider is configured")?;
    let credentials = provider
        .provide_credentials()
        .await
        .map_err(|e| format!("no AWS credentials for the EKS token: {e}"))?;
    eks_token(cluster, &region, credentials, SystemTime::now())
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
