//! `LocalStore`: `.payrun/<stack>.json`, mode 0600, atomic replace (temp
//! file, fsync, rename) and one backup. A stack last written under its old
//! name (`payment-prod.json`) is read from there, and moved on its next
//! write.
//!
//! With a KMS key (`[state] kms_key` for local state), the state file, its
//! backup and the stack key are sealed like a bucket's objects. A store
//! keeps to what it was told: a sealed store refuses a plain file (anyone
//! who can write the directory could have put it there), a plain store a
//! sealed one; `state migrate --to local` turns one into the other.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::envelope::is_sealed;
use super::key::{KeyCoding, StackKey};
use super::lock::{self, Holder, LockGuard, Refusal, Taken};
use super::s3_store::parse_state_bytes;
use super::sealer::{Purpose, Sealer};
use super::stack_name::legacy_name;
use super::state::{FORMAT_VERSION, State};
use super::state_store::{LockInfo, LostLock, StateStore, StoreLock, Version};

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error(
        "state for stack `{stack}` is locked by {holder}\n  fix: wait for it to finish, or wait for it with `--lock-timeout 10m`"
    )]
    Locked { stack: String, holder: Box<Holder> },
    #[error(
        "state for stack `{stack}` is locked by {holder}, on another host: this host cannot tell whether it still runs\n  fix: if that payrun is gone, run `payrun state unlock {flags}` (it shows the holder and asks before removing the lock)"
    )]
    LockedElsewhere {
        stack: String,
        flags: String,
        holder: Box<Holder>,
    },
    #[error(
        "state for stack `{stack}` is locked ({path}) but its holder is unreadable\n  fix: if no payrun is running, remove the lock with `payrun state unlock {flags}`"
    )]
    LockedUnknown {
        stack: String,
        path: String,
        flags: String,
    },
    #[error(
        "cannot read state file {path}: {message}\n  fix: restore it from {path}.backup, or move it away to start a new stack"
    )]
    Corrupt { path: String, message: String },
    #[error(
        "state file {path} has format version {found}; this payrun reads version {FORMAT_VERSION}\n  fix: use the payrun release that wrote it"
    )]
    Version { path: String, found: u32 },
    #[error(
        "the stack key {path} may be read by group or others (mode {mode:o})\n  fix: chmod 600 {path}"
    )]
    KeyMode { path: String, mode: u32 },
    #[error(
        "the stack key {path} holds {len} bytes, not 32\n  fix: restore it from where it was copied from (saved plans and secret digests of this stack need it), or move it away to start a new key"
    )]
    KeyCorrupt { path: String, len: usize },
    #[error(
        "stack `{stack}` has no key here ({path}); its saved plans are sealed with it\n  fix: copy the key file from where the plan was made to {path} and `chmod 600 {path}`, or make a new plan here"
    )]
    KeyMissing { path: String, stack: String },
    #[error(
        "stack `{stack}` belongs to program {recorded}; {program} cannot plan, apply or destroy it\n  fix: give {program} a stack of its own: `payrun plan {program} --suffix {suffix}-2`"
    )]
    OtherProgram {
        stack: String,
        recorded: String,
        program: String,
        suffix: String,
    },
    #[error(
        "state for stack `{stack}` is locked by {holder}; its lease runs until {until}\n  fix: wait for it with `--lock-timeout 5m`; a payrun that died frees the lock when its lease runs out (or see who holds it with `payrun state unlock {flags}`)"
    )]
    LeaseHeld {
        stack: String,
        holder: Box<Holder>,
        until: String,
        flags: String,
    },
    #[error("cannot reach {location}: {message}")]
    Bucket { location: String, message: String },
    #[error(
        "cannot open {location}: {message}\n  fix: it is sealed with a data key under KMS key {kms_key}; this identity needs kms:Decrypt (and kms:GenerateDataKey to write) on it"
    )]
    Sealed {
        location: String,
        message: String,
        kms_key: String,
    },
    #[error(
        "the state of stack `{stack}` in {location} is serial {stored}, but the state being written follows serial {given}: another run wrote it in between; nothing was written\n  fix: run the command again; it starts from the stored state"
    )]
    Stale {
        stack: String,
        location: String,
        stored: u64,
        given: u64,
    },
    #[error(
        "stack `{stack}` has no recorded serial {serial} (recorded: {known})\n  fix: `payrun state history` lists the serials"
    )]
    NoSuchSerial {
        stack: String,
        serial: u64,
        known: String,
    },
    #[error(
        "{location} holds another stack key than the one moved with the state: digests and saved plans of the two differ\n  fix: remove {location} if no state uses it, then migrate again"
    )]
    KeyDiffers { location: String },
    #[error(
        "{path} is sealed, but the store of stack `{stack}` here ({location}) seals nothing and cannot open it\n  fix: run this with the [state] it was made with (the stack's bucket, or kms_key for local state)"
    )]
    SealedHere {
        path: String,
        stack: String,
        location: String,
    },
    #[error(
        "{path} is not sealed, but the local state of stack `{stack}` is kept sealed with KMS key {kms_key} ([state] kms_key or --state-kms-key): a plain file there could have been put there by anyone who can write the directory; nothing was read\n  fix: if it is the stack's own, seal its files with `payrun state migrate --to local {flags}`; or remove kms_key to keep them plain"
    )]
    NotSealed {
        path: String,
        stack: String,
        kms_key: String,
        flags: String,
    },
    #[error(
        "{path} is sealed with a KMS data key, but no kms_key is set for the local state of stack `{stack}`; nothing was read\n  fix: set kms_key under [state] in payrun.toml (or pass --state-kms-key) to keep it sealed, or turn the stack's files back into plain ones with `payrun state migrate --to local {flags}` (it needs kms:Decrypt)"
    )]
    SealedLocal {
        path: String,
        stack: String,
        flags: String,
    },
    #[error("cannot write state file {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

