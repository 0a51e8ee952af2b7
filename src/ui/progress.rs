//! `TerminalView`: indicatif, a line per in-flight resource with elapsed
//! time and an overall bar.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle, TermLike};

use crate::address::Address;
use crate::apply::{ApplySummary, Hook, OpKind, Outcome};

use super::Style;

/// The widest a live row gets (the overall bar is 52): a terminal may be
/// narrowed to this while an apply runs without a row of the live view
/// wrapping.
const LIVE_WIDTH: usize = 60;

/// `text` cut to what a live row leaves it (`  ⠁ [ 12s] ` takes 11) in
/// LIVE_WIDTH or the terminal's width, the narrower. Never padded: a row
/// padded to the terminal's width (indicatif's `wide_msg`) is rewrapped
/// into two when the terminal narrows.
fn fit(text: &str) -> String {
    let columns = usize::from(Narrow::stderr().width());
    let room = LIVE_WIDTH.min(columns.max(20)) - 11;
    if text.chars().count() <= room {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(room - 1).collect();
    cut.push('…');
    cut
}

/// Standard error as the live view draws on it: no wider than LIVE_WIDTH.
/// indicatif ends each row it draws with spaces up to the width it is
/// given, leaving the cursor at the right edge for the terminal to wrap.
/// At the terminal's own width every row is then full, and a terminal that
/// narrows rewraps each into two, which the next redraw does not clear. So
/// it is given LIVE_WIDTH at most, and its padding becomes "clear to the
/// end of the row" with the step to the next row made here, where the next
/// row begins.
#[derive(Debug)]
struct Narrow {
    term: console::Term,
    /// A row's padding was written: the cursor is to go to the next row
    /// before anything else is written on it.
    row_ended: std::sync::Mutex<bool>,
}

impl Narrow {
    fn stderr() -> Self {
        Self {
            term: console::Term::stderr(),
            row_ended: std::sync::Mutex::new(false),
        }
    }

    /// Ends the row padding ended: cleared to its end, and the cursor on
    /// the next row when more is written there.
    fn settle(&self, more: bool) -> std::io::Result<()> {
        let mut ended = self.row_ended.lock().expect("row");
        if *ended {
            *ended = false;
            self.term
                .write_str(if more { "\x1b[K\r\n" } else { "\x1b[K" })?;
        }
        Ok(())
    }
}

impl TermLike for Narrow {
    fn width(&self) -> u16 {
        self.term.size().1.min(LIVE_WIDTH as u16)
    }

    fn height(&self) -> u16 {
        self.term.size().0
    }

    fn move_cursor_up(&self, n: usize) -> std::io::Result<()> {
        self.settle(false)?;
        self.term.move_cursor_up(n)
    }

    fn move_cursor_down(&self, n: usize) -> std::io::Result<()> {
        self.settle(false)?;
        self.term.move_cursor_down(n)
    }

    fn move_cursor_right(&self, n: usize) -> std::io::Result<()> {
        self.settle(false)?;
        self.term.move_cursor_right(n)
    }

    fn move_cursor_left(&self, n: usize) -> std::io::Result<()> {
        self.settle(false)?;
        self.term.move_cursor_left(n)
    }

    fn write_line(&self, s: &str) -> std::io::Result<()> {
        self.settle(true)?;
        self.term.write_line(s)
    }

    fn write_str(&self, s: &str) -> std::io::Result<()> {
        if s.bytes().all(|b| b == b' ') {
            // A row's padding: where the row ends.
            *self.row_ended.lock().expect("row") = true;
            return Ok(());
        }
        // A carriage return goes back over the row (a redraw's start):
        // nothing follows on the next one.
        self.settle(!s.starts_with('\r'))?;
        self.term.write_str(s)
    }

    fn clear_line(&self) -> std::io::Result<()> {
        self.settle(false)?;
        self.term.clear_line()
    }

    fn flush(&self) -> std::io::Result<()> {
        self.settle(false)?;
        self.term.flush()
    }
}

pub struct TerminalView {
    multi: MultiProgress,
    overall: ProgressBar,
    lines: Mutex<HashMap<(Address, OpKind), ProgressBar>>,
    style: Style,
}

impl TerminalView {
    pub fn new(total: u64, style: Style) -> Self {
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::term_like_with_hz(
            Box::new(Narrow::stderr()),
            20,
        ));
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

impl TerminalView {
    /// A line for the log above the live view, written at the terminal's
    /// own width (the live view steps aside, then draws again below it).
    fn log(&self, line: &str) {
        self.multi.suspend(|| eprintln!("{line}"));
    }
}

impl Hook for TerminalView {
    fn started(&self, address: &Address, op: OpKind) {
        // One row whatever the width: the elapsed time first, then what
        // runs, cut to fit. A row that wraps leaves its tail behind at the
        // next redraw, and a terminal narrowed while it runs rewraps what
        // was drawn wider than its new width: so no live row is wider than
        // LIVE_WIDTH, and none wider than the terminal. Its text is set
        // before it is shown, so no frame draws it empty.
        // Hidden until the live view takes it: a bar of its own draws on
        // standard error at once, at the terminal's full width.
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden()).with_style(
            ProgressStyle::with_template("  {spinner} [{elapsed:>4}] {msg}").expect("template"),
        );
        bar.set_prefix(format!("{address}: {}", op.verb_ing()));
        bar.set_message(fit(&format!("{address}: {}", op.verb_ing())));
        let bar = self.multi.insert_before(&self.overall, bar);
        bar.enable_steady_tick(Duration::from_millis(200));
        self.lines
            .lock()
            .expect("view")
            .insert((address.clone(), op), bar);
    }

    fn progress(&self, address: &Address, op: OpKind, message: &str) {
        if let Some(bar) = self.lines.lock().expect("view").get(&(address.clone(), op)) {
            bar.set_message(fit(&format!("{}: {message}", bar.prefix())));
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
        self.log(&line);
        self.overall.inc(1);
    }

    fn message(&self, text: &str) {
        self.log(text);
    }

    fn summary(&self, summary: &ApplySummary) {
        self.overall.finish_and_clear();
        let _ = self.multi.clear();
        eprintln!("\n{summary}");
    }
}
