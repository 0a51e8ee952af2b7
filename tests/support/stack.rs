//! `Stack`: drives a provider the way the engine does, for one test's own
//! stack, so tests can run in parallel against one emulator.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use payrun::address::Address;
use payrun::provider::aws::{AwsProvider, SCHEMAS};
use payrun::provider::{
    Applied, CreateOp, DeleteOp, Provider, ProviderError, ReadItem, ReadResult, UpdateOp,
    standard_tags,
};
use serde_json::{Map, Value};

use super::moto;

/// A resource as the engine would record it.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub address: Address,
    pub id: String,
    pub args: Value,
    pub outputs: Map<String, Value>,
}

impl Recorded {
    pub fn item(&self) -> ReadItem {
        ReadItem {
            address: self.address.clone(),
            id: self.id.clone(),
            args: self.args.clone(),
            outputs: self.outputs.clone(),
        }
    }

    pub fn out(&self, name: &str) -> String {
        if name == "id" {
            return self.id.clone();
        }
        self.outputs
            .get(name)
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("{} has no output `{name}`", self.address))
            .to_string()
    }
}

pub struct Stack {
    pub provider: AwsProvider,
    /// `payrun:stack`
    pub name: String,
    pub suffix: String,
    pub progress: Arc<Mutex<Vec<String>>>,
}

impl Stack {
    /// A stack of its own for the test `test`.
    pub fn new(test: &str) -> Self {
        let suffix = uuid::Uuid::new_v4().simple().to_string()[..8].to_string();
        Self {
            provider: moto::provider(),
            name: format!("{test}-{suffix}"),
            suffix,
            progress: Arc::new(Mutex::new(Vec::new())),
        }
    }

    pub fn address(kind: &str, purpose: &str) -> Address {
        Address::new(kind, purpose).expect("valid address")
    }

    /// The op the engine would send: physical name, full tag map for
    /// taggable kinds, a fresh token.
    pub fn create_op(&self, kind: &str, purpose: &str, args: Value) -> CreateOp {
        let schema = SCHEMAS
            .iter()
            .find(|s| s.kind == kind)
            .unwrap_or_else(|| panic!("no schema for {kind}"));
        (schema.validate)(&args).unwrap_or_else(|e| panic!("{kind} args rejected: {e}"));
        let address = Self::address(kind, purpose);
        let name = format!("{}-{purpose}-{}", schema.name_prefix, self.suffix);
        let mut args = args;
        if schema.taggable {
            let mut defaults = BTreeMap::new();
            defaults.insert("team".to_string(), "payments".to_string());
            let mut tags = standard_tags(&name, &self.name, &address, &defaults);
            if let Some(extra) = args.get("tags").and_then(Value::as_object) {
                for (k, v) in extra {
                    tags.insert(k.clone(), v.as_str().unwrap_or_default().to_string());
                }
            }
            args["tags"] = serde_json::to_value(tags).expect("tags serialize");
        }
        let progress = self.progress.clone();
        CreateOp {
            address,
            name,
            stack: self.name.clone(),
            token: uuid::Uuid::new_v4().to_string(),
            args,
            progress: Arc::new(move |m: &str| progress.lock().unwrap().push(m.to_string())),
            checkpoint: payrun::provider::no_checkpoint(),
        }
    }

    pub async fn create(&self, kind: &str, purpose: &str, args: Value) -> Recorded {
        self.try_create(kind, purpose, args)
            .await
            .unwrap_or_else(|e| panic!("create {kind}.{purpose}: {e}"))
    }

    pub async fn try_create(
        &self,
        kind: &str,
        purpose: &str,
        args: Value,
    ) -> Result<Recorded, ProviderError> {
        let op = self.create_op(kind, purpose, args);
        let Applied { id, outputs } = self.provider.create(&op).await?;
        Ok(Recorded {
            address: op.address,
            id,
            args: op.args,
            outputs,
        })
    }

