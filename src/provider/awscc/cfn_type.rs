//! `CfnType`: one CloudFormation resource type as its registry schema
//! declares it, read into a tree payrun checks a program's args against and
//! translates through: the properties (snake case in a program, the
//! schema's names on the wire, at every depth), which are required,
//! create-only (a change replaces), read-only (outputs), write-only
//! (secret), the primary identifier, the tag property, the name property.
//!
//! `$ref`s to the schema's definitions become shared nodes, so a recursive
//! definition (a WAF rule statement holding statements) is a cycle in the
//! tree, not an endless one. A property the schema leaves free-form (an
//! object without properties, or one that may also be a JSON string, as an
//! IAM policy or an SQS redrive policy) keeps the keys AWS writes.

use std::collections::{BTreeSet, HashMap};

use serde_json::{Map, Value};

use super::naming::{kind_parts, snake};
use crate::provider::schema::ArgError;
use crate::value::UNKNOWN;

/// An index into [`CfnType::nodes`].
pub type NodeId = usize;

/// How a type carries its tags.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TagStyle {
    /// `[{ Key, Value }]`, most types.
    List,
    /// `{ key: value }`.
    Map,
}

#[derive(Clone, Debug)]
pub enum Node {
    Object {
        props: Vec<Prop>,
        /// Schema names of the required properties.
        required: Vec<String>,
        /// Takes properties it does not declare.
        open: bool,
    },
    /// `patternProperties`: any key, each value of one shape.
    Map(NodeId),
    Array {
        items: NodeId,
        min: Option<usize>,
        max: Option<usize>,
    },
    String {
        allowed: Vec<String>,
        pattern: Option<Pattern>,
        min: Option<usize>,
        max: Option<usize>,
    },
    Number {
        integer: bool,
        min: Option<f64>,
        max: Option<f64>,
    },
    Boolean,
    /// Free-form JSON: keys as AWS writes them, an object or its text.
    Json,
    /// One of several shapes (`oneOf`/`anyOf` without a `type`: DynamoDB's
    /// `KeySchema` is a list of keys or, for old templates, a map); a value
    /// is read as the branch its JSON type fits.
    OneOf(Vec<NodeId>),
    /// Not checked: no type, or several types in one.
    Any,
    Tags(TagStyle),
    /// A definition being read (only while the tree is built).
    Pending,
}

/// A string pattern and, when a regex engine takes it, its compiled form
/// (a few patterns use lookaround, which is then not checked). Compiled on
/// first use: a schema holds hundreds (WAFv2's web ACL alone costs 20 ms
/// to compile them all), a program checks a handful.
#[derive(Clone, Debug)]
pub struct Pattern {
    pub text: String,
    regex: std::sync::OnceLock<Option<Matcher>>,
}

/// A compiled pattern. `regex-lite` first: it compiles a pattern in
/// microseconds where `regex` builds its automata in a quarter of a
/// millisecond, and the payment platform checks a few dozen (2 ms of its
/// plan). Its `\d` and `\w` are ASCII, as in the ECMA-262 patterns JSON
/// Schema's `pattern` is written in; a pattern with a Unicode class
/// (`\p{L}`), which it does not know, goes to `regex`.
#[derive(Clone, Debug)]
pub enum Matcher {
    Lite(regex_lite::Regex),
    Full(regex::Regex),
}

impl Matcher {
    pub fn is_match(&self, s: &str) -> bool {
        match self {
            Matcher::Lite(re) => re.is_match(s),
            Matcher::Full(re) => re.is_match(s),
        }
    }
}

impl Pattern {
    pub fn new(text: &str) -> Self {
        Self {
            text: text.to_string(),
            regex: std::sync::OnceLock::new(),
        }
    }

    /// The compiled pattern, or `None` when neither engine takes it.
    pub fn regex(&self) -> Option<&Matcher> {
        self.regex
            .get_or_init(|| {
                regex_lite::Regex::new(&self.text)
                    .map(Matcher::Lite)
                    .or_else(|_| regex::Regex::new(&self.text).map(Matcher::Full))
                    .ok()
            })
            .as_ref()
    }
}

#[derive(Clone, Debug)]
pub struct Prop {
    /// As the schema writes it: `VisibilityTimeout`.
    pub cfn: String,
    /// As a program writes it: `visibility_timeout`.
    pub snake: String,
    pub node: NodeId,
    pub doc: String,
}

#[derive(Debug)]
pub struct CfnType {
    /// `AWS::SQS::Queue`.
    pub type_name: String,
    /// `awscc.sqs.queue`.
    pub kind: String,
    pub description: String,
    pub nodes: Vec<Node>,
    /// The properties object.
    pub root: NodeId,
    /// Schema names, top level: the properties making up the identifier.
    pub primary_identifier: Vec<String>,
    pub read_only: BTreeSet<String>,
    pub create_only: BTreeSet<String>,
    pub write_only: BTreeSet<String>,
    /// The tag property's schema name and style.
    pub tags: Option<(String, TagStyle)>,
    /// The property naming the resource, which payrun fills with the
    /// physical name unless the program does.
    pub name_property: Option<String>,
    pub name_max: Option<usize>,
    /// Has an update handler; without one every change replaces.
    pub updatable: bool,
    /// The schema asks the old resource gone before the new one is made.
    pub delete_first: bool,
}

