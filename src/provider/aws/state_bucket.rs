//! `StateBucket` and `StateKeys`: the bucket and the key service of the S3
//! state store, served by S3 and KMS with the provider's credential chain,
//! endpoint and retry policy. Each counts its calls.

use std::collections::{BTreeMap, HashMap};
use std::time::SystemTime;

use async_trait::async_trait;
use aws_sdk_s3::error::SdkError;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};
use aws_smithy_types::Blob;
use tokio::sync::OnceCell;

use crate::state::{
    Condition, DataKey, KeyService, Object, ObjectError, ObjectMeta, ObjectStore, ObjectVersion,
    Versioning,
};

use super::api_calls::ApiCalls;
use super::config::{self, AwsSettings};
use super::retry;

/// The bucket a team's state lives in.
pub struct StateBucket {
    settings: AwsSettings,
    bucket: String,
    client: OnceCell<aws_sdk_s3::Client>,
    calls: ApiCalls,
}

/// KMS, for the data keys that seal state.
pub struct StateKeys {
    settings: AwsSettings,
    client: OnceCell<aws_sdk_kms::Client>,
    calls: ApiCalls,
}

impl StateBucket {
    pub fn new(settings: AwsSettings, bucket: &str) -> Self {
        Self {
            settings,
            bucket: bucket.to_string(),
            client: OnceCell::new(),
            calls: ApiCalls::default(),
        }
    }

    async fn s3(&self) -> &aws_sdk_s3::Client {
        self.client
            .get_or_init(|| async {
                let sdk = config::load(&self.settings).await;
                let conf = aws_sdk_s3::config::Builder::from(&sdk)
                    .interceptor(self.calls.clone())
                    .interceptor(retry::RetryPolicy::new(
                        self.settings.retry_budget.unwrap_or(retry::DEFAULT_BUDGET),
                    ))
                    .retry_partition(retry::RetryPolicy::partition("s3"));
                aws_sdk_s3::Client::from_conf(super::s3::configure(conf, &self.settings).build())
            })
            .await
    }
}

impl StateKeys {
    pub fn new(settings: AwsSettings) -> Self {
        Self {
            settings,
            client: OnceCell::new(),
            calls: ApiCalls::default(),
        }
    }

    async fn kms(&self) -> &aws_sdk_kms::Client {
        self.client
            .get_or_init(|| async {
                let sdk = config::load(&self.settings).await;
                let conf = aws_sdk_kms::config::Builder::from(&sdk)
                    .interceptor(self.calls.clone())
                    .interceptor(retry::RetryPolicy::new(
                        self.settings.retry_budget.unwrap_or(retry::DEFAULT_BUDGET),
                    ))
                    .retry_partition(retry::RetryPolicy::partition("state-kms"))
                    .build();
                aws_sdk_kms::Client::from_conf(conf)
            })
            .await
    }
}

fn status<E>(e: &SdkError<E, aws_smithy_runtime_api::http::Response>) -> Option<u16> {
    e.raw_response().map(|r| r.status().as_u16())
}

fn object_error<E>(e: &SdkError<E, aws_smithy_runtime_api::http::Response>) -> ObjectError
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + 'static,
{
    let code = e.as_service_error().and_then(|s| s.code()).unwrap_or("");
    match status(e) {
        Some(412) => ObjectError::Precondition,
        Some(409) if code == "ConditionalRequestConflict" => ObjectError::Precondition,
        Some(403) => ObjectError::Denied(describe(e)),
        _ => ObjectError::Other(describe(e)),
    }
}

fn describe<E>(e: &SdkError<E, aws_smithy_runtime_api::http::Response>) -> String
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + 'static,
{
    match e.as_service_error() {
        Some(s) => format!(
            "{}: {}",
            s.code().unwrap_or("error"),
            s.message().unwrap_or("(no message)")
        ),
        None => aws_smithy_types::error::display::DisplayErrorContext(e).to_string(),
    }
}

fn time(t: Option<&aws_smithy_types::DateTime>) -> Option<SystemTime> {
    t.and_then(|t| SystemTime::try_from(*t).ok())
}

fn metadata(m: Option<&HashMap<String, String>>) -> BTreeMap<String, String> {
    m.map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default()
}

#[async_trait]
impl ObjectStore for StateBucket {
    fn describe(&self) -> String {
        format!("s3://{}", self.bucket)
    }

    async fn get(&self, key: &str, version: Option<&str>) -> Result<Option<Object>, ObjectError> {
        let out = self
            .s3()
            .await
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .set_version_id(version.map(str::to_string))
            .send()
            .await;
        let out = match out {
            Ok(o) => o,
            Err(e) if status(&e) == Some(404) => return Ok(None),
            Err(e) => return Err(object_error(&e)),
        };
        let meta = ObjectMeta {
            etag: out.e_tag().unwrap_or_default().to_string(),
            version_id: out.version_id().map(str::to_string),
            last_modified: time(out.last_modified()),
            metadata: metadata(out.metadata()),
        };
        let body = out
            .body
            .collect()
            .await
            .map_err(|e| ObjectError::Other(e.to_string()))?
            .into_bytes()
            .to_vec();
        Ok(Some(Object { body, meta }))
    }

    async fn head(
        &self,
        key: &str,
        version: Option<&str>,
    ) -> Result<Option<ObjectMeta>, ObjectError> {
        let out = self
            .s3()
            .await
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .set_version_id(version.map(str::to_string))
            .send()
            .await;
        match out {
            Ok(o) => Ok(Some(ObjectMeta {
                etag: o.e_tag().unwrap_or_default().to_string(),
                version_id: o.version_id().map(str::to_string),
                last_modified: time(o.last_modified()),
                metadata: metadata(o.metadata()),
            })),
            Err(e) if status(&e) == Some(404) => Ok(None),
            Err(e) => Err(object_error(&e)),
        }
    }

