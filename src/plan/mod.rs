//! Plan: refresh live state, diff it against the program, and say what an
//! apply would do.

// Files are named after their type, as everywhere else.
#[allow(clippy::module_inception)]
mod plan;
mod planner;
mod saved;
mod sealed;
mod view;

pub use plan::{Action, AttrChange, Mode, PLAN_FORMAT, Plan, ResourceChange};
pub use planner::{PlanError, PlanOptions, make_plan, refresh};
pub use saved::{PlanInputs, SavedPlanError, Unsealed};
pub use view::{render, render_findings};

/// Write a plan sealed with the stack key.
pub use saved::write as write_saved;
