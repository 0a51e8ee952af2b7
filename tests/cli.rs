//! The real binary in a temp project: validate, plan (human, JSON, saved),
//! apply, destroy, state, output, graph, locks and exit codes.

use predicates::prelude::*;
use predicates::str::contains;

use crate::support::bin::Project;

const PROGRAM: &str = r#"
default_tags(#{ Project: "payrun-tests" });
let net = fake::network("main", #{ cidr: config().vars.cidr ?? "10.0.0.0/16" });
let a = fake::subnet("a", #{ network_id: net.id, cidr: cidr_subnet("10.0.0.0/16", 8, 1) });
let web = fake::server("web", #{ subnet_id: a.id, size: "small" });
export("endpoint", web.endpoint);
"#;

#[test]
fn validate_plan_apply_state_output_destroy() {
    let p = Project::new(PROGRAM);
    p.payrun()
        .arg("validate")
        .assert()
        .success()
        .stdout(contains(
            "Success! The program is valid: 3 resources, 1 outputs.",
        ));

    p.payrun()
        .args(["plan", "--detailed-exitcode"])
        .assert()
        .code(2)
        .stdout(contains("+ fake.network \"net-main-qa\""))
        .stdout(contains("Plan: 3 to add, 0 to change, 0 to destroy."));

    let out = p
        .payrun()
        .args(["plan", "--json"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let plan: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(plan["format"], "payrun-plan/1");
    assert_eq!(plan["changes"].as_array().unwrap().len(), 3);
    assert_eq!(
        plan["changes"][1]["after"]["network_id"]["$ref"],
        "fake.network.main#id"
    );

    p.payrun()
        .args(["apply", "--auto-approve"])
        .assert()
        .success()
        .stderr(contains(
            "Apply complete! Resources: 3 added, 0 changed, 0 destroyed.",
        ));
    assert_eq!(p.cloud_objects().len(), 3);

    p.payrun()
        .args(["plan", "--detailed-exitcode"])
        .assert()
        .code(0)
        .stdout(contains("No changes."));

    p.payrun()
        .args(["state", "list"])
        .assert()
        .success()
        .stdout(contains("fake.network.main\tnet-main-qa\tnetwork-"))
        .stdout(contains("fake.server.web\tserver-web-qa\tserver-"));
    p.payrun()
        .args(["state", "show", "fake.subnet.a"])
        .assert()
        .success()
        .stdout(contains("\"Project\": \"payrun-tests\""));
    p.payrun()
        .args(["output", "endpoint"])
        .assert()
        .success()
        .stdout("https://server-web-qa.fake.example\n");
    p.payrun()
        .arg("graph")
        .assert()
        .success()
        .stdout(contains("\"fake.subnet.a\" -> \"fake.network.main\""));

    let state = std::fs::metadata(p.path().join(".payrun/main.qa.json")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(state.permissions().mode() & 0o777, 0o600);

    p.payrun()
        .args(["destroy", "--auto-approve"])
        .assert()
        .success()
        .stdout(contains("Plan: 0 to add, 0 to change, 3 to destroy."))
        .stderr(contains(
            "Apply complete! Resources: 0 added, 0 changed, 3 destroyed.",
        ));
    assert!(p.cloud_objects().is_empty());
}

#[test]
fn apply_refuses_to_prompt_without_a_terminal() {
    let p = Project::new(PROGRAM);
    p.payrun()
        .arg("apply")
        .write_stdin("yes\n")
        .assert()
        .code(1)
        .stderr(contains(
            "refusing to ask for confirmation: standard input is not a terminal",
        ));
    assert!(p.cloud_objects().is_empty());
}

#[test]
fn a_saved_plan_applies_once_and_is_then_refused() {
    let p = Project::new(PROGRAM);
    p.payrun()
        .args(["plan", "--out", "tf.plan"])
        .assert()
        .success();
    let mode = std::fs::metadata(p.path().join("tf.plan")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(mode.permissions().mode() & 0o777, 0o600);
    p.payrun().args(["apply", "tf.plan"]).assert().success();
    assert_eq!(p.cloud_objects().len(), 3);
    p.payrun()
        .args(["apply", "tf.plan"])
        .assert()
        .code(1)
        .stderr(contains("the saved plan was made for state serial 0"))
        .stderr(contains("fix: make a new plan"));
    assert_eq!(p.cloud_objects().len(), 3);
}

/// Holds the stack's lock the way a running payrun does: the file names
/// the holder and an OS lock is held on it.
fn hold_lock(p: &Project, stack: &str, host: &str) -> std::fs::File {
    use std::io::Write;
    std::fs::create_dir_all(p.path().join(".payrun")).unwrap();
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .open(p.path().join(format!(".payrun/{stack}.lock")))
        .unwrap();
    f.try_lock().unwrap();
    let holder = serde_json::json!({
        "pid": std::process::id(),
        "host": host,
        "user": "ci",
        "command": "payrun apply",
        "started_at": "2026-11-26T00:00:00Z"
    });
    f.write_all(holder.to_string().as_bytes()).unwrap();
    f
}

fn this_host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .to_string()
}

// Guards: a live holder is waited for with --lock-timeout, then named.
#[test]
fn a_live_lock_is_waited_for_then_refused_naming_its_holder() {
    let p = Project::new(PROGRAM);
    let held = hold_lock(&p, "main.qa", &this_host());
    p.payrun()
        .args(["apply", "--auto-approve", "--lock-timeout", "1s"])
        .assert()
        .code(1)
        .stderr(contains(format!(
            "state for stack `main.qa` is locked by pid {} on ci@",
            std::process::id()
        )))
        .stderr(contains("(`payrun apply`, since 2026-11-26T00:00:00Z)"))
        .stderr(contains("wait for it with `--lock-timeout 10m`"));
    assert!(p.cloud_objects().is_empty());
    // Released while the next one waits: it goes on.
    let release = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(700));
        drop(held);
    });
    p.payrun()
        .args(["apply", "--auto-approve", "--lock-timeout", "20s"])
        .assert()
        .success();
    release.join().unwrap();
    assert_eq!(p.cloud_objects().len(), 3);
}

// Guards: a lock of another host is never taken over; the printed fix,
// run exactly as printed, removes it after showing the holder.
#[test]
fn a_lock_of_another_host_needs_unlock_and_the_printed_fix_works() {
    let p = Project::new(PROGRAM);
    drop(hold_lock(&p, "main.qa", "ci-runner-7"));
    let out = p
        .payrun()
        .args(["apply", "--auto-approve"])
        .assert()
        .code(1)
        .stderr(contains("on another host"))
        .get_output()
        .clone();
    let fix = fix_command(&String::from_utf8_lossy(&out.stderr));
    assert_eq!(fix, "payrun state unlock --suffix qa");
    run_printed(&p, &fix, "no\n")
        .code(1)
        .stdout(contains("held by pid"))
        .stderr(contains("the lock stays"));
    run_printed(&p, &fix, "yes\n")
        .success()
        .stdout(contains("Removed the lock of stack `main.qa`"));
    p.payrun()
        .args(["apply", "--auto-approve"])
        .assert()
        .success();
}

/// The command in the last `fix:` line of `stderr` (between backticks).
fn fix_command(stderr: &str) -> String {
    let line = stderr
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with("fix:"))
        .unwrap_or_else(|| panic!("no fix line in {stderr}"));
    line.split('`')
        .nth(1)
        .unwrap_or_else(|| panic!("no command in {line}"))
        .to_string()
}

/// Runs a printed `payrun ...` command word for word in the project.
fn run_printed(p: &Project, command: &str, stdin: &str) -> assert_cmd::assert::Assert {
    let words: Vec<&str> = command.split_whitespace().collect();
    assert_eq!(words[0], "payrun", "{command}");
    p.payrun().args(&words[1..]).write_stdin(stdin).assert()
}

#[test]
fn a_process_killed_after_create_leaves_no_duplicate() {
    let p = Project::new(PROGRAM);
    p.payrun()
        .args(["apply", "--auto-approve", "--parallelism", "1"])
        .env("PAYRUN_TEST_ABORT_AFTER_CREATE", "fake.subnet.a")
        .assert()
        .failure();
    assert_eq!(p.cloud_objects().len(), 2);
    p.payrun()
        .args(["state", "list"])
        .assert()
        .success()
        .stdout(contains("fake.subnet.a\t(interrupted create"));
    // The dead process's lock is taken over with a notice naming it.
    p.payrun()
        .args(["apply", "--auto-approve"])
        .assert()
        .success()
        .stderr(contains("Took over the lock of stack `main.qa` from pid"))
        .stderr(contains("that process is no longer running"))
        .stderr(contains("1 adopted after an interrupted apply"));
    let subnets = p
        .cloud_objects()
        .values()
        .filter(|o| o["kind"] == "fake.subnet")
        .count();
    assert_eq!(subnets, 1);
    p.payrun()
        .args(["plan", "--detailed-exitcode"])
        .assert()
        .code(0);
}

// Guards: `state rm` drops an interrupted create, which nothing else
// could clear.
#[test]
fn state_rm_drops_an_intent() {
    let p = Project::new(PROGRAM);
    p.payrun()
        .args(["apply", "--auto-approve", "--parallelism", "1"])
        .env("PAYRUN_TEST_ABORT_AFTER_CREATE", "fake.subnet.a")
        .assert()
        .failure();
    p.payrun()
        .args(["state", "rm", "fake.subnet.a"])
        .assert()
        .success()
        .stdout(contains("Removed fake.subnet.a from state"));
    p.payrun()
        .args(["state", "list"])
        .assert()
        .success()
        .stdout(contains("fake.subnet.a").not());
}

// Guards: a fix that names a `payrun state` command carries the flags that
// reached the stack (program, suffix, state directory) and works as
// printed.
#[test]
fn printed_state_fixes_name_the_program_and_state_dir_and_work() {
    let p = Project::new(PROGRAM);
    std::fs::remove_file(p.path().join("payrun.toml")).unwrap();
    let flags = ["--suffix", "qa", "--state-dir", "st"];
    p.payrun()
        .args(["apply", "programs/main.rhai", "--auto-approve"])
        .args(flags)
        .assert()
        .success();
    let out = p
        .payrun()
        .args([
            "state",
            "show",
            "fake.subnet.nope",
            "--program",
            "programs/main.rhai",
        ])
        .args(flags)
        .assert()
        .code(1)
        .get_output()
        .clone();
    let fix = fix_command(&String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        fix,
        "payrun state list --program programs/main.rhai --suffix qa --state-dir st"
    );
    run_printed(&p, &fix, "")
        .success()
        .stdout(contains("fake.subnet.a"));
    // The lock fix likewise, for a lock of another host.
    std::fs::create_dir_all(p.path().join("st")).unwrap();
    let holder = serde_json::json!({
        "pid": 1, "host": "ci-runner-7", "user": "ci",
        "command": "payrun apply", "started_at": "2026-11-26T00:00:00Z"
    });
    std::fs::write(p.path().join("st/main.qa.lock"), holder.to_string()).unwrap();
    let out = p
        .payrun()
        .args(["apply", "programs/main.rhai", "--auto-approve"])
        .args(flags)
        .assert()
        .code(1)
        .get_output()
        .clone();
    let fix = fix_command(&String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        fix,
        "payrun state unlock --program programs/main.rhai --suffix qa --state-dir st"
    );
    run_printed(&p, &fix, "yes\n").success();
    p.payrun()
        .args(["apply", "programs/main.rhai", "--auto-approve"])
        .args(flags)
        .assert()
        .success();
}

#[test]
fn script_errors_exit_1_and_make_no_cloud_call() {
    let p = Project::new("let n = fake::network(\"main\", #{ cidr_blok: \"10.0.0.0/16\" });\n");
    p.payrun()
        .args(["apply", "--auto-approve"])
        .assert()
        .code(1)
        .stderr(contains("error: fake::network has no property `cidr_blok`"))
        .stderr(contains("programs/main.rhai:1:15"))
        .stderr(contains("fix: did you mean `cidr`?"));
    assert!(!p.cloud().exists());
    assert!(!p.path().join(".payrun/main.qa.json").exists());
}

#[test]
fn vars_and_refresh_flag() {
    let p = Project::new(PROGRAM);
    p.payrun()
        .args(["plan", "--var", "cidr=10.9.0.0/16", "--refresh=false"])
        .assert()
        .success()
        .stdout(contains("\"10.9.0.0/16\""));
    p.payrun()
        .args(["plan", "--suffix", "Bad_Suffix"])
        .assert()
        .code(1)
        .stderr(contains("--suffix"));
}

// Kubernetes kinds are served by the binary's own registry: an empty state
// plans them as creates without reaching any cluster.
#[test]
fn plan_kubernetes_objects_without_a_cluster() {
    let p = Project::new(
        r#"
let cluster = #{ kubeconfig: "/nonexistent/kubeconfig", context: "eks" };
let ns = k8s::namespace("payment", #{ kube: cluster });
k8s::resource_quota("payment", #{ kube: cluster, namespace: ns, cpu: "1", memory: "1Gi" });
k8s::deployment("api", #{ kube: cluster, namespace: ns, image: "api:1", replicas: 2,
    requests: #{ cpu: "500m", memory: "256Mi" }, limits: #{ cpu: "500m", memory: "256Mi" } });
"#,
    );
    p.payrun()
        .args(["plan", "--detailed-exitcode"])
        .args(["--kubeconfig", "/nonexistent/kubeconfig"])
        .assert()
        .code(1)
        .stdout(contains("+ k8s.namespace"))
        .stdout(contains("Plan: 3 to add, 0 to change, 0 to destroy."))
        .stdout(contains(
            "error [k8s-quota-exceeded]: namespace payment: workloads need 1500m of requests.cpu at the height of a rollout (api: (2 + 1 surge) × 500m), but its quota allows 1",
        ));
}

/// `--acknowledge CODE=REASON` turns that code's error into a warning that
/// still shows where and why; a malformed flag is refused before any call.
#[test]
fn acknowledge_on_the_command_line() {
    let p = Project::new(
        r#"plan_error("the widget is past its support", "use the gadget");
           fake::network("main", #{ cidr: "10.0.0.0/16" });"#,
    );
    p.payrun()
        .args(["plan"])
        .assert()
        .code(1)
        .stdout(contains("error [program]: the widget is past its support"))
        .stdout(contains(
            "Blocked: apply refuses this plan while 1 error finding stands: follow the remedy, or accept knowingly with `--acknowledge CODE=REASON`.",
        ));
    p.payrun()
        .args(["plan", "--acknowledge", "program=QA keeps the widget until March"])
        .assert()
        .success()
        .stdout(contains(
            "warning [program]: the widget is past its support (acknowledged on the command line by --acknowledge: QA keeps the widget until March)",
        ))
        .stdout(contains("Blocked:").not());
    p.payrun()
        .args(["plan", "--acknowledge", "program"])
        .assert()
        .code(1)
        .stderr(contains(
            "--acknowledge `program` needs a finding code and a reason",
        ))
        .stderr(contains("fix: write --acknowledge CODE=REASON"));
    assert!(p.cloud_objects().is_empty());
}

/// The project, not the program, says which variables hold secrets, and it
/// cannot hand a program one of payrun's own.
#[test]
fn secret_variables_are_declared_in_payrun_toml() {
    let p = Project::new(
        r#"fake::secret("db", #{ value: secret_env("DB_PASSWORD"), description: "db" });"#,
    );
    p.payrun()
        .args(["validate"])
        .env("DB_PASSWORD", "s3cret-for-cli-test")
        .assert()
        .code(1)
        .stderr(contains(
            "error: secret_env(\"DB_PASSWORD\"): the project does not declare `DB_PASSWORD` as a secret variable",
        ))
        .stderr(contains(
            "fix: add it to payrun.toml under [allow]: secret_env = [\"DB_PASSWORD\"]",
        ));
    p.add_to_project_file("[allow]\nsecret_env = [\"DB_PASSWORD\"]\n");
    p.payrun()
        .args(["validate"])
        .env("DB_PASSWORD", "s3cret-for-cli-test")
        .assert()
        .success();

    let q = Project::new(r#"fake::network("main", #{ cidr: "10.0.0.0/16" });"#);
    q.add_to_project_file("[allow]\nsecret_env = [\"DB_PASSWORD\", \"AWS_SECRET_ACCESS_KEY\"]\n");
    q.payrun()
        .args(["validate"])
        .assert()
        .code(1)
        .stderr(contains(
            "payrun.toml: [allow] secret_env names `AWS_SECRET_ACCESS_KEY`: AWS_* variables are payrun's own: the AWS SDK's credentials and settings\n  fix: remove `AWS_SECRET_ACCESS_KEY` there and give the secret a variable of its own, e.g. DB_PASSWORD",
        ));
}

// Guards the stack name: `{program}-{suffix}` made `payment-eu` with `prod`
// and `payment` with `eu-prod` one stack, and the second plan destroyed the
// first program's resources.
#[test]
fn dashes_in_program_and_suffix_make_distinct_stacks() {
    let p = Project::new(PROGRAM);
    for program in ["payment-eu", "payment"] {
        std::fs::write(
            p.path().join(format!("programs/{program}.rhai")),
            format!(r#"fake::network("{program}", #{{ cidr: "10.0.0.0/16" }});"#),
        )
        .unwrap();
    }
    for (program, suffix) in [("payment-eu", "prod"), ("payment", "eu-prod")] {
        p.payrun()
            .args(["apply", "--auto-approve", "--suffix", suffix])
            .arg(format!("programs/{program}.rhai"))
            .assert()
            .success()
            .stderr(contains("Resources: 1 added, 0 changed, 0 destroyed."));
    }
    assert!(p.path().join(".payrun/payment-eu.prod.json").exists());
    assert!(p.path().join(".payrun/payment.eu-prod.json").exists());
    assert_eq!(p.cloud_objects().len(), 2);
}

#[test]
fn a_program_name_with_the_stack_separator_is_refused() {
    let p = Project::new(PROGRAM);
    std::fs::write(p.path().join("programs/payment.v2.rhai"), PROGRAM).unwrap();
    p.payrun()
        .args(["plan", "programs/payment.v2.rhai"])
        .assert()
        .code(1)
        .stderr(
            "error: program programs/payment.v2.rhai: its name `payment.v2` may hold only letters, digits, `-` and `_` (`.` separates the program from the suffix in the stack name)\n  fix: rename it, e.g. `mv programs/payment.v2.rhai programs/payment-v2.rhai`\n",
        );
}

#[test]
fn a_second_program_on_a_stack_is_refused() {
    let p = Project::new(PROGRAM);
    p.payrun()
        .args(["apply", "--auto-approve"])
        .assert()
        .success();
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(p.path().join(".payrun/main.qa.json")).unwrap())
            .unwrap();
    assert_eq!(state["program"], "programs/main.rhai");
    std::fs::create_dir_all(p.path().join("other")).unwrap();
    std::fs::write(p.path().join("other/main.rhai"), PROGRAM).unwrap();
    for args in [
        vec!["plan", "other/main.rhai"],
        vec!["apply", "other/main.rhai", "--auto-approve"],
        vec!["destroy", "other/main.rhai", "--auto-approve"],
    ] {
        p.payrun()
            .args(args)
            .assert()
            .code(1)
            .stderr(contains(
                "error: stack `main.qa` belongs to program programs/main.rhai; other/main.rhai cannot plan, apply or destroy it\n  fix: give other/main.rhai a stack of its own: `payrun plan other/main.rhai --suffix qa-2`\n",
            ));
    }
    assert_eq!(p.cloud_objects().len(), 3);
    p.payrun()
        .args(["plan", "other/main.rhai", "--suffix", "qa-2"])
        .assert()
        .success();
}

#[test]
fn a_stack_under_its_old_file_name_is_read_and_moved() {
    let p = Project::new(PROGRAM);
    p.payrun()
        .args(["apply", "--auto-approve"])
        .assert()
        .success();
    let dir = p.path().join(".payrun");
    std::fs::rename(dir.join("main.qa.json"), dir.join("main-qa.json")).unwrap();
    p.payrun()
        .args(["apply", "--auto-approve"])
        .assert()
        .success()
        .stderr(contains(format!(
            "Reading the state of stack `main.qa` from its old file {}; the next write moves it to {}.",
            dir.join("main-qa.json").display(),
            dir.join("main.qa.json").display()
        )));
    assert!(dir.join("main.qa.json").exists());
    assert!(!dir.join("main-qa.json").exists());
    assert_eq!(p.cloud_objects().len(), 3);
}

/// `tf.plan` of `p` as JSON, changed by `edit`, written back.
fn edit_saved_plan(p: &Project, edit: impl FnOnce(&mut serde_json::Value)) {
    let path = p.path().join("tf.plan");
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    edit(&mut v);
    std::fs::write(&path, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
}

type PlanEdit = dyn Fn(&mut serde_json::Value);

const SEAL_REFUSED: &str = "error: tf.plan does not match its seal: it was changed after `payrun plan --out`, or sealed with another stack's key; nothing was applied\n  fix: make a new plan with `payrun plan --out tf.plan`\n";

// Guards saved plans: an edited file could drop its error findings, read
// any environment variable as a secret or name another stack.
#[test]
fn a_tampered_saved_plan_is_refused() {
    let p = Project::new(PROGRAM);
    // A stack `main.prod` with a key of its own, for the renamed plan.
    p.payrun()
        .args(["plan", "--suffix", "prod"])
        .assert()
        .success();
    let edits: Vec<(&str, Box<PlanEdit>)> = vec![
        (
            "a secret marker added",
            Box::new(|v| {
                v["plan"]["changes"][0]["after"]["cidr"] =
                    serde_json::json!({"$secret": {"env": "HOME"}});
            }),
        ),
        (
            "the stack renamed",
            Box::new(|v| {
                v["plan"]["stack"] = "main.prod".into();
                v["plan"]["suffix"] = "prod".into();
            }),
        ),
        (
            "one byte changed",
            Box::new(|v| {
                let text =
                    serde_json::to_string(v)
                        .unwrap()
                        .replacen("10.0.0.0/16", "10.0.0.0/17", 1);
                *v = serde_json::from_str(&text).unwrap();
            }),
        ),
        (
            "an acknowledgement added",
            Box::new(|v| {
                v["inputs"]["acknowledge"] = serde_json::json!([["pci-network-open", "approved"]]);
            }),
        ),
    ];
    for (what, edit) in edits {
        p.payrun()
            .args(["plan", "--out", "tf.plan"])
            .assert()
            .success();
        edit_saved_plan(&p, |v| edit(v));
        p.payrun()
            .args(["apply", "tf.plan"])
            .assert()
            .code(1)
            .stderr(SEAL_REFUSED)
            .stdout("");
        assert!(p.cloud_objects().is_empty(), "{what}");
    }

    p.payrun()
        .args(["plan", "--out", "tf.plan"])
        .assert()
        .success();
    edit_saved_plan(&p, |v| v["plan"]["stack"] = "../../etc/main.qa".into());
    p.payrun()
        .args(["apply", "tf.plan"])
        .assert()
        .code(1)
        .stderr("error: tf.plan names stack `../../etc/main.qa`, which is not a payrun stack name; nothing was applied\n  fix: make a new plan with `payrun plan --out tf.plan`\n");

    p.payrun()
        .args(["plan", "--out", "tf.plan"])
        .assert()
        .success();
    edit_saved_plan(&p, |v| v["plan"]["format"] = "payrun-plan/10".into());
    p.payrun()
        .args(["apply", "tf.plan"])
        .assert()
        .code(1)
        .stderr("error: tf.plan is a plan of format payrun-plan/10; this payrun reads payrun-plan/1\n  fix: make a new plan with `payrun plan --out tf.plan`\n");
    assert!(p.cloud_objects().is_empty());
}

// The findings of a saved plan are found again at apply: even a plan
// sealed with the right key cannot carry an error past it.
#[test]
fn a_saved_plan_has_its_findings_recomputed() {
    let p = Project::new(
        r#"fake::secret("db", #{ value: secret_env("DB_TEST_CLI_UNSET"), description: "db" });"#,
    );
    p.add_to_project_file("[allow]\nsecret_env = [\"DB_TEST_CLI_UNSET\"]\n");
    p.payrun()
        .args(["plan", "--out", "tf.plan"])
        .assert()
        .code(1)
        .stdout(contains("secret-unset"));
    let key = std::fs::read(p.path().join(".payrun/main.qa.key")).unwrap();
    let key = payrun::state::StackKey::from_bytes(key.try_into().unwrap());
    edit_saved_plan(&p, |v| {
        v["plan"]["findings"] = serde_json::json!([]);
        let mut message = b"payrun saved plan seal/1\0".to_vec();
        message.extend(
            serde_json::to_vec(&serde_json::json!({ "plan": v["plan"], "inputs": v["inputs"] }))
                .unwrap(),
        );
        v["seal"] = hex::encode(key.mac(&message)).into();
    });
    p.payrun()
        .args(["apply", "tf.plan"])
        .assert()
        .code(1)
        .stderr(contains("the plan has errors; apply refuses to start:\n  error [secret-unset]: fake.secret.db reads a secret from $DB_TEST_CLI_UNSET, which is not set"));
    assert!(p.cloud_objects().is_empty());

    std::fs::remove_file(p.path().join("programs/main.rhai")).unwrap();
    p.payrun()
        .args(["apply", "tf.plan"])
        .assert()
        .code(1)
        .stderr("error: the program of the saved plan, programs/main.rhai, is gone: its checks cannot run again; nothing was applied\n  fix: restore programs/main.rhai and run `payrun apply tf.plan` again, or make a new plan\n");
}

// Guards secret values and their plain digests: `printf VALUE | sha256sum`
// confirmed a secret from any plan artifact.
#[test]
fn a_secret_and_its_plain_digest_are_in_no_file_or_output() {
    use sha2::Digest;
    let secret = "cli-secret-value-that-must-not-leak";
    let plain = hex::encode(sha2::Sha256::digest(secret.as_bytes()));
    let p = Project::new(
        r#"fake::secret("db", #{ value: secret_env("DB_TEST_CLI_SECRET"), description: "db" });"#,
    );
    p.add_to_project_file("[allow]\nsecret_env = [\"DB_TEST_CLI_SECRET\"]\n");
    let mut seen = String::new();
    for args in [
        vec!["plan"],
        vec!["plan", "--json"],
        vec!["plan", "--out", "tf.plan"],
        vec!["apply", "tf.plan"],
        vec!["plan", "--out", "tf.plan"],
        vec!["apply", "--auto-approve", "--json"],
        vec!["state", "show", "fake.secret.db"],
    ] {
        let out = p
            .payrun()
            .env("DB_TEST_CLI_SECRET", secret)
            .args(args)
            .assert()
            .success()
            .get_output()
            .clone();
        seen.push_str(&String::from_utf8_lossy(&out.stdout));
        seen.push_str(&String::from_utf8_lossy(&out.stderr));
    }
    for file in [
        ".payrun/main.qa.json",
        ".payrun/main.qa.json.backup",
        "tf.plan",
    ] {
        seen.push_str(&std::fs::read_to_string(p.path().join(file)).unwrap());
    }
    assert!(seen.contains("hmac-sha256:"), "{seen}");
    assert!(!seen.contains(secret), "{seen}");
    assert!(!seen.contains(&plain), "{seen}");
}

/// `--secret-env NAME` declares a secret variable for one run, as
/// payrun.toml's `[allow] secret_env` does, and refuses payrun's own.
#[test]
fn secret_variables_can_be_declared_on_the_command_line() {
    let p = Project::new(
        r#"fake::secret("db", #{ value: secret_env("DB_PASSWORD"), description: "db" });"#,
    );
    p.payrun()
        .args(["validate", "--secret-env", "DB_PASSWORD"])
        .env("DB_PASSWORD", "s3cret-for-cli-flag-test")
        .assert()
        .success();
    p.payrun()
        .args(["validate", "--secret-env", "KUBECONFIG"])
        .assert()
        .code(1)
        .stderr(contains("error: --secret-env names `KUBECONFIG`: "))
        .stderr(contains(
            "fix: remove `KUBECONFIG` there and give the secret a variable of its own, e.g. DB_PASSWORD",
        ));
}

const KUBE_PROGRAM: &str = r#"
let cluster = #{ kubeconfig: "KUBECONFIG", context: "c" };
k8s::namespace("payment", #{ kube: cluster });
"#;

/// A program cannot pick the kubeconfig payrun trusts (a kubeconfig runs
/// `exec:` plugins): the one it names must be the one given on the
/// command line or in payrun.toml, and `config().kubeconfig` is that one.
#[test]
fn a_kubeconfig_is_used_only_when_given_to_payrun() {
    let p = Project::new("");
    let kubeconfig = p.path().join("kubeconfig");
    std::fs::write(&kubeconfig, "apiVersion: v1\nkind: Config\nclusters: []\n").unwrap();
    let k = kubeconfig.display().to_string();
    let program = p.path().join("programs/main.rhai").display().to_string();
    std::fs::write(&program, KUBE_PROGRAM.replace("KUBECONFIG", &k)).unwrap();
    p.payrun()
        .args(["plan"])
        .assert()
        .code(1)
        .stderr(contains(format!(
            "error: k8s.namespace.payment connects through the kubeconfig \"{k}\", which was not given to payrun\n  --> {program}:3:6"
        )))
        .stderr(contains(format!(
            "fix: if you trust that file, give it on the command line: payrun plan {program} --kubeconfig {k} (or set `kubeconfig` under [kube] in payrun.toml), and write `kubeconfig: config().kubeconfig` in the program"
        )));
    // The printed command works as printed.
    p.payrun()
        .args(["plan", &program, "--kubeconfig", &k])
        .assert()
        .success()
        .stdout(contains("+ k8s.namespace \"payment\""));
    // payrun.toml names it too, relative to the project; the program reads it.
    std::fs::write(
        p.path().join("programs/main.rhai"),
        KUBE_PROGRAM.replace("\"KUBECONFIG\"", "config().kubeconfig"),
    )
    .unwrap();
    p.add_to_project_file("[kube]\nkubeconfig = \"kubeconfig\"\n");
    p.payrun()
        .args(["plan"])
        .assert()
        .success()
        .stdout(contains("+ k8s.namespace \"payment\""));
    // Another file than the one given is refused.
    std::fs::write(
        p.path().join("programs/main.rhai"),
        KUBE_PROGRAM.replace("KUBECONFIG", "/etc/other-kubeconfig"),
    )
    .unwrap();
    p.payrun()
        .args(["plan"])
        .assert()
        .code(1)
        .stderr(contains(format!(
            "error: k8s.namespace.payment connects through the kubeconfig \"/etc/other-kubeconfig\", but payrun was given {}",
            std::fs::canonicalize(&kubeconfig).unwrap().display()
        )));
}

/// A kubeconfig that turns off TLS verification is refused before any
/// call unless `--insecure-kubeconfig` says so.
#[test]
fn a_kubeconfig_without_tls_verification_needs_the_insecure_flag() {
    let p = Project::new("");
    let kubeconfig = p.path().join("kubeconfig");
    // Nothing listens on port 9: with the flag, payrun gets as far as
    // connecting.
    std::fs::write(
        &kubeconfig,
        "apiVersion: v1\nkind: Config\nclusters:\n- name: lab\n  cluster:\n    server: https://127.0.0.1:9\n    insecure-skip-tls-verify: true\ncontexts:\n- name: c\n  context:\n    cluster: lab\n    user: u\nusers:\n- name: u\n  user:\n    token: t\ncurrent-context: c\n",
    )
    .unwrap();
    let k = kubeconfig.display().to_string();
    std::fs::write(
        p.path().join("programs/main.rhai"),
        KUBE_PROGRAM.replace("KUBECONFIG", &k),
    )
    .unwrap();
    p.payrun()
        .args(["apply", "--auto-approve", "--kubeconfig", &k])
        .assert()
        .code(1)
        .stderr(contains(format!(
            "the kubeconfig {k} turns off TLS verification (`insecure-skip-tls-verify`) for lab"
        )))
        .stderr(contains("pass --insecure-kubeconfig"));
    let out = p
        .payrun()
        .args([
            "apply",
            "--auto-approve",
            "--kubeconfig",
            &k,
            "--insecure-kubeconfig",
        ])
        .assert()
        .code(1)
        .get_output()
        .clone();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("insecure-skip-tls-verify"), "{stderr}");
}

// Guards `--var`: a value that starts like JSON but was not JSON became
// the text `[bad` silently, and `azs` then iterated its characters.
#[test]
fn a_var_that_starts_like_json_must_be_json() {
    let p = Project::new(
        r#"let azs = config().vars.azs;
           if type_of(azs) != "string" { throw "not text"; }
           fake::network("main", #{ cidr: "10.0.0.0/16" });"#,
    );
    p.payrun()
        .args(["plan", "--var", "azs=[bad"])
        .assert()
        .code(1)
        .stderr(contains(
            "error: --var `azs=[bad`: the value starts with `[` like JSON but is not JSON: expected value at line 1 column 2\n",
        ))
        .stderr(contains(
            "  fix: write it as JSON in single quotes, e.g. --var 'azs=[\"us-east-1a\",\"us-east-1b\"]'; for text, a JSON string: --var 'azs=\"[bad\"'",
        ));
    assert!(p.cloud_objects().is_empty());
    // The fix for text, as the shell passes it.
    p.payrun()
        .args(["validate", "--var", "azs=\"[bad\""])
        .assert()
        .success();
}

// Guards findings: `plan_error`'s showed no program line in the human
// plan (a check's finding about a resource shows the resource's line).
#[test]
fn every_finding_in_the_plan_shows_its_line() {
    let p = Project::new(
        "fake::network(\"main\", #{ cidr: \"10.0.0.0/16\" });\nplan_error(\"the widget is past its support\", \"use the gadget\");\n",
    );
    p.payrun()
        .args(["plan"])
        .assert()
        .code(1)
        .stdout(contains(format!(
            "  error [program]: the widget is past its support\n      at: {}/programs/main.rhai:2:1\n      remedy: use the gadget\n",
            p.path().display()
        )));
}

// Guards scripts/test-env against an interrupted first run: a venv whose
// pip is installed but whose `bin/pip` script was never written (the
// `venv` stopped in between) made every later run fail with
// `.venv/bin/pip: No such file or directory`, since a second `venv` does
// not write the script again.
#[test]
fn test_env_recovers_from_an_interrupted_first_run() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("scripts")).unwrap();
    std::fs::create_dir_all(root.join("tests/support")).unwrap();
    std::fs::copy(
        concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/test-env"),
        root.join("scripts/test-env"),
    )
    .unwrap();
    // Nothing to install: the test is about the venv, not the packages.
    std::fs::write(root.join("tests/support/requirements.txt"), "").unwrap();
    let venv = std::process::Command::new("python3")
        .args(["-m", "venv", ".venv"])
        .current_dir(root)
        .status()
        .unwrap();
    assert!(venv.success());
    // The interruption: pip is in site-packages, its scripts are not.
    for entry in std::fs::read_dir(root.join(".venv/bin")).unwrap() {
        let path = entry.unwrap().path();
        if path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("pip")
        {
            std::fs::remove_file(path).unwrap();
        }
    }
    assert!(!root.join(".venv/bin/pip").exists());
    let out = std::process::Command::new(root.join("scripts/test-env"))
        .current_dir(root)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(root.join(".venv/.requirements").exists());
    // A venv that cannot run pip at all is made anew.
    std::fs::remove_file(root.join(".venv/.requirements")).unwrap();
    let site = std::fs::read_dir(root.join(".venv/lib"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path()
        .join("site-packages/pip");
    std::fs::remove_dir_all(site).unwrap();
    let again = std::process::Command::new(root.join("scripts/test-env"))
        .current_dir(root)
        .output()
        .unwrap();
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
}

/// Completions load in bash and complete a subcommand; every shell clap
/// knows gets a script; the manual page is roff a `man` reads.
#[test]
fn completions_load_in_bash_and_the_manual_page_renders() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("payrun.bash");
    let out = assert_cmd::Command::cargo_bin("payrun")
        .unwrap()
        .current_dir(dir.path())
        .args(["completions", "bash"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", crate::support::bin::text(&out));
    std::fs::write(&script, &out.stdout).unwrap();
    let completed = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!(
            "source {}; COMP_WORDS=(payrun pl); COMP_CWORD=1; COMP_LINE='payrun pl'; COMP_POINT=9; _payrun payrun pl payrun; echo \"${{COMPREPLY[@]}}\"",
            script.display()
        ))
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&completed.stdout).trim(),
        "plan",
        "{}",
        crate::support::bin::text(&completed)
    );
    for shell in ["zsh", "fish", "powershell", "elvish"] {
        let out = assert_cmd::Command::cargo_bin("payrun")
            .unwrap()
            .args(["completions", shell])
            .output()
            .unwrap();
        assert!(
            out.status.success() && out.stdout.len() > 500,
            "{shell}: {}",
            crate::support::bin::text(&out)
        );
    }
    assert_cmd::Command::cargo_bin("payrun")
        .unwrap()
        .current_dir(dir.path())
        .arg("man")
        .assert()
        .success()
        .stdout(contains(".TH payrun 1"))
        .stdout(contains(
            "Plan and apply infrastructure declared in Rhai programs",
        ));
}

/// `payrun init demo && cd demo && payrun plan` works as printed, with no
/// AWS call (the endpoint given refuses every connection), keeps an
/// existing .gitignore, and a second init overwrites nothing.
#[test]
fn init_makes_a_project_that_plans_offline_and_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("demo")).unwrap();
    std::fs::write(dir.path().join("demo/.gitignore"), "target/").unwrap();
    let payrun = || {
        let mut cmd = assert_cmd::Command::cargo_bin("payrun").unwrap();
        cmd.env_remove("PAYRUN_FAKE_CLOUD")
            .env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .env("NO_COLOR", "1");
        cmd
    };
    payrun()
        .current_dir(dir.path())
        .args(["init", "demo"])
        .assert()
        .success()
        .stdout(contains("Next: cd demo && payrun plan"));
    let demo = dir.path().join("demo");
    assert_eq!(
        std::fs::read_to_string(demo.join(".gitignore")).unwrap(),
        "target/\n.payrun/\n"
    );
    assert!(demo.join("definitions/aws.d.rhai").is_file());
    payrun()
        .current_dir(&demo)
        .args(["plan", "--endpoint-url", "http://127.0.0.1:9"])
        .assert()
        .success()
        .stdout(contains("Plan: 4 to add, 0 to change, 0 to destroy."));
    let program = std::fs::read_to_string(demo.join("programs/main.rhai")).unwrap();
    std::fs::write(demo.join("programs/main.rhai"), "// mine\n").unwrap();
    payrun()
        .current_dir(dir.path())
        .args(["init", "demo"])
        .assert()
        .code(1)
        .stderr(contains(
            "payrun.toml exists: payrun init never overwrites a project",
        ));
    assert_eq!(
        std::fs::read_to_string(demo.join("programs/main.rhai")).unwrap(),
        "// mine\n"
    );
    assert!(program.contains("aws::ec2::vpc(\"main\""));
}
