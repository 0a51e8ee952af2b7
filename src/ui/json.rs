//! `JsonView`: one JSON event per line (`--json`).

use std::io::Write;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use serde_json::json;

use crate::address::Address;
use crate::apply::{ApplySummary, Hook, OpKind, Outcome};

pub struct JsonView {
    out: Mutex<Box<dyn Write + Send>>,
}

impl JsonView {
    pub fn new(out: Box<dyn Write + Send>) -> Self {
        Self {
            out: Mutex::new(out),
        }
    }

    fn emit(&self, mut event: serde_json::Value) {
        event["time"] = json!(humantime::format_rfc3339_millis(SystemTime::now()).to_string());
        let mut out = self.out.lock().expect("view");
        let _ = writeln!(out, "{event}");
        let _ = out.flush();
    }
}

impl Hook for JsonView {
    fn started(&self, address: &Address, op: OpKind) {
        self.emit(json!({"type": "start", "address": address, "op": op}));
    }

    fn progress(&self, address: &Address, op: OpKind, message: &str) {
        self.emit(json!({"type": "progress", "address": address, "op": op, "message": message}));
    }

    fn finished(&self, address: &Address, op: OpKind, outcome: &Outcome, elapsed: Duration) {
        let ms = elapsed.as_millis() as u64;
        let e = match outcome {
            Outcome::Done { id } => {
                json!({"type": "done", "address": address, "op": op, "id": id, "elapsed_ms": ms})
            }
            Outcome::Failed { error } => {
                json!({"type": "failed", "address": address, "op": op, "error": error, "elapsed_ms": ms})
            }
            Outcome::Skipped { because } => {
                json!({"type": "skipped", "address": address, "op": op, "because": because})
            }
        };
        self.emit(e);
    }

    fn message(&self, text: &str) {
        self.emit(json!({"type": "message", "message": text}));
    }

    fn summary(&self, summary: &ApplySummary) {
        self.emit(json!({"type": "summary", "summary": summary}));
    }
}
