//! What a kind's builder accepts, read from the kind itself: each property's
//! type and whether it is required, found by probing the kind's validator
//! (its serde args struct, `deny_unknown_fields`) with placeholder values
//! and reading serde's standard refusals. No second declaration to keep in
//! step: a field added to an args struct appears in `payrun docs` at once.

use serde::Serialize;
use serde_json::{Map, Value, json};

use super::schema::KindSchema;

/// The type of a property, or of a list item, a map value, a record field.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Shape {
    String,
    Integer {
        /// `u16`, `i64`...: the range serde accepts.
        width: String,
    },
    Number,
    Bool,
    /// Any value (a policy document, a manifest, helm values).
    Any,
    List {
        items: Box<Shape>,
    },
    Map {
        values: Box<Shape>,
    },
    /// A nested struct (`#{ path, port }`).
    Record {
        /// The args struct's Rust name (`Probe`).
        struct_name: String,
        properties: Vec<Property>,
    },
    /// One of these strings.
    OneOf {
        values: Vec<String>,
    },
    /// Several shapes (an untagged enum); `placeholder` is one it accepts.
    Either {
        enum_name: String,
        placeholder: Value,
    },
    /// A type with its own deserializer: serde says what it expects.
    Other {
        expecting: String,
    },
}

/// One property of a kind's args (or of a nested record).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Property {
    pub name: String,
    #[serde(flatten)]
    pub shape: Shape,
    pub required: bool,
}

impl Shape {
    /// How the reference writes the type: `string`, `list<string>`,
    /// `map<integer>`, `{ path: string, port?: integer }`, `"A" | "B"`.
    pub fn render(&self) -> String {
        match self {
            Shape::String => "string".into(),
            Shape::Integer { .. } => "integer".into(),
            Shape::Number => "number".into(),
            Shape::Bool => "bool".into(),
            Shape::Any => "any".into(),
            Shape::List { items } => format!("list<{}>", items.render()),
            Shape::Map { values } => format!("map<{}>", values.render()),
            Shape::Record { properties, .. } => {
                let fields: Vec<String> = properties
                    .iter()
                    .map(|p| {
                        let mark = if p.required { "" } else { "?" };
                        format!("{}{mark}: {}", p.name, p.shape.render())
                    })
                    .collect();
                format!("#{{ {} }}", fields.join(", "))
            }
            Shape::OneOf { values } => values
                .iter()
                .map(|v| format!("\"{v}\""))
                .collect::<Vec<_>>()
                .join(" | "),
            Shape::Either { enum_name, .. } => enum_name.clone(),
            Shape::Other { expecting } => expecting.clone(),
        }
    }

    /// A value of this shape: every record field set, each list and map
    /// holding one placeholder. Meant to pass the type check, not the value
    /// checks (a placeholder string is no CIDR block).
    pub fn placeholder(&self) -> Value {
        match self {
            Shape::String | Shape::Other { .. } => json!("placeholder"),
            Shape::Integer { .. } => json!(1),
            Shape::Number => json!(1.5),
            Shape::Bool => json!(true),
            Shape::Any => json!({ "placeholder": "placeholder" }),
            Shape::List { items } => json!([items.placeholder()]),
            Shape::Map { values } => json!({ "key": values.placeholder() }),
            Shape::Record { properties, .. } => Value::Object(
                properties
                    .iter()
                    .map(|p| (p.name.clone(), p.shape.placeholder()))
                    .collect(),
            ),
            Shape::OneOf { values } => json!(values.first().cloned().unwrap_or_default()),
            Shape::Either { placeholder, .. } => placeholder.clone(),
        }
    }
}

/// The properties of `schema`'s args, in the struct's order.
pub fn properties(schema: &KindSchema) -> Vec<Property> {
    let probe = Probe {
        validate: schema.validate,
    };
    match probe.shape(&[], 0) {
        Shape::Record { properties, .. } => properties,
        _ => Vec::new(),
    }
}

/// A step from the args map to a nested value.
#[derive(Clone, Debug)]
enum Step {
    Field(String),
    Item,
    Entry,
}

/// The placeholder key of a map, and a field name no struct has.
const KEY: &str = "key";
const UNKNOWN: &str = "payrun_probe_unknown";
/// Records nest this deep at most (a guard against a recursive type).
const MAX_DEPTH: usize = 8;

struct Probe {
    validate: crate::provider::schema::Validate,
}

impl Probe {
    /// serde's refusal of `value` placed at `path` (inside otherwise empty
    /// containers), when it is about that very place.
    fn refusal(&self, path: &[Step], value: Value) -> Option<String> {
        let doc = wrap(path, value);
        let err = (self.validate)(&doc).err()?;
        let here = render_path(path);
        let message = err.message;
        if here.is_empty() {
            return (!message.starts_with('`')).then_some(message);
        }
        let rest = message.strip_prefix(&format!("`{here}`: "))?;
        Some(rest.to_string())
    }

