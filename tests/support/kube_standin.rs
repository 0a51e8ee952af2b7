//! A Kubernetes API stand-in: a small HTTP server that stores objects and
//! honours server-side apply for the fields payrun uses (merge, ownership
//! per field manager, conflicts, `force`), server defaults, generations,
//! foreground deletes that take a few reads to finish, finalizers (an
//! object, and a namespace holding one, stays until its finalizers are
//! gone), discovery for a custom kind, and deployment rollouts scripted per
//! deployment.
//!
//! It also plays the AWS Load Balancer Controller while that controller's
//! Deployment (`kube-system/aws-load-balancer-controller`, put there by
//! the helm stand-in) exists: an `alb` Ingress gets an ALB and the
//! `ingress.k8s.aws/resources` finalizer, and a deleted one loses its ALB
//! and the finalizer. Without the controller a deleted Ingress keeps its
//! finalizer for ever, as on EKS.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value, json};
use tempfile::TempDir;

pub const TOKEN: &str = "standin-token";

/// A CA certificate for the `ca_data` of the stand-in as an EKS cluster
/// (it serves plain HTTP; the client only needs a certificate it can load).
const CA_PEM: &str = r"-----BEGIN CERTIFICATE-----
MIIBhDCCASugAwIBAgIUTkd9IIYs2xMUr4CYZU1MnldlGnowCgYIKoZIzj0EAwIw
FzEVMBMGA1UEAwwMa3ViZS1zdGFuZGluMCAXDTI2MTIwMTE0MzU0N1oYDzIxMjYx
MTA3MTQzNTQ3WjAXMRUwEwYDVQQDDAxrdWJlLXN0YW5kaW4wWTATBgcqhkjOPQIB
BggqhkjOPQMBBwNCAAQgzBM8nW2/maSlruBFGCHYG4YTSIuvl098LAAoNSMfyokO
xiDbPFMxIJ4QWXD4/iTKG5YB27+E5N4Hrkyc3ha1o1MwUTAdBgNVHQ4EFgQU+7eZ
XoJqmhdDYO+VZtpslndPsaUwHwYDVR0jBBgwFoAU+7eZXoJqmhdDYO+VZtpslndP
saUwDwYDVR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAgNHADBEAiBJRDgKjFcdVFED
jPxArzA2zQjyA0mw+EnVhy66Tl4e3QIgQHuV8CC1AK7qXf9a+QqGDGTQJRdWMXGm
KBqQsISQ6go=
-----END CERTIFICATE-----
";

/// Who the stand-in lets in.
#[derive(Clone, Debug, Default)]
enum Auth {
    /// The kubeconfig's fixed [`TOKEN`].
    #[default]
    Fixed,
    /// EKS tokens signed at most this many seconds ago.
    Eks { max_age: u64 },
}

/// How a deployment's rollout behaves after each apply that changes it.
#[derive(Clone, Debug)]
pub enum Rollout {
    /// Complete once the deployment has been read this many times.
    CompleteAfter(u32),
    /// Never completes: the progress deadline is exceeded and the new pods
    /// wait with this reason.
    Stall { reason: String, message: String },
}

#[derive(Clone, Debug)]
struct Stored {
    object: Value,
    /// What each field manager last applied.
    owned: BTreeMap<String, Value>,
    /// Reads left before a deleted object is gone.
    deleting: Option<u32>,
    /// Reads of a deployment since its generation last changed.
    polls: u32,
}

#[derive(Default)]
struct Cluster {
    objects: BTreeMap<String, Stored>,
    rollouts: BTreeMap<String, Rollout>,
    requests: Vec<String>,
    /// Keys in the order their deletion finished.
    gone: Vec<String>,
    /// `propagationPolicy` of each DELETE.
    propagation: Vec<String>,
    /// Ingresses whose ALB exists.
    albs: std::collections::BTreeSet<String>,
    /// What the controller did, in order: `created KEY`, `deleted KEY`.
    alb_events: Vec<String>,
    next: u64,
    auth: Auth,
    /// Distinct EKS tokens let in, in the order first seen.
    tokens: Vec<String>,
    /// Why each refused request was refused.
    refusals: Vec<String>,
}

