//! Configuration: payrun.toml, flags and environment resolved into the
//! decisions a command needs (program, stack, suffix, region, vars).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::address::validate_purpose;
use crate::error::Error;
use crate::script::{Acknowledgement, ScriptConfig, secret_env_refusal};

use super::args::Global;

/// payrun.toml.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectFile {
    /// Default program, relative to the project.
    pub program: Option<String>,
    pub region: Option<String>,
    /// Default suffix when `--suffix` is not given.
    pub suffix: Option<String>,
    pub state_dir: Option<String>,
    pub endpoint_url: Option<String>,
    #[serde(default)]
    pub vars: toml::Table,
    /// `CODE = "REASON"`: findings accepted knowingly, as `--acknowledge`.
    #[serde(default)]
    pub acknowledge: BTreeMap<String, String>,
    /// What the program may reach on the machine running payrun.
    #[serde(default)]
    pub allow: Allow,
    /// How the Kubernetes kinds and helm reach the cluster.
    #[serde(default)]
    pub kube: Kube,
    /// Where state is kept (default: the state directory).
    #[serde(default)]
    pub state: StateSection,
}

/// payrun.toml's `[kube]` table.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Kube {
    /// The kubeconfig to connect through, relative to the project.
    pub kubeconfig: Option<String>,
}

/// payrun.toml's `[state]` table.
#[derive(Debug, Default, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct StateSection {
    /// `local` (default) or `s3`.
    pub backend: Option<String>,
    pub bucket: Option<String>,
    pub key_prefix: Option<String>,
    /// The bucket's region, or with local state the KMS key's (default:
    /// the stack's).
    pub region: Option<String>,
    /// The KMS key (id, ARN or alias) that seals state in the bucket, or
    /// local state when given with the local backend.
    pub kms_key: Option<String>,
    /// How long a lock stays valid without a renewal (default `2m`).
    pub lease: Option<String>,
    /// How often its holder renews it (default `30s`).
    pub lease_renew: Option<String>,
}

/// Where a stack's state is kept.
#[derive(Debug, Clone, PartialEq)]
pub enum Backend {
    Local(LocalBackend),
    S3(S3Backend),
}

/// The state directory, its files sealed when a KMS key is given.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LocalBackend {
    pub kms_key: Option<String>,
    /// The KMS key's region (default: the stack's).
    pub region: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct S3Backend {
    pub bucket: String,
    pub prefix: String,
    pub region: Option<String>,
    pub kms_key: String,
    pub lease: std::time::Duration,
    pub renew: std::time::Duration,
}

impl Backend {
    /// `s3://bucket/prefix`, or the state directory.
    pub fn describe(&self, state_dir: &Path) -> String {
        match self {
            Backend::Local(_) => state_dir.display().to_string(),
            Backend::S3(s) if s.prefix.is_empty() => format!("s3://{}", s.bucket),
            Backend::S3(s) => format!("s3://{}/{}", s.bucket, s.prefix),
        }
    }
}

/// `s3://bucket/some/prefix` → (bucket, prefix without slashes at the ends).
pub fn parse_s3_url(url: &str) -> Result<(String, String), Error> {
    let rest = url.strip_prefix("s3://").ok_or_else(|| {
        Error::Config(format!(
            "state location `{url}` is not an s3:// URL\n  fix: write it as s3://BUCKET/PREFIX, e.g. --state s3://acme-payrun-state/platform"
        ))
    })?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        return Err(Error::Config(format!(
            "state location `{url}` names no bucket\n  fix: write it as s3://BUCKET/PREFIX"
        )));
    }
    Ok((bucket.to_string(), prefix.trim_matches('/').to_string()))
}

fn duration(field: &str, text: Option<&str>, default: u64) -> Result<std::time::Duration, Error> {
    match text {
        None => Ok(std::time::Duration::from_secs(default)),
        Some(t) => humantime::parse_duration(t).map_err(|e| {
            Error::Config(format!(
                "payrun.toml: [state] {field} = \"{t}\": {e}\n  fix: write a duration, e.g. {field} = \"2m\""
            ))
        }),
    }
}

/// The backend `url` names (`local`, or `s3://bucket/prefix` sealed with
/// the KMS key of `--state-kms-key` or payrun.toml), for `state migrate`.
/// `local` is the state directory as payrun.toml and the flags keep it:
/// sealed with `--state-kms-key` when `--state` does not name a bucket,
/// else with `[state] kms_key` when the local backend is payrun.toml's.
pub fn backend_for(project: &Project, global: &Global, url: &str) -> Result<Backend, Error> {
    if url == "local" {
        let section = &project.file.state;
        let flag = global
            .state_kms_key
            .clone()
            .filter(|_| global.state_url.is_none());
        let in_file = section
            .kms_key
            .clone()
            .filter(|_| matches!(section.backend.as_deref(), None | Some("local")));
        return Ok(Backend::Local(LocalBackend {
            kms_key: flag.or(in_file),
            region: section.region.clone(),
        }));
    }
    let mut g = global.clone();
    g.state_url = Some(url.to_string());
    backend(&project.file.state, &g)
}

