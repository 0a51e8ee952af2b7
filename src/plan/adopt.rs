//! `adopt` and `moved`: what exists in the cloud, or in state at another
//! address, taken over by a declaration. Both are reviewed in the plan and
//! change state, not the cloud (an import's tags aside, which its update
//! adds).

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::address::Address;
use crate::graph::DesiredGraph;
use crate::provider::{ReadResult, Registry};
use crate::script::Program;
use crate::state::{ResourceState, State};
use crate::value::{RefTarget, holds_secret, is_known, resolve};

use super::plan::{Moved, Plan};

const STACK: &str = "payrun:stack";
const ADDRESS: &str = "payrun:address";

/// State with the moves and imports made, the moves, and where each
/// import was declared (by address).
pub type TakenOver<'a> = (Cow<'a, State>, Vec<Moved>, BTreeMap<Address, String>);

/// State as this plan sees it: moves made, and each declaration `adopt`
/// names recorded with its id (and, as its arguments, what the program
/// already says of it, so a read finds it as the program would: the table
/// of a route, the group of a rule). Returns the moves and, by address,
/// where each import was declared.
pub fn take_over<'a>(
    state: &'a State,
    graph: &DesiredGraph,
    program: &Program,
) -> Result<TakenOver<'a>, String> {
    if program.moves.is_empty() && program.adopts.is_empty() {
        return Ok((Cow::Borrowed(state), Vec::new(), BTreeMap::new()));
    }
    let mut st = state.clone();
    let mut problems = Vec::new();
    let mut moved = Vec::new();
    for m in &program.moves {
        match (st.resources.contains_key(&m.from), st.resources.contains_key(&m.to)) {
            (true, true) => problems.push(format!(
                "moved(\"{}\", \"{}\") at {}: state records both {} and {}\n  fix: let one of them go first (`forget(\"{}\")` keeps it in the cloud), then move",
                m.from, m.to, m.pos, m.from, m.to, m.from
            )),
            (true, false) => {
                let mut r = st.resources.remove(&m.from).expect("checked above");
                r.tagged_as.get_or_insert_with(|| m.from.clone());
                moved.push(Moved {
                    from: m.from.clone(),
                    to: m.to.clone(),
                    id: r.id.clone(),
                    at: m.pos.to_string(),
                });
                if let Some(i) = st.intents.remove(&m.from) {
                    st.intents.insert(m.to.clone(), i);
                }
                st.resources.insert(m.to.clone(), r);
                rename_deps(&mut st, &m.from, &m.to);
            }
            // Made already, or nothing to move: the moved is history.
            _ => {}
        }
    }
    let mut importing = BTreeMap::new();
    let ids: BTreeMap<&Address, &str> = program
        .adopts
        .iter()
        .map(|a| (&a.address, a.id.as_str()))
        .collect();
    for a in &program.adopts {
        let call = format!("adopt({}, \"{}\") at {}", a.address, a.id, a.pos);
        if let Some(r) = st.resources.get(&a.address) {
            if r.id != a.id {
                problems.push(format!(
                    "{call}: state records {} as {} already\n  fix: remove the adopt (state keeps what it imported), or `forget(\"{}\")` first to manage {} instead",
                    a.address, r.id, a.address, a.id
                ));
            }
            // Imported by an earlier apply: the adopt is history.
            continue;
        }
        if let Some((other, _)) = st.resources.iter().find(|(_, r)| r.id == a.id) {
            problems.push(format!(
                "{call}: this stack manages {} as {other} already\n  fix: remove the adopt, or move that resource here with `moved(\"{other}\", \"{}\")`",
                a.id, a.address
            ));
            continue;
        }
        let Some(spec) = graph.spec(&a.address) else {
            continue;
        };
        let lookup = |t: &RefTarget| -> Option<Value> {
            if t.attr == "id"
                && let Some(id) = ids.get(&t.address)
            {
                return Some(Value::String(id.to_string()));
            }
            state.output(&t.address, &t.attr)
        };
        let seed: Map<String, Value> = match resolve(&spec.args, &lookup) {
            Value::Object(args) => args
                .into_iter()
                .filter(|(_, v)| is_known(v) && !holds_secret(v))
                .collect(),
            _ => Map::new(),
        };
        st.resources.insert(
            a.address.clone(),
            ResourceState {
                kind: a.address.kind().to_string(),
                name: spec.name.clone(),
                id: a.id.clone(),
                args: Value::Object(seed),
                outputs: Map::new(),
                deps: Vec::new(),
                incomplete: false,
                generation: 0,
                deposed: Vec::new(),
                protected: false,
                tagged_as: None,
            },
        );
        importing.insert(a.address.clone(), a.pos.to_string());
    }
    if !problems.is_empty() {
        return Err(problems.join("\n"));
    }
    Ok((Cow::Owned(st), moved, importing))
}

/// An import as the plan judges it: the declaration's address, the id it
/// adopts and where, what it declares and its physical name.
#[derive(Clone, Copy)]
pub struct Importing<'a> {
    pub address: &'a Address,
    pub id: &'a str,
    pub at: &'a str,
    pub after: &'a Value,
    pub name: &'a str,
}

