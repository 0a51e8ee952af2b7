//! `aws.s3.bucket`: a bucket named `s3-{purpose}-{suffix}`, private and
//! encrypted by default: every public access block on, default encryption
//! SSE-S3 or SSE-KMS with a bucket key, versioning when asked, tags. id: the
//! bucket name.
//!
//! A create is CreateBucket, then one Put per setting, tags last; an
//! interrupted create is finished by putting every setting again (`complete`),
//! each Put being idempotent. A bucket is global by name: one of our name in
//! this account is ours when its tags name this stack and address, or when it
//! has no tags at all (the create stopped before tagging); another stack's is
//! never taken.

use aws_sdk_s3::Client;
use aws_sdk_s3::types::{
    BucketLifecycleConfiguration, BucketLocationConstraint, BucketVersioningStatus,
    CreateBucketConfiguration, ExpirationStatus, LifecycleExpiration, LifecycleRule,
    LifecycleRuleFilter, NoncurrentVersionExpiration, PublicAccessBlockConfiguration, ServerSideEncryption, ServerSideEncryptionByDefault,
    ServerSideEncryptionConfiguration, ServerSideEncryptionRule, Tag, Tagging,
    VersioningConfiguration,
};
use payrun_derive::Args;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::provider::aws::call::{found, gone_is_ok, parse};
use crate::provider::aws::error::AwsResultExt;
use crate::provider::aws::observed::Observed;
use crate::provider::aws::policy_document;
use crate::provider::aws::tags::{self, Tags};
use crate::provider::schema::{ArgError, CheckArgs, KindSchema, validate_checked};
use crate::provider::{Applied, CreateOp, DeleteOp, ProviderError, ReadItem, ReadResult, UpdateOp};

fn yes() -> bool {
    true
}

#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
enum Encryption {
    #[default]
    #[serde(rename = "AES256")]
    Aes256,
    #[serde(rename = "aws:kms")]
    Kms,
}

impl Encryption {
    fn as_str(self) -> &'static str {
        match self {
            Encryption::Aes256 => "AES256",
            Encryption::Kms => "aws:kms",
        }
    }
}

/// The four settings of S3 Block Public Access, all on unless turned off.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
struct PublicAccessBlock {
    #[serde(default = "yes")]
    block_public_acls: bool,
    #[serde(default = "yes")]
    ignore_public_acls: bool,
    #[serde(default = "yes")]
    block_public_policy: bool,
    #[serde(default = "yes")]
    restrict_public_buckets: bool,
}

impl Default for PublicAccessBlock {
    fn default() -> Self {
        Self {
            block_public_acls: true,
            ignore_public_acls: true,
            block_public_policy: true,
            restrict_public_buckets: true,
        }
    }
}

#[derive(Deserialize, Args)]
#[serde(deny_unknown_fields)]
#[arg(kind = "aws.s3.bucket")]
struct BucketArgs {
    /// Keep every version of every object (S3 versioning); once on, it can
    /// only be suspended.
    #[serde(default)]
    versioning: bool,
    /// Default encryption: `AES256` (SSE-S3) or `aws:kms` with `kms_key`.
    #[serde(default)]
    #[arg(default = "\"AES256\"")]
    encryption: Encryption,
    /// The KMS key (ARN) of `aws:kms` encryption.
    #[serde(default)]
    #[arg(takes = "arn")]
    kms_key: Option<String>,
    #[serde(default)]
    #[arg(default = "{\"block_public_acls\": true, \"ignore_public_acls\": true, \"block_public_policy\": true, \"restrict_public_buckets\": true}")]
    public_access_block: PublicAccessBlock,
    /// Destroy deletes every object version first; without it, destroying
    /// a bucket that still holds objects fails and says so.
    #[serde(default)]
    force_destroy: bool,
    /// S3 lifecycle: objects expire this many days after they are written,
    /// earlier versions this many days after they are replaced, and
    /// unfinished multipart uploads after a week. Without it, kept forever.
    #[serde(default)]
    expire_after_days: Option<u32>,
    /// The bucket policy (a map: `Version`, `Statement`), compared by
    /// meaning. Without it the bucket has none.
    #[serde(default)]
    #[arg(document)]
    policy: Option<Map<String, Value>>,
    #[serde(default)]
    tags: Tags,
}

