//! `aws.ecr.image_scan_gate`: an apply-time check that an image was scanned
//! and has no finding at or above a severity. It waits for the image to be
//! pushed (a pipeline pushes once the repository exists), starts a scan when
//! none exists, waits for it, and fails the apply with the counts by
//! severity;
//! its `id` (the image digest) lets deployments depend on it, so no
//! unscanned image is deployed. A new image under the tag makes the gate
//! run again.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use aws_sdk_ecr::Client;
use aws_sdk_ecr::types::{ImageIdentifier, ScanStatus};
use payrun_derive::Args;
use serde::Deserialize;
use serde_json::{Map, json};

use crate::provider::aws::call::{found, incomplete, parse};
use crate::provider::aws::refresh::Refresh;
use crate::provider::aws::error::AwsResultExt;
use crate::provider::aws::observed::Observed;
use crate::provider::schema::{KindSchema, validate_as};
use crate::provider::{Applied, CreateOp, DeleteOp, ProviderError, ReadItem, ReadResult, UpdateOp};

#[derive(Deserialize, Args)]
#[serde(deny_unknown_fields)]
#[arg(kind = "aws.ecr.image_scan_gate")]
struct GateArgs {
    #[arg(force_new)]
    repository: String,
    #[arg(force_new)]
    tag: String,
    #[serde(default)]
    #[arg(force_new)]
    fail_on_severity: Option<String>,
    /// `10m`, `90s`.
    #[serde(default)]
    timeout: Option<String>,
}

pub(super) const SCHEMA: KindSchema = KindSchema {
    kind: GateArgs::KIND,
    name_prefix: "scangate",
    name_max: 256,
    taggable: false,
    named_by_arg: false,
    create_before_destroy: false,
    args: GateArgs::SPECS,
    outputs: &["image_digest", "findings"],
    validate: &validate_as::<GateArgs>,
    reads_each: Some("one DescribeImageScanFindings per gate"),
    doc: "Fails the apply when the image `repository`:`tag` has scan findings at or above `fail_on_severity` (default HIGH); waits for the push, scans it when needed, and waits up to `timeout` (default 10m) in all. `id`: the image digest.",
};

const SEVERITIES: [&str; 5] = ["INFORMATIONAL", "LOW", "MEDIUM", "HIGH", "CRITICAL"];
const SEVERITY_DEFAULT: &str = "HIGH";
const TIMEOUT_DEFAULT: Duration = Duration::from_secs(600);
const POLL: Duration = Duration::from_secs(2);

fn rank(severity: &str) -> Option<usize> {
    SEVERITIES
        .iter()
        .position(|s| s.eq_ignore_ascii_case(severity))
}

fn image(tag: &str) -> ImageIdentifier {
    ImageIdentifier::builder().image_tag(tag).build()
}

async fn digest(
    ecr: &Client,
    subject: &str,
    repository: &str,
    tag: &str,
) -> Result<Option<String>, ProviderError> {
    let out = found(
        ecr.describe_images()
            .repository_name(repository)
            .image_ids(image(tag))
            .send()
            .await
            .or_fail(subject, "ecr:DescribeImages"),
    )?;
    Ok(out.and_then(|o| {
        o.image_details()
            .first()
            .and_then(|d| d.image_digest().map(str::to_string))
    }))
}

/// A completed scan: counts by severity and the CVE names found.
struct Scan {
    counts: BTreeMap<String, i32>,
    cves: Vec<String>,
}

fn timeout(subject: &str, args: &GateArgs) -> Result<Duration, ProviderError> {
    match &args.timeout {
        Some(t) => humantime::parse_duration(t).map_err(|e| {
            ProviderError::new(format!("{subject}: `timeout` {t:?}: {e}"))
                .with_code("InvalidArguments")
        }),
        None => Ok(TIMEOUT_DEFAULT),
    }
}

