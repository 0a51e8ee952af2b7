//! Security checks of IAM, ECR and Secrets Manager kinds: valid ECR
//! repository names, a value source for every secret, policy statements
//! that allow every action, or a write action on every resource, and, for
//! programs in PCI DSS scope, roles a service may assume on anyone's
//! behalf. (Name lengths are the naming-limit check's.)

use serde_json::{Map, Value};

use super::Context;
use super::context::kinds::{PolicyArgs, RepositoryArgs, RoleArgs, RolePolicyArgs, SecretArgs};
use crate::finding::Finding;
use crate::graph::DesiredGraph;
use crate::script::ResourceSpec;

/// A service may assume a role with no condition on whose behalf it acts.
pub const CONFUSED_DEPUTY: &str = "iam-confused-deputy";

/// The global condition keys that tie a service's use of a role to this
/// account, a resource of it, or this organization.
const SOURCE_KEYS: [&str; 4] = [
    "aws:SourceAccount",
    "aws:SourceArn",
    "aws:SourceOrgID",
    "aws:SourceOrgPaths",
];

pub fn findings(graph: &DesiredGraph, program: &crate::script::Program) -> Vec<Finding> {
    let pci = super::pci::in_scope(graph, program);
    let mut out = Vec::new();
    for spec in graph.resources() {
        let address = &spec.address;
        match address.kind() {
            RepositoryArgs::KIND => out.extend(repository_name(spec)),
            // An adopted secret has its value already: a program that
            // does not declare one leaves it as it is.
            SecretArgs::KIND if program.adopts.iter().any(|a| &a.address == address) => {
                out.extend(
                    Context::args::<SecretArgs>(spec)
                        .filter(|s| s.value.is_some() && s.generate.is_some())
                        .and_then(|s| secret_value(spec, &s)),
                );
            }
            SecretArgs::KIND => {
                out.extend(Context::args::<SecretArgs>(spec).and_then(|s| secret_value(spec, &s)));
            }
            RoleArgs::KIND if pci => out.extend(
                Context::args::<RoleArgs>(spec)
                    .and_then(|role| confused_deputy(spec, &role.assume_role_policy)),
            ),
            PolicyArgs::KIND => {
                if let Some(p) = Context::args::<PolicyArgs>(spec) {
                    out.extend(broad_statements(spec, &p.policy));
                }
            }
            RolePolicyArgs::KIND => {
                if let Some(p) = Context::args::<RolePolicyArgs>(spec) {
                    out.extend(broad_statements(spec, &p.policy));
                }
            }
            _ => {}
        }
    }
    out
}

/// ECR's rule: lowercase components of letters and digits, joined by single
/// `.`, `_` or `-`, separated by `/`.
fn valid_repository_name(name: &str) -> bool {
    (2..=256).contains(&name.len())
        && name.split('/').all(|part| {
            let mut previous_separator = true;
            for c in part.chars() {
                let separator = matches!(c, '.' | '_' | '-');
                if !(c.is_ascii_lowercase() || c.is_ascii_digit() || separator)
                    || (separator && previous_separator)
                {
                    return false;
                }
                previous_separator = separator;
            }
            !part.is_empty() && !previous_separator
        })
}

fn repository_name(spec: &ResourceSpec) -> Option<Finding> {
    (!valid_repository_name(&spec.name)).then(|| {
        Finding::error(
            "ecr-repository-name",
            format!(
                "{}: `{}` is not a valid ECR repository name",
                spec.address, spec.name
            ),
        )
        .at(&spec.address)
        .remedy("use lowercase letters, digits and single `.`, `_` or `-` between them in the purpose and suffix")
        .source(spec.pos.to_string())
    })
}

fn secret_value(spec: &ResourceSpec, secret: &SecretArgs) -> Option<Finding> {
    let message = match (secret.value.is_some(), secret.generate.is_some()) {
        (false, false) => "has no value: neither `value` nor `generate` is set",
        (true, true) => "sets both `value` and `generate`; it takes one",
        _ => return None,
    };
    Some(
        Finding::error(
            "secret-without-value",
            format!("{}: the secret {message}", spec.address),
        )
        .at(&spec.address)
        .remedy("set `value: secret_env(\"NAME\")` or `generate: #{ length: 32 }`")
        .source(spec.pos.to_string()),
    )
}

