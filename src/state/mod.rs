//! State: what payrun last applied, kept behind a `StateStore`: a local
//! file with a lock, atomic replace and a backup, or a bucket shared by a
//! team (leased lock, sealed objects, history in object versions).

mod envelope;
mod key;
mod lock;
mod object_store;
mod s3_store;
mod sealer;
mod stack_name;
#[allow(clippy::module_inception)]
mod state;
mod state_store;
mod store;

pub use envelope::{SealError, is_sealed};
pub use key::StackKey;
pub use lock::{Holder, LockGuard};
pub use object_store::{
    Condition, DataKey, KeyService, Object, ObjectError, ObjectMeta, ObjectStore, ObjectVersion,
    Versioning,
};
pub use s3_store::{S3Lock, S3Settings, S3Store, parse_state_bytes as parse_state};
pub use sealer::{Purpose, Sealer};
pub use stack_name::{SEPARATOR, StackNameError, stack_name, validate_stack_name};
pub use state::{Deposed, FORMAT_VERSION, Intent, ResourceState, State};
pub use state_store::{LockInfo, LostLock, StateStore, StoreLock, Version};
pub use store::{LocalStore, StateError};
