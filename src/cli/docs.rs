//! `payrun docs`: the reference of kinds and stdlib modules, as text, JSON,
//! `.d.rhai` definitions or the README's kinds table.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::check::codes::CODES;
use crate::docs::{
    KindDoc, kind_docs, kinds_table, render_kind, render_kind_list, with_kinds_table,
};
use crate::error::Error;
use crate::provider::Registry;
use crate::provider::aws::{AwsProvider, AwsSettings};
use crate::provider::k8s::helm::{HelmConfig, HelmProvider};
use crate::provider::k8s::{K8sConfig, K8sProvider};
use crate::script::reference::{module_functions, stdlib_modules, write_definitions};

use super::args::Global;
use super::config::Project;

pub struct DocsRequest<'a> {
    pub name: Option<&'a str>,
    pub json: bool,
    pub definitions: Option<&'a Path>,
    pub readme: Option<&'a Path>,
}

pub fn run(project: &Project, g: &Global, req: &DocsRequest<'_>) -> Result<i32, Error> {
    let mut docs = kind_docs();
    let mut dirs: Vec<PathBuf> = g.stdlib.clone();
    dirs.push(project.root.join("stdlib"));
    let modules = stdlib_modules(&dirs);
    if req.json {
        docs.extend(crate::docs::awscc::all());
        let text = serde_json::to_string_pretty(&docs).expect("kind docs serialize");
        println!("{text}");
        return Ok(0);
    }
    if let Some(dir) = req.definitions {
        let written = definitions(&dirs, dir)?;
        println!("wrote {written} definition files into {}", dir.display());
        return Ok(0);
    }
    if let Some(file) = req.readme {
        return readme(file, &docs);
    }
    let Some(name) = req.name else {
        println!("kinds (payrun docs KIND):");
        print!("{}", render_kind_list(&docs));
        println!("\nstdlib modules (payrun docs MODULE):");
        for name in modules.keys() {
            println!("  {name}");
        }
        println!("\nfinding codes: payrun docs findings");
        println!("every CloudFormation type through Cloud Control: payrun docs awscc");
        return Ok(0);
    };
    if name == "findings" {
        print!("{}", findings_table());
        return Ok(0);
    }
    if name == "awscc" {
        print!("{}", crate::docs::awscc::render_list());
        return Ok(0);
    }
    let kind = name.replace("::", ".");
    if let Some(g) = crate::provider::awscc::generated(&kind) {
        print!("{}", render_kind(&crate::docs::awscc::kind_doc(g)));
        print!("{}", crate::docs::awscc::render_origin(g));
        return Ok(0);
    }
    if let Some(doc) = docs.iter().find(|d| d.kind == kind) {
        print!("{}", render_kind(doc));
        return Ok(0);
    }
    if let Some(file) = modules.get(name) {
        let functions = module_functions(file).map_err(Error::Config)?;
        println!("module {name} ({})", file.display());
        for f in functions {
            println!("\n{name}::{}({})", f.name, f.params.join(", "));
            if !f.needs.is_empty() {
                let needs: Vec<String> = f.needs.iter().map(|(k, e)| format!("{k}: {e}")).collect();
                println!("    options: #{{ {} }}", needs.join(", "));
            }
            for line in f.doc.lines() {
                println!("    {line}");
            }
        }
        return Ok(0);
    }
    let generated = crate::provider::awscc::kinds();
    let known: Vec<&str> = docs
        .iter()
        .map(|d| d.kind.as_str())
        .chain(modules.keys().map(String::as_str))
        .chain(generated.iter().map(|(k, _)| *k))
        .collect();
    let hint = crate::suggest::did_you_mean(&kind, known.iter().copied())
        .map(|s| format!(" (did you mean `{s}`?)"))
        .unwrap_or_default();
    Err(Error::Config(format!(
        "no kind or stdlib module `{name}`{hint}\n  fix: `payrun docs` lists them"
    )))
}

/// The README with its kinds table regenerated.
fn readme(file: &Path, docs: &[KindDoc]) -> Result<i32, Error> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| Error::Config(format!("cannot read {}: {e}", file.display())))?;
    let updated = with_kinds_table(&text, &kinds_table(docs)).ok_or_else(|| {
        Error::Config(format!(
            "{} has no kinds table markers\n  fix: add `{}` and `{}` where the table goes",
            file.display(),
            crate::docs::README_BEGIN,
            crate::docs::README_END
        ))
    })?;
    if updated != text {
        std::fs::write(file, updated)
            .map_err(|e| Error::Config(format!("cannot write {}: {e}", file.display())))?;
    }
    Ok(0)
}

/// Each builder's doc comment in the definitions: the kind's doc line,
/// then one line per property.
fn comments(docs: &[KindDoc]) -> BTreeMap<String, Vec<String>> {
    docs.iter()
        .map(|d| {
            let mut lines = vec![d.doc.clone(), String::new()];
            for p in &d.properties {
                let need = if p.required { "required" } else { "optional" };
                let default = p
                    .default
                    .as_ref()
                    .map(|d| format!(", default {d}"))
                    .unwrap_or_default();
                lines.push(format!("* `{}`: {} ({need}{default})", p.name, p.type_name));
            }
            lines.push(String::new());
            lines.push(format!("Outputs: {}", d.outputs.join(", ")));
            (d.kind.clone(), lines)
        })
        .collect()
}

/// The providers, for their schemas only: nothing here talks to a cloud.
/// Writes the editor definitions (every builder, generated ones included,
/// the host functions and the stdlib modules of `stdlib_dirs`) into `dir`;
/// how many files.
pub fn definitions(stdlib_dirs: &[PathBuf], dir: &Path) -> Result<usize, Error> {
    let mut docs = kind_docs();
    docs.extend(crate::docs::awscc::all());
    let modules = stdlib_modules(stdlib_dirs);
    write_definitions(&registry(), &comments(&docs), &modules, dir)
        .map(|w| w.len())
        .map_err(Error::Config)
}

fn registry() -> Registry {
    Registry::new()
        .with("aws", Arc::new(AwsProvider::new(AwsSettings::default())))
        .with("k8s", Arc::new(K8sProvider::new(K8sConfig::default())))
        .with("helm", Arc::new(HelmProvider::new(HelmConfig::default())))
}

/// Every finding code, its severity and what it means.
fn findings_table() -> String {
    use crate::finding::Severity;
    let width = CODES.iter().map(|c| c.code.len()).max().unwrap_or(0);
    let mut out = String::from("finding codes (acknowledge one with --acknowledge CODE=REASON):\n");
    for c in CODES {
        let severity = match c.severities {
            [Severity::Error] => "error",
            [Severity::Warning] => "warning",
            _ => "error or warning",
        };
        out.push_str(&format!("  {:width$}  {severity:16}  {}\n", c.code, c.doc));
    }
    out
}
