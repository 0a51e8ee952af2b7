//! Fargate's built-in log router reads one ConfigMap, `aws-logging` in the
//! `aws-observability` namespace, and its admission webhook refuses one it
//! cannot use; a configuration it accepts but Fluent Bit cannot parse ships
//! no log at all. Both are checked here at plan time, the way the EKS user
//! guide states the rules (docs.aws.amazon.com/eks/latest/userguide/fargate-logging.html):
//! only `output.conf`, `filters.conf`, `parsers.conf` and `flb_log_cw`; only
//! `[OUTPUT]`, `[FILTER]` and `[PARSER]` sections, each under its own key;
//! each section header and each key on a line of its own, keys indented
//! more than headers and alike; `Name` and `Match` in every filter and
//! output, `Name` and `Format` in every parser; only the outputs and filters
//! Fargate supports; no `${ENV_VAR}`; no `Kube_URL`, `Kube_CA_File`,
//! `Kube_Token_Command` or `Kube_Token_File` in the kubernetes filter; at
//! least one output; 5,300 characters at most.

use serde_json::Value;

use super::Context;
use super::context::kinds::{ConfigMapArgs, ObjectArgs};
use super::k8s::object_name_of;
use crate::address::Address;
use crate::finding::Finding;
use crate::value::text_with_placeholders;

const CODE: &str = "fargate-logging-config";
const GUIDE: &str = "docs.aws.amazon.com/eks/latest/userguide/fargate-logging.html";

/// The ConfigMap's name and namespace.
pub const CONFIG_MAP: (&str, &str) = ("aws-logging", "aws-observability");

/// The most characters Fargate takes in the ConfigMap's data, keys and
/// values together.
pub const LIMIT: usize = 5300;

const OUTPUTS: &[&str] = &[
    "es",
    "firehose",
    "kinesis_firehose",
    "cloudwatch",
    "cloudwatch_logs",
    "kinesis",
];

const FILTERS: &[&str] = &[
    "grep",
    "parser",
    "record_modifier",
    "rewrite_tag",
    "throttle",
    "nest",
    "modify",
    "kubernetes",
];

/// Keys of the kubernetes filter that Fargate sets itself.
const SERVICE_OWNED: &[&str] = &[
    "Kube_URL",
    "Kube_CA_File",
    "Kube_Token_Command",
    "Kube_Token_File",
];

/// Each data key Fargate reads, with the one section it may hold and the
/// keys that section needs.
const KEYS: &[(&str, &str, &[&str])] = &[
    ("output.conf", "OUTPUT", &["Name", "Match"]),
    ("filters.conf", "FILTER", &["Name", "Match"]),
    ("parsers.conf", "PARSER", &["Name", "Format"]),
];

/// A Fluent Bit section as read: its header, its keys, where it starts.
struct Section {
    line: usize,
    /// The header as written: `OUTPUT`.
    name: String,
    entries: Vec<(String, String)>,
}

impl Section {
    fn get(&self, key: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }
}

/// What Fargate would refuse in one data key's text, each problem with
/// its line; and the sections read, for the rules across keys.
fn parse(key: &str, section_name: &str, text: &str) -> (Vec<String>, Vec<Section>) {
    let mut problems = Vec::new();
    let mut sections: Vec<Section> = Vec::new();
    let (mut header_indent, mut key_indent) = (None::<usize>, None::<usize>);
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let at = |what: String| format!("`{key}` line {n}: {what}");
        if raw.contains("\\n") || raw.contains("\\t") {
            problems.push(at(format!(
                "holds `\\n` or `\\t` as two characters (`{}`), so the section and its keys are one line Fluent Bit cannot parse: a Rhai backtick string keeps escapes as written; use a double-quoted string, or real line breaks",
                clip(raw.trim())
            )));
            continue;
        }
        if raw.contains("${") {
            problems.push(at(format!(
                "`{}`: Fargate allows no environment variables (`${{...}}`) in its log configuration",
                clip(raw.trim())
            )));
        }
        let line = raw.trim_end();
        let body = line.trim_start();
        if body.is_empty() || body.starts_with('#') {
            continue;
        }
        let indent = line.len() - body.len();
        if body.starts_with('[') {
            let Some(close) = body.find(']') else {
                problems.push(at(format!("`{}` is not a section header", clip(body))));
                continue;
            };
            if !body[close + 1..].trim().is_empty() {
                problems.push(at(format!(
                    "`{}`: a section header stands on a line of its own, each key on the next lines",
                    clip(body)
                )));
            }
            let name = &body[1..close];
            if !name.eq_ignore_ascii_case(section_name) {
                problems.push(at(format!(
                    "`[{name}]` in `{key}`: this key holds only [{section_name}] sections (Fargate's log router accepts [OUTPUT] in output.conf, [FILTER] in filters.conf, [PARSER] in parsers.conf and rejects any other)"
                )));
            }
            match header_indent {
                Some(h) if h != indent => problems.push(at(format!(
                    "`{}` is indented {indent} spaces, the headers before it {h}: Fargate needs every header indented alike",
                    clip(body)
                ))),
                _ => header_indent = Some(indent),
            }
            sections.push(Section {
                line: n,
                name: name.to_ascii_uppercase(),
                entries: Vec::new(),
            });
            continue;
        }
        let Some(section) = sections.last_mut() else {
            problems.push(at(format!(
                "`{}` comes before any [{section_name}] header",
                clip(body)
            )));
            continue;
        };
        if indent <= header_indent.unwrap_or(0) {
            problems.push(at(format!(
                "`{}` is not indented more than its section header: Fargate needs keys indented more than headers",
                clip(body)
            )));
        }
        match key_indent {
            Some(k) if k != indent => problems.push(at(format!(
                "`{}` is indented {indent} spaces, the keys before it {k}: Fargate needs every key indented alike",
                clip(body)
            ))),
            _ => key_indent = Some(indent),
        }
        let (k, v) = body
            .split_once(char::is_whitespace)
            .map_or((body, ""), |(k, v)| (k, v.trim()));
        if v.is_empty() {
            problems.push(at(format!("key `{k}` has no value")));
        }
        section.entries.push((k.to_string(), v.to_string()));
    }
    (problems, sections)
}

