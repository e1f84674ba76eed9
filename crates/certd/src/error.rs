//! Every refusal and failure of certd's JSON API: one variant per cause, each with its own
//! greppable code (`CDxxxx`), an HTTP status, and the envelope
//! `{"error":{"code","message"}}`. 5xx bodies hide internals; the cause is logged once.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use certd_store::StoreError;

use crate::validate::InputError;

/// A refusal or failure of the API.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Bad user input (username, password, email, hostname rules).
    #[error(transparent)]
    Input(#[from] InputError),
    /// The JSON body is malformed or has unknown fields.
    #[error("invalid JSON body: {0}")]
    BadJson(String),
    /// The username is taken.
    #[error("username is taken")]
    UsernameTaken,
    /// Wrong username or password (one message for both).
    #[error("wrong username or password")]
    BadLogin,
    /// No valid session cookie.
    #[error("log in first")]
    NotLoggedIn,
    /// The account's email address is not verified yet.
    #[error(
        "verify your email address first: follow the link we mailed you (the dashboard can send another)"
    )]
    EmailNotVerified,
    /// The email address is verified already.
    #[error("the email address is already verified")]
    AlreadyVerified,
    /// A form without the right anti-forgery token (another site's, or an old page).
    #[error("the form expired or came from another site: reload the page and try again")]
    BadCsrf,
    /// An emailed link that is unknown, used or expired (one message: no oracle).
    #[error("this link is invalid, already used or expired")]
    BadLink,
    /// The current password given to confirm a change is wrong.
    #[error("the current password is wrong")]
    WrongPassword,
    /// A form post with missing or malformed fields.
    #[error("the form is incomplete: reload the page and try again")]
    BadForm,
    /// The username typed to confirm a deletion is not the account's.
    #[error("type your username to confirm")]
    ConfirmationMismatch,
    /// The mail could not be handed to the mail server (logged, not shown).
    #[error("cannot send mail right now; try again later")]
    MailFailed(String),
    /// A hostname is taken or held back.
    #[error("{0}")]
    HostnameUnavailable(String),
    /// The account holds the most hostnames allowed.
    #[error("{0}")]
    HostnameLimit(String),
    /// The hostname is not the caller's.
    #[error("hostname {0:?} is not registered to this account")]
    NotYourHostname(String),
    /// The API key is unknown, consumed or revoked (one message: no oracle).
    #[error("the API key is not valid (unknown, already used or revoked)")]
    BadApiKey,
    /// The public key is not 32 bytes of base64.
    #[error("public_key must be an Ed25519 public key: 32 bytes, base64")]
    BadPublicKey,
    /// The device key is already enrolled.
    #[error("this device key is already enrolled")]
    DeviceKeyInUse,
    /// A signed request failed verification.
    #[error("request signature refused: {0}")]
    BadSignature(String),
    /// The device is unknown or revoked.
    #[error("the device is unknown or revoked: enroll it again with a new API key")]
    BadDevice,
    /// The nonce was used before.
    #[error("request replayed: the nonce was already used")]
    Replayed,
    /// Something named does not exist (for this account).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// Too many attempts.
    #[error("too many requests: try again in {retry_after} seconds")]
    RateLimited {
        /// Seconds until the limit resets.
        retry_after: u64,
    },
    /// The body is larger than accepted.
    #[error("request body too large")]
    TooLarge,
    /// The CSR breaks the policy.
    #[error("CSR refused: {0}")]
    BadCsr(#[from] pki::csr::CsrError),
    /// The zone's weekly certificate budget (Let's Encrypt: 50 per registered domain) is spent.
    #[error(
        "this week's certificate budget for the zone is spent ({issued} of {budget}); try again in {retry_after} seconds"
    )]
    ZoneBudget {
        /// Issued in the last 7 days.
        issued: u64,
        /// The budget.
        budget: u64,
        /// Seconds until the oldest of them leaves the window.
        retry_after: u64,
    },
    /// The CA rate-limited the request.
    #[error("the certificate authority rate-limited this request: {detail}")]
    CaRateLimited {
        /// The CA's words.
        detail: String,
        /// Seconds to wait.
        retry_after: u64,
    },
    /// The CA could not validate the name.
    #[error("{0}")]
    CaValidation(String),
    /// The CA refused for another reason.
    #[error("the certificate authority refused: {0}")]
    CaRefused(String),
    /// The CA cannot be reached.
    #[error("the certificate authority cannot be reached: {0}")]
    CaUnavailable(String),
    /// Another order for the same name is under way.
    #[error("a certificate for {0} is being issued right now; wait for it to finish and ask again")]
    OrderInProgress(String),
    /// The device was revoked (its name or account deleted) while the CA was issuing.
    #[error(
        "the device was revoked, or its name or account deleted, while the certificate for {0} was being issued: the certificate was revoked at once"
    )]
    RevokedDuringOrder(String),
    /// A value in the path or body that no stored row can have (a serial that is not hex).
    #[error("{0}")]
    BadValue(String),
    /// Anything the caller cannot fix (database down...): logged, not shown.
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    /// Greppable code and status of each variant.
    pub fn code_status(&self) -> (&'static str, StatusCode) {
        use StatusCode as S;
        match self {
            ApiError::Input(_) => ("CD1001", S::BAD_REQUEST),
            ApiError::BadJson(_) => ("CD1002", S::BAD_REQUEST),
            ApiError::UsernameTaken => ("CD1003", S::CONFLICT),
            ApiError::BadLogin => ("CD2001", S::UNAUTHORIZED),
            ApiError::NotLoggedIn => ("CD2002", S::UNAUTHORIZED),
            ApiError::EmailNotVerified => ("CD2003", S::FORBIDDEN),
            ApiError::BadCsrf => ("CD2004", S::FORBIDDEN),
            ApiError::BadLink => ("CD2005", S::BAD_REQUEST),
            ApiError::WrongPassword => ("CD2006", S::FORBIDDEN),
            ApiError::AlreadyVerified => ("CD2007", S::CONFLICT),
            ApiError::ConfirmationMismatch => ("CD1004", S::BAD_REQUEST),
            ApiError::BadForm => ("CD1005", S::BAD_REQUEST),
            ApiError::BadValue(_) => ("CD1006", S::BAD_REQUEST),
            ApiError::MailFailed(_) => ("CD9002", S::BAD_GATEWAY),
            ApiError::HostnameUnavailable(_) => ("CD3001", S::CONFLICT),
            ApiError::HostnameLimit(_) => ("CD3002", S::FORBIDDEN),
            ApiError::NotYourHostname(_) => ("CD3003", S::FORBIDDEN),
            ApiError::BadApiKey => ("CD4001", S::UNAUTHORIZED),
            ApiError::BadPublicKey => ("CD4002", S::BAD_REQUEST),
            ApiError::DeviceKeyInUse => ("CD4003", S::CONFLICT),
            ApiError::BadSignature(_) => ("CD5001", S::UNAUTHORIZED),
            ApiError::BadDevice => ("CD5002", S::UNAUTHORIZED),
            ApiError::Replayed => ("CD5003", S::UNAUTHORIZED),
            ApiError::NotFound(_) => ("CD6001", S::NOT_FOUND),
            ApiError::RateLimited { .. } => ("CD7001", S::TOO_MANY_REQUESTS),
            ApiError::TooLarge => ("CD7002", S::PAYLOAD_TOO_LARGE),
            ApiError::BadCsr(_) => ("CD8001", S::BAD_REQUEST),
            ApiError::ZoneBudget { .. } => ("CD8002", S::TOO_MANY_REQUESTS),
            ApiError::CaRateLimited { .. } => ("CD8003", S::TOO_MANY_REQUESTS),
            ApiError::CaValidation(_) => ("CD8004", S::BAD_GATEWAY),
            ApiError::CaRefused(_) => ("CD8005", S::BAD_GATEWAY),
            ApiError::CaUnavailable(_) => ("CD8006", S::SERVICE_UNAVAILABLE),
            ApiError::OrderInProgress(_) => ("CD8007", S::CONFLICT),
            ApiError::RevokedDuringOrder(_) => ("CD8008", S::CONFLICT),
            ApiError::Internal(_) => ("CD9001", S::INTERNAL_SERVER_ERROR),
        }
    }

    /// The outcome reason written to the audit log.
    pub fn audit_reason(&self) -> String {
        let (code, _) = self.code_status();
        match self {
            ApiError::Internal(_) => format!("{code} internal error"),
            // serde's message can quote what the client sent (a pasted secret).
            ApiError::BadJson(_) => format!("{code} invalid JSON body"),
            ApiError::MailFailed(cause) => format!("{code} mail not sent: {cause}"),
            other => format!("{code} {other}"),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::UsernameTaken => ApiError::UsernameTaken,
            e @ (StoreError::HostnameTaken { .. } | StoreError::HostnameHeld { .. }) => {
                ApiError::HostnameUnavailable(e.to_string())
            }
            e @ StoreError::HostnameLimit { .. } => ApiError::HostnameLimit(e.to_string()),
            StoreError::ApiKeyNotFound | StoreError::ApiKeyConsumed | StoreError::ApiKeyRevoked => {
                ApiError::BadApiKey
            }
            StoreError::DeviceKeyInUse => ApiError::DeviceKeyInUse,
            StoreError::NonceReplayed => ApiError::Replayed,
            StoreError::NotFound { what } => ApiError::NotFound(what),
            // Input no row can hold (a serial that is not hex...): the caller's mistake.
            e @ StoreError::InvalidInput { .. } => ApiError::BadValue(e.to_string()),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (code, status) = self.code_status();
        match &self {
            ApiError::Internal(cause) => {
                tracing::error!(error.code = code, cause = %cause, "request failed");
            }
            ApiError::MailFailed(cause) => {
                tracing::error!(error.code = code, cause = %cause, "cannot send mail");
            }
            // The parser's message can quote what the client sent (a password in the
            // wrong field): the client sees it, the log does not.
            ApiError::BadJson(_) => {
                tracing::info!(
                    error.code = code,
                    http.status = status.as_u16(),
                    "invalid JSON body"
                );
            }
            _ => tracing::info!(error.code = code, http.status = status.as_u16(), "{self}"),
        }
        let body = serde_json::json!({"error": {"code": code, "message": self.to_string()}});
        let mut resp = (status, Json(body)).into_response();
        let retry = match self {
            ApiError::RateLimited { retry_after }
            | ApiError::ZoneBudget { retry_after, .. }
            | ApiError::CaRateLimited { retry_after, .. } => Some(retry_after),
            _ => None,
        };
        if let Some(retry_after) = retry
            && let Ok(v) = axum::http::HeaderValue::from_str(&retry_after.to_string())
        {
            resp.headers_mut()
                .insert(axum::http::header::RETRY_AFTER, v);
        }
        resp
    }
}
