//! [`SqliteStore`]: the embedded default backend, one database file in WAL mode.
//!
//! Times are INTEGER microseconds since the Unix epoch (see `ts`/`at`); every write
//! transaction starts with `BEGIN IMMEDIATE` so concurrent writers queue on the busy
//! timeout instead of failing with `SQLITE_BUSY` when upgrading a read lock.
//! The SQL is kept textually parallel to `../postgres/`: `diff -r src/sqlite src/postgres`
//! shows every real difference between the backends.

mod queries;

use std::fs::OpenOptions;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{Row, Sqlite, Transaction};
use time::OffsetDateTime;

use crate::StoreError;
use crate::migrate::{Backend, check_not_newer, migrator};
use crate::store::Result;
use crate::types::{
    Account, AccountId, ApiKey, ApiKeyId, AuditEvent, Certificate, Device, DeviceId, Hostname,
    Order, OrderId, OrderState, Outcome, PasswordHash, parse_addr, public_key,
};

/// How long a writer waits for the database lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// Pool size: SQLite has one writer at a time; a few readers run alongside in WAL mode.
const MAX_CONNECTIONS: u32 = 4;

/// The SQLite backend. Cheap to share; all methods go through a small connection pool.
pub struct SqliteStore {
    pool: SqlitePool,
    path: PathBuf,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens (creating it 0600 if missing) the database at `path`, refuses a schema newer
    /// than this binary, and runs pending migrations.
    pub async fn open(path: &Path) -> Result<Self> {
        create_private(path)?;
        let options = SqliteConnectOptions::new()
            .filename(path)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT);
        let pool = SqlitePoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .connect_with(options)
            .await?;
        let applied: Option<i64> = if sqlx::query(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'",
        )
        .fetch_optional(&pool)
        .await?
        .is_some()
        {
            sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations")
                .fetch_one(&pool)
                .await?
        } else {
            None
        };
        check_not_newer(applied)?;
        migrator(Backend::Sqlite).run(&pool).await?;
        Ok(Self {
            pool,
            path: path.to_owned(),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    async fn write(&self) -> Result<Transaction<'static, Sqlite>> {
        Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?)
    }
}

/// Creates an empty database file readable by its owner only (SQLite gives the -wal and
/// -shm files the same mode). An existing file is left alone.
fn create_private(path: &Path) -> Result<()> {
    match OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(StoreError::Database(sqlx::Error::Io(e))),
    }
}

/// A time as stored: microseconds since the Unix epoch.
fn ts(t: OffsetDateTime) -> i64 {
    t.unix_timestamp() * 1_000_000 + i64::from(t.microsecond())
}

fn from_micros(micros: i64) -> Result<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1000).map_err(|e| {
        StoreError::Corrupt {
            what: "timestamp",
            reason: e.to_string(),
        }
    })
}

fn at(row: &SqliteRow, col: &str) -> Result<OffsetDateTime> {
    from_micros(row.try_get(col)?)
}

fn at_opt(row: &SqliteRow, col: &str) -> Result<Option<OffsetDateTime>> {
    row.try_get::<Option<i64>, _>(col)?
        .map(from_micros)
        .transpose()
}

fn account(row: &SqliteRow) -> Result<Account> {
    Ok(Account {
        id: AccountId(row.try_get("id")?),
        username: row.try_get("username")?,
        password_hash: PasswordHash::from_phc(row.try_get("password_hash")?)?,
        email: row.try_get("email")?,
        email_verified_at: at_opt(row, "email_verified_at")?,
        created_at: at(row, "created_at")?,
        disabled_at: at_opt(row, "disabled_at")?,
    })
}

fn hostname(row: &SqliteRow) -> Result<Hostname> {
    Ok(Hostname {
        label: row.try_get("label")?,
        account_id: AccountId(row.try_get("account_id")?),
        created_at: at(row, "created_at")?,
    })
}

fn api_key(row: &SqliteRow) -> Result<ApiKey> {
    Ok(ApiKey {
        id: ApiKeyId(row.try_get("id")?),
        prefix: row.try_get("prefix")?,
        account_id: AccountId(row.try_get("account_id")?),
        hostname: row.try_get("label")?,
        created_at: at(row, "created_at")?,
        last_used_at: at_opt(row, "last_used_at")?,
        revoked_at: at_opt(row, "revoked_at")?,
        consumed_at: at_opt(row, "consumed_at")?,
    })
}

fn device(row: &SqliteRow) -> Result<Device> {
    Ok(Device {
        id: DeviceId(row.try_get("id")?),
        account_id: AccountId(row.try_get("account_id")?),
        hostname: row.try_get("label")?,
        public_key: public_key(row.try_get("public_key")?)?,
        created_at: at(row, "created_at")?,
        revoked_at: at_opt(row, "revoked_at")?,
    })
}

fn order(row: &SqliteRow) -> Result<Order> {
    let state: String = row.try_get("state")?;
    let error: Option<String> = row.try_get("error")?;
    Ok(Order {
        id: OrderId(row.try_get("id")?),
        account_id: AccountId(row.try_get("account_id")?),
        device_id: row.try_get::<Option<i64>, _>("device_id")?.map(DeviceId),
        hostname: row.try_get("label")?,
        csr_der: row.try_get("csr_der")?,
        state: OrderState::from_columns(&state, error.as_deref())?,
        acme_order_url: row.try_get("acme_order_url")?,
        challenge_txt: row.try_get("challenge_txt")?,
        error,
        created_at: at(row, "created_at")?,
        updated_at: at(row, "updated_at")?,
    })
}

fn certificate(row: &SqliteRow) -> Result<Certificate> {
    Ok(Certificate {
        serial: row.try_get("serial")?,
        account_id: AccountId(row.try_get("account_id")?),
        hostname: row.try_get("label")?,
        order_id: row.try_get::<Option<i64>, _>("order_id")?.map(OrderId),
        replaces: row.try_get("replaces")?,
        not_before: at(row, "not_before")?,
        not_after: at(row, "not_after")?,
        chain_pem: row.try_get("chain_pem")?,
        issued_at: at(row, "issued_at")?,
        revoked_at: at_opt(row, "revoked_at")?,
    })
}

fn audit_event(row: &SqliteRow) -> Result<AuditEvent> {
    let outcome: String = row.try_get("outcome")?;
    Ok(AuditEvent {
        id: row.try_get("id")?,
        at: at(row, "at")?,
        actor: row.try_get::<Option<i64>, _>("actor_id")?.map(AccountId),
        subject: row.try_get::<Option<i64>, _>("subject_id")?.map(AccountId),
        client_addr: parse_addr(row.try_get("client_addr")?)?,
        action: row.try_get("action")?,
        target: row.try_get("target")?,
        outcome: Outcome::from_columns(&outcome, row.try_get("reason")?)?,
    })
}
