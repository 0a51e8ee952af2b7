//! `payrun discover` and `payrun import --generate`: what exists in the
//! account and no stack records, listed with batched reads, and written as
//! a program of declarations with `adopt`, whose plan imports each and
//! then has nothing left to do.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;
use std::path::Path;

use serde_json::{Map, Value};

use crate::address::{Address, validate_purpose};
use crate::error::Error;
use crate::provider::{Listed, ReadItem, ReadResult, Registry};

/// An object to declare: its kind, what discovery knows of it, and (once
/// read) its arguments and outputs.
struct Found {
    kind: String,
    listed: Listed,
    args: Map<String, Value>,
    outputs: Map<String, Value>,
    /// The program's name for it (`legacy-vpc`) and its variable.
    purpose: String,
    var: String,
}

/// `--tag KEY=VALUE` filters.
pub fn parse_tags(tags: &[String]) -> Result<Vec<(String, String)>, Error> {
    tags.iter()
        .map(|t| {
            t.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .ok_or_else(|| {
                    Error::Config(format!(
                        "--tag `{t}` has no `=`\n  fix: write --tag KEY=VALUE, e.g. --tag team=payments"
                    ))
                })
        })
        .collect()
}

/// Every object of `kinds` (by default every kind a provider lists) that
/// no stack records, filtered by `tags` (an object without tags of its own
/// goes with the object it hangs on). Returns them, and how many were
/// left out because a stack's tag is on them.
pub async fn discover(
    registry: &Registry,
    kinds: &[String],
    tags: &[(String, String)],
) -> Result<(Vec<(String, Listed)>, usize), Error> {
    let kinds: Vec<String> = if kinds.is_empty() {
        registry
            .providers()
            .flat_map(|(_, p)| p.listed_kinds())
            .map(str::to_string)
            .collect()
    } else {
        kinds.to_vec()
    };
    let mut by_provider: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for kind in &kinds {
        if registry.schema(kind).is_none() {
            let known: Vec<&str> = registry.schemas().map(|s| s.kind).collect();
            return Err(Error::Config(format!(
                "--kind {kind}: no such kind{}\n  fix: `payrun docs` lists the kinds",
                crate::suggest::did_you_mean(kind, known.iter().copied())
                    .map(|s| format!(" (did you mean {s}?)"))
                    .unwrap_or_default()
            )));
        }
        let prefix = kind.split('.').next().unwrap_or(kind).to_string();
        by_provider.entry(prefix).or_default().push(kind.clone());
    }
    let mut all = Vec::new();
    let mut failed = Vec::new();
    for (prefix, kinds) in &by_provider {
        let provider = registry
            .provider(&kinds[0])
            .ok_or_else(|| Error::Config(format!("no provider serves {prefix}")))?;
        for (kind, result) in kinds.iter().zip(provider.list(kinds).await) {
            match result {
                Ok(listed) => all.extend(listed.into_iter().map(|l| (kind.clone(), l))),
                Err(e) => failed.push(format!("  {kind}: {e}")),
            }
        }
    }
    if !failed.is_empty() {
        return Err(Error::Config(format!(
            "discovery could not list every kind asked for; nothing was written\n{}",
            failed.join("\n")
        )));
    }
    // What a stack manages is its own; what hangs on it too.
    let managed: BTreeSet<String> = all
        .iter()
        .filter(|(_, l)| l.stack().is_some())
        .map(|(_, l)| l.id.clone())
        .collect();
    let matches = |l: &Listed| {
        l.tags
            .as_ref()
            .is_some_and(|t| tags.iter().all(|(k, v)| t.get(k) == Some(v)))
    };
    let kept: BTreeSet<String> = all
        .iter()
        .filter(|(_, l)| l.tags.is_some() && !managed.contains(&l.id) && matches(l))
        .map(|(_, l)| l.id.clone())
        .collect();
    let before = all.len();
    all.retain(|(_, l)| match (&l.tags, &l.parent) {
        // A rule carries tags of its own, but a group's rules go with it.
        (_, Some(parent)) if !tags.is_empty() || managed.contains(parent) => {
            kept.contains(parent) && !managed.contains(&l.id)
        }
        (None, _) => true,
        (Some(_), _) => kept.contains(&l.id),
    });
    let left_out = before - all.len();
    Ok((all, left_out))
}

