//! The client of the certificate service (aws-sso-certd): enrolling a device key with an
//! API key, and posting a CSR signed with that key.
//!
//! HTTPS trusts the platform's roots plus an optional extra CA (`--ca-file` or
//! `AWS_SSO_CERTD_CA`); plain HTTP is allowed only to a loopback address.
//!
//! **Failover.** Several service URLs (instances of one service, sharing its database) are
//! tried in order. A call moves to the next URL only when the current one gave no answer
//! that settles it: the connection failed (refused, name or TLS failure, connect timeout:
//! nothing was delivered), or the service answered 5xx (it says it did not do it), except
//! when that 5xx carries the CA's own refusal (`CD8004`, `CD8005`: another instance would
//! ask the same CA and spend its failed-validation allowance). A 4xx is an answer: it is
//! shown, never retried elsewhere. When the request was sent but no answer came (timeout,
//! connection dropped), enrollment moves on (resending it is harmless: the key is single-use,
//! so at worst the next service says it was used), but a signed CSR does not: the first
//! service may still be ordering, and a second order would spend one of the CA's five
//! duplicate certificates a week. Each attempt of a signed request carries a fresh nonce and
//! signature (nonces are single-use, so the same bytes would be refused as a replay anyway).

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use base64::Engine;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Method, Request, StatusCode};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use pki::request_signing::DeviceKey;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use wire::signature::SignatureParams;

/// The certificate service used when none is configured.
pub const DEFAULT_SERVICE_URL: &str = "https://certs.aws-sso-cli.org";
/// The environment variable naming an extra CA file to trust for the service.
pub const CA_ENV: &str = "AWS_SSO_CERTD_CA";

const ENROLL_TIMEOUT: Duration = Duration::from_secs(30);
/// Issuance waits for the CA's DNS-01 validation.
const SIGN_TIMEOUT: Duration = Duration::from_secs(300);

/// What enrollment returns.
#[derive(Debug, Clone, Deserialize)]
pub struct Enrolled {
    /// The device's id, the `keyid` of its signatures.
    pub device_id: i64,
    /// The hostname label the API key was for.
    pub hostname: String,
    /// The full name certificates will carry.
    pub fqdn: String,
}

/// An issued certificate.
#[derive(Debug, Clone, Deserialize)]
pub struct Issued {
    /// Serial number, hex.
    pub serial: String,
    /// The name it certifies.
    pub fqdn: String,
    /// The chain, leaf first.
    pub chain_pem: String,
}

#[derive(Deserialize)]
struct ErrorEnvelope {
    error: ErrorBody,
}

#[derive(Deserialize)]
struct ErrorBody {
    code: String,
    message: String,
}

/// A client of the certificate service at one or more URLs, tried in order.
pub struct CertdClient {
    bases: Vec<String>,
    http: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
}

impl std::fmt::Debug for CertdClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertdClient")
            .field("bases", &self.bases)
            .finish_non_exhaustive()
    }
}

/// Why one service gave no settling answer.
enum Miss {
    /// Nothing was delivered (connection, name or TLS failure): always safe to move on.
    Unreachable(String),
    /// The request went out but no answer came back (timeout, connection dropped).
    NoAnswer(String),
    /// The service answered 5xx without the CA's own refusal.
    Unavailable(String),
}

/// What one attempt at one service came to.
enum Attempt {
    /// An HTTP answer that settles the call (2xx, 4xx, or the CA's refusal).
    Answer(StatusCode, Bytes),
    /// No settling answer.
    Miss(Miss),
}

/// Checks a service URL: `https://host[:port]`, or `http://` to a loopback address only.
pub fn check_service_url(url: &str) -> anyhow::Result<String> {
    let base = url.trim_end_matches('/').to_owned();
    let uri: hyper::Uri = base
        .parse()
        .with_context(|| format!("the service URL {base:?} is not a URL"))?;
    let Some(host) = uri.host() else {
        bail!("the service URL {base:?} has no host");
    };
    if uri.path() != "/" && !uri.path().is_empty() {
        bail!("the service URL {base:?} must not have a path");
    }
    match uri.scheme_str() {
        Some("https") => {}
        Some("http") => {
            let host = host.trim_start_matches('[').trim_end_matches(']');
            let loopback = host == "localhost"
                || host
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback());
            if !loopback {
                bail!(
                    "the service URL {base:?} uses plain http; only https is accepted, except to a loopback address"
                );
            }
        }
        _ => bail!("the service URL {base:?} must start with https://"),
    }
    Ok(base)
}

