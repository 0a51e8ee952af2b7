//! `payrun test`: the `*_test.rhai` files next to programs and stdlib
//! modules. A test plans programs offline (`run`), against an empty or a
//! given recorded state, with mocked outputs where a ref's value matters
//! (`mock`), and asserts on the plan in Rhai (`expect`, `expect_finding`,
//! `expect_no_errors`). No cloud call is made; nothing is written but the
//! JUnit report asked for.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rhai::{
    Array, Dynamic, Engine, EvalAltResult, ImmutableString, Map as RhaiMap, NativeCallContext,
    Position,
};
use serde_json::{Map, Value};

use super::args::Global;
use super::config::{Project, Resolved};
use crate::error::Error;
use crate::finding::Severity;
use crate::plan::{Mode, Plan, PlanOptions, make_plan};
use crate::state::{StackKey, State};

/// A plan as a test sees it.
#[derive(Clone)]
pub struct TestPlan(Arc<Plan>);

impl TestPlan {
    fn change_maps(&self, pattern: Option<&str>) -> Array {
        self.0
            .changes
            .iter()
            .filter(|c| {
                pattern.is_none_or(|p| crate::plan::protect::address_matches(p, &c.address))
            })
            .map(|c| {
                let mut m = Map::new();
                m.insert("address".into(), Value::String(c.address.to_string()));
                m.insert("kind".into(), Value::String(c.address.kind().to_string()));
                m.insert("name".into(), Value::String(c.name.clone()));
                m.insert(
                    "action".into(),
                    serde_json::to_value(c.action).unwrap_or(Value::Null),
                );
                m.insert(
                    "args".into(),
                    c.after.as_deref().cloned().unwrap_or(Value::Null),
                );
                to_dynamic(&Value::Object(m))
            })
            .collect()
    }

    fn finding_maps(&self, code: Option<&str>, severity: Option<Severity>) -> Array {
        self.0
            .findings
            .iter()
            .filter(|f| code.is_none_or(|c| f.code == c))
            .filter(|f| severity.is_none_or(|s| f.severity == s))
            .map(|f| to_dynamic(&serde_json::to_value(f).unwrap_or(Value::Null)))
            .collect()
    }
}

fn to_dynamic(v: &Value) -> Dynamic {
    rhai::serde::to_dynamic(v).unwrap_or(Dynamic::UNIT)
}

fn from_dynamic(d: &Dynamic) -> Value {
    rhai::serde::from_dynamic(d).unwrap_or(Value::Null)
}

/// One test case's outcome.
#[derive(Debug)]
pub struct Case {
    pub file: PathBuf,
    pub name: String,
    pub failures: Vec<String>,
    pub time: Duration,
}

/// What a running case has: its mocks, its last plan, its failures.
#[derive(Default)]
struct Running {
    mocks: Vec<(String, Map<String, Value>)>,
    last: Option<TestPlan>,
    failures: Vec<String>,
}

struct Ctx {
    project: Project,
    global: Global,
    rt: tokio::runtime::Runtime,
    /// The test file's directory: programs are found there first.
    dir: PathBuf,
    file: PathBuf,
    running: Mutex<Running>,
}

fn fault(message: String, pos: Position) -> Box<EvalAltResult> {
    Box::new(EvalAltResult::ErrorRuntime(message.into(), pos))
}

impl Ctx {
    fn at(&self, pos: Position) -> String {
        let shown = self
            .file
            .strip_prefix(&self.project.root)
            .unwrap_or(&self.file)
            .display()
            .to_string();
        match (pos.line(), pos.position()) {
            (Some(l), Some(c)) => format!("{shown}:{l}:{c}"),
            (Some(l), None) => format!("{shown}:{l}"),
            _ => shown,
        }
    }

    /// The source line of `pos`, trimmed.
    fn line(&self, pos: Position) -> String {
        let text = std::fs::read_to_string(&self.file).unwrap_or_default();
        pos.line()
            .and_then(|l| text.lines().nth(l - 1))
            .map(|l| l.trim().to_string())
            .unwrap_or_default()
    }

    fn fail(&self, pos: Position, what: String) {
        let line = self.line(pos);
        self.running
            .lock()
            .expect("running")
            .failures
            .push(format!("{}: {what}\n    {line}", self.at(pos)));
    }