/// The id of the lifecycle rule `expire_after_days` writes.
const EXPIRY_RULE: &str = "payrun-expire";

impl CheckArgs for BucketArgs {
    fn check(&self) -> Result<(), ArgError> {
        match (self.encryption, &self.kms_key) {
            (Encryption::Kms, None) => Err(ArgError::new(
                "`kms_key`: required with `encryption: \"aws:kms\"`",
                "name the key: `kms_key: key.arn`",
            )),
            (Encryption::Aes256, Some(_)) => Err(ArgError::new(
                "`kms_key`: only used with `encryption: \"aws:kms\"`",
                "add `encryption: \"aws:kms\"`, or drop `kms_key` for SSE-S3",
            )),
            _ => Ok(()),
        }?;
        if self.expire_after_days == Some(0) {
            return Err(ArgError::new(
                "`expire_after_days`: 0 would expire every object at once",
                "give a number of days (365 keeps a year), or leave it out to keep objects",
            ));
        }
        Ok(())
    }
}

pub(super) const SCHEMA: KindSchema = KindSchema {
    kind: BucketArgs::KIND,
    name_prefix: "s3",
    name_max: 63,
    taggable: true,
    named_by_arg: false,
    create_before_destroy: false,
    args: BucketArgs::SPECS,
    outputs: &["arn", "name", "domain_name", "region"],
    validate: &validate_checked::<BucketArgs>,
    reads_each: Some("a few calls per bucket (versioning, encryption, public access block, tags): S3 has no batched read of bucket settings"),
    doc: "An S3 bucket, private and encrypted: `versioning` (false), `encryption` (`AES256` or `aws:kms` with `kms_key`), `public_access_block` (all four blocks on), `force_destroy` (false: a bucket with objects is not destroyed), `expire_after_days` (lifecycle; none), `policy` (none).",
};

fn region(s3: &Client) -> String {
    s3.config()
        .region()
        .map_or("us-east-1".to_string(), |r| r.to_string())
}

fn outputs(s3: &Client, name: &str) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("arn".into(), json!(format!("arn:aws:s3:::{name}")));
    m.insert("name".into(), json!(name));
    m.insert(
        "domain_name".into(),
        json!(format!("{name}.s3.amazonaws.com")),
    );
    m.insert("region".into(), json!(region(s3)));
    m
}

async fn exists(s3: &Client, subject: &str, name: &str) -> Result<bool, ProviderError> {
    Ok(found(
        s3.head_bucket()
            .bucket(name)
            .send()
            .await
            .or_fail(subject, "s3:ListBucket"),
    )?
    .is_some())
}

async fn live_tags(s3: &Client, subject: &str, name: &str) -> Result<Tags, ProviderError> {
    let out = s3
        .get_bucket_tagging()
        .bucket(name)
        .send()
        .await
        .or_fail(subject, "s3:GetBucketTagging");
    match out {
        Ok(out) => Ok(out
            .tag_set()
            .iter()
            .map(|t| (t.key().to_string(), t.value().to_string()))
            .filter(|(k, _)| !k.starts_with("aws:"))
            .collect()),
        Err(e) if e.code.as_deref() == Some("NoSuchTagSet") => Ok(Tags::new()),
        Err(e) => Err(e),
    }
}

async fn put_tags(s3: &Client, subject: &str, name: &str, tags: &Tags) -> Result<(), ProviderError> {
    if tags.is_empty() {
        s3.delete_bucket_tagging()
            .bucket(name)
            .send()
            .await
            .or_fail(subject, "s3:PutBucketTagging")?;
        return Ok(());
    }
    let set: Vec<Tag> = tags
        .iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect::<Result<_, _>>()
        .map_err(|e| ProviderError::new(format!("{subject}: {e}")))?;
    s3.put_bucket_tagging()
        .bucket(name)
        .tagging(
            Tagging::builder()
                .set_tag_set(Some(set))
                .build()
                .map_err(|e| ProviderError::new(format!("{subject}: {e}")))?,
        )
        .send()
        .await
        .or_fail(subject, "s3:PutBucketTagging")?;
    Ok(())
}

