//! The `awscc` provider: every CloudFormation resource type Cloud Control
//! can provision is a kind, `awscc.<service>.<type>`, made at run time from
//! the embedded schemas (no Rust per type) and served through one generic
//! piece of code over the AWS Cloud Control API.
//!
//! A kind is made the first time it is asked for and kept for the process:
//! its schema inflated and read into a [`CfnType`], its [`KindSchema`]
//! derived from it (properties in snake case, create-only ones forcing
//! replacement, write-only strings secret, read-only ones the outputs, the
//! tag property the host's `tags`), so a program that uses none pays
//! nothing.

pub mod bundle;
pub mod cfn_type;
pub mod naming;

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex, OnceLock};

use async_trait::async_trait;
use serde_json::{Map, Value, json};

pub use cfn_type::CfnType;
use cfn_type::Node;

use super::aws::{AwsProvider, cloudcontrol};
use super::schema::{ArgSpec, KindSchema};
use super::{
    Applied, CreateOp, DeleteOp, Listed, Provider, ProviderError, ReadItem, ReadResult, UpdateOp,
};
use crate::provider::aws::tags;

/// A generated kind: its type and the schema the host sees.
#[derive(Debug)]
pub struct Generated {
    pub cfn: &'static CfnType,
    pub schema: KindSchema,
}

/// Every kind's name, `awscc.sqs.queue` → `AWS::SQS::Queue`.
static NAMES: LazyLock<HashMap<String, &'static str>> = LazyLock::new(|| {
    bundle::bundle()
        .type_names()
        .filter_map(|t| {
            let (service, resource) = naming::kind_parts(t)?;
            Some((format!("awscc.{service}.{resource}"), t))
        })
        .collect()
});

/// Each kind made so far, or being made: a cell per kind, so a kind asked
/// for on two threads at once (a program's run and [`make_ahead`]) is made
/// once, the second waiting for the first.
type Cell = Arc<OnceLock<Option<&'static Generated>>>;
static MADE: LazyLock<Mutex<HashMap<String, Cell>>> = LazyLock::new(Mutex::default);

/// Every `awscc` kind and its CloudFormation type, sorted by kind.
pub fn kinds() -> Vec<(&'static str, &'static str)> {
    let mut all: Vec<(&'static str, &'static str)> =
        NAMES.iter().map(|(k, t)| (k.as_str(), *t)).collect();
    all.sort_unstable();
    all
}

/// The kind `kind` (`awscc.sqs.queue`), made on first use.
pub fn generated(kind: &str) -> Option<&'static Generated> {
    let cell = {
        let mut made = MADE.lock().expect("awscc kinds");
        match made.get(kind) {
            Some(cell) => cell.clone(),
            None => made.entry(kind.to_string()).or_default().clone(),
        }
    };
    *cell.get_or_init(|| {
        let type_name = NAMES.get(kind)?;
        let cfn = CfnType::from_schema(&bundle::bundle().schema(type_name)?).ok()?;
        Some(&*Box::leak(Box::new(make(cfn))))
    })
}

/// Makes `kinds` now, on this thread: a program's evaluation asks this of
/// its other core for the kinds its text names, so the schemas are read
/// while the program runs (about 2 ms of the payment platform's plan).
/// Stops early once `stop` is set.
pub fn make_ahead(kinds: &[String], stop: &std::sync::atomic::AtomicBool) {
    for kind in kinds {
        if stop.load(std::sync::atomic::Ordering::Relaxed) {
            return;
        }
        generated(kind);
    }
}

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

/// The first sentence of a description, for a one-line doc.
fn first_sentence(text: &str) -> String {
    let t = text.trim();
    match t.find(". ") {
        Some(i) => t[..=i].to_string(),
        None => t.to_string(),
    }
}

