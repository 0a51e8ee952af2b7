//! Helm releases (`helm.release`), driven through the `helm` CLI:
//! `upgrade --install --atomic --wait` with the values in a JSON file and,
//! for an EKS cluster, a kubeconfig in a 0600 temp file whose credential is
//! `payrun eks-token` (helm runs it again whenever the token it printed
//! expires, so `--wait` may last any time, and no token is ever in a file
//! or a process's arguments); read back through `helm status` and
//! `helm get values`.

use std::ffi::{OsStr, OsString};
use std::io::Write;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use payrun_derive::Args;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::client::{eks_kubeconfig, refuse_insecure};
use super::kinds::ClusterArgs;
use super::token::{EXEC_API_VERSION, TOKEN_LIFETIME, TokenSource};
use crate::provider::aws::AwsSettings;
use crate::provider::schema::{KindSchema, validate_as};
use crate::provider::{
    Applied, CreateOp, DeleteOp, Provider, ProviderError, ReadItem, ReadResult, UpdateOp,
};

#[derive(Debug, Deserialize, Serialize, Args)]
#[serde(deny_unknown_fields)]
#[arg(kind = "helm.release")]
pub struct ReleaseArgs {
    #[arg(placement = super::kinds::CLUSTER_PLACEMENT, formerly = "cluster")]
    pub kube: ClusterArgs,
    /// Chart name in `repo`, a `repo/chart` reference or an `oci://` URL.
    pub chart: String,
    #[serde(default)]
    pub repo: Option<String>,
    #[serde(default)]
    pub version: Option<String>,
    #[arg(force_new)]
    pub namespace: String,
    /// Release name; defaults to the resource's purpose.
    #[serde(default)]
    #[arg(force_new)]
    pub name: Option<String>,
    #[serde(default)]
    #[arg(holds_secrets)]
    pub values: Option<Map<String, Value>>,
    #[serde(default)]
    pub create_namespace: bool,
    /// Seconds helm waits for the release's resources (default 600).
    #[serde(default)]
    pub timeout: Option<u64>,
}

fn validate(args: &Value) -> Result<(), crate::provider::ArgError> {
    validate_as::<ReleaseArgs>(args)?;
    let cluster: ClusterArgs =
        serde_json::from_value(args["kube"].clone()).map_err(|e| format!("`kube`: {e}"))?;
    Ok(cluster.check()?)
}

pub static SCHEMAS: &[KindSchema] = &[KindSchema {
    kind: ReleaseArgs::KIND,
    name_prefix: "release",
    name_max: 53,
    taggable: false,
    named_by_arg: true,
    create_before_destroy: false,
    args: ReleaseArgs::SPECS,
    outputs: &["revision"],
    validate: &validate,
    reads_each: Some("one `helm status` per release"),
    doc: "A Helm release, installed or upgraded atomically with the `helm` CLI.",
}];

/// The `helm` executable on `path` (a PATH-style list).
pub fn find_helm(path: Option<&OsStr>) -> Option<PathBuf> {
    let path: OsString = path
        .map(OsStr::to_os_string)
        .or_else(|| std::env::var_os("PATH"))?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("helm"))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// A file only its owner may read, removed when dropped.
struct PrivateFile(PathBuf);

impl PrivateFile {
    fn new(what: &str, contents: &[u8]) -> Result<Self, ProviderError> {
        use std::os::unix::fs::OpenOptionsExt;
        let path =
            std::env::temp_dir().join(format!("payrun-{what}-{}.json", uuid::Uuid::new_v4()));
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .map_err(|e| ProviderError::new(format!("writing {}: {e}", path.display())))?;
        f.write_all(contents)
            .map_err(|e| ProviderError::new(format!("writing {}: {e}", path.display())))?;
        Ok(Self(path))
    }
}

