//! Values AWS would refuse are refused by payrun first: a value written in
//! the program at the builder call (a script error with its position and
//! fix), a value across resources (a subnet outside its VPC) as an error
//! finding at the resource's line, and a ref when it resolves, before the
//! provider call. None of them reaches the cloud. Messages are pinned
//! exactly.

use payrun::finding::Severity;
use payrun::plan::Plan;

use crate::support::engine::Stack;

/// The script error of a program on the product's providers.
fn error_of(program: &str) -> String {
    Stack::product(program).error()
}

/// A one-line program's script error: message, position and fix; the
/// snippet lines between them are the harness's own (pinned in
/// tests/script_errors.rs).
fn refusal(program: &str) -> (String, String, String) {
    let e = error_of(program);
    let lines: Vec<&str> = e.lines().collect();
    (
        lines[0].to_string(),
        lines[1].trim().to_string(),
        lines.last().unwrap().trim().to_string(),
    )
}

fn r(message: &str, at: &str, fix: &str) -> (String, String, String) {
    (message.to_string(), at.to_string(), fix.to_string())
}

#[test]
fn a_cidr_block_that_does_not_parse() {
    assert_eq!(
        error_of("let vpc = aws::ec2::vpc(\"main\", #{ cidr: \"10.0.256.0/33\" });\n"),
        concat!(
            "error: aws::ec2::vpc(\"main\"): `cidr`: `10.0.256.0/33` is not a CIDR block: `256` is not an octet (0 to 255)\n",
            "  --> main.rhai:1:21\n",
            "  |\n",
            "1 | let vpc = aws::ec2::vpc(\"main\", #{ cidr: \"10.0.256.0/33\" });\n",
            "  |                     ^\n",
            "  fix: write `cidr` as an IPv4 block such as `10.0.0.0/16`"
        )
    );
    assert_eq!(
        refusal("aws::ec2::vpc(\"main\", #{ cidr: \"10.0.0.0/33\" });"),
        r(
            "error: aws::ec2::vpc(\"main\"): `cidr`: `10.0.0.0/33` is not a CIDR block: `/33` is not a prefix length (0 to 32)",
            "--> main.rhai:1:11",
            "fix: write `cidr` as an IPv4 block such as `10.0.0.0/16`"
        )
    );
}

#[test]
fn vpc_and_subnet_sizes_and_host_bits() {
    assert_eq!(
        refusal("aws::ec2::vpc(\"main\", #{ cidr: \"10.0.0.0/8\" });"),
        r(
            "error: aws::ec2::vpc(\"main\"): `cidr`: `10.0.0.0/8` is a /8; AWS takes a VPC of /16 to /28 only",
            "--> main.rhai:1:11",
            "fix: use a /16 to /28 block, e.g. `10.0.0.0/16`"
        )
    );
    assert_eq!(
        refusal("aws::ec2::vpc(\"main\", #{ cidr: \"10.0.0.0/30\" });"),
        r(
            "error: aws::ec2::vpc(\"main\"): `cidr`: `10.0.0.0/30` is a /30; AWS takes a VPC of /16 to /28 only",
            "--> main.rhai:1:11",
            "fix: use a /16 to /28 block, e.g. `10.0.0.0/28`"
        )
    );
    assert_eq!(
        refusal("aws::ec2::vpc(\"main\", #{ cidr: \"10.0.1.0/16\" });"),
        r(
            "error: aws::ec2::vpc(\"main\"): `cidr`: `10.0.1.0/16` sets bits after its /16 prefix: it is not the address of a network",
            "--> main.rhai:1:11",
            "fix: write the network's own address: `10.0.0.0/16`"
        )
    );
    assert_eq!(
        refusal(
            "aws::ec2::subnet(\"a\", #{ vpc: \"vpc-1\", cidr: \"10.0.0.0/30\", az: \"us-east-1a\" });"
        ),
        r(
            "error: aws::ec2::subnet(\"a\"): `cidr`: `10.0.0.0/30` is a /30; AWS takes a subnet of /16 to /28 only",
            "--> main.rhai:1:11",
            "fix: use a /16 to /28 block, e.g. `10.0.0.0/28`"
        )
    );
}

