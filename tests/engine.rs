//! The engine over the fake test provider: plan, apply, update, replace,
//! delete, destroy, failures, crash recovery, secrets, drift, concurrency.

use std::sync::atomic::Ordering;

use payrun::address::Address;
use payrun::plan::{Action, Mode};
use serde_json::json;

use crate::support::engine::Stack;

const NETWORK: &str = r#"
let net = fake::network("main", #{ cidr: "10.0.0.0/16", dns: true });
let a = fake::subnet("a", #{ network_id: net.id, cidr: cidr_subnet("10.0.0.0/16", 8, 1) });
let b = fake::subnet("b", #{ network_id: net.id, cidr: cidr_subnet("10.0.0.0/16", 8, 2) });
let web = fake::server("web", #{
    subnet_id: a.id,
    size: "small",
    labels: #{ network: `net:${net.arn}`, subnet: "s-" + b.id },
});
export("endpoint", web.endpoint);
"#;

fn addr(s: &str) -> Address {
    s.parse().unwrap()
}

fn actions(plan: &payrun::plan::Plan) -> Vec<(String, Action)> {
    plan.changes
        .iter()
        .map(|c| (c.address.to_string(), c.action))
        .collect()
}

#[tokio::test]
async fn plan_apply_then_plan_again_is_a_no_op() {
    let s = Stack::new(NETWORK);
    let plan = s.plan().await;
    assert_eq!(plan.summary(), (4, 0, 0));
    let web = plan.change(&addr("fake.server.web")).unwrap();
    // Refs to resources not yet created are unknown at plan time.
    assert!(!payrun::value::is_known(web.after.as_ref().unwrap()));
    let summary = s.apply_plan(&plan).await;
    assert!(summary.ok(), "{summary}");
    assert_eq!(summary.created, 4);

    let state = s.state();
    assert_eq!(state.resources.len(), 4);
    let net_id = state.resources[&addr("fake.network.main")].id.clone();
    let web = &state.resources[&addr("fake.server.web")];
    // Refs inside interpolation, concatenation and nested maps resolved.
    assert_eq!(
        web.args["labels"]["network"],
        json!(format!("net:arn:fake:fake.network:{net_id}"))
    );
    assert!(
        web.args["labels"]["subnet"]
            .as_str()
            .unwrap()
            .starts_with("s-subnet-")
    );
    assert_eq!(web.args["tags"]["Name"], json!("server-web-qa"));
    assert_eq!(web.args["tags"]["payrun:stack"], json!("main.qa"));
    assert_eq!(web.args["tags"]["payrun:address"], json!("fake.server.web"));
    assert_eq!(
        state.outputs["endpoint"],
        json!("https://server-web-qa.fake.example")
    );
    assert_eq!(
        state.resources[&addr("fake.subnet.a")].deps,
        vec![addr("fake.network.main")]
    );

    let again = s.plan().await;
    assert!(!again.has_changes(), "{:?}", actions(&again));
    assert!(again.changes.iter().all(|c| c.action == Action::NoOp));
}

#[tokio::test]
async fn refresh_reads_each_kind_once_whatever_the_count() {
    let s = Stack::new(NETWORK);
    s.apply().await;
    let before = s.fake.calls.read.load(Ordering::SeqCst);
    s.plan().await;
    // Three kinds (network, subnet, server), four resources.
    assert_eq!(s.fake.calls.read.load(Ordering::SeqCst) - before, 3);
}

#[tokio::test]
async fn in_place_update_versus_replacement() {
    let s = Stack::new(NETWORK);
    s.apply().await;
    let old_subnet = s.state().resources[&addr("fake.subnet.b")].id.clone();

    s.write(&NETWORK.replace("size: \"small\"", "size: \"large\""));
    let plan = s.plan().await;
    let web = plan.change(&addr("fake.server.web")).unwrap();
    assert_eq!(web.action, Action::Update);
    assert_eq!(web.changes.len(), 1);
    assert_eq!(web.changes[0].name, "size");
    assert!(!web.changes[0].forces_replacement);
    assert!(s.apply_plan(&plan).await.ok());

    // A subnet CIDR forces replacement; the server refers to the subnet's
    // id only in a label (not a force-new arg), so it is updated in place.
    // Regression: the server's update once waited on the old subnet's
    // destroy, which waited on the new subnet: a cycle that ran nothing.
    s.write(
        &NETWORK
            .replace("size: \"small\"", "size: \"large\"")
            .replace("8, 2)", "8, 3)"),
    );
    let plan = s.plan().await;
    let b = plan.change(&addr("fake.subnet.b")).unwrap();
    assert_eq!(b.action, Action::Replace);
    assert_eq!(
        b.replace_because,
        vec!["`cidr` forces replacement".to_string()]
    );
    assert_eq!(
        plan.change(&addr("fake.server.web")).unwrap().action,
        Action::Update
    );
    assert_eq!(plan.summary(), (1, 1, 1));
    let summary = s.apply_plan(&plan).await;
    assert!(summary.ok(), "{summary}");
    let state = s.state();
    let new_subnet = &state.resources[&addr("fake.subnet.b")];
    assert_ne!(new_subnet.id, old_subnet);
    assert!(!s.fake.objects().contains_key(&old_subnet));
    assert_eq!(
        state.resources[&addr("fake.server.web")].args["labels"]["subnet"],
        json!(format!("s-{}", new_subnet.id))
    );
    assert!(!s.plan().await.has_changes());
}

#[tokio::test]
async fn a_resource_removed_from_the_program_is_destroyed() {
    let s = Stack::new(NETWORK);
    s.apply().await;
    let b_id = s.state().resources[&addr("fake.subnet.b")].id.clone();
    s.write(&NETWORK.replace(
        r#"let b = fake::subnet("b", #{ network_id: net.id, cidr: cidr_subnet("10.0.0.0/16", 8, 2) });"#,
        "",
    ).replace("\"s-\" + b.id", "\"none\""));
    let plan = s.plan().await;
    assert_eq!(
        plan.change(&addr("fake.subnet.b")).unwrap().action,
        Action::Delete
    );
    assert_eq!(
        plan.change(&addr("fake.server.web")).unwrap().action,
        Action::Update
    );
    assert!(s.apply_plan(&plan).await.ok());
    assert!(!s.fake.objects().contains_key(&b_id));
    assert!(!s.state().resources.contains_key(&addr("fake.subnet.b")));
}

#[tokio::test]
async fn destroy_works_after_the_program_file_is_deleted() {
    let s = Stack::new(NETWORK);
    s.apply().await;
    std::fs::remove_file(s.program()).unwrap();
    let plan = s.plan_mode(Mode::Destroy).await;
    assert_eq!(plan.summary(), (0, 0, 4));
    let summary = s.apply_plan(&plan).await;
    assert!(summary.ok(), "{summary}");
    assert_eq!(summary.destroyed, 4);
    assert!(s.fake.objects().is_empty());
    assert!(s.state().resources.is_empty());
    assert!(s.state().outputs.is_empty());
}

#[tokio::test]
async fn destroy_follows_recorded_dependencies_in_reverse() {
    let s = Stack::new(NETWORK);
    s.apply().await;
    // Deleting the network while subnets exist fails in the fake cloud only
    // if the order is wrong; record the order through latency-free deletes.
    let plan = s.plan_mode(Mode::Destroy).await;
    let hook_order = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    struct Order(std::sync::Arc<std::sync::Mutex<Vec<String>>>);
    impl payrun::apply::Hook for Order {
        fn started(&self, a: &Address, _: payrun::apply::OpKind) {
            self.0.lock().unwrap().push(a.to_string());
        }
        fn progress(&self, _: &Address, _: payrun::apply::OpKind, _: &str) {}
        fn finished(
            &self,
            _: &Address,
            _: payrun::apply::OpKind,
            _: &payrun::apply::Outcome,
            _: std::time::Duration,
        ) {
        }
        fn message(&self, _: &str) {}
        fn summary(&self, _: &payrun::apply::ApplySummary) {}
    }
    let (summary, _) = payrun::apply::apply(
        &plan,
        s.state(),
        std::sync::Arc::new(s.store()),
        s.registry.clone(),
        std::sync::Arc::new(Order(hook_order.clone())),
        payrun::apply::ApplyOptions {
            parallelism: 1,
            ..Default::default()
        },
        std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false)),
    )
    .await
    .unwrap();
    assert!(summary.ok());
    let order = hook_order.lock().unwrap().clone();
    let pos = |a: &str| order.iter().position(|x| x == a).unwrap();
    assert!(pos("fake.server.web") < pos("fake.subnet.a"));
    assert!(pos("fake.server.web") < pos("fake.subnet.b"));
    assert!(pos("fake.subnet.a") < pos("fake.network.main"));
    assert!(pos("fake.subnet.b") < pos("fake.network.main"));
}

