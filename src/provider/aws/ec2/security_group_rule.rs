//! One security group rule, ingress or egress, from an IPv4 CIDR or another
//! security group. Its id is the rule id AWS assigns (`sgr-...`).

use std::collections::HashMap;

use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::{
    IpPermission, IpRange, ResourceType, SecurityGroupRule, SecurityGroupRuleRequest,
    SecurityGroupRuleUpdate, UserIdGroupPair,
};
use payrun_derive::Args;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::described::describe;
use super::{gone_is_ok, incomplete, parse};
use crate::provider::arg_values::{IpProtocol, block, port_range};
use crate::provider::aws::error::AwsResultExt;
use crate::provider::aws::refresh::Refresh;
use crate::provider::aws::observed::Observed;
use crate::provider::aws::tags::{self, Tags};
use crate::provider::schema::{ArgError, ArgSpec, CheckArgs, validate_checked};
use crate::provider::{Applied, CreateOp, DeleteOp, ProviderError, ReadItem, ReadResult, UpdateOp};

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Direction {
    Ingress,
    Egress,
}

impl Direction {
    fn verb(self, base: &str) -> String {
        match self {
            Self::Ingress => format!("ec2:{base}SecurityGroupIngress"),
            Self::Egress => format!("ec2:{base}SecurityGroupEgress"),
        }
    }
}

#[derive(Deserialize, Args)]
#[serde(deny_unknown_fields)]
pub(crate) struct RuleArgs {
    #[serde(rename = "security_group")]
    #[arg(force_new, formerly = "security_group_id")]
    pub(crate) security_group_id: String,
    /// `tcp`, `udp`, `icmp`, a protocol number, or `-1` / `all`.
    #[arg(force_new)]
    pub(crate) protocol: String,
    #[serde(default)]
    #[arg(force_new)]
    pub(crate) from_port: Option<i32>,
    #[serde(default)]
    #[arg(force_new)]
    pub(crate) to_port: Option<i32>,
    #[serde(default)]
    #[arg(force_new)]
    pub(crate) cidr: Option<String>,
    #[serde(default)]
    #[serde(rename = "source_security_group")]
    #[arg(force_new, formerly = "source_security_group_id")]
    pub(crate) source_security_group_id: Option<String>,
    #[serde(default)]
    pub(crate) description: Option<String>,
    #[serde(default)]
    pub(crate) tags: Tags,
}

pub(super) const ARGS: &[ArgSpec] = RuleArgs::SPECS;

impl CheckArgs for RuleArgs {
    fn check(&self) -> Result<(), ArgError> {
        if let Some(cidr) = &self.cidr {
            block("cidr", cidr)?;
        }
        port_range(
            IpProtocol::parse(&self.protocol)?,
            self.from_port,
            self.to_port,
        )
    }
}

pub(super) fn validate(args: &Value) -> Result<(), ArgError> {
    validate_checked::<RuleArgs>(args)?;
    let has = |k: &str| args.get(k).is_some_and(|v| !v.is_null());
    if has("cidr") == has("source_security_group") {
        return Err("give exactly one source: `cidr` or `source_security_group`".into());
    }
    let protocol = args
        .get("protocol")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if normalise(protocol) != "-1" && !(has("from_port") && has("to_port")) {
        return Err(format!("protocol `{protocol}` needs `from_port` and `to_port`").into());
    }
    Ok(())
}

/// The spelling AWS reports.
fn normalise(protocol: &str) -> String {
    match protocol.to_ascii_lowercase().as_str() {
        "all" | "-1" => "-1".into(),
        "6" => "tcp".into(),
        "17" => "udp".into(),
        "1" => "icmp".into(),
        p => p.into(),
    }
}

fn permission(args: &RuleArgs) -> IpPermission {
    let protocol = normalise(&args.protocol);
    let all = protocol == "-1";
    let mut p = IpPermission::builder()
        .ip_protocol(protocol)
        .set_from_port(if all { None } else { args.from_port })
        .set_to_port(if all { None } else { args.to_port });
    if let Some(cidr) = &args.cidr {
        p = p.ip_ranges(
            IpRange::builder()
                .cidr_ip(cidr)
                .set_description(args.description.clone())
                .build(),
        );
    }
    if let Some(group) = &args.source_security_group_id {
        p = p.user_id_group_pairs(
            UserIdGroupPair::builder()
                .group_id(group)
                .set_description(args.description.clone())
                .build(),
        );
    }
    p.build()
}

