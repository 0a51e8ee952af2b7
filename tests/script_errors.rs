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
            "  fix: declare it first with `let base = ...;` (or use `config().vars.base` for a --var)"
        )
    );
}

// Guards `config` as one spelling: a program read `config.vars`, a module
// `config()`; a program written the old way is told the new one.
#[test]
fn config_is_a_function_in_a_program_as_in_a_module() {
    assert_eq!(
        error_of("let azs = config.vars.azs ?? 3;\n"),
        concat!(
            "error: Undefined variable: config\n",
            "  --> main.rhai:1:11\n",
            "  |\n",
            "1 | let azs = config.vars.azs ?? 3;\n",
            "  |           ^\n",
            "  fix: `config` is a function, the same in a program and in a module: `config().vars.NAME`, `config().suffix`, `config().region`"
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

/// The first line of the ref tests: a resource whose `id` is a ref.
const NET: &str = "let net = fake::network(\"main\", #{ cidr: \"10.0.0.0/16\" });\n";

const USE_A_REF_WHOLE: &str = "  fix: pass the ref whole (`vpc: vpc.id`) or put it in text with interpolation or `+` (`` `${vpc.id}-logs` ``); its value is filled in at apply";

// Guards refs: a string function read the placeholder text of a ref and
// planned it (`"\u{e000}fake"`), and the dependency edge disappeared.
#[test]
fn a_string_function_on_a_ref_is_an_error_at_the_line() {
    assert_eq!(
        error_of(&format!("{NET}let short = net.id.sub_string(0, 4);\n")),
        [
            "error: `sub_string` needs the value of the ref fake.network.main.id, which is known only after apply",
            "  --> main.rhai:2:20",
            "  |",
            "2 | let short = net.id.sub_string(0, 4);",
            "  |                    ^",
            USE_A_REF_WHOLE,
        ]
        .join("\n")
    );
    assert_eq!(
        error_of(&format!("{NET}let n = len(net.id);\n")),
        [
            "error: `len` needs the value of the ref fake.network.main.id, which is known only after apply",
            "  --> main.rhai:2:9",
            "  |",
            "2 | let n = len(net.id);",
            "  |         ^",
            USE_A_REF_WHOLE,
        ]
        .join("\n")
    );
}

#[test]
fn a_string_function_on_text_holding_a_ref_is_an_error() {
    assert_eq!(
        error_of(&format!(
            "{NET}let parts = `${{net.id}}/logs`.split(\"/\");\n"
        )),
        [
            "error: `split` needs the value of the text \"${fake.network.main.id}/logs\", which is known only after apply",
            "  --> main.rhai:2:30",
            "  |",
            "2 | let parts = `${net.id}/logs`.split(\"/\");",
            "  |                              ^",
            USE_A_REF_WHOLE,
        ]
        .join("\n")
    );
    assert_eq!(
        error_of(&format!("{NET}let up = (net.id + \"-x\").to_upper();\n")),
        [
            "error: `to_upper` needs the value of the text \"${fake.network.main.id}-x\", which is known only after apply",
            "  --> main.rhai:2:26",
            "  |",
            "2 | let up = (net.id + \"-x\").to_upper();",
            "  |                          ^",
            USE_A_REF_WHOLE,
        ]
        .join("\n")
    );
}

#[test]
fn arithmetic_on_a_ref_is_an_error() {
    assert_eq!(
        error_of(&format!("{NET}let twice = net.id * 2;\n")),
        [
            "error: `*` needs the value of the ref fake.network.main.id, which is known only after apply",
            "  --> main.rhai:2:20",
            "  |",
            "2 | let twice = net.id * 2;",
            "  |                    ^",
            USE_A_REF_WHOLE,
        ]
        .join("\n")
    );
}

#[test]
fn comparing_a_ref_is_an_error_unless_it_is_decided_now() {
    assert_eq!(
        error_of(&format!(
            "{NET}if net.id == \"vpc-123\" {{ throw \"known\"; }}\n"
        )),
        [
            "error: `==` cannot be decided before apply: the ref fake.network.main.id is compared with \"vpc-123\", and a ref's value is known only after apply",
            "  --> main.rhai:2:11",
            "  |",
            "2 | if net.id == \"vpc-123\" { throw \"known\"; }",
            "  |           ^",
            "  fix: compare values the program knows (config().vars, purposes, literals); a ref is equal only to itself",
        ]
        .join("\n")
    );
    assert_eq!(
        error_of(&format!("{NET}let first = net.id < \"m\";\n")),
        [
            "error: `<` cannot be decided before apply: the ref fake.network.main.id is compared with \"m\", and a ref's value is known only after apply",
            "  --> main.rhai:2:20",
            "  |",
            "2 | let first = net.id < \"m\";",
            "  |                    ^",
            "  fix: compare values the program knows (config().vars, purposes, literals); a ref is equal only to itself",
        ]
        .join("\n")
    );
    // Known now: a ref equals itself and its own text, and is never ().
    Stack::new(&format!(
        "{NET}if net.id != net.id || net.id != `${{net.id}}` || net.id == () {{ throw \"wrong\"; }}\n"
    ))
    .evaluate()
    .unwrap();
}

#[test]
fn a_ref_as_a_map_key_is_an_error() {
    assert_eq!(
        error_of(&format!("{NET}let by_id = #{{}};\nby_id[net.id] = 1;\n")),
        [
            "error: a ref cannot be a map key: its value is known only after apply",
            "  --> main.rhai:3:7",
            "  |",
            "3 | by_id[net.id] = 1;",
            "  |       ^",
            "  fix: key the map by something the program knows (a purpose, a name); a key that must hold the ref's value is written as text, `` m[`${vpc.id}:sub`] = ... ``, and filled in at apply",
        ]
        .join("\n")
    );
}

#[test]
fn interpolation_and_concatenation_keep_refs_and_make_edges() {
    let s = Stack::new(&format!(
        "{NET}let a = fake::subnet(\"a\", #{{ network_id: `${{net.id}}`, cidr: \"10.0.1.0/24\" }});\n\
         let b = fake::subnet(\"b\", #{{ network_id: \"pre-\" + net.id, cidr: \"10.0.2.0/24\" }});\n\
         export(\"ids\", [net.id, #{{ nested: a.id }}, net.id + \"/\" + a.id]);\n"
    ));
    let (graph, program) = s.evaluate().unwrap();
    let args = |i: usize| program.resources[i].args.clone();
    assert_eq!(
        args(1)["network_id"],
        serde_json::json!({ "$ref": "fake.network.main#id" })
    );
    assert_eq!(
        args(2)["network_id"],
        serde_json::json!({ "$template": ["pre-", { "$ref": "fake.network.main#id" }] })
    );
    assert_eq!(
        program.exports[0].value,
        serde_json::json!([
            { "$ref": "fake.network.main#id" },
            { "nested": { "$ref": "fake.subnet.a#id" } },
            { "$template": [{ "$ref": "fake.network.main#id" }, "/", { "$ref": "fake.subnet.a#id" }] },
        ])
    );
    let deps = |addr: &str| graph.deps(&addr.parse().unwrap());
    assert_eq!(
        deps("fake.subnet.a"),
        vec!["fake.network.main".parse().unwrap()]
    );
    assert_eq!(
        deps("fake.subnet.b"),
        vec!["fake.network.main".parse().unwrap()]
    );
}

#[test]
fn a_stdlib_function_with_the_wrong_number_of_arguments_names_its_parameters() {
    let s = Stack::product("import \"network\" as net;\nnet::vpc(\"main\");\nnet::flow_logs(1);\n");
    assert_eq!(
        s.error()
            .replace(&s.program().display().to_string(), "main.rhai"),
        concat!(
            "error: `net::vpc` takes 2 arguments (name, opts), not 1\n",
            "  --> main.rhai:2:6\n",
            "  |\n",
            "2 | net::vpc(\"main\");\n",
            "  |      ^\n",
            "  fix: call it as `net::vpc(name, opts)` (defined at stdlib/network.rhai:31)"
        )
    );
    s.write("import \"network\" as network;\nnetwork::flow_logs(1, 2);\n");
    assert_eq!(
        s.error()
            .replace(&s.program().display().to_string(), "main.rhai"),
        concat!(
            "error: `network::flow_logs` takes 1 argument (opts), not 2\n",
            "  --> main.rhai:2:10\n",
            "  |\n",
            "2 | network::flow_logs(1, 2);\n",
            "  |          ^\n",
            "  fix: call it as `network::flow_logs(opts)`: VPC flow logs of every accepted and rejected connection into a log group (defined at stdlib/network.rhai:164)"
        )
    );
}

#[test]
fn a_program_function_with_the_wrong_number_of_arguments_names_its_parameters() {
    assert_eq!(
        error_of("/// A network of the given size.\nfn net(name, size) { name }\nnet(\"main\");\n"),
        concat!(
            "error: `net` takes 2 arguments (name, size), not 1\n",
            "  --> main.rhai:3:1\n",
            "  |\n",
            "3 | net(\"main\");\n",
            "  | ^\n",
            "  fix: call it as `net(name, size)`: A network of the given size."
        )
    );
}

// Guards closure names: Rhai names a closure `anon$` and a hash that
// changes from run to run, which said nothing about where it was.
#[test]
fn an_error_in_a_closure_shows_where_it_was_written() {
    assert_eq!(
        error_of(&format!(
            "{NET}let sizes = [1, 2].map(|n| n.sub_string(1));\n"
        )),
        concat!(
            "error: `sub_string` does not take (i64, i64)\n",
            "  --> main.rhai:2:30\n",
            "  |\n",
            "2 | let sizes = [1, 2].map(|n| n.sub_string(1));\n",
            "  |                              ^\n",
            "  note: in the closure written here\n",
            "  --> main.rhai:2:28\n",
            "  |\n",
            "2 | let sizes = [1, 2].map(|n| n.sub_string(1));\n",
            "  |                            ^\n",
            "  note: in the call to `map`\n",
            "  --> main.rhai:2:20\n",
            "  |\n",
            "2 | let sizes = [1, 2].map(|n| n.sub_string(1));\n",
            "  |                    ^\n",
            "  fix: check the values at the caret; `type_of(x)` names the type of a value"
        )
    );
}

#[test]
fn a_cycle_closed_by_depends_on_shows_that_line_first() {
    assert_eq!(
        error_of(
            r#"let net = fake::network("main", #{ cidr: "10.0.0.0/16" });
let a = fake::subnet("a", #{ network_id: net.id, cidr: "10.0.1.0/24" });
depends_on(net, a);
"#
        ),
        concat!(
            "error: dependency cycle: fake.subnet.a → fake.network.main → fake.subnet.a\n",
            "  --> main.rhai:3:1\n",
            "  |\n",
            "3 | depends_on(net, a);\n",
            "  | ^\n",
            "  note: fake.subnet.a is declared here\n",
            "  --> main.rhai:2:15\n",
            "  |\n",
            "2 | let a = fake::subnet(\"a\", #{ network_id: net.id, cidr: \"10.0.1.0/24\" });\n",
            "  |               ^\n",
            "  note: fake.network.main is declared here\n",
            "  --> main.rhai:1:17\n",
            "  |\n",
            "1 | let net = fake::network(\"main\", #{ cidr: \"10.0.0.0/16\" });\n",
            "  |                 ^\n",
            "  fix: break the circle: drop this depends_on, or make one of these resources refer to the other from a separate kind (e.g. a rule kind)"
        )
    );
}

const RESERVED_FIX: &str = "  fix: rename the variable (e.g. `public_subnets`); as a key, quote it: `#{ \"public\": ... }` and `m[\"public\"]` (a --var public=... is `config().vars[\"public\"]`)";

#[test]
fn a_reserved_word_is_named_as_such_with_the_way_out() {
    for (program, col) in [
        ("let public = true;", 5),
        ("let tags = #{ public: true };", 15),
        ("let open = config().vars.public;", 26),
    ] {
        assert_eq!(
            error_of(&format!("{program}\n")),
            [
                "error: `public` is a reserved word in Rhai: it cannot name a variable or be written bare as a property or map key".to_string(),
                format!("  --> main.rhai:1:{col}"),
                "  |".into(),
                format!("1 | {program}"),
                format!("  | {}^", " ".repeat(col - 1)),
                RESERVED_FIX.into(),
            ]
            .join("\n")
        );
    }
    // The way out works.
    let s = Stack::new(
        "let tags = #{ \"public\": config().vars[\"public\"] };\nif tags[\"public\"] != true { throw \"lost\"; }\n",
    );
    s.set_var("public", true);
    s.evaluate().unwrap();
}

#[test]
fn a_program_that_is_not_utf8_shows_the_first_bad_byte() {
    let s = Stack::new("");
    std::fs::write(s.program(), b"let a = 1;\nlet caf\xe9 = 2;\n").unwrap();
    assert_eq!(
        s.error(),
        concat!(
            "error: the program is not UTF-8: byte 0xe9 cannot start a character\n",
            "  --> main.rhai:2:8\n",
            "  |\n",
            "2 | let caf\u{fffd} = 2;\n",
            "  |        ^\n",
            "  fix: save it as UTF-8; from Latin-1: iconv -f ISO-8859-1 -t UTF-8 main.rhai > main.rhai.utf8 && mv main.rhai.utf8 main.rhai"
        )
    );
}

/// `s`'s error with its directory and program path shortened.
fn product_error(s: &Stack) -> String {
    s.error()
        .replace(&s.program().display().to_string(), "main.rhai")
}

// Guards stdlib options: a missing one surfaced as `unknown function
// 'len'` or a builder's type error at a stdlib line.
#[test]
fn a_missing_stdlib_option_is_named_at_the_call() {
    let s = Stack::product(
        "import \"network\" as network;\nlet net = network::vpc(\"main\", #{ azs: [\"us-east-1a\"] });\n",
    );
    assert_eq!(
        product_error(&s),
        concat!(
            "error: `network::vpc` needs option `cidr` (opts.cidr is not set)\n",
            "  --> main.rhai:2:20\n",
            "  |\n",
            "2 | let net = network::vpc(\"main\", #{ azs: [\"us-east-1a\"] });\n",
            "  |                    ^\n",
            "  fix: pass it: `network::vpc(\"main\", #{ cidr: \"10.0.0.0/16\", azs: [\"us-east-1a\"] })`"
        )
    );
    // The call as the fix writes it.
    s.write("import \"network\" as network;\nlet net = network::vpc(\"main\", #{ cidr: \"10.0.0.0/16\", azs: [\"us-east-1a\"] });\n");
    s.evaluate().unwrap();

    s.write("import \"network\" as net;\nnet::vpc(\"main\", #{});\n");
    assert_eq!(
        product_error(&s),
        concat!(
            "error: `net::vpc` needs options `azs`, `cidr` (opts.azs, opts.cidr are not set)\n",
            "  --> main.rhai:2:6\n",
            "  |\n",
            "2 | net::vpc(\"main\", #{});\n",
            "  |      ^\n",
            "  fix: pass them: `net::vpc(\"main\", #{ azs: [\"us-east-1a\", \"us-east-1b\"], cidr: \"10.0.0.0/16\" })`"
        )
    );
    s.write("import \"network\" as net;\nnet::vpc(\"main\", #{ cidr: \"10.0.0.0/16\", azs: [\"us-east-1a\", \"us-east-1b\"] });\n");
    s.evaluate().unwrap();

    s.write("import \"registry\" as registry;\nlet o = #{};\nregistry::repository(\"api\", o);\n");
    assert_eq!(
        product_error(&s),
        concat!(
            "error: `registry::repository` needs option `tag` (opts.tag is not set)\n",
            "  --> main.rhai:3:11\n",
            "  |\n",
            "3 | registry::repository(\"api\", o);\n",
            "  |           ^\n",
            "  fix: add `tag: \"1.0.0\"` to the options map of `registry::repository`"
        )
    );
}

// Guards stdlib options: an option a function did not take (a typo, an
// old name such as `key` for `kms_key`) vanished, and the repository was
// made without its customer managed key.
#[test]
fn a_stdlib_option_it_does_not_take_is_refused_at_the_call() {
    let s = Stack::product(
        "import \"registry\" as registry;\nlet key = 1;\nregistry::repository(\"api\", #{ key: key, tag: \"1.0.0\" });\n",
    );
    assert_eq!(
        product_error(&s),
        concat!(
            "error: `registry::repository` has no option `key`\n",
            "  --> main.rhai:3:11\n",
            "  |\n",
            "3 | registry::repository(\"api\", #{ key: key, tag: \"1.0.0\" });\n",
            "  |           ^\n",
            "  fix: did you mean `kms_key`? (it takes fail_on, kms_key, tag)"
        )
    );
}

/// Every stdlib module with an options map refuses a misspelt option, at
/// the top level and, where it takes nested options, inside them, at the
/// caller's line with the name it meant.
#[test]
fn every_stdlib_module_refuses_a_misspelt_option() {
    // (module, call, the option named, the name suggested)
    let cases = [
        (
            "eks",
            r#"eks::platform("p", #{ version: "1.35", network: 1, kms_key: 1, adons: [] })"#,
            "adons",
            "addons",
        ),
        (
            "eks",
            r#"eks::platform("p", #{ version: "1.35", network: 1, kms_key: 1, addons: [#{ name: "coredns", confguration_values: #{} }] })"#,
            "addons[0].confguration_values",
            "addons[0].configuration_values",
        ),
        (
            "iam",
            r#"iam::service_role("p", #{ eks: 1, statments: [] })"#,
            "statments",
            "statements",
        ),
        (
            "keys",
            r#"keys::logs_key("p", #{ account: "1", description: "d", acount: "2" })"#,
            "acount",
            "account",
        ),
        (
            "lattice",
            r#"lattice::from_graph("p", #{ graph: #{ services: #{}, paths: [] }, nett: 1, net: 1 })"#,
            "nett",
            "net",
        ),
        (
            "lattice",
            r#"lattice::from_graph("p", #{ graph: #{ services: #{}, path: [] }, net: 1 })"#,
            "graph.path",
            "graph.paths",
        ),
        (
            "mesh",
            r#"mesh::from_graph("p", #{ graph: #{ services: #{}, paths: [] }, certificate_ar: "x" })"#,
            "certificate_ar",
            "certificate_arn",
        ),
        (
            "mesh",
            r#"mesh::from_graph("p", #{ graph: #{ service: #{}, paths: [] } })"#,
            "graph.service",
            "graph.services",
        ),
        (
            "network",
            r#"network::vpc("main", #{ cidr: "10.0.0.0/16", azs: ["us-east-1a"], nats: "single" })"#,
            "nats",
            "nat",
        ),
        (
            "observability",
            r#"observability::container_insights(#{ eks: 1, kube: 1, kms_key: 1, kms_keys: 1 })"#,
            "kms_keys",
            "kms_key",
        ),
        (
            "registry",
            r#"registry::repository("api", #{ tag: "1.0.0", fail_in: "HIGH" })"#,
            "fail_in",
            "fail_on",
        ),
        (
            "secrets",
            r#"secrets::secret("db", #{ kms_key: 1, kms_keys: 1 })"#,
            "kms_keys",
            "kms_key",
        ),
        (
            "workloads",
            r#"workloads::ingress(#{ kube: 1, service: 1, certificate: "arn" })"#,
            "certificate",
            "certificate_arn",
        ),
        (
            "workloads",
            r#"workloads::tenant("t", #{ kube: 1, role: 1, quota: #{ cpu: "2", memroy: "4Gi" } })"#,
            "quota.memroy",
            "quota.memory",
        ),
        (
            "workloads",
            r#"workloads::service("t", #{ kube: 1, tenant: 1, image: "i", port: 80, cpu: "1", memory: "1Gi", replicas: #{ min: 2, mx: 3 } })"#,
            "replicas.mx",
            "replicas.max",
        ),
    ];
    for (module, call, option, meant) in cases {
        let s = Stack::product(&format!("import \"{module}\" as {module};\n{call};\n"));
        let error = product_error(&s);
        let col = module.len() + 3;
        assert!(
            error.contains(&format!(
                "has no option `{option}`\n  --> main.rhai:2:{col}\n"
            )),
            "{module}: {error}"
        );
        assert!(
            error.contains(&format!("fix: did you mean `{meant}`?")),
            "{module}: {error}"
        );
    }
}

#[test]
fn a_stdlib_error_carries_its_own_fix() {
    let s = Stack::product(
        "import \"network\" as network;\nnetwork::vpc(\"main\", #{ cidr: \"10.0.0.0/16\", azs: [\"us-east-1a\"], nat: \"none\" });\n",
    );
    assert_eq!(
        product_error(&s),
        concat!(
            "error: network::vpc: nat must be \"per-az\" or \"single\", not \"none\"\n",
            "  --> stdlib/network.rhai:51:9\n",
            "   |\n",
            "51 |         fail(\n",
            "   |         ^\n",
            "  note: in the call to `vpc`\n",
            "  --> main.rhai:2:10\n",
            "  |\n",
            "2 | network::vpc(\"main\", #{ cidr: \"10.0.0.0/16\", azs: [\"us-east-1a\"], nat: \"none\" });\n",
            "  |          ^\n",
            "  fix: write nat: \"per-az\" (a NAT gateway per zone) or nat: \"single\" (one for every zone)"
        )
    );
}

// Guards `config().vars`: an unset one read without a default became `()`
// and failed as `invalid type: null, expected a string`.
#[test]
fn an_unset_var_names_the_var_and_where_a_default_goes() {
    assert_eq!(
        error_of("let net = fake::network(\"main\", #{ cidr: config().vars.cidr });\n"),
        concat!(
            "error: `config().vars.cidr` is not set (no `--var cidr=...` was given), so it is `()` here: fake::network(\"main\"): `cidr`: invalid type: null, expected a string\n",
            "  --> main.rhai:1:17\n",
            "  |\n",
            "1 | let net = fake::network(\"main\", #{ cidr: config().vars.cidr });\n",
            "  |                 ^\n",
            "  fix: pass it on the command line, `--var cidr=VALUE`, or give a default where it is read: `config().vars.cidr ?? VALUE`"
        )
    );
    assert_eq!(
        error_of(
            "let cidr = config().vars.cidr;\nlet net = fake::network(\"main\", #{ cidr: cidr });\n"
        ),
        concat!(
            "error: `config().vars.cidr` is not set (no `--var cidr=...` was given), so it is `()` here: fake::network(\"main\"): `cidr`: invalid type: null, expected a string\n",
            "  --> main.rhai:2:17\n",
            "  |\n",
            "2 | let net = fake::network(\"main\", #{ cidr: cidr });\n",
            "  |                 ^\n",
            "  note: `config().vars.cidr` is read here\n",
            "  --> main.rhai:1:12\n",
            "  |\n",
            "1 | let cidr = config().vars.cidr;\n",
            "  |            ^\n",
            "  fix: pass it on the command line, `--var cidr=VALUE`, or give a default where it is read: `config().vars.cidr ?? VALUE`"
        )
    );
    let s = Stack::new("let net = fake::network(\"main\", #{ cidr: config().vars.cidr });\n");
    s.vars
        .lock()
        .unwrap()
        .insert("cidr".into(), "10.0.0.0/16".into());
    s.evaluate().unwrap();
}

/// A handle passed where the argument takes an output its kind lacks.
#[test]
fn a_handle_where_its_kind_lacks_the_output() {
    let s = Stack::product(
        r#"let ip = aws::ec2::eip("nat");
aws::iam::role_policy_attachment("app", #{ role: "app", policy: ip });
"#,
    );
    assert_eq!(
        s.error(),
        concat!(
            "error: `policy` of aws::iam::role_policy_attachment(\"app\") takes the arn of a resource, but aws.ec2.eip.nat has no output `arn`\n",
            "  --> main.rhai:2:11\n",
            "  |\n",
            "2 | aws::iam::role_policy_attachment(\"app\", #{ role: \"app\", policy: ip });\n",
            "  |           ^\n",
            "  fix: pass the output of aws.ec2.eip.nat you mean (`.id`, or one of: public_ip)"
        )
    );
}

/// A generated (`awscc`) kind refuses what its CloudFormation schema does,
/// at the builder's line: a misspelt property (with the name meant), a
/// wrong type inside a nested object, a missing required property, a value
/// outside an enumeration, a kind that is none.
#[test]
fn a_generated_kind_refuses_what_its_schema_does_at_the_line() {
    let cases = [
        (
            r#"awscc::sqs::queue("q", #{ visibility_timout: 60 });"#,
            "error: awscc::sqs::queue has no property `visibility_timout`",
            "  fix: did you mean `visibility_timeout`?",
        ),
        (
            r#"awscc::dynamodb::table("t", #{ key_schema: [#{ attribute_name: "pk", key_type: "HASH" }], point_in_time_recovery_specification: #{ point_in_time_recovery_enabled: "yes" } });"#,
            "error: awscc::dynamodb::table(\"t\"): `point_in_time_recovery_specification.point_in_time_recovery_enabled`: expected true or false, not a string",
            "  fix: give `point_in_time_recovery_specification.point_in_time_recovery_enabled` true or false",
        ),
        (
            r#"awscc::dynamodb::table("t", #{ billing_mode: "PAY_PER_REQUEST" });"#,
            "error: awscc::dynamodb::table(\"t\"): missing required property `key_schema`",
            "  fix: add `key_schema` (`payrun docs awscc.dynamodb.table` shows what it takes)",
        ),
        (
            r#"awscc::dynamodb::table("t", #{ key_schema: [#{ attribute_name: "pk", key_type: "HASH" }], billing_mode: "ON_DEMAND" });"#,
            "error: awscc::dynamodb::table(\"t\"): `billing_mode`: \"ON_DEMAND\" is not one of PAY_PER_REQUEST, PROVISIONED",
            "  fix: use one of the values the message lists",
        ),
        (
            r#"awscc::sqs::queu("q", #{});"#,
            "error: no CloudFormation type is the kind `awscc::sqs::queu`",
            "  fix: did you mean `awscc::sqs::queue`?",
        ),
    ];
    for (program, message, fix) in cases {
        let s = Stack::product(&format!("{program}\n"));
        let error = product_error(&s);
        let mut lines = error.lines();
        assert_eq!(lines.next(), Some(message), "{error}");
        assert!(
            lines
                .next()
                .is_some_and(|l| l.starts_with("  --> main.rhai:1:")),
            "{error}"
        );
        assert_eq!(error.lines().last(), Some(fix), "{error}");
    }
}
