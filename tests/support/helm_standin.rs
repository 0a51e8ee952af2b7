//! A `helm` stand-in: a script that records its arguments and keeps
//! releases as files (status, values, revision), answering `upgrade
//! --install`, `status -o json`, `get values -o json` and `uninstall` the
//! way helm 3 does for the flags payrun passes. Like helm, every command
//! first reaches the cluster: a missing kubeconfig file, context, cluster
//! entry or credential plugin, or a server that does not answer, fails
//! with helm's `Kubernetes cluster unreachable` error before any release
//! is looked at. A user with an exec credential has it run, as client-go
//! does, and the server must let its token in. A chart that runs a controller payrun depends on (the
//! AWS Load Balancer Controller) puts the controller's Deployment into the
//! cluster on install and takes it away on uninstall, as the real chart
//! does, so the Kubernetes stand-in can model what the controller serves.

use std::ffi::OsString;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use tempfile::TempDir;

const SCRIPT: &str = r#"#!/usr/bin/env bash
# helm stand-in (tests, scripts/sandbox): records its arguments, keeps releases as files.
set -eu
state="$(dirname "$0")/state"
mkdir -p "$state"
printf '%s\n' "$*" >> "$state/calls"
kubeconfig="${KUBECONFIG:-${HOME:-}/.kube/config}"; context=""
prev=""
for arg in "$@"; do
  case "$prev" in
    --kubeconfig) kubeconfig="$arg" ;;
    --kube-context) context="$arg" ;;
  esac
  prev="$arg"
done
"$(dirname "$0")/reach-cluster" "$kubeconfig" "$context"
[ -f "$kubeconfig" ] && cp "$kubeconfig" "$state/last-kubeconfig"
cmd="$1"; shift
case "$cmd" in
  upgrade)
    [ "$1" = "--install" ] || { echo "stand-in: expected --install" >&2; exit 2; }
    name="$2"; chart="$3"; shift 3
    version="0.1.0"; values=""; namespace="default"
    while [ $# -gt 0 ]; do
      case "$1" in
        --version) version="$2"; shift ;;
        --namespace) namespace="$2"; shift ;;
        --values) values="$2"; shift ;;
      esac
      shift
    done
    if [ -f "$state/fail-upgrade" ]; then
      echo "Error: UPGRADE FAILED: release $name failed, and has been rolled back due to atomic being set: $(cat "$state/fail-upgrade")" >&2
      exit 1
    fi
    if [ "${chart##*/}" = "aws-load-balancer-controller" ]; then
      "$(dirname "$0")/controller" apply "$kubeconfig" "$context" "$namespace" aws-load-balancer-controller
      echo "$namespace" > "$state/$name.controller"
    fi
    rev=$(( $(cat "$state/$name.rev" 2>/dev/null || echo 0) + 1 ))
    echo "$rev" > "$state/$name.rev"
    cp "$values" "$state/$name.values"
    printf '{"name":"%s","version":%d,"namespace":"x","info":{"status":"deployed"},"chart":{"metadata":{"name":"%s","version":"%s"}}}' \
      "$name" "$rev" "${chart##*/}" "$version" > "$state/$name.status"
    ;;
  status)
    name="$1"
    [ -f "$state/$name.status" ] || { echo "Error: release: not found" >&2; exit 1; }
    cat "$state/$name.status"
    ;;
  get)
    name="$2"
    [ -f "$state/$name.values" ] || { echo "Error: release: not found" >&2; exit 1; }
    cat "$state/$name.values"
    ;;
  uninstall)
    name="$1"
    [ -f "$state/$name.status" ] || { echo "Error: uninstall: Release not loaded: $name: release: not found" >&2; exit 1; }
    if [ -f "$state/$name.controller" ]; then
      "$(dirname "$0")/controller" delete "$kubeconfig" "$context" "$(cat "$state/$name.controller")" aws-load-balancer-controller
    fi
    rm -f "$state/$name".*
    ;;
  *) echo "stand-in: unexpected helm $cmd" >&2; exit 2 ;;
esac
"#;

/// What helm's client does before any command: load the kubeconfig, pick
/// the context and its cluster, and reach the server; each failure worded
/// as client-go words it, wrapped as helm wraps it.
const REACH_CLUSTER: &str = r#"
import json, shutil, socket, subprocess, sys, urllib.error, urllib.parse, urllib.request

def unreachable(why):
    print(f"Error: Kubernetes cluster unreachable: {why}", file=sys.stderr)
    sys.exit(1)

path, context = sys.argv[1], sys.argv[2]
try:
    with open(path) as f:
        config = json.load(f)
except FileNotFoundError:
    unreachable(f"stat {path}: no such file or directory")
name = context or config.get("current-context", "")
ctx = next((c["context"] for c in config.get("contexts", []) if c["name"] == name), None)
if ctx is None:
    unreachable(f'context "{name}" does not exist')
cluster = next((c["cluster"] for c in config.get("clusters", []) if c["name"] == ctx["cluster"]), None)
if cluster is None:
    unreachable(f'cluster "{ctx["cluster"]}" does not exist')
server = cluster["server"]
user = next((u["user"] for u in config.get("users", []) if u["name"] == ctx.get("user")), {})
plugin = user.get("exec", {}).get("command")
if plugin and not shutil.which(plugin):
    unreachable(f'Get "{server}/version": getting credentials: exec: executable {plugin} not found')
url = urllib.parse.urlsplit(server)
port = url.port or (443 if url.scheme == "https" else 80)
try:
    socket.create_connection((url.hostname, port), timeout=2).close()
except OSError:
    unreachable(f'Get "{server}/version": dial tcp {url.hostname}:{port}: connect: connection refused')