#[tokio::test]
async fn a_failure_skips_only_its_dependents_and_a_rerun_finishes() {
    let s = Stack::new(NETWORK);
    s.fake.set_config(|c| {
        c.fail.insert("fake.subnet.a".into());
    });
    let summary = s.apply().await;
    assert!(!summary.ok());
    assert_eq!(summary.failed.len(), 1);
    assert_eq!(summary.failed[0].0, addr("fake.subnet.a"));
    assert!(
        summary.failed[0].1.contains("injected failure"),
        "{}",
        summary.failed[0].1
    );
    assert_eq!(summary.skipped, vec![addr("fake.server.web")]);
    let state = s.state();
    // The independent branch finished and was saved.
    assert!(state.resources.contains_key(&addr("fake.network.main")));
    assert!(state.resources.contains_key(&addr("fake.subnet.b")));
    assert!(!state.resources.contains_key(&addr("fake.server.web")));

    s.fake.set_config(|c| c.fail.clear());
    let plan = s.plan().await;
    assert_eq!(plan.summary(), (2, 0, 0));
    assert!(s.apply_plan(&plan).await.ok());
    assert_eq!(s.fake.objects().len(), 4);
    assert!(!s.plan().await.has_changes());
}

#[tokio::test]
async fn a_crash_between_create_and_state_write_is_adopted_not_duplicated() {
    let s = Stack::new(NETWORK);
    s.fake.set_config(|c| {
        c.lose_create_reply.insert("fake.subnet.a".into());
    });
    let summary = s.apply().await;
    assert!(!summary.ok());
    // The subnet exists in the cloud but not in state: only its intent.
    assert_eq!(
        s.fake
            .objects()
            .values()
            .filter(|o| o.kind == "fake.subnet")
            .count(),
        2
    );
    let state = s.state();
    assert!(!state.resources.contains_key(&addr("fake.subnet.a")));
    assert!(state.intents.contains_key(&addr("fake.subnet.a")));

    s.fake.set_config(|c| c.lose_create_reply.clear());
    let plan = s.plan().await;
    assert_eq!(plan.interrupted, vec![addr("fake.subnet.a")]);
    let summary = s.apply_plan(&plan).await;
    assert!(summary.ok(), "{summary}");
    assert_eq!(summary.adopted, 1);
    let objects = s.fake.objects();
    assert_eq!(
        objects.values().filter(|o| o.kind == "fake.subnet").count(),
        2,
        "no duplicate subnet"
    );
    assert_eq!(objects.len(), 4);
    let state = s.state();
    assert!(state.intents.is_empty());
    assert_eq!(state.resources.len(), 4);
    assert!(objects.contains_key(&state.resources[&addr("fake.subnet.a")].id));
    assert!(!s.plan().await.has_changes());
}