pub struct KubeStandIn {
    /// Holds the kubeconfig.
    dir: PathBuf,
    _temp: Option<TempDir>,
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    cluster: Arc<Mutex<Cluster>>,
}

/// (group/version, plural, kind, namespaced) the stand-in serves.
const SERVED: &[(&str, &str, &str, bool)] = &[
    ("v1", "namespaces", "Namespace", false),
    ("v1", "resourcequotas", "ResourceQuota", true),
    ("v1", "limitranges", "LimitRange", true),
    ("v1", "serviceaccounts", "ServiceAccount", true),
    ("v1", "configmaps", "ConfigMap", true),
    ("v1", "secrets", "Secret", true),
    ("v1", "services", "Service", true),
    ("v1", "pods", "Pod", true),
    ("apps/v1", "deployments", "Deployment", true),
    (
        "networking.k8s.io/v1",
        "networkpolicies",
        "NetworkPolicy",
        true,
    ),
    ("networking.k8s.io/v1", "ingresses", "Ingress", true),
    (
        "autoscaling/v2",
        "horizontalpodautoscalers",
        "HorizontalPodAutoscaler",
        true,
    ),
    (
        "policy/v1",
        "poddisruptionbudgets",
        "PodDisruptionBudget",
        true,
    ),
    (
        "secrets-store.csi.x-k8s.io/v1",
        "secretproviderclasses",
        "SecretProviderClass",
        true,
    ),
    (
        "vpcresources.k8s.aws/v1beta1",
        "securitygrouppolicies",
        "SecurityGroupPolicy",
        true,
    ),
    // What an EKS Auto Mode cluster serves for its built-in load
    // balancing (docs.aws.amazon.com/eks/latest/userguide/auto-configure-alb.html).
    (
        "networking.k8s.io/v1",
        "ingressclasses",
        "IngressClass",
        false,
    ),
    (
        "eks.amazonaws.com/v1",
        "ingressclassparams",
        "IngressClassParams",
        false,
    ),
    ("example.com/v1", "widgets", "Widget", true),
];

impl KubeStandIn {
    /// Serves on a free port of 127.0.0.1, with its kubeconfig in a
    /// temporary directory that goes with it.
    pub fn start() -> Self {
        let temp = tempfile::tempdir().unwrap();
        let mut s = Self::start_in(temp.path());
        s._temp = Some(temp);
        s
    }

