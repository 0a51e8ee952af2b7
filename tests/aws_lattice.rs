//! VPC Lattice: examples/lattice.rhai (the payment graph on Lattice instead
//! of App Mesh) applied through the engine against moto, and every Lattice
//! delete through the provider against moto (the deletes served by the test
//! launcher's extension of moto): what it calls, that it waits while Lattice
//! says DELETE_IN_PROGRESS, that what is already gone counts as deleted and
//! that a conflict fails the delete.

use std::collections::BTreeMap;

use aws_sdk_vpclattice::Client;
use payrun::plan::Action;
use payrun::provider::{ProviderError, ReadResult};
use serde_json::{Value, json};

use crate::support::engine::Stack;
use crate::support::moto;
use crate::support::stack::{self, Recorded};

const EXAMPLE: &str = include_str!("../examples/lattice.rhai");

fn kind_count(state: &payrun::state::State, kind: &str) -> usize {
    state.resources.values().filter(|r| r.kind == kind).count()
}

#[tokio::test]
async fn example_applies_on_moto_and_replans_as_noop() {
    let s = Stack::aws(EXAMPLE, "lattice");
    let plan = s.plan().await;
    let (add, change, destroy) = plan.summary();
    assert_eq!((change, destroy), (0, 0));
    let summary = s.apply_plan(&plan).await;
    assert!(summary.ok(), "{summary}");
    assert_eq!(summary.created, add);

    let state = s.state();
    assert_eq!(kind_count(&state, "aws.vpclattice.service_network"), 1);
    assert_eq!(
        kind_count(&state, "aws.vpclattice.service_network_vpc_association"),
        1
    );
    assert_eq!(kind_count(&state, "aws.vpclattice.service"), 3);
    assert_eq!(kind_count(&state, "aws.vpclattice.target_group"), 3);
    assert_eq!(kind_count(&state, "aws.vpclattice.listener"), 3);
    assert_eq!(
        kind_count(&state, "aws.vpclattice.service_network_service_association"),
        3
    );
    // Only services someone in the graph calls get a policy; "alb" is not a
    // Lattice caller, so payment has none and Lattice denies all to it.
    let policies: Vec<(&str, &Value)> = state
        .resources
        .iter()
        .filter(|(_, r)| r.kind == "aws.vpclattice.auth_policy")
        .map(|(a, r)| (a.purpose(), &r.args["policy"]))
        .collect();
    assert_eq!(
        policies.iter().map(|(p, _)| *p).collect::<Vec<_>>(),
        ["fraud-detection", "reporting"]
    );
    for (_, policy) in &policies {
        assert_eq!(
            policy["Statement"][0]["Condition"]["StringEquals"]["aws:PrincipalTag/payrun:service"],
            json!(["payment"])
        );
    }
    let svc = state
        .resources
        .iter()
        .find(|(a, r)| r.kind == "aws.vpclattice.service" && a.purpose() == "payment")
        .map(|(_, r)| r)
        .unwrap();
    assert_eq!(svc.name, "svc-payment-lattice");
    assert!(
        svc.outputs["dns_name"]
            .as_str()
            .is_some_and(|d| !d.is_empty()),
        "{:?}",
        svc.outputs
    );

    // What moto holds, asked without the provider.
    let lattice = lattice_on_moto().await;
    let services = lattice.list_services().send().await.unwrap();
    let names: Vec<&str> = services.items().iter().filter_map(|s| s.name()).collect();
    for want in [
        "svc-payment-lattice",
        "svc-fraud-detection-lattice",
        "svc-reporting-lattice",
    ] {
        assert!(names.contains(&want), "{names:?}");
    }

    let again = s.plan().await;
    let noisy: Vec<_> = again
        .changes
        .iter()
        .filter(|c| c.action != Action::NoOp)
        .map(|c| (&c.address, &c.changes, &c.drift))
        .collect();
    assert!(!again.has_changes(), "{noisy:?}");
}

#[tokio::test]
async fn example_plan_has_no_app_mesh_finding() {
    let s = Stack::aws(EXAMPLE, "lattice-check");
    let plan = s.plan().await;
    assert!(
        plan.changes
            .iter()
            .all(|c| !c.address.kind().starts_with("aws.appmesh.")),
        "the example declares App Mesh resources"
    );
    let codes: Vec<&str> = plan.findings.iter().map(|f| f.code.as_str()).collect();
    assert!(!codes.iter().any(|c| c.starts_with("appmesh")), "{codes:?}");
    assert!(
        plan.changes
            .iter()
            .any(|c| c.address.kind() == "aws.vpclattice.service_network"),
        "the example declares no Lattice service network"
    );
}

async fn lattice_on_moto() -> Client {
    Client::new(&moto::sdk_config().await)
}

// ── Deletes through the provider ───────────────────────────────────────────

/// Lattice resources made and deleted through the provider on moto; each
/// delete reports the calls it made.
struct Lattice {
    stack: stack::Stack,
}

