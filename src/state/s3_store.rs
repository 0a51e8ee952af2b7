//! `S3Store`: a stack's state in a bucket, for a team. Objects
//! `<prefix>/<stack>/state.json` (sealed, see `envelope`), `.../key` (the
//! stack key, sealed) and `.../lock` (who holds the stack, plain JSON);
//! history is the bucket's object versions.
//!
//! The lock is created with `If-None-Match: *`, so of two payruns exactly
//! one creates it. Its holder renews a lease on it (every `renew`, valid
//! for `lease`) by rewriting it with `If-Match` on its last ETag; a lock
//! whose lease ran out is taken over with `If-Match` on the ETag seen, so
//! of two taking over exactly one wins. A lease is out when S3's
//! Last-Modified plus the lease is past this host's clock, or when this
//! host watched the lock unchanged for a whole lease (which needs no clock
//! agreement at all).
//!
//! Every state write first checks that the lock is still this run's (its
//! ETag), and is itself conditional on the ETag of the state this run last
//! read or wrote, so no write of another run is ever overwritten. A run
//! that loses its lock stops scheduling; what finishes is written under a
//! fresh lock when the stored state is still the one it wrote last, and
//! otherwise kept in a sealed local file whose path is reported.
//!
//! The store runs its calls on a small runtime of its own: its lease is
//! renewed whatever the caller is doing, and it answers callers that are
//! not async (and those that are, like the executor, from their thread).

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use serde::{Deserialize, Serialize};

use super::envelope::{Envelope, is_sealed};
use super::key::StackKey;
use super::lock::Holder;
use super::object_store::{
    Condition, KeyService, ObjectError, ObjectMeta, ObjectStore, Versioning,
};
use super::sealer::Purpose;
use super::state::{FORMAT_VERSION, State};
use super::state_store::{LockInfo, LostLock, StateStore, StoreLock, Version};
use super::store::StateError;

const META_SERIAL: &str = "payrun-serial";
const META_LINEAGE: &str = "payrun-lineage";
const META_BY: &str = "payrun-by";
const META_COMMAND: &str = "payrun-command";
const META_WRITE: &str = "payrun-write";
const META_LOCK: &str = "payrun-lock";

/// Where and how a stack is kept in a bucket.
#[derive(Clone, Debug)]
pub struct S3Settings {
    pub bucket: String,
    /// Without slashes at either end; may be empty.
    pub prefix: String,
    pub kms_key: String,
    /// How long a lock stays valid without a renewal.
    pub lease: Duration,
    /// How often its holder renews it.
    pub renew: Duration,
    /// Where state goes when the lock is lost and cannot be taken again.
    pub fallback_dir: PathBuf,
    /// The flags that name this stack, for printed fixes.
    pub flags: String,
}

/// The lock object's body.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct LockBody {
    id: String,
    holder: Holder,
    lease_seconds: f64,
    renewed_at: String,
    #[serde(default)]
    renewal: u64,
}

impl LockBody {
    fn lease(&self) -> Duration {
        Duration::try_from_secs_f64(self.lease_seconds).unwrap_or(Duration::from_secs(120))
    }
}

#[derive(Debug)]
struct Lease {
    body: Mutex<LockBody>,
    etag: tokio::sync::Mutex<String>,
    /// When the lease was last renewed, by this host's monotonic clock.
    renewed: Mutex<Instant>,
    /// The lock is (as far as this run knows) still this run's.
    valid: AtomicBool,
    released: AtomicBool,
    wake: tokio::sync::Notify,
}

/// What this process last read or wrote of the state object.
#[derive(Clone, Debug)]
struct Seen {
    etag: Option<String>,
    serial: u64,
}

struct Inner {
    objects: Arc<dyn ObjectStore>,
    keys: Arc<dyn KeyService>,
    envelope: Envelope,
    stack: String,
    s: S3Settings,
    command: Mutex<String>,
    seen: Mutex<Option<Seen>>,
    lease: Mutex<Option<Arc<Lease>>>,
    halt: Mutex<Option<LostLock>>,
    versioning_checked: AtomicBool,
}

pub struct S3Store {
    inner: Arc<Inner>,
    rt: Option<tokio::runtime::Runtime>,
}

impl std::fmt::Debug for S3Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Store")
            .field("location", &self.location())
            .finish_non_exhaustive()
    }
}