/// A JSON pointer's top-level property: `/properties/Tags/0` → `Tags`.
fn top_property(pointer: &str) -> Option<String> {
    pointer
        .strip_prefix("/properties/")
        .map(|p| p.split('/').next().unwrap_or(p).to_string())
}

fn names(schema: &Value, key: &str) -> BTreeSet<String> {
    schema[key]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .filter_map(top_property)
                .collect()
        })
        .unwrap_or_default()
}

struct Builder<'a> {
    definitions: &'a Map<String, Value>,
    defs: HashMap<String, NodeId>,
    nodes: Vec<Node>,
}

/// The strings of a schema's list (`enum`, `required`); none when absent.
fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

impl Builder<'_> {
    fn add(&mut self, node: Node) -> NodeId {
        self.nodes.push(node);
        self.nodes.len() - 1
    }

    fn node(&mut self, s: &Value) -> NodeId {
        if let Some(r) = s["$ref"].as_str() {
            let name = r.rsplit('/').next().unwrap_or(r).to_string();
            if let Some(&id) = self.defs.get(&name) {
                return id;
            }
            let id = self.add(Node::Pending);
            self.defs.insert(name.clone(), id);
            let body = self.definitions.get(&name).cloned().unwrap_or(Value::Null);
            let node = self.shape(&body);
            self.nodes[id] = node;
            return id;
        }
        let node = self.shape(s);
        self.add(node)
    }

    fn shape(&mut self, s: &Value) -> Node {
        if s["$ref"].is_string() {
            let id = self.node(s);
            return self.nodes[id].clone();
        }
        let types: Vec<&str> = match &s["type"] {
            Value::String(t) => vec![t.as_str()],
            Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        let has_props = s["properties"].is_object();
        match types.as_slice() {
            // An object that may also be its JSON text: free-form.
            [_, _, ..] if types.contains(&"object") => Node::Json,
            [_, _, ..] => Node::Any,
            ["object"] if has_props => self.object(s),
            ["object"] => match s["patternProperties"].as_object() {
                Some(pp) => {
                    let first = pp
                        .iter()
                        .min_by_key(|(k, _)| k.as_str())
                        .map(|(_, v)| v.clone());
                    let values = self.node(&first.unwrap_or(Value::Null));
                    Node::Map(values)
                }
                None => Node::Json,
            },
            ["array"] => {
                let items = self.node(&s["items"]);
                Node::Array {
                    items,
                    min: s["minItems"].as_u64().map(|n| n as usize),
                    max: s["maxItems"].as_u64().map(|n| n as usize),
                }
            }
            ["string"] => Node::String {
                allowed: strings(&s["enum"]),
                pattern: s["pattern"].as_str().map(Pattern::new),
                min: s["minLength"].as_u64().map(|n| n as usize),
                max: s["maxLength"].as_u64().map(|n| n as usize),
            },
            ["integer"] | ["number"] => Node::Number {
                integer: types == ["integer"],
                min: s["minimum"].as_f64(),
                max: s["maximum"].as_f64(),
            },
            ["boolean"] => Node::Boolean,
            _ if has_props => self.object(s),
            [] => {
                let branches = s["oneOf"].as_array().or_else(|| s["anyOf"].as_array());
                match branches {
                    Some(b) if !b.is_empty() => {
                        Node::OneOf(b.iter().map(|b| self.node(b)).collect())
                    }
                    _ => Node::Any,
                }
            }
            _ => Node::Any,
        }
    }

    fn object(&mut self, s: &Value) -> Node {
        let mut props = Vec::new();
        if let Some(map) = s["properties"].as_object() {
            for (cfn, sub) in map {
                let node = self.node(sub);
                props.push(Prop {
                    cfn: cfn.clone(),
                    snake: snake(cfn),
                    node,
                    doc: sub["description"].as_str().unwrap_or_default().to_string(),
                });
            }
        }
        Node::Object {
            props,
            required: strings(&s["required"]),
            open: s["additionalProperties"] != Value::Bool(false),
        }
    }
}

