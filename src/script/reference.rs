//! What the script surface offers, for the reference: a stdlib module's
//! functions with their doc comments, and `.d.rhai` definitions of the
//! builders, the host functions and the stdlib modules.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::{Path, PathBuf};

use rhai::{Dynamic, Engine, FnAccess, FnNamespace, FuncRegistration, ImmutableString, Module};

use crate::provider::Registry;

use super::confinement::Confinement;
use super::engine::{EngineInputs, create_engine};
use super::functions::Functions;
use super::output_ref::RefusedCalls;
use super::recorder::Recorder;

/// A public function of a stdlib module.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct FunctionDoc {
    pub name: String,
    pub params: Vec<String>,
    /// The `///` comment above it, without the slashes.
    pub doc: String,
    /// The options it takes (`needs(opts, #{ ... })`), with their examples:
    /// an optional one ends in `?`, a nested one is `quota.cpu`.
    pub needs: Vec<(String, String)>,
}

/// The stdlib modules in `dirs` (the first directory that has a module
/// wins, as for `import`): name → file.
pub fn stdlib_modules(dirs: &[PathBuf]) -> BTreeMap<String, PathBuf> {
    let mut modules = BTreeMap::new();
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "rhai")
                && let Some(name) = path.file_stem().and_then(|s| s.to_str())
            {
                modules.entry(name.to_string()).or_insert(path);
            }
        }
    }
    modules
}

/// The public functions of the module in `file`, in source order.
pub fn module_functions(file: &Path) -> Result<Vec<FunctionDoc>, String> {
    let source = std::fs::read_to_string(file)
        .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    // The evaluating engine's limits: stdlib modules nest deeper than
    // Rhai's defaults allow.
    let mut engine = Engine::new();
    engine.set_max_expr_depths(128, 64);
    let ast = engine
        .compile(&source)
        .map_err(|e| format!("{}: {e}", file.display()))?;
    let mut functions: Vec<FunctionDoc> = ast
        .iter_functions()
        .filter(|f| f.access == FnAccess::Public && !f.name.starts_with("anon$"))
        .map(|f| FunctionDoc {
            name: f.name.to_string(),
            params: f.params.iter().map(|p| p.to_string()).collect(),
            doc: doc_text(&f.comments),
            needs: needed_options(&source, f.name),
        })
        .collect();
    functions.sort_by_key(|f| {
        source
            .find(&format!("fn {}(", f.name))
            .unwrap_or(usize::MAX)
    });
    Ok(functions)
}

/// The options `name` declares with `needs(opts, #{ key: `example`,
/// "optional?": ..., nested: #{ ... } })` in its body, read from the source
/// (examples are Rhai code in backticks).
fn needed_options(source: &str, name: &str) -> Vec<(String, String)> {
    let Some(start) = source.find(&format!("\nfn {name}(")) else {
        return Vec::new();
    };
    let body = &source[start..];
    let body = &body[..body.find("\n}\n").unwrap_or(body.len())];
    super::options::declared_in_source(body)
}

/// `/// line` comments (or a `/** */` block) as plain text.
fn doc_text(comments: &[&str]) -> String {
    comments
        .iter()
        .flat_map(|c| c.lines())
        .map(|l| {
            let l = l.trim();
            let l = l
                .strip_prefix("///")
                .or_else(|| l.strip_prefix("/**"))
                .unwrap_or(l);
            let l = l.strip_suffix("*/").unwrap_or(l);
            l.strip_prefix(' ').unwrap_or(l).trim_end()
        })
        .collect::<Vec<_>>()
        .join("\n")
        .trim()
        .to_string()
}

/// Write `.d.rhai` files into `dir`: the builders (each documented with
/// `kind_docs[kind]`, one comment line per entry), the host functions, and
/// one `NAME.stdlib.d.rhai` per stdlib module. Returns the files written.
pub fn write_definitions(
    registry: &Registry,
    kind_docs: &BTreeMap<String, Vec<String>>,
    stdlib: &BTreeMap<String, PathBuf>,
    dir: &Path,
) -> Result<Vec<PathBuf>, String> {
    let recorder = Recorder::new("", "", "definitions", &[]);
    let confinement = Confinement::new(Path::new("definitions.rhai"), &[]);
    let refused = RefusedCalls::default();
    let functions = Functions::default();
    let mut engine = create_engine(EngineInputs {
        recorder: &recorder,
        registry,
        generated: &[],
        config: Dynamic::UNIT,
        confinement: &confinement,
        secret_env: &[],
        stack_outputs: None,
        refused: &refused,
        functions: &functions,
        ahead: &Default::default(),
    });
    for (name, module) in documented_builders(registry, kind_docs) {
        engine.register_static_module(name, module.into());
    }
    let io = |e: std::io::Error| format!("cannot write definitions into {}: {e}", dir.display());
    std::fs::create_dir_all(dir).map_err(io)?;
    let mut written = Vec::new();
    for (file, content) in engine.definitions().iter_files() {
        let path = dir.join(file);
        std::fs::write(&path, content).map_err(io)?;
        written.push(path);
    }
    for (name, file) in stdlib {
        let mut text = format!("module {name};\n");
        for f in module_functions(file)? {
            text.push('\n');
            for line in f.doc.lines() {
                let _ = writeln!(text, "/// {line}");
            }
            for (key, example) in &f.needs {
                let line = match key.strip_suffix('?') {
                    Some(key) => format!("/// takes `opts.{key}` (optional), e.g. `{example}`"),
                    None => format!("/// needs `opts.{key}`, e.g. `{example}`"),
                };
                let _ = writeln!(text, "{line}");
            }
            let _ = writeln!(text, "fn {}({});", f.name, f.params.join(", "));
        }
        // `k8s` is both a builder namespace and a stdlib module: the stdlib
        // files carry their own suffix so neither overwrites the other.
        let path = dir.join(format!("{name}.stdlib.d.rhai"));
        std::fs::write(&path, text).map_err(io)?;
        written.push(path);
    }
    Ok(written)
}

