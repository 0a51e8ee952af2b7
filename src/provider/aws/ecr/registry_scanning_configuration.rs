//! `aws.ecr.registry_scanning_configuration`: the registry's scan type
//! (BASIC or ENHANCED) and its rules; one per registry, id: the registry
//! id. Destroy puts back the default (BASIC, no rules).

use aws_sdk_ecr::Client;
use aws_sdk_ecr::types::{
    RegistryScanningRule, ScanFrequency, ScanType, ScanningRepositoryFilter,
    ScanningRepositoryFilterType,
};
use payrun_derive::Args;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::provider::arg_values::one_of;
use crate::provider::aws::refresh::Refresh;
use crate::provider::aws::call::parse;
use crate::provider::aws::error::AwsResultExt;
use crate::provider::aws::observed::Observed;
use crate::provider::schema::{ArgError, CheckArgs, KindSchema, validate_checked};
use crate::provider::{Applied, CreateOp, DeleteOp, ProviderError, ReadItem, ReadResult, UpdateOp};

#[derive(Deserialize, Args)]
#[serde(deny_unknown_fields)]
#[arg(kind = "aws.ecr.registry_scanning_configuration")]
struct ScanningArgs {
    scan_type: String,
    #[serde(default)]
    rules: Vec<Rule>,
}

/// `#{ scan_frequency: "SCAN_ON_PUSH", filters: ["payments-*"] }`.
#[derive(Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
struct Rule {
    scan_frequency: String,
    filters: Vec<String>,
}

impl CheckArgs for ScanningArgs {
    fn check(&self) -> Result<(), ArgError> {
        one_of("scan_type", &self.scan_type, ScanType::values())?;
        for r in &self.rules {
            one_of("scan_frequency", &r.scan_frequency, ScanFrequency::values())?;
        }
        Ok(())
    }
}

pub(super) const SCHEMA: KindSchema = KindSchema {
    kind: ScanningArgs::KIND,
    name_prefix: "scanning",
    name_max: 256,
    taggable: false,
    named_by_arg: false,
    create_before_destroy: false,
    args: ScanningArgs::SPECS,
    outputs: &[],
    validate: &validate_checked::<ScanningArgs>,
    reads_each: None,
    doc: "The registry's image scanning: `scan_type` (BASIC or ENHANCED), `rules`: [#{ scan_frequency: \"SCAN_ON_PUSH\" | \"CONTINUOUS_SCAN\" | \"MANUAL\", filters: [\"repo-prefix-*\"] }]. One per account and region, so declare it in one stack only; destroy puts it back to BASIC with no rules.",
};

fn to_aws(subject: &str, rules: &[Rule]) -> Result<Vec<RegistryScanningRule>, ProviderError> {
    let invalid = |e: aws_sdk_ecr::error::BuildError| ProviderError::new(format!("{subject}: {e}"));
    rules
        .iter()
        .map(|r| {
            let filters = r
                .filters
                .iter()
                .map(|f| {
                    ScanningRepositoryFilter::builder()
                        .filter(f)
                        .filter_type(ScanningRepositoryFilterType::Wildcard)
                        .build()
                        .map_err(invalid)
                })
                .collect::<Result<Vec<_>, _>>()?;
            RegistryScanningRule::builder()
                .scan_frequency(ScanFrequency::from(r.scan_frequency.as_str()))
                .set_repository_filters(Some(filters))
                .build()
                .map_err(invalid)
        })
        .collect()
}

async fn put(
    ecr: &Client,
    subject: &str,
    scan_type: &str,
    rules: &[Rule],
) -> Result<Option<String>, ProviderError> {
    ecr.put_registry_scanning_configuration()
        .scan_type(ScanType::from(scan_type))
        .set_rules(Some(to_aws(subject, rules)?))
        .send()
        .await
        .or_fail(subject, "ecr:PutRegistryScanningConfiguration")?;
    let out = ecr
        .get_registry_scanning_configuration()
        .send()
        .await
        .or_fail(subject, "ecr:GetRegistryScanningConfiguration")?;
    Ok(out.registry_id().map(str::to_string))
}

pub(super) async fn create(ecr: &Client, op: &CreateOp) -> Result<Applied, ProviderError> {
    let subject = op.address.to_string();
    let args: ScanningArgs = parse(&op.args, &subject)?;
    let id = put(ecr, &subject, &args.scan_type, &args.rules).await?;
    Ok(Applied {
        id: id.unwrap_or_default(),
        outputs: Map::new(),
    })
}

pub(super) async fn read(
    ecr: &Client,
    _cx: &Refresh<'_>,
    items: &[ReadItem],
) -> Result<Vec<ReadResult>, ProviderError> {
    let out = ecr
        .get_registry_scanning_configuration()
        .send()
        .await
        .or_fail(SCHEMA.kind, "ecr:GetRegistryScanningConfiguration")?;
    let config = out.scanning_configuration();
    let scan_type = config
        .and_then(|c| c.scan_type())
        .map_or("BASIC", ScanType::as_str);
    let rules: Vec<Rule> = config
        .map(|c| c.rules())
        .unwrap_or_default()
        .iter()
        .map(|r| Rule {
            scan_frequency: r.scan_frequency().as_str().to_string(),
            filters: r
                .repository_filters()
                .iter()
                .map(|f| f.filter().to_string())
                .collect(),
        })
        .collect();
    let rules = serde_json::to_value(rules).unwrap_or(Value::Null);
    Ok(items
        .iter()
        .map(|item| ReadResult::Found {
            args: Observed::new(&item.args)
                .set("scan_type", scan_type)
                .set("rules", rules.clone())
                .finish(),
            outputs: Map::new(),
        })
        .collect())
}

pub(super) async fn update(ecr: &Client, op: &UpdateOp) -> Result<Applied, ProviderError> {
    let subject = op.address.to_string();
    let after: ScanningArgs = parse(&op.after, &subject)?;
    put(ecr, &subject, &after.scan_type, &after.rules).await?;
    Ok(op.unchanged())
}

pub(super) async fn delete(ecr: &Client, op: &DeleteOp) -> Result<(), ProviderError> {
    put(ecr, &op.address.to_string(), "BASIC", &[])
        .await
        .map(drop)
}

/// The registry always has a scanning configuration: the create sets it
/// whatever was there.
pub(super) async fn adopt(_ecr: &Client, _op: &CreateOp) -> Result<Option<Applied>, ProviderError> {
    Ok(None)
}