    /// Serves on a free port of 127.0.0.1 for as long as the process runs,
    /// with its kubeconfig (context `standin`) written into `dir`.
    pub fn start_in(dir: &Path) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let cluster = Arc::new(Mutex::new(Cluster::default()));
        let c = cluster.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let c = c.clone();
                std::thread::spawn(move || serve(stream, &c));
            }
        });
        let s = Self {
            dir: dir.to_path_buf(),
            _temp: None,
            endpoint: format!("http://127.0.0.1:{port}"),
            cluster,
        };
        let kubeconfig = json!({
            "apiVersion": "v1", "kind": "Config",
            "clusters": [{ "name": "standin", "cluster": { "server": format!("http://127.0.0.1:{port}") } }],
            "users": [{ "name": "payrun", "user": { "token": TOKEN } }],
            "contexts": [{ "name": "standin", "context": { "cluster": "standin", "user": "payrun" } }],
            "current-context": "standin",
        });
        std::fs::write(s.kubeconfig(), kubeconfig.to_string()).unwrap();
        s
    }

    /// The stand-in as an EKS cluster: only EKS tokens at most `max_age`
    /// old get in.
    pub fn start_eks(max_age: std::time::Duration) -> Self {
        let s = Self::start();
        s.cluster.lock().unwrap().auth = Auth::Eks {
            max_age: max_age.as_secs(),
        };
        s
    }

    /// The `cluster` map a program passes for this stand-in as the EKS
    /// cluster `name`.
    pub fn eks_cluster_rhai(&self, name: &str) -> String {
        use base64::Engine;
        let ca = base64::engine::general_purpose::STANDARD.encode(CA_PEM);
        format!(
            "#{{ name: \"{name}\", endpoint: \"{}\", ca_data: \"{ca}\", version: \"1.28\" }}",
            self.endpoint
        )
    }

    /// The distinct EKS tokens let in so far.
    pub fn tokens(&self) -> Vec<String> {
        self.cluster.lock().unwrap().tokens.clone()
    }

    /// Why each refused request was refused.
    pub fn refusals(&self) -> Vec<String> {
        self.cluster.lock().unwrap().refusals.clone()
    }

    pub fn kubeconfig(&self) -> PathBuf {
        self.dir.join("kubeconfig")
    }

    /// The `cluster` map a program passes for this stand-in.
    pub fn cluster_rhai(&self) -> String {
        format!(
            "#{{ kubeconfig: \"{}\", context: \"standin\", version: \"1.28\" }}",
            self.kubeconfig().display()
        )
    }

    pub fn script(&self, deployment: &str, rollout: Rollout) {
        self.cluster
            .lock()
            .unwrap()
            .rollouts
            .insert(deployment.to_string(), rollout);
    }

    /// The object as stored (no rollout bookkeeping).
    pub fn object(&self, plural: &str, namespace: &str, name: &str) -> Option<Value> {
        let c = self.cluster.lock().unwrap();
        c.objects
            .get(&key(plural, namespace, name))
            .map(|s| s.object.clone())
    }

    pub fn keys(&self) -> Vec<String> {
        self.cluster
            .lock()
            .unwrap()
            .objects
            .keys()
            .cloned()
            .collect()
    }

    pub fn requests(&self) -> Vec<String> {
        self.cluster.lock().unwrap().requests.clone()
    }

    /// What the load balancer controller did, in order.
    pub fn alb_events(&self) -> Vec<String> {
        self.cluster.lock().unwrap().alb_events.clone()
    }

    /// Ingresses whose ALB exists.
    pub fn albs(&self) -> Vec<String> {
        self.cluster.lock().unwrap().albs.iter().cloned().collect()
    }

    pub fn gone(&self) -> Vec<String> {
        self.cluster.lock().unwrap().gone.clone()
    }

    pub fn propagation(&self) -> Vec<String> {
        self.cluster.lock().unwrap().propagation.clone()
    }

    /// Delete an object behind payrun's back, at once.
    pub fn remove(&self, plural: &str, namespace: &str, name: &str) {
        self.cluster
            .lock()
            .unwrap()
            .objects
            .remove(&key(plural, namespace, name));
    }

    /// Another field manager (`kubectl edit`) changes fields and owns them.
    pub fn edit(&self, plural: &str, namespace: &str, name: &str, patch: Value) {
        let mut c = self.cluster.lock().unwrap();
        let k = key(plural, namespace, name);
        let _ = apply(&mut c, &k, "kubectl-edit", patch, true);
    }
}

fn key(plural: &str, namespace: &str, name: &str) -> String {
    format!("{plural}/{namespace}/{name}")
}

/// (plural, namespace, name) of an API path; `name` empty for a list.
fn route(path: &str) -> Option<(String, String, String)> {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let rest = match *segs.first()? {
        "api" => segs.get(2..)?,
        "apis" => segs.get(3..)?,
        _ => return None,
    };
    match rest {
        ["namespaces", ns] => Some(("namespaces".into(), String::new(), ns.to_string())),
        ["namespaces", ns, plural] => Some((plural.to_string(), ns.to_string(), String::new())),
        ["namespaces", ns, plural, name] => {
            Some((plural.to_string(), ns.to_string(), name.to_string()))
        }
        [plural, name] => Some((plural.to_string(), String::new(), name.to_string())),
        [plural] => Some((plural.to_string(), String::new(), String::new())),
        _ => None,
    }
}

fn status(code: u16, reason: &str, message: &str) -> (u16, Value) {
    (
        code,
        json!({ "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": message, "reason": reason, "code": code }),
    )
}

