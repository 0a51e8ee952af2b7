//! The subcommands: each strings the stages together and nothing more.

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::Value;

use crate::apply::{ApplyOptions, Hook, apply};
use crate::error::Error;
use crate::graph::DesiredGraph;
use crate::plan::{Mode, Plan, PlanFile, PlanInputs, PlanOptions, make_plan};
use crate::provider::Registry;
use crate::provider::aws::{AwsProvider, AwsSettings, StateBucket, StateKeys};
use crate::provider::awscc::AwsccProvider;
use crate::provider::fake::{FakeConfig, FakeProvider};
use crate::provider::k8s::helm::{HelmConfig, HelmProvider};
use crate::provider::k8s::token::{TokenSource, exec_credential};
use crate::provider::k8s::{K8sConfig, K8sProvider};
use crate::script::{self, Acknowledgement, Program};
use crate::stage::timed;
use crate::state::{
    LocalStore, Purpose, S3Settings, S3Store, Sealer, State, StateStore, StoreLock,
};
use crate::ui::{JsonView, PlainView, Style, TerminalView, render_findings, render_plan};

use super::args::{Cli, Command, Global, PlanFlags};
use super::config::{Backend, LocalBackend, Project, Resolved};

pub fn dispatch(cli: Cli) -> Result<i32, Error> {
    // Run by helm from wherever payrun was: there is no project to read.
    if let Command::EksToken {
        cluster,
        profile,
        token_lifetime,
    } = &cli.command
    {
        return eks_token(&cli.global, cluster, profile.as_ref(), *token_lifetime);
    }
    // About payrun itself, or a project still to make: none to read.
    match &cli.command {
        Command::Init { dir } => {
            let stdlib = cli.global.stdlib.clone();
            return super::init::run(dir, |defs| super::docs::definitions(&stdlib, defs));
        }
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(*shell, &mut cmd, "payrun", &mut std::io::stdout());
            return Ok(0);
        }
        Command::Man => {
            let rendered = clap_mangen::Man::new(<Cli as clap::CommandFactory>::command())
                .render(&mut std::io::stdout());
            // A reader that stops early (`| head`) is no failure.
            match rendered {
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                    return Err(Error::Config(format!("the manual page: {e}")));
                }
                _ => return Ok(0),
            }
        }
        _ => {}
    }
    let cwd =
        std::env::current_dir().map_err(|e| Error::Config(format!("no current directory: {e}")))?;
    let project = Project::discover(&cwd)?;
    let style = Style::detect(cli.global.no_color);
    let g = &cli.global;
    match &cli.command {
        Command::Plan {
            program,
            flags,
            out,
            detailed_exitcode,
            destroy,
        } => {
            let r = Resolved::new(&project, g, program.as_deref())?;
            plan_command(
                &project,
                &r,
                &style,
                flags,
                out.as_deref(),
                *detailed_exitcode,
                *destroy,
            )
        }
        Command::Apply {
            target,
            flags,
            auto_approve,
            parallelism,
        } => apply_command(
            &project,
            g,
            &style,
            target.as_deref(),
            flags,
            *auto_approve,
            *parallelism,
        ),
        Command::Destroy {
            program,
            flags,
            auto_approve,
            parallelism,
        } => {
            let r = Resolved::new(&project, g, program.as_deref())?;
            run_mode(
                &project,
                &r,
                Mode::Destroy,
                flags,
                *auto_approve,
                *parallelism,
                &style,
            )
        }
        Command::Validate { program } => {
            let r = Resolved::new(&project, g, program.as_deref())?;
            validate_command(&project, &r, &style)
        }
        Command::Docs {
            name,
            json,
            definitions,
            readme,
        } => super::docs::run(
            &project,
            g,
            &super::docs::DocsRequest {
                name: name.as_deref(),
                json: *json,
                definitions: definitions.as_deref(),
                readme: readme.as_deref(),
            },
        ),
        Command::Discover {
            kinds,
            tags,
            generate,
        } => discover_command(&project, g, kinds, tags, generate.as_deref()),
        Command::Import {
            generate,
            kind,
            ids,
        } => import_command(&project, g, generate, kind, ids),
        Command::Test { paths, junit } => {
            super::test::command(&project, g, paths, junit.as_deref())
        }
        Command::Graph { program } => {
            let r = Resolved::new(&project, g, program.as_deref())?;
            let registry = registry(&r);
            let (graph, program) = evaluate(&r, &registry)?;
            print!("{}", graph.to_dot(&program));
            Ok(0)
        }
        Command::Output {
            name,
            program,
            json,
        } => {
            let r = Resolved::new(&project, g, program.as_deref())?;
            output_command(&r, name.as_deref(), *json)
        }
        Command::State { command, program } => {
            let r = Resolved::new(&project, g, program.as_deref())?;
            super::state::state_command(&project, g, &r, command)
        }
        Command::EksToken { .. }
        | Command::Completions { .. }
        | Command::Man
        | Command::Init { .. } => {
            unreachable!("answered before the project is read")
        }
    }
}

