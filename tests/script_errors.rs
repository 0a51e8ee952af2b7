//! Script errors: each names file:line:col, shows the line with a caret and
//! gives a one-line fix. Messages are pinned exactly.

use crate::support::engine::Stack;

fn error_of(program: &str) -> String {
    Stack::new(program).error()
}

/// The error of a program whose project declares the secret variables
/// `A` and `B`.
fn error_with_secrets(program: &str) -> String {
    let s = Stack::new(program);
    s.allow_secret_env("A");
    s.allow_secret_env("B");
    s.error()
}

#[test]
fn misspelt_property() {
    assert_eq!(
        error_of("let net = fake::network(\"main\", #{ cidr_blok: \"10.0.0.0/16\" });\n"),
        concat!(
            "error: fake::network has no property `cidr_blok`\n",
            "  --> main.rhai:1:17\n",
            "  |\n",
            "1 | let net = fake::network(\"main\", #{ cidr_blok: \"10.0.0.0/16\" });\n",
            "  |                 ^\n",
            "  fix: did you mean `cidr`?"
        )
    );
}

#[test]
fn unknown_builder() {
    assert_eq!(
        error_of("let net = fake::netwrk(\"main\", #{ cidr: \"10.0.0.0/16\" });\n"),
        concat!(
            "error: unknown function `fake::netwrk`\n",
            "  --> main.rhai:1:17\n",
            "  |\n",
            "1 | let net = fake::netwrk(\"main\", #{ cidr: \"10.0.0.0/16\" });\n",
            "  |                 ^\n",
            "  fix: did you mean `fake::network`?"
        )
    );
}

#[test]
fn wrong_type() {
    assert_eq!(
        error_of("let net = fake::network(\"main\", #{ cidr: 16 });\n"),
        concat!(
            "error: fake::network(\"main\"): `cidr`: invalid type: integer `16`, expected a string\n",
            "  --> main.rhai:1:17\n",
            "  |\n",
            "1 | let net = fake::network(\"main\", #{ cidr: 16 });\n",
            "  |                 ^\n",
            "  fix: give the property a value of the expected type"
        )
    );
}

#[test]
fn missing_property() {
    assert_eq!(
        error_of("let net = fake::network(\"main\", #{ dns: true });\n"),
        concat!(
            "error: fake::network(\"main\"): missing field `cidr`\n",
            "  --> main.rhai:1:17\n",
            "  |\n",
            "1 | let net = fake::network(\"main\", #{ dns: true });\n",
            "  |                 ^\n",
            "  fix: add the missing property to the map"
        )
    );
}

#[test]
fn duplicate_address() {
    assert_eq!(
        error_of(
            "fake::network(\"main\", #{ cidr: \"10.0.0.0/16\" });\nfake::network(\"main\", #{ cidr: \"10.1.0.0/16\" });\n"
        ),
        concat!(
            "error: fake.network.main is declared twice (first at main.rhai:1:7)\n",
            "  --> main.rhai:2:7\n",
            "  |\n",
            "2 | fake::network(\"main\", #{ cidr: \"10.1.0.0/16\" });\n",
            "  |       ^\n",
            "  fix: give each resource of a kind its own name"
        )
    );
}