/// Leaf paths of an applied configuration, with their values.
fn leaves(v: &Value, path: &str, out: &mut BTreeMap<String, Value>) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            for (k, x) in m {
                leaves(x, &format!("{path}/{k}"), out);
            }
        }
        _ => {
            out.insert(path.to_string(), v.clone());
        }
    }
}

fn named_list(items: &[Value]) -> bool {
    !items.is_empty() && items.iter().all(|i| i.get("name").is_some())
}

/// Merge an applied configuration into an object: maps recursively, lists
/// of named items by name, other lists replaced.
fn merge(into: &mut Value, from: &Value) {
    match (into, from) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                match a.get_mut(k) {
                    Some(existing) => merge(existing, v),
                    None => {
                        a.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (Value::Array(a), Value::Array(b)) if named_list(a) && named_list(b) => {
            for item in b {
                match a.iter_mut().find(|x| x["name"] == item["name"]) {
                    Some(existing) => merge(existing, item),
                    None => a.push(item.clone()),
                }
            }
        }
        (a, b) => *a = b.clone(),
    }
}

/// Remove a JSON-pointer path from `v`.
fn remove(v: &mut Value, path: &str) {
    let (parent, last) = path.rsplit_once('/').unwrap_or(("", path));
    if let Some(Value::Object(m)) = v.pointer_mut(parent) {
        m.remove(last);
    }
}

fn defaults(kind: &str, object: &mut Value) {
    let set = |o: &mut Value, path: &str, value: Value| {
        if o.pointer(path).is_none() {
            let (parent, last) = path.rsplit_once('/').unwrap();
            if let Some(Value::Object(m)) = o.pointer_mut(parent) {
                m.insert(last.to_string(), value);
            }
        }
    };
    match kind {
        // The API server keeps `stringData` as base64 `data` and never
        // returns `stringData`.
        "Secret" => {
            if let Some(Value::Object(plain)) =
                object.as_object_mut().and_then(|o| o.remove("stringData"))
            {
                use base64::Engine;
                let data = object["data"].as_object().cloned().unwrap_or_default();
                let mut data = data;
                for (k, v) in plain {
                    let text = v.as_str().unwrap_or_default().to_string();
                    data.insert(
                        k,
                        json!(base64::engine::general_purpose::STANDARD.encode(text)),
                    );
                }
                object["data"] = Value::Object(data);
            }
        }
        "Deployment" => {
            set(object, "/spec/replicas", json!(1));
            set(object, "/spec/revisionHistoryLimit", json!(10));
            set(object, "/spec/template/spec/restartPolicy", json!("Always"));
            set(
                object,
                "/spec/template/spec/dnsPolicy",
                json!("ClusterFirst"),
            );
            if let Some(cs) = object
                .pointer_mut("/spec/template/spec/containers")
                .and_then(Value::as_array_mut)
            {
                for c in cs {
                    if c.get("imagePullPolicy").is_none() {
                        c["imagePullPolicy"] = json!("IfNotPresent");
                    }
                    // The server keeps quantities canonical.
                    for part in ["requests", "limits"] {
                        if let Some(cpu) = c["resources"][part]["cpu"].as_str()
                            && let Ok(cores) = cpu.parse::<f64>()
                            && cores.fract() != 0.0
                        {
                            c["resources"][part]["cpu"] = json!(format!("{}m", cores * 1000.0));
                        }
                    }
                }
            }
        }
        "Service" => {
            set(object, "/spec/clusterIP", json!("10.100.0.10"));
            set(object, "/spec/sessionAffinity", json!("None"));
        }
        "Namespace" => {
            let name = object["metadata"]["name"].clone();
            if let Some(l) = object
                .pointer_mut("/metadata/labels")
                .and_then(Value::as_object_mut)
            {
                l.insert("kubernetes.io/metadata.name".into(), name);
            }
        }
        _ => {}
    }
}

/// Server-side apply of `config` by `manager`.
fn apply(
    c: &mut Cluster,
    k: &str,
    manager: &str,
    config: Value,
    force: bool,
) -> Result<(u16, Value), (u16, Value)> {
    c.next += 1;
    let next = c.next;
    let kind = config["kind"].as_str().unwrap_or_default().to_string();
    let mut new_leaves = BTreeMap::new();
    leaves(&config, "", &mut new_leaves);
    let Some(stored) = c.objects.get_mut(k) else {
        let mut object = config.clone();
        object["metadata"]["uid"] = json!(format!("uid-{next}"));
        object["metadata"]["generation"] = json!(1);
        object["metadata"]["creationTimestamp"] = json!("2026-01-01T00:00:00Z");
        defaults(&kind, &mut object);
        object["metadata"]["resourceVersion"] = json!(next.to_string());
        c.objects.insert(
            k.to_string(),
            Stored {
                object: object.clone(),
                owned: BTreeMap::from([(manager.to_string(), config)]),
                deleting: None,
                polls: 0,
            },
        );
        return Ok((201, object));
    };
    // A field another manager owns with a different value conflicts.
    let mut conflicts = Vec::new();
    for (other, owned) in stored.owned.iter_mut().filter(|(m, _)| *m != manager) {
        let mut theirs = BTreeMap::new();
        leaves(owned, "", &mut theirs);
        for (path, value) in &new_leaves {
            if path.starts_with("/metadata/name") || path == "/apiVersion" || path == "/kind" {
                continue;
            }
            if let Some(t) = theirs.get(path)
                && t != value
            {
                if force {
                    remove(owned, path);
                } else {
                    conflicts.push(format!("conflict with \"{other}\": {path}"));
                }
            }
        }
    }
    if !conflicts.is_empty() {
        return Err(status(
            409,
            "Conflict",
            &format!(
                "Apply failed with {} conflict: {}",
                conflicts.len(),
                conflicts.join(", ")
            ),
        ));
    }
    let before_spec = stored.object["spec"].clone();
    // Fields this manager applied before and no longer does are removed.
    if let Some(previous) = stored.owned.get(manager) {
        let mut old = BTreeMap::new();
        leaves(previous, "", &mut old);
        for path in old.keys().filter(|p| !new_leaves.contains_key(*p)) {
            remove(&mut stored.object, path);
        }
    }
    merge(&mut stored.object, &config);
    defaults(&kind, &mut stored.object);
    stored.owned.insert(manager.to_string(), config);
    if stored.object["spec"] != before_spec {
        let g = stored.object["metadata"]["generation"]
            .as_i64()
            .unwrap_or(1);
        stored.object["metadata"]["generation"] = json!(g + 1);
        stored.polls = 0;
    }
    stored.object["metadata"]["resourceVersion"] = json!(next.to_string());
    Ok((200, stored.object.clone()))
}

/// A deployment with its scripted status, counting the read.
fn with_rollout(stored: &mut Stored, script: &Rollout) -> Value {
    stored.polls += 1;
    let mut d = stored.object.clone();
    let desired = d["spec"]["replicas"].as_i64().unwrap_or(1);
    let generation = d["metadata"]["generation"].clone();
    d["status"] = match script {
        Rollout::CompleteAfter(n) if stored.polls >= *n => json!({
            "observedGeneration": generation, "replicas": desired, "updatedReplicas": desired,
            "readyReplicas": desired, "availableReplicas": desired,
        }),
        // maxUnavailable 0: the old pods stay available beside the surge pod.
        Rollout::CompleteAfter(_) => json!({
            "observedGeneration": generation, "replicas": desired + 1, "updatedReplicas": 1,
            "readyReplicas": desired, "availableReplicas": desired,
        }),
        Rollout::Stall { .. } => json!({
            "observedGeneration": generation, "replicas": desired + 1, "updatedReplicas": 1,
            "readyReplicas": desired, "availableReplicas": desired,
            "conditions": [{ "type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
                             "message": "ReplicaSet has timed out progressing." }],
        }),
    };
    d
}

fn pods(c: &Cluster, namespace: &str, selector: &str) -> Value {
    let wanted: Vec<(&str, &str)> = selector
        .split(',')
        .filter_map(|kv| kv.split_once('='))
        .collect();
    let mut items = Vec::new();
    for s in c.objects.values() {
        let d = &s.object;
        if d["kind"] != "Deployment" || d["metadata"]["namespace"] != namespace {
            continue;
        }
        let labels = &d["spec"]["template"]["metadata"]["labels"];
        if !wanted.iter().all(|(k, v)| labels[*k] == *v) {
            continue;
        }
        let name = d["metadata"]["name"].as_str().unwrap_or_default();
        let container = d["spec"]["template"]["spec"]["containers"][0]["name"].clone();
        let state = match c.rollouts.get(name) {
            Some(Rollout::Stall { reason, message }) => {
                json!({ "waiting": { "reason": reason, "message": message } })
            }
            _ => json!({ "running": { "startedAt": "2026-01-01T00:00:00Z" } }),
        };
        items.push(json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": { "name": format!("{name}-5d8f7-x2k9q"), "namespace": namespace, "labels": labels },
            "status": { "containerStatuses": [{ "name": container, "state": state }] },
        }));
    }
    json!({ "apiVersion": "v1", "kind": "PodList", "metadata": {}, "items": items })
}

