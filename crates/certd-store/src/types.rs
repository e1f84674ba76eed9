//! The values the store takes and returns: ids, hashed credentials, entities and the
//! order state machine. Pure data and validation; no SQL, no I/O, no clock.

use std::fmt;
use std::net::IpAddr;

use time::OffsetDateTime;

use crate::StoreError;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub i64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id_type!(
    /// An account's database id.
    AccountId
);
id_type!(
    /// An API key's database id (not the key, not its hash).
    ApiKeyId
);
id_type!(
    /// An enrolled device's database id.
    DeviceId
);
id_type!(
    /// An ACME order's database id.
    OrderId
);

/// An Argon2id password hash in PHC string form (`$argon2id$v=19$...`), computed by the
/// caller. Not a credential, but offline-crackable: redacted in `Debug`, no `Display`.
pub struct PasswordHash(String);

impl PasswordHash {
    /// Wraps a PHC string; refuses anything that is not an Argon2id PHC string, so a
    /// plaintext password cannot be stored by mistake.
    pub fn from_phc(phc: String) -> Result<Self, StoreError> {
        if !phc.starts_with("$argon2id$") || phc.len() > 512 {
            return Err(StoreError::InvalidInput {
                what: "password hash",
                reason: "expected an Argon2id PHC string ($argon2id$...)",
            });
        }
        Ok(Self(phc))
    }

    /// The PHC string, for the password verifier.
    pub fn as_phc(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordHash(<redacted>)")
    }
}

/// The SHA-256 of a bearer secret (session token, API key) as 64 lowercase hex digits,
/// computed by the caller. The store only ever sees these, never the secret itself.
pub struct TokenHash(String);

impl TokenHash {
    /// Wraps a SHA-256 hex digest; refuses anything else (so a raw token cannot be stored
    /// by mistake).
    pub fn from_hex(hex: &str) -> Result<Self, StoreError> {
        let ok = hex.len() == 64
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if !ok {
            return Err(StoreError::InvalidInput {
                what: "token hash",
                reason: "expected a SHA-256 digest as 64 lowercase hex digits",
            });
        }
        Ok(Self(hex.to_owned()))
    }

    /// The hex digest, for the query.
    pub fn as_hex(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenHash(<redacted>)")
    }
}

/// A user account. Deleted accounts are never returned.
#[derive(Debug)]
pub struct Account {
    /// Database id.
    pub id: AccountId,
    /// The username as registered (unique case-insensitively).
    pub username: String,
    /// Argon2id PHC string.
    pub password_hash: PasswordHash,
    /// Contact address.
    pub email: String,
    /// When the address was verified, if it was.
    pub email_verified_at: Option<OffsetDateTime>,
    /// Creation time.
    pub created_at: OffsetDateTime,
    /// Set while the account is disabled (sessions stop working; data kept).
    pub disabled_at: Option<OffsetDateTime>,
}

/// A live login session (found by the hash of its cookie value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The account logged in.
    pub account_id: AccountId,
    /// Login time.
    pub created_at: OffsetDateTime,
    /// The session stops working at this instant.
    pub expires_at: OffsetDateTime,
}

/// What an emailed link is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailPurpose {
    /// Proves the account owns its email address.
    Verify,
    /// Lets the account set a new password.
    ResetPassword,
}

impl EmailPurpose {
    /// The name stored in the `purpose` column: `"verify"` or `"reset"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Verify => "verify",
            Self::ResetPassword => "reset",
        }
    }
}

/// A consumed emailed link: whose it was, what for, and where it was sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailToken {
    /// The account the link was sent for.
    pub account_id: AccountId,
    /// What the link is for.
    pub purpose: EmailPurpose,
    /// The address the link was sent to (for `Verify`: the address it proves).
    pub email: String,
    /// When the link was created.
    pub created_at: OffsetDateTime,
    /// The link stops working at this instant.
    pub expires_at: OffsetDateTime,
}

/// How hostname registration is limited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostnameRules {
    /// How long a deleted label stays unavailable to other accounts (90 days in production:
    /// the longest a certificate for it can still be valid).
    pub hold: time::Duration,
    /// Most live hostnames one account may hold.
    pub max_per_account: u32,
}

/// A registered hostname (a DNS label under the service's zone).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hostname {
    /// Lowercase DNS label.
    pub label: String,
    /// Owner.
    pub account_id: AccountId,
    /// Registration time.
    pub created_at: OffsetDateTime,
}