/// The builder modules with signatures and doc comments; the functions
/// themselves never run.
fn documented_builders(
    registry: &Registry,
    kind_docs: &BTreeMap<String, Vec<String>>,
) -> BTreeMap<String, Module> {
    #[derive(Default)]
    struct Node {
        module: Module,
        children: BTreeMap<String, Node>,
    }
    fn into_module(node: Node) -> Module {
        let mut m = node.module;
        for (name, child) in node.children {
            m.set_sub_module(name, into_module(child));
        }
        m
    }
    let mut root = Node::default();
    // The generated kinds documented (`payrun docs --definitions` documents
    // them all), besides the registry's own.
    let generated = kind_docs
        .keys()
        .filter_map(|k| crate::provider::awscc::generated(k))
        .map(|g| &g.schema);
    for schema in registry.schemas().chain(generated) {
        let (path, func) = schema.script_path();
        let mut node = &mut root;
        for seg in path {
            node = node.children.entry(seg.to_string()).or_default();
        }
        let comments: Vec<String> = kind_docs
            .get(schema.kind)
            .map(|lines| lines.iter().map(|l| format!("/// {l}")).collect())
            .unwrap_or_else(|| vec![format!("/// {}", schema.doc)]);
        FuncRegistration::new(func)
            .with_namespace(FnNamespace::Internal)
            .with_params_info(["purpose: String", "args: Map", "Resource"])
            .with_comments(&comments)
            .set_into_module(&mut node.module, |_: ImmutableString, _: rhai::Map| {
                Dynamic::UNIT
            });
        FuncRegistration::new(func)
            .with_namespace(FnNamespace::Internal)
            .with_params_info(["purpose: String", "Resource"])
            .with_comments(&comments)
            .set_into_module(&mut node.module, |_: ImmutableString| Dynamic::UNIT);
    }
    root.children
        .into_iter()
        .map(|(name, node)| (name, into_module(node)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every stdlib function that takes an options map declares exactly
    /// the options it reads: one read but not declared would be refused
    /// when given, one declared but never read would be silently dropped.
    /// The options `name`'s body reads (`opts.x`), with those of the
    /// private helpers it hands its `opts` to (`cluster_args(opts)`).
    fn options_read(source: &str, name: &str) -> Vec<String> {
        let start = [format!("\nfn {name}("), format!("\nprivate fn {name}(")]
            .iter()
            .find_map(|head| source.find(head.as_str()))
            .unwrap_or_else(|| panic!("no fn {name}"));
        let body = &source[start + 1..];
        let body = &body[..body.find("\n}\n").unwrap_or(body.len())];
        let word = |s: &str| -> String {
            s.chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect()
        };
        let mut read: Vec<String> = body
            .match_indices("opts.")
            .map(|(i, _)| word(&body[i + 5..]))
            .collect();
        for (i, _) in body.match_indices("(opts)") {
            let callee: String = word(&body[..i].chars().rev().collect::<String>())
                .chars()
                .rev()
                .collect();
            if !callee.is_empty() && callee != name {
                read.extend(options_read(source, &callee));
            }
        }
        read
    }

    #[test]
    fn stdlib_functions_declare_exactly_the_options_they_read() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("stdlib");
        let mut checked = 0;
        for (module, file) in stdlib_modules(&[dir]) {
            let source = std::fs::read_to_string(&file).unwrap();
            for f in module_functions(&file).unwrap() {
                if f.params.last().map(String::as_str) != Some("opts") {
                    continue;
                }
                let mut read = options_read(&source, &f.name);
                read.sort();
                read.dedup();
                let mut declared: Vec<String> = f
                    .needs
                    .iter()
                    .map(|(k, _)| k.trim_end_matches('?').to_string())
                    .collect();
                declared.sort();
                assert_eq!(declared, read, "{module}::{} ({})", f.name, file.display());
                checked += 1;
            }
        }
        assert!(checked > 20, "only {checked} functions checked");
    }

    #[test]
    fn doc_comments_lose_their_slashes() {
        assert_eq!(
            doc_text(&["/// A VPC.", "///", "/// With subnets."]),
            "A VPC.\n\nWith subnets."
        );
    }
}