/// Bars and spinners redraw the terminal: only on a terminal that can
/// (not `TERM=dumb`), and not when NO_COLOR asks for plain output. Else
/// plain, timestamped lines, as in a log.
fn live_view_wanted() -> bool {
    let set = |name: &str| std::env::var_os(name).is_some_and(|v| !v.is_empty());
    std::io::stderr().is_terminal()
        && !set("NO_COLOR")
        && std::env::var("TERM").map_or(true, |t| t != "dumb")
}

/// The header of a generated program.
fn generated_header(command: &str, r: &Resolved, file: &Path, count: usize) -> String {
    format!(
        "// Written by `{command}` on {}: {count} object{} of {} that no stack\n// recorded, each declared as it is live and adopted. Review it, then\n//\n//   payrun plan {}\n//\n// shows only imports (and payrun's tags added); apply records them.\n",
        humantime::format_rfc3339_seconds(std::time::SystemTime::now()),
        if count == 1 { "" } else { "s" },
        r.region,
        file.display()
    )
}

/// `payrun discover [--kind K]... [--tag KEY=VALUE]... [--generate FILE]`.
fn discover_command(
    project: &Project,
    g: &Global,
    kinds: &[String],
    tags: &[String],
    generate: Option<&Path>,
) -> Result<i32, Error> {
    let r = Resolved::new(
        project,
        g,
        Some(generate.unwrap_or(Path::new("discover.rhai"))),
    )?;
    let registry = registry(&r);
    let tags = super::import::parse_tags(tags)?;
    if let Some(file) = generate
        && file.exists()
    {
        super::import::write_new(file, "")?;
    }
    let rt = runtime();
    let (found, left_out) = rt.block_on(super::import::discover(&registry, kinds, &tags))?;
    let width = found.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    for (kind, l) in &found {
        println!(
            "{kind:width$}  {}{}",
            l.id,
            l.name
                .as_ref()
                .filter(|n| **n != l.id)
                .map(|n| format!("  ({n})"))
                .unwrap_or_default()
        );
    }
    println!(
        "{} object{} no stack records in {}{}.",
        found.len(),
        if found.len() == 1 { "" } else { "s" },
        r.region,
        if left_out > 0 {
            format!(
                "; {left_out} left out (a stack's tag is on them or on what they hang on, or --tag did not match)"
            )
        } else {
            String::new()
        }
    );
    if let Some(file) = generate {
        let header = generated_header("payrun discover --generate", &r, file, found.len());
        let count = found.len();
        let text = rt.block_on(super::import::generate(&registry, found, &header))?;
        super::import::write_new(file, &text)?;
        println!(
            "Wrote {} ({count} declaration{}). Next: payrun plan {}",
            file.display(),
            if count == 1 { "" } else { "s" },
            file.display()
        );
    }
    Ok(0)
}

/// `payrun import --generate FILE KIND ID...`.
fn import_command(
    project: &Project,
    g: &Global,
    file: &Path,
    kind: &str,
    ids: &[String],
) -> Result<i32, Error> {
    let r = Resolved::new(project, g, Some(file))?;
    let registry = registry(&r);
    if file.exists() {
        super::import::write_new(file, "")?;
    }
    let Some(provider) = registry
        .provider(kind)
        .filter(|_| registry.schema(kind).is_some())
    else {
        let known: Vec<&str> = registry.schemas().map(|s| s.kind).collect();
        return Err(Error::Config(format!(
            "{kind}: no such kind{}\n  fix: `payrun docs` lists the kinds",
            crate::suggest::did_you_mean(kind, known.iter().copied())
                .map(|s| format!(" (did you mean {s}?)"))
                .unwrap_or_default()
        )));
    };
    let rt = runtime();
    // What discovery knows of them (a name, what a read needs besides the
    // id); a kind it cannot list is read by id alone.
    let listed = rt
        .block_on(provider.list(&[kind.to_string()]))
        .into_iter()
        .next()
        .and_then(Result::ok)
        .unwrap_or_default();
    let found = ids
        .iter()
        .map(|id| {
            let l = listed.iter().find(|l| &l.id == id).cloned().unwrap_or(crate::provider::Listed {
                id: id.clone(),
                name: None,
                tags: None,
                parent: None,
                seed: serde_json::Map::new(),
            });
            if let Some(stack) = l.stack() {
                return Err(Error::Config(format!(
                    "{kind} {id}: the stack {stack} manages it already; nothing was written\n  fix: let that stack go of it first with `forget(\"ADDRESS\")` in its program"
                )));
            }
            Ok((kind.to_string(), l))
        })
        .collect::<Result<Vec<_>, Error>>()?;
    let header = generated_header("payrun import --generate", &r, file, found.len());
    let text = rt.block_on(super::import::generate(&registry, found, &header))?;
    super::import::write_new(file, &text)?;
    println!(
        "Wrote {} ({} declaration{}). Next: payrun plan {}",
        file.display(),
        ids.len(),
        if ids.len() == 1 { "" } else { "s" },
        file.display()
    );
    Ok(0)
}