    /// Reads a batch of one kind.
    pub async fn read(&self, records: &[&Recorded]) -> Vec<ReadResult> {
        let kind = records[0].address.kind().to_string();
        let items: Vec<ReadItem> = records.iter().map(|r| r.item()).collect();
        let results = self
            .provider
            .read(&kind, &items)
            .await
            .unwrap_or_else(|e| panic!("read {kind}: {e}"));
        assert_eq!(results.len(), items.len(), "one result per item");
        results
    }

    /// Reads one resource back and checks that a second plan would be a
    /// no-op: the live args are exactly the ones written.
    pub async fn assert_unchanged(&self, r: &Recorded) {
        match self.read(&[r]).await.remove(0) {
            ReadResult::Found { args, .. } => assert_eq!(
                Value::Object(args),
                r.args,
                "{} reads back differently from what was written",
                r.address
            ),
            ReadResult::Gone => panic!("{} ({}) reads as gone", r.address, r.id),
        }
    }

    pub async fn assert_gone(&self, r: &Recorded) {
        assert_eq!(
            self.read(&[r]).await.remove(0),
            ReadResult::Gone,
            "{} ({}) should be gone",
            r.address,
            r.id
        );
    }

    /// Updates in place; `change` edits a copy of the args (tags included).
    pub async fn update(&self, r: &Recorded, change: impl FnOnce(&mut Value)) -> Recorded {
        let mut after = r.args.clone();
        change(&mut after);
        let before = r.args.as_object().cloned().unwrap_or_default();
        let changed: Vec<String> = after
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(k, v)| before.get(*k) != Some(*v))
            .map(|(k, _)| k.clone())
            .chain(
                before
                    .keys()
                    .filter(|k| after.get(k.as_str()).is_none())
                    .cloned(),
            )
            .collect();
        let progress = self.progress.clone();
        let op = UpdateOp {
            address: r.address.clone(),
            name: String::new(),
            stack: self.name.clone(),
            id: r.id.clone(),
            before: r.args.clone(),
            after: after.clone(),
            changed,
            outputs: r.outputs.clone(),
            progress: Arc::new(move |m: &str| progress.lock().unwrap().push(m.to_string())),
        };
        let applied = self
            .provider
            .update(&op)
            .await
            .unwrap_or_else(|e| panic!("update {}: {e}", r.address));
        Recorded {
            address: r.address.clone(),
            id: applied.id,
            args: after,
            outputs: applied.outputs,
        }
    }

    pub async fn try_delete(&self, r: &Recorded) -> Result<(), ProviderError> {
        let progress = self.progress.clone();
        self.provider
            .delete(&DeleteOp {
                address: r.address.clone(),
                name: String::new(),
                id: r.id.clone(),
                args: r.args.clone(),
                outputs: r.outputs.clone(),
                progress: Arc::new(move |m: &str| progress.lock().unwrap().push(m.to_string())),
            })
            .await
    }

    pub async fn delete(&self, r: &Recorded) {
        self.try_delete(r)
            .await
            .unwrap_or_else(|e| panic!("delete {}: {e}", r.address));
    }

    /// Create, read back unchanged, update in place, read back unchanged,
    /// delete, read as gone; a repeated delete succeeds.
    pub async fn round_trip(
        &self,
        kind: &str,
        purpose: &str,
        args: Value,
        change: impl FnOnce(&mut Value),
    ) {
        let r = self.create(kind, purpose, args).await;
        self.assert_unchanged(&r).await;
        let r = self.update(&r, change).await;
        self.assert_unchanged(&r).await;
        self.delete(&r).await;
        self.assert_gone(&r).await;
        self.delete(&r).await;
    }

    pub fn calls(&self, operation: &str) -> u64 {
        self.provider
            .api_calls()
            .get(operation)
            .copied()
            .unwrap_or(0)
    }
}

/// Adds or changes one tag of `args`.
pub fn set_tag(args: &mut Value, key: &str, value: &str) {
    args["tags"][key] = Value::String(value.into());
}