/// A lock held in the bucket; dropping it stops the renewals and removes
/// the lock (only if it is still this run's).
pub struct S3Lock {
    inner: Arc<Inner>,
    lease: Arc<Lease>,
    handle: tokio::runtime::Handle,
}

impl std::fmt::Debug for S3Lock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Lock").finish_non_exhaustive()
    }
}

impl Drop for S3Lock {
    fn drop(&mut self) {
        self.lease.released.store(true, Ordering::SeqCst);
        self.lease.wake.notify_one();
        let inner = self.inner.clone();
        let lease = self.lease.clone();
        let (tx, rx) = std::sync::mpsc::channel();
        self.handle.spawn(async move {
            inner.release(&lease).await;
            let _ = tx.send(());
        });
        // Gone with the store's runtime when the store went first.
        let _ = rx.recv_timeout(Duration::from_secs(30));
    }
}

/// Run `fut` on `handle` and wait for it from this (any) thread.
fn run_on<T: Send + 'static>(
    handle: &tokio::runtime::Handle,
    fut: impl std::future::Future<Output = T> + Send + 'static,
) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    handle.spawn(async move {
        let _ = tx.send(fut.await);
    });
    rx.recv().expect("the state store's runtime answers")
}

fn now_text() -> String {
    humantime::format_rfc3339_seconds(SystemTime::now()).to_string()
}

fn by(holder: &Holder) -> String {
    if holder.user.is_empty() {
        format!("{} pid {}", holder.host, holder.pid)
    } else {
        format!("{}@{} pid {}", holder.user, holder.host, holder.pid)
    }
}

enum Attempt {
    Taken(Arc<Lease>, Option<Holder>),
    Held(Box<LockBody>, ObjectMeta),
}

impl S3Store {
    pub fn new(
        objects: Arc<dyn ObjectStore>,
        keys: Arc<dyn KeyService>,
        stack: &str,
        settings: S3Settings,
    ) -> Self {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("payrun-state")
            .enable_all()
            .build()
            .expect("state runtime starts");
        Self {
            inner: Arc::new(Inner {
                envelope: Envelope::new(keys.clone(), &settings.kms_key, stack),
                objects,
                keys,
                stack: stack.to_string(),
                s: settings,
                command: Mutex::new(String::new()),
                seen: Mutex::new(None),
                lease: Mutex::new(None),
                halt: Mutex::new(None),
                versioning_checked: AtomicBool::new(false),
            }),
            rt: Some(rt),
        }
    }

    fn handle(&self) -> &tokio::runtime::Handle {
        self.rt.as_ref().expect("runtime until drop").handle()
    }

    fn block<T: Send + 'static>(
        &self,
        f: impl FnOnce(Arc<Inner>) -> std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send>>,
    ) -> T {
        run_on(self.handle(), f(self.inner.clone()))
    }
}

