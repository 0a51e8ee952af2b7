//! The planner: refresh (batched reads, kinds concurrently), diff, findings.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::address::{Address, AddressMap};
use crate::graph::DesiredGraph;
use crate::provider::schema::ArgSpec;
use crate::provider::{ProviderError, ReadItem, ReadResult, Registry, StackRead, Unrecorded};
use crate::script::Program;
use crate::state::{ResourceState, StackKey, State};
use crate::value::{
    RefTarget, as_secret, holds_secret, is_known, resolve, resolve_shared, secret_marker,
};

use super::plan::{Action, AttrChange, Mode, PLAN_FORMAT, Plan, ResourceChange};

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("{}", refresh_failures(.0))]
    Refresh(Vec<(String, ProviderError)>),
    #[error(
        "no provider serves {kind} (recorded in state as {address})\n  fix: use the payrun build that wrote this state"
    )]
    NoProvider { kind: String, address: Address },
    /// An `adopt` or a `moved` that cannot be carried out.
    #[error("{0}\nnothing was planned or changed")]
    TakeOver(String),
}

/// Why a resource `--replace` names is replaced.
pub const REPLACE_ASKED: &str = "`--replace` names it";

#[derive(Clone, Debug)]
pub struct PlanOptions {
    pub mode: Mode,
    pub refresh: bool,
    /// `--replace` patterns: what they name is replaced even where nothing
    /// forces it (a server gone bad, a key to rotate by hand).
    pub replace: Vec<String>,
    /// `payrun test`'s `mock(pattern, outputs)`: outputs known only after
    /// apply taken as these values, for the resources the pattern names.
    pub mocks: Vec<(String, Map<String, Value>)>,
}

/// `state` with every recorded argument under its current name: a kind
/// that renamed an argument (`ArgSpec::formerly`) reads the old name as the
/// new one, so a rename plans no change, let alone a replacement. Borrowed
/// as it is when nothing was renamed.
pub fn with_current_arg_names<'a>(state: &'a State, registry: &Registry) -> Cow<'a, State> {
    let renames = |kind: &str| -> Vec<(&'static str, &'static str)> {
        registry
            .schema(kind)
            .map(|s| {
                s.args
                    .iter()
                    .filter_map(|a| Some((a.formerly?, a.name)))
                    .collect()
            })
            .unwrap_or_default()
    };
    let stale = |r: &ResourceState| {
        renames(&r.kind)
            .iter()
            .any(|(old, new)| r.args.get(old).is_some() && r.args.get(new).is_none())
    };
    if !state.resources.values().any(stale) {
        return Cow::Borrowed(state);
    }
    let mut state = state.clone();
    for r in state.resources.values_mut() {
        for (old, new) in renames(&r.kind) {
            if let Value::Object(args) = &mut r.args
                && !args.contains_key(new)
                && let Some(v) = args.remove(old)
            {
                args.insert(new.to_string(), v);
            }
        }
    }
    Cow::Owned(state)
}

/// What a refresh saw: each recorded resource as it lives, and what the
/// stack's tag found that no record is.
#[derive(Debug, Default)]
pub struct Live {
    pub resources: BTreeMap<Address, ReadResult>,
    pub unrecorded: Vec<Unrecorded>,
}