impl Drop for PrivateFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Where to find `helm`, and how helm gets EKS tokens.
#[derive(Clone, Debug)]
pub struct HelmConfig {
    /// PATH-style search list; the process's PATH when unset.
    pub path: Option<OsString>,
    /// Use a kubeconfig whose cluster has `insecure-skip-tls-verify`.
    pub insecure_kubeconfig: bool,
    /// The AWS provider's settings: helm's EKS tokens are signed with them.
    pub aws: AwsSettings,
    /// How long helm uses one EKS token before it asks for another.
    pub token_lifetime: std::time::Duration,
    /// The payrun executable helm runs for tokens; this process's own when
    /// unset.
    pub credential_command: Option<PathBuf>,
}

impl Default for HelmConfig {
    fn default() -> Self {
        Self {
            path: None,
            insecure_kubeconfig: false,
            aws: AwsSettings::default(),
            token_lifetime: TOKEN_LIFETIME,
            credential_command: None,
        }
    }
}

pub struct HelmProvider {
    config: HelmConfig,
    /// For the region a cluster's tokens are signed for.
    tokens: TokenSource,
}

struct Output {
    ok: bool,
    stdout: String,
    stderr: String,
}

impl HelmProvider {
    pub fn new(config: HelmConfig) -> Self {
        let tokens = TokenSource::new(config.aws.clone(), config.token_lifetime);
        Self { config, tokens }
    }

    /// The kubeconfig user of an EKS cluster: `payrun eks-token`, told the
    /// cluster and the AWS settings, none of them a secret; the token it
    /// prints goes from its stdout to helm.
    async fn exec_user(&self, cluster: &str, region: Option<&str>) -> Result<Value, ProviderError> {
        let region = self
            .tokens
            .region(region)
            .await
            .map_err(ProviderError::new)?;
        let command = match &self.config.credential_command {
            Some(c) => c.clone(),
            None => std::env::current_exe()
                .map_err(|e| ProviderError::new(format!("finding payrun's own executable: {e}")))?,
        };
        let mut args = vec![
            "eks-token".to_string(),
            "--cluster".into(),
            cluster.to_string(),
            "--region".into(),
            region,
            "--token-lifetime".into(),
            format!("{}s", self.config.token_lifetime.as_secs().max(1)),
        ];
        let aws = self.tokens.settings();
        if let Some(url) = &aws.endpoint_url {
            args.extend(["--endpoint-url".into(), url.clone()]);
        }
        if let Some(profile) = &aws.profile {
            args.extend(["--profile".into(), profile.clone()]);
        }
        Ok(json!({
            "exec": {
                "apiVersion": EXEC_API_VERSION,
                "command": command.display().to_string(),
                "args": args,
                "interactiveMode": "Never",
            }
        }))
    }

    fn helm(&self) -> Result<PathBuf, ProviderError> {
        find_helm(self.config.path.as_deref()).ok_or_else(|| {
            ProviderError::new("`helm` is not on PATH; helm.release resources need it")
                .with_code("HelmMissing")
                .with_fix("install Helm 3 (https://helm.sh/docs/intro/install/) and put it on PATH")
        })
    }

    /// `--kubeconfig`/`--kube-context` for the cluster, and the temp file
    /// that must live as long as the command.
    async fn cluster_flags(
        &self,
        cluster: &ClusterArgs,
    ) -> Result<(Vec<String>, Option<PrivateFile>), ProviderError> {
        cluster.check().map_err(ProviderError::new)?;
        if let Some(path) = &cluster.kubeconfig {
            // helm reads the file itself and says why it cannot.
            if let Ok(k) = kube::config::Kubeconfig::read_from(path) {
                refuse_insecure(&k, path, self.config.insecure_kubeconfig)?;
            }
            let mut flags = vec!["--kubeconfig".to_string(), path.clone()];
            if let Some(c) = &cluster.context {
                flags.extend(["--kube-context".to_string(), c.clone()]);
            }
            return Ok((flags, None));
        }
        let name = cluster.name.as_deref().unwrap_or_default();
        let doc = eks_kubeconfig(
            name,
            cluster.endpoint.as_deref().unwrap_or_default(),
            cluster.ca_data.as_deref().unwrap_or_default(),
            self.exec_user(name, cluster.region.as_deref()).await?,
        );
        let file = PrivateFile::new("kubeconfig", doc.to_string().as_bytes())?;
        let flags = vec!["--kubeconfig".to_string(), file.0.display().to_string()];
        Ok((flags, Some(file)))
    }

