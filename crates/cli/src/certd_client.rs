//! The client of the certificate service (aws-sso-certd): enrolling a device key with an
//! API key, and posting a CSR signed with that key.
//!
//! HTTPS trusts the platform's roots plus an optional extra CA (`--ca-file` or
//! `AWS_SSO_CERTD_CA`); plain HTTP is allowed only to a loopback address.

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

/// A client of one certificate service.
pub struct CertdClient {
    base: String,
    http: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
}

impl std::fmt::Debug for CertdClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertdClient")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
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
    /// A client of the service at `base_url`, trusting the platform roots and `extra_ca_pem`.
    pub fn new(base_url: &str, extra_ca_pem: Option<&str>) -> anyhow::Result<Self> {
        let base = check_service_url(base_url)?;
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
        let verifier =
            rustls_platform_verifier::Verifier::new_with_extra_roots(extra, provider.clone())
                .context("cannot load the platform's TLS roots")?;
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .context("TLS versions")?
            .dangerous() // only to install the platform verifier; it verifies fully
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth();
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
            base,
            http: Client::builder(TokioExecutor::new()).build(connector),
        })
    }

    /// The service's base URL.
    pub fn base_url(&self) -> &str {
        &self.base
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
        let req = Request::builder()
            .method(Method::POST)
            .uri(format!("{}/api/v1/enroll", self.base))
            .header("content-type", "application/json")
            .body(Full::new(Bytes::copy_from_slice(body.as_bytes())))
            .context("cannot build the request")?;
        let (status, bytes) = self.send(req, ENROLL_TIMEOUT).await?;
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
        let created = time::OffsetDateTime::now_utc().unix_timestamp();
        let mut nonce = [0u8; 16];
        aws_lc_rs_fill(&mut nonce)?;
        let params = SignatureParams {
            created,
            keyid: device_id.to_string(),
            nonce: hex::encode(nonce),
        };
        let h = device.sign_request("POST", PATH, body.as_bytes(), &params);
        let req = Request::builder()
            .method(Method::POST)
            .uri(format!("{}{PATH}", self.base))
            .header("content-type", "application/json")
            .header("content-digest", h.content_digest)
            .header("signature-input", h.signature_input)
            .header("signature", h.signature)
            .body(Full::new(Bytes::from(body)))
            .context("cannot build the request")?;
        let (status, bytes) = self.send(req, SIGN_TIMEOUT).await?;
        decode(status, &bytes, "signing")
    }

    async fn send(
        &self,
        req: Request<Full<Bytes>>,
        timeout: Duration,
    ) -> anyhow::Result<(StatusCode, Bytes)> {
        let call = async {
            let resp = self.http.request(req).await.map_err(|e| {
                anyhow::anyhow!(
                    "cannot reach the certificate service at {}: {}",
                    self.base,
                    chain(&e)
                )
            })?;
            let status = resp.status();
            let bytes = resp
                .into_body()
                .collect()
                .await
                .with_context(|| format!("reading the answer of {}", self.base))?
                .to_bytes();
            anyhow::Ok((status, bytes))
        };
        match tokio::time::timeout(timeout, call).await {
            Ok(r) => r,
            Err(_) => bail!(
                "the certificate service at {} did not answer within {}s",
                self.base,
                timeout.as_secs()
            ),
        }
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
    match serde_json::from_slice::<ErrorEnvelope>(bytes) {
        Ok(e) => bail!(
            "the certificate service refused the {what}: {} ({}, HTTP {})",
            e.error.message,
            e.error.code,
            status.as_u16()
        ),
        Err(_) => bail!(
            "the certificate service refused the {what}: HTTP {}",
            status.as_u16()
        ),
    }
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
}
