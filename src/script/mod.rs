//! Script: runs a Rhai program and records what it declares. No Rhai type
//! leaves this module.

mod cidr;
mod confinement;
mod engine;
mod error;
mod functions;
mod handle;
mod kubeconfig;
mod options;
mod output_ref;
mod recorder;
pub mod reference;
mod secret_env;
mod text_guard;
mod unset_var;

use crate::stage::timed;
use std::path::{Path, PathBuf};

use rhai::{EvalAltResult, ParseError, ParseErrorType, Position, Scope};
use serde_json::{Map, Value, json};

use crate::provider::Registry;
use crate::suggest::did_you_mean;

pub use cidr::cidr_subnet;
pub use error::{ScriptError, SourcePos};
pub use recorder::{
    AcknowledgedBy, Acknowledgement, Adoption, Export, Move, Program, ResourceSpec,
};
pub use secret_env::secret_env_refusal;

use functions::Functions;
use output_ref::RefusedCalls;
use recorder::{Fault, Recorder};

/// Reads the outputs of another stack of the same store, for
/// `stack_output(stack, name)`; an error says why there are none.
type ReadOutputs =
    dyn Fn(&str) -> Result<std::collections::BTreeMap<String, Value>, String> + Send + Sync;

#[derive(Clone)]
pub struct StackOutputs(std::sync::Arc<ReadOutputs>);

impl StackOutputs {
    pub fn new(
        f: impl Fn(&str) -> Result<std::collections::BTreeMap<String, Value>, String>
        + Send
        + Sync
        + 'static,
    ) -> Self {
        Self(std::sync::Arc::new(f))
    }

    pub fn read(&self, stack: &str) -> Result<std::collections::BTreeMap<String, Value>, String> {
        (self.0)(stack)
    }
}

impl std::fmt::Debug for StackOutputs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StackOutputs(..)")
    }
}

/// What the program sees as `config`.
#[derive(Clone, Debug, Default)]
pub struct ScriptConfig {
    pub suffix: String,
    pub region: String,
    pub stack: String,
    pub vars: Map<String, Value>,
    /// Searched in order for `import "name"`. A program reads files only
    /// from these and from its own directory.
    pub stdlib_dirs: Vec<PathBuf>,
    /// Acknowledgements made outside the program (payrun.toml), added to
    /// the program's.
    pub acknowledged: Vec<Acknowledgement>,
    /// The environment variables `secret_env` may read.
    pub secret_env: Vec<String>,
    /// The one kubeconfig a `kube` map may name (`config().kubeconfig`),
    /// given on the command line or in payrun.toml.
    pub kubeconfig: Option<PathBuf>,
    /// Other stacks' outputs, for `stack_output`; `None` where there is no
    /// store (it is then an error to call).
    pub stack_outputs: Option<StackOutputs>,
}

/// Run the program at `path`.
pub fn evaluate(
    path: &Path,
    registry: &Registry,
    config: &ScriptConfig,
) -> Result<Program, ScriptError> {
    let file = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| {
        ScriptError::new(
            None,
            format!("cannot read program {file}: {e}"),
            "check the path; the default program is `program` in payrun.toml",
        )
    })?;
    let source = String::from_utf8(bytes).map_err(|e| not_utf8(&file, e.as_bytes(), &e))?;
    let recorder = Recorder::new(&config.suffix, &config.stack, &file, &config.stdlib_dirs);
    let config_value = rhai::serde::to_dynamic(json!({
        "suffix": config.suffix,
        "region": config.region,
        "stack": config.stack,
        "vars": config.vars,
        "kubeconfig": config.kubeconfig.as_ref().map(|k| k.display().to_string()),
    }))
    .expect("config converts");
    let confinement = confinement::Confinement::new(path, &config.stdlib_dirs);
    let refused = RefusedCalls::default();
    let functions = Functions::default();
    let generated = timed("kinds", || {
        generated_kinds(&source, path, &config.stdlib_dirs)
    });
    let ahead = confinement::Ahead::default();
    let engine = timed("engine", || {
        engine::create_engine(engine::EngineInputs {
            generated: &generated,
            recorder: &recorder,
            registry,
            config: config_value,
            confinement: &confinement,
            secret_env: &config.secret_env,
            stack_outputs: config.stack_outputs.clone(),
            refused: &refused,
            functions: &functions,
            ahead: &ahead,
        })
    });
    let known = Known {
        registry,
        stdlib_dirs: &config.stdlib_dirs,
        refused: &refused,
        functions: &functions,
    };
    // The other core parses the modules the program imports and reads the
    // schemas of the generated kinds it names while this one runs it: the
    // two are a third of the payment platform's evaluation. It stops
    // between items once the run is over, however it ended.
    let stop = std::sync::atomic::AtomicBool::new(false);
    let (scope, ast) = std::thread::scope(|threads| {
        threads.spawn(|| {
            ahead.parse_imports(&engine, &confinement, &source, &stop);
            crate::provider::awscc::make_ahead(&generated, &stop);
        });
        let ran = run(&engine, &source, &file, &known, &config.vars);
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        ran
    })?;
    // The syntax tree and the script's variables are done with: freed
    // before the program takes its final form, they do not add to its peak.
    timed("free", || drop((scope, ast, engine)));
    let mut program = timed("finish", || recorder.finish(|k| registry.schema(k)));
    kubeconfig::check(&program, config.kubeconfig.as_deref())?;
    if let Some((a, pos)) = program
        .forgets
        .iter()
        .find(|(a, _)| program.resources.iter().any(|r| &r.address == a))
    {
        return Err(ScriptError::new(
            Some(pos.clone()),
            format!("forget(\"{a}\"): the program still declares {a}"),
            "remove its declaration to let it go without destroying it, or remove the forget to keep managing it",
        ));
    }
    check_adopts_and_moves(&program)?;
    program.region = config.region.clone();
    program
        .acknowledged
        .extend(config.acknowledged.iter().cloned());
    Ok(program)
}

