//! The moto extensions and the fault proxy have their own self-tests
//! (boto3 against the launcher, no payrun code): run here so the suite
//! fails when an extension stops answering as the AWS API reference says.

use std::path::PathBuf;
use std::process::Command;

fn selftest(script: &str) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let python = root.join(".venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/test-env first",
        python.display()
    );
    let out = Command::new(&python)
        .arg(root.join("tests/support").join(script))
        .current_dir(&root)
        .output()
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains(" passed, 0 failed"),
        "{script}:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn moto_eks_update_extension() {
    selftest("moto_eks_update_selftest.py");
}

#[test]
fn moto_lattice_delete_extension() {
    selftest("moto_lattice_delete_selftest.py");
}

#[test]
fn moto_cloudcontrol_extension() {
    selftest("moto_cloudcontrol_selftest.py");
}

#[test]
fn fault_proxy() {
    selftest("fault_proxy_selftest.py");
}