    async fn run(&self, args: &[String]) -> Result<Output, ProviderError> {
        let helm = self.helm()?;
        let out = tokio::process::Command::new(&helm)
            .args(args)
            .stdin(std::process::Stdio::null())
            .output()
            .await
            .map_err(|e| ProviderError::new(format!("running {}: {e}", helm.display())))?;
        Ok(Output {
            ok: out.status.success(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        })
    }

    fn parse(args: &Value) -> Result<ReleaseArgs, ProviderError> {
        serde_json::from_value(args.clone())
            .map_err(|e| ProviderError::new(format!("helm.release: {e}")))
    }

    fn release_name<'a>(purpose: &'a str, args: &'a ReleaseArgs) -> &'a str {
        args.name.as_deref().unwrap_or(purpose)
    }

    async fn install(
        &self,
        purpose: &str,
        raw: &Value,
        op_progress: &crate::provider::ProgressFn,
    ) -> Result<Applied, ProviderError> {
        let args = Self::parse(raw)?;
        let name = Self::release_name(purpose, &args).to_string();
        let values = PrivateFile::new(
            "values",
            Value::Object(args.values.clone().unwrap_or_default())
                .to_string()
                .as_bytes(),
        )?;
        let (cluster_flags, _kubeconfig) = self.cluster_flags(&args.kube).await?;
        let mut cmd: Vec<String> = vec![
            "upgrade".into(),
            "--install".into(),
            name.clone(),
            args.chart.clone(),
            "--namespace".into(),
            args.namespace.clone(),
        ];
        if let Some(r) = &args.repo {
            cmd.extend(["--repo".into(), r.clone()]);
        }
        if let Some(v) = &args.version {
            cmd.extend(["--version".into(), v.clone()]);
        }
        if args.create_namespace {
            cmd.push("--create-namespace".into());
        }
        cmd.extend([
            "--values".into(),
            values.0.display().to_string(),
            "--atomic".into(),
            "--wait".into(),
            "--timeout".into(),
            format!("{}s", args.timeout.unwrap_or(600)),
        ]);
        cmd.extend(cluster_flags.iter().cloned());
        op_progress(&format!("helm upgrade --install {name}"));
        let out = self.run(&cmd).await?;
        if !out.ok {
            return Err(ProviderError::new(format!(
                "helm upgrade --install {name} failed (rolled back: --atomic): {}",
                out.stderr
            ))
            .with_code("HelmFailed"));
        }
        let status = self.status(&name, &args.namespace, &cluster_flags).await?;
        Ok(Applied {
            id: name,
            outputs: status.map(|s| Self::outputs(&s)).unwrap_or_default(),
        })
    }

    fn outputs(status: &Value) -> Map<String, Value> {
        let mut m = Map::new();
        if let Some(r) = status["version"].as_i64() {
            m.insert("revision".into(), json!(r.to_string()));
        }
        m
    }

    /// `helm status -o json`, or `None` when there is no such release.
    async fn status(
        &self,
        name: &str,
        namespace: &str,
        cluster_flags: &[String],
    ) -> Result<Option<Value>, ProviderError> {
        let mut cmd = vec![
            "status".to_string(),
            name.to_string(),
            "--namespace".into(),
            namespace.to_string(),
            "-o".into(),
            "json".into(),
        ];
        cmd.extend(cluster_flags.iter().cloned());
        let out = self.run(&cmd).await?;
        if !out.ok {
            if release_not_found(&out.stderr, RELEASE_NOT_FOUND) {
                return Ok(None);
            }
            return Err(helm_failed(&format!("helm status {name}"), &out.stderr));
        }
        serde_json::from_str(&out.stdout)
            .map(Some)
            .map_err(|e| ProviderError::new(format!("helm status {name}: {e}")))
    }

    async fn values(
        &self,
        name: &str,
        namespace: &str,
        cluster_flags: &[String],
    ) -> Result<Map<String, Value>, ProviderError> {
        let mut cmd = vec![
            "get".to_string(),
            "values".into(),
            name.to_string(),
            "--namespace".into(),
            namespace.to_string(),
            "-o".into(),
            "json".into(),
        ];
        cmd.extend(cluster_flags.iter().cloned());
        let out = self.run(&cmd).await?;
        if !out.ok {
            return Err(helm_failed(&format!("helm get values {name}"), &out.stderr));
        }
        let v: Value = serde_json::from_str(out.stdout.trim())
            .map_err(|e| ProviderError::new(format!("helm get values {name}: {e}")))?;
        Ok(v.as_object().cloned().unwrap_or_default())
    }

    /// The live release in the program's terms: chart, version and values
    /// only where they differ from what was applied.
    fn observed(
        recorded: &ReleaseArgs,
        status: &Value,
        values: Map<String, Value>,
    ) -> Map<String, Value> {
        let mut args = Map::new();
        let meta = &status["chart"]["metadata"];
        if let Some(chart) = meta["name"].as_str() {
            let applied = recorded.chart.rsplit('/').next().unwrap_or(&recorded.chart);
            if chart != applied {
                args.insert("chart".into(), json!(chart));
            }
        }
        if let (Some(v), Some(live)) = (&recorded.version, meta["version"].as_str())
            && v.trim_start_matches('v') != live.trim_start_matches('v')
        {
            args.insert("version".into(), json!(live));
        }
        let applied = recorded.values.clone().unwrap_or_default();
        if values != applied && !(values.is_empty() && applied.is_empty()) {
            args.insert("values".into(), Value::Object(values));
        }
        args
    }
}

#[async_trait]
impl Provider for HelmProvider {
    fn schemas(&self) -> &'static [KindSchema] {
        SCHEMAS
    }