/// What the host sees of `cfn`.
fn make(cfn: CfnType) -> Generated {
    let cfn_ref: &'static CfnType = Box::leak(Box::new(cfn));
    let args: Vec<ArgSpec> = cfn_ref
        .props()
        .iter()
        .filter(|p| !cfn_ref.read_only.contains(&p.cfn))
        .map(|p| {
            let node = &cfn_ref.nodes[p.node];
            ArgSpec {
                force_new: cfn_ref.create_only.contains(&p.cfn) || !cfn_ref.updatable,
                write_only: cfn_ref.write_only.contains(&p.cfn),
                document: matches!(node, Node::Json),
                doc: leak(first_sentence(&p.doc)),
                ..ArgSpec::new(leak(p.snake.clone()))
            }
        })
        .collect();
    let outputs: Vec<&'static str> = cfn_ref
        .props()
        .iter()
        .filter(|p| cfn_ref.read_only.contains(&p.cfn))
        .map(|p| leak(p.snake.clone()))
        .collect();
    let resource = cfn_ref.kind.rsplit('.').next().unwrap_or_default();
    let validate: &'static (dyn Fn(&Value) -> Result<(), super::ArgError> + Send + Sync) =
        Box::leak(Box::new(move |args: &Value| cfn_ref.validate(args)));
    let schema = KindSchema {
        kind: leak(cfn_ref.kind.clone()),
        name_prefix: leak(resource.replace('_', "-")),
        name_max: cfn_ref.name_max.unwrap_or(255),
        taggable: cfn_ref.tags.is_some(),
        named_by_arg: false,
        create_before_destroy: !cfn_ref.delete_first,
        args: Box::leak(args.into_boxed_slice()),
        outputs: Box::leak(outputs.into_boxed_slice()),
        validate,
        reads_each: Some(
            "one Cloud Control GetResource per resource, ten at a time: Cloud Control reads one resource a call",
        ),
        doc: leak(format!(
            "{} ({}, through Cloud Control)",
            first_sentence(&cfn_ref.description),
            cfn_ref.type_name
        )),
    };
    Generated {
        cfn: cfn_ref,
        schema,
    }
}

/// The provider of the `awscc.*` kinds, over the AWS provider's settings
/// and credentials.
pub struct AwsccProvider {
    aws: Arc<AwsProvider>,
}

impl AwsccProvider {
    pub fn new(aws: Arc<AwsProvider>) -> Self {
        Self { aws }
    }

    fn kind(kind: &str) -> Result<&'static Generated, ProviderError> {
        generated(kind).ok_or_else(|| {
            ProviderError::new(format!("no CloudFormation type is the kind `{kind}`"))
                .with_code("UnknownKind")
        })
    }

    /// The desired state of a create: the args in the schema's names, the
    /// physical name in the name property unless the program named it.
    fn desired(g: &Generated, op: &CreateOp) -> Value {
        let mut desired = g.cfn.to_cfn(&op.args);
        if let (Some(name), Value::Object(map)) = (&g.cfn.name_property, &mut desired) {
            map.entry(name.clone()).or_insert_with(|| json!(op.name));
        }
        desired
    }

    /// The outputs of a resource: its identifier, and every read-only
    /// property it reports.
    fn applied(g: &Generated, identifier: &str, live: &Value) -> Applied {
        Applied {
            id: identifier.to_string(),
            outputs: g.cfn.outputs(live),
        }
    }

    fn explained(g: &Generated, e: ProviderError) -> ProviderError {
        ProviderError {
            message: g.cfn.explain_message(&e.message),
            ..e
        }
    }
}

/// Reads at most this many resources at once.
const READS_AT_ONCE: usize = 10;