/// The extra CA to trust: `ca_file`, else the file `AWS_SSO_CERTD_CA` names.
pub fn extra_ca(ca_file: Option<&std::path::Path>) -> anyhow::Result<Option<String>> {
    let path = match ca_file {
        Some(p) => Some(p.to_path_buf()),
        None => std::env::var_os(CA_ENV)
            .filter(|v| !v.is_empty())
            .map(std::path::PathBuf::from),
    };
    match path {
        None => Ok(None),
        Some(p) => Ok(Some(std::fs::read_to_string(&p).with_context(|| {
            format!("cannot read the CA file {}", p.display())
        })?)),
    }
}

impl CertdClient {
    /// A client of the service at `services`: one URL, or several one per line (the form
    /// they are stored in), tried in that order; trusting the platform roots and
    /// `extra_ca_pem`.
    pub fn new(services: &str, extra_ca_pem: Option<&str>) -> anyhow::Result<Self> {
        Self::with_urls(&crate::items::parse_service_urls(services), extra_ca_pem)
    }

    /// A client of the service at `urls`, tried in order.
    pub fn with_urls(urls: &[String], extra_ca_pem: Option<&str>) -> anyhow::Result<Self> {
        if urls.is_empty() {
            bail!("no certificate service URL is configured");
        }
        let bases = urls
            .iter()
            .map(|u| check_service_url(u))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let mut extra = Vec::new();
        if let Some(pem) = extra_ca_pem {
            for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
                extra.push(cert.context("the extra CA file is not valid PEM")?);
            }
            if extra.is_empty() {
                bail!("the extra CA file holds no certificate");
            }
        }
        let provider = pki::provider();
        let tls = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .context("TLS versions")?;
        let tls = if bases.iter().any(|b| b.starts_with("https://")) {
            let verifier =
                rustls_platform_verifier::Verifier::new_with_extra_roots(extra, provider)
                    .context("cannot load the platform's TLS roots")?;
            tls.dangerous() // only to install the platform verifier; it verifies fully
                .with_custom_certificate_verifier(Arc::new(verifier))
                .with_no_client_auth()
        } else {
            // Plain HTTP to loopback only: reading the platform's roots (tens of
            // milliseconds) would buy nothing, and no TLS peer can be trusted.
            tls.with_root_certificates(rustls::RootCertStore::empty())
                .with_no_client_auth()
        };
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_connect_timeout(Some(Duration::from_secs(15)));
        http.set_nodelay(true);
        // check_service_url allowed http only to loopback.
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        Ok(CertdClient {
            bases,
            http: Client::builder(TokioExecutor::new()).build(connector),
        })
    }

    /// The first service's base URL.
    pub fn base_url(&self) -> &str {
        self.bases.first().map_or("", String::as_str)
    }

    /// Every service URL, in the order they are tried.
    pub fn base_urls(&self) -> &[String] {
        &self.bases
    }

    /// The services for people: the first, and the ones tried after it.
    pub fn describe(&self) -> String {
        match self.bases.split_first() {
            Some((first, [])) => first.clone(),
            Some((first, rest)) => format!(
                "{first} (then {} if it is unavailable)",
                rest.join(", then ")
            ),
            None => String::new(),
        }
    }

    /// Enrolls `device` with the one-time `api_key`.
    pub async fn enroll(
        &self,
        api_key: &SecretString,
        device: &DeviceKey,
    ) -> anyhow::Result<Enrolled> {
        let public_key = base64::engine::general_purpose::STANDARD.encode(device.public_key());
        #[derive(serde::Serialize)]
        struct Body<'a> {
            api_key: &'a str,
            public_key: &'a str,
        }
        // Borrowed, so the key is copied only into this buffer, zeroized on drop.
        let body = zeroize::Zeroizing::new(serde_json::to_string(&Body {
            api_key: api_key.expose_secret(),
            public_key: &public_key,
        })?);
        let make = |base: &str| {
            Request::builder()
                .method(Method::POST)
                .uri(format!("{base}/api/v1/enroll"))
                .header("content-type", "application/json")
                .body(Full::new(Bytes::copy_from_slice(body.as_bytes())))
                .context("cannot build the request")
        };
        // Resending is harmless: the key is single-use, so at worst it is refused as used.
        let (status, bytes) = self
            .failover("enrollment", ENROLL_TIMEOUT, true, make)
            .await?;
        decode(status, &bytes, "enrollment")
    }

    /// Posts `csr_pem`, signed by `device` (enrolled as `device_id`), and returns the chain.
    pub async fn sign_csr(
        &self,
        device: &DeviceKey,
        device_id: i64,
        csr_pem: &str,
    ) -> anyhow::Result<Issued> {
        const PATH: &str = "/api/v1/certificates";
        let body = serde_json::json!({ "csr": csr_pem }).to_string();
        // A new nonce and signature for every attempt: nonces are single-use.
        let make = |base: &str| {
            let created = time::OffsetDateTime::now_utc().unix_timestamp();
            let mut nonce = [0u8; 16];
            aws_lc_rs_fill(&mut nonce)?;
            let params = SignatureParams {
                created,
                keyid: device_id.to_string(),
                nonce: hex::encode(nonce),
            };
            let h = device.sign_request("POST", PATH, body.as_bytes(), &params);
            Request::builder()
                .method(Method::POST)
                .uri(format!("{base}{PATH}"))
                .header("content-type", "application/json")
                .header("content-digest", h.content_digest)
                .header("signature-input", h.signature_input)
                .header("signature", h.signature)
                .body(Full::new(Bytes::from(body.clone())))
                .context("cannot build the request")
        };
        // A signed CSR that went out unanswered may be in an order at that service: it is
        // not sent elsewhere (a second order would spend a duplicate certificate).
        let (status, bytes) = self.failover("signing", SIGN_TIMEOUT, false, make).await?;
        decode(status, &bytes, "signing")
    }

    /// Sends the request `make` builds for each service in turn until one answers in a way
    /// that settles the call (see the module documentation); returns that answer. With
    /// `resend_unanswered`, a request that went out without an answer is sent to the next
    /// service too.
    async fn failover(
        &self,
        what: &str,
        timeout: Duration,
        resend_unanswered: bool,
        make: impl Fn(&str) -> anyhow::Result<Request<Full<Bytes>>>,
    ) -> anyhow::Result<(StatusCode, Bytes)> {
        let mut misses: Vec<String> = Vec::new();
        for (i, base) in self.bases.iter().enumerate() {
            let next = self.bases.get(i + 1);
            match self.attempt(base, make(base)?, timeout).await {
                Attempt::Answer(status, bytes) => {
                    if i > 0 {
                        crate::out::note(&format!(
                            "The certificate service at {base} answered (after {} did not).",
                            self.bases[..i].join(", ")
                        ));
                    }
                    return Ok((status, bytes));
                }
                Attempt::Miss(Miss::NoAnswer(why)) if !resend_unanswered => {
                    let hint = if next.is_some() {
                        "; it was not sent to the next service, because this one may still be \
                         working on it (a second order would spend one of the CA's duplicate \
                         certificates)"
                    } else {
                        ""
                    };
                    bail!(
                        "{why}{hint}. Nothing was stored; run the command again in a few minutes"
                    );
                }
                Attempt::Miss(
                    Miss::Unreachable(why) | Miss::NoAnswer(why) | Miss::Unavailable(why),
                ) => {
                    if let Some(next) = next {
                        crate::out::note(&format!("{why}; trying {next}..."));
                    }
                    misses.push(why);
                }
            }
        }
        match misses.as_slice() {
            [one] => bail!("{one}"),
            all => bail!(
                "no certificate service answered the {what}:\n  - {}",
                all.join("\n  - ")
            ),
        }
    }

    /// One request to the service at `base`.
    async fn attempt(&self, base: &str, req: Request<Full<Bytes>>, timeout: Duration) -> Attempt {
        let call = async {
            let resp = match self.http.request(req).await {
                Ok(r) => r,
                Err(e) => {
                    let why = format!(
                        "cannot reach the certificate service at {base}: {}",
                        chain(&e)
                    );
                    return if e.is_connect() {
                        Attempt::Miss(Miss::Unreachable(why))
                    } else {
                        Attempt::Miss(Miss::NoAnswer(why))
                    };
                }
            };
            let status = resp.status();
            let bytes = match resp.into_body().collect().await {
                Ok(b) => b.to_bytes(),
                Err(e) => {
                    return Attempt::Miss(Miss::NoAnswer(format!(
                        "the certificate service at {base} broke off its answer: {}",
                        chain(&e)
                    )));
                }
            };
            if status.is_server_error() && !is_ca_refusal(&bytes) {
                return Attempt::Miss(Miss::Unavailable(format!(
                    "the certificate service at {base} is unavailable: {}",
                    refusal_text(status, &bytes)
                )));
            }
            Attempt::Answer(status, bytes)
        };
        match tokio::time::timeout(timeout, call).await {
            Ok(a) => a,
            Err(_) => Attempt::Miss(Miss::NoAnswer(format!(
                "the certificate service at {base} did not answer within {}s",
                timeout.as_secs()
            ))),
        }
    }
}

