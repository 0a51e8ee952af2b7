//! `Envelope`: client-side encryption of what payrun keeps in a bucket
//! (state, its versions, the stack key, saved plans, state kept locally
//! when a lock is lost).
//!
//! A data key from the key service (KMS GenerateDataKey, bound to the
//! stack by the encryption context `payrun-stack`) encrypts with
//! AES-256-GCM; the data key, encrypted under the master key, travels in
//! the sealed bytes. Reading the bucket is not enough to read state: the
//! reader also needs `kms:Decrypt` on the master key for that stack.
//!
//! Sealed bytes: `PAYRUN-SEALED/1\n`, the encrypted data key's length (u16,
//! big-endian), the encrypted data key, a 96-bit random nonce, then the
//! ciphertext with its tag. The associated data is the magic, the purpose
//! (`state`, `stack key`, `plan`) and the stack name, so a sealed state is
//! not accepted as another stack's, or as a key.
//!
//! One data key serves every seal of one process (each with its own
//! nonce): an apply asks the key service once, not once per write.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};

use super::object_store::KeyService;

pub const MAGIC: &[u8] = b"PAYRUN-SEALED/1\n";

/// The encryption context every data key of a stack is bound to.
pub const CONTEXT_KEY: &str = "payrun-stack";

#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("the key service refused: {0}")]
    KeyService(String),
    #[error("the sealed bytes are cut short or not payrun's")]
    Shape,
    #[error("the sealed bytes do not open: changed, or sealed for another stack or purpose")]
    Tampered,
}

pub struct Envelope {
    keys: Arc<dyn KeyService>,
    key_id: String,
    stack: String,
    /// This process's data key: (plaintext, encrypted).
    current: tokio::sync::Mutex<Option<(Vec<u8>, Vec<u8>)>>,
    /// Encrypted data keys already opened by the key service.
    opened: Mutex<HashMap<Vec<u8>, Vec<u8>>>,
}

impl std::fmt::Debug for Envelope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Envelope")
            .field("key_id", &self.key_id)
            .field("stack", &self.stack)
            .finish_non_exhaustive()
    }
}

/// Are `bytes` sealed by an envelope?
pub fn is_sealed(bytes: &[u8]) -> bool {
    bytes.starts_with(MAGIC)
}

fn aad(purpose: &str, stack: &str) -> Vec<u8> {
    let mut a = MAGIC.to_vec();
    a.extend_from_slice(purpose.as_bytes());
    a.push(0);
    a.extend_from_slice(stack.as_bytes());
    a
}

fn cipher(key: &[u8]) -> Result<LessSafeKey, SealError> {
    UnboundKey::new(&AES_256_GCM, key)
        .map(LessSafeKey::new)
        .map_err(|_| SealError::KeyService("the data key is not 256 bits".into()))
}

impl Envelope {
    pub fn new(keys: Arc<dyn KeyService>, key_id: &str, stack: &str) -> Self {
        Self {
            keys,
            key_id: key_id.to_string(),
            stack: stack.to_string(),
            current: tokio::sync::Mutex::new(None),
            opened: Mutex::new(HashMap::new()),
        }
    }

    fn context(&self) -> BTreeMap<String, String> {
        BTreeMap::from([(CONTEXT_KEY.to_string(), self.stack.clone())])
    }