    async fn read(
        &self,
        _kind: &str,
        items: &[ReadItem],
    ) -> Result<Vec<ReadResult>, ProviderError> {
        let mut out = Vec::new();
        for item in items {
            let args = Self::parse(&item.args)?;
            let name = Self::release_name(item.address.purpose(), &args);
            let (flags, _kubeconfig) = self.cluster_flags(&args.kube).await?;
            out.push(match self.status(name, &args.namespace, &flags).await? {
                None => ReadResult::Gone,
                Some(status) => {
                    let values = self.values(name, &args.namespace, &flags).await?;
                    ReadResult::Found {
                        args: Self::observed(&args, &status, values),
                        outputs: Self::outputs(&status),
                    }
                }
            });
        }
        Ok(out)
    }

    async fn create(&self, op: &CreateOp) -> Result<Applied, ProviderError> {
        self.install(op.address.purpose(), &op.args, &op.progress)
            .await
    }

    async fn update(&self, op: &UpdateOp) -> Result<Applied, ProviderError> {
        self.install(op.address.purpose(), &op.after, &op.progress)
            .await
    }

    async fn delete(&self, op: &DeleteOp) -> Result<(), ProviderError> {
        let args = Self::parse(&op.args)?;
        let name = Self::release_name(op.address.purpose(), &args);
        let (flags, _kubeconfig) = self.cluster_flags(&args.kube).await?;
        let mut cmd = vec![
            "uninstall".to_string(),
            name.to_string(),
            "--namespace".into(),
            args.namespace.clone(),
            "--wait".into(),
        ];
        cmd.extend(flags);
        let out = self.run(&cmd).await?;
        if out.ok || release_not_found(&out.stderr, &uninstall_not_found(name)) {
            return Ok(());
        }
        Err(helm_failed(&format!("helm uninstall {name}"), &out.stderr))
    }

    /// `upgrade --install` is idempotent: a release made before a crash is
    /// simply upgraded by the retried create.
    async fn adopt(&self, _op: &CreateOp) -> Result<Option<Applied>, ProviderError> {
        Ok(None)
    }

