//! The platform's rendered manifests against the official Kubernetes 1.28
//! schemas (`kubernetes-validate`, strict) and its custom resources against
//! their CRD schemas kept in tests/support/crds (Python jsonschema).

use std::path::{Path, PathBuf};
use std::process::Command;

use payrun::provider::k8s::render;
use payrun::value::{RefTarget, for_validation, resolve};
use serde_json::{Value, json};

use crate::k8s::{platform, stack};

fn venv_bin(tool: &str) -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(".venv/bin")
        .join(tool);
    assert!(
        p.exists(),
        "{} is missing: run scripts/test-env first (the test command does)",
        p.display()
    );
    p
}

/// Every Kubernetes manifest of the platform program, refs to other
/// Kubernetes resources resolved to the names they will have.
fn platform_manifests() -> Vec<(String, Value)> {
    let s = stack(
        &platform("#{ kubeconfig: \"/k\", context: \"eks\", version: \"1.28\" }"),
        None,
    );
    let (graph, _) = s.evaluate().unwrap();
    let name_of = |t: &RefTarget| -> Option<Value> {
        let spec = graph.spec(&t.address)?;
        (t.attr == "id").then(|| {
            spec.args["name"]
                .as_str()
                .map(|n| json!(n))
                .unwrap_or(json!(t.address.purpose()))
        })
    };
    graph
        .order()
        .filter(|a| a.kind().starts_with("k8s."))
        .map(|a| {
            let args = for_validation(&resolve(&graph.spec(a).unwrap().args, &name_of));
            (a.to_string(), render(a.kind(), a.purpose(), &args).unwrap())
        })
        .collect()
}

fn write_all(dir: &Path, manifests: &[(String, Value)]) -> Vec<PathBuf> {
    manifests
        .iter()
        .map(|(address, m)| {
            let p = dir.join(format!("{address}.json"));
            std::fs::write(&p, serde_json::to_vec_pretty(m).unwrap()).unwrap();
            p
        })
        .collect()
}

fn is_custom(m: &Value) -> bool {
    let v = m["apiVersion"].as_str().unwrap_or_default();
    v.contains(".x-k8s.io/") || v.contains(".k8s.aws/")
}

/// `kubernetes-validate` on `files`: (success, output).
fn kubernetes_validate(files: &[PathBuf]) -> (bool, String) {
    let out = Command::new(venv_bin("kubernetes-validate"))
        .args(["--kubernetes-version", "1.28.0", "--strict", "--no-warn"])
        .args(files)
        .output()
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// Validate each file against the CRD schema of its kind. Structural CRD
/// schemas prune unknown fields; here they are rejected instead, so a typo
/// fails the test rather than vanishing.
const CRD_CHECK: &str = r#"
import json, sys, glob, jsonschema
schemas = {}
for f in glob.glob(sys.argv[1] + "/*.json"):
    crd = json.load(open(f))
    schemas[(crd["apiVersion"], crd["kind"])] = crd["openAPIV3Schema"]
def close(s):
    if isinstance(s, dict):
        if s.get("type") == "object" and "properties" in s and "additionalProperties" not in s:
            s["additionalProperties"] = False
        for v in s.values():
            close(v)
    elif isinstance(s, list):
        for v in s:
            close(v)
for s in schemas.values():
    close(s)
failed = False
for f in sys.argv[2:]:
    m = json.load(open(f))
    schema = schemas.get((m["apiVersion"], m["kind"]))
    if schema is None:
        print(f"{f}: no CRD schema for {m['apiVersion']} {m['kind']}"); failed = True; continue
    errors = list(jsonschema.Draft7Validator(schema).iter_errors(m))
    for e in errors:
        print(f"{f}: {'/'.join(map(str, e.absolute_path))}: {e.message}")
    failed = failed or bool(errors)
    if not errors:
        print(f"{f}: valid")
sys.exit(1 if failed else 0)
"#;

fn crd_validate(files: &[PathBuf]) -> (bool, String) {
    let crds = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/crds");
    let out = Command::new(venv_bin("python"))
        .arg("-c")
        .arg(CRD_CHECK)
        .arg(crds)
        .args(files)
        .output()
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn platform_manifests_are_valid_kubernetes_1_28() {
    let manifests = platform_manifests();
    let kinds: Vec<&str> = manifests
        .iter()
        .map(|(_, m)| m["kind"].as_str().unwrap())
        .collect();
    for kind in [
        "Namespace",
        "ResourceQuota",
        "LimitRange",
        "NetworkPolicy",
        "ServiceAccount",
        "Deployment",
        "Service",
        "Ingress",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "ConfigMap",
    ] {
        assert!(kinds.contains(&kind), "the platform renders no {kind}");
    }
    let dir = tempfile::tempdir().unwrap();
    let builtin: Vec<_> = manifests
        .iter()
        .filter(|(_, m)| !is_custom(m))
        .cloned()
        .collect();
    let files = write_all(dir.path(), &builtin);
    let (ok, out) = kubernetes_validate(&files);
    assert!(ok, "{out}");
    assert_eq!(
        out.matches(" passed for resource ").count(),
        files.len(),
        "{out}"
    );
}

#[test]
fn platform_custom_resources_match_their_crds() {
    let manifests = platform_manifests();
    let custom: Vec<_> = manifests
        .iter()
        .filter(|(_, m)| is_custom(m))
        .cloned()
        .collect();
    let kinds: Vec<&str> = custom
        .iter()
        .map(|(_, m)| m["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, vec!["SecretProviderClass", "SecurityGroupPolicy"]);
    let dir = tempfile::tempdir().unwrap();
    let (ok, out) = crd_validate(&write_all(dir.path(), &custom));
    assert!(ok, "{out}");
    assert_eq!(out.matches(": valid").count(), 2, "{out}");
}

// The validators are not rubber stamps: these must fail.
#[test]
fn broken_manifests_fail_validation() {
    let manifests = platform_manifests();
    let pick = |kind: &str| {
        manifests
            .iter()
            .find(|(_, m)| m["kind"] == kind)
            .unwrap()
            .1
            .clone()
    };
    let dir = tempfile::tempdir().unwrap();

    let mut deployment = pick("Deployment");
    deployment["spec"]["replicas"] = json!("two");
    let mut ingress = pick("Ingress");
    ingress["spec"]["ingressClass"] = json!("alb");
    for (name, m) in [("deployment", deployment), ("ingress", ingress)] {
        let files = write_all(dir.path(), &[(name.to_string(), m)]);
        let (ok, out) = kubernetes_validate(&files);
        assert!(!ok, "{name} passed: {out}");
    }

    let mut sgp = pick("SecurityGroupPolicy");
    sgp["spec"]["securityGroups"]["groupIds"] = json!([]);
    let mut spc = pick("SecretProviderClass");
    spc["spec"]["objects"] = json!("misplaced");
    for (name, m) in [("sgp", sgp), ("spc", spc)] {
        let files = write_all(dir.path(), &[(name.to_string(), m)]);
        let (ok, out) = crd_validate(&files);
        assert!(!ok, "{name} passed: {out}");
    }
}