/// The program text declaring `found` (each adopted), read live first.
pub async fn generate(
    registry: &Registry,
    found: Vec<(String, Listed)>,
    header: &str,
) -> Result<String, Error> {
    // Read under a stand-in address; named once read (a name the read
    // reports counts too).
    let mut items: Vec<Found> = found
        .into_iter()
        .enumerate()
        .map(|(i, (kind, listed))| Found {
            kind,
            listed,
            args: Map::new(),
            outputs: Map::new(),
            purpose: format!("imported-{i}"),
            var: String::new(),
        })
        .collect();
    // One read per kind, by id, as a refresh reads.
    let mut by_kind: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, f) in items.iter().enumerate() {
        by_kind.entry(f.kind.clone()).or_default().push(i);
    }
    for (kind, indices) in &by_kind {
        let provider = registry
            .provider(kind)
            .ok_or_else(|| Error::Config(format!("no provider serves {kind}")))?;
        let reads: Vec<ReadItem> = indices
            .iter()
            .map(|&i| {
                let f = &items[i];
                Ok(ReadItem {
                    address: Address::new(kind, &f.purpose).map_err(Error::Config)?,
                    id: f.listed.id.clone(),
                    args: Value::Object(f.listed.seed.clone()),
                    outputs: Map::new(),
                })
            })
            .collect::<Result<_, Error>>()?;
        let results = provider
            .read(kind, &reads)
            .await
            .map_err(|e| Error::Config(format!("reading {kind}: {e}")))?;
        for (&i, result) in indices.iter().zip(results) {
            match result {
                ReadResult::Found { args, outputs } => {
                    items[i].args = args;
                    items[i].outputs = outputs;
                }
                ReadResult::Gone => {
                    return Err(Error::Config(format!(
                        "{kind} {}: not found in this account and region (or the id is of another kind); nothing was written\n  fix: {}",
                        items[i].listed.id,
                        crate::plan::listing_fix(registry, kind)
                    )));
                }
            }
        }
    }
    name_them(&mut items);
    Ok(render(registry, &mut items, header))
}

/// Each object's purpose and variable: its name, or for what hangs on
/// another object, that object's purpose and what it is there (parents
/// first); each unique in its kind.
fn name_them(items: &mut [Found]) {
    let mut order: Vec<usize> = (0..items.len()).collect();
    order.sort_by_key(|&i| items[i].listed.parent.is_some());
    let mut purposes = BTreeSet::new();
    let mut named: BTreeMap<String, String> = BTreeMap::new();
    for i in order {
        let f = &mut items[i];
        if f.listed.name.is_none() {
            f.listed.name = f
                .outputs
                .get("name")
                .and_then(Value::as_str)
                .map(str::to_string);
        }
        let base = match f.listed.parent.as_ref().and_then(|p| named.get(p)) {
            Some(parent) => format!("{parent}-{}", child_tail(&f.kind, &f.listed)),
            None => purpose_of(&f.kind, &f.listed),
        };
        let mut purpose = base.clone();
        let mut n = 2;
        while !purposes.insert((f.kind.clone(), purpose.clone())) {
            purpose = format!("{base}-{n}");
            n += 1;
        }
        named.insert(f.listed.id.clone(), purpose.clone());
        let short = f.kind.rsplit('.').next().unwrap_or(&f.kind);
        f.var = format!("{short}_{}", purpose.replace('-', "_"));
        f.purpose = purpose;
    }
}

/// The program's name for an object: its name or `Name` tag, or its id,
/// as lower-case letters, digits and inner dashes.
fn purpose_of(kind: &str, l: &Listed) -> String {
    let raw = l.name.clone().unwrap_or_else(|| l.id.clone());
    let mut p = String::new();
    for c in raw.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            p.push(c);
        } else if !p.ends_with('-') {
            p.push('-');
        }
    }
    let p = p.trim_matches('-').chars().take(48).collect::<String>();
    let p = p.trim_end_matches('-').to_string();
    if validate_purpose(&p).is_ok() {
        p
    } else {
        kind.rsplit('.')
            .next()
            .unwrap_or("imported")
            .replace('_', "-")
    }
}

