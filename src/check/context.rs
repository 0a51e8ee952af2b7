//! What a check sees: the program, its graph, the planned changes, the
//! facts of the run, and (through this module only) what the providers
//! declare about their kinds. No check imports a provider: the kinds'
//! schemas, their typed args and their Kubernetes manifests come from here.

use std::path::PathBuf;

use serde_json::Value;

use crate::eks_versions::Calendar;
use crate::graph::DesiredGraph;
use crate::plan::ResourceChange;
pub(super) use crate::provider::Registry;
use crate::provider::schema::{KindArgs, KindSchema};
use crate::script::{Program, ResourceSpec};
use crate::value::for_validation;

/// The typed args of the Kubernetes kinds the checks read, as the provider
/// declares them.
pub mod kinds {
    pub(crate) use crate::provider::aws::ec2::{FlowLogArgs, IngressRuleArgs, SubnetArgs, VpcArgs};
    pub(crate) use crate::provider::aws::ecr::RepositoryArgs;
    pub(crate) use crate::provider::aws::eks::{AUTHENTICATION_MODES, AddonArgs, ClusterArgs};
    pub(crate) use crate::provider::aws::iam::{PolicyArgs, RoleArgs, RolePolicyArgs};
    pub(crate) use crate::provider::aws::kms::KeyArgs;
    pub(crate) use crate::provider::aws::logs::LogGroupArgs;
    pub(crate) use crate::provider::aws::secretsmanager::SecretArgs;
    pub use crate::provider::k8s::helm::ReleaseArgs;
    pub use crate::provider::k8s::kinds::{
        ConfigMapArgs, DeploymentArgs, HpaArgs, IngressArgs, LimitRangeArgs, NamespaceArgs,
        NetworkPolicyArgs, ObjectArgs, ResourceQuotaArgs, Resources, SecretProviderClassArgs,
        ServiceArgs,
    };
    pub(crate) use crate::provider::schema::KindArgs;
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
    /// The EKS release calendar versions are judged by: EKS's own when the
    /// plan read it, else the embedded copy.
    pub calendar: Calendar,
}

impl Facts {
    /// Today, and the `helm` this process would run.
    pub fn of_this_run() -> Self {
        Self {
            today: super::platform::today(),
            helm: helm_on(None),
            env_set: |name| std::env::var_os(name).is_some(),
            calendar: Calendar::embedded(),
        }
    }

    /// These facts, with the EKS calendar a plan read (if it read one).
    #[must_use]
    pub fn with_calendar(mut self, calendar: Option<&Calendar>) -> Self {
        if let Some(c) = calendar {
            self.calendar = c.clone();
        }
        self
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

    /// A resource's args as `A`, the typed args of its kind, values known
    /// only after apply standing in as placeholder text; `None` when the
    /// resource is of another kind, or when they do not deserialize
    /// (validation has said why).
    pub fn args<A: KindArgs>(spec: &ResourceSpec) -> Option<A> {
        if spec.address.kind() != A::KIND {
            return None;
        }
        serde_json::from_value(for_validation(&spec.args)).ok()
    }

    /// Every resource of `A`'s kind, with its typed args, in the graph's
    /// order.
    pub fn each<A: KindArgs>(graph: &DesiredGraph) -> impl Iterator<Item = (&ResourceSpec, A)> {
        graph
            .of_kind(A::KIND)
            .filter_map(|spec| Some((spec, Self::args::<A>(spec)?)))
    }

    /// The Kubernetes object a `k8s.*` resource applies, rendered from
    /// its args with placeholders for values known only after apply.
    pub fn manifest(spec: &ResourceSpec) -> Option<Value> {
        let a = &spec.address;
        crate::provider::k8s::render(a.kind(), a.purpose(), &for_validation(&spec.args)).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::kinds::*;
    use crate::provider::{aws, k8s};

    /// `A`'s kind is declared by the schema whose specs are `A`'s: the
    /// kind a check names through its args type is the one those args
    /// belong to.
    fn declared_with<A: KindArgs>() {
        let schema = aws::SCHEMAS
            .iter()
            .chain(k8s::SCHEMAS)
            .chain(k8s::helm::SCHEMAS)
            .find(|s| s.kind == A::KIND)
            .unwrap_or_else(|| panic!("no kind `{}` is declared", A::KIND));
        let names = |specs: &[crate::provider::schema::ArgSpec]| {
            specs.iter().map(|a| a.name).collect::<Vec<_>>()
        };
        assert_eq!(names(schema.args), names(A::SPECS), "{}", A::KIND);
        assert!(!A::SPECS.is_empty(), "{}", A::KIND);
    }

    #[test]
    fn the_args_the_checks_read_are_their_kinds_own() {
        declared_with::<FlowLogArgs>();
        declared_with::<IngressRuleArgs>();
        declared_with::<SubnetArgs>();
        declared_with::<VpcArgs>();
        declared_with::<RepositoryArgs>();
        declared_with::<AddonArgs>();
        declared_with::<ClusterArgs>();
        declared_with::<PolicyArgs>();
        declared_with::<RoleArgs>();
        declared_with::<RolePolicyArgs>();
        declared_with::<KeyArgs>();
        declared_with::<LogGroupArgs>();
        declared_with::<SecretArgs>();
        declared_with::<ReleaseArgs>();
        declared_with::<DeploymentArgs>();
        declared_with::<HpaArgs>();
        declared_with::<IngressArgs>();
        declared_with::<LimitRangeArgs>();
        declared_with::<NamespaceArgs>();
        declared_with::<NetworkPolicyArgs>();
        declared_with::<ObjectArgs>();
        declared_with::<ResourceQuotaArgs>();
        declared_with::<SecretProviderClassArgs>();
        declared_with::<ServiceArgs>();
    }
}
