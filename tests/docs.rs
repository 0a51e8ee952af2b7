//! `payrun docs`: the reference generated from the kinds and the stdlib
//! covers every property the builders accept, a program written from it
//! passes the type checks, and the README's kinds table is the generated one.

use std::collections::BTreeSet;
use std::path::Path;

use predicates::str::contains;
use serde_json::Value;

use crate::support::bin::Project;

fn stdlib() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("stdlib")
        .display()
        .to_string()
}

fn docs_json(p: &Project) -> Vec<Value> {
    let out = p
        .payrun()
        .args(["docs", "--json"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    serde_json::from_slice(&out).expect("docs --json is JSON")
}

/// Addresses order as text (`Address`'s `Ord`), which is by kind and then
/// purpose as long as no kind is another's dotted prefix.
#[test]
fn no_kind_is_another_kinds_dotted_prefix() {
    use payrun::provider::{aws, fake, k8s};
    let kinds: Vec<&str> = aws::SCHEMAS
        .iter()
        .chain(k8s::SCHEMAS)
        .chain(k8s::helm::SCHEMAS)
        .chain(fake::SCHEMAS)
        .map(|s| s.kind)
        .collect();
    for a in &kinds {
        for b in &kinds {
            assert!(
                !b.starts_with(&format!("{a}.")),
                "{b} starts with {a}.: addresses of the two would not order by kind"
            );
        }
    }
}

#[test]
fn every_property_the_builders_accept_is_documented() {
    use payrun::provider::{aws, k8s};
    let docs = payrun::docs::kind_docs();
    let schemas: Vec<_> = aws::SCHEMAS
        .iter()
        .chain(k8s::SCHEMAS)
        .chain(k8s::helm::SCHEMAS)
        .collect();
    assert_eq!(docs.len(), schemas.len());
    for schema in schemas {
        let doc = docs
            .iter()
            .find(|d| d.kind == schema.kind)
            .unwrap_or_else(|| panic!("{} has no reference entry", schema.kind));
        let documented: BTreeSet<&str> = doc.properties.iter().map(|p| p.name.as_str()).collect();
        let declared: BTreeSet<&str> = schema.args.iter().map(|a| a.name).collect();
        assert!(!documented.is_empty(), "{}: no property found", schema.kind);
        assert_eq!(
            documented, declared,
            "{}: the args struct (left) and the schema's ArgSpec list (right) differ",
            schema.kind
        );
        for p in &doc.properties {
            assert!(
                !p.type_name.is_empty()
                    && !matches!(p.shape, payrun::provider::properties::Shape::Other { .. }),
                "{}.{}: type not recognised: {}",
                schema.kind,
                p.name,
                p.type_name
            );
        }
    }
}

/// A field's `///` comment is its property's doc, and its `#[arg]` flags
/// are the schema's: the args struct is the one declaration.
#[test]
fn a_kinds_properties_are_documented_from_its_args_struct() {
    let docs = payrun::docs::kind_docs();
    let prop = |kind: &str, name: &str| {
        docs.iter()
            .find(|d| d.kind == kind)
            .and_then(|d| d.properties.iter().find(|p| p.name == name))
            .unwrap_or_else(|| panic!("{kind}.{name}"))
            .clone()
    };
    for (name, doc) in [
        ("versioning", "Keep every version of every object"),
        (
            "kms_key",
            "The KMS key (ARN) of `aws:kms` encryption; a resource handle here stands for its `arn`",
        ),
    ] {
        let found = prop("aws.s3.bucket", name).doc;
        assert!(found.starts_with(doc), "{name}: {found}");
    }
    assert!(prop("aws.ec2.subnet", "vpc").force_new);
    assert!(!prop("aws.ec2.subnet", "map_public_ip").force_new);
    assert!(prop("aws.secretsmanager.secret", "value").secret);
    let documented = docs
        .iter()
        .flat_map(|d| &d.properties)
        .filter(|p| !p.doc.is_empty())
        .count();
    assert!(documented > 100, "{documented} properties documented");
}

/// Every default the reference shows for a field serde gives a default is
/// the value serde gives (derived per field: the shown text deserializes
/// to it), and the reference shows it.
#[test]
fn a_shown_default_is_the_one_serde_gives() {
    use payrun::provider::{aws, fake, k8s};
    let schemas = aws::SCHEMAS
        .iter()
        .chain(k8s::SCHEMAS)
        .chain(k8s::helm::SCHEMAS)
        .chain(fake::SCHEMAS);
    let mut checked = 0;
    let mut wrong = Vec::new();
    for schema in schemas {
        for arg in schema.args {
            if let Some(holds) = arg.default_holds {
                checked += 1;
                if let Err(e) = holds() {
                    wrong.push(format!("{}: {e}", schema.kind));
                }
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert!(checked >= 25, "only {checked} defaults checked");
    let docs = payrun::docs::kind_docs();
    let bucket = docs.iter().find(|k| k.kind == "aws.s3.bucket").unwrap();
    let shown = |name: &str| {
        bucket
            .properties
            .iter()
            .find(|p| p.name == name)
            .and_then(|p| p.default.clone())
    };
    assert_eq!(shown("encryption").as_deref(), Some("\"AES256\""));
    assert_eq!(shown("force_destroy").as_deref(), Some("false"));
}

/// A value of the documented shape, read from the JSON only.
fn placeholder(shape: &Value) -> Value {
    match shape["type"].as_str().unwrap_or_default() {
        "string" => Value::from("placeholder"),
        "integer" => Value::from(1),
        "number" => Value::from(1.5),
        "bool" => Value::from(true),
        "any" => serde_json::json!({ "placeholder": "placeholder" }),
        "list" => Value::Array(
            Some(placeholder(&shape["items"]))
                .filter(|v| !v.is_null())
                .into_iter()
                .collect(),
        ),
        "map" => match placeholder(&shape["values"]) {
            Value::Null => serde_json::json!({}),
            v => serde_json::json!({ "key": v }),
        },
        "record" => Value::Object(
            shape["properties"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| (p["name"].as_str().unwrap().to_string(), placeholder(p)))
                .filter(|(_, v)| !v.is_null())
                .collect(),
        ),
        // A recursive shape met again: left out, not expanded.
        "other" if shape["expecting"] == "(the enclosing shape, nested)" => Value::Null,
        "one_of" => shape["values"][0].clone(),
        "either" => shape["placeholder"].clone(),
        other => panic!("no placeholder for a shape of type {other}: {shape}"),
    }
}

/// `value` written as a Rhai literal.
fn rhai(value: &Value) -> String {
    match value {
        Value::Null => "()".into(),
        Value::Bool(_) | Value::Number(_) | Value::String(_) => value.to_string(),
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(rhai).collect();
            format!("[{}]", items.join(", "))
        }
        Value::Object(map) => {
            let entries: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{}: {}", Value::from(k.as_str()), rhai(v)))
                .collect();
            format!("#{{ {} }}", entries.join(", "))
        }
    }
}

/// What serde says when a map does not fit the args struct.
const SHAPE_ERRORS: &[&str] = &[
    "invalid type",
    "unknown field",
    "missing field",
    "unknown variant",
    "did not match any variant",
    "invalid length",
    // The generated kinds' own checks.
    "no property `",
    ": expected a",
];

/// Generated kinds whose every property is written by the test below:
/// flat, nested, recursive (the WAF statement), `oneOf` (the table's key
/// schema), tags as a list and as a map.
const GENERATED_SAMPLE: &[&str] = &[
    "awscc.sqs.queue",
    "awscc.dynamodb.table",
    "awscc.wafv2.web_acl",
    "awscc.cloudtrail.trail",
    "awscc.guardduty.detector",
    "awscc.ssm.parameter",
];

#[test]
fn a_program_setting_every_documented_property_passes_the_type_checks() {
    let p = Project::new("");
    let docs = docs_json(&p);
    assert!(docs.len() > 50, "{} kinds", docs.len());
    let chosen: Vec<&Value> = docs
        .iter()
        .filter(|k| {
            let kind = k["kind"].as_str().unwrap();
            !kind.starts_with("awscc.") || GENERATED_SAMPLE.contains(&kind)
        })
        .collect();
    assert_eq!(
        chosen
            .iter()
            .filter(|k| k["kind"].as_str().unwrap().starts_with("awscc."))
            .count(),
        GENERATED_SAMPLE.len()
    );
    for kind in chosen {
        let args: serde_json::Map<String, Value> = kind["properties"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["name"].as_str().unwrap().to_string(),
                    placeholder(&p["shape"]),
                )
            })
            .collect();
        let program = format!(
            "{}(\"every-property\", {});\n",
            kind["builder"].as_str().unwrap(),
            rhai(&Value::Object(args))
        );
        std::fs::write(p.path().join("programs/main.rhai"), &program).unwrap();
        let out = p.payrun().arg("validate").output().unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        // Value checks may refuse a placeholder (it is no CIDR block, no
        // ARN); the shape of every property must be right.
        for refusal in SHAPE_ERRORS {
            assert!(
                !text.contains(refusal),
                "{}: {refusal}\nprogram: {program}\n{text}",
                kind["kind"]
            );
        }
    }
}

#[test]
fn docs_of_a_kind_show_types_flags_and_outputs() {
    let p = Project::new("");
    p.payrun()
        .args(["docs", "aws::ec2::vpc"])
        .assert()
        .success()
        .stdout(contains("aws::ec2::vpc (aws.ec2.vpc)"))
        .stdout(contains("cidr"))
        .stdout(contains("string  [required, force-new]"))
        .stdout(contains("enable_dns_support"))
        .stdout(contains("bool  [optional, default true]"))
        .stdout(contains("outputs: id, arn, owner_id"))
        .stdout(contains("forced replacement: delete-first (-/+)"));
    p.payrun()
        .args(["docs", "aws::ec2::security_group"])
        .assert()
        .success()
        .stdout(contains("forced replacement: create-before-destroy (+/-)"))
        .stdout(predicates::prelude::PredicateBooleanExt::not(contains(
            "a resource handle here stands for its `id`",
        )));
    p.payrun()
        .args(["docs", "aws::eks::cluster"])
        .assert()
        .success()
        .stdout(contains("a resource handle here stands for its `arn`"));
    p.payrun()
        .args(["docs", "aws.ec2.vcp"])
        .assert()
        .failure()
        .stderr(contains("did you mean `aws.ec2.vpc`?"));
}

#[test]
fn docs_of_a_stdlib_module_show_its_functions_and_comments() {
    let p = Project::new("");
    p.payrun()
        .args(["--stdlib", &stdlib(), "docs", "naming"])
        .assert()
        .success()
        .stdout(contains("module naming"))
        .stdout(contains("naming::"));
    p.payrun()
        .args(["--stdlib", &stdlib(), "docs", "workloads"])
        .assert()
        .success()
        .stdout(contains("workloads::network_policies(opts)\n    options: #{ kube: kube, tenants: tenants, graph: #{ services: #{ \"payment\": #{ port: 8080 } }, paths: [[\"alb\", \"payment\"]] }, net: net }"))
        // Optional options end in `?`, a nested map shows what it takes.
        .stdout(contains("workloads::tenant(name, opts)\n    options: #{ kube: kube, quota: #{ cpu: \"2\", memory: \"4Gi\" }, role: "))
        .stdout(contains("gate?: repo.gate, secret_provider?: spc }"));
}

#[test]
fn definitions_cover_builders_host_functions_and_stdlib_modules() {
    let p = Project::new("");
    let dir = p.path().join("defs");
    p.payrun()
        .args(["--stdlib", &stdlib(), "docs", "--definitions"])
        .arg(&dir)
        .assert()
        .success();
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap_or_default();
    let aws = read("aws.d.rhai");
    assert!(aws.contains("module aws;"), "{aws}");
    assert!(
        aws.contains("fn vpc(purpose: String, args: map) -> Resource;"),
        "{aws}"
    );
    assert!(aws.contains("/// * `cidr`: string (required)"), "{aws}");
    let host = read("__static__.d.rhai");
    assert!(host.contains("fn cidr_subnet("), "{host}");
    assert!(host.contains("fn secret_env("), "{host}");
    let network = read("network.stdlib.d.rhai");
    assert!(network.contains("module network;"), "{network}");
    assert!(network.contains("fn flow_logs(opts);"), "{network}");
    assert!(!network.contains("anon$"), "{network}");
}

#[test]
fn the_readme_kinds_table_is_the_generated_one() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md");
    let readme = std::fs::read_to_string(&file).unwrap();
    let table = payrun::docs::kinds_table(&payrun::docs::kind_docs());
    let generated = payrun::docs::with_kinds_table(&readme, &table)
        .expect("README.md has the kinds table markers");
    assert!(
        generated == readme,
        "README.md's kinds table is stale: regenerate it with `cargo run -- docs --readme README.md`"
    );
}

#[test]
fn docs_findings_lists_every_registered_code() {
    let p = Project::new("");
    let out = p.payrun().args(["docs", "findings"]).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for c in payrun::check::codes::CODES {
        assert!(
            text.lines()
                .any(|l| l.trim_start().starts_with(c.code) && l.contains(c.doc)),
            "{} missing:\n{text}",
            c.code
        );
    }
    assert!(text.contains("eks-version-downgrade"), "{text}");
}

/// The stdlib convention: a function that declares resources or findings
/// takes a purpose (or nothing) and then one options map, never a row of
/// positional arguments; the options it needs are snake_case. Helpers that
/// only compute a value (a trust policy, a name) are not held to it.
#[test]
fn the_stdlib_follows_its_convention() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("stdlib");
    let mut broken = Vec::new();
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("rhai") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let module = path.file_stem().unwrap().to_string_lossy().to_string();
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let Some(rest) = line.strip_prefix("fn ") else {
                continue;
            };
            let (name, rest) = rest.split_once('(').unwrap();
            let params: Vec<&str> = rest
                .split_once(')')
                .unwrap()
                .0
                .split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .collect();
            let body: Vec<&str> = lines[i + 1..]
                .iter()
                .take_while(|l| **l != "}")
                .copied()
                .collect();
            let body = body.join("\n");
            let declares = ["aws::", "k8s::", "helm::", "plan_warning(", "plan_error("]
                .iter()
                .any(|b| body.contains(b))
                || body.contains("keys::logs_key(");
            if !declares {
                continue;
            }
            checked += 1;
            let shape_ok = matches!(
                params.as_slice(),
                [] | ["opts"] | ["name" | "purpose", "opts"]
            );
            if !shape_ok {
                broken.push(format!("{module}::{name}({})", params.join(", ")));
            }
            if let Some(at) = body.find("needs(opts, #{") {
                let decl = &body[at..];
                let decl = &decl[..decl.find("});").unwrap_or(decl.len())];
                for key in declared_keys(decl) {
                    // `"kms_key?"`: an optional option, quoted for the `?`.
                    let key = key.trim_matches('"').trim_end_matches('?');
                    let snake = key
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
                    if !snake {
                        broken.push(format!(
                            "{module}::{name}: option `{key}` is not snake_case"
                        ));
                    }
                }
            }
        }
    }
    assert!(checked > 15, "only {checked} functions checked");
    assert!(broken.is_empty(), "against the convention: {broken:#?}");
}

