//! A program does not choose which kubeconfig payrun trusts: a kubeconfig
//! can run any `exec:` credential plugin and turn off TLS verification, so
//! the file comes from the command line (`--kubeconfig`) or payrun.toml
//! (`[kube] kubeconfig`), and a `kube` map may name that file only
//! (`config().kubeconfig`).

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::error::ScriptError;
use super::recorder::Program;

pub fn check(program: &Program, granted: Option<&Path>) -> Result<(), ScriptError> {
    let canonical = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    let granted: Option<PathBuf> = granted.map(canonical);
    for spec in &program.resources {
        let Some(named) = spec
            .args
            .get("kube")
            .and_then(|c| c.get("kubeconfig"))
            .and_then(Value::as_str)
        else {
            continue;
        };
        if granted
            .as_ref()
            .is_some_and(|g| *g == canonical(Path::new(named)))
        {
            continue;
        }
        let program_file = &spec.pos.file;
        let (message, fix) = match &granted {
            None => (
                format!(
                    "{} connects through the kubeconfig {named:?}, which was not given to payrun",
                    spec.address
                ),
                format!(
                    "if you trust that file, give it on the command line: payrun plan {program_file} --kubeconfig {named} (or set `kubeconfig` under [kube] in payrun.toml), and write `kubeconfig: config().kubeconfig` in the program"
                ),
            ),
            Some(g) => (
                format!(
                    "{} connects through the kubeconfig {named:?}, but payrun was given {}",
                    spec.address,
                    g.display()
                ),
                "write `kubeconfig: config().kubeconfig` in the `kube` map".to_string(),
            ),
        };
        return Err(ScriptError::new(Some(spec.pos.clone()), message, fix));
    }
    Ok(())
}
