//! Bearer-token authentication: the expected `Authorization` header, compared in
//! constant time, and the middleware that refuses everything else.

use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;

use crate::{ApiError, AppState};

/// The token SDKs must present as `Authorization: Bearer <token>`.
pub struct BearerToken {
    header: SecretString,
}

impl std::fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BearerToken([redacted])")
    }
}

/// Why a token was refused when it was set up.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    /// The token is empty.
    #[error("the bearer token is empty")]
    Empty,
    /// The token already starts with `Bearer `: the prefix is added by aws-sso.
    #[error("the bearer token must not start with 'Bearer ': give the token alone")]
    HasBearerPrefix,
    /// The token has characters that cannot travel in an HTTP header.
    #[error("the bearer token may only contain printable ASCII without spaces")]
    NotPrintable,
}

impl BearerToken {
    /// Checks and wraps a raw token (without the `Bearer ` prefix).
    pub fn new(token: &SecretString) -> Result<Self, TokenError> {
        let t = token.expose_secret();
        if t.is_empty() {
            return Err(TokenError::Empty);
        }
        if t.to_ascii_lowercase().starts_with("bearer ") {
            return Err(TokenError::HasBearerPrefix);
        }
        if !t.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(TokenError::NotPrintable);
        }
        Ok(BearerToken {
            header: SecretString::from(format!("Bearer {t}")),
        })
    }

    /// The full header value SDKs send (`Bearer <token>`): what goes in
    /// `AWS_CONTAINER_AUTHORIZATION_TOKEN` or its file.
    pub fn header_value(&self) -> &SecretString {
        &self.header
    }

    /// Whether `presented` is exactly the expected header, in constant time for equal
    /// lengths (the length of a 64-character token is no secret).
    pub fn matches(&self, presented: &[u8]) -> bool {
        self.header
            .expose_secret()
            .as_bytes()
            .ct_eq(presented)
            .into()
    }
}

pub(crate) async fn require_token(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    let Some(token) = state.token() else {
        return next.run(req).await;
    };
    if req.uri().path() == "/healthcheck" || req.uri().path().starts_with("/healthcheck/") {
        return next.run(req).await;
    }
    let presented = req.headers().get(AUTHORIZATION).map(|v| v.as_bytes());
    match presented {
        Some(p) if token.matches(p) => next.run(req).await,
        Some(_) => ApiError::BadToken.into_response(),
        None => ApiError::MissingToken.into_response(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn token(s: &str) -> Result<BearerToken, TokenError> {
        BearerToken::new(&SecretString::from(s.to_owned()))
    }

    #[test]
    fn refuses_empty_prefixed_and_unprintable_tokens() {
        assert_eq!(token("").unwrap_err(), TokenError::Empty);
        assert_eq!(
            token("Bearer abc").unwrap_err(),
            TokenError::HasBearerPrefix
        );
        assert_eq!(
            token("bearer abc").unwrap_err(),
            TokenError::HasBearerPrefix
        );
        assert_eq!(token("a b").unwrap_err(), TokenError::NotPrintable);
        assert_eq!(token("a\nb").unwrap_err(), TokenError::NotPrintable);
    }

    #[test]
    fn matches_only_the_exact_header() {
        let t = token("abc123").unwrap();
        assert!(t.matches(b"Bearer abc123"));
        assert!(!t.matches(b"Bearer abc124"));
        assert!(!t.matches(b"abc123"));
        assert!(!t.matches(b"Bearer abc1234"));
        assert!(!format!("{t:?}").contains("abc123"));
    }
}
