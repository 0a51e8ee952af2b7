//! Diagnostics: a program error with the line it points at, as a compiler
//! shows one.
//!
//! ```text
//! error: aws::ec2::vpc has no property `cidr`
//!   --> programs/payment.rhai:3:11
//!   |
//! 3 | let vpc = aws::ec2::vpc("main", #{ cidr: "10.0.0.0/16" });
//!   |           ^
//!   fix: did you mean `cidr_block`?
//! ```

use std::fmt::Write;

use crate::script::{ScriptError, SourcePos};

/// `err` as the text payrun prints for it.
pub fn render_diagnostic(err: &ScriptError) -> String {
    let mut out = format!("error: {}\n", err.message);
    if let Some(pos) = &err.pos {
        snippet(&mut out, pos);
    }
    for (pos, note) in &err.related {
        let _ = writeln!(out, "  note: {note}");
        snippet(&mut out, pos);
    }
    let _ = write!(out, "  fix: {}", err.fix);
    out
}

fn snippet(out: &mut String, pos: &SourcePos) {
    let _ = writeln!(out, "  --> {pos}");
    if let Some(text) = pos.line_text() {
        let num = pos.line.to_string();
        let pad = " ".repeat(num.len());
        let caret_at = pos.col.saturating_sub(1);
        let lead: String = text
            .chars()
            .take(caret_at)
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        let _ = writeln!(out, "{pad} |\n{num} | {text}\n{pad} | {lead}^");
    }
}
