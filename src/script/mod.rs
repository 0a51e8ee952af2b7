//! Script: runs a Rhai program and records what it declares. No Rhai type
//! leaves this module.

mod cidr;
mod confinement;
mod engine;
mod error;
mod handle;
mod recorder;
mod secret_env;

use std::path::{Path, PathBuf};

use rhai::{EvalAltResult, ParseError, ParseErrorType, Position, Scope};
use serde_json::{Map, Value, json};

use crate::provider::Registry;
use crate::suggest::did_you_mean;

pub use cidr::cidr_subnet;
pub use error::{ScriptError, SourcePos};
pub use recorder::{AcknowledgedBy, Acknowledgement, Export, Program, ResourceSpec};
pub use secret_env::secret_env_refusal;

use recorder::{Fault, Recorder};

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
}

/// Run the program at `path`.
pub fn evaluate(
    path: &Path,
    registry: &Registry,
    config: &ScriptConfig,
) -> Result<Program, ScriptError> {
    let file = path.display().to_string();
    let source = std::fs::read_to_string(path).map_err(|e| {
        ScriptError::new(
            None,
            format!("cannot read program {file}: {e}"),
            "check the path; the default program is `program` in payrun.toml",
        )
    })?;
    let recorder = Recorder::new(&config.suffix, &config.stack, &file, &config.stdlib_dirs);
    let config_value = rhai::serde::to_dynamic(json!({
        "suffix": config.suffix,
        "region": config.region,
        "stack": config.stack,
        "vars": config.vars,
    }))
    .expect("config converts");
    let confinement = confinement::Confinement::new(path, &config.stdlib_dirs);
    let engine = engine::create_engine(
        &recorder,
        registry,
        config_value.clone(),
        &confinement,
        &config.secret_env,
    );
    let mut scope = Scope::new();
    scope.push_constant("config", config_value);
    let mut ast = engine
        .compile_with_scope(&scope, &source)
        .map_err(|e| parse_error(&e, &file))?;
    ast.set_source(file.as_str());
    engine
        .run_ast_with_scope(&mut scope, &ast)
        .map_err(|e| runtime_error(*e, &file, registry, &config.stdlib_dirs))?;
    let mut program = recorder.finish(|k| registry.schema(k));
    program.region = config.region.clone();
    program
        .acknowledged
        .extend(config.acknowledged.iter().cloned());
    Ok(program)
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
        ParseErrorType::VariableUndefined(name) => {
            format!(
                "declare it first with `let {name} = ...;` (or use `config.vars.{name}` for a --var)"
            )
        }
        ParseErrorType::MissingToken(token, what) => format!("add `{token}` {what}"),
        ParseErrorType::ModuleUndefined(name) => {
            format!("import it first: `import \"{name}\" as {name};`")
        }
        _ => "check the syntax at the caret".to_string(),
    };
    ScriptError::new(pos_in(file, e.position()), e.err_type().to_string(), fix)
}

fn runtime_error(
    err: EvalAltResult,
    main_file: &str,
    registry: &Registry,
    stdlib_dirs: &[PathBuf],
) -> ScriptError {
    let mut file = main_file.to_string();
    let mut calls: Vec<(SourcePos, String)> = Vec::new();
    let mut err = err;
    loop {
        match err {
            EvalAltResult::ErrorInFunctionCall(name, src, inner, pos) => {
                if let Some(p) = pos_in(&file, pos) {
                    calls.push((p, format!("in the call to `{name}`")));
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
    let pos = pos_in(&file, err.position());
    let (message, fix) = describe(&mut err, registry, stdlib_dirs);
    let mut out = ScriptError::new(pos, message, fix);
    calls.reverse();
    out.related = calls;
    out
}

/// The file `import "name"` loads, relative to the working directory when
/// it lies under it (`stdlib/k8s.rhai`).
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

fn describe(
    err: &mut EvalAltResult,
    registry: &Registry,
    stdlib_dirs: &[PathBuf],
) -> (String, String) {
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
            let candidates = builders
                .iter()
                .map(String::as_str)
                .chain(HOST_FUNCTIONS.iter().copied());
            let fix = match did_you_mean(&name, candidates) {
                Some(s) => format!("did you mean `{s}`?"),
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
];
