//! [`PgStore`]: the PostgreSQL backend, for deployments that outgrow one SQLite file.
//!
//! Connections are plain TCP or a Unix socket (no TLS feature is compiled in: a TLS
//! `sslmode` needs sqlx's `tls-rustls-aws-lc-rs`, a later change). Times are TIMESTAMPTZ;
//! `ts`/`at` exist only so the queries read exactly like `../sqlite/`:
//! `diff -r src/sqlite src/postgres` shows every real difference between the backends.
//! Transactions are READ COMMITTED;
//! single-use and compare-and-set rules rest on conditional UPDATEs and unique indexes,
//! which PostgreSQL re-checks after waiting for a concurrent writer.

mod queries;

use std::str::FromStr;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::{Postgres, Row, Transaction};
use time::OffsetDateTime;

use crate::StoreError;
use crate::dsn::PgUrl;
use crate::migrate::{Backend, check_not_newer, migrator};
use crate::store::Result;
use crate::types::{
    Account, AccountId, ApiKey, ApiKeyId, AuditEvent, Certificate, Device, DeviceId, Hostname,
    Order, OrderId, OrderState, Outcome, PasswordHash, parse_addr, public_key,
};

/// Pool size per service process.
const MAX_CONNECTIONS: u32 = 10;

/// The PostgreSQL backend. Cheap to share; all methods go through a connection pool.
pub struct PgStore {
    pool: PgPool,
    /// The URL with its password redacted, for `Debug`.
    shown: String,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("url", &self.shown)
            .finish_non_exhaustive()
    }
}

impl PgStore {
    /// Connects to `url`, refuses a schema newer than this binary, and runs pending
    /// migrations (sqlx holds an advisory lock meanwhile, so replicas may start together).
    pub async fn connect(url: &PgUrl) -> Result<Self> {
        let options = PgConnectOptions::from_str(url.expose_secret())
            .map_err(|e| StoreError::InvalidDsn {
                dsn: url.to_string(),
                reason: e.to_string(),
            })?
            .application_name("aws-sso-certd");
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .connect_with(options)
            .await?;
        let applied: Option<i64> =
            if sqlx::query_scalar::<_, bool>("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
                .fetch_one(&pool)
                .await?
            {
                sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations")
                    .fetch_one(&pool)
                    .await?
            } else {
                None
            };
        check_not_newer(applied)?;
        migrator(Backend::Postgres).run(&pool).await?;
        Ok(Self {
            pool,
            shown: url.to_string(),
        })
    }

    async fn write(&self) -> Result<Transaction<'static, Postgres>> {
        Ok(self.pool.begin().await?)
    }
}

/// A time as stored (TIMESTAMPTZ; sqlx truncates to microseconds).
fn ts(t: OffsetDateTime) -> OffsetDateTime {
    t
}

fn at(row: &PgRow, col: &str) -> Result<OffsetDateTime> {
    Ok(row.try_get(col)?)
}

fn at_opt(row: &PgRow, col: &str) -> Result<Option<OffsetDateTime>> {
    Ok(row.try_get(col)?)
}

fn account(row: &PgRow) -> Result<Account> {
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

fn hostname(row: &PgRow) -> Result<Hostname> {
    Ok(Hostname {
        label: row.try_get("label")?,
        account_id: AccountId(row.try_get("account_id")?),
        created_at: at(row, "created_at")?,
    })
}

fn api_key(row: &PgRow) -> Result<ApiKey> {
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

fn device(row: &PgRow) -> Result<Device> {
    Ok(Device {
        id: DeviceId(row.try_get("id")?),
        account_id: AccountId(row.try_get("account_id")?),
        hostname: row.try_get("label")?,
        public_key: public_key(row.try_get("public_key")?)?,
        created_at: at(row, "created_at")?,
        revoked_at: at_opt(row, "revoked_at")?,
    })
}

fn order(row: &PgRow) -> Result<Order> {
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

fn certificate(row: &PgRow) -> Result<Certificate> {
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

fn audit_event(row: &PgRow) -> Result<AuditEvent> {
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