/// The digest of `repository`:`tag` once it is pushed; the apply shows
/// that it waits, and fails at `deadline` with the push to make.
async fn wait_for_image(
    ecr: &Client,
    subject: &str,
    args: &GateArgs,
    op: &CreateOp,
    deadline: Instant,
) -> Result<String, ProviderError> {
    let start = Instant::now();
    loop {
        if let Some(d) = digest(ecr, subject, &args.repository, &args.tag).await? {
            return Ok(d);
        }
        if Instant::now() >= deadline {
            return Err(ProviderError::new(format!(
                "{subject}: no image {}:{} was pushed within {}",
                args.repository,
                args.tag,
                humantime::format_duration(Duration::from_secs(start.elapsed().as_secs()))
            ))
            .with_code("ImageNotFoundException")
            .with_fix("push the image (`docker push <repository url>:<tag>`), then apply again; `timeout` sets how long apply waits"));
        }
        (op.progress)(&format!(
            "waiting for {}:{} to be pushed ({}s)",
            args.repository,
            args.tag,
            start.elapsed().as_secs()
        ));
        tokio::time::sleep(POLL).await;
    }
}

async fn wait_for_scan(
    ecr: &Client,
    subject: &str,
    args: &GateArgs,
    op: &CreateOp,
    deadline: Instant,
) -> Result<Scan, ProviderError> {
    let timeout = deadline.saturating_duration_since(Instant::now());
    let mut started = false;
    loop {
        let out = ecr
            .describe_image_scan_findings()
            .repository_name(&args.repository)
            .image_id(image(&args.tag))
            .send()
            .await
            .or_fail(subject, "ecr:DescribeImageScanFindings");
        let out = match out {
            Err(e) if e.code.as_deref() == Some("ScanNotFoundException") && !started => {
                (op.progress)(&format!("scanning {}:{}", args.repository, args.tag));
                ecr.start_image_scan()
                    .repository_name(&args.repository)
                    .image_id(image(&args.tag))
                    .send()
                    .await
                    .or_fail(subject, "ecr:StartImageScan")?;
                started = true;
                continue;
            }
            other => other?,
        };
        let status = out.image_scan_status().and_then(|s| s.status());
        match status {
            Some(ScanStatus::Complete) => {
                let findings = out
                    .image_scan_findings()
                    .ok_or_else(|| incomplete(subject, "DescribeImageScanFindings", "findings"))?;
                let counts = findings
                    .finding_severity_counts()
                    .map(|c| {
                        c.iter()
                            .map(|(s, n)| (s.as_str().to_string(), *n))
                            .collect()
                    })
                    .unwrap_or_default();
                let mut cves: Vec<String> = findings
                    .findings()
                    .iter()
                    .filter_map(|f| f.name().map(str::to_string))
                    .collect();
                cves.sort();
                cves.dedup();
                return Ok(Scan { counts, cves });
            }
            Some(ScanStatus::Failed | ScanStatus::UnsupportedImage) => {
                let why = out
                    .image_scan_status()
                    .and_then(|s| s.description())
                    .unwrap_or("no reason given");
                return Err(ProviderError::new(format!(
                    "{subject}: the scan of {}:{} failed: {why}",
                    args.repository, args.tag
                ))
                .with_code("ScanFailed"));
            }
            _ => {}
        }
        if Instant::now() >= deadline {
            return Err(ProviderError::new(format!(
                "{subject}: the scan of {}:{} did not complete within {}",
                args.repository,
                args.tag,
                humantime::format_duration(Duration::from_secs(timeout.as_secs()))
            ))
            .with_code("ScanTimeout")
            .with_fix("raise `timeout`, or check the scan in the ECR console"));
        }
        (op.progress)(&format!(
            "waiting for the scan of {}:{}",
            args.repository, args.tag
        ));
        tokio::time::sleep(POLL).await;
    }
}

