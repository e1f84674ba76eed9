//! certd's own HTTPS certificate, when it gets one itself: for `<web_label>.<zone>` from its
//! ACME CA, validated through its own DNS (the label is a service label of the zone: it
//! takes challenges, no user can register it, it has no A record here). The key and chain
//! live in `data_dir` (0600); the certificate is renewed when a third of its lifetime is
//! left and swapped into the running TLS server without a restart. A configured
//! certificate (`http.tls_cert`) does not come through here.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use anyhow::Context;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use secrecy::ExposeSecret;
use time::OffsetDateTime;

use crate::acme::AcmeHandle;

/// How often the renewal task looks at the certificate.
const CHECK_EVERY: Duration = Duration::from_secs(12 * 3600);
/// How long to wait after a failed renewal before trying again.
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(3600);

/// The certificate the TLS server presents, replaceable while it runs.
#[derive(Debug)]
pub struct SwappableCert(RwLock<Arc<CertifiedKey>>);

impl SwappableCert {
    fn get(&self) -> Arc<CertifiedKey> {
        Arc::clone(
            &self
                .0
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }

    fn set(&self, key: Arc<CertifiedKey>) {
        *self
            .0
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = key;
    }
}

impl ResolvesServerCert for SwappableCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.get())
    }
}

/// certd's web certificate: where it is kept and how it is obtained.
pub struct WebCert {
    fqdn: String,
    label: String,
    key_path: PathBuf,
    chain_path: PathBuf,
    zone: Arc<certd_dns::ZoneState>,
    acme: Arc<AcmeHandle>,
    current: Arc<SwappableCert>,
    info: RwLock<pki::CertInfo>,
}

impl std::fmt::Debug for WebCert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebCert")
            .field("fqdn", &self.fqdn)
            .finish_non_exhaustive()
    }
}

/// The stored pair if it is for `fqdn`, matches and is valid at `now`.
fn load_stored(
    key_path: &Path,
    chain_path: &Path,
    fqdn: &str,
    now: OffsetDateTime,
) -> Option<(pki::ServingKey, pki::CertInfo)> {
    let key = std::fs::read_to_string(key_path).ok()?;
    let chain = std::fs::read_to_string(chain_path).ok()?;
    let serving = pki::ServingKey::from_pem(&chain, &key).ok()?;
    let info = pki::cert_info(serving.leaf()).ok()?;
    let names_it = info.dns_names.iter().any(|n| n.eq_ignore_ascii_case(fqdn));
    (names_it && info.is_valid_at(now)).then_some((serving, info))
}

/// Whether a certificate described by `info` is due for renewal at `now`.
pub fn due(info: &pki::CertInfo, now: OffsetDateTime) -> bool {
    now >= info.renewal_from()
}

impl WebCert {
    /// Loads the stored certificate for `<label>.<zone>`, or obtains one from the CA when
    /// there is none, it is unusable, or it is due. Makes `label` a service label of the
    /// zone first (refused if a user holds it).
    pub async fn start(
        label: &str,
        zone: Arc<certd_dns::ZoneState>,
        acme: Arc<AcmeHandle>,
        data_dir: &Path,
    ) -> anyhow::Result<Arc<WebCert>> {
        zone.add_service_label(label)
            .with_context(|| format!("http.acme_web_label {label:?}"))?;
        let fqdn = format!("{label}.{}", zone.apex());
        let key_path = data_dir.join("web-key.pem");
        let chain_path = data_dir.join("web-chain.pem");
        let now = OffsetDateTime::now_utc();
        let (serving, info) = match load_stored(&key_path, &chain_path, &fqdn, now) {
            Some((s, i)) if !due(&i, now) => {
                tracing::info!(fqdn = %fqdn, serial = %i.serial_hex, "using the stored web certificate");
                (s, i)
            }
            _ => obtain(&fqdn, &zone, &acme, &key_path, &chain_path).await?,
        };
        Ok(Arc::new(WebCert {
            label: label.to_owned(),
            fqdn,
            key_path,
            chain_path,
            zone,
            acme,
            current: Arc::new(SwappableCert(RwLock::new(serving.certified_key()))),
            info: RwLock::new(info),
        }))
    }