fn discovery(path: &str) -> Option<Value> {
    let gv = path
        .trim_matches('/')
        .strip_prefix("api/")
        .or_else(|| path.trim_matches('/').strip_prefix("apis/"))?;
    let resources: Vec<Value> = SERVED
        .iter()
        .filter(|(v, ..)| *v == gv)
        .map(|(_, plural, kind, namespaced)| {
            json!({ "name": plural, "singularName": "", "namespaced": namespaced, "kind": kind,
                    "verbs": ["create", "delete", "get", "list", "patch", "update"] })
        })
        .collect();
    (!resources.is_empty())
        .then(|| json!({ "kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources }))
}

const ALB_FINALIZER: &str = "ingress.k8s.aws/resources";
const CONTROLLER: &str = "deployments/kube-system/aws-load-balancer-controller";

fn finalizers(o: &Value) -> bool {
    o["metadata"]["finalizers"]
        .as_array()
        .is_some_and(|f| !f.is_empty())
}

/// EKS Auto Mode's controller serves the Ingresses of an IngressClass
/// naming it.
const AUTO_MODE_CONTROLLER: &str = "eks.amazonaws.com/alb";

/// The load balancer controller's reconcile loop, run before every request:
/// the one a helm release installs, or EKS Auto Mode's built-in one once an
/// IngressClass names it.
fn reconcile(c: &mut Cluster) {
    let installed = c
        .objects
        .get(CONTROLLER)
        .is_some_and(|d| d.deleting.is_none());
    let built_in = c.objects.iter().any(|(k, o)| {
        k.starts_with("ingressclasses/")
            && o.deleting.is_none()
            && o.object["spec"]["controller"] == AUTO_MODE_CONTROLLER
    });
    let up = installed || built_in;
    if !up {
        return;
    }
    for (k, stored) in c.objects.iter_mut() {
        let o = &mut stored.object;
        let alb = o["kind"] == "Ingress"
            && (o["spec"]["ingressClassName"] == "alb"
                || o["metadata"]["annotations"]["kubernetes.io/ingress.class"] == "alb");
        if !alb {
            continue;
        }
        if stored.deleting.is_none() && !c.albs.contains(k) {
            c.albs.insert(k.clone());
            c.alb_events.push(format!("created {k}"));
            o["metadata"]["finalizers"] = json!([ALB_FINALIZER]);
        } else if stored.deleting.is_some() && c.albs.remove(k) {
            c.alb_events.push(format!("deleted {k}"));
            o["metadata"]["finalizers"] = json!([]);
        }
    }
}

fn handle(c: &mut Cluster, method: &str, target: &str, body: &[u8]) -> (u16, Value) {
    reconcile(c);
    let answer = serve_request(c, method, target, body);
    reconcile(c);
    answer
}

fn serve_request(c: &mut Cluster, method: &str, target: &str, body: &[u8]) -> (u16, Value) {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let query: BTreeMap<String, String> = query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.replace("%3D", "=").replace("%2C", ",")))
        .collect();
    c.requests.push(format!("{method} {path}"));
    if method == "GET"
        && let Some(d) = discovery(path)
    {
        return d_ok(d);
    }
    let Some((plural, ns, name)) = route(path) else {
        return status(404, "NotFound", &format!("no route {path}"));
    };
    let k = key(&plural, &ns, &name);
    match method {
        "GET" if name.is_empty() && plural == "pods" => (
            200,
            pods(
                c,
                &ns,
                query.get("labelSelector").map(String::as_str).unwrap_or(""),
            ),
        ),
        "GET" if name.is_empty() => {
            let prefix = format!("{plural}/{ns}/");
            let items: Vec<Value> = c
                .objects
                .iter()
                .filter(|(k, _)| k.starts_with(&prefix))
                .map(|(_, s)| {
                    // Items of a list carry no apiVersion or kind.
                    let mut o = s.object.clone();
                    if let Some(m) = o.as_object_mut() {
                        m.remove("apiVersion");
                        m.remove("kind");
                    }
                    o
                })
                .collect();
            (
                200,
                json!({ "apiVersion": "v1", "kind": "List", "metadata": { "resourceVersion": "1" }, "items": items }),
            )
        }
        "GET" => {
            let rollout = c
                .rollouts
                .get(&name)
                .cloned()
                .unwrap_or(Rollout::CompleteAfter(2));
            let Some(stored) = c.objects.get_mut(&k) else {
                return status(404, "NotFound", &format!("{plural} \"{name}\" not found"));
            };
            if let Some(left) = stored.deleting {
                let held = finalizers(&stored.object)
                    || (plural == "namespaces"
                        && c.objects.iter().any(|(key, o)| {
                            key.contains(&format!("/{name}/")) && finalizers(&o.object)
                        }));
                let Some(stored) = c.objects.get_mut(&k) else {
                    unreachable!("looked up above")
                };
                if held {
                    return (200, stored.object.clone());
                }
                if left == 0 {
                    c.objects.remove(&k);
                    // A namespace takes its objects with it.
                    if plural == "namespaces" {
                        c.objects
                            .retain(|key, _| !key.contains(&format!("/{name}/")));
                    }
                    c.gone.push(k);
                    return status(404, "NotFound", &format!("{plural} \"{name}\" not found"));
                }
                stored.deleting = Some(left - 1);
                return (200, stored.object.clone());
            }
            if stored.object["kind"] == "Deployment" {
                return (200, with_rollout(stored, &rollout));
            }
            (200, stored.object.clone())
        }
        "PATCH" => {
            let config: Value = match serde_json::from_slice(body) {
                Ok(v) => v,
                Err(e) => return status(400, "BadRequest", &e.to_string()),
            };
            let manager = query.get("fieldManager").cloned().unwrap_or_default();
            if manager.is_empty() {
                return status(422, "Invalid", "fieldManager is required for apply patch");
            }
            let force = query.get("force").is_some_and(|f| f == "true");
            match apply(c, &k, &manager, config, force) {
                Ok(r) | Err(r) => r,
            }
        }
        "DELETE" => {
            let opts: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
            c.propagation.push(
                opts["propagationPolicy"]
                    .as_str()
                    .unwrap_or("(none)")
                    .to_string(),
            );
            let Some(stored) = c.objects.get_mut(&k) else {
                return status(404, "NotFound", &format!("{plural} \"{name}\" not found"));
            };
            stored.deleting.get_or_insert(2);
            stored.object["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:00Z");
            (200, stored.object.clone())
        }
        _ => status(405, "MethodNotAllowed", method),
    }
}

fn d_ok(v: Value) -> (u16, Value) {
    (200, v)
}

fn serve(stream: TcpStream, cluster: &Mutex<Cluster>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut writer = stream;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let (Some(method), Some(target)) = (parts.next(), parts.next()) else {
            return;
        };
        let (method, target) = (method.to_string(), target.to_string());
        let mut headers = Map::new();
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.insert(k.trim().to_ascii_lowercase(), json!(v.trim()));
            }
        }
        let mut body = Vec::new();
        if let Some(len) = headers
            .get("content-length")
            .and_then(|v| v.as_str()?.parse::<usize>().ok())
        {
            body.resize(len, 0);
            if reader.read_exact(&mut body).is_err() {
                return;
            }
        } else if headers
            .get("transfer-encoding")
            .is_some_and(|v| v == "chunked")
        {
            loop {
                let mut size = String::new();
                reader.read_line(&mut size).unwrap();
                let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
                let mut chunk = vec![0; n + 2];
                reader.read_exact(&mut chunk).unwrap();
                if n == 0 {
                    break;
                }
                body.extend_from_slice(&chunk[..n]);
            }
        }
        let authorized = authorize(
            &mut cluster.lock().unwrap(),
            headers.get("authorization").and_then(Value::as_str),
        );
        let (code, value) = if !authorized {
            status(401, "Unauthorized", "Unauthorized")
        } else if method == "PATCH"
            && headers.get("content-type") != Some(&json!("application/apply-patch+yaml"))
        {
            status(
                415,
                "UnsupportedMediaType",
                "the stand-in only takes server-side apply patches",
            )
        } else {
            handle(&mut cluster.lock().unwrap(), &method, &target, &body)
        };
        let text = value.to_string();
        let response = format!(
            "HTTP/1.1 {code} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{text}",
            text.len()
        );
        if writer.write_all(response.as_bytes()).is_err() {
            return;
        }
    }
}