/// `payrun apply [PROGRAM | PLAN_FILE]`: a saved plan exactly as
/// reviewed, or a fresh plan after confirmation.
fn apply_command(
    project: &Project,
    g: &Global,
    style: &Style,
    target: Option<&Path>,
    flags: &PlanFlags,
    auto_approve: bool,
    parallelism: usize,
) -> Result<i32, Error> {
    if let Some(path) = target.filter(|p| is_plan_file(p)) {
        let (r, plan) = open_saved_plan(project, g, path)?;
        let registry = registry(&r);
        return execute(
            &r,
            &registry,
            plan,
            parallelism,
            flags.json,
            style,
            true,
            "apply (saved plan)",
        );
    }
    let r = Resolved::new(project, g, target)?;
    run_mode(
        project,
        &r,
        Mode::Apply,
        flags,
        auto_approve,
        parallelism,
        style,
    )
}

/// `payrun plan`: the plan, shown, saved with `--out`; exit 1 on errors,
/// 2 with `--detailed-exitcode` when there are changes.
fn plan_command(
    project: &Project,
    r: &Resolved,
    style: &Style,
    flags: &PlanFlags,
    out: Option<&Path>,
    detailed_exitcode: bool,
    destroy: bool,
) -> Result<i32, Error> {
    let mode = if destroy { Mode::Destroy } else { Mode::Apply };
    let registry = registry(r);
    let plan = timed("plan", || {
        plan_in(&runtime(), project, r, &registry, mode, flags)
    })?;
    timed("show", || show_plan(&plan, flags.json, style));
    if let Some(out) = out {
        let inputs = PlanInputs {
            program: program_identity(project, &r.program),
            region: r.region.clone(),
            vars: r.vars.clone(),
            acknowledge: r.acknowledge.clone(),
            stdlib_dirs: r.stdlib_dirs.clone(),
        };
        let st = store(r);
        let bytes = crate::plan::encode_saved(&plan, &inputs, &st.key()?);
        let bytes = match st.seal_file(Purpose::Plan, bytes.clone())? {
            Some(sealed) => crate::plan::wrap_sealed(&plan.stack, &sealed),
            None => bytes,
        };
        crate::plan::write_saved(out, &bytes)?;
        if !flags.json {
            println!(
                "\nSaved the plan to {}; apply exactly it with `payrun apply {}`.",
                out.display(),
                out.display()
            );
        }
    }
    let code = if plan.has_errors() {
        1
    } else if detailed_exitcode && plan.has_changes() {
        2
    } else {
        0
    };
    leak_at_exit(plan);
    Ok(code)
}

/// `payrun validate`: the program evaluates and passes every check; no
/// cloud call.
fn validate_command(project: &Project, r: &Resolved, style: &Style) -> Result<i32, Error> {
    let registry = registry(r);
    let (graph, program) = evaluate(r, &registry)?;
    let plan = runtime().block_on(validation_plan(project, r, &registry, &graph, &program))?;
    print!("{}", render_findings(&plan.findings, style));
    if plan.has_errors() {
        return Ok(1);
    }
    println!(
        "{} The program is valid: {} resources, {} outputs.",
        style.paint(Style::GREEN, "Success!"),
        graph.len(),
        program.exports.len()
    );
    Ok(0)
}

/// `payrun output [NAME]`: the stack's recorded outputs.
fn output_command(r: &Resolved, name: Option<&str>, json: bool) -> Result<i32, Error> {
    let state = store(r).load()?;
    match name {
        Some(n) => {
            let v = state.outputs.get(n).ok_or_else(|| {
                Error::Config(format!(
                    "stack `{}` has no output `{n}`\n  fix: `payrun output` lists them",
                    r.stack
                ))
            })?;
            match (v, json) {
                (Value::String(s), false) => println!("{s}"),
                _ => println!("{v}"),
            }
        }
        None if json => println!(
            "{}",
            serde_json::to_string_pretty(&state.outputs).unwrap_or_default()
        ),
        None => {
            for (k, v) in &state.outputs {
                println!("{k} = {v}");
            }
        }
    }
    Ok(0)
}