/// Read back the stack: every provider at once, each reading all its
/// kinds (one batched read per kind, or fewer calls where a service lists
/// many kinds at once). `also` are kinds read though state records none of
/// them (the program's, an interrupted create's): what the stack's tag
/// finds of them is seen too.
async fn read_live(
    state: &State,
    key: &StackKey,
    registry: &Registry,
    also: &BTreeSet<String>,
) -> Result<Live, PlanError> {
    let prefix = |kind: &str| kind.split('.').next().unwrap_or(kind).to_string();
    let mut by_provider: BTreeMap<String, BTreeMap<String, Vec<ReadItem>>> = BTreeMap::new();
    for (address, r) in &state.resources {
        if registry.provider(&r.kind).is_none() {
            return Err(PlanError::NoProvider {
                address: address.clone(),
                kind: r.kind.clone(),
            });
        }
        by_provider
            .entry(prefix(&r.kind))
            .or_default()
            .entry(r.kind.clone())
            .or_default()
            .push(ReadItem {
                address: address.clone(),
                id: r.id.clone(),
                args: r.args.clone(),
                outputs: r.outputs.clone(),
            });
    }
    for kind in also.iter().filter(|k| registry.provider(k).is_some()) {
        by_provider
            .entry(prefix(kind))
            .or_default()
            .entry(kind.clone())
            .or_default();
    }
    let mut tasks = tokio::task::JoinSet::new();
    for kinds in by_provider.into_values() {
        let first = kinds.keys().next().cloned().unwrap_or_default();
        let provider = registry
            .provider(&first)
            .cloned()
            .expect("kinds without a provider were refused above");
        let stack = state.stack.clone();
        tasks.spawn(async move {
            let found = provider
                .read_stack(StackRead {
                    stack: &stack,
                    kinds: &kinds,
                })
                .await;
            (kinds, found)
        });
    }
    // Every kind finishes its refresh, so one that fails is reported with
    // every other that failed, not in place of them.
    let mut out = Live::default();
    let mut failed = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        let (kinds, found) = joined.expect("refresh task does not panic");
        out.unrecorded.extend(found.unrecorded);
        let mut results = found.kinds;
        for (kind, items) in kinds {
            if items.is_empty() {
                continue;
            }
            match results.remove(&kind) {
                Some(Ok(results)) => {
                    let schema = registry.schema(&kind);
                    for (item, r) in items.into_iter().zip(results) {
                        let r = match r {
                            ReadResult::Found { args, outputs } => ReadResult::Found {
                                args: super::sealed::seal_args(schema, &item.args, args, key),
                                outputs,
                            },
                            gone => gone,
                        };
                        out.resources.insert(item.address, r);
                    }
                }
                Some(Err(error)) => failed.push((kind, error)),
                None => failed.push((
                    kind.clone(),
                    ProviderError::new(format!("the provider answered nothing for {kind}")),
                )),
            }
        }
    }
    if !failed.is_empty() {
        failed.sort_by(|a, b| a.0.cmp(&b.0));
        return Err(PlanError::Refresh(failed));
    }
    out.unrecorded.sort();
    out.unrecorded.dedup();
    Ok(out)
}

fn refresh_failures(failed: &[(String, ProviderError)]) -> String {
    let mut text = format!(
        "refreshing {} of the stack's kinds failed; nothing was planned or changed",
        failed.len()
    );
    for (kind, error) in failed {
        text.push_str(&format!("\n  {kind}: {}", error.message));
        if let Some(fix) = &error.fix {
            text.push_str(&format!("\n    fix: {fix}"));
        }
    }
    let transient = failed.iter().any(|(_, e)| e.retryable);
    text.push_str(if transient {
        "\n  fix: the service kept refusing or failing for the whole retry budget: run the command again later, or give it longer with --retry-budget 10m"
    } else {
        "\n  fix: follow the fix of each kind above, then run the command again"
    });
    text
}