/// What Fargate refuses in one section's keys.
fn section_problems(key: &str, section_name: &str, needs: &[&str], s: &Section) -> Vec<String> {
    let at = |what: String| format!("`{key}` line {}: [{section_name}] {what}", s.line);
    let mut out = Vec::new();
    for need in needs {
        if s.get(need).is_none() {
            out.push(at(format!("has no `{need}`: Fargate requires it")));
        }
    }
    let name = s.get("Name").unwrap_or_default();
    let allowed = match section_name {
        "OUTPUT" => Some(OUTPUTS),
        "FILTER" => Some(FILTERS),
        _ => None,
    };
    if let Some(allowed) = allowed
        && !name.is_empty()
        && !allowed.contains(&name)
    {
        let hint = crate::suggest::did_you_mean(name, allowed.iter().copied())
            .map(|s| format!(" (did you mean `{s}`?)"))
            .unwrap_or_default();
        out.push(at(format!(
            "`Name {name}`{hint}: Fargate's log router supports only {}",
            allowed.join(", ")
        )));
    }
    if name == "kubernetes" {
        for owned in SERVICE_OWNED {
            if s.get(owned).is_some() {
                out.push(at(format!(
                    "sets `{owned}`, which Fargate sets itself and refuses"
                )));
            }
        }
    }
    out
}

/// Every problem Fargate would find in the ConfigMap's data.
pub fn problems(data: &[(String, String)]) -> Vec<String> {
    let mut out = Vec::new();
    let mut outputs = 0;
    for (key, text) in data {
        if key == "flb_log_cw" {
            if text != "true" && text != "false" {
                out.push(format!("`flb_log_cw` is `{text}`: it is `true` or `false`"));
            }
            continue;
        }
        let Some((_, section_name, needs)) = KEYS.iter().find(|(k, _, _)| k == key) else {
            let hint = crate::suggest::did_you_mean(
                key,
                KEYS.iter().map(|(k, _, _)| *k).chain(["flb_log_cw"]),
            )
            .map(|s| format!(" (did you mean `{s}`?)"))
            .unwrap_or_default();
            out.push(format!(
                "`{key}`{hint}: Fargate's log router reads only output.conf, filters.conf, parsers.conf and flb_log_cw"
            ));
            continue;
        };
        let (mut found, sections) = parse(key, section_name, text);
        // A section of another kind is refused above, whatever it holds.
        let own: Vec<&Section> = sections
            .iter()
            .filter(|s| s.name == *section_name)
            .collect();
        for s in &own {
            found.extend(section_problems(key, section_name, needs, s));
        }
        if *section_name == "OUTPUT" {
            outputs += own.len();
        }
        out.extend(found);
    }
    if outputs == 0 {
        out.push(
            "no [OUTPUT] section in `output.conf`: Fargate turns logging on only with at least one supported output"
                .to_string(),
        );
    }
    let size: usize = data
        .iter()
        .map(|(k, v)| k.chars().count() + v.chars().count())
        .sum();
    if size > LIMIT {
        let parts: Vec<String> = data
            .iter()
            .map(|(k, v)| format!("{k} {}", k.chars().count() + v.chars().count()))
            .collect();
        out.push(format!(
            "the configuration is {size} characters ({}), over the {LIMIT} Fargate accepts",
            parts.join(", ")
        ));
    }
    out
}

fn clip(s: &str) -> String {
    if s.chars().count() > 60 {
        format!("{}…", s.chars().take(60).collect::<String>())
    } else {
        s.to_string()
    }
}

/// The data of `v` as text, values known only after apply as placeholders.
fn texts(data: &Value) -> Option<Vec<(String, String)>> {
    data.as_object()?
        .iter()
        .map(|(k, v)| Some((k.clone(), text_with_placeholders(v)?)))
        .collect()
}

