//! The age-encrypted [`FileStore`]: a JSON map of secrets in `<dir>/secure-store.age`,
//! passphrase-encrypted (scrypt). Owns encryption, the decrypted-map cache and the
//! password lifecycle; file permissions and atomic writes live in `atomic`.

use std::fmt;
use std::io::{Read, Write};
use std::iter;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};

use age::DecryptError;
use secrecy::SecretString;
use zeroize::Zeroizing;

use crate::atomic::{read_private, write_private};
use crate::map::SecretMap;
use crate::password::{self, Purpose};
use crate::{PasswordSource, SecureStore, StoreError, validate_name};

/// File name of the encrypted store inside its directory.
pub const FILE_NAME: &str = "secure-store.age";
/// Smallest accepted scrypt work factor (log2 N) for writing.
pub const MIN_WORK_FACTOR: u8 = 10;
/// Largest scrypt work factor (log2 N) written or accepted on read: 2^22 needs 4 GiB and
/// many seconds. age's default (about one second of work, usually 17-20) is below it.
pub const MAX_WORK_FACTOR: u8 = 22;

/// Secrets in one age passphrase-encrypted file. The file is decrypted at most once per
/// `FileStore` (the map is then cached); every change re-encrypts and rewrites atomically.
/// A missing file is an empty store; it is created on the first `set`.
pub struct FileStore {
    path: PathBuf,
    source: PasswordSource,
    work_factor: Option<u8>,
    state: Mutex<State>,
}

/// What has been learnt so far; both fields fill in lazily.
#[derive(Default)]
struct State {
    /// The password, once obtained (and, for an existing file, proven by decryption).
    password: Option<SecretString>,
    /// The decrypted map, once read (empty if the file did not exist).
    map: Option<SecretMap>,
}

impl FileStore {
    /// A store at `<dir>/secure-store.age`; nothing is read until the first operation.
    /// `work_factor` (log2 N) applies to writing; `None` means age's default.
    pub fn new(
        dir: impl Into<PathBuf>,
        source: PasswordSource,
        work_factor: Option<u8>,
    ) -> Result<Self, StoreError> {
        if let Some(n) = work_factor.filter(|n| !(MIN_WORK_FACTOR..=MAX_WORK_FACTOR).contains(n)) {
            return Err(StoreError::InvalidWorkFactor {
                value: n.to_string(),
                origin: "config",
                min: MIN_WORK_FACTOR,
                max: MAX_WORK_FACTOR,
            });
        }
        let path = dir.into().join(FILE_NAME);
        Ok(Self {
            path,
            source,
            work_factor,
            state: Mutex::new(State::default()),
        })
    }

