//! `aws-sso setup ecs cert api-key <key>`: generates an Ed25519 device key, enrolls it with
//! the certificate service using the one-time API key, and stores the device key and id.
//! The API key itself is never stored.

use std::process::ExitCode;

use anyhow::Context;
use secrecy::{ExposeSecret, SecretString};

use super::cert;
use crate::args::CertApiKeyArgs;
use crate::config::Config;
use crate::items::ECS_CERT_FQDN;
use crate::out;

/// Runs the command.
pub fn run(args: &CertApiKeyArgs) -> anyhow::Result<ExitCode> {
    // The key (or the first TLS handshake) needs the seeded generator.
    pki::warm_up_rng();
    let api_key = SecretString::from(args.key.expose_secret().trim().to_owned());
    if api_key.expose_secret().is_empty() {
        anyhow::bail!("the API key is empty");
    }
    let config = Config::load()?;
    let store = config.open_store()?;
    let client = cert::client(store.as_ref(), &args.service)?;
    let device = pki::request_signing::DeviceKey::generate()
        .map_err(|_| anyhow::anyhow!("cannot generate a device key"))?;
    out::note(&format!(
        "Enrolling a new device key with {}...",
        client.describe()
    ));
    let enrolled = crate::commands::block_on(client.enroll(&api_key, &device))??;
    // Only now, after the service accepted it, is anything stored.
    cert::store_device(store.as_ref(), &device, enrolled.device_id)
        .context("the device was enrolled but cannot be stored; ask for a new API key")?;
    out::note(&format!(
        "Enrolled as device {} for {}; the device key is in {}.",
        enrolled.device_id,
        enrolled.fqdn,
        store.describe()
    ));
    let configured = store
        .get(ECS_CERT_FQDN)?
        .map(|f| f.expose_secret().to_owned());
    match configured {
        Some(f) if f.eq_ignore_ascii_case(&enrolled.fqdn) => {
            out::note("Next: `aws-sso setup ecs cert sign-csr`.");
        }
        Some(f) => out::note(&format!(
            "Warning: the configured name is {f} but this device may only get certificates for {}; \
             run `aws-sso setup ecs cert fqdn {}`.",
            enrolled.fqdn, enrolled.fqdn
        )),
        None => out::note(&format!(
            "Next: `aws-sso setup ecs cert fqdn {}`, then `aws-sso setup ecs cert sign-csr`.",
            enrolled.fqdn
        )),
    }
    Ok(ExitCode::SUCCESS)
}