/// What refuses the import of `address` (declared at `at`) as `live`
/// found it, given what the program declares (`after`, its physical name
/// `name`) and the stack being planned.
pub fn refuse_import(
    i: &Importing<'_>,
    live: Option<&ReadResult>,
    stack: &str,
    registry: &Registry,
) -> Option<String> {
    let Importing {
        address,
        id,
        at,
        after,
        name,
    } = *i;
    let call = format!("adopt({address}, \"{id}\") at {at}");
    let (args, outputs) = match live {
        Some(ReadResult::Found { args, outputs }) => (args, outputs),
        _ => {
            return Some(format!(
                "{call}: no {} has the id {id} in this account and region (or the id is of another kind)\n  fix: {}",
                address.kind(),
                listing_fix(registry, address.kind())
            ));
        }
    };
    let tag = |k: &str| {
        args.get("tags")
            .and_then(|t| t.get(k))
            .and_then(Value::as_str)
    };
    if let Some(other) = tag(STACK) {
        let at_address = tag(ADDRESS).unwrap_or("an address");
        return Some(if other == stack {
            format!(
                "{call}: {id} carries this stack's tag as {at_address}: payrun made it, and an apply that was cut short lost it\n  fix: remove the adopt; the next plan finds it by its tag and deletes the duplicate, or declare it at {at_address}"
            )
        } else {
            format!(
                "{call}: {id} is managed by the stack {other} (as {at_address})\n  fix: let that stack go of it first with `forget(\"{at_address}\")` in its program, then adopt it here"
            )
        });
    }
    // A kind whose name is its identity (a log group, a repository, a
    // role): the declaration must name the object it adopts.
    let is_named = registry
        .schema(address.kind())
        .is_some_and(|s| s.outputs.contains(&"name"));
    if is_named && let Some(live_name) = outputs.get("name").and_then(Value::as_str) {
        let declared = after.get("name").and_then(Value::as_str).unwrap_or(name);
        if declared != live_name {
            let takes_name = registry
                .schema(address.kind())
                .is_some_and(|s| s.arg("name").is_some());
            return Some(if takes_name {
                format!(
                    "{call}: the live object is named `{live_name}` and the declaration names `{declared}`; a name cannot change in place\n  fix: write `name: \"{live_name}\"` in the declaration"
                )
            } else {
                format!(
                    "{call}: the live object is named `{live_name}`, and {} names its objects from their address (this one `{declared}`); a name cannot change in place\n  fix: leave {id} out of the program, or make it anew under payrun",
                    address.kind()
                )
            });
        }
    }
    None
}

/// The args of a moved resource as its object carries them: its tags still
/// name the address and physical name it was made with (a move changes no
/// tag), where the program's would name the new ones.
pub fn keep_moved_identity(after: &mut Value, r: &ResourceState, new_name: &str) {
    let Some(old) = &r.tagged_as else { return };
    let Some(tags) = after.get_mut("tags").and_then(Value::as_object_mut) else {
        return;
    };
    if tags.contains_key(ADDRESS) {
        tags.insert(ADDRESS.into(), Value::String(old.to_string()));
    }
    if tags.get("Name").and_then(Value::as_str) == Some(new_name) {
        tags.insert("Name".into(), Value::String(r.name.clone()));
    }
}

/// The first step of an apply: the moves and imports of `plan` recorded,
/// before anything else runs (an import's update, or a move's dependents,
/// find them in state).
pub fn record(st: &mut State, plan: &Plan) {
    for m in &plan.moved {
        if st.resources.contains_key(&m.to) {
            continue;
        }
        if let Some(mut r) = st.resources.remove(&m.from) {
            r.tagged_as.get_or_insert_with(|| m.from.clone());
            if let Some(i) = st.intents.remove(&m.from) {
                st.intents.insert(m.to.clone(), i);
            }
            st.resources.insert(m.to.clone(), r);
            rename_deps(st, &m.from, &m.to);
        }
    }
    for c in plan.changes.iter().filter(|c| c.import_at.is_some()) {
        let (Some(id), Some(before)) = (&c.id, &c.before) else {
            continue;
        };
        if st.resources.contains_key(&c.address) {
            continue;
        }
        st.resources.insert(
            c.address.clone(),
            ResourceState {
                kind: c.address.kind().to_string(),
                name: c.name.clone(),
                id: id.clone(),
                args: before.clone(),
                outputs: c.outputs.clone(),
                deps: c.deps.clone(),
                incomplete: false,
                generation: 0,
                deposed: Vec::new(),
                protected: c.protect,
                tagged_as: None,
            },
        );
    }
}

/// What depended on `from` depends on `to`: a destroy deletes the moved
/// resource after what is in it, as before the move.
fn rename_deps(st: &mut State, from: &Address, to: &Address) {
    let renamed = |deps: &mut Vec<Address>| {
        for d in deps.iter_mut().filter(|d| *d == from) {
            *d = to.clone();
        }
    };
    for r in st.resources.values_mut() {
        renamed(&mut r.deps);
    }
    for i in st.intents.values_mut() {
        renamed(&mut i.deps);
    }
}

/// How to find the ids of `kind` there are: discovery where payrun lists
/// the kind, else the service's own listing.
pub fn listing_fix(registry: &Registry, kind: &str) -> String {
    let listed = kind.starts_with("awscc.")
        || registry
            .provider(kind)
            .is_some_and(|p| p.listed_kinds().contains(&kind));
    if listed {
        format!("`payrun discover --kind {kind}` lists the ids there are")
    } else {
        format!(
            "check the id where the service lists its objects (the AWS console, or the AWS CLI's list or describe command for {kind})"
        )
    }
}
