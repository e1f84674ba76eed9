//! The one error type of the certd store: one variant per failure a caller can act on,
//! plus `Database` for everything the caller can only report.
//!
//! No variant carries a secret: hashes, DSN passwords and key material never appear here.

use time::OffsetDateTime;

/// Everything that can go wrong opening or using a [`crate::Store`].
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// An account with this username (compared case-insensitively) exists or existed.
    #[error("username is taken")]
    UsernameTaken,

    /// A live hostname with this label exists (owned by any account).
    #[error("hostname {label:?} is taken")]
    HostnameTaken {
        /// The lowercase label.
        label: String,
    },

    /// The label was deleted recently by another account and is held back until `until`.
    #[error("hostname {label:?} was deleted recently and is held back until {until}")]
    HostnameHeld {
        /// The lowercase label.
        label: String,
        /// When it can be registered again.
        until: OffsetDateTime,
    },

    /// The account already holds the most hostnames it may.
    #[error("the account already has {limit} hostnames, the most allowed")]
    HostnameLimit {
        /// The per-account limit that was reached.
        limit: u32,
    },

    /// No API key has this hash.
    #[error("unknown API key")]
    ApiKeyNotFound,

    /// The API key was already used to enroll a device.
    #[error("API key was already used")]
    ApiKeyConsumed,

    /// The API key was revoked (by its owner, or because its hostname was deleted).
    #[error("API key was revoked")]
    ApiKeyRevoked,

    /// A device with this public key is already enrolled.
    #[error("this device key is already enrolled")]
    DeviceKeyInUse,

    /// This (device, nonce) pair was seen before: a replayed request.
    #[error("nonce was already used")]
    NonceReplayed,

    /// An order update expected the order in one state but found it in another
    /// (another worker moved it first).
    #[error("order {order} is in state {actual}, not {expected}")]
    StaleState {
        /// The order id.
        order: i64,
        /// The state the caller expected.
        expected: &'static str,
        /// The state the order is in.
        actual: &'static str,
    },

    /// An order update asked for a transition the state machine does not allow.
    #[error("order {order} cannot go from {from} to {to}")]
    IllegalTransition {
        /// The order id.
        order: i64,
        /// The current state.
        from: &'static str,
        /// The requested state.
        to: &'static str,
    },

    /// The thing looked up does not exist (or is not the caller's, or is deleted).
    #[error("{what} not found")]
    NotFound {
        /// What was looked up ("account", "hostname", "device", ...).
        what: &'static str,
    },

    /// An argument is malformed (checked before anything is stored).
    #[error("invalid {what}: {reason}")]
    InvalidInput {
        /// Which argument.
        what: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },

    /// The DSN is not `sqlite:<path>` or a `postgres://` URL, or sqlx rejects it.
    /// `dsn` is the redacted form.
    #[error("invalid database DSN {dsn}: {reason}")]
    InvalidDsn {
        /// The DSN with any password replaced by `***`.
        dsn: String,
        /// What is wrong with it.
        reason: String,
    },

    /// The database was migrated by a newer binary; this one refuses to touch it.
    #[error(
        "database schema version {db} is newer than this binary supports ({binary}): \
         upgrade aws-sso-certd or restore a matching backup"
    )]
    SchemaTooNew {
        /// The highest migration applied to the database.
        db: i64,
        /// The highest migration this binary embeds.
        binary: i64,
    },

    /// Running the embedded migrations failed.
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),

    /// A stored value could not be decoded (an unknown state name, a bad key length).
    #[error("corrupt {what} in the database: {reason}")]
    Corrupt {
        /// Which column or value.
        what: &'static str,
        /// What is wrong with it.
        reason: String,
    },

    /// Any other database failure (connection, I/O, constraint we do not map).
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

impl StoreError {
    /// True if `err` is a unique-constraint violation (same check on both backends).
    pub(crate) fn is_unique_violation(err: &sqlx::Error) -> bool {
        matches!(err, sqlx::Error::Database(db) if db.is_unique_violation())
    }
}
