//! The fake provider: a test provider with an in-memory cloud.
//!
//! It serves the `fake.*` kinds for engine tests and benchmarks, with
//! configurable latency and failure injection. It is never registered unless
//! asked for (`PAYRUN_FAKE_CLOUD` for the binary, `FakeProvider::new` in
//! tests). Its cloud can be kept in a JSON file so several runs of the binary
//! see the same resources.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use payrun_derive::Args;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::arg_values::block;
use super::schema::{ArgError, CheckArgs, KindSchema, validate_as, validate_checked};
use super::{
    Applied, CreateOp, DeleteOp, Listed, Provider, ProviderError, ReadItem, ReadResult, UpdateOp,
};

#[derive(Deserialize, Serialize, Default, Args)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
#[arg(kind = "fake.network")]
struct NetworkArgs {
    #[arg(force_new)]
    cidr: String,
    #[serde(default)]
    dns: Option<bool>,
    #[serde(default)]
    tags: Option<BTreeMap<String, String>>,
}

#[derive(Deserialize, Serialize, Default, Args)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
#[arg(kind = "fake.subnet")]
struct SubnetArgs {
    #[arg(force_new)]
    network_id: String,
    #[arg(force_new)]
    cidr: String,
    #[serde(default)]
    public: Option<bool>,
    #[serde(default)]
    tags: Option<BTreeMap<String, String>>,
}

/// A subnet's block must parse, as a cloud's would: a ref to something
/// else (`cidr: net.arn`) is refused when it resolves, before the call.
impl CheckArgs for SubnetArgs {
    fn check(&self) -> Result<(), ArgError> {
        block("cidr", &self.cidr).map(|_| ())
    }
}

#[derive(Deserialize, Serialize, Default, Args)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
#[arg(kind = "fake.server")]
struct ServerArgs {
    #[arg(force_new)]
    subnet_id: String,
    size: String,
    #[serde(default)]
    replicas: Option<i64>,
    #[serde(default)]
    labels: Option<BTreeMap<String, String>>,
    #[serde(default)]
    tags: Option<BTreeMap<String, String>>,
}

#[derive(Deserialize, Serialize, Default, Args)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
#[arg(kind = "fake.secret")]
struct SecretArgs {
    #[arg(secret)]
    value: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    tags: Option<BTreeMap<String, String>>,
}

#[derive(Deserialize, Serialize, Default, Args)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
#[arg(kind = "fake.profile")]
struct ProfileArgs {
    #[arg(force_new)]
    cluster: String,
    #[arg(force_new)]
    selectors: Vec<String>,
}

/// The kinds of the fake provider.
pub static SCHEMAS: &[KindSchema] = &[
    KindSchema {
        kind: NetworkArgs::KIND,
        name_prefix: "net",
        name_max: 64,
        taggable: true,
        named_by_arg: false,
        create_before_destroy: true,
        args: NetworkArgs::SPECS,
        outputs: &["id", "arn"],
        validate: &validate_as::<NetworkArgs>,
        reads_each: None,
        doc: "A network (test provider).",
    },
    KindSchema {
        kind: SubnetArgs::KIND,
        name_prefix: "subnet",
        name_max: 64,
        taggable: true,
        named_by_arg: false,
        create_before_destroy: false,
        args: SubnetArgs::SPECS,
        outputs: &["id", "arn"],
        validate: &validate_checked::<SubnetArgs>,
        reads_each: None,
        doc: "A subnet of a fake network (test provider).",
    },
    KindSchema {
        kind: ServerArgs::KIND,
        name_prefix: "server",
        name_max: 32,
        taggable: true,
        named_by_arg: false,
        create_before_destroy: true,
        args: ServerArgs::SPECS,
        outputs: &["id", "arn", "endpoint"],
        validate: &validate_as::<ServerArgs>,
        reads_each: None,
        doc: "A server in a fake subnet (test provider).",
    },
    KindSchema {
        kind: SecretArgs::KIND,
        name_prefix: "secret",
        name_max: 64,
        taggable: true,
        named_by_arg: false,
        create_before_destroy: false,
        args: SecretArgs::SPECS,
        outputs: &["id", "arn"],
        validate: &validate_as::<SecretArgs>,
        reads_each: None,
        doc: "A secret whose value never leaves the provider call (test provider).",
    },
    KindSchema {
        kind: ProfileArgs::KIND,
        name_prefix: "profile",
        name_max: 64,
        taggable: false,
        named_by_arg: false,
        create_before_destroy: false,
        args: ProfileArgs::SPECS,
        outputs: &["id"],
        validate: &validate_as::<ProfileArgs>,
        reads_each: None,
        doc: "A profile; one operation per cluster at a time, like EKS Fargate profiles (test provider).",
    },
];