/// Make the plan. `desired` is `None` in destroy mode when the program is
/// gone.
pub async fn make_plan(
    desired: Option<(&DesiredGraph, &Program)>,
    state: &State,
    key: &StackKey,
    registry: &Registry,
    suffix: &str,
    opts: PlanOptions,
) -> Result<Plan, PlanError> {
    let renamed = with_current_arg_names(state, registry);
    let (taken, moved, importing) = match (desired, opts.mode) {
        (Some((graph, program)), Mode::Apply) => {
            super::adopt::take_over(&renamed, graph, program).map_err(PlanError::TakeOver)?
        }
        _ => (Cow::Borrowed(&*renamed), Vec::new(), BTreeMap::new()),
    };
    let state = &*taken;
    if !importing.is_empty() && !opts.refresh {
        return Err(PlanError::TakeOver(format!(
            "adopt reads the live object it imports, and --refresh=false reads nothing ({} to import)\n  fix: plan without --refresh=false",
            importing.len()
        )));
    }
    let mut import_problems = Vec::new();
    // Kinds read though state records none of them: the program's and an
    // interrupted create's, so what carries the stack's tag there is seen.
    let also: BTreeSet<String> = desired
        .iter()
        .flat_map(|(graph, _)| graph.resources().map(|s| s.address.kind().to_string()))
        .chain(state.intents.values().map(|i| i.kind.clone()))
        .collect();
    let seen = if opts.refresh && !(state.resources.is_empty() && state.intents.is_empty()) {
        read_live(state, key, registry, &also).await?
    } else {
        Live::default()
    };
    let live = &seen.resources;
    let mut changes = Vec::new();
    // Sized up front: growing it would hash every address again.
    let mut actions: AddressMap<Action> = AddressMap::with_capacity_and_hasher(
        desired.map_or(0, |(g, _)| g.len()) + state.resources.len(),
        Default::default(),
    );
    // Outputs known now: recorded, refreshed where read.
    let current_outputs = |a: &Address| -> Option<Map<String, Value>> {
        let r = state.resources.get(a)?;
        let mut o = r.outputs.clone();
        if let Some(ReadResult::Found { outputs, .. }) = live.get(a) {
            o.extend(outputs.clone());
        }
        o.insert("id".into(), Value::String(r.id.clone()));
        // A kind that reports its name (one named by an argument, or
        // imported) says what it is called.
        o.entry("name")
            .or_insert_with(|| Value::String(r.name.clone()));
        Some(o)
    };

    // `payrun test`'s mocks: the last one naming the output wins.
    let is_mocked = |address: &str, attr: &str| {
        opts.mocks.iter().any(|(p, o)| {
            o.contains_key(attr)
                && address
                    .parse::<Address>()
                    .is_ok_and(|a| super::protect::address_matches(p, &a))
        })
    };
    let mocked = |t: &RefTarget| -> Option<Value> {
        opts.mocks
            .iter()
            .rev()
            .find(|(p, o)| {
                o.contains_key(&t.attr) && super::protect::address_matches(p, &t.address)
            })
            .map(|(_, o)| o[&t.attr].clone())
    };
    let mut exports = BTreeMap::new();
    if let (Some((graph, program)), Mode::Apply) = (desired, opts.mode) {
        for address in graph.order() {
            let spec = graph
                .spec(address)
                .expect("ordered addresses are in the graph");
            let schema = registry
                .schema(address.kind())
                .expect("builders exist only for known kinds");
            let lookup = |t: &RefTarget| -> Option<Value> {
                if let Some(name) = physical_name(graph, registry, state, &actions, t) {
                    return Some(name);
                }
                match actions.get(&t.address) {
                    Some(Action::NoOp | Action::Update) => {
                        current_outputs(&t.address)?.get(&t.attr).cloned()
                    }
                    _ => mocked(t),
                }
            };
            // Only a name, or an output of what stays (or a test mocks), is
            // known before apply.
            let may_know = |address: &str, attr: &str| {
                attr == "name"
                    || matches!(actions.get(address), Some(Action::NoOp | Action::Update))
                    || is_mocked(address, attr)
            };
            let mut after =
                with_secret_digests(resolve_shared(&spec.args, &lookup, &may_know), key);
            let recorded = state.resources.get(address);
            if let Some(r) = recorded.filter(|r| r.tagged_as.is_some()) {
                super::adopt::keep_moved_identity(Arc::make_mut(&mut after), r, &spec.name);
            }
            let importing_at = importing.get(address);
            let deps = graph.deps(address);
            let mut change = ResourceChange {
                address: address.clone(),
                action: Action::Create,
                name: spec.name.clone(),
                id: recorded.map(|r| r.id.clone()),
                before: None,
                after: None,
                changes: Vec::new(),
                replace_because: Vec::new(),
                drift: Vec::new(),
                deps,
                prior_deps: recorded.map(|r| r.deps.clone()).unwrap_or_default(),
                outputs: recorded.map(|r| r.outputs.clone()).unwrap_or_default(),
                declared_at: Some(spec.pos.to_string()),
                completing: false,
                create_before_destroy: false,
                generation: 0,
                deposed: Vec::new(),
                duplicates: Vec::new(),
                live_drift: Map::new(),
                gone: false,
                protect: spec.protect,
                protected_before: recorded.is_some_and(|r| r.protected),
                import_at: None,
            };
            match (recorded, live.get(address)) {
                (None, _) => {}
                (Some(r), Some(ReadResult::Gone)) if importing_at.is_some() => {
                    let importing = super::adopt::Importing {
                        address,
                        id: &r.id,
                        at: importing_at.map(String::as_str).unwrap_or_default(),
                        after: &after,
                        name: &spec.name,
                    };
                    import_problems.extend(super::adopt::refuse_import(
                        &importing,
                        None,
                        &state.stack,
                        registry,
                    ));
                }
                (Some(_), Some(ReadResult::Gone)) => {
                    change.gone = true;
                    change.id = None;
                    change.outputs = Map::new();
                    change.drift.push("deleted outside payrun".into());
                }
                (Some(r), found) => {
                    let mut before = r.args.clone();
                    if let Some(at) = importing_at {
                        // Imported: what it is live is where it starts from.
                        let importing = super::adopt::Importing {
                            address,
                            id: &r.id,
                            at,
                            after: &after,
                            name: &spec.name,
                        };
                        if let Some(problem) =
                            super::adopt::refuse_import(&importing, found, &state.stack, registry)
                        {
                            import_problems.push(problem);
                        }
                        if let Some(ReadResult::Found { args, outputs }) = found {
                            before = Value::Object(args.clone());
                            change.outputs = outputs.clone();
                        }
                        change.import_at = Some(at.clone());
                    } else {
                        crate::plan::sealed::unseal_write_only(schema, &mut before, &after, key);
                    }
                    if let (Some(ReadResult::Found { args, .. }), Value::Object(b), None) =
                        (found, &mut before, importing_at)
                    {
                        for (k, v) in args {
                            let recorded_v = b.get(k).cloned().unwrap_or(Value::Null);
                            if !same(&recorded_v, v) {
                                change.drift.push(format!(
                                    "`{k}` changed outside payrun: {} → {}",
                                    crate::value::display(&recorded_v),
                                    crate::value::display(v)
                                ));
                                change.live_drift.insert(k.clone(), v.clone());
                                b.insert(k.clone(), v.clone());
                            }
                        }
                    }
                    change.changes = diff_args(&before, &after, |k| schema.arg(k));
                    change.replace_because = change
                        .changes
                        .iter()
                        .filter(|c| c.forces_replacement)
                        .map(|c| format!("`{}` forces replacement", c.name))
                        .collect();
                    change.before = Some(before);
                    if opts
                        .replace
                        .iter()
                        .any(|p| super::protect::address_matches(p, address))
                    {
                        change.replace_because.push(REPLACE_ASKED.to_string());
                    }
                    change.action = if !change.replace_because.is_empty() {
                        Action::Replace
                    } else if !change.changes.is_empty() || r.incomplete {
                        Action::Update
                    } else {
                        Action::NoOp
                    };
                    change.completing = r.incomplete && change.action == Action::Update;
                    if let Some(at) = importing_at
                        && change.action == Action::Replace
                    {
                        import_problems.push(format!(
                            "adopt({address}, \"{}\") at {}: the live object differs from the declaration where only a new object could follow it: {}\n  fix: declare what it is live: {}",
                            r.id,
                            at,
                            change.replace_because.join(", "),
                            change
                                .changes
                                .iter()
                                .filter(|c| c.forces_replacement)
                                .map(|c| format!(
                                    "`{}: {}`",
                                    c.name,
                                    c.before.as_ref().map_or("()".into(), crate::value::display)
                                ))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ));
                    }
                    match change.action {
                        Action::Replace => {
                            let next = r.generation + 1;
                            let name = generation_name(&spec.name, next);
                            if !schema.replaced_before_destroyed() {
                                // Deleted first: two cannot exist at once.
                            } else if name.len() > schema.name_max {
                                change.replace_because.push(format!(
                                    "deleted first: the new one's name `{name}` would be longer than the {} characters allowed",
                                    schema.name_max
                                ));
                            } else {
                                change.create_before_destroy = true;
                                change.generation = next;
                                change.name = name;
                            }
                        }
                        Action::NoOp | Action::Update => {
                            change.name = r.name.clone();
                            change.generation = r.generation;
                        }
                        _ => {}
                    }
                }
            }
            if let Some(r) = recorded {
                change.deposed = r.deposed.iter().map(|d| d.id.clone()).collect();
            }
            change.after = Some(after);
            actions.insert(address.clone(), change.action);
            changes.push(change);
        }
        if !import_problems.is_empty() {
            return Err(PlanError::TakeOver(import_problems.join("\n")));
        }
        for export in &program.exports {
            let lookup = |t: &RefTarget| -> Option<Value> {
                if let Some(name) = physical_name(graph, registry, state, &actions, t) {
                    return Some(name);
                }
                match actions.get(&t.address) {
                    Some(Action::NoOp | Action::Update) => {
                        current_outputs(&t.address)?.get(&t.attr).cloned()
                    }
                    _ => mocked(t),
                }
            };
            exports.insert(export.name.clone(), resolve(&export.value, &lookup));
        }
    }

    let keep: BTreeSet<&Address> = match (desired, opts.mode) {
        (Some((graph, _)), Mode::Apply) => state
            .resources
            .keys()
            .filter(|a| graph.contains(a))
            .collect(),
        _ => BTreeSet::new(),
    };
    // What the program forgets leaves state, not the cloud.
    let forgotten: Vec<super::Forgotten> = desired
        .map(|(_, program)| program.forgets.as_slice())
        .unwrap_or_default()
        .iter()
        .filter_map(|(a, at)| {
            Some(super::Forgotten {
                address: a.clone(),
                id: state.resources.get(a)?.id.clone(),
                at: at.to_string(),
            })
        })
        .collect();
    let mut deletes: Vec<ResourceChange> = state
        .resources
        .iter()
        .filter(|(a, _)| !keep.contains(a) && !forgotten.iter().any(|f| &f.address == *a))
        .map(|(a, r)| ResourceChange {
            address: a.clone(),
            action: Action::Delete,
            name: r.name.clone(),
            id: Some(r.id.clone()),
            before: Some(r.args.clone()),
            after: None,
            changes: Vec::new(),
            replace_because: Vec::new(),
            drift: match live.get(a) {
                Some(ReadResult::Gone) => vec!["already deleted outside payrun".into()],
                _ => Vec::new(),
            },
            deps: Vec::new(),
            prior_deps: r.deps.clone(),
            outputs: r.outputs.clone(),
            declared_at: None,
            completing: false,
            create_before_destroy: false,
            generation: r.generation,
            deposed: r.deposed.iter().map(|d| d.id.clone()).collect(),
            duplicates: Vec::new(),
            // Recorded protected, or declared so now (a destroy judges
            // by both).
            live_drift: Map::new(),
            gone: matches!(live.get(a), Some(ReadResult::Gone)),
            protect: r.protected
                || desired.is_some_and(|(g, _)| g.spec(a).is_some_and(|s| s.protect)),
            protected_before: r.protected,
            import_at: None,
        })
        .collect();
    // Creates that were interrupted before anything was recorded, for
    // resources the program no longer declares (or a destroy): whatever
    // they made is found and deleted, not forgotten.
    deletes.extend(
        state
            .intents
            .iter()
            .filter(|(a, _)| {
                !state.resources.contains_key(*a) && !keep_intent(desired, opts.mode, a)
            })
            .map(|(a, i)| ResourceChange {
                address: a.clone(),
                action: Action::Delete,
                name: i.name.clone(),
                id: None,
                before: Some(i.args.clone()),
                after: None,
                changes: Vec::new(),
                replace_because: Vec::new(),
                drift: vec!["its create was interrupted: deleted if it was made".into()],
                deps: Vec::new(),
                prior_deps: i.deps.clone(),
                outputs: Map::new(),
                declared_at: None,
                completing: false,
                create_before_destroy: false,
                generation: 0,
                deposed: Vec::new(),
                duplicates: Vec::new(),
                live_drift: Map::new(),
                gone: false,
                protect: false,
                protected_before: false,
                import_at: None,
            }),
    );
    deletes.sort_by(|a, b| a.address.cmp(&b.address));
    changes.extend(deletes);
    // What was let go of still carries the stack's tag: passed over.
    let unrecorded = seen
        .unrecorded
        .into_iter()
        .filter(|u| !state.forgotten.contains_key(&u.id))
        .collect();
    let unaccounted = attach_duplicates(&mut changes, state, unrecorded);

    let interrupted = state
        .intents
        .keys()
        .filter(|a| !state.resources.contains_key(*a))
        .cloned()
        .collect();

    Ok(Plan {
        format: PLAN_FORMAT.into(),
        mode: opts.mode,
        stack: state.stack.clone(),
        suffix: suffix.to_string(),
        program: None,
        lineage: state.lineage.clone(),
        serial: state.serial,
        created_at: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
        changes,
        outputs: exports,
        findings: Vec::new(),
        interrupted,
        calendar: None,
        unaccounted,
        protection_lifted: Vec::new(),
        refresh_only: false,
        refreshed: Vec::new(),
        forgotten,
        partial: None,
        moved,
    })
}

