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
    /// Write-only (a CloudFormation `writeOnlyProperties` entry): the cloud
    /// never reports it back, so it is never drift; state keeps it only as
    /// a digest keyed by the stack key, which the next plan compares the
    /// program's value with (`secret_env(...)` may stand anywhere in it).
    pub write_only: bool,
    /// A policy-like document: compared with set semantics (key order,
    /// one-element lists and the order of string lists do not matter).
    pub document: bool,
    /// Reported by a refresh, never written by a program (which is refused
    /// one): the program's value is always "none", so what the cloud
    /// reports is drift the apply takes away.
    pub observed: bool,
    /// The argument says where the object lives (the `cluster` of the
    /// Kubernetes kinds): only a change of place replaces the object.
    pub placement: Option<&'static Placement>,
    /// What a change of this argument will do, for the plan: `before`,
    /// `after` → a note shown beside the change (an EKS upgrade's steps).
    pub explain: Option<fn(&Value, &Value) -> Option<String>>,
    /// The output a resource handle passed here stands for, when the name
    /// does not say it (`kms_key` → `arn`); by default `*_arn` takes the
    /// ARN, `*_name` the name, anything else the id.
    pub handle: Option<&'static str>,
    /// The name this argument had before, which states recorded earlier
    /// still carry: read under the new name, so a rename plans no change.
    pub formerly: Option<&'static str>,
    /// What the argument means, for the reference (the args struct's
    /// `///` comment).
    pub doc: &'static str,
    /// The default, as the reference shows it: the value serde gives an
    /// absent field, as JSON (checked by `default_holds`), or for an
    /// optional field what the cloud does without it.
    pub default: Option<&'static str>,
    /// Does `default` say the value serde really gives an absent field
    /// (deserializes to it)? Derived for every field with a serde default.
    pub default_holds: Option<fn() -> Result<(), String>>,
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
            write_only: false,
            document: false,
            observed: false,
            placement: None,
            explain: None,
            handle: None,
            formerly: None,
            doc: "",
            default: None,
            default_holds: None,
        }
    }

    /// A document argument (an IAM policy), compared by meaning.
    pub const fn document(name: &'static str) -> Self {
        Self {
            document: true,
            ..Self::new(name)
        }
    }

    pub const fn force_new(name: &'static str) -> Self {
        Self {
            force_new: true,
            ..Self::new(name)
        }
    }

    pub const fn secret(name: &'static str) -> Self {
        Self {
            secret: true,
            ..Self::new(name)
        }
    }

    /// An argument that may carry secrets at places the program marks.
    pub const fn holds_secrets(name: &'static str) -> Self {
        Self {
            holds_secrets: true,
            ..Self::new(name)
        }
    }

    /// An argument naming where the object lives, compared by `placement`.
    pub const fn placement(name: &'static str, placement: &'static Placement) -> Self {
        Self {
            placement: Some(placement),
            ..Self::new(name)
        }
    }

    /// The same argument, reported by a refresh and never written.
    pub const fn observed(self) -> Self {
        Self {
            observed: true,
            ..self
        }
    }

    /// The same argument, documented.
    pub const fn doc(self, doc: &'static str) -> Self {
        Self { doc, ..self }
    }

    /// The same argument, with its default as the reference shows it.
    pub const fn default(self, default: &'static str) -> Self {
        Self {
            default: Some(default),
            ..self
        }
    }

    /// The same argument, with the check that its shown default is the
    /// value serde gives.
    pub const fn default_holds(self, check: fn() -> Result<(), String>) -> Self {
        Self {
            default_holds: Some(check),
            ..self
        }
    }

    /// The same argument, with a note for the plan on what its change does.
    pub const fn explained(self, explain: fn(&Value, &Value) -> Option<String>) -> Self {
        Self {
            explain: Some(explain),
            ..self
        }
    }

    /// The same argument, taking `output` of a resource handle passed to it.
    pub const fn takes(self, output: &'static str) -> Self {
        Self {
            handle: Some(output),
            ..self
        }
    }

    /// The same argument, renamed from `old`: recorded args under `old` are
    /// read as this one.
    pub const fn formerly(self, old: &'static str) -> Self {
        Self {
            formerly: Some(old),
            ..self
        }
    }

    /// The output of a resource a handle passed to this argument stands for.
    pub fn handle_output(&self) -> &'static str {
        if let Some(output) = self.handle {
            return output;
        }
        let n = self.name.trim_end_matches('s');
        if n.ends_with("_arn") {
            "arn"
        } else if n.ends_with("_name") {
            "name"
        } else {
            "id"
        }
    }

    /// May a `secret_env(...)` appear in this argument?
    pub const fn may_hold_secret(&self) -> bool {
        self.secret || self.holds_secrets || self.write_only
    }
}

