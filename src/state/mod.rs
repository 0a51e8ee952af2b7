//! State: what payrun last applied, kept in a versioned local file with a
//! lock, atomic replace and a backup.

mod key;
mod lock;
mod stack_name;
#[allow(clippy::module_inception)]
mod state;
mod store;

pub use key::StackKey;
pub use lock::{Holder, LockGuard};
pub use stack_name::{SEPARATOR, StackNameError, stack_name, validate_stack_name};
pub use state::{FORMAT_VERSION, Intent, ResourceState, State};
pub use store::{LocalStore, StateError};
