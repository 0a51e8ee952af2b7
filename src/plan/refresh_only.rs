//! `--refresh-only`: accept what changed outside payrun without changing
//! the cloud. The plan shows only the drift of what state records; its
//! apply writes the live values into state (a resource deleted outside
//! payrun leaves state) and calls no provider. The next ordinary plan then
//! diffs the program against what is live and proposes to put it back, if
//! the program still says otherwise.

use serde_json::Value;

use crate::state::State;

use super::{Plan, Refreshed};

/// Turns a refreshed plan into its refresh-only form against `state`, the
/// state it was made from.
pub fn restrict(plan: &mut Plan, state: &State) {
    let mut refreshed = Vec::new();
    // Only what state records: nothing is created, and nothing the program
    // dropped is deleted.
    plan.changes
        .retain(|c| state.resources.contains_key(&c.address));
    for c in &mut plan.changes {
        let recorded = &state.resources[&c.address];
        if c.gone {
            refreshed.push(Refreshed {
                address: c.address.clone(),
                args: None,
            });
        } else if !c.live_drift.is_empty() {
            let mut args = recorded.args.clone();
            if let Value::Object(map) = &mut args {
                for (k, v) in &c.live_drift {
                    map.insert(k.clone(), v.clone());
                }
            }
            refreshed.push(Refreshed {
                address: c.address.clone(),
                args: Some(args),
            });
        }
        c.stand_still();
        c.name = recorded.name.clone();
        c.generation = recorded.generation;
    }
    plan.refreshed = refreshed;
    plan.refresh_only = true;
    // Nothing of the program is applied: its findings are not judged, and
    // the outputs stay those recorded.
    plan.findings.clear();
    plan.outputs = state.outputs.clone();
}
