//! `ScriptError`: an error that points at program text, with a fix.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A place in a program or stdlib file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct SourcePos {
    pub file: String,
    pub line: usize,
    pub col: usize,
}

impl fmt::Display for SourcePos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.col)
    }
}

impl SourcePos {
    /// The text of this line, read from the file.
    pub fn line_text(&self) -> Option<String> {
        // Lossy: the line of a byte that is not UTF-8 is still shown.
        let bytes = std::fs::read(&self.file).ok()?;
        String::from_utf8_lossy(&bytes)
            .lines()
            .nth(self.line.checked_sub(1)?)
            .map(str::to_string)
    }
}

/// What went wrong, where, and what to do.
#[derive(Clone, Debug, PartialEq)]
pub struct ScriptError {
    pub pos: Option<SourcePos>,
    pub message: String,
    pub fix: String,
    /// Further places, each with a note (the members of a cycle).
    pub related: Vec<(SourcePos, String)>,
}

impl ScriptError {
    pub fn new(pos: Option<SourcePos>, message: impl Into<String>, fix: impl Into<String>) -> Self {
        Self {
            pos,
            message: message.into(),
            fix: fix.into(),
            related: Vec::new(),
        }
    }
}

impl std::error::Error for ScriptError {}

/// Shown as `ui` renders a diagnostic: the message, the line it points at
/// with a caret, each related place, then the fix.
impl fmt::Display for ScriptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::ui::render_diagnostic(self))
    }
}