/// The plan `validate` reports the findings of: the same checks as
/// `plan`, over the recorded state without a refresh, so no cloud call is
/// made and nothing is written (a stack without a key yet is planned with
/// a throwaway one: digests are neither shown nor kept).
async fn validation_plan(
    project: &Project,
    r: &Resolved,
    registry: &Registry,
    graph: &DesiredGraph,
    program: &Program,
) -> Result<Plan, Error> {
    let st = store(r);
    let mut state = st.load()?;
    state.claim(&program_identity(project, &r.program), &r.suffix)?;
    let key = st
        .existing_key()
        .unwrap_or_else(|_| crate::state::StackKey::from_bytes([0; 32]));
    let mut plan = make_plan(
        Some((graph, program)),
        &state,
        &key,
        registry,
        &r.suffix,
        PlanOptions {
            mode: Mode::Apply,
            refresh: false,
            replace: Vec::new(),
            mocks: Vec::new(),
        },
    )
    .await?;
    crate::check::review(&mut plan, graph, program, registry)?;
    Ok(plan)
}

/// The plan of `mode`, made on `rt` (an apply after it runs on the same
/// runtime, where the clients made during refresh keep their workers).
fn plan_in(
    rt: &tokio::runtime::Runtime,
    project: &Project,
    r: &Resolved,
    registry: &Registry,
    mode: Mode,
    flags: &PlanFlags,
) -> Result<Plan, Error> {
    rt.block_on(plan_for(
        project,
        r,
        registry,
        mode,
        flags,
        program_needed(mode, r),
    ))
}

/// A destroy can run without its program: the state knows the order.
fn program_needed(mode: Mode, r: &Resolved) -> bool {
    mode == Mode::Apply || r.program.exists()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime starts")
}

pub(super) fn store(r: &Resolved) -> Arc<dyn StateStore> {
    store_of(r, &r.backend, &r.stack)
}

/// The store of `stack` in `backend`, reached with the stack's AWS
/// settings (credential chain, endpoint, retry budget).
pub(super) fn store_of(r: &Resolved, backend: &Backend, stack: &str) -> Arc<dyn StateStore> {
    match backend {
        Backend::Local(l) => {
            let local = local_store(r, stack);
            Arc::new(match &l.kms_key {
                Some(kms_key) => local.sealed_by(sealer(r, l, kms_key, stack)),
                None => local,
            })
        }
        Backend::S3(b) => {
            let settings = state_aws(r, b.region.as_ref());
            Arc::new(S3Store::new(
                Arc::new(StateBucket::new(settings.clone(), &b.bucket)),
                Arc::new(StateKeys::new(settings)),
                stack,
                S3Settings {
                    bucket: b.bucket.clone(),
                    prefix: b.prefix.clone(),
                    kms_key: b.kms_key.clone(),
                    lease: b.lease,
                    renew: b.renew,
                    fallback_dir: r.state_dir.clone(),
                    flags: r.stack_flags.clone(),
                },
            ))
        }
    }
}

pub(super) fn local_store(r: &Resolved, stack: &str) -> LocalStore {
    LocalStore::new(&r.state_dir, stack, &r.suffix).with_flags(&r.stack_flags)
}

/// How the state store reaches S3 and KMS: the provider's credential
/// chain, endpoint and retry budget, in `region` or the stack's.
fn state_aws(r: &Resolved, region: Option<&String>) -> AwsSettings {
    AwsSettings {
        region: Some(region.cloned().unwrap_or_else(|| r.region.clone())),
        endpoint_url: r.endpoint_url.clone(),
        profile: None,
        retry_budget: Some(r.retry_budget),
        request_timeout: Some(r.request_timeout),
    }
}

/// Seals of `stack`'s local files under `kms_key` (empty: open only).
pub(super) fn sealer(r: &Resolved, l: &LocalBackend, kms_key: &str, stack: &str) -> Sealer {
    Sealer::new(
        Arc::new(StateKeys::new(state_aws(r, l.region.as_ref()))),
        kms_key,
        stack,
    )
}

/// The side a stack leaves in `state migrate`: a local stack is read
/// whether its files are sealed or not.
pub(super) fn migration_source(r: &Resolved) -> Arc<dyn StateStore> {
    match &r.backend {
        Backend::Local(l) => Arc::new(local_store(r, &r.stack).reading_either(sealer(
            r,
            l,
            l.kms_key.as_deref().unwrap_or_default(),
            &r.stack,
        ))),
        Backend::S3(_) => store(r),
    }
}