/// Compiles and runs the program's `source` on `engine`: its variables
/// and syntax tree once it has run.
fn run(
    engine: &rhai::Engine,
    source: &str,
    file: &str,
    known: &Known<'_>,
    vars: &Map<String, Value>,
) -> Result<(Scope<'static>, rhai::AST), ScriptError> {
    // `config()` is the one way to read it, in a program and in modules
    // alike (a module cannot see the program's variables).
    let mut scope = Scope::new();
    let mut ast = timed("compile", || engine.compile_with_scope(&scope, source))
        .map_err(|e| parse_error(&e, file))?;
    ast.set_source(file);
    known.functions.add(None, &ast);
    timed("run", || engine.run_ast_with_scope(&mut scope, &ast))
        .map_err(|e| unset_var::explain(runtime_error(*e, file, known), vars))?;
    Ok((scope, ast))
}

/// An `adopt` names one declaration once, and one id once; a `moved`
/// leads from an address the program no longer declares to one it does,
/// of the same kind, and each address takes part in one move.
fn check_adopts_and_moves(program: &Program) -> Result<(), ScriptError> {
    let declared = |a: &crate::address::Address| program.resources.iter().any(|r| &r.address == a);
    for (i, a) in program.adopts.iter().enumerate() {
        if let Some(b) = program.adopts[..i].iter().find(|b| b.address == a.address) {
            return Err(ScriptError::new(
                Some(a.pos.clone()),
                format!(
                    "adopt({}, \"{}\"): {} is adopted already, at {}",
                    a.address, a.id, a.address, b.pos
                ),
                "keep one adopt per declaration",
            ));
        }
        if let Some(b) = program.adopts[..i].iter().find(|b| b.id == a.id) {
            return Err(ScriptError::new(
                Some(a.pos.clone()),
                format!(
                    "adopt({}, \"{}\"): {} is adopted by {} already, at {}",
                    a.address, a.id, a.id, b.address, b.pos
                ),
                "one object is managed at one address: remove one of the two adopts",
            ));
        }
    }
    for (i, m) in program.moves.iter().enumerate() {
        let call = format!("moved(\"{}\", \"{}\")", m.from, m.to);
        if m.from.kind() != m.to.kind() {
            return Err(ScriptError::new(
                Some(m.pos.clone()),
                format!(
                    "{call}: a move keeps the kind, and {} is not {}",
                    m.to.kind(),
                    m.from.kind()
                ),
                "move to an address of the same kind; to change the kind, declare the new resource and let the old one go",
            ));
        }
        if declared(&m.from) {
            return Err(ScriptError::new(
                Some(m.pos.clone()),
                format!("{call}: the program still declares {}", m.from),
                format!(
                    "declare it once, with the purpose `{}`, and drop the declaration of {}",
                    m.to.purpose(),
                    m.from
                ),
            ));
        }
        if !declared(&m.to) {
            return Err(ScriptError::new(
                Some(m.pos.clone()),
                format!("{call}: the program declares no {}", m.to),
                format!(
                    "declare {} (the resource recorded as {}), or remove the moved",
                    m.to, m.from
                ),
            ));
        }
        if let Some(n) = program.moves[..i]
            .iter()
            .find(|n| n.from == m.from || n.to == m.to)
        {
            return Err(ScriptError::new(
                Some(m.pos.clone()),
                format!(
                    "{call}: {} takes part in another move already, at {}",
                    if n.from == m.from { &m.from } else { &m.to },
                    n.pos
                ),
                "keep one move per address: a chain of renames is one move from the first to the last",
            ));
        }
        if program.adopts.iter().any(|a| a.address == m.to) {
            return Err(ScriptError::new(
                Some(m.pos.clone()),
                format!("{call}: {} is adopted as well", m.to),
                "a resource is either moved from a recorded address or adopted from the cloud: remove one",
            ));
        }
    }
    Ok(())
}

