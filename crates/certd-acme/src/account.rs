//! Where the ACME account lives between runs: the [`AccountStore`] trait (one secret JSON
//! document holding the account URL, its directory and its private key) and
//! [`FileAccountStore`], a 0600 file written atomically. Creating or restoring the account
//! at the CA is [`crate::Acme::open`]'s job.

use std::fmt;
use std::io::ErrorKind;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use instant_acme::AccountCredentials;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::error::{AcmeError, BoxError};

/// Stores the one ACME account of a certd instance. The document is secret (it holds the
/// account key): implementations keep it out of logs and readable by the service only.
pub trait AccountStore: Send + Sync + fmt::Debug {
    /// The stored document, or None when no account was created yet.
    fn load(&self) -> Result<Option<SecretString>, BoxError>;
    /// Stores (creates or replaces) the document.
    fn save(&self, document: &SecretString) -> Result<(), BoxError>;
    /// Where the account lives, for messages ("file /var/lib/certd/acme-account.json").
    fn describe(&self) -> String;
}

/// The account in a JSON file, created 0600 and replaced atomically
/// ([`securestore::write_private_file`]).
#[derive(Debug, Clone)]
pub struct FileAccountStore {
    path: PathBuf,
}

impl FileAccountStore {
    /// A store at `path` (the file is created on the first save).
    pub fn new(path: impl Into<PathBuf>) -> FileAccountStore {
        FileAccountStore { path: path.into() }
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl AccountStore for FileAccountStore {
    fn load(&self) -> Result<Option<SecretString>, BoxError> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Box::new(e)),
        };
        let text = SecretString::from(text);
        if let Ok(meta) = std::fs::metadata(&self.path) {
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                tracing::warn!(
                    path = %self.path.display(),
                    mode = format_args!("{mode:o}"),
                    "the ACME account file is readable by others; it should be 0600"
                );
            }
        }
        Ok(Some(text))
    }

    fn save(&self, document: &SecretString) -> Result<(), BoxError> {
        securestore::write_private_file(&self.path, document.expose_secret().as_bytes())?;
        Ok(())
    }

    fn describe(&self) -> String {
        format!("file {}", self.path.display())
    }
}

/// The stored document, version 1.
#[derive(Serialize, Deserialize)]
pub(crate) struct StoredAccount {
    pub(crate) version: u32,
    /// The directory the account was created at.
    pub(crate) directory_url: String,
    /// The account URL (the `kid`, and CAA `accounturi`).
    pub(crate) account_url: String,
    /// instant-acme's credentials (account URL, PKCS#8 key, directory).
    pub(crate) credentials: AccountCredentials,
}

pub(crate) const STORED_VERSION: u32 = 1;

impl StoredAccount {
    pub(crate) fn parse(store: &dyn AccountStore, doc: &SecretString) -> Result<Self, AcmeError> {
        let stored: StoredAccount =
            serde_json::from_str(doc.expose_secret()).map_err(|e| AcmeError::AccountStore {
                store: store.describe(),
                // Position and category only: serde_json's message can quote a value.
                reason: format!(
                    "unreadable account document ({:?} error at line {} column {})",
                    e.classify(),
                    e.line(),
                    e.column()
                ),
            })?;
        if stored.version != STORED_VERSION {
            return Err(AcmeError::AccountStore {
                store: store.describe(),
                reason: format!(
                    "account document version {} is not supported (expected {STORED_VERSION})",
                    stored.version
                ),
            });
        }
        Ok(stored)
    }

    pub(crate) fn to_secret(&self) -> Result<SecretString, AcmeError> {
        serde_json::to_string_pretty(self)
            .map(SecretString::from)
            .map_err(|e| AcmeError::Protocol {
                reason: format!("cannot serialize the account: {e}"),
            })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn file_store_round_trips_with_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileAccountStore::new(dir.path().join("sub/acme-account.json"));
        assert!(store.load().unwrap().is_none());
        store.save(&SecretString::from("{\"a\":1}")).unwrap();
        let mode = std::fs::metadata(store.path())
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(store.load().unwrap().unwrap().expose_secret(), "{\"a\":1}");
        assert!(store.describe().contains("acme-account.json"));
    }

    #[test]
    fn garbage_and_other_versions_are_refused_without_echoing_content() {
        let store = FileAccountStore::new("/nonexistent");
        let err = StoredAccount::parse(&store, &SecretString::from("secret-key-material"))
            .err()
            .unwrap();
        assert!(!err.to_string().contains("secret-key-material"), "{err}");
        let doc = r#"{"version":2,"directory_url":"d","account_url":"a","credentials":{"id":"a","key_pkcs8":"AA","directory":"d"}}"#;
        let err = StoredAccount::parse(&store, &SecretString::from(doc))
            .err()
            .unwrap();
        assert!(err.to_string().contains("version 2"), "{err}");
    }
}
