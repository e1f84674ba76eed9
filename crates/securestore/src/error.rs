//! The one error type of the secure store; owns wording, not recovery (callers decide).
//!
//! No variant carries a secret value: names, paths, modes and library reasons only.

use std::path::PathBuf;

/// Everything that can go wrong opening or using a [`crate::SecureStore`].
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// An item name is empty, too long or uses characters outside `[A-Za-z0-9._-]`.
    #[error("invalid secure store item name {name:?}: {reason}")]
    InvalidName {
        /// The rejected name (names are not secret).
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },

    /// A store kind string is not one of `file`, `keyring`, `json`, `memory`.
    #[error("unknown secure store kind {value:?}: expected one of file, keyring, json, memory")]
    UnknownKind {
        /// The rejected value.
        value: String,
    },

    /// The scrypt work factor (config or `AWS_SSO_FILE_SCRYPT_WORK_FACTOR`) is out of range.
    #[error(
        "invalid scrypt work factor {value:?} from {origin}: expected an integer {min}..={max}"
    )]
    InvalidWorkFactor {
        /// The rejected value as given.
        value: String,
        /// Where it came from (config or the environment variable name).
        origin: &'static str,
        /// Smallest accepted value.
        min: u8,
        /// Largest accepted value.
        max: u8,
    },

    /// No password source is usable: the env var is unset and stdin is not a terminal.
    #[error(
        "no password for the encrypted secure store {path}: set AWS_SSO_FILE_PASSWORD \
         (stdin is not a terminal, so aws-sso cannot prompt)"
    )]
    PasswordUnavailable {
        /// The store file that needs a password.
        path: PathBuf,
    },

    /// The password given (env var, prompt or caller) is empty or not UTF-8.
    #[error("unusable password for the encrypted secure store {path} from {origin}: {reason}")]
    InvalidPassword {
        /// The store file that needs a password.
        path: PathBuf,
        /// Where the password came from (env var name, "the prompt", "the caller").
        origin: &'static str,
        /// What is wrong with it ("empty", "not valid UTF-8").
        reason: &'static str,
    },

    /// The two passwords typed when creating a new store differ.
    #[error("passwords do not match; {path} was not created")]
    PasswordMismatch {
        /// The store file that was about to be created.
        path: PathBuf,
    },

    /// Reading the password from the terminal failed.
    #[error("cannot read the password for {path} from the terminal")]
    PasswordPrompt {
        /// The store file that needs a password.
        path: PathBuf,
        /// The terminal error.
        #[source]
        source: std::io::Error,
    },

    /// The age file did not decrypt with the password.
    #[error("cannot decrypt {path}: wrong password (AWS_SSO_FILE_PASSWORD or the prompt)")]
    WrongPassword {
        /// The store file.
        path: PathBuf,
    },

    /// The age file demands more scrypt work than this process accepts.
    #[error(
        "cannot decrypt {path}: it needs scrypt work factor {required}, more than the \
         accepted maximum {max} (set AWS_SSO_FILE_SCRYPT_WORK_FACTOR to at least {required})"
    )]
    WorkFactorTooHigh {
        /// The store file.
        path: PathBuf,
        /// Work factor recorded in the file.
        required: u8,
        /// Largest work factor this process accepts.
        max: u8,
    },

    /// Encrypting or encoding the store for writing failed.
    #[error("cannot encrypt secure store {path}: {reason}")]
    Encrypt {
        /// The store file being written.
        path: PathBuf,
        /// The encoder's or encryptor's reason (never contents).
        reason: String,
    },

    /// The store file is truncated, not an age file, or not a JSON map of strings.
    #[error("secure store {path} is corrupt: {reason}")]
    Corrupt {
        /// The store file.
        path: PathBuf,
        /// What the parser or decryptor reported (never contents).
        reason: String,
    },

    /// The store file can be read or written by group or others; refused, not fixed.
    #[error(
        "refusing to use secure store {path}: mode {mode:04o} allows group/other access; \
         run `chmod 600 {path}`"
    )]
    InsecurePermissions {
        /// The store file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },

    /// A filesystem operation failed.
    #[error("cannot {op} {path}")]
    Io {
        /// What was being done ("read", "write", "create directory", ...).
        op: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },

    /// No OS keyring can be reached (for example no D-Bus session or Secret Service).
    #[error(
        "the OS keyring is unavailable ({reason}); set `SecureStore: file` in the aws-sso \
         config to use the encrypted file store instead"
    )]
    KeyringUnavailable {
        /// Why the keyring could not be reached.
        reason: String,
    },

    /// The OS keyring refused access (locked, prompt dismissed, or no default collection).
    #[error(
        "the OS keyring refused to {op} item {name:?} ({reason}); unlock the keyring, or set \
         `SecureStore: file` in the aws-sso config"
    )]
    KeyringLocked {
        /// The operation ("get", "set", "delete").
        op: &'static str,
        /// The item name.
        name: String,
        /// The keyring's reason.
        reason: String,
    },

    /// The OS keyring was reached but an operation on one item failed.
    #[error("keyring {op} of item {name:?} failed: {reason}")]
    Keyring {
        /// The operation ("get", "set", "delete").
        op: &'static str,
        /// The item name.
        name: String,
        /// The keyring's reason (never the value).
        reason: String,
    },
}