    fn program_path(&self, program: &str) -> PathBuf {
        let near = self.dir.join(program);
        if near.exists() {
            near
        } else {
            self.project.root.join(program)
        }
    }

    /// Plan `program` offline as `opts` say: `vars`, `suffix`,
    /// `acknowledge` (code → reason), `state` (a state file to plan
    /// against; default none).
    fn run(
        &self,
        program: &Path,
        opts: &RhaiMap,
        pos: Position,
    ) -> Result<TestPlan, Box<EvalAltResult>> {
        let opts = from_dynamic(&Dynamic::from_map(opts.clone()));
        let known = ["vars", "suffix", "acknowledge", "state", "region"];
        if let Value::Object(o) = &opts
            && let Some(k) = o.keys().find(|k| !known.contains(&k.as_str()))
        {
            return Err(fault(
                format!("run: no option `{k}`; it takes {}", known.join(", ")),
                pos,
            ));
        }
        let mut global = self.global.clone();
        if let Some(s) = opts.get("suffix").and_then(Value::as_str) {
            global.suffix = Some(s.to_string());
        }
        if let Some(s) = opts.get("region").and_then(Value::as_str) {
            global.region = Some(s.to_string());
        }
        if let Some(Value::Object(vars)) = opts.get("vars") {
            for (k, v) in vars {
                global.vars.push(format!("{k}={v}"));
            }
        }
        if let Some(Value::Object(acks)) = opts.get("acknowledge") {
            for (k, v) in acks {
                global
                    .acknowledge
                    .push(format!("{k}={}", v.as_str().unwrap_or_default()));
            }
        }
        let r = Resolved::new(&self.project, &global, Some(program))
            .map_err(|e| fault(e.to_string(), pos))?;
        let state = match opts.get("state").and_then(Value::as_str) {
            Some(file) => {
                let path = self.program_path(file);
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| fault(format!("run: state {}: {e}", path.display()), pos))?;
                serde_json::from_str::<State>(&text).map_err(|e| {
                    fault(
                        format!("run: state {}: not a payrun state: {e}", path.display()),
                        pos,
                    )
                })?
            }
            None => State::new(&r.stack),
        };
        let registry = super::commands::registry(&r);
        let (graph, program) =
            super::commands::evaluate(&r, &registry).map_err(|e| fault(e.to_string(), pos))?;
        let mocks = self.running.lock().expect("running").mocks.clone();
        let key = StackKey::from_bytes([0; 32]);
        let mut plan = self
            .rt
            .block_on(make_plan(
                Some((&graph, &program)),
                &state,
                &key,
                &registry,
                &r.suffix,
                PlanOptions {
                    mode: Mode::Apply,
                    refresh: false,
                    replace: Vec::new(),
                    mocks,
                },
            ))
            .map_err(|e| fault(e.to_string(), pos))?;
        crate::check::review(&mut plan, &graph, &program, &registry)
            .map_err(|e| fault(e.to_string(), pos))?;
        let plan = TestPlan(Arc::new(plan));
        self.running.lock().expect("running").last = Some(plan.clone());
        Ok(plan)
    }

    fn last(&self, what: &str, pos: Position) -> Result<TestPlan, Box<EvalAltResult>> {
        self.running
            .lock()
            .expect("running")
            .last
            .clone()
            .ok_or_else(|| {
                fault(
                    format!("{what}: no plan yet: call run(program, #{{}}) first"),
                    pos,
                )
            })
    }
}

