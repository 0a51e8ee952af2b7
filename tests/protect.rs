//! `protect`: a resource declared `protect: true` (per environment from
//! `config().vars`) is never deleted or replaced unless the person running
//! payrun names it with `--allow-destroy` for that run; the refusal comes
//! before any change to the cloud, and state keeps the protection once the
//! declaration is gone.

use assert_cmd::Command;
use predicates::str::contains;

use crate::support::bin::{Project, text};

const PROGRAM: &str = r#"let net = fake::network("main", #{
    cidr: config().vars.cidr ?? "10.0.0.0/16",
    protect: config().vars.prod ?? false,
});
fake::subnet("a", #{ network_id: net.id, cidr: "10.0.1.0/24" });
"#;

fn run(p: &Project, args: &[&str]) -> std::process::Output {
    let mut cmd: Command = p.payrun();
    cmd.args(args).output().unwrap()
}

/// `text` holds each of `wants`.
fn shows(text: &str, wants: &[&str]) {
    for want in wants {
        assert!(text.contains(want), "{want}\n{text}");
    }
}

fn cloud(p: &Project) -> Vec<u8> {
    std::fs::read(p.cloud()).unwrap()
}

fn recorded_protected(p: &Project) -> bool {
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(p.path().join(".payrun/main.qa.json")).unwrap())
            .unwrap();
    state["resources"]["fake.network.main"]["protected"] == true
}

/// PROGRAM applied with `--var prod=true`: its network protected.
fn applied_in_prod() -> Project {
    let p = Project::new(PROGRAM);
    p.payrun()
        .args(["apply", "--auto-approve", "--var", "prod=true"])
        .assert()
        .success();
    p
}

#[test]
fn a_protected_resource_is_deleted_or_replaced_only_when_a_run_allows_it() {
    let p = applied_in_prod();
    let prod = ["--var", "prod=true"];
    assert!(recorded_protected(&p));
    let before = cloud(&p);

    // A change that replaces it: an error at its declaration, before any
    // change to the cloud, in plan and in apply.
    let replace = ["--var", "prod=true", "--var", "cidr=10.1.0.0/16"];
    let plan = run(&p, &[&["plan"][..], &replace[..]].concat());
    assert_eq!(plan.status.code(), Some(1), "{}", text(&plan));
    let shown = String::from_utf8_lossy(&plan.stdout);
    let program = p.path().join("programs/main.rhai").display().to_string();
    for want in [
        "error [protected]: fake.network.main: protected (`protect: true`), and this plan replaces it (`cidr` forces replacement), deleting the object it is now".to_string(),
        format!("at: {program}:1:"),
        "remedy: to keep it, change back what forces the replacement; to replace it knowingly, for this run only: `payrun apply --allow-destroy fake.network.main`".to_string(),
        "Blocked: this plan deletes or replaces 1 protected resource: keep it, or lift the protection for one run with `--allow-destroy ADDRESS`.".to_string(),
    ] {
        assert!(shown.contains(&want), "{want}\n{shown}");
    }
    let apply = run(
        &p,
        &[&["apply", "--auto-approve"][..], &replace[..]].concat(),
    );
    assert_eq!(apply.status.code(), Some(1), "{}", text(&apply));
    assert_eq!(cloud(&p), before, "a refused apply changed the cloud");

    // A destroy: refused, nothing deleted.
    let destroy = run(&p, &["destroy", "--auto-approve", "--var", "prod=true"]);
    assert_eq!(destroy.status.code(), Some(1), "{}", text(&destroy));
    shows(
        &text(&destroy),
        &[
            "error [protected]: fake.network.main: protected (recorded as protected when last applied), and `payrun destroy` deletes everything in the stack",
        ],
    );
    assert_eq!(cloud(&p), before, "a refused destroy changed the cloud");

    // Not an acknowledgement, and a name that lifts nothing is an error.
    p.payrun()
        .args(["plan", "--acknowledge", "protected=just this once"])
        .args(replace)
        .assert()
        .code(1)
        .stderr(contains(
            "--acknowledge protected: a protection is not a finding to accept",
        ));
    p.payrun()
        .args(["destroy", "--auto-approve", "--allow-destroy", "fake.network.mian"])
        .args(prod)
        .assert()
        .code(1)
        .stderr(contains(
            "--allow-destroy fake.network.mian: no protected resource this plan deletes or replaces is named so (it would delete or replace: fake.network.main)\n  fix: name one it does, e.g. `--allow-destroy fake.network.main`, or leave --allow-destroy out",
        ));
    assert_eq!(cloud(&p), before);

    // Lifted for one run: the replacement goes ahead and the plan says
    // why; the next run is protected again.
    let lifted = p
        .payrun()
        .args([
            "apply",
            "--auto-approve",
            "--allow-destroy",
            "fake.network.*",
        ])
        .args(replace)
        .assert()
        .success()
        .get_output()
        .clone();
    shows(
        &text(&lifted),
        &[
            "fake.network.main: protected, deleted or replaced by this plan because --allow-destroy on the command line names it",
        ],
    );
    assert!(recorded_protected(&p));
    p.payrun()
        .args(["plan"])
        .args(prod)
        .assert()
        .code(1)
        .stdout(contains("error [protected]: fake.network.main"));
}

