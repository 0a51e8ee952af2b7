//! `aws.ec2.security_group`: a security group without inline rules; its
//! rules are the `security_group_ingress` and `security_group_egress` kinds.
//!
//! The allow-all egress rule AWS adds to every new group is removed at
//! create, so the group allows exactly what the program declares; and a
//! rule added behind payrun's back (a port opened by hand) is drift: a
//! refresh reports every rule of the group no declaration accounts for
//! (`undeclared_rules`), the plan shows it and apply revokes it, unless the
//! program says other tools manage rules of the group too (`exclusive:
//! false`).

use std::collections::HashMap;

use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::{IpPermission, IpRange, ResourceType, SecurityGroup};
use payrun_derive::Args;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::described::{self, Described};
use super::{arn, gone_is_ok, incomplete, parse};
use crate::provider::aws::error::{AwsResultExt, is_not_found};
use crate::provider::aws::refresh::Refresh;
use crate::provider::aws::observed::Observed;
use crate::provider::aws::tags::{self, Tags};
use crate::provider::schema::{KindSchema, validate_as};
use crate::provider::{Applied, CreateOp, DeleteOp, ProviderError, ReadItem, ReadResult, UpdateOp};

#[derive(Deserialize, Args)]
#[serde(deny_unknown_fields)]
#[arg(kind = "aws.ec2.security_group")]
struct SecurityGroupArgs {
    /// The group's name (default: the physical name): an imported group
    /// keeps its own.
    #[serde(default)]
    #[arg(force_new)]
    name: Option<String>,
    #[serde(rename = "vpc")]
    #[arg(force_new, formerly = "vpc_id")]
    vpc_id: String,
    #[serde(default)]
    #[arg(force_new)]
    description: Option<String>,
    /// The program's rules are the group's only ones: a rule no
    /// declaration accounts for (a port opened by hand) is drift, revoked
    /// by apply. `false` for a group other tools add rules to too (a
    /// controller that opens it to what it manages): such rules are left
    /// alone.
    #[serde(default = "yes")]
    #[arg(default = "true")]
    exclusive: bool,
    /// The rules on the group that no `security_group_ingress` or
    /// `security_group_egress` of the stack accounts for, as a refresh
    /// finds them: `ingress tcp 22 from 0.0.0.0/0 (sgr-...)`.
    #[serde(default)]
    #[arg(observed, explained = revoked_note)]
    undeclared_rules: Vec<String>,
    #[serde(default)]
    tags: Tags,
}

/// The plan's note on undeclared rules going.
fn revoked_note(before: &Value, after: &Value) -> Option<String> {
    let n = before.as_array().map_or(0, Vec::len);
    (n > 0 && after.as_array().is_none_or(Vec::is_empty)).then(|| {
        format!(
            "{n} rule{} no declaration accounts for, revoked by apply (`exclusive: false` leaves rules others add alone)",
            if n == 1 { "" } else { "s" }
        )
    })
}

pub(super) const SCHEMA: KindSchema = KindSchema {
    kind: SecurityGroupArgs::KIND,
    name_prefix: "sg",
    name_max: 255,
    taggable: true,
    named_by_arg: false,
    create_before_destroy: true,
    args: SecurityGroupArgs::SPECS,
    outputs: &["arn", "name"],
    validate: &validate_as::<SecurityGroupArgs>,
    reads_each: None,
    doc: "A security group in `vpc`, named `name` (default: the physical name); rules are separate kinds and egress starts empty.",
};

const DEFAULT_DESCRIPTION: &str = "Managed by payrun";

fn yes() -> bool {
    true
}

fn outputs(ec2: &Client, g: &SecurityGroup) -> Map<String, Value> {
    let id = g.group_id().unwrap_or_default();
    let mut m = Map::new();
    m.insert(
        "arn".into(),
        g.security_group_arn().map_or_else(
            || arn(ec2, g.owner_id(), &format!("security-group/{id}")),
            |a| json!(a),
        ),
    );
    m.insert("name".into(), json!(g.group_name().unwrap_or_default()));
    m
}

async fn revoke_default_egress(ec2: &Client, subject: &str, id: &str) -> Result<(), ProviderError> {
    let all = IpPermission::builder()
        .ip_protocol("-1")
        .ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
        .build();
    match ec2
        .revoke_security_group_egress()
        .group_id(id)
        .ip_permissions(all)
        .send()
        .await
        .or_fail(subject, "ec2:RevokeSecurityGroupEgress")
    {
        Err(e)
            if !(is_not_found(&e) || e.code.as_deref() == Some("InvalidPermission.NotFound")) =>
        {
            Err(e)
        }
        _ => Ok(()),
    }
}

pub(super) async fn create(ec2: &Client, op: &CreateOp) -> Result<Applied, ProviderError> {
    let subject = op.address.to_string();
    let args: SecurityGroupArgs = parse(&op.args, &subject)?;
    let name = args.name.clone().unwrap_or_else(|| op.name.clone());
    let out = ec2
        .create_security_group()
        .group_name(&name)
        .description(args.description.as_deref().unwrap_or(DEFAULT_DESCRIPTION))
        .vpc_id(&args.vpc_id)
        .set_tag_specifications(
            tags::spec(ResourceType::SecurityGroup, &args.tags).map(|s| vec![s]),
        )
        .send()
        .await
        .or_fail(&subject, "ec2:CreateSecurityGroup")?;
    let id = out
        .group_id()
        .ok_or_else(|| incomplete(&subject, "CreateSecurityGroup", "a group id"))?
        .to_string();
    let mut outputs = Map::new();
    outputs.insert(
        "arn".into(),
        out.security_group_arn().map_or_else(
            || arn(ec2, None, &format!("security-group/{id}")),
            |a| json!(a),
        ),
    );
    outputs.insert("name".into(), json!(name));
    let made = Applied { id, outputs };
    op.made(&made);
    complete(ec2, op, &made).await
}