#[test]
fn ports_and_protocols_of_rules() {
    let ingress = |rule: &str| {
        refusal(&format!(
            "aws::ec2::security_group_ingress(\"web\", #{{ security_group: \"sg-1\", cidr: \"10.0.0.0/16\", {rule} }});"
        ))
    };
    assert_eq!(
        ingress("protocol: \"tcp\", from_port: 443, to_port: 65536"),
        r(
            "error: aws::ec2::security_group_ingress(\"web\"): `to_port`: 65536 is out of range: a port is 0 to 65535",
            "--> main.rhai:1:11",
            "fix: give `to_port` a value from 0 to 65535"
        )
    );
    assert_eq!(
        ingress("protocol: \"tcp\", from_port: 443, to_port: 80"),
        r(
            "error: aws::ec2::security_group_ingress(\"web\"): `from_port` 443 is above `to_port` 80: the range is empty",
            "--> main.rhai:1:11",
            "fix: write the lower port first: `from_port: 80, to_port: 443`"
        )
    );
    assert_eq!(
        ingress("protocol: \"tpc\", from_port: 443, to_port: 443"),
        r(
            "error: aws::ec2::security_group_ingress(\"web\"): `protocol`: `tpc` is not an IP protocol",
            "--> main.rhai:1:11",
            "fix: write `tcp`, `udp`, `icmp`, `icmpv6`, `-1` (every protocol) or a protocol number from 0 to 255"
        )
    );
    let entry = |rule: &str| {
        refusal(&format!(
            "aws::ec2::network_acl_entry(\"in\", #{{ network_acl: \"acl-1\", action: \"allow\", cidr: \"0.0.0.0/0\", {rule} }});"
        ))
    };
    assert_eq!(
        entry("rule_number: 0, protocol: \"-1\""),
        r(
            "error: aws::ec2::network_acl_entry(\"in\"): `rule_number`: 0 is out of range: AWS numbers network ACL entries 1 to 32766",
            "--> main.rhai:1:11",
            "fix: give `rule_number` a value from 1 to 32766 (lower numbers are matched first)"
        )
    );
    assert_eq!(
        entry("rule_number: 100, protocol: \"udp\", from_port: -5, to_port: 53"),
        r(
            "error: aws::ec2::network_acl_entry(\"in\"): `from_port`: -5 is out of range: a port is 0 to 65535",
            "--> main.rhai:1:11",
            "fix: give `from_port` a value from 0 to 65535"
        )
    );
}

#[test]
fn values_of_enumerations() {
    assert_eq!(
        refusal("aws::ecr::repository(\"api\", #{ image_tag_mutability: \"IMMUTABL\" });"),
        r(
            "error: aws::ecr::repository(\"api\"): `image_tag_mutability`: `IMMUTABL` is not one of the values AWS accepts",
            "--> main.rhai:1:11",
            "fix: did you mean `IMMUTABLE`? `image_tag_mutability` takes `IMMUTABLE`, `MUTABLE`"
        )
    );
    assert_eq!(
        refusal(
            "aws::ecr::registry_scanning_configuration(\"scan\", #{ scan_type: \"ENHANCED\", rules: [#{ scan_frequency: \"DAILY\", filters: [\"*\"] }] });"
        ),
        r(
            "error: aws::ecr::registry_scanning_configuration(\"scan\"): `scan_frequency`: `DAILY` is not one of the values AWS accepts",
            "--> main.rhai:1:11",
            "fix: `scan_frequency` takes `CONTINUOUS_SCAN`, `MANUAL`, `SCAN_ON_PUSH`"
        )
    );
    assert_eq!(
        refusal("aws::logs::log_group(\"audit\", #{ retention_in_days: 100 });"),
        r(
            "error: aws::logs::log_group(\"audit\"): `retention_in_days`: CloudWatch Logs keeps logs 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653 days, not 100",
            "--> main.rhai:1:12",
            "fix: use one of those, e.g. `retention_in_days: 120`, or leave it out to keep logs forever"
        )
    );
}