/// A program written by a test, in a directory of its own under the
/// system's temporary one (removed after its run).
fn scratch(source: &str) -> Result<PathBuf, String> {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let dir = std::env::temp_dir().join(format!("payrun-test-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let path = dir.join("program.rhai");
    std::fs::write(&path, source).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(path)
}

fn engine(ctx: &Arc<Ctx>) -> Engine {
    let mut engine = Engine::new();
    // Tests nest closures in maps in functions deeper than the default
    // limits (64, and 32 in functions) allow.
    engine.set_max_expr_depths(256, 256);
    engine
        .register_type_with_name::<TestPlan>("Plan")
        .register_fn("changes", |p: &mut TestPlan| p.change_maps(None))
        .register_fn("changes", |p: &mut TestPlan, pattern: ImmutableString| {
            p.change_maps(Some(&pattern))
        })
        .register_fn("findings", |p: &mut TestPlan| p.finding_maps(None, None))
        .register_fn("findings", |p: &mut TestPlan, code: ImmutableString| {
            p.finding_maps(Some(&code), None)
        })
        .register_fn("errors", |p: &mut TestPlan| {
            p.finding_maps(None, Some(Severity::Error))
        })
        .register_fn("warnings", |p: &mut TestPlan| {
            p.finding_maps(None, Some(Severity::Warning))
        })
        .register_fn("resource", |p: &mut TestPlan, address: ImmutableString| {
            p.0.changes
                .iter()
                .find(|c| c.address.as_str() == address.as_str())
                .and_then(|c| c.after.as_deref())
                .map(to_dynamic)
                .unwrap_or(Dynamic::UNIT)
        })
        .register_get("outputs", |p: &mut TestPlan| {
            to_dynamic(&serde_json::to_value(&p.0.outputs).unwrap_or(Value::Null))
        })
        .register_fn("to_string", |p: &mut TestPlan| {
            let (add, change, destroy) = p.0.summary();
            format!("Plan({add} to add, {change} to change, {destroy} to destroy)")
        });

    let c = ctx.clone();
    engine.register_fn(
        "run",
        move |cx: NativeCallContext, program: ImmutableString, opts: RhaiMap| {
            c.run(&c.program_path(&program), &opts, cx.call_position())
        },
    );
    let c = ctx.clone();
    engine.register_fn(
        "run",
        move |cx: NativeCallContext, program: ImmutableString| {
            c.run(
                &c.program_path(&program),
                &RhaiMap::new(),
                cx.call_position(),
            )
        },
    );
    // A program written in the test itself, for a stdlib module's tests.
    let c = ctx.clone();
    engine.register_fn(
        "run_source",
        move |cx: NativeCallContext, source: ImmutableString, opts: RhaiMap| {
            let path = scratch(&source).map_err(|e| fault(e, cx.call_position()))?;
            let plan = c.run(&path, &opts, cx.call_position());
            let _ = std::fs::remove_dir_all(path.parent().unwrap_or(&path));
            plan
        },
    );
    // What a program's plan refuses with: its error text, or "" when it
    // plans.
    let c = ctx.clone();
    engine.register_fn(
        "run_error",
        move |cx: NativeCallContext, source: ImmutableString, opts: RhaiMap| -> String {
            let path = match scratch(&source) {
                Ok(p) => p,
                Err(e) => return e,
            };
            let refused = match c.run(&path, &opts, cx.call_position()) {
                Ok(_) => String::new(),
                Err(e) => match *e {
                    EvalAltResult::ErrorRuntime(d, _) => d.to_string(),
                    other => other.to_string(),
                },
            };
            let _ = std::fs::remove_dir_all(path.parent().unwrap_or(&path));
            refused
        },
    );
    let c = ctx.clone();
    engine.register_fn(
        "mock",
        move |cx: NativeCallContext,
              pattern: ImmutableString,
              outputs: RhaiMap|
              -> Result<(), Box<EvalAltResult>> {
            let Value::Object(outputs) = from_dynamic(&Dynamic::from_map(outputs)) else {
                return Err(fault(
                    "mock: outputs must be a map".into(),
                    cx.call_position(),
                ));
            };
            c.running
                .lock()
                .expect("running")
                .mocks
                .push((pattern.to_string(), outputs));
            Ok(())
        },
    );
    let c = ctx.clone();
    engine.register_fn("expect", move |cx: NativeCallContext, ok: bool| {
        if !ok {
            c.fail(cx.call_position(), "expect failed".into());
        }
    });
    let c = ctx.clone();
    engine.register_fn(
        "expect",
        move |cx: NativeCallContext, ok: bool, message: ImmutableString| {
            if !ok {
                c.fail(cx.call_position(), format!("expect failed: {message}"));
            }
        },
    );
    let c = ctx.clone();
    engine.register_fn(
        "expect_finding",
        move |cx: NativeCallContext, code: ImmutableString| -> Result<(), Box<EvalAltResult>> {
            let plan = c.last("expect_finding", cx.call_position())?;
            if !plan.0.findings.iter().any(|f| f.code == code.as_str()) {
                let raised: Vec<&str> = plan.0.findings.iter().map(|f| f.code.as_str()).collect();
                c.fail(
                    cx.call_position(),
                    format!(
                        "expected a finding `{code}`; the plan raised {}",
                        if raised.is_empty() {
                            "none".to_string()
                        } else {
                            raised.join(", ")
                        }
                    ),
                );
            }
            Ok(())
        },
    );
    let c = ctx.clone();
    engine.register_fn(
        "expect_no_errors",
        move |cx: NativeCallContext| -> Result<(), Box<EvalAltResult>> {
            let plan = c.last("expect_no_errors", cx.call_position())?;
            let errors: Vec<String> = plan
                .0
                .findings
                .iter()
                .filter(|f| f.severity == Severity::Error)
                .map(|f| format!("[{}] {}", f.code, f.message))
                .collect();
            if !errors.is_empty() {
                c.fail(
                    cx.call_position(),
                    format!(
                        "expected no error finding; the plan has {}:\n      {}",
                        errors.len(),
                        errors.join("\n      ")
                    ),
                );
            }
            Ok(())
        },
    );
    engine
}

/// Every `*_test.rhai` under `paths` (files, or directories searched
/// through but for hidden ones, `target` and `node_modules`), sorted.
pub fn test_files(paths: &[PathBuf]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo: Vec<PathBuf> = paths.to_vec();
    while let Some(p) = todo.pop() {
        if p.is_dir() {
            let skip = p.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                (n.starts_with('.') && n.len() > 1) || n == "target" || n == "node_modules"
            });
            if skip && !paths.contains(&p) {
                continue;
            }
            if let Ok(entries) = std::fs::read_dir(&p) {
                todo.extend(entries.flatten().map(|e| e.path()));
            }
        } else if p
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.ends_with("_test.rhai"))
        {
            out.push(p);
        }
    }
    out.sort();
    out.dedup();
    out
}

