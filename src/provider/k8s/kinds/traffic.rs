//! Traffic into pods: a Service, and an Ingress the AWS Load Balancer
//! Controller turns into an ALB.

use std::collections::BTreeMap;

use payrun_derive::Args;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{ClusterArgs, app_selector, metadata, object_name};

#[derive(Debug, Deserialize, Args, Serialize)]
#[serde(deny_unknown_fields)]
#[arg(kind = "k8s.service")]
pub struct ServiceArgs {
    #[arg(placement = super::CLUSTER_PLACEMENT, formerly = "cluster")]
    pub kube: ClusterArgs,
    #[arg(force_new)]
    pub namespace: String,
    #[serde(default)]
    #[arg(force_new)]
    pub name: Option<String>,
    /// The deployment whose pods it serves (its `app` label).
    #[serde(default)]
    pub deployment: Option<String>,
    #[serde(default)]
    pub selector: Option<BTreeMap<String, String>>,
    pub port: u16,
    #[serde(default)]
    pub target_port: Option<u16>,
    #[serde(default, rename = "type")]
    pub service_type: Option<String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    #[serde(default)]
    pub force_conflicts: bool,
}

impl ServiceArgs {
    pub fn render(&self, purpose: &str) -> Value {
        let selector = match (&self.selector, &self.deployment) {
            (Some(s), _) => s.clone(),
            (None, Some(d)) => app_selector(d),
            (None, None) => BTreeMap::new(),
        };
        json!({
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": metadata(object_name(purpose, &self.name), Some(&self.namespace), &self.labels, &self.annotations),
            "spec": {
                "type": self.service_type.as_deref().unwrap_or("ClusterIP"),
                "selector": selector,
                "ports": [{
                    "name": "http",
                    "port": self.port,
                    "targetPort": self.target_port.unwrap_or(self.port),
                    "protocol": "TCP",
                }],
            },
        })
    }
}

/// TLS 1.3 and 1.2 only: what PCI DSS asks of a payment endpoint.
const DEFAULT_SSL_POLICY: &str = "ELBSecurityPolicy-TLS13-1-2-2021-06";

#[derive(Debug, Deserialize, Args, Serialize)]
#[serde(deny_unknown_fields)]
#[arg(kind = "k8s.ingress")]
pub struct IngressArgs {
    #[arg(placement = super::CLUSTER_PLACEMENT, formerly = "cluster")]
    pub kube: ClusterArgs,
    #[arg(force_new)]
    pub namespace: String,
    #[serde(default)]
    #[arg(force_new)]
    pub name: Option<String>,
    /// The Service it routes to.
    pub service: String,
    pub service_port: u16,
    #[serde(default)]
    pub host: Option<String>,
    #[serde(default)]
    pub path: Option<String>,
    /// An ACM certificate: the ALB listens on HTTPS 443 and redirects HTTP.
    #[serde(default)]
    pub certificate_arn: Option<String>,
    /// `internal` (default) or `internet-facing`.
    #[serde(default)]
    pub scheme: Option<String>,
    #[serde(default)]
    pub ssl_policy: Option<String>,
    #[serde(default)]
    pub health_check_path: Option<String>,
    /// Ingresses of one group share an ALB.
    #[serde(default)]
    pub group: Option<String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    #[serde(default)]
    pub force_conflicts: bool,
}

impl IngressArgs {
    pub fn render(&self, purpose: &str) -> Value {
        let alb = |k: &str| format!("alb.ingress.kubernetes.io/{k}");
        let mut annotations = self.annotations.clone();
        // Fargate pods have no node port to target: the ALB targets pod IPs.
        annotations.insert(alb("target-type"), "ip".into());
        annotations.insert(
            alb("scheme"),
            self.scheme.clone().unwrap_or_else(|| "internal".into()),
        );
        match &self.certificate_arn {
            Some(arn) => {
                annotations.insert(
                    alb("listen-ports"),
                    r#"[{"HTTP": 80}, {"HTTPS": 443}]"#.into(),
                );
                annotations.insert(alb("ssl-redirect"), "443".into());
                annotations.insert(alb("certificate-arn"), arn.clone());
                annotations.insert(
                    alb("ssl-policy"),
                    self.ssl_policy
                        .clone()
                        .unwrap_or_else(|| DEFAULT_SSL_POLICY.into()),
                );
            }
            None => {
                annotations.insert(alb("listen-ports"), r#"[{"HTTP": 80}]"#.into());
            }
        }
        if let Some(p) = &self.health_check_path {
            annotations.insert(alb("healthcheck-path"), p.clone());
        }
        if let Some(g) = &self.group {
            annotations.insert(alb("group.name"), g.clone());
        }
        let mut rule = json!({
            "http": { "paths": [{
                "path": self.path.as_deref().unwrap_or("/"),
                "pathType": "Prefix",
                "backend": { "service": { "name": self.service, "port": { "number": self.service_port } } },
            }] },
        });
        if let Some(h) = &self.host {
            rule["host"] = json!(h);
        }
        json!({
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "metadata": metadata(object_name(purpose, &self.name), Some(&self.namespace), &self.labels, &annotations),
            "spec": { "ingressClassName": "alb", "rules": [rule] },
        })
    }
}