fn observed(recorded: &Value, r: &SecurityGroupRule) -> Map<String, Value> {
    let protocol = r.ip_protocol().unwrap_or("-1");
    let all = normalise(protocol) == "-1";
    let mut o = Observed::new(recorded);
    o.set("security_group", r.group_id().unwrap_or_default())
        .spelled("protocol", protocol, normalise);
    // AWS reports -1 for the ports of an all-protocols rule, whatever was
    // sent: the program's ports stand.
    for (key, live) in [("from_port", r.from_port()), ("to_port", r.to_port())] {
        if all {
            o.maybe(key, recorded.get(key).and_then(Value::as_i64));
        } else {
            o.maybe(key, live);
        }
    }
    o.maybe("cidr", r.cidr_ipv4())
        .maybe(
            "source_security_group",
            r.referenced_group_info().and_then(|g| g.group_id()),
        )
        .maybe("description", r.description().filter(|d| !d.is_empty()))
        .tags(&tags::from_aws(r.tags()));
    o.finish()
}

pub(super) async fn create(
    ec2: &Client,
    op: &CreateOp,
    direction: Direction,
) -> Result<Applied, ProviderError> {
    let subject = op.address.to_string();
    let args: RuleArgs = parse(&op.args, &subject)?;
    let spec = tags::spec(ResourceType::SecurityGroupRule, &args.tags).map(|s| vec![s]);
    let action = direction.verb("Authorize");
    let sent = match direction {
        Direction::Ingress => ec2
            .authorize_security_group_ingress()
            .group_id(&args.security_group_id)
            .ip_permissions(permission(&args))
            .set_tag_specifications(spec)
            .send()
            .await
            .map(|o| o.security_group_rules.unwrap_or_default())
            .or_fail(&subject, &action),
        Direction::Egress => ec2
            .authorize_security_group_egress()
            .group_id(&args.security_group_id)
            .ip_permissions(permission(&args))
            .set_tag_specifications(spec)
            .send()
            .await
            .map(|o| o.security_group_rules.unwrap_or_default())
            .or_fail(&subject, &action),
    };
    let rules = match sent {
        Ok(rules) => rules,
        Err(e) if e.code.as_deref() == Some("InvalidPermission.Duplicate") => {
            return take_over(ec2, op, &args, direction).await?.ok_or(e);
        }
        Err(e) => return Err(e),
    };
    let id = rules
        .first()
        .and_then(SecurityGroupRule::security_group_rule_id)
        .ok_or_else(|| incomplete(&subject, &action, "a rule id"))?
        .to_string();
    Ok(Applied {
        id,
        outputs: Map::new(),
    })
}

/// Every rule of the stack's security groups: those recorded for the
/// stack's groups, and those the recorded rules (of both directions, and
/// `extra`) are on, in one DescribeSecurityGroupRules a page per 200
/// groups, made once for a refresh and shared by the groups and both rule
/// kinds.
pub(super) async fn stack_rules<'a>(
    ec2: &Client,
    cx: &'a Refresh<'_>,
    extra: &[ReadItem],
) -> Result<&'a [SecurityGroupRule], ProviderError> {
    cx.group_rules(async {
        let groups = super::distinct(
            cx.items(super::security_group::SCHEMA.kind)
                .iter()
                .map(|g| g.id.clone())
                .chain(
                    [
                        super::security_group_ingress::SCHEMA.kind,
                        super::security_group_egress::SCHEMA.kind,
                    ]
                    .iter()
                    .flat_map(|k| cx.items(k))
                    .chain(extra)
                    .filter_map(|r| r.args.get("security_group")?.as_str().map(str::to_string)),
                ),
        );
        let mut rules = Vec::new();
        for chunk in groups.chunks(200) {
            rules.extend(
                describe::<SecurityGroupRule>(ec2, "security group rules", "group-id", chunk.to_vec())
                    .await?,
            );
        }
        Ok(rules)
    })
    .await
}

