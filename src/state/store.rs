//! `LocalStore`: `.payrun/<stack>.json`, mode 0600, atomic replace (temp
//! file, fsync, rename) and one backup. A stack last written under its old
//! name (`payment-prod.json`) is read from there, and moved on its next
//! write.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use super::key::StackKey;
use super::lock::{self, Holder, LockGuard, Refusal, Taken};
use super::s3_store::parse_state_bytes;
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
        "{path} is sealed; only the store that sealed it opens it\n  fix: run this with the stack's S3 store (`--state s3://...` or [state] in payrun.toml)"
    )]
    SealedHere { path: String },
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
        }
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
        StackKey::load(&self.key_path(), &self.stack)
    }

    /// The stack's key, made on first use.
    pub fn key(&self) -> Result<StackKey, StateError> {
        StackKey::load_or_create(&self.key_path())
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
        let probe: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|e| StateError::Corrupt {
                path: path.display().to_string(),
                message: e.to_string(),
            })?;
        let found = probe
            .get("version")
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(0) as u32;
        if found != FORMAT_VERSION {
            return Err(StateError::Version {
                path: path.display().to_string(),
                found,
            });
        }
        let mut state: State = serde_json::from_value(probe).map_err(|e| StateError::Corrupt {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
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
        let bytes = serde_json::to_vec_pretty(state).expect("state serializes");
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
        if key.store_at(&self.key_path())? == *key {
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
            let Ok(bytes) = fs::read(&path) else { continue };
            let Ok(state) = parse_state_bytes(&path.display().to_string(), &bytes) else {
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
        let path = PathBuf::from(&v.id);
        let bytes = fs::read(&path).map_err(|e| io_err(&path, e))?;
        parse_state_bytes(&v.id, &bytes)
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

    fn open_file(&self, bytes: Vec<u8>) -> Result<Vec<u8>, StateError> {
        if super::envelope::is_sealed(&bytes) {
            return Err(StateError::SealedHere {
                path: self.location(),
            });
        }
        Ok(bytes)
    }

    fn calls(&self) -> std::collections::BTreeMap<String, u64> {
        std::collections::BTreeMap::new()
    }
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
