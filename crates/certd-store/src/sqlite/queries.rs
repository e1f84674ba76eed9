//! The [`Store`] methods of [`SqliteStore`]: one query (or one transaction) per method.
//! Kept textually parallel to `../postgres/queries.rs`.

use async_trait::async_trait;
use sqlx::{Row, Sqlite, Transaction};
use time::OffsetDateTime;

use super::{
    SqliteStore, account, api_key, at, at_opt, audit_event, certificate, device, from_micros,
    hostname, order, ts,
};
use crate::StoreError;
use crate::shared::{bounded, check_serial, check_username, clip, count, found};
use crate::store::{Result, Store};
use crate::types::{
    Account, AccountId, ApiKey, ApiKeyId, AuditEvent, Certificate, ConsumedApiKey, Device,
    DeviceId, EmailPurpose, EmailToken, Hostname, HostnameRules, NewAuditEvent, NewCertificate,
    NewOrder, Order, OrderId, OrderState, OrderUpdate, PasswordHash, PublishedChallenge, Session,
    TokenHash, normalize_label,
};

const ACCOUNT_COLUMNS_BY_ID: &str = "SELECT id, username, password_hash, email, email_verified_at, created_at, disabled_at \
     FROM accounts WHERE id = $1 AND deleted_at IS NULL";

const ORDER_BY_ID: &str = "SELECT o.id, o.account_id, o.device_id, h.label, o.csr_der, o.state, o.acme_order_url, \
            o.challenge_txt, o.error, o.created_at, o.updated_at \
     FROM orders o JOIN hostnames h ON h.id = o.hostname_id WHERE o.id = $1";

const CERTIFICATE_BY_SERIAL: &str = "SELECT c.serial, c.account_id, h.label, c.order_id, c.replaces, c.not_before, c.not_after, \
            c.chain_pem, c.issued_at, c.revoked_at \
     FROM certificates c JOIN hostnames h ON h.id = c.hostname_id WHERE c.serial = $1";

/// The key row `consume_in` claimed.
struct Claimed {
    id: i64,
    account_id: i64,
    hostname_id: i64,
    label: String,
}

