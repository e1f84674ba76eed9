//! The HTTPS client instant-acme talks through: aws-lc-rs rustls with the platform's roots
//! plus the configured extra roots (Pebble, test CAs), a connect and a response timeout,
//! and capture of `Retry-After` on 429/503 answers (instant-acme drops response headers
//! when it turns a problem document into an error). It owns no ACME logic.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::{Request, StatusCode};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use instant_acme::{BodyWrapper, BytesResponse, HttpClient};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc2822;

use crate::error::AcmeError;

/// A transport failure, boxed into `instant_acme::Error::Other` and recognised again by
/// [`AcmeError::from_acme`].
#[derive(Debug, thiserror::Error)]
pub(crate) enum TransportError {
    /// No response headers within the timeout.
    #[error("no answer from the CA within {} s", .0.as_secs())]
    Timeout(Duration),
    /// Connecting, TLS or HTTP failed.
    #[error("request failed")]
    Request(#[source] hyper_util::client::legacy::Error),
}

tokio::task_local! {
    /// The `Retry-After` of the last 429/503 answer seen by this operation.
    static RETRY_AFTER: Cell<Option<Duration>>;
}

/// Runs `fut` with its own `Retry-After` slot (each public operation does).
pub(crate) async fn with_retry_after_slot<F: Future>(fut: F) -> F::Output {
    RETRY_AFTER.scope(Cell::new(None), fut).await
}

/// Takes the `Retry-After` captured in the current operation, if any.
pub(crate) fn take_retry_after() -> Option<Duration> {
    RETRY_AFTER.try_with(Cell::take).ok().flatten()
}

/// Parses a `Retry-After` value: delay-seconds or an HTTP-date (RFC 9110 §10.2.3).
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    // IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT") is RFC 2822 syntax with a GMT zone.
    let at = OffsetDateTime::parse(value, &Rfc2822).ok()?;
    let now = OffsetDateTime::from(now);
    Some(Duration::try_from(at - now).unwrap_or(Duration::ZERO))
}

/// instant-acme's HTTP client: hyper over rustls (aws-lc-rs), HTTP/1.1, HTTPS only.
pub(crate) struct AcmeHttp {
    inner: HyperClient<HttpsConnector<HttpConnector>, BodyWrapper<Bytes>>,
    timeout: Duration,
}

impl AcmeHttp {
    /// Trusts the platform's roots plus every certificate in `extra_roots_pem`.
    pub(crate) fn new(
        extra_roots_pem: Option<&str>,
        timeout: Duration,
    ) -> Result<AcmeHttp, AcmeError> {
        let config = |reason: String| AcmeError::Config { reason };
        let mut extra = Vec::new();
        if let Some(pem) = extra_roots_pem {
            for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
                extra.push(cert.map_err(|e| config(format!("extra root PEM: {e}")))?);
            }
            if extra.is_empty() {
                return Err(config("extra root PEM holds no certificate".to_owned()));
            }
        }
        let provider = pki::provider();
        let verifier =
            rustls_platform_verifier::Verifier::new_with_extra_roots(extra, provider.clone())
                .map_err(|e| config(format!("TLS roots: {e}")))?;
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| config(format!("TLS versions: {e}")))?
            .dangerous() // only to install the platform verifier; it verifies fully
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth();
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_connect_timeout(Some(timeout));
        http.set_nodelay(true);
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_only()
            .enable_http1()
            .wrap_connector(http);
        Ok(AcmeHttp {
            inner: HyperClient::builder(TokioExecutor::new()).build(connector),
            timeout,
        })
    }
}

impl HttpClient for AcmeHttp {
    fn request(
        &self,
        req: Request<BodyWrapper<Bytes>>,
    ) -> Pin<Box<dyn Future<Output = Result<BytesResponse, instant_acme::Error>> + Send>> {
        let fut = self.inner.request(req);
        let timeout = self.timeout;
        Box::pin(async move {
            let failure = match tokio::time::timeout(timeout, fut).await {
                Ok(Ok(rsp)) => return Ok(BytesResponse::from(rsp)),
                Ok(Err(e)) => TransportError::Request(e),
                Err(_) => TransportError::Timeout(timeout),
            };
            Err(instant_acme::Error::Other(Box::new(failure)))
        })
    }
}

/// Wraps an [`HttpClient`] to note the `Retry-After` of 429 and 503 answers in the current
/// operation's slot, and to count `badNonce` answers (instant-acme retries those itself;
/// the count shows that it had to).
pub(crate) struct Tap<C> {
    /// Shared: a request refused with `badNonce` may need a fresh account builder.
    pub(crate) inner: Arc<C>,
    pub(crate) bad_nonces: Arc<AtomicU64>,
}

impl<C: HttpClient> HttpClient for Tap<C> {
    fn request(
        &self,
        req: Request<BodyWrapper<Bytes>>,
    ) -> Pin<Box<dyn Future<Output = Result<BytesResponse, instant_acme::Error>> + Send>> {
        let fut = self.inner.request(req);
        let bad_nonces = self.bad_nonces.clone();
        Box::pin(async move {
            let mut rsp = fut.await?;
            let status = rsp.parts.status;
            if status == StatusCode::TOO_MANY_REQUESTS || status == StatusCode::SERVICE_UNAVAILABLE
            {
                let after = rsp
                    .parts
                    .headers
                    .get(http::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| parse_retry_after(v, SystemTime::now()));
                let _ = RETRY_AFTER.try_with(|slot| slot.set(after));
            } else if status == StatusCode::BAD_REQUEST {
                // A problem document: small. Read it to look, hand it on unchanged.
                let body = rsp
                    .body
                    .into_bytes()
                    .await
                    .map_err(instant_acme::Error::Other)?;
                if body.windows(BAD_NONCE.len()).any(|w| w == BAD_NONCE) {
                    bad_nonces.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!("the CA rejected a nonce; instant-acme retries");
                }
                rsp.body = Box::new(body);
            }
            Ok(rsp)
        })
    }
}

const BAD_NONCE: &[u8] = b"urn:ietf:params:acme:error:badNonce";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_takes_seconds_and_http_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777); // 1994-11-06 08:49:37 UTC
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 09:49:37 GMT", now),
            Some(Duration::from_secs(3600))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 07:49:37 GMT", now),
            Some(Duration::ZERO),
            "a date in the past means now"
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }
}
