//! Saved plans: `payrun plan --out FILE` writes the plan, the inputs its
//! checks ran with and a seal (HMAC-SHA-256 with the stack key) over both.
//! `payrun apply FILE` trusts nothing the seal does not cover, and even
//! then not the findings: it runs the program's checks again.
//!
//! When the stack's store seals what it keeps (state in a bucket, or local
//! state with a KMS key), the saved plan is sealed the same way: the file
//! is one cleartext line naming the format and the stack, so apply knows
//! which store opens it, then the envelope. A plan artifact of CI then
//! shows nothing of the plan without `kms:Decrypt`; the envelope binds the
//! stack, so a header naming another stack does not open either.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::address::Address;
use crate::state::{StackKey, validate_stack_name};

use super::plan::{PLAN_FORMAT, Plan};

/// Kept apart from every other use of the stack key.
const SEAL_CONTEXT: &[u8] = b"payrun saved plan seal/1\0";

/// The first word of a saved plan sealed by its stack's store; the line
/// goes on with the plan format and the stack.
pub const SEALED_PLAN: &str = "PAYRUN-SEALED-PLAN/1";

/// What the checks of a plan depend on besides the program's text, so
/// apply can run them again.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlanInputs {
    /// Relative to the project root.
    pub program: String,
    pub region: String,
    pub vars: Map<String, Value>,
    /// `--acknowledge CODE=REASON`.
    pub acknowledge: Vec<(String, String)>,
    pub stdlib_dirs: Vec<PathBuf>,
}

#[derive(Serialize)]
struct Sealed<'a> {
    plan: &'a Plan,
    inputs: &'a PlanInputs,
}

#[derive(Serialize, Deserialize)]
struct SavedFile {
    plan: Plan,
    inputs: PlanInputs,
    seal: String,
}

#[derive(Debug, thiserror::Error)]
pub enum SavedPlanError {
    #[error("cannot read plan file {path}: {message}")]
    Read { path: String, message: String },
    #[error("cannot write plan file {path}: {message}")]
    Write { path: String, message: String },
    #[error(
        "{path} is not a sealed payrun plan file: {message}\n  fix: save one with `payrun plan --out {path}`"
    )]
    Shape { path: String, message: String },
    #[error(
        "{path} is a plan of format {found}; this payrun reads {PLAN_FORMAT}\n  fix: make a new plan with `payrun plan --out {path}`"
    )]
    Format { path: String, found: String },
    #[error(
        "{path} names stack `{stack}`, which is not a payrun stack name; nothing was applied\n  fix: make a new plan with `payrun plan --out {path}`"
    )]
    Stack { path: String, stack: String },
    #[error(
        "{path} names `{address}`, which is not a resource of a kind payrun serves; nothing was applied\n  fix: make a new plan with `payrun plan --out {path}`"
    )]
    Address { path: String, address: String },
    #[error(
        "{path} does not match its seal: it was changed after `payrun plan --out`, or sealed with another stack's key; nothing was applied\n  fix: make a new plan with `payrun plan --out {path}`"
    )]
    Seal { path: String },
}

/// `plan` and its inputs with their seal under `key`, as JSON.
pub fn encode(plan: &Plan, inputs: &PlanInputs, key: &StackKey) -> Vec<u8> {
    let file = SavedFile {
        plan: plan.clone(),
        inputs: inputs.clone(),
        seal: hex::encode(key.mac(&message(plan, inputs))),
    };
    serde_json::to_vec_pretty(&file).expect("plan serializes")
}

/// A saved plan's file when its stack's store sealed the plan: the header
/// line, then the sealed bytes.
pub fn wrap_sealed(stack: &str, sealed: &[u8]) -> Vec<u8> {
    let mut out = format!("{SEALED_PLAN} {PLAN_FORMAT} {stack}\n").into_bytes();
    out.extend_from_slice(sealed);
    out
}

/// Does `bytes` start like a saved plan, sealed or not?
pub fn looks_saved(bytes: &[u8]) -> bool {
    if bytes.starts_with(SEALED_PLAN.as_bytes()) {
        return true;
    }
    let head = &bytes[..bytes.len().min(4096)];
    std::str::from_utf8(head)
        .is_ok_and(|s| s.trim_start().starts_with('{') && s.contains(PLAN_FORMAT))
}

/// Write a saved plan's bytes, mode 0600.
pub fn write(path: &Path, bytes: &[u8]) -> Result<(), SavedPlanError> {
    let fail = |e: std::io::Error| SavedPlanError::Write {
        path: path.display().to_string(),
        message: e.to_string(),
    };
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(fail)?;
    f.write_all(bytes).map_err(fail)
}

fn message(plan: &Plan, inputs: &PlanInputs) -> Vec<u8> {
    let mut m = SEAL_CONTEXT.to_vec();
    m.extend(serde_json::to_vec(&Sealed { plan, inputs }).expect("plan serializes"));
    m
}

/// A saved plan read but not yet checked against its seal.
pub struct Unsealed {
    path: String,
    plan: Plan,
    inputs: PlanInputs,
    seal: String,
}