/// State files of one project directory.
#[derive(Clone, Debug)]
pub struct LocalStore {
    dir: PathBuf,
    stack: String,
    /// The command-line flags that name this stack (`--program P --suffix
    /// qa --state-dir D`), for fixes that must work as printed.
    flags: String,
    sealing: Sealing,
}

/// How a local store keeps its files.
#[derive(Clone, Debug)]
enum Sealing {
    Plain,
    Sealed(Arc<Sealer>),
    /// Reads plain and sealed files alike, writes plain: the side a stack
    /// leaves in a migration.
    Either(Arc<Sealer>),
}

/// Where a stack's state was read from, when that was its old file name.
fn legacy_notice(stack: &str, old: &Path, new: &Path) -> String {
    format!(
        "Reading the state of stack `{stack}` from its old file {}; the next write moves it to {}.",
        old.display(),
        new.display()
    )
}

impl LocalStore {
    pub fn new(dir: impl Into<PathBuf>, stack: &str, suffix: &str) -> Self {
        Self {
            dir: dir.into(),
            stack: stack.to_string(),
            flags: format!("--suffix {suffix}"),
            sealing: Sealing::Plain,
        }
    }

    /// Keep the state, its backup and the key sealed by `sealer`.
    #[must_use]
    pub fn sealed_by(mut self, sealer: Sealer) -> Self {
        self.sealing = Sealing::Sealed(Arc::new(sealer));
        self
    }

    /// Read plain and sealed files alike (`sealer` opens the sealed ones),
    /// as a stack being migrated is read.
    #[must_use]
    pub fn reading_either(mut self, sealer: Sealer) -> Self {
        self.sealing = Sealing::Either(Arc::new(sealer));
        self
    }

    /// The KMS key this store seals with, if it seals.
    pub fn kms_key(&self) -> Option<&str> {
        match &self.sealing {
            Sealing::Sealed(s) => Some(s.kms_key()),
            Sealing::Plain | Sealing::Either(_) => None,
        }
    }

