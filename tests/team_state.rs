//! Team state: stacks kept in an S3 bucket (moto's S3 and KMS) with a
//! leased lock, sealed objects, history and cross-stack outputs, driven
//! through the real binary. Cloud resources are the fake provider's, kept
//! in one file that every checkout of a test shares.

use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use predicates::str::contains;

use crate::support::bin::Project;
use crate::support::bin::text;
use crate::support::fault::Rng;
use crate::support::moto::client_env;
use crate::support::team::{Team, foreign_lock};

const PROGRAM: &str = r#"
let net = fake::network("main", #{ cidr: config().vars.cidr ?? "10.0.0.0/16" });
let a = fake::subnet("a", #{ network_id: net.id, cidr: "10.0.1.0/24" });
let web = fake::server("web", #{ subnet_id: a.id, size: config().vars.size ?? "small" });
export("network_id", net.id);
export("endpoint", web.endpoint);
"#;

const STACK: &str = "main.qa";

/// A checkout of the project keeping its state in `team`'s bucket; its
/// fake cloud is `cloud`'s (the same cloud for every checkout).
fn checkout(team: &Team, cloud: Option<&Project>, lease: &str, renew: &str) -> Project {
    let p = Project::new(PROGRAM);
    p.add_to_project_file(&team.toml(lease, renew));
    if let Some(c) = cloud {
        std::fs::write(p.path().join(".cloud"), c.cloud().display().to_string()).unwrap();
    }
    p
}

fn cloud_of(p: &Project) -> std::path::PathBuf {
    std::fs::read_to_string(p.path().join(".cloud"))
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| p.cloud())
}

fn payrun(p: &Project) -> assert_cmd::Command {
    let mut cmd = p.payrun();
    cmd.env("PAYRUN_FAKE_CLOUD", cloud_of(p)).envs(client_env());
    cmd
}

/// The binary as a child process, for runs that overlap or get killed.
fn spawn(p: &Project, args: &[&str], envs: &[(&str, &str)]) -> Child {
    Command::new(assert_cmd::cargo::cargo_bin("payrun"))
        .current_dir(p.path())
        .args(args)
        .env("PAYRUN_FAKE_CLOUD", cloud_of(p))
        .env("NO_COLOR", "1")
        .env_remove("PAYRUN_LOG")
        .envs(client_env())
        .envs(envs.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn objects(p: &Project) -> serde_json::Map<String, serde_json::Value> {
    let bytes = std::fs::read(cloud_of(p)).unwrap_or_else(|_| b"{}".to_vec());
    let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    v.get("objects")
        .and_then(|o| o.as_object())
        .cloned()
        .unwrap_or_default()
}

fn pull(p: &Project) -> serde_json::Value {
    let out = payrun(p).args(["state", "pull"]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn wait_for(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn seed() -> u64 {
    let seed = std::env::var("PAYRUN_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    eprintln!("seed {seed} (replay with PAYRUN_TEST_SEED={seed})");
    seed
}

#[test]
fn state_in_the_bucket_is_sealed_versioned_and_shared_by_checkouts() {
    let team = Team::new("share");
    let a = checkout(&team, None, "2m", "30s");
    payrun(&a)
        .args(["apply", "--auto-approve"])
        .assert()
        .success()
        .stderr(contains(format!(
            "Turned on versioning of bucket {}",
            team.bucket
        )));
    assert!(team.versioning_enabled());
    assert!(!a.path().join(".payrun/main.qa.json").exists());

    // Reading the bucket is not reading the state: neither the state nor
    // the stack key is JSON or names a resource.
    for name in ["state.json", "key"] {
        let raw = team.get(STACK, name).expect("object stored");
        assert!(raw.starts_with(b"PAYRUN-SEALED/1\n"), "{name}");
        assert!(serde_json::from_slice::<serde_json::Value>(&raw).is_err());
        let shown = String::from_utf8_lossy(&raw);
        assert!(!shown.contains("fake.network"), "{name}: {shown}");
        assert!(!shown.contains("lineage"), "{name}: {shown}");
    }
    assert!(
        team.get(STACK, "lock").is_none(),
        "released after the apply"
    );

    // A second checkout on the same bucket sees the same stack.
    let b = checkout(&team, Some(&a), "2m", "30s");
    payrun(&b)
        .args(["plan", "--detailed-exitcode"])
        .assert()
        .code(0)
        .stdout(contains("No changes."));
    let out = payrun(&b)
        .args(["apply", "--auto-approve", "--var", "size=large"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("versioning"),
        "versioning is asked for once: {}",
        text(&out)
    );
    payrun(&a)
        .args(["plan", "--detailed-exitcode", "--var", "size=large"])
        .assert()
        .code(0);
    assert_eq!(objects(&a).len(), 3);

    // A sealed state is bound to its stack: copied under another stack's
    // name it does not open.
    std::fs::write(a.path().join("programs/other.rhai"), PROGRAM).unwrap();
    team.put(
        "other.qa",
        "state.json",
        &team.get(STACK, "state.json").unwrap(),
    );
    payrun(&a)
        .args(["state", "pull", "--program", "programs/other.rhai"])
        .assert()
        .failure()
        .stderr(contains(format!(
            "cannot open s3://{}/platform/other.qa/state.json",
            team.bucket
        )))
        .stderr(contains("this identity needs kms:Decrypt"));
}

#[test]
fn two_applies_at_once_one_waits_or_is_refused_naming_the_holder() {
    let mut rng = Rng::new(seed());
    let team = Team::new("race");
    let a = checkout(&team, None, "2m", "30s");
    let b = checkout(&team, Some(&a), "2m", "30s");
    let latency = (200 + rng.below(300)).to_string();
    let env = [("PAYRUN_FAKE_LATENCY_MS", latency.as_str())];

    // Without --lock-timeout: one applies, the other is refused.
    let first = spawn(&a, &["apply", "--auto-approve"], &env);
    std::thread::sleep(Duration::from_millis(rng.below(150)));
    let second = spawn(&b, &["apply", "--auto-approve"], &env);
    let outs = [
        first.wait_with_output().unwrap(),
        second.wait_with_output().unwrap(),
    ];
    let ok: Vec<&Output> = outs.iter().filter(|o| o.status.success()).collect();
    let refused: Vec<&Output> = outs.iter().filter(|o| !o.status.success()).collect();
    assert_eq!(
        (ok.len(), refused.len()),
        (1, 1),
        "{}\n{}",
        text(&outs[0]),
        text(&outs[1])
    );
    let why = String::from_utf8_lossy(&refused[0].stderr);
    assert!(
        why.contains("state for stack `main.qa` is locked by pid ")
            && why.contains("(`payrun apply`, since")
            && why.contains("its lease runs until"),
        "{why}"
    );
    assert_eq!(objects(&a).len(), 3, "no duplicates");
    let serial = pull(&a)["serial"].as_u64().unwrap();

    // With --lock-timeout: the second waits, then finds nothing to do.
    let first = spawn(
        &a,
        &["apply", "--auto-approve", "--var", "size=large"],
        &env,
    );
    wait_for("the first apply's lock", Duration::from_secs(20), || {
        team.get(STACK, "lock").is_some()
    });
    let second = spawn(
        &b,
        &[
            "apply",
            "--auto-approve",
            "--var",
            "size=large",
            "--lock-timeout",
            "60s",
        ],
        &env,
    );
    let (o1, o2) = (
        first.wait_with_output().unwrap(),
        second.wait_with_output().unwrap(),
    );
    assert!(o1.status.success(), "{}", text(&o1));
    assert!(o2.status.success(), "{}", text(&o2));
    let waited = String::from_utf8_lossy(&o2.stderr);
    assert!(
        waited.contains("Waiting for the lock of stack `main.qa`, held by pid"),
        "{waited}"
    );
    assert!(
        String::from_utf8_lossy(&o2.stdout).contains("No changes."),
        "{}",
        text(&o2)
    );
    assert_eq!(objects(&a).len(), 3, "no duplicates");
    let state = pull(&a);
    assert_eq!(state["resources"].as_object().unwrap().len(), 3);
    assert!(state["serial"].as_u64().unwrap() > serial);
}

#[test]
fn a_holder_killed_with_kill_9_is_taken_over_when_its_lease_runs_out() {
    let team = Team::new("kill");
    let a = checkout(&team, None, "3s", "1s");
    let b = checkout(&team, Some(&a), "3s", "1s");
    let mut holder = spawn(
        &a,
        &["apply", "--auto-approve"],
        &[("PAYRUN_FAKE_LATENCY_MS", "1500")],
    );
    let pid = holder.id();
    // Killed once the first create is recorded.
    wait_for("a first recorded resource", Duration::from_secs(30), || {
        team.get(STACK, "state.json").is_some()
    });
    std::thread::sleep(Duration::from_millis(300));
    Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
    let _ = holder.wait();
    assert!(
        team.get(STACK, "lock").is_some(),
        "a killed holder leaves its lock"
    );

    let started = Instant::now();
    let out = payrun(&b)
        .args(["apply", "--auto-approve", "--lock-timeout", "30s"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "Took over the lock of stack `main.qa` from pid {pid} on"
        )) && err.contains("its lease ran out without a renewal."),
        "{err}"
    );
    assert!(started.elapsed() < Duration::from_secs(25));
    assert_eq!(
        objects(&a).len(),
        3,
        "what the killed run made is adopted, not made again"
    );
    assert_eq!(pull(&b)["resources"].as_object().unwrap().len(), 3);
}

#[test]
fn a_lock_lost_mid_apply_stops_it_and_keeps_its_state_locally() {
    let team = Team::new("lost");
    let a = checkout(&team, None, "3s", "1s");
    let run = spawn(
        &a,
        &["apply", "--auto-approve"],
        &[("PAYRUN_FAKE_LATENCY_MS", "1500")],
    );
    wait_for("a first recorded resource", Duration::from_secs(30), || {
        team.get(STACK, "state.json").is_some()
    });
    // Another run takes the lock behind this one's back.
    team.put(STACK, "lock", &foreign_lock(60));
    let out = run.wait_with_output().unwrap();
    assert!(!out.status.success(), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("the lock of stack `main.qa` was lost during the apply (it was taken over by pid 4242 on ci@ci-runner-7"),
        "{err}"
    );
    let kept = err
        .split("their state is kept in ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .unwrap_or_else(|| panic!("no kept path in: {err}"))
        .to_string();
    let kept_bytes = std::fs::read(&kept).unwrap();
    assert!(kept_bytes.starts_with(b"PAYRUN-SEALED/1\n"), "kept sealed");
    assert!(objects(&a).len() < 3, "nothing started after the loss");

    // Once the other run is gone, the kept state is pushed: nothing that
    // was made is forgotten.
    team.delete(STACK, "lock");
    payrun(&a)
        .args(["state", "push", &kept])
        .assert()
        .success()
        .stdout(contains("as serial"));
    let state = pull(&a);
    let recorded: Vec<String> = state["resources"]
        .as_object()
        .unwrap()
        .values()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    for id in objects(&a).keys() {
        assert!(recorded.contains(id), "{id} made but not recorded: {state}");
    }
    payrun(&a)
        .args(["apply", "--auto-approve"])
        .assert()
        .success();
    assert_eq!(objects(&a).len(), 3);
}

#[test]
fn a_lock_removed_mid_apply_is_taken_again_and_state_written_to_the_bucket() {
    let team = Team::new("removed");
    let a = checkout(&team, None, "3s", "1s");
    let run = spawn(
        &a,
        &["apply", "--auto-approve"],
        &[("PAYRUN_FAKE_LATENCY_MS", "1500")],
    );
    wait_for("a first recorded resource", Duration::from_secs(30), || {
        team.get(STACK, "state.json").is_some()
    });
    team.delete(STACK, "lock");
    let out = run.wait_with_output().unwrap();
    assert!(!out.status.success(), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("was lost during the apply (it was removed")
            && err.contains("under a fresh lock"),
        "{err}"
    );
    let state = pull(&a);
    assert_eq!(
        state["resources"].as_object().unwrap().len(),
        objects(&a).len(),
        "{state}"
    );
    assert!(
        team.get(STACK, "lock").is_none(),
        "the fresh lock is released"
    );
}

#[test]
fn a_stale_push_is_refused_and_history_and_rollback_work() {
    let team = Team::new("push");
    let a = checkout(&team, None, "2m", "30s");
    payrun(&a)
        .args(["apply", "--auto-approve"])
        .assert()
        .success();
    let old = pull(&a);
    let old_serial = old["serial"].as_u64().unwrap();
    std::fs::write(a.path().join("old.json"), old.to_string()).unwrap();
    payrun(&a)
        .args(["apply", "--auto-approve", "--var", "size=large"])
        .assert()
        .success();
    let now = pull(&a)["serial"].as_u64().unwrap();
    assert!(now > old_serial);

    payrun(&a)
        .args(["state", "push", "old.json"])
        .assert()
        .failure()
        .stderr(contains(format!(
            "old.json is serial {old_serial}, older than the stored serial {now} of stack `main.qa`"
        )));
    let mut other = old.clone();
    other["lineage"] = "another-lineage".into();
    other["serial"] = (now + 5).into();
    std::fs::write(a.path().join("other.json"), other.to_string()).unwrap();
    payrun(&a)
        .args(["state", "push", "other.json"])
        .assert()
        .failure()
        .stderr(contains("is of lineage another-lineage"));

    // History: one version per write, newest first, with who and what.
    let out = payrun(&a).args(["state", "history"]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let listing = String::from_utf8_lossy(&out.stdout).to_string();
    let serials: Vec<u64> = listing
        .lines()
        .skip(1)
        .map(|l| l.split('\t').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(serials.len() as u64, now, "{listing}");
    assert!(serials.windows(2).all(|w| w[0] > w[1]), "{listing}");
    assert!(listing.contains("\tpayrun apply"), "{listing}");

    // Rollback asks; `yes` writes the old version as the newest.
    payrun(&a)
        .args(["state", "rollback", &old_serial.to_string()])
        .write_stdin("no\n")
        .assert()
        .failure();
    payrun(&a)
        .args(["state", "rollback", &old_serial.to_string()])
        .write_stdin("yes\n")
        .assert()
        .success()
        .stdout(contains(format!(
            "Rolled stack `main.qa` back to serial {old_serial}, written as serial {}.",
            now + 1
        )));
    let back = pull(&a);
    assert_eq!(back["serial"].as_u64().unwrap(), now + 1);
    assert_eq!(back["resources"], old["resources"]);

    // Renaming an address touches only state.
    payrun(&a)
        .args(["state", "mv", "fake.server.web", "fake.server.front"])
        .assert()
        .success();
    let moved = pull(&a);
    assert!(moved["resources"].get("fake.server.front").is_some());
    assert!(moved["resources"].get("fake.server.web").is_none());
    assert_eq!(objects(&a).len(), 3);
}

#[test]
fn migrate_moves_a_local_stack_into_the_bucket_and_back() {
    let team = Team::new("migrate");
    let p = Project::new(PROGRAM);
    p.add_to_project_file(&format!(
        "endpoint_url = \"{}\"\n",
        crate::support::moto::moto().endpoint
    ));
    payrun(&p)
        .args(["apply", "--auto-approve"])
        .assert()
        .success();
    let before = std::fs::read_to_string(p.path().join(".payrun/main.qa.json")).unwrap();
    let before: serde_json::Value = serde_json::from_str(&before).unwrap();
    let url = team.url();
    let kms = team.kms_key.clone();
    payrun(&p)
        .args(["state", "migrate", "--to", &url, "--state-kms-key", &kms])
        .assert()
        .success()
        .stdout(contains("Moved stack `main.qa` (serial"));
    assert!(!p.path().join(".payrun/main.qa.json").exists());
    assert!(p.path().join(".payrun/main.qa.json.migrated").exists());
    payrun(&p)
        .args([
            "plan",
            "--detailed-exitcode",
            "--state",
            &url,
            "--state-kms-key",
            &kms,
        ])
        .assert()
        .code(0)
        .stdout(contains("No changes."));
    let s3_state = {
        let out = payrun(&p)
            .args(["state", "pull", "--state", &url, "--state-kms-key", &kms])
            .output()
            .unwrap();
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    assert_eq!(s3_state["lineage"], before["lineage"]);
    assert_eq!(s3_state["resources"], before["resources"]);

    payrun(&p)
        .args([
            "state",
            "migrate",
            "--to",
            "local",
            "--state",
            &url,
            "--state-kms-key",
            &kms,
        ])
        .assert()
        .success();
    assert!(team.get(STACK, "state.json").is_none());
    payrun(&p)
        .args(["plan", "--detailed-exitcode"])
        .assert()
        .code(0);
    let after: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(p.path().join(".payrun/main.qa.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(after["lineage"], before["lineage"]);
    assert_eq!(after["resources"], before["resources"]);
    // The stack key came back with the state.
    assert_eq!(
        std::fs::read(p.path().join(".payrun/main.qa.key"))
            .unwrap()
            .len(),
        32
    );
}

const NETWORK: &str = r#"
let net = fake::network("core", #{ cidr: "10.8.0.0/16" });
export("network_id", net.id);
"#;

const APP: &str = r#"
let net_id = stack_output("network.qa", "network_id");
let a = fake::subnet("app", #{ network_id: net_id, cidr: "10.8.1.0/24" });
"#;

#[test]
fn stack_output_reads_another_stack_of_the_same_bucket() {
    let team = Team::new("outputs");
    let p = checkout(&team, None, "2m", "30s");
    std::fs::write(p.path().join("programs/network.rhai"), NETWORK).unwrap();
    std::fs::write(p.path().join("programs/app.rhai"), APP).unwrap();
    payrun(&p)
        .args(["plan", "programs/app.rhai"])
        .assert()
        .failure()
        .stderr(contains(
            "unknown: stack `network.qa` has no state in s3://",
        ));
    payrun(&p)
        .args(["apply", "programs/network.rhai", "--auto-approve"])
        .assert()
        .success();
    let network_id = pull_of(&p, "programs/network.rhai")["outputs"]["network_id"]
        .as_str()
        .unwrap()
        .to_string();
    payrun(&p)
        .args(["apply", "programs/app.rhai", "--auto-approve"])
        .assert()
        .success();
    let app = pull_of(&p, "programs/app.rhai");
    assert_eq!(
        app["resources"]["fake.subnet.app"]["args"]["network_id"],
        network_id.as_str()
    );

    std::fs::write(
        p.path().join("programs/app.rhai"),
        APP.replace("\"network_id\")", "\"vpc_id\")"),
    )
    .unwrap();
    payrun(&p)
        .args(["plan", "programs/app.rhai"])
        .assert()
        .failure()
        .stderr(contains(
            "unknown: stack `network.qa` has no output `vpc_id`",
        ))
        .stderr(contains("app.rhai:2:"))
        .stderr(contains("its outputs are `network_id`"));
}

fn pull_of(p: &Project, program: &str) -> serde_json::Value {
    let out = payrun(p)
        .args(["state", "pull", "--program", program])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn unlock_shows_a_leased_holder_and_removes_it_only_when_asked() {
    let team = Team::new("unlock");
    let p = checkout(&team, None, "2m", "30s");
    team.put(STACK, "lock", &foreign_lock(3600));
    payrun(&p)
        .args(["state", "unlock"])
        .assert()
        .failure()
        .stdout(contains(
            "The lock of stack `main.qa` is held by pid 4242 on ci@ci-runner-7 (`payrun apply`, since 2026-01-01T00:00:00Z); its lease runs until",
        ))
        .stderr(contains("its lease is still being renewed"));
    team.put(STACK, "lock", &foreign_lock(0));
    payrun(&p)
        .args(["state", "unlock"])
        .write_stdin("no\n")
        .assert()
        .failure();
    assert!(team.get(STACK, "lock").is_some());
    payrun(&p)
        .args(["state", "unlock"])
        .write_stdin("yes\n")
        .assert()
        .success()
        .stdout(contains("Removed the lock of stack `main.qa`."));
    assert!(team.get(STACK, "lock").is_none());
}

/// Lock and state calls of one apply, lease renewals included: printed
/// for the README, and bounded so a change that multiplies them shows.
#[test]
fn state_calls_per_apply_are_counted() {
    let team = Team::new("calls");
    let p = checkout(&team, None, "4s", "1s");
    let count = |args: &[&str], latency: &str| -> std::collections::BTreeMap<String, u64> {
        let out = payrun(&p)
            .args(args)
            .env("PAYRUN_LOG", "payrun::state=info")
            .env("PAYRUN_FAKE_LATENCY_MS", latency)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out));
        let err = String::from_utf8_lossy(&out.stderr).to_string();
        let line = err
            .lines()
            .rfind(|l| l.contains("state calls"))
            .unwrap_or_else(|| panic!("no call count in: {err}"))
            .to_string();
        let map = line
            .split("calls={")
            .nth(1)
            .unwrap()
            .split('}')
            .next()
            .unwrap();
        map.split(", ")
            .filter(|kv| !kv.is_empty())
            .map(|kv| {
                let (k, v) = kv.split_once(": ").unwrap();
                (k.trim_matches('"').to_string(), v.parse().unwrap())
            })
            .collect()
    };
    let first = count(&["apply", "--auto-approve"], "0");
    eprintln!("state calls, first apply of 3 resources: {first:?}");
    let slow = count(&["apply", "--auto-approve", "--var", "size=large"], "2500");
    eprintln!("state calls, an update of 1 resource taking 2.5 s: {slow:?}");
    let noop = count(&["apply", "--auto-approve", "--var", "size=large"], "0");
    eprintln!("state calls, an apply with no changes: {noop:?}");
    assert_eq!(first.get("GenerateDataKey"), Some(&1), "{first:?}");
    assert!(first.get("Decrypt").copied().unwrap_or(0) <= 2, "{first:?}");
    assert!(
        slow.get("PutObject").copied().unwrap_or(0) >= 3,
        "renewals: {slow:?}"
    );
    let total: u64 = first.values().sum();
    assert!(total <= 30, "{first:?}");
}

#[test]
fn a_saved_plan_of_a_bucket_stack_is_sealed_and_applies_only_as_made() {
    let team = Team::new("plan");
    let a = checkout(&team, None, "2m", "30s");
    payrun(&a)
        .args(["plan", "--out", "plan.bin"])
        .assert()
        .success()
        .stdout(contains("Saved the plan to plan.bin"));
    let raw = std::fs::read(a.path().join("plan.bin")).unwrap();

    // A plan artifact shows only its format and stack without the KMS key.
    let header = format!("PAYRUN-SEALED-PLAN/1 payrun-plan/1 {STACK}\nPAYRUN-SEALED/1\n");
    assert!(
        raw.starts_with(header.as_bytes()),
        "{}",
        String::from_utf8_lossy(&raw)
    );
    assert!(serde_json::from_slice::<serde_json::Value>(&raw).is_err());
    let shown = String::from_utf8_lossy(&raw);
    for word in [
        "fake.",
        "10.0.0.0/16",
        "programs/main.rhai",
        "inputs",
        "web",
    ] {
        assert!(!shown.contains(word), "{word} in {shown}");
    }

    // Changed bytes, or a header naming another stack, do not open.
    let mut bad = raw.clone();
    let last = bad.len() - 1;
    bad[last] ^= 1;
    std::fs::write(a.path().join("changed.bin"), &bad).unwrap();
    payrun(&a)
        .args(["apply", "changed.bin"])
        .assert()
        .failure()
        .stderr(contains(
            "cannot open changed.bin: the sealed bytes do not open",
        ));
    std::fs::write(a.path().join("programs/other.rhai"), PROGRAM).unwrap();
    let moved = [
        b"PAYRUN-SEALED-PLAN/1 payrun-plan/1 other.qa\n".as_slice(),
        &raw[header.len() - "PAYRUN-SEALED/1\n".len()..],
    ]
    .concat();
    std::fs::write(a.path().join("moved.bin"), moved).unwrap();
    payrun(&a)
        .args(["apply", "moved.bin"])
        .assert()
        .failure()
        .stderr(contains("cannot open moved.bin"));
    assert_eq!(objects(&a).len(), 0, "nothing was applied");

    payrun(&a).args(["apply", "plan.bin"]).assert().success();
    assert_eq!(objects(&a).len(), 3);
    // The plan's serial checks still hold inside the envelope.
    payrun(&a)
        .args(["apply", "plan.bin"])
        .assert()
        .failure()
        .stderr(contains("the saved plan was made for state serial 0"));
}

/// A project keeping local state sealed under `kms_key`.
fn sealed_local(kms_key: &str) -> Project {
    let p = Project::new(PROGRAM);
    p.add_to_project_file(&format!(
        "endpoint_url = \"{}\"\n\n[state]\nkms_key = \"{kms_key}\"\n",
        crate::support::moto::moto().endpoint
    ));
    p
}

fn assert_sealed_files(p: &Project) {
    for name in ["main.qa.json", "main.qa.json.backup", "main.qa.key"] {
        let raw = std::fs::read(p.path().join(".payrun").join(name))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(raw.starts_with(b"PAYRUN-SEALED/1\n"), "{name}");
        assert!(serde_json::from_slice::<serde_json::Value>(&raw).is_err());
        let shown = String::from_utf8_lossy(&raw);
        for word in ["fake.", "lineage", "serial"] {
            assert!(!shown.contains(word), "{name}: {word} in {shown}");
        }
    }
}

#[test]
fn local_state_with_a_kms_key_is_sealed_and_still_plans_applies_and_saves_plans() {
    let team = Team::new("local");
    let p = sealed_local(&team.kms_key);
    payrun(&p)
        .args(["apply", "--auto-approve"])
        .assert()
        .success();
    payrun(&p)
        .args(["apply", "--auto-approve", "--var", "size=large"])
        .assert()
        .success();
    assert_sealed_files(&p);
    payrun(&p)
        .args(["plan", "--detailed-exitcode", "--var", "size=large"])
        .assert()
        .code(0)
        .stdout(contains("No changes."));
    let state = pull(&p);
    assert_eq!(state["resources"].as_object().unwrap().len(), 3);
    payrun(&p)
        .args(["state", "history"])
        .assert()
        .success()
        .stdout(contains(format!("{}\t", state["serial"])));

    // Its saved plans are sealed like a bucket stack's.
    payrun(&p)
        .args(["plan", "--out", "plan.bin"])
        .assert()
        .success();
    let raw = std::fs::read(p.path().join("plan.bin")).unwrap();
    assert!(raw.starts_with(b"PAYRUN-SEALED-PLAN/1 payrun-plan/1 main.qa\n"));
    assert!(!String::from_utf8_lossy(&raw).contains("fake."));
    payrun(&p).args(["apply", "plan.bin"]).assert().success();
    assert_eq!(
        pull(&p)["outputs"]["endpoint"],
        state["outputs"]["endpoint"]
    );
    assert_eq!(objects(&p).len(), 3);
}

#[test]
fn local_state_is_sealed_or_unsealed_by_migrate_and_refused_when_the_setting_changes_under_it() {
    let team = Team::new("reseal");
    let p = Project::new(PROGRAM);
    p.add_to_project_file(&format!(
        "endpoint_url = \"{}\"\n",
        crate::support::moto::moto().endpoint
    ));
    let plain_toml = std::fs::read_to_string(p.path().join("payrun.toml")).unwrap();
    let set_kms = |on: bool| {
        let mut text = plain_toml.clone();
        if on {
            text.push_str(&format!("\n[state]\nkms_key = \"{}\"\n", team.kms_key));
        }
        std::fs::write(p.path().join("payrun.toml"), text).unwrap();
    };
    payrun(&p)
        .args(["apply", "--auto-approve"])
        .assert()
        .success();
    payrun(&p)
        .args(["apply", "--auto-approve", "--var", "size=large"])
        .assert()
        .success();
    let before = pull(&p);

    // The setting turned on under a plain stack: refused, with the fix.
    set_kms(true);
    payrun(&p)
        .args(["plan"])
        .assert()
        .failure()
        .stderr(contains(format!(
            "main.qa.json is not sealed, but the local state of stack `main.qa` is kept sealed with KMS key {}",
            team.kms_key
        )))
        .stderr(contains("fix: if it is the stack's own, seal its files with `payrun state migrate --to local --suffix qa`"));
    payrun(&p)
        .args(["state", "migrate", "--to", "local"])
        .assert()
        .success()
        .stdout(contains(format!(
            "Rewrote the local files of stack `main.qa` (serial {}, 3 resources), now sealed with KMS key {}",
            before["serial"], team.kms_key
        )));
    assert_sealed_files(&p);
    payrun(&p)
        .args(["plan", "--detailed-exitcode", "--var", "size=large"])
        .assert()
        .code(0);
    assert_eq!(pull(&p)["lineage"], before["lineage"]);
    payrun(&p)
        .args(["state", "migrate", "--to", "local"])
        .assert()
        .failure()
        .stderr(contains("are sealed with KMS key"))
        .stderr(contains("already"));

    // Turned off under a sealed stack: refused; migrate makes them plain.
    set_kms(false);
    payrun(&p)
        .args(["plan"])
        .assert()
        .failure()
        .stderr(contains(
            "main.qa.json is sealed with a KMS data key, but no kms_key is set for the local state of stack `main.qa`; nothing was read",
        ))
        .stderr(contains(
            "or turn the stack's files back into plain ones with `payrun state migrate --to local --suffix qa` (it needs kms:Decrypt)",
        ));
    payrun(&p)
        .args(["state", "migrate", "--to", "local"])
        .assert()
        .success()
        .stdout(contains("now plain"));
    let after: serde_json::Value =
        serde_json::from_slice(&std::fs::read(p.path().join(".payrun/main.qa.json")).unwrap())
            .unwrap();
    assert_eq!(after["lineage"], before["lineage"]);
    assert_eq!(after["serial"], before["serial"]);
    assert_eq!(
        std::fs::read(p.path().join(".payrun/main.qa.key"))
            .unwrap()
            .len(),
        32
    );
    payrun(&p)
        .args(["plan", "--detailed-exitcode", "--var", "size=large"])
        .assert()
        .code(0);
}

const PLATFORM_NETWORK: &str = r#"
import "network" as network;

// As programs/payment.rhai builds it: three zones, a NAT gateway in each.
let net = network::vpc("main", #{
    cidr: "10.20.0.0/16",
    azs: ["us-east-1a", "us-east-1b", "us-east-1c"],
    nat: "per-az",
});
export("vpc_id", net.vpc.id);
export("private_subnet_ids", net.private_subnets);
"#;

const IN_THE_NETWORK: &str = r#"
let vpc_id = stack_output("network.teamnet", "vpc_id");
let subnets = stack_output("network.teamnet", "private_subnet_ids");
let app = aws::ec2::security_group("app", #{ vpc: vpc_id, description: "App pods in the platform network" });
aws::ec2::security_group_ingress("app-https", #{
    security_group: app.id, protocol: "tcp", from_port: 443, to_port: 443, cidr: "10.20.0.0/16", description: "HTTPS inside the VPC",
});
export("security_group_id", app.id);
export("subnets", subnets);
"#;

/// The payment platform's network, built by the stdlib's network module
/// in moto's EC2, kept in a bucket; a second stack of the same bucket
/// reads its VPC and subnets through `stack_output` and puts a security
/// group in that VPC. Both destroy to nothing.
#[test]
fn the_platform_network_stack_feeds_a_second_stack_through_stack_output_on_moto() {
    let team = Team::new("network");
    let p = checkout(&team, None, "2m", "30s");
    std::fs::create_dir_all(p.path().join("stdlib")).unwrap();
    for m in ["network.rhai", "naming.rhai", "keys.rhai"] {
        let from = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("stdlib")
            .join(m);
        std::fs::copy(from, p.path().join("stdlib").join(m)).unwrap();
    }
    std::fs::write(p.path().join("programs/network.rhai"), PLATFORM_NETWORK).unwrap();
    std::fs::write(p.path().join("programs/app.rhai"), IN_THE_NETWORK).unwrap();
    let on_moto = |args: &[&str]| {
        let mut cmd = payrun(&p);
        cmd.args(args)
            .args(["--suffix", "teamnet"])
            .env_remove("PAYRUN_FAKE_CLOUD");
        cmd
    };
    let run = |args: &[&str]| {
        let out = on_moto(args).output().unwrap();
        assert!(out.status.success(), "{args:?}\n{}", text(&out));
        out
    };

    run(&["apply", "programs/network.rhai", "--auto-approve"]);
    let pull = |program: &str| {
        let out = run(&["state", "pull", "--program", program]);
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    let net = pull("programs/network.rhai");
    let vpc_id = net["outputs"]["vpc_id"].as_str().unwrap().to_string();
    let subnets = net["outputs"]["private_subnet_ids"].clone();
    assert!(vpc_id.starts_with("vpc-"), "{net}");
    assert_eq!(subnets.as_array().unwrap().len(), 3, "{net}");
    let sealed = team.get("network.teamnet", "state.json").unwrap();
    assert!(
        !String::from_utf8_lossy(&sealed).contains(&vpc_id),
        "the bucket does not show the VPC id"
    );

    let out = run(&["plan", "programs/app.rhai"]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&vpc_id),
        "the plan shows the value read: {}",
        text(&out)
    );
    run(&["apply", "programs/app.rhai", "--auto-approve"]);
    let app = pull("programs/app.rhai");
    assert_eq!(app["outputs"]["subnets"], subnets);
    let sg = app["outputs"]["security_group_id"]
        .as_str()
        .unwrap()
        .to_string();
    let in_vpc = crate::support::team::block(async {
        crate::support::moto::ec2()
            .await
            .describe_security_groups()
            .group_ids(&sg)
            .send()
            .await
            .unwrap()
            .security_groups()[0]
            .vpc_id()
            .map(str::to_string)
    });
    assert_eq!(in_vpc.as_deref(), Some(vpc_id.as_str()));
    let out = on_moto(&["plan", "programs/app.rhai", "--detailed-exitcode"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    run(&["destroy", "programs/app.rhai", "--auto-approve"]);
    run(&["destroy", "programs/network.rhai", "--auto-approve"]);
    for stack in ["app.teamnet", "network.teamnet"] {
        let left = crate::support::team::block(crate::aws_platform::leftovers(stack));
        assert_eq!(left, Vec::<String>::new(), "{stack}");
    }
}
