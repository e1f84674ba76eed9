//! The OS keyring backend [`KeyringStore`] via the `keyring` crate (v4, `v1` feature):
//! Secret Service over D-Bus on Linux, Keychain on macOS, Credential Manager on Windows.
//! Owns the mapping of keyring errors to [`StoreError`]; stores nothing itself.
//!
//! `keyring` 4 sets its platform default store once per process, on first use
//! (`Entry::store_status`); on Linux that connects to the session bus and opens a Secret
//! Service session, so it fails at once without D-Bus. It never prompts: prompts happen
//! only when a locked item is read or written.

use std::fmt;

use ::keyring::{Entry, Error as KeyringError};
use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroize;

use crate::{SecureStore, StoreError, validate_name};

/// Keyring service name under which every item is stored (user = item name).
pub const KEYRING_SERVICE: &str = "aws-sso";

/// Secrets in the OS keyring, service [`KEYRING_SERVICE`], one entry per item name.
pub struct KeyringStore {
    _private: (),
}

impl KeyringStore {
    /// Reach the platform keyring, or fail with [`StoreError::KeyringUnavailable`].
    pub fn new() -> Result<Self, StoreError> {
        match Entry::store_status() {
            Ok(()) => Ok(Self { _private: () }),
            Err(e) => Err(StoreError::KeyringUnavailable {
                reason: e.to_string(),
            }),
        }
    }

    fn entry(&self, op: &'static str, name: &str) -> Result<Entry, StoreError> {
        validate_name(name)?;
        Entry::new(KEYRING_SERVICE, name).map_err(|e| map_err(op, name, e))
    }
}

/// Map a keyring error without ever including secret bytes some variants carry.
fn map_err(op: &'static str, name: &str, err: KeyringError) -> StoreError {
    let reason = match err {
        KeyringError::NoDefaultStore => {
            let reason = match Entry::store_status() {
                Err(e) => e.to_string(),
                Ok(()) => KeyringError::NoDefaultStore.to_string(),
            };
            return StoreError::KeyringUnavailable { reason };
        }
        KeyringError::BadEncoding(mut bytes) => {
            bytes.zeroize();
            "stored value is not valid UTF-8".to_owned()
        }
        KeyringError::BadDataFormat(mut bytes, inner) => {
            bytes.zeroize();
            format!("stored value is malformed: {inner}")
        }
        err @ KeyringError::NoStorageAccess(_) => {
            return StoreError::KeyringLocked {
                op,
                name: name.to_owned(),
                reason: err.to_string(),
            };
        }
        other => other.to_string(),
    };
    StoreError::Keyring {
        op,
        name: name.to_owned(),
        reason,
    }
}

impl fmt::Debug for KeyringStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyringStore")
            .field("service", &KEYRING_SERVICE)
            .finish()
    }
}

impl SecureStore for KeyringStore {
    fn get(&self, name: &str) -> Result<Option<SecretString>, StoreError> {
        let entry = self.entry("get", name)?;
        match entry.get_secret() {
            Ok(bytes) => match String::from_utf8(bytes) {
                Ok(value) => Ok(Some(SecretString::from(value))),
                Err(e) => {
                    e.into_bytes().zeroize();
                    Err(StoreError::Keyring {
                        op: "get",
                        name: name.to_owned(),
                        reason: "stored value is not valid UTF-8".to_owned(),
                    })
                }
            },
            Err(KeyringError::NoEntry) => Ok(None),
            Err(e) => Err(map_err("get", name, e)),
        }
    }

    fn set(&self, name: &str, value: &SecretString) -> Result<(), StoreError> {
        let entry = self.entry("set", name)?;
        entry
            .set_password(value.expose_secret())
            .map_err(|e| map_err("set", name, e))
    }

    fn delete(&self, name: &str) -> Result<bool, StoreError> {
        let entry = self.entry("delete", name)?;
        match entry.delete_credential() {
            Ok(()) => Ok(true),
            Err(KeyringError::NoEntry) => Ok(false),
            Err(e) => Err(map_err("delete", name, e)),
        }
    }

    fn describe(&self) -> String {
        "keyring".to_owned()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn bad_encoding_error_drops_bytes() {
        let err = map_err("get", "k", KeyringError::BadEncoding(b"hunter2".to_vec()));
        let msg = format!("{err} {err:?}");
        assert!(
            !msg.contains("hunter2") && !msg.contains("104, 117"),
            "{msg}"
        );
    }

    #[test]
    fn no_storage_access_is_locked_and_points_at_file_store() {
        let err = map_err(
            "set",
            "k",
            KeyringError::NoStorageAccess("collection locked".into()),
        );
        assert!(
            matches!(err, StoreError::KeyringLocked { op: "set", .. }),
            "{err:?}"
        );
        assert!(err.to_string().contains("SecureStore: file"), "{err}");
    }

    #[test]
    fn debug_names_service_only() {
        let store = KeyringStore { _private: () };
        assert_eq!(
            format!("{store:?}"),
            "KeyringStore { service: \"aws-sso\" }"
        );
        assert_eq!(store.describe(), "keyring");
    }
}