async fn put_public_access_block(
    s3: &Client,
    subject: &str,
    name: &str,
    b: PublicAccessBlock,
) -> Result<(), ProviderError> {
    s3.put_public_access_block()
        .bucket(name)
        .public_access_block_configuration(
            PublicAccessBlockConfiguration::builder()
                .block_public_acls(b.block_public_acls)
                .ignore_public_acls(b.ignore_public_acls)
                .block_public_policy(b.block_public_policy)
                .restrict_public_buckets(b.restrict_public_buckets)
                .build(),
        )
        .send()
        .await
        .or_fail(subject, "s3:PutBucketPublicAccessBlock")?;
    Ok(())
}

async fn put_encryption(
    s3: &Client,
    subject: &str,
    name: &str,
    a: &BucketArgs,
) -> Result<(), ProviderError> {
    let by_default = ServerSideEncryptionByDefault::builder()
        .sse_algorithm(ServerSideEncryption::from(a.encryption.as_str()))
        .set_kms_master_key_id(a.kms_key.clone())
        .build()
        .map_err(|e| ProviderError::new(format!("{subject}: {e}")))?;
    let rule = ServerSideEncryptionRule::builder()
        .apply_server_side_encryption_by_default(by_default)
        .bucket_key_enabled(a.encryption == Encryption::Kms)
        .build();
    s3.put_bucket_encryption()
        .bucket(name)
        .server_side_encryption_configuration(
            ServerSideEncryptionConfiguration::builder()
                .rules(rule)
                .build()
                .map_err(|e| ProviderError::new(format!("{subject}: {e}")))?,
        )
        .send()
        .await
        .or_fail(subject, "s3:PutEncryptionConfiguration")?;
    Ok(())
}

/// Versioning is never "off" again once on: turning it off suspends it.
async fn put_versioning(
    s3: &Client,
    subject: &str,
    name: &str,
    on: bool,
) -> Result<(), ProviderError> {
    let status = if on {
        BucketVersioningStatus::Enabled
    } else {
        BucketVersioningStatus::Suspended
    };
    s3.put_bucket_versioning()
        .bucket(name)
        .versioning_configuration(VersioningConfiguration::builder().status(status).build())
        .send()
        .await
        .or_fail(subject, "s3:PutBucketVersioning")?;
    Ok(())
}

/// The lifecycle `days` asks for, or none.
async fn put_lifecycle(
    s3: &Client,
    subject: &str,
    name: &str,
    days: Option<u32>,
) -> Result<(), ProviderError> {
    let Some(days) = days else {
        s3.delete_bucket_lifecycle()
            .bucket(name)
            .send()
            .await
            .or_fail(subject, "s3:PutLifecycleConfiguration")?;
        return Ok(());
    };
    let days = i32::try_from(days).unwrap_or(i32::MAX);
    let rule = LifecycleRule::builder()
        .id(EXPIRY_RULE)
        .status(ExpirationStatus::Enabled)
        .filter(LifecycleRuleFilter::builder().prefix("").build())
        .expiration(LifecycleExpiration::builder().days(days).build())
        .noncurrent_version_expiration(
            NoncurrentVersionExpiration::builder()
                .noncurrent_days(days)
                .build(),
        )
        .abort_incomplete_multipart_upload(
            aws_sdk_s3::types::AbortIncompleteMultipartUpload::builder()
                .days_after_initiation(7)
                .build(),
        )
        .build()
        .map_err(|e| ProviderError::new(format!("{subject}: {e}")))?;
    s3.put_bucket_lifecycle_configuration()
        .bucket(name)
        .lifecycle_configuration(
            BucketLifecycleConfiguration::builder()
                .rules(rule)
                .build()
                .map_err(|e| ProviderError::new(format!("{subject}: {e}")))?,
        )
        .send()
        .await
        .or_fail(subject, "s3:PutLifecycleConfiguration")?;
    Ok(())
}