    pub async fn seal(&self, purpose: &str, plaintext: &[u8]) -> Result<Vec<u8>, SealError> {
        let (key, encrypted) = {
            let mut current = self.current.lock().await;
            if current.is_none() {
                let dk = self
                    .keys
                    .data_key(&self.key_id, &self.context())
                    .await
                    .map_err(SealError::KeyService)?;
                self.opened
                    .lock()
                    .expect("opened keys")
                    .insert(dk.encrypted.clone(), dk.plaintext.clone());
                *current = Some((dk.plaintext, dk.encrypted));
            }
            current.clone().expect("set above")
        };
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| SealError::KeyService("no randomness for a nonce".into()))?;
        let mut body = plaintext.to_vec();
        cipher(&key)?
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad(purpose, &self.stack)),
                &mut body,
            )
            .map_err(|_| SealError::Tampered)?;
        let len = u16::try_from(encrypted.len()).map_err(|_| SealError::Shape)?;
        let mut out = MAGIC.to_vec();
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(&encrypted);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&body);
        Ok(out)
    }

    pub async fn open(&self, purpose: &str, sealed: &[u8]) -> Result<Vec<u8>, SealError> {
        let rest = sealed.strip_prefix(MAGIC).ok_or(SealError::Shape)?;
        let (len, rest) = rest.split_at_checked(2).ok_or(SealError::Shape)?;
        let len = usize::from(u16::from_be_bytes([len[0], len[1]]));
        let (encrypted, rest) = rest.split_at_checked(len).ok_or(SealError::Shape)?;
        let (nonce, body) = rest.split_at_checked(NONCE_LEN).ok_or(SealError::Shape)?;
        let known = self
            .opened
            .lock()
            .expect("opened keys")
            .get(encrypted)
            .cloned();
        let key = match known {
            Some(k) => k,
            None => {
                let k = self
                    .keys
                    .decrypt(encrypted, &self.context())
                    .await
                    .map_err(SealError::KeyService)?;
                self.opened
                    .lock()
                    .expect("opened keys")
                    .insert(encrypted.to_vec(), k.clone());
                k
            }
        };
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| SealError::Shape)?;
        let mut buf = body.to_vec();
        let plain = cipher(&key)?
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad(purpose, &self.stack)),
                &mut buf,
            )
            .map_err(|_| SealError::Tampered)?;
        Ok(plain.to_vec())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::state::object_store::DataKey;
    use async_trait::async_trait;
    use std::sync::atomic::{AtomicU64, Ordering};

    /// A key service that "encrypts" a data key by XOR with a master key
    /// byte and the context: enough to test the envelope's own logic.
    #[derive(Default)]
    pub struct XorKeys {
        pub generated: AtomicU64,
        pub decrypted: AtomicU64,
    }

    fn xor(bytes: &[u8], context: &BTreeMap<String, String>) -> Vec<u8> {
        let salt: u8 = context
            .values()
            .flat_map(|v| v.bytes())
            .fold(0x5a, |a, b| a ^ b);
        bytes.iter().map(|b| b ^ salt).collect()
    }

    #[async_trait]
    impl KeyService for XorKeys {
        async fn data_key(
            &self,
            _key_id: &str,
            context: &BTreeMap<String, String>,
        ) -> Result<DataKey, String> {
            self.generated.fetch_add(1, Ordering::SeqCst);
            let mut plaintext = vec![0u8; 32];
            SystemRandom::new().fill(&mut plaintext).unwrap();
            Ok(DataKey {
                encrypted: xor(&plaintext, context),
                plaintext,
            })
        }
        async fn decrypt(
            &self,
            encrypted: &[u8],
            context: &BTreeMap<String, String>,
        ) -> Result<Vec<u8>, String> {
            self.decrypted.fetch_add(1, Ordering::SeqCst);
            Ok(xor(encrypted, context))
        }
        fn calls(&self) -> BTreeMap<String, u64> {
            BTreeMap::new()
        }
    }

    #[tokio::test]
    async fn seals_open_only_for_their_stack_and_purpose_and_share_one_data_key() {
        let keys = Arc::new(XorKeys::default());
        let a = Envelope::new(keys.clone(), "alias/k", "net.qa");
        let s1 = a.seal("state", b"{\"serial\":1}").await.unwrap();
        let s2 = a.seal("state", b"{\"serial\":1}").await.unwrap();
        assert!(is_sealed(&s1));
        assert_ne!(s1, s2, "each seal has its own nonce");
        assert_eq!(keys.generated.load(Ordering::SeqCst), 1);
        assert_eq!(a.open("state", &s1).await.unwrap(), b"{\"serial\":1}");
        assert!(matches!(
            a.open("stack key", &s1).await,
            Err(SealError::Tampered)
        ));
        let reader = Envelope::new(keys.clone(), "alias/k", "net.qa");
        assert_eq!(reader.open("state", &s2).await.unwrap(), b"{\"serial\":1}");
        assert_eq!(keys.decrypted.load(Ordering::SeqCst), 1);
        let other = Envelope::new(keys.clone(), "alias/k", "app.qa");
        assert!(other.open("state", &s1).await.is_err());
        let mut cut = s1.clone();
        let last = cut.len() - 1;
        cut[last] ^= 1;
        assert!(matches!(
            a.open("state", &cut).await,
            Err(SealError::Tampered)
        ));
        assert!(matches!(
            a.open("state", &s1[..20]).await,
            Err(SealError::Shape)
        ));
    }
}
