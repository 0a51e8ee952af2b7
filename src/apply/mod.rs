//! Apply: the apply graph built from a plan, walked in dependency order
//! with bounded parallelism; state saved after every resource.

mod executor;
mod hook;

pub use executor::{ApplyError, ApplyOptions, apply};
pub use hook::{ApplySummary, Hook, OpKind, Outcome};