/// Run one test file: its `test_*` functions, each a case after the
/// file's top level ran; a file without any is one case.
pub fn run_file(project: &Project, global: &Global, file: &Path) -> Vec<Case> {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            return vec![Case {
                file: file.to_path_buf(),
                name: "(file)".into(),
                failures: vec![format!("no runtime: {e}")],
                time: Duration::ZERO,
            }];
        }
    };
    let ctx = Arc::new(Ctx {
        project: project.clone(),
        global: global.clone(),
        rt,
        dir: file.parent().map(Path::to_path_buf).unwrap_or_default(),
        file: file.to_path_buf(),
        running: Mutex::new(Running::default()),
    });
    let engine = engine(&ctx);
    let shown = file
        .strip_prefix(&project.root)
        .unwrap_or(file)
        .display()
        .to_string();
    let case_error = |e: &EvalAltResult| -> String {
        let pos = e.position();
        let message = match e {
            EvalAltResult::ErrorRuntime(d, _) => d.to_string(),
            other => other.to_string(),
        };
        if pos.is_none() {
            message
        } else {
            format!("{}: {message}", ctx.at(pos))
        }
    };
    let source = match std::fs::read_to_string(file) {
        Ok(s) => s,
        Err(e) => {
            return vec![Case {
                file: file.to_path_buf(),
                name: shown,
                failures: vec![format!("cannot read: {e}")],
                time: Duration::ZERO,
            }];
        }
    };
    let mut ast = match engine.compile(&source) {
        Ok(ast) => ast,
        Err(e) => {
            return vec![Case {
                file: file.to_path_buf(),
                name: shown.clone(),
                failures: vec![format!("{shown}: {e}")],
                time: Duration::ZERO,
            }];
        }
    };
    ast.set_source(shown.as_str());
    // In the order the file declares them.
    let mut tests: Vec<String> = ast
        .iter_functions()
        .filter(|f| f.name.starts_with("test_") && f.params.is_empty())
        .map(|f| f.name.to_string())
        .collect();
    tests.sort_by_key(|name| source.find(&format!("fn {name}(")).unwrap_or(usize::MAX));
    let mut scope = rhai::Scope::new();
    let start = Instant::now();
    let top = engine.run_ast_with_scope(&mut scope, &ast);
    let take = |ctx: &Ctx| std::mem::take(&mut *ctx.running.lock().expect("running"));
    if tests.is_empty() {
        let mut failures = take(&ctx).failures;
        if let Err(e) = top {
            failures.push(case_error(&e));
        }
        return vec![Case {
            file: file.to_path_buf(),
            name: shown,
            failures,
            time: start.elapsed(),
        }];
    }
    let setup = take(&ctx).failures;
    let mut cases = Vec::new();
    for name in tests {
        let start = Instant::now();
        let mut failures = setup.clone();
        if let Err(e) = &top {
            failures.push(format!("the file's top level failed: {}", case_error(e)));
        } else {
            let options = rhai::CallFnOptions::new()
                .eval_ast(false)
                .rewind_scope(true);
            let result: Result<Dynamic, _> =
                engine.call_fn_with_options(options, &mut scope, &ast, &name, ());
            failures.extend(take(&ctx).failures);
            if let Err(e) = result {
                failures.push(case_error(&e));
            }
        }
        cases.push(Case {
            file: file.to_path_buf(),
            name,
            failures,
            time: start.elapsed(),
        });
    }
    cases
}

