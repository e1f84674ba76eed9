//! `aws-sso setup ecs cert export-csr [--file <path>]`: the own-CA path. Makes a fresh
//! P-256 key, keeps it in the SecureStore (pending until `cert load`), and writes only the
//! CSR, to the file or stdout.

use std::process::ExitCode;

use anyhow::Context;

use super::{cert, cert_sign_csr};
use crate::args::CertExportCsrArgs;
use crate::config::Config;
use crate::items::ECS_CERT_PENDING_KEY;
use crate::out;

/// Runs the command.
pub fn run(args: &CertExportCsrArgs) -> anyhow::Result<ExitCode> {
    // The key (or the first TLS handshake) needs the seeded generator.
    pki::warm_up_rng();
    let config = Config::load()?;
    let store = config.open_store()?;
    let fqdn = cert::stored_fqdn(store.as_ref())?;
    let (key, csr) = cert_sign_csr::new_key_and_csr(&fqdn)?;
    // The serving key stays as it is until `cert load` brings the certificate for this one.
    store
        .set(ECS_CERT_PENDING_KEY, &key)
        .context("cannot store the new private key")?;
    match &args.file {
        Some(path) => {
            std::fs::write(path, &csr)
                .with_context(|| format!("cannot write the CSR to {}", path.display()))?;
            out::note(&format!(
                "Wrote the CSR for {fqdn} to {}; its key is in {}. Have it signed, then run \
                 `aws-sso setup ecs cert load <chain.pem>`.",
                path.display(),
                store.describe()
            ));
        }
        None => {
            out::line(csr.trim_end())?;
            out::note(&format!(
                "The CSR for {fqdn} is above; its key is in {}. Have it signed, then run \
                 `aws-sso setup ecs cert load <chain.pem>`.",
                store.describe()
            ));
        }
    }
    Ok(ExitCode::SUCCESS)
}
