//! `Handle`: what a builder returns. Its properties are refs to outputs
//! not known until apply (`vpc.id`), plus the known `name` and `address`.

use rhai::{Dynamic, EvalAltResult, Position};

use crate::address::Address;
use crate::provider::KindSchema;
use crate::suggest::did_you_mean;
use crate::value::RefTarget;

use super::output_ref::OutputRef;
use super::recorder::fault;

#[derive(Clone, Debug)]
pub struct Handle {
    pub address: Address,
    pub schema: &'static KindSchema,
}

/// A secret read from the environment at apply time (`secret_env("NAME")`).
#[derive(Clone, Debug)]
pub struct SecretSource {
    pub env: String,
}

impl Handle {
    fn output(&self, attr: &str) -> Dynamic {
        Dynamic::from(OutputRef {
            target: RefTarget {
                address: self.address.clone(),
                attr: attr.to_string(),
            },
        })
    }

    /// `handle.attr` and `handle["attr"]`.
    pub fn get(&mut self, attr: &str) -> Result<Dynamic, Box<EvalAltResult>> {
        match attr {
            // A ref, so using a name makes a dependency; the planner knows
            // it already unless the kind reports its own `name` output.
            "name" => Ok(self.output("name")),
            "address" => Ok(self.address.to_string().into()),
            _ if self.schema.has_output(attr) => Ok(self.output(attr)),
            _ => {
                let outputs = std::iter::once("id").chain(self.schema.outputs.iter().copied());
                let fix = match did_you_mean(attr, outputs.clone().chain(["name", "address"])) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!(
                        "its outputs are {}",
                        outputs
                            .map(|o| format!("`{o}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                };
                Err(fault(
                    format!("{} has no output `{attr}`", self.address),
                    fix,
                    Position::NONE,
                ))
            }
        }
    }
}