/// Marks the key used inside `tx` (one conditional UPDATE, so only one caller can win),
/// or says why it cannot be.
async fn consume_in(
    tx: &mut Transaction<'static, Sqlite>,
    key_hash: &TokenHash,
    now: OffsetDateTime,
) -> Result<Claimed> {
    let row = sqlx::query(
        "UPDATE api_keys SET consumed_at = $2, last_used_at = $2 \
         WHERE key_hash = $1 AND consumed_at IS NULL AND revoked_at IS NULL \
         RETURNING id, account_id, hostname_id",
    )
    .bind(key_hash.as_hex())
    .bind(ts(now))
    .fetch_optional(&mut **tx)
    .await?;
    let Some(row) = row else {
        let state = sqlx::query("SELECT revoked_at, consumed_at FROM api_keys WHERE key_hash = $1")
            .bind(key_hash.as_hex())
            .fetch_optional(&mut **tx)
            .await?;
        return Err(match state {
            None => StoreError::ApiKeyNotFound,
            Some(r) if at_opt(&r, "revoked_at")?.is_some() => StoreError::ApiKeyRevoked,
            Some(_) => StoreError::ApiKeyConsumed,
        });
    };
    let hostname_id: i64 = row.try_get("hostname_id")?;
    let label = sqlx::query_scalar("SELECT label FROM hostnames WHERE id = $1")
        .bind(hostname_id)
        .fetch_one(&mut **tx)
        .await?;
    Ok(Claimed {
        id: row.try_get("id")?,
        account_id: row.try_get("account_id")?,
        hostname_id,
        label,
    })
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn close(&self) {
        self.pool.close().await;
    }

    // ---- accounts --------------------------------------------------------------------

    async fn create_account(
        &self,
        username: &str,
        email: &str,
        password_hash: &PasswordHash,
        now: OffsetDateTime,
    ) -> Result<Account> {
        check_username(username)?;
        bounded("email", email, 254)?;
        let row = sqlx::query(
            "INSERT INTO accounts (username, password_hash, email, created_at) \
             VALUES ($1, $2, $3, $4) \
             RETURNING id, username, password_hash, email, email_verified_at, created_at, disabled_at",
        )
        .bind(username)
        .bind(password_hash.as_phc())
        .bind(email)
        .bind(ts(now))
        .fetch_one(&self.pool)
        .await
        .map_err(|e| match e {
            e if StoreError::is_unique_violation(&e) => StoreError::UsernameTaken,
            e => e.into(),
        })?;
        account(&row)
    }

    async fn get_account(&self, id: AccountId) -> Result<Account> {
        let row = sqlx::query(ACCOUNT_COLUMNS_BY_ID)
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound { what: "account" })?;
        account(&row)
    }

    async fn get_account_by_username(&self, username: &str) -> Result<Account> {
        check_username(username)?;
        let row = sqlx::query(
            "SELECT id, username, password_hash, email, email_verified_at, created_at, disabled_at \
             FROM accounts WHERE lower(username) = lower($1) AND deleted_at IS NULL",
        )
        .bind(username)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound { what: "account" })?;
        account(&row)
    }

    async fn update_password_hash(&self, id: AccountId, hash: &PasswordHash) -> Result<()> {
        let done = sqlx::query(
            "UPDATE accounts SET password_hash = $2 WHERE id = $1 AND deleted_at IS NULL",
        )
        .bind(id.0)
        .bind(hash.as_phc())
        .execute(&self.pool)
        .await?;
        found(done.rows_affected(), "account")
    }

    async fn mark_email_verified(
        &self,
        id: AccountId,
        email: &str,
        at: OffsetDateTime,
    ) -> Result<()> {
        let done = sqlx::query(
            "UPDATE accounts SET email_verified_at = $2 \
             WHERE id = $1 AND deleted_at IS NULL AND lower(email) = lower($3)",
        )
        .bind(id.0)
        .bind(ts(at))
        .bind(email)
        .execute(&self.pool)
        .await?;
        found(done.rows_affected(), "account")
    }

    async fn update_email(&self, id: AccountId, email: &str) -> Result<()> {
        bounded("email", email, 254)?;
        let mut tx = self.write().await?;
        let done = sqlx::query(
            "UPDATE accounts SET email = $2, email_verified_at = NULL \
             WHERE id = $1 AND deleted_at IS NULL",
        )
        .bind(id.0)
        .bind(email)
        .execute(&mut *tx)
        .await?;
        found(done.rows_affected(), "account")?;
        sqlx::query("UPDATE email_tokens SET spent = TRUE WHERE account_id = $1 AND NOT spent")
            .bind(id.0)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn set_account_disabled(
        &self,
        id: AccountId,
        disabled_at: Option<OffsetDateTime>,
    ) -> Result<()> {
        let done = sqlx::query(
            "UPDATE accounts SET disabled_at = $2 WHERE id = $1 AND deleted_at IS NULL",
        )
        .bind(id.0)
        .bind(disabled_at.map(ts))
        .execute(&self.pool)
        .await?;
        found(done.rows_affected(), "account")
    }

    async fn delete_account(&self, id: AccountId, now: OffsetDateTime) -> Result<()> {
        let mut tx = self.write().await?;
        let done =
            sqlx::query("UPDATE accounts SET deleted_at = $2 WHERE id = $1 AND deleted_at IS NULL")
                .bind(id.0)
                .bind(ts(now))
                .execute(&mut *tx)
                .await?;
        found(done.rows_affected(), "account")?;
        sqlx::query("DELETE FROM sessions WHERE account_id = $1")
            .bind(id.0)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE email_tokens SET spent = TRUE WHERE account_id = $1 AND NOT spent")
            .bind(id.0)
            .execute(&mut *tx)
            .await?;
        for sql in [
            "UPDATE api_keys SET revoked_at = $2 WHERE account_id = $1 AND revoked_at IS NULL",
            "UPDATE devices SET revoked_at = $2 WHERE account_id = $1 AND revoked_at IS NULL",
            "UPDATE hostnames SET deleted_at = $2 WHERE account_id = $1 AND deleted_at IS NULL",
        ] {
            sqlx::query(sql)
                .bind(id.0)
                .bind(ts(now))
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    // ---- sessions --------------------------------------------------------------------

    async fn create_session(
        &self,
        token_hash: &TokenHash,
        account: AccountId,
        now: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<()> {
        let done = sqlx::query(
            "INSERT INTO sessions (token_hash, account_id, created_at, expires_at) \
             SELECT $1, id, $3, $4 FROM accounts \
             WHERE id = $2 AND deleted_at IS NULL AND disabled_at IS NULL",
        )
        .bind(token_hash.as_hex())
        .bind(account.0)
        .bind(ts(now))
        .bind(ts(expires_at))
        .execute(&self.pool)
        .await?;
        found(done.rows_affected(), "account")
    }

    async fn get_session(&self, token_hash: &TokenHash, now: OffsetDateTime) -> Result<Session> {
        let row = sqlx::query(
            "SELECT s.account_id, s.created_at, s.expires_at \
             FROM sessions s JOIN accounts a ON a.id = s.account_id \
             WHERE s.token_hash = $1 AND s.expires_at > $2 \
               AND a.deleted_at IS NULL AND a.disabled_at IS NULL",
        )
        .bind(token_hash.as_hex())
        .bind(ts(now))
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound { what: "session" })?;
        Ok(Session {
            account_id: AccountId(row.try_get("account_id")?),
            created_at: at(&row, "created_at")?,
            expires_at: at(&row, "expires_at")?,
        })
    }

    async fn delete_session(&self, token_hash: &TokenHash) -> Result<bool> {
        let done = sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash.as_hex())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn delete_expired_sessions(&self, now: OffsetDateTime) -> Result<u64> {
        let done = sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
            .bind(ts(now))
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    async fn delete_sessions_of_account(
        &self,
        account: AccountId,
        keep: Option<&TokenHash>,
    ) -> Result<u64> {
        let done = sqlx::query(
            "DELETE FROM sessions WHERE account_id = $1 AND token_hash IS DISTINCT FROM $2",
        )
        .bind(account.0)
        .bind(keep.map(TokenHash::as_hex))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    // ---- emailed links ---------------------------------------------------------------

    async fn create_email_token(
        &self,
        account: AccountId,
        purpose: EmailPurpose,
        email: &str,
        token_hash: &TokenHash,
        now: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<()> {
        bounded("email", email, 254)?;
        let done = sqlx::query(
            "INSERT INTO email_tokens (token_hash, account_id, purpose, email, created_at, \
                                       expires_at) \
             SELECT $1, id, $3, $4, $5, $6 FROM accounts WHERE id = $2 AND deleted_at IS NULL",
        )
        .bind(token_hash.as_hex())
        .bind(account.0)
        .bind(purpose.as_str())
        .bind(email)
        .bind(ts(now))
        .bind(ts(expires_at))
        .execute(&self.pool)
        .await?;
        found(done.rows_affected(), "account")
    }

    async fn consume_email_token(
        &self,
        token_hash: &TokenHash,
        purpose: EmailPurpose,
        now: OffsetDateTime,
    ) -> Result<EmailToken> {
        const NOT_FOUND: StoreError = StoreError::NotFound {
            what: "email token",
        };
        let mut tx = self.write().await?;
        let account: i64 = sqlx::query_scalar(
            "SELECT account_id FROM email_tokens WHERE token_hash = $1 AND purpose = $2",
        )
        .bind(token_hash.as_hex())
        .bind(purpose.as_str())
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(NOT_FOUND)?;
        // BEGIN IMMEDIATE already serializes writers (PostgreSQL locks the account row).
        sqlx::query("SELECT id FROM accounts WHERE id = $1 AND deleted_at IS NULL")
            .bind(account)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(NOT_FOUND)?;
        // One conditional UPDATE: only one caller can flip `spent`.
        let row = sqlx::query(
            "UPDATE email_tokens SET spent = TRUE \
             WHERE token_hash = $1 AND purpose = $2 AND NOT spent AND expires_at > $3 \
             RETURNING email, created_at, expires_at",
        )
        .bind(token_hash.as_hex())
        .bind(purpose.as_str())
        .bind(ts(now))
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(NOT_FOUND)?;
        let token = EmailToken {
            account_id: AccountId(account),
            purpose,
            email: row.try_get("email")?,
            created_at: at(&row, "created_at")?,
            expires_at: at(&row, "expires_at")?,
        };
        sqlx::query(
            "UPDATE email_tokens SET spent = TRUE \
             WHERE account_id = $1 AND purpose = $2 AND NOT spent",
        )
        .bind(account)
        .bind(purpose.as_str())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(token)
    }

    async fn count_email_tokens_since(
        &self,
        account: AccountId,
        purpose: EmailPurpose,
        since: OffsetDateTime,
    ) -> Result<u64> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM email_tokens \
             WHERE account_id = $1 AND purpose = $2 AND created_at >= $3",
        )
        .bind(account.0)
        .bind(purpose.as_str())
        .bind(ts(since))
        .fetch_one(&self.pool)
        .await?;
        Ok(count(n))
    }

    async fn prune_email_tokens(&self, older_than: OffsetDateTime) -> Result<u64> {
        let done = sqlx::query("DELETE FROM email_tokens WHERE expires_at < $1")
            .bind(ts(older_than))
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    // ---- hostnames -------------------------------------------------------------------

    async fn register_hostname(
        &self,
        account: AccountId,
        label: &str,
        rules: HostnameRules,
        now: OffsetDateTime,
    ) -> Result<Hostname> {
        let label = normalize_label(label)?;
        let mut tx = self.write().await?;
        // BEGIN IMMEDIATE already serializes writers (PostgreSQL locks the account row).
        sqlx::query("SELECT id FROM accounts WHERE id = $1 AND deleted_at IS NULL")
            .bind(account.0)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(StoreError::NotFound { what: "account" })?;
        let live = sqlx::query("SELECT 1 FROM hostnames WHERE label = $1 AND deleted_at IS NULL")
            .bind(&label)
            .fetch_optional(&mut *tx)
            .await?;
        if live.is_some() {
            return Err(StoreError::HostnameTaken { label });
        }
        let held: Option<i64> = sqlx::query_scalar(
            "SELECT MAX(deleted_at) FROM hostnames \
             WHERE label = $1 AND deleted_at > $2 AND account_id <> $3",
        )
        .bind(&label)
        .bind(ts(now - rules.hold))
        .bind(account.0)
        .fetch_one(&mut *tx)
        .await?;
        if let Some(deleted_at) = held {
            let until = from_micros(deleted_at)? + rules.hold;
            return Err(StoreError::HostnameHeld { label, until });
        }
        let live_count: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM hostnames WHERE account_id = $1 AND deleted_at IS NULL",
        )
        .bind(account.0)
        .fetch_one(&mut *tx)
        .await?;
        if count(live_count) >= u64::from(rules.max_per_account) {
            return Err(StoreError::HostnameLimit {
                limit: rules.max_per_account,
            });
        }
        let row = sqlx::query(
            "INSERT INTO hostnames (label, account_id, created_at) VALUES ($1, $2, $3) \
             RETURNING label, account_id, created_at",
        )
        .bind(&label)
        .bind(account.0)
        .bind(ts(now))
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| match e {
            e if StoreError::is_unique_violation(&e) => StoreError::HostnameTaken {
                label: label.clone(),
            },
            e => e.into(),
        })?;
        let registered = hostname(&row)?;
        tx.commit().await?;
        Ok(registered)
    }

    async fn list_hostnames(&self, account: AccountId) -> Result<Vec<Hostname>> {
        let rows = sqlx::query(
            "SELECT label, account_id, created_at FROM hostnames \
             WHERE account_id = $1 AND deleted_at IS NULL ORDER BY label",
        )
        .bind(account.0)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(hostname).collect()
    }

    async fn list_all_labels(&self) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT label FROM hostnames WHERE deleted_at IS NULL ORDER BY label",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    async fn delete_hostname(
        &self,
        account: AccountId,
        label: &str,
        now: OffsetDateTime,
    ) -> Result<()> {
        let label = normalize_label(label)?;
        let mut tx = self.write().await?;
        let id: i64 = sqlx::query_scalar(
            "UPDATE hostnames SET deleted_at = $3 \
             WHERE account_id = $1 AND label = $2 AND deleted_at IS NULL RETURNING id",
        )
        .bind(account.0)
        .bind(&label)
        .bind(ts(now))
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound { what: "hostname" })?;
        for sql in [
            "UPDATE api_keys SET revoked_at = $2 WHERE hostname_id = $1 AND revoked_at IS NULL",
            "UPDATE devices SET revoked_at = $2 WHERE hostname_id = $1 AND revoked_at IS NULL",
        ] {
            sqlx::query(sql)
                .bind(id)
                .bind(ts(now))
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn count_hostnames(&self, account: AccountId) -> Result<u64> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM hostnames WHERE account_id = $1 AND deleted_at IS NULL",
        )
        .bind(account.0)
        .fetch_one(&self.pool)
        .await?;
        Ok(count(n))
    }

    // ---- API keys --------------------------------------------------------------------

    async fn create_api_key(
        &self,
        account: AccountId,
        hostname: &str,
        prefix: &str,
        key_hash: &TokenHash,
        now: OffsetDateTime,
    ) -> Result<ApiKey> {
        let label = normalize_label(hostname)?;
        bounded("API key prefix", prefix, 32)?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO api_keys (prefix, key_hash, account_id, hostname_id, created_at) \
             SELECT $1, $2, h.account_id, h.id, $5 FROM hostnames h \
             WHERE h.account_id = $3 AND h.label = $4 AND h.deleted_at IS NULL \
             RETURNING id",
        )
        .bind(prefix)
        .bind(key_hash.as_hex())
        .bind(account.0)
        .bind(&label)
        .bind(ts(now))
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound { what: "hostname" })?;
        let row = sqlx::query(
            "SELECT k.id, k.prefix, k.account_id, h.label, k.created_at, k.last_used_at, \
                    k.revoked_at, k.consumed_at \
             FROM api_keys k JOIN hostnames h ON h.id = k.hostname_id WHERE k.id = $1",
        )
        .bind(id)
        .fetch_one(&self.pool)
        .await?;
        api_key(&row)
    }

    async fn list_api_keys(&self, account: AccountId) -> Result<Vec<ApiKey>> {
        let rows = sqlx::query(
            "SELECT k.id, k.prefix, k.account_id, h.label, k.created_at, k.last_used_at, \
                    k.revoked_at, k.consumed_at \
             FROM api_keys k JOIN hostnames h ON h.id = k.hostname_id \
             WHERE k.account_id = $1 ORDER BY k.id DESC",
        )
        .bind(account.0)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(api_key).collect()
    }

    async fn revoke_api_key(
        &self,
        account: AccountId,
        id: ApiKeyId,
        now: OffsetDateTime,
    ) -> Result<()> {
        let done = sqlx::query(
            "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $3) \
             WHERE id = $2 AND account_id = $1",
        )
        .bind(account.0)
        .bind(id.0)
        .bind(ts(now))
        .execute(&self.pool)
        .await?;
        found(done.rows_affected(), "API key")
    }

    async fn consume_api_key(
        &self,
        key_hash: &TokenHash,
        now: OffsetDateTime,
    ) -> Result<ConsumedApiKey> {
        let mut tx = self.write().await?;
        let claimed = consume_in(&mut tx, key_hash, now).await?;
        tx.commit().await?;
        Ok(ConsumedApiKey {
            id: ApiKeyId(claimed.id),
            account_id: AccountId(claimed.account_id),
            hostname: claimed.label,
        })
    }

    async fn enroll_device(
        &self,
        key_hash: &TokenHash,
        public_key: &[u8; 32],
        now: OffsetDateTime,
    ) -> Result<Device> {
        let mut tx = self.write().await?;
        let claimed = consume_in(&mut tx, key_hash, now).await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO devices (account_id, hostname_id, api_key_id, public_key, created_at) \
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(claimed.account_id)
        .bind(claimed.hostname_id)
        .bind(claimed.id)
        .bind(&public_key[..])
        .bind(ts(now))
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| match e {
            e if StoreError::is_unique_violation(&e) => StoreError::DeviceKeyInUse,
            e => e.into(),
        })?;
        tx.commit().await?;
        self.get_device(DeviceId(id)).await
    }

    // ---- devices ---------------------------------------------------------------------

    async fn get_device(&self, id: DeviceId) -> Result<Device> {
        let row = sqlx::query(
            "SELECT d.id, d.account_id, h.label, d.public_key, d.created_at, d.revoked_at \
             FROM devices d JOIN hostnames h ON h.id = d.hostname_id WHERE d.id = $1",
        )
        .bind(id.0)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound { what: "device" })?;
        device(&row)
    }

    async fn list_devices(&self, account: AccountId) -> Result<Vec<Device>> {
        let rows = sqlx::query(
            "SELECT d.id, d.account_id, h.label, d.public_key, d.created_at, d.revoked_at \
             FROM devices d JOIN hostnames h ON h.id = d.hostname_id \
             WHERE d.account_id = $1 ORDER BY d.id DESC",
        )
        .bind(account.0)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(device).collect()
    }

    async fn revoke_device(
        &self,
        account: AccountId,
        id: DeviceId,
        now: OffsetDateTime,
    ) -> Result<()> {
        let done = sqlx::query(
            "UPDATE devices SET revoked_at = COALESCE(revoked_at, $3) \
             WHERE id = $2 AND account_id = $1",
        )
        .bind(account.0)
        .bind(id.0)
        .bind(ts(now))
        .execute(&self.pool)
        .await?;
        found(done.rows_affected(), "device")
    }

    // ---- request nonces --------------------------------------------------------------

    async fn use_nonce(&self, device: DeviceId, nonce: &str, now: OffsetDateTime) -> Result<()> {
        bounded("nonce", nonce, 128)?;
        sqlx::query("INSERT INTO nonces (device_id, nonce, seen_at) VALUES ($1, $2, $3)")
            .bind(device.0)
            .bind(nonce)
            .bind(ts(now))
            .execute(&self.pool)
            .await
            .map_err(|e| match e {
                e if StoreError::is_unique_violation(&e) => StoreError::NonceReplayed,
                sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
                    StoreError::NotFound { what: "device" }
                }
                e => e.into(),
            })?;
        Ok(())
    }

    async fn prune_nonces(&self, older_than: OffsetDateTime) -> Result<u64> {
        let done = sqlx::query("DELETE FROM nonces WHERE seen_at < $1")
            .bind(ts(older_than))
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    // ---- ACME orders -----------------------------------------------------------------

    async fn create_order(&self, new: NewOrder<'_>, now: OffsetDateTime) -> Result<Order> {
        let label = normalize_label(new.hostname)?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO orders (account_id, device_id, hostname_id, csr_der, state, \
                                 created_at, updated_at) \
             SELECT h.account_id, $2, h.id, $4, 'pending', $5, $5 FROM hostnames h \
             WHERE h.account_id = $1 AND h.label = $3 AND h.deleted_at IS NULL \
             RETURNING id",
        )
        .bind(new.account_id.0)
        .bind(new.device_id.map(|d| d.0))
        .bind(&label)
        .bind(new.csr_der)
        .bind(ts(now))
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound { what: "hostname" })?;
        self.get_order(OrderId(id)).await
    }

    async fn get_order(&self, id: OrderId) -> Result<Order> {
        let row = sqlx::query(ORDER_BY_ID)
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound { what: "order" })?;
        order(&row)
    }

    async fn update_order(
        &self,
        id: OrderId,
        expected: &OrderState,
        update: &OrderUpdate,
        now: OffsetDateTime,
    ) -> Result<Order> {
        if !expected.can_become(&update.state) {
            return Err(StoreError::IllegalTransition {
                order: id.0,
                from: expected.name(),
                to: update.state.name(),
            });
        }
        let error = match &update.state {
            OrderState::Failed { reason } => Some(reason.as_str()),
            _ => update.error.as_deref(),
        };
        let done = sqlx::query(
            "UPDATE orders SET state = $3, acme_order_url = COALESCE($4, acme_order_url), \
                challenge_txt = COALESCE($5, challenge_txt), error = COALESCE($6, error), \
                updated_at = $7 \
             WHERE id = $1 AND state = $2",
        )
        .bind(id.0)
        .bind(expected.name())
        .bind(update.state.name())
        .bind(update.acme_order_url.as_deref())
        .bind(update.challenge_txt.as_deref())
        .bind(error)
        .bind(ts(now))
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            let actual: String = sqlx::query_scalar("SELECT state FROM orders WHERE id = $1")
                .bind(id.0)
                .fetch_optional(&self.pool)
                .await?
                .ok_or(StoreError::NotFound { what: "order" })?;
            return Err(StoreError::StaleState {
                order: id.0,
                expected: expected.name(),
                actual: OrderState::static_name(&actual),
            });
        }
        self.get_order(id).await
    }

    async fn list_unfinished_orders(&self) -> Result<Vec<Order>> {
        let rows = sqlx::query(
            "SELECT o.id, o.account_id, o.device_id, h.label, o.csr_der, o.state, \
                    o.acme_order_url, o.challenge_txt, o.error, o.created_at, o.updated_at \
             FROM orders o JOIN hostnames h ON h.id = o.hostname_id \
             WHERE o.state IN ('pending', 'challenge_published', 'ready') ORDER BY o.id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(order).collect()
    }

    async fn list_published_challenges(&self) -> Result<Vec<PublishedChallenge>> {
        let rows = sqlx::query(
            "SELECT o.id, h.label, o.challenge_txt \
             FROM orders o JOIN hostnames h ON h.id = o.hostname_id \
             WHERE o.state = 'challenge_published' AND o.challenge_txt IS NOT NULL \
             ORDER BY o.id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(PublishedChallenge {
                    order_id: OrderId(row.try_get("id")?),
                    hostname: row.try_get("label")?,
                    txt: row.try_get("challenge_txt")?,
                })
            })
            .collect()
    }

    // ---- certificates ----------------------------------------------------------------

    async fn insert_certificate(
        &self,
        cert: NewCertificate<'_>,
        now: OffsetDateTime,
    ) -> Result<Certificate> {
        let serial = check_serial(cert.serial)?;
        let replaces = cert.replaces.map(check_serial).transpose()?;
        let label = normalize_label(cert.hostname)?;
        // The newest registration of the label by this account, even if deleted since the
        // order started.
        sqlx::query(
            "INSERT INTO certificates (serial, account_id, hostname_id, order_id, replaces, \
                                       not_before, not_after, chain_pem, issued_at) \
             SELECT $1, h.account_id, h.id, $4, $5, $6, $7, $8, $9 FROM hostnames h \
             WHERE h.account_id = $2 AND h.label = $3 ORDER BY h.id DESC LIMIT 1 \
             RETURNING serial",
        )
        .bind(&serial)
        .bind(cert.account_id.0)
        .bind(&label)
        .bind(cert.order_id.map(|o| o.0))
        .bind(replaces.as_deref())
        .bind(ts(cert.not_before))
        .bind(ts(cert.not_after))
        .bind(cert.chain_pem)
        .bind(ts(now))
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound { what: "hostname" })?;
        self.get_certificate(&serial).await
    }

    async fn list_certificates(&self, account: AccountId) -> Result<Vec<Certificate>> {
        let rows = sqlx::query(
            "SELECT c.serial, c.account_id, h.label, c.order_id, c.replaces, c.not_before, \
                    c.not_after, c.chain_pem, c.issued_at, c.revoked_at \
             FROM certificates c JOIN hostnames h ON h.id = c.hostname_id \
             WHERE c.account_id = $1 ORDER BY c.issued_at DESC, c.serial DESC",
        )
        .bind(account.0)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(certificate).collect()
    }

    async fn get_certificate(&self, serial: &str) -> Result<Certificate> {
        let serial = check_serial(serial)?;
        let row = sqlx::query(CERTIFICATE_BY_SERIAL)
            .bind(&serial)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound {
                what: "certificate",
            })?;
        certificate(&row)
    }

    async fn revoke_certificate(&self, serial: &str, now: OffsetDateTime) -> Result<()> {
        let serial = check_serial(serial)?;
        let done = sqlx::query(
            "UPDATE certificates SET revoked_at = COALESCE(revoked_at, $2) WHERE serial = $1",
        )
        .bind(&serial)
        .bind(ts(now))
        .execute(&self.pool)
        .await?;
        found(done.rows_affected(), "certificate")
    }

    async fn count_certificates_issued_since(&self, since: OffsetDateTime) -> Result<u64> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM certificates WHERE issued_at >= $1 AND replaces IS NULL",
        )
        .bind(ts(since))
        .fetch_one(&self.pool)
        .await?;
        Ok(count(n))
    }

    async fn count_certificates_for_hostname_since(
        &self,
        hostname: &str,
        since: OffsetDateTime,
    ) -> Result<u64> {
        let label = normalize_label(hostname)?;
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM certificates c JOIN hostnames h ON h.id = c.hostname_id \
             WHERE h.label = $1 AND c.issued_at >= $2 AND c.replaces IS NULL",
        )
        .bind(&label)
        .bind(ts(since))
        .fetch_one(&self.pool)
        .await?;
        Ok(count(n))
    }

    // ---- audit -----------------------------------------------------------------------

    async fn append_audit(&self, event: &NewAuditEvent<'_>) -> Result<()> {
        let (outcome, reason) = event.outcome.columns();
        sqlx::query(
            "INSERT INTO audit_events (at, actor_id, subject_id, client_addr, action, target, \
                                       outcome, reason) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(ts(event.at))
        .bind(event.actor.map(|a| a.0))
        .bind(event.subject.map(|a| a.0))
        .bind(event.client_addr.map(|a| a.to_string()))
        .bind(clip(event.action, 64))
        .bind(event.target.map(|t| clip(t, 256)))
        .bind(outcome)
        .bind(reason.map(|r| clip(r, 1024)))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn list_audit(&self, account: AccountId, limit: u32) -> Result<Vec<AuditEvent>> {
        let rows = sqlx::query(
            "SELECT id, at, actor_id, subject_id, client_addr, action, target, outcome, reason \
             FROM audit_events WHERE actor_id = $1 OR subject_id = $1 \
             ORDER BY at DESC, id DESC LIMIT $2",
        )
        .bind(account.0)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(audit_event).collect()
    }
}
