//! `TerminalView`: indicatif, a line per in-flight resource with elapsed
//! time and an overall bar.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::address::Address;
use crate::apply::{ApplySummary, Hook, OpKind, Outcome};

use super::Style;

pub struct TerminalView {
    multi: MultiProgress,
    overall: ProgressBar,
    lines: Mutex<HashMap<(Address, OpKind), ProgressBar>>,
    style: Style,
}

impl TerminalView {
    pub fn new(total: u64, style: Style) -> Self {
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
        let overall = multi.add(ProgressBar::new(total));
        overall.set_style(
            ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} {msg}")
                .expect("template")
                .progress_chars("=> "),
        );
        overall.enable_steady_tick(Duration::from_millis(250));
        Self {
            multi,
            overall,
            lines: Mutex::new(HashMap::new()),
            style,
        }
    }
}

impl Hook for TerminalView {
    fn started(&self, address: &Address, op: OpKind) {
        let bar = self
            .multi
            .insert_before(&self.overall, ProgressBar::new_spinner());
        bar.set_style(
            ProgressStyle::with_template("  {spinner} {prefix} [{elapsed}] {msg}")
                .expect("template"),
        );
        bar.set_prefix(format!("{address}: {}", op.verb_ing()));
        bar.enable_steady_tick(Duration::from_millis(200));
        self.lines
            .lock()
            .expect("view")
            .insert((address.clone(), op), bar);
    }

    fn progress(&self, address: &Address, op: OpKind, message: &str) {
        if let Some(bar) = self.lines.lock().expect("view").get(&(address.clone(), op)) {
            bar.set_message(message.to_string());
        }
    }

    fn finished(&self, address: &Address, op: OpKind, outcome: &Outcome, elapsed: Duration) {
        if let Some(bar) = self
            .lines
            .lock()
            .expect("view")
            .remove(&(address.clone(), op))
        {
            bar.finish_and_clear();
            self.multi.remove(&bar);
        }
        let secs = elapsed.as_secs_f64();
        let line = match outcome {
            Outcome::Done { id } => format!(
                "{} {address}: {} after {secs:.1}s [id={id}]",
                self.style.paint(Style::GREEN, "✓"),
                op.verb_past()
            ),
            Outcome::Failed { error } => format!(
                "{} {address}: {} failed after {secs:.1}s: {error}",
                self.style.paint(Style::RED, "✗"),
                op.verb_ing()
            ),
            Outcome::Skipped { because } => format!(
                "{} {address}: skipped because {because} failed",
                self.style.paint(Style::YELLOW, "-")
            ),
        };
        let _ = self.multi.println(line);
        self.overall.inc(1);
    }

    fn message(&self, text: &str) {
        let _ = self.multi.println(text);
    }

    fn summary(&self, summary: &ApplySummary) {
        self.overall.finish_and_clear();
        let _ = self.multi.clear();
        eprintln!("\n{summary}");
    }
}