/// An API key as its owner sees it in a listing: never the key, never its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    /// Database id.
    pub id: ApiKeyId,
    /// The first characters of the key, shown so users can tell keys apart.
    pub prefix: String,
    /// Owner.
    pub account_id: AccountId,
    /// The hostname a device enrolled with this key gets.
    pub hostname: String,
    /// Creation time.
    pub created_at: OffsetDateTime,
    /// Last time the key was presented successfully.
    pub last_used_at: Option<OffsetDateTime>,
    /// Revocation time.
    pub revoked_at: Option<OffsetDateTime>,
    /// When it was used to enroll a device (keys are single-use).
    pub consumed_at: Option<OffsetDateTime>,
}

/// What consuming an API key yields: whose it was and which hostname it grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumedApiKey {
    /// The key consumed.
    pub id: ApiKeyId,
    /// Its owner.
    pub account_id: AccountId,
    /// Its hostname label.
    pub hostname: String,
}

/// An enrolled device: an Ed25519 public key bound to an account and hostname.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    /// Database id (the key id in request signatures).
    pub id: DeviceId,
    /// Owner.
    pub account_id: AccountId,
    /// The hostname this device may get certificates for.
    pub hostname: String,
    /// Raw Ed25519 public key.
    pub public_key: [u8; 32],
    /// Enrollment time.
    pub created_at: OffsetDateTime,
    /// Revocation time (revoked devices are refused).
    pub revoked_at: Option<OffsetDateTime>,
}

/// Where an ACME order is. Transitions only move forward:
/// `Pending → ChallengePublished → Ready → Valid`, with `Pending → Ready` allowed (the CA
/// reused a valid authorization), any unfinished state may go to `Invalid` or `Failed`,
/// and a state may be "updated" to itself to record a URL or TXT value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderState {
    /// Accepted; the ACME order may or may not exist at the CA yet.
    Pending,
    /// The `_acme-challenge` TXT value is published and the CA was (or is about to be)
    /// told to validate.
    ChallengePublished,
    /// Authorizations are valid; the order can be finalized with the CSR.
    Ready,
    /// The certificate was issued.
    Valid,
    /// The CA declared the order invalid.
    Invalid,
    /// We gave up (restart mid-order that cannot resume, timeout, local error).
    Failed {
        /// Why, for the user and the audit log.
        reason: String,
    },
}

impl OrderState {
    /// The name stored in the `state` column.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::ChallengePublished => "challenge_published",
            Self::Ready => "ready",
            Self::Valid => "valid",
            Self::Invalid => "invalid",
            Self::Failed { .. } => "failed",
        }
    }

    /// True for `Valid`, `Invalid` and `Failed`: nothing more will happen to the order.
    pub fn is_finished(&self) -> bool {
        matches!(self, Self::Valid | Self::Invalid | Self::Failed { .. })
    }

    /// Whether the state machine allows going from `self` to `next`.
    pub fn can_become(&self, next: &OrderState) -> bool {
        if self.is_finished() {
            return false;
        }
        match next {
            Self::Invalid | Self::Failed { .. } => true,
            _ => self.rank() <= next.rank(),
        }
    }

    fn rank(&self) -> u8 {
        match self {
            Self::Pending => 0,
            Self::ChallengePublished => 1,
            Self::Ready => 2,
            Self::Valid | Self::Invalid | Self::Failed { .. } => 3,
        }
    }

    /// Rebuilds a state from its column values (`error` carries the `Failed` reason).
    pub(crate) fn from_columns(name: &str, error: Option<&str>) -> Result<Self, StoreError> {
        Ok(match name {
            "pending" => Self::Pending,
            "challenge_published" => Self::ChallengePublished,
            "ready" => Self::Ready,
            "valid" => Self::Valid,
            "invalid" => Self::Invalid,
            "failed" => Self::Failed {
                reason: error.unwrap_or_default().to_owned(),
            },
            other => {
                return Err(StoreError::Corrupt {
                    what: "order state",
                    reason: format!("unknown state {other:?}"),
                });
            }
        })
    }

    /// The static name of a stored state string (for error fields).
    pub(crate) fn static_name(name: &str) -> &'static str {
        Self::from_columns(name, None).map_or("unknown", |s| s.name())
    }
}

