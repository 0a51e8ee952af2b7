//! `KindSchema`: what the host knows about a resource kind without talking
//! to any cloud: its arguments (which force replacement, which are secret),
//! its outputs, its physical-name rule and a typed validator.

use serde::de::DeserializeOwned;
use serde_json::Value;

/// One argument of a kind.
#[derive(Clone, Copy, Debug)]
pub struct ArgSpec {
    pub name: &'static str,
    /// A change to this argument replaces the resource.
    pub force_new: bool,
    /// Never stored, planned or logged: only a digest.
    pub secret: bool,
    /// May hold `secret_env(...)` values anywhere inside (helm values, a
    /// container's environment, a Secret's data): those places are secret,
    /// the rest is not. What the cloud reports back there is compared by
    /// digest and shown as `(sensitive)`.
    pub holds_secrets: bool,
    /// A policy-like document: compared with set semantics (key order,
    /// one-element lists and the order of string lists do not matter).
    pub document: bool,
    /// The argument says where the object lives (the `cluster` of the
    /// Kubernetes kinds): only a change of place replaces the object.
    pub placement: Option<&'static Placement>,
}

/// How an argument that names a place is compared.
#[derive(Debug)]
pub struct Placement {
    /// What identifies the place: a change here replaces the object.
    pub identity: fn(&Value) -> Value,
    /// The argument as compared for a change at all (fields kept only for
    /// plan-time checks, such as a cluster's version, left out): a change
    /// that keeps the identity updates in place.
    pub compared: fn(&Value) -> Value,
}

impl ArgSpec {
    pub const fn new(name: &'static str) -> Self {
        Self {
            name,
            force_new: false,
            secret: false,
            holds_secrets: false,
            document: false,
            placement: None,
        }
    }

    /// A document argument (an IAM policy), compared by meaning.
    pub const fn document(name: &'static str) -> Self {
        Self {
            name,
            force_new: false,
            secret: false,
            holds_secrets: false,
            document: true,
            placement: None,
        }
    }

    pub const fn force_new(name: &'static str) -> Self {
        Self {
            name,
            force_new: true,
            secret: false,
            holds_secrets: false,
            document: false,
            placement: None,
        }
    }

    pub const fn secret(name: &'static str) -> Self {
        Self {
            name,
            force_new: false,
            secret: true,
            holds_secrets: false,
            document: false,
            placement: None,
        }
    }

    /// An argument that may carry secrets at places the program marks.
    pub const fn holds_secrets(name: &'static str) -> Self {
        Self {
            name,
            force_new: false,
            secret: false,
            holds_secrets: true,
            document: false,
            placement: None,
        }
    }

    /// An argument naming where the object lives, compared by `placement`.
    pub const fn placement(name: &'static str, placement: &'static Placement) -> Self {
        Self {
            name,
            force_new: false,
            secret: false,
            holds_secrets: false,
            document: false,
            placement: Some(placement),
        }
    }

    /// May a `secret_env(...)` appear in this argument?
    pub const fn may_hold_secret(&self) -> bool {
        self.secret || self.holds_secrets
    }
}

/// Static description of a resource kind.
#[derive(Clone, Copy, Debug)]
pub struct KindSchema {
    /// `aws.ec2.vpc`: the address prefix and, split on dots, the script path
    /// (`aws::ec2::vpc`).
    pub kind: &'static str,
    /// `{resource-type}` in the physical name `{resource-type}-{purpose}-{suffix}`.
    pub name_prefix: &'static str,
    /// Longest physical name the cloud accepts for this kind.
    pub name_max: usize,
    /// The host adds `tags` (Name, payrun:stack, payrun:address, defaults).
    pub taggable: bool,
    /// The object is named by its `name` argument, else by its purpose, not
    /// by the `{resource-type}-{purpose}-{suffix}` convention: Kubernetes
    /// objects (a namespace `payment` is `payment` in every stack, which
    /// lives in its own cluster) and Helm releases.
    pub named_by_arg: bool,
    pub args: &'static [ArgSpec],
    /// Outputs known after apply (`id` is always one).
    pub outputs: &'static [&'static str],
    /// Checks the args against the kind's typed struct (unknown fields,
    /// types, required fields). The message names the offending field.
    pub validate: fn(&Value) -> Result<(), String>,
    /// One line for `.d.rhai` definitions and `payrun` errors.
    pub doc: &'static str,
}

impl KindSchema {
    pub fn arg(&self, name: &str) -> Option<&ArgSpec> {
        self.args.iter().find(|a| a.name == name)
    }

    pub fn has_output(&self, name: &str) -> bool {
        name == "id" || name == "name" || self.outputs.contains(&name)
    }

    /// `aws.ec2.vpc` → `["aws", "ec2"]`, `"vpc"`.
    pub fn script_path(&self) -> (Vec<&'static str>, &'static str) {
        let mut parts: Vec<&'static str> = self.kind.split('.').collect();
        let func = parts.pop().unwrap_or(self.kind);
        (parts, func)
    }
}

/// The validator for a kind whose args deserialize into `T`
/// (declared with `#[serde(deny_unknown_fields)]`).
pub fn validate_as<T: DeserializeOwned>(args: &Value) -> Result<(), String> {
    let de = args.clone();
    match serde_path_to_error::deserialize::<_, T>(de) {
        Ok(_) => Ok(()),
        Err(e) => {
            let path = e.path().to_string();
            let inner = e.into_inner().to_string();
            if path == "." || path.is_empty() {
                Err(inner)
            } else {
                Err(format!("`{path}`: {inner}"))
            }
        }
    }
}
