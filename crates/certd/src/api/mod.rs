//! The JSON API under `/api/v1`: handlers named `<verb>_<resource>`, one module per
//! resource, every state change written to the audit log.

mod accounts;
mod certificates;
mod devices;
mod hostnames;
mod keys;

pub(crate) use crate::service::audited;
pub use certificates::WEEKLY_BUDGET;
pub(crate) use certificates::store_certificate;

use axum::Router;
use axum::body::Bytes;
use axum::extract::DefaultBodyLimit;
use axum::extract::rejection::BytesRejection;
use axum::routing::{delete, get, post};
use serde::de::DeserializeOwned;

use crate::error::ApiError;
use crate::state::AppState;

/// Largest request body.
pub const MAX_BODY: usize = 64 * 1024;

/// The API routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/accounts", post(accounts::create_account))
        .route(
            "/api/v1/session",
            post(accounts::create_session).delete(accounts::delete_session),
        )
        .route("/api/v1/audit", get(accounts::list_audit))
        .route("/api/v1/email/verify", post(accounts::verify_email))
        .route("/api/v1/email/resend", post(accounts::resend_verification))
        .route(
            "/api/v1/hostnames",
            get(hostnames::list_hostnames).post(hostnames::create_hostname),
        )
        .route(
            "/api/v1/hostnames/{label}",
            delete(hostnames::delete_hostname),
        )
        .route(
            "/api/v1/api-keys",
            get(keys::list_api_keys).post(keys::create_api_key),
        )
        .route("/api/v1/api-keys/{id}", delete(keys::revoke_api_key))
        .route("/api/v1/enroll", post(devices::enroll_device))
        .route("/api/v1/devices", get(devices::list_devices))
        .route("/api/v1/devices/{id}", delete(devices::revoke_device))
        .route("/api/v1/device", get(devices::get_device))
        .route(
            "/api/v1/certificates",
            get(certificates::list_certificates).post(certificates::create_certificate),
        )
        .route(
            "/api/v1/certificates/{serial}",
            delete(certificates::revoke_certificate),
        )
        .layer(DefaultBodyLimit::max(MAX_BODY))
}

/// The body, or the API's own refusal (`CD7002` over [`MAX_BODY`]) instead of axum's
/// plain-text one.
pub(crate) fn body(body: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    body.map_err(|e| {
        if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::TooLarge
        } else {
            ApiError::BadJson(e.body_text())
        }
    })
}

/// Parses a JSON body strictly (unknown fields refused by the types).
pub(crate) fn json<T: DeserializeOwned>(
    body: Result<Bytes, BytesRejection>,
) -> Result<T, ApiError> {
    let body = self::body(body)?;
    serde_json::from_slice(&body).map_err(|e| ApiError::BadJson(e.to_string()))
}
