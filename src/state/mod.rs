//! State: what payrun last applied, kept in a versioned local file with a
//! lock, atomic replace and a backup.

mod lock;
#[allow(clippy::module_inception)]
mod state;
mod store;

pub use lock::{Holder, LockGuard};
pub use state::{FORMAT_VERSION, Intent, ResourceState, State};
pub use store::{LocalStore, StateError};
