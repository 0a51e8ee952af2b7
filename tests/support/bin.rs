//! The real `payrun` binary in a temp project, with the fake test provider
//! keeping its cloud in a file between runs.

use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;
use tempfile::TempDir;

pub struct Project {
    pub dir: TempDir,
}

impl Project {
    pub fn new(program: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("programs")).unwrap();
        std::fs::write(dir.path().join("programs/main.rhai"), program).unwrap();
        std::fs::write(
            dir.path().join("payrun.toml"),
            "program = \"programs/main.rhai\"\nregion = \"us-east-1\"\nsuffix = \"qa\"\n",
        )
        .unwrap();
        Self { dir }
    }

    /// The account-wide PCI DSS controls (CloudTrail, GuardDuty) owned by
    /// another stack of the account, acknowledged as a team does in its
    /// payrun.toml: for programs that are one part of a platform.
    pub const ACCOUNT_BASELINE: &str = "\n[acknowledge]\npci-audit-trail = \"the account's baseline stack owns the organization trail\"\npci-threat-detection = \"the account's baseline stack owns GuardDuty\"\n";

    /// Append `toml` to the project's payrun.toml.
    pub fn add_to_project_file(&self, toml: &str) {
        let file = self.dir.path().join("payrun.toml");
        let mut text = std::fs::read_to_string(&file).unwrap();
        text.push_str(toml);
        std::fs::write(file, text).unwrap();
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn cloud(&self) -> PathBuf {
        self.dir.path().join("fake-cloud.json")
    }

    pub fn payrun(&self) -> Command {
        let mut cmd = Command::cargo_bin("payrun").unwrap();
        cmd.current_dir(self.path())
            .env("PAYRUN_FAKE_CLOUD", self.cloud())
            .env("NO_COLOR", "1")
            .env_remove("PAYRUN_LOG");
        cmd
    }

    /// Ids of the objects in the fake cloud.
    pub fn cloud_objects(&self) -> serde_json::Map<String, serde_json::Value> {
        let bytes = std::fs::read(self.cloud()).unwrap_or_else(|_| b"{}".to_vec());
        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        v.get("objects")
            .and_then(|o| o.as_object())
            .cloned()
            .unwrap_or_default()
    }
}

/// A finished process as a test failure shows it: exit code, stdout, stderr.
pub fn text(o: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}