/// One object of the fake cloud.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct FakeObject {
    pub kind: String,
    pub name: String,
    pub args: Value,
    pub token: String,
    pub tags: BTreeMap<String, String>,
}

#[derive(Default, Serialize, Deserialize)]
struct Cloud {
    next: u64,
    objects: BTreeMap<String, FakeObject>,
}

/// Failure injection and latency.
#[derive(Clone, Debug, Default)]
pub struct FakeConfig {
    pub latency: Duration,
    /// Addresses whose create/update/delete fails.
    pub fail: BTreeSet<String>,
    /// Addresses whose create succeeds in the cloud but whose answer is lost
    /// (the process "crashes" before recording it): an error is returned.
    pub lose_create_reply: BTreeSet<String>,
    /// Keep the cloud in this file between runs.
    pub file: Option<PathBuf>,
}

impl FakeConfig {
    /// From `PAYRUN_FAKE_*` variables (binary tests).
    pub fn from_env() -> Option<Self> {
        let file = std::env::var_os("PAYRUN_FAKE_CLOUD")?;
        let list = |name: &str| -> BTreeSet<String> {
            std::env::var(name)
                .unwrap_or_default()
                .split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect()
        };
        Some(Self {
            latency: Duration::from_millis(
                std::env::var("PAYRUN_FAKE_LATENCY_MS")
                    .ok()
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0),
            ),
            fail: list("PAYRUN_FAKE_FAIL"),
            lose_create_reply: list("PAYRUN_FAKE_LOSE_REPLY"),
            file: Some(PathBuf::from(file)),
        })
    }
}

/// Calls made, per operation, for tests that count API calls.
#[derive(Default, Debug)]
pub struct Calls {
    pub read: AtomicU64,
    pub create: AtomicU64,
    pub update: AtomicU64,
    pub delete: AtomicU64,
    pub adopt: AtomicU64,
}

/// The test provider.
pub struct FakeProvider {
    config: Mutex<FakeConfig>,
    cloud: Mutex<Cloud>,
    pub calls: Calls,
    /// Every create, update and delete that reached the cloud, in order:
    /// `create ADDRESS ID`, `update ADDRESS ID`, `delete ADDRESS ID`.
    pub journal: Mutex<Vec<String>>,
    /// Highest number of operations under one concurrency key at once.
    in_flight_by_key: Mutex<BTreeMap<String, (u32, u32)>>,
}

impl FakeProvider {
    fn note(&self, line: String) {
        self.journal.lock().expect("journal").push(line);
    }

    pub fn new(config: FakeConfig) -> Self {
        let cloud = config
            .file
            .as_ref()
            .and_then(|f| std::fs::read(f).ok())
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default();
        Self {
            config: Mutex::new(config),
            cloud: Mutex::new(cloud),
            calls: Calls::default(),
            journal: Mutex::default(),
            in_flight_by_key: Mutex::new(BTreeMap::new()),
        }
    }

    pub fn set_config(&self, f: impl FnOnce(&mut FakeConfig)) {
        f(&mut self.config.lock().expect("fake config"));
    }

    /// Everything in the fake cloud, by id.
    pub fn objects(&self) -> BTreeMap<String, FakeObject> {
        self.cloud.lock().expect("fake cloud").objects.clone()
    }

    /// Delete an object behind payrun's back.
    pub fn remove_out_of_band(&self, id: &str) {
        self.cloud.lock().expect("fake cloud").objects.remove(id);
        self.save();
    }

    /// Change an argument behind payrun's back.
    pub fn set_out_of_band(&self, id: &str, arg: &str, value: Value) {
        if let Some(o) = self.cloud.lock().expect("fake cloud").objects.get_mut(id) {
            o.args[arg] = value;
        }
        self.save();
    }