/// The findings of every `aws-logging` ConfigMap of the program.
pub fn findings(cx: &Context<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    let planned = |a: &Address| -> Option<Value> {
        cx.changes
            .iter()
            .find(|c| &c.address == a)
            .and_then(|c| c.after.as_deref().cloned())
    };
    for spec in cx.graph.resources() {
        let address = &spec.address;
        // Only ConfigMaps and raw objects can be it: nothing else is read.
        if address.kind() != ConfigMapArgs::KIND && address.kind() != ObjectArgs::KIND {
            continue;
        }
        let args = planned(address).unwrap_or_else(|| (*spec.args).clone());
        let data = if address.kind() == ConfigMapArgs::KIND {
            let name = args["name"].as_str().unwrap_or(address.purpose());
            let namespace = object_name_of(cx.graph, &args["namespace"]);
            if (name, namespace.as_deref()) != (CONFIG_MAP.0, Some(CONFIG_MAP.1)) {
                continue;
            }
            texts(&args["data"])
        } else if address.kind() == ObjectArgs::KIND {
            let m = &args["manifest"];
            let is_it = m["kind"] == "ConfigMap"
                && m.pointer("/metadata/name").and_then(Value::as_str) == Some(CONFIG_MAP.0)
                && m.pointer("/metadata/namespace").and_then(Value::as_str) == Some(CONFIG_MAP.1);
            if !is_it {
                continue;
            }
            texts(&m["data"])
        } else {
            continue;
        };
        let Some(data) = data else { continue };
        for problem in problems(&data) {
            out.push(
                Finding::error(
                    CODE,
                    format!("Fargate's log router would refuse or not parse this configuration: {problem}"),
                )
                .at(address)
                .remedy("write each section header and each `key value` on its own line, keys indented under their header, with only the sections, outputs and filters Fargate supports")
                .source(GUIDE),
            );
        }
    }
    out
}

/// The check of this module, as [`super::CHECKS`] runs it.
pub const CHECK: super::Check = super::Check {
    name: "fargate logging",
    codes: &[CODE],
    run: findings,
};

#[cfg(test)]
mod tests {
    use super::problems;

    fn data(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect()
    }

    const GOOD: &str = "[OUTPUT]\n    Name cloudwatch_logs\n    Match *\n    region us-east-1\n    log_group_name /aws/eks/x/fargate\n";

    #[test]
    fn a_well_formed_configuration_passes() {
        assert_eq!(
            problems(&data(&[
                ("output.conf", GOOD),
                (
                    "filters.conf",
                    "[FILTER]\n    Name parser\n    Match *\n    Key_name log\n    Parser crio\n"
                ),
                (
                    "parsers.conf",
                    "[PARSER]\n    Name crio\n    Format Regex\n    Regex ^(?<log>.*)$\n"
                ),
                ("flb_log_cw", "false"),
            ])),
            Vec::<String>::new()
        );
    }

    #[test]
    fn a_literal_newline_is_refused_at_its_line() {
        let got = problems(&data(&[(
            "output.conf",
            "[OUTPUT]\\n    Name cloudwatch_logs\\n    Match *\\n",
        )]));
        assert!(
            got[0].starts_with("`output.conf` line 1: holds `\\n` or `\\t` as two characters"),
            "{got:?}"
        );
        // With nothing left to read there is no output either.
        assert!(
            got.iter().any(|p| p.starts_with("no [OUTPUT] section")),
            "{got:?}"
        );
    }

    #[test]
    fn an_unknown_output_and_a_foreign_section_are_refused() {
        let got = problems(&data(&[(
            "output.conf",
            "[OUTPUT]\n    Name cloudwatch_log\n    Match *\n[SERVICE]\n    Flush 1\n",
        )]));
        assert_eq!(
            got,
            vec![
                "`output.conf` line 4: `[SERVICE]` in `output.conf`: this key holds only [OUTPUT] sections (Fargate's log router accepts [OUTPUT] in output.conf, [FILTER] in filters.conf, [PARSER] in parsers.conf and rejects any other)".to_string(),
                "`output.conf` line 1: [OUTPUT] `Name cloudwatch_log` (did you mean `cloudwatch_logs`?): Fargate's log router supports only es, firehose, kinesis_firehose, cloudwatch, cloudwatch_logs, kinesis".to_string(),
            ]
        );
    }

    #[test]
    fn a_section_over_the_limit_is_refused() {
        let long = format!("{GOOD}    log_stream_prefix {}\n", "x".repeat(5300));
        let got = problems(&data(&[("output.conf", &long)]));
        assert_eq!(got.len(), 1, "{got:?}");
        assert!(got[0].starts_with("the configuration is 5"), "{got:?}");
        assert!(got[0].ends_with("over the 5300 Fargate accepts"), "{got:?}");
    }

    #[test]
    fn indentation_and_service_owned_keys() {
        let got = problems(&data(&[
            ("output.conf", GOOD),
            (
                "filters.conf",
                "[FILTER]\nName kubernetes\n    Match kube.*\n    Kube_URL https://x\n",
            ),
        ]));
        assert!(
            got.iter().any(|p| p.contains(
                "line 2: `Name kubernetes` is not indented more than its section header"
            )),
            "{got:?}"
        );
        assert!(got.iter().any(|p| p.contains("sets `Kube_URL`")), "{got:?}");
    }
}
