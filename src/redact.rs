//! Secret values read for this run, scrubbed from every log line: wire logs
//! (`PAYRUN_LOG_WIRE=1`) print request bodies, and a body holding a secret
//! prints it as text, JSON, base64 or the SDK's list of byte values.

use std::io::Write;
use std::sync::RwLock;

use base64::Engine;

/// Shorter values would scrub ordinary words from the logs.
const SHORTEST: usize = 4;

static FORMS: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// Scrub `value` from every later log line.
pub fn register(value: &str) {
    if value.len() < SHORTEST {
        return;
    }
    let json = serde_json::to_string(value).expect("a string serializes");
    let bytes: Vec<String> = value.bytes().map(|b| b.to_string()).collect();
    let forms = [
        value.to_string(),
        json[1..json.len() - 1].to_string(),
        base64::engine::general_purpose::STANDARD.encode(value),
        bytes.join(", "),
    ];
    let mut known = FORMS.write().unwrap_or_else(|e| e.into_inner());
    for form in forms {
        if !known.contains(&form) {
            known.push(form);
        }
    }
    // Longest first, so a form inside another is not left half-scrubbed.
    known.sort_by_key(|f| std::cmp::Reverse(f.len()));
}

/// `text` with every registered secret replaced by `(redacted)`.
pub fn scrub(text: &str) -> String {
    let known = FORMS.read().unwrap_or_else(|e| e.into_inner());
    let mut out = text.to_string();
    for form in known.iter() {
        if out.contains(form.as_str()) {
            out = out.replace(form.as_str(), "(redacted)");
        }
    }
    out
}

/// Standard error, scrubbed: the writer of payrun's log lines.
pub struct Stderr;

impl Write for Stderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = scrub(&String::from_utf8_lossy(buf));
        std::io::stderr().write_all(text.as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_of_a_registered_value_is_scrubbed() {
        register("tok-\"quoted\"-42");
        let bytes: Vec<String> = "tok-\"quoted\"-42".bytes().map(|b| b.to_string()).collect();
        let line = format!(
            "body: {{\"SecretString\":\"tok-\\\"quoted\\\"-42\"}} Bytes([{}]) {}",
            bytes.join(", "),
            base64::engine::general_purpose::STANDARD.encode("tok-\"quoted\"-42")
        );
        assert_eq!(
            scrub(&line),
            "body: {\"SecretString\":\"(redacted)\"} Bytes([(redacted)]) (redacted)"
        );
        register("abc");
        assert_eq!(scrub("abc"), "abc");
    }
}