#[test]
fn protection_outlives_its_declaration_and_changes_with_the_environment() {
    let p = applied_in_prod();
    let before = cloud(&p);

    // The declaration removed: state remembers the protection.
    std::fs::write(p.path().join("programs/main.rhai"), "").unwrap();
    let plan = run(&p, &["plan"]);
    assert_eq!(plan.status.code(), Some(1), "{}", text(&plan));
    shows(
        &text(&plan),
        &[
            "error [protected]: fake.network.main: protected (recorded as protected when last applied), and the program no longer declares it, so this plan deletes it",
        ],
    );
    p.payrun()
        .args(["apply", "--auto-approve"])
        .assert()
        .code(1);
    assert_eq!(cloud(&p), before);

    // In dev the protection is dropped: recorded with no cloud change,
    // and then the resource goes like any other.
    std::fs::write(p.path().join("programs/main.rhai"), PROGRAM).unwrap();
    let plan = run(&p, &["plan", "--detailed-exitcode"]);
    assert_eq!(plan.status.code(), Some(2), "{}", text(&plan));
    let shown = String::from_utf8_lossy(&plan.stdout);
    shows(
        &shown,
        &[
            "Protection recorded in state (no change in the cloud):\n  fake.network.main will no longer be protected",
            "Plan: 0 to add, 0 to change, 0 to destroy.",
        ],
    );
    p.payrun()
        .args(["apply", "--auto-approve"])
        .assert()
        .success();
    assert_eq!(cloud(&p), before, "recording protection changed the cloud");
    p.payrun()
        .args(["plan", "--detailed-exitcode"])
        .assert()
        .code(0);
    p.payrun()
        .args(["destroy", "--auto-approve"])
        .assert()
        .success();
    assert!(p.cloud_objects().is_empty());
}

#[test]
fn a_saved_plan_keeps_the_protection_it_was_judged_by() {
    let p = applied_in_prod();
    let prod = ["--var", "prod=true"];
    // Saved without --allow-destroy: the plan's error stands at apply.
    p.payrun()
        .args(["plan", "--destroy", "--out", "refused.plan"])
        .args(prod)
        .assert()
        .code(1);
    p.payrun()
        .args(["apply", "refused.plan", "--auto-approve"])
        .assert()
        .failure()
        .stderr(contains("[protected]: fake.network.main"));
    assert_eq!(p.cloud_objects().len(), 2);
    // Saved with it: applied exactly, with no flag at apply.
    p.payrun()
        .args([
            "plan",
            "--destroy",
            "--out",
            "allowed.plan",
            "--allow-destroy",
            "fake.network.main",
        ])
        .args(prod)
        .assert()
        .success()
        .stdout(contains(
            "because --allow-destroy on the command line names it",
        ));
    p.payrun()
        .args(["apply", "allowed.plan", "--auto-approve"])
        .assert()
        .success();
    assert!(p.cloud_objects().is_empty());
}

