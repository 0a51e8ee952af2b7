//! `aws.ec2.network_acl_entry`: one numbered rule of a network ACL. Its id is
//! `{network_acl_id}:{ingress|egress}:{rule_number}`: AWS gives entries none.

use std::collections::HashMap;

use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::{NetworkAcl, NetworkAclEntry, PortRange, RuleAction};
use payrun_derive::Args;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::network_acl::describe_ids;
use super::{gone_is_ok, parse, recorded};
use crate::provider::arg_values::{IpProtocol, block, port_range};
use crate::provider::aws::refresh::Refresh;
use crate::provider::aws::error::AwsResultExt;
use crate::provider::aws::observed::Observed;
use crate::provider::schema::{ArgError, CheckArgs, KindSchema, validate_checked};
use crate::provider::{Applied, CreateOp, DeleteOp, ProviderError, ReadItem, ReadResult, UpdateOp};

#[derive(Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum Action {
    Allow,
    Deny,
}

#[derive(Deserialize, Args)]
#[serde(deny_unknown_fields)]
#[arg(kind = "aws.ec2.network_acl_entry")]
struct EntryArgs {
    #[serde(rename = "network_acl")]
    #[arg(force_new, formerly = "network_acl_id")]
    network_acl_id: String,
    #[arg(force_new)]
    rule_number: i32,
    #[serde(default)]
    #[arg(force_new)]
    egress: bool,
    /// `tcp`, `udp`, `icmp`, a protocol number, or `-1` / `all`.
    protocol: String,
    action: Action,
    cidr: String,
    #[serde(default)]
    from_port: Option<i32>,
    #[serde(default)]
    to_port: Option<i32>,
}

/// Rule numbers AWS takes for a network ACL entry (32767 is its own
/// default deny).
const RULE_NUMBERS: std::ops::RangeInclusive<i32> = 1..=32766;

impl CheckArgs for EntryArgs {
    fn check(&self) -> Result<(), ArgError> {
        if !RULE_NUMBERS.contains(&self.rule_number) {
            return Err(ArgError::new(
                format!(
                    "`rule_number`: {} is out of range: AWS numbers network ACL entries 1 to 32766",
                    self.rule_number
                ),
                "give `rule_number` a value from 1 to 32766 (lower numbers are matched first)",
            ));
        }
        block("cidr", &self.cidr)?;
        port_range(
            IpProtocol::parse(&self.protocol)?,
            self.from_port,
            self.to_port,
        )
    }
}

fn validate(args: &Value) -> Result<(), ArgError> {
    validate_checked::<EntryArgs>(args)?;
    let protocol = args
        .get("protocol")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let ports = ["from_port", "to_port"]
        .iter()
        .all(|k| args.get(*k).is_some_and(|v| !v.is_null()));
    if matches!(normalise(protocol).as_str(), "6" | "17") && !ports {
        return Err(format!("protocol `{protocol}` needs `from_port` and `to_port`").into());
    }
    Ok(())
}

pub(super) const SCHEMA: KindSchema = KindSchema {
    kind: EntryArgs::KIND,
    name_prefix: "aclentry",
    name_max: 255,
    taggable: false,
    named_by_arg: false,
    create_before_destroy: false,
    args: EntryArgs::SPECS,
    outputs: &[],
    validate: &validate,
    reads_each: None,
    doc: "A network ACL rule: `network_acl`, `rule_number`, `egress` (default false), `protocol`, `action` (\"allow\" or \"deny\"), `cidr`, `from_port`, `to_port`.",
};

/// The protocol number AWS reports.
fn normalise(protocol: &str) -> String {
    match protocol.to_ascii_lowercase().as_str() {
        "all" | "-1" => "-1".into(),
        "tcp" => "6".into(),
        "udp" => "17".into(),
        "icmp" => "1".into(),
        p => p.into(),
    }
}

fn entry_id(acl: &str, egress: bool, rule: i32) -> String {
    let direction = if egress { "egress" } else { "ingress" };
    format!("{acl}:{direction}:{rule}")
}

fn ports(args: &EntryArgs) -> Option<PortRange> {
    (normalise(&args.protocol) != "-1" && (args.from_port.is_some() || args.to_port.is_some()))
        .then(|| {
            PortRange::builder()
                .set_from(args.from_port)
                .set_to(args.to_port)
                .build()
        })
}

fn action(a: Action) -> RuleAction {
    match a {
        Action::Allow => RuleAction::Allow,
        Action::Deny => RuleAction::Deny,
    }
}

fn find(acl: &NetworkAcl, egress: bool, rule: i64) -> Option<&NetworkAclEntry> {
    acl.entries()
        .iter()
        .find(|e| e.egress() == Some(egress) && e.rule_number().map(i64::from) == Some(rule))
}

