//! `aws-sso setup ecs ssl`: import, print or delete the ECS server's certificate and key.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, bail};
use secrecy::{ExposeSecret, SecretString};

use crate::args::{OutputMode, SslArgs};
use crate::config::Config;
use crate::items::{ECS_SSL_CERT, ECS_SSL_KEY};
use crate::out;

/// Runs the command.
pub fn run(args: &SslArgs, mode: OutputMode) -> anyhow::Result<ExitCode> {
    let config = Config::load()?;
    if args.delete {
        let store = config.open_store()?;
        let had_cert = store.delete(ECS_SSL_CERT)?;
        let had_key = store.delete(ECS_SSL_KEY)?;
        out::note(if had_cert || had_key {
            "Deleted the ECS server's certificate and key; it now serves plain HTTP."
        } else {
            "No certificate or key was stored."
        });
        return Ok(ExitCode::SUCCESS);
    }
    if args.print {
        return print(&config, mode);
    }
    let (Some(cert_path), Some(key_path)) = (&args.certificate, &args.private_key) else {
        bail!("give --certificate and --private-key, or --print, or --delete");
    };
    let cert = read_pem(cert_path, "certificate")?;
    let key = SecretString::from(read_pem(key_path, "private key")?);
    // Check everything before storing anything: a refused pair changes nothing.
    let pair = pki::ServingKey::from_pem(&cert, key.expose_secret()).with_context(|| {
        format!(
            "refusing {} and {}",
            cert_path.display(),
            key_path.display()
        )
    })?;
    let refusing = || format!("refusing {}", cert_path.display());
    match pki::check_server_chain(pair.chain()) {
        Ok(()) => {}
        // What `openssl req -x509` makes by default: fine for OpenSSL-based SDKs.
        Err(pki::PkiError::CaLeaf) => out::note(&format!(
            "warning: {} is a CA certificate (basicConstraints CA:TRUE, as `openssl req -x509` \
             makes by default): botocore and the AWS CLI accept it, but the AWS SDK for Rust and \
             other rustls-based clients refuse it as a server certificate. Add `-addext \
             basicConstraints=critical,CA:FALSE` to the openssl command to make one all accept.",
            cert_path.display()
        )),
        Err(e) => return Err(anyhow::Error::from(e).context(refusing())),
    }
    let info = pki::cert_info(pair.leaf())?;
    if info.dns_names.is_empty() && info.ip_addresses.is_empty() {
        bail!(
            "refusing {}: the certificate names no host (no subjectAltName; TLS clients ignore \
             its subject {})",
            cert_path.display(),
            info.subject
        );
    }
    let now = time::OffsetDateTime::now_utc();
    if info.not_after < now {
        bail!(
            "refusing {}: the certificate expired on {}",
            cert_path.display(),
            wire::ecs::rfc3339_z(info.not_after)
        );
    }
    if now < info.not_before {
        bail!(
            "refusing {}: the certificate is not valid until {}",
            cert_path.display(),
            wire::ecs::rfc3339_z(info.not_before)
        );
    }
    // Only the certificates are stored (and printed by --print): no text or key block the
    // file also held.
    let chain = pki::chain_to_pem(pair.chain());
    let store = config.open_store()?;
    store.set_many(&[
        (ECS_SSL_KEY, &key),
        (ECS_SSL_CERT, &SecretString::from(chain)),
    ])?;
    out::note(&format!(
        "Stored the certificate for {} (expires {}) and its key in {}.",
        names(&info),
        wire::ecs::rfc3339_z(info.not_after),
        store.describe()
    ));
    Ok(ExitCode::SUCCESS)
}

fn names(info: &pki::CertInfo) -> String {
    let all: Vec<&str> = info
        .dns_names
        .iter()
        .chain(info.ip_addresses.iter())
        .map(String::as_str)
        .collect();
    if all.is_empty() {
        info.subject.clone()
    } else {
        all.join(", ")
    }
}

fn read_pem(path: &Path, what: &str) -> anyhow::Result<String> {
    let meta = std::fs::metadata(path)
        .with_context(|| format!("cannot read the {what} {}", path.display()))?;
    if meta.len() > 1024 * 1024 {
        bail!(
            "the {what} {} is larger than 1 MiB; is it the right file?",
            path.display()
        );
    }
    let bytes = std::fs::read(path)
        .with_context(|| format!("cannot read the {what} {}", path.display()))?;
    pem_text(bytes, path)
}

/// The file's bytes as text, or an error saying it is not PEM (e.g. binary DER).
pub(crate) fn pem_text(bytes: Vec<u8>, path: &Path) -> anyhow::Result<String> {
    String::from_utf8(bytes).map_err(|_| {
        anyhow::anyhow!(
            "{} is not a PEM text file (binary DER? convert it with `openssl x509 -inform DER \
             -in FILE -out FILE.pem`, or `openssl pkey -inform DER` for a key)",
            path.display()
        )
    })
}

fn print(config: &Config, mode: OutputMode) -> anyhow::Result<ExitCode> {
    let store = config.open_store()?;
    let Some(cert) = store.get(ECS_SSL_CERT)? else {
        bail!(
            "no certificate is stored; import one with `aws-sso setup ecs ssl --certificate ... --private-key ...`"
        );
    };
    let chain = pki::parse_cert_chain(cert.expose_secret())?;
    let first = chain.first().context("empty chain")?;
    let info = pki::cert_info(first)?;
    let json = serde_json::json!({
        "subject": info.subject, "issuer": info.issuer, "serial": info.serial_hex,
        "not_before": wire::ecs::rfc3339_z(info.not_before),
        "not_after": wire::ecs::rfc3339_z(info.not_after),
        "dns_names": info.dns_names, "ip_addresses": info.ip_addresses,
        "chain_pem": cert.expose_secret(),
    });
    out::value(mode, &json, cert.expose_secret())?;
    Ok(ExitCode::SUCCESS)
}
