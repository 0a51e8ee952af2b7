//! `Sealer`: the envelope for callers that are not async (the local
//! store, saved plans). A small runtime of its own runs the key service's
//! calls, so it answers from any thread, the executor's included.

use std::sync::Arc;

use super::envelope::{Envelope, SealError};
use super::object_store::KeyService;

/// What sealed bytes are for: bound into them, so a sealed state does not
/// open as a stack key or a plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    State,
    StackKey,
    Plan,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::State => "state",
            Purpose::StackKey => "stack key",
            Purpose::Plan => "plan",
        }
    }
}

pub struct Sealer {
    envelope: Arc<Envelope>,
    keys: Arc<dyn KeyService>,
    kms_key: String,
    rt: Option<tokio::runtime::Runtime>,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealer")
            .field("kms_key", &self.kms_key)
            .finish_non_exhaustive()
    }
}

impl Sealer {
    /// Seals of `stack` under `kms_key`. Opening needs no key id (the
    /// sealed bytes carry their data key), so a sealer that only opens
    /// may have an empty one.
    pub fn new(keys: Arc<dyn KeyService>, kms_key: &str, stack: &str) -> Self {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("payrun-seal")
            .enable_all()
            .build()
            .expect("seal runtime starts");
        Self {
            envelope: Arc::new(Envelope::new(keys.clone(), kms_key, stack)),
            keys,
            kms_key: kms_key.to_string(),
            rt: Some(rt),
        }
    }

    pub fn kms_key(&self) -> &str {
        &self.kms_key
    }

    pub fn seal(&self, purpose: Purpose, plaintext: &[u8]) -> Result<Vec<u8>, SealError> {
        let envelope = self.envelope.clone();
        let bytes = plaintext.to_vec();
        self.run(async move { envelope.seal(purpose.as_str(), &bytes).await })
    }

    pub fn open(&self, purpose: Purpose, sealed: &[u8]) -> Result<Vec<u8>, SealError> {
        let envelope = self.envelope.clone();
        let bytes = sealed.to_vec();
        self.run(async move { envelope.open(purpose.as_str(), &bytes).await })
    }

    /// Key service calls sent so far, by operation.
    pub fn calls(&self) -> std::collections::BTreeMap<String, u64> {
        self.keys.calls()
    }

    fn run<T: Send + 'static>(
        &self,
        fut: impl std::future::Future<Output = T> + Send + 'static,
    ) -> T {
        let (tx, rx) = std::sync::mpsc::channel();
        self.rt
            .as_ref()
            .expect("runtime until drop")
            .spawn(async move {
                let _ = tx.send(fut.await);
            });
        rx.recv().expect("the seal runtime answers")
    }
}

impl Drop for Sealer {
    fn drop(&mut self) {
        // Dropped from async code too (the executor's store).
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::envelope::tests::XorKeys;

    #[test]
    fn seals_from_plain_and_async_callers() {
        let s = Sealer::new(Arc::new(XorKeys::default()), "alias/k", "main.qa");
        let sealed = s.seal(Purpose::Plan, b"plan").unwrap();
        assert_eq!(s.open(Purpose::Plan, &sealed).unwrap(), b"plan");
        assert!(s.open(Purpose::State, &sealed).is_err());
        let rt = tokio::runtime::Runtime::new().unwrap();
        let again = rt
            .block_on(async { s.open(Purpose::Plan, &sealed) })
            .unwrap();
        assert_eq!(again, b"plan");
    }
}
