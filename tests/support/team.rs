//! A team's state bucket on moto: a versioned-or-not bucket and a KMS key
//! per test, payrun.toml's `[state]` for it, and raw reads and writes of
//! its objects behind payrun's back.

use std::sync::OnceLock;

use super::moto::{REGION, moto, sdk_config};

pub struct Team {
    pub bucket: String,
    pub kms_key: String,
    pub prefix: String,
}

fn rt() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| tokio::runtime::Runtime::new().unwrap())
}

pub fn block<T>(f: impl std::future::Future<Output = T>) -> T {
    rt().block_on(f)
}

pub async fn s3() -> aws_sdk_s3::Client {
    let conf = aws_sdk_s3::config::Builder::from(&sdk_config().await)
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}

impl Team {
    /// A new bucket (no versioning: payrun asks for it) and KMS key.
    pub fn new(tag: &str) -> Self {
        moto();
        let bucket = format!(
            "payrun-state-{tag}-{}",
            &uuid::Uuid::new_v4().to_string()[..8]
        );
        let kms_key = block(async {
            s3().await
                .create_bucket()
                .bucket(&bucket)
                .send()
                .await
                .unwrap();
            let kms = aws_sdk_kms::Client::new(&sdk_config().await);
            kms.create_key()
                .send()
                .await
                .unwrap()
                .key_metadata()
                .unwrap()
                .key_id()
                .to_string()
        });
        Self {
            bucket,
            kms_key,
            prefix: "platform".into(),
        }
    }

    /// payrun.toml's lines for this bucket, with a lease of `lease`
    /// renewed every `renew`.
    pub fn toml(&self, lease: &str, renew: &str) -> String {
        format!(
            "endpoint_url = \"{}\"\n\n[state]\nbackend = \"s3\"\nbucket = \"{}\"\nkey_prefix = \"{}\"\nregion = \"{REGION}\"\nkms_key = \"{}\"\nlease = \"{lease}\"\nlease_renew = \"{renew}\"\n",
            moto().endpoint,
            self.bucket,
            self.prefix,
            self.kms_key
        )
    }

    pub fn url(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.prefix)
    }

    pub fn key(&self, stack: &str, name: &str) -> String {
        format!("{}/{stack}/{name}", self.prefix)
    }

    /// The current object at `<prefix>/<stack>/<name>`, as stored.
    pub fn get(&self, stack: &str, name: &str) -> Option<Vec<u8>> {
        block(async {
            let out = s3()
                .await
                .get_object()
                .bucket(&self.bucket)
                .key(self.key(stack, name))
                .send()
                .await
                .ok()?;
            Some(out.body.collect().await.unwrap().into_bytes().to_vec())
        })
    }

    /// Write an object unconditionally, as another run (or a person) would.
    pub fn put(&self, stack: &str, name: &str, body: &[u8]) {
        block(async {
            s3().await
                .put_object()
                .bucket(&self.bucket)
                .key(self.key(stack, name))
                .body(body.to_vec().into())
                .send()
                .await
                .unwrap();
        });
    }

    pub fn delete(&self, stack: &str, name: &str) {
        block(async {
            s3().await
                .delete_object()
                .bucket(&self.bucket)
                .key(self.key(stack, name))
                .send()
                .await
                .unwrap();
        });
    }

    pub fn versioning_enabled(&self) -> bool {
        block(async {
            s3().await
                .get_bucket_versioning()
                .bucket(&self.bucket)
                .send()
                .await
                .unwrap()
                .status()
                .map(|s| s.as_str() == "Enabled")
                .unwrap_or(false)
        })
    }
}

/// A lock body naming another holder, its lease `lease_seconds` long.
pub fn foreign_lock(lease_seconds: u64) -> Vec<u8> {
    serde_json::json!({
        "id": "foreign",
        "holder": {
            "pid": 4242,
            "host": "ci-runner-7",
            "user": "ci",
            "command": "payrun apply",
            "started_at": "2026-01-01T00:00:00Z",
        },
        "lease_seconds": lease_seconds,
        "renewed_at": "2026-01-01T00:00:00Z",
        "renewal": 0,
    })
    .to_string()
    .into_bytes()
}
