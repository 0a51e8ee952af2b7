//! What a check sees: the program, its graph, the planned changes, the
//! facts of the run, and (through this module only) what the providers
//! declare about their kinds. No check imports a provider: the kinds'
//! schemas, their typed args and their Kubernetes manifests come from here.

use std::path::PathBuf;

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::graph::DesiredGraph;
use crate::plan::ResourceChange;
pub(super) use crate::provider::Registry;
use crate::provider::schema::KindSchema;
use crate::script::{Program, ResourceSpec};
use crate::value::for_validation;

/// The typed args of the Kubernetes kinds the checks read, as the provider
/// declares them.
pub mod kinds {
    pub(crate) use crate::provider::aws::ecr::RepositoryArgs;
    pub(crate) use crate::provider::aws::eks::ClusterArgs;
    pub(crate) use crate::provider::aws::kms::KeyArgs;
    pub(crate) use crate::provider::aws::logs::LogGroupArgs;
    pub use crate::provider::k8s::kinds::{
        DeploymentArgs, HpaArgs, LimitRangeArgs, ResourceQuotaArgs, Resources,
    };
}

/// The facts of the world a check runs in, beyond the program: injected,
/// so a test fixes them and a check never reads the clock or the
/// environment itself.
#[derive(Clone, Debug)]
pub struct Facts {
    /// `YYYY-MM-DD` (UTC): end-of-support dates are judged against it.
    pub today: String,
    /// The `helm` CLI on PATH, if there is one.
    pub helm: Option<PathBuf>,
    /// Is this environment variable set (a `secret_env` the plan reads)?
    pub env_set: fn(&str) -> bool,
}

impl Facts {
    /// Today, and the `helm` this process would run.
    pub fn of_this_run() -> Self {
        Self {
            today: super::platform::today(),
            helm: helm_on(None),
            env_set: |name| std::env::var_os(name).is_some(),
        }
    }
}

/// The `helm` that would run with `path` as PATH (the process's when
/// `None`).
pub(super) fn helm_on(path: Option<&std::ffi::OsStr>) -> Option<PathBuf> {
    crate::provider::k8s::helm::find_helm(path)
}

/// What every check sees: the graph and the program, the kinds, the
/// planned changes, and the facts.
pub struct Context<'a> {
    pub graph: &'a DesiredGraph,
    pub program: &'a Program,
    pub registry: &'a Registry,
    pub changes: &'a [ResourceChange],
    pub facts: &'a Facts,
}

impl Context<'_> {
    /// What the provider declares about `kind`.
    pub fn schema(&self, kind: &str) -> Option<&'static KindSchema> {
        self.registry.schema(kind)
    }

    /// A resource's args as its kind's typed args, values known only after
    /// apply standing in as placeholder text; `None` when they do not
    /// deserialize (validation has said why).
    pub fn typed<T: DeserializeOwned>(spec: &ResourceSpec) -> Option<T> {
        serde_json::from_value(for_validation(&spec.args)).ok()
    }

    /// The Kubernetes object a `k8s.*` resource applies, rendered from
    /// its args with placeholders for values known only after apply.
    pub fn manifest(spec: &ResourceSpec) -> Option<Value> {
        let a = &spec.address;
        crate::provider::k8s::render(a.kind(), a.purpose(), &for_validation(&spec.args)).ok()
    }
}