/// The allow-all egress rule AWS adds to every new group goes, so the group
/// allows exactly what the program declares.
pub(super) async fn complete(
    ec2: &Client,
    op: &CreateOp,
    made: &Applied,
) -> Result<Applied, ProviderError> {
    revoke_default_egress(ec2, &op.address.to_string(), &made.id).await?;
    Ok(made.clone())
}

pub(super) async fn read(
    ec2: &Client,
    cx: &Refresh<'_>,
    items: &[ReadItem],
) -> Result<Vec<ReadResult>, ProviderError> {
    let live: HashMap<String, SecurityGroup> =
        described::in_stack(ec2, cx, SCHEMA.kind, items).await?;
    let undeclared = undeclared(ec2, cx, items).await?;
    Ok(items
        .iter()
        .map(|item| match live.get(&item.id) {
            None => ReadResult::Gone,
            Some(g) => {
                let mut o = Observed::new(&item.args);
                o.maybe("name", item.args.get("name").and_then(Value::as_str))
                    .set("vpc", g.vpc_id().unwrap_or_default())
                    .optional(
                        "description",
                        g.description().unwrap_or_default(),
                        DEFAULT_DESCRIPTION,
                    )
                    .tags(&tags::from_aws(g.tags()));
                if let Some(rules) = undeclared.get(item.id.as_str()).filter(|r| !r.is_empty()) {
                    o.set("undeclared_rules", rules.clone());
                }
                ReadResult::Found {
                    args: o.finish(),
                    outputs: outputs(ec2, g),
                }
            }
        })
        .collect())
}

/// For each `exclusive` group of `items`, the rules on it that
/// no recorded rule of the stack is and that carry no tag of the stack
/// (those are the rule kinds' to report): one DescribeSecurityGroupRules
/// shared with the rule kinds. Only in a refresh of a stack, which knows
/// every recorded rule.
async fn undeclared(
    ec2: &Client,
    cx: &Refresh<'_>,
    items: &[ReadItem],
) -> Result<HashMap<String, Vec<String>>, ProviderError> {
    let Some(stack) = cx.stack() else {
        return Ok(HashMap::new());
    };
    let exclusive: Vec<&str> = items
        .iter()
        .filter(|i| i.args.get("exclusive").and_then(Value::as_bool) != Some(false))
        .map(|i| i.id.as_str())
        .collect();
    if exclusive.is_empty() {
        return Ok(HashMap::new());
    }
    let declared: Vec<&str> = [
        super::security_group_ingress::SCHEMA.kind,
        super::security_group_egress::SCHEMA.kind,
    ]
    .iter()
    .flat_map(|k| cx.items(k))
    .map(|r| r.id.as_str())
    .collect();
    let mut out: HashMap<String, Vec<String>> = HashMap::new();
    for r in super::security_group_rule::stack_rules(ec2, cx, &[]).await? {
        let group = r.group_id().unwrap_or_default();
        let id = r.security_group_rule_id().unwrap_or_default();
        let ours = tags::from_aws(r.tags())
            .get(tags::STACK)
            .is_some_and(|s| s == stack);
        if exclusive.contains(&group) && !declared.contains(&id) && !ours {
            out.entry(group.to_string())
                .or_default()
                .push(super::security_group_rule::describe_rule(r));
        }
    }
    for rules in out.values_mut() {
        rules.sort();
    }
    Ok(out)
}

pub(super) async fn update(ec2: &Client, op: &UpdateOp) -> Result<Applied, ProviderError> {
    let subject = op.address.to_string();
    let before: SecurityGroupArgs = parse(&op.before, &subject)?;
    let after: SecurityGroupArgs = parse(&op.after, &subject)?;
    if after.exclusive {
        super::security_group_rule::revoke_described(
            ec2,
            &subject,
            &op.id,
            &before.undeclared_rules,
        )
        .await?;
    }
    tags::update(ec2, &subject, &op.id, &before.tags, &after.tags).await?;
    Ok(op.unchanged())
}

pub(super) async fn delete(ec2: &Client, op: &DeleteOp) -> Result<(), ProviderError> {
    gone_is_ok(
        ec2.delete_security_group()
            .group_id(&op.id)
            .send()
            .await
            .map(drop)
            .or_fail(&op.address.to_string(), "ec2:DeleteSecurityGroup"),
    )
}

pub(super) async fn adopt(ec2: &Client, op: &CreateOp) -> Result<Option<Applied>, ProviderError> {
    let found = described::owned::<SecurityGroup>(ec2, op, Vec::new()).await?;
    Ok(found.first().map(|g| Applied {
        id: g.id().to_string(),
        outputs: outputs(ec2, g),
    }))
}