/// The stack's lock, waiting as `--lock-timeout` says.
pub(super) fn lock(
    r: &Resolved,
    st: &Arc<dyn StateStore>,
    command: &str,
) -> Result<StoreLock, Error> {
    Ok(st.lock(command, r.lock_timeout, &|m| eprintln!("{m}"))?)
}

/// The outputs of other stacks of the same store, for `stack_output`.
fn stack_outputs(r: &Resolved) -> script::StackOutputs {
    let r = r.clone();
    let cache: std::sync::Mutex<std::collections::BTreeMap<String, Result<State, String>>> =
        std::sync::Mutex::default();
    script::StackOutputs::new(move |stack: &str| {
        if let Err(e) = crate::state::validate_stack_name(stack) {
            return Err(e.to_string());
        }
        let mut cache = cache.lock().expect("stack outputs");
        let state = cache
            .entry(stack.to_string())
            .or_insert_with(|| {
                let st = store_of(&r, &r.backend, stack);
                match st.exists() {
                    Ok(true) => st.load().map_err(|e| e.to_string()),
                    Ok(false) => Err(format!(
                        "stack `{stack}` has no state in {}",
                        r.backend.describe(&r.state_dir)
                    )),
                    Err(e) => Err(e.to_string()),
                }
            })
            .clone()?;
        Ok(state.outputs)
    })
}

/// `payrun eks-token`: one exec credential on stdout.
fn eks_token(
    g: &Global,
    cluster: &str,
    profile: Option<&String>,
    lifetime: std::time::Duration,
) -> Result<i32, Error> {
    let tokens = TokenSource::new(
        AwsSettings {
            region: g.region.clone(),
            endpoint_url: g.endpoint_url.clone(),
            profile: profile.cloned(),
            retry_budget: None,
            request_timeout: None,
        },
        lifetime,
    );
    let token = runtime()
        .block_on(tokens.token(cluster, None))
        .map_err(Error::Config)?;
    println!("{}", exec_credential(&token));
    Ok(0)
}

/// The providers. The fake test provider is there only when asked for.
/// The Kubernetes and helm providers sign EKS tokens with the AWS
/// provider's settings.
pub fn registry(r: &Resolved) -> Registry {
    let settings = AwsSettings {
        region: Some(r.region.clone()),
        endpoint_url: r.endpoint_url.clone(),
        profile: None,
        retry_budget: Some(r.retry_budget),
        request_timeout: Some(r.request_timeout),
    };
    let aws = Arc::new(AwsProvider::new(settings.clone()));
    let mut registry = Registry::new()
        .with("aws", aws.clone())
        .with("awscc", Arc::new(AwsccProvider::new(aws.clone())))
        .with_facts(aws)
        .with(
            "k8s",
            Arc::new(K8sProvider::new(K8sConfig {
                insecure_kubeconfig: r.insecure_kubeconfig,
                aws: settings.clone(),
                ..K8sConfig::default()
            })),
        )
        .with(
            "helm",
            Arc::new(HelmProvider::new(HelmConfig {
                insecure_kubeconfig: r.insecure_kubeconfig,
                aws: settings,
                ..HelmConfig::default()
            })),
        );
    if let Some(config) = FakeConfig::from_env() {
        registry = registry.with("fake", Arc::new(FakeProvider::new(config)));
    }
    registry
}

pub(super) fn evaluate(
    r: &Resolved,
    registry: &Registry,
) -> Result<(DesiredGraph, Program), Error> {
    let mut config = r.script_config();
    config.stack_outputs = Some(stack_outputs(r));
    let mut program = timed("evaluate", || {
        script::evaluate(&r.program, registry, &config)
    })?;
    program.acknowledged.extend(
        r.acknowledge
            .iter()
            .map(|(code, reason)| Acknowledgement::on_command_line(code, reason)),
    );
    let graph = timed("graph", || DesiredGraph::build(&program, registry))?;
    Ok((graph, program))
}