    fn shape(&self, path: &[Step], depth: usize) -> Shape {
        let Some(refusal) = self.refusal(path, json!(true)) else {
            return match self.refusal(path, json!("placeholder")) {
                None => Shape::Any,
                Some(_) => Shape::Bool,
            };
        };
        if let Some(name) = refusal.strip_prefix("data did not match any variant of untagged enum ")
        {
            return self.either(path, name);
        }
        let Some(expecting) = refusal
            .strip_prefix("invalid type: boolean `true`, expected ")
            .map(str::to_string)
        else {
            return Shape::Other { expecting: refusal };
        };
        match expecting.as_str() {
            "a string" => Shape::String,
            "a sequence" => Shape::List {
                items: Box::new(self.shape(&push(path, Step::Item), depth)),
            },
            "a map" => Shape::Map {
                values: Box::new(self.shape(&push(path, Step::Entry), depth)),
            },
            "string or map" => self.one_of(path),
            "f32" | "f64" => Shape::Number,
            e if is_integer(e) => Shape::Integer {
                width: e.to_string(),
            },
            e if e.starts_with("struct ") && depth < MAX_DEPTH => {
                self.record(path, e.trim_start_matches("struct "), depth + 1)
            }
            _ => Shape::Other { expecting },
        }
    }

    /// A struct: its fields from the refusal of an unknown one, each
    /// field's shape, then which fields its absence makes serde refuse.
    fn record(&self, path: &[Step], name: &str, depth: usize) -> Shape {
        // serde blames the unknown key itself: the refusal is at its path.
        let names = self
            .refusal(&push(path, Step::Field(UNKNOWN.into())), json!(true))
            .map(|m| expected_names(&m))
            .unwrap_or_default();
        let mut properties: Vec<Property> = names
            .into_iter()
            .map(|field| {
                let shape = self.shape(&push(path, Step::Field(field.clone())), depth);
                Property {
                    name: field,
                    shape,
                    required: false,
                }
            })
            .collect();
        let full: Map<String, Value> = properties
            .iter()
            .map(|p| (p.name.clone(), p.shape.placeholder()))
            .collect();
        for p in &mut properties {
            let mut without = full.clone();
            without.remove(&p.name);
            let missing = format!("missing field `{}`", p.name);
            p.required = self.refusal(path, Value::Object(without)).as_deref() == Some(&missing);
        }
        Shape::Record {
            struct_name: name.to_string(),
            properties,
        }
    }

    /// A unit enum: its variants from the refusal of an unknown one.
    fn one_of(&self, path: &[Step]) -> Shape {
        let values = self
            .refusal(path, json!(UNKNOWN))
            .map(|m| expected_names(&m))
            .unwrap_or_default();
        Shape::OneOf { values }
    }

    /// An untagged enum: the first of a few plain placeholders it takes.
    fn either(&self, path: &[Step], name: &str) -> Shape {
        let candidates = [
            json!("placeholder"),
            json!(1),
            json!(true),
            json!(["placeholder"]),
            json!({}),
        ];
        let placeholder = candidates
            .into_iter()
            .find(|c| self.refusal(path, c.clone()).is_none())
            .unwrap_or(Value::Null);
        Shape::Either {
            enum_name: name.to_string(),
            placeholder,
        }
    }
}

fn push(path: &[Step], step: Step) -> Vec<Step> {
    let mut p = path.to_vec();
    p.push(step);
    p
}

/// `value` at `path`, inside the least containers that reach it.
fn wrap(path: &[Step], value: Value) -> Value {
    path.iter().rev().fold(value, |inner, step| match step {
        Step::Field(name) => json!({ name.as_str(): inner }),
        Step::Item => json!([inner]),
        Step::Entry => json!({ KEY: inner }),
    })
}

/// The path as `serde_path_to_error` writes it: `a.b[0].key`.
fn render_path(path: &[Step]) -> String {
    let mut s = String::new();
    for step in path {
        match step {
            Step::Field(name) => {
                if !s.is_empty() {
                    s.push('.');
                }
                s.push_str(name);
            }
            Step::Item => s.push_str("[0]"),
            Step::Entry => {
                if !s.is_empty() {
                    s.push('.');
                }
                s.push_str(KEY);
            }
        }
    }
    s
}

fn is_integer(expecting: &str) -> bool {
    let digits = expecting.get(1..).unwrap_or_default();
    matches!(expecting.chars().next(), Some('u' | 'i'))
        && !digits.is_empty()
        && (digits.chars().all(|c| c.is_ascii_digit()) || digits == "size")
}

/// The names serde lists after `expected`: "unknown field `x`, expected
/// one of `a`, `b`" or "expected `a`"; none for "there are no fields".
fn expected_names(message: &str) -> Vec<String> {
    let Some((_, list)) = message.split_once(", expected ") else {
        return Vec::new();
    };
    list.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_written_as_serde_path_to_error_does() {
        let path = [
            Step::Field("readiness".into()),
            Step::Item,
            Step::Entry,
            Step::Field("port".into()),
        ];
        assert_eq!(render_path(&path), "readiness[0].key.port");
        assert_eq!(
            wrap(&path, json!(1)),
            json!({ "readiness": [{ "key": { "port": 1 } }] })
        );
    }

    #[test]
    fn names_are_read_from_serde_refusals() {
        assert_eq!(
            expected_names("unknown field `x`, expected one of `a`, `b_c`"),
            ["a", "b_c"]
        );
        assert_eq!(expected_names("unknown field `x`, expected `a`"), ["a"]);
        assert!(expected_names("unknown field `x`, there are no fields").is_empty());
    }
}