/// Whether `header` lets a request in, remembering why not.
fn authorize(c: &mut Cluster, header: Option<&str>) -> bool {
    let bearer = header.and_then(|h| h.strip_prefix("Bearer ")).unwrap_or("");
    match c.auth {
        Auth::Fixed => bearer == TOKEN,
        Auth::Eks { max_age } => match eks_token_age(bearer) {
            Ok(age) if age <= max_age => {
                if !c.tokens.iter().any(|t| t == bearer) {
                    c.tokens.push(bearer.to_string());
                }
                true
            }
            Ok(age) => {
                c.refusals.push(format!("token signed {age}s ago"));
                false
            }
            Err(why) => {
                c.refusals.push(why);
                false
            }
        },
    }
}

/// Seconds since an EKS token was signed, or why it is no EKS token.
fn eks_token_age(token: &str) -> Result<u64, String> {
    use base64::Engine;
    let encoded = token
        .strip_prefix("k8s-aws-v1.")
        .ok_or("no k8s-aws-v1 token")?;
    let url = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(encoded)
        .map_err(|e| e.to_string())?;
    let url = String::from_utf8(url).map_err(|e| e.to_string())?;
    let (host, query) = url.split_once('?').ok_or("no query")?;
    if !(host.starts_with("https://sts.") && host.ends_with(".amazonaws.com/")) {
        return Err(format!("not an STS URL: {host}"));
    }
    let params: BTreeMap<&str, &str> = query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .collect();
    if params.get("Action") != Some(&"GetCallerIdentity") {
        return Err("not GetCallerIdentity".into());
    }
    if !params
        .get("X-Amz-SignedHeaders")
        .is_some_and(|h| h.split("%3B").any(|h| h == "x-k8s-aws-id"))
    {
        return Err("the cluster header is not signed".into());
    }
    let date = params.get("X-Amz-Date").ok_or("no X-Amz-Date")?;
    let d = |r: std::ops::Range<usize>| date.get(r).unwrap_or("");
    let signed = humantime::parse_rfc3339(&format!(
        "{}-{}-{}T{}:{}:{}Z",
        d(0..4),
        d(4..6),
        d(6..8),
        d(9..11),
        d(11..13),
        d(13..15)
    ))
    .map_err(|e| format!("X-Amz-Date {date}: {e}"))?;
    Ok(std::time::SystemTime::now()
        .duration_since(signed)
        .unwrap_or_default()
        .as_secs())
}
