//! `TextGuard`: the string functions and comparisons, refused on text that
//! carries a ref.
//!
//! Interpolation and `+` put a ref into a string (`` `${vpc.id}/24` ``);
//! that text becomes a template with an edge, and its value is known only
//! after apply. A string function on it would read placeholder text and
//! quietly plan garbage, so each function that reads text is replaced by
//! one that refuses such text and otherwise runs Rhai's own function (kept
//! in a plain engine, so the behaviour is exactly Rhai's).

use std::any::TypeId;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rhai::{AST, Dynamic, Engine, EvalAltResult, INT, ImmutableString, NativeCallContext, Scope};

use crate::value::has_script_ref;

use super::output_ref::{describe_value, text_needed, undecided};

/// The functions that read a string's text, each with its parameter
/// types: `s` string, `i` integer, `c` character, `r` range `a..b`, `q`
/// range `a..=b`.
const FUNCTIONS: &[(&str, &[&str])] = &[
    ("len", &["s"]),
    ("is_empty", &["s"]),
    ("bytes", &["s"]),
    ("to_blob", &["s"]),
    ("to_chars", &["s"]),
    ("chars", &["s", "si", "sii", "sr", "sq"]),
    ("remove", &["ss", "sc"]),
    ("truncate", &["si"]),
    ("trim", &["s"]),
    ("pop", &["s", "si"]),
    ("to_upper", &["s"]),
    ("to_lower", &["s"]),
    ("make_upper", &["s"]),
    ("make_lower", &["s"]),
    ("contains", &["ss", "sc"]),
    ("starts_with", &["ss", "sc"]),
    ("ends_with", &["ss", "sc"]),
    ("index_of", &["ss", "ssi", "sc", "sci"]),
    ("get", &["si"]),
    ("set", &["sic"]),
    ("sub_string", &["si", "sii", "sr", "sq"]),
    ("crop", &["si", "sii", "sr", "sq"]),
    ("replace", &["sss", "ssc", "scs", "scc"]),
    ("pad", &["sic", "sis"]),
    ("split", &["s", "si", "ss", "ssi", "sc", "sci"]),
    ("split_rev", &["ss", "ssi", "sc", "sci"]),
    ("min", &["ss"]),
    ("max", &["ss"]),
    ("parse_int", &["s", "si"]),
    ("parse_float", &["s"]),
];

fn type_of(code: char) -> TypeId {
    match code {
        's' => TypeId::of::<ImmutableString>(),
        'i' => TypeId::of::<INT>(),
        'c' => TypeId::of::<char>(),
        'r' => TypeId::of::<std::ops::Range<INT>>(),
        'q' => TypeId::of::<std::ops::RangeInclusive<INT>>(),
        _ => unreachable!("parameter code `{code}`"),
    }
}

/// Rhai's own string functions, called on text without refs.
struct Plain {
    /// Made on the first call: most programs call none of these.
    engine: std::sync::OnceLock<Engine>,
    /// `a0.name(a1, ...)` compiled once per name and arity.
    calls: Mutex<HashMap<(&'static str, usize), Arc<AST>>>,
}

impl Plain {
    fn call(
        &self,
        ctx: &NativeCallContext,
        name: &'static str,
        args: &mut [&mut Dynamic],
    ) -> Result<Dynamic, Box<EvalAltResult>> {
        let engine = self.engine.get_or_init(Engine::new);
        let ast = {
            let mut calls = self.calls.lock().expect("string calls");
            calls
                .entry((name, args.len()))
                .or_insert_with(|| {
                    let rest: Vec<String> = (1..args.len()).map(|i| format!("a{i}")).collect();
                    let text = format!("a0.{name}({})", rest.join(", "));
                    Arc::new(engine.compile(text).expect("string call compiles"))
                })
                .clone()
        };
        let mut scope = Scope::new();
        for (i, a) in args.iter().enumerate() {
            scope.push_dynamic(format!("a{i}"), (**a).clone());
        }
        let result = engine
            .eval_ast_with_scope::<Dynamic>(&mut scope, &ast)
            .map_err(|mut e| {
                e.set_position(ctx.call_position());
                e
            })?;
        // Functions such as `trim` and `pad` change the string in place.
        if let Some(changed) = scope.get_value::<Dynamic>("a0") {
            *args[0] = changed;
        }
        Ok(result)
    }
}

fn refused(name: &str, args: &[&mut Dynamic]) -> Option<Box<EvalAltResult>> {
    args.iter()
        .find_map(|a| describe_value(a))
        .map(|what| text_needed(name, &what))
}

pub fn register(engine: &mut Engine) {
    let plain = Arc::new(Plain {
        engine: std::sync::OnceLock::new(),
        calls: Mutex::default(),
    });
    for &(name, signatures) in FUNCTIONS {
        for params in signatures {
            let types: Vec<TypeId> = params.chars().map(type_of).collect();
            let plain = plain.clone();
            engine.register_raw_fn(
                name,
                types,
                move |ctx: NativeCallContext, args: &mut [&mut Dynamic]| {
                    if let Some(e) = refused(name, args) {
                        let mut e = e;
                        e.set_position(ctx.call_position());
                        return Err(e);
                    }
                    plain.call(&ctx, name, args)
                },
            );
        }
    }
    // Operators on strings are Rhai built-ins unless overridden, and an
    // override is consulted only with fast operators off.
    engine.set_fast_operators(false);
    for op in ["==", "!="] {
        let negate = op == "!=";
        engine.register_fn(
            op,
            move |ctx: NativeCallContext, a: ImmutableString, b: ImmutableString| {
                if a == b || (!has_script_ref(&a) && !has_script_ref(&b)) {
                    return Ok((a == b) != negate);
                }
                Err(undecided(&ctx, op, &Dynamic::from(a), &Dynamic::from(b)))
            },
        );
    }
    for op in ["<", ">", "<=", ">="] {
        engine.register_fn(
            op,
            move |ctx: NativeCallContext, a: ImmutableString, b: ImmutableString| {
                if has_script_ref(&a) || has_script_ref(&b) {
                    return Err(undecided(&ctx, op, &Dynamic::from(a), &Dynamic::from(b)));
                }
                Ok(match op {
                    "<" => a < b,
                    ">" => a > b,
                    "<=" => a <= b,
                    _ => a >= b,
                })
            },
        );
    }
}