/// A new ACME order for a CSR.
#[derive(Debug, Clone, Copy)]
pub struct NewOrder<'a> {
    /// Owner.
    pub account_id: AccountId,
    /// The device that asked (None for orders started by the service, e.g. renewals).
    pub device_id: Option<DeviceId>,
    /// The owner's hostname label the CSR names.
    pub hostname: &'a str,
    /// The CSR, DER.
    pub csr_der: &'a [u8],
}

/// One step of an order: the new state and the values learned on the way. `None` fields
/// keep what is stored; the `Failed` reason is stored as the order's error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderUpdate {
    /// The state to move to.
    pub state: OrderState,
    /// The ACME order URL, once the CA created the order.
    pub acme_order_url: Option<String>,
    /// The TXT value for `_acme-challenge.<hostname>`, while it is published.
    pub challenge_txt: Option<String>,
    /// The last error seen (CA problem document, local failure).
    pub error: Option<String>,
}

impl OrderUpdate {
    /// An update that only changes the state.
    pub fn to(state: OrderState) -> Self {
        Self {
            state,
            acme_order_url: None,
            challenge_txt: None,
            error: None,
        }
    }
}

/// A persisted ACME order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    /// Database id.
    pub id: OrderId,
    /// Owner.
    pub account_id: AccountId,
    /// The device that asked, if any.
    pub device_id: Option<DeviceId>,
    /// Hostname label.
    pub hostname: String,
    /// The CSR, DER.
    pub csr_der: Vec<u8>,
    /// Current state.
    pub state: OrderState,
    /// The ACME order URL once known.
    pub acme_order_url: Option<String>,
    /// The TXT value while known.
    pub challenge_txt: Option<String>,
    /// The last error, if any.
    pub error: Option<String>,
    /// Creation time.
    pub created_at: OffsetDateTime,
    /// Time of the last update.
    pub updated_at: OffsetDateTime,
}

/// A TXT record an order in `ChallengePublished` wants served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedChallenge {
    /// The order.
    pub order_id: OrderId,
    /// Hostname label (the record is `_acme-challenge.<label>.<zone>`).
    pub hostname: String,
    /// The TXT value.
    pub txt: String,
}

/// A certificate to record after issuance.
#[derive(Debug, Clone, Copy)]
pub struct NewCertificate<'a> {
    /// Serial number, lowercase hex.
    pub serial: &'a str,
    /// Owner.
    pub account_id: AccountId,
    /// Hostname label it names.
    pub hostname: &'a str,
    /// The order that produced it.
    pub order_id: Option<OrderId>,
    /// Serial of the certificate this one replaces through ARI (exempt from CA limits).
    pub replaces: Option<&'a str>,
    /// Validity start.
    pub not_before: OffsetDateTime,
    /// Validity end.
    pub not_after: OffsetDateTime,
    /// Leaf and intermediates, PEM.
    pub chain_pem: &'a str,
}

/// An issued certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certificate {
    /// Serial number, lowercase hex.
    pub serial: String,
    /// Owner.
    pub account_id: AccountId,
    /// Hostname label.
    pub hostname: String,
    /// The order that produced it.
    pub order_id: Option<OrderId>,
    /// The certificate this one replaced through ARI, if any.
    pub replaces: Option<String>,
    /// Validity start.
    pub not_before: OffsetDateTime,
    /// Validity end.
    pub not_after: OffsetDateTime,
    /// Leaf and intermediates, PEM.
    pub chain_pem: String,
    /// When it was recorded (the issuance time for rate-limit counting).
    pub issued_at: OffsetDateTime,
    /// Revocation time.
    pub revoked_at: Option<OffsetDateTime>,
}

/// How an audited action ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// It happened.
    Ok,
    /// It was refused (bad password, foreign hostname, replayed nonce...).
    Denied {
        /// The refusal code or reason.
        reason: String,
    },
    /// It failed on our side or the CA's.
    Error {
        /// What failed.
        reason: String,
    },
}

impl Outcome {
    pub(crate) fn columns(&self) -> (&'static str, Option<&str>) {
        match self {
            Self::Ok => ("ok", None),
            Self::Denied { reason } => ("denied", Some(reason)),
            Self::Error { reason } => ("error", Some(reason)),
        }
    }

    pub(crate) fn from_columns(name: &str, reason: Option<String>) -> Result<Self, StoreError> {
        let reason = reason.unwrap_or_default();
        Ok(match name {
            "ok" => Self::Ok,
            "denied" => Self::Denied { reason },
            "error" => Self::Error { reason },
            other => {
                return Err(StoreError::Corrupt {
                    what: "audit outcome",
                    reason: format!("unknown outcome {other:?}"),
                });
            }
        })
    }
}

