//! `Confinement`: the files a program may read through `import` and
//! `stdlib_json`, and the module resolver that enforces it.
//!
//! A program under review must not reach the host: every file is resolved
//! to its real path (symlinks followed, `..` folded) and read only when
//! that path lies under the program's directory or a stdlib directory
//! (the project's `stdlib`, each `--stdlib DIR`). An absolute path, a `..`
//! out or a symlink pointing out is a script error at the line.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rhai::module_resolvers::ModuleResolver;
use rhai::{Engine, EvalAltResult, Module, Position, Scope, Shared};

use super::functions::Functions;
use super::recorder::fault;

#[derive(Clone, Debug)]
pub struct Confinement {
    /// Searched in order for `import "name"` and `stdlib_json("file")`.
    search: Vec<PathBuf>,
    /// Real paths of the directories files may come from.
    roots: Vec<PathBuf>,
}

impl Confinement {
    /// Files come from `search` and from the directory of `program`.
    pub fn new(program: &Path, search: &[PathBuf]) -> Self {
        let program_dir = match program.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let mut roots: Vec<PathBuf> = Vec::new();
        for dir in search.iter().chain([&program_dir]) {
            if let Ok(real) = dir.canonicalize()
                && !roots.contains(&real)
            {
                roots.push(real);
            }
        }
        Self {
            search: search.to_vec(),
            roots,
        }
    }

    pub fn search_dirs(&self) -> &[PathBuf] {
        &self.search
    }

    /// The first file `relative` names in the search directories, as its
    /// real path; `Ok(None)` when there is none. `what` is the call as the
    /// program wrote it, for the error.
    pub fn find(
        &self,
        relative: &Path,
        what: &str,
        pos: Position,
    ) -> Result<Option<PathBuf>, Box<EvalAltResult>> {
        let Some(file) = self
            .search
            .iter()
            .map(|d| d.join(relative))
            .find(|p| p.is_file())
        else {
            return Ok(None);
        };
        let real = file.canonicalize().map_err(|e| {
            fault(
                format!("{what}: cannot resolve {}: {e}", file.display()),
                "check the file",
                pos,
            )
        })?;
        if !self.roots.iter().any(|root| real.starts_with(root)) {
            return Err(fault(
                format!(
                    "{what} reads {}, outside the directories a program may read ({})",
                    real.display(),
                    self.roots_text()
                ),
                "move the file under one of those directories, or pass `--stdlib DIR` for the directory that holds it",
                pos,
            ));
        }
        Ok(Some(real))
    }

    fn roots_text(&self) -> String {
        self.roots
            .iter()
            .map(|d| d.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// `import "name"`: `name.rhai` in the first search directory that has it,
/// read only from inside the confinement. Modules are named by their import
/// path, as Rhai's file resolver names them, and compiled once.
pub struct ConfinedResolver {
    confinement: Confinement,
    functions: Functions,
    cache: Mutex<HashMap<PathBuf, Shared<Module>>>,
}

impl ConfinedResolver {
    pub fn new(confinement: Confinement, functions: Functions) -> Self {
        Self {
            confinement,
            functions,
            cache: Mutex::default(),
        }
    }
}

impl ModuleResolver for ConfinedResolver {
    fn resolve(
        &self,
        engine: &Engine,
        _source: Option<&str>,
        path: &str,
        pos: Position,
    ) -> Result<Shared<Module>, Box<EvalAltResult>> {
        let what = format!("import \"{path}\"");
        // As Rhai's file resolver: the extension is always `.rhai`.
        let relative = Path::new(path).with_extension("rhai");
        let Some(file) = self.confinement.find(&relative, &what, pos)? else {
            return Err(Box::new(EvalAltResult::ErrorModuleNotFound(
                path.to_string(),
                pos,
            )));
        };
        if let Some(module) = self.cache.lock().expect("module cache").get(&file) {
            return Ok(module.clone());
        }
        let in_module = |err| Box::new(EvalAltResult::ErrorInModule(path.to_string(), err, pos));
        let mut ast = engine.compile_file(file.clone()).map_err(in_module)?;
        ast.set_source(path);
        self.functions.add(Some(path), &ast);
        let module: Shared<Module> = Module::eval_ast_as_new(Scope::new(), &ast, engine)
            .map_err(in_module)?
            .into();
        self.cache
            .lock()
            .expect("module cache")
            .insert(file, module.clone());
        Ok(module)
    }
}
