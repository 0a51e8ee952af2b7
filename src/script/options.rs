//! `OptionsError`: what is wrong with the options map a stdlib function was
//! given: an option it needs and was not given, or one it does not take.
//!
//! A stdlib function declares every option it takes, each with an example
//! written as Rhai code, before it reads them; an optional one ends in `?`,
//! and a nested map of options is declared as a map:
//!
//! ```rhai
//! needs(opts, #{
//!     cidr: `"10.0.0.0/16"`,
//!     "nat?": `"per-az"`,
//!     quota: #{ cpu: `"2"`, memory: `"4Gi"` },
//! });
//! ```
//!
//! An option that is absent (or `()`) stops the call there, and so does one
//! the function does not take (a misspelling, an old name): nothing a
//! program writes is silently dropped. The error is reported at the
//! caller's line, naming the function and the option, with the call as it
//! would read with the option added, or the name it probably meant. The
//! same declaration is what `payrun docs MODULE` and the editor
//! definitions show.

use rhai::{Dynamic, Engine, EvalAltResult, Map as RhaiMap, NativeCallContext, Position};

use super::recorder::fault;

/// Raised by `needs`; `runtime_error` words it for the caller.
#[derive(Clone, Debug, Default)]
pub struct OptionsError {
    /// Each missing option (its path, `quota.cpu` when nested) with its
    /// example.
    pub options: Vec<(String, String)>,
    /// Each option given that the function does not take: its path, the
    /// declared name it probably meant, and the names taken where it is.
    pub unknown: Vec<Unknown>,
    /// The type of the value passed where the options map goes, when it is
    /// not a map.
    pub not_a_map: Option<String>,
}

/// An option the function does not take.
#[derive(Clone, Debug)]
pub struct Unknown {
    pub path: String,
    pub suggestion: Option<String>,
    pub taken: Vec<String>,
}

/// One declared option.
#[derive(Clone, Debug)]
struct Declared {
    name: String,
    required: bool,
    /// Rhai code: the example, or for a nested map its declaration written
    /// back as a map literal.
    example: String,
    nested: Vec<Declared>,
    /// `nested` declares the maps in a list (`addons: [#{ name: ... }]`),
    /// not a map.
    list: bool,
}

