use serde_json::{Value, json};

use super::*;

fn cluster() -> Value {
    json!({ "name": "payments", "endpoint": "https://eks.example", "ca_data": "Q0E=" })
}

fn schema(kind: &str) -> &'static KindSchema {
    SCHEMAS.iter().find(|s| s.kind == kind).unwrap()
}

#[test]
fn every_kind_has_cluster_and_namespaced_kinds_take_a_namespace() {
    for s in SCHEMAS {
        assert!(s.arg("kube").is_some(), "{}", s.kind);
        let cluster_scoped = ["k8s.namespace", "k8s.object"].contains(&s.kind);
        assert_eq!(s.arg("namespace").is_some(), !cluster_scoped, "{}", s.kind);
    }
}

#[test]
fn deployment_rolls_without_losing_capacity() {
    let args = json!({
        "kube": cluster(), "namespace": "payment", "image": "api:1", "replicas": 3, "port": 8080,
        "requests": { "cpu": "250m", "memory": "256Mi" }, "limits": { "cpu": "500m", "memory": "512Mi" },
        "readiness": { "path": "/healthz" }, "service_account": "api", "secret_provider": "api-secrets",
    });
    (schema("k8s.deployment").validate)(&args).unwrap();
    let m = render("k8s.deployment", "api", &args).unwrap();
    assert_eq!(
        m["spec"]["strategy"]["rollingUpdate"],
        json!({ "maxUnavailable": 0, "maxSurge": 1 })
    );
    assert_eq!(
        m["spec"]["selector"]["matchLabels"],
        json!({ "app": "api" })
    );
    assert_eq!(
        m["spec"]["template"]["metadata"]["labels"]["app"],
        json!("api")
    );
    let c = &m["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(
        c["readinessProbe"]["httpGet"],
        json!({ "path": "/healthz", "port": 8080 })
    );
    assert_eq!(c["resources"]["limits"]["memory"], json!("512Mi"));
    assert_eq!(
        m["spec"]["template"]["spec"]["volumes"][0]["csi"]["volumeAttributes"]["secretProviderClass"],
        json!("api-secrets")
    );
    assert_eq!(m["metadata"]["labels"][MANAGED_BY.0], json!("payrun"));
}

#[test]
fn service_account_carries_the_irsa_role() {
    let args =
        json!({ "kube": cluster(), "namespace": "payment", "role": "arn:aws:iam::1:role/api" });
    let m = render("k8s.service_account", "api", &args).unwrap();
    assert_eq!(
        m["metadata"]["annotations"]["eks.amazonaws.com/role-arn"],
        json!("arn:aws:iam::1:role/api")
    );
}

#[test]
fn ingress_targets_pod_ips_behind_https() {
    let args = json!({
        "kube": cluster(), "namespace": "payment", "service": "api", "service_port": 80,
        "certificate_arn": "arn:aws:acm:eu-west-1:1:certificate/x", "host": "pay.example.com",
    });
    let m = render("k8s.ingress", "api", &args).unwrap();
    let a = &m["metadata"]["annotations"];
    assert_eq!(a["alb.ingress.kubernetes.io/target-type"], json!("ip"));
    assert_eq!(
        a["alb.ingress.kubernetes.io/listen-ports"],
        json!(r#"[{"HTTP": 80}, {"HTTPS": 443}]"#)
    );
    assert_eq!(a["alb.ingress.kubernetes.io/ssl-redirect"], json!("443"));
    assert_eq!(a["alb.ingress.kubernetes.io/scheme"], json!("internal"));
    assert_eq!(m["spec"]["ingressClassName"], json!("alb"));
}

#[test]
fn quota_bounds_requests_and_limits() {
    let args = json!({ "kube": cluster(), "namespace": "payment", "cpu": "2", "memory": "4Gi" });
    let m = render("k8s.resource_quota", "payment", &args).unwrap();
    assert_eq!(
        m["spec"]["hard"],
        json!({ "requests.cpu": "2", "limits.cpu": "2", "requests.memory": "4Gi", "limits.memory": "4Gi" })
    );
}

#[test]
fn secret_provider_class_lists_objects_as_yaml() {
    let args = json!({ "kube": cluster(), "namespace": "payment",
        "objects": [{ "name": "arn:aws:secretsmanager:eu-west-1:1:secret:db", "alias": "db" }] });
    let m = render("k8s.secret_provider_class", "api", &args).unwrap();
    assert_eq!(
        m["spec"]["parameters"]["objects"],
        json!(
            "- objectName: \"arn:aws:secretsmanager:eu-west-1:1:secret:db\"\n  objectType: \"secretsmanager\"\n  objectAlias: \"db\"\n"
        )
    );
}

#[test]
fn typos_and_half_clusters_are_rejected() {
    let v = schema("k8s.deployment").validate;
    let err =
        v(&json!({ "kube": cluster(), "namespace": "p", "image": "x", "replica": 2 })).unwrap_err();
    assert!(err.message.contains("replica"), "{err}");
    let err =
        v(&json!({ "kube": { "name": "payments" }, "namespace": "p", "image": "x" })).unwrap_err();
    assert_eq!(
        err.message,
        "`kube` needs all of `name`, `endpoint` and `ca_data`"
    );
    v(&json!({ "kube": { "kubeconfig": "/k", "context": "c" }, "namespace": "p", "image": "x" }))
        .unwrap();
}

#[test]
fn generic_object_needs_a_name() {
    let args = json!({ "kube": cluster(), "manifest": { "apiVersion": "v1", "kind": "Secret", "metadata": {} } });
    assert_eq!(
        render("k8s.object", "x", &args).unwrap_err(),
        "`manifest.metadata.name` must be a string"
    );
}