    /// Are the stack's files sealed now (by its state file, else its key)?
    pub fn files_sealed(&self) -> Result<Option<bool>, StateError> {
        for path in [self.path(), self.key_path()] {
            match fs::read(&path) {
                Ok(bytes) => return Ok(Some(is_sealed(&bytes))),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_err(&path, e)),
            }
        }
        Ok(None)
    }

    /// Rewrite the state, its backup and the key as `to` keeps them (the
    /// same directory, sealed or plain); the serial stays.
    pub fn rewrite_as(&self, to: &LocalStore) -> Result<Vec<PathBuf>, StateError> {
        let mut done = Vec::new();
        for (path, purpose) in [
            (self.path(), Purpose::State),
            (self.backup_path(), Purpose::State),
            (self.key_path(), Purpose::StackKey),
        ] {
            let bytes = match fs::read(&path) {
                Ok(b) => b,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io_err(&path, e)),
            };
            let plain = self.decode(&path, purpose, bytes)?;
            write_atomically(&path, &to.encode(&path, purpose, &plain)?)?;
            done.push(path);
        }
        Ok(done)
    }

    fn sealer(&self) -> Option<&Sealer> {
        match &self.sealing {
            Sealing::Plain => None,
            Sealing::Sealed(s) | Sealing::Either(s) => Some(s),
        }
    }

    fn seal_err(&self, path: &Path, e: &super::envelope::SealError) -> StateError {
        StateError::Sealed {
            location: path.display().to_string(),
            message: e.to_string(),
            kms_key: self
                .sealer()
                .map(|s| s.kms_key())
                .filter(|k| !k.is_empty())
                .unwrap_or("(the one it was sealed with)")
                .to_string(),
        }
    }

    /// The plain bytes of a file of this store, read from `path`.
    fn decode(&self, path: &Path, purpose: Purpose, bytes: Vec<u8>) -> Result<Vec<u8>, StateError> {
        match (&self.sealing, is_sealed(&bytes)) {
            (Sealing::Plain, true) => Err(StateError::SealedLocal {
                path: path.display().to_string(),
                stack: self.stack.clone(),
                flags: self.flags.clone(),
            }),
            (Sealing::Sealed(s), false) => Err(StateError::NotSealed {
                path: path.display().to_string(),
                stack: self.stack.clone(),
                kms_key: s.kms_key().to_string(),
                flags: self.flags.clone(),
            }),
            (Sealing::Sealed(s) | Sealing::Either(s), true) => {
                s.open(purpose, &bytes).map_err(|e| self.seal_err(path, &e))
            }
            (Sealing::Plain | Sealing::Either(_), false) => Ok(bytes),
        }
    }

    /// The bytes of a file of this store as written to `path`.
    fn encode(&self, path: &Path, purpose: Purpose, plain: &[u8]) -> Result<Vec<u8>, StateError> {
        match &self.sealing {
            Sealing::Sealed(s) => s.seal(purpose, plain).map_err(|e| self.seal_err(path, &e)),
            Sealing::Plain | Sealing::Either(_) => Ok(plain.to_vec()),
        }
    }

    /// State from the file at `path`, opened as this store keeps it.
    fn read_state(&self, path: &Path) -> Result<State, StateError> {
        let bytes = fs::read(path).map_err(|e| io_err(path, e))?;
        let plain = self.decode(path, Purpose::State, bytes)?;
        parse_state_bytes(&path.display().to_string(), &plain)
    }

    /// The flags a printed `payrun state ...` fix needs to reach this stack.
    #[must_use]
    pub fn with_flags(mut self, flags: impl Into<String>) -> Self {
        self.flags = flags.into();
        self
    }

    pub fn path(&self) -> PathBuf {
        self.dir.join(format!("{}.json", self.stack))
    }

    pub fn backup_path(&self) -> PathBuf {
        self.dir.join(format!("{}.json.backup", self.stack))
    }

    pub fn lock_path(&self) -> PathBuf {
        self.dir.join(format!("{}.lock", self.stack))
    }

    pub fn key_path(&self) -> PathBuf {
        self.dir.join(format!("{}.key", self.stack))
    }

    /// The stack's key, which must exist already.
    pub fn existing_key(&self) -> Result<StackKey, StateError> {
        StackKey::load_in(&self.key_path(), &self.stack, self)
    }

    /// The stack's key, made on first use.
    pub fn key(&self) -> Result<StackKey, StateError> {
        StackKey::load_or_create_in(&self.key_path(), self)
    }

    pub fn stack(&self) -> &str {
        &self.stack
    }

    /// The state file of this stack under its name before stack names had
    /// a separator of their own.
    fn legacy_path(&self) -> Option<PathBuf> {
        legacy_name(&self.stack).map(|old| self.dir.join(format!("{old}.json")))
    }

    /// The recorded state, or a new empty one.
    pub fn load(&self) -> Result<State, StateError> {
        let mut path = self.path();
        let mut legacy = false;
        if !path.exists()
            && let Some(old) = self.legacy_path().filter(|p| p.exists())
        {
            eprintln!("{}", legacy_notice(&self.stack, &old, &path));
            path = old;
            legacy = true;
        }
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(State::new(&self.stack));
            }
            Err(e) => return Err(io_err(&path, e)),
        };
        let plain = self.decode(&path, Purpose::State, bytes)?;
        let mut state = parse_state_bytes(&path.display().to_string(), &plain)?;
        if legacy {
            state.stack = self.stack.clone();
        }
        Ok(state)
    }

    /// Write `state` with the next serial.
    pub fn save(&self, state: &mut State) -> Result<(), StateError> {
        fs::create_dir_all(&self.dir).map_err(|e| io_err(&self.dir, e))?;
        state.serial += 1;
        let path = self.path();
        let tmp = self.dir.join(format!(".{}.json.tmp", self.stack));
        let bytes = self.encode(
            &path,
            Purpose::State,
            &serde_json::to_vec_pretty(state).expect("state serializes"),
        )?;
        {
            let mut f = OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&tmp)
                .map_err(|e| io_err(&tmp, e))?;
            f.write_all(&bytes).map_err(|e| io_err(&tmp, e))?;
            f.sync_all().map_err(|e| io_err(&tmp, e))?;
        }
        if path.exists() {
            // The backup is a copy of the file as it was kept (sealed or
            // not), never opened on the way.
            fs::copy(&path, self.backup_path()).map_err(|e| io_err(&path, e))?;
        }
        fs::rename(&tmp, &path).map_err(|e| io_err(&path, e))?;
        if let Some(old) = self.legacy_path().filter(|p| p.exists()) {
            fs::remove_file(&old).map_err(|e| io_err(&old, e))?;
        }
        if let Ok(d) = fs::File::open(&self.dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }

    /// Take the stack's lock for `command`, waiting up to `timeout` for a
    /// live holder. A lock left by a payrun of this host that is gone is
    /// taken over, with a notice naming it.
    pub fn lock(
        &self,
        command: &str,
        timeout: std::time::Duration,
        notice: &dyn Fn(&str),
    ) -> Result<LockGuard, StateError> {
        fs::create_dir_all(&self.dir).map_err(|e| io_err(&self.dir, e))?;
        match LockGuard::acquire(&self.lock_path(), command, timeout) {
            Ok(Taken::Free(g)) => Ok(g),
            Ok(Taken::FromDead(g, old)) => {
                notice(&format!(
                    "Took over the lock of stack `{}` from {old}: that process is no longer running.",
                    self.stack
                ));
                Ok(g)
            }
            Err(Refusal::Live(holder)) => Err(StateError::Locked {
                stack: self.stack.clone(),
                holder: Box::new(holder),
            }),
            Err(Refusal::OtherHost(holder)) => Err(StateError::LockedElsewhere {
                stack: self.stack.clone(),
                flags: self.flags.clone(),
                holder: Box::new(holder),
            }),
            Err(Refusal::Unknown) => Err(StateError::LockedUnknown {
                stack: self.stack.clone(),
                path: self.lock_path().display().to_string(),
                flags: self.flags.clone(),
            }),
            Err(Refusal::Io(e)) => Err(io_err(&self.lock_path(), e)),
        }
    }

    /// Who the lock names, and whether a payrun of this host holds it now.
    pub fn lock_holder(&self) -> (Option<Holder>, bool) {
        let path = self.lock_path();
        (lock::read_holder(&path), lock::held_here(&path))
    }

    /// Empty the lock file, whoever holds it; returns who it named.
    pub fn force_unlock(&self) -> Result<Option<Holder>, StateError> {
        let path = self.lock_path();
        let holder = lock::read_holder(&path);
        match fs::remove_file(&path) {
            Ok(()) => Ok(holder),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_err(&path, e)),
        }
    }
}