if plugin:
    run = subprocess.run([plugin, *user["exec"].get("args", [])], capture_output=True, text=True)
    if run.returncode != 0:
        unreachable(f'Get "{server}/version": getting credentials: exec: executable {plugin} failed with exit code {run.returncode}: {run.stderr.strip()}')
    token = json.loads(run.stdout)["status"]["token"]
    try:
        urllib.request.urlopen(urllib.request.Request(f"{server}/api/v1", headers={"Authorization": f"Bearer {token}"})).read()
    except urllib.error.HTTPError as e:
        if e.code == 401:
            unreachable("the server has asked for the client to provide credentials")
"#;

/// The bearer token of a kubeconfig user: its `token`, or what its exec
/// credential prints.
const USER_TOKEN: &str = r#"
def user_token(user):
    if "exec" in user:
        run = subprocess.run([user["exec"]["command"], *user["exec"].get("args", [])],
                             capture_output=True, text=True, check=True)
        return json.loads(run.stdout)["status"]["token"]
    return user.get("token", "")
"#;

/// What a controller chart does to the cluster: its Deployment appears on
/// install (server-side apply as `helm`) and goes on uninstall.
const CONTROLLER: &str = r#"
import json, subprocess, sys, urllib.error, urllib.request

action, path, context, namespace, name = sys.argv[1:6]
with open(path) as f:
    config = json.load(f)
ctx_name = context or config.get("current-context", "")
ctx = next(c["context"] for c in config["contexts"] if c["name"] == ctx_name)
server = next(c["cluster"]["server"] for c in config["clusters"] if c["name"] == ctx["cluster"])
user = next((u["user"] for u in config.get("users", []) if u["name"] == ctx.get("user")), {})
headers = {"Authorization": f"Bearer {user_token(user)}"}
url = f"{server}/apis/apps/v1/namespaces/{namespace}/deployments/{name}"
if action == "apply":
    body = json.dumps({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app.kubernetes.io/managed-by": "Helm"}},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}},
                              "spec": {"containers": [{"name": "controller", "image": "public.ecr.aws/eks/" + name}]}}},
    }).encode()
    headers["Content-Type"] = "application/apply-patch+yaml"
    req = urllib.request.Request(url + "?fieldManager=helm", data=body, headers=headers, method="PATCH")
else:
    req = urllib.request.Request(url, data=b"{}", headers=headers, method="DELETE")
urllib.request.urlopen(req).read()
# `helm uninstall --wait`: until the Deployment is gone.
while action == "delete":
    try:
        urllib.request.urlopen(urllib.request.Request(url, headers=headers)).read()
    except urllib.error.HTTPError as e:
        if e.code == 404:
            break
        raise
"#;

pub struct HelmStandIn {
    /// Holds `helm`, its helpers and its state.
    dir: PathBuf,
    _temp: Option<TempDir>,
}

impl HelmStandIn {
    /// The stand-in in a temporary directory that goes with it.
    pub fn new() -> Self {
        let temp = tempfile::tempdir().unwrap();
        let mut s = Self::write_to(temp.path());
        s._temp = Some(temp);
        s
    }

    /// The stand-in written into `dir`, which is created if missing.
    pub fn write_to(dir: &Path) -> Self {
        std::fs::create_dir_all(dir).unwrap();
        let python = concat!(env!("CARGO_MANIFEST_DIR"), "/.venv/bin/python");
        for (name, text) in [
            ("helm", SCRIPT.to_string()),
            ("reach-cluster", format!("#!{python}\n{REACH_CLUSTER}")),
            (
                "controller",
                format!("#!{python}\n{USER_TOKEN}{CONTROLLER}"),
            ),
        ] {
            let file = dir.join(name);
            std::fs::write(&file, text).unwrap();
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        Self {
            dir: dir.to_path_buf(),
            _temp: None,
        }
    }

    /// A PATH holding the stand-in first.
    pub fn path(&self) -> OsString {
        let mut p = OsString::from(&self.dir);
        if let Some(system) = std::env::var_os("PATH") {
            p.push(":");
            p.push(system);
        }
        p
    }

    fn state(&self) -> PathBuf {
        self.dir.join("state")
    }

    /// Every invocation's arguments, one line each.
    pub fn calls(&self) -> Vec<String> {
        std::fs::read_to_string(self.state().join("calls"))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// The kubeconfig the last command was given.
    pub fn last_kubeconfig(&self) -> Option<serde_json::Value> {
        let text = std::fs::read_to_string(self.state().join("last-kubeconfig")).ok()?;
        serde_json::from_str(&text).ok()
    }

    /// The values file helm was given for `release`.
    pub fn values(&self, release: &str) -> Option<serde_json::Value> {
        let text = std::fs::read_to_string(self.state().join(format!("{release}.values"))).ok()?;
        serde_json::from_str(&text).ok()
    }

    /// Change a release's values behind payrun's back.
    pub fn set_values(&self, release: &str, values: serde_json::Value) {
        std::fs::write(
            self.state().join(format!("{release}.values")),
            values.to_string(),
        )
        .unwrap();
    }

    /// Uninstall `release` behind payrun's back.
    pub fn forget(&self, release: &str) {
        for what in ["status", "values", "rev"] {
            let _ = std::fs::remove_file(self.state().join(format!("{release}.{what}")));
        }
    }

    /// Make every following upgrade fail with `why`.
    pub fn fail_upgrades(&self, why: &str) {
        std::fs::create_dir_all(self.state()).unwrap();
        std::fs::write(self.state().join("fail-upgrade"), why).unwrap();
    }
}