#[tokio::test]
async fn secret_values_never_reach_state_or_plan() {
    let secret = "s3cr3t-value-that-must-not-leak";
    // SAFETY: tests that read this variable use a name no other test uses.
    unsafe { std::env::set_var("ENGINE_TEST_DB_SECRET", secret) };
    let s = Stack::new(
        r#"fake::secret("db", #{ value: secret_env("ENGINE_TEST_DB_SECRET"), description: "db" });"#,
    );
    s.allow_secret_env("ENGINE_TEST_DB_SECRET");
    let plan = s.plan().await;
    let plan_json = serde_json::to_string(&plan).unwrap();
    let plan_text = payrun::ui::render_plan(&plan, &payrun::ui::Style::plain());
    assert!(!plan_json.contains(secret));
    assert!(!plan_text.contains(secret));
    assert!(plan_text.contains("(sensitive)"), "{plan_text}");
    assert!(s.apply_plan(&plan).await.ok());
    // The provider got the value ...
    let obj = s.fake.objects().into_values().next().unwrap();
    assert_eq!(obj.args["value"], json!(secret));
    // ... the state only a digest.
    let state_text = std::fs::read_to_string(s.store().path()).unwrap();
    assert!(!state_text.contains(secret));
    // The digest is keyed by the stack key: `printf VALUE | sha256sum`
    // does not reproduce it.
    assert!(state_text.contains("hmac-sha256:"), "{state_text}");
    let plain = plain_sha256(secret);
    assert!(!state_text.contains(&plain));
    assert!(!plan_json.contains(&plain));
    assert!(!s.plan().await.has_changes());

    // A changed secret is an update, still without the value.
    unsafe { std::env::set_var("ENGINE_TEST_DB_SECRET", "another-secret-value") };
    let plan = s.plan().await;
    assert_eq!(
        plan.change(&addr("fake.secret.db")).unwrap().action,
        Action::Update
    );
    assert!(
        !serde_json::to_string(&plan)
            .unwrap()
            .contains("another-secret-value")
    );
}

