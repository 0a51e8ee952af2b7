//! The human plan view, in the Terraform style.

use std::fmt::Write;

use serde_json::Value;

use crate::finding::{Finding, Severity};
use crate::plan::{Action, Mode, Plan, ResourceChange};
use crate::value::display;

use super::Style;

/// Render `plan` for a terminal or a log.
pub fn render_plan(plan: &Plan, style: &Style) -> String {
    if plan.refresh_only {
        return render_refresh_only(plan, style);
    }
    let mut out = String::new();
    let acting: Vec<&ResourceChange> = plan
        .changes
        .iter()
        .filter(|c| {
            c.action != Action::NoOp
                || !c.deposed.is_empty()
                || !c.duplicates.is_empty()
                || c.import_at.is_some()
        })
        .collect();
    if !acting.is_empty() {
        let _ = writeln!(
            out,
            "payrun will perform the following actions on stack `{}`:\n",
            plan.stack
        );
    }
    for c in &acting {
        let (sym, colour, verb) = match c.action {
            Action::NoOp if c.import_at.is_some() => (
                "<=",
                Style::GREEN,
                "will be imported: it exists, and matches the declaration",
            ),
            Action::Update if c.import_at.is_some() => (
                "<=",
                Style::GREEN,
                "will be imported, then updated in-place where it differs from the declaration",
            ),
            Action::Create => ("+", Style::GREEN, "will be created"),
            Action::Update if c.completing => (
                "~",
                Style::YELLOW,
                "will be updated in-place (completing an interrupted create)",
            ),
            Action::Update => ("~", Style::YELLOW, "will be updated in-place"),
            Action::Replace if c.create_before_destroy => (
                "+/-",
                Style::YELLOW,
                "must be replaced: the new one is made first, then the old one deleted",
            ),
            Action::Replace => ("-/+", Style::RED, "must be replaced"),
            Action::Delete => ("-", Style::RED, "will be destroyed"),
            Action::NoOp if c.deposed.is_empty() => (
                "-",
                Style::RED,
                "keeps its object; its duplicate will be destroyed",
            ),
            Action::NoOp => (
                "-",
                Style::RED,
                "keeps its object; the one it replaced earlier will be destroyed",
            ),
        };
        let _ = writeln!(out, "  # {} {verb}", style.bold(&c.address.to_string()));
        if let (Some(at), Some(id)) = (&c.import_at, &c.id) {
            let _ = writeln!(out, "  #   (imported from {id}: adopt at {at})");
        }
        for d in &c.drift {
            let _ = writeln!(out, "  #   (drift: {d})");
        }
        for r in &c.replace_because {
            let _ = writeln!(out, "  #   ({r})");
        }
        for id in &c.deposed {
            let _ = writeln!(
                out,
                "  #   ({id}, which it replaced earlier, is still live: deleted once nothing uses it)"
            );
        }
        for id in &c.duplicates {
            let _ = writeln!(
                out,
                "  #   (duplicate {id}: tagged payrun:stack={} and payrun:address={}, but state records {}; an interrupted create was carried out after another run made this address again. It is deleted)",
                plan.stack,
                c.address,
                c.id.as_deref().unwrap_or("another object")
            );
        }
        let _ = writeln!(
            out,
            "  {} {} \"{}\" {{",
            style.paint(colour, sym),
            c.address.kind(),
            c.name
        );
        match c.action {
            Action::Create => attrs(&mut out, style, "+", Style::GREEN, c.after.as_deref()),
            Action::Delete => attrs(&mut out, style, "-", Style::RED, c.before.as_ref()),
            _ => {
                for ch in &c.changes {
                    let before = ch
                        .before
                        .as_ref()
                        .map(display)
                        .unwrap_or_else(|| "null".into());
                    let after = ch
                        .after
                        .as_ref()
                        .map(display)
                        .unwrap_or_else(|| "null".into());
                    let note = if ch.forces_replacement {
                        style.paint(Style::RED, " # forces replacement")
                    } else {
                        ch.note
                            .as_ref()
                            .map(|n| format!(" # {n}"))
                            .unwrap_or_default()
                    };
                    let _ = writeln!(
                        out,
                        "      {} {} = {before} -> {after}{note}",
                        style.paint(Style::YELLOW, "~"),
                        ch.name,
                    );
                }
            }
        }
        let _ = writeln!(out, "    }}\n");
    }
    let protection: Vec<&ResourceChange> = plan
        .changes
        .iter()
        .filter(|c| c.protection_changes())
        .collect();
    if !protection.is_empty() {
        let _ = writeln!(
            out,
            "Protection recorded in state (no change in the cloud):"
        );
        for c in protection {
            let _ = writeln!(
                out,
                "  {} {}",
                c.address,
                if c.protect {
                    "will be protected: a plan that deletes or replaces it is refused"
                } else {
                    "will no longer be protected"
                }
            );
        }
        out.push('\n');
    }
    for m in &plan.moved {
        let _ = writeln!(
            out,
            "  # {} has moved to {} (moved at {}): state changes, the cloud does not; {} keeps its name and tags\n",
            style.bold(&m.from.to_string()),
            style.bold(&m.to.to_string()),
            m.at,
            m.id
        );
    }
    for f in &plan.forgotten {
        let _ = writeln!(
            out,
            "  # {} will be forgotten (forget at {}): it leaves state and stays in the cloud as {}, no longer managed by payrun\n",
            style.bold(&f.address.to_string()),
            f.at,
            f.id
        );
    }
    for a in &plan.protection_lifted {
        let _ = writeln!(
            out,
            "  # {}: protected, deleted or replaced by this plan because --allow-destroy on the command line names it\n",
            style.bold(&a.to_string())
        );
    }
    for a in &plan.interrupted {
        let _ = writeln!(
            out,
            "  # {a}: an earlier apply was interrupted while creating it; apply adopts it if it exists\n"
        );
    }
    if !plan.unaccounted.is_empty() {
        let _ = writeln!(
            out,
            "Objects tagged payrun:stack={} that no address of the stack accounts for (left alone):",
            plan.stack
        );
        for u in &plan.unaccounted {
            let why = match &u.address {
                Some(a) => format!("tagged payrun:address={a}, which state does not record"),
                None => "no payrun:address tag".to_string(),
            };
            let _ = writeln!(out, "  {} {} ({why})", u.kind, u.id);
        }
        let _ = writeln!(
            out,
            "  remedy: delete them if nothing uses them, or take the payrun:stack tag off whatever another tool manages\n"
        );
    }
    out.push_str(&render_findings(&plan.findings, style));
    if !plan.outputs.is_empty() && plan.mode == Mode::Apply {
        let _ = writeln!(out, "Outputs:");
        for (k, v) in &plan.outputs {
            let _ = writeln!(out, "  {k} = {}", display(v));
        }
        out.push('\n');
    }
    if plan.has_changes() {
        let (add, change, destroy) = plan.summary();
        let mut also = String::new();
        for (n, what) in [
            (plan.imports(), "to import"),
            (plan.moved.len(), "to move"),
            (plan.forgotten.len(), "to forget"),
        ] {
            if n > 0 {
                let _ = write!(also, ", {n} {what}");
            }
        }
        let _ = writeln!(
            out,
            "{} {add} to add, {change} to change, {destroy} to destroy{also}.",
            style.bold("Plan:")
        );
    } else {
        let _ = writeln!(
            out,
            "{} The live resources match the program and state.",
            style.paint(Style::GREEN, "No changes.")
        );
    }
    let errors = plan
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .count();
    if let Some(partial) = &plan.partial {
        let flags: Vec<String> = partial
            .target
            .iter()
            .map(|t| format!("--target {t}"))
            .chain(partial.exclude.iter().map(|e| format!("--exclude {e}")))
            .collect();
        let _ = writeln!(
            out,
            "{} this plan is partial ({}): {} change{} of the full plan {} left for a later one; `payrun plan` without them shows everything.",
            style.paint(Style::YELLOW, "Warning:"),
            flags.join(" "),
            partial.left_out.len(),
            if partial.left_out.len() == 1 { "" } else { "s" },
            if partial.left_out.len() == 1 {
                "is"
            } else {
                "are"
            },
        );
    }
    let protected = plan
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Error && f.code == crate::plan::protect::CODE)
        .count();
    let others = errors - protected;
    if others > 0 {
        let _ = writeln!(
            out,
            "{} apply refuses this plan while {others} error finding{} stand{}: follow the remedy, or accept knowingly with `--acknowledge CODE=REASON`.",
            style.paint(Style::RED, "Blocked:"),
            if others == 1 { "" } else { "s" },
            if others == 1 { "s" } else { "" },
        );
    }
    if protected > 0 {
        let _ = writeln!(
            out,
            "{} this plan deletes or replaces {protected} protected resource{}: keep {}, or lift the protection for one run with `--allow-destroy ADDRESS`.",
            style.paint(Style::RED, "Blocked:"),
            if protected == 1 { "" } else { "s" },
            if protected == 1 { "it" } else { "them" },
        );
    }
    out
}