/// The generated (`awscc`) kinds the program and the modules it may import
/// (the `.rhai` files of the stdlib directories and of its own) name: the
/// engine registers builders for these only, so a program that uses none
/// pays nothing for the 1,700 of them.
fn generated_kinds(source: &str, path: &Path, stdlib_dirs: &[PathBuf]) -> Vec<String> {
    let mut kinds = crate::provider::awscc::named_in(source);
    let dirs = stdlib_dirs
        .iter()
        .map(PathBuf::as_path)
        .chain(path.parent().filter(|p| !p.as_os_str().is_empty()));
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let file = entry.path();
            if file.extension().is_some_and(|e| e == "rhai")
                && let Ok(text) = std::fs::read_to_string(&file)
                && text.contains("awscc::")
            {
                kinds.extend(crate::provider::awscc::named_in(&text));
            }
        }
    }
    kinds.sort();
    kinds.dedup();
    kinds
}

/// A program that is not UTF-8: where its first bad byte is.
fn not_utf8(file: &str, bytes: &[u8], e: &std::string::FromUtf8Error) -> ScriptError {
    let good = &bytes[..e.utf8_error().valid_up_to()];
    let line_start = good.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let pos = SourcePos {
        file: file.to_string(),
        line: good.iter().filter(|&&b| b == b'\n').count() + 1,
        col: String::from_utf8_lossy(&good[line_start..]).chars().count() + 1,
    };
    let byte = bytes[good.len()];
    ScriptError::new(
        Some(pos),
        format!("the program is not UTF-8: byte 0x{byte:02x} cannot start a character"),
        format!(
            "save it as UTF-8; from Latin-1: iconv -f ISO-8859-1 -t UTF-8 {file} > {file}.utf8 && mv {file}.utf8 {file}"
        ),
    )
}

fn pos_in(file: &str, p: Position) -> Option<SourcePos> {
    Some(SourcePos {
        file: file.to_string(),
        line: p.line()?,
        col: p.position().unwrap_or(1),
    })
}

fn parse_error(e: &ParseError, file: &str) -> ScriptError {
    let fix = match e.err_type() {
        ParseErrorType::VariableUndefined(name) if name == "config" => {
            "`config` is a function, the same in a program and in a module: `config().vars.NAME`, `config().suffix`, `config().region`".to_string()
        }
        ParseErrorType::VariableUndefined(name) => {
            format!(
                "declare it first with `let {name} = ...;` (or use `config().vars.{name}` for a --var)"
            )
        }
        ParseErrorType::MissingToken(token, what) => format!("add `{token}` {what}"),
        ParseErrorType::ModuleUndefined(name) => {
            format!("import it first: `import \"{name}\" as {name};`")
        }
        ParseErrorType::Reserved(word) if rhai::is_valid_identifier(word) => {
            return ScriptError::new(
                pos_in(file, e.position()),
                format!(
                    "`{word}` is a reserved word in Rhai: it cannot name a variable or be written bare as a property or map key"
                ),
                format!(
                    "rename the variable (e.g. `{word}_subnets`); as a key, quote it: `#{{ \"{word}\": ... }}` and `m[\"{word}\"]` (a --var {word}=... is `config().vars[\"{word}\"]`)"
                ),
            );
        }
        _ => "check the syntax at the caret".to_string(),
    };
    ScriptError::new(pos_in(file, e.position()), e.err_type().to_string(), fix)
}

/// What an error message may draw on besides the error.
struct Known<'a> {
    registry: &'a Registry,
    stdlib_dirs: &'a [PathBuf],
    refused: &'a RefusedCalls,
    functions: &'a Functions,
}