/// What the stack's tag found that no record is, sorted out: an object
/// tagged with the address of a recorded resource of its kind (not that
/// resource, nor one it replaced) is a duplicate a crash race left, and
/// goes with that address's change, to be deleted; one whose address has
/// an interrupted create is left to that create's lookup, which adopts it;
/// one tagged with an address of another kind carries the tags of the
/// resource it was made for (EKS tags its cluster's security group) and is
/// not payrun's. The rest (no address tag, or an address state does not
/// know) is returned, to be shown and left alone.
fn attach_duplicates(
    changes: &mut [ResourceChange],
    state: &State,
    unrecorded: Vec<Unrecorded>,
) -> Vec<Unrecorded> {
    let mut unaccounted = Vec::new();
    for u in unrecorded {
        let address: Option<Address> = u.address.as_deref().and_then(|a| a.parse().ok());
        let Some(address) = address else {
            unaccounted.push(u);
            continue;
        };
        if address.kind() != u.kind || state.intents.contains_key(&address) {
            continue;
        }
        let known = state
            .resources
            .get(&address)
            .is_some_and(|r| r.id == u.id || r.deposed.iter().any(|d| d.id == u.id));
        match changes.iter_mut().find(|c| c.address == address) {
            Some(c) if state.resources.contains_key(&address) => {
                if !known && !c.duplicates.contains(&u.id) {
                    c.duplicates.push(u.id);
                }
            }
            _ => unaccounted.push(u),
        }
    }
    unaccounted
}

