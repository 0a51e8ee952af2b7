//! Plan: refresh live state, diff it against the program, and say what an
//! apply would do.

// Files are named after their type, as everywhere else.
mod adopt;
#[allow(clippy::module_inception)]
mod plan;
mod planner;
pub mod protect;
pub mod refresh_only;
mod saved;
pub mod scope;
pub(crate) mod sealed;

pub use adopt::{listing_fix, record as record_moves_and_imports};
pub use plan::{
    Action, AttrChange, Forgotten, Mode, Moved, PLAN_FORMAT, Plan, Refreshed, ResourceChange,
};
pub use planner::{Live, PlanError, PlanOptions, REPLACE_ASKED, make_plan};
pub use saved::{PlanFile, PlanInputs, SavedPlanError, SealedPlan, Unsealed};

/// Saved plans: sealed with the stack key, and by the stack's store when
/// it seals.
pub use saved::{encode as encode_saved, looks_saved, wrap_sealed, write as write_saved};