fn runtime_error(err: EvalAltResult, main_file: &str, known: &Known) -> ScriptError {
    let stdlib_dirs = known.stdlib_dirs;
    let mut file = main_file.to_string();
    let mut calls: Vec<(SourcePos, String)> = Vec::new();
    // The innermost call of a script function: its name, module and where
    // it was called.
    let mut innermost: Option<(String, String, SourcePos)> = None;
    let mut err = err;
    loop {
        match err {
            EvalAltResult::ErrorInFunctionCall(name, src, inner, pos) => {
                if let Some(p) = pos_in(&file, pos) {
                    calls.push(call_note(&name, p.clone(), main_file, known));
                    innermost = Some((name.clone(), src.clone(), p));
                }
                if !src.is_empty() {
                    file = if Path::new(&src).exists() {
                        src
                    } else {
                        module_file(&src, stdlib_dirs).unwrap_or(src)
                    };
                }
                err = *inner;
            }
            EvalAltResult::ErrorInModule(name, inner, pos) => {
                if let Some(p) = pos_in(&file, pos) {
                    calls.push((p, format!("while loading module `{name}`")));
                }
                file = module_file(&name, stdlib_dirs).unwrap_or(name);
                err = *inner;
            }
            other => {
                err = other;
                break;
            }
        }
    }
    if let EvalAltResult::ErrorRuntime(value, _) = &err
        && let Some(missing) = value.read_lock::<options::OptionsError>()
        && let Some((name, module, at)) = innermost
    {
        calls.pop();
        return missing_options(&missing, &name, &module, at, calls, known);
    }
    let pos = pos_in(&file, err.position());
    let (message, fix) = describe(&mut err, known);
    let mut out = ScriptError::new(pos, message, fix);
    calls.reverse();
    out.related = calls;
    out
}

/// A call that left out options its function needs: reported at the call,
/// with the function named as the caller wrote it.
fn missing_options(
    missing: &options::OptionsError,
    name: &str,
    module: &str,
    at: SourcePos,
    mut calls: Vec<(SourcePos, String)>,
    known: &Known,
) -> ScriptError {
    let line = at.line_text();
    let written = line.as_deref().map_or_else(
        || name.to_string(),
        |l| {
            let before: String = l.chars().take(at.col.saturating_sub(1)).collect();
            let qualifier: String = before
                .chars()
                .rev()
                .take_while(|c| c.is_alphanumeric() || matches!(c, '_' | ':'))
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            format!("{qualifier}{name}")
        },
    );
    let module = (!module.is_empty()).then_some(module);
    let param = known
        .functions
        .named(module, name)
        .first()
        .and_then(|f| f.params.last().cloned())
        .unwrap_or_else(|| "opts".to_string());
    let (message, fix) = options::words(missing, &written, &param, line.as_deref(), at.col);
    let mut out = ScriptError::new(Some(at), message, fix);
    calls.reverse();
    out.related = calls;
    out
}

/// The file `import "name"` loads, relative to the working directory when
/// it lies under it (`stdlib/workloads.rhai`).
fn module_file(name: &str, stdlib_dirs: &[PathBuf]) -> Option<String> {
    let path = stdlib_dirs
        .iter()
        .map(|d| d.join(format!("{name}.rhai")))
        .find(|p| p.exists())?;
    let cwd = std::env::current_dir().ok();
    let shown = cwd
        .as_deref()
        .and_then(|c| path.strip_prefix(c).ok())
        .unwrap_or(&path);
    Some(shown.display().to_string())
}

/// The note for a call on the way to an error: "in the call to `make`"
/// at the call, or for a closure (whose Rhai name changes from run to run)
/// the place it was written.
fn call_note(name: &str, at: SourcePos, main_file: &str, known: &Known) -> (SourcePos, String) {
    match known.functions.closure(name).filter(|f| f.is_closure()) {
        Some(f) => {
            let file = match &f.module {
                Some(m) => module_file(m, known.stdlib_dirs).unwrap_or_else(|| m.clone()),
                None => main_file.to_string(),
            };
            let written = SourcePos {
                file,
                line: f.line,
                col: f.col,
            };
            (written, "in the closure written here".to_string())
        }
        None => (at, format!("in the call to `{name}`")),
    }
}

