//! `PlainView`: timestamped lines, for logs and pipes.

use std::io::Write;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use crate::address::Address;
use crate::apply::{ApplySummary, Hook, OpKind, Outcome};

pub struct PlainView {
    out: Mutex<Box<dyn Write + Send>>,
}

impl PlainView {
    pub fn new(out: Box<dyn Write + Send>) -> Self {
        Self {
            out: Mutex::new(out),
        }
    }

    fn line(&self, text: &str) {
        let now = humantime::format_rfc3339_seconds(SystemTime::now());
        let mut out = self.out.lock().expect("view");
        let _ = writeln!(out, "{now} {text}");
        let _ = out.flush();
    }
}

impl Hook for PlainView {
    fn started(&self, address: &Address, op: OpKind) {
        self.line(&format!("{address}: {}...", op.verb_ing()));
    }

    fn progress(&self, address: &Address, op: OpKind, message: &str) {
        self.line(&format!("{address}: still {} ({message})", op.verb_ing()));
    }

    fn finished(&self, address: &Address, op: OpKind, outcome: &Outcome, elapsed: Duration) {
        let secs = elapsed.as_secs_f64();
        match outcome {
            Outcome::Done { id } => self.line(&format!(
                "{address}: {} after {secs:.1}s [id={id}]",
                op.verb_past()
            )),
            Outcome::Failed { error } => self.line(&format!(
                "{address}: {} FAILED after {secs:.1}s: {error}",
                op.verb_ing()
            )),
            Outcome::Skipped { because } => {
                self.line(&format!("{address}: skipped because {because} failed"))
            }
        }
    }

    fn message(&self, text: &str) {
        self.line(text);
    }

    fn summary(&self, summary: &ApplySummary) {
        let mut out = self.out.lock().expect("view");
        let _ = writeln!(out, "\n{summary}");
    }
}
