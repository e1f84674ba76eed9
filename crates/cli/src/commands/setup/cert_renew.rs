//! `aws-sso setup ecs cert renew [--output json]`: gets a new certificate (as `sign-csr`
//! does) when the stored one is in its renewal window (the last third of its lifetime),
//! expired, or unusable; otherwise says when it will be due and changes nothing.

use std::process::ExitCode;

use anyhow::bail;
use secrecy::ExposeSecret;
use serde_json::json;

use super::{cert, cert_sign_csr};
use crate::args::{CertRenewArgs, OutputMode};
use crate::config::Config;
use crate::items::{ECS_SSL_CERT, ECS_SSL_KEY};
use crate::out;

/// Runs the command.
pub fn run(args: &CertRenewArgs, mode: OutputMode) -> anyhow::Result<ExitCode> {
    // The key (or the first TLS handshake) needs the seeded generator.
    pki::warm_up_rng();
    let config = Config::load()?;
    let store = config.open_store()?;
    let fqdn = cert::stored_fqdn(store.as_ref())?;
    let Some(chain) = store.get(ECS_SSL_CERT)? else {
        bail!("no certificate is stored to renew; run `aws-sso setup ecs cert sign-csr` first");
    };
    let old = pki::parse_cert_chain(chain.expose_secret())
        .ok()
        .and_then(|c| c.first().and_then(|leaf| pki::cert_info(leaf).ok()));
    let now = time::OffsetDateTime::now_utc();
    let (due, reason) = match (&old, store.get(ECS_SSL_KEY)?) {
        (None, _) => (true, "the stored certificate cannot be read".to_owned()),
        (Some(_), None) => (true, "no private key is stored with it".to_owned()),
        (Some(info), Some(key)) => {
            match cert::check_chain(chain.expose_secret(), key.expose_secret(), &fqdn) {
                Ok(_) if now < cert::renewal_from(info) => (false, String::new()),
                Ok(_) => (
                    true,
                    format!(
                        "its renewal window started on {}",
                        wire::ecs::rfc3339_z(cert::renewal_from(info))
                    ),
                ),
                Err(_) if info.not_after < now => (
                    true,
                    format!("it expired on {}", wire::ecs::rfc3339_z(info.not_after)),
                ),
                Err(e) => (true, format!("it is unusable: {e:#}")),
            }
        }
    };
    let (info, renewed) = if due {
        out::note(&format!(
            "The stored certificate for {fqdn} is due for renewal ({reason}); renewing..."
        ));
        let new = cert_sign_csr::issue_and_store(store.as_ref(), &fqdn, &args.service)?;
        (Some(new), true)
    } else {
        (old, false)
    };
    let renewal_start = info
        .as_ref()
        .map(|i| wire::ecs::rfc3339_z(cert::renewal_from(i)));
    let not_after = info.as_ref().map(|i| wire::ecs::rfc3339_z(i.not_after));
    let v = json!({
        "due": due, "renewal_start": renewal_start, "not_after": not_after, "renewed": renewed,
    });
    let text = match (renewed, &renewal_start, &not_after) {
        (true, Some(from), Some(until)) => format!(
            "Renewed the certificate for {fqdn}: it expires {until}, renewal due from {from}.\n"
        ),
        (false, Some(from), Some(until)) => format!(
            "The certificate for {fqdn} is not due for renewal until {from} (it expires {until}); nothing to do.\n"
        ),
        _ => String::new(),
    };
    out::value(mode, &v, &text)?;
    Ok(ExitCode::SUCCESS)
}
