//! `Finding`: a warning or error about the program, shown in the plan.

use serde::{Deserialize, Serialize};

use crate::address::Address;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warning,
    Error,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub severity: Severity,
    /// Stable identifier, e.g. `name-too-long`, `eks-version-unsupported`.
    pub code: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<Address>,
    pub message: String,
    /// What to do about it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remedy: Option<String>,
    /// Where the fact comes from (a documentation page; for `plan_error`,
    /// the program line).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The program line it is about, `file:line:col`: where `plan_error`
    /// was called, or where the resource it names was declared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<String>,
}

/// Refuses, in debug builds, a code that is not registered in
/// `check::codes` with this severity.
fn registered(code: &str, severity: Severity) {
    debug_assert!(
        crate::check::codes::lookup(code).is_some_and(|c| c.severities.contains(&severity)),
        "finding code `{code}` is not registered as {severity:?} in src/check/codes.rs"
    );
}

impl Finding {
    pub fn error(code: &str, message: impl Into<String>) -> Self {
        registered(code, Severity::Error);
        Self::of(Severity::Error, code, message)
    }

    pub fn warning(code: &str, message: impl Into<String>) -> Self {
        registered(code, Severity::Warning);
        Self::of(Severity::Warning, code, message)
    }

    fn of(severity: Severity, code: &str, message: impl Into<String>) -> Self {
        Self {
            severity,
            code: code.to_string(),
            address: None,
            message: message.into(),
            remedy: None,
            source: None,
            line: None,
        }
    }

    pub fn at(mut self, address: &Address) -> Self {
        self.address = Some(address.clone());
        self
    }

    pub fn remedy(mut self, remedy: impl Into<String>) -> Self {
        self.remedy = Some(remedy.into());
        self
    }

    pub fn line(mut self, line: impl Into<String>) -> Self {
        self.line = Some(line.into());
        self
    }

    pub fn source(mut self, source: impl Into<String>) -> Self {
        self.source = Some(source.into());
        self
    }
}
