//! `aws.ecr.lifecycle_policy`: the lifecycle rules of a repository (keep
//! the last N images...); id: the repository name.
//!
//! ECR has no batched GetLifecyclePolicy: one call per repository.

use aws_sdk_ecr::Client;
use payrun_derive::Args;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::provider::aws::call::{found, gone_is_ok, parse};
use crate::provider::aws::refresh::Refresh;
use crate::provider::aws::error::AwsResultExt;
use crate::provider::aws::observed::Observed;
use crate::provider::aws::policy_document;
use crate::provider::schema::{KindSchema, validate_as};
use crate::provider::{Applied, CreateOp, DeleteOp, ProviderError, ReadItem, ReadResult, UpdateOp};

#[derive(Deserialize, Args)]
#[serde(deny_unknown_fields)]
#[arg(kind = "aws.ecr.lifecycle_policy")]
struct LifecyclePolicyArgs {
    #[arg(force_new)]
    repository: String,
    /// Validated here; sent as the program wrote them, recased.
    #[allow(dead_code)]
    rules: Vec<Rule>,
}

/// One lifecycle rule, with payrun's key casing (snake_case) for the
/// fields of ECR's lifecycle policy JSON (camelCase on the wire); the
/// values are ECR's own (`imageCountMoreThan`, `expire`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // read to validate; sent as the JSON the program wrote
struct Rule {
    rule_priority: u32,
    #[serde(default)]
    description: Option<String>,
    selection: Selection,
    action: RuleAction,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Selection {
    tag_status: TagStatus,
    #[serde(default)]
    tag_prefix_list: Vec<String>,
    #[serde(default)]
    tag_pattern_list: Vec<String>,
    count_type: CountType,
    #[serde(default)]
    count_unit: Option<CountUnit>,
    count_number: u32,
}

#[derive(Deserialize)]
#[serde(rename_all = "lowercase")]
enum TagStatus {
    Any,
    Tagged,
    Untagged,
}

#[derive(Deserialize)]
enum CountType {
    #[serde(rename = "imageCountMoreThan")]
    ImageCountMoreThan,
    #[serde(rename = "sinceImagePushed")]
    SinceImagePushed,
}

#[derive(Deserialize)]
#[serde(rename_all = "lowercase")]
enum CountUnit {
    Days,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct RuleAction {
    r#type: ActionType,
}

#[derive(Deserialize)]
#[serde(rename_all = "lowercase")]
enum ActionType {
    Expire,
}

pub(super) const SCHEMA: KindSchema = KindSchema {
    kind: LifecyclePolicyArgs::KIND,
    name_prefix: "lifecycle",
    name_max: 256,
    taggable: false,
    named_by_arg: false,
    create_before_destroy: false,
    args: LifecyclePolicyArgs::SPECS,
    outputs: &[],
    validate: &validate_as::<LifecyclePolicyArgs>,
    reads_each: Some("one GetLifecyclePolicy per repository"),
    doc: "The lifecycle policy of `repository`: `rules`, a list of ECR lifecycle rules (`rule_priority`, `description`, `selection` with `tag_status`, `count_type`, `count_number`, `action` with `type`), keys in snake_case, values as ECR writes them.",
};

/// `rule_priority` → `rulePriority`, and back: the program's casing and
/// ECR's, for every key of a rule.
fn recase(v: &Value, key: fn(&str) -> String) -> Value {
    match v {
        Value::Object(m) => Value::Object(m.iter().map(|(k, v)| (key(k), recase(v, key))).collect()),
        Value::Array(items) => Value::Array(items.iter().map(|i| recase(i, key)).collect()),
        other => other.clone(),
    }
}

fn camel(k: &str) -> String {
    let mut out = String::with_capacity(k.len());
    let mut upper = false;
    for c in k.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

fn snake(k: &str) -> String {
    let mut out = String::with_capacity(k.len() + 4);
    for c in k.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

fn text(rules: &Value) -> String {
    json!({ "rules": recase(rules, camel) }).to_string()
}

fn rules_of(args: &Value) -> Value {
    args.get("rules").cloned().unwrap_or(Value::Array(Vec::new()))
}

async fn put(
    ecr: &Client,
    subject: &str,
    repository: &str,
    rules: &Value,
) -> Result<(), ProviderError> {
    ecr.put_lifecycle_policy()
        .repository_name(repository)
        .lifecycle_policy_text(text(rules))
        .send()
        .await
        .or_fail(subject, "ecr:PutLifecyclePolicy")?;
    Ok(())
}

pub(super) async fn create(ecr: &Client, op: &CreateOp) -> Result<Applied, ProviderError> {
    let subject = op.address.to_string();
    let args: LifecyclePolicyArgs = parse(&op.args, &subject)?;
    put(ecr, &subject, &args.repository, &rules_of(&op.args)).await?;
    Ok(Applied {
        id: args.repository,
        outputs: Map::new(),
    })
}

pub(super) async fn read(
    ecr: &Client,
    _cx: &Refresh<'_>,
    items: &[ReadItem],
) -> Result<Vec<ReadResult>, ProviderError> {
    let mut results = Vec::with_capacity(items.len());
    for item in items {
        let live = found(
            ecr.get_lifecycle_policy()
                .repository_name(&item.id)
                .send()
                .await
                .or_fail(SCHEMA.kind, "ecr:GetLifecyclePolicy"),
        )?;
        let Some(out) = live else {
            results.push(ReadResult::Gone);
            continue;
        };
        let rules = out
            .lifecycle_policy_text()
            .and_then(policy_document::decode)
            .and_then(|d| d.get("rules").map(|r| recase(r, snake)));
        results.push(ReadResult::Found {
            args: Observed::new(&item.args)
                .set("repository", item.id.clone())
                .document("rules", rules)
                .finish(),
            outputs: Map::new(),
        });
    }
    Ok(results)
}

pub(super) async fn update(ecr: &Client, op: &UpdateOp) -> Result<Applied, ProviderError> {
    let subject = op.address.to_string();
    parse::<LifecyclePolicyArgs>(&op.after, &subject)?;
    put(ecr, &subject, &op.id, &rules_of(&op.after)).await?;
    Ok(op.unchanged())
}

pub(super) async fn delete(ecr: &Client, op: &DeleteOp) -> Result<(), ProviderError> {
    gone_is_ok(
        ecr.delete_lifecycle_policy()
            .repository_name(&op.id)
            .send()
            .await
            .map(drop)
            .or_fail(&op.address.to_string(), "ecr:DeleteLifecyclePolicy"),
    )
}

/// A repository has one lifecycle policy: whatever is there is replaced by
/// the create, so nothing is adopted.
pub(super) async fn adopt(_ecr: &Client, _op: &CreateOp) -> Result<Option<Applied>, ProviderError> {
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_are_sent_in_ecr_casing_and_read_back_in_the_programs() {
        let program = json!([{
            "rule_priority": 1,
            "selection": { "tag_status": "any", "count_type": "imageCountMoreThan", "count_number": 10 },
            "action": { "type": "expire" },
        }]);
        let sent: Value = serde_json::from_str(&text(&program)).unwrap();
        assert_eq!(
            sent,
            json!({ "rules": [{
                "rulePriority": 1,
                "selection": { "tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 10 },
                "action": { "type": "expire" },
            }]})
        );
        assert_eq!(recase(&sent["rules"], snake), program);
    }
}