/// The end of the name of what hangs on another object: a route's
/// destination (`default` for 0.0.0.0/0), `in` or `out` for a group's
/// rules, `assoc` for a table's association.
fn child_tail(kind: &str, l: &Listed) -> String {
    match kind.rsplit('.').next().unwrap_or(kind) {
        "route" => match l.seed.get("destination_cidr").and_then(Value::as_str) {
            Some("0.0.0.0/0") | None => "default".into(),
            Some(cidr) => cidr
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
                .collect(),
        },
        "security_group_ingress" => "in".into(),
        "security_group_egress" => "out".into(),
        "route_table_association" => "assoc".into(),
        other => other.replace('_', "-"),
    }
}

/// A Rhai literal of `v`.
fn literal(v: &Value) -> String {
    match v {
        Value::Null => "()".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => string(s),
        Value::Array(a) => format!("[{}]", a.iter().map(literal).collect::<Vec<_>>().join(", ")),
        Value::Object(m) if m.is_empty() => "#{}".into(),
        Value::Object(m) => format!(
            "#{{ {} }}",
            m.iter()
                .map(|(k, v)| format!("{}: {}", key(k), literal(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn key(k: &str) -> String {
    let ident = k.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ident { k.to_string() } else { string(k) }
}

/// `v` with every string that is another declared object's id or ARN
/// written as a reference to it: the handle itself where the argument
/// takes that output (`vpc: vpc_main`), else the output (`key_a.arn`).
fn with_refs(
    v: &Value,
    takes: &str,
    ids: &BTreeMap<&str, &str>,
    arns: &BTreeMap<&str, &str>,
    used: &mut BTreeSet<String>,
) -> String {
    match v {
        Value::String(s) => {
            if let Some(var) = ids.get(s.as_str()) {
                used.insert(var.to_string());
                return if takes == "id" {
                    var.to_string()
                } else {
                    format!("{var}.id")
                };
            }
            if let Some(var) = arns.get(s.as_str()) {
                used.insert(var.to_string());
                return if takes == "arn" {
                    var.to_string()
                } else {
                    format!("{var}.arn")
                };
            }
            string(s)
        }
        Value::Array(a) => format!(
            "[{}]",
            a.iter()
                .map(|v| with_refs(v, takes, ids, arns, used))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Value::Object(m) if !m.is_empty() => format!(
            "#{{ {} }}",
            m.iter()
                .map(|(k, v)| format!("{}: {}", key(k), with_refs(v, "", ids, arns, used)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        other => literal(other),
    }
}

fn render(registry: &Registry, items: &mut [Found], header: &str) -> String {
    let ids: BTreeMap<String, String> = items
        .iter()
        .map(|f| (f.listed.id.clone(), f.var.clone()))
        .collect();
    let arns: BTreeMap<String, String> = items
        .iter()
        .filter_map(|f| Some((f.outputs.get("arn")?.as_str()?.to_string(), f.var.clone())))
        .collect();
    let ids_ref: BTreeMap<&str, &str> = ids.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let arns_ref: BTreeMap<&str, &str> =
        arns.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    // Each declaration's text and the variables it uses.
    let mut decls: Vec<(String, String, BTreeSet<String>)> = Vec::new();
    for f in items.iter_mut() {
        let schema = registry.schema(&f.kind);
        let mut args = std::mem::take(&mut f.args);
        // Observed for payrun's own use, never written by a program.
        args.retain(|k, _| schema.is_none_or(|s| s.arg(k).is_some_and(|a| !a.observed)));
        // A kind named by an argument keeps its own name.
        if let (Some(s), Some(name)) = (schema, f.outputs.get("name").and_then(Value::as_str))
            && s.arg("name").is_some()
        {
            let mut named = Map::new();
            named.insert("name".into(), Value::String(name.to_string()));
            args.remove("name");
            named.extend(args);
            args = named;
        }
        // payrun's tags are payrun's; `Name` it sets from the address.
        if let Some(Value::Object(tags)) = args.get_mut("tags") {
            tags.retain(|k, _| k != "Name" && !k.starts_with("payrun:"));
            if tags.is_empty() {
                args.remove("tags");
            }
        }
        let mut used = BTreeSet::new();
        let mut fields = Vec::new();
        for (k, v) in &args {
            let takes = schema
                .and_then(|s| s.arg(k))
                .map_or("id", |a| a.handle_output());
            // Its own id is no reference.
            let own: BTreeMap<&str, &str> = ids_ref
                .iter()
                .filter(|(id, _)| **id != f.listed.id)
                .map(|(a, b)| (*a, *b))
                .collect();
            fields.push(format!(
                "{}: {}",
                key(k),
                with_refs(v, takes, &own, &arns_ref, &mut used)
            ));
        }
        // Secrets are never read back: a placeholder the team fills in.
        if let Some(s) = schema {
            for a in s
                .args
                .iter()
                .filter(|a| a.secret && !args.contains_key(a.name))
            {
                fields.push(format!(
                    "// never read back; to manage it, declare where it comes from: {}: secret_env(\"{}\")",
                    a.name,
                    format!("{}_{}", f.var, a.name).to_uppercase()
                ));
            }
        }
        let builder = f.kind.replace('.', "::");
        let body = if fields.is_empty() {
            "#{}".to_string()
        } else if fields.iter().any(|l| l.starts_with("//")) || fields.join(", ").len() > 80 {
            format!("#{{\n    {},\n}}", fields.join(",\n    "))
        } else {
            format!("#{{ {} }}", fields.join(", "))
        };
        let text = format!(
            "let {} = {builder}({}, {body});\nadopt({}, {});\n",
            f.var,
            string(&f.purpose),
            f.var,
            string(&f.listed.id)
        );
        used.remove(&f.var);
        decls.push((f.var.clone(), text, used));
    }
    // Declared before use.
    let mut out = String::from(header);
    let mut written: BTreeSet<String> = BTreeSet::new();
    while written.len() < decls.len() {
        let before = written.len();
        for (var, text, used) in &decls {
            if !written.contains(var) && used.iter().all(|u| written.contains(u)) {
                let _ = write!(out, "\n{text}");
                written.insert(var.clone());
            }
        }
        if written.len() == before {
            // A cycle of references: the rest as they are.
            for (var, text, _) in &decls {
                if written.insert(var.clone()) {
                    let _ = write!(out, "\n{text}");
                }
            }
        }
    }
    out
}

/// Write `text` to `file`, never over an existing one.
pub fn write_new(file: &Path, text: &str) -> Result<(), Error> {
    if file.exists() {
        return Err(Error::Config(format!(
            "{} exists; nothing was written\n  fix: name a new file, e.g. `--generate {}`",
            file.display(),
            file.with_file_name(format!(
                "{}-2.rhai",
                file.file_stem()
                    .and_then(|s| s.to_str())
                    .unwrap_or("imported")
            ))
            .display()
        )));
    }
    if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::Config(format!("{}: {e}", dir.display())))?;
    }
    std::fs::write(file, text).map_err(|e| Error::Config(format!("{}: {e}", file.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_become_purposes_and_values_rhai_literals() {
        let l = |name: Option<&str>, id: &str| Listed {
            id: id.into(),
            name: name.map(str::to_string),
            tags: None,
            parent: None,
            seed: Map::new(),
        };
        assert_eq!(
            purpose_of("aws.ec2.vpc", &l(Some("Legacy VPC (prod)"), "vpc-1")),
            "legacy-vpc-prod"
        );
        assert_eq!(
            purpose_of("aws.ec2.route", &l(None, "rtb-1_0.0.0.0/0")),
            "rtb-1-0-0-0-0-0"
        );
        assert_eq!(
            purpose_of("aws.logs.log_group", &l(Some("/aws/x/"), "x")),
            "aws-x"
        );
        assert_eq!(
            purpose_of("aws.ec2.route_table", &l(Some("---"), "---")),
            "route-table"
        );
        assert_eq!(
            literal(&serde_json::json!({"a b": [1, true, null], "k": "q\"\\"})),
            "#{ \"a b\": [1, true, ()], k: \"q\\\"\\\\\" }"
        );
    }
}