impl StateStore for LocalStore {
    fn stack(&self) -> &str {
        &self.stack
    }

    fn location(&self) -> String {
        self.path().display().to_string()
    }

    fn load(&self) -> Result<State, StateError> {
        LocalStore::load(self)
    }

    fn save(&self, state: &mut State) -> Result<(), StateError> {
        LocalStore::save(self, state)
    }

    fn exists(&self) -> Result<bool, StateError> {
        Ok(self.path().exists() || self.legacy_path().is_some_and(|p| p.exists()))
    }

    fn key(&self) -> Result<StackKey, StateError> {
        LocalStore::key(self)
    }

    fn existing_key(&self) -> Result<StackKey, StateError> {
        LocalStore::existing_key(self)
    }

    fn adopt_key(&self, key: &StackKey) -> Result<(), StateError> {
        if key.store_at(&self.key_path(), self)? == *key {
            Ok(())
        } else {
            Err(StateError::KeyDiffers {
                location: self.key_path().display().to_string(),
            })
        }
    }

    fn lock(
        &self,
        command: &str,
        timeout: std::time::Duration,
        notice: &dyn Fn(&str),
    ) -> Result<StoreLock, StateError> {
        LocalStore::lock(self, command, timeout, notice).map(StoreLock::Local)
    }