    /// Highest concurrency seen under `key`.
    pub fn max_in_flight(&self, key: &str) -> u32 {
        self.in_flight_by_key
            .lock()
            .expect("in flight")
            .get(key)
            .map(|(_, max)| *max)
            .unwrap_or(0)
    }

    fn save(&self) {
        let file = self.config.lock().expect("fake config").file.clone();
        if let Some(file) = file {
            let cloud = self.cloud.lock().expect("fake cloud");
            let bytes = serde_json::to_vec_pretty(&*cloud).expect("fake cloud serializes");
            let tmp = file.with_extension("tmp");
            std::fs::write(&tmp, bytes).expect("fake cloud file is writable");
            std::fs::rename(&tmp, &file).expect("fake cloud file is writable");
        }
    }

    async fn pause(&self, key: Option<String>) -> Result<(), ProviderError> {
        let latency = self.config.lock().expect("fake config").latency;
        if let Some(k) = &key {
            let mut m = self.in_flight_by_key.lock().expect("in flight");
            let e = m.entry(k.clone()).or_default();
            e.0 += 1;
            e.1 = e.1.max(e.0);
        }
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        if let Some(k) = &key {
            let mut m = self.in_flight_by_key.lock().expect("in flight");
            if let Some(e) = m.get_mut(k) {
                e.0 -= 1;
            }
        }
        Ok(())
    }

    fn check_fail(&self, address: &str, op: &str) -> Result<(), ProviderError> {
        if self
            .config
            .lock()
            .expect("fake config")
            .fail
            .contains(address)
        {
            return Err(
                ProviderError::new(format!("injected failure: {op} {address}"))
                    .with_code("InjectedFailure"),
            );
        }
        Ok(())
    }

    fn outputs(kind: &str, id: &str, name: &str) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("arn".into(), json!(format!("arn:fake:{kind}:{id}")));
        if kind == "fake.server" {
            m.insert(
                "endpoint".into(),
                json!(format!("https://{name}.fake.example")),
            );
        }
        m
    }

    /// Args as the cloud reports them: secrets are never read back.
    fn observed_args(kind: &str, args: &Value) -> Map<String, Value> {
        let schema = SCHEMAS.iter().find(|s| s.kind == kind);
        let mut m = args.as_object().cloned().unwrap_or_default();
        if let Some(schema) = schema {
            for a in schema.args.iter().filter(|a| a.secret) {
                m.remove(a.name);
            }
        }
        m
    }
}

