//! `OutputRef`: what `vpc.id` is in the script, an output of a resource
//! whose value is known only after apply.
//!
//! Its text is not known while the program runs, so only what works
//! without it is allowed: passing it whole (into a builder, a map, an
//! array, `export`), putting it in text with interpolation or `+` (the
//! text then carries the ref and becomes a template with an edge), and
//! `==` / `!=` where the answer is known now (a ref equals itself and is
//! never `()`). Anything that would read its text (string functions,
//! ordering, arithmetic, a map key) is a script error at the line.

use std::sync::{Arc, Mutex};

use rhai::{Dynamic, Engine, EvalAltResult, ImmutableString, NativeCallContext};

use crate::value::{RefTarget, display_key, has_script_ref, script_ref};

use super::recorder::fault;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutputRef {
    pub target: RefTarget,
}

/// The type name scripts see (`type_of(vpc.id)`).
pub const TYPE_NAME: &str = "Ref";

impl OutputRef {
    /// The text a ref becomes inside a string (interpolation, `+`).
    pub fn text(&self) -> String {
        script_ref(&self.target.address, &self.target.attr)
    }
}

/// What to do instead of reading a ref's text.
const INSTEAD: &str = "pass the ref whole (`vpc: vpc.id`) or put it in text with interpolation or `+` (`` `${vpc.id}-logs` ``); its value is filled in at apply";

/// `op` (a function, an operator) needed the text of `what`: the message
/// and the fix.
pub fn text_needed_words(op: &str, what: &str) -> (String, String) {
    (
        format!("`{op}` needs the value of {what}, which is known only after apply"),
        INSTEAD.to_string(),
    )
}

pub fn text_needed(op: &str, what: &str) -> Box<EvalAltResult> {
    let (message, fix) = text_needed_words(op, what);
    fault(message, fix, rhai::Position::NONE)
}

/// How a script value that holds refs reads in a message.
pub fn describe_value(d: &Dynamic) -> Option<String> {
    if let Some(r) = d.read_lock::<OutputRef>() {
        return Some(format!("the ref {}", r.target));
    }
    let s = d.read_lock::<ImmutableString>()?;
    has_script_ref(&s).then(|| format!("the text \"{}\"", display_key(&s)))
}

/// What to do instead of comparing a ref.
pub const COMPARE_INSTEAD: &str = "compare values the program knows (config().vars, purposes, literals); a ref is equal only to itself";

/// The last call the missing-function hook refused for a ref. Rhai then
/// raises its own "function not found" at the call's position, and the
/// message is made from both.
#[derive(Clone, Default)]
pub struct RefusedCalls(Arc<Mutex<Option<(String, String)>>>);

impl RefusedCalls {
    /// The ref `name` was called on, when it was the last refused call.
    pub fn take(&self, name: &str) -> Option<String> {
        let mut last = self.0.lock().expect("refused calls");
        match last.take() {
            Some((n, what)) if n == name => Some(what),
            _ => None,
        }
    }
}

/// A message for an error Rhai raised about a ref's type (a map key, an
/// index, a property, a condition).
pub fn explain(err: &EvalAltResult) -> Option<(String, String)> {
    let is_ref = |t: &str| t == TYPE_NAME || t.ends_with("::OutputRef");
    match err {
        EvalAltResult::ErrorMismatchDataType(expected, actual, _) if is_ref(actual) => {
            Some(if expected == "string" {
                (
                    "a ref cannot be a map key: its value is known only after apply".into(),
                    "key the map by something the program knows (a purpose, a name); a key that must hold the ref's value is written as text, `` m[`${vpc.id}:sub`] = ... ``, and filled in at apply".into(),
                )
            } else {
                (
                    format!(
                        "a ref is used as a {expected}, but its value is known only after apply"
                    ),
                    "decide with values the program knows (config().vars, purposes, literals)"
                        .into(),
                )
            })
        }
        EvalAltResult::ErrorIndexingType(what, _)
            if what.starts_with(&format!("{TYPE_NAME} [")) =>
        {
            Some((
                "a ref cannot be indexed: its value is known only after apply".into(),
                INSTEAD.into(),
            ))
        }
        EvalAltResult::ErrorDotExpr(what, _) if what.contains(&format!("type '{TYPE_NAME}'")) => {
            Some((
                "a ref has no properties: it is one output of a resource, known only after apply"
                    .into(),
                "take outputs from the resource itself (`vpc.id`, `cluster.endpoint`)".into(),
            ))
        }
        _ => None,
    }
}