fn summary(counts: &BTreeMap<String, i32>) -> String {
    let mut parts: Vec<String> = SEVERITIES
        .iter()
        .rev()
        .filter_map(|s| {
            counts
                .get(*s)
                .filter(|n| **n > 0)
                .map(|n| format!("{s} {n}"))
        })
        .collect();
    if parts.is_empty() {
        parts.push("none".into());
    }
    parts.join(", ")
}

pub(super) async fn create(ecr: &Client, op: &CreateOp) -> Result<Applied, ProviderError> {
    let subject = op.address.to_string();
    let args: GateArgs = parse(&op.args, &subject)?;
    let threshold_name = args.fail_on_severity.as_deref().unwrap_or(SEVERITY_DEFAULT);
    let threshold = rank(threshold_name).ok_or_else(|| {
        ProviderError::new(format!(
            "{subject}: `fail_on_severity` {threshold_name:?} is not one of {}",
            SEVERITIES.join(", ")
        ))
        .with_code("InvalidArguments")
    })?;
    let deadline = Instant::now() + timeout(&subject, &args)?;
    let digest = wait_for_image(ecr, &subject, &args, op, deadline).await?;
    let scan = wait_for_scan(ecr, &subject, &args, op, deadline).await?;
    let blocking: i32 = scan
        .counts
        .iter()
        .filter(|(s, _)| rank(s).is_some_and(|r| r >= threshold))
        .map(|(_, n)| *n)
        .sum();
    if blocking > 0 {
        let names = if scan.cves.is_empty() {
            String::new()
        } else {
            format!(" ({})", scan.cves.join(", "))
        };
        return Err(ProviderError::new(format!(
            "{subject}: {}:{} has {blocking} CVE(s) at or above {threshold_name}: {}{names}",
            args.repository,
            args.tag,
            summary(&scan.counts)
        ))
        .with_code("ImageScanFindings")
        .with_fix("fix the image and push it under a new tag, or raise `fail_on_severity`"));
    }
    let mut outputs = Map::new();
    outputs.insert("image_digest".into(), json!(digest));
    outputs.insert("findings".into(), json!(summary(&scan.counts)));
    Ok(Applied {
        id: digest,
        outputs,
    })
}

/// One DescribeImages per gate (it fails as a whole when one tag is gone):
/// a gate whose tag now names another image is gone, so the next apply
/// checks the new image.
pub(super) async fn read(
    ecr: &Client,
    _cx: &Refresh<'_>,
    items: &[ReadItem],
) -> Result<Vec<ReadResult>, ProviderError> {
    let mut results = Vec::with_capacity(items.len());
    for item in items {
        let args: GateArgs = parse(&item.args, SCHEMA.kind)?;
        let live = digest(ecr, SCHEMA.kind, &args.repository, &args.tag).await?;
        results.push(if live.as_deref() == Some(item.id.as_str()) {
            ReadResult::Found {
                args: Observed::new(&item.args)
                    .set("repository", args.repository)
                    .set("tag", args.tag)
                    .finish(),
                outputs: item.outputs.clone(),
            }
        } else {
            ReadResult::Gone
        });
    }
    Ok(results)
}

/// Only `timeout` changes in place, and it matters only while a scan runs.
pub(super) async fn update(_ecr: &Client, op: &UpdateOp) -> Result<Applied, ProviderError> {
    Ok(op.unchanged())
}

/// The gate made nothing in AWS.
pub(super) async fn delete(_ecr: &Client, _op: &DeleteOp) -> Result<(), ProviderError> {
    Ok(())
}

/// The gate made nothing in AWS: an interrupted one runs again.
pub(super) async fn adopt(_ecr: &Client, _op: &CreateOp) -> Result<Option<Applied>, ProviderError> {
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_lists_severities_from_the_worst() {
        let counts = BTreeMap::from([
            ("HIGH".to_string(), 2),
            ("CRITICAL".to_string(), 1),
            ("LOW".to_string(), 0),
        ]);
        assert_eq!(summary(&counts), "CRITICAL 1, HIGH 2");
        assert_eq!(rank("high"), Some(3));
    }
}