/// A saved plan file as read: plain, or sealed by its stack's store.
pub enum PlanFile {
    Plain(Box<Unsealed>),
    Sealed(SealedPlan),
}

/// A sealed saved plan: the stack its header names, and the sealed bytes.
pub struct SealedPlan {
    path: String,
    stack: String,
    body: Vec<u8>,
}

impl PlanFile {
    /// Read `path`, checking its format and the stack it names.
    pub fn read(path: &Path) -> Result<Self, SavedPlanError> {
        let shown = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|e| SavedPlanError::Read {
            path: shown.clone(),
            message: e.to_string(),
        })?;
        if !bytes.starts_with(SEALED_PLAN.as_bytes()) {
            return Unsealed::parse(shown, &bytes).map(|u| PlanFile::Plain(Box::new(u)));
        }
        let shape = |message: &str| SavedPlanError::Shape {
            path: shown.clone(),
            message: message.to_string(),
        };
        let end = bytes
            .iter()
            .position(|b| *b == b'\n')
            .ok_or_else(|| shape("its header line is cut short"))?;
        let header =
            std::str::from_utf8(&bytes[..end]).map_err(|_| shape("its header line is not text"))?;
        let words: Vec<&str> = header.split(' ').collect();
        let [_, format, stack] = words[..] else {
            return Err(shape(
                "its header line is not `PAYRUN-SEALED-PLAN/1 FORMAT STACK`",
            ));
        };
        if format != PLAN_FORMAT {
            return Err(SavedPlanError::Format {
                path: shown,
                found: format.to_string(),
            });
        }
        if validate_stack_name(stack).is_err() {
            return Err(SavedPlanError::Stack {
                path: shown,
                stack: stack.to_string(),
            });
        }
        Ok(PlanFile::Sealed(SealedPlan {
            stack: stack.to_string(),
            body: bytes[end + 1..].to_vec(),
            path: shown,
        }))
    }

    /// The stack the plan names (checked as a stack name).
    pub fn stack(&self) -> &str {
        match self {
            PlanFile::Plain(u) => u.stack(),
            PlanFile::Sealed(s) => &s.stack,
        }
    }
}

impl SealedPlan {
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The plan inside, given the bytes its store opened; it must be of
    /// the stack the header names.
    pub fn opened(self, plain: &[u8]) -> Result<Unsealed, SavedPlanError> {
        let inner = Unsealed::parse(self.path.clone(), plain)?;
        if inner.stack() != self.stack {
            return Err(SavedPlanError::Seal { path: self.path });
        }
        Ok(inner)
    }
}

impl Unsealed {
    /// Parse a plan's JSON, checking its format and its stack name; the
    /// seal is checked by [`Unsealed::open`], with the key of the stack it
    /// names.
    fn parse(shown: String, bytes: &[u8]) -> Result<Self, SavedPlanError> {
        let probe: Value = serde_json::from_slice(bytes).map_err(|e| SavedPlanError::Shape {
            path: shown.clone(),
            message: e.to_string(),
        })?;
        let format = probe
            .pointer("/plan/format")
            .or_else(|| probe.get("format"))
            .and_then(Value::as_str)
            .unwrap_or("(none)");
        if format != PLAN_FORMAT {
            return Err(SavedPlanError::Format {
                path: shown,
                found: format.to_string(),
            });
        }
        let file: SavedFile = serde_json::from_value(probe).map_err(|e| SavedPlanError::Shape {
            path: shown.clone(),
            message: e.to_string(),
        })?;
        if validate_stack_name(&file.plan.stack).is_err()
            || !file.plan.stack.ends_with(&format!(".{}", file.plan.suffix))
        {
            return Err(SavedPlanError::Stack {
                path: shown,
                stack: file.plan.stack,
            });
        }
        Ok(Self {
            path: shown,
            plan: file.plan,
            inputs: file.inputs,
            seal: file.seal,
        })
    }

    /// The stack the plan names (checked as a stack name).
    pub fn stack(&self) -> &str {
        &self.plan.stack
    }

    /// The plan and its inputs, when `key` made the seal and every address
    /// is of a kind `known` serves.
    pub fn open(
        self,
        key: &StackKey,
        known: impl Fn(&str) -> bool,
    ) -> Result<(Plan, PlanInputs), SavedPlanError> {
        if !key.verify(&message(&self.plan, &self.inputs), &self.seal) {
            return Err(SavedPlanError::Seal { path: self.path });
        }
        let addresses = self.plan.changes.iter().flat_map(|c| {
            std::iter::once(&c.address)
                .chain(&c.deps)
                .chain(&c.prior_deps)
        });
        if let Some(bad) = addresses
            .chain(&self.plan.interrupted)
            .find(|a: &&Address| !known(a.kind()))
        {
            return Err(SavedPlanError::Address {
                path: self.path,
                address: bad.to_string(),
            });
        }
        Ok((self.plan, self.inputs))
    }
}