    fn lock_info(&self) -> Result<Option<LockInfo>, StateError> {
        let (holder, live) = self.lock_holder();
        Ok(holder.map(|holder| LockInfo {
            holder,
            live,
            lease_until: None,
        }))
    }

    fn force_unlock(&self) -> Result<Option<Holder>, StateError> {
        LocalStore::force_unlock(self)
    }

    /// The state file and its one backup.
    fn history(&self) -> Result<Vec<Version>, StateError> {
        let mut out = Vec::new();
        for path in [self.path(), self.backup_path()] {
            if !path.exists() {
                continue;
            }
            let Ok(state) = self.read_state(&path) else {
                continue;
            };
            out.push(Version {
                serial: state.serial,
                written_at: fs::metadata(&path).and_then(|m| m.modified()).ok(),
                by: String::new(),
                command: String::new(),
                id: path.display().to_string(),
            });
        }
        Ok(out)
    }

    fn version(&self, serial: u64) -> Result<State, StateError> {
        let history = StateStore::history(self)?;
        let v = history.iter().find(|v| v.serial == serial).ok_or_else(|| {
            StateError::NoSuchSerial {
                stack: self.stack.clone(),
                serial,
                known: history
                    .iter()
                    .map(|v| v.serial.to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            }
        })?;
        self.read_state(Path::new(&v.id))
    }

    fn retire(&self) -> Result<String, StateError> {
        let path = self.path();
        let to = self.dir.join(format!("{}.json.migrated", self.stack));
        fs::rename(&path, &to).map_err(|e| io_err(&path, e))?;
        Ok(format!("{} is now {}", path.display(), to.display()))
    }

    fn lost(&self) -> Option<LostLock> {
        None
    }

    fn seal_file(&self, purpose: Purpose, bytes: Vec<u8>) -> Result<Option<Vec<u8>>, StateError> {
        match &self.sealing {
            Sealing::Sealed(s) => s
                .seal(purpose, &bytes)
                .map(Some)
                .map_err(|e| self.seal_err(&self.path(), &e)),
            Sealing::Plain | Sealing::Either(_) => Ok(None),
        }
    }

    fn open_file(
        &self,
        purpose: Purpose,
        path: &Path,
        bytes: Vec<u8>,
    ) -> Result<Vec<u8>, StateError> {
        if !is_sealed(&bytes) {
            return Ok(bytes);
        }
        match self.sealer() {
            Some(s) => s.open(purpose, &bytes).map_err(|e| self.seal_err(path, &e)),
            None => Err(StateError::SealedHere {
                path: path.display().to_string(),
                stack: self.stack.clone(),
                location: self.location(),
            }),
        }
    }

    fn calls(&self) -> std::collections::BTreeMap<String, u64> {
        self.sealer().map(Sealer::calls).unwrap_or_default()
    }
}

impl KeyCoding for LocalStore {
    fn encode(&self, key: &[u8]) -> Result<Vec<u8>, StateError> {
        LocalStore::encode(self, &self.key_path(), Purpose::StackKey, key)
    }

