//! `StackKey`: the per-stack secret beside the state (`<stack>.key`, 32
//! random bytes, mode 0600) that keys secret digests and seals saved plans.
//! It is never stored in state or plans and never printed, so a digest or a
//! seal proves nothing to someone without the file.

use std::fs::{self, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use sha2::{Digest, Sha256};

use super::store::StateError;

const LEN: usize = 32;

/// How a key file keeps the key's bytes: as they are, or sealed.
pub(crate) trait KeyCoding {
    fn encode(&self, key: &[u8]) -> Result<Vec<u8>, StateError>;
    fn decode(&self, path: &Path, bytes: Vec<u8>) -> Result<Vec<u8>, StateError>;
}

/// The key's 32 bytes as they are.
pub(crate) struct AsIs;

impl KeyCoding for AsIs {
    fn encode(&self, key: &[u8]) -> Result<Vec<u8>, StateError> {
        Ok(key.to_vec())
    }
    fn decode(&self, _path: &Path, bytes: Vec<u8>) -> Result<Vec<u8>, StateError> {
        Ok(bytes)
    }
}
const BLOCK: usize = 64;

#[derive(Clone, PartialEq, Eq)]
pub struct StackKey([u8; LEN]);

impl std::fmt::Debug for StackKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StackKey(..)")
    }
}

impl StackKey {
    /// A key from known bytes (tests, and stacks without a state directory).
    pub fn from_bytes(bytes: [u8; LEN]) -> Self {
        Self(bytes)
    }

    /// The key at `path`, made with 32 random bytes when there is none. A
    /// key that group or others may read is refused: whoever reads it can
    /// confirm secrets by their digests and forge saved plans.
    pub fn load_or_create(path: &Path) -> Result<Self, StateError> {
        Self::load_or_create_in(path, &AsIs)
    }

    /// As [`StackKey::load_or_create`], the file's bytes kept by `coding`.
    pub(crate) fn load_or_create_in(
        path: &Path,
        coding: &dyn KeyCoding,
    ) -> Result<Self, StateError> {
        match fs::metadata(path) {
            Ok(meta) => {
                let mode = meta.permissions().mode() & 0o777;
                if mode & 0o077 != 0 {
                    return Err(StateError::KeyMode {
                        path: path.display().to_string(),
                        mode,
                    });
                }
                let bytes = coding.decode(path, fs::read(path).map_err(|e| io_err(path, e))?)?;
                let key: [u8; LEN] =
                    bytes
                        .as_slice()
                        .try_into()
                        .map_err(|_| StateError::KeyCorrupt {
                            path: path.display().to_string(),
                            len: bytes.len(),
                        })?;
                Ok(Self(key))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Self::write_new(path, Self::random()?.0, coding)
            }
            Err(e) => Err(io_err(path, e)),
        }
    }

    /// The key at `path`, which must exist: a saved plan is checked with
    /// the key it was sealed with, never with a new one.
    pub fn load(path: &Path, stack: &str) -> Result<Self, StateError> {
        Self::load_in(path, stack, &AsIs)
    }

    pub(crate) fn load_in(
        path: &Path,
        stack: &str,
        coding: &dyn KeyCoding,
    ) -> Result<Self, StateError> {
        if !path.exists() {
            return Err(StateError::KeyMissing {
                path: path.display().to_string(),
                stack: stack.to_string(),
            });
        }
        Self::load_or_create_in(path, coding)
    }

    /// A new key of 32 random bytes.
    pub fn random() -> Result<Self, StateError> {
        let mut key = [0u8; LEN];
        fs::File::open("/dev/urandom")
            .and_then(|mut f| f.read_exact(&mut key))
            .map_err(|e| io_err(Path::new("/dev/urandom"), e))?;
        Ok(Self(key))
    }

    /// The key's bytes, to be kept sealed (a stack key in a bucket).
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.0
    }

    /// Keep `self` at `path` unless a key is there already; returns the
    /// key that is there afterwards.
    pub(crate) fn store_at(&self, path: &Path, coding: &dyn KeyCoding) -> Result<Self, StateError> {
        Self::write_new(path, self.0, coding)
    }

    fn write_new(path: &Path, key: [u8; LEN], coding: &dyn KeyCoding) -> Result<Self, StateError> {
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).map_err(|e| io_err(dir, e))?;
        }
        let bytes = coding.encode(&key)?;
        // create_new: two payruns starting a stack at once keep one key.
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
        {
            Ok(mut f) => {
                f.write_all(&bytes).map_err(|e| io_err(path, e))?;
                f.sync_all().map_err(|e| io_err(path, e))?;
                Ok(Self(key))
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                Self::load_or_create_in(path, coding)
            }
            Err(e) => Err(io_err(path, e)),
        }
    }

    /// HMAC-SHA-256 (RFC 2104) of `message` under this key.
    pub fn mac(&self, message: &[u8]) -> [u8; 32] {
        hmac_sha256(&self.0, message)
    }

    /// The digest a secret value is compared by: `hmac-sha256:<hex>`.
    pub fn digest(&self, value: &[u8]) -> String {
        format!("hmac-sha256:{}", hex::encode(self.mac(value)))
    }

    /// Does `seal` (hex) seal `message` under this key? Compared in
    /// constant time.
    pub fn verify(&self, message: &[u8], seal: &str) -> bool {
        let Ok(given) = hex::decode(seal) else {
            return false;
        };
        let want = self.mac(message);
        given.len() == want.len()
            && given
                .iter()
                .zip(want)
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
    }
}

fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut block = [0u8; BLOCK];
    if key.len() > BLOCK {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(block.map(|b| b ^ 0x36));
    inner.update(message);
    let mut outer = Sha256::new();
    outer.update(block.map(|b| b ^ 0x5c));
    outer.update(inner.finalize());
    outer.finalize().into()
}

fn io_err(path: &Path, source: std::io::Error) -> StateError {
    StateError::Io {
        path: path.display().to_string(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 4231, test cases 1, 2 and 6 (a key longer than the block).
    #[test]
    fn hmac_matches_rfc_4231() {
        assert_eq!(
            hex::encode(hmac_sha256(&[0x0b; 20], b"Hi There")),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
        );
        assert_eq!(
            hex::encode(hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_eq!(
            hex::encode(hmac_sha256(
                &[0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First"
            )),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    #[test]
    fn key_is_made_once_with_0600_and_refused_when_others_can_read_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.qa.key");
        let a = StackKey::load_or_create(&path).unwrap();
        let b = StackKey::load_or_create(&path).unwrap();
        assert_eq!(a, b);
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(format!("{a:?}"), "StackKey(..)");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
        let err = StackKey::load_or_create(&path).unwrap_err().to_string();
        assert_eq!(
            err,
            format!(
                "the stack key {p} may be read by group or others (mode 640)\n  fix: chmod 600 {p}",
                p = path.display()
            )
        );
    }

    #[test]
    fn digest_is_keyed() {
        let a = StackKey::from_bytes([1; 32]);
        let b = StackKey::from_bytes([2; 32]);
        assert!(a.digest(b"s3cret").starts_with("hmac-sha256:"));
        assert_ne!(a.digest(b"s3cret"), b.digest(b"s3cret"));
        let seal = hex::encode(a.mac(b"plan"));
        assert!(a.verify(b"plan", &seal));
        assert!(!b.verify(b"plan", &seal));
        assert!(!a.verify(b"plan!", &seal));
    }
}