pub(super) async fn read(
    ec2: &Client,
    cx: &Refresh<'_>,
    kind: &str,
    items: &[ReadItem],
    direction: Direction,
) -> Result<Vec<ReadResult>, ProviderError> {
    let rules: Vec<&SecurityGroupRule> = stack_rules(ec2, cx, items)
        .await?
        .iter()
        .filter(|r| r.is_egress() == Some(direction == Direction::Egress))
        .collect();
    let tagged: Vec<(&str, tags::Tags)> = rules
        .iter()
        .map(|r| (r.security_group_rule_id().unwrap_or_default(), tags::from_aws(r.tags())))
        .collect();
    cx.unrecorded_among(kind, items, tagged.iter().map(|(id, t)| (*id, t)));
    let live: HashMap<&str, &SecurityGroupRule> = rules
        .iter()
        .map(|r| (r.security_group_rule_id().unwrap_or_default(), *r))
        .collect();
    Ok(items
        .iter()
        .map(|item| match live.get(item.id.as_str()) {
            None => ReadResult::Gone,
            Some(r) => ReadResult::Found {
                args: observed(&item.args, r),
                outputs: Map::new(),
            },
        })
        .collect())
}

/// A rule as the plan names it: `ingress tcp 22 from 0.0.0.0/0 (sgr-0a1b)`;
/// its id, in parentheses, is what a revoke names.
pub(super) fn describe_rule(r: &SecurityGroupRule) -> String {
    let egress = r.is_egress() == Some(true);
    let protocol = normalise(r.ip_protocol().unwrap_or("-1"));
    let ports = match (r.from_port(), r.to_port()) {
        _ if protocol == "-1" => String::new(),
        (Some(a), Some(b)) if a == b => format!(" {a}"),
        (Some(a), Some(b)) => format!(" {a}-{b}"),
        _ => String::new(),
    };
    let peer = r
        .cidr_ipv4()
        .or(r.cidr_ipv6())
        .or(r.prefix_list_id())
        .or_else(|| r.referenced_group_info().and_then(|g| g.group_id()))
        .unwrap_or("?");
    format!(
        "{} {}{ports} {} {peer} ({})",
        if egress { "egress" } else { "ingress" },
        if protocol == "-1" { "all" } else { protocol.as_str() },
        if egress { "to" } else { "from" },
        r.security_group_rule_id().unwrap_or_default()
    )
}

/// Revokes the rules `described` names ([`describe_rule`]'s text) from
/// `group`.
pub(super) async fn revoke_described(
    ec2: &Client,
    subject: &str,
    group: &str,
    described: &[String],
) -> Result<(), ProviderError> {
    let id = |d: &String| {
        d.rsplit_once('(')
            .map(|(_, id)| id.trim_end_matches(')').to_string())
    };
    let (egress, ingress): (Vec<&String>, Vec<&String>) =
        described.iter().partition(|d| d.starts_with("egress "));
    let ingress: Vec<String> = ingress.into_iter().filter_map(id).collect();
    let egress: Vec<String> = egress.into_iter().filter_map(id).collect();
    if !ingress.is_empty() {
        gone_is_ok(
            ec2.revoke_security_group_ingress()
                .group_id(group)
                .set_security_group_rule_ids(Some(ingress))
                .send()
                .await
                .map(drop)
                .or_fail(subject, "ec2:RevokeSecurityGroupIngress"),
        )?;
    }
    if !egress.is_empty() {
        gone_is_ok(
            ec2.revoke_security_group_egress()
                .group_id(group)
                .set_security_group_rule_ids(Some(egress))
                .send()
                .await
                .map(drop)
                .or_fail(subject, "ec2:RevokeSecurityGroupEgress"),
        )?;
    }
    Ok(())
}

pub(super) async fn update(ec2: &Client, op: &UpdateOp) -> Result<Applied, ProviderError> {
    let subject = op.address.to_string();
    let before: RuleArgs = parse(&op.before, &subject)?;
    let after: RuleArgs = parse(&op.after, &subject)?;
    if before.description != after.description {
        let protocol = normalise(&after.protocol);
        let all = protocol == "-1";
        let request = SecurityGroupRuleRequest::builder()
            .ip_protocol(protocol)
            .set_from_port(if all { None } else { after.from_port })
            .set_to_port(if all { None } else { after.to_port })
            .set_cidr_ipv4(after.cidr.clone())
            .set_referenced_group_id(after.source_security_group_id.clone())
            .description(after.description.clone().unwrap_or_default())
            .build();
        ec2.modify_security_group_rules()
            .group_id(&after.security_group_id)
            .security_group_rules(
                SecurityGroupRuleUpdate::builder()
                    .security_group_rule_id(&op.id)
                    .security_group_rule(request)
                    .build(),
            )
            .send()
            .await
            .or_fail(&subject, "ec2:ModifySecurityGroupRules")?;
    }
    tags::update(ec2, &subject, &op.id, &before.tags, &after.tags).await?;
    Ok(Applied {
        id: op.id.clone(),
        outputs: Map::new(),
    })
}