    /// The TLS configuration presenting the current certificate (swapped on renewal).
    pub fn server_config(&self) -> anyhow::Result<Arc<rustls::ServerConfig>> {
        let mut cfg = rustls::ServerConfig::builder_with_provider(pki::provider())
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
            .with_no_client_auth()
            .with_cert_resolver(Arc::clone(&self.current) as Arc<dyn ResolvesServerCert>);
        cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
        // The server's order of suites, as in `ecs::server_config`.
        cfg.ignore_client_order = true;
        Ok(Arc::new(cfg))
    }

    /// The certificate being served.
    pub fn info(&self) -> pki::CertInfo {
        self.info
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Obtains a new certificate now and starts serving it.
    pub async fn renew(&self) -> anyhow::Result<pki::CertInfo> {
        let (serving, info) = obtain(
            &self.fqdn,
            &self.zone,
            &self.acme,
            &self.key_path,
            &self.chain_path,
        )
        .await?;
        self.current.set(serving.certified_key());
        *self
            .info
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = info.clone();
        Ok(info)
    }

    /// Checks twice a day and renews when due; a failure is retried hourly (the margin is
    /// a third of the lifetime: 30 days for Let's Encrypt).
    pub fn spawn_renewal(self: Arc<Self>) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            loop {
                let wait = if due(&self.info(), OffsetDateTime::now_utc()) {
                    match self.renew().await {
                        Ok(info) => {
                            tracing::info!(fqdn = %self.fqdn, serial = %info.serial_hex, "web certificate renewed");
                            CHECK_EVERY
                        }
                        Err(e) => {
                            tracing::warn!(fqdn = %self.fqdn, label = %self.label, error = %format!("{e:#}"), "cannot renew the web certificate; retrying in an hour");
                            RETRY_AFTER_FAILURE
                        }
                    }
                } else {
                    CHECK_EVERY
                };
                tokio::time::sleep(wait).await;
            }
        })
    }
}

/// Orders a certificate for `fqdn` (a fresh P-256 key) through the zone's DNS, checks it
/// and stores key and chain (0600, written atomically).
async fn obtain(
    fqdn: &str,
    zone: &certd_dns::ZoneState,
    acme: &AcmeHandle,
    key_path: &Path,
    chain_path: &Path,
) -> anyhow::Result<(pki::ServingKey, pki::CertInfo)> {
    tracing::info!(fqdn = %fqdn, "ordering the web certificate from the CA");
    let (key_pem, csr_pem) = pki::csr::new_key_and_csr(fqdn)?;
    let csr = pki::csr::csr_from_pem(&csr_pem)?;
    let client = acme
        .get()
        .await
        .map_err(|e| anyhow::anyhow!("the ACME CA: {e}"))?;
    let issued = client
        .issue(&csr, fqdn, zone, &())
        .await
        .with_context(|| format!("cannot get a certificate for {fqdn}"))?;
    let serving = pki::ServingKey::from_pem(&issued.chain_pem, key_pem.expose_secret())
        .context("the CA's certificate does not match the key")?;
    let info = pki::cert_info(serving.leaf())?;
    if !info.dns_names.iter().any(|n| n.eq_ignore_ascii_case(fqdn)) {
        anyhow::bail!("the CA's certificate does not name {fqdn}");
    }
    write_private(key_path, key_pem.expose_secret())?;
    write_private(chain_path, &issued.chain_pem)?;
    tracing::info!(fqdn = %fqdn, serial = %info.serial_hex, not_after = %info.not_after, "web certificate stored");
    Ok((serving, info))
}

/// Writes `contents` to `path` as 0600, atomically (temp file + rename).
fn write_private(path: &Path, contents: &str) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    f.write_all(contents.as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}