#[async_trait]
impl Provider for AwsccProvider {
    fn schemas(&self) -> &'static [KindSchema] {
        &[]
    }

    fn schema(&self, kind: &str) -> Option<&'static KindSchema> {
        generated(kind).map(|g| &g.schema)
    }

    async fn read(&self, kind: &str, items: &[ReadItem]) -> Result<Vec<ReadResult>, ProviderError> {
        let g = Self::kind(kind)?;
        let cc = cloudcontrol::client(&self.aws).await;
        let gate = tokio::sync::Semaphore::new(READS_AT_ONCE);
        let reads = items.iter().map(|item| async {
            let _permit = gate.acquire().await.expect("the gate stays open");
            let live = cloudcontrol::get(cc, &item.address.to_string(), &g.cfn.type_name, &item.id)
                .await?;
            Ok::<_, ProviderError>(match live {
                None => ReadResult::Gone,
                Some(live) => ReadResult::Found {
                    args: g.cfn.from_cfn(&live, &item.args),
                    outputs: g.cfn.outputs(&live),
                },
            })
        });
        futures_util::future::join_all(reads)
            .await
            .into_iter()
            .collect()
    }

    /// Cloud Control's ListResources, one call a page per kind. A type
    /// whose list handler needs a parent (a subnet's VPC) is refused by
    /// Cloud Control, and the refusal is the answer.
    async fn list(&self, kinds: &[String]) -> Vec<Result<Vec<Listed>, ProviderError>> {
        let cc = cloudcontrol::client(&self.aws).await;
        let mut out = Vec::with_capacity(kinds.len());
        for kind in kinds {
            out.push(
                async {
                    let g = Self::kind(kind)?;
                    let found = cloudcontrol::list(cc, &g.cfn.type_name).await?;
                    Ok(found
                        .into_iter()
                        .map(|(id, model)| {
                            let tags = g.cfn.tags.is_some().then(|| g.cfn.tags_of(&model));
                            Listed {
                                name: g
                                    .cfn
                                    .name_property
                                    .as_ref()
                                    .and_then(|p| model.get(p))
                                    .and_then(Value::as_str)
                                    .map(str::to_string)
                                    .or_else(|| tags.as_ref().and_then(|t| t.get("Name").cloned())),
                                id,
                                tags: Some(tags.unwrap_or_default()),
                                parent: None,
                                // Read back whole: every property a program
                                // may write that the listing showed.
                                seed: g.cfn.program_shape(&model),
                            }
                        })
                        .collect())
                }
                .await,
            );
        }
        out
    }

    async fn create(&self, op: &CreateOp) -> Result<Applied, ProviderError> {
        let g = Self::kind(op.address.kind())?;
        let cc = cloudcontrol::client(&self.aws).await;
        let subject = op.address.to_string();
        let done = cloudcontrol::create(
            cc,
            &op.progress,
            &subject,
            &g.cfn.type_name,
            &Self::desired(g, op),
            &op.token,
        )
        .await
        .map_err(|e| Self::explained(g, e))?;
        let live = cloudcontrol::get(cc, &subject, &g.cfn.type_name, &done.identifier)
            .await?
            .or(done.model)
            .unwrap_or(Value::Null);
        Ok(Self::applied(g, &done.identifier, &live))
    }

    /// One UpdateResource with a JSON patch of exactly the properties that
    /// changed (the tags whole).
    async fn update(&self, op: &UpdateOp) -> Result<Applied, ProviderError> {
        let g = Self::kind(op.address.kind())?;
        let cc = cloudcontrol::client(&self.aws).await;
        let subject = op.address.to_string();
        let after = g.cfn.to_cfn(&op.after);
        let patch: Vec<Value> = op
            .changed
            .iter()
            .filter_map(|k| g.cfn.prop(k))
            .map(|p| match after.get(&p.cfn) {
                Some(v) => json!({ "op": "add", "path": format!("/{}", p.cfn), "value": v }),
                None => json!({ "op": "remove", "path": format!("/{}", p.cfn) }),
            })
            .collect();
        if !patch.is_empty() {
            cloudcontrol::update(
                cc,
                &op.progress,
                &subject,
                &g.cfn.type_name,
                &op.id,
                &Value::Array(patch),
            )
            .await
            .map_err(|e| Self::explained(g, e))?;
        }
        let live = cloudcontrol::get(cc, &subject, &g.cfn.type_name, &op.id)
            .await?
            .unwrap_or(Value::Null);
        Ok(Self::applied(g, &op.id, &live))
    }

    async fn delete(&self, op: &DeleteOp) -> Result<(), ProviderError> {
        let g = Self::kind(op.address.kind())?;
        let cc = cloudcontrol::client(&self.aws).await;
        cloudcontrol::delete(
            cc,
            &op.progress,
            &op.address.to_string(),
            &g.cfn.type_name,
            &op.id,
        )
        .await
        .map_err(|e| Self::explained(g, e))
    }

    /// What an interrupted create made: its request, found among the
    /// create requests Cloud Control keeps (by the stack's and address's
    /// tags in the model it was sent, or the model itself for an untagged
    /// type) and followed to its end; or the resource by its identifier
    /// where the program's args make it (a named table), carrying this
    /// address's tags.
    async fn adopt(&self, op: &CreateOp) -> Result<Option<Applied>, ProviderError> {
        let g = Self::kind(op.address.kind())?;
        let cc = cloudcontrol::client(&self.aws).await;
        let subject = op.address.to_string();
        let desired = Self::desired(g, op);
        let ours = |model: &Value| match g.cfn.tags {
            Some(_) => tags::owns(&g.cfn.tags_of(model), &op.stack, &subject),
            None => model == &desired,
        };
        for request in cloudcontrol::creates_of(cc, &subject, &g.cfn.type_name, ours).await? {
            match cloudcontrol::settle(cc, &op.progress, &subject, &g.cfn.type_name, request).await
            {
                Ok(done) => {
                    let live = cloudcontrol::get(cc, &subject, &g.cfn.type_name, &done.identifier)
                        .await?
                        .unwrap_or(Value::Null);
                    return Ok(Some(Self::applied(g, &done.identifier, &live)));
                }
                Err(e) if e.retryable => return Err(e),
                Err(_) => {}
            }
        }
        let Some(identifier) = g.cfn.identifier(&desired) else {
            return Ok(None);
        };
        match cloudcontrol::get(cc, &subject, &g.cfn.type_name, &identifier).await? {
            Some(live) if ours(&live) => Ok(Some(Self::applied(g, &identifier, &live))),
            _ => Ok(None),
        }
    }
}

