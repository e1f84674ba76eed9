//! The typed client of the ECS API, used by `aws-sso ecs load|unload|list|profile`.
//!
//! It speaks HTTPS when given the server's certificate, trusting that certificate alone.

use std::time::Duration;

use axum::body::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request, StatusCode};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use rustls::pki_types::CertificateDer;
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use wire::ecs::{LoadRequest, Message, ProfileSummary};

const TIMEOUT: Duration = Duration::from_secs(15);

/// Why a call to the ECS server failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server address is not a usable URL.
    #[error("invalid ECS server URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// An `https` URL without a certificate to trust.
    #[error(
        "the ECS server uses HTTPS but no certificate is stored to trust (aws-sso setup ecs ssl)"
    )]
    NoCertificate,
    /// The server could not be reached or the TLS handshake failed.
    #[error("cannot reach the ECS server at {url}: {reason}")]
    Connect {
        /// The URL.
        url: String,
        /// The cause, with its chain.
        reason: String,
    },
    /// The server did not answer in time.
    #[error("the ECS server at {url} did not answer within {}s", TIMEOUT.as_secs())]
    Timeout {
        /// The URL.
        url: String,
    },
    /// The server answered with an error.
    #[error("the ECS server refused: {status} {message}")]
    Status {
        /// The HTTP status.
        status: StatusCode,
        /// The server's message.
        message: String,
    },
    /// The server's answer is not what the API promises.
    #[error("unexpected answer from the ECS server: {0}")]
    Decode(String),
    /// TLS could not be configured.
    #[error(transparent)]
    Tls(#[from] crate::TlsError),
}

/// A client of one ECS server.
pub struct EcsClient {
    base: String,
    auth: Option<SecretString>,
    http: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
}

impl std::fmt::Debug for EcsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EcsClient")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl EcsClient {
    /// A client of the server at `base_url` (`http://127.0.0.1:4144` or `https://...`),
    /// sending `auth` as the `Authorization` header (`Bearer <token>`), and trusting
    /// exactly `pinned` for HTTPS.
    pub fn new(
        base_url: &str,
        auth: Option<SecretString>,
        pinned: Option<CertificateDer<'static>>,
    ) -> Result<Self, ClientError> {
        let base = base_url.trim_end_matches('/').to_owned();
        let invalid = |reason: &str| ClientError::InvalidUrl {
            url: base.clone(),
            reason: reason.into(),
        };
        let uri: hyper::Uri = base.parse().map_err(|_| invalid("not a URL"))?;
        let builder = hyper_rustls::HttpsConnectorBuilder::new();
        let connector = match (uri.scheme_str(), pinned) {
            (Some("https"), Some(cert)) => builder
                .with_tls_config(crate::client_config_pinned(cert)?)
                .https_only()
                .enable_http1()
                .build(),
            (Some("https"), None) => return Err(ClientError::NoCertificate),
            (Some("http"), _) => {
                let cfg = crate::client_config_pinned(CertificateDer::from(Vec::new()))?;
                builder
                    .with_tls_config(cfg)
                    .https_or_http()
                    .enable_http1()
                    .build()
            }
            _ => return Err(invalid("the scheme must be http or https")),
        };
        if uri.host().is_none() {
            return Err(invalid("no host"));
        }
        let http = Client::builder(TokioExecutor::new()).build(connector);
        Ok(EcsClient { base, auth, http })
    }

    /// The base URL this client talks to.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<(StatusCode, Bytes), ClientError> {
        let url = format!("{}{}", self.base, path);
        let mut req = Request::builder().method(method).uri(&url);
        if let Some(auth) = &self.auth {
            let mut value = HeaderValue::from_str(auth.expose_secret()).map_err(|_| {
                ClientError::Decode("the bearer token is not a valid header".into())
            })?;
            value.set_sensitive(true);
            req = req.header(AUTHORIZATION, value);
        }
        if body.is_some() {
            req = req.header(CONTENT_TYPE, "application/json");
        }
        let req = req
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .map_err(|e| ClientError::InvalidUrl {
                url: url.clone(),
                reason: e.to_string(),
            })?;
        let resp = tokio::time::timeout(TIMEOUT, self.http.request(req))
            .await
            .map_err(|_| ClientError::Timeout { url: url.clone() })?
            .map_err(|e| ClientError::Connect {
                url: url.clone(),
                reason: error_chain(&e),
            })?;
        let status = resp.status();
        let body = tokio::time::timeout(TIMEOUT, resp.into_body().collect())
            .await
            .map_err(|_| ClientError::Timeout { url: url.clone() })?
            .map_err(|e| ClientError::Connect {
                url,
                reason: error_chain(&e),
            })?
            .to_bytes();
        Ok((status, body))
    }

    async fn call_ok(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<Bytes, ClientError> {
        let (status, body) = self.call(method, path, body).await?;
        if status.is_success() {
            return Ok(body);
        }
        let message = serde_json::from_slice::<Message>(&body)
            .map(|m| m.message)
            .unwrap_or_else(|_| String::from_utf8_lossy(&body).chars().take(300).collect());
        Err(ClientError::Status { status, message })
    }

    async fn get_json<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        let body = self.call_ok(Method::GET, path, None).await?;
        serde_json::from_slice(&body).map_err(|e| ClientError::Decode(e.to_string()))
    }

    /// Loads credentials as the default (`slot: None`) or into the named slot.
    pub async fn load(&self, slot: Option<&str>, req: &LoadRequest) -> Result<(), ClientError> {
        let body = serde_json::to_vec(req).map_err(|e| ClientError::Decode(e.to_string()))?;
        self.call_ok(Method::PUT, &path_for(slot), Some(body))
            .await
            .map(drop)
    }

    /// Unloads the default credentials or those of one slot.
    pub async fn unload(&self, slot: Option<&str>) -> Result<(), ClientError> {
        self.call_ok(Method::DELETE, &path_for(slot), None)
            .await
            .map(drop)
    }

    /// Unloads every slot.
    pub async fn unload_all_slots(&self) -> Result<(), ClientError> {
        self.call_ok(Method::DELETE, "/slot", None).await.map(drop)
    }

    /// The profiles loaded in slots.
    pub async fn list(&self) -> Result<Vec<ProfileSummary>, ClientError> {
        self.get_json("/slot").await
    }

    /// The profile loaded as the default.
    pub async fn profile(&self) -> Result<ProfileSummary, ClientError> {
        self.get_json("/profile").await
    }

    /// Whether the server is up (no auth needed).
    pub async fn health(&self) -> Result<(), ClientError> {
        self.call_ok(Method::GET, "/healthcheck", None)
            .await
            .map(drop)
    }
}

/// The URL path of the default credentials or of a slot, the profile percent-encoded.
pub fn path_for(slot: Option<&str>) -> String {
    match slot {
        None => "/".to_owned(),
        Some(p) => format!("/slot/{}", percent_encode(p)),
    }
}

fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b':' | b'@') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(cause) = src {
        let c = cause.to_string();
        if !s.contains(&c) {
            s.push_str(": ");
            s.push_str(&c);
        }
        src = cause.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slot_paths_are_escaped() {
        assert_eq!(path_for(None), "/");
        assert_eq!(
            path_for(Some("000123:Admin Role/x")),
            "/slot/000123:Admin%20Role%2Fx"
        );
    }
}