impl Lattice {
    fn new(test: &str) -> Self {
        Self {
            stack: stack::Stack::new(test),
        }
    }

    async fn vpc(&self) -> String {
        self.stack
            .create("aws.ec2.vpc", "lattice", json!({ "cidr": "10.60.0.0/16" }))
            .await
            .id
    }

    async fn service_network(&self) -> Recorded {
        self.stack
            .create("aws.vpclattice.service_network", "payments", json!({}))
            .await
    }

    async fn service(&self, purpose: &str) -> Recorded {
        self.stack
            .create(
                "aws.vpclattice.service",
                purpose,
                json!({ "auth_type": "AWS_IAM" }),
            )
            .await
    }

    async fn target_group(&self) -> Recorded {
        let vpc = self.vpc().await;
        self.stack
            .create(
                "aws.vpclattice.target_group",
                "payment",
                json!({ "type": "IP", "config": { "port": 8080, "protocol": "HTTP", "vpc_identifier": vpc } }),
            )
            .await
    }

    async fn listener(&self, service: &Recorded, group: &Recorded) -> Recorded {
        self.stack
            .create(
                "aws.vpclattice.listener",
                "payment",
                json!({
                    "service": service.id,
                    "protocol": "HTTP",
                    "default_action": { "forward": { "target_groups": [{ "target_group_identifier": group.id, "weight": 100 }] } },
                }),
            )
            .await
    }

    async fn vpc_association(&self, network: &Recorded) -> Recorded {
        let vpc = self.vpc().await;
        self.stack
            .create(
                "aws.vpclattice.service_network_vpc_association",
                "payments",
                json!({ "service_network": network.id, "vpc": vpc }),
            )
            .await
    }

    fn calls(&self) -> BTreeMap<String, u64> {
        self.stack.provider.api_calls()
    }

    /// Deletes `r` through the provider.
    async fn delete(&self, r: &Recorded) -> Deleted {
        let before = self.calls();
        self.stack.progress.lock().unwrap().clear();
        let result = self.stack.try_delete(r).await;
        let calls = self
            .calls()
            .into_iter()
            .filter_map(|(op, n)| {
                let n = n - before.get(&op).copied().unwrap_or(0);
                (n > 0).then_some((op, n))
            })
            .collect();
        let progress = self.stack.progress.lock().unwrap().clone();
        Deleted {
            result,
            calls,
            progress,
        }
    }

    /// `r` still exists (Lattice reads leave tags out, so this compares no
    /// args).
    async fn assert_found(&self, r: &Recorded) {
        let read = self.stack.read(&[r]).await.remove(0);
        assert!(
            matches!(read, ReadResult::Found { .. }),
            "{} ({}) should still exist",
            r.address,
            r.id
        );
    }
}

/// What one delete through the provider did: its result, the calls it made
/// (by operation) and the progress it reported.
struct Deleted {
    result: Result<(), ProviderError>,
    calls: BTreeMap<String, u64>,
    progress: Vec<String>,
}

impl Deleted {
    fn ok(self) -> Self {
        if let Err(e) = &self.result {
            panic!("delete failed: {e}");
        }
        self
    }

    fn count(&self, operation: &str) -> u64 {
        self.calls.get(operation).copied().unwrap_or(0)
    }

    /// The delete was answered DELETE_IN_PROGRESS, and the provider polled
    /// `get` until Lattice no longer knew the resource: at least once while
    /// it was still deleting, then once more.
    fn waited_until_gone(&self, get: &str) {
        assert!(self.count(get) >= 2, "{get}: {:?}", self.calls);
        assert!(
            self.progress
                .iter()
                .any(|p| p.starts_with("DELETE_IN_PROGRESS")),
            "{:?}",
            self.progress
        );
    }
}

#[tokio::test]
async fn service_network_delete_on_moto() {
    let l = Lattice::new("sn-delete");
    let network = l.service_network().await;
    let deleted = l.delete(&network).await.ok();
    assert_eq!(
        deleted.calls,
        BTreeMap::from([("DeleteServiceNetwork".into(), 1)]),
        "one DeleteServiceNetwork, no wait"
    );
    l.stack.assert_gone(&network).await;
}

#[tokio::test]
async fn service_delete_waits_until_gone_on_moto() {
    let l = Lattice::new("svc-delete");
    let service = l.service("payment").await;
    let deleted = l.delete(&service).await.ok();
    assert_eq!(deleted.count("DeleteService"), 1, "{:?}", deleted.calls);
    deleted.waited_until_gone("GetService");
    l.stack.assert_gone(&service).await;
}

#[tokio::test]
async fn target_group_delete_waits_until_gone_on_moto() {
    let l = Lattice::new("tg-delete");
    let group = l.target_group().await;
    let deleted = l.delete(&group).await.ok();
    assert_eq!(deleted.count("DeleteTargetGroup"), 1, "{:?}", deleted.calls);
    deleted.waited_until_gone("GetTargetGroup");
    l.stack.assert_gone(&group).await;
}