/// The bucket policy `policy` asks for, or none.
async fn put_policy(
    s3: &Client,
    subject: &str,
    name: &str,
    policy: Option<&Map<String, Value>>,
) -> Result<(), ProviderError> {
    match policy {
        Some(p) => {
            s3.put_bucket_policy()
                .bucket(name)
                .policy(policy_document::to_json(&Value::Object(p.clone())))
                .send()
                .await
                .or_fail(subject, "s3:PutBucketPolicy")?;
        }
        None => {
            gone_is_ok(
                s3.delete_bucket_policy()
                    .bucket(name)
                    .send()
                    .await
                    .or_fail(subject, "s3:DeleteBucketPolicy"),
            )?;
        }
    }
    Ok(())
}

/// Puts every setting of `a` on the bucket, tags last.
async fn settle(s3: &Client, subject: &str, name: &str, a: &BucketArgs) -> Result<(), ProviderError> {
    put_public_access_block(s3, subject, name, a.public_access_block).await?;
    put_encryption(s3, subject, name, a).await?;
    if a.versioning {
        put_versioning(s3, subject, name, true).await?;
    }
    if a.expire_after_days.is_some() {
        put_lifecycle(s3, subject, name, a.expire_after_days).await?;
    }
    if a.policy.is_some() {
        put_policy(s3, subject, name, a.policy.as_ref()).await?;
    }
    put_tags(s3, subject, name, &a.tags).await
}

pub(super) async fn create(s3: &Client, op: &CreateOp) -> Result<Applied, ProviderError> {
    let subject = op.address.to_string();
    let a: BucketArgs = parse(&op.args, &subject)?;
    let region = region(s3);
    // us-east-1 takes no location constraint; every other region needs one.
    let location = (region != "us-east-1").then(|| {
        CreateBucketConfiguration::builder()
            .location_constraint(BucketLocationConstraint::from(region.as_str()))
            .build()
    });
    s3.create_bucket()
        .bucket(&op.name)
        .set_create_bucket_configuration(location)
        .send()
        .await
        .or_fail(&subject, "s3:CreateBucket")?;
    settle(s3, &subject, &op.name, &a).await?;
    Ok(Applied {
        id: op.name.clone(),
        outputs: outputs(s3, &op.name),
    })
}

/// Finishes a create interrupted after CreateBucket.
pub(super) async fn complete(
    s3: &Client,
    op: &CreateOp,
    made: &Applied,
) -> Result<Applied, ProviderError> {
    let subject = op.address.to_string();
    let a: BucketArgs = parse(&op.args, &subject)?;
    settle(s3, &subject, &made.id, &a).await?;
    Ok(made.clone())
}

