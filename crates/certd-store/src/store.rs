//! The [`Store`] trait: every read and write aws-sso-certd makes, as one async interface
//! with an SQLite and a PostgreSQL implementation. It owns the contract (what each call
//! guarantees, which error means what); the SQL lives in the backends.
//!
//! Why a trait object through `async_trait`: the service holds one `Arc<dyn Store>` chosen
//! at start-up from the config, and the conformance suite drives both backends through the
//! same `&dyn Store`. Native `async fn` in traits is not object-safe yet; `async_trait`
//! boxes each future, which costs nothing next to a database round trip. An enum over the
//! two backends would work too, but every method would then be a two-arm `match` here.
//!
//! Rules every implementation keeps:
//! - time is always an argument (`now`); the store never reads the clock;
//! - times come back in UTC, truncated to microseconds;
//! - hostname labels and username comparisons are case-insensitive (labels are stored
//!   lowercase; usernames keep the case they were registered with);
//! - multi-row changes happen in one transaction.

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::StoreError;
use crate::types::{
    Account, AccountId, ApiKey, ApiKeyId, AuditEvent, Certificate, ConsumedApiKey, Device,
    DeviceId, EmailPurpose, EmailToken, Hostname, HostnameRules, NewAuditEvent, NewCertificate,
    NewOrder, Order, OrderId, OrderState, OrderUpdate, PasswordHash, PublishedChallenge, Session,
    TokenHash,
};

/// Shorthand for the store's results.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Persistent state of aws-sso-certd. Implementations are cheap to share (`Arc<dyn Store>`).
#[async_trait]
pub trait Store: Send + Sync + std::fmt::Debug {
    /// `"sqlite"` or `"postgres"`, for logs and health output.
    fn backend(&self) -> &'static str;

    /// Closes the connection pool, waiting for connections in use to be returned.
    async fn close(&self);

    // ---- accounts --------------------------------------------------------------------

    /// Creates an account. `UsernameTaken` if any account, live or deleted, has the same
    /// username ignoring case.
    async fn create_account(
        &self,
        username: &str,
        email: &str,
        password_hash: &PasswordHash,
        now: OffsetDateTime,
    ) -> Result<Account>;

    /// The live (not deleted) account with this id; `NotFound` otherwise.
    async fn get_account(&self, id: AccountId) -> Result<Account>;

    /// The live account whose username equals `username` ignoring case; `NotFound` otherwise.
    async fn get_account_by_username(&self, username: &str) -> Result<Account>;

    /// Replaces the password hash; `NotFound` for a missing or deleted account.
    async fn update_password_hash(&self, id: AccountId, hash: &PasswordHash) -> Result<()>;

    /// Records that the account's email address was verified at `at`, if it still is
    /// `email` (ignoring case): one statement, so a concurrent change of address is never
    /// marked verified. `NotFound` otherwise, or for a missing or deleted account.
    async fn mark_email_verified(
        &self,
        id: AccountId,
        email: &str,
        at: OffsetDateTime,
    ) -> Result<()>;

    /// Replaces the account's email address, clears `email_verified_at` and spends all its
    /// unused links, in one transaction (a verification link sent to the old address must
    /// not verify the new one, nor a reset link in the old mailbox outlive the change).
    /// `NotFound` for a missing or deleted account.
    async fn update_email(&self, id: AccountId, email: &str) -> Result<()>;

    /// Disables (`Some(now)`) or re-enables (`None`) an account. Sessions of a disabled
    /// account are not found.
    async fn set_account_disabled(
        &self,
        id: AccountId,
        disabled_at: Option<OffsetDateTime>,
    ) -> Result<()>;

    /// Soft-deletes an account in one transaction: marks it deleted, drops its sessions,
    /// spends its unused emailed links, revokes its API keys and devices, and deletes its
    /// hostnames (which starts their hold). The username stays taken.
    async fn delete_account(&self, id: AccountId, now: OffsetDateTime) -> Result<()>;

    // ---- sessions --------------------------------------------------------------------

