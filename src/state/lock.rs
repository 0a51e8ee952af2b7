//! The state lock: a file created exclusively, naming its holder.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Who holds a lock.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Holder {
    pub pid: u32,
    pub host: String,
    pub command: String,
    pub started_at: String,
}

impl Holder {
    pub fn me(command: &str) -> Self {
        Self {
            pid: std::process::id(),
            host: hostname(),
            command: command.to_string(),
            started_at: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
        }
    }

    /// Is the holder a process on this host that no longer runs?
    pub fn is_stale(&self) -> bool {
        self.host == hostname() && !Path::new(&format!("/proc/{}", self.pid)).exists()
    }
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "pid {} on {} (`{}`, since {})",
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

/// Held while it lives; the lock file is removed on drop.
#[derive(Debug)]
pub struct LockGuard {
    path: PathBuf,
}

impl LockGuard {
    /// Take the lock at `path`, or say who holds it.
    pub(super) fn acquire(path: &Path, command: &str) -> Result<Self, Option<Holder>> {
        let holder = Holder::me(command);
        match OpenOptions::new().write(true).create_new(true).open(path) {
            Ok(mut f) => {
                let body = serde_json::to_vec_pretty(&holder).unwrap_or_default();
                // The lock exists once the file exists; the holder is a courtesy.
                let _ = f.write_all(&body).and_then(|()| f.sync_all());
                Ok(Self {
                    path: path.to_path_buf(),
                })
            }
            Err(_) => Err(read_holder(path)),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

pub(super) fn read_holder(path: &Path) -> Option<Holder> {
    let bytes = std::fs::read(path).ok()?;
    serde_json::from_slice(&bytes).ok()
}