/// The kinds a program's source text names (`awscc::sqs::queue`), which
/// are the only ones its engine registers builders for.
pub fn named_in(source: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = source;
    while let Some(at) = rest.find("awscc::") {
        let after = &rest[at + "awscc::".len()..];
        let word = |s: &str| -> usize {
            s.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(s.len())
        };
        let service_len = word(after);
        let (service, tail) = after.split_at(service_len);
        if let Some(tail) = tail.strip_prefix("::") {
            let resource = &tail[..word(tail)];
            if !service.is_empty() && !resource.is_empty() {
                out.push(format!("awscc.{service}.{resource}"));
            }
        }
        rest = after;
    }
    out.sort();
    out.dedup();
    out
}

/// `properties` of a generated kind as their docs show them, for
/// `payrun docs`: (snake name, schema name, whether required, create-only,
/// write-only, read-only, doc).
pub fn reference(g: &Generated) -> Vec<Map<String, Value>> {
    let required: Vec<&str> = g.cfn.required().iter().map(|p| p.cfn.as_str()).collect();
    g.cfn
        .props()
        .iter()
        .map(|p| {
            let mut m = Map::new();
            m.insert("name".into(), json!(p.snake));
            m.insert("cfn".into(), json!(p.cfn));
            m.insert("required".into(), json!(required.contains(&p.cfn.as_str())));
            m.insert(
                "create_only".into(),
                json!(g.cfn.create_only.contains(&p.cfn)),
            );
            m.insert(
                "write_only".into(),
                json!(g.cfn.write_only.contains(&p.cfn)),
            );
            m.insert("read_only".into(), json!(g.cfn.read_only.contains(&p.cfn)));
            m.insert("doc".into(), json!(p.doc));
            m
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kind_is_made_once_on_first_use() {
        let q = generated("awscc.sqs.queue").unwrap();
        assert!(std::ptr::eq(q, generated("awscc.sqs.queue").unwrap()));
        assert_eq!(q.schema.kind, "awscc.sqs.queue");
        assert!(q.schema.taggable);
        assert!(q.schema.arg("queue_name").unwrap().force_new);
        assert!(!q.schema.arg("visibility_timeout").unwrap().force_new);
        assert!(q.schema.arg("redrive_policy").unwrap().document);
        assert!(q.schema.has_output("arn") && q.schema.has_output("queue_url"));
        assert!(generated("awscc.sqs.qeue").is_none());
        assert!(kinds().len() > 1500);
    }

    #[test]
    fn a_programs_awscc_kinds_are_read_from_its_text() {
        assert_eq!(
            named_in(
                "let q = awscc::sqs::queue(\"a\", #{});\nawscc::wafv2::web_acl(\"w\", #{}); // awscc::sqs::queue"
            ),
            ["awscc.sqs.queue", "awscc.wafv2.web_acl"]
        );
    }
}