async fn plan_for(
    project: &Project,
    r: &Resolved,
    registry: &Registry,
    mode: Mode,
    flags: &PlanFlags,
    with_program: bool,
) -> Result<Plan, Error> {
    if flags.refresh_only && (mode == Mode::Destroy || !flags.refresh) {
        return Err(Error::Config(
            "--refresh-only reads the cloud into state: it goes with neither --refresh=false nor destroy\n  fix: payrun plan --refresh-only".into(),
        ));
    }
    if flags.refresh_only && !(flags.targets.is_empty() && flags.exclude.is_empty()) {
        return Err(Error::Config(
            "--refresh-only records every drift of the stack: --target and --exclude do not go with it\n  fix: payrun plan --refresh-only".into(),
        ));
    }
    if flags.refresh_only && !flags.replace.is_empty() {
        return Err(Error::Config(
            "--refresh-only changes nothing in the cloud, so it replaces nothing: --replace does not go with it\n  fix: payrun plan --refresh-only".into(),
        ));
    }
    // No acknowledgement lifts a protection (judged after the checks).
    if r.acknowledge
        .iter()
        .any(|(code, _)| code == crate::plan::protect::CODE)
    {
        return Err(Error::Config(format!(
            "--acknowledge {0}: a protection is not a finding to accept\n  fix: lift it for this run with --allow-destroy ADDRESS (the plan names each protected resource it deletes or replaces)",
            crate::plan::protect::CODE
        )));
    }
    let evaluated = if with_program {
        Some(evaluate(r, registry)?)
    } else {
        None
    };
    let st = store(r);
    let mut state = timed("load state", || st.load())?;
    let program = program_identity(project, &r.program);
    state.claim(&program, &r.suffix)?;
    let key = st.key()?;
    // A refresh-only plan records drift alone: an import, a move or a
    // forget the program asks for waits for an ordinary plan, said so
    // rather than passed over.
    if flags.refresh_only
        && let Some((_, program)) = &evaluated
    {
        let pending: Vec<String> = program
            .adopts
            .iter()
            .filter(|a| !state.resources.contains_key(&a.address))
            .map(|a| format!("adopt({}, \"{}\") at {}", a.address, a.id, a.pos))
            .chain(
                program
                    .moves
                    .iter()
                    .filter(|m| state.resources.contains_key(&m.from))
                    .map(|m| format!("moved(\"{}\", \"{}\") at {}", m.from, m.to, m.pos)),
            )
            .chain(
                program
                    .forgets
                    .iter()
                    .filter(|(a, _)| state.resources.contains_key(a))
                    .map(|(a, pos)| format!("forget(\"{a}\") at {pos}")),
            )
            .collect();
        if !pending.is_empty() {
            return Err(Error::Config(format!(
                "--refresh-only records drift alone, and the program changes what state records:\n  {}\n  fix: review and apply those first with `payrun apply {}`, then refresh",
                pending.join("\n  "),
                r.program.display()
            )));
        }
    }
    let desired = evaluated.as_ref().map(|(g, p)| (g, p));
    let mut plan = make_plan(
        desired,
        &state,
        &key,
        registry,
        &r.suffix,
        PlanOptions {
            mode,
            refresh: flags.refresh,
            replace: flags.replace.clone(),
            mocks: Vec::new(),
        },
    )
    .await?;
    // A --replace that names nothing replaced is a typo, not a no-op.
    if let Some(unused) = flags.replace.iter().find(|p| {
        !plan.changes.iter().any(|c| {
            crate::plan::protect::address_matches(p, &c.address)
                && c.replace_because
                    .iter()
                    .any(|r| r == crate::plan::REPLACE_ASKED)
        })
    }) {
        let recorded: Vec<String> = plan
            .changes
            .iter()
            .filter(|c| {
                matches!(
                    c.action,
                    crate::plan::Action::NoOp
                        | crate::plan::Action::Update
                        | crate::plan::Action::Replace
                )
            })
            .map(|c| c.address.to_string())
            .collect();
        let meant = crate::suggest::did_you_mean(unused, recorded.iter().map(String::as_str))
            .map(|m| format!("; did you mean `{m}`?"))
            .unwrap_or_default();
        return Err(Error::Config(format!(
            "--replace {unused}: names no resource that the stack records and the program declares{meant}\n  fix: payrun state list"
        )));
    }
    // A plan that reads the cloud judges EKS versions by EKS's own
    // calendar; offline, by the embedded one.
    let refreshed = flags.refresh && !state.resources.is_empty();
    if refreshed
        && let Some((graph, _)) = &evaluated
        && graph
            .of_kind(
                <crate::provider::aws::eks::ClusterArgs as crate::provider::schema::KindArgs>::KIND,
            )
            .next()
            .is_some()
    {
        plan.calendar = registry
            .eks_calendar(&crate::check::platform::today())
            .await;
    }
    if flags.refresh_only {
        crate::plan::refresh_only::restrict(&mut plan, &state);
    } else if let Some((graph, program)) = &evaluated {
        timed("checks", || {
            crate::check::review(&mut plan, graph, program, registry)
        })?;
    }
    crate::plan::scope::restrict(&mut plan, &flags.targets, &flags.exclude)
        .map_err(Error::Config)?;
    // After the checks, so no acknowledgement reaches it.
    crate::plan::protect::judge(&mut plan, &flags.allow_destroy).map_err(Error::Config)?;
    plan.program = Some(program);
    leak_at_exit(evaluated);
    leak_at_exit(state);
    Ok(plan)
}

