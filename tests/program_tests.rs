//! `payrun test`: the repository's own `*_test.rhai` (the stdlib's network
//! split, capacity model and graph-derived policies, the payment program)
//! pass; a broken assertion fails at its `file:line:col` with exit 1; and
//! `--junit` writes a report a JUnit reader parses.

use assert_cmd::Command;

use crate::support::bin::{Project, text};

fn repo() -> &'static std::path::Path {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn the_repository_tests_pass() {
    let out = Command::cargo_bin("payrun")
        .unwrap()
        .current_dir(repo())
        .env("NO_COLOR", "1")
        .env_remove("PAYRUN_FAKE_CLOUD")
        .arg("test")
        .output()
        .unwrap();
    let shown = text(&out);
    assert_eq!(out.status.code(), Some(0), "{shown}");
    for want in [
        "stdlib/network_test.rhai",
        "  ok    test_three_zones_with_a_nat_gateway_each",
        "stdlib/workloads_test.rhai",
        "  ok    test_network_policies_allow_exactly_the_graph_paths",
        "programs/payment_test.rhai",
        " passed, 0 failed.",
    ] {
        assert!(shown.contains(want), "{want}\n{shown}");
    }
}

#[test]
fn a_broken_expectation_fails_at_its_line_and_junit_says_so() {
    let p = Project::new(
        "let net = fake::network(\"main\", #{ cidr: \"10.0.0.0/16\" });\nfake::subnet(\"a\", #{ network_id: net.id, cidr: \"10.0.1.0/24\" });\n",
    );
    std::fs::write(
        p.path().join("programs/main_test.rhai"),
        r#"fn test_counts() {
    let plan = run("main.rhai");
    expect(plan.changes("fake.*").len() == 2);
    expect(plan.changes("fake.subnet.*").len() == 3, "three subnets");
    expect_finding("pci-tls");
}

fn test_mocked_ids_reach_the_args() {
    mock("fake.network.main", #{ id: "network-42" });
    let plan = run("main.rhai", #{ suffix: "qa" });
    expect(plan.resource("fake.subnet.a").network_id == "network-42");
    expect_no_errors();
}
"#,
    )
    .unwrap();
    let out = p
        .payrun()
        .args(["test", "--junit", "report.xml"])
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    for want in [
        "programs/main_test.rhai\n  FAIL  test_counts (",
        "        programs/main_test.rhai:4:5: expect failed: three subnets\n            expect(plan.changes(\"fake.subnet.*\").len() == 3, \"three subnets\");",
        "        programs/main_test.rhai:5:5: expected a finding `pci-tls`; the plan raised none",
        "  ok    test_mocked_ids_reach_the_args (",
        "1 passed, 1 failed.",
    ] {
        assert!(shown.contains(want), "{want}\n{shown}");
    }
    // The report, read as a JUnit reader reads it.
    let report = p.path().join("report.xml");
    let parsed = std::process::Command::new(repo().join(".venv/bin/python"))
        .arg("-c")
        .arg(
            r#"
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
assert root.tag == "testsuites", root.tag
suites = root.findall("testsuite")
cases = [c for s in suites for c in s.findall("testcase")]
failed = [c for c in cases if c.find("failure") is not None]
for s in suites:
    assert int(s.get("tests")) == len(s.findall("testcase"))
    assert int(s.get("failures")) == len([c for c in s.findall("testcase") if c.find("failure") is not None])
    float(s.get("time"))
print(root.get("tests"), root.get("failures"), [c.get("name") for c in failed], failed[0].find("failure").get("message"))
"#,
        )
        .arg(&report)
        .output()
        .unwrap();
    assert!(parsed.status.success(), "{}", text(&parsed));
    assert_eq!(
        String::from_utf8_lossy(&parsed.stdout).trim(),
        "2 1 ['test_counts'] programs/main_test.rhai:4:5: expect failed: three subnets"
    );
    // No test file: nothing fails.
    let none = Project::new("");
    none.payrun().args(["test"]).assert().success();
}