fn observed(recorded: &Value, acl: &str, e: &NetworkAclEntry) -> Map<String, Value> {
    let protocol = e.protocol().unwrap_or("-1");
    let all = normalise(protocol) == "-1";
    let mut o = Observed::new(recorded);
    o.set("network_acl", acl)
        .set("rule_number", e.rule_number().unwrap_or_default())
        .optional("egress", e.egress().unwrap_or(false), false)
        .spelled("protocol", protocol, normalise)
        .set("action", e.rule_action().map_or("", RuleAction::as_str))
        .set("cidr", e.cidr_block().unwrap_or_default());
    for (key, live) in [
        ("from_port", e.port_range().and_then(PortRange::from)),
        ("to_port", e.port_range().and_then(PortRange::to)),
    ] {
        // AWS ignores the ports of an all-protocols entry: the program's stand.
        if all {
            o.maybe(key, recorded.get(key).and_then(Value::as_i64));
        } else {
            o.maybe(key, live);
        }
    }
    o.finish()
}

pub(super) async fn create(ec2: &Client, op: &CreateOp) -> Result<Applied, ProviderError> {
    let subject = op.address.to_string();
    let args: EntryArgs = parse(&op.args, &subject)?;
    ec2.create_network_acl_entry()
        .network_acl_id(&args.network_acl_id)
        .rule_number(args.rule_number)
        .egress(args.egress)
        .protocol(normalise(&args.protocol))
        .rule_action(action(args.action))
        .cidr_block(&args.cidr)
        .set_port_range(ports(&args))
        .send()
        .await
        .or_fail(&subject, "ec2:CreateNetworkAclEntry")?;
    Ok(Applied {
        id: entry_id(&args.network_acl_id, args.egress, args.rule_number),
        outputs: Map::new(),
    })
}

pub(super) async fn read(
    ec2: &Client,
    _cx: &Refresh<'_>,
    items: &[ReadItem],
) -> Result<Vec<ReadResult>, ProviderError> {
    let acls: HashMap<String, NetworkAcl> =
        describe_ids(ec2, SCHEMA.kind, recorded(items, "network_acl"))
            .await?
            .into_iter()
            .map(|acl| (acl.network_acl_id().unwrap_or_default().to_string(), acl))
            .collect();
    Ok(items
        .iter()
        .map(|item| {
            let acl = item
                .args
                .get("network_acl")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let egress = item
                .args
                .get("egress")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            let rule = item
                .args
                .get("rule_number")
                .and_then(Value::as_i64)
                .unwrap_or(-1);
            match acls.get(acl).and_then(|a| find(a, egress, rule)) {
                Some(e) => ReadResult::Found {
                    args: observed(&item.args, acl, e),
                    outputs: Map::new(),
                },
                None => ReadResult::Gone,
            }
        })
        .collect())
}

pub(super) async fn update(ec2: &Client, op: &UpdateOp) -> Result<Applied, ProviderError> {
    let subject = op.address.to_string();
    let args: EntryArgs = parse(&op.after, &subject)?;
    ec2.replace_network_acl_entry()
        .network_acl_id(&args.network_acl_id)
        .rule_number(args.rule_number)
        .egress(args.egress)
        .protocol(normalise(&args.protocol))
        .rule_action(action(args.action))
        .cidr_block(&args.cidr)
        .set_port_range(ports(&args))
        .send()
        .await
        .or_fail(&subject, "ec2:ReplaceNetworkAclEntry")?;
    Ok(Applied {
        id: op.id.clone(),
        outputs: Map::new(),
    })
}

pub(super) async fn delete(ec2: &Client, op: &DeleteOp) -> Result<(), ProviderError> {
    let subject = op.address.to_string();
    let args: EntryArgs = parse(&op.args, &subject)?;
    let result = gone_is_ok(
        ec2.delete_network_acl_entry()
            .network_acl_id(&args.network_acl_id)
            .rule_number(args.rule_number)
            .egress(args.egress)
            .send()
            .await
            .map(drop)
            .or_fail(&subject, "ec2:DeleteNetworkAclEntry"),
    );
    // Not every EC2 implementation answers NotFound for a missing entry
    // (moto fails with a server error): a failed delete of an entry that
    // is not there succeeds.
    if result.is_err() {
        let acls = describe_ids(ec2, &subject, vec![args.network_acl_id.clone()]).await?;
        if acls
            .first()
            .and_then(|a| find(a, args.egress, i64::from(args.rule_number)))
            .is_none()
        {
            return Ok(());
        }
    }
    result
}

/// An entry is found by its ACL, direction and number; different contents
/// are then an update in the next plan.
pub(super) async fn adopt(ec2: &Client, op: &CreateOp) -> Result<Option<Applied>, ProviderError> {
    let subject = op.address.to_string();
    let args: EntryArgs = parse(&op.args, &subject)?;
    let acls = describe_ids(ec2, &subject, vec![args.network_acl_id.clone()]).await?;
    Ok(acls
        .first()
        .and_then(|a| find(a, args.egress, i64::from(args.rule_number)))
        .map(|_| Applied {
            id: entry_id(&args.network_acl_id, args.egress, args.rule_number),
            outputs: Map::new(),
        }))
}