/// An interrupted create the program still declares: the apply adopts or
/// makes it.
fn keep_intent(desired: Option<(&DesiredGraph, &Program)>, mode: Mode, a: &Address) -> bool {
    mode == Mode::Apply && desired.is_some_and(|(graph, _)| graph.contains(a))
}

/// `handle.name` of a kind that reports no `name` of its own is the
/// physical name payrun gives it: known at plan time.
fn physical_name(
    graph: &DesiredGraph,
    registry: &Registry,
    state: &State,
    actions: &AddressMap<Action>,
    t: &RefTarget,
) -> Option<Value> {
    if t.attr != "name" || registry.schema(t.address.kind())?.outputs.contains(&"name") {
        return None;
    }
    match actions.get(&t.address) {
        // A replacement may take the next generation's name.
        Some(Action::Replace) => return None,
        // What it is called now, a generation included.
        Some(Action::NoOp | Action::Update) => {
            if let Some(r) = state.resources.get(&t.address) {
                return Some(Value::String(r.name.clone()));
            }
        }
        _ => {}
    }
    graph
        .spec(&t.address)
        .map(|s| Value::String(s.name.clone()))
}

/// `base` in its `generation`: `sg-pods-qa`, `sg-pods-qa-2`, ...
fn generation_name(base: &str, generation: u32) -> String {
    if generation == 0 {
        base.to_string()
    } else {
        format!("{base}-{}", generation + 1)
    }
}

