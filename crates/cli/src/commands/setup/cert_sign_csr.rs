//! `aws-sso setup ecs cert sign-csr [--force]`: a fresh P-256 key, a CSR whose only name is
//! the configured name, signed by the enrolled device and posted to the certificate
//! service; the returned chain is checked (names the name, matches the key, valid now)
//! before key and chain are stored for the ECS server.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use secrecy::{ExposeSecret, SecretString};

use super::cert;
use crate::args::{CertServiceArgs, CertSignCsrArgs};
use crate::config::Config;
use crate::items::{ECS_SSL_CERT, ECS_SSL_KEY};
use crate::out;

/// Runs the command.
pub fn run(args: &CertSignCsrArgs) -> anyhow::Result<ExitCode> {
    // The key (or the first TLS handshake) needs the seeded generator.
    pki::warm_up_rng();
    let config = Config::load()?;
    let store = config.open_store()?;
    let fqdn = cert::stored_fqdn(store.as_ref())?;
    if !args.force
        && let Some(until) = not_due(store.as_ref(), &fqdn)
    {
        out::note(&format!(
            "The stored certificate for {fqdn} is valid and not due for renewal until {}; \
             nothing to do (use --force to get a new one anyway; the CA allows 5 duplicates a week).",
            wire::ecs::rfc3339_z(until)
        ));
        return Ok(ExitCode::SUCCESS);
    }
    issue_and_store(store.as_ref(), &fqdn, &args.service)?;
    Ok(ExitCode::SUCCESS)
}

/// Gets a new certificate for `fqdn` from the configured service (a fresh key, a signed
/// CSR, progress while the CA works), checks the chain and stores key and chain; returns
/// the stored leaf's details. Nothing is stored unless everything succeeded.
pub(crate) fn issue_and_store(
    store: &dyn securestore::SecureStore,
    fqdn: &str,
    service: &CertServiceArgs,
) -> anyhow::Result<pki::CertInfo> {
    let (device, device_id) = cert::device(store)?;
    let client = cert::client(store, service)?;

    out::note(&format!(
        "Generating a new P-256 key and a CSR for {fqdn}..."
    ));
    let (key_pem, csr_pem) = new_key_and_csr(fqdn)?;
    out::note(&format!(
        "Asking {} for a certificate (the CA validates the name through DNS)...",
        client.describe()
    ));
    let started = Instant::now();
    let issued = crate::commands::block_on(async {
        let call = client.sign_csr(&device, device_id, &csr_pem);
        tokio::pin!(call);
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        tick.tick().await;
        loop {
            tokio::select! {
                r = &mut call => break r,
                _ = tick.tick() => out::note(&format!(
                    "  still waiting for the CA ({}s)...",
                    started.elapsed().as_secs()
                )),
            }
        }
    })??;
    out::note(&format!(
        "Received certificate {} after {:.2}s; checking it...",
        issued.serial,
        started.elapsed().as_secs_f64()
    ));
    let info = cert::check_chain(&issued.chain_pem, key_pem.expose_secret(), fqdn)
        .context("refusing the certificate the service returned; nothing was stored")?;
    // Key and chain in one write: a failure leaves the previous working pair.
    store
        .set_many(&[
            (ECS_SSL_KEY, &key_pem),
            (ECS_SSL_CERT, &SecretString::from(issued.chain_pem)),
        ])
        .context("cannot store the certificate and its key")?;
    out::note(&format!(
        "Stored the certificate for {fqdn} (issuer {}, serial {}, expires {}, renew from {}) and its key in {}.",
        info.issuer,
        info.serial_hex,
        wire::ecs::rfc3339_z(info.not_after),
        wire::ecs::rfc3339_z(cert::renewal_from(&info)),
        store.describe()
    ));
    Ok(info)
}

/// When the stored certificate is for `fqdn`, matches its key, is valid and outside its
/// renewal window: the start of that window.
pub(crate) fn not_due(
    store: &dyn securestore::SecureStore,
    fqdn: &str,
) -> Option<time::OffsetDateTime> {
    let chain = store.get(ECS_SSL_CERT).ok()??;
    let key = store.get(ECS_SSL_KEY).ok()??;
    let info = cert::check_chain(chain.expose_secret(), key.expose_secret(), fqdn).ok()?;
    let from = cert::renewal_from(&info);
    (time::OffsetDateTime::now_utc() < from).then_some(from)
}

/// A fresh P-256 key (PKCS#8 PEM, secret) and a CSR naming only `fqdn` (no CN).
pub fn new_key_and_csr(fqdn: &str) -> anyhow::Result<(SecretString, String)> {
    Ok(pki::csr::new_key_and_csr(fqdn)?)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn cert_csr_names_only_the_fqdn() {
        let (key, csr) = new_key_and_csr("box.certs.test").unwrap();
        assert!(key.expose_secret().contains("PRIVATE KEY"));
        let der = pki::csr::csr_from_pem(&csr).unwrap();
        pki::csr::check_csr(&der, "box.certs.test").unwrap();
        assert!(pki::csr::check_csr(&der, "other.certs.test").is_err());
    }
}
