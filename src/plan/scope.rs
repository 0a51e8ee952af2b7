//! Blast radius: `--target` and `--exclude` narrow a plan to part of the
//! stack, for an incident or a careful rollout. A target brings what it
//! needs (what it depends on; for a deletion, what depends on it, which
//! must go first); an exclusion takes what needs it along (what depends on
//! it; for a deletion, what it depends on, which cannot go before it). What
//! falls outside keeps its object and its record, the plan says it is
//! partial and how much it left out, and a saved plan is the narrowed one.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::address::Address;

use super::protect::address_matches;
use super::{Action, Plan, ResourceChange};

/// How a plan was narrowed, and what it left for a later plan.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Partial {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub target: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude: Vec<String>,
    /// Changes the full plan makes that this one does not.
    pub left_out: Vec<Address>,
}

fn acts(c: &ResourceChange) -> bool {
    c.action != Action::NoOp
        || !c.deposed.is_empty()
        || !c.duplicates.is_empty()
        || c.protection_changes()
}

/// What `c` needs done before it: its dependencies, or for a deletion
/// nothing (what depends on it is found the other way round).
fn needs(c: &ResourceChange) -> &[Address] {
    if c.action == Action::Delete {
        &[]
    } else {
        &c.deps
    }
}

/// Narrows `plan` to `target` (and what it needs) less `exclude` (and what
/// needs it). A pattern (`*` for any run of characters) that names no
/// address of the plan is an error, which ends with its `fix:` line.
pub fn restrict(plan: &mut Plan, target: &[String], exclude: &[String]) -> Result<(), String> {
    if target.is_empty() && exclude.is_empty() {
        return Ok(());
    }
    for (flag, patterns) in [("--target", target), ("--exclude", exclude)] {
        if let Some(p) = patterns
            .iter()
            .find(|p| !plan.changes.iter().any(|c| address_matches(p, &c.address)))
        {
            return Err(format!(
                "{flag} {p}: names no address of this plan\n  fix: payrun plan --json (lists every address under `changes`)"
            ));
        }
    }
    let named = |patterns: &[String]| -> BTreeSet<Address> {
        plan.changes
            .iter()
            .filter(|c| patterns.iter().any(|p| address_matches(p, &c.address)))
            .map(|c| c.address.clone())
            .collect()
    };
    let deleting = |a: &Address| plan.change(a).is_some_and(|c| c.action == Action::Delete);
    let mut selected: BTreeSet<Address> = if target.is_empty() {
        plan.changes.iter().map(|c| c.address.clone()).collect()
    } else {
        named(target)
    };
    if !target.is_empty() {
        loop {
            let mut more = Vec::new();
            for c in &plan.changes {
                if selected.contains(&c.address) {
                    more.extend(needs(c).iter().filter(|d| !selected.contains(*d)).cloned());
                } else if c.action == Action::Delete
                    && c.prior_deps
                        .iter()
                        .any(|d| selected.contains(d) && deleting(d))
                {
                    more.push(c.address.clone());
                }
            }
            if more.is_empty() {
                break;
            }
            selected.extend(more);
        }
    }
    let mut excluded = named(exclude);
    loop {
        let mut more = Vec::new();
        for c in &plan.changes {
            if excluded.contains(&c.address) {
                if c.action == Action::Delete {
                    more.extend(
                        c.prior_deps
                            .iter()
                            .filter(|d| deleting(d) && !excluded.contains(*d))
                            .cloned(),
                    );
                }
            } else if needs(c).iter().any(|d| excluded.contains(d)) {
                more.push(c.address.clone());
            }
        }
        if more.is_empty() {
            break;
        }
        excluded.extend(more);
    }
    let mut left_out = Vec::new();
    for c in &mut plan.changes {
        if selected.contains(&c.address) && !excluded.contains(&c.address) {
            continue;
        }
        if acts(c) {
            left_out.push(c.address.clone());
        }
        c.stand_still();
    }
    plan.partial = Some(Partial {
        target: target.to_vec(),
        exclude: exclude.to_vec(),
        left_out,
    });
    Ok(())
}