/// Lets go of a command's large structures (the program, its graph, the
/// state) without freeing them piece by piece: the process ends when the
/// command does and the system takes the memory back at once. Freeing a
/// 100,000-resource program, graph and state cost a tenth of its plan's
/// time.
fn leak_at_exit<T>(value: T) {
    std::mem::forget(value);
}

/// A program by its path relative to the project root (absolute when it
/// lies outside), the same from any working directory.
fn program_identity(project: &Project, program: &Path) -> String {
    let absolute = |p: &Path| {
        std::fs::canonicalize(p).unwrap_or_else(|_| {
            std::env::current_dir()
                .map(|d| d.join(p))
                .unwrap_or_else(|_| p.to_path_buf())
        })
    };
    let path = absolute(program);
    let root = absolute(&project.root);
    path.strip_prefix(&root)
        .unwrap_or(&path)
        .display()
        .to_string()
}

/// The plan on stdout. JSON is compact, one line, as a program reads it
/// (`| jq .` to read it yourself), and streamed rather than built as one
/// string: a plan of 100,000 resources is about 50 MiB of it.
fn show_plan(plan: &Plan, json: bool, style: &Style) {
    let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    // A closed pipe (`payrun plan --json | head`) is not an error of the plan.
    let _ = if json {
        serde_json::to_writer(&mut out, plan)
            .map_err(std::io::Error::from)
            .and_then(|()| writeln!(out))
    } else {
        out.write_all(render_plan(plan, style).as_bytes())
    }
    .and_then(|()| out.flush());
}

fn run_mode(
    project: &Project,
    r: &Resolved,
    mode: Mode,
    flags: &PlanFlags,
    auto_approve: bool,
    parallelism: usize,
    style: &Style,
) -> Result<i32, Error> {
    let st = store(r);
    let command = if mode == Mode::Destroy {
        "payrun destroy"
    } else {
        "payrun apply"
    };
    // Nothing of the stack is read before its lock is held.
    let _lock = lock(r, &st, command)?;
    let registry = registry(r);
    let rt = runtime();
    let plan = plan_in(&rt, project, r, &registry, mode, flags)?;
    show_plan(&plan, flags.json, style);
    if plan.has_errors() {
        return Err(Error::Refused(
            "the plan has errors; nothing was applied".into(),
        ));
    }
    // Outputs may still need recording when nothing changes. The apply runs
    // on the runtime the plan ran on: clients made during refresh (kube's
    // buffered service) keep their workers on it.
    if plan.has_changes() && !auto_approve {
        confirm(mode)?;
    }
    execute_locked(
        &rt,
        &registry,
        plan,
        options(r, parallelism),
        flags.json,
        style,
        &st,
    )
}

fn options(r: &Resolved, parallelism: usize) -> ApplyOptions {
    ApplyOptions {
        parallelism,
        retry_budget: r.retry_budget,
    }
}

fn confirm(mode: Mode) -> Result<(), Error> {
    if !std::io::stdin().is_terminal() {
        return Err(Error::Refused(
            "refusing to ask for confirmation: standard input is not a terminal\n  fix: pass --auto-approve, or save the plan with `plan --out FILE` and run `payrun apply FILE`".into(),
        ));
    }
    let what = if mode == Mode::Destroy {
        "destroy all resources of this stack"
    } else {
        "perform these actions"
    };
    eprint!(
        "\nDo you want to {what}?\n  Only 'yes' will be accepted to approve.\n\n  Enter a value: "
    );
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|e| Error::Refused(e.to_string()))?;
    if answer.trim() != "yes" {
        return Err(Error::Refused("apply cancelled".into()));
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn execute(
    r: &Resolved,
    registry: &Registry,
    plan: Plan,
    parallelism: usize,
    json: bool,
    style: &Style,
    show: bool,
    command: &str,
) -> Result<i32, Error> {
    let st = store(r);
    let _lock = lock(r, &st, &format!("payrun {command}"))?;
    if show {
        show_plan(&plan, json, style);
    }
    execute_locked(
        &runtime(),
        registry,
        plan,
        options(r, parallelism),
        json,
        style,
        &st,
    )
}

fn execute_locked(
    rt: &tokio::runtime::Runtime,
    registry: &Registry,
    plan: Plan,
    options: ApplyOptions,
    json: bool,
    style: &Style,
    st: &Arc<dyn StateStore>,
) -> Result<i32, Error> {
    let state = st.load()?;
    let total = plan
        .changes
        .iter()
        .map(|c| match c.action {
            crate::plan::Action::NoOp => 0,
            crate::plan::Action::Replace => 2,
            _ => 1,
        })
        .sum::<u64>();
    let hook: Arc<dyn Hook> = if json {
        Arc::new(JsonView::new(Box::new(std::io::stdout())))
    } else if live_view_wanted() {
        Arc::new(TerminalView::new(total, *style))
    } else {
        Arc::new(PlainView::new(Box::new(std::io::stderr())))
    };
    let stop = Arc::new(AtomicBool::new(false));
    let (summary, _) = rt.block_on(async {
        let stop2 = stop.clone();
        let hook2 = hook.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                stop2.store(true, Ordering::SeqCst);
                hook2.message("Interrupt: no new operations start; waiting for those in flight, then saving state. Press Ctrl-C again to exit now.");
                if tokio::signal::ctrl_c().await.is_ok() {
                    // State is written atomically after every operation, so
                    // it is consistent; a create in flight left an intent
                    // that the next apply resolves. The lock goes with the
                    // process.
                    eprintln!("Exiting at once; state is consistent. Run apply again to finish.");
                    std::process::exit(130);
                }
            }
        });
        apply(&plan, state, st.clone(), registry.clone(), hook, options, stop).await
    })?;
    if let Some(lost) = st.lost() {
        return Err(lost_lock(st.as_ref(), &lost));
    }
    Ok(if summary.ok() { 0 } else { 1 })
}

