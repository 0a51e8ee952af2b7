//! Providers: the only code that talks to a cloud. The core sees them
//! through the [`Provider`] trait and static [`KindSchema`]s.

pub mod arg_values;
pub mod aws;
pub mod awscc;
pub mod fake;
pub mod k8s;
pub mod properties;
pub mod registry;
pub mod schema;

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{Map, Value};

use crate::address::Address;
pub use registry::Registry;
pub use schema::{ArgError, ArgSpec, KindSchema};

/// Reports progress of a long operation (a NAT gateway or an EKS cluster
/// becoming available) to whatever view is watching.
pub type ProgressFn = Arc<dyn Fn(&str) + Send + Sync>;

/// What a provider returns for a resource it created, updated or adopted.
#[derive(Clone, Debug, PartialEq)]
pub struct Applied {
    pub id: String,
    /// Outputs other resources may refer to (`arn`, `endpoint`...). `id` is
    /// added by the host.
    pub outputs: Map<String, Value>,
}

/// A resource recorded in state, to be read back from the cloud.
#[derive(Clone, Debug)]
pub struct ReadItem {
    pub address: Address,
    pub id: String,
    /// The args last applied (secrets as markers with digests).
    pub args: Value,
    pub outputs: Map<String, Value>,
}

/// What the cloud says about one [`ReadItem`].
#[derive(Clone, Debug, PartialEq)]
pub enum ReadResult {
    /// The resource exists. `args` holds the live value of every argument the
    /// provider can observe, in the same shape as the program writes them;
    /// arguments it cannot observe (secrets, write-only settings) are left
    /// out and keep their recorded value.
    Found {
        args: Map<String, Value>,
        outputs: Map<String, Value>,
    },
    /// Deleted outside payrun.
    Gone,
}

/// What one refresh asks of a provider: every recorded resource of the
/// stack it serves, by kind, and the stack, whose `payrun:stack` tag finds
/// what state does not record.
#[derive(Clone, Copy, Debug)]
pub struct StackRead<'a> {
    pub stack: &'a str,
    /// Recorded items by kind. A kind may come with none (the program
    /// declares it, or a create of it was interrupted): it is still read
    /// for what the stack's tag finds of it.
    pub kinds: &'a BTreeMap<String, Vec<ReadItem>>,
}

/// An object carrying the stack's `payrun:stack` tag that no recorded
/// resource is: a duplicate of a recorded address, what an interrupted
/// create made, or something tagged by hand.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct Unrecorded {
    pub kind: String,
    pub id: String,
    /// Its `payrun:address` tag, where it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
}

/// What one refresh found: per kind, one result per recorded item (in
/// order) or why the kind could not be read; and what the stack's tag
/// found that no item records.
#[derive(Debug, Default)]
pub struct StackFound {
    pub kinds: BTreeMap<String, Result<Vec<ReadResult>, ProviderError>>,
    pub unrecorded: Vec<Unrecorded>,
}

/// An object `payrun discover` found.
#[derive(Clone, Debug, PartialEq)]
pub struct Listed {
    pub id: String,
    /// What people call it (its `Name` tag, its name), where it has one.
    pub name: Option<String>,
    /// Its tags; `None` for an object that carries none of its own (a
    /// route), which goes with its `parent`.
    pub tags: Option<BTreeMap<String, String>>,
    /// The id of the object it hangs on (a route's table, a rule's group).
    pub parent: Option<String>,
    /// Arguments a read by id needs besides the id (a route's table), in
    /// the program's names.
    pub seed: Map<String, Value>,
}

impl Listed {
    /// Carries a stack's `payrun:stack` tag: some stack manages it.
    pub fn stack(&self) -> Option<&str> {
        self.tags.as_ref()?.get("payrun:stack").map(String::as_str)
    }
}

/// Called by a create that takes several calls, right after the first one
/// made the resource: the host records its id at once, so a crash before
/// the remaining calls leaves a recorded resource whose create the next
/// apply completes, never an unknown one.
pub type CheckpointFn = Arc<dyn Fn(&Applied) + Send + Sync>;

/// A resource of a stack still live after its destroy, found by the stack's
/// tags (or, for untaggable kinds, by what they hang on).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Leftover {
    pub kind: String,
    pub id: String,
    /// The `payrun:address` tag, where the resource has one.
    pub address: Option<String>,
}

