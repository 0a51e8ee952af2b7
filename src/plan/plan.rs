//! `Plan`: serializable, the only input of apply.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::address::Address;
use crate::finding::{Finding, Severity};

pub const PLAN_FORMAT: &str = "payrun-plan/1";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Apply,
    Destroy,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    #[serde(rename = "no-op")]
    NoOp,
    Create,
    Update,
    Replace,
    Delete,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AttrChange {
    pub name: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
    #[serde(default)]
    pub forces_replacement: bool,
    /// What the change will do, when the kind says more than the values
    /// (the steps of an EKS upgrade).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResourceChange {
    pub address: Address,
    pub action: Action,
    pub name: String,
    /// Recorded id (update, replace, delete).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Args as recorded (and refreshed); secrets as markers.
    pub before: Option<Value>,
    /// Args as the program declares them, refs resolved where known;
    /// shared with the program's own when no ref was known yet.
    #[serde(with = "crate::value::shared")]
    pub after: Option<Arc<Value>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<AttrChange>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub replace_because: Vec<String>,
    /// What changed outside payrun since the last apply.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub drift: Vec<String>,
    /// Dependencies in the program (create and update order).
    #[serde(default)]
    pub deps: Vec<Address>,
    /// Dependencies recorded in state (destroy order).
    #[serde(default)]
    pub prior_deps: Vec<Address>,
    /// Outputs as recorded, for resources that keep their identity.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub outputs: Map<String, Value>,
    /// `file:line:col` of the builder call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub declared_at: Option<String>,
    /// Recorded with its create interrupted after the first call: the
    /// update finishes that create.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub completing: bool,
    /// A replacement that makes the new object first (under `name`, with
    /// the next generation), moves dependents onto it, then deletes the
    /// old one: no moment without one.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub create_before_destroy: bool,
    /// The generation `name` carries.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub generation: u32,
    /// Ids of objects this address replaced earlier that are still live
    /// (an apply stopped between a create and its delete): deleted once
    /// nothing depends on them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deposed: Vec<String>,
    /// Ids of objects carrying this stack's tag and this address's
    /// `payrun:address` tag that state does not record: made twice by a
    /// crash race (an interrupted create served after the next run looked
    /// for it and made another). Deleted once nothing depends on them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub duplicates: Vec<String>,
    /// Declared `protect: true` (or, for what the program no longer
    /// declares, recorded so): deleting or replacing it is an error unless
    /// `--allow-destroy` names it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub protect: bool,
    /// The live values of the arguments that changed outside payrun, as
    /// `drift` describes them (what `--refresh-only` records).
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub live_drift: Map<String, Value>,
    /// Recorded, but deleted outside payrun.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub gone: bool,
    /// What state records of its protection: where it differs from
    /// `protect`, the apply records the new one (no cloud call).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub protected_before: bool,
    /// Imported: the object `id` exists already and `adopt` at this
    /// `file:line:col` brings it in. `before` holds its live arguments;
    /// the apply records it, then updates what differs (payrun's tags).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub import_at: Option<String>,
}

impl ResourceChange {
    /// Left as it is by this plan (outside `--target`, or a refresh-only
    /// plan): no action, nothing to clean up, protection as recorded.
    pub fn stand_still(&mut self) {
        self.action = Action::NoOp;
        self.changes.clear();
        self.replace_because.clear();
        self.deposed.clear();
        self.duplicates.clear();
        self.completing = false;
        self.create_before_destroy = false;
        self.protect = self.protected_before;
        self.import_at = None;
    }

    /// Its protection changes in state, with no change in the cloud.
    pub fn protection_changes(&self) -> bool {
        self.protect != self.protected_before
            && matches!(self.action, Action::NoOp | Action::Update)
    }
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub format: String,
    pub mode: Mode,
    pub stack: String,
    pub suffix: String,
    /// The program the plan was made from, relative to the project root.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub program: Option<String>,
    /// The state this plan was made against.
    pub lineage: String,
    pub serial: u64,
    pub created_at: String,
    pub changes: Vec<ResourceChange>,
    /// Outputs as the program exports them (refs where not yet known).
    pub outputs: BTreeMap<String, Value>,
    pub findings: Vec<Finding>,
    /// Resources recorded with no result after an interrupted apply: adopted
    /// if found, created otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub interrupted: Vec<Address>,
    /// The EKS release calendar the plan read from EKS during its refresh;
    /// absent, its findings use the embedded one. Kept so an apply of the
    /// saved plan judges versions as the plan did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calendar: Option<crate::eks_versions::Calendar>,
    /// Objects carrying this stack's tag that no address accounts for
    /// (tagged by hand, or recorded once and forgotten): shown, left alone.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unaccounted: Vec<crate::provider::Unrecorded>,
    /// Protected resources this plan deletes or replaces because
    /// `--allow-destroy` named them, for this plan only.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub protection_lifted: Vec<Address>,
    /// `--refresh-only`: nothing in the cloud changes; the apply records
    /// `refreshed` in state.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub refresh_only: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub refreshed: Vec<Refreshed>,
    /// Recorded resources `forget` lets go of: they leave state, not the
    /// cloud.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub forgotten: Vec<Forgotten>,
    /// Narrowed by `--target` / `--exclude`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partial: Option<super::scope::Partial>,
    /// Recorded resources `moved` gives a new address: state changes, the
    /// cloud does not.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub moved: Vec<Moved>,
}

/// A recorded resource whose address `moved` changes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Moved {
    pub from: Address,
    pub to: Address,
    pub id: String,
    /// `file:line:col` of the `moved`.
    pub at: String,
}

/// A resource `forget` lets go of.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Forgotten {
    pub address: Address,
    pub id: String,
    /// `file:line:col` of the `forget`.
    pub at: String,
}

/// What a refresh-only apply records of one resource: its arguments as
/// they are live, or (`None`) that it is gone.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Refreshed {
    pub address: Address,
    pub args: Option<Value>,
}

impl Plan {
    pub fn count(&self, action: Action) -> usize {
        self.changes.iter().filter(|c| c.action == action).count()
    }

    /// (add, change, destroy) as in the summary line; a replacement counts
    /// as one add and one destroy.
    pub fn summary(&self) -> (usize, usize, usize) {
        let replace = self.count(Action::Replace);
        // Objects replaced earlier and still live, and duplicates, deleted
        // now.
        let deposed = self
            .changes
            .iter()
            .map(|c| {
                c.duplicates.len()
                    + if c.action == Action::Delete {
                        0
                    } else {
                        c.deposed.len()
                    }
            })
            .sum::<usize>();
        (
            self.count(Action::Create) + replace,
            self.count(Action::Update),
            self.count(Action::Delete) + replace + deposed,
        )
    }

    pub fn has_changes(&self) -> bool {
        self.changes.iter().any(|c| {
            c.action != Action::NoOp
                || !c.deposed.is_empty()
                || !c.duplicates.is_empty()
                || c.protection_changes()
                || c.import_at.is_some()
        }) || !self.refreshed.is_empty()
            || !self.forgotten.is_empty()
            || !self.moved.is_empty()
    }

    /// Changes that import an existing object.
    pub fn imports(&self) -> usize {
        self.changes
            .iter()
            .filter(|c| c.import_at.is_some())
            .count()
    }

    pub fn has_errors(&self) -> bool {
        self.findings.iter().any(|f| f.severity == Severity::Error)
    }

    pub fn change(&self, address: &Address) -> Option<&ResourceChange> {
        self.changes.iter().find(|c| &c.address == address)
    }
}