#[async_trait]
impl Provider for FakeProvider {
    fn schemas(&self) -> &'static [KindSchema] {
        SCHEMAS
    }

    async fn read(&self, kind: &str, items: &[ReadItem]) -> Result<Vec<ReadResult>, ProviderError> {
        self.calls.read.fetch_add(1, Ordering::SeqCst);
        self.pause(None).await?;
        let cloud = self.cloud.lock().expect("fake cloud");
        Ok(items
            .iter()
            .map(|item| match cloud.objects.get(&item.id) {
                Some(o) if o.kind == kind => ReadResult::Found {
                    args: Self::observed_args(kind, &o.args),
                    outputs: Self::outputs(kind, &item.id, &o.name),
                },
                _ => ReadResult::Gone,
            })
            .collect())
    }

    fn listed_kinds(&self) -> Vec<&'static str> {
        SCHEMAS.iter().map(|s| s.kind).collect()
    }

    async fn list(&self, kinds: &[String]) -> Vec<Result<Vec<Listed>, ProviderError>> {
        self.calls.read.fetch_add(1, Ordering::SeqCst);
        let cloud = self.cloud.lock().expect("fake cloud");
        kinds
            .iter()
            .map(|kind| {
                Ok(cloud
                    .objects
                    .iter()
                    .filter(|(_, o)| &o.kind == kind)
                    .map(|(id, o)| Listed {
                        id: id.clone(),
                        name: Some(o.name.clone()),
                        tags: Some(o.tags.clone()),
                        parent: None,
                        seed: Map::new(),
                    })
                    .collect())
            })
            .collect()
    }

    async fn create(&self, op: &CreateOp) -> Result<Applied, ProviderError> {
        self.calls.create.fetch_add(1, Ordering::SeqCst);
        let kind = op.address.kind();
        self.pause(self.concurrency_key(kind, &op.args)).await?;
        let address = op.address.to_string();
        self.check_fail(&address, "create")?;
        let id = {
            let mut cloud = self.cloud.lock().expect("fake cloud");
            // A repeated create with the same token returns the first
            // resource, as AWS does with a client token.
            if let Some((id, _)) = cloud.objects.iter().find(|(_, o)| o.token == op.token) {
                id.clone()
            } else {
                cloud.next += 1;
                let short = kind.rsplit('.').next().unwrap_or(kind);
                let id = format!("{short}-{:08x}", cloud.next);
                let tags = op
                    .args
                    .get("tags")
                    .and_then(|t| serde_json::from_value(t.clone()).ok())
                    .unwrap_or_default();
                cloud.objects.insert(
                    id.clone(),
                    FakeObject {
                        kind: kind.to_string(),
                        name: op.name.clone(),
                        args: op.args.clone(),
                        token: op.token.clone(),
                        tags,
                    },
                );
                id
            }
        };
        self.save();
        self.note(format!("create {address} {id}"));
        let lose = self
            .config
            .lock()
            .expect("fake config")
            .lose_create_reply
            .contains(&address);
        if lose {
            return Err(ProviderError::new(format!(
                "injected failure: the reply to creating {address} was lost"
            ))
            .with_code("LostReply"));
        }
        Ok(Applied {
            outputs: Self::outputs(kind, &id, &op.name),
            id,
        })
    }

    async fn update(&self, op: &UpdateOp) -> Result<Applied, ProviderError> {
        self.calls.update.fetch_add(1, Ordering::SeqCst);
        let kind = op.address.kind();
        self.pause(self.concurrency_key(kind, &op.after)).await?;
        self.check_fail(&op.address.to_string(), "update")?;
        {
            let mut cloud = self.cloud.lock().expect("fake cloud");
            let o = cloud.objects.get_mut(&op.id).ok_or_else(|| {
                ProviderError::new(format!("{} ({}) does not exist", op.address, op.id))
                    .with_code("NotFound")
            })?;
            o.args = op.after.clone();
            if let Some(tags) = op
                .after
                .get("tags")
                .and_then(|t| serde_json::from_value(t.clone()).ok())
            {
                o.tags = tags;
            }
        }
        self.save();
        self.note(format!("update {} {}", op.address, op.id));
        Ok(Applied {
            id: op.id.clone(),
            outputs: Self::outputs(kind, &op.id, &op.name),
        })
    }

    async fn delete(&self, op: &DeleteOp) -> Result<(), ProviderError> {
        self.calls.delete.fetch_add(1, Ordering::SeqCst);
        self.pause(self.concurrency_key(op.address.kind(), &op.args))
            .await?;
        self.check_fail(&op.address.to_string(), "delete")?;
        {
            let mut cloud = self.cloud.lock().expect("fake cloud");
            // As EC2 refuses to delete a security group a rule or an
            // interface still names: what another object uses stays.
            let quoted = format!("\"{}\"", op.id);
            if let Some((user, _)) = cloud
                .objects
                .iter()
                .find(|(id, o)| **id != op.id && o.args.to_string().contains(&quoted))
            {
                return Err(ProviderError::new(format!(
                    "{} ({}) is still used by {user}",
                    op.address, op.id
                ))
                .with_code("DependencyViolation"));
            }
            cloud.objects.remove(&op.id);
        }
        self.save();
        self.note(format!("delete {} {}", op.address, op.id));
        Ok(())
    }

    async fn adopt(&self, op: &CreateOp) -> Result<Option<Applied>, ProviderError> {
        self.calls.adopt.fetch_add(1, Ordering::SeqCst);
        let address = op.address.to_string();
        let cloud = self.cloud.lock().expect("fake cloud");
        let found = cloud.objects.iter().find(|(_, o)| {
            o.token == op.token
                || (o.tags.get("payrun:address") == Some(&address)
                    && o.tags.get("payrun:stack") == Some(&op.stack))
        });
        Ok(found.map(|(id, o)| Applied {
            id: id.clone(),
            outputs: Self::outputs(&o.kind, id, &o.name),
        }))
    }

    fn concurrency_key(&self, kind: &str, args: &Value) -> Option<String> {
        (kind == "fake.profile").then(|| {
            format!(
                "fake.profile:{}",
                args.get("cluster")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
            )
        })
    }
}