/// Five reads per bucket: S3 has no call that describes a bucket whole.
pub(super) async fn read(
    s3: &Client,
    _cx: &crate::provider::aws::refresh::Refresh<'_>,
    items: &[ReadItem],
) -> Result<Vec<ReadResult>, ProviderError> {
    let subject = SCHEMA.kind;
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let name = item.id.as_str();
        if !exists(s3, subject, name).await? {
            out.push(ReadResult::Gone);
            continue;
        }
        let versioning = s3
            .get_bucket_versioning()
            .bucket(name)
            .send()
            .await
            .or_fail(subject, "s3:GetBucketVersioning")?;
        let versioning = versioning.status() == Some(&BucketVersioningStatus::Enabled);
        let encryption = found(
            s3.get_bucket_encryption()
                .bucket(name)
                .send()
                .await
                .or_fail(subject, "s3:GetEncryptionConfiguration"),
        )?;
        let by_default = encryption
            .as_ref()
            .and_then(|e| e.server_side_encryption_configuration())
            .and_then(|c| c.rules().first())
            .and_then(|r| r.apply_server_side_encryption_by_default());
        let algorithm = by_default.map_or("AES256", |d| d.sse_algorithm().as_str());
        let key = by_default.and_then(|d| d.kms_master_key_id());
        let block = s3
            .get_public_access_block()
            .bucket(name)
            .send()
            .await
            .or_fail(subject, "s3:GetBucketPublicAccessBlock");
        let block = match block {
            Ok(b) => b.public_access_block_configuration().map(|c| {
                json!({
                    "block_public_acls": c.block_public_acls().unwrap_or(false),
                    "ignore_public_acls": c.ignore_public_acls().unwrap_or(false),
                    "block_public_policy": c.block_public_policy().unwrap_or(false),
                    "restrict_public_buckets": c.restrict_public_buckets().unwrap_or(false),
                })
            }),
            Err(e) if e.code.as_deref() == Some("NoSuchPublicAccessBlockConfiguration") => None,
            Err(e) => return Err(e),
        };
        let block = block.unwrap_or_else(|| {
            json!({
                "block_public_acls": false, "ignore_public_acls": false,
                "block_public_policy": false, "restrict_public_buckets": false,
            })
        });
        let all_on = json!({
            "block_public_acls": true, "ignore_public_acls": true,
            "block_public_policy": true, "restrict_public_buckets": true,
        });
        let written_block = item
            .args
            .get("public_access_block")
            .filter(|v| !v.is_null())
            .map(|w| {
                // The program's map with its defaults filled in, to compare
                // with what S3 answers.
                let mut full = all_on.clone();
                if let (Some(full), Some(w)) = (full.as_object_mut(), w.as_object()) {
                    for (k, v) in w {
                        full.insert(k.clone(), v.clone());
                    }
                }
                full
            });
        let tags = live_tags(s3, subject, name).await?;
        let mut observed = Observed::new(&item.args);
        observed
            .optional("versioning", versioning, false)
            .optional("encryption", algorithm, "AES256")
            .maybe("kms_key", key)
            .tags(&tags);
        match written_block {
            Some(written) if written == block => {
                observed.set("public_access_block", item.args["public_access_block"].clone());
            }
            _ => {
                observed.optional("public_access_block", block, all_on);
            }
        }
        if let Some(f) = item.args.get("force_destroy").filter(|v| !v.is_null()) {
            observed.set("force_destroy", f.clone());
        }
        // Read only where the program set them: two more calls a bucket.
        if item.args.get("expire_after_days").is_some_and(|v| !v.is_null()) {
            let days = lifecycle_days(s3, subject, name).await?;
            observed.maybe("expire_after_days", days);
        }
        if item.args.get("policy").is_some_and(|v| !v.is_null()) {
            let live = found(
                s3.get_bucket_policy()
                    .bucket(name)
                    .send()
                    .await
                    .or_fail(subject, "s3:GetBucketPolicy"),
            )?;
            observed.document(
                "policy",
                live.and_then(|p| p.policy().and_then(policy_document::decode)),
            );
        }
        out.push(ReadResult::Found {
            args: observed.finish(),
            outputs: outputs(s3, name),
        });
    }
    Ok(out)
}

/// The days of the lifecycle rule `expire_after_days` wrote, if it is there.
async fn lifecycle_days(s3: &Client, subject: &str, name: &str) -> Result<Option<u32>, ProviderError> {
    let live = found(
        s3.get_bucket_lifecycle_configuration()
            .bucket(name)
            .send()
            .await
            .or_fail(subject, "s3:GetLifecycleConfiguration"),
    );
    let live = match live {
        Err(e) if e.code.as_deref() == Some("NoSuchLifecycleConfiguration") => return Ok(None),
        other => other?,
    };
    Ok(live.and_then(|l| {
        l.rules()
            .iter()
            .find(|r| r.id() == Some(EXPIRY_RULE) && r.status() == &ExpirationStatus::Enabled)
            .and_then(|r| r.expiration()?.days())
            .and_then(|d| u32::try_from(d).ok())
    }))
}