    async fn put(
        &self,
        key: &str,
        body: Vec<u8>,
        metadata: BTreeMap<String, String>,
        condition: Condition,
    ) -> Result<ObjectMeta, ObjectError> {
        let mut req = self
            .s3()
            .await
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type("application/octet-stream")
            .set_metadata(Some(metadata.clone().into_iter().collect()))
            .body(ByteStream::from(body));
        req = match &condition {
            Condition::None => req,
            Condition::Absent => req.if_none_match("*"),
            Condition::Matches(etag) => req.if_match(etag),
        };
        match req.send().await {
            Ok(o) => Ok(ObjectMeta {
                etag: o.e_tag().unwrap_or_default().to_string(),
                version_id: o.version_id().map(str::to_string),
                last_modified: Some(SystemTime::now()),
                metadata,
            }),
            // If-Match on an object that is gone.
            Err(e) if status(&e) == Some(404) && matches!(condition, Condition::Matches(_)) => {
                Err(ObjectError::Precondition)
            }
            Err(e) => Err(object_error(&e)),
        }
    }

    async fn delete(&self, key: &str, if_match: Option<&str>) -> Result<(), ObjectError> {
        let out = self
            .s3()
            .await
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .set_if_match(if_match.map(str::to_string))
            .send()
            .await;
        match out {
            Ok(_) => Ok(()),
            Err(e) if status(&e) == Some(404) => Ok(()),
            Err(e) => Err(object_error(&e)),
        }
    }

    async fn versions(&self, key: &str) -> Result<Vec<ObjectVersion>, ObjectError> {
        let mut out = Vec::new();
        let mut key_marker: Option<String> = None;
        let mut version_marker: Option<String> = None;
        loop {
            let page = self
                .s3()
                .await
                .list_object_versions()
                .bucket(&self.bucket)
                .prefix(key)
                .set_key_marker(key_marker.clone())
                .set_version_id_marker(version_marker.clone())
                .send()
                .await
                .map_err(|e| object_error(&e))?;
            for v in page.versions() {
                if v.key() == Some(key) {
                    out.push(ObjectVersion {
                        version_id: v.version_id().unwrap_or("null").to_string(),
                        last_modified: time(v.last_modified()),
                        delete_marker: false,
                    });
                }
            }
            for d in page.delete_markers() {
                if d.key() == Some(key) {
                    out.push(ObjectVersion {
                        version_id: d.version_id().unwrap_or("null").to_string(),
                        last_modified: time(d.last_modified()),
                        delete_marker: true,
                    });
                }
            }
            if page.is_truncated() != Some(true) {
                break;
            }
            key_marker = page.next_key_marker().map(str::to_string);
            version_marker = page.next_version_id_marker().map(str::to_string);
        }
        out.sort_by_key(|v| std::cmp::Reverse(v.last_modified));
        Ok(out)
    }

    async fn versioning(&self) -> Result<Versioning, ObjectError> {
        let out = self
            .s3()
            .await
            .get_bucket_versioning()
            .bucket(&self.bucket)
            .send()
            .await
            .map_err(|e| object_error(&e))?;
        Ok(match out.status() {
            Some(BucketVersioningStatus::Enabled) => Versioning::Enabled,
            Some(_) => Versioning::Suspended,
            None => Versioning::Never,
        })
    }

    async fn enable_versioning(&self) -> Result<(), ObjectError> {
        self.s3()
            .await
            .put_bucket_versioning()
            .bucket(&self.bucket)
            .versioning_configuration(
                VersioningConfiguration::builder()
                    .status(BucketVersioningStatus::Enabled)
                    .build(),
            )
            .send()
            .await
            .map(|_| ())
            .map_err(|e| object_error(&e))
    }

    fn calls(&self) -> BTreeMap<String, u64> {
        self.calls.snapshot()
    }
}

#[async_trait]
impl KeyService for StateKeys {
    async fn data_key(
        &self,
        key_id: &str,
        context: &BTreeMap<String, String>,
    ) -> Result<DataKey, String> {
        let out = self
            .kms()
            .await
            .generate_data_key()
            .key_id(key_id)
            .key_spec(aws_sdk_kms::types::DataKeySpec::Aes256)
            .set_encryption_context(Some(context.clone().into_iter().collect()))
            .send()
            .await
            .map_err(|e| kms_error(&e))?;
        match (out.plaintext(), out.ciphertext_blob()) {
            (Some(p), Some(c)) => Ok(DataKey {
                plaintext: p.as_ref().to_vec(),
                encrypted: c.as_ref().to_vec(),
            }),
            _ => Err("GenerateDataKey answered without a key".into()),
        }
    }

    async fn decrypt(
        &self,
        encrypted: &[u8],
        context: &BTreeMap<String, String>,
    ) -> Result<Vec<u8>, String> {
        let out = self
            .kms()
            .await
            .decrypt()
            .ciphertext_blob(Blob::new(encrypted.to_vec()))
            .set_encryption_context(Some(context.clone().into_iter().collect()))
            .send()
            .await
            .map_err(|e| kms_error(&e))?;
        out.plaintext()
            .map(|p| p.as_ref().to_vec())
            .ok_or_else(|| "Decrypt answered without a key".into())
    }

    fn calls(&self) -> BTreeMap<String, u64> {
        self.calls.snapshot()
    }
}

fn kms_error<E>(e: &SdkError<E, aws_smithy_runtime_api::http::Response>) -> String
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + 'static,
{
    describe(e)
}