/// A `--refresh-only` plan: the drift state will take in, and nothing else.
fn render_refresh_only(plan: &Plan, style: &Style) -> String {
    let mut out = String::new();
    if plan.refreshed.is_empty() {
        let _ = writeln!(
            out,
            "{} What is live matches what state records.",
            style.paint(Style::GREEN, "No changes.")
        );
        return out;
    }
    let _ = writeln!(
        out,
        "Refresh only: nothing in the cloud changes. State of stack `{}` will record what changed outside payrun:\n",
        plan.stack
    );
    for r in &plan.refreshed {
        let Some(c) = plan.change(&r.address) else {
            continue;
        };
        if r.args.is_none() {
            let _ = writeln!(
                out,
                "  # {} was deleted outside payrun: state forgets it\n",
                style.bold(&r.address.to_string())
            );
            continue;
        }
        let _ = writeln!(out, "  # {}", style.bold(&r.address.to_string()));
        for d in &c.drift {
            let _ = writeln!(out, "  #   (drift: {d})");
        }
        out.push('\n');
    }
    let _ = writeln!(
        out,
        "{} {} to record in state, nothing to change in the cloud. A plan after it proposes to put back whatever the program still declares otherwise.",
        style.bold("Plan:"),
        plan.refreshed.len()
    );
    out
}

