//! `scripts/sandbox` driven from a test: the repository, this test's
//! target directory, and a bash script run there with `$SB` the sandbox.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The target directory of this test's payrun and stand-ins (cargo test
/// builds examples too), so the script puts this payrun on PATH.
pub fn target_dir() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_payrun"))
        .ancestors()
        .nth(2)
        .unwrap()
        .to_path_buf()
}

/// `script` run by bash in the repository, with `$SB` the sandbox.
pub fn shell(sb: &Path, script: &str) -> Output {
    Command::new("bash")
        .args(["-c", script])
        .current_dir(root())
        .env("SB", sb)
        .env("CARGO_TARGET_DIR", target_dir())
        // Built with this test; a cargo inside cargo test would wait on or
        // rebuild the same target directory.
        .env("SANDBOX_NO_BUILD", "1")
        .env("NO_COLOR", "1")
        .env_remove("PAYRUN_LOG")
        .env_remove("PAYRUN_FAKE_CLOUD")
        .output()
        .unwrap()
}