/// The declaration map as options: `"name?"` is optional, a map value is
/// a nested declaration, a list holding one map declares the maps of a
/// list, a string value is an example.
fn declared(map: &RhaiMap, pos: Position) -> Result<Vec<Declared>, Box<EvalAltResult>> {
    map.iter()
        .map(|(key, v)| {
            let (name, required) = match key.strip_suffix('?') {
                Some(n) => (n.to_string(), false),
                None => (key.to_string(), true),
            };
            let listed = v.read_lock::<rhai::Array>().and_then(|a| {
                a.first()
                    .and_then(|m| m.read_lock::<RhaiMap>().map(|m| m.clone()))
            });
            let list = listed.is_some();
            if let Some(inner) = listed.or_else(|| v.read_lock::<RhaiMap>().map(|m| m.clone())) {
                let nested = declared(&inner, pos)?;
                let map = format!(
                    "#{{ {} }}",
                    nested
                        .iter()
                        .filter(|d| d.required)
                        .map(|d| format!("{}: {}", d.name, d.example))
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                return Ok(Declared {
                    name,
                    required,
                    example: if list { format!("[{map}]") } else { map },
                    nested,
                    list,
                });
            }
            let example = v.clone().into_string().map_err(|t| {
                fault(
                    format!("needs: the example of `{name}` is a {t}, not Rhai code in a string"),
                    format!("write it as code in backticks: `{name}: `\"...\"``"),
                    pos,
                )
            })?;
            Ok(Declared {
                name,
                required,
                example,
                nested: Vec::new(),
                list: false,
            })
        })
        .collect()
}

/// What is missing from, or not taken in, `given` under `declared`;
/// `prefix` is the path of `given` (`quota.`).
fn judge(given: &RhaiMap, declared: &[Declared], prefix: &str, out: &mut OptionsError) {
    let taken: Vec<&str> = declared.iter().map(|d| d.name.as_str()).collect();
    for key in given.keys() {
        if !taken.contains(&key.as_str()) {
            out.unknown.push(Unknown {
                path: format!("{prefix}{key}"),
                suggestion: crate::suggest::did_you_mean(key, taken.iter().copied())
                    .map(str::to_string),
                taken: taken.iter().map(|t| (*t).to_string()).collect(),
            });
        }
    }
    for d in declared {
        let value = given.get(d.name.as_str()).filter(|v| !v.is_unit());
        match value {
            None if d.required => out
                .options
                .push((format!("{prefix}{}", d.name), d.example.clone())),
            Some(v) if d.list => {
                if let Some(items) = v.read_lock::<rhai::Array>() {
                    for (i, item) in items.iter().enumerate() {
                        if let Some(inner) = item.read_lock::<RhaiMap>() {
                            judge(&inner, &d.nested, &format!("{prefix}{}[{i}].", d.name), out);
                        }
                    }
                }
            }
            Some(v) if !d.nested.is_empty() => {
                if let Some(inner) = v.read_lock::<RhaiMap>() {
                    judge(&inner, &d.nested, &format!("{prefix}{}.", d.name), out);
                }
            }
            _ => {}
        }
    }
}

pub fn register(engine: &mut Engine) {
    engine.register_fn(
        "needs",
        |ctx: NativeCallContext,
         opts: Dynamic,
         declaration: RhaiMap|
         -> Result<(), Box<EvalAltResult>> {
            let pos = ctx.call_position();
            let declared = declared(&declaration, pos)?;
            let mut error = OptionsError::default();
            if opts.is_unit() {
                judge(&RhaiMap::new(), &declared, "", &mut error);
            } else if let Some(map) = opts.read_lock::<RhaiMap>() {
                judge(&map, &declared, "", &mut error);
            } else {
                error.options = declared
                    .iter()
                    .filter(|d| d.required)
                    .map(|d| (d.name.clone(), d.example.clone()))
                    .collect();
                error.not_a_map = Some(opts.type_name().to_string());
            }
            if error.options.is_empty() && error.unknown.is_empty() && error.not_a_map.is_none() {
                return Ok(());
            }
            Err(Box::new(EvalAltResult::ErrorRuntime(
                Dynamic::from(error),
                pos,
            )))
        },
    );
}

/// The message and fix for a call of `function` (as the caller wrote it)
/// whose options parameter is `param`, at a line reading `line`, the call's
/// name starting at column `col`.
pub fn words(
    error: &OptionsError,
    function: &str,
    param: &str,
    line: Option<&str>,
    col: usize,
) -> (String, String) {
    let entries: Vec<String> = error
        .options
        .iter()
        .map(|(k, example)| format!("{k}: {example}"))
        .collect();
    if let Some(t) = &error.not_a_map {
        return (
            format!("`{function}` takes its options as a map, not a {t}"),
            format!("pass a map: `#{{ {} }}`", entries.join(", ")),
        );
    }
    if !error.unknown.is_empty() {
        let names: Vec<String> = error
            .unknown
            .iter()
            .map(|u| format!("`{}`", u.path))
            .collect();
        let message = if names.len() == 1 {
            format!("`{function}` has no option {}", names[0])
        } else {
            format!("`{function}` has no options {}", names.join(", "))
        };
        let fixes: Vec<String> = error
            .unknown
            .iter()
            .map(|u| {
                let within = match u.path.rsplit_once('.') {
                    Some((parent, _)) => format!("`{parent}` takes"),
                    None => "it takes".to_string(),
                };
                match &u.suggestion {
                    Some(s) => {
                        let at = u
                            .path
                            .rsplit_once('.')
                            .map(|(p, _)| format!("{p}."))
                            .unwrap_or_default();
                        format!("did you mean `{at}{s}`? ({within} {})", u.taken.join(", "))
                    }
                    None => format!("remove `{}`: {within} {}", u.path, u.taken.join(", ")),
                }
            })
            .collect();
        return (message, fixes.join("; "));
    }
    let names: Vec<String> = error
        .options
        .iter()
        .map(|(k, _)| format!("`{k}`"))
        .collect();
    let unset: Vec<String> = error
        .options
        .iter()
        .map(|(k, _)| format!("{param}.{k}"))
        .collect();
    let message = if names.len() == 1 {
        format!(
            "`{function}` needs option {} ({} is not set)",
            names[0], unset[0]
        )
    } else {
        format!(
            "`{function}` needs options {} ({} are not set)",
            names.join(", "),
            unset.join(", ")
        )
    };
    let nested = error.options.iter().any(|(k, _)| k.contains('.'));
    let fix = match line
        .and_then(|l| call_with(l, col, &entries))
        .filter(|_| !nested)
    {
        Some(call) if names.len() == 1 => format!("pass it: `{call}`"),
        Some(call) => format!("pass them: `{call}`"),
        None => format!(
            "add `{}` to the options map of `{function}`",
            entries.join(", ")
        ),
    };
    (message, fix)
}

/// The options a function declares with `needs(opts, #{ ... })` in its
/// body, read from its source for the reference: each name (with `?` when
/// optional) and its example, a nested declaration written as the map it
/// takes (`#{ cpu: "2", memory?: "4Gi" }`).
pub fn declared_in_source(body: &str) -> Vec<(String, String)> {
    let Some(at) = body.find("needs(opts, #{") else {
        return Vec::new();
    };
    let mut chars = body[at + "needs(opts, #".len()..].chars().peekable();
    read_map(&mut chars)
}

/// Reads `{ key: `example`, "key?": #{ ... }, ... }` from `chars`, which
/// start at the `{`.
fn read_map(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if chars.next() != Some('{') {
        return out;
    }
    let mut key = String::new();
    while let Some(c) = chars.next() {
        match c {
            '}' => break,
            '/' if chars.peek() == Some(&'/') => {
                // A comment to the end of its line.
                for c in chars.by_ref() {
                    if c == '\n' {
                        break;
                    }
                }
            }
            ':' => {
                let name = key.trim().trim_matches('"').to_string();
                key.clear();
                while chars.peek().is_some_and(|c| c.is_whitespace()) {
                    chars.next();
                }
                let list = chars.peek() == Some(&'[');
                if list {
                    chars.next();
                    while chars.peek().is_some_and(|c| c.is_whitespace()) {
                        chars.next();
                    }
                }
                match chars.peek() {
                    Some('#') => {
                        chars.next();
                        let inner: Vec<String> = read_map(chars)
                            .into_iter()
                            .map(|(k, e)| format!("{k}: {e}"))
                            .collect();
                        let map = format!("#{{ {} }}", inner.join(", "));
                        if list {
                            while chars.peek().is_some_and(|c| *c != ']') {
                                chars.next();
                            }
                            chars.next();
                            out.push((name, format!("[{map}]")));
                        } else {
                            out.push((name, map));
                        }
                    }
                    Some('`') => {
                        chars.next();
                        let example: String = chars.by_ref().take_while(|c| *c != '`').collect();
                        out.push((name, example));
                    }
                    _ => {}
                }
                while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
                    chars.next();
                }
            }
            c => key.push(c),
        }
    }
    out
}

