//! Workloads: a Deployment (rolled one surge pod at a time, never below its
//! replica count), its HorizontalPodAutoscaler and its PodDisruptionBudget.

use std::collections::BTreeMap;

use payrun_derive::Args;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{ClusterArgs, Resources, app_selector, metadata, object_name};

/// Where a SecretProviderClass's secrets appear in the container.
pub const SECRETS_MOUNT: &str = "/mnt/secrets-store";

/// A container's environment variable: text, or a key of a Kubernetes
/// Secret the pod reads at start (`#{ secret: "db", key: "password" }`),
/// which keeps the value out of payrun altogether.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(untagged)]
pub enum EnvValue {
    Text(String),
    FromSecret { secret: String, key: String },
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Probe {
    pub path: String,
    /// Defaults to the container port.
    #[serde(default)]
    pub port: Option<u16>,
    #[serde(default)]
    pub initial_delay: Option<u32>,
    #[serde(default)]
    pub period: Option<u32>,
}

impl Probe {
    fn render(&self, port: Option<u16>) -> Value {
        let mut p =
            json!({ "httpGet": { "path": self.path, "port": self.port.or(port).unwrap_or(80) } });
        if let Some(d) = self.initial_delay {
            p["initialDelaySeconds"] = json!(d);
        }
        if let Some(s) = self.period {
            p["periodSeconds"] = json!(s);
        }
        p
    }
}

#[derive(Debug, Deserialize, Args, Serialize)]
#[serde(deny_unknown_fields)]
#[arg(kind = "k8s.deployment")]
pub struct DeploymentArgs {
    #[arg(placement = super::CLUSTER_PLACEMENT, formerly = "cluster")]
    pub kube: ClusterArgs,
    #[arg(force_new)]
    pub namespace: String,
    #[serde(default)]
    #[arg(force_new)]
    pub name: Option<String>,
    pub image: String,
    /// Leave unset when an HPA scales the deployment.
    #[serde(default)]
    pub replicas: Option<u32>,
    #[serde(default)]
    pub port: Option<u16>,
    #[serde(default)]
    pub command: Option<Vec<String>>,
    #[serde(default)]
    pub args: Option<Vec<String>>,
    #[serde(default)]
    #[arg(holds_secrets)]
    pub env: BTreeMap<String, EnvValue>,
    #[serde(default)]
    pub service_account: Option<String>,
    #[serde(default)]
    pub requests: Option<Resources>,
    #[serde(default)]
    pub limits: Option<Resources>,
    #[serde(default)]
    pub readiness: Option<Probe>,
    #[serde(default)]
    pub liveness: Option<Probe>,
    /// Extra pods a rollout may start (maxUnavailable is always 0).
    #[serde(default)]
    pub max_surge: Option<u32>,
    /// Seconds without progress before Kubernetes calls the rollout failed.
    #[serde(default)]
    pub progress_deadline: Option<u32>,
    /// Seconds apply waits for the rollout.
    #[serde(default)]
    pub timeout: Option<u64>,
    /// A SecretProviderClass whose secrets are mounted at `/mnt/secrets-store`.
    #[serde(default)]
    pub secret_provider: Option<String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    #[serde(default)]
    pub force_conflicts: bool,
}

impl DeploymentArgs {
    /// Pods running at the height of a rollout: every replica plus the surge.
    pub fn surge(&self) -> u32 {
        self.max_surge.unwrap_or(1).max(1)
    }

    pub fn render(&self, purpose: &str) -> Value {
        let name = object_name(purpose, &self.name);
        let selector = app_selector(name);
        let mut pod_labels = self.labels.clone();
        pod_labels.extend(selector.clone());

        let mut container = json!({ "name": name, "image": self.image });
        if let Some(p) = self.port {
            container["ports"] = json!([{ "containerPort": p, "protocol": "TCP" }]);
        }
        if let Some(c) = &self.command {
            container["command"] = json!(c);
        }
        if let Some(a) = &self.args {
            container["args"] = json!(a);
        }
        if !self.env.is_empty() {
            container["env"] = self
                .env
                .iter()
                .map(|(k, v)| match v {
                    EnvValue::Text(text) => json!({ "name": k, "value": text }),
                    EnvValue::FromSecret { secret, key } => json!({
                        "name": k,
                        "valueFrom": { "secretKeyRef": { "name": secret, "key": key } },
                    }),
                })
                .collect();
        }
        let mut resources = serde_json::Map::new();
        if let Some(r) = &self.requests {
            resources.insert("requests".into(), r.render());
        }
        if let Some(l) = &self.limits {
            resources.insert("limits".into(), l.render());
        }
        if !resources.is_empty() {
            container["resources"] = Value::Object(resources);
        }
        if let Some(p) = &self.readiness {
            container["readinessProbe"] = p.render(self.port);
        }
        if let Some(p) = &self.liveness {
            container["livenessProbe"] = p.render(self.port);
        }
        let mut pod = json!({ "containers": [container] });
        if let Some(sa) = &self.service_account {
            pod["serviceAccountName"] = json!(sa);
        }
        if let Some(spc) = &self.secret_provider {
            pod["containers"][0]["volumeMounts"] =
                json!([{ "name": "secrets", "mountPath": SECRETS_MOUNT, "readOnly": true }]);
            pod["volumes"] = json!([{
                "name": "secrets",
                "csi": {
                    "driver": "secrets-store.csi.k8s.io",
                    "readOnly": true,
                    "volumeAttributes": { "secretProviderClass": spc },
                },
            }]);
        }
        let mut spec = json!({
            "selector": { "matchLabels": selector },
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": { "maxUnavailable": 0, "maxSurge": self.surge() },
            },
            "progressDeadlineSeconds": self.progress_deadline.unwrap_or(600),
            "template": {
                "metadata": { "labels": pod_labels },
                "spec": pod,
            },
        });
        if let Some(r) = self.replicas {
            spec["replicas"] = json!(r);
        }
        json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": metadata(name, Some(&self.namespace), &self.labels, &self.annotations),
            "spec": spec,
        })
    }
}

