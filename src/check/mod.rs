//! Checks: findings about a program that need no cloud call: naming
//! limits, IAM and secret hygiene, platform facts (EKS versions, App Mesh, Fargate limits),
//! PCI DSS rules for programs in scope, Kubernetes manifests and quotas,
//! helm availability, and program acknowledgements.

pub mod codes;
mod context;
pub mod eks;
pub mod fargate_logging;
mod helm;
mod iam;
pub mod k8s;
mod limits;
pub mod network;
pub mod pci;
mod pci_controls;
pub mod platform;
pub mod secrets;

use crate::eks_versions::Calendar;
use crate::finding::{Finding, Severity};
use crate::graph::DesiredGraph;
use crate::plan::{Mode, Plan, ResourceChange};
use crate::script::{AcknowledgedBy, Acknowledgement, Program};
use crate::suggest::did_you_mean;

use context::Registry;
pub use context::{Context, Facts};

/// `--acknowledge CODE=...` of a code no finding has: a misspelt code
/// would otherwise be ignored and the finding it meant stay an error, or
/// worse, an acknowledgement meant for a finding to come would wait
/// unseen.
#[derive(Debug, thiserror::Error)]
#[error("{}", describe_unmatched(.code, .raised))]
pub struct UnmatchedAcknowledgement {
    pub code: String,
    /// The codes the plan raises, sorted.
    pub raised: Vec<String>,
}

fn describe_unmatched(code: &str, raised: &[String]) -> String {
    if raised.is_empty() {
        return format!(
            "--acknowledge {code}: the plan raises no findings, so there is nothing to acknowledge\n  fix: drop --acknowledge {code}=..."
        );
    }
    let fix = match did_you_mean(code, raised.iter().map(String::as_str)) {
        Some(s) => format!(
            "did you mean --acknowledge {s}=\"REASON\"? Otherwise drop --acknowledge {code}=..."
        ),
        None => format!("acknowledge one of the codes raised, or drop --acknowledge {code}=..."),
    };
    format!(
        "--acknowledge {code}: no finding of the plan has that code; the codes raised are {}\n  fix: {fix}",
        raised.join(", ")
    )
}

/// One check: the finding codes it may raise (each registered in
/// [`codes::CODES`]) and the findings it raises over a context. Each check
/// module declares its own as `CHECK`.
pub struct Check {
    pub name: &'static str,
    pub codes: &'static [&'static str],
    pub run: fn(&Context<'_>) -> Vec<Finding>,
}

/// Every check, in the order their findings are shown. `plan`, `validate`
/// and an apply of a saved plan run exactly these; none is special-cased.
pub const CHECKS: &[Check] = &[
    secrets::CHECK,
    PROGRAM,
    limits::CHECK,
    iam::CHECK,
    platform::CHECK,
    fargate_logging::CHECK,
    network::CHECK,
    pci::CHECK,
    pci_controls::CHECK,
    k8s::CHECK,
    helm::CHECK,
    eks::CHECK,
];

/// What the program raised itself (`plan_error`, `plan_warning`, the
/// stdlib's warnings).
const PROGRAM: Check = Check {
    name: "program",
    codes: &["program"],
    run: |cx| cx.program.findings.clone(),
};

/// Every finding of a plan that needs no cloud call, with the
/// acknowledgements applied: the program's own (`plan_error`) and those of
/// every check in [`CHECKS`] (naming, IAM, platform, network, PCI DSS,
/// Kubernetes, helm, and over the planned changes: unset secrets, EKS
/// upgrades against the recorded version). `plan`, `validate` and an apply
/// of a saved plan all run exactly this.
pub fn findings(
    graph: &DesiredGraph,
    program: &Program,
    registry: &Registry,
    changes: &[ResourceChange],
    calendar: Option<&Calendar>,
) -> Result<Vec<Finding>, UnmatchedAcknowledgement> {
    let facts = Facts::of_this_run().with_calendar(calendar);
    findings_in(&Context {
        graph,
        program,
        registry,
        changes,
        facts: &facts,
    })
}

/// A plan of `graph` with its findings: those of [`findings`] over its
/// changes, judged by the EKS calendar the plan read (the embedded one when
/// it read none). A destroy plan, which applies no program, has none.
pub fn review(
    plan: &mut Plan,
    graph: &DesiredGraph,
    program: &Program,
    registry: &Registry,
) -> Result<(), UnmatchedAcknowledgement> {
    plan.findings = match plan.mode {
        Mode::Apply => findings(
            graph,
            program,
            registry,
            &plan.changes,
            plan.calendar.as_ref(),
        )?,
        Mode::Destroy => Vec::new(),
    };
    Ok(())
}

/// [`findings`] over a given context (facts included).
pub fn findings_in(cx: &Context<'_>) -> Result<Vec<Finding>, UnmatchedAcknowledgement> {
    let program = cx.program;
    let mut out: Vec<Finding> = run_all(cx).into_iter().flatten().collect();
    let mut raised: Vec<String> = out.iter().map(|f| f.code.clone()).collect();
    raised.sort();
    raised.dedup();
    if let Some(ack) = program
        .acknowledged
        .iter()
        .find(|a| a.by() == AcknowledgedBy::CommandLine && !raised.contains(&a.code))
    {
        return Err(UnmatchedAcknowledgement {
            code: ack.code.clone(),
            raised,
        });
    }
    acknowledge(&mut out, program);
    locate(&mut out, cx.graph);
    Ok(out)
}

