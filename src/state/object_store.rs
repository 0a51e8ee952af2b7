//! `ObjectStore` and `KeyService`: what the S3 state store needs of a
//! bucket and of a key service, so the store and its lock are written (and
//! tested) without an SDK; `provider::aws::state_bucket` serves them with
//! S3 and KMS.

use std::collections::BTreeMap;
use std::time::SystemTime;

use async_trait::async_trait;

/// A write's precondition (S3 conditional writes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Condition {
    None,
    /// `If-None-Match: *`: only when no object is at the key.
    Absent,
    /// `If-Match: <etag>`: only over exactly this object.
    Matches(String),
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObjectMeta {
    pub etag: String,
    pub version_id: Option<String>,
    pub last_modified: Option<SystemTime>,
    /// User metadata (`x-amz-meta-*`), names without the prefix.
    pub metadata: BTreeMap<String, String>,
}

#[derive(Clone, Debug)]
pub struct Object {
    pub body: Vec<u8>,
    pub meta: ObjectMeta,
}

/// One version of a key in a versioned bucket.
#[derive(Clone, Debug)]
pub struct ObjectVersion {
    pub version_id: String,
    pub last_modified: Option<SystemTime>,
    pub delete_marker: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Versioning {
    Enabled,
    Suspended,
    Never,
}

#[derive(Debug, thiserror::Error)]
pub enum ObjectError {
    /// The write's condition did not hold (HTTP 412), or an `If-Match`
    /// named an object that is gone.
    #[error("precondition failed")]
    Precondition,
    #[error("access denied: {0}")]
    Denied(String),
    #[error("{0}")]
    Other(String),
}

#[async_trait]
pub trait ObjectStore: Send + Sync {
    /// `s3://bucket`, for messages.
    fn describe(&self) -> String;
    async fn get(&self, key: &str, version: Option<&str>) -> Result<Option<Object>, ObjectError>;
    async fn head(
        &self,
        key: &str,
        version: Option<&str>,
    ) -> Result<Option<ObjectMeta>, ObjectError>;
    async fn put(
        &self,
        key: &str,
        body: Vec<u8>,
        metadata: BTreeMap<String, String>,
        condition: Condition,
    ) -> Result<ObjectMeta, ObjectError>;
    /// Delete the current object at `key` (a delete marker in a versioned
    /// bucket), only if it is `if_match` when given.
    async fn delete(&self, key: &str, if_match: Option<&str>) -> Result<(), ObjectError>;
    /// Versions of `key`, newest first.
    async fn versions(&self, key: &str) -> Result<Vec<ObjectVersion>, ObjectError>;
    async fn versioning(&self) -> Result<Versioning, ObjectError>;
    async fn enable_versioning(&self) -> Result<(), ObjectError>;
    /// Calls sent so far, by operation name.
    fn calls(&self) -> BTreeMap<String, u64>;
}

/// A data key: its plaintext, and the same key encrypted under the master
/// key (what is stored).
pub struct DataKey {
    pub plaintext: Vec<u8>,
    pub encrypted: Vec<u8>,
}

#[async_trait]
pub trait KeyService: Send + Sync {
    /// A fresh 256-bit data key under `key_id`, bound to `context`.
    async fn data_key(
        &self,
        key_id: &str,
        context: &BTreeMap<String, String>,
    ) -> Result<DataKey, String>;
    /// The plaintext of an encrypted data key, given the same context.
    async fn decrypt(
        &self,
        encrypted: &[u8],
        context: &BTreeMap<String, String>,
    ) -> Result<Vec<u8>, String>;
    fn calls(&self) -> BTreeMap<String, u64>;
}