/// Whether a 5xx body is the CA's own refusal (`CD8004` validation failed, `CD8005` refused):
/// an answer about the name, the same from any instance of the service.
fn is_ca_refusal(bytes: &[u8]) -> bool {
    serde_json::from_slice::<ErrorEnvelope>(bytes)
        .is_ok_and(|e| matches!(e.error.code.as_str(), "CD8004" | "CD8005"))
}

/// `message (code, HTTP n)` of an error envelope, else `HTTP n`.
fn refusal_text(status: StatusCode, bytes: &[u8]) -> String {
    match serde_json::from_slice::<ErrorEnvelope>(bytes) {
        Ok(e) => format!(
            "{} ({}, HTTP {})",
            e.error.message,
            e.error.code,
            status.as_u16()
        ),
        Err(_) => format!("HTTP {}", status.as_u16()),
    }
}

fn aws_lc_rs_fill(buf: &mut [u8]) -> anyhow::Result<()> {
    pki::provider()
        .secure_random
        .fill(buf)
        .map_err(|_| anyhow::anyhow!("the system random generator failed"))
}

fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(c) = src {
        s.push_str(": ");
        s.push_str(&c.to_string());
        src = c.source();
    }
    s
}

fn decode<T: serde::de::DeserializeOwned>(
    status: StatusCode,
    bytes: &[u8],
    what: &str,
) -> anyhow::Result<T> {
    if status.is_success() {
        return serde_json::from_slice(bytes)
            .with_context(|| format!("unexpected answer to {what} from the certificate service"));
    }
    bail!(
        "the certificate service refused the {what}: {}",
        refusal_text(status, bytes)
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn cert_service_urls() {
        assert_eq!(
            check_service_url("https://certs.example.org/").unwrap(),
            "https://certs.example.org"
        );
        check_service_url("http://127.0.0.1:8080").unwrap();
        check_service_url("http://[::1]:8080").unwrap();
        for bad in [
            "http://certs.example.org",
            "ftp://127.0.0.1",
            "https://certs.example.org/api",
            "not a url",
        ] {
            assert!(check_service_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn cert_service_errors_show_the_message() {
        let body = br#"{"error":{"code":"CD3001","message":"unknown or used API key"}}"#;
        let err = decode::<Enrolled>(StatusCode::UNAUTHORIZED, body, "enrollment").unwrap_err();
        assert_eq!(
            err.to_string(),
            "the certificate service refused the enrollment: unknown or used API key (CD3001, HTTP 401)"
        );
    }

    #[test]
    fn cert_service_lists_keep_their_order_and_are_all_checked() {
        let c = CertdClient::new("http://127.0.0.1:1\nhttps://certs.example.org/\n", None).unwrap();
        assert_eq!(
            c.base_urls(),
            ["http://127.0.0.1:1", "https://certs.example.org"]
        );
        assert_eq!(c.base_url(), "http://127.0.0.1:1");
        assert_eq!(
            c.describe(),
            "http://127.0.0.1:1 (then https://certs.example.org if it is unavailable)"
        );
        assert_eq!(
            CertdClient::new("https://certs.example.org", None)
                .unwrap()
                .describe(),
            "https://certs.example.org"
        );
        assert!(
            CertdClient::new("https://ok.example.org\nhttp://plain.example.org", None).is_err()
        );
        assert!(CertdClient::with_urls(&[], None).is_err());
    }

    #[test]
    fn cert_service_ca_refusals_are_answers() {
        let ca = br#"{"error":{"code":"CD8004","message":"the name did not validate"}}"#;
        let down = br#"{"error":{"code":"CD8006","message":"the CA cannot be reached"}}"#;
        assert!(is_ca_refusal(ca));
        assert!(!is_ca_refusal(down));
        assert!(!is_ca_refusal(b"<html>bad gateway</html>"));
        assert_eq!(
            refusal_text(StatusCode::SERVICE_UNAVAILABLE, b"nope"),
            "HTTP 503"
        );
    }
}
