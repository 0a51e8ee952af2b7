//! `KindDoc`: one kind as the reference shows it.

use std::fmt::Write;

use serde::Serialize;

use crate::provider::properties::{Shape, properties};
use crate::provider::{KindSchema, aws, k8s};

/// One kind: its builder, its properties and its outputs.
#[derive(Clone, Debug, Serialize)]
pub struct KindDoc {
    pub kind: String,
    /// `aws::ec2::vpc`: what a program calls.
    pub builder: String,
    pub doc: String,
    pub properties: Vec<PropertyDoc>,
    /// Known after apply; `id` always.
    pub outputs: Vec<String>,
    /// How a forced replacement goes: `create-before-destroy` (`+/-`) or
    /// `delete-first` (`-/+`).
    pub replacement: &'static str,
    /// How a refresh reads the kind when its API has no batched read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reads_each: Option<&'static str>,
}

/// One property of a kind.
#[derive(Clone, Debug, Serialize)]
pub struct PropertyDoc {
    pub name: String,
    /// `string`, `list<string>`, `#{ path: string, port?: integer }`...
    #[serde(rename = "type")]
    pub type_name: String,
    /// The type as a tree, for tools: records list their properties.
    pub shape: Shape,
    pub required: bool,
    /// What an absent property means, where the kind's doc says.
    pub default: Option<String>,
    pub force_new: bool,
    pub secret: bool,
    /// Reported by a refresh, never written by a program.
    pub observed: bool,
    /// Sent, never read back (a generated kind's write-only property).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub write_only: bool,
    pub doc: String,
}

/// Every kind a program can declare (the test provider's left out), by kind.
pub fn kind_docs() -> Vec<KindDoc> {
    let mut schemas: Vec<&KindSchema> = aws::SCHEMAS
        .iter()
        .chain(k8s::SCHEMAS)
        .chain(k8s::helm::SCHEMAS)
        .collect();
    schemas.sort_by_key(|s| s.kind);
    schemas.into_iter().map(kind_doc).collect()
}

/// The reference entry of one schema.
pub fn kind_doc(schema: &KindSchema) -> KindDoc {
    let (path, func) = schema.script_path();
    let properties = properties(schema)
        .into_iter()
        .map(|p| {
            let spec = schema.arg(&p.name);
            PropertyDoc {
                type_name: p.shape.render(),
                default: spec
                    .and_then(|a| a.default.map(str::to_string))
                    .or_else(|| default_in(schema.doc, &p.name)),
                force_new: spec.is_some_and(|a| a.force_new),
                secret: spec.is_some_and(|a| a.secret),
                observed: spec.is_some_and(|a| a.observed),
                write_only: false,
                doc: property_doc(schema, &p.name),
                shape: p.shape,
                required: p.required,
                name: p.name,
            }
        })
        .collect();
    let mut outputs = vec!["id".to_string()];
    outputs.extend(
        schema
            .outputs
            .iter()
            .filter(|o| **o != "id")
            .map(|o| o.to_string()),
    );
    KindDoc {
        kind: schema.kind.to_string(),
        builder: format!("{}::{func}", path.join("::")),
        doc: schema.doc.to_string(),
        properties,
        outputs,
        replacement: if schema.replaced_before_destroyed() {
            "create-before-destroy"
        } else {
            "delete-first"
        },
        reads_each: schema.reads_each,
    }
}

/// What the schema says of an argument beyond its type: where it may hold
/// secrets, how it is compared, where it places the object.
fn property_doc(schema: &KindSchema, name: &str) -> String {
    let Some(spec) = schema.arg(name) else {
        return String::new();
    };
    let mut notes = Vec::new();
    if spec.observed {
        notes.push("observed by a refresh, never written by a program: what it reports is drift");
    }
    if spec.holds_secrets {
        notes.push("may hold `secret_env(...)` values, which stay secret");
    }
    if spec.document {
        notes.push("a policy document, compared by meaning");
    }
    if spec.placement.is_some() {
        notes.push("where the object lives: a change of place replaces it");
    }
    let takes = spec.handle_output();
    if spec.handle.is_some() || takes != "id" {
        notes.push(match takes {
            "arn" => "a resource handle here stands for its `arn`",
            "name" => "a resource handle here stands for its `name`",
            _ => "a resource handle here stands for its `id`",
        });
    }
    if name == "tags" && schema.taggable {
        notes.push("added to the stack's default tags and payrun's own");
    }
    let notes = notes.join("; ");
    // The field's own doc first, the schema's notes after it.
    match (spec.doc.trim_end_matches('.'), notes.is_empty()) {
        ("", _) => notes,
        (doc, true) => format!("{doc}."),
        (doc, false) => format!("{doc}; {notes}."),
    }
}