/// The keys of a `needs(opts, #{ ... })` declaration, nested ones
/// included: every `key:` outside the backticked examples and comments.
fn declared_keys(decl: &str) -> Vec<String> {
    let mut keys = Vec::new();
    let mut word = String::new();
    let mut in_example = false;
    let mut lines = decl
        .lines()
        .map(|l| l.split("//").next().unwrap_or_default());
    let text: String = lines.by_ref().collect::<Vec<_>>().join("\n");
    for c in text.chars() {
        match c {
            '`' => {
                in_example = !in_example;
                word.clear();
            }
            _ if in_example => {}
            ':' => {
                let key = word.trim();
                if !key.is_empty() && !key.contains('(') {
                    keys.push(key.to_string());
                }
                word.clear();
            }
            ',' | '{' | '[' | '\n' => word.clear(),
            c => word.push(c),
        }
    }
    keys
}

/// A property that refers to another resource is named by its concept
/// (`vpc`, `subnets`, `role`, `cluster`, `mesh`, ...) and takes a handle;
/// a name ending in `_id`, `_arn`, `_name` or `_identifier` is left only to
/// values that are not payrun resources.
#[test]
fn references_are_named_by_their_concept() {
    // Each with why it keeps its suffix.
    const NOT_A_REFERENCE: &[(&str, &str)] = &[
        (
            "aws.appmesh.route grpc_service_name",
            "a gRPC service of the application",
        ),
        (
            "aws.ec2.vpc_endpoint service_name",
            "an AWS service (com.amazonaws.REGION.s3)",
        ),
        ("aws.eks.addon addon_name", "an EKS add-on (coredns)"),
        (
            "aws.iam.openid_connect_provider client_ids",
            "OIDC audiences",
        ),
        (
            "k8s.ingress certificate_arn",
            "an ACM certificate made outside payrun",
        ),
    ];
    let p = Project::new("");
    let mut suffixed: Vec<String> = Vec::new();
    // The generated kinds keep the CloudFormation names (`role_arn`), as
    // Terraform's awscc provider does: a program ports from either.
    for kind in docs_json(&p)
        .into_iter()
        .filter(|k| !k["kind"].as_str().unwrap().starts_with("awscc."))
    {
        for prop in kind["properties"].as_array().unwrap() {
            let name = prop["name"].as_str().unwrap();
            let stem = name.trim_end_matches('s');
            if ["_id", "_arn", "_name", "_identifier"]
                .iter()
                .any(|s| stem.ends_with(s))
            {
                suffixed.push(format!("{} {name}", kind["kind"].as_str().unwrap()));
            }
        }
    }
    let allowed: Vec<String> = NOT_A_REFERENCE.iter().map(|(p, _)| p.to_string()).collect();
    assert_eq!(
        suffixed, allowed,
        "name a reference by its concept (`vpc`, not `vpc_id`), declared `.formerly(\"vpc_id\")` so recorded state still reads"
    );
}
