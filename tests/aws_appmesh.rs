//! App Mesh: the payment graph as a mesh (stdlib `mesh::from_graph`)
//! applied through the engine against moto, replanned as a no-op, changed in
//! place, repaired after drift and destroyed. moto 5.2.5 has meshes, virtual
//! nodes, routers and routes but no virtual services: those are served by a
//! stand-in in tests/support/moto_launcher.py (an extension of moto, named
//! so), which speaks the App Mesh REST shapes.

use aws_sdk_appmesh::Client;
use payrun::plan::{Action, Plan};

use crate::support::engine::Stack;

const PROGRAM: &str = r#"
import "mesh" as mesh;
default_tags(#{ Team: config().vars.team ?? "payments" });
acknowledge("appmesh-end-of-support", "the App Mesh kinds are tested on moto");
let graph = #{
    services: #{
        "payment":         #{ port: 8080 },
        "fraud-detection": #{ port: 8080 },
        "reporting":       #{ port: 8080 },
    },
    paths: [["alb", "payment"], ["payment", "fraud-detection"], ["payment", "reporting"]],
};
let m = mesh::from_graph("payments", #{
    graph: graph,
    certificate_arn: config().vars.cert ?? (),
    certificate_authority_arn: config().vars.ca ?? (),
});
export("mesh_arn", m.mesh.arn);
"#;

async fn appmesh_on_moto() -> Client {
    Client::new(&crate::support::moto::sdk_config().await)
}

fn changed(plan: &Plan) -> Vec<(String, Action)> {
    plan.changes
        .iter()
        .filter(|c| c.action != Action::NoOp)
        .map(|c| (c.address.to_string(), c.action))
        .collect()
}

fn count(plan: &Plan, kind: &str) -> usize {
    plan.changes
        .iter()
        .filter(|c| c.address.kind() == kind)
        .count()
}