/// Each fix above, written as printed, is accepted.
#[test]
fn the_fixes_work_as_printed() {
    let s = Stack::product(
        r#"
aws::ec2::vpc("main", #{ cidr: "10.0.0.0/16" });
aws::ec2::vpc("small", #{ cidr: "10.0.0.0/28" });
aws::ec2::security_group_ingress("web", #{ security_group: "sg-1", cidr: "10.0.0.0/16", protocol: "tcp", from_port: 80, to_port: 443 });
aws::ec2::network_acl_entry("in", #{ network_acl: "acl-1", action: "allow", cidr: "0.0.0.0/0", rule_number: 100, protocol: "udp", from_port: 0, to_port: 53 });
aws::ecr::repository("api", #{ image_tag_mutability: "IMMUTABLE" });
aws::logs::log_group("audit", #{ retention_in_days: 120 });
"#,
    );
    s.evaluate().unwrap();
}

/// `--var azs=us-east-1a` is text, which Rhai iterates as characters: it
/// made subnets in the zones `u`, `s` and `-`.
#[test]
fn availability_zones_given_as_text() {
    let e = error_of(
        r#"import "network" as network;
network::vpc("main", #{ cidr: "10.0.0.0/16", azs: "us-east-1a" });
"#,
    );
    assert!(
        e.starts_with(
            "error: network::vpc: azs must be a list of availability zones, not the string us-east-1a\n"
        ),
        "{e}"
    );
    assert!(e.contains("--> main.rhai:2:10"), "{e}");
    assert!(
        e.ends_with(
            "  fix: write azs: [\"us-east-1a\", \"us-east-1b\"], or on the command line --var 'azs=[\"us-east-1a\",\"us-east-1b\"]'"
        ),
        "{e}"
    );
}

const SUBNETS: &str = r#"let vpc = aws::ec2::vpc("main", #{ cidr: "10.0.0.0/16" });
aws::ec2::subnet("a", #{ vpc: vpc, cidr: "10.0.0.0/24", az: "us-east-1a" });
aws::ec2::subnet("b", #{ vpc: vpc, cidr: "10.0.0.0/25", az: "us-east-1b" });
aws::ec2::subnet("c", #{ vpc: vpc, cidr: "10.1.0.0/24", az: "eu-west-1a" });
"#;

fn findings(plan: &Plan) -> Vec<(String, String, String, String)> {
    plan.findings
        .iter()
        .map(|f| {
            assert_eq!(f.severity, Severity::Error, "{f:?}");
            (
                f.code.clone(),
                f.message.clone(),
                f.remedy.clone().unwrap_or_default(),
                f.source.clone().unwrap_or_default(),
            )
        })
        .collect()
}

#[tokio::test]
async fn subnets_across_the_program() {
    let s = Stack::product(SUBNETS);
    let plan = s.plan().await;
    let program = s.program().display().to_string();
    let got: Vec<_> = findings(&plan)
        .into_iter()
        .map(|(c, m, r, src)| {
            (
                c,
                m.replace(&program, "main.rhai"),
                r,
                src.replace(&program, "main.rhai"),
            )
        })
        .collect();
    let f = |c: &str, m: &str, r: &str, src: &str| {
        (c.to_string(), m.to_string(), r.to_string(), src.to_string())
    };
    assert_eq!(
        got,
        [
            f(
                "subnet-overlap",
                "aws.ec2.subnet.b: `10.0.0.0/25` overlaps `10.0.0.0/24` of aws.ec2.subnet.a (declared at main.rhai:2:11), another subnet of aws.ec2.vpc.main",
                "give each subnet of aws.ec2.vpc.main a block of its own (`cidr_subnet(base, newbits, index)` with a different index)",
                "main.rhai:3:11"
            ),
            f(
                "az-region",
                "aws.ec2.subnet.c: `eu-west-1a` is not an availability zone of us-east-1, the stack's region",
                "use a zone of us-east-1 (`us-east-1a`, `us-east-1b`, ...), or plan the stack in eu-west-1 with --region eu-west-1",
                "main.rhai:4:11"
            ),
            f(
                "subnet-outside-vpc",
                "aws.ec2.subnet.c: `10.1.0.0/24` lies outside `10.0.0.0/16`, the block of aws.ec2.vpc.main",
                "take the subnet from the VPC's block, e.g. `cidr: cidr_subnet(\"10.0.0.0/16\", 8, 0)`",
                "main.rhai:4:11"
            ),
        ]
    );
    assert!(plan.has_errors());

    // The remedies as printed: a block of the VPC's own, a zone of the
    // region.
    s.write(
        r#"let vpc = aws::ec2::vpc("main", #{ cidr: "10.0.0.0/16" });
aws::ec2::subnet("a", #{ vpc: vpc, cidr: "10.0.0.0/24", az: "us-east-1a" });
aws::ec2::subnet("b", #{ vpc: vpc, cidr: cidr_subnet("10.0.0.0/16", 8, 1), az: "us-east-1b" });
aws::ec2::subnet("c", #{ vpc: vpc, cidr: cidr_subnet("10.0.0.0/16", 8, 2), az: "us-east-1a" });
"#,
    );
    assert_eq!(s.plan().await.findings, vec![]);
}

/// A program with values AWS would refuse sends nothing: the plan makes no
/// call on an empty state, and the apply refuses before its first.
#[tokio::test]
async fn refused_values_never_reach_the_cloud() {
    let s = Stack::aws(SUBNETS, "vc-refused");
    let plan = s.plan().await;
    assert!(plan.has_errors());
    let err = s.apply_with(&plan, quiet()).await.unwrap_err().to_string();
    assert!(
        err.starts_with("the plan has errors; apply refuses to start:"),
        "{err}"
    );
    assert_eq!(s.aws_calls(), Default::default());
    assert!(s.state().resources.is_empty());
}

fn quiet() -> std::sync::Arc<dyn payrun::apply::Hook> {
    std::sync::Arc::new(payrun::ui::PlainView::new(Box::new(std::io::sink())))
}

/// A ref passes at plan time (its value is not known yet) and is checked
/// when it resolves, right before the call: the subnet whose block turns
/// out to be the VPC's owner is never sent.
#[tokio::test]
async fn a_ref_is_checked_when_it_resolves_before_the_call() {
    let s = Stack::aws(
        r#"let vpc = aws::ec2::vpc("main", #{ cidr: "10.0.0.0/16" });
aws::ec2::subnet("a", #{ vpc: vpc, cidr: vpc.owner_id, az: "us-east-1a" });
"#,
        "vc-ref",
    );
    let plan = s.plan().await;
    assert!(!plan.has_errors(), "{:?}", plan.findings);
    let summary = s.apply_with(&plan, quiet()).await.unwrap();
    assert_eq!(summary.created, 1);
    let failed: Vec<(String, String)> = summary
        .failed
        .iter()
        .map(|(a, m)| (a.to_string(), m.clone()))
        .collect();
    let owner = s.state().resources["aws.ec2.vpc.main"].outputs["owner_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        failed,
        [(
            "aws.ec2.subnet.a".to_string(),
            format!(
                "aws.ec2.subnet.a: `cidr`: `{owner}` is not a CIDR block: it has no prefix length after a `/`; nothing was sent\n  fix: write `cidr` as an IPv4 block such as `10.0.0.0/16`"
            )
        )]
    );
    let calls = s.aws_calls();
    assert_eq!(calls.get("CreateVpc"), Some(&1), "{calls:?}");
    assert_eq!(calls.get("CreateSubnet"), None, "{calls:?}");
    s.destroy().await;
}
