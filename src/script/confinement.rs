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
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use rhai::module_resolvers::ModuleResolver;
use rhai::{AST, Engine, EvalAltResult, Module, Position, Scope, Shared};

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
    ahead: Ahead,
    cache: Mutex<HashMap<PathBuf, Shared<Module>>>,
}

impl ConfinedResolver {
    pub fn new(confinement: Confinement, functions: Functions, ahead: Ahead) -> Self {
        Self {
            confinement,
            functions,
            ahead,
            cache: Mutex::default(),
        }
    }
}

/// Modules parsed ahead of their `import`, on the other core: parsing the
/// stdlib is a quarter of the payment platform's run (about 4 ms of
/// 15), and the program's first statements import it all. The program's
/// thread parses from the first import on, [`Ahead::parse_imports`] from
/// the last back, and they meet halfway; a module either has parsed is not
/// parsed again. What a module means does not change: the same engine
/// parses the same file, and its errors are the resolver's as before.
#[derive(Clone, Default)]
pub struct Ahead(Arc<Mutex<HashMap<PathBuf, Arc<Mutex<Slot>>>>>);

enum Slot {
    NotYet,
    Parsed(Result<AST, Box<EvalAltResult>>),
    Taken,
}

impl Ahead {
    fn slot(&self, file: &Path) -> Arc<Mutex<Slot>> {
        let mut slots = self.0.lock().expect("modules ahead");
        match slots.get(file) {
            Some(slot) => slot.clone(),
            None => slots
                .entry(file.to_path_buf())
                .or_insert_with(|| Arc::new(Mutex::new(Slot::NotYet)))
                .clone(),
        }
    }

    /// `file` parsed: by the other thread (waiting for it if it is at it
    /// now), or here.
    fn take(&self, engine: &Engine, file: &Path) -> Result<AST, Box<EvalAltResult>> {
        let slot = self.slot(file);
        let mut slot = slot.lock().expect("a module ahead");
        match std::mem::replace(&mut *slot, Slot::Taken) {
            Slot::Parsed(parsed) => parsed,
            Slot::NotYet | Slot::Taken => engine.compile_file(file.to_path_buf()),
        }
    }

    /// Parses the modules `source` imports by a literal path, and those
    /// they import in turn, last first, passing over any the program's
    /// thread has taken or is parsing; stops between modules once `stop`
    /// is set. A path the confinement refuses is left to the resolver,
    /// which reports it at its `import`.
    pub fn parse_imports(
        &self,
        engine: &Engine,
        confinement: &Confinement,
        source: &str,
        stop: &AtomicBool,
    ) {
        let mut files: Vec<PathBuf> = Vec::new();
        let mut texts: Vec<String> = vec![source.to_string()];
        while let Some(text) = texts.pop() {
            for path in literal_imports(&text) {
                let relative = Path::new(path).with_extension("rhai");
                if let Ok(Some(file)) = confinement.find(&relative, "", Position::NONE)
                    && !files.contains(&file)
                {
                    if let Ok(text) = std::fs::read_to_string(&file) {
                        texts.push(text);
                    }
                    files.push(file);
                }
            }
        }
        for file in files.iter().rev() {
            if stop.load(Ordering::Relaxed) {
                return;
            }
            let slot = self.slot(file);
            // Held by the program's thread: it is parsing this one.
            let Ok(mut slot) = slot.try_lock() else {
                continue;
            };
            if matches!(*slot, Slot::NotYet) {
                *slot = Slot::Parsed(engine.compile_file(file.clone()));
            }
        }
    }
}