impl CfnType {
    /// The type `schema` declares, or why it cannot be a kind.
    pub fn from_schema(schema: &Value) -> Result<Self, String> {
        let type_name = schema["typeName"]
            .as_str()
            .ok_or("the schema names no typeName")?
            .to_string();
        let (service, resource) =
            kind_parts(&type_name).ok_or_else(|| format!("`{type_name}` is not an AWS type"))?;
        let empty = Map::new();
        let mut b = Builder {
            definitions: schema["definitions"].as_object().unwrap_or(&empty),
            defs: HashMap::new(),
            nodes: Vec::new(),
        };
        let tagging = &schema["tagging"];
        let tag_cfn = tagging["tagProperty"]
            .as_str()
            .and_then(top_property)
            .or_else(|| schema["properties"].get("Tags").map(|_| "Tags".to_string()));
        let taggable = tagging["taggable"].as_bool().unwrap_or(tag_cfn.is_some());
        let root_node = b.object(schema);
        let root = b.add(root_node);
        let mut nodes = b.nodes;
        let mut tags = None;
        if let Node::Object { props, .. } = &mut nodes[root] {
            for p in props.iter_mut() {
                // As Terraform's provider does: a top-level `Id` would read
                // as payrun's own `id`.
                if p.snake == "id" {
                    p.snake = format!("{resource}_id");
                }
            }
            if let Some(tag_cfn) = tag_cfn.filter(|_| taggable)
                && let Some(p) = props.iter_mut().find(|p| p.cfn == tag_cfn)
            {
                p.snake = "tags".into();
                tags = Some((tag_cfn, TagStyle::List));
            }
        }
        if let Some((tag_cfn, style)) = &mut tags {
            let id = Self::prop_in(&nodes, root, tag_cfn).map(|p| p.node);
            if let Some(id) = id {
                if matches!(nodes[id], Node::Map(_)) {
                    *style = TagStyle::Map;
                }
                let tags_node = nodes.len();
                nodes.push(Node::Tags(*style));
                if let Node::Object { props, .. } = &mut nodes[root]
                    && let Some(p) = props.iter_mut().find(|p| p.cfn == *tag_cfn)
                {
                    p.node = tags_node;
                }
            }
        }
        // Only a whole top-level property is an output: a read-only field
        // inside one the program writes (a connection's resource
        // association ARN) leaves the property the program's.
        let read_only: BTreeSet<String> = names(schema, "readOnlyProperties")
            .into_iter()
            .filter(|p| {
                schema["readOnlyProperties"].as_array().is_some_and(|a| {
                    a.iter()
                        .any(|x| x.as_str() == Some(&format!("/properties/{p}")))
                })
            })
            .collect();
        let last = type_name.rsplit("::").next().unwrap_or_default();
        let name_property = [format!("{last}Name"), "Name".to_string()]
            .into_iter()
            .find(|n| {
                Self::prop_in(&nodes, root, n).is_some_and(|p| {
                    matches!(nodes[p.node], Node::String { .. }) && !read_only.contains(n)
                })
            });
        let name_max = name_property.as_ref().and_then(|n| {
            let p = Self::prop_in(&nodes, root, n)?;
            match &nodes[p.node] {
                Node::String { max, .. } => *max,
                _ => None,
            }
        });
        let handlers = &schema["handlers"];
        Ok(Self {
            kind: format!("awscc.{service}.{resource}"),
            description: schema["description"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            primary_identifier: schema["primaryIdentifier"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .filter_map(top_property)
                        .collect()
                })
                .unwrap_or_default(),
            create_only: names(schema, "createOnlyProperties"),
            write_only: names(schema, "writeOnlyProperties"),
            read_only,
            tags,
            name_property,
            name_max,
            updatable: handlers["update"].is_object(),
            delete_first: schema["replacementStrategy"] == "delete_then_create",
            type_name,
            nodes,
            root,
        })
    }