/// Everything a provider needs for one create.
#[derive(Clone)]
pub struct CreateOp {
    pub address: Address,
    /// Physical name: `{resource-type}-{purpose}-{suffix}`.
    pub name: String,
    pub stack: String,
    /// Stable across retries and crashes: pass it as the client token where
    /// the API takes one, so a repeated create returns the first resource.
    pub token: String,
    /// Fully resolved: no refs, secrets read from their source.
    pub args: Value,
    pub progress: ProgressFn,
    pub checkpoint: CheckpointFn,
}

impl CreateOp {
    /// Tell the host the resource exists (see [`CheckpointFn`]).
    pub fn made(&self, applied: &Applied) {
        (self.checkpoint)(applied);
    }
}

/// A checkpoint that records nothing (a create whose host keeps no state).
pub fn no_checkpoint() -> CheckpointFn {
    Arc::new(|_: &Applied| {})
}

#[derive(Clone)]
pub struct UpdateOp {
    pub address: Address,
    pub name: String,
    pub stack: String,
    pub id: String,
    pub before: Value,
    /// Fully resolved.
    pub after: Value,
    /// Top-level argument names whose value changed.
    pub changed: Vec<String>,
    pub outputs: Map<String, Value>,
    pub progress: ProgressFn,
}

#[derive(Clone)]
pub struct DeleteOp {
    pub address: Address,
    pub name: String,
    pub id: String,
    /// As recorded in state (secrets are markers, never values).
    pub args: Value,
    pub outputs: Map<String, Value>,
    pub progress: ProgressFn,
}

/// A provider failure, worded for the person running payrun.
#[derive(Clone, Debug, thiserror::Error)]
#[error("{message}{}", fix.as_ref().map(|f| format!("\n  fix: {f}")).unwrap_or_default())]
pub struct ProviderError {
    /// The cloud's error code, when it gave one (`UnauthorizedOperation`).
    pub code: Option<String>,
    pub message: String,
    pub fix: Option<String>,
    /// Worth retrying as a whole (the resource is busy, a throttle outlasted
    /// the SDK's own retries). For a create it also means the outcome is
    /// unknown: the call may have been carried out although it failed (a
    /// lost reply, a 5xx after the request was processed), so the host looks
    /// for what it made before sending it again.
    pub retryable: bool,
}

impl UpdateOp {
    /// The answer of an update that changes neither the id nor an output.
    pub fn unchanged(&self) -> Applied {
        Applied {
            id: self.id.clone(),
            outputs: self.outputs.clone(),
        }
    }

    /// A text output recorded for the resource (`arn`); empty when absent.
    pub fn recorded(&self, output: &str) -> &str {
        self.outputs
            .get(output)
            .and_then(Value::as_str)
            .unwrap_or_default()
    }
}

impl ProviderError {
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            code: None,
            message: message.into(),
            fix: None,
            retryable: false,
        }
    }

    pub fn with_code(mut self, code: impl Into<String>) -> Self {
        self.code = Some(code.into());
        self
    }

    pub fn with_fix(mut self, fix: impl Into<String>) -> Self {
        self.fix = Some(fix.into());
        self
    }

    pub fn retryable(mut self) -> Self {
        self.retryable = true;
        self
    }
}

/// A cloud API behind a set of resource kinds.
///
/// Reads are batched: `read` gets every recorded resource of one kind and
/// should answer with as few API calls as the cloud allows (one Describe per
/// page), never one per resource.
#[async_trait]
pub trait Provider: Send + Sync {
    /// The kinds this provider serves, known when it is made.
    fn schemas(&self) -> &'static [KindSchema];

