//! `StateStore`: where a stack's state, its key and its lock live. The
//! local store keeps them in a directory; the S3 store in a bucket, for a
//! team. Commands and the executor see only this trait.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::key::StackKey;
use super::lock::{Holder, LockGuard};
use super::s3_store::S3Lock;
use super::sealer::Purpose;
use super::state::State;
use super::store::StateError;

/// One recorded version of a stack's state.
#[derive(Clone, Debug)]
pub struct Version {
    pub serial: u64,
    pub written_at: Option<SystemTime>,
    /// Who wrote it (`user@host pid N`), when known.
    pub by: String,
    pub command: String,
    /// The store's own name for it (an S3 version id, a file).
    pub id: String,
}

/// How the stack's lock was lost during a run, and where the state of what
/// finished went.
#[derive(Clone, Debug)]
pub struct LostLock {
    /// Why the lock is no longer this run's (its new holder, or "removed").
    pub why: String,
    /// Where state written after the loss went, when not to the store.
    pub kept_at: Option<PathBuf>,
}

/// A held lock; dropping it releases the lock.
#[derive(Debug)]
pub enum StoreLock {
    Local(LockGuard),
    S3(S3Lock),
}

/// What `state unlock` shows before removing a lock.
#[derive(Clone, Debug)]
pub struct LockInfo {
    pub holder: Holder,
    /// A payrun holds it now, as far as this host can tell (a file lock
    /// held on this host; a lease not run out).
    pub live: bool,
    /// When its lease runs out, for leased locks.
    pub lease_until: Option<SystemTime>,
}

pub trait StateStore: Send + Sync + std::fmt::Debug {
    fn stack(&self) -> &str;
    /// Where the state lives: a path, or `s3://bucket/key`.
    fn location(&self) -> String;
    /// The recorded state, or a new empty one.
    fn load(&self) -> Result<State, StateError>;
    /// Write `state` with the next serial. The stack's lock must be held
    /// (S3: still ours, and the stored state the one this process last
    /// read or wrote).
    fn save(&self, state: &mut State) -> Result<(), StateError>;
    /// Is there any state recorded?
    fn exists(&self) -> Result<bool, StateError>;
    /// The stack's key, made on first use.
    fn key(&self) -> Result<StackKey, StateError>;
    /// The stack's key, which must exist already.
    fn existing_key(&self) -> Result<StackKey, StateError>;
    /// Keep `key` as the stack's key (a stack moved between stores); a
    /// different key already there is an error.
    fn adopt_key(&self, key: &StackKey) -> Result<(), StateError>;
    /// Take the stack's lock for `command`, waiting up to `timeout` for a
    /// live holder.
    fn lock(
        &self,
        command: &str,
        timeout: Duration,
        notice: &dyn Fn(&str),
    ) -> Result<StoreLock, StateError>;
    /// Who holds the lock, if anyone.
    fn lock_info(&self) -> Result<Option<LockInfo>, StateError>;
    /// Remove the lock, whoever holds it; returns who it named.
    fn force_unlock(&self) -> Result<Option<Holder>, StateError>;
    /// Recorded versions, newest first.
    fn history(&self) -> Result<Vec<Version>, StateError>;
    /// The state as it was at `serial`.
    fn version(&self, serial: u64) -> Result<State, StateError>;
    /// The stack's state is gone from here (it moved to another store);
    /// history stays where the store keeps it.
    fn retire(&self) -> Result<String, StateError>;
    /// The lock was lost during this run: no new operation may start.
    fn lost(&self) -> Option<LostLock>;
    /// `bytes` sealed for `purpose` as this store keeps what it writes
    /// (a saved plan of the stack), or None when it keeps things plain.
    fn seal_file(&self, purpose: Purpose, bytes: Vec<u8>) -> Result<Option<Vec<u8>>, StateError>;
    /// Open bytes this store sealed for `purpose` (a state file kept
    /// locally when a lock was lost, a saved plan) read from `path`, or
    /// return plain bytes as they are.
    fn open_file(
        &self,
        purpose: Purpose,
        path: &Path,
        bytes: Vec<u8>,
    ) -> Result<Vec<u8>, StateError>;
    /// State and lock calls sent so far, by operation.
    fn calls(&self) -> std::collections::BTreeMap<String, u64>;
}
