//! `aws-sso setup ecs cert load <file>`: stores a certificate chain signed elsewhere, after
//! checking it names the configured name, matches the key (the one `export-csr` made, else
//! the stored serving key) and is valid now. A refused chain changes nothing.

use std::process::ExitCode;

use anyhow::{Context, bail};
use secrecy::{ExposeSecret, SecretString};

use super::cert;
use crate::args::CertLoadArgs;
use crate::config::Config;
use crate::items::{ECS_CERT_PENDING_KEY, ECS_SSL_CERT, ECS_SSL_KEY};
use crate::out;

/// Runs the command.
pub fn run(args: &CertLoadArgs) -> anyhow::Result<ExitCode> {
    let meta = std::fs::metadata(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    if meta.len() > 1024 * 1024 {
        bail!(
            "{} is larger than 1 MiB; is it the right file?",
            args.file.display()
        );
    }
    let bytes = std::fs::read(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    let chain = super::ecs_ssl::pem_text(bytes, &args.file)?;
    let config = Config::load()?;
    let store = config.open_store()?;
    let fqdn = cert::stored_fqdn(store.as_ref())?;
    let pending = store.get(ECS_CERT_PENDING_KEY)?;
    let current = store.get(ECS_SSL_KEY)?;
    let refuse = |e: anyhow::Error| {
        e.context(format!(
            "refusing {}; nothing was changed",
            args.file.display()
        ))
    };
    let (key, info): (SecretString, pki::CertInfo) = match (pending, current) {
        (None, None) => bail!(
            "no key is stored to match {}; run `aws-sso setup ecs cert export-csr` first",
            args.file.display()
        ),
        (Some(p), current) => match cert::check_chain(&chain, p.expose_secret(), &fqdn) {
            Ok(info) => (p, info),
            Err(pending_err) => match current {
                // A chain for the serving key (e.g. renewed by the same CA) is fine too.
                Some(c) => match cert::check_chain(&chain, c.expose_secret(), &fqdn) {
                    Ok(info) => (c, info),
                    Err(_) => return Err(refuse(pending_err)),
                },
                None => return Err(refuse(pending_err)),
            },
        },
        (None, Some(c)) => {
            let info = cert::check_chain(&chain, c.expose_secret(), &fqdn).map_err(refuse)?;
            (c, info)
        }
    };
    // Only the certificates are stored: no text or key block the file also held.
    let chain = pki::chain_to_pem(&pki::parse_cert_chain(&chain)?);
    store
        .set_many(&[
            (ECS_SSL_KEY, &key),
            (ECS_SSL_CERT, &SecretString::from(chain)),
        ])
        .context("cannot store the certificate and its key")?;
    store.delete(ECS_CERT_PENDING_KEY)?;
    out::note(&format!(
        "Stored the certificate for {fqdn} (issuer {}, serial {}, expires {}) and its key in {}.",
        info.issuer,
        info.serial_hex,
        wire::ecs::rfc3339_z(info.not_after),
        store.describe()
    ));
    Ok(ExitCode::SUCCESS)
}
