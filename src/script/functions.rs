//! `Functions`: what the program and its modules define (functions and
//! closures), kept so that messages can name a function's parameters, its
//! doc line and where a closure was written.

use std::sync::{Arc, Mutex};

use rhai::AST;

/// One script-defined function or closure.
#[derive(Clone, Debug)]
pub struct Function {
    /// The import path of its module; `None` for the program itself.
    pub module: Option<String>,
    pub name: String,
    pub params: Vec<String>,
    /// The first line of its `///` comment.
    pub doc: Option<String>,
    pub line: usize,
    pub col: usize,
}

impl Function {
    /// `network::vpc(name, opts)`.
    pub fn call(&self, qualifier: &str) -> String {
        format!("{qualifier}{}({})", self.name, self.params.join(", "))
    }

    /// Rhai names a closure `anon$` and a hash that changes from run to run.
    pub fn is_closure(&self) -> bool {
        self.name.starts_with("anon$")
    }
}

/// Shared by the engine's module resolver and the error messages.
#[derive(Clone, Default)]
pub struct Functions(Arc<Mutex<Vec<Function>>>);

impl Functions {
    pub fn add(&self, module: Option<&str>, ast: &AST) {
        let mut all = self.0.lock().expect("functions");
        for f in ast.iter_fn_def() {
            let start = f.body.start_position();
            all.push(Function {
                module: module.map(str::to_string),
                name: f.name.to_string(),
                params: f.params.iter().map(ToString::to_string).collect(),
                doc: f
                    .comments
                    .iter()
                    .flat_map(|c| c.lines())
                    .map(|l| l.trim_start_matches('/').trim_start_matches('*').trim())
                    .find(|l| !l.is_empty())
                    .map(str::to_string),
                line: start.line().unwrap_or(0),
                col: start.position().unwrap_or(0),
            });
        }
    }

    /// The definitions of `name` in `module` (the program's when `None`).
    pub fn named(&self, module: Option<&str>, name: &str) -> Vec<Function> {
        let all = self.0.lock().expect("functions");
        let mine: Vec<Function> = all
            .iter()
            .filter(|f| f.name == name && f.module.as_deref() == module)
            .cloned()
            .collect();
        if !mine.is_empty() || module.is_none() {
            return mine;
        }
        // Imported under another name (`import "network" as net;`): the
        // one module that defines it.
        let elsewhere: Vec<&Function> = all
            .iter()
            .filter(|f| f.name == name && f.module.is_some())
            .collect();
        match elsewhere.as_slice() {
            [first, rest @ ..] if rest.iter().all(|f| f.module == first.module) => {
                elsewhere.into_iter().cloned().collect()
            }
            _ => Vec::new(),
        }
    }

    pub fn closure(&self, name: &str) -> Option<Function> {
        self.0
            .lock()
            .expect("functions")
            .iter()
            .find(|f| f.name == name)
            .cloned()
    }
}