/// The default a kind's doc line gives for `name`: "`name` (default X)",
/// "`name` (default: X)" or "`name` (X by default)".
fn default_in(doc: &str, name: &str) -> Option<String> {
    let marker = format!("`{name}` (");
    let start = doc.find(&marker)? + marker.len();
    let inner = &doc[start..];
    let inner = &inner[..inner.find(')')?];
    if let Some(d) = inner
        .strip_prefix("default: ")
        .or_else(|| inner.strip_prefix("default "))
    {
        return Some(d.to_string());
    }
    inner
        .strip_suffix(" by default")
        .map(str::to_string)
        .filter(|d| !d.contains(','))
}

/// `payrun docs KIND`: the kind, its properties and its outputs.
pub fn render_kind(doc: &KindDoc) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "{} ({})", doc.builder, doc.kind);
    let _ = writeln!(s, "{}", doc.doc);
    let _ = writeln!(s, "\nproperties:");
    let width = doc
        .properties
        .iter()
        .map(|p| p.name.len())
        .max()
        .unwrap_or(0);
    for p in &doc.properties {
        let mut flags = Vec::new();
        flags.push(
            if p.required {
                "required"
            } else if p.observed {
                "observed"
            } else {
                "optional"
            }
            .to_string(),
        );
        if let Some(d) = &p.default {
            flags.push(format!("default {d}"));
        }
        if p.force_new {
            flags.push(if p.write_only || doc.kind.starts_with("awscc.") {
                "force-new (create-only)".into()
            } else {
                "force-new".into()
            });
        }
        if p.secret {
            flags.push("secret".into());
        }
        if p.write_only {
            flags.push("write-only".into());
        }
        let _ = writeln!(
            s,
            "  {:width$}  {}  [{}]",
            p.name,
            p.type_name,
            flags.join(", ")
        );
        if !p.doc.is_empty() {
            let _ = writeln!(s, "  {:width$}  {}", "", p.doc);
        }
    }
    let _ = writeln!(s, "\noutputs: {}", doc.outputs.join(", "));
    let _ = writeln!(
        s,
        "forced replacement: {}",
        match doc.replacement {
            "create-before-destroy" =>
                "create-before-destroy (+/-): the new one under the next generation's name, then the old one deleted",
            _ => "delete-first (-/+): the old one is deleted before the new one is made",
        }
    );
    let _ = writeln!(
        s,
        "refresh: {}",
        doc.reads_each.map_or_else(
            || "one call a page for every resource of the kind, whatever their number".to_string(),
            |each| format!("no batched read: {each}"),
        )
    );
    s
}

/// `payrun docs`: one line per kind.
pub fn render_kind_list(docs: &[KindDoc]) -> String {
    let width = docs.iter().map(|d| d.builder.len()).max().unwrap_or(0);
    let mut s = String::new();
    for d in docs {
        let _ = writeln!(s, "  {:width$}  {}", d.builder, first_sentence(&d.doc));
    }
    s
}

fn first_sentence(doc: &str) -> &str {
    doc.split_once(": ")
        .map(|(a, _)| a)
        .unwrap_or(doc)
        .trim_end_matches('.')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_read_from_the_doc_line() {
        let doc = "A VPC: `cidr`, `enable_dns_support` (default true), `retention` (default: never expire), `logs` (all five by default), `type` (\"A\", the default, or \"B\").";
        assert_eq!(
            default_in(doc, "enable_dns_support").as_deref(),
            Some("true")
        );
        assert_eq!(
            default_in(doc, "retention").as_deref(),
            Some("never expire")
        );
        assert_eq!(default_in(doc, "logs").as_deref(), Some("all five"));
        assert_eq!(default_in(doc, "type"), None);
        assert_eq!(default_in(doc, "cidr"), None);
    }
}