#[derive(Debug, Deserialize, Args, Serialize)]
#[serde(deny_unknown_fields)]
#[arg(kind = "k8s.hpa")]
pub struct HpaArgs {
    #[arg(placement = super::CLUSTER_PLACEMENT, formerly = "cluster")]
    pub kube: ClusterArgs,
    #[arg(force_new)]
    pub namespace: String,
    #[serde(default)]
    #[arg(force_new)]
    pub name: Option<String>,
    /// The deployment it scales.
    pub deployment: String,
    pub min_replicas: u32,
    pub max_replicas: u32,
    /// Target average CPU utilization, percent of requests.
    #[serde(default)]
    pub cpu_utilization: Option<u32>,
    #[serde(default)]
    pub memory_utilization: Option<u32>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub force_conflicts: bool,
}

impl HpaArgs {
    pub fn render(&self, purpose: &str) -> Value {
        let metric = |resource: &str, target: u32| {
            json!({
                "type": "Resource",
                "resource": {
                    "name": resource,
                    "target": { "type": "Utilization", "averageUtilization": target },
                },
            })
        };
        let mut metrics = Vec::new();
        if let Some(c) = self.cpu_utilization {
            metrics.push(metric("cpu", c));
        }
        if let Some(m) = self.memory_utilization {
            metrics.push(metric("memory", m));
        }
        let mut spec = json!({
            "scaleTargetRef": { "apiVersion": "apps/v1", "kind": "Deployment", "name": self.deployment },
            "minReplicas": self.min_replicas,
            "maxReplicas": self.max_replicas,
        });
        if !metrics.is_empty() {
            spec["metrics"] = json!(metrics);
        }
        json!({
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "metadata": metadata(object_name(purpose, &self.name), Some(&self.namespace), &self.labels, &BTreeMap::new()),
            "spec": spec,
        })
    }
}

#[derive(Debug, Deserialize, Args, Serialize)]
#[serde(deny_unknown_fields)]
#[arg(kind = "k8s.pdb")]
pub struct PdbArgs {
    #[arg(placement = super::CLUSTER_PLACEMENT, formerly = "cluster")]
    pub kube: ClusterArgs,
    #[arg(force_new)]
    pub namespace: String,
    #[serde(default)]
    #[arg(force_new)]
    pub name: Option<String>,
    /// The deployment whose pods it protects (its `app` label).
    #[serde(default)]
    pub deployment: Option<String>,
    #[serde(default)]
    pub selector: Option<BTreeMap<String, String>>,
    /// A count (`1`) or a percentage (`"50%"`).
    #[serde(default)]
    pub min_available: Option<Value>,
    #[serde(default)]
    pub max_unavailable: Option<Value>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub force_conflicts: bool,
}

impl PdbArgs {
    pub fn render(&self, purpose: &str) -> Value {
        let selector = match (&self.selector, &self.deployment) {
            (Some(s), _) => s.clone(),
            (None, Some(d)) => app_selector(d),
            (None, None) => BTreeMap::new(),
        };
        let mut spec = json!({ "selector": { "matchLabels": selector } });
        if let Some(m) = &self.min_available {
            spec["minAvailable"] = m.clone();
        }
        if let Some(m) = &self.max_unavailable {
            spec["maxUnavailable"] = m.clone();
        }
        json!({
            "apiVersion": "policy/v1",
            "kind": "PodDisruptionBudget",
            "metadata": metadata(object_name(purpose, &self.name), Some(&self.namespace), &self.labels, &BTreeMap::new()),
            "spec": spec,
        })
    }
}