/// The call written at `col` of `line`, with `entries` added at the start
/// of its options map, when the call and a map literal in it are on this
/// line.
fn call_with(line: &str, col: usize, entries: &[String]) -> Option<String> {
    let chars: Vec<char> = line.chars().collect();
    let name_at = col.checked_sub(1)?;
    let mut start = name_at;
    while start > 0 && (chars[start - 1].is_alphanumeric() || matches!(chars[start - 1], '_' | ':'))
    {
        start -= 1;
    }
    let open = (name_at..chars.len()).find(|&i| chars[i] == '(')?;
    let (mut depth, mut quote, mut end) = (0usize, None::<char>, None);
    for (i, &c) in chars.iter().enumerate().skip(open) {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '`') => quote = Some(c),
            (None, '(' | '[' | '{') => depth += 1,
            (None, ')' | ']' | '}') => {
                depth -= 1;
                if depth == 0 {
                    end = Some(i);
                    break;
                }
            }
            _ => {}
        }
    }
    let call: String = chars[start..=end?].iter().collect();
    let map_at = call.find("#{")? + 2;
    let rest = call[map_at..].trim_start();
    let added = entries.join(", ");
    let with = if rest.starts_with('}') {
        format!("{} {added} {rest}", &call[..map_at])
    } else {
        format!("{} {added}, {rest}", &call[..map_at])
    };
    Some(with)
}

#[cfg(test)]
mod tests {
    use super::{call_with, declared_in_source};

    #[test]
    fn the_option_goes_first_in_the_map_literal() {
        let entries = ["cidr: \"10.0.0.0/16\"".to_string()];
        assert_eq!(
            call_with("let net = network::vpc(\"main\", #{});", 20, &entries).as_deref(),
            Some("network::vpc(\"main\", #{ cidr: \"10.0.0.0/16\" })")
        );
        assert_eq!(
            call_with(
                "network::vpc(\"a(\", #{ azs: [\"x\"] }); // )",
                10,
                &entries
            )
            .as_deref(),
            Some("network::vpc(\"a(\", #{ cidr: \"10.0.0.0/16\", azs: [\"x\"] })")
        );
        assert_eq!(
            call_with("network::vpc(\"main\", opts);", 10, &entries),
            None
        );
    }

    #[test]
    fn the_reference_reads_optional_and_nested_options() {
        let body = "fn tenant(name, opts) {\n    needs(opts, #{\n        kube: `kube`, // the connection\n        \"role?\": `role`,\n        quota: #{ cpu: `\"2\"`, \"memory?\": `\"4Gi\"` },\n    });\n}";
        assert_eq!(
            declared_in_source(body),
            vec![
                ("kube".to_string(), "kube".to_string()),
                ("role?".to_string(), "role".to_string()),
                (
                    "quota".to_string(),
                    "#{ cpu: \"2\", memory?: \"4Gi\" }".to_string()
                ),
            ]
        );
    }
}
