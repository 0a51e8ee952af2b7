//! `MissingOptions`: what a stdlib function needs in its options map and
//! was not given.
//!
//! A stdlib function states the options it cannot do without, each with an
//! example written as Rhai code, before it reads them:
//!
//! ```rhai
//! needs(opts, #{ cidr: `"10.0.0.0/16"`, azs: `["us-east-1a", "us-east-1b"]` });
//! ```
//!
//! An option that is absent (or `()`) stops the call there, and the error
//! is reported at the caller's line, naming the function and the option,
//! with the call as it would read with the option added. Without it, the
//! `()` of a missing option surfaces later as an unrelated error at a
//! stdlib line (`unknown function 'len'`, a type error in a builder).

use rhai::{Dynamic, Engine, EvalAltResult, Map as RhaiMap, NativeCallContext};

use super::recorder::fault;

/// Raised by `needs`; `runtime_error` words it for the caller.
#[derive(Clone, Debug)]
pub struct MissingOptions {
    /// Each missing option with its example, by name.
    pub options: Vec<(String, String)>,
    /// The type of the value passed where the options map goes, when it is
    /// not a map.
    pub not_a_map: Option<String>,
}

pub fn register(engine: &mut Engine) {
    engine.register_fn(
        "needs",
        |ctx: NativeCallContext,
         opts: Dynamic,
         required: RhaiMap|
         -> Result<(), Box<EvalAltResult>> {
            let pos = ctx.call_position();
            let examples = required
                .iter()
                .map(|(k, v)| {
                    let example = v.clone().into_string().map_err(|t| {
                        fault(
                            format!(
                                "needs: the example of `{k}` is a {t}, not Rhai code in a string"
                            ),
                            format!("write it as code in backticks: `{k}: `\"...\"``"),
                            pos,
                        )
                    })?;
                    Ok((k.to_string(), example))
                })
                .collect::<Result<Vec<_>, Box<EvalAltResult>>>()?;
            let missing = if opts.is_unit() {
                MissingOptions {
                    options: examples,
                    not_a_map: None,
                }
            } else if let Some(map) = opts.read_lock::<RhaiMap>() {
                MissingOptions {
                    options: examples
                        .into_iter()
                        .filter(|(k, _)| map.get(k.as_str()).is_none_or(Dynamic::is_unit))
                        .collect(),
                    not_a_map: None,
                }
            } else {
                MissingOptions {
                    options: examples,
                    not_a_map: Some(opts.type_name().to_string()),
                }
            };
            if missing.options.is_empty() && missing.not_a_map.is_none() {
                return Ok(());
            }
            Err(Box::new(EvalAltResult::ErrorRuntime(
                Dynamic::from(missing),
                pos,
            )))
        },
    );
}

/// The message and fix for a call of `function` (as the caller wrote it)
/// whose options parameter is `param`, at a line reading `line`, the call's
/// name starting at column `col`.
pub fn words(
    missing: &MissingOptions,
    function: &str,
    param: &str,
    line: Option<&str>,
    col: usize,
) -> (String, String) {
    let names: Vec<String> = missing
        .options
        .iter()
        .map(|(k, _)| format!("`{k}`"))
        .collect();
    let entries: Vec<String> = missing
        .options
        .iter()
        .map(|(k, example)| format!("{k}: {example}"))
        .collect();
    if let Some(t) = &missing.not_a_map {
        return (
            format!("`{function}` takes its options as a map, not a {t}"),
            format!("pass a map: `#{{ {} }}`", entries.join(", ")),
        );
    }
    let unset: Vec<String> = missing
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
    let fix = match line.and_then(|l| call_with(l, col, &entries)) {
        Some(call) if names.len() == 1 => format!("pass it: `{call}`"),
        Some(call) => format!("pass them: `{call}`"),
        None => format!(
            "add `{}` to the options map of `{function}`",
            entries.join(", ")
        ),
    };
    (message, fix)
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
    use super::call_with;

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
}