/// Every check's findings, in the registry's order. The checks read the
/// program and never write, so they run on every core: a large program's
/// checks take half as long on two.
fn run_all(cx: &Context<'_>) -> Vec<Vec<Finding>> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let work = || {
        let mut done = Vec::new();
        loop {
            let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let Some(check) = CHECKS.get(i) else {
                return done;
            };
            let found = (check.run)(cx);
            debug_assert!(
                found.iter().all(|f| check.codes.contains(&f.code.as_str())),
                "check {} raised a code it does not declare: {:?}",
                check.name,
                found.iter().map(|f| &f.code).collect::<Vec<_>>()
            );
            done.push((i, found));
        }
    };
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get().min(CHECKS.len()));
    let mut results: Vec<(usize, Vec<Finding>)> = std::thread::scope(|s| {
        let others: Vec<_> = (1..workers).map(|_| s.spawn(work)).collect();
        let mut all = work();
        for o in others {
            // A check that panicked panics here, with its own message.
            all.extend(o.join().unwrap_or_else(|e| std::panic::resume_unwind(e)));
        }
        all
    });
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, f)| f).collect()
}

/// A finding about a resource points at the line that declares it.
fn locate(findings: &mut [Finding], graph: &DesiredGraph) {
    for f in findings.iter_mut().filter(|f| f.line.is_none()) {
        if let Some(spec) = f.address.as_ref().and_then(|a| graph.spec(a)) {
            f.line = Some(spec.pos.to_string());
        }
    }
}

/// What a finding is known by in a program's `acknowledge(code, target,
/// reason)`: its address, or where it was raised when it is about no one
/// resource.
fn target_of(f: &Finding) -> Option<String> {
    f.address
        .as_ref()
        .map(ToString::to_string)
        .or_else(|| f.source.clone())
}

/// An acknowledgement turns the errors it names into warnings that still
/// show, saying who acknowledged it and why. The person running payrun
/// outranks the program: `--acknowledge`, then payrun.toml, then
/// `acknowledge(...)` in the program.
///
/// The person running payrun acknowledges a code; a program names one
/// finding: `acknowledge(code, reason)` when the code is raised once,
/// `acknowledge(code, address, reason)` to pick one of several. A
/// program's acknowledgement never waives a family of findings it may not
/// have seen.
///
/// A compliance gate is acknowledged only by the person running payrun: a
/// program under review that acknowledges its own PCI DSS finding is
/// refused, and the plan says so.
fn acknowledge(findings: &mut [Finding], program: &Program) {
    let counts: Vec<usize> = findings
        .iter()
        .map(|f| findings.iter().filter(|g| g.code == f.code).count())
        .collect();
    for (f, raised) in findings.iter_mut().zip(counts) {
        let target = target_of(f);
        let mut acks: Vec<&Acknowledgement> = program
            .acknowledged
            .iter()
            .filter(|a| a.code == f.code)
            .filter(|a| a.target.as_ref().is_none_or(|t| Some(t) == target.as_ref()))
            .collect();
        acks.sort_by_key(|a| a.by());
        let gate = reviewer_only(&f.code);
        let names_one = |a: &&&Acknowledgement| {
            a.by() != AcknowledgedBy::Program || a.target.is_some() || raised == 1
        };
        let accepted = acks
            .iter()
            .filter(names_one)
            .find(|a| !gate || a.by() != AcknowledgedBy::Program);
        let mut notes = Vec::new();
        if let Some(ack) = accepted {
            if f.severity == Severity::Error {
                f.severity = Severity::Warning;
            }
            notes.push(format!("acknowledged {}", ack.describe()));
        }
        if accepted.is_none() && !gate {
            for vague in acks.iter().filter(|a| !names_one(a)) {
                notes.push(format!(
                    "the program's acknowledgement at {} is not applied: `{}` is raised {raised} times; name this one with `acknowledge(\"{}\", \"{}\", \"REASON\")`",
                    vague.at,
                    f.code,
                    f.code,
                    target.as_deref().unwrap_or_default()
                ));
            }
        }
        if gate {
            for refused in acks.iter().filter(|a| a.by() == AcknowledgedBy::Program) {
                notes.push(format!(
                    "the program's acknowledgement at {} is refused: a program may not acknowledge its own compliance findings",
                    refused.at
                ));
            }
            if accepted.is_none() && !notes.is_empty() {
                let how = format!(
                    "or accept it knowingly: --acknowledge {}=\"REASON\" (or `{} = \"REASON\"` under [acknowledge] in payrun.toml)",
                    f.code, f.code
                );
                f.remedy = Some(match f.remedy.take() {
                    Some(r) => format!("{r}; {how}"),
                    None => how,
                });
            }
        }
        if !notes.is_empty() {
            f.message = format!("{} ({})", f.message, notes.join("; "));
        }
    }
}

/// Findings only the person running payrun may acknowledge: the PCI DSS
/// rules, and the IAM rule raised only for programs in PCI DSS scope.
fn reviewer_only(code: &str) -> bool {
    code.starts_with("pci-") || code == iam::CONFUSED_DEPUTY
}

/// Helm findings with `helm` looked up on `path` rather than the process's
/// PATH.
pub fn helm_findings(graph: &DesiredGraph, path: Option<&std::ffi::OsStr>) -> Vec<Finding> {
    helm::findings(graph, context::helm_on(path).as_deref())
}