fn strings(v: Option<&Value>) -> Vec<&str> {
    match v {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

/// Actions that only read: `s3:GetObject`, `ec2:Describe*`, `logs:List*`.
fn read_only(action: &str) -> bool {
    let verb = action.split_once(':').map_or(action, |(_, v)| v);
    [
        "Get", "List", "Describe", "Head", "BatchGet", "Query", "Scan", "Search", "Lookup",
    ]
    .iter()
    .any(|p| verb.starts_with(p))
}

/// One warning per policy, listing every statement that allows every
/// action, or a write action on every resource (a published policy such as
/// the load balancer controller's has several: one line, not nine).
fn broad_statements(spec: &ResourceSpec, policy: &Map<String, Value>) -> Vec<Finding> {
    let mut problems = Vec::new();
    for (i, st) in statements(policy).into_iter().enumerate() {
        if st.get("Effect").and_then(Value::as_str) != Some("Allow") {
            continue;
        }
        let name = st.get("Sid").and_then(Value::as_str).map_or_else(
            || format!("statement {}", i + 1),
            |sid| format!("statement `{sid}`"),
        );
        let actions = strings(st.get("Action"));
        let resources = strings(st.get("Resource"));
        if actions.contains(&"*") {
            problems.push(format!("{name} allows every action (`Action: \"*\"`)"));
        } else if resources.contains(&"*") {
            let writes: Vec<&str> = actions.into_iter().filter(|a| !read_only(a)).collect();
            if !writes.is_empty() {
                problems.push(format!(
                    "{name} allows {} on every resource (`Resource: \"*\"`)",
                    writes.join(", ")
                ));
            }
        }
    }
    if problems.is_empty() {
        return Vec::new();
    }
    vec![
        Finding::warning(
            "iam-broad-statement",
            format!("{}: {}", spec.address, problems.join("; ")),
        )
        .at(&spec.address)
        .remedy("name the actions and the resources (ARNs) each statement needs")
        .source(spec.pos.to_string()),
    ]
}

fn statements(policy: &Map<String, Value>) -> Vec<&Value> {
    match policy.get("Statement") {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(one @ Value::Object(_)) => vec![one],
        _ => Vec::new(),
    }
}

/// Does the statement's `Condition` name one of the source keys, under any
/// operator? (Condition keys are case-insensitive.)
fn has_source_condition(statement: &Value) -> bool {
    let Some(Value::Object(operators)) = statement.get("Condition") else {
        return false;
    };
    operators.values().filter_map(Value::as_object).any(|keys| {
        keys.keys()
            .any(|k| SOURCE_KEYS.iter().any(|s| s.eq_ignore_ascii_case(k)))
    })
}

/// A trust policy that lets an AWS service (`*.amazonaws.com`) assume the
/// role with no source condition: the service can be led to act with the
/// role on behalf of a resource in another account (the cross-service
/// confused deputy). PCI DSS scope only: it is an error there. AWS
/// documents the source keys for service roles in general and names no
/// service principal that refuses them, so none is exempt.
fn confused_deputy(spec: &ResourceSpec, trust: &Map<String, Value>) -> Option<Finding> {
    let mut services: Vec<&str> = Vec::new();
    for st in statements(trust) {
        if st.get("Effect").and_then(Value::as_str) != Some("Allow") || has_source_condition(st) {
            continue;
        }
        for service in strings(st.get("Principal").and_then(|p| p.get("Service"))) {
            if service.ends_with(".amazonaws.com") && !services.contains(&service) {
                services.push(service);
            }
        }
    }
    if services.is_empty() {
        return None;
    }
    let who = services.join(", ");
    Some(
        Finding::error(
            CONFUSED_DEPUTY,
            format!(
                "{}: {who} may assume this role with no aws:SourceAccount, aws:SourceArn or aws:SourceOrgID condition, so the service can be made to use it for another account's resources (confused deputy)",
                spec.address
            ),
        )
        .at(&spec.address)
        .remedy(format!(
            "add to the statement that trusts {who}: `Condition: #{{ StringEquals: #{{ \"aws:SourceAccount\": net.vpc.owner_id }}, ArnLike: #{{ \"aws:SourceArn\": \"arn:aws:SERVICE:REGION:ACCOUNT:RESOURCE\" }} }}`, the account and the resource the service acts for"
        ))
        .source(spec.pos.to_string()),
    )
}

/// The check of this module, as [`super::CHECKS`] runs it.
pub const CHECK: super::Check = super::Check {
    name: "iam",
    codes: &[
        "ecr-repository-name",
        "secret-without-value",
        "iam-broad-statement",
        "iam-confused-deputy",
    ],
    run: |cx| findings(cx.graph, cx.program),
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_names_follow_ecr_rules() {
        assert!(valid_repository_name("ecr-payments-qa"));
        assert!(valid_repository_name("team/app.web_1"));
        assert!(!valid_repository_name("ecr-Payments-qa"));
        assert!(!valid_repository_name("ecr--x"));
        assert!(!valid_repository_name("x-"));
    }

    #[test]
    fn reads_are_not_writes() {
        assert!(read_only("s3:GetObject"));
        assert!(read_only("ec2:Describe*"));
        assert!(!read_only("s3:PutObject"));
    }
}