    /// The encrypted file this store reads and writes.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // State only changes after an operation fully succeeds, so poison is harmless.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Load the map into `state` unless cached: read, then ask for the password and
    /// decrypt only if the file exists.
    fn load<'a>(&self, state: &'a mut State) -> Result<&'a mut SecretMap, StoreError> {
        if state.map.is_none() {
            let map = match read_private(&self.path)? {
                None => SecretMap::default(),
                Some(ciphertext) => {
                    let pw = match state.password.take() {
                        Some(pw) => pw,
                        None => password::obtain(&self.source, &self.path, Purpose::Unlock)?,
                    };
                    let plaintext = self.decrypt(&pw, &ciphertext)?;
                    state.password = Some(pw);
                    SecretMap::decode(&self.path, &plaintext)?
                }
            };
            tracing::debug!(store.path = %self.path.display(), "secure store loaded");
            state.map = Some(map);
        }
        Ok(state.map.get_or_insert_with(SecretMap::default))
    }

    fn decrypt(
        &self,
        pw: &SecretString,
        ciphertext: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, StoreError> {
        let decryptor =
            age::Decryptor::new_buffered(ciphertext).map_err(|e| self.decrypt_err(e))?;
        if !decryptor.is_scrypt() {
            return Err(self.corrupt("not a passphrase-encrypted age file".to_owned()));
        }
        let mut identity = age::scrypt::Identity::new(pw.clone());
        identity.set_max_work_factor(MAX_WORK_FACTOR.max(self.work_factor.unwrap_or(0)));
        let mut reader = decryptor
            .decrypt(iter::once(&identity as &dyn age::Identity))
            .map_err(|e| self.decrypt_err(e))?;
        // The plaintext is shorter than the ciphertext: reserve once, never reallocate.
        let mut plaintext = Zeroizing::new(Vec::with_capacity(ciphertext.len()));
        reader
            .read_to_end(&mut plaintext)
            .map_err(|e| self.corrupt(format!("payload does not decrypt: {e}")))?;
        Ok(plaintext)
    }

    fn decrypt_err(&self, err: DecryptError) -> StoreError {
        match err {
            DecryptError::DecryptionFailed | DecryptError::KeyDecryptionFailed => {
                StoreError::WrongPassword {
                    path: self.path.clone(),
                }
            }
            DecryptError::ExcessiveWork { required, .. } => StoreError::WorkFactorTooHigh {
                path: self.path.clone(),
                required,
                max: MAX_WORK_FACTOR.max(self.work_factor.unwrap_or(0)),
            },
            other => self.corrupt(other.to_string()),
        }
    }

    fn corrupt(&self, reason: String) -> StoreError {
        StoreError::Corrupt {
            path: self.path.clone(),
            reason,
        }
    }

    /// Encrypt `map` and atomically replace the file with it.
    fn save(&self, pw: &SecretString, map: &SecretMap) -> Result<(), StoreError> {
        let encrypt_err = |reason: String| StoreError::Encrypt {
            path: self.path.clone(),
            reason,
        };
        let plaintext = map
            .encode()
            .map_err(|e| encrypt_err(format!("JSON encoding failed: {e}")))?;
        let mut recipient = age::scrypt::Recipient::new(pw.clone());
        if let Some(n) = self.work_factor {
            recipient.set_work_factor(n);
        }
        let encryptor = age::Encryptor::with_recipients(iter::once(&recipient as _))
            .map_err(|e| encrypt_err(e.to_string()))?;
        let mut ciphertext = Vec::with_capacity(plaintext.len() + 512);
        let mut writer = encryptor
            .wrap_output(&mut ciphertext)
            .map_err(|e| encrypt_err(e.to_string()))?;
        writer
            .write_all(&plaintext)
            .map_err(|e| encrypt_err(e.to_string()))?;
        writer.finish().map_err(|e| encrypt_err(e.to_string()))?;
        write_private(&self.path, &ciphertext)?;
        tracing::debug!(store.path = %self.path.display(), "secure store written");
        Ok(())
    }

    /// Apply `change` to a copy of the map, write it, and only then update the cache.
    fn update<T>(
        &self,
        change: impl FnOnce(&mut SecretMap) -> Option<T>,
    ) -> Result<Option<T>, StoreError> {
        let mut state = self.lock();
        let mut next = self.load(&mut state)?.clone();
        let Some(result) = change(&mut next) else {
            return Ok(None);
        };
        let pw = match state.password.take() {
            Some(pw) => pw,
            // The file did not exist when loaded: this write creates it.
            None => password::obtain(&self.source, &self.path, Purpose::Create)?,
        };
        let saved = self.save(&pw, &next);
        state.password = Some(pw);
        saved?;
        state.map = Some(next);
        Ok(Some(result))
    }
}

impl fmt::Debug for FileStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileStore")
            .field("path", &self.path)
            .field("work_factor", &self.work_factor)
            .finish()
    }
}

impl SecureStore for FileStore {
    fn get(&self, name: &str) -> Result<Option<SecretString>, StoreError> {
        validate_name(name)?;
        let mut state = self.lock();
        Ok(self.load(&mut state)?.get(name))
    }

    fn set(&self, name: &str, value: &SecretString) -> Result<(), StoreError> {
        validate_name(name)?;
        self.update(|map| {
            map.insert(name, value);
            Some(())
        })?;
        Ok(())
    }

    fn set_many(&self, items: &[(&str, &SecretString)]) -> Result<(), StoreError> {
        for (name, _) in items {
            validate_name(name)?;
        }
        // One decrypt and one encrypt (one scrypt each) for all of them.
        self.update(|map| {
            for (name, value) in items {
                map.insert(name, value);
            }
            Some(())
        })?;
        Ok(())
    }

    fn delete(&self, name: &str) -> Result<bool, StoreError> {
        validate_name(name)?;
        Ok(self.update(|map| map.remove(name).then_some(()))?.is_some())
    }

    fn describe(&self) -> String {
        format!("file {}", self.path.display())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn store(work_factor: Option<u8>) -> FileStore {
        FileStore::new(
            "/nonexistent",
            PasswordSource::Given("pw".into()),
            work_factor,
        )
        .unwrap()
    }

    #[test]
    fn decrypt_errors_map_to_specific_variants() {
        let s = store(None);
        let wrong = s.decrypt_err(DecryptError::DecryptionFailed);
        assert!(
            matches!(wrong, StoreError::WrongPassword { .. }),
            "{wrong:?}"
        );
        let work = s.decrypt_err(DecryptError::ExcessiveWork {
            required: 30,
            target: 18,
        });
        assert!(
            matches!(
                work,
                StoreError::WorkFactorTooHigh {
                    required: 30,
                    max: 22,
                    ..
                }
            ),
            "{work:?}"
        );
        let corrupt = s.decrypt_err(DecryptError::InvalidHeader);
        assert!(matches!(corrupt, StoreError::Corrupt { .. }), "{corrupt:?}");
    }

    #[test]
    fn not_a_passphrase_file_is_corrupt() {
        let s = store(Some(10));
        let err = s
            .decrypt(&"pw".into(), b"age-encryption.org/v1\n")
            .unwrap_err();
        assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");
    }
}