/// `payrun test [PATH]... [--junit FILE]`.
pub fn command(
    project: &Project,
    global: &Global,
    paths: &[PathBuf],
    junit: Option<&Path>,
) -> Result<i32, Error> {
    let roots: Vec<PathBuf> = if paths.is_empty() {
        vec![project.root.clone()]
    } else {
        paths.to_vec()
    };
    for p in &roots {
        if !p.exists() {
            return Err(Error::Config(format!(
                "{}: no such file or directory\n  fix: name a test file or a directory holding *_test.rhai files, e.g. `payrun test stdlib`",
                p.display()
            )));
        }
    }
    let files = test_files(&roots);
    let mut cases = Vec::new();
    for file in &files {
        let shown = file
            .strip_prefix(&project.root)
            .unwrap_or(file)
            .display()
            .to_string();
        println!("{shown}");
        for case in run_file(project, global, file) {
            let ms = case.time.as_millis();
            if case.failures.is_empty() {
                println!("  ok    {} ({ms} ms)", case.name);
            } else {
                println!("  FAIL  {} ({ms} ms)", case.name);
                for f in &case.failures {
                    println!("        {}", f.replace('\n', "\n        "));
                }
            }
            cases.push(case);
        }
    }
    let failed = cases.iter().filter(|c| !c.failures.is_empty()).count();
    let passed = cases.len() - failed;
    if files.is_empty() {
        println!(
            "0 passed, 0 failed: no *_test.rhai file under {}.",
            roots
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    } else {
        println!("{passed} passed, {failed} failed.");
    }
    if let Some(path) = junit {
        std::fs::write(path, junit_xml(project, &cases))
            .map_err(|e| Error::Config(format!("--junit {}: {e}", path.display())))?;
    }
    Ok(if failed > 0 { 1 } else { 0 })
}

fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// JUnit XML: one `testsuite` per file, one `testcase` per case, each
/// failure its `failure` element.
pub fn junit_xml(project: &Project, cases: &[Case]) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let failed = cases.iter().filter(|c| !c.failures.is_empty()).count();
    let total: f64 = cases.iter().map(|c| c.time.as_secs_f64()).sum();
    out.push_str(&format!(
        "<testsuites name=\"payrun test\" tests=\"{}\" failures=\"{failed}\" errors=\"0\" time=\"{total:.3}\">\n",
        cases.len()
    ));
    let mut files: Vec<&Path> = cases.iter().map(|c| c.file.as_path()).collect();
    files.dedup();
    for file in files {
        let shown = file
            .strip_prefix(&project.root)
            .unwrap_or(file)
            .display()
            .to_string();
        let of: Vec<&Case> = cases.iter().filter(|c| c.file == file).collect();
        let failed = of.iter().filter(|c| !c.failures.is_empty()).count();
        let time: f64 = of.iter().map(|c| c.time.as_secs_f64()).sum();
        out.push_str(&format!(
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failed}\" errors=\"0\" skipped=\"0\" time=\"{time:.3}\">\n",
            xml(&shown),
            of.len()
        ));
        for c in of {
            out.push_str(&format!(
                "    <testcase name=\"{}\" classname=\"{}\" time=\"{:.3}\"",
                xml(&c.name),
                xml(&shown),
                c.time.as_secs_f64()
            ));
            if c.failures.is_empty() {
                out.push_str("/>\n");
            } else {
                out.push_str(">\n");
                for f in &c.failures {
                    let first = f.lines().next().unwrap_or_default();
                    out.push_str(&format!(
                        "      <failure message=\"{}\" type=\"expect\">{}</failure>\n",
                        xml(first),
                        xml(f)
                    ));
                }
                out.push_str("    </testcase>\n");
            }
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}