/// A script-defined function called with the wrong number of arguments:
/// its parameters, from its definition, and its doc line.
fn wrong_arity(name: &str, args: usize, known: &Known) -> Option<(String, String)> {
    let (module, func) = match name.rsplit_once("::") {
        Some((m, f)) => (Some(m), f),
        None => (None, name),
    };
    let defs = known.functions.named(module, func);
    if defs.is_empty() || defs.iter().any(|f| f.params.len() == args) {
        return None;
    }
    let qualifier = module.map(|m| format!("{m}::")).unwrap_or_default();
    let forms: Vec<String> = defs
        .iter()
        .map(|f| format!("`{}`", f.call(&qualifier)))
        .collect();
    let first = &defs[0];
    let takes = |n: usize| {
        if n == 1 {
            "1 argument".to_string()
        } else {
            format!("{n} arguments")
        }
    };
    let message = format!(
        "`{name}` takes {} ({}), not {args}",
        takes(first.params.len()),
        first.params.join(", ")
    );
    let mut fix = format!("call it as {}", forms.join(" or "));
    if let Some(doc) = &first.doc {
        fix.push_str(&format!(": {doc}"));
    }
    if let Some(m) = &first.module {
        let file = module_file(m, known.stdlib_dirs).unwrap_or_else(|| m.clone());
        fix.push_str(&format!(" (defined at {file}:{})", first.line));
    }
    Some((message, fix))
}

fn describe(err: &mut EvalAltResult, known: &Known) -> (String, String) {
    let (registry, stdlib_dirs, refused) = (known.registry, known.stdlib_dirs, known.refused);
    if let Some(words) = output_ref::explain(err) {
        return words;
    }
    match err {
        EvalAltResult::ErrorRuntime(value, _) => {
            if let Some(f) = value.clone().try_cast::<Fault>() {
                return (f.message, f.fix);
            }
            (
                value.to_string(),
                "the program raised this error with `throw`".into(),
            )
        }
        EvalAltResult::ErrorFunctionNotFound(sig, _) => {
            let name = sig.split(" (").next().unwrap_or(sig).trim().to_string();
            if let Some(what) = refused.take(&name) {
                return output_ref::text_needed_words(&name, &what);
            }
            let args = sig
                .split_once(" (")
                .map(|(_, rest)| rest.trim_end_matches(')'))
                .map_or(0, |a| {
                    if a.trim().is_empty() {
                        0
                    } else {
                        a.split(", ").count()
                    }
                });
            if let Some(words) = wrong_arity(&name, args, known) {
                return words;
            }
            let builders: Vec<String> = registry.kinds().map(|k| k.replace('.', "::")).collect();
            if builders.contains(&name) || HOST_FUNCTIONS.contains(&name.as_str()) {
                return (
                    format!("wrong arguments for `{name}`: {sig}"),
                    if HOST_FUNCTIONS.contains(&name.as_str()) {
                        format!("see the README's list of functions for `{name}`'s arguments")
                    } else {
                        format!("call it as `{name}(\"purpose\", #{{ ... }})`")
                    },
                );
            }
            // A generated kind is a builder only where the program names
            // it: `awscc::sqs::qeue` is looked up among all of them.
            let generated: Vec<String> = if name.starts_with("awscc::") {
                crate::provider::awscc::kinds()
                    .iter()
                    .map(|(k, _)| k.replace('.', "::"))
                    .collect()
            } else {
                Vec::new()
            };
            let candidates = builders
                .iter()
                .chain(&generated)
                .map(String::as_str)
                .chain(HOST_FUNCTIONS.iter().copied());
            let types = sig.split_once(" (").map(|(_, t)| format!("({t}"));
            let fix = match did_you_mean(&name, candidates) {
                Some(s) => format!("did you mean `{s}`?"),
                None if !name.contains("::") && types.is_some() => {
                    return (
                        format!("`{name}` does not take {}", types.unwrap_or_default()),
                        "check the values at the caret; `type_of(x)` names the type of a value"
                            .into(),
                    );
                }
                None => "builders are named after kinds, e.g. `aws::ec2::vpc(\"main\", #{ cidr: \"10.0.0.0/16\" })`".into(),
            };
            (format!("unknown function `{name}`"), fix)
        }
        EvalAltResult::ErrorVariableNotFound(name, _) => (
            format!("`{name}` is not defined"),
            format!("declare it first with `let {name} = ...;`"),
        ),
        EvalAltResult::ErrorModuleNotFound(name, _) => (
            format!("module `{name}` not found"),
            format!(
                "stdlib modules are looked up in {}; pass --stdlib DIR for another",
                stdlib_dirs
                    .iter()
                    .map(|d| d.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ),
        EvalAltResult::ErrorTooManyOperations(_) => (
            "the program ran too long".into(),
            "a loop in the program does not end".into(),
        ),
        other => {
            let _ = other.take_position();
            (other.to_string(), "check the value at the caret".into())
        }
    }
}

const HOST_FUNCTIONS: &[&str] = &[
    "export",
    "depends_on",
    "secret_env",
    "default_tags",
    "cidr_subnet",
    "resource",
    "config",
    "plan_warning",
    "plan_error",
    "acknowledge",
    "stdlib_json",
    "stack_output",
    "needs",
    "fail",
];