pub fn register(engine: &mut Engine, refused: &RefusedCalls) {
    engine
        .register_type_with_name::<OutputRef>(TYPE_NAME)
        .register_fn("to_string", |r: &mut OutputRef| r.text())
        .register_fn("to_debug", |r: &mut OutputRef| format!("ref({})", r.target))
        .register_fn("+", |a: OutputRef, b: OutputRef| {
            format!("{}{}", a.text(), b.text())
        })
        .register_iterator_result::<OutputRef, Dynamic>();
    for op in ["==", "!="] {
        let negate = op == "!=";
        engine.register_fn(
            op,
            move |ctx: NativeCallContext, a: OutputRef, b: Dynamic| {
                equals(&ctx, op, &a, &b).map(|e| e != negate)
            },
        );
        engine.register_fn(
            op,
            move |ctx: NativeCallContext, a: Dynamic, b: OutputRef| {
                equals(&ctx, op, &b, &a).map(|e| e != negate)
            },
        );
    }
    for op in ["<", ">", "<=", ">="] {
        engine.register_fn(
            op,
            move |ctx: NativeCallContext, a: OutputRef, b: Dynamic| -> Result<bool, _> {
                Err(undecided(&ctx, op, &Dynamic::from(a), &b))
            },
        );
        engine.register_fn(
            op,
            move |ctx: NativeCallContext, a: Dynamic, b: OutputRef| -> Result<bool, _> {
                Err(undecided(&ctx, op, &a, &Dynamic::from(b)))
            },
        );
    }
    let refused = refused.clone();
    // Volatile in Rhai, not deprecated: the one hook that sees the
    // arguments of a call no function takes.
    #[allow(deprecated)]
    engine.on_missing_function(move |name, args, _is_method, _ctx| {
        // These are the ref's own functions; their errors stand.
        if matches!(name, "==" | "!=" | "<" | ">" | "<=" | ">=") {
            return Ok(None);
        }
        if let Some(what) = args.iter().find_map(|a| describe_value(a)) {
            *refused.0.lock().expect("refused calls") = Some((name.to_string(), what));
        }
        Ok(None)
    });
}

/// `for c in ref`: a ref has no characters before apply.
impl IntoIterator for OutputRef {
    type Item = Result<Dynamic, Box<EvalAltResult>>;
    type IntoIter = std::iter::Once<Self::Item>;

    fn into_iter(self) -> Self::IntoIter {
        std::iter::once(Err(text_needed("for", &format!("the ref {}", self.target))))
    }
}

/// `a == b` where it is known before apply: a ref equals itself (or its
/// own text) and is never `()`.
fn equals(
    ctx: &NativeCallContext,
    op: &str,
    a: &OutputRef,
    b: &Dynamic,
) -> Result<bool, Box<EvalAltResult>> {
    if b.is_unit() {
        return Ok(false);
    }
    if let Some(b) = b.read_lock::<OutputRef>()
        && *b == *a
    {
        return Ok(true);
    }
    if let Some(s) = b.read_lock::<ImmutableString>()
        && s.as_str() == a.text()
    {
        return Ok(true);
    }
    Err(undecided(ctx, op, &Dynamic::from(a.clone()), b))
}

/// `a op b` cannot be answered before apply.
pub fn undecided(
    ctx: &NativeCallContext,
    op: &str,
    a: &Dynamic,
    b: &Dynamic,
) -> Box<EvalAltResult> {
    let show = |d: &Dynamic| {
        describe_value(d).unwrap_or_else(|| match d.read_lock::<ImmutableString>() {
            Some(s) => format!("\"{}\"", s.as_str()),
            None => format!("`{d}`"),
        })
    };
    fault(
        format!(
            "`{op}` cannot be decided before apply: {} is compared with {}, and a ref's value is known only after apply",
            show(a),
            show(b)
        ),
        COMPARE_INSTEAD,
        ctx.call_position(),
    )
}
