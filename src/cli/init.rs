//! `payrun init [DIR]`: a new project that plans offline at once: its
//! payrun.toml, a small program, `.payrun/` kept out of git, and the
//! editor definitions of every builder and host function. It never
//! overwrites: a project already there is an error naming the file.

use std::path::Path;

use crate::error::Error;

const PROJECT_FILE: &str = r#"# payrun project file. Flags override every setting here.

# The program `payrun plan` and `payrun apply` run when none is given.
program = "programs/main.rhai"
# AWS region (else --region, else AWS_REGION).
region = "us-east-1"
# Suffix of every physical name and of the stack when --suffix is not given.
suffix = "dev"
# State files: .payrun/<stack>.json (kept out of git by .gitignore).
state_dir = ".payrun"

# Program variables, `config().vars.NAME`; `--var NAME=VALUE` overrides.
[vars]
"#;

const PROGRAM: &str = r#"// A first payrun program. `payrun plan` shows what it would make, with no
// AWS call while nothing is applied; `payrun apply` makes it (credentials
// needed), `payrun destroy` removes it.
//
// `payrun docs` lists every kind; `payrun docs aws.ec2.subnet` describes
// one. Physical names are `{resource-type}-{purpose}-{suffix}`:
// `vpc-main-dev` here, `vpc-main-qa` with `--suffix qa`.

default_tags(#{ Project: "demo", Environment: config().suffix });

let cidr = config().vars.cidr ?? "10.20.0.0/16";
let vpc = aws::ec2::vpc("main", #{ cidr: cidr });
for (zone, i) in ["a", "b"] {
    aws::ec2::subnet(`private-${zone}`, #{
        vpc: vpc,
        cidr: cidr_subnet(cidr, 4, i),
        az: `${config().region}${zone}`,
    });
}
aws::logs::log_group("app", #{ retention_in_days: 30 });

export("vpc_id", vpc.id);
"#;

/// The files `init` writes, relative to the project.
const WRITTEN: [&str; 2] = ["payrun.toml", "programs/main.rhai"];

/// Makes the project in `dir` (made if missing); `definitions` writes the
/// editor definitions into a directory and says how many files.
pub fn run(
    dir: &Path,
    definitions: impl FnOnce(&Path) -> Result<usize, Error>,
) -> Result<i32, Error> {
    if let Some(existing) = WRITTEN.iter().map(|f| dir.join(f)).find(|f| f.exists()) {
        return Err(Error::Config(format!(
            "{} exists: payrun init never overwrites a project\n  fix: payrun init NEW-DIRECTORY",
            existing.display()
        )));
    }
    let io = |what: &Path, e: std::io::Error| {
        Error::Config(format!("cannot write {}: {e}", what.display()))
    };
    let programs = dir.join("programs");
    std::fs::create_dir_all(&programs).map_err(|e| io(&programs, e))?;
    for (file, text) in WRITTEN.iter().zip([PROJECT_FILE, PROGRAM]) {
        let path = dir.join(file);
        std::fs::write(&path, text).map_err(|e| io(&path, e))?;
    }
    // `.payrun/` out of git: added to a .gitignore already there.
    let ignore = dir.join(".gitignore");
    let kept = std::fs::read_to_string(&ignore).unwrap_or_default();
    if !kept.lines().any(|l| l.trim() == ".payrun/") {
        let sep = if kept.is_empty() || kept.ends_with('\n') {
            ""
        } else {
            "\n"
        };
        std::fs::write(&ignore, format!("{kept}{sep}.payrun/\n")).map_err(|e| io(&ignore, e))?;
    }
    let defs = dir.join("definitions");
    let written = definitions(&defs)?;
    let shown = if dir == Path::new(".") {
        String::new()
    } else {
        format!("cd {} && ", dir.display())
    };
    println!(
        "Made a payrun project in {}: payrun.toml, programs/main.rhai, .gitignore (.payrun/), and {written} editor definition files in definitions/.\n\nNext: {shown}payrun plan",
        dir.display()
    );
    Ok(0)
}