/// Checks a kind's args: a kind's typed struct for the hand-written kinds,
/// its CloudFormation schema for the generated ones.
pub type Validate = &'static (dyn Fn(&Value) -> Result<(), ArgError> + Send + Sync);

/// Static description of a resource kind.
#[derive(Clone, Copy)]
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
    /// A forced replacement makes the new object first, under its next
    /// generation's name, and deletes the old one once its dependents moved
    /// to the new one (`+/-`): two of them can exist at once. Without it the
    /// old one is deleted first (`-/+`): Kubernetes objects and helm releases
    /// (one name per namespace), and what one of its kind can hold only
    /// once (a subnet's route table association, a VPC's internet gateway,
    /// an EKS add-on, an ECR repository whose images would be lost, ...).
    pub create_before_destroy: bool,
    pub args: &'static [ArgSpec],
    /// Outputs known after apply (`id` is always one).
    pub outputs: &'static [&'static str],
    /// Checks the args against the kind's typed struct (unknown fields,
    /// types, required fields) and the values the cloud would refuse. Runs
    /// at the builder call, and again on the resolved args right before the
    /// provider call. The message names the offending field.
    pub validate: Validate,
    /// How a refresh reads this kind when its API has no batched read: one
    /// call (or a few) per resource, and why (`"one DescribeCluster per
    /// cluster: EKS has no batched describe"`). `None`: one call a page for
    /// every resource of the kind, or fewer.
    pub reads_each: Option<&'static str>,
    /// One line for `.d.rhai` definitions and `payrun` errors.
    pub doc: &'static str,
}

impl std::fmt::Debug for KindSchema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KindSchema")
            .field("kind", &self.kind)
            .field("name_prefix", &self.name_prefix)
            .field(
                "args",
                &self.args.iter().map(|a| a.name).collect::<Vec<_>>(),
            )
            .field("outputs", &self.outputs)
            .finish_non_exhaustive()
    }
}

impl KindSchema {
    /// A forced replacement makes the new object before deleting the old.
    pub fn replaced_before_destroyed(&self) -> bool {
        !self.named_by_arg && self.create_before_destroy
    }

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

/// Why a kind refuses its args: what is wrong, naming the argument, and
/// what to write instead.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArgError {
    pub message: String,
    pub fix: String,
}

impl ArgError {
    pub fn new(message: impl Into<String>, fix: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            fix: fix.into(),
        }
    }

    /// A shape error from deserializing (a missing field, a wrong type, a
    /// value outside an enumeration), with the fix its kind implies.
    fn shape(message: String) -> Self {
        let fix = if message.contains("missing field") {
            "add the missing property to the map"
        } else if message.contains("unknown variant") {
            "use one of the values the message lists"
        } else {
            "give the property a value of the expected type"
        };
        Self::new(message, fix)
    }
}

impl From<String> for ArgError {
    fn from(message: String) -> Self {
        Self::shape(message)
    }
}

impl From<&str> for ArgError {
    fn from(message: &str) -> Self {
        Self::shape(message.to_string())
    }
}

impl std::fmt::Display for ArgError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}\n  fix: {}", self.message, self.fix)
    }
}

/// Values of typed args the cloud would refuse (a CIDR block it cannot
/// parse, a port past 65535), found without a call. A value known only
/// after apply reads as [`crate::value::UNKNOWN`] here and passes; it is
/// checked when it resolves, before the provider call.
pub trait CheckArgs {
    fn check(&self) -> Result<(), ArgError>;
}

/// A kind's args struct, as `#[derive(Args)]` with `#[arg(kind = "...")]`
/// declares it: the kind it belongs to and its argument specs. The checks
/// read a resource's args through it, so the kind and its fields are named
/// once, in the provider.
pub trait KindArgs: DeserializeOwned {
    const KIND: &'static str;
    const SPECS: &'static [ArgSpec];
}

/// The typed args of `args`, or why they do not deserialize.
pub fn typed<T: DeserializeOwned>(args: &Value) -> Result<T, ArgError> {
    serde_path_to_error::deserialize::<_, T>(args).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        ArgError::shape(if path == "." || path.is_empty() {
            inner
        } else {
            format!("`{path}`: {inner}")
        })
    })
}

/// The validator for a kind whose args deserialize into `T`
/// (declared with `#[serde(deny_unknown_fields)]`).
pub fn validate_as<T: DeserializeOwned>(args: &Value) -> Result<(), ArgError> {
    typed::<T>(args).map(|_| ())
}

/// The validator for a kind whose typed args also check their values.
pub fn validate_checked<T: DeserializeOwned + CheckArgs>(args: &Value) -> Result<(), ArgError> {
    typed::<T>(args)?.check()
}
