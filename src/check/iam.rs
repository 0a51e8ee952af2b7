//! Security checks of IAM, ECR and Secrets Manager kinds: valid ECR
//! repository names, a value source for every secret, and policy
//! statements that allow every action, or a write action on every
//! resource. (Name lengths are the naming-limit check's.)

use serde_json::Value;

use crate::finding::Finding;
use crate::graph::DesiredGraph;
use crate::script::ResourceSpec;

pub fn findings(graph: &DesiredGraph) -> Vec<Finding> {
    let mut out = Vec::new();
    for address in graph.order() {
        let Some(spec) = graph.spec(address) else {
            continue;
        };
        match address.kind() {
            "aws.ecr.repository" => out.extend(repository_name(spec)),
            "aws.secretsmanager.secret" => out.extend(secret_value(spec)),
            "aws.iam.policy" | "aws.iam.role_policy" => {
                if let Some(policy) = spec.args.get("policy") {
                    out.extend(broad_statements(spec, policy));
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

fn secret_value(spec: &ResourceSpec) -> Option<Finding> {
    let has = |k: &str| spec.args.get(k).is_some_and(|v| !v.is_null());
    let message = match (has("value"), has("generate")) {
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
fn broad_statements(spec: &ResourceSpec, policy: &Value) -> Vec<Finding> {
    let statements = match policy.get("Statement") {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(one @ Value::Object(_)) => vec![one],
        _ => Vec::new(),
    };
    let mut problems = Vec::new();
    for (i, st) in statements.into_iter().enumerate() {
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