/// The apply stopped because its lock was lost: where its state went.
fn lost_lock(st: &dyn StateStore, lost: &crate::state::LostLock) -> Error {
    let stack = st.stack();
    match &lost.kept_at {
        None => Error::Refused(format!(
            "the lock of stack `{stack}` was lost during the apply ({}); no operation started after that, those in flight finished, and their state was written to {} under a fresh lock\n  fix: run the apply again to finish",
            lost.why,
            st.location()
        )),
        Some(path) => Error::Refused(format!(
            "the lock of stack `{stack}` was lost during the apply ({}); no operation started after that, those in flight finished, and their state is kept in {} (another run has written {} since)\n  fix: when that run is done, compare with `payrun state pull` and write it with `payrun state push {}` (add --force only if you are sure it is newer)",
            lost.why,
            path.display(),
            st.location(),
            path.display()
        )),
    }
}

fn is_plan_file(p: &Path) -> bool {
    std::fs::read(p).is_ok_and(|bytes| crate::plan::looks_saved(&bytes))
}

/// A saved plan whose seal checks with its stack's key, and the settings
/// it was made with. Its findings are not read from the file: the program
/// is evaluated again with the recorded inputs and its checks run over the
/// planned changes, so an edited or stale program cannot slip an error
/// finding past apply.
fn open_saved_plan(
    project: &Project,
    g: &super::args::Global,
    path: &Path,
) -> Result<(Resolved, Plan), Error> {
    let file = PlanFile::read(path)?;
    let (program_stem, suffix) = file
        .stack()
        .split_once(crate::state::SEPARATOR)
        .expect("a checked stack name has a separator");
    let (program_stem, suffix) = (program_stem.to_string(), suffix.to_string());
    let mut g2 = g.clone();
    g2.suffix = Some(suffix);
    let r = Resolved::new(
        project,
        &g2,
        Some(Path::new(&format!("{program_stem}.rhai"))),
    )?;
    let st = store(&r);
    let unsealed = match file {
        PlanFile::Plain(u) => *u,
        PlanFile::Sealed(sealed) => {
            let plain = st.open_file(Purpose::Plan, path, sealed.body().to_vec())?;
            sealed.opened(&plain)?
        }
    };
    let key = st.existing_key()?;
    let known = registry(&r);
    let (mut plan, inputs) = unsealed.open(&key, |kind| known.provider(kind).is_some())?;
    let mut r = Resolved::new(project, &g2, Some(&project.root.join(&inputs.program)))?;
    if r.stack != plan.stack {
        return Err(Error::Refused(format!(
            "{} names stack `{}` but its program {} makes stack `{}`; nothing was applied\n  fix: make a new plan with `payrun plan {} --out {}`",
            path.display(),
            plan.stack,
            inputs.program,
            r.stack,
            inputs.program,
            path.display()
        )));
    }
    r.region = inputs.region;
    r.vars = inputs.vars;
    r.acknowledge = inputs.acknowledge;
    r.stdlib_dirs = inputs.stdlib_dirs;
    if plan.mode == Mode::Apply {
        if !r.program.exists() {
            return Err(Error::Refused(format!(
                "the program of the saved plan, {}, is gone: its checks cannot run again; nothing was applied\n  fix: restore {} and run `payrun apply {}` again, or make a new plan",
                inputs.program,
                inputs.program,
                path.display()
            )));
        }
        let registry = registry(&r);
        let (graph, program) = evaluate(&r, &registry)?;
        crate::check::review(&mut plan, &graph, &program, &registry)?;
    }
    Ok((r, plan))
}
