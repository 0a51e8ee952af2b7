//! `aws.s3.bucket` against moto: created private and encrypted with its
//! settings, refreshed as a no-op, updated in place, refused on destroy
//! while it holds objects, then destroyed with them.

use aws_sdk_s3::types::BucketVersioningStatus;
use payrun::plan::Action;

use crate::support::engine::Stack;
use crate::support::moto;

const BUCKET: &str = r#"
let key = aws::kms::key("audit", #{ description: "audit logs" });
let opts = #{
    versioning: config().vars.versioning ?? true,
    encryption: "aws:kms",
    kms_key: key.arn,
    force_destroy: config().vars.force_destroy ?? false,
    tags: #{ team: config().vars.team ?? "payments" },
};
if config().vars.public_policy ?? false {
    opts.public_access_block = #{ block_public_policy: false };
}
aws::s3::bucket("audit", opts);
"#;

async fn s3() -> aws_sdk_s3::Client {
    let conf = aws_sdk_s3::config::Builder::from(&moto::sdk_config().await)
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}

async fn versioning(s3: &aws_sdk_s3::Client, name: &str) -> Option<BucketVersioningStatus> {
    let out = s3
        .get_bucket_versioning()
        .bucket(name)
        .send()
        .await
        .unwrap();
    out.status().cloned()
}

async fn public_access_block(
    s3: &aws_sdk_s3::Client,
    name: &str,
) -> aws_sdk_s3::types::PublicAccessBlockConfiguration {
    let out = s3
        .get_public_access_block()
        .bucket(name)
        .send()
        .await
        .unwrap();
    out.public_access_block_configuration().unwrap().clone()
}

#[tokio::test]
async fn a_bucket_applies_refreshes_updates_and_destroys_on_moto() {
    let s = Stack::aws(BUCKET, "s3b");
    let summary = s.apply().await;
    assert!(summary.ok(), "{summary}");
    let name = "s3-audit-s3b";
    let addr = "aws.s3.bucket.audit".parse().unwrap();
    assert_eq!(s.state().resources[&addr].id, name);
    let s3 = s3().await;
    assert_eq!(
        versioning(&s3, name).await,
        Some(BucketVersioningStatus::Enabled)
    );
    let enc = s3
        .get_bucket_encryption()
        .bucket(name)
        .send()
        .await
        .unwrap();
    let rule = &enc.server_side_encryption_configuration().unwrap().rules()[0];
    let by_default = rule.apply_server_side_encryption_by_default().unwrap();
    assert_eq!(by_default.sse_algorithm().as_str(), "aws:kms");
    assert!(by_default.kms_master_key_id().unwrap().contains(":key/"));
    let block = public_access_block(&s3, name).await;
    assert_eq!(
        (
            block.block_public_acls(),
            block.ignore_public_acls(),
            block.block_public_policy(),
            block.restrict_public_buckets()
        ),
        (Some(true), Some(true), Some(true), Some(true))
    );
    let tags = s3.get_bucket_tagging().bucket(name).send().await.unwrap();
    let tag = |k: &str| {
        tags.tag_set()
            .iter()
            .find(|t| t.key() == k)
            .map(|t| t.value().to_string())
    };
    assert_eq!(tag("team").as_deref(), Some("payments"));
    assert_eq!(tag("payrun:stack").as_deref(), Some("main.s3b"));
    assert!(!s.plan().await.has_changes(), "a refresh is a no-op");

    // In place: versioning suspended, a tag changed, one block lifted.
    s.set_var("versioning", false);
    s.set_var("team", "audit");
    s.set_var("public_policy", true);
    let plan = s.plan().await;
    let change = plan.change(&addr).unwrap();
    assert_eq!(change.action, Action::Update, "{change:?}");
    let summary = s.apply_plan(&plan).await;
    assert!(summary.ok(), "{summary}");
    assert_eq!(
        versioning(&s3, name).await,
        Some(BucketVersioningStatus::Suspended)
    );
    assert_eq!(
        public_access_block(&s3, name).await.block_public_policy(),
        Some(false)
    );
    assert!(!s.plan().await.has_changes());

    // Drift: versioning turned back on outside payrun is planned back.
    s3.put_bucket_versioning()
        .bucket(name)
        .versioning_configuration(
            aws_sdk_s3::types::VersioningConfiguration::builder()
                .status(BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let plan = s.plan().await;
    let change = plan.change(&addr).unwrap();
    assert_eq!(change.action, Action::Update);
    assert!(
        change.drift.iter().any(|d| d.contains("`versioning`")),
        "{:?}",
        change.drift
    );
    assert!(s.apply_plan(&plan).await.ok());

    // A bucket holding objects is not destroyed unless asked.
    s3.put_object()
        .bucket(name)
        .key("2026/12/01/audit.log")
        .body(aws_sdk_s3::primitives::ByteStream::from_static(b"entry"))
        .send()
        .await
        .unwrap();
    let summary = s.destroy().await;
    assert!(!summary.ok());
    let (_, error) = summary
        .failed
        .iter()
        .find(|(a, _)| a.to_string() == "aws.s3.bucket.audit")
        .unwrap();
    assert!(
        error.contains("bucket s3-audit-s3b still holds objects")
            && error.contains("fix: aws s3 rm s3://s3-audit-s3b --recursive"),
        "{error}"
    );
    assert!(s3.head_bucket().bucket(name).send().await.is_ok());

    s.set_var("force_destroy", true);
    assert!(s.apply().await.ok());
    let summary = s.destroy().await;
    assert!(summary.ok(), "{summary}");
    assert!(s.state().resources.is_empty());
    assert!(s3.head_bucket().bucket(name).send().await.is_err());
}