/// An audit entry to append.
#[derive(Debug, Clone)]
pub struct NewAuditEvent<'a> {
    /// When it happened.
    pub at: OffsetDateTime,
    /// Who did it (None: anonymous, or the service itself).
    pub actor: Option<AccountId>,
    /// Whose trail it belongs in, when that differs from the actor (a failed login
    /// against an account shows up in that account's trail).
    pub subject: Option<AccountId>,
    /// The client's address.
    pub client_addr: Option<IpAddr>,
    /// A stable action code (`account.create`, `login`, `hostname.delete`, ...).
    pub action: &'a str,
    /// What was acted on (a label, a key prefix, a serial), never a secret.
    pub target: Option<&'a str>,
    /// How it ended.
    pub outcome: Outcome,
}

/// A stored audit entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    /// Database id (increases with insertion).
    pub id: i64,
    /// When it happened.
    pub at: OffsetDateTime,
    /// Who did it.
    pub actor: Option<AccountId>,
    /// Whose trail it belongs in.
    pub subject: Option<AccountId>,
    /// The client's address.
    pub client_addr: Option<IpAddr>,
    /// Action code.
    pub action: String,
    /// What was acted on.
    pub target: Option<String>,
    /// How it ended.
    pub outcome: Outcome,
}

/// Lowercases a hostname label and checks it is a plausible DNS label (1-63 bytes of
/// `[a-z0-9-]`). Policy (reserved names, hyphen rules) belongs to the caller.
pub(crate) fn normalize_label(label: &str) -> Result<String, StoreError> {
    let label = label.to_ascii_lowercase();
    let ok = (1..=63).contains(&label.len())
        && label
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !ok {
        return Err(StoreError::InvalidInput {
            what: "hostname label",
            reason: "expected 1-63 characters of [a-z0-9-]",
        });
    }
    Ok(label)
}

/// Parses a stored client address.
pub(crate) fn parse_addr(addr: Option<String>) -> Result<Option<IpAddr>, StoreError> {
    addr.map(|a| {
        a.parse().map_err(|_| StoreError::Corrupt {
            what: "audit client address",
            reason: format!("not an IP address: {a:?}"),
        })
    })
    .transpose()
}

/// Converts a stored public key to its fixed size.
pub(crate) fn public_key(bytes: Vec<u8>) -> Result<[u8; 32], StoreError> {
    bytes.try_into().map_err(|b: Vec<u8>| StoreError::Corrupt {
        what: "device public key",
        reason: format!("{} bytes, expected 32", b.len()),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;

    #[test]
    fn hashes_refuse_plaintext_and_redact() {
        assert!(TokenHash::from_hex("certd_k_plaintext").is_err());
        assert!(
            TokenHash::from_hex(&"A".repeat(64)).is_err(),
            "lowercase only"
        );
        let h = TokenHash::from_hex(&"ab".repeat(32)).unwrap();
        assert_eq!(format!("{h:?}"), "TokenHash(<redacted>)");
        assert!(PasswordHash::from_phc("hunter2hunter2".into()).is_err());
        let p =
            PasswordHash::from_phc("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into()).unwrap();
        assert_eq!(format!("{p:?}"), "PasswordHash(<redacted>)");
    }

    #[test]
    fn email_purposes_have_stable_column_names() {
        assert_eq!(EmailPurpose::Verify.as_str(), "verify");
        assert_eq!(EmailPurpose::ResetPassword.as_str(), "reset");
    }

    #[test]
    fn order_transitions_only_move_forward() {
        use OrderState::*;
        let failed = Failed { reason: "x".into() };
        assert!(Pending.can_become(&ChallengePublished));
        assert!(Pending.can_become(&Ready), "authorization reused");
        assert!(ChallengePublished.can_become(&ChallengePublished));
        assert!(Ready.can_become(&Valid));
        assert!(Ready.can_become(&failed));
        assert!(!Ready.can_become(&Pending));
        assert!(!Valid.can_become(&failed));
        assert!(!failed.can_become(&Pending));
        assert!(!Invalid.can_become(&Invalid));
    }

    #[test]
    fn labels_are_lowercased_and_bounded() {
        assert_eq!(normalize_label("MyBox").unwrap(), "mybox");
        assert!(normalize_label("").is_err());
        assert!(normalize_label(&"a".repeat(64)).is_err());
        assert!(normalize_label("a.b").is_err());
    }
}