impl Drop for S3Store {
    fn drop(&mut self) {
        tracing::info!(target: "payrun::state", stack = %self.inner.stack, calls = ?self.calls(), "state calls");
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

impl Inner {
    fn object_key(&self, name: &str) -> String {
        if self.s.prefix.is_empty() {
            format!("{}/{name}", self.stack)
        } else {
            format!("{}/{}/{name}", self.s.prefix, self.stack)
        }
    }

    fn url(&self, name: &str) -> String {
        format!("s3://{}/{}", self.s.bucket, self.object_key(name))
    }

    fn bucket_err(&self, name: &str, e: &ObjectError) -> StateError {
        StateError::Bucket {
            location: self.url(name),
            message: e.to_string(),
        }
    }

    fn seal_err(&self, name: &str, e: &super::envelope::SealError) -> StateError {
        StateError::Sealed {
            location: self.url(name),
            message: e.to_string(),
            kms_key: self.s.kms_key.clone(),
        }
    }

    async fn parse_state(&self, name: &str, bytes: &[u8]) -> Result<State, StateError> {
        let plain = if is_sealed(bytes) {
            self.envelope
                .open(Purpose::State.as_str(), bytes)
                .await
                .map_err(|e| self.seal_err(name, &e))?
        } else {
            bytes.to_vec()
        };
        parse_state_bytes(&self.url(name), &plain)
    }

    async fn load(&self) -> Result<State, StateError> {
        let got = self
            .objects
            .get(&self.object_key("state.json"), None)
            .await
            .map_err(|e| self.bucket_err("state.json", &e))?;
        let Some(obj) = got else {
            *self.seen.lock().expect("seen") = Some(Seen {
                etag: None,
                serial: 0,
            });
            return Ok(State::new(&self.stack));
        };
        let state = self.parse_state("state.json", &obj.body).await?;
        *self.seen.lock().expect("seen") = Some(Seen {
            etag: Some(obj.meta.etag),
            serial: state.serial,
        });
        Ok(state)
    }

    async fn seen(&self) -> Result<Seen, StateError> {
        if let Some(s) = self.seen.lock().expect("seen").clone() {
            return Ok(s);
        }
        let head = self
            .objects
            .head(&self.object_key("state.json"), None)
            .await
            .map_err(|e| self.bucket_err("state.json", &e))?;
        let seen = Seen {
            serial: head
                .as_ref()
                .and_then(|m| m.metadata.get(META_SERIAL))
                .and_then(|s| s.parse().ok())
                .unwrap_or(0),
            etag: head.map(|m| m.etag),
        };
        *self.seen.lock().expect("seen") = Some(seen.clone());
        Ok(seen)
    }

    fn halted(&self) -> Option<LostLock> {
        self.halt.lock().expect("halt").clone()
    }

    fn mark_lost(&self, why: String) {
        if let Some(lease) = self.lease.lock().expect("lease").as_ref() {
            lease.valid.store(false, Ordering::SeqCst);
        }
        let mut halt = self.halt.lock().expect("halt");
        if halt.is_none() {
            *halt = Some(LostLock { why, kept_at: None });
        }
    }

    /// Who the lock object names now, for messages.
    async fn current_holder(&self) -> Option<Holder> {
        let obj = self
            .objects
            .get(&self.object_key("lock"), None)
            .await
            .ok()??;
        serde_json::from_slice::<LockBody>(&obj.body)
            .ok()
            .map(|b| b.holder)
    }

    /// Is the lock still this run's? Err names why not.
    async fn check_lock(&self) -> Result<(), String> {
        let lease = self.lease.lock().expect("lease").clone();
        let Some(lease) = lease else {
            return Ok(());
        };
        if !lease.valid.load(Ordering::SeqCst) {
            return Err("its lease was not renewed in time".into());
        }
        let mut etag = lease.etag.lock().await;
        match self.objects.head(&self.object_key("lock"), None).await {
            Ok(Some(m)) if m.etag == *etag => Ok(()),
            Ok(Some(m))
                if m.metadata.get(META_LOCK) == Some(&lease.body.lock().expect("body").id) =>
            {
                *etag = m.etag;
                Ok(())
            }
            Ok(Some(_)) => Err(match self.current_holder().await {
                Some(h) => format!("it was taken over by {h}"),
                None => "it was taken over".into(),
            }),
            Ok(None) => Err("it was removed (`payrun state unlock`)".into()),
            Err(e) => Err(format!("it could not be checked: {e}")),
        }
    }

    fn write_meta(&self, state: &State, write: &str) -> BTreeMap<String, String> {
        let holder = self
            .lease
            .lock()
            .expect("lease")
            .as_ref()
            .map(|l| l.body.lock().expect("body").holder.clone())
            .unwrap_or_else(|| Holder::me(&self.command.lock().expect("command")));
        BTreeMap::from([
            (META_SERIAL.into(), state.serial.to_string()),
            (META_LINEAGE.into(), state.lineage.clone()),
            (META_BY.into(), by(&holder)),
            (META_COMMAND.into(), holder.command.clone()),
            (META_WRITE.into(), write.to_string()),
        ])
    }

    /// Write `state` (serial already set) over `seen`.
    async fn put_state(&self, state: &State, seen: &Seen) -> Result<String, ObjectError> {
        let bytes = serde_json::to_vec_pretty(state).expect("state serializes");
        let sealed = self
            .envelope
            .seal(Purpose::State.as_str(), &bytes)
            .await
            .map_err(|e| ObjectError::Other(e.to_string()))?;
        let write = uuid::Uuid::new_v4().to_string();
        let condition = match &seen.etag {
            Some(e) => Condition::Matches(e.clone()),
            None => Condition::Absent,
        };
        let key = self.object_key("state.json");
        match self
            .objects
            .put(&key, sealed, self.write_meta(state, &write), condition)
            .await
        {
            Ok(meta) => Ok(meta.etag),
            Err(ObjectError::Precondition) => {
                // A retried write whose first attempt landed is ours.
                match self.objects.head(&key, None).await? {
                    Some(m) if m.metadata.get(META_WRITE) == Some(&write) => Ok(m.etag),
                    _ => Err(ObjectError::Precondition),
                }
            }
            Err(e) => Err(e),
        }
    }

    async fn save(&self, state: &mut State) -> Result<(), StateError> {
        if self.halted().is_some() {
            return self.save_after_loss(state).await;
        }
        let seen = self.seen().await?;
        if seen.etag.is_some() && state.serial != seen.serial {
            return Err(StateError::Stale {
                stack: self.stack.clone(),
                location: self.url("state.json"),
                stored: seen.serial,
                given: state.serial,
            });
        }
        if let Err(why) = self.check_lock().await {
            self.mark_lost(why);
            return self.save_after_loss(state).await;
        }
        state.serial += 1;
        match self.put_state(state, &seen).await {
            Ok(etag) => {
                *self.seen.lock().expect("seen") = Some(Seen {
                    etag: Some(etag),
                    serial: state.serial,
                });
                Ok(())
            }
            Err(ObjectError::Precondition) => {
                state.serial -= 1;
                self.mark_lost("the stored state was written by another run".into());
                self.save_after_loss(state).await
            }
            Err(e) => {
                state.serial -= 1;
                Err(self.bucket_err("state.json", &e))
            }
        }
    }

    /// The lock is lost: write under a fresh lock when nobody wrote the
    /// state since this run did, else keep it in a local file.
    async fn save_after_loss(&self, state: &mut State) -> Result<(), StateError> {
        let seen = self.seen().await?;
        if self.relock(&seen).await {
            state.serial = seen.serial + 1;
            if let Ok(etag) = self.put_state(state, &seen).await {
                *self.seen.lock().expect("seen") = Some(Seen {
                    etag: Some(etag),
                    serial: state.serial,
                });
                return Ok(());
            }
        }
        state.serial += 1;
        let path =
            self.s
                .fallback_dir
                .join(format!("{}.kept-{}.json", self.stack, std::process::id()));
        let bytes = serde_json::to_vec_pretty(state).expect("state serializes");
        let sealed = match self.envelope.seal(Purpose::State.as_str(), &bytes).await {
            Ok(s) => s,
            // Never lost: without the key service, kept as it is (0600).
            Err(_) => bytes,
        };
        let io = |e: std::io::Error| StateError::Io {
            path: path.display().to_string(),
            source: e,
        };
        std::fs::create_dir_all(&self.s.fallback_dir).map_err(io)?;
        let tmp = path.with_extension("json.tmp");
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(io)?;
        f.write_all(&sealed).map_err(io)?;
        f.sync_all().map_err(io)?;
        std::fs::rename(&tmp, &path).map_err(io)?;
        if let Some(h) = self.halt.lock().expect("halt").as_mut() {
            h.kept_at = Some(path);
        }
        Ok(())
    }

    /// Take the lock again after losing it, only when nobody holds it and
    /// the stored state is still what this run last saw.
    async fn relock(&self, seen: &Seen) -> bool {
        let lease = self.lease.lock().expect("lease").clone();
        let Some(lease) = lease else {
            return false;
        };
        if lease.valid.load(Ordering::SeqCst) {
            return true;
        }
        let state_etag = match self
            .objects
            .head(&self.object_key("state.json"), None)
            .await
        {
            Ok(m) => m.map(|m| m.etag),
            Err(_) => return false,
        };
        if state_etag != seen.etag {
            return false;
        }
        let body = {
            let mut b = lease.body.lock().expect("body");
            b.renewal += 1;
            b.renewed_at = now_text();
            b.clone()
        };
        let mut etag = lease.etag.lock().await;
        match self.put_lock(&body, Condition::Absent).await {
            Ok(m) => {
                *etag = m.etag;
                *lease.renewed.lock().expect("renewed") = Instant::now();
                lease.valid.store(true, Ordering::SeqCst);
                true
            }
            Err(_) => false,
        }
    }

    async fn put_lock(&self, body: &LockBody, c: Condition) -> Result<ObjectMeta, ObjectError> {
        let bytes = serde_json::to_vec_pretty(body).expect("lock serializes");
        let meta = BTreeMap::from([(META_LOCK.to_string(), body.id.clone())]);
        self.objects
            .put(&self.object_key("lock"), bytes, meta, c)
            .await
    }

    fn new_lease(&self, body: LockBody, etag: String) -> Arc<Lease> {
        let lease = Arc::new(Lease {
            body: Mutex::new(body),
            etag: tokio::sync::Mutex::new(etag),
            renewed: Mutex::new(Instant::now()),
            valid: AtomicBool::new(true),
            released: AtomicBool::new(false),
            wake: tokio::sync::Notify::new(),
        });
        *self.lease.lock().expect("lease") = Some(lease.clone());
        lease
    }

    async fn try_take(&self, body: &LockBody, stale: Option<&str>) -> Result<Attempt, StateError> {
        for _ in 0..5 {
            match self.put_lock(body, Condition::Absent).await {
                Ok(m) => return Ok(Attempt::Taken(self.new_lease(body.clone(), m.etag), None)),
                Err(ObjectError::Precondition) => {}
                Err(e) => return Err(self.bucket_err("lock", &e)),
            }
            let got = self
                .objects
                .get(&self.object_key("lock"), None)
                .await
                .map_err(|e| self.bucket_err("lock", &e))?;
            let Some(obj) = got else { continue };
            let old: LockBody = serde_json::from_slice(&obj.body).unwrap_or_else(|_| LockBody {
                id: String::new(),
                holder: Holder {
                    pid: 0,
                    host: "(unreadable lock)".into(),
                    user: String::new(),
                    command: String::new(),
                    started_at: String::new(),
                },
                lease_seconds: self.s.lease.as_secs_f64(),
                renewed_at: String::new(),
                renewal: 0,
            });
            if old.id == body.id {
                return Ok(Attempt::Taken(
                    self.new_lease(body.clone(), obj.meta.etag),
                    None,
                ));
            }
            let expired = obj
                .meta
                .last_modified
                .is_some_and(|t| t + old.lease() <= SystemTime::now())
                || stale == Some(obj.meta.etag.as_str());
            if !expired {
                return Ok(Attempt::Held(Box::new(old), obj.meta));
            }
            match self
                .put_lock(body, Condition::Matches(obj.meta.etag.clone()))
                .await
            {
                Ok(m) => {
                    return Ok(Attempt::Taken(
                        self.new_lease(body.clone(), m.etag),
                        Some(old.holder),
                    ));
                }
                Err(ObjectError::Precondition) => {}
                Err(e) => return Err(self.bucket_err("lock", &e)),
            }
        }
        Err(StateError::Bucket {
            location: self.url("lock"),
            message: "the lock kept changing while it was being taken".into(),
        })
    }

    async fn renew(&self, lease: &Lease) -> Result<(), Option<String>> {
        let body = {
            let mut b = lease.body.lock().expect("body");
            b.renewal += 1;
            b.renewed_at = now_text();
            b.clone()
        };
        let mut etag = lease.etag.lock().await;
        if lease.released.load(Ordering::SeqCst) || !lease.valid.load(Ordering::SeqCst) {
            return Ok(());
        }
        match self.put_lock(&body, Condition::Matches(etag.clone())).await {
            Ok(m) => {
                *etag = m.etag;
                *lease.renewed.lock().expect("renewed") = Instant::now();
                Ok(())
            }
            Err(ObjectError::Precondition) => {
                match self.objects.head(&self.object_key("lock"), None).await {
                    Ok(Some(m)) if m.metadata.get(META_LOCK) == Some(&body.id) => {
                        *etag = m.etag;
                        *lease.renewed.lock().expect("renewed") = Instant::now();
                        Ok(())
                    }
                    Ok(Some(_)) => Err(Some(match self.current_holder().await {
                        Some(h) => format!("it was taken over by {h}"),
                        None => "it was taken over".into(),
                    })),
                    Ok(None) => Err(Some("it was removed (`payrun state unlock`)".into())),
                    Err(_) => Err(None),
                }
            }
            Err(_) => Err(None),
        }
    }

    async fn renew_loop(self: Arc<Self>, lease: Arc<Lease>) {
        loop {
            tokio::select! {
                () = tokio::time::sleep(self.s.renew) => {}
                () = lease.wake.notified() => {}
            }
            if lease.released.load(Ordering::SeqCst) {
                return;
            }
            if !lease.valid.load(Ordering::SeqCst) {
                continue;
            }
            match self.renew(&lease).await {
                Ok(()) => {}
                Err(Some(why)) => self.mark_lost(why),
                Err(None) => {
                    let since = lease.renewed.lock().expect("renewed").elapsed();
                    if since >= self.s.lease {
                        self.mark_lost(format!(
                            "its lease could not be renewed for {}",
                            humantime::format_duration(Duration::from_secs(since.as_secs()))
                        ));
                    }
                }
            }
        }
    }

    async fn release(&self, lease: &Lease) {
        let etag = lease.etag.lock().await;
        if lease.valid.load(Ordering::SeqCst) {
            let _ = self
                .objects
                .delete(&self.object_key("lock"), Some(&etag))
                .await;
        }
        lease.valid.store(false, Ordering::SeqCst);
    }

    /// Versioning is asked for at first use; a bucket without it is
    /// warned about (no history, no rollback).
    async fn check_versioning(&self) -> Option<String> {
        if self.versioning_checked.swap(true, Ordering::SeqCst) {
            return None;
        }
        match self.objects.versioning().await {
            Ok(Versioning::Enabled) => None,
            Ok(_) | Err(_) => match self.objects.enable_versioning().await {
                Ok(()) => Some(format!(
                    "Turned on versioning of bucket {}: every state write is kept as a version (`payrun state history`).",
                    self.s.bucket
                )),
                Err(e) => Some(format!(
                    "warning: versioning is off on bucket {} and could not be turned on ({e}): state history and rollback need it\n  fix: aws s3api put-bucket-versioning --bucket {} --versioning-configuration Status=Enabled",
                    self.s.bucket, self.s.bucket
                )),
            },
        }
    }

    async fn key(&self, create: bool) -> Result<StackKey, StateError> {
        let name = "key";
        let key = self.object_key(name);
        for _ in 0..3 {
            let got = self
                .objects
                .get(&key, None)
                .await
                .map_err(|e| self.bucket_err(name, &e))?;
            if let Some(obj) = got {
                let plain = self
                    .envelope
                    .open(Purpose::StackKey.as_str(), &obj.body)
                    .await
                    .map_err(|e| self.seal_err(name, &e))?;
                let bytes: [u8; 32] =
                    plain
                        .as_slice()
                        .try_into()
                        .map_err(|_| StateError::KeyCorrupt {
                            path: self.url(name),
                            len: plain.len(),
                        })?;
                return Ok(StackKey::from_bytes(bytes));
            }
            if !create {
                return Err(StateError::KeyMissing {
                    path: self.url(name),
                    stack: self.stack.clone(),
                });
            }
            let fresh = StackKey::random()?;
            self.put_key(&fresh).await?;
        }
        Err(StateError::Bucket {
            location: self.url(name),
            message: "the stack key could not be read back".into(),
        })
    }

    /// Write `k` as the stack key unless one is there already.
    async fn put_key(&self, k: &StackKey) -> Result<(), StateError> {
        let sealed = self
            .envelope
            .seal(Purpose::StackKey.as_str(), k.bytes())
            .await
            .map_err(|e| self.seal_err("key", &e))?;
        match self
            .objects
            .put(
                &self.object_key("key"),
                sealed,
                BTreeMap::new(),
                Condition::Absent,
            )
            .await
        {
            Ok(_) | Err(ObjectError::Precondition) => Ok(()),
            Err(e) => Err(self.bucket_err("key", &e)),
        }
    }

    async fn history(&self) -> Result<Vec<Version>, StateError> {
        let key = self.object_key("state.json");
        let versions = self
            .objects
            .versions(&key)
            .await
            .map_err(|e| self.bucket_err("state.json", &e))?;
        let mut out = Vec::new();
        for v in versions.into_iter().filter(|v| !v.delete_marker) {
            let Some(m) = self
                .objects
                .head(&key, Some(&v.version_id))
                .await
                .map_err(|e| self.bucket_err("state.json", &e))?
            else {
                continue;
            };
            out.push(Version {
                serial: m
                    .metadata
                    .get(META_SERIAL)
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0),
                written_at: v.last_modified.or(m.last_modified),
                by: m.metadata.get(META_BY).cloned().unwrap_or_default(),
                command: m.metadata.get(META_COMMAND).cloned().unwrap_or_default(),
                id: v.version_id,
            });
        }
        Ok(out)
    }

    async fn version(&self, serial: u64) -> Result<State, StateError> {
        let history = self.history().await?;
        let Some(v) = history.iter().find(|v| v.serial == serial) else {
            return Err(StateError::NoSuchSerial {
                stack: self.stack.clone(),
                serial,
                known: history
                    .iter()
                    .map(|v| v.serial.to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        };
        let obj = self
            .objects
            .get(&self.object_key("state.json"), Some(&v.id))
            .await
            .map_err(|e| self.bucket_err("state.json", &e))?
            .ok_or_else(|| StateError::Bucket {
                location: self.url("state.json"),
                message: format!("version {} is gone", v.id),
            })?;
        self.parse_state("state.json", &obj.body).await
    }
}

/// State from plain JSON bytes, its format checked.
pub fn parse_state_bytes(location: &str, bytes: &[u8]) -> Result<State, StateError> {
    let probe: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| StateError::Corrupt {
            path: location.to_string(),
            message: e.to_string(),
        })?;
    let found = probe
        .get("version")
        .and_then(serde_json::Value::as_u64)
        .unwrap_or(0) as u32;
    if found != FORMAT_VERSION {
        return Err(StateError::Version {
            path: location.to_string(),
            found,
        });
    }
    serde_json::from_value(probe).map_err(|e| StateError::Corrupt {
        path: location.to_string(),
        message: e.to_string(),
    })
}

impl StateStore for S3Store {
    fn stack(&self) -> &str {
        &self.inner.stack
    }

    fn location(&self) -> String {
        self.inner.url("state.json")
    }

    fn load(&self) -> Result<State, StateError> {
        self.block(|i| Box::pin(async move { i.load().await }))
    }

    fn save(&self, state: &mut State) -> Result<(), StateError> {
        let given = state.clone();
        let (result, after) = self.block(move |i| {
            Box::pin(async move {
                let mut st = given;
                let r = i.save(&mut st).await;
                (r, st)
            })
        });
        state.serial = after.serial;
        result
    }

    fn exists(&self) -> Result<bool, StateError> {
        self.block(|i| {
            Box::pin(async move {
                i.objects
                    .head(&i.object_key("state.json"), None)
                    .await
                    .map(|m| m.is_some())
                    .map_err(|e| i.bucket_err("state.json", &e))
            })
        })
    }

    fn key(&self) -> Result<StackKey, StateError> {
        self.block(|i| Box::pin(async move { i.key(true).await }))
    }

    fn existing_key(&self) -> Result<StackKey, StateError> {
        self.block(|i| Box::pin(async move { i.key(false).await }))
    }

    fn adopt_key(&self, key: &StackKey) -> Result<(), StateError> {
        let k = key.clone();
        self.block(move |i| {
            Box::pin(async move {
                i.put_key(&k).await?;
                if i.key(false).await? == k {
                    Ok(())
                } else {
                    Err(StateError::KeyDiffers {
                        location: i.url("key"),
                    })
                }
            })
        })
    }

    fn lock(
        &self,
        command: &str,
        timeout: Duration,
        notice: &dyn Fn(&str),
    ) -> Result<StoreLock, StateError> {
        *self.inner.command.lock().expect("command") = command.to_string();
        if let Some(m) = self.block(|i| Box::pin(async move { i.check_versioning().await })) {
            notice(&m);
        }
        let body = LockBody {
            id: uuid::Uuid::new_v4().to_string(),
            holder: Holder::me(command),
            lease_seconds: self.inner.s.lease.as_secs_f64(),
            renewed_at: now_text(),
            renewal: 0,
        };
        let deadline = Instant::now() + timeout;
        let mut watch: Option<(String, Instant, Duration)> = None;
        let mut told = false;
        loop {
            let stale = watch
                .as_ref()
                .filter(|(_, since, lease)| since.elapsed() >= *lease)
                .map(|(e, _, _)| e.clone());
            let b = body.clone();
            match self
                .block(move |i| Box::pin(async move { i.try_take(&b, stale.as_deref()).await }))?
            {
                Attempt::Taken(lease, old) => {
                    if let Some(old) = old {
                        notice(&format!(
                            "Took over the lock of stack `{}` from {old}: its lease ran out without a renewal.",
                            self.inner.stack
                        ));
                    }
                    let inner = self.inner.clone();
                    self.handle().spawn(inner.renew_loop(lease.clone()));
                    return Ok(StoreLock::S3(S3Lock {
                        inner: self.inner.clone(),
                        lease,
                        handle: self.handle().clone(),
                    }));
                }
                Attempt::Held(old, meta) => {
                    if watch.as_ref().is_none_or(|(e, _, _)| *e != meta.etag) {
                        watch = Some((meta.etag.clone(), Instant::now(), old.lease()));
                    }
                    let until = meta
                        .last_modified
                        .map(|t| humantime::format_rfc3339_seconds(t + old.lease()).to_string())
                        .unwrap_or_else(|| "(unknown)".into());
                    if Instant::now() >= deadline {
                        return Err(StateError::LeaseHeld {
                            stack: self.inner.stack.clone(),
                            holder: Box::new(old.holder),
                            until,
                            flags: self.inner.s.flags.clone(),
                        });
                    }
                    if !told {
                        notice(&format!(
                            "Waiting for the lock of stack `{}`, held by {} (its lease runs until {until}).",
                            self.inner.stack, old.holder
                        ));
                        told = true;
                    }
                    let poll = (old.lease() / 4)
                        .clamp(Duration::from_millis(200), Duration::from_secs(2))
                        .min(deadline.saturating_duration_since(Instant::now()));
                    std::thread::sleep(poll.max(Duration::from_millis(50)));
                }
            }
        }
    }

    fn lock_info(&self) -> Result<Option<LockInfo>, StateError> {
        self.block(|i| {
            Box::pin(async move {
                let got = i
                    .objects
                    .get(&i.object_key("lock"), None)
                    .await
                    .map_err(|e| i.bucket_err("lock", &e))?;
                let Some(obj) = got else { return Ok(None) };
                let Ok(body) = serde_json::from_slice::<LockBody>(&obj.body) else {
                    return Ok(Some(LockInfo {
                        holder: Holder {
                            pid: 0,
                            host: "(unreadable lock)".into(),
                            user: String::new(),
                            command: String::new(),
                            started_at: String::new(),
                        },
                        live: false,
                        lease_until: None,
                    }));
                };
                let until = obj.meta.last_modified.map(|t| t + body.lease());
                Ok(Some(LockInfo {
                    live: until.is_some_and(|u| u > SystemTime::now()),
                    holder: body.holder,
                    lease_until: until,
                }))
            })
        })
    }

    fn force_unlock(&self) -> Result<Option<Holder>, StateError> {
        let holder = self.lock_info()?.map(|i| i.holder);
        self.block(|i| {
            Box::pin(async move {
                i.objects
                    .delete(&i.object_key("lock"), None)
                    .await
                    .map_err(|e| i.bucket_err("lock", &e))
            })
        })?;
        Ok(holder)
    }

    fn history(&self) -> Result<Vec<Version>, StateError> {
        self.block(|i| Box::pin(async move { i.history().await }))
    }

    fn version(&self, serial: u64) -> Result<State, StateError> {
        self.block(move |i| Box::pin(async move { i.version(serial).await }))
    }

    fn retire(&self) -> Result<String, StateError> {
        self.block(|i| {
            Box::pin(async move {
                i.objects
                    .delete(&i.object_key("state.json"), None)
                    .await
                    .map_err(|e| i.bucket_err("state.json", &e))?;
                *i.seen.lock().expect("seen") = None;
                Ok(format!(
                    "{} is now deleted (its versions stay in the bucket)",
                    i.url("state.json")
                ))
            })
        })
    }

    fn lost(&self) -> Option<LostLock> {
        self.inner.halted()
    }

    fn seal_file(&self, purpose: Purpose, bytes: Vec<u8>) -> Result<Option<Vec<u8>>, StateError> {
        self.block(move |i| {
            Box::pin(async move {
                i.envelope
                    .seal(purpose.as_str(), &bytes)
                    .await
                    .map(Some)
                    .map_err(|e| i.seal_err("state.json", &e))
            })
        })
    }

    fn open_file(
        &self,
        purpose: Purpose,
        path: &std::path::Path,
        bytes: Vec<u8>,
    ) -> Result<Vec<u8>, StateError> {
        if !is_sealed(&bytes) {
            return Ok(bytes);
        }
        let shown = path.display().to_string();
        self.block(move |i| {
            Box::pin(async move {
                i.envelope
                    .open(purpose.as_str(), &bytes)
                    .await
                    .map_err(|e| StateError::Sealed {
                        location: shown,
                        message: e.to_string(),
                        kms_key: i.s.kms_key.clone(),
                    })
            })
        })
    }

    fn calls(&self) -> BTreeMap<String, u64> {
        let mut all = self.inner.objects.calls();
        for (k, v) in self.inner.keys.calls() {
            *all.entry(k).or_default() += v;
        }
        all
    }
}
