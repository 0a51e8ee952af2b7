//! `adopt` and `moved` on the fake cloud: an import is reviewed in the plan
//! and recorded by the apply with no object made; a refused import changes
//! nothing; a move changes state and not the cloud, from a saved plan too.

use crate::support::bin::{Project, text};

fn run(p: &Project, args: &[&str]) -> std::process::Output {
    p.payrun().args(args).output().unwrap()
}

fn cloud(p: &Project) -> Vec<u8> {
    std::fs::read(p.cloud()).unwrap()
}

fn state(p: &Project) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(p.path().join(".payrun/main.qa.json")).unwrap()).unwrap()
}

fn shows(text: &str, wants: &[&str]) {
    for want in wants {
        assert!(text.contains(want), "{want}\n{text}");
    }
}

fn write_program(p: &Project, program: &str) {
    std::fs::write(p.path().join("programs/main.rhai"), program).unwrap();
}

/// A project whose fake cloud holds a network made by hand (no tags, no
/// record in any stack), returning its id.
fn with_a_network_made_by_hand() -> (Project, String) {
    let p = Project::new(r#"fake::network("made", #{ cidr: "10.9.0.0/16" });"#);
    run(&p, &["apply", "--auto-approve", "--suffix", "scratch"]);
    let mut cloud: serde_json::Value = serde_json::from_slice(&cloud(&p)).unwrap();
    let objects = cloud["objects"].as_object_mut().unwrap();
    assert_eq!(objects.len(), 1);
    let (id, object) = objects.iter_mut().next().unwrap();
    object["tags"] = serde_json::json!({});
    object["args"].as_object_mut().unwrap().remove("tags");
    let id = id.clone();
    std::fs::write(p.cloud(), serde_json::to_vec(&cloud).unwrap()).unwrap();
    std::fs::remove_file(p.path().join(".payrun/main.scratch.json")).unwrap();
    (p, id)
}

#[test]
fn adopt_imports_what_exists_and_makes_nothing() {
    let (p, id) = with_a_network_made_by_hand();
    let program = p.path().join("programs/main.rhai").display().to_string();
    write_program(
        &p,
        &format!(
            "let net = fake::network(\"main\", #{{ cidr: \"10.9.0.0/16\" }});\nadopt(net, \"{id}\");\nfake::subnet(\"a\", #{{ network_id: net.id, cidr: \"10.9.1.0/24\" }});\n"
        ),
    );
    // A refresh-only plan does not pass over the import: it says it waits.
    let refresh = run(&p, &["plan", "--refresh-only"]);
    assert_eq!(refresh.status.code(), Some(1), "{}", text(&refresh));
    shows(
        &text(&refresh),
        &[
            &format!(
                "--refresh-only records drift alone, and the program changes what state records:\n  adopt(fake.network.main, \"{id}\") at {program}:2:1"
            ),
            "fix: review and apply those first with `payrun apply",
        ],
    );
    let plan = run(&p, &["plan", "--detailed-exitcode"]);
    assert_eq!(plan.status.code(), Some(2), "{}", text(&plan));
    shows(
        &text(&plan),
        &[
            "# fake.network.main will be imported, then updated in-place where it differs from the declaration",
            &format!("(imported from {id}: adopt at {program}:2:1)"),
            "~ tags = null -> {",
            "Plan: 1 to add, 1 to change, 0 to destroy, 1 to import.",
        ],
    );
    let made_before = p.cloud_objects().len();
    let apply = run(&p, &["apply", "--auto-approve"]);
    assert_eq!(apply.status.code(), Some(0), "{}", text(&apply));
    let objects = p.cloud_objects();
    // The subnet is the one object made; the network is the same object,
    // now carrying payrun's tags.
    assert_eq!(objects.len(), made_before + 1);
    assert_eq!(objects[&id]["tags"]["payrun:address"], "fake.network.main");
    assert_eq!(
        state(&p)["resources"]["fake.network.main"]["id"],
        id.as_str()
    );
    let replan = run(&p, &["plan", "--detailed-exitcode"]);
    assert_eq!(replan.status.code(), Some(0), "{}", text(&replan));
    // Applied, the adopt is history: a refresh-only plan goes ahead.
    let refresh = run(&p, &["plan", "--refresh-only", "--detailed-exitcode"]);
    assert_eq!(refresh.status.code(), Some(0), "{}", text(&refresh));
    // The graph marks the import.
    let graph = run(&p, &["graph"]);
    shows(
        &text(&graph),
        &[&format!(
            "\"fake.network.main\" [style = dashed, label = \"fake.network.main\\n(imported from {id})\"]"
        )],
    );
}

#[test]
fn an_import_that_cannot_be_made_as_declared_is_refused_before_any_change() {
    let (p, id) = with_a_network_made_by_hand();
    let program = p.path().join("programs/main.rhai").display().to_string();
    let before = cloud(&p);
    let refused = |source: String, wants: &[&str]| {
        write_program(&p, &source);
        for cmd in [&["plan"][..], &["apply", "--auto-approve"][..]] {
            let out = run(&p, cmd);
            assert_eq!(out.status.code(), Some(1), "{}", text(&out));
            shows(&text(&out), wants);
            assert_eq!(cloud(&p), before, "a refused import changed the cloud");
        }
    };
    // A create-only property that differs: named, with the value to write.
    refused(
        format!(
            "let net = fake::network(\"main\", #{{ cidr: \"10.1.0.0/16\" }});\nadopt(net, \"{id}\");\n"
        ),
        &[
            &format!(
                "adopt(fake.network.main, \"{id}\") at {program}:2:1: the live object differs from the declaration where only a new object could follow it: `cidr` forces replacement"
            ),
            "fix: declare what it is live: `cidr: \"10.9.0.0/16\"`",
            "nothing was planned or changed",
        ],
    );
    // An id that does not exist, or is of another kind.
    refused(
        "let net = fake::network(\"main\", #{ cidr: \"10.9.0.0/16\" });\nadopt(net, \"network-999\");\n".into(),
        &["adopt(fake.network.main, \"network-999\")", "no fake.network has the id network-999 in this account and region (or the id is of another kind)", "fix: `payrun discover --kind fake.network` lists the ids there are"],
    );
    // One object adopted twice.
    refused(
        format!(
            "let a = fake::network(\"a\", #{{ cidr: \"10.9.0.0/16\" }});\nadopt(a, \"{id}\");\nlet b = fake::network(\"b\", #{{ cidr: \"10.9.0.0/16\" }});\nadopt(b, \"{id}\");\n"
        ),
        &[
            &format!("{program}:4:1"),
            &format!("{id} is adopted by fake.network.a already"),
        ],
    );
    // An object another stack manages.
    write_program(
        &p,
        "fake::network(\"theirs\", #{ cidr: \"10.8.0.0/16\" });\n",
    );
    let other = run(&p, &["apply", "--auto-approve", "--suffix", "other"]);
    assert_eq!(other.status.code(), Some(0), "{}", text(&other));
    let theirs = state_of(&p, "other")["resources"]["fake.network.theirs"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let before_theirs = cloud(&p);
    write_program(
        &p,
        &format!(
            "let net = fake::network(\"main\", #{{ cidr: \"10.8.0.0/16\" }});\nadopt(net, \"{theirs}\");\n"
        ),
    );
    let out = run(&p, &["plan"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    shows(
        &text(&out),
        &[&format!(
            "{theirs} is managed by the stack main.other (as fake.network.theirs)"
        )],
    );
    assert_eq!(cloud(&p), before_theirs);
}

fn state_of(p: &Project, suffix: &str) -> serde_json::Value {
    serde_json::from_slice(
        &std::fs::read(p.path().join(format!(".payrun/main.{suffix}.json"))).unwrap(),
    )
    .unwrap()
}

#[test]
fn moved_changes_the_address_in_state_and_nothing_in_the_cloud() {
    let p = Project::new(
        "let net = fake::network(\"a\", #{ cidr: \"10.0.0.0/16\" });\nfake::subnet(\"one\", #{ network_id: net.id, cidr: \"10.0.1.0/24\" });\n",
    );
    let first = run(&p, &["apply", "--auto-approve"]);
    assert_eq!(first.status.code(), Some(0), "{}", text(&first));
    let id = state(&p)["resources"]["fake.network.a"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let program = p.path().join("programs/main.rhai").display().to_string();
    write_program(
        &p,
        "let net = fake::network(\"main\", #{ cidr: \"10.0.0.0/16\" });\nmoved(\"fake.network.a\", \"fake.network.main\");\nfake::subnet(\"one\", #{ network_id: net.id, cidr: \"10.0.1.0/24\" });\n",
    );
    let before = cloud(&p);
    let plan = run(&p, &["plan", "--detailed-exitcode", "--out", "move.plan"]);
    assert_eq!(plan.status.code(), Some(2), "{}", text(&plan));
    shows(
        &text(&plan),
        &[
            &format!(
                "# fake.network.a has moved to fake.network.main (moved at {program}:2:1): state changes, the cloud does not; {id} keeps its name and tags"
            ),
            "Plan: 0 to add, 0 to change, 0 to destroy, 1 to move.",
        ],
    );
    // The saved plan applies the move; the cloud is byte for byte the same.
    let apply = run(&p, &["apply", "--auto-approve", "move.plan"]);
    assert_eq!(apply.status.code(), Some(0), "{}", text(&apply));
    assert_eq!(cloud(&p), before, "a move changed the cloud");
    let st = state(&p);
    assert!(st["resources"].get("fake.network.a").is_none());
    assert_eq!(st["resources"]["fake.network.main"]["id"], id.as_str());
    assert_eq!(
        st["resources"]["fake.network.main"]["tagged_as"],
        "fake.network.a"
    );
    // With the moved still in the program, and without it: nothing to do.
    let replan = run(&p, &["plan", "--detailed-exitcode"]);
    assert_eq!(replan.status.code(), Some(0), "{}", text(&replan));
    write_program(
        &p,
        "let net = fake::network(\"main\", #{ cidr: \"10.0.0.0/16\" });\nfake::subnet(\"one\", #{ network_id: net.id, cidr: \"10.0.1.0/24\" });\n",
    );
    let replan = run(&p, &["plan", "--detailed-exitcode"]);
    assert_eq!(replan.status.code(), Some(0), "{}", text(&replan));
    let graph_program = "let net = fake::network(\"main\", #{ cidr: \"10.0.0.0/16\" });\nmoved(\"fake.network.a\", \"fake.network.main\");\n";
    write_program(&p, graph_program);
    shows(
        &text(&run(&p, &["graph"])),
        &[
            "\"fake.network.main\" [style = dotted, label = \"fake.network.main\\n(moved from fake.network.a)\"]",
        ],
    );
}

#[test]
fn a_move_that_cannot_be_is_an_error_at_its_line() {
    let p = Project::new("fake::network(\"a\", #{ cidr: \"10.0.0.0/16\" });\n");
    let program = p.path().join("programs/main.rhai").display().to_string();
    for (source, wants) in [
        (
            "fake::network(\"a\", #{ cidr: \"10.0.0.0/16\" });\nmoved(\"fake.network.a\", \"fake.network.b\");\n",
            vec![
                format!("{program}:2:1"),
                "moved(\"fake.network.a\", \"fake.network.b\"): the program still declares fake.network.a".to_string(),
            ],
        ),
        (
            "fake::network(\"b\", #{ cidr: \"10.0.0.0/16\" });\nmoved(\"fake.network.a\", \"fake.subnet.b\");\n",
            vec!["a move keeps the kind, and fake.subnet is not fake.network".to_string()],
        ),
        (
            "fake::network(\"b\", #{ cidr: \"10.0.0.0/16\" });\nmoved(\"fake.network.a\", \"fake.network.c\");\n",
            vec!["the program declares no fake.network.c".to_string()],
        ),
    ] {
        write_program(&p, source);
        let out = run(&p, &["plan"]);
        assert_eq!(out.status.code(), Some(1), "{}", text(&out));
        for want in &wants {
            assert!(text(&out).contains(want.as_str()), "{want}\n{}", text(&out));
        }
    }
}
