//! `State`: the recorded resources of one stack.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::address::Address;

use super::StateError;

pub const FORMAT_VERSION: u32 = 1;

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct State {
    pub version: u32,
    /// Fixed when the stack is first written; a saved plan for another
    /// lineage is refused.
    pub lineage: String,
    /// Bumped on every write.
    pub serial: u64,
    pub stack: String,
    /// The program this stack belongs to, by its path relative to the
    /// project root: another program on this stack is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub program: Option<String>,
    #[serde(default)]
    pub resources: BTreeMap<Address, ResourceState>,
    #[serde(default)]
    pub outputs: BTreeMap<String, Value>,
    /// Creates started but not recorded: a crash between the provider call
    /// and the state write leaves one here, and the next apply adopts the
    /// resource instead of creating a duplicate.
    #[serde(default)]
    pub intents: BTreeMap<Address, Intent>,
    /// Objects `forget` let go of, by id, with the address they had: still
    /// tagged with this stack, so the stack's read passes over them
    /// instead of reporting them at every plan.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub forgotten: BTreeMap<String, Address>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ResourceState {
    pub kind: String,
    pub name: String,
    pub id: String,
    /// Args as last applied; secrets only as `$secret` markers with a digest.
    pub args: Value,
    #[serde(default)]
    pub outputs: Map<String, Value>,
    /// What this resource depended on when applied, so it can be destroyed
    /// in the right order after it leaves the program.
    #[serde(default)]
    pub deps: Vec<Address>,
    /// Made by its first create call, but the calls after it (attributes,
    /// an attachment, the default egress rule revoked) did not all finish:
    /// the next apply completes it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub incomplete: bool,
    /// How many times it was replaced with the new one made first: the
    /// physical name carries it (`sg-pods-qa-2`) so both can exist.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub generation: u32,
    /// Objects this one replaced, made before them and still to be
    /// deleted (a crash between the create and the delete leaves them
    /// here; the next apply deletes them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deposed: Vec<Deposed>,
    /// Declared with `protect: true` when last applied: kept even after
    /// the declaration leaves the program, so removing it cannot delete
    /// the resource unprotected.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub protected: bool,
    /// Moved here by `moved` from this address, which its tags
    /// (`payrun:address`, `Name`) and physical name still carry: a move
    /// changes state, not the cloud. Cleared when it is replaced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tagged_as: Option<Address>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// An object replaced by a newer one of the same address, still live.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Deposed {
    pub name: String,
    pub id: String,
    pub args: Value,
    #[serde(default)]
    pub outputs: Map<String, Value>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Intent {
    pub kind: String,
    pub name: String,
    /// The idempotency (client) token of the create.
    pub token: String,
    pub started_at: String,
    /// The args the create was sent with (secrets as markers): what finds
    /// the resource by its natural key when it carries no tags.
    #[serde(default)]
    pub args: Value,
    /// Its dependencies, so a destroy of what it made runs in order.
    #[serde(default)]
    pub deps: Vec<Address>,
}

impl State {
    pub fn new(stack: &str) -> Self {
        Self {
            version: FORMAT_VERSION,
            lineage: uuid::Uuid::new_v4().to_string(),
            serial: 0,
            stack: stack.to_string(),
            program: None,
            resources: BTreeMap::new(),
            outputs: BTreeMap::new(),
            intents: BTreeMap::new(),
            forgotten: BTreeMap::new(),
        }
    }

    /// Refuse `program` on a stack another program wrote, and record it on
    /// a stack that names none yet.
    pub fn claim(&mut self, program: &str, suffix: &str) -> Result<(), StateError> {
        match &self.program {
            Some(recorded) if recorded != program => Err(StateError::OtherProgram {
                stack: self.stack.clone(),
                recorded: recorded.clone(),
                program: program.to_string(),
                suffix: suffix.to_string(),
            }),
            _ => {
                self.program = Some(program.to_string());
                Ok(())
            }
        }
    }

    /// The output `attr` of a recorded resource (`id` included).
    pub fn output(&self, address: &Address, attr: &str) -> Option<Value> {
        let r = self.resources.get(address)?;
        if attr == "id" {
            return Some(Value::String(r.id.clone()));
        }
        match r.outputs.get(attr) {
            Some(v) => Some(v.clone()),
            None if attr == "name" => Some(Value::String(r.name.clone())),
            None => None,
        }
    }
}