/// Null and absent are the same; numbers compare by value.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Object(x), Value::Object(y)) => {
            let keys: BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            keys.into_iter().all(|k| {
                same(
                    x.get(k).unwrap_or(&Value::Null),
                    y.get(k).unwrap_or(&Value::Null),
                )
            })
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        _ => a == b,
    }
}

/// Attribute-level differences between two arg maps.
pub(crate) fn diff_args<'a>(
    before: &Value,
    after: &Value,
    spec: impl Fn(&str) -> Option<&'a ArgSpec>,
) -> Vec<AttrChange> {
    let empty = Map::new();
    let b = before.as_object().unwrap_or(&empty);
    let a = after.as_object().unwrap_or(&empty);
    let keys: BTreeSet<&String> = b.keys().chain(a.keys()).collect();
    keys.into_iter()
        .filter_map(|k| {
            let bv = b.get(k).cloned().unwrap_or(Value::Null);
            let av = a.get(k).cloned().unwrap_or(Value::Null);
            let arg = spec(k);
            let placement = arg.and_then(|a| a.placement);
            let unchanged = match placement {
                Some(p) => same(&(p.compared)(&bv), &(p.compared)(&av)),
                None => {
                    same(&bv, &av)
                        || (arg.is_some_and(|a| a.document)
                            && is_known(&av)
                            && crate::value::same_document(&bv, &av))
                }
            };
            if unchanged {
                return None;
            }
            let forces_replacement = match placement {
                // Another place, or one not known until apply.
                Some(p) => {
                    let after = (p.identity)(&av);
                    !is_known(&after) || !same(&(p.identity)(&bv), &after)
                }
                None => arg.is_some_and(|a| a.force_new),
            };
            let note = arg.and_then(|a| a.explain).and_then(|f| f(&bv, &av));
            Some(AttrChange {
                name: k.clone(),
                before: (!bv.is_null()).then_some(bv),
                after: (!av.is_null()).then_some(av),
                forces_replacement,
                note,
            })
        })
        .collect()
}

/// Fill in the digest of every secret from its environment variable; a
/// secret whose variable is not set keeps its marker without a digest
/// (`check::secrets` makes it an error finding).
fn with_secret_digests(mut v: Arc<Value>, key: &StackKey) -> Arc<Value> {
    if holds_secret(&v) {
        digest_secrets(Arc::make_mut(&mut v), key);
    }
    v
}

/// In place: only the secret markers change.
fn digest_secrets(v: &mut Value, key: &StackKey) {
    if let Some((env, _)) = as_secret(v) {
        if let Ok(value) = std::env::var(env) {
            crate::redact::register(&value);
            *v = secret_marker(env, Some(key.digest(value.as_bytes())));
        }
        return;
    }
    match v {
        Value::Array(items) => items.iter_mut().for_each(|i| digest_secrets(i, key)),
        Value::Object(map) => map.values_mut().for_each(|i| digest_secrets(i, key)),
        _ => {}
    }
}
