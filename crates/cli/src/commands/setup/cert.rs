//! `aws-sso setup ecs cert ...`: the ECS server's certificate from the certificate service.
//! This module dispatches and holds what the commands share.

use std::process::ExitCode;

use anyhow::{Context, bail};
use secrecy::{ExposeSecret, SecretString};
use securestore::SecureStore;

use crate::args::{CertCommand, CertServiceArgs, OutputMode};
use crate::certd_client::{self, CertdClient};
use crate::items::{CERTD_DEVICE_ID, CERTD_DEVICE_KEY, CERTD_SERVICE_URL, ECS_CERT_FQDN};

/// Runs one `cert` command.
pub fn run(what: CertCommand, mode: OutputMode) -> anyhow::Result<ExitCode> {
    match what {
        CertCommand::Fqdn(a) => super::cert_fqdn::run(&a),
        CertCommand::ApiKey(a) => super::cert_api_key::run(&a),
        CertCommand::SignCsr(a) => super::cert_sign_csr::run(&a),
        CertCommand::ExportCsr(a) => super::cert_export_csr::run(&a),
        CertCommand::Load(a) => super::cert_load::run(&a),
        CertCommand::Status => super::cert_status::run(mode),
        CertCommand::Renew(a) => super::cert_renew::run(&a, mode),
    }
}

/// The stored name, or an error saying how to set it.
pub(crate) fn stored_fqdn(store: &dyn SecureStore) -> anyhow::Result<String> {
    match store
        .get(ECS_CERT_FQDN)
        .context("cannot read the stored name")?
    {
        Some(f) => Ok(f.expose_secret().to_owned()),
        None => bail!("no name is configured; run `aws-sso setup ecs cert fqdn <name>` first"),
    }
}

/// The configured service URL, else the default.
pub(crate) fn service_url(store: &dyn SecureStore) -> anyhow::Result<String> {
    Ok(store
        .get(CERTD_SERVICE_URL)
        .context("cannot read the service URL")?
        .map_or_else(
            || certd_client::DEFAULT_SERVICE_URL.to_owned(),
            |u| u.expose_secret().to_owned(),
        ))
}

/// A client of the configured service.
pub(crate) fn client(
    store: &dyn SecureStore,
    args: &CertServiceArgs,
) -> anyhow::Result<CertdClient> {
    let url = service_url(store)?;
    let ca = certd_client::extra_ca(args.ca_file.as_deref())?;
    CertdClient::new(&url, ca.as_deref())
}

/// The enrolled device key and its id.
pub(crate) fn device(
    store: &dyn SecureStore,
) -> anyhow::Result<(pki::request_signing::DeviceKey, i64)> {
    let (Some(key), Some(id)) = (
        store
            .get(CERTD_DEVICE_KEY)
            .context("cannot read the device key")?,
        store
            .get(CERTD_DEVICE_ID)
            .context("cannot read the device id")?,
    ) else {
        bail!("no device is enrolled; run `aws-sso setup ecs cert api-key <key>` first");
    };
    let der = zeroize::Zeroizing::new(
        hex::decode(key.expose_secret())
            .map_err(|_| anyhow::anyhow!("the stored device key is damaged; enroll again"))?,
    );
    let device = pki::request_signing::DeviceKey::from_pkcs8(&der)
        .map_err(|_| anyhow::anyhow!("the stored device key is damaged; enroll again"))?;
    let id = id
        .expose_secret()
        .parse()
        .map_err(|_| anyhow::anyhow!("the stored device id is damaged; enroll again"))?;
    Ok((device, id))
}

/// Stores an enrolled device.
pub(crate) fn store_device(
    store: &dyn SecureStore,
    device: &pki::request_signing::DeviceKey,
    id: i64,
) -> anyhow::Result<()> {
    let hex = SecretString::from(hex::encode(device.pkcs8().expose_secret()));
    store
        .set_many(&[
            (CERTD_DEVICE_KEY, &hex),
            (CERTD_DEVICE_ID, &SecretString::from(id.to_string())),
        ])
        .context("cannot store the device key and id")?;
    Ok(())
}

/// The start of a certificate's renewal window: the last third of its lifetime.
pub(crate) fn renewal_from(info: &pki::CertInfo) -> time::OffsetDateTime {
    info.renewal_from()
}

/// Checks that `chain_pem` is for `fqdn` only, matches `key_pem` and is valid now; returns
/// the leaf's details.
pub(crate) fn check_chain(
    chain_pem: &str,
    key_pem: &str,
    fqdn: &str,
) -> anyhow::Result<pki::CertInfo> {
    let pair = pki::ServingKey::from_pem(chain_pem, key_pem).map_err(|e| match e {
        pki::PkiError::KeyMismatch => anyhow::anyhow!("the certificate does not match the key"),
        other => anyhow::Error::from(other),
    })?;
    pki::check_server_chain(pair.chain())?;
    let info = pki::cert_info(pair.leaf()).context("cannot read the certificate")?;
    let names: Vec<&str> = info
        .dns_names
        .iter()
        .chain(&info.ip_addresses)
        .map(String::as_str)
        .collect();
    if names.is_empty() {
        bail!(
            "the certificate names no host: it has no subjectAltName, and TLS clients ignore \
             its subject ({}); it must name {fqdn}",
            info.subject
        );
    }
    if !names.iter().any(|n| n.eq_ignore_ascii_case(fqdn)) {
        bail!(
            "the certificate is for {} but the configured name is {fqdn}",
            names.join(", ")
        );
    }
    let others: Vec<&str> = names
        .into_iter()
        .filter(|n| !n.eq_ignore_ascii_case(fqdn))
        .collect();
    if !others.is_empty() {
        bail!(
            "the certificate also names {}; it must name {fqdn} only",
            others.join(", ")
        );
    }
    let now = time::OffsetDateTime::now_utc();
    if !info.is_valid_at(now) {
        bail!(
            "the certificate is not valid now (valid from {} to {})",
            wire::ecs::rfc3339_z(info.not_before),
            wire::ecs::rfc3339_z(info.not_after)
        );
    }
    Ok(info)
}
