//! VPC Lattice: examples/lattice.rhai (the payment graph on Lattice instead
//! of App Mesh) applied through the engine against moto, and every Lattice
//! delete checked on mocked SDK responses, since moto 5.2.5 has no Lattice
//! delete calls.

use std::sync::Arc;

use aws_sdk_vpclattice::Client;
use aws_sdk_vpclattice::operation::delete_auth_policy::DeleteAuthPolicyOutput;
use aws_sdk_vpclattice::operation::delete_listener::DeleteListenerOutput;
use aws_sdk_vpclattice::operation::delete_service::DeleteServiceOutput;
use aws_sdk_vpclattice::operation::delete_service_network::DeleteServiceNetworkOutput;
use aws_sdk_vpclattice::operation::delete_service_network_service_association::DeleteServiceNetworkServiceAssociationOutput;
use aws_sdk_vpclattice::operation::delete_service_network_vpc_association::DeleteServiceNetworkVpcAssociationOutput;
use aws_sdk_vpclattice::operation::delete_target_group::DeleteTargetGroupOutput;
use aws_sdk_vpclattice::types::{
    ServiceNetworkServiceAssociationStatus, ServiceNetworkVpcAssociationStatus, ServiceStatus,
    TargetGroupStatus,
};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use payrun::plan::Action;
use payrun::provider::aws::{AwsProvider, AwsSettings};
use payrun::provider::{DeleteOp, Provider};
use serde_json::{Value, json};

use crate::support::engine::Stack;

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
    Client::new(&crate::support::moto::sdk_config().await)
}