/// The state backend from `--state`/`--state-kms-key` over payrun.toml's
/// `[state]`.
fn backend(section: &StateSection, global: &Global) -> Result<Backend, Error> {
    let (bucket, prefix) = match (&global.state_url, section.backend.as_deref()) {
        (Some(url), _) => parse_s3_url(url)?,
        (None, None | Some("local")) => {
            return Ok(Backend::Local(LocalBackend {
                kms_key: global
                    .state_kms_key
                    .clone()
                    .or_else(|| section.kms_key.clone()),
                region: section.region.clone(),
            }));
        }
        (None, Some("s3")) => {
            let bucket = section.bucket.clone().ok_or_else(|| {
                Error::Config(
                    "payrun.toml: [state] backend = \"s3\" names no bucket\n  fix: add `bucket = \"acme-payrun-state\"` under [state]".into(),
                )
            })?;
            (
                bucket,
                section
                    .key_prefix
                    .clone()
                    .unwrap_or_default()
                    .trim_matches('/')
                    .to_string(),
            )
        }
        (None, Some(other)) => {
            return Err(Error::Config(format!(
                "payrun.toml: [state] backend = \"{other}\" is not a state backend\n  fix: write backend = \"s3\" (or \"local\")"
            )));
        }
    };
    let kms_key = global
        .state_kms_key
        .clone()
        .or_else(|| section.kms_key.clone())
        .ok_or_else(|| {
            Error::Config(format!(
                "state in s3://{bucket} needs a KMS key to seal it: payrun never keeps state readable to whoever reads the bucket\n  fix: add `kms_key = \"alias/payrun-state\"` under [state] in payrun.toml, or pass --state-kms-key"
            ))
        })?;
    let lease = duration("lease", section.lease.as_deref(), 120)?;
    let renew = duration("lease_renew", section.lease_renew.as_deref(), 30)?;
    if renew.is_zero() || renew >= lease {
        return Err(Error::Config(format!(
            "payrun.toml: [state] lease_renew ({}) must be shorter than lease ({})\n  fix: renew a few times per lease, e.g. lease = \"2m\", lease_renew = \"30s\"",
            humantime::format_duration(renew),
            humantime::format_duration(lease)
        )));
    }
    Ok(Backend::S3(S3Backend {
        bucket,
        prefix,
        region: section.region.clone(),
        kms_key,
        lease,
        renew,
    }))
}

/// payrun.toml's `[allow]` table.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Allow {
    /// The environment variables `secret_env("NAME")` may read.
    #[serde(default)]
    pub secret_env: Vec<String>,
}

/// The project: the directory holding payrun.toml (or the current one).
#[derive(Clone, Debug)]
pub struct Project {
    pub root: PathBuf,
    pub file: ProjectFile,
}

impl Project {
    /// Look for payrun.toml from `start` upwards.
    pub fn discover(start: &Path) -> Result<Self, Error> {
        for dir in start.ancestors() {
            let candidate = dir.join("payrun.toml");
            if candidate.is_file() {
                let text = std::fs::read_to_string(&candidate).map_err(|e| {
                    Error::Config(format!("cannot read {}: {e}", candidate.display()))
                })?;
                let file: ProjectFile = toml::from_str(&text).map_err(|e| {
                    Error::Config(format!(
                        "{}: {}\n  fix: payrun.toml takes program, region, suffix, state_dir, endpoint_url, [vars], [acknowledge], [allow], [kube] and [state]",
                        candidate.display(),
                        e.to_string().trim()
                    ))
                })?;
                return Ok(Self {
                    root: dir.to_path_buf(),
                    file,
                });
            }
        }
        Ok(Self {
            root: start.to_path_buf(),
            file: ProjectFile::default(),
        })
    }
}

