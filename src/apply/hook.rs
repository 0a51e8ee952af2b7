//! `Hook`: how the executor reports; views implement it.

use std::fmt;
use std::time::Duration;

use serde::Serialize;

use crate::address::Address;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OpKind {
    Create,
    Update,
    Delete,
    Adopt,
}

impl OpKind {
    pub fn verb_ing(self) -> &'static str {
        match self {
            OpKind::Create => "creating",
            OpKind::Update => "updating",
            OpKind::Delete => "destroying",
            OpKind::Adopt => "adopting",
        }
    }

    pub fn verb_past(self) -> &'static str {
        match self {
            OpKind::Create => "created",
            OpKind::Update => "updated",
            OpKind::Delete => "destroyed",
            OpKind::Adopt => "adopted",
        }
    }
}

#[derive(Clone, Debug)]
pub enum Outcome {
    Done { id: String },
    Failed { error: String },
    Skipped { because: Address },
}

/// Receives the executor's events. Implementations must be cheap: they run
/// on the executor's tasks.
pub trait Hook: Send + Sync {
    fn started(&self, address: &Address, op: OpKind);
    fn progress(&self, address: &Address, op: OpKind, message: &str);
    fn finished(&self, address: &Address, op: OpKind, outcome: &Outcome, elapsed: Duration);
    fn message(&self, text: &str);
    fn summary(&self, summary: &ApplySummary);
}

/// What an apply did.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ApplySummary {
    pub created: usize,
    pub updated: usize,
    pub destroyed: usize,
    pub adopted: usize,
    pub failed: Vec<(Address, String)>,
    pub skipped: Vec<Address>,
    /// Not started because of Ctrl-C.
    pub not_started: Vec<Address>,
    pub interrupted: bool,
    /// After a destroy: what of the stack the cloud still has, found by the
    /// stack's tags (`kind id (address)`), or why the check could not run.
    pub left_behind: Vec<String>,
}

impl ApplySummary {
    pub fn ok(&self) -> bool {
        self.failed.is_empty()
            && self.skipped.is_empty()
            && self.not_started.is_empty()
            && self.left_behind.is_empty()
    }
}

impl fmt::Display for ApplySummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let head = if self.interrupted {
            "Apply interrupted!"
        } else if self.ok() {
            "Apply complete!"
        } else {
            "Apply failed!"
        };
        write!(
            f,
            "{head} Resources: {} added, {} changed, {} destroyed",
            self.created + self.adopted,
            self.updated,
            self.destroyed
        )?;
        if self.adopted > 0 {
            write!(f, " ({} adopted after an interrupted apply)", self.adopted)?;
        }
        write!(f, ".")?;
        for (a, e) in &self.failed {
            write!(f, "\n  failed:  {a}: {e}")?;
        }
        for a in &self.skipped {
            write!(f, "\n  skipped: {a} (a dependency failed)")?;
        }
        for a in &self.not_started {
            write!(f, "\n  not started: {a} (interrupted)")?;
        }
        for l in &self.left_behind {
            write!(f, "\n  still live: {l}")?;
        }
        if !self.left_behind.is_empty() {
            write!(
                f,
                "\nThe destroy left these resources of the stack in the cloud (found by its payrun:stack tag)."
            )?;
        }
        if !self.ok() {
            write!(f, "\nState is saved; run apply again to finish.")?;
        }
        Ok(())
    }
}
