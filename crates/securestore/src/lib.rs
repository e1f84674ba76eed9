//! Where aws-sso keeps its secrets: the [`SecureStore`] trait, store selection ([`open`])
//! and item-name rules. Each backend lives in its own module; this one owns no I/O.
//!
//! Backends: OS keyring ([`KeyringStore`]), age-encrypted file ([`FileStore`]), explicit
//! insecure plaintext JSON ([`JsonStore`]) and in-process memory ([`MemoryStore`]).
//! Values are [`SecretString`]s: redacted in `Debug`, zeroized on drop, read through
//! [`ExposeSecret::expose_secret`].

mod atomic;
mod error;
mod file;
mod json;
mod keyring;
mod map;
mod memory;
mod password;

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

pub use secrecy::{ExposeSecret, SecretString};

/// Atomically writes a private (0600) file, creating its directory 0700: for secrets that
/// must live in a file of their own, such as the token file SDKs read.
pub use crate::atomic::write_private as write_private_file;
pub use crate::error::StoreError;
pub use crate::file::{FileStore, MAX_WORK_FACTOR, MIN_WORK_FACTOR};
pub use crate::json::JsonStore;
pub use crate::keyring::{KEYRING_SERVICE, KeyringStore};
pub use crate::memory::MemoryStore;

/// Environment variable holding the file store's password.
pub const PASSWORD_ENV: &str = "AWS_SSO_FILE_PASSWORD";
/// Environment variable overriding the file store's scrypt work factor (log2 N).
pub const WORK_FACTOR_ENV: &str = "AWS_SSO_FILE_SCRYPT_WORK_FACTOR";
/// Longest accepted item name.
pub const MAX_NAME_LEN: usize = 128;

/// A named-secret store. Implementations are safe to share between threads.
pub trait SecureStore: Send + Sync + fmt::Debug {
    /// The secret stored under `name`, or None.
    fn get(&self, name: &str) -> Result<Option<SecretString>, StoreError>;
    /// Store (create or replace) `value` under `name`.
    fn set(&self, name: &str, value: &SecretString) -> Result<(), StoreError>;
    /// Store several items together. The file, JSON and memory stores write them in one
    /// step (all or none); the OS keyring has no transactions, so there they are written in
    /// order and a failure can leave the earlier ones written.
    fn set_many(&self, items: &[(&str, &SecretString)]) -> Result<(), StoreError> {
        for (name, _) in items {
            validate_name(name)?;
        }
        for (name, value) in items {
            self.set(name, value)?;
        }
        Ok(())
    }
    /// Remove `name`; Ok(true) if it existed.
    fn delete(&self, name: &str) -> Result<bool, StoreError>;
    /// Which backend this is, for messages ("file /path", "keyring", "json /path (insecure)", "memory").
    fn describe(&self) -> String;
}

/// Which backend to use. Parsed case-insensitively (`FromStr` and serde), written lowercase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase", try_from = "String")]
pub enum StoreKind {
    /// age-encrypted file `<dir>/secure-store.age`.
    File,
    /// The OS keyring (Secret Service on Linux).
    Keyring,
    /// Plaintext `<dir>/secure-store.json`; insecure, explicit choice only.
    Json,
    /// In-process only; forgotten on exit.
    Memory,
}

impl StoreKind {
    /// The lowercase config spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::File => "file",
            Self::Keyring => "keyring",
            Self::Json => "json",
            Self::Memory => "memory",
        }
    }
}

impl fmt::Display for StoreKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for StoreKind {
    type Err = StoreError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [Self::File, Self::Keyring, Self::Json, Self::Memory]
            .into_iter()
            .find(|kind| kind.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| StoreError::UnknownKind {
                value: s.to_owned(),
            })
    }
}

impl TryFrom<String> for StoreKind {
    type Error = StoreError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

/// Where the file store's password comes from.
pub enum PasswordSource {
    /// `AWS_SSO_FILE_PASSWORD`; if unset, a terminal prompt; if no terminal, an error.
    Env,
    /// Always prompt on the terminal (error if stdin is not a terminal).
    Prompt,
    /// Supplied by the caller.
    Given(SecretString),
}

impl fmt::Debug for PasswordSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Env => f.write_str("Env"),
            Self::Prompt => f.write_str("Prompt"),
            Self::Given(_) => f.write_str("Given(<redacted>)"),
        }
    }
}

/// What [`open`] needs to pick and open a store.
#[derive(Debug)]
pub struct StoreConfig {
    /// Backend; `None` means keyring if reachable, else file.
    pub kind: Option<StoreKind>,
    /// Directory of the file and json stores (created 0700 on first write).
    pub dir: PathBuf,
    /// Password source for the file store.
    pub password: PasswordSource,
    /// scrypt work factor for writing the file store; `AWS_SSO_FILE_SCRYPT_WORK_FACTOR`
    /// overrides it; `None` means age's default (about one second of work).
    pub scrypt_work_factor: Option<u8>,
}

