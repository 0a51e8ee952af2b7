//! The state lock: a file that names its holder, held with an OS file lock
//! for as long as the holder runs.
//!
//! The OS releases a file lock when its process dies, kill -9 included, so
//! a lock left by a payrun that is gone from this host is told apart from
//! a live one without trusting pids (which the OS reuses). The holder's
//! name in the file is what another host sees: a lock of another host is
//! never taken over, only removed by `payrun state unlock`.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// Who holds a lock.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Holder {
    pub pid: u32,
    pub host: String,
    #[serde(default)]
    pub user: String,
    pub command: String,
    pub started_at: String,
}

impl Holder {
    pub fn me(command: &str) -> Self {
        Self {
            pid: std::process::id(),
            host: hostname(),
            user: std::env::var("USER")
                .or_else(|_| std::env::var("LOGNAME"))
                .unwrap_or_default(),
            command: command.to_string(),
            started_at: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
        }
    }

    pub fn on_this_host(&self) -> bool {
        self.host == hostname()
    }
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let user = if self.user.is_empty() {
            String::new()
        } else {
            format!("{}@", self.user)
        };
        write!(
            f,
            "pid {} on {user}{} (`{}`, since {})",
            self.pid, self.host, self.command, self.started_at
        )
    }
}

pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown-host".into())
}

/// Why a lock could not be taken.
#[derive(Debug)]
pub enum Refusal {
    /// A payrun holds it now (on this host, its file lock is held).
    Live(Holder),
    /// It names a holder on another host, whose liveness this host cannot
    /// see.
    OtherHost(Holder),
    /// Held, but the file does not say by whom.
    Unknown,
    Io(std::io::Error),
}

/// Held while it lives; dropping it empties the lock file and releases the
/// file lock.
#[derive(Debug)]
pub struct LockGuard {
    file: File,
}

/// How a lock was taken.
pub enum Taken {
    Free(LockGuard),
    /// From a holder on this host that is gone (it was killed, or the host
    /// restarted).
    FromDead(LockGuard, Holder),
}

impl LockGuard {
    /// Take the lock at `path` for `command`, waiting up to `timeout` for a
    /// live holder to finish.
    pub(super) fn acquire(path: &Path, command: &str, timeout: Duration) -> Result<Taken, Refusal> {
        let deadline = Instant::now() + timeout;
        loop {
            match Self::try_acquire(path, command) {
                Err(Refusal::Live(_) | Refusal::Unknown) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(200));
                }
                other => return other,
            }
        }
    }

    fn try_acquire(path: &Path, command: &str) -> Result<Taken, Refusal> {
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(path)
            .map_err(Refusal::Io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(read_holder(path).map_or(Refusal::Unknown, Refusal::Live));
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(Refusal::Io(e)),
        }
        // The file may have been replaced between open and lock (an unlock
        // that removed it): then this lock guards nothing; start again.
        let same = std::fs::metadata(path)
            .and_then(|m| file.metadata().map(|f| m.ino() == f.ino()))
            .unwrap_or(false);
        if !same {
            return Self::try_acquire(path, command);
        }
        let mut text = String::new();
        let _ = file.read_to_string(&mut text);
        let previous: Option<Holder> = serde_json::from_str(&text).ok();
        if let Some(p) = &previous
            && !p.on_this_host()
        {
            return Err(Refusal::OtherHost(p.clone()));
        }
        let me = serde_json::to_vec_pretty(&Holder::me(command)).unwrap_or_default();
        file.set_len(0)
            .and_then(|()| file.rewind())
            .and_then(|()| file.write_all(&me))
            .and_then(|()| file.sync_all())
            .map_err(Refusal::Io)?;
        let guard = Self { file };
        Ok(match previous {
            Some(p) => Taken::FromDead(guard, p),
            None => Taken::Free(guard),
        })
    }
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        // Emptied, not removed: a payrun waiting on this file would
        // otherwise lock a file no longer at the path.
        let _ = self.file.set_len(0);
        let _ = self.file.sync_all();
        let _ = self.file.unlock();
    }
}

/// Who the lock file names, if anyone.
pub(super) fn read_holder(path: &Path) -> Option<Holder> {
    let bytes = std::fs::read(path).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Is the lock at `path` held by a running payrun on this host?
pub(super) fn held_here(path: &Path) -> bool {
    let Ok(file) = OpenOptions::new().read(true).write(true).open(path) else {
        return false;
    };
    match file.try_lock() {
        Ok(()) => {
            let _ = file.unlock();
            false
        }
        Err(_) => true,
    }
}