pub(super) async fn delete(
    ec2: &Client,
    op: &DeleteOp,
    direction: Direction,
) -> Result<(), ProviderError> {
    let subject = op.address.to_string();
    let args: RuleArgs = parse(&op.args, &subject)?;
    let action = direction.verb("Revoke");
    let result = match direction {
        Direction::Ingress => ec2
            .revoke_security_group_ingress()
            .group_id(&args.security_group_id)
            .security_group_rule_ids(&op.id)
            .send()
            .await
            .map(drop)
            .or_fail(&subject, &action),
        Direction::Egress => ec2
            .revoke_security_group_egress()
            .group_id(&args.security_group_id)
            .security_group_rule_ids(&op.id)
            .send()
            .await
            .map(drop)
            .or_fail(&subject, &action),
    };
    gone_is_ok(result)
}

/// Rules are found among the group's rules by their tags.
pub(super) async fn adopt(
    ec2: &Client,
    op: &CreateOp,
    direction: Direction,
) -> Result<Option<Applied>, ProviderError> {
    let subject = op.address.to_string();
    let args: RuleArgs = parse(&op.args, &subject)?;
    let rules = describe::<SecurityGroupRule>(
        ec2,
        &subject,
        "group-id",
        vec![args.security_group_id.clone()],
    )
    .await?;
    Ok(rules
        .iter()
        .filter(|r| r.is_egress() == Some(direction == Direction::Egress))
        .find(|r| tags::owned_by(r.tags(), &op.stack, &subject))
        .and_then(|r| r.security_group_rule_id())
        .map(|id| Applied {
            id: id.to_string(),
            outputs: Map::new(),
        }))
}

/// Does the live rule grant exactly what `args` declares?
fn same_rule(r: &SecurityGroupRule, args: &RuleArgs, direction: Direction) -> bool {
    let protocol = normalise(&args.protocol);
    let ports =
        protocol == "-1" || (r.from_port() == args.from_port && r.to_port() == args.to_port);
    r.is_egress() == Some(direction == Direction::Egress)
        && r.group_id() == Some(args.security_group_id.as_str())
        && normalise(r.ip_protocol().unwrap_or("-1")) == protocol
        && ports
        && r.cidr_ipv4() == args.cidr.as_deref()
        && r.referenced_group_info().and_then(|g| g.group_id())
            == args.source_security_group_id.as_deref()
}

/// A rule identical to the declared one exists already (the allow-all
/// egress AWS gives a new group, or one made before the state knew): it
/// becomes this rule, tagged as ours, rather than failing every apply. A
/// rule another payrun stack or address owns is never taken.
async fn take_over(
    ec2: &Client,
    op: &CreateOp,
    args: &RuleArgs,
    direction: Direction,
) -> Result<Option<Applied>, ProviderError> {
    let subject = op.address.to_string();
    let rules = describe::<SecurityGroupRule>(
        ec2,
        &subject,
        "group-id",
        vec![args.security_group_id.clone()],
    )
    .await?;
    let Some(rule) = rules.iter().find(|r| {
        let owner = tags::from_aws(r.tags());
        same_rule(r, args, direction)
            && owner
                .get(tags::ADDRESS)
                .is_none_or(|a| *a == subject && owner.get(tags::STACK) == Some(&op.stack))
    }) else {
        return Ok(None);
    };
    let id = rule
        .security_group_rule_id()
        .unwrap_or_default()
        .to_string();
    if !args.tags.is_empty() {
        ec2.create_tags()
            .resources(&id)
            .set_tags(Some(tags::to_aws(&args.tags)))
            .send()
            .await
            .or_fail(&subject, "ec2:CreateTags")?;
    }
    Ok(Some(Applied {
        id,
        outputs: Map::new(),
    }))
}