/// The paths of `import "path"` statements in `text`, in order: what the
/// module resolver will be asked for, unless the import is computed.
fn literal_imports(text: &str) -> Vec<&str> {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut out = Vec::new();
    for (at, _) in text.match_indices("import") {
        if text[..at].chars().next_back().is_some_and(word) {
            continue;
        }
        let rest = text[at + "import".len()..].trim_start();
        if let Some(quoted) = rest.strip_prefix('"')
            && let Some(end) = quoted.find(['"', '\\', '\n'])
            && quoted[end..].starts_with('"')
        {
            out.push(&quoted[..end]);
        }
    }
    out
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
        let mut ast = self.ahead.take(engine, &file).map_err(in_module)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_imports_are_the_quoted_paths_of_import_statements() {
        let text = r#"import "network" as net;
import   "a/b" as ab; let reimport = 1; reimport "nope";
import name as computed;
import "esc\"aped" as e;
let s = "x"; // import "commented" as c
"#;
        // A commented import is listed too: parsing it ahead costs a
        // parse, and the resolver still decides what is imported.
        assert_eq!(literal_imports(text), vec!["network", "a/b", "commented"]);
    }

    fn project(files: &[(&str, &str)]) -> (tempfile::TempDir, Confinement) {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        let confinement = Confinement::new(&dir.path().join("main.rhai"), &[dir.path().into()]);
        (dir, confinement)
    }

    fn real(dir: &Path, name: &str) -> PathBuf {
        dir.join(name).canonicalize().unwrap()
    }

    /// The functions of `name` as `ahead` gives it to the resolver.
    fn taken_functions(ahead: &Ahead, engine: &Engine, dir: &Path, name: &str) -> Vec<String> {
        let ast = ahead.take(engine, &real(dir, name)).unwrap();
        ast.iter_functions().map(|f| f.name.to_string()).collect()
    }

    #[test]
    fn a_module_parsed_ahead_is_taken_as_parsed_and_its_error_kept_for_the_import() {
        let (dir, confinement) = project(&[
            ("a.rhai", r#"import "b" as b; fn one() { 1 }"#),
            ("b.rhai", "fn two() { 2 "),
        ]);
        let engine = Engine::new();
        let ahead = Ahead::default();
        let stop = AtomicBool::new(false);
        ahead.parse_imports(&engine, &confinement, r#"import "a" as a;"#, &stop);
        // Changed on disk after the parse: what is taken is what was
        // parsed ahead, `a` by the import found in the program and `b`
        // by the one found in `a`.
        std::fs::write(dir.path().join("a.rhai"), "fn changed() {}").unwrap();
        let names = taken_functions(&ahead, &engine, dir.path(), "a.rhai");
        assert_eq!(names, ["one"]);
        let b = ahead.take(&engine, &real(dir.path(), "b.rhai"));
        assert!(
            b.is_err(),
            "the parse error is kept for the import to report"
        );
        // Taken once: a second take parses the file as it is now.
        let names = taken_functions(&ahead, &engine, dir.path(), "a.rhai");
        assert_eq!(names, ["changed"]);
    }

    #[test]
    fn once_stopped_nothing_more_is_parsed_ahead() {
        let (dir, confinement) = project(&[("a.rhai", "fn one() { 1 }")]);
        let engine = Engine::new();
        let ahead = Ahead::default();
        let stop = AtomicBool::new(true);
        ahead.parse_imports(&engine, &confinement, r#"import "a" as a;"#, &stop);
        std::fs::write(dir.path().join("a.rhai"), "fn changed() {}").unwrap();
        let names = taken_functions(&ahead, &engine, dir.path(), "a.rhai");
        assert_eq!(names, ["changed"]);
    }

    #[test]
    fn a_path_out_of_the_confinement_is_not_read_ahead() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret.rhai"), "fn s() {}").unwrap();
        let (dir, confinement) = project(&[]);
        std::os::unix::fs::symlink(
            outside.path().join("secret.rhai"),
            dir.path().join("s.rhai"),
        )
        .unwrap();
        let engine = Engine::new();
        let ahead = Ahead::default();
        ahead.parse_imports(
            &engine,
            &confinement,
            r#"import "s" as s;"#,
            &AtomicBool::new(false),
        );
        assert!(
            ahead.0.lock().unwrap().is_empty(),
            "nothing was parsed or queued"
        );
    }
}