#[tokio::test]
async fn mesh_from_the_graph_applies_changes_and_destroys_on_moto() {
    let s = Stack::aws(PROGRAM, "mesh");
    let plan = s.plan().await;
    assert_eq!(plan.summary(), (13, 0, 0));
    for kind in ["virtual_node", "virtual_router", "route", "virtual_service"] {
        assert_eq!(count(&plan, &format!("aws.appmesh.{kind}")), 3, "{kind}");
    }
    // Acknowledged: still shown, no longer an error.
    let eos = plan
        .findings
        .iter()
        .find(|f| f.code == "appmesh-end-of-support")
        .unwrap();
    assert_eq!(eos.severity, payrun::finding::Severity::Warning);
    assert!(
        eos.message.contains("(acknowledged in the program at ")
            && eos
                .message
                .ends_with(":4:1: the App Mesh kinds are tested on moto)"),
        "{}",
        eos.message
    );

    let summary = s.apply_plan(&plan).await;
    assert!(summary.ok(), "{summary}");
    assert_eq!(summary.created, 13);

    // What moto holds, asked without the provider.
    let am = appmesh_on_moto().await;
    let mesh = am
        .describe_mesh()
        .mesh_name("mesh-payments-mesh")
        .send()
        .await
        .unwrap();
    let spec = mesh.mesh().unwrap().spec().unwrap();
    assert_eq!(spec.egress_filter().unwrap().r#type().as_str(), "DROP_ALL");
    let node = am
        .describe_virtual_node()
        .mesh_name("mesh-payments-mesh")
        .virtual_node_name("vn-payment-mesh")
        .send()
        .await
        .unwrap();
    let node_spec = node.virtual_node().unwrap().spec().unwrap();
    let mut backends: Vec<&str> = node_spec
        .backends()
        .iter()
        .filter_map(|b| b.as_virtual_service().ok())
        .map(|v| v.virtual_service_name())
        .collect();
    backends.sort_unstable();
    assert_eq!(
        backends,
        [
            "fraud-detection.fraud-detection.svc.cluster.local",
            "reporting.reporting.svc.cluster.local"
        ]
    );
    let listener = &node_spec.listeners()[0];
    assert_eq!(listener.health_check().unwrap().path(), Some("/healthz"));
    let route = am
        .describe_route()
        .mesh_name("mesh-payments-mesh")
        .virtual_router_name("vr-payment-mesh")
        .route_name("route-payment-mesh")
        .send()
        .await
        .unwrap();
    let http = route.route().unwrap().spec().unwrap().http_route().unwrap();
    assert_eq!(
        http.action().unwrap().weighted_targets()[0].virtual_node(),
        "vn-payment-mesh"
    );
    assert_eq!(http.retry_policy().unwrap().max_retries(), 2);
    let service = am
        .describe_virtual_service()
        .mesh_name("mesh-payments-mesh")
        .virtual_service_name("payment.payment.svc.cluster.local")
        .send()
        .await
        .unwrap();
    assert!(
        service
            .virtual_service()
            .unwrap()
            .spec()
            .unwrap()
            .provider()
            .unwrap()
            .is_virtual_router()
    );

    // A virtual service's handle name is the DNS name clients call.
    let state = s.state();
    let vs = state
        .resources
        .iter()
        .find(|(a, _)| a.to_string() == "aws.appmesh.virtual_service.payment")
        .map(|(_, r)| r)
        .unwrap();
    assert_eq!(vs.outputs["name"], "payment.payment.svc.cluster.local");
    assert_eq!(
        vs.id,
        "mesh-payments-mesh/payment.payment.svc.cluster.local"
    );

    // Everything reads back as written.
    let again = s.plan().await;
    assert_eq!(
        changed(&again),
        vec![],
        "{:?}",
        again
            .changes
            .iter()
            .filter(|c| c.action != Action::NoOp)
            .map(|c| (&c.address, &c.changes))
            .collect::<Vec<_>>()
    );

    // STRICT TLS on every listener, and payment (the one caller) originating
    // TLS to its backends: the nodes change in place.
    s.set_var(
        "cert",
        "arn:aws:acm:us-east-1:123456789012:certificate/0b8a1c1e-1111-2222-3333-444455556666",
    );
    s.set_var(
        "ca",
        "arn:aws:acm-pca:us-east-1:123456789012:certificate-authority/9f3c0a2e-7777-8888-9999-000011112222",
    );
    let tls = s.plan().await;
    let mut want: Vec<(String, Action)> = ["fraud-detection", "payment", "reporting"]
        .iter()
        .map(|n| (format!("aws.appmesh.virtual_node.{n}"), Action::Update))
        .collect();
    let mut got = changed(&tls);
    got.sort();
    want.sort();
    assert_eq!(got, want);
    assert!(
        !tls.findings
            .iter()
            .any(|f| f.message.contains("listeners have no TLS"))
    );
    let summary = s.apply_plan(&tls).await;
    assert!(summary.ok(), "{summary}");
    let node = am
        .describe_virtual_node()
        .mesh_name("mesh-payments-mesh")
        .virtual_node_name("vn-reporting-mesh")
        .send()
        .await
        .unwrap();
    let listener_tls = node.virtual_node().unwrap().spec().unwrap().listeners()[0]
        .tls()
        .unwrap()
        .clone();
    assert_eq!(listener_tls.mode().as_str(), "STRICT");
    let payment = am
        .describe_virtual_node()
        .mesh_name("mesh-payments-mesh")
        .virtual_node_name("vn-payment-mesh")
        .send()
        .await
        .unwrap();
    let client_tls = payment
        .virtual_node()
        .unwrap()
        .spec()
        .unwrap()
        .backend_defaults()
        .unwrap()
        .client_policy()
        .unwrap()
        .tls()
        .unwrap()
        .clone();
    let trust = client_tls
        .validation()
        .unwrap()
        .trust()
        .unwrap()
        .as_acm()
        .unwrap()
        .clone();
    assert_eq!(
        trust.certificate_authority_arns(),
        [
            "arn:aws:acm-pca:us-east-1:123456789012:certificate-authority/9f3c0a2e-7777-8888-9999-000011112222"
        ]
    );
    assert_eq!(changed(&s.plan().await), vec![]);

    // A default tag changes in place on all 13 (TagResource; moto has no
    // UntagResource, so only a change is exercised, not a removal).
    s.set_var("team", "platform");
    let retag = s.plan().await;
    assert_eq!(retag.summary(), (0, 13, 0));
    assert!(s.apply_plan(&retag).await.ok());
    for arn in [
        mesh.mesh().unwrap().metadata().unwrap().arn().to_string(),
        service
            .virtual_service()
            .unwrap()
            .metadata()
            .unwrap()
            .arn()
            .to_string(),
    ] {
        let tags = am
            .list_tags_for_resource()
            .resource_arn(&arn)
            .send()
            .await
            .unwrap();
        let team = tags
            .tags()
            .iter()
            .find(|t| t.key() == "Team")
            .map(|t| t.value());
        assert_eq!(team, Some("platform"), "{arn}");
    }
    assert_eq!(changed(&s.plan().await), vec![]);

    // A virtual service deleted outside payrun is drift, created again.
    am.delete_virtual_service()
        .mesh_name("mesh-payments-mesh")
        .virtual_service_name("reporting.reporting.svc.cluster.local")
        .send()
        .await
        .unwrap();
    let drift = s.plan().await;
    assert_eq!(
        changed(&drift),
        vec![(
            "aws.appmesh.virtual_service.reporting".to_string(),
            Action::Create
        )]
    );
    assert!(s.apply_plan(&drift).await.ok());
    assert_eq!(changed(&s.plan().await), vec![]);

    // Destroy: routes and services before routers and nodes, the mesh last.
    let summary = s.destroy().await;
    assert!(summary.ok(), "{summary}");
    assert!(s.state().resources.is_empty());
    let meshes = am.list_meshes().send().await.unwrap();
    assert!(
        !meshes
            .meshes()
            .iter()
            .any(|m| m.mesh_name() == "mesh-payments-mesh"),
        "{meshes:?}"
    );
}

#[test]
fn mesh_arguments_are_checked_before_any_call() {
    for (args, want) in [
        (
            r#"#{ mesh: "m", hostname: "a.b", listeners: [#{ port: 8080, protocol: "http", tls: #{ mode: "STRICT" } }] }"#,
            "mode STRICT or PERMISSIVE needs `certificate_arn`",
        ),
        (
            r#"#{ mesh: "m", hostname: "a.b", listeners: [#{ port: 8080, protocol: "tcp", health_check: #{ path: "/" } }] }"#,
            "only HTTP and HTTP/2 health checks have a path",
        ),
    ] {
        let s = Stack::product(&format!("aws::appmesh::virtual_node(\"a\", {args});"));
        let err = s.error();
        assert!(err.contains(want), "{err}");
    }
    for (args, want) in [
        (
            r#"#{ mesh: "m", virtual_router: "r", protocol: "tcp", prefix: "/", targets: [#{ virtual_node: "n", weight: 1 }] }"#,
            "only HTTP and HTTP/2 routes match a path",
        ),
        (
            r#"#{ mesh: "m", virtual_router: "r", protocol: "http", targets: [#{ virtual_node: "n", weight: 0 }] }"#,
            "every weight is 0",
        ),
        (
            r#"#{ mesh: "m", virtual_router: "r", protocol: "http", targets: [#{ virtual_node: "n", weight: 1 }], retries: #{ max_retries: 2, per_retry_timeout_ms: 1000, http_events: ["teapot"] } }"#,
            "unknown event `teapot`",
        ),
    ] {
        let s = Stack::product(&format!("aws::appmesh::route(\"a\", {args});"));
        let err = s.error();
        assert!(err.contains(want), "{err}");
    }
    let s = Stack::product(
        r#"aws::appmesh::virtual_node("a", #{ mesh: "m", hostname: "a.b", backend_tls: #{ certificate_authority_arns: [] } });"#,
    );
    assert!(
        s.error().contains("name the ACM Private CA"),
        "{}",
        s.error()
    );
    // A STRICT listener with callers that do not originate TLS would refuse
    // them: the stdlib wants both halves or neither.
    let s = Stack::product(PROGRAM);
    s.set_var("cert", "arn:aws:acm:us-east-1:123456789012:certificate/x");
    assert!(
        s.error()
            .contains("pass both certificate_arn and certificate_authority_arn"),
        "{}",
        s.error()
    );
    let s = Stack::product(
        r#"aws::appmesh::virtual_service("a", #{ mesh: "m", name: "a.b", virtual_router: "r", virtual_node: "n" });"#,
    );
    assert!(
        s.error().contains("a virtual service has one provider"),
        "{}",
        s.error()
    );
}

/// The binary killed right after creating a virtual service (the stand-in
/// one) or a virtual node (moto's): the next apply adopts it by its tags
/// instead of failing on a name that is taken.
#[test]
fn a_process_killed_after_a_mesh_create_adopts_it() {
    for (victim, suffix) in [
        ("aws.appmesh.virtual_service.payment", "meshcrash1"),
        ("aws.appmesh.virtual_node.reporting", "meshcrash2"),
    ] {
        let p = crate::support::bin::Project::new(PROGRAM);
        let run = |args: &[&str]| {
            let mut cmd = p.payrun();
            cmd.args(args)
                .args(["--suffix", suffix, "--endpoint-url"])
                .arg(&crate::support::moto::moto().endpoint)
                .arg("--stdlib")
                .arg(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("stdlib"))
                .env_remove("PAYRUN_FAKE_CLOUD")
                .envs(crate::support::moto::client_env());
            cmd
        };
        run(&["apply", "--auto-approve", "--parallelism", "1"])
            .env("PAYRUN_TEST_ABORT_AFTER_CREATE", victim)
            .assert()
            .failure()
            .stderr(predicates::str::contains(format!(
                "aborting after creating {victim}"
            )));
        let out = run(&["apply", "--auto-approve"])
            .assert()
            .success()
            .get_output()
            .clone();
        let log = String::from_utf8_lossy(&out.stderr);
        assert!(log.contains(&format!("{victim}: adopted after")), "{log}");
        assert!(
            log.contains("(1 adopted after an interrupted apply)"),
            "{log}"
        );
        run(&["plan", "--detailed-exitcode"]).assert().code(0);
        run(&["destroy", "--auto-approve"]).assert().success();
    }
}