pub(super) async fn update(s3: &Client, op: &UpdateOp) -> Result<Applied, ProviderError> {
    let subject = op.address.to_string();
    let after: BucketArgs = parse(&op.after, &subject)?;
    let changed = |k: &str| op.changed.iter().any(|c| c == k);
    if changed("public_access_block") {
        put_public_access_block(s3, &subject, &op.id, after.public_access_block).await?;
    }
    if changed("encryption") || changed("kms_key") {
        put_encryption(s3, &subject, &op.id, &after).await?;
    }
    if changed("versioning") {
        put_versioning(s3, &subject, &op.id, after.versioning).await?;
    }
    if changed("expire_after_days") {
        put_lifecycle(s3, &subject, &op.id, after.expire_after_days).await?;
    }
    if changed("policy") {
        put_policy(s3, &subject, &op.id, after.policy.as_ref()).await?;
    }
    if changed("tags") {
        put_tags(s3, &subject, &op.id, &after.tags).await?;
    }
    Ok(Applied {
        id: op.id.clone(),
        outputs: outputs(s3, &op.id),
    })
}

/// Deletes every object version and delete marker, a page at a time.
async fn empty(s3: &Client, subject: &str, name: &str) -> Result<(), ProviderError> {
    use aws_sdk_s3::types::{Delete, ObjectIdentifier};
    loop {
        let page = s3
            .list_object_versions()
            .bucket(name)
            .send()
            .await
            .or_fail(subject, "s3:ListBucketVersions")?;
        let ids: Vec<ObjectIdentifier> = page
            .versions()
            .iter()
            .filter_map(|v| Some((v.key()?, v.version_id())))
            .chain(
                page.delete_markers()
                    .iter()
                    .filter_map(|m| Some((m.key()?, m.version_id()))),
            )
            .filter_map(|(key, version)| {
                ObjectIdentifier::builder()
                    .key(key)
                    .set_version_id(version.map(str::to_string))
                    .build()
                    .ok()
            })
            .collect();
        if ids.is_empty() {
            return Ok(());
        }
        let delete = Delete::builder()
            .set_objects(Some(ids))
            .quiet(true)
            .build()
            .map_err(|e| ProviderError::new(format!("{subject}: {e}")))?;
        s3.delete_objects()
            .bucket(name)
            .delete(delete)
            .send()
            .await
            .or_fail(subject, "s3:DeleteObject")?;
    }
}

pub(super) async fn delete(s3: &Client, op: &DeleteOp) -> Result<(), ProviderError> {
    let subject = op.address.to_string();
    let recorded: BucketArgs = parse(&op.args, &subject)?;
    if recorded.force_destroy && exists(s3, &subject, &op.id).await? {
        empty(s3, &subject, &op.id).await?;
    }
    let sent = s3
        .delete_bucket()
        .bucket(&op.id)
        .send()
        .await
        .or_fail(&subject, "s3:DeleteBucket");
    match sent {
        Err(e) if e.code.as_deref() == Some("BucketNotEmpty") => Err(ProviderError::new(format!(
            "{subject}: bucket {} still holds objects, so it is not destroyed",
            op.id
        ))
        .with_code("BucketNotEmpty")
        .with_fix(format!(
            "aws s3 rm s3://{} --recursive  # or set `force_destroy: true`, apply, then destroy",
            op.id
        ))),
        other => gone_is_ok(other),
    }
}

/// A bucket of our name in this account is what an interrupted create
/// made when its tags name this stack and address, or when it has none.
pub(super) async fn adopt(s3: &Client, op: &CreateOp) -> Result<Option<Applied>, ProviderError> {
    let subject = op.address.to_string();
    if !exists(s3, &subject, &op.name).await? {
        return Ok(None);
    }
    let live = live_tags(s3, &subject, &op.name).await?;
    let ours = tags::owns(&live, &op.stack, &subject) || live.is_empty();
    if !ours {
        let owner = live.get(tags::STACK).map_or("outside payrun", String::as_str);
        return Err(ProviderError::new(format!(
            "{subject}: bucket {} already exists and belongs to {owner}; payrun does not take it over",
            op.name
        ))
        .with_code("BucketAlreadyOwned")
        .with_fix("payrun apply --suffix OTHER  # bucket names are global: another suffix gives another name"));
    }
    let a: BucketArgs = parse(&op.args, &subject)?;
    settle(s3, &subject, &op.name, &a).await?;
    Ok(Some(Applied {
        id: op.name.clone(),
        outputs: outputs(s3, &op.name),
    }))
}
