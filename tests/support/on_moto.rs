//! The real binary in a temp project, driving moto (directly or through
//! the fault proxy), and Python's boto3 to act behind its back.

use std::process::{Command, Stdio};

use serde_json::Value;

use super::bin::{Project, text};
use super::moto;

/// A project on moto (through `endpoint`), its stack `main.<suffix>`.
pub struct OnMoto {
    pub p: Project,
    pub suffix: String,
    /// Set for every command (a secret's variable).
    pub env: Vec<(String, String)>,
}

impl OnMoto {
    pub fn new(program: &str, suffix: &str) -> Self {
        Self {
            p: Project::new(program),
            suffix: suffix.to_string(),
            env: Vec::new(),
        }
    }

    /// The same project, `name=value` in every command's environment.
    pub fn with_env(mut self, name: &str, value: &str) -> Self {
        self.env.push((name.to_string(), value.to_string()));
        self
    }

    pub fn stack(&self) -> String {
        format!("main.{}", self.suffix)
    }

    pub fn command(&self, endpoint: &str, args: &[&str]) -> Command {
        let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("payrun"));
        cmd.current_dir(self.p.path())
            .args(args)
            .args(["--suffix", &self.suffix, "--endpoint-url", endpoint])
            .args(["--retry-budget", "30s", "--lock-timeout", "30s"])
            .env("NO_COLOR", "1")
            .env_remove("PAYRUN_LOG")
            .env_remove("PAYRUN_FAKE_CLOUD")
            .envs(moto::client_env())
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null());
        cmd
    }

    pub fn run(&self, endpoint: &str, args: &[&str]) -> std::process::Output {
        self.command(endpoint, args).output().unwrap()
    }

    pub fn ok(&self, endpoint: &str, args: &[&str]) -> std::process::Output {
        let out = self.run(endpoint, args);
        assert!(out.status.success(), "{args:?}: {}", text(&out));
        out
    }

    pub fn state(&self) -> Value {
        let path = self.p.path().join(format!(".payrun/{}.json", self.stack()));
        serde_json::from_slice(&std::fs::read(path).unwrap_or_else(|_| b"{}".to_vec()))
            .unwrap_or(Value::Null)
    }

    pub fn plan_json(&self, endpoint: &str) -> (Option<i32>, Value) {
        let out = self.run(endpoint, &["plan", "--json", "--detailed-exitcode"]);
        let plan = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("plan --json: {e}: {}", text(&out)));
        (out.status.code(), plan)
    }
}

/// Runs a Python snippet against moto, where `client(service)` makes a
/// boto3 client there; returns what it prints.
pub fn python(code: &str) -> String {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let script = format!(
        "import boto3, json\ndef client(service):\n    return boto3.client(service, region_name='us-east-1', endpoint_url='{}', aws_access_key_id='testing', aws_secret_access_key='testing')\n{code}",
        moto::moto().endpoint
    );
    let out = Command::new(root.join(".venv/bin/python"))
        .args(["-c", &script])
        .output()
        .unwrap();
    assert!(out.status.success(), "python: {}", text(&out));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The addresses a plan's JSON acts on (every change but a no-op), with
/// their actions, sorted.
pub fn acting(plan: &Value) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = plan["changes"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter(|c| c["action"] != "no-op")
        .map(|c| {
            (
                c["address"].as_str().unwrap_or_default().to_string(),
                c["action"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    out.sort();
    out
}
