//! The reference of the generated `awscc` kinds, from their CloudFormation
//! schemas: each property's type (at every depth), whether it is required,
//! create-only (a change replaces) or write-only (never read back), its
//! doc, and the outputs (the read-only properties).

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::provider::awscc::cfn_type::{CfnType, Node, NodeId, TagStyle};
use crate::provider::awscc::{Generated, bundle, generated, kinds};
use crate::provider::properties::{Property, Shape};

use super::kinds::{KindDoc, PropertyDoc};

/// The reference entry of a generated kind.
pub fn kind_doc(g: &Generated) -> KindDoc {
    let t = g.cfn;
    let required: Vec<&str> = t.required().iter().map(|p| p.cfn.as_str()).collect();
    let properties = t
        .props()
        .iter()
        .filter(|p| !t.read_only.contains(&p.cfn))
        .map(|p| {
            let shape = shape(t, p.node, &mut Vec::new());
            let mut notes = Vec::new();
            if t.write_only.contains(&p.cfn) {
                notes.push("write-only: sent, never read back".to_string());
            }
            if Some(&p.cfn) == t.name_property.as_ref() {
                notes.push(
                    "the physical name `{resource-type}-{purpose}-{suffix}` unless given".into(),
                );
            }
            let doc = [one_line(&p.doc)]
                .into_iter()
                .chain(notes)
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join("; ");
            PropertyDoc {
                name: p.snake.clone(),
                type_name: shape.render(),
                shape,
                required: required.contains(&p.cfn.as_str()),
                default: None,
                force_new: t.create_only.contains(&p.cfn) || !t.updatable,
                secret: g.schema.arg(&p.snake).is_some_and(|a| a.secret),
                observed: false,
                write_only: t.write_only.contains(&p.cfn),
                doc,
            }
        })
        .collect();
    let mut outputs = vec!["id".to_string()];
    outputs.extend(g.schema.outputs.iter().map(|o| o.to_string()));
    KindDoc {
        kind: t.kind.clone(),
        builder: t.kind.replace('.', "::"),
        doc: one_line(&t.description),
        properties,
        outputs,
        replacement: if g.schema.replaced_before_destroyed() {
            "create-before-destroy"
        } else {
            "delete-first"
        },
        reads_each: g.schema.reads_each,
    }
}

/// A schema's description (Markdown over several lines) on one line.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A node's shape; a definition met again on the way down (a recursive
/// schema) is named, not expanded.
fn shape(t: &CfnType, id: NodeId, path: &mut Vec<NodeId>) -> Shape {
    if path.contains(&id) {
        return Shape::Other {
            expecting: "(the enclosing shape, nested)".into(),
        };
    }
    path.push(id);
    let s = match &t.nodes[id] {
        Node::Object {
            props, required, ..
        } => Shape::Record {
            struct_name: String::new(),
            properties: props
                .iter()
                .map(|p| Property {
                    name: p.snake.clone(),
                    shape: shape(t, p.node, path),
                    required: required.contains(&p.cfn),
                })
                .collect(),
        },
        Node::Map(values) => Shape::Map {
            values: Box::new(shape(t, *values, path)),
        },
        Node::Array { items, .. } => Shape::List {
            items: Box::new(shape(t, *items, path)),
        },
        Node::String { allowed, .. } if !allowed.is_empty() => Shape::OneOf {
            values: allowed.clone(),
        },
        Node::String { .. } => Shape::String,
        Node::Number { integer: true, .. } => Shape::Integer {
            width: "i64".into(),
        },
        Node::Number { .. } => Shape::Number,
        Node::Boolean => Shape::Bool,
        Node::Tags(TagStyle::List | TagStyle::Map) => Shape::Map {
            values: Box::new(Shape::String),
        },
        // The most structured branch: what a program writes today.
        Node::OneOf(branches) => branches
            .iter()
            .map(|&b| shape(t, b, path))
            .max_by_key(|s| match s {
                Shape::Record { .. } => 3,
                Shape::List { .. } => 2,
                Shape::Map { .. } => 1,
                _ => 0,
            })
            .unwrap_or(Shape::Any),
        Node::Json | Node::Any | Node::Pending => Shape::Any,
    };
    path.pop();
    s
}

/// Every generated kind's reference entry (each schema inflated and read:
/// for `payrun docs --json` and the editor definitions).
pub fn all() -> Vec<KindDoc> {
    kinds()
        .into_iter()
        .filter_map(|(k, _)| generated(k))
        .map(kind_doc)
        .collect()
}

/// `payrun docs awscc`: the services and their kinds.
pub fn render_list() -> String {
    let b = bundle::bundle();
    let mut by_service: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    let all = kinds();
    for (kind, _) in &all {
        let mut parts = kind.splitn(3, '.').skip(1);
        if let (Some(service), Some(resource)) = (parts.next(), parts.next()) {
            by_service.entry(service).or_default().push(resource);
        }
    }
    let mut s = format!(
        "{} awscc kinds in {} services, from the CloudFormation schemas of cfn-lint {} ({}, {}); `payrun docs awscc.SERVICE.TYPE` shows one; docs/awscc-unsupported.md lists the types that are not kinds, with why.\n\n",
        all.len(),
        by_service.len(),
        b.cfn_lint,
        b.region,
        b.schema_date
    );
    for (service, resources) in by_service {
        let _ = writeln!(s, "  awscc::{service}::  {}", resources.join(", "));
    }
    s
}

/// What `payrun docs` adds to a generated kind's entry: where it comes
/// from and how it is identified.
pub fn render_origin(g: &Generated) -> String {
    let t = g.cfn;
    let list = |names: &std::collections::BTreeSet<String>| {
        if names.is_empty() {
            "none".to_string()
        } else {
            names
                .iter()
                .filter_map(|c| t.prop_cfn(c).map(|p| p.snake.clone()))
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    format!(
        "CloudFormation type: {} (through the Cloud Control API)\nidentifier: {}\ncreate-only: {}\nwrite-only: {}\n",
        t.type_name,
        t.primary_identifier.join("|"),
        list(&t.create_only),
        list(&t.write_only),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_kind_documents_its_properties_and_outputs() {
        let doc = kind_doc(generated("awscc.dynamodb.table").unwrap());
        assert_eq!(doc.builder, "awscc::dynamodb::table");
        let pitr = doc
            .properties
            .iter()
            .find(|p| p.name == "point_in_time_recovery_specification")
            .unwrap();
        assert!(
            pitr.type_name
                .contains("point_in_time_recovery_enabled?: bool"),
            "{}",
            pitr.type_name
        );
        let name = doc
            .properties
            .iter()
            .find(|p| p.name == "table_name")
            .unwrap();
        assert!(name.force_new);
        assert!(doc.outputs.contains(&"arn".to_string()));
        assert!(
            doc.properties
                .iter()
                .any(|p| p.name == "key_schema" && p.required)
        );
        // A recursive schema renders once.
        let acl = kind_doc(generated("awscc.wafv2.web_acl").unwrap());
        assert!(
            acl.properties
                .iter()
                .any(|p| p.type_name.contains("(the enclosing shape, nested)"))
        );
    }
}
