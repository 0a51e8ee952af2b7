//! The executor: builds the apply graph from a plan (never from the
//! program) and walks it.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::task::JoinSet;

use crate::address::Address;
use crate::plan::{Action, Mode, Plan, ResourceChange};
use crate::provider::{Applied, CreateOp, DeleteOp, ProgressFn, Registry, UpdateOp};
use crate::state::{Deposed, Intent, ResourceState, StackKey, State, StateError, StateStore};
use crate::value::{RefTarget, as_secret, for_validation, is_known, resolve, secret_marker};

use super::hook::{ApplySummary, Hook, OpKind, Outcome};

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error(
        "the saved plan was made for state serial {plan_serial} of lineage {plan_lineage}, but the state is now serial {serial} of lineage {lineage}\n  fix: make a new plan with `payrun plan --out FILE` and apply that"
    )]
    StalePlan {
        plan_lineage: String,
        plan_serial: u64,
        lineage: String,
        serial: u64,
    },
    #[error(
        "the plan has errors; apply refuses to start:\n{0}\n  fix: resolve the findings above and plan again"
    )]
    Findings(String),
    #[error("apply refuses to start: nothing was changed\n  {0}")]
    Preflight(String),
    #[error(transparent)]
    State(#[from] StateError),
}

#[derive(Clone, Copy, Debug)]
pub struct ApplyOptions {
    pub parallelism: usize,
    /// How long a create whose outcome is unknown keeps being looked for
    /// and tried again.
    pub retry_budget: Duration,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        Self {
            parallelism: 10,
            retry_budget: Duration::from_secs(120),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum StepKind {
    Delete,
    Apply,
    /// Delete what a create-before-destroy replacement (this run's or an
    /// interrupted one's) left of the old object.
    DeleteDeposed,
}

struct Step {
    address: Address,
    kind: StepKind,
    /// Steps that wait for this one.
    then: Vec<usize>,
    waiting_on: usize,
}

/// Build the apply graph: create/update after dependencies; destroy after
/// the resources that depended on it (recorded in state) are destroyed or
/// moved off it; a replacement destroys before it creates.
fn build_steps(plan: &Plan) -> Vec<Step> {
    let mut steps: Vec<Step> = Vec::new();
    let mut index: HashMap<(Address, StepKind), usize> = HashMap::new();
    let mut add = |address: &Address, kind| {
        index.insert((address.clone(), kind), steps.len());
        steps.push(Step {
            address: address.clone(),
            kind,
            then: Vec::new(),
            waiting_on: 0,
        });
    };
    for c in &plan.changes {
        match c.action {
            Action::NoOp => {}
            Action::Create | Action::Update => add(&c.address, StepKind::Apply),
            Action::Delete => add(&c.address, StepKind::Delete),
            Action::Replace if c.create_before_destroy => {
                add(&c.address, StepKind::Apply);
            }
            Action::Replace => {
                add(&c.address, StepKind::Delete);
                add(&c.address, StepKind::Apply);
            }
        }
        let deposes = c.action == Action::Replace && c.create_before_destroy;
        let leftovers = !c.deposed.is_empty() || !c.duplicates.is_empty();
        if (deposes || leftovers) && c.action != Action::Delete {
            add(&c.address, StepKind::DeleteDeposed);
        }
    }
    let mut edges: Vec<(usize, usize)> = Vec::new();
    let get = |a: &Address, k| index.get(&(a.clone(), k)).copied();
    for c in &plan.changes {
        if let Some(me) = get(&c.address, StepKind::Apply) {
            for d in &c.deps {
                if let Some(dep) = get(d, StepKind::Apply) {
                    edges.push((dep, me));
                }
            }
            if let Some(del) = get(&c.address, StepKind::Delete) {
                edges.push((del, me));
            }
        }
        // c depended on d when last applied: d goes only after c is gone,
        // or, when d leaves for good, after c has been moved off it. (A
        // replaced d is destroyed first and c is updated to the new one.)
        for d in &c.prior_deps {
            let Some(d_delete) = get(d, StepKind::Delete) else {
                continue;
            };
            if let Some(c_delete) = get(&c.address, StepKind::Delete) {
                edges.push((c_delete, d_delete));
            } else if let (Some(c_apply), None) =
                (get(&c.address, StepKind::Apply), get(d, StepKind::Apply))
            {
                edges.push((c_apply, d_delete));
            }
        }
    }
    // The old object of a replacement made first goes after the new one
    // exists and after everything that used it moved off it (or left).
    for c in &plan.changes {
        let Some(dd) = get(&c.address, StepKind::DeleteDeposed) else {
            continue;
        };
        if let Some(me) = get(&c.address, StepKind::Apply) {
            edges.push((me, dd));
        }
        for user in &plan.changes {
            if !user.deps.contains(&c.address) && !user.prior_deps.contains(&c.address) {
                continue;
            }
            for kind in [StepKind::Apply, StepKind::Delete] {
                if let Some(step) = get(&user.address, kind) {
                    edges.push((step, dd));
                }
            }
        }
    }
    edges.sort_unstable();
    edges.dedup();
    for (from, to) in edges {
        steps[from].then.push(to);
        steps[to].waiting_on += 1;
    }
    steps
}

struct Shared {
    state: Mutex<State>,
    store: Arc<dyn StateStore>,
    registry: Registry,
    hook: Arc<dyn Hook>,
    changes: BTreeMap<Address, ResourceChange>,
    keys: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    retry_budget: Duration,
    /// Keys the digests of secrets, as the plan's were.
    stack_key: StackKey,
}

impl Shared {
    fn save(&self, f: impl FnOnce(&mut State)) -> Result<(), String> {
        let mut st = self.state.lock().expect("state");
        f(&mut st);
        self.store.save(&mut st).map_err(|e| e.to_string())
    }

    fn stack(&self) -> String {
        self.state.lock().expect("state").stack.clone()
    }

    fn key_lock(&self, key: &str) -> Arc<tokio::sync::Mutex<()>> {
        self.keys
            .lock()
            .expect("keys")
            .entry(key.to_string())
            .or_default()
            .clone()
    }
}

/// Apply `plan` to `state` (which must be the state the plan was made
/// against). Returns what happened; failures of single resources are in the
/// summary, not errors.
pub async fn apply(
    plan: &Plan,
    state: State,
    store: Arc<dyn StateStore>,
    registry: Registry,
    hook: Arc<dyn Hook>,
    opts: ApplyOptions,
    stop: Arc<AtomicBool>,
) -> Result<(ApplySummary, State), ApplyError> {
    let mut state = state;
    // A stack's first plan is made against no state file: the state this
    // apply writes takes the plan's lineage.
    if state.serial == 0 && plan.serial == 0 {
        state.lineage = plan.lineage.clone();
    }
    if state.lineage != plan.lineage || state.serial != plan.serial {
        return Err(ApplyError::StalePlan {
            plan_lineage: plan.lineage.clone(),
            plan_serial: plan.serial,
            lineage: state.lineage,
            serial: state.serial,
        });
    }
    if let Some(program) = &plan.program {
        state.claim(program, &plan.suffix)?;
    }
    if plan.has_errors() {
        let list: Vec<String> = plan
            .findings
            .iter()
            .filter(|f| f.severity == crate::finding::Severity::Error)
            .map(|f| format!("  error [{}]: {}", f.code, f.message))
            .collect();
        return Err(ApplyError::Findings(list.join("\n")));
    }
    let stack_key = store.key()?;
    preflight(plan, &registry).await?;
    // Moves and imports change state, not the cloud: recorded first, so
    // an import's update (payrun's tags) and a moved resource's dependents
    // find them at their addresses.
    if !plan.moved.is_empty() || plan.imports() > 0 {
        crate::plan::record_moves_and_imports(&mut state, plan);
        store.save(&mut state)?;
    }
    let mut steps = build_steps(plan);
    let shared = Arc::new(Shared {
        state: Mutex::new(state),
        store,
        registry,
        hook: hook.clone(),
        changes: plan
            .changes
            .iter()
            .map(|c| (c.address.clone(), c.clone()))
            .collect(),
        keys: Mutex::new(HashMap::new()),
        retry_budget: opts.retry_budget,
        stack_key,
    });
    let mut summary = ApplySummary::default();
    let mut ready: Vec<usize> = (0..steps.len())
        .filter(|&i| steps[i].waiting_on == 0)
        .collect();
    ready.reverse();
    let mut done = vec![false; steps.len()];
    let mut tasks: JoinSet<(usize, OpKind, Result<String, String>)> = JoinSet::new();
    let parallelism = opts.parallelism.max(1);

    // A lost lock stops the walk as an interrupt does: what is in flight
    // finishes and is recorded, nothing new starts.
    let halted = |shared: &Shared| stop.load(Ordering::SeqCst) || shared.store.lost().is_some();
    loop {
        while tasks.len() < parallelism && !halted(&shared) {
            let Some(i) = ready.pop() else { break };
            let step = &steps[i];
            let shared = shared.clone();
            let address = step.address.clone();
            let kind = step.kind;
            tasks.spawn(async move {
                let (op, result) = run_step(&shared, &address, kind).await;
                (i, op, result)
            });
        }
        let Some(joined) = tasks.join_next().await else {
            break;
        };
        let (i, op, result) = joined.expect("apply step does not panic");
        done[i] = true;
        match result {
            Ok(_) => {
                match op {
                    OpKind::Create => summary.created += 1,
                    OpKind::Update => summary.updated += 1,
                    OpKind::Delete => summary.destroyed += 1,
                    OpKind::Adopt => summary.adopted += 1,
                }
                let then = steps[i].then.clone();
                for j in then {
                    steps[j].waiting_on -= 1;
                    if steps[j].waiting_on == 0 {
                        ready.push(j);
                    }
                }
            }
            Err(error) => {
                summary.failed.push((steps[i].address.clone(), error));
                // Everything downstream is skipped; the rest goes on.
                let mut stack = steps[i].then.clone();
                while let Some(j) = stack.pop() {
                    if done[j] {
                        continue;
                    }
                    done[j] = true;
                    let addr = steps[j].address.clone();
                    if !summary.skipped.contains(&addr) {
                        let op = if steps[j].kind == StepKind::Delete {
                            OpKind::Delete
                        } else {
                            OpKind::Create
                        };
                        hook.finished(
                            &addr,
                            op,
                            &Outcome::Skipped {
                                because: steps[i].address.clone(),
                            },
                            std::time::Duration::ZERO,
                        );
                        summary.skipped.push(addr);
                    }
                    stack.extend(steps[j].then.iter().copied());
                }
            }
        }
    }
    let stuck: Vec<usize> = (0..steps.len()).filter(|&i| !done[i]).collect();
    if !halted(&shared) {
        // Every step runs unless interrupted; one that could not is a cycle
        // in the apply graph, reported rather than passed over.
        for i in stuck {
            summary.failed.push((
                steps[i].address.clone(),
                "not run: its apply steps wait on each other (a cycle in the apply graph); please report this plan".into(),
            ));
        }
    } else {
        summary.interrupted = true;
        summary.not_started = (0..steps.len())
            .filter(|&i| !done[i])
            .map(|i| steps[i].address.clone())
            .collect();
    }

    // Outputs: everything the program exports that is now known.
    let final_state = {
        let mut st = shared.state.lock().expect("state");
        // An intent beside a recorded resource that this apply found live
        // or made is stale: the create it stood for is settled.
        let settled: Vec<Address> = st
            .intents
            .keys()
            .filter(|a| {
                st.resources.contains_key(*a)
                    && !summary.failed.iter().any(|(f, _)| f == *a)
                    && !summary.skipped.contains(*a)
                    && !summary.not_started.contains(*a)
            })
            .cloned()
            .collect();
        for a in settled {
            st.intents.remove(&a);
        }
        // What the program forgets: out of state, remembered by id so the
        // stack's read passes over it; no call to the cloud.
        for f in &plan.forgotten {
            if st.resources.remove(&f.address).is_some() {
                st.forgotten.insert(f.id.clone(), f.address.clone());
            }
        }
        // What a refresh-only plan read live: recorded, with no call to
        // the cloud.
        for r in &plan.refreshed {
            match &r.args {
                Some(args) => {
                    if let Some(recorded) = st.resources.get_mut(&r.address) {
                        recorded.args = args.clone();
                    }
                }
                None => {
                    st.resources.remove(&r.address);
                }
            }
        }
        // Protection declared or dropped on what kept its object: recorded,
        // with no call to the cloud.
        for c in plan.changes.iter().filter(|c| c.protection_changes()) {
            if let Some(r) = st.resources.get_mut(&c.address) {
                r.protected = c.protect;
            }
        }
        let snapshot = st.clone();
        let lookup = |t: &RefTarget| snapshot.output(&t.address, &t.attr);
        st.outputs = match plan.mode {
            Mode::Destroy => BTreeMap::new(),
            Mode::Apply => plan
                .outputs
                .iter()
                .map(|(k, v)| (k.clone(), resolve(v, &lookup)))
                .filter(|(_, v)| is_known(v))
                .collect(),
        };
        shared.store.save(&mut st)?;
        st.clone()
    };
    if plan.mode == Mode::Destroy && !summary.interrupted {
        summary.left_behind = sweep(&shared.registry, plan, &final_state.forgotten).await;
    }
    hook.summary(&summary);
    Ok((summary, final_state))
}

/// After a destroy: ask every provider what of the stack is still live,
/// but for what `forget` let go of (`forgotten`, by id). A check that
/// cannot run is reported as such, never as "nothing left".
async fn sweep(
    registry: &Registry,
    plan: &Plan,
    forgotten: &BTreeMap<String, Address>,
) -> Vec<String> {
    let mut by_prefix: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for c in &plan.changes {
        let kind = c.address.kind();
        by_prefix
            .entry(kind.split('.').next().unwrap_or(kind))
            .or_default()
            .push(kind);
    }
    let mut left = Vec::new();
    for kinds in by_prefix.values() {
        let Some(provider) = registry.provider(kinds[0]) else {
            continue;
        };
        match provider.sweep(&plan.stack, kinds).await {
            Ok(found) => left.extend(
                found
                    .into_iter()
                    .filter(|l| !forgotten.contains_key(&l.id))
                    .map(|l| match l.address {
                        Some(a) => format!("{} {} ({a})", l.kind, l.id),
                        None => format!("{} {}", l.kind, l.id),
                    }),
            ),
            Err(e) => left.push(format!(
                "(the check for leftovers failed, so nothing is known to be gone: {e})"
            )),
        }
    }
    left
}

/// Ask every provider whose kinds the plan changes whether it can run them,
/// before anything is changed.
async fn preflight(plan: &Plan, registry: &Registry) -> Result<(), ApplyError> {
    let mut by_prefix: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for c in plan.changes.iter().filter(|c| c.action != Action::NoOp) {
        let kind = c.address.kind();
        let prefix = kind.split('.').next().unwrap_or(kind);
        let kinds = by_prefix.entry(prefix).or_default();
        if !kinds.contains(&kind) {
            kinds.push(kind);
        }
    }
    for kinds in by_prefix.values() {
        if let Some(provider) = registry.provider(kinds[0]) {
            provider
                .preflight(kinds)
                .await
                .map_err(|e| ApplyError::Preflight(e.to_string()))?;
        }
    }
    Ok(())
}

/// Read every secret from its environment variable and check it still
/// matches the digest the plan saw. Returns (value for the provider,
/// value for state).
fn resolve_secrets(v: &Value, key: &StackKey) -> Result<(Value, Value), String> {
    if let Some((env, planned)) = as_secret(v) {
        let value =
            std::env::var(env).map_err(|_| format!("the secret variable ${env} is not set"))?;
        if value.is_empty() {
            return Err(format!(
                "the secret variable ${env} is empty: the secret would be an empty string; nothing was sent\n  fix: export {env} with the secret's value"
            ));
        }
        crate::redact::register(&value);
        let d = key.digest(value.as_bytes());
        if planned.is_some_and(|p| p != d) {
            return Err(format!(
                "the secret in ${env} changed since the plan was made; make a new plan"
            ));
        }
        return Ok((Value::String(value), secret_marker(env, Some(d))));
    }
    match v {
        Value::Array(items) => {
            let mut a = Vec::new();
            let mut b = Vec::new();
            for i in items {
                let (x, y) = resolve_secrets(i, key)?;
                a.push(x);
                b.push(y);
            }
            Ok((Value::Array(a), Value::Array(b)))
        }
        Value::Object(map) => {
            let mut a = serde_json::Map::new();
            let mut b = serde_json::Map::new();
            for (k, i) in map {
                let (x, y) = resolve_secrets(i, key)?;
                a.insert(k.clone(), x);
                b.insert(k.clone(), y);
            }
            Ok((Value::Object(a), Value::Object(b)))
        }
        other => Ok((other.clone(), other.clone())),
    }
}

async fn run_step(
    shared: &Arc<Shared>,
    address: &Address,
    kind: StepKind,
) -> (OpKind, Result<String, String>) {
    let change = shared
        .changes
        .get(address)
        .expect("steps come from the plan");
    let started = Instant::now();
    let op = match (kind, change.action) {
        (StepKind::Delete | StepKind::DeleteDeposed, _) => OpKind::Delete,
        (StepKind::Apply, Action::Update) => OpKind::Update,
        _ => {
            let intent = shared
                .state
                .lock()
                .expect("state")
                .intents
                .contains_key(address);
            if intent {
                OpKind::Adopt
            } else {
                OpKind::Create
            }
        }
    };
    shared.hook.started(address, op);
    let progress: ProgressFn = {
        let hook = shared.hook.clone();
        let address = address.clone();
        Arc::new(move |m: &str| hook.progress(&address, op, m))
    };
    let result = match kind {
        StepKind::Delete => delete(shared, change, progress).await,
        StepKind::Apply => create_or_update(shared, change, progress).await,
        StepKind::DeleteDeposed => delete_deposed(shared, change, progress)
            .await
            .map(|id| (false, id)),
    };
    let (op, result) = match result {
        Ok((adopted, id)) => (
            if adopted {
                OpKind::Adopt
            } else if op == OpKind::Adopt {
                OpKind::Create
            } else {
                op
            },
            Ok(id),
        ),
        Err(e) => (op, Err(e)),
    };
    let outcome = match &result {
        Ok(id) => Outcome::Done { id: id.clone() },
        Err(error) => Outcome::Failed {
            error: error.clone(),
        },
    };
    shared
        .hook
        .finished(address, op, &outcome, started.elapsed());
    (op, result)
}

async fn delete(
    shared: &Shared,
    change: &ResourceChange,
    progress: ProgressFn,
) -> Result<(bool, String), String> {
    let address = &change.address;
    let provider = shared
        .registry
        .provider(address.kind())
        .ok_or_else(|| format!("no provider serves {}", address.kind()))?;
    let (recorded, intent) = {
        let st = shared.state.lock().expect("state");
        (
            st.resources.get(address).cloned(),
            st.intents.get(address).cloned(),
        )
    };
    let (id, args, outputs, name) = match (recorded, intent) {
        (Some(r), _) => (r.id, r.args, r.outputs, r.name),
        // A create that was interrupted: whatever it made goes too.
        (None, Some(intent)) => {
            let op = CreateOp {
                address: address.clone(),
                name: intent.name.clone(),
                stack: shared.stack(),
                token: intent.token.clone(),
                args: intent.args.clone(),
                progress: progress.clone(),
                checkpoint: crate::provider::no_checkpoint(),
            };
            let found = provider.adopt(&op).await.map_err(|e| e.to_string())?;
            let Some(found) = found else {
                shared.save(|st| {
                    st.intents.remove(address);
                })?;
                return Ok((false, String::new()));
            };
            (found.id, intent.args, found.outputs, intent.name)
        }
        // Already gone from state (a replacement whose delete ran).
        (None, None) => return Ok((false, change.id.clone().unwrap_or_default())),
    };
    let key = provider.concurrency_key(address.kind(), &args);
    let lock = key.map(|k| shared.key_lock(&k));
    let _guard = match &lock {
        Some(l) => Some(l.lock().await),
        None => None,
    };
    provider
        .delete(&DeleteOp {
            address: address.clone(),
            name,
            id: id.clone(),
            args,
            outputs,
            progress,
        })
        .await
        .map_err(|e| e.to_string())?;
    shared.save(|st| {
        if let Some(r) = st.resources.get_mut(address) {
            // What it replaced earlier and still lives goes with it, below.
            let deposed = std::mem::take(&mut r.deposed);
            if deposed.is_empty() {
                st.resources.remove(address);
            } else {
                r.id.clear();
                r.deposed = deposed;
            }
        }
        st.intents.remove(address);
    })?;
    delete_deposed(shared, change, progress_of(shared, address)).await?;
    Ok((false, id))
}

fn progress_of(shared: &Shared, address: &Address) -> ProgressFn {
    let hook = shared.hook.clone();
    let address = address.clone();
    Arc::new(move |m: &str| hook.progress(&address, OpKind::Delete, m))
}

/// Delete the objects a replacement made first left behind at `change`'s
/// address, each dropped from state as it goes, and the duplicates of the
/// address the plan found (never recorded, so nothing to drop).
async fn delete_deposed(
    shared: &Shared,
    change: &ResourceChange,
    progress: ProgressFn,
) -> Result<String, String> {
    let address = &change.address;
    let provider = shared
        .registry
        .provider(address.kind())
        .ok_or_else(|| format!("no provider serves {}", address.kind()))?;
    let deposed = {
        let st = shared.state.lock().expect("state");
        st.resources
            .get(address)
            .map(|r| r.deposed.clone())
            .unwrap_or_default()
    };
    let mut ids = Vec::new();
    for old in deposed {
        progress(&format!(
            "deleting {} ({}), which it replaced",
            old.id, old.name
        ));
        provider
            .delete(&DeleteOp {
                address: address.clone(),
                name: old.name.clone(),
                id: old.id.clone(),
                args: old.args.clone(),
                outputs: old.outputs.clone(),
                progress: progress.clone(),
            })
            .await
            .map_err(|e| e.to_string())?;
        shared.save(|st| {
            if let Some(r) = st.resources.get_mut(address) {
                r.deposed.retain(|d| d.id != old.id);
                // A resource destroyed while it still had deposed objects.
                if r.id.is_empty() && r.deposed.is_empty() {
                    st.resources.remove(address);
                }
            }
        })?;
        ids.push(old.id);
    }
    let recorded = {
        let st = shared.state.lock().expect("state");
        st.resources.get(address).cloned()
    };
    for duplicate in &change.duplicates {
        progress(&format!(
            "deleting {duplicate}, a duplicate of {address} (it carries the stack's and this address's tags, and state does not record it)"
        ));
        let (name, args, outputs) = match (&recorded, &change.before) {
            (Some(r), _) => (r.name.clone(), r.args.clone(), r.outputs.clone()),
            (None, before) => (
                change.name.clone(),
                before.clone().unwrap_or(Value::Null),
                change.outputs.clone(),
            ),
        };
        provider
            .delete(&DeleteOp {
                address: address.clone(),
                name,
                id: duplicate.clone(),
                args,
                outputs,
                progress: progress.clone(),
            })
            .await
            .map_err(|e| e.to_string())?;
        ids.push(duplicate.clone());
    }
    Ok(ids.join(","))
}

async fn create_or_update(
    shared: &Arc<Shared>,
    change: &ResourceChange,
    progress: ProgressFn,
) -> Result<(bool, String), String> {
    let address = &change.address;
    let provider = shared
        .registry
        .provider(address.kind())
        .ok_or_else(|| format!("no provider serves {}", address.kind()))?;
    let planned = change.after.as_deref().cloned().unwrap_or(Value::Null);
    let args = {
        let st = shared.state.lock().expect("state");
        let lookup = |t: &RefTarget| st.output(&t.address, &t.attr);
        resolve(&planned, &lookup)
    };
    if !is_known(&args) {
        return Err(format!(
            "{address} still has values known only after apply (a dependency did not record them); nothing was sent"
        ));
    }
    // The checks a builder call made on literal values, made again now that
    // every ref has its value: a value the cloud would refuse is not sent.
    if let Some(schema) = shared.registry.schema(address.kind())
        && let Err(e) = (schema.validate)(&for_validation(&args))
    {
        return Err(format!(
            "{address}: {}; nothing was sent\n  fix: {}",
            e.message, e.fix
        ));
    }
    let (provider_args, recorded_args) = resolve_secrets(&args, &shared.stack_key)?;
    let recorded_args = match shared.registry.schema(address.kind()) {
        Some(schema) => {
            crate::plan::sealed::seal_write_only(schema, recorded_args, &shared.stack_key)
        }
        None => recorded_args,
    };
    let key = provider.concurrency_key(address.kind(), &provider_args);
    let lock = key.map(|k| shared.key_lock(&k));
    let _guard = match &lock {
        Some(l) => Some(l.lock().await),
        None => None,
    };
    let stack = shared.stack();
    let (existing, prior_intent) = {
        let st = shared.state.lock().expect("state");
        (
            st.resources.get(address).cloned(),
            st.intents.get(address).cloned(),
        )
    };
    let replacing = existing
        .as_ref()
        .filter(|_| change.create_before_destroy)
        .map(|r| r.id.clone());
    let token = prior_intent
        .as_ref()
        .map(|i| i.token.clone())
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let op = CreateOp {
        address: address.clone(),
        name: change.name.clone(),
        stack: stack.clone(),
        token: token.clone(),
        args: provider_args.clone(),
        progress: progress.clone(),
        checkpoint: checkpoint(shared, change, &recorded_args),
    };

    if change.action == Action::Update
        && let Some(prior) = existing
    {
        let mut prior = prior;
        if prior.incomplete {
            // Its create was interrupted after the first call: finish it.
            progress("completing an interrupted create");
            let made = Applied {
                id: prior.id.clone(),
                outputs: prior.outputs.clone(),
            };
            let done = provider
                .complete(&op, &made)
                .await
                .map_err(|e| e.to_string())?;
            record(shared, change, done.clone(), recorded_args.clone(), |_| {})?;
            prior.outputs = done.outputs;
        }
        let changed: Vec<String> = change.changes.iter().map(|c| c.name.clone()).collect();
        if changed.is_empty() {
            return Ok((false, prior.id));
        }
        // The plan's `before` is what the refresh saw: an update corrects
        // drift from there, not from what was last recorded.
        // Only the kind's own arguments: a refresh may carry what a
        // provider observed for its own use (a drift summary).
        let before = match (&change.before, shared.registry.schema(address.kind())) {
            (Some(Value::Object(seen)), Some(schema)) => Value::Object(
                seen.iter()
                    .filter(|(k, _)| schema.arg(k).is_some())
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            ),
            _ => prior.args.clone(),
        };
        let applied = provider
            .update(&UpdateOp {
                address: address.clone(),
                name: change.name.clone(),
                stack,
                id: prior.id.clone(),
                before,
                after: provider_args,
                changed,
                outputs: prior.outputs.clone(),
                progress,
            })
            .await
            .map_err(|e| e.to_string())?;
        record(shared, change, applied.clone(), recorded_args, |_| {})?;
        return Ok((false, applied.id));
    }

    // An interrupted create may still be carried out for as long as its
    // request can be (a reply lost, a process killed while the cloud
    // worked): found, it is adopted; not found, it is looked for again once
    // that window has passed, before anything is made anew.
    if let Some(intent) = &prior_intent {
        let sent = humantime::parse_rfc3339(&intent.started_at).ok();
        if let Some(done) = look(shared, change, &**provider, &op, &recorded_args, sent).await? {
            return Ok((true, done));
        }
    }
    shared.save(|st| {
        st.intents.insert(
            address.clone(),
            Intent {
                kind: address.kind().to_string(),
                name: change.name.clone(),
                token,
                started_at: humantime::format_rfc3339_seconds(std::time::SystemTime::now())
                    .to_string(),
                args: recorded_args.clone(),
                deps: change.deps.clone(),
            },
        );
    })?;
    let deadline = Instant::now() + shared.retry_budget;
    let mut attempt = 0u32;
    let applied = loop {
        let error = match provider.create(&op).await {
            Ok(applied) => break applied,
            Err(e) => e,
        };
        // Recorded by a checkpoint of this create (not the object a
        // replacement made first is replacing).
        let made_it = shared
            .state
            .lock()
            .expect("state")
            .resources
            .get(address)
            .is_some_and(|r| replacing.as_deref() != Some(r.id.as_str()));
        if !made_it && already_exists(&error) {
            // Refused as already there: an earlier attempt (this run's or a
            // killed one's) may have made it. Look once before failing.
            return match look(shared, change, &**provider, &op, &recorded_args, None).await? {
                Some(done) => Ok((true, done)),
                None => Err(error.to_string()),
            };
        }
        if !error.retryable || made_it || Instant::now() >= deadline {
            // A create that got past its first call is recorded (and
            // completed by the next apply); one that never got there leaves
            // its intent, resolved by the next apply or destroy.
            return Err(error.to_string());
        }
        // The outcome is unknown: the call may have been carried out. Wait
        // for the cloud to settle, look for what it made, and send it again
        // only when nothing is found.
        attempt += 1;
        progress(&format!(
            "outcome unknown ({}); looking for what the create may have made (attempt {attempt})",
            error.code.as_deref().unwrap_or("no reply")
        ));
        tokio::time::sleep(backoff(attempt)).await;
        if let Some(done) = look(shared, change, &**provider, &op, &recorded_args, None).await? {
            return Ok((true, done));
        }
    };
    crash_point(address);
    record(shared, change, applied.clone(), recorded_args, |st| {
        st.intents.remove(address);
    })?;
    Ok((false, applied.id))
}

/// The error of a create refused because what it makes exists already.
fn already_exists(error: &crate::provider::ProviderError) -> bool {
    error.code.as_deref().is_some_and(|c| {
        matches!(
            c,
            "Resource.AlreadyAssociated"
                | "InvalidGroup.Duplicate"
                | "RouteAlreadyExists"
                | "NetworkAclEntryAlreadyExists"
                | "InvalidPermission.Duplicate"
                | "EntityAlreadyExists"
                | "ResourceExistsException"
                | "ResourceAlreadyExistsException"
                | "RepositoryAlreadyExistsException"
                | "AlreadyExistsException"
                | "ConflictException"
        )
    })
}

/// Exponential backoff with full jitter, from 200 ms up to 10 s.
fn backoff(attempt: u32) -> Duration {
    let cap = Duration::from_millis(200)
        .saturating_mul(1 << attempt.min(6))
        .min(Duration::from_secs(10));
    let jitter = uuid::Uuid::new_v4().as_u128() as u64 % 1000;
    cap.mul_f64(0.5 + jitter as f64 / 2000.0)
}

/// Looks for what a create may have made and adopts it when found. With
/// `sent`, when the create's request went out: finding nothing before the
/// provider's settle window has passed since then, it waits the window out
/// and looks once more, since the request may still be carried out.
async fn look(
    shared: &Shared,
    change: &ResourceChange,
    provider: &dyn crate::provider::Provider,
    op: &CreateOp,
    recorded_args: &Value,
    sent: Option<std::time::SystemTime>,
) -> Result<Option<String>, String> {
    if let Some(found) = look_once(shared, change, provider, op, recorded_args).await? {
        return Ok(Some(found));
    }
    let Some(until) = sent.map(|t| t + provider.settle_window()) else {
        return Ok(None);
    };
    let Ok(left) = until.duration_since(std::time::SystemTime::now()) else {
        return Ok(None);
    };
    (op.progress)(&format!(
        "not found yet; waiting {:.0?} until the interrupted create can no longer be carried out, then looking again",
        left
    ));
    tokio::time::sleep(left).await;
    look_once(shared, change, provider, op, recorded_args).await
}

async fn look_once(
    shared: &Shared,
    change: &ResourceChange,
    provider: &dyn crate::provider::Provider,
    op: &CreateOp,
    recorded_args: &Value,
) -> Result<Option<String>, String> {
    let known: Vec<String> = {
        let st = shared.state.lock().expect("state");
        st.resources
            .get(&change.address)
            .map(|r| {
                std::iter::once(r.id.clone())
                    .chain(r.deposed.iter().map(|d| d.id.clone()))
                    .collect()
            })
            .unwrap_or_default()
    };
    match provider.adopt(op).await.map_err(|e| e.to_string())? {
        // The object this create replaces (found by its address tag) is
        // not what the create made.
        Some(found) if change.create_before_destroy && known.contains(&found.id) => Ok(None),
        Some(found) => Ok(Some(
            adopt(shared, change, provider, op, found, recorded_args).await?,
        )),
        None => Ok(None),
    }
}

/// A resource found after an interrupted or unknown create: recorded at
/// once (so a crash now cannot lose it), then brought to the program's
/// arguments with the calls a fresh create makes after its first.
async fn adopt(
    shared: &Shared,
    change: &ResourceChange,
    provider: &dyn crate::provider::Provider,
    op: &CreateOp,
    found: Applied,
    recorded_args: &Value,
) -> Result<String, String> {
    (op.checkpoint)(&found);
    let done = provider
        .complete(op, &found)
        .await
        .map_err(|e| e.to_string())?;
    record(shared, change, done.clone(), recorded_args.clone(), |st| {
        st.intents.remove(&change.address);
    })?;
    Ok(done.id)
}

/// Records a resource whose first create call succeeded, marked incomplete
/// until the create returns.
fn checkpoint(
    shared: &Arc<Shared>,
    change: &ResourceChange,
    recorded_args: &Value,
) -> crate::provider::CheckpointFn {
    let shared = Arc::downgrade(shared);
    let change = change.clone();
    let args = recorded_args.clone();
    Arc::new(move |made: &Applied| {
        let Some(shared) = shared.upgrade() else {
            return;
        };
        let saved = shared.save(|st| {
            put(
                st,
                &change,
                ResourceState {
                    kind: change.address.kind().to_string(),
                    name: change.name.clone(),
                    id: made.id.clone(),
                    args: args.clone(),
                    outputs: made.outputs.clone(),
                    deps: change.deps.clone(),
                    incomplete: true,
                    generation: change.generation,
                    deposed: Vec::new(),
                    protected: change.protect,
                    tagged_as: None,
                },
            );
            st.intents.remove(&change.address);
        });
        if let Err(e) = saved {
            shared.hook.message(&format!(
                "{}: created as {} but the state could not record it yet: {e}",
                change.address, made.id
            ));
        }
        crash_point_between(&change.address);
    })
}

fn record(
    shared: &Shared,
    change: &ResourceChange,
    applied: Applied,
    args: Value,
    also: impl FnOnce(&mut State),
) -> Result<(), String> {
    shared.save(|st| {
        put(
            st,
            change,
            ResourceState {
                kind: change.address.kind().to_string(),
                name: change.name.clone(),
                id: applied.id,
                args,
                outputs: applied.outputs,
                deps: change.deps.clone(),
                incomplete: false,
                generation: change.generation,
                deposed: Vec::new(),
                protected: change.protect,
                tagged_as: None,
            },
        );
        also(st);
    })
}

/// Record `new` at its address. What was recorded there stays listed as
/// deposed when a replacement made `new` first (it is deleted later), and
/// objects deposed earlier stay listed until deleted.
fn put(st: &mut State, change: &ResourceChange, mut new: ResourceState) {
    if let Some(old) = st.resources.remove(&change.address) {
        new.deposed = old.deposed.clone();
        if old.id == new.id {
            new.tagged_as = old.tagged_as.clone();
        }
        if change.create_before_destroy && !old.id.is_empty() && old.id != new.id {
            new.deposed.push(Deposed {
                name: old.name,
                id: old.id,
                args: old.args,
                outputs: old.outputs,
            });
        }
    }
    st.resources.insert(change.address.clone(), new);
}

/// A fault hook for crash tests: with `PAYRUN_TEST_ABORT_AFTER_CREATE` set to
/// an address, the process aborts right after that resource's create call
/// returns and before state records it, as a power cut would.
fn crash_point(address: &Address) {
    if std::env::var("PAYRUN_TEST_ABORT_AFTER_CREATE").is_ok_and(|a| a == address.to_string()) {
        eprintln!("aborting after creating {address} (PAYRUN_TEST_ABORT_AFTER_CREATE)");
        std::process::abort();
    }
}

/// The same between the first call of a multi-call create and the rest
/// (`PAYRUN_TEST_ABORT_AFTER_FIRST_CALL`).
fn crash_point_between(address: &Address) {
    if std::env::var("PAYRUN_TEST_ABORT_AFTER_FIRST_CALL").is_ok_and(|a| a == address.to_string()) {
        eprintln!(
            "aborting after the first create call of {address} (PAYRUN_TEST_ABORT_AFTER_FIRST_CALL)"
        );
        std::process::abort();
    }
}
