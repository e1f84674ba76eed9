//! Every answer of the ECS server that is not credentials: one variant per refusal, each
//! mapped to a status and aws-sso-cli's `{"code","message"}` envelope.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use wire::ecs::{LoadError, Message};

/// A refusal or failure of the ECS API.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No `Authorization` header.
    #[error("Missing authorization token")]
    MissingToken,
    /// An `Authorization` header with the wrong value.
    #[error("Invalid authorization token")]
    BadToken,
    /// Nothing is loaded where the request looked.
    #[error("Credentials unavailable")]
    Unavailable,
    /// Nothing is loaded in the named slot.
    #[error("No credentials loaded for profile {0:?}")]
    NoSuchSlot(String),
    /// The loaded credentials expire within a minute or have expired.
    #[error("Credentials expired")]
    Expired,
    /// The body is not JSON of the expected shape.
    #[error("Invalid JSON body: {0}")]
    BadJson(String),
    /// The body is well-formed but its content is refused.
    #[error("Invalid credentials: {0}")]
    Invalid(#[from] LoadError),
    /// The body is larger than the server reads.
    #[error("Request body larger than {0} bytes")]
    TooLarge(usize),
    /// The body could not be read.
    #[error("Could not read the request body")]
    BadBody,
    /// The body did not arrive in time.
    #[error("The request body did not arrive in time")]
    BodyTimeout,
    /// The path names nothing.
    #[error("Not found: {0}")]
    NotFound(String),
    /// The path exists but not with that method.
    #[error("Method {0} not allowed here")]
    MethodNotAllowed(String),
    /// The serving certificate has expired (healthcheck).
    #[error("The server's TLS certificate has expired")]
    CertificateExpired,
}

impl ApiError {
    /// The HTTP status of this answer.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::MissingToken | ApiError::BadToken => StatusCode::FORBIDDEN,
            ApiError::Unavailable
            | ApiError::NoSuchSlot(_)
            | ApiError::Expired
            | ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::BadJson(_) | ApiError::Invalid(_) | ApiError::BadBody => {
                StatusCode::BAD_REQUEST
            }
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::BodyTimeout => StatusCode::REQUEST_TIMEOUT,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::CertificateExpired => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        match &self {
            // serde's message can quote the body, and the body carries credentials: the
            // client sees it, the log does not.
            ApiError::BadJson(_) => {
                tracing::debug!(http.status = status.as_u16(), "invalid JSON body")
            }
            _ => tracing::debug!(http.status = status.as_u16(), "{self}"),
        }
        (
            status,
            Json(Message::new(status.as_u16(), self.to_string())),
        )
            .into_response()
    }
}

/// The `{"code":"200","message":"OK"}` answer.
pub(crate) fn ok() -> Response {
    (StatusCode::OK, Json(Message::new(200, "OK"))).into_response()
}
