//! Kubernetes clients, built lazily, once per distinct cluster: from an EKS
//! cluster's outputs, each request carrying a current presigned STS token,
//! or from a kubeconfig context the program names.

use std::collections::HashMap;
use std::sync::Arc;

use kube::client::ClientBuilder;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use serde_json::{Value, json};
use tokio::sync::Mutex;

use super::bearer::BearerLayer;
use super::kinds::ClusterArgs;
use super::token::TokenSource;
use crate::provider::ProviderError;

/// A kubeconfig document for an EKS cluster, whose user is `user`: no
/// credential for kube clients (each request gets its token), an exec
/// credential for helm.
pub fn eks_kubeconfig(name: &str, endpoint: &str, ca_data: &str, user: Value) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{ "name": name, "cluster": { "server": endpoint, "certificate-authority-data": ca_data } }],
        "users": [{ "name": "payrun", "user": user }],
        "contexts": [{ "name": name, "context": { "cluster": name, "user": "payrun" } }],
        "current-context": name,
    })
}

/// Clients by cluster. A client holds no token: one for an EKS cluster
/// signs a fresh one whenever the last has lived its lifetime, so it is
/// kept for as long as the provider.
pub struct Clients {
    tokens: Arc<TokenSource>,
    cache: Mutex<HashMap<String, Client>>,
}

impl Clients {
    pub fn new(tokens: Arc<TokenSource>) -> Self {
        Self {
            tokens,
            cache: Mutex::default(),
        }
    }

    pub async fn get(
        &self,
        cluster: &ClusterArgs,
        insecure_ok: bool,
    ) -> Result<Client, ProviderError> {
        let key = {
            let mut c = cluster.clone();
            c.version = None;
            serde_json::to_string(&c).expect("cluster args serialize")
        };
        let mut cache = self.cache.lock().await;
        if let Some(client) = cache.get(&key) {
            return Ok(client.clone());
        }
        let client = build(cluster, insecure_ok, &self.tokens).await?;
        cache.insert(key, client.clone());
        Ok(client)
    }
}

fn config_error(e: impl std::fmt::Display) -> ProviderError {
    ProviderError::new(format!("connecting to the Kubernetes cluster: {e}"))
}

/// A kubeconfig file, refused when a cluster in it turns off TLS
/// verification and `--insecure-kubeconfig` was not given.
pub fn read_kubeconfig(path: &str, insecure_ok: bool) -> Result<Kubeconfig, ProviderError> {
    let kubeconfig = Kubeconfig::read_from(path).map_err(config_error)?;
    refuse_insecure(&kubeconfig, path, insecure_ok)?;
    Ok(kubeconfig)
}

/// The refusal of [`read_kubeconfig`], for a kubeconfig read elsewhere.
pub fn refuse_insecure(
    kubeconfig: &Kubeconfig,
    path: &str,
    insecure_ok: bool,
) -> Result<(), ProviderError> {
    let insecure: Vec<&str> = kubeconfig
        .clusters
        .iter()
        .filter(|c| {
            c.cluster
                .as_ref()
                .is_some_and(|c| c.insecure_skip_tls_verify == Some(true))
        })
        .map(|c| c.name.as_str())
        .collect();
    if !insecure.is_empty() && !insecure_ok {
        return Err(ProviderError::new(format!(
            "the kubeconfig {path} turns off TLS verification (`insecure-skip-tls-verify`) for {}: anyone between payrun and the cluster could act as the cluster",
            insecure.join(", ")
        ))
        .with_code("InsecureKubeconfig")
        .with_fix("give the cluster's certificate (`certificate-authority-data`) in the kubeconfig, or, for a throw-away local cluster only, pass --insecure-kubeconfig"));
    }
    Ok(())
}

async fn build(
    cluster: &ClusterArgs,
    insecure_ok: bool,
    tokens: &Arc<TokenSource>,
) -> Result<Client, ProviderError> {
    cluster.check().map_err(config_error)?;
    install_crypto();
    let (kubeconfig, context, bearer) = match (&cluster.kubeconfig, &cluster.name) {
        (Some(path), _) => (
            read_kubeconfig(path, insecure_ok)?,
            cluster.context.clone(),
            None,
        ),
        (None, Some(name)) => {
            let doc = eks_kubeconfig(
                name,
                cluster.endpoint.as_deref().unwrap_or_default(),
                cluster.ca_data.as_deref().unwrap_or_default(),
                json!({}),
            );
            (
                Kubeconfig::from_yaml(&doc.to_string()).map_err(config_error)?,
                Some(name.clone()),
                Some(BearerLayer::new(
                    tokens.clone(),
                    name,
                    cluster.region.as_deref(),
                )),
            )
        }
        (None, None) => return Err(config_error("no cluster given")),
    };
    let options = KubeConfigOptions {
        context,
        ..Default::default()
    };
    let config = Config::from_custom_kubeconfig(kubeconfig, &options)
        .await
        .map_err(config_error)?;
    let builder = ClientBuilder::try_from(config).map_err(config_error)?;
    Ok(match bearer {
        Some(layer) => builder.with_layer(&layer).build(),
        None => builder.build(),
    })
}

/// rustls needs one process-wide crypto provider when more than one is
/// compiled in (the AWS SDK brings aws-lc-rs, kube ring).
fn install_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

#[cfg(test)]
mod tests {
    use base64::Engine;

    use super::*;

    #[tokio::test]
    async fn eks_outputs_become_a_config_with_the_cluster_ca_and_a_bearer_token() {
        let pem = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n-----END CERTIFICATE-----\n";
        let ca = base64::engine::general_purpose::STANDARD.encode(pem);
        let endpoint = "https://0123ABCD.gr7.eu-west-1.eks.amazonaws.com";
        let doc = eks_kubeconfig(
            "payments",
            endpoint,
            &ca,
            json!({ "token": "k8s-aws-v1.abc" }),
        );
        let kubeconfig = Kubeconfig::from_yaml(&doc.to_string()).unwrap();
        let options = KubeConfigOptions {
            context: Some("payments".into()),
            ..Default::default()
        };
        let config = Config::from_custom_kubeconfig(kubeconfig, &options)
            .await
            .unwrap();
        assert_eq!(
            config.cluster_url.to_string(),
            "https://0123ABCD.gr7.eu-west-1.eks.amazonaws.com/"
        );
        assert_eq!(config.root_cert.as_ref().map(Vec::len), Some(1));
        assert!(config.auth_info.token.is_some());
        assert!(!config.accept_invalid_certs);
    }
}