/// Everything a command needs to know, decided once.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub program: PathBuf,
    pub suffix: String,
    pub region: String,
    pub stack: String,
    pub vars: Map<String, Value>,
    /// `--acknowledge CODE=REASON`: (code, reason).
    pub acknowledge: Vec<(String, String)>,
    /// payrun.toml's `[acknowledge]`: (code, reason).
    pub acknowledge_in_project: Vec<(String, String)>,
    /// Variables `secret_env` may read: payrun.toml's `[allow] secret_env`
    /// and `--secret-env`.
    pub secret_env: Vec<String>,
    /// `--kubeconfig`, else payrun.toml's `[kube] kubeconfig`.
    pub kubeconfig: Option<PathBuf>,
    /// `--insecure-kubeconfig`.
    pub insecure_kubeconfig: bool,
    pub stdlib_dirs: Vec<PathBuf>,
    pub state_dir: PathBuf,
    /// Where state is kept: the state directory, or a bucket.
    pub backend: Backend,
    pub endpoint_url: Option<String>,
    pub retry_budget: std::time::Duration,
    pub request_timeout: std::time::Duration,
    pub lock_timeout: std::time::Duration,
    /// The flags that name this stack on a command line, for printed
    /// fixes: `--program P` (when given), `--suffix S`, `--state-dir D`
    /// (when given).
    pub stack_flags: String,
}

/// `text` as one shell word.
fn shell_word(text: &str) -> String {
    if !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:@+,".contains(c))
    {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    }
}

impl Resolved {
    pub fn new(project: &Project, global: &Global, program: Option<&Path>) -> Result<Self, Error> {
        let program_given = program;
        let program = match program {
            Some(p) => p.to_path_buf(),
            None => match &project.file.program {
                Some(p) => project.root.join(p),
                None => {
                    return Err(Error::Config(
                        "no program given\n  fix: pass one (`payrun plan programs/payment.rhai`) or set `program` in payrun.toml".into(),
                    ));
                }
            },
        };
        let suffix = global
            .suffix
            .clone()
            .or_else(|| project.file.suffix.clone())
            .unwrap_or_else(|| "dev".into());
        if let Err(e) = validate_purpose(&suffix) {
            return Err(Error::Config(format!(
                "--suffix: {}\n  fix: e.g. `--suffix qa`",
                e.replace("resource name", "suffix")
            )));
        }
        let region = global
            .region
            .clone()
            .or_else(|| project.file.region.clone())
            .or_else(|| std::env::var("AWS_REGION").ok())
            .or_else(|| std::env::var("AWS_DEFAULT_REGION").ok())
            .unwrap_or_else(|| "us-east-1".into());
        let stem = program
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("program")
            .to_string();
        let mut vars = Map::new();
        for (k, v) in &project.file.vars {
            vars.insert(k.clone(), serde_json::to_value(v).unwrap_or(Value::Null));
        }
        for kv in &global.vars {
            let (k, v) = kv.split_once('=').ok_or_else(|| {
                Error::Config(format!(
                    "--var `{kv}` has no `=`\n  fix: write --var KEY=VALUE, e.g. --var azs=3"
                ))
            })?;
            let value = parse_var(v).map_err(|e| {
                Error::Config(format!(
                    "--var `{kv}`: the value starts with `{}` like JSON but is not JSON: {e}\n  fix: write it as JSON in single quotes, e.g. --var '{k}=[\"us-east-1a\",\"us-east-1b\"]'; for text, a JSON string: --var '{k}=\"{}\"'",
                    &v[..1],
                    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\'', "'\\''"),
                    k = k.trim(),
                ))
            })?;
            vars.insert(k.trim().to_string(), value);
        }
        let mut acknowledge = Vec::new();
        for kv in &global.acknowledge {
            match kv.split_once('=') {
                Some((code, reason)) if !code.trim().is_empty() && !reason.trim().is_empty() => {
                    acknowledge.push((code.trim().to_string(), reason.trim().to_string()));
                }
                _ => {
                    return Err(Error::Config(format!(
                        "--acknowledge `{kv}` needs a finding code and a reason\n  fix: write --acknowledge CODE=REASON, e.g. --acknowledge eks-version-unsupported=\"QA mirror of production until the upgrade\""
                    )));
                }
            }
        }
        let mut acknowledge_in_project = Vec::new();
        for (code, reason) in &project.file.acknowledge {
            if code.trim().is_empty() || reason.trim().is_empty() {
                return Err(Error::Config(format!(
                    "payrun.toml: [acknowledge] `{code}` needs a finding code and a reason\n  fix: write `eks-version-unsupported = \"QA mirror of production until the upgrade\"` under [acknowledge]"
                )));
            }
            acknowledge_in_project.push((code.trim().to_string(), reason.trim().to_string()));
        }
        let secret_env = declared_secret_env(&project.file.allow.secret_env, &global.secret_env)?;
        let kubeconfig = global.kubeconfig.clone().or_else(|| {
            project
                .file
                .kube
                .kubeconfig
                .as_ref()
                .map(|k| project.root.join(k))
        });
        let mut stdlib_dirs: Vec<PathBuf> = global.stdlib.clone();
        stdlib_dirs.push(project.root.join("stdlib"));
        if let Some(dir) = program.parent() {
            stdlib_dirs.push(if dir.as_os_str().is_empty() {
                PathBuf::from(".")
            } else {
                dir.to_path_buf()
            });
        }
        let state_dir = global
            .state_dir
            .clone()
            .or_else(|| {
                project
                    .file
                    .state_dir
                    .as_ref()
                    .map(|d| project.root.join(d))
            })
            .unwrap_or_else(|| project.root.join(".payrun"));
        let mut stack_flags = Vec::new();
        if let Some(p) = program_given {
            stack_flags.push(format!(
                "--program {}",
                shell_word(&p.display().to_string())
            ));
        }
        stack_flags.push(format!("--suffix {}", shell_word(&suffix)));
        if let Some(d) = &global.state_dir {
            stack_flags.push(format!(
                "--state-dir {}",
                shell_word(&d.display().to_string())
            ));
        }
        if let Some(u) = &global.state_url {
            stack_flags.push(format!("--state {}", shell_word(u)));
        }
        if let Some(k) = &global.state_kms_key {
            stack_flags.push(format!("--state-kms-key {}", shell_word(k)));
        }
        let backend = backend(&project.file.state, global)?;
        Ok(Self {
            retry_budget: global.retry_budget,
            request_timeout: global.request_timeout,
            lock_timeout: global.lock_timeout,
            stack_flags: stack_flags.join(" "),
            stack: crate::state::stack_name(&program.display().to_string(), &stem, &suffix)
                .map_err(|e| Error::Config(e.to_string()))?,
            program,
            suffix,
            region,
            vars,
            acknowledge,
            acknowledge_in_project,
            secret_env,
            kubeconfig,
            insecure_kubeconfig: global.insecure_kubeconfig,
            stdlib_dirs,
            state_dir,
            backend,
            endpoint_url: global
                .endpoint_url
                .clone()
                .or_else(|| project.file.endpoint_url.clone()),
        })
    }

    pub fn script_config(&self) -> ScriptConfig {
        ScriptConfig {
            suffix: self.suffix.clone(),
            region: self.region.clone(),
            stack: self.stack.clone(),
            vars: self.vars.clone(),
            stdlib_dirs: self.stdlib_dirs.clone(),
            acknowledged: self
                .acknowledge_in_project
                .iter()
                .map(|(code, reason)| Acknowledgement::in_project_file(code, reason))
                .collect(),
            secret_env: self.secret_env.clone(),
            kubeconfig: self.kubeconfig.clone(),
            stack_outputs: None,
        }
    }
}

