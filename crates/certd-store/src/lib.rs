//! Storage for aws-sso-certd: the [`Store`] trait, its SQLite ([`SqliteStore`], the
//! embedded default) and PostgreSQL ([`PgStore`]) implementations, their migrations, and
//! [`open`] to pick one from a [`Dsn`]. It owns persistence and the invariants a database
//! can enforce (uniqueness, single use, compare-and-set); policy (who may do what, limits,
//! validation of names and CSRs) belongs to the service.
//!
//! Nothing stored lets anyone issue a certificate (DESIGN 5.3): passwords arrive as Argon2id
//! PHC strings ([`PasswordHash`]), session tokens and API keys as SHA-256 digests
//! ([`TokenHash`]), emailed links (address verification, password reset) as SHA-256
//! digests too, devices as public keys. Time is always an argument.

mod dsn;
mod error;
mod migrate;
mod postgres;
mod shared;
mod sqlite;
mod store;
mod types;

use std::sync::Arc;

pub use crate::dsn::{Dsn, PgUrl};
pub use crate::error::StoreError;
pub use crate::migrate::SCHEMA_VERSION;
pub use crate::postgres::PgStore;
pub use crate::sqlite::SqliteStore;
pub use crate::store::{Result, Store};
pub use crate::types::{
    Account, AccountId, ApiKey, ApiKeyId, AuditEvent, Certificate, ConsumedApiKey, Device,
    DeviceId, EmailPurpose, EmailToken, Hostname, HostnameRules, NewAuditEvent, NewCertificate,
    NewOrder, Order, OrderId, OrderState, OrderUpdate, Outcome, PasswordHash, PublishedChallenge,
    Session, TokenHash,
};

/// Opens the store `dsn` names, refusing a schema newer than this binary and running
/// pending migrations.
pub async fn open(dsn: &Dsn) -> Result<Arc<dyn Store>> {
    Ok(match dsn {
        Dsn::Sqlite(path) => Arc::new(SqliteStore::open(path).await?),
        Dsn::Postgres(url) => Arc::new(PgStore::connect(url).await?),
    })
}
