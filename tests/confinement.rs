//! Confinement: a program reads files (`import`, `stdlib_json`) only from
//! its own directory and the stdlib directories, by their real paths.
//! Absolute paths outside, `..` out and symlinks pointing out are script
//! errors at the line, naming the directories a program may read.

use std::os::unix::fs::symlink;

use crate::support::engine::Stack;

/// A stack whose `stdlib/` exists, and a directory outside it holding what
/// a program must not read.
fn stack_and_outside(program: &str) -> (Stack, tempfile::TempDir) {
    let s = Stack::new(program);
    std::fs::create_dir_all(s.dir.path().join("stdlib")).unwrap();
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(
        outside.path().join("stolen.rhai"),
        "fn token() { \"host-secret\" }\n",
    )
    .unwrap();
    std::fs::write(
        outside.path().join("creds.json"),
        "{ \"aws_secret_access_key\": \"host-secret\" }\n",
    )
    .unwrap();
    (s, outside)
}

/// `text` with the temp directories and the repository named.
fn named(s: &Stack, outside: &tempfile::TempDir, text: &str) -> String {
    text.replace(&outside.path().display().to_string(), "OUT")
        .replace(&s.dir.path().display().to_string(), "DIR")
        .replace(env!("CARGO_MANIFEST_DIR"), "REPO")
}

fn error(s: &Stack, outside: &tempfile::TempDir) -> String {
    let err = named(s, outside, &s.error());
    assert!(!err.contains("host-secret"), "{err}");
    err
}

const ALLOWED: &str = "(DIR/stdlib, REPO/stdlib, DIR)";
const FIX: &str = "  fix: move the file under one of those directories, or pass `--stdlib DIR` for the directory that holds it";

#[test]
fn an_import_by_absolute_path_outside_is_refused() {
    let (s, outside) = stack_and_outside("");
    s.write(&format!(
        "import \"{}/stolen\" as s;\nfake::network(\"main\", #{{ cidr: s::token() }});\n",
        outside.path().display()
    ));
    assert_eq!(
        error(&s, &outside),
        format!(
            concat!(
                "error: import \"OUT/stolen\" reads OUT/stolen.rhai, outside the directories a program may read {}\n",
                "  --> main.rhai:1:8\n",
                "  |\n",
                "1 | import \"OUT/stolen\" as s;\n",
                "  |        ^\n",
                "{}"
            ),
            ALLOWED, FIX
        )
    );
}

#[test]
fn an_import_with_dotdot_out_is_refused() {
    let (s, outside) = stack_and_outside("");
    // From DIR/stdlib, the first directory searched, up to / and down.
    let up = "../".repeat(s.dir.path().join("stdlib").components().count() - 1);
    let path = format!(
        "{up}{}/stolen",
        outside.path().display().to_string().trim_start_matches('/')
    );
    s.write(&format!("import \"{path}\" as s;\n"));
    assert_eq!(
        error(&s, &outside),
        named(
            &s,
            &outside,
            &format!(
                concat!(
                    "error: import \"{path}\" reads {out}/stolen.rhai, outside the directories a program may read {allowed}\n",
                    "  --> main.rhai:1:8\n",
                    "  |\n",
                    "1 | import \"{path}\" as s;\n",
                    "  |        ^\n",
                    "{fix}"
                ),
                path = path,
                out = outside.path().display(),
                allowed = ALLOWED,
                fix = FIX
            )
        )
    );
}

#[test]
fn an_import_through_a_symlink_out_is_refused() {
    let (s, outside) = stack_and_outside("let x = 1;\nimport \"helpers\" as h;\n");
    symlink(
        outside.path().join("stolen.rhai"),
        s.dir.path().join("stdlib/helpers.rhai"),
    )
    .unwrap();
    assert_eq!(
        error(&s, &outside),
        format!(
            concat!(
                "error: import \"helpers\" reads OUT/stolen.rhai, outside the directories a program may read {}\n",
                "  --> main.rhai:2:8\n",
                "  |\n",
                "2 | import \"helpers\" as h;\n",
                "  |        ^\n",
                "{}"
            ),
            ALLOWED, FIX
        )
    );
}

#[test]
fn stdlib_json_through_a_symlink_out_is_refused() {
    let (s, outside) = stack_and_outside("let policy = stdlib_json(\"policy.json\");\n");
    symlink(
        outside.path().join("creds.json"),
        s.dir.path().join("stdlib/policy.json"),
    )
    .unwrap();
    assert_eq!(
        error(&s, &outside),
        format!(
            concat!(
                "error: stdlib_json(\"policy.json\") reads OUT/creds.json, outside the directories a program may read {}\n",
                "  --> main.rhai:1:14\n",
                "  |\n",
                "1 | let policy = stdlib_json(\"policy.json\");\n",
                "  |              ^\n",
                "{}"
            ),
            ALLOWED, FIX
        )
    );
}

#[test]
fn a_symlink_that_stays_inside_is_followed() {
    let (s, _outside) = stack_and_outside(
        "import \"alias\" as net;\nnet::make(\"main\");\nlet p = stdlib_json(\"alias.json\");\n",
    );
    let stdlib = s.dir.path().join("stdlib");
    std::fs::create_dir_all(s.dir.path().join("modules")).unwrap();
    std::fs::write(
        s.dir.path().join("modules/net.rhai"),
        "fn make(name) { fake::network(name, #{ cidr: \"10.0.0.0/16\" }) }\n",
    )
    .unwrap();
    symlink(
        s.dir.path().join("modules/net.rhai"),
        stdlib.join("alias.rhai"),
    )
    .unwrap();
    symlink(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("stdlib/aws-load-balancer-controller-iam-policy.json"),
        stdlib.join("alias.json"),
    )
    .unwrap();
    let (_, program) = s.evaluate().unwrap();
    assert_eq!(program.resources.len(), 1);
}