#[tokio::test]
async fn a_saved_plan_is_refused_once_the_state_has_changed() {
    let s = Stack::new(NETWORK);
    let stale = s.plan().await;
    s.apply().await;
    let err = payrun::apply::apply(
        &stale,
        s.state(),
        std::sync::Arc::new(s.store()),
        s.registry.clone(),
        std::sync::Arc::new(payrun::ui::PlainView::new(Box::new(std::io::sink()))),
        Default::default(),
        std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false)),
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(
        err.starts_with("the saved plan was made for state serial 0 of lineage"),
        "{err}"
    );
    assert!(err.contains("make a new plan"), "{err}");
}

#[tokio::test]
async fn drift_is_shown_and_repaired() {
    let s = Stack::new(NETWORK);
    s.apply().await;
    let state = s.state();
    let web = state.resources[&addr("fake.server.web")].id.clone();
    let b = state.resources[&addr("fake.subnet.b")].id.clone();
    s.fake.set_out_of_band(&web, "size", json!("huge"));
    s.fake.remove_out_of_band(&b);
    let plan = s.plan().await;
    let w = plan.change(&addr("fake.server.web")).unwrap();
    assert_eq!(w.action, Action::Update);
    assert_eq!(
        w.drift,
        vec!["`size` changed outside payrun: \"small\" → \"huge\"".to_string()]
    );
    let sb = plan.change(&addr("fake.subnet.b")).unwrap();
    assert_eq!(sb.action, Action::Create);
    assert_eq!(sb.drift, vec!["deleted outside payrun".to_string()]);
    let text = payrun::ui::render_plan(&plan, &payrun::ui::Style::plain());
    assert!(text.contains("(drift: deleted outside payrun)"), "{text}");
    assert!(s.apply_plan(&plan).await.ok());
    assert!(!s.plan().await.has_changes());
}

