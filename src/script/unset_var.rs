//! `UnsetVar`: a `config().vars.X` the program reads without a default and
//! that no `--var X=...` gave.
//!
//! Reading it gives `()`, which fails later as something else (a builder's
//! `invalid type: null, expected a string`, a missing option). An error on a
//! line that reads such a variable, directly or through a `let` of it, is
//! told as what it is: the variable is not set, and where a default goes.

use serde_json::{Map, Value};

use super::error::{ScriptError, SourcePos};

/// The first `config().vars.NAME` / `config().vars["NAME"]` in `text` that is
/// not in `vars` and has no `??` after it.
fn unset_in(text: &str, vars: &Map<String, Value>) -> Option<String> {
    let mut rest = text;
    while let Some(at) = rest.find("config().vars") {
        let after = &rest[at + "config().vars".len()..];
        let (name, tail) = if let Some(a) = after.strip_prefix('.') {
            let end = a
                .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                .unwrap_or(a.len());
            (&a[..end], &a[end..])
        } else if let Some(a) = after.strip_prefix("[\"") {
            match a.find("\"]") {
                Some(end) => (&a[..end], &a[end + 2..]),
                None => ("", a),
            }
        } else {
            ("", after)
        };
        if !name.is_empty() && !vars.contains_key(name) && !tail.trim_start().starts_with("??") {
            return Some(name.to_string());
        }
        rest = tail;
    }
    None
}

/// `let NAME = <text>;` lines of `source`, as (line number, name, text).
fn lets(source: &str) -> Vec<(usize, String, String)> {
    source
        .lines()
        .enumerate()
        .filter_map(|(i, l)| {
            let l = l.trim_start().strip_prefix("let ")?;
            let (name, value) = l.split_once('=')?;
            Some((i + 1, name.trim().to_string(), value.to_string()))
        })
        .collect()
}

fn mentions(text: &str, name: &str) -> bool {
    text.match_indices(name).any(|(i, _)| {
        let ident = |c: char| c.is_alphanumeric() || c == '_';
        let before = text[..i].chars().next_back();
        let after = text[i + name.len()..].chars().next();
        !before.is_some_and(|c| ident(c) || c == '.') && !after.is_some_and(ident)
    })
}

/// `err`, told as an unset variable when its line reads one.
pub fn explain(err: ScriptError, vars: &Map<String, Value>) -> ScriptError {
    let Some(pos) = err.pos.clone() else {
        return err;
    };
    let Some(line) = pos.line_text() else {
        return err;
    };
    let source = std::fs::read_to_string(&pos.file).unwrap_or_default();
    let direct = unset_in(&line, vars).map(|n| (n, None));
    let through_let = || {
        lets(&source)
            .into_iter()
            .filter(|(n, name, _)| *n < pos.line && mentions(&line, name))
            .find_map(|(n, _, value)| unset_in(&value, vars).map(|v| (v, Some(n))))
    };
    let Some((name, let_line)) = direct.or_else(through_let) else {
        return err;
    };
    let mut out = ScriptError::new(
        Some(pos.clone()),
        format!(
            "`config().vars.{name}` is not set (no `--var {name}=...` was given), so it is `()` here: {}",
            err.message
        ),
        format!(
            "pass it on the command line, `--var {name}=VALUE`, or give a default where it is read: `config().vars.{name} ?? VALUE`"
        ),
    );
    if let Some(n) = let_line {
        let col = source
            .lines()
            .nth(n - 1)
            .and_then(|l| l.find("config().vars"))
            .map_or(1, |c| c + 1);
        out.related.push((
            SourcePos {
                file: pos.file.clone(),
                line: n,
                col,
            },
            format!("`config().vars.{name}` is read here"),
        ));
    }
    out.related.extend(err.related);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_with_a_default_is_not_unset() {
        let vars: Map<String, Value> = serde_json::from_str(r#"{"b": 1}"#).unwrap();
        assert_eq!(
            unset_in("x(config().vars.a ?? 1, config().vars.b)", &vars),
            None
        );
        assert_eq!(
            unset_in("x(config().vars.a ?? 1, config().vars.c)", &vars).as_deref(),
            Some("c")
        );
        assert_eq!(
            unset_in(r#"#{ "public": config().vars["public"] }"#, &vars).as_deref(),
            Some("public")
        );
        assert!(mentions("#{ cidr: cidr }", "cidr"));
        assert!(!mentions("#{ cidr: opts.cidr }", "cidr_x"));
        assert!(!mentions("opts.cidr", "cidr"));
    }
}