/// DeleteListener takes the service as well as the listener; the launcher
/// answers not found for a listener of another service, so a listener gone
/// means the call named its own.
#[tokio::test]
async fn listener_delete_names_its_service_on_moto() {
    let l = Lattice::new("listener-delete");
    let service = l.service("payment").await;
    let group = l.target_group().await;
    let listener = l.listener(&service, &group).await;
    let deleted = l.delete(&listener).await.ok();
    assert_eq!(
        deleted.calls,
        BTreeMap::from([("DeleteListener".into(), 1)])
    );
    l.stack.assert_gone(&listener).await;
    l.assert_found(&service).await;
}

#[tokio::test]
async fn vpc_association_delete_waits_until_gone_on_moto() {
    let l = Lattice::new("snva-delete");
    let network = l.service_network().await;
    let association = l.vpc_association(&network).await;
    let deleted = l.delete(&association).await.ok();
    assert_eq!(
        deleted.count("DeleteServiceNetworkVpcAssociation"),
        1,
        "{:?}",
        deleted.calls
    );
    deleted.waited_until_gone("GetServiceNetworkVpcAssociation");
    l.stack.assert_gone(&association).await;
}

#[tokio::test]
async fn service_association_delete_waits_until_gone_on_moto() {
    let l = Lattice::new("snsa-delete");
    let network = l.service_network().await;
    let service = l.service("payment").await;
    let association = l
        .stack
        .create(
            "aws.vpclattice.service_network_service_association",
            "payment",
            json!({ "service_network": network.id, "service": service.id }),
        )
        .await;
    let deleted = l.delete(&association).await.ok();
    assert_eq!(
        deleted.count("DeleteServiceNetworkServiceAssociation"),
        1,
        "{:?}",
        deleted.calls
    );
    deleted.waited_until_gone("GetServiceNetworkServiceAssociation");
    l.stack.assert_gone(&association).await;
}

#[tokio::test]
async fn auth_policy_delete_on_moto() {
    let l = Lattice::new("authz-delete");
    let service = l.service("reporting").await;
    let policy = l
        .stack
        .create(
            "aws.vpclattice.auth_policy",
            "reporting",
            json!({
                "resource": service.id,
                "policy": { "Version": "2012-10-17", "Statement": [{ "Effect": "Allow", "Principal": "*", "Action": "vpc-lattice-svcs:Invoke", "Resource": "*" }] },
            }),
        )
        .await;
    assert_eq!(policy.id, service.id);
    let deleted = l.delete(&policy).await.ok();
    assert_eq!(
        deleted.calls,
        BTreeMap::from([("DeleteAuthPolicy".into(), 1)])
    );
    l.stack.assert_gone(&policy).await;
    l.assert_found(&service).await;
}

/// Deleting what is already gone succeeds, for every kind, with the one
/// delete call and no wait.
#[tokio::test]
async fn already_gone_is_deleted_on_moto() {
    let l = Lattice::new("gone");
    let service = l.service("payment").await;
    let unknown = "0123456789abcdef0";
    for (kind, id, delete) in [
        (
            "service_network",
            format!("sn-{unknown}"),
            "DeleteServiceNetwork",
        ),
        ("service", format!("svc-{unknown}"), "DeleteService"),
        ("target_group", format!("tg-{unknown}"), "DeleteTargetGroup"),
        ("listener", format!("listener-{unknown}"), "DeleteListener"),
        (
            "service_network_vpc_association",
            format!("snva-{unknown}"),
            "DeleteServiceNetworkVpcAssociation",
        ),
        (
            "service_network_service_association",
            format!("snsa-{unknown}"),
            "DeleteServiceNetworkServiceAssociation",
        ),
        ("auth_policy", service.id.clone(), "DeleteAuthPolicy"),
    ] {
        let r = Recorded {
            address: stack::Stack::address(&format!("aws.vpclattice.{kind}"), "gone"),
            id,
            args: json!({ "service": service.id, "resource": service.id }),
            outputs: serde_json::Map::new(),
        };
        let deleted = l.delete(&r).await;
        if let Err(e) = &deleted.result {
            panic!("{kind}: {e}");
        }
        assert_eq!(
            deleted.calls,
            BTreeMap::from([(delete.into(), 1)]),
            "{kind}"
        );
    }
}

/// A failure other than "not found" still fails the delete: Lattice refuses
/// to delete a service network that a VPC is still associated with.
#[tokio::test]
async fn conflict_fails_the_delete_on_moto() {
    let l = Lattice::new("sn-conflict");
    let network = l.service_network().await;
    let association = l.vpc_association(&network).await;
    let deleted = l.delete(&network).await;
    let err = deleted.result.unwrap_err();
    assert_eq!(err.code.as_deref(), Some("ConflictException"), "{err}");
    assert_eq!(
        deleted.calls,
        BTreeMap::from([("DeleteServiceNetwork".into(), 1)])
    );
    l.assert_found(&network).await;

    l.stack.delete(&association).await;
    l.stack.delete(&network).await;
    l.stack.assert_gone(&network).await;
}