    fn prop_in<'n>(nodes: &'n [Node], object: NodeId, cfn: &str) -> Option<&'n Prop> {
        match &nodes[object] {
            Node::Object { props, .. } => props.iter().find(|p| p.cfn == cfn),
            _ => None,
        }
    }

    /// The top-level properties, in the schema's order.
    pub fn props(&self) -> &[Prop] {
        match &self.nodes[self.root] {
            Node::Object { props, .. } => props,
            _ => &[],
        }
    }

    pub fn prop(&self, snake: &str) -> Option<&Prop> {
        self.props().iter().find(|p| p.snake == snake)
    }

    pub fn prop_cfn(&self, cfn: &str) -> Option<&Prop> {
        self.props().iter().find(|p| p.cfn == cfn)
    }

    /// The top-level required properties a program must write: payrun
    /// fills the name and the tags.
    pub fn required(&self) -> Vec<&Prop> {
        let Node::Object { required, .. } = &self.nodes[self.root] else {
            return Vec::new();
        };
        required
            .iter()
            .filter(|r| Some(*r) != self.name_property.as_ref())
            .filter(|r| self.tags.as_ref().is_none_or(|(t, _)| t != *r))
            .filter_map(|r| self.prop_cfn(r))
            .collect()
    }

    // ── Checking a program's args ─────────────────────────────────────────

    /// The program's args (snake case), checked as the schema says: every
    /// property known, required ones present, types, enumerations,
    /// patterns, lengths and item counts at every depth. A value known
    /// only after apply passes; it is checked again when it resolves.
    pub fn validate(&self, args: &Value) -> Result<(), ArgError> {
        let Value::Object(map) = args else {
            return Err(ArgError::new(
                "the properties must be a map",
                "write them as `#{ name: value, ... }`",
            ));
        };
        for p in self.required() {
            if map.get(&p.snake).is_none_or(Value::is_null) {
                return Err(ArgError::new(
                    format!("missing required property `{}`", p.snake),
                    format!(
                        "add `{}` (`payrun docs {}` shows what it takes)",
                        p.snake, self.kind
                    ),
                ));
            }
        }
        for key in map.keys() {
            if let Some(p) = self.prop(key)
                && self.read_only.contains(&p.cfn)
            {
                return Err(ArgError::new(
                    format!(
                        "`{key}` is an output, known once the resource exists, not a property a program sets"
                    ),
                    format!("remove `{key}`; read it as `handle.{key}`"),
                ));
            }
        }
        self.check(self.root, args, "")
    }

    fn check(&self, id: NodeId, v: &Value, path: &str) -> Result<(), ArgError> {
        if v.is_null() || v.as_str() == Some(UNKNOWN) {
            return Ok(());
        }
        let at = |p: &str| {
            if p.is_empty() {
                String::new()
            } else {
                format!("`{p}`: ")
            }
        };
        let wrong = |what: &str| {
            ArgError::new(
                format!("{}expected {what}, not {}", at(path), kind_of(v)),
                format!(
                    "give `{}` {what}",
                    if path.is_empty() { "it" } else { path }
                ),
            )
        };
        match &self.nodes[id] {
            Node::Object {
                props,
                required,
                open,
            } => {
                let Value::Object(map) = v else {
                    return Err(wrong("a map"));
                };
                for (key, value) in map {
                    let inner = join(path, key);
                    match props.iter().find(|p| p.snake == *key) {
                        Some(p) => self.check(p.node, value, &inner)?,
                        None if *open => {}
                        None => {
                            let hint = crate::suggest::did_you_mean(
                                key,
                                props.iter().map(|p| p.snake.as_str()),
                            )
                            .map(|s| format!("did you mean `{}`?", join(path, s)))
                            .unwrap_or_else(|| {
                                let all: Vec<&str> =
                                    props.iter().map(|p| p.snake.as_str()).collect();
                                format!("use one of: {}", all.join(", "))
                            });
                            return Err(ArgError::new(
                                format!("{}no property `{key}`", at(path)),
                                hint,
                            ));
                        }
                    }
                }
                if !path.is_empty() {
                    for r in required {
                        let Some(p) = props.iter().find(|p| p.cfn == *r) else {
                            continue;
                        };
                        if map.get(&p.snake).is_none_or(Value::is_null) {
                            return Err(ArgError::new(
                                format!("`{path}` is missing its required property `{}`", p.snake),
                                format!("add `{}` to `{path}`", p.snake),
                            ));
                        }
                    }
                }
                Ok(())
            }
            Node::Map(values) => {
                let Value::Object(map) = v else {
                    return Err(wrong("a map"));
                };
                for (key, value) in map {
                    self.check(*values, value, &join(path, key))?;
                }
                Ok(())
            }
            Node::Array { items, min, max } => {
                let Value::Array(list) = v else {
                    return Err(wrong("a list"));
                };
                if min.is_some_and(|m| list.len() < m) || max.is_some_and(|m| list.len() > m) {
                    return Err(ArgError::new(
                        format!(
                            "{}{} items, where {} are allowed",
                            at(path),
                            list.len(),
                            bounds(min.map(|m| m as f64), max.map(|m| m as f64))
                        ),
                        format!("give `{path}` an allowed number of items"),
                    ));
                }
                for (i, item) in list.iter().enumerate() {
                    self.check(*items, item, &format!("{path}[{i}]"))?;
                }
                Ok(())
            }
            Node::String {
                allowed,
                pattern,
                min,
                max,
            } => {
                let Some(s) = v.as_str() else {
                    return Err(wrong("a string"));
                };
                if !allowed.is_empty() && !allowed.iter().any(|a| a == s) {
                    let hint = crate::suggest::did_you_mean(s, allowed.iter().map(String::as_str))
                        .map(|a| format!("did you mean \"{a}\"? "))
                        .unwrap_or_default();
                    return Err(ArgError::new(
                        format!("{}\"{s}\" is not one of {}", at(path), allowed.join(", ")),
                        format!("{hint}use one of the values the message lists"),
                    ));
                }
                let len = s.chars().count();
                if min.is_some_and(|m| len < m) || max.is_some_and(|m| len > m) {
                    return Err(ArgError::new(
                        format!(
                            "{}\"{s}\" is {len} characters long, where {} are allowed",
                            at(path),
                            bounds(min.map(|m| m as f64), max.map(|m| m as f64))
                        ),
                        format!("shorten or lengthen `{path}`"),
                    ));
                }
                if let Some(p) = pattern
                    && let Some(re) = p.regex()
                    && !re.is_match(s)
                {
                    let text = &p.text;
                    return Err(ArgError::new(
                        format!("{}\"{s}\" does not match the pattern {text}", at(path)),
                        format!("give `{path}` a value of that form"),
                    ));
                }
                Ok(())
            }
            Node::Number { integer, min, max } => {
                let Some(n) = v.as_f64() else {
                    return Err(wrong(if *integer { "an integer" } else { "a number" }));
                };
                if *integer && n.fract() != 0.0 {
                    return Err(wrong("an integer"));
                }
                if min.is_some_and(|m| n < m) || max.is_some_and(|m| n > m) {
                    return Err(ArgError::new(
                        format!("{}{n} is outside {}", at(path), bounds(*min, *max)),
                        format!("give `{path}` a value within {}", bounds(*min, *max)),
                    ));
                }
                Ok(())
            }
            Node::Boolean => v.as_bool().map(drop).ok_or_else(|| wrong("true or false")),
            Node::Json => match v {
                Value::Object(_) | Value::Array(_) | Value::String(_) => Ok(()),
                _ => Err(wrong("a map (or its JSON text)")),
            },
            Node::Tags(_) => match v {
                Value::Object(m) if m.values().all(Value::is_string) => Ok(()),
                _ => Err(wrong("a map of strings")),
            },
            Node::OneOf(branches) => match self.branch(branches, v) {
                Some(b) => self.check(b, v, path),
                None => Err(wrong(&self.expected(branches))),
            },
            Node::Any | Node::Pending => Ok(()),
        }
    }

    /// The branch of a `OneOf` a value's JSON type fits, a shaped one
    /// before a free-form one: the first whose check passes, else the
    /// first of its type (whose error is then the one shown).
    fn branch(&self, branches: &[NodeId], v: &Value) -> Option<NodeId> {
        let mut fitting: Vec<NodeId> = branches
            .iter()
            .copied()
            .filter(|&b| self.fits(b, v))
            .collect();
        fitting.sort_by_key(|&b| matches!(self.nodes[b], Node::Json | Node::Any));
        if let Some(&shaped) = fitting.first()
            && !matches!(self.nodes[shaped], Node::Json | Node::Any)
        {
            fitting.retain(|&b| !matches!(self.nodes[b], Node::Json | Node::Any));
        }
        fitting
            .iter()
            .copied()
            .find(|&b| self.check(b, v, "").is_ok())
            .or_else(|| fitting.first().copied())
    }

    fn fits(&self, id: NodeId, v: &Value) -> bool {
        match (&self.nodes[id], v) {
            (Node::Object { .. } | Node::Map(_) | Node::Tags(_), Value::Object(_)) => true,
            (Node::Array { .. }, Value::Array(_)) => true,
            (Node::String { .. }, Value::String(_)) => true,
            (Node::Number { .. }, Value::Number(_)) => true,
            (Node::Boolean, Value::Bool(_)) => true,
            (Node::Json, Value::Object(_) | Value::Array(_) | Value::String(_)) => true,
            (Node::OneOf(b), _) => b.iter().any(|&b| self.fits(b, v)),
            (Node::Any | Node::Pending, _) => true,
            _ => false,
        }
    }

    /// What a `OneOf` takes, in words: `a list or a map`.
    fn expected(&self, branches: &[NodeId]) -> String {
        let mut words: Vec<&str> = Vec::new();
        for &b in branches {
            let w = match &self.nodes[b] {
                Node::Object { .. } | Node::Map(_) | Node::Tags(_) | Node::Json => "a map",
                Node::Array { .. } => "a list",
                Node::String { .. } => "a string",
                Node::Number { .. } => "a number",
                Node::Boolean => "true or false",
                _ => "a value",
            };
            if !words.contains(&w) {
                words.push(w);
            }
        }
        words.join(" or ")
    }

    // ── Translating ───────────────────────────────────────────────────────

    /// The program's args (snake case) as the schema's desired state.
    pub fn to_cfn(&self, args: &Value) -> Value {
        self.out(self.root, args)
    }

    fn out(&self, id: NodeId, v: &Value) -> Value {
        match (&self.nodes[id], v) {
            (Node::Object { props, .. }, Value::Object(map)) => Value::Object(
                map.iter()
                    .filter(|(_, v)| !v.is_null())
                    .map(|(k, v)| match props.iter().find(|p| p.snake == *k) {
                        Some(p) => (p.cfn.clone(), self.out(p.node, v)),
                        None => (k.clone(), v.clone()),
                    })
                    .collect(),
            ),
            (Node::Map(values), Value::Object(map)) => Value::Object(
                map.iter()
                    .map(|(k, v)| (k.clone(), self.out(*values, v)))
                    .collect(),
            ),
            (Node::Array { items, .. }, Value::Array(list)) => {
                Value::Array(list.iter().map(|i| self.out(*items, i)).collect())
            }
            (Node::Tags(TagStyle::List), Value::Object(map)) => Value::Array(
                map.iter()
                    .map(|(k, v)| serde_json::json!({ "Key": k, "Value": v }))
                    .collect(),
            ),
            (Node::OneOf(branches), _) => match self.branch(branches, v) {
                Some(b) => self.out(b, v),
                None => v.clone(),
            },
            _ => v.clone(),
        }
    }

    /// What the cloud reports (`live`, the schema's names), in the
    /// program's terms, for the arguments the program wrote (`written`):
    /// what it left out is the service's default, never drift. Write-only
    /// properties are never reported; they keep their recorded value.
    pub fn from_cfn(&self, live: &Value, written: &Value) -> Map<String, Value> {
        let mut out = Map::new();
        let Value::Object(written) = written else {
            return out;
        };
        for (key, w) in written {
            // `()` in a program is a property left out.
            if w.is_null() {
                continue;
            }
            let Some(p) = self.prop(key) else { continue };
            if self.write_only.contains(&p.cfn) {
                continue;
            }
            let value = self.back(p.node, &live[&p.cfn], w);
            out.insert(key.clone(), value);
        }
        out
    }

    fn back(&self, id: NodeId, live: &Value, written: &Value) -> Value {
        match (&self.nodes[id], live) {
            (Node::Object { props, .. }, Value::Object(map)) => {
                let Value::Object(w) = written else {
                    return live.clone();
                };
                Value::Object(
                    w.iter()
                        .filter(|(_, v)| !v.is_null())
                        .filter_map(|(k, _)| {
                            let p = props.iter().find(|p| p.snake == *k)?;
                            let v = map.get(&p.cfn).unwrap_or(&Value::Null);
                            Some((k.clone(), self.back(p.node, v, &w[k])))
                        })
                        .collect(),
                )
            }
            (Node::Map(values), Value::Object(map)) => Value::Object(
                map.iter()
                    .map(|(k, v)| (k.clone(), self.back(*values, v, &written[k])))
                    .collect(),
            ),
            (Node::Array { items, .. }, Value::Array(list)) => Value::Array(
                list.iter()
                    .enumerate()
                    .map(|(i, v)| {
                        let template = written.get(i).unwrap_or(&Value::Null);
                        self.back(*items, v, template)
                    })
                    .collect(),
            ),
            (Node::Tags(TagStyle::List), Value::Array(list)) => Value::Object(
                list.iter()
                    .filter_map(|t| {
                        let k = t["Key"].as_str()?;
                        (!k.starts_with("aws:")).then(|| (k.to_string(), t["Value"].clone()))
                    })
                    .collect(),
            ),
            (Node::Tags(TagStyle::Map), Value::Object(map)) => Value::Object(
                map.iter()
                    .filter(|(k, _)| !k.starts_with("aws:"))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            ),
            // The text of a JSON document where the program wrote the map.
            (Node::Json, Value::String(s)) if written.is_object() => {
                serde_json::from_str(s).unwrap_or_else(|_| live.clone())
            }
            // Numbers and flags some handlers report as text.
            (Node::Number { .. }, Value::String(s)) => s
                .parse::<i64>()
                .map(Value::from)
                .or_else(|_| s.parse::<f64>().map(Value::from))
                .unwrap_or_else(|_| live.clone()),
            (Node::Boolean, Value::String(s)) => match s.as_str() {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                _ => live.clone(),
            },
            (Node::OneOf(branches), _) => match self.branch(branches, written) {
                Some(b) => self.back(b, live, written),
                None => live.clone(),
            },
            _ => live.clone(),
        }
    }

    /// A live model as a program would declare it: every property a
    /// program may write that the model holds (read-only and write-only
    /// ones left out), in the program's names and shapes.
    pub fn program_shape(&self, live: &Value) -> Map<String, Value> {
        let mut out = Map::new();
        for p in self.props() {
            if self.read_only.contains(&p.cfn) || self.write_only.contains(&p.cfn) {
                continue;
            }
            let Some(v) = live.get(&p.cfn).filter(|v| !v.is_null()) else {
                continue;
            };
            let template = self.template(p.node, v);
            out.insert(p.snake.clone(), self.back(p.node, v, &template));
        }
        out
    }

    /// What a program would have written for `live`, as far as `back`
    /// reads a template: every field present, in the program's names.
    fn template(&self, id: NodeId, live: &Value) -> Value {
        match (&self.nodes[id], live) {
            (Node::Object { props, .. }, Value::Object(map)) => Value::Object(
                props
                    .iter()
                    .filter_map(|p| {
                        let v = map.get(&p.cfn).filter(|v| !v.is_null())?;
                        Some((p.snake.clone(), self.template(p.node, v)))
                    })
                    .collect(),
            ),
            (Node::Map(values), Value::Object(map)) => Value::Object(
                map.iter()
                    .map(|(k, v)| (k.clone(), self.template(*values, v)))
                    .collect(),
            ),
            (Node::Array { items, .. }, Value::Array(list)) => {
                Value::Array(list.iter().map(|v| self.template(*items, v)).collect())
            }
            (Node::Json, Value::String(s)) => match serde_json::from_str::<Value>(s) {
                Ok(Value::Object(_)) => Value::Object(Map::new()),
                _ => Value::Bool(true),
            },
            _ => Value::Bool(true),
        }
    }

    /// The tags of a model (the schema's names), as a program writes them.
    pub fn tags_of(&self, model: &Value) -> std::collections::BTreeMap<String, String> {
        let back = self.from_cfn(model, &serde_json::json!({ "tags": {} }));
        back.get("tags")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The outputs in what the cloud reports: every read-only property,
    /// in snake case.
    pub fn outputs(&self, live: &Value) -> Map<String, Value> {
        self.props()
            .iter()
            .filter(|p| self.read_only.contains(&p.cfn))
            .filter_map(|p| Some((p.snake.clone(), live.get(&p.cfn)?.clone())))
            .collect()
    }

    /// The identifier of what `model` describes: its primary identifier's
    /// values, joined with `|` in order.
    pub fn identifier(&self, model: &Value) -> Option<String> {
        let parts: Option<Vec<String>> = self
            .primary_identifier
            .iter()
            .map(|p| match &model[p] {
                Value::String(s) => Some(s.clone()),
                Value::Null => None,
                other => Some(other.to_string()),
            })
            .collect();
        parts.map(|p| p.join("|"))
    }

    /// A schema property named in a handler's message, in the program's
    /// spelling: `QueueName` → `queue_name`.
    pub fn explain_message(&self, message: &str) -> String {
        let named: Vec<String> = self
            .props()
            .iter()
            .filter(|p| {
                message
                    .split(|c: char| !c.is_ascii_alphanumeric())
                    .any(|w| w == p.cfn)
            })
            .map(|p| format!("`{}` is `{}`", p.cfn, p.snake))
            .collect();
        if named.is_empty() {
            message.to_string()
        } else {
            format!("{message} ({})", named.join(", "))
        }
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "nothing",
        Value::Bool(_) => "true or false",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a map",
    }
}

