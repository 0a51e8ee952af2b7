//! Waiting for a Deployment's rollout: done when every replica runs the new
//! template and is available; failed when Kubernetes reports the progress
//! deadline exceeded or payrun's timeout passes, with the pods' reasons.

use std::time::{Duration, Instant};

use kube::Client;
use kube::api::{Api, DynamicObject, ListParams};
use serde_json::Value;

use super::resources::{self, Target};
use super::ssa;
use crate::provider::{ProgressFn, ProviderError};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rollout {
    Complete,
    Progressing {
        ready: i64,
        updated: i64,
        desired: i64,
    },
    Stalled(String),
}

fn int(v: &Value) -> i64 {
    v.as_i64().unwrap_or(0)
}

/// Where the rollout of `deployment` (as the server holds it) stands.
pub fn status(deployment: &Value) -> Rollout {
    let generation = int(&deployment["metadata"]["generation"]);
    let status = &deployment["status"];
    let desired = deployment["spec"]["replicas"].as_i64().unwrap_or(1);
    let observed = int(&status["observedGeneration"]);
    let updated = int(&status["updatedReplicas"]);
    let available = int(&status["availableReplicas"]);
    let replicas = int(&status["replicas"]);
    let ready = int(&status["readyReplicas"]);
    let deadline_exceeded = status["conditions"].as_array().is_some_and(|cs| {
        cs.iter().any(|c| {
            c["type"] == "Progressing"
                && c["status"] == "False"
                && c["reason"] == "ProgressDeadlineExceeded"
        })
    });
    if observed >= generation && deadline_exceeded {
        return Rollout::Stalled("progress deadline exceeded".into());
    }
    if observed >= generation && updated == desired && available == desired && replicas == desired {
        return Rollout::Complete;
    }
    Rollout::Progressing {
        ready,
        updated,
        desired,
    }
}

/// Why pods are not ready: container waiting reasons (ImagePullBackOff,
/// CrashLoopBackOff...) and unschedulable pods.
pub fn pod_reasons(pods: &[Value]) -> Vec<String> {
    let mut out = Vec::new();
    for pod in pods {
        let name = pod["metadata"]["name"].as_str().unwrap_or("?");
        let statuses = ["initContainerStatuses", "containerStatuses"]
            .iter()
            .filter_map(|k| pod["status"][k].as_array())
            .flatten();
        for cs in statuses {
            let waiting = &cs["state"]["waiting"];
            if let Some(reason) = waiting["reason"].as_str() {
                let container = cs["name"].as_str().unwrap_or("?");
                let message = waiting["message"].as_str().unwrap_or_default();
                let mut line = format!("pod {name} container {container}: {reason}");
                if !message.is_empty() {
                    line.push_str(&format!(" ({message})"));
                }
                out.push(line);
            }
        }
        if let Some(conds) = pod["status"]["conditions"].as_array() {
            for c in conds {
                if c["type"] == "PodScheduled" && c["status"] == "False" {
                    out.push(format!(
                        "pod {name}: {} ({})",
                        c["reason"].as_str().unwrap_or("not scheduled"),
                        c["message"].as_str().unwrap_or_default()
                    ));
                }
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

async fn reasons(client: &Client, target: &Target, deployment: &Value) -> Vec<String> {
    let Some(labels) = deployment["spec"]["selector"]["matchLabels"].as_object() else {
        return Vec::new();
    };
    let selector = labels
        .iter()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
        .collect::<Vec<_>>()
        .join(",");
    let Some((pods, _)) = resources::known("v1", "Pod") else {
        return Vec::new();
    };
    let ns = target.namespace.as_deref().unwrap_or("default");
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), ns, &pods);
    match api.list(&ListParams::default().labels(&selector)).await {
        Ok(list) => pod_reasons(
            &list
                .items
                .into_iter()
                .filter_map(|p| serde_json::to_value(p).ok())
                .collect::<Vec<_>>(),
        ),
        Err(e) => vec![format!("(the pods could not be listed: {e})")],
    }
}

/// Poll the deployment until its rollout completes, stalls or `timeout`
/// passes.
pub async fn wait(
    client: &Client,
    target: &Target,
    poll: Duration,
    timeout: Duration,
    progress: &ProgressFn,
) -> Result<(), ProviderError> {
    let started = Instant::now();
    let mut wait = ssa::first_wait(poll);
    loop {
        let deployment = ssa::get(client, target).await?.ok_or_else(|| {
            ProviderError::new(format!(
                "{} disappeared during its rollout",
                target.describe()
            ))
        })?;
        let elapsed = started.elapsed();
        let failure = match status(&deployment) {
            Rollout::Complete => return Ok(()),
            Rollout::Stalled(why) => Some(why),
            Rollout::Progressing { .. } if elapsed >= timeout => {
                Some(format!("not complete after {}s", elapsed.as_secs()))
            }
            Rollout::Progressing {
                ready,
                updated,
                desired,
            } => {
                progress(&format!(
                    "rollout {}s: {ready}/{desired} ready, {updated} updated",
                    elapsed.as_secs()
                ));
                None
            }
        };
        if let Some(why) = failure {
            let reasons = reasons(client, target, &deployment).await;
            let detail = if reasons.is_empty() {
                String::new()
            } else {
                format!(":\n    {}", reasons.join("\n    "))
            };
            return Err(ProviderError::new(format!(
                "the rollout of {} failed ({why}){detail}",
                target.describe()
            ))
            .with_code("RolloutFailed")
            .with_fix("fix the image or the pods' configuration and apply again; the previous pods keep serving (maxUnavailable is 0)"));
        }
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(poll);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn deploy(generation: i64, status: Value) -> Value {
        json!({ "metadata": { "generation": generation }, "spec": { "replicas": 3 }, "status": status })
    }

    #[test]
    fn complete_only_when_every_replica_is_updated_and_available() {
        let done = json!({ "observedGeneration": 2, "replicas": 3, "updatedReplicas": 3, "availableReplicas": 3, "readyReplicas": 3 });
        assert_eq!(status(&deploy(2, done.clone())), Rollout::Complete);
        // The controller has not seen the new generation yet.
        assert!(matches!(
            status(&deploy(3, done)),
            Rollout::Progressing { .. }
        ));
        // An old pod is still running next to the surge pod.
        let surging = json!({ "observedGeneration": 2, "replicas": 4, "updatedReplicas": 3, "availableReplicas": 3, "readyReplicas": 3 });
        assert!(matches!(
            status(&deploy(2, surging)),
            Rollout::Progressing { ready: 3, .. }
        ));
    }

    #[test]
    fn deadline_exceeded_is_stalled() {
        let s = json!({ "observedGeneration": 2, "replicas": 4, "updatedReplicas": 1, "availableReplicas": 3,
            "conditions": [{ "type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded" }] });
        assert_eq!(
            status(&deploy(2, s)),
            Rollout::Stalled("progress deadline exceeded".into())
        );
    }

    #[test]
    fn reasons_name_the_pod_and_container() {
        let pods = vec![json!({
            "metadata": { "name": "api-7d9-x" },
            "status": { "containerStatuses": [{ "name": "api", "state": { "waiting": {
                "reason": "ImagePullBackOff", "message": "Back-off pulling image \"api:nope\"" } } }] },
        })];
        assert_eq!(
            pod_reasons(&pods),
            vec![
                "pod api-7d9-x container api: ImagePullBackOff (Back-off pulling image \"api:nope\")"
            ]
        );
    }
}