    /// The schema of `kind`: one of [`Provider::schemas`], or one the
    /// provider makes when first asked (the generated `awscc` kinds).
    fn schema(&self, kind: &str) -> Option<&'static KindSchema> {
        self.schemas().iter().find(|s| s.kind == kind)
    }

    /// Read back every item of `kind`; the answer has one entry per item, in
    /// order.
    async fn read(&self, kind: &str, items: &[ReadItem]) -> Result<Vec<ReadResult>, ProviderError>;

    /// Read back a stack: every kind of `read` (concurrently), and, where
    /// the cloud can list by tag, what carries the stack's tag without a
    /// record. Kinds whose API lists nothing by tag find no unrecorded
    /// objects; by default every kind is read alone with [`Provider::read`].
    async fn read_stack(&self, read: StackRead<'_>) -> StackFound {
        let reads = read
            .kinds
            .iter()
            .filter(|(_, items)| !items.is_empty())
            .map(|(kind, items)| async move { (kind.clone(), self.read(kind, items).await) });
        StackFound {
            kinds: futures_util::future::join_all(reads)
                .await
                .into_iter()
                .collect(),
            unrecorded: Vec::new(),
        }
    }

    /// How long a create request may still be carried out after it was
    /// sent (the client's timeout for one request): a lookup after an
    /// interrupted create waits until then before it concludes that the
    /// create made nothing.
    fn settle_window(&self) -> std::time::Duration {
        std::time::Duration::ZERO
    }

    async fn create(&self, op: &CreateOp) -> Result<Applied, ProviderError>;

    async fn update(&self, op: &UpdateOp) -> Result<Applied, ProviderError>;

    /// Deleting something already gone succeeds.
    async fn delete(&self, op: &DeleteOp) -> Result<(), ProviderError>;

    /// After a crash between a create call and the state write, or a create
    /// whose outcome is unknown: find the resource that create made (by its
    /// `payrun:address` tag, its client token, or for untaggable kinds its
    /// natural key) so it is adopted rather than duplicated. A lookup only:
    /// it changes nothing.
    async fn adopt(&self, op: &CreateOp) -> Result<Option<Applied>, ProviderError>;

    /// Make every call a fresh create makes after its first one (DNS
    /// attributes, the default egress rule revoked, an attachment), so a
    /// resource that was adopted, or whose create was interrupted after its
    /// first call, converges on the program's arguments. Idempotent.
    async fn complete(&self, _op: &CreateOp, made: &Applied) -> Result<Applied, ProviderError> {
        Ok(made.clone())
    }

    /// Everything of `stack` still live in the services of `kinds` (the
    /// kinds a destroy just covered), for the destroy to check that it left
    /// nothing behind. Providers whose kinds cannot be listed by stack answer
    /// with what they can find.
    async fn sweep(&self, _stack: &str, _kinds: &[&str]) -> Result<Vec<Leftover>, ProviderError> {
        Ok(Vec::new())
    }

    /// The kinds `payrun discover` lists when it is not told which.
    fn listed_kinds(&self) -> Vec<&'static str> {
        Vec::new()
    }

    /// Every object of each of `kinds` in the account and region, what the
    /// cloud makes by itself (a default VPC) left out, read in as few calls
    /// as the cloud allows; one answer per kind, in order. A kind the
    /// provider cannot list answers an error saying so.
    async fn list(&self, kinds: &[String]) -> Vec<Result<Vec<Listed>, ProviderError>> {
        kinds
            .iter()
            .map(|k| {
                Err(ProviderError::new(format!(
                    "payrun cannot list {k}: its API lists nothing"
                )))
            })
            .collect()
    }

    /// Operations with the same key run one at a time (EKS allows one Fargate
    /// profile operation per cluster at a time).
    fn concurrency_key(&self, _kind: &str, _args: &Value) -> Option<String> {
        None
    }

    /// Called once before apply changes anything, with every kind of this
    /// provider the plan changes: a missing tool (the `helm` CLI) refuses
    /// the apply up front rather than half-way through.
    async fn preflight(&self, _kinds: &[&str]) -> Result<(), ProviderError> {
        Ok(())
    }
}

/// What a provider can say about the platform beyond the resources of a
/// stack: facts the checks judge a program by.
#[async_trait]
pub trait PlatformFacts: Send + Sync {
    /// The EKS release calendar as EKS itself gives it, read on `today`
    /// (`YYYY-MM-DD`); when EKS cannot be asked, the embedded calendar,
    /// saying why.
    async fn eks_calendar(&self, today: &str) -> crate::eks_versions::Calendar;
}

/// Tags every taggable resource carries.
pub fn standard_tags(
    name: &str,
    stack: &str,
    address: &Address,
    defaults: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let mut tags = defaults.clone();
    add_standard_tags(&mut tags, name, stack, address);
    tags
}

/// [`standard_tags`] added to `tags`, in place.
pub fn add_standard_tags(
    tags: &mut BTreeMap<String, String>,
    name: &str,
    stack: &str,
    address: &Address,
) {
    tags.insert("Name".into(), name.to_string());
    tags.insert("payrun:stack".into(), stack.to_string());
    tags.insert("payrun:address".into(), address.to_string());
}
