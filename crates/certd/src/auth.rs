//! Who is asking: the client address, the logged-in account (session cookie), and the
//! enrolled device (a request signed with its Ed25519 key, single-use nonce, at most five
//! minutes old).

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use certd_store::{AccountId, Device};
use pki::request_signing::{SignedHeaders, SigningError, verify_request};

use crate::error::ApiError;
use crate::state::AppState;

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "certd_session";

/// The client's address: the TCP peer, or what a trusted proxy says in
/// `X-Forwarded-For` (see [`crate::proxy`]).
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub Option<IpAddr>);

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        Ok(ClientAddr(peer.map(|peer| {
            let forwarded = parts
                .headers
                .get_all("x-forwarded-for")
                .iter()
                .filter_map(|v| v.to_str().ok());
            crate::proxy::client_addr(peer, forwarded, &state.0.settings.trusted_proxies)
        })))
    }
}

impl ClientAddr {
    /// A key for per-address limits: the IPv4 address, or the /64 of an IPv6 address (one
    /// host commonly holds a whole /64 and could rotate through it).
    pub fn key(&self) -> String {
        match self.0 {
            None => "unknown".to_owned(),
            Some(std::net::IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
                Some(v4) => v4.to_string(),
                None => {
                    let s = v6.segments();
                    format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
                }
            },
            Some(ip) => ip.to_string(),
        }
    }
}

/// The account of a valid session cookie.
#[derive(Debug, Clone, Copy)]
pub struct LoggedIn(pub AccountId);

impl FromRequestParts<AppState> for LoggedIn {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = session_cookie(&parts.headers).ok_or(ApiError::NotLoggedIn)?;
        let hash = crate::secrets::hash_token(token);
        let session = state
            .store()
            .get_session(&hash, state.now())
            .await
            .map_err(|_| ApiError::NotLoggedIn)?;
        Ok(LoggedIn(session.account_id))
    }
}

/// `Set-Cookie` for a new session (marked sensitive so it is never logged).
pub fn session_set_cookie(
    state: &AppState,
    token: &secrecy::SecretString,
) -> Result<axum::http::HeaderValue, ApiError> {
    use secrecy::ExposeSecret;
    let secure = if state.0.settings.secure_cookies {
        "; Secure"
    } else {
        ""
    };
    let ttl = state.0.settings.session_ttl.whole_seconds();
    let cookie = format!(
        "{SESSION_COOKIE}={}; Path=/; HttpOnly; SameSite=Strict; Max-Age={ttl}{secure}",
        token.expose_secret()
    );
    let mut value = axum::http::HeaderValue::from_str(&cookie)
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    value.set_sensitive(true);
    Ok(value)
}

/// `Set-Cookie` that ends the session cookie.
pub fn session_clear_cookie() -> axum::http::HeaderValue {
    axum::http::HeaderValue::from_static(
        "certd_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0",
    )
}

/// The session token of the `Cookie` header, if any.
pub fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| {
            c.trim()
                .strip_prefix(SESSION_COOKIE)
                .and_then(|r| r.strip_prefix('='))
        })
}

/// Verifies a signed request and returns the device that made it. Checks, in order: the
/// per-address limit, the headers' form, the device (known, not revoked), the signature,
/// digest and age, then spends the nonce (so a replay fails even with a valid signature),
/// and only then counts the request against the device's own limit.
pub async fn signed_device(
    state: &AppState,
    addr: ClientAddr,
    method: &str,
    path: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Device, ApiError> {
    // Before any lookup: a flood from one address never reaches the database.
    state
        .0
        .limits
        .signing_per_addr
        .hit(&addr.key(), state.now())?;
    let header = |name: &'static str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .ok_or_else(|| ApiError::BadSignature(format!("missing {name} header")))
    };
    let signed = SignedHeaders {
        content_digest: header("content-digest")?,
        signature_input: header("signature-input")?,
        signature: header("signature")?,
    };
    let params = pki::request_signing::request_params(&signed)
        .map_err(|e| ApiError::BadSignature(e.to_string()))?;
    let id: i64 = params.keyid.parse().map_err(|_| ApiError::BadDevice)?;
    let device = state
        .store()
        .get_device(certd_store::DeviceId(id))
        .await
        .map_err(|_| ApiError::BadDevice)?;
    if device.revoked_at.is_some() {
        return Err(ApiError::BadDevice);
    }
    let now = state.now().unix_timestamp();
    let max_age = state.0.settings.signature_max_age.whole_seconds();
    verify_request(
        &device.public_key,
        method,
        path,
        body,
        &signed,
        now,
        max_age,
    )
    .map_err(|e| match e {
        SigningError::BadSignature => {
            ApiError::BadSignature("the signature does not verify".into())
        }
        other => ApiError::BadSignature(other.to_string()),
    })?;
    state
        .store()
        .use_nonce(device.id, &params.nonce, state.now())
        .await?;
    // Counted only now: requests forged under this device's id (ids are small integers)
    // or replayed must not spend its owner's allowance. The per-address limit above
    // bounds the work they cost.
    state
        .0
        .limits
        .signing_per_device
        .hit(&id.to_string(), state.now())?;
    Ok(device)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::ClientAddr;

    #[test]
    fn limits_key_ipv4_by_address_and_ipv6_by_its_64() {
        let key = |s: &str| ClientAddr(Some(s.parse().unwrap())).key();
        assert_eq!(key("192.0.2.7"), "192.0.2.7");
        assert_eq!(key("::ffff:192.0.2.7"), "192.0.2.7");
        assert_eq!(key("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
        assert_eq!(
            key("2001:db8:1:2:ffff:ffff:ffff:ffff"),
            key("2001:db8:1:2::9")
        );
        assert_ne!(key("2001:db8:1:3::1"), key("2001:db8:1:2::1"));
        assert_eq!(ClientAddr(None).key(), "unknown");
    }
}