#[test]
fn protect_takes_true_or_false_at_its_line() {
    let p = Project::new(
        r#"fake::network("main", #{ cidr: "10.0.0.0/16", protect: "yes" });
"#,
    );
    let out = run(&p, &["plan"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    shows(
        &String::from_utf8_lossy(&out.stderr),
        &[
            "`protect` of fake::network(\"main\") takes true or false, not string",
            "main.rhai:1:",
            "fix: e.g. `protect: true`, or per environment `protect: config().vars.prod ?? false` with `--var prod=true`",
        ],
    );
    // Misspelt, it is named.
    let p = Project::new(
        r#"fake::network("main", #{ cidr: "10.0.0.0/16", protcet: true });
"#,
    );
    p.payrun()
        .arg("plan")
        .assert()
        .code(1)
        .stderr(contains("did you mean `protect`?"));
}

/// `--replace ADDRESS`: what it names is replaced even where nothing forces
/// it (what depends on it follows), a pattern that names nothing is an
/// error naming what it may have meant, a saved plan keeps the replacement,
/// and a protected resource still needs `--allow-destroy`.
#[test]
fn replace_names_what_to_make_again() {
    let p = Project::new(PROGRAM);
    p.payrun()
        .args(["apply", "--auto-approve"])
        .assert()
        .success();
    let id_of = |kind: &str| -> String {
        p.cloud_objects()
            .iter()
            .find(|(_, o)| o["kind"] == kind)
            .map(|(id, _)| id.clone())
            .unwrap()
    };
    let (net, subnet) = (id_of("fake.network"), id_of("fake.subnet"));

    let plan = run(
        &p,
        &["plan", "--replace", "fake.subnet.*", "--detailed-exitcode"],
    );
    assert_eq!(plan.status.code(), Some(2), "{}", text(&plan));
    shows(
        &String::from_utf8_lossy(&plan.stdout),
        &[
            "  # fake.subnet.a must be replaced",
            "  #   (`--replace` names it)",
            "Plan: 1 to add, 0 to change, 1 to destroy.",
        ],
    );

    // Saved, then applied exactly.
    p.payrun()
        .args([
            "plan",
            "--replace",
            "fake.subnet.a",
            "--out",
            "replace.plan",
        ])
        .assert()
        .success();
    p.payrun()
        .args(["apply", "replace.plan", "--auto-approve"])
        .assert()
        .success();
    assert_eq!(id_of("fake.network"), net);
    assert_ne!(
        id_of("fake.subnet"),
        subnet,
        "the subnet was not made again"
    );
    assert_eq!(p.cloud_objects().len(), 2);
    p.payrun()
        .args(["plan", "--detailed-exitcode"])
        .assert()
        .code(0);

    // A name that replaces nothing.
    p.payrun()
        .args(["plan", "--replace", "fake.subnet.b"])
        .assert()
        .code(1)
        .stderr(contains(
            "--replace fake.subnet.b: names no resource that the stack records and the program declares; did you mean `fake.subnet.a`?\n  fix: payrun state list",
        ));

    // Protected: the replacement is refused until a run allows it.
    let prod = ["--var", "prod=true"];
    p.payrun()
        .args(["apply", "--auto-approve"])
        .args(prod)
        .assert()
        .success();
    let before = cloud(&p);
    p.payrun()
        .args(["apply", "--auto-approve", "--replace", "fake.network.main"])
        .args(prod)
        .assert()
        .code(1)
        .stdout(contains(
            "error [protected]: fake.network.main: protected (`protect: true`), and this plan replaces it (`--replace` names it)",
        ));
    assert_eq!(cloud(&p), before);
    p.payrun()
        .args([
            "apply",
            "--auto-approve",
            "--replace",
            "fake.network.main",
            "--allow-destroy",
            "fake.network.main",
        ])
        .args(prod)
        .assert()
        .success();
    assert_ne!(id_of("fake.network"), net);
}
