//! `Error`: the top-level error, one variant per stage. Every error exits 1.

use crate::apply::ApplyError;
use crate::plan::{PlanError, SavedPlanError};
use crate::script::ScriptError;
use crate::state::StateError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Script(Box<ScriptError>),
    #[error("error: {0}")]
    Config(String),
    #[error("error: {0}")]
    State(#[from] StateError),
    #[error("error: {0}")]
    Plan(#[from] PlanError),
    #[error("error: {0}")]
    Apply(#[from] ApplyError),
    #[error("error: {0}")]
    SavedPlan(#[from] SavedPlanError),
    #[error("error: {0}")]
    Refused(String),
    #[error("error: {0}")]
    Acknowledge(#[from] crate::check::UnmatchedAcknowledgement),
}

impl From<ScriptError> for Error {
    fn from(e: ScriptError) -> Self {
        Error::Script(Box::new(e))
    }
}

impl Error {
    pub fn exit_code(&self) -> i32 {
        1
    }
}