#[test]
fn cycle() {
    assert_eq!(
        error_of(
            r#"let a = fake::subnet("a", #{ network_id: resource("fake.subnet.b").id, cidr: "10.0.1.0/24" });
let b = fake::subnet("b", #{ network_id: a.id, cidr: "10.0.2.0/24" });
"#
        ),
        concat!(
            "error: dependency cycle: fake.subnet.b → fake.subnet.a → fake.subnet.b\n",
            "  --> main.rhai:2:15\n",
            "  |\n",
            "2 | let b = fake::subnet(\"b\", #{ network_id: a.id, cidr: \"10.0.2.0/24\" });\n",
            "  |               ^\n",
            "  note: fake.subnet.a is declared here\n",
            "  --> main.rhai:1:15\n",
            "  |\n",
            "1 | let a = fake::subnet(\"a\", #{ network_id: resource(\"fake.subnet.b\").id, cidr: \"10.0.1.0/24\" });\n",
            "  |               ^\n",
            "  fix: break the circle: refer to one of these resources from a separate kind (e.g. a rule kind) or drop a depends_on"
        )
    );
}

#[test]
fn dangling_ref() {
    assert_eq!(
        error_of(
            r#"let net = fake::network("main", #{ cidr: "10.0.0.0/16" });
let a = fake::subnet("a", #{ network_id: resource("fake.network.mian").id, cidr: "10.0.1.0/24" });
"#
        ),
        concat!(
            "error: fake.subnet.a refers to fake.network.mian.id, but the program declares no fake.network.mian\n",
            "  --> main.rhai:2:15\n",
            "  |\n",
            "2 | let a = fake::subnet(\"a\", #{ network_id: resource(\"fake.network.mian\").id, cidr: \"10.0.1.0/24\" });\n",
            "  |               ^\n",
            "  fix: did you mean `fake.network.main`?"
        )
    );
}

#[test]
fn unknown_output() {
    assert_eq!(
        error_of(
            r#"let net = fake::network("main", #{ cidr: "10.0.0.0/16" });
let a = fake::subnet("a", #{ network_id: net.idd, cidr: "10.0.1.0/24" });
"#
        ),
        concat!(
            "error: fake.network.main has no output `idd`\n",
            "  --> main.rhai:2:45\n",
            "  |\n",
            "2 | let a = fake::subnet(\"a\", #{ network_id: net.idd, cidr: \"10.0.1.0/24\" });\n",
            "  |                                             ^\n",
            "  fix: did you mean `id`?"
        )
    );
}

#[test]
fn parse_error() {
    assert_eq!(
        error_of("let net = fake::network(\"main\", #{ cidr: \"10.0.0.0/16\" }\n"),
        concat!(
            "error: Expecting ')' to close the arguments list of this function call 'network'\n",
            "  --> main.rhai:2:1\n",
            "  fix: add `)` to close the arguments list of this function call 'network'"
        )
    );
}

#[test]
fn undefined_variable() {
    assert_eq!(
        error_of("fake::network(\"main\", #{ cidr: base });\n"),
        concat!(
            "error: Undefined variable: base\n",
            "  --> main.rhai:1:32\n",
            "  |\n",
            "1 | fake::network(\"main\", #{ cidr: base });\n",
            "  |                                ^\n",
            "  fix: declare it first with `let base = ...;` (or use `config.vars.base` for a --var)"
        )
    );
}

// Guards secret values: a marker in an argument the kind does not flag
// secret was read back, diffed and printed in plain text.
#[test]
fn secret_in_an_argument_that_is_not_secret() {
    assert_eq!(
        error_with_secrets(
            "fake::secret(\"db\", #{ value: secret_env(\"A\"), description: [secret_env(\"B\")] });\n"
        ),
        concat!(
            "error: `description` of fake::secret(\"db\") is not secret and may not hold a `secret_env(...)`\n",
            "  --> main.rhai:1:7\n",
            "  |\n",
            "1 | fake::secret(\"db\", #{ value: secret_env(\"A\"), description: [secret_env(\"B\")] });\n",
            "  |       ^\n",
            "  fix: only `value` of fake::secret may hold a `secret_env(...)`"
        )
    );
    assert_eq!(
        error_with_secrets("fake::network(\"main\", #{ cidr: secret_env(\"A\") });\n"),
        concat!(
            "error: `cidr` of fake::network(\"main\") is not secret and may not hold a `secret_env(...)`\n",
            "  --> main.rhai:1:7\n",
            "  |\n",
            "1 | fake::network(\"main\", #{ cidr: secret_env(\"A\") });\n",
            "  |       ^\n",
            "  fix: fake::network has no secret arguments: keep the value in a secret (`aws::secretsmanager::secret`) and pass a reference to it"
        )
    );
}

#[test]
fn secret_written_in_the_program() {
    assert_eq!(
        error_with_secrets("fake::secret(\"db\", #{ value: \"hunter2\" });\n"),
        concat!(
            "error: `value` of fake::secret(\"db\") is secret and must not be written in the program\n",
            "  --> main.rhai:1:7\n",
            "  |\n",
            "1 | fake::secret(\"db\", #{ value: \"hunter2\" });\n",
            "  |       ^\n",
            "  fix: read it at apply time: `value: secret_env(\"VARIABLE\")`"
        )
    );
}

#[test]
fn error_inside_a_stdlib_module_points_at_both_places() {
    let s = Stack::new("import \"net\" as net;\nnet::make(\"main\", \"10.0.0.0/16\");\n");
    std::fs::create_dir_all(s.dir.path().join("stdlib")).unwrap();
    std::fs::write(
        s.dir.path().join("stdlib/net.rhai"),
        "fn make(name, cidr) {\n    fake::network(name, #{ cidr: cidr, dnss: true })\n}\n",
    )
    .unwrap();
    let err = s
        .error()
        .replace(&s.dir.path().display().to_string(), "DIR");
    assert_eq!(
        err,
        concat!(
            "error: fake::network has no property `dnss`\n",
            "  --> DIR/stdlib/net.rhai:2:11\n",
            "  |\n",
            "2 |     fake::network(name, #{ cidr: cidr, dnss: true })\n",
            "  |           ^\n",
            "  note: in the call to `make`\n",
            "  --> main.rhai:2:6\n",
            "  |\n",
            "2 | net::make(\"main\", \"10.0.0.0/16\");\n",
            "  |      ^\n",
            "  fix: did you mean `dns`?"
        )
    );
}

#[test]
fn secret_env_refuses_payruns_own_credentials() {
    let s =
        Stack::new("fake::secret(\"db\", #{ value: secret_env(\"AWS_SECRET_ACCESS_KEY\") });\n");
    // Declared or not: payrun's own variables are never a program's.
    s.allow_secret_env("AWS_SECRET_ACCESS_KEY");
    assert_eq!(
        s.error(),
        concat!(
            "error: secret_env(\"AWS_SECRET_ACCESS_KEY\") is refused: AWS_* variables are payrun's own: the AWS SDK's credentials and settings\n",
            "  --> main.rhai:1:30\n",
            "  |\n",
            "1 | fake::secret(\"db\", #{ value: secret_env(\"AWS_SECRET_ACCESS_KEY\") });\n",
            "  |                              ^\n",
            "  fix: give the secret a variable of its own, e.g. `secret_env(\"DB_PASSWORD\")`, and list it in payrun.toml under [allow]: secret_env = [\"DB_PASSWORD\"]"
        )
    );
}

#[test]
fn secret_env_reads_only_declared_variables() {
    let s = Stack::new("fake::secret(\"db\", #{ value: secret_env(\"DB_PASSWORD\") });\n");
    s.allow_secret_env("API_TOKEN");
    assert_eq!(
        s.error(),
        concat!(
            "error: secret_env(\"DB_PASSWORD\"): the project does not declare `DB_PASSWORD` as a secret variable\n",
            "  --> main.rhai:1:30\n",
            "  |\n",
            "1 | fake::secret(\"db\", #{ value: secret_env(\"DB_PASSWORD\") });\n",
            "  |                              ^\n",
            "  fix: add it to payrun.toml under [allow]: secret_env = [\"API_TOKEN\", \"DB_PASSWORD\"]"
        )
    );
}

#[test]
fn secret_env_refuses_an_empty_value() {
    // SAFETY: this variable is read by this test only.
    unsafe { std::env::set_var("SCRIPT_ERRORS_EMPTY_SECRET", "") };
    let s = Stack::new(
        "fake::secret(\"db\", #{ value: secret_env(\"SCRIPT_ERRORS_EMPTY_SECRET\") });\n",
    );
    s.allow_secret_env("SCRIPT_ERRORS_EMPTY_SECRET");
    assert_eq!(
        s.error(),
        concat!(
            "error: $SCRIPT_ERRORS_EMPTY_SECRET is set but empty: the secret would be an empty string\n",
            "  --> main.rhai:1:30\n",
            "  |\n",
            "1 | fake::secret(\"db\", #{ value: secret_env(\"SCRIPT_ERRORS_EMPTY_SECRET\") });\n",
            "  |                              ^\n",
            "  fix: export SCRIPT_ERRORS_EMPTY_SECRET with the secret's value before plan and apply"
        )
    );
}