/// The variables a program may read with `secret_env`: those payrun.toml
/// declares (`[allow] secret_env`) and those named by `--secret-env NAME`
/// flags, each a variable name that is not one of payrun's own.
fn declared_secret_env(in_project: &[String], flags: &[String]) -> Result<Vec<String>, Error> {
    let sources = in_project
        .iter()
        .map(|n| ("payrun.toml: [allow] secret_env", n))
        .chain(flags.iter().map(|n| ("--secret-env", n)));
    let mut names: Vec<String> = Vec::new();
    for (source, name) in sources {
        if let Some(why) = secret_env_refusal(name) {
            return Err(Error::Config(format!(
                "{source} names `{name}`: {why}\n  fix: remove `{name}` there and give the secret a variable of its own, e.g. DB_PASSWORD"
            )));
        }
        if !names.contains(name) {
            names.push(name.clone());
        }
    }
    Ok(names)
}
/// `--var azs=3` is a number, `--var ha=true` a boolean, `--var
/// cidrs=["10.0.0.0/8"]` a JSON array or map, `--var name="x"` a JSON
/// string, anything else text. A decimal stays text: `--var
/// k8s_version=1.30` is the version "1.30", not 1.3. A value that starts
/// like JSON (`[`, `{`, `"`) must be JSON: `[bad` is a mistake, not text.
fn parse_var(v: &str) -> Result<Value, serde_json::Error> {
    if let Ok(i) = v.parse::<i64>() {
        return Ok(Value::from(i));
    }
    if v.starts_with(['[', '{', '"']) {
        return serde_json::from_str::<Value>(v);
    }
    Ok(match v {
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        _ => Value::String(v.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::parse_var;

    #[test]
    fn var_values() {
        let var = |v| parse_var(v).unwrap();
        assert_eq!(var("3"), json!(3));
        assert_eq!(var("true"), json!(true));
        assert_eq!(var("1.30"), json!("1.30"));
        assert_eq!(var("1.35"), json!("1.35"));
        assert_eq!(var(r#"["10.0.0.0/8"]"#), json!(["10.0.0.0/8"]));
        assert_eq!(var(r#"{"a": 1}"#), json!({ "a": 1 }));
        assert_eq!(var(r#""[not json""#), json!("[not json"));
        assert_eq!(var("per-az"), json!("per-az"));
        assert!(parse_var("[not json").is_err());
    }
}