    /// Stores a session under the hash of its token.
    async fn create_session(
        &self,
        token_hash: &TokenHash,
        account: AccountId,
        now: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<()>;

    /// The session with this token hash if it has not expired at `now` and its account is
    /// live and enabled; `NotFound` otherwise.
    async fn get_session(&self, token_hash: &TokenHash, now: OffsetDateTime) -> Result<Session>;

    /// Deletes a session (log out); true if it existed.
    async fn delete_session(&self, token_hash: &TokenHash) -> Result<bool>;

    /// Deletes every session expired at `now`; returns how many.
    async fn delete_expired_sessions(&self, now: OffsetDateTime) -> Result<u64>;

    /// Deletes the account's sessions except the one with hash `keep` (log out everywhere
    /// else after a password change; `None` logs out everywhere); returns how many were
    /// deleted.
    async fn delete_sessions_of_account(
        &self,
        account: AccountId,
        keep: Option<&TokenHash>,
    ) -> Result<u64>;

    // ---- emailed links ---------------------------------------------------------------

    /// Stores an emailed link's token hash for `account`, sent to `email`, usable until
    /// `expires_at`. `NotFound` for a missing or deleted account.
    async fn create_email_token(
        &self,
        account: AccountId,
        purpose: EmailPurpose,
        email: &str,
        token_hash: &TokenHash,
        now: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<()>;

    /// Spends a link exactly once, even under concurrency: the token with this hash and
    /// purpose, unused, not expired at `now`, whose account is live. In the same
    /// transaction every other unused token of that account and purpose is spent too (the
    /// newest link sent does not outlive the one used). `NotFound` otherwise: unknown,
    /// used, expired, wrong purpose and deleted account are one error, so a caller cannot
    /// be made an oracle for which tokens exist.
    async fn consume_email_token(
        &self,
        token_hash: &TokenHash,
        purpose: EmailPurpose,
        now: OffsetDateTime,
    ) -> Result<EmailToken>;

    /// How many links of `purpose` were created for the account at or after `since`
    /// (used or not: resend limits).
    async fn count_email_tokens_since(
        &self,
        account: AccountId,
        purpose: EmailPurpose,
        since: OffsetDateTime,
    ) -> Result<u64>;

    /// Deletes tokens that expired before `older_than`, used or not; returns how many.
    async fn prune_email_tokens(&self, older_than: OffsetDateTime) -> Result<u64>;

    // ---- hostnames -------------------------------------------------------------------

    /// Registers `label` (lowercased) for `account`. Refusals: `HostnameTaken` (a live
    /// registration exists, anyone's), `HostnameHeld { until }` (another account deleted
    /// it less than `rules.hold` ago; the account that deleted it may take it back),
    /// `HostnameLimit` (the account has `rules.max_per_account` live names).
    async fn register_hostname(
        &self,
        account: AccountId,
        label: &str,
        rules: HostnameRules,
        now: OffsetDateTime,
    ) -> Result<Hostname>;

    /// The account's live hostnames, by label.
    async fn list_hostnames(&self, account: AccountId) -> Result<Vec<Hostname>>;

    /// Every live label, sorted (what the DNS server answers A records for).
    async fn list_all_labels(&self) -> Result<Vec<String>>;

    /// Deletes the account's live hostname `label` (starting its hold) and, in the same
    /// transaction, revokes the API keys and devices bound to it. `NotFound` if the
    /// account has no such live hostname.
    async fn delete_hostname(
        &self,
        account: AccountId,
        label: &str,
        now: OffsetDateTime,
    ) -> Result<()>;

    /// How many live hostnames the account has.
    async fn count_hostnames(&self, account: AccountId) -> Result<u64>;

    // ---- API keys --------------------------------------------------------------------

    /// Stores a new API key (its hash and display prefix) for one of the account's live
    /// hostnames; `NotFound` if the hostname is not the account's.
    async fn create_api_key(
        &self,
        account: AccountId,
        hostname: &str,
        prefix: &str,
        key_hash: &TokenHash,
        now: OffsetDateTime,
    ) -> Result<ApiKey>;

    /// The account's API keys, newest first (including revoked and consumed ones).
    async fn list_api_keys(&self, account: AccountId) -> Result<Vec<ApiKey>>;

    /// Revokes one of the account's keys (idempotent); `NotFound` if not the account's.
    async fn revoke_api_key(
        &self,
        account: AccountId,
        id: ApiKeyId,
        now: OffsetDateTime,
    ) -> Result<()>;

    /// Marks the key with this hash used, exactly once even under concurrency. Refusals:
    /// `ApiKeyNotFound`, `ApiKeyRevoked`, `ApiKeyConsumed`.
    async fn consume_api_key(
        &self,
        key_hash: &TokenHash,
        now: OffsetDateTime,
    ) -> Result<ConsumedApiKey>;

    /// Enrollment in one transaction: consumes the API key (as [`Store::consume_api_key`])
    /// and stores the Ed25519 public key as a device of the key's account and hostname.
    /// `DeviceKeyInUse` if that public key is enrolled already (the key is then not consumed).
    async fn enroll_device(
        &self,
        key_hash: &TokenHash,
        public_key: &[u8; 32],
        now: OffsetDateTime,
    ) -> Result<Device>;

    // ---- devices ---------------------------------------------------------------------

    /// A device by id, revoked or not (the caller refuses revoked devices).
    async fn get_device(&self, id: DeviceId) -> Result<Device>;

    /// The account's devices, newest first.
    async fn list_devices(&self, account: AccountId) -> Result<Vec<Device>>;

    /// Revokes one of the account's devices (idempotent); `NotFound` if not the account's.
    async fn revoke_device(
        &self,
        account: AccountId,
        id: DeviceId,
        now: OffsetDateTime,
    ) -> Result<()>;

    // ---- request nonces --------------------------------------------------------------

    /// Records that `device` used `nonce` at `now`; `NonceReplayed` if it was used before
    /// (and not yet pruned: keep nonces at least as long as signatures are accepted).
    async fn use_nonce(&self, device: DeviceId, nonce: &str, now: OffsetDateTime) -> Result<()>;

    /// Deletes nonces seen before `older_than`; returns how many.
    async fn prune_nonces(&self, older_than: OffsetDateTime) -> Result<u64>;

    // ---- ACME orders -----------------------------------------------------------------

    /// Records a new order in state `Pending` for one of the account's live hostnames;
    /// `NotFound` if the hostname is not the account's.
    async fn create_order(&self, order: NewOrder<'_>, now: OffsetDateTime) -> Result<Order>;

    /// An order by id.
    async fn get_order(&self, id: OrderId) -> Result<Order>;

    /// Moves an order from `expected` (compared by state name) to `update.state`, storing
    /// the update's values. `StaleState` if the order is no longer in `expected` (another
    /// worker moved it), `IllegalTransition` if the state machine forbids the move.
    async fn update_order(
        &self,
        id: OrderId,
        expected: &OrderState,
        update: &OrderUpdate,
        now: OffsetDateTime,
    ) -> Result<Order>;

    /// Orders not yet `Valid`, `Invalid` or `Failed`, oldest first: what to resume after a
    /// restart.
    async fn list_unfinished_orders(&self) -> Result<Vec<Order>>;

    /// TXT values of orders in `ChallengePublished` that have one, by order id: what the
    /// DNS server publishes at `_acme-challenge.<hostname>`.
    async fn list_published_challenges(&self) -> Result<Vec<PublishedChallenge>>;

    // ---- certificates ----------------------------------------------------------------

    /// Records an issued certificate at `now`; `NotFound` if the hostname was never the
    /// account's.
    async fn insert_certificate(
        &self,
        cert: NewCertificate<'_>,
        now: OffsetDateTime,
    ) -> Result<Certificate>;

    /// The account's certificates, newest first.
    async fn list_certificates(&self, account: AccountId) -> Result<Vec<Certificate>>;

    /// A certificate by serial (lowercase hex).
    async fn get_certificate(&self, serial: &str) -> Result<Certificate>;

    /// Marks a certificate revoked (idempotent: the first time is kept).
    async fn revoke_certificate(&self, serial: &str, now: OffsetDateTime) -> Result<()>;

    /// Certificates recorded at or after `since`, not counting ARI renewals (`replaces`
    /// set; exempt from CA limits): the zone's weekly budget with `since = now - 7 days`.
    async fn count_certificates_issued_since(&self, since: OffsetDateTime) -> Result<u64>;

    /// Like [`Store::count_certificates_issued_since`] for one hostname label (the
    /// duplicate-certificate limit, or the budget when the zone is a public suffix).
    async fn count_certificates_for_hostname_since(
        &self,
        hostname: &str,
        since: OffsetDateTime,
    ) -> Result<u64>;

    // ---- audit -----------------------------------------------------------------------

    /// Appends an audit entry.
    async fn append_audit(&self, event: &NewAuditEvent<'_>) -> Result<()>;

    /// The account's trail (entries where it is actor or subject), newest first, at most
    /// `limit` entries.
    async fn list_audit(&self, account: AccountId, limit: u32) -> Result<Vec<AuditEvent>>;
}