    async fn preflight(&self, _kinds: &[&str]) -> Result<(), ProviderError> {
        self.helm().map(|_| ())
    }
}

/// What helm 3 prints when `status` or `get` finds no release: its storage
/// driver's `ErrReleaseNotFound` (pkg/storage/driver/driver.go).
const RELEASE_NOT_FOUND: &str = "Error: release: not found";

/// What `helm uninstall` prints for a release it has no record of
/// (pkg/action/uninstall.go wraps `ErrReleaseNotFound` with the name).
fn uninstall_not_found(name: &str) -> String {
    format!("Error: uninstall: Release not loaded: {name}: release: not found")
}

/// Did helm say that the release does not exist, in exactly its words? Its
/// last line is the error; lines before it are warnings (a group-readable
/// kubeconfig, say). Any other failure, "not found" in it or not (a missing
/// kubeconfig, context or credential plugin, an unreachable cluster, a
/// denied query), says nothing about the release, which may well be live.
fn release_not_found(stderr: &str, expected: &str) -> bool {
    stderr.lines().rev().map(str::trim).find(|l| !l.is_empty()) == Some(expected)
}

fn helm_failed(what: &str, stderr: &str) -> ProviderError {
    ProviderError::new(format!("{what} failed: {stderr}"))
        .with_code("HelmFailed")
        .with_fix("make the release's kubeconfig and context exist and reach the cluster, then run payrun again; the release stays in state until helm says it is gone")
}

/// Helm kinds in a list of kinds.
pub fn is_helm_kind(kind: &str) -> bool {
    kind.starts_with("helm.")
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn kubeconfig_and_values_files_are_private_and_removed() {
        let file = PrivateFile::new("kubeconfig", b"{\"token\":\"k8s-aws-v1.x\"}").unwrap();
        let path = file.0.clone();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        drop(file);
        assert!(!path.exists());
    }

    /// Guards against a delete that "succeeds" when helm could not look:
    /// only helm's own release-not-found errors mean the release is gone.
    #[test]
    fn only_helms_release_not_found_means_gone() {
        let gone = uninstall_not_found("lb");
        assert_eq!(
            gone,
            "Error: uninstall: Release not loaded: lb: release: not found"
        );
        assert!(release_not_found(&gone, &gone));
        assert!(release_not_found(
            &format!(
                "WARNING: Kubernetes configuration file is group-readable. This is insecure. Location: /k\n{gone}\n"
            ),
            &gone
        ));
        assert!(release_not_found(
            "Error: release: not found",
            RELEASE_NOT_FOUND
        ));
        for other in [
            "Error: Kubernetes cluster unreachable: context \"prod\" does not exist",
            "Error: Kubernetes cluster unreachable: invalid configuration: context was not found for specified context: prod",
            "Error: Kubernetes cluster unreachable: stat /nowhere: no such file or directory",
            "Error: Kubernetes cluster unreachable: Get \"https://10.0.0.1/version\": getting credentials: exec: executable aws not found in $PATH",
            "Error: uninstall: Release not loaded: lb: query: failed to query with labels: secrets is forbidden: User \"x\" cannot list resource \"secrets\"",
            "Error: uninstall: Release not loaded: other: release: not found",
            "Error: namespaces \"payments\" not found",
            "",
        ] {
            assert!(!release_not_found(other, &gone), "{other}");
            assert!(!release_not_found(other, RELEASE_NOT_FOUND), "{other}");
        }
    }

    #[test]
    fn helm_is_looked_up_on_the_given_path_only() {
        let empty = std::env::temp_dir().join(format!("payrun-empty-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&empty).unwrap();
        assert_eq!(find_helm(Some(empty.as_os_str())), None);
        let not_executable = empty.join("helm");
        std::fs::write(&not_executable, "#!/bin/sh\n").unwrap();
        assert_eq!(find_helm(Some(empty.as_os_str())), None);
        std::fs::set_permissions(&not_executable, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(find_helm(Some(empty.as_os_str())), Some(not_executable));
        std::fs::remove_dir_all(&empty).unwrap();
    }
}