#[tokio::test]
async fn operations_under_one_concurrency_key_run_one_at_a_time() {
    let s = Stack::new(
        r#"
for i in 0..4 {
    fake::profile(`p${i}`, #{ cluster: "one", selectors: [`ns${i}`] });
    fake::profile(`q${i}`, #{ cluster: "two", selectors: [`ns${i}`] });
}
"#,
    );
    s.fake
        .set_config(|c| c.latency = std::time::Duration::from_millis(30));
    let summary = s.apply().await;
    assert!(summary.ok());
    assert_eq!(s.fake.max_in_flight("fake.profile:one"), 1);
    assert_eq!(s.fake.max_in_flight("fake.profile:two"), 1);
}

#[tokio::test]
async fn explicit_depends_on_orders_creation() {
    let s = Stack::new(
        r#"
let a = fake::network("a", #{ cidr: "10.1.0.0/16" });
let b = fake::network("b", #{ cidr: "10.2.0.0/16" });
depends_on(b, a);
"#,
    );
    let (graph, program) = s.evaluate().unwrap();
    assert_eq!(
        graph.deps(&addr("fake.network.b")),
        vec![addr("fake.network.a")]
    );
    assert!(
        graph
            .to_dot(&program)
            .contains("\"fake.network.b\" -> \"fake.network.a\"")
    );
}

#[tokio::test]
async fn error_findings_block_apply_until_acknowledged() {
    let s = Stack::new(
        r#"
fake::network("main", #{ cidr: "10.0.0.0/16" });
plan_error("capacity model needs 12 vCPU, quota allows 8", "raise the quota");
"#,
    );
    let plan = s.plan().await;
    assert!(plan.has_errors());
    let f = &plan.findings[0];
    assert_eq!(f.message, "capacity model needs 12 vCPU, quota allows 8");
    assert_eq!(f.remedy.as_deref(), Some("raise the quota"));
    assert!(
        f.source.as_deref().unwrap().ends_with("main.rhai:3:1"),
        "{:?}",
        f.source
    );
    let err = payrun::apply::apply(
        &plan,
        s.state(),
        std::sync::Arc::new(s.store()),
        s.registry.clone(),
        std::sync::Arc::new(payrun::ui::PlainView::new(Box::new(std::io::sink()))),
        Default::default(),
        std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false)),
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("error [program]: capacity model needs 12 vCPU"),
        "{err}"
    );
    assert!(s.fake.objects().is_empty(), "no provider call was made");

    s.write(
        r#"
fake::network("main", #{ cidr: "10.0.0.0/16" });
plan_error("capacity model needs 12 vCPU, quota allows 8", "raise the quota");
acknowledge("program", "load test environment");
"#,
    );
    let plan = s.plan().await;
    assert!(!plan.has_errors());
    assert_eq!(
        plan.findings[0]
            .message
            .replace(&s.program().display().to_string(), "main.rhai"),
        "capacity model needs 12 vCPU, quota allows 8 (acknowledged in the program at main.rhai:4:1: load test environment)"
    );
    assert!(s.apply_plan(&plan).await.ok());
}

/// `printf VALUE | sha256sum`, which must not confirm a secret.
fn plain_sha256(value: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(value.as_bytes()))
}

/// `pods` stands for a security group the pods of `api` use: replacing it
/// must never leave `api` pointing at a deleted object (the fake cloud
/// refuses to delete what another object names, as EC2 does).
const PODS: &str = r#"
let base = fake::network("base", #{ cidr: "10.0.0.0/16" });
let subnet = fake::subnet("a", #{ network_id: base.id, cidr: "10.0.1.0/24" });
let pods = fake::network("pods", #{ cidr: "CIDR" });
fake::server("api", #{ subnet_id: subnet.id, size: "small", labels: #{ security_group: pods.id } });
"#;

fn pods(cidr: &str) -> String {
    PODS.replace("CIDR", cidr)
}

fn journal(s: &Stack) -> Vec<String> {
    std::mem::take(&mut *s.fake.journal.lock().unwrap())
}

/// A forced replacement of something in the traffic path makes the new
/// one first (`+/-`, its name in the next generation), moves its
/// dependents onto it, and only then deletes the old one.
#[tokio::test]
async fn a_replacement_makes_the_new_object_before_deleting_the_old() {
    let s = Stack::new(&pods("10.1.0.0/16"));
    assert!(s.apply().await.ok());
    let first = s.state().resources[&addr("fake.network.pods")].clone();
    assert_eq!(first.name, "net-pods-qa");
    journal(&s);

    s.write(&pods("10.2.0.0/16"));
    let plan = s.plan().await;
    let change = plan.change(&addr("fake.network.pods")).unwrap();
    assert_eq!(change.action, Action::Replace);
    assert!(change.create_before_destroy);
    assert_eq!(change.name, "net-pods-qa-2");
    assert_eq!(
        plan.change(&addr("fake.server.api")).unwrap().action,
        Action::Update
    );
    let text = payrun::ui::render_plan(&plan, &payrun::ui::Style::plain());
    assert!(
        text.contains("  # fake.network.pods must be replaced: the new one is made first, then the old one deleted\n"),
        "{text}"
    );
    assert!(
        text.contains("  +/- fake.network \"net-pods-qa-2\" {"),
        "{text}"
    );
    assert!(s.apply_plan(&plan).await.ok());

    let now = s.state().resources[&addr("fake.network.pods")].clone();
    let server = s.state().resources[&addr("fake.server.api")].id.clone();
    assert_eq!(
        journal(&s),
        vec![
            format!("create fake.network.pods {}", now.id),
            format!("update fake.server.api {server}"),
            format!("delete fake.network.pods {}", first.id),
        ]
    );
    assert_eq!((now.name.as_str(), now.generation), ("net-pods-qa-2", 1));
    assert!(now.deposed.is_empty());
    assert!(!s.fake.objects().contains_key(&first.id));
    assert!(!s.plan().await.has_changes());

    // And again: the next generation.
    s.write(&pods("10.3.0.0/16"));
    assert!(s.apply().await.ok());
    let third = &s.state().resources[&addr("fake.network.pods")];
    assert_eq!(
        (third.name.as_str(), third.generation),
        ("net-pods-qa-3", 2)
    );
}

/// An apply that stops after the new object exists but before its
/// dependents moved (their update failed) keeps the old object, recorded
/// as deposed: nothing points at a deleted object, and the next apply
/// moves the dependents and deletes it.
#[tokio::test]
async fn a_replacement_interrupted_before_the_move_keeps_the_old_object_until_it_is_free() {
    let s = Stack::new(&pods("10.1.0.0/16"));
    assert!(s.apply().await.ok());
    let first = s.state().resources[&addr("fake.network.pods")].id.clone();
    s.write(&pods("10.2.0.0/16"));
    s.fake.set_config(|c| {
        c.fail.insert("fake.server.api".into());
    });
    let summary = s.apply().await;
    assert_eq!(summary.failed.len(), 1, "{:?}", summary.failed);
    let state = s.state();
    let pods_now = &state.resources[&addr("fake.network.pods")];
    assert_ne!(pods_now.id, first);
    assert_eq!(pods_now.deposed.len(), 1);
    assert_eq!(pods_now.deposed[0].id, first);
    assert!(
        s.fake.objects().contains_key(&first),
        "the old one is still used"
    );

    s.fake.set_config(|c| c.fail.clear());
    let plan = s.plan().await;
    let change = plan.change(&addr("fake.network.pods")).unwrap();
    assert_eq!(change.deposed, vec![first.clone()]);
    assert_eq!(plan.summary(), (0, 1, 1));
    let text = payrun::ui::render_plan(&plan, &payrun::ui::Style::plain());
    assert!(
        text.contains(&format!(
            "({first}, which it replaced earlier, is still live: deleted once nothing uses it)"
        )),
        "{text}"
    );
    assert!(s.apply_plan(&plan).await.ok());
    assert!(!s.fake.objects().contains_key(&first));
    assert!(
        s.state().resources[&addr("fake.network.pods")]
            .deposed
            .is_empty()
    );
    assert!(!s.plan().await.has_changes());

    // Destroy leaves nothing.
    let plan = s.plan_mode(Mode::Destroy).await;
    assert!(s.apply_plan(&plan).await.ok());
    assert!(s.fake.objects().is_empty(), "{:?}", s.fake.objects());
}

/// A resource handle passed as an argument stands for the output the
/// argument takes: `*_arn` its ARN, `*_name` its name, else its id (or
/// what the kind declares, `kms_key` an ARN), alone or in a list.
#[test]
fn a_handle_stands_for_the_output_its_argument_takes() {
    let s = Stack::product(
        r#"
let role = aws::iam::role("app", #{ assume_role_policy: #{ Version: "2012-10-17", Statement: [] } });
let pol = aws::iam::policy("app", #{ policy: #{ Version: "2012-10-17", Statement: [] } });
aws::iam::role_policy_attachment("app", #{ role: role, policy: pol });
let key = aws::kms::key("data", #{ description: "data" });
aws::s3::bucket("data", #{ encryption: "aws:kms", kms_key: key });
let vpc = aws::ec2::vpc("main", #{ cidr: "10.0.0.0/16" });
let a = aws::ec2::subnet("a", #{ vpc: vpc, cidr: "10.0.1.0/24", az: "us-east-1a" });
let b = aws::ec2::subnet("b", #{ vpc: vpc.id, cidr: "10.0.2.0/24", az: "us-east-1b" });
aws::ec2::route_table("main", #{ vpc: vpc });
aws::eks::cluster("main", #{ version: "1.31", role: role, subnets: [a, b] });
"#,
    );
    let (graph, _) = s.evaluate().unwrap();
    let args = |a: &str| graph.spec(&addr(a)).unwrap().args.clone();
    let r = |a: &str, attr: &str| json!({ "$ref": format!("{a}#{attr}") });
    let attachment = args("aws.iam.role_policy_attachment.app");
    assert_eq!(attachment["role"], r("aws.iam.role.app", "id"));
    assert_eq!(attachment["policy"], r("aws.iam.policy.app", "arn"));
    assert_eq!(
        args("aws.s3.bucket.data")["kms_key"],
        r("aws.kms.key.data", "arn")
    );
    assert_eq!(
        args("aws.ec2.subnet.a")["vpc"],
        args("aws.ec2.subnet.b")["vpc"]
    );
    let cluster = args("aws.eks.cluster.main");
    assert_eq!(cluster["role"], r("aws.iam.role.app", "arn"));
    assert_eq!(
        cluster["subnets"],
        json!([r("aws.ec2.subnet.a", "id"), r("aws.ec2.subnet.b", "id")])
    );
    assert!(
        graph
            .deps(&addr("aws.eks.cluster.main"))
            .contains(&addr("aws.iam.role.app"))
    );
}