/// Open the configured store. With `kind: None`, probes the keyring (no prompt) and falls
/// back to the file store. Nothing is read or decrypted until the first operation.
pub fn open(cfg: StoreConfig) -> Result<Box<dyn SecureStore>, StoreError> {
    let StoreConfig {
        kind,
        dir,
        password,
        scrypt_work_factor,
    } = cfg;
    let kind = match kind {
        Some(kind) => kind,
        None => match KeyringStore::new() {
            Ok(store) => {
                tracing::debug!(store.kind = "keyring", "secure store auto-selected keyring");
                return Ok(Box::new(store));
            }
            Err(err) => {
                tracing::debug!(
                    store.kind = "file", error = %err,
                    "keyring unreachable; secure store auto-selected file"
                );
                StoreKind::File
            }
        },
    };
    Ok(match kind {
        StoreKind::File => {
            let work_factor =
                work_factor_override(std::env::var(WORK_FACTOR_ENV).ok())?.or(scrypt_work_factor);
            Box::new(FileStore::new(dir, password, work_factor)?)
        }
        StoreKind::Keyring => Box::new(KeyringStore::new()?),
        StoreKind::Json => Box::new(JsonStore::new(dir)),
        StoreKind::Memory => Box::new(MemoryStore::new()),
    })
}

/// Parse the `AWS_SSO_FILE_SCRYPT_WORK_FACTOR` value (unset or blank means no override).
fn work_factor_override(value: Option<String>) -> Result<Option<u8>, StoreError> {
    let Some(value) = value.filter(|v| !v.trim().is_empty()) else {
        return Ok(None);
    };
    match value.trim().parse::<u8>() {
        Ok(n) if (MIN_WORK_FACTOR..=MAX_WORK_FACTOR).contains(&n) => Ok(Some(n)),
        _ => Err(StoreError::InvalidWorkFactor {
            value,
            origin: WORK_FACTOR_ENV,
            min: MIN_WORK_FACTOR,
            max: MAX_WORK_FACTOR,
        }),
    }
}

/// Check an item name: non-empty, at most [`MAX_NAME_LEN`] bytes, only `[A-Za-z0-9._-]`.
pub fn validate_name(name: &str) -> Result<(), StoreError> {
    let reason = if name.is_empty() {
        "must not be empty"
    } else if name.len() > MAX_NAME_LEN {
        "must be at most 128 characters"
    } else if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        "may contain only A-Z a-z 0-9 . _ -"
    } else {
        return Ok(());
    };
    Err(StoreError::InvalidName {
        name: name.to_owned(),
        reason,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn kind_parses_case_insensitively_and_serializes_lowercase() {
        assert_eq!("FILE".parse::<StoreKind>().unwrap(), StoreKind::File);
        assert_eq!(
            " Keyring ".parse::<StoreKind>().unwrap(),
            StoreKind::Keyring
        );
        let kind: StoreKind = serde_json::from_str("\"Json\"").unwrap();
        assert_eq!(kind, StoreKind::Json);
        assert_eq!(
            serde_json::to_string(&StoreKind::Memory).unwrap(),
            "\"memory\""
        );
        let err = "vault".parse::<StoreKind>().unwrap_err();
        assert!(
            err.to_string().contains("file, keyring, json, memory"),
            "{err}"
        );
        assert!(serde_json::from_str::<StoreKind>("\"vault\"").is_err());
    }

    #[test]
    fn names_are_validated() {
        for ok in [
            "ecs-bearer-token",
            "ecs-ssl-key",
            "a",
            "A.b_c-9",
            &"x".repeat(128),
        ] {
            validate_name(ok).unwrap();
        }
        for bad in ["", "a b", "a/b", "é", "a\n", &"x".repeat(129)] {
            assert!(
                matches!(validate_name(bad), Err(StoreError::InvalidName { .. })),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn work_factor_env_is_validated() {
        assert_eq!(work_factor_override(None).unwrap(), None);
        assert_eq!(work_factor_override(Some(" ".into())).unwrap(), None);
        assert_eq!(work_factor_override(Some("12".into())).unwrap(), Some(12));
        for bad in ["abc", "0", "9", "23", "300"] {
            let err = work_factor_override(Some(bad.into())).unwrap_err();
            assert!(err.to_string().contains(WORK_FACTOR_ENV), "{err}");
        }
    }

    #[test]
    fn password_source_debug_is_redacted() {
        let given = PasswordSource::Given(SecretString::from("hunter2"));
        assert_eq!(format!("{given:?}"), "Given(<redacted>)");
        let cfg = StoreConfig {
            kind: None,
            dir: "/d".into(),
            password: given,
            scrypt_work_factor: None,
        };
        assert!(!format!("{cfg:?}").contains("hunter2"));
    }

    #[test]
    fn open_memory_and_json_explicitly() {
        let tmp = tempfile::tempdir().unwrap();
        let cfg = |kind| StoreConfig {
            kind: Some(kind),
            dir: tmp.path().to_path_buf(),
            password: PasswordSource::Env,
            scrypt_work_factor: None,
        };
        assert_eq!(open(cfg(StoreKind::Memory)).unwrap().describe(), "memory");
        let json = open(cfg(StoreKind::Json)).unwrap().describe();
        assert!(
            json.starts_with("json ") && json.ends_with("(insecure)"),
            "{json}"
        );
    }
}