fn bounds(min: Option<f64>, max: Option<f64>) -> String {
    match (min, max) {
        (Some(a), Some(b)) => format!("{a} to {b}"),
        (Some(a), None) => format!("{a} or more"),
        (None, Some(b)) => format!("{b} at most"),
        (None, None) => "any number".into(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::provider::awscc::bundle::bundle;

    #[test]
    fn patterns_compile_light_and_unicode_classes_fall_back() {
        let simple = Pattern::new(r"^[a-zA-Z0-9_-]{1,128}$");
        assert!(matches!(simple.regex(), Some(Matcher::Lite(_))));
        assert!(simple.regex().unwrap().is_match("web-acl_1"));
        assert!(!simple.regex().unwrap().is_match("web acl"));
        // Tags' keys, as most schemas write them.
        let unicode = Pattern::new(r"^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$");
        assert!(matches!(unicode.regex(), Some(Matcher::Full(_))));
        assert!(unicode.regex().unwrap().is_match("équipe: paiements"));
        assert!(!unicode.regex().unwrap().is_match("a|b"));
        // ECMA-262, which JSON Schema's `pattern` is: `\d` is ASCII.
        assert!(!Pattern::new(r"^\d+$").regex().unwrap().is_match("١٢٣"));
        // Lookaround: neither engine, so not checked.
        assert!(Pattern::new(r"^(?!aws:).*$").regex().is_none());
    }

    fn of(type_name: &str) -> CfnType {
        CfnType::from_schema(&bundle().schema(type_name).unwrap()).unwrap()
    }

    #[test]
    fn a_queue_reads_as_terraform_awscc_spells_it() {
        let q = of("AWS::SQS::Queue");
        assert_eq!(q.kind, "awscc.sqs.queue");
        assert_eq!(q.primary_identifier, ["QueueUrl"]);
        assert_eq!(q.name_property.as_deref(), Some("QueueName"));
        assert!(q.create_only.contains("QueueName"));
        assert!(q.prop("visibility_timeout").is_some());
        assert!(q.prop("kms_master_key_id").is_some());
        assert_eq!(q.tags.as_ref().map(|t| t.1), Some(TagStyle::List));
        let args = json!({ "visibility_timeout": 60, "redrive_policy": { "deadLetterTargetArn": "arn:x", "maxReceiveCount": 5 }, "tags": { "a": "b" } });
        q.validate(&args).unwrap();
        let cfn = q.to_cfn(&args);
        assert_eq!(cfn["VisibilityTimeout"], 60);
        assert_eq!(cfn["RedrivePolicy"]["deadLetterTargetArn"], "arn:x");
        assert_eq!(cfn["Tags"], json!([{ "Key": "a", "Value": "b" }]));
        let err = q.validate(&json!({ "visibility_timout": 60 })).unwrap_err();
        assert_eq!(err.message, "no property `visibility_timout`");
        assert_eq!(err.fix, "did you mean `visibility_timeout`?");
        let err = q
            .validate(&json!({ "visibility_timeout": 99999 }))
            .unwrap_err();
        assert!(
            err.message.contains("99999 is outside 0 to 43200"),
            "{}",
            err.message
        );
        let err = q.validate(&json!({ "arn": "x" })).unwrap_err();
        assert!(
            err.message.starts_with("`arn` is an output"),
            "{}",
            err.message
        );
        // Back from the cloud: only what the program wrote, defaults left out.
        let live = json!({ "VisibilityTimeout": "60", "MessageRetentionPeriod": 345600, "RedrivePolicy": "{\"deadLetterTargetArn\":\"arn:x\",\"maxReceiveCount\":5}", "Tags": [{ "Key": "a", "Value": "b" }], "Arn": "arn:q", "QueueUrl": "http://q" });
        let back = q.from_cfn(&live, &args);
        assert_eq!(back["visibility_timeout"], 60);
        assert_eq!(back["redrive_policy"]["maxReceiveCount"], 5);
        assert_eq!(back["tags"], json!({ "a": "b" }));
        assert!(!back.contains_key("message_retention_period"));
        assert_eq!(q.outputs(&live)["arn"], "arn:q");
        assert_eq!(q.identifier(&live).as_deref(), Some("http://q"));
    }

    #[test]
    fn nested_properties_are_checked_at_every_depth() {
        let t = of("AWS::DynamoDB::Table");
        assert_eq!(t.kind, "awscc.dynamodb.table");
        let base = json!({
            "key_schema": [{ "attribute_name": "pk", "key_type": "HASH" }],
            "attribute_definitions": [{ "attribute_name": "pk", "attribute_type": "S" }],
            "billing_mode": "PAY_PER_REQUEST",
            "point_in_time_recovery_specification": { "point_in_time_recovery_enabled": true },
        });
        t.validate(&base).unwrap();
        let cfn = t.to_cfn(&base);
        assert_eq!(
            cfn["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"],
            true
        );
        // `KeySchema` is `oneOf` a list of keys or a map: the list is read
        // as keys, at every depth.
        assert_eq!(
            cfn["KeySchema"],
            json!([{ "AttributeName": "pk", "KeyType": "HASH" }])
        );
        let live = json!({ "KeySchema": [{ "AttributeName": "pk", "KeyType": "HASH" }] });
        assert_eq!(t.from_cfn(&live, &base)["key_schema"], base["key_schema"]);
        let mut wrong = base.clone();
        wrong["key_schema"][0]["key_typ"] = json!("HASH");
        let err = t.validate(&wrong).unwrap_err();
        assert_eq!(err.message, "`key_schema[0]`: no property `key_typ`");
        wrong["key_schema"] = json!(5);
        let err = t.validate(&wrong).unwrap_err();
        assert_eq!(
            err.message,
            "`key_schema`: expected a list or a map, not a number"
        );
        let mut wrong = base.clone();
        wrong["point_in_time_recovery_specification"]["point_in_time_recovery_enabled"] =
            json!("yes");
        let err = t.validate(&wrong).unwrap_err();
        assert_eq!(
            err.message,
            "`point_in_time_recovery_specification.point_in_time_recovery_enabled`: expected true or false, not a string"
        );
        let mut wrong = base.clone();
        wrong["billing_mode"] = json!("ON_DEMAND");
        let err = t.validate(&wrong).unwrap_err();
        assert!(err.message.contains("is not one of"), "{}", err.message);
        let err = t
            .validate(&json!({ "billing_mode": "PAY_PER_REQUEST" }))
            .unwrap_err();
        assert_eq!(err.message, "missing required property `key_schema`");
    }

    #[test]
    fn a_recursive_schema_is_read_once() {
        let acl = of("AWS::WAFv2::WebACL");
        assert_eq!(acl.kind, "awscc.wafv2.web_acl");
        assert_eq!(acl.primary_identifier, ["Name", "Id", "Scope"]);
        assert!(acl.read_only.contains("Id"));
        assert!(
            acl.prop("web_acl_id").is_some(),
            "a top-level Id reads as <resource>_id"
        );
        acl.validate(&json!({
            "scope": "REGIONAL",
            "default_action": { "allow": {} },
            "visibility_config": { "cloudwatch_metrics_enabled": true, "metric_name": "m", "sampled_requests_enabled": true },
            "rules": [{
                "name": "common", "priority": 0, "override_action": { "none": {} },
                "statement": { "managed_rule_group_statement": { "vendor_name": "AWS", "name": "AWSManagedRulesCommonRuleSet" } },
                "visibility_config": { "cloudwatch_metrics_enabled": true, "metric_name": "common", "sampled_requests_enabled": true },
            }],
        }))
        .unwrap();
    }
}