    fn decode(&self, path: &Path, bytes: Vec<u8>) -> Result<Vec<u8>, StateError> {
        LocalStore::decode(self, path, Purpose::StackKey, bytes)
    }
}

/// Replace `path` with `bytes` (temp file, fsync, rename), mode 0600.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), StateError> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp"));
    {
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(|e| io_err(&tmp, e))?;
        f.write_all(bytes).map_err(|e| io_err(&tmp, e))?;
        f.sync_all().map_err(|e| io_err(&tmp, e))?;
    }
    fs::rename(&tmp, path).map_err(|e| io_err(path, e))
}

fn io_err(path: &Path, source: std::io::Error) -> StateError {
    StateError::Io {
        path: path.display().to_string(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn save_is_0600_with_backup_and_serial() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path(), "s-qa", "qa");
        let mut st = store.load().unwrap();
        store.save(&mut st).unwrap();
        store.save(&mut st).unwrap();
        assert_eq!(store.load().unwrap().serial, 2);
        let mode = fs::metadata(store.path()).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(store.backup_path().exists());
    }

    #[test]
    fn a_stack_under_its_old_name_is_read_and_moved_on_write() {
        let dir = tempfile::tempdir().unwrap();
        let old = LocalStore::new(dir.path(), "main-qa", "qa");
        let mut st = old.load().unwrap();
        old.save(&mut st).unwrap();
        let store = LocalStore::new(dir.path(), "main.qa", "qa");
        let mut st = store.load().unwrap();
        assert_eq!((st.stack.as_str(), st.serial), ("main.qa", 1));
        store.save(&mut st).unwrap();
        assert!(store.path().exists());
        assert!(!dir.path().join("main-qa.json").exists());
        assert_eq!(
            legacy_notice(
                "main.qa",
                Path::new("d/main-qa.json"),
                Path::new("d/main.qa.json")
            ),
            "Reading the state of stack `main.qa` from its old file d/main-qa.json; the next write moves it to d/main.qa.json."
        );
    }

    #[test]
    fn second_lock_names_holder() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path(), "s-qa", "qa");
        let none = std::time::Duration::ZERO;
        let _g = store.lock("payrun apply", none, &|_| {}).unwrap();
        let err = store
            .lock("payrun plan", none, &|_| {})
            .unwrap_err()
            .to_string();
        assert!(err.contains("payrun apply"), "{err}");
        assert!(
            err.contains(&format!("pid {}", std::process::id())),
            "{err}"
        );
    }
}