fn attrs(out: &mut String, style: &Style, sym: &str, colour: &str, v: Option<&Value>) {
    if let Some(Value::Object(map)) = v {
        let width = map.keys().map(String::len).max().unwrap_or(0);
        for (k, v) in map {
            let _ = writeln!(
                out,
                "      {} {k:<width$} = {}",
                style.paint(colour, sym),
                display(v)
            );
        }
    }
}

/// The `Findings:` block of a plan (and of `payrun validate`): what blocks
/// apply first, then what only warns; each in the order it was found.
pub fn render_findings(findings: &[Finding], style: &Style) -> String {
    let mut out = String::new();
    if findings.is_empty() {
        return out;
    }
    let _ = writeln!(out, "Findings:");
    let ordered = findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .chain(findings.iter().filter(|f| f.severity != Severity::Error));
    for f in ordered {
        let label = match f.severity {
            Severity::Error => style.paint(Style::RED, "error"),
            Severity::Warning => style.paint(Style::YELLOW, "warning"),
        };
        let _ = writeln!(out, "  {label} [{}]: {}", f.code, f.message);
        if let Some(l) = &f.line {
            let _ = writeln!(out, "      at: {l}");
        }
        if let Some(r) = &f.remedy {
            let _ = writeln!(out, "      remedy: {r}");
        }
        if let Some(s) = f.source.as_ref().filter(|s| f.line.as_ref() != Some(*s)) {
            let _ = writeln!(out, "      source: {s}");
        }
    }
    out.push('\n');
    out
}
