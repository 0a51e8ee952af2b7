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
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
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

// ── Destroy on mocked responses ─────────────────────────────────────────────

/// A Lattice error reply as the service sends it, so the SDK's own
/// deserializer turns it into the modeled error.
fn not_found() -> HttpResponse {
    let mut r = HttpResponse::new(
        StatusCode::try_from(404).unwrap(),
        SdkBody::from(r#"{"message":"not found","resourceId":"x","resourceType":"SERVICE"}"#),
    );
    r.headers_mut()
        .insert("x-amzn-errortype", "ResourceNotFoundException");
    r.headers_mut().insert("content-type", "application/json");
    r
}

fn provider(rules: &[&Rule]) -> AwsProvider {
    let client = mock_client!(aws_sdk_vpclattice, RuleMode::MatchAny, rules);
    AwsProvider::new(AwsSettings::default()).with_vpclattice_client(client)
}

fn delete_op(kind: &str, purpose: &str, id: &str, args: Value) -> DeleteOp {
    DeleteOp {
        address: format!("{kind}.{purpose}").parse().unwrap(),
        name: format!("x-{purpose}-qa"),
        id: id.to_string(),
        args,
        outputs: serde_json::Map::new(),
        progress: Arc::new(|_: &str| {}),
    }
}

#[tokio::test]
async fn service_network_delete_smithy_mock() {
    let delete = mock!(Client::delete_service_network)
        .match_requests(|r| r.service_network_identifier() == Some("sn-0123"))
        .then_output(|| DeleteServiceNetworkOutput::builder().build());
    let p = provider(&[&delete]);
    let op = delete_op(
        "aws.vpclattice.service_network",
        "payments",
        "sn-0123",
        json!({}),
    );
    p.delete(&op).await.unwrap();
    assert_eq!(delete.num_calls(), 1);
}

#[tokio::test]
async fn service_delete_waits_until_gone_smithy_mock() {
    let delete = mock!(Client::delete_service)
        .match_requests(|r| r.service_identifier() == Some("svc-0123"))
        .then_output(|| {
            DeleteServiceOutput::builder()
                .id("svc-0123")
                .status(ServiceStatus::DeleteInProgress)
                .build()
        });
    let gone = mock!(Client::get_service)
        .match_requests(|r| r.service_identifier() == Some("svc-0123"))
        .then_http_response(not_found);
    let p = provider(&[&delete, &gone]);
    let op = delete_op("aws.vpclattice.service", "payment", "svc-0123", json!({}));
    p.delete(&op).await.unwrap();
    assert_eq!((delete.num_calls(), gone.num_calls()), (1, 1));
}

#[tokio::test]
async fn target_group_delete_waits_until_gone_smithy_mock() {
    let delete = mock!(Client::delete_target_group)
        .match_requests(|r| r.target_group_identifier() == Some("tg-0123"))
        .then_output(|| {
            DeleteTargetGroupOutput::builder()
                .id("tg-0123")
                .status(TargetGroupStatus::DeleteInProgress)
                .build()
        });
    let gone = mock!(Client::get_target_group)
        .match_requests(|r| r.target_group_identifier() == Some("tg-0123"))
        .then_http_response(not_found);
    let p = provider(&[&delete, &gone]);
    let op = delete_op(
        "aws.vpclattice.target_group",
        "payment",
        "tg-0123",
        json!({}),
    );
    p.delete(&op).await.unwrap();
    assert_eq!((delete.num_calls(), gone.num_calls()), (1, 1));
}

#[tokio::test]
async fn listener_delete_names_its_service_smithy_mock() {
    let delete = mock!(Client::delete_listener)
        .match_requests(|r| {
            r.service_identifier() == Some("svc-0123")
                && r.listener_identifier() == Some("listener-0123")
        })
        .then_output(|| DeleteListenerOutput::builder().build());
    let p = provider(&[&delete]);
    let op = delete_op(
        "aws.vpclattice.listener",
        "payment",
        "listener-0123",
        json!({ "service_identifier": "svc-0123", "protocol": "HTTP" }),
    );
    p.delete(&op).await.unwrap();
    assert_eq!(delete.num_calls(), 1);
}

#[tokio::test]
async fn vpc_association_delete_waits_until_gone_smithy_mock() {
    let delete = mock!(Client::delete_service_network_vpc_association)
        .match_requests(|r| r.service_network_vpc_association_identifier() == Some("snva-0123"))
        .then_output(|| {
            DeleteServiceNetworkVpcAssociationOutput::builder()
                .id("snva-0123")
                .status(ServiceNetworkVpcAssociationStatus::DeleteInProgress)
                .build()
        });
    // Still deleting once, then gone.
    let get = mock!(Client::get_service_network_vpc_association)
        .match_requests(|r| r.service_network_vpc_association_identifier() == Some("snva-0123"))
        .sequence()
        .output(|| {
            aws_sdk_vpclattice::operation::get_service_network_vpc_association::GetServiceNetworkVpcAssociationOutput::builder()
                .id("snva-0123")
                .status(ServiceNetworkVpcAssociationStatus::DeleteInProgress)
                .build()
        })
        .http_response(not_found)
        .build();
    let p = provider(&[&delete, &get]);
    let op = delete_op(
        "aws.vpclattice.service_network_vpc_association",
        "payments",
        "snva-0123",
        json!({ "service_network_identifier": "sn-0123", "vpc_identifier": "vpc-0123" }),
    );
    p.delete(&op).await.unwrap();
    assert_eq!((delete.num_calls(), get.num_calls()), (1, 2));
}

#[tokio::test]
async fn service_association_delete_waits_until_gone_smithy_mock() {
    let delete = mock!(Client::delete_service_network_service_association)
        .match_requests(|r| r.service_network_service_association_identifier() == Some("snsa-0123"))
        .then_output(|| {
            DeleteServiceNetworkServiceAssociationOutput::builder()
                .id("snsa-0123")
                .status(ServiceNetworkServiceAssociationStatus::DeleteInProgress)
                .build()
        });
    let gone = mock!(Client::get_service_network_service_association)
        .match_requests(|r| r.service_network_service_association_identifier() == Some("snsa-0123"))
        .then_http_response(not_found);
    let p = provider(&[&delete, &gone]);
    let op = delete_op(
        "aws.vpclattice.service_network_service_association",
        "payment",
        "snsa-0123",
        json!({ "service_network_identifier": "sn-0123", "service_identifier": "svc-0123" }),
    );
    p.delete(&op).await.unwrap();
    assert_eq!((delete.num_calls(), gone.num_calls()), (1, 1));
}

#[tokio::test]
async fn auth_policy_delete_smithy_mock() {
    let delete = mock!(Client::delete_auth_policy)
        .match_requests(|r| r.resource_identifier() == Some("svc-0123"))
        .then_output(|| DeleteAuthPolicyOutput::builder().build());
    let p = provider(&[&delete]);
    let op = delete_op(
        "aws.vpclattice.auth_policy",
        "reporting",
        "svc-0123",
        json!({ "resource_identifier": "svc-0123", "policy": {} }),
    );
    p.delete(&op).await.unwrap();
    assert_eq!(delete.num_calls(), 1);
}

/// Deleting what is already gone succeeds, for every kind.
#[tokio::test]
async fn already_gone_is_deleted_smithy_mock() {
    let rules = [
        mock!(Client::delete_service_network).then_http_response(not_found),
        mock!(Client::delete_service).then_http_response(not_found),
        mock!(Client::delete_target_group).then_http_response(not_found),
        mock!(Client::delete_listener).then_http_response(not_found),
        mock!(Client::delete_service_network_vpc_association).then_http_response(not_found),
        mock!(Client::delete_service_network_service_association).then_http_response(not_found),
        mock!(Client::delete_auth_policy).then_http_response(not_found),
    ];
    let p = provider(&rules.iter().collect::<Vec<_>>());
    let args = json!({ "service_identifier": "svc-0123" });
    for kind in [
        "service_network",
        "service",
        "target_group",
        "listener",
        "service_network_vpc_association",
        "service_network_service_association",
        "auth_policy",
    ] {
        let op = delete_op(
            &format!("aws.vpclattice.{kind}"),
            "gone",
            "x-0123",
            args.clone(),
        );
        p.delete(&op)
            .await
            .unwrap_or_else(|e| panic!("{kind}: {e}"));
    }
    for rule in &rules {
        assert_eq!(rule.num_calls(), 1);
    }
}

/// A failure other than "not found" still fails the delete.
#[tokio::test]
async fn conflict_fails_the_delete_smithy_mock() {
    let conflict = mock!(Client::delete_service_network).then_http_response(|| {
        let mut r = HttpResponse::new(
            StatusCode::try_from(409).unwrap(),
            SdkBody::from(r#"{"message":"service network has associations","resourceId":"sn-0123","resourceType":"SERVICE_NETWORK"}"#),
        );
        r.headers_mut().insert("x-amzn-errortype", "ConflictException");
        r.headers_mut().insert("content-type", "application/json");
        r
    });
    let p = provider(&[&conflict]);
    let op = delete_op(
        "aws.vpclattice.service_network",
        "payments",
        "sn-0123",
        json!({}),
    );
    let err = p.delete(&op).await.unwrap_err();
    assert_eq!(err.code.as_deref(), Some("ConflictException"), "{err}");
}
