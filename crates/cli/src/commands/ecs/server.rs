//! `aws-sso ecs server`: the ECS credential server in the foreground, with TLS and the
//! bearer token from the SecureStore (or, in a container, from a secrets file it deletes
//! on reading), until SIGINT or SIGTERM.

use std::io::Read;
use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, bail};
use ecs::{AppState, ServeOptions};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::args::{ListenArgs, ServerArgs};
use crate::commands::setup;
use crate::config::Config;
use crate::{items, out};

/// What the server needs: from the SecureStore, or from a secrets file, read once at start.
pub struct ServerSecrets {
    /// The bearer token, `None` with `--disable-auth`.
    pub token: Option<ecs::BearerToken>,
    /// Certificate and key, `None` for plain HTTP.
    pub key: Option<pki::ServingKey>,
}

impl std::fmt::Debug for ServerSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerSecrets")
            .field("auth", &self.token.is_some())
            .field("tls", &self.key.is_some())
            .finish()
    }
}

/// Runs the command.
pub fn run(args: &ServerArgs) -> anyhow::Result<ExitCode> {
    // The key (or the first TLS handshake) needs the seeded generator.
    pki::warm_up_rng();
    let secrets = match &args.secrets_file {
        Some(path) => secrets_from_file(&args.listen, SecretsFile::take(path)?)?,
        None => secrets_from_store(&args.listen)?,
    };
    serve(&args.listen, secrets)
}

/// The secrets the flags ask for, from the SecureStore.
fn secrets_from_store(args: &ListenArgs) -> anyhow::Result<ServerSecrets> {
    let config = Config::load()?;
    let store = config.open_store()?;
    let token = if args.disable_auth {
        None
    } else {
        Some(items::bearer_token(store.as_ref())?.context(
            "no bearer token is stored: run `aws-sso setup ecs auth --generate` (or start with --disable-auth)",
        )?)
    };
    let key = if args.disable_ssl {
        None
    } else {
        items::serving_key(store.as_ref())?
    };
    if key.is_some()
        && let Some(fqdn) = store.get(items::ECS_CERT_FQDN)?
    {
        warn_unless_name_is_published(fqdn.expose_secret().to_owned());
    }
    Ok(ServerSecrets { token, key })
}

/// Checks, on a thread of its own, that the certificate's name resolves only to the
/// addresses the certificate service publishes (127.0.0.1, ::1), and warns loudly naming
/// the addresses when not: DNS or /etc/hosts may be poisoned, sending SDKs elsewhere.
/// It only warns and never stops or delays the server: a resolver outage (or a slow one)
/// must not take the credentials away from SDKs that reach the server by other names.
fn warn_unless_name_is_published(fqdn: String) {
    let check = move || {
        let problem = match setup::cert_fqdn::resolve(&fqdn) {
            Ok(addrs) => setup::cert_fqdn::unpublished_answer(&fqdn, &addrs),
            Err(e) => Some(format!("{e:#}")),
        };
        if let Some(problem) = problem {
            out::note(&format!("WARNING: {problem}"));
        }
    };
    if let Err(e) = std::thread::Builder::new()
        .name("dns-check".into())
        .spawn(check)
    {
        tracing::warn!(error = %e, "cannot start the DNS check of the certificate's name");
    }
}

/// The secrets the flags ask for, from a secrets file's contents.
fn secrets_from_file(args: &ListenArgs, file: SecretsFile) -> anyhow::Result<ServerSecrets> {
    let token = match (args.disable_auth, &file.token) {
        (true, _) => None,
        (false, Some(t)) => {
            Some(ecs::BearerToken::new(t).context("the secrets file's bearer token is invalid")?)
        }
        (false, None) => {
            bail!("the secrets file holds no bearer token (start with --disable-auth)")
        }
    };
    let key = match (args.disable_ssl, &file.cert_pem, &file.key_pem) {
        (true, _, _) | (false, None, None) => None,
        (false, Some(cert), Some(key)) => Some(
            pki::ServingKey::from_pem(cert.expose_secret(), key.expose_secret())
                .context("the secrets file's certificate and key are unusable")?,
        ),
        (false, _, _) => bail!("the secrets file holds a certificate or a key without the other"),
    };
    Ok(ServerSecrets { token, key })
}

/// The largest secrets file read: a token, a certificate chain and a key fit many times.
const MAX_SECRETS_FILE_BYTES: u64 = 1024 * 1024;

/// The secrets file `ecs docker start` writes and `ecs server --secrets-file` reads:
/// `{"token": ..., "cert_pem": ..., "key_pem": ...}`, each field optional. Each value is
/// zeroized on drop and `Debug` says only which are present.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SecretsFile {
    /// The bearer token, without the `Bearer ` prefix.
    #[serde(default)]
    token: Option<SecretString>,
    /// The certificate chain, PEM, leaf first.
    #[serde(default)]
    cert_pem: Option<SecretString>,
    /// The private key, PEM.
    #[serde(default)]
    key_pem: Option<SecretString>,
}

impl std::fmt::Debug for SecretsFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretsFile")
            .field("token", &self.token.is_some())
            .field("cert_pem", &self.cert_pem.is_some())
            .field("key_pem", &self.key_pem.is_some())
            .finish()
    }
}

/// The serialised form, borrowing the secrets so that no copy outlives the call.
#[derive(Serialize)]
struct SecretsFileRef<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    token: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cert_pem: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    key_pem: Option<&'a str>,
}

impl SecretsFile {
    /// The JSON of a secrets file holding these secrets, in a buffer zeroized on drop.
    pub(crate) fn encode(
        token: Option<&SecretString>,
        cert_pem: Option<&SecretString>,
        key_pem: Option<&SecretString>,
    ) -> anyhow::Result<Zeroizing<Vec<u8>>> {
        let len = |s: Option<&SecretString>| s.map_or(0, |s| s.expose_secret().len());
        // JSON escaping at most doubles PEM text (newlines); reserving once means the
        // buffer never reallocates and leaves no unzeroized copy behind.
        let capacity = 2 * (len(token) + len(cert_pem) + len(key_pem)) + 128;
        let mut buf = Zeroizing::new(Vec::with_capacity(capacity));
        let view = SecretsFileRef {
            token: token.map(|s| s.expose_secret()),
            cert_pem: cert_pem.map(|s| s.expose_secret()),
            key_pem: key_pem.map(|s| s.expose_secret()),
        };
        serde_json::to_writer(&mut *buf, &view).context("cannot encode the secrets file")?;
        Ok(buf)
    }

    /// Reads the secrets file at `path` and deletes it before looking at its contents, so
    /// that the secrets leave the disk even when they turn out unusable. Refuses to go on
    /// when the file cannot be deleted.
    pub(crate) fn take(path: &Path) -> anyhow::Result<Self> {
        let bytes = read_limited(path)
            .with_context(|| format!("cannot read the secrets file {}", path.display()))?;
        std::fs::remove_file(path).with_context(|| {
            format!(
                "cannot delete the secrets file {} after reading it; refusing to serve while it stays on disk",
                path.display()
            )
        })?;
        tracing::info!(path = %path.display(), "read and deleted the secrets file");
        Self::decode(&bytes)
    }

    fn decode(bytes: &[u8]) -> anyhow::Result<Self> {
        // serde_json's error names a position, never the offending value.
        serde_json::from_slice(bytes).context("the secrets file is not valid")
    }
}

fn read_limited(path: &Path) -> std::io::Result<Zeroizing<Vec<u8>>> {
    let file = std::fs::File::open(path)?;
    let len = file.metadata()?.len();
    if len > MAX_SECRETS_FILE_BYTES {
        return Err(std::io::Error::other(format!(
            "larger than {MAX_SECRETS_FILE_BYTES} bytes"
        )));
    }
    // Reserve once so the buffer never reallocates and leaves copies behind.
    let mut buf = Zeroizing::new(Vec::with_capacity(usize::try_from(len).unwrap_or(0) + 1));
    file.take(MAX_SECRETS_FILE_BYTES).read_to_end(&mut buf)?;
    Ok(buf)
}

/// Refuses a certificate outside its validity period at `now`; returns its expiry.
pub(crate) fn check_validity(
    key: &pki::ServingKey,
    now: time::OffsetDateTime,
) -> anyhow::Result<time::OffsetDateTime> {
    let info = pki::cert_info(key.leaf())?;
    if info.not_after < now {
        bail!(
            "refusing to serve TLS with a certificate that expired on {}: import a new one (aws-sso setup ecs ssl)",
            wire::ecs::rfc3339_z(info.not_after)
        );
    }
    if info.not_before > now {
        bail!(
            "refusing to serve TLS with a certificate that is not valid before {}",
            wire::ecs::rfc3339_z(info.not_before)
        );
    }
    Ok(info.not_after)
}

/// Checks the secrets, binds and serves until a signal arrives.
pub fn serve(args: &ListenArgs, secrets: ServerSecrets) -> anyhow::Result<ExitCode> {
    let now = time::OffsetDateTime::now_utc();
    let not_after = secrets
        .key
        .as_ref()
        .map(|key| check_validity(key, now))
        .transpose()?;
    if secrets.token.is_none() {
        out::note("warning: --disable-auth: any process that can connect gets the credentials");
    }
    if secrets.key.is_none() {
        out::note(
            "warning: serving plain HTTP: a local user who can read loopback traffic sees the token and the credentials",
        );
    }
    if !args.bind_ip.is_loopback() {
        out::note(&format!(
            "warning: binding {}, which is not a loopback address",
            args.bind_ip
        ));
    }
    let tls = secrets.key.as_ref().map(ecs::server_config).transpose()?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let state = AppState::new(secrets.token, ecs::system_clock(), not_after);
    let addr = SocketAddr::new(args.bind_ip, args.port);
    let listener =
        std::net::TcpListener::bind(addr).with_context(|| format!("cannot listen on {addr}"))?;
    let local = listener.local_addr()?;
    tracing::info!(url = %format!("{scheme}://{local}/"), "ECS server listening");
    let opts = ServeOptions {
        tls,
        ..ServeOptions::default()
    };
    let threads = std::thread::available_parallelism().unwrap_or(std::num::NonZeroUsize::MIN);
    ecs::serve_threads(
        listener,
        ecs::router(state),
        opts,
        threads,
        shutdown_signal(),
    )?;
    tracing::info!("ECS server stopped");
    Ok(ExitCode::SUCCESS)
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let term = async {
        match signal(SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = term => {}
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn listen(disable_auth: bool, disable_ssl: bool) -> ListenArgs {
        ListenArgs {
            bind_ip: std::net::Ipv4Addr::LOCALHOST.into(),
            port: 0,
            disable_auth,
            disable_ssl,
        }
    }

    fn secret(s: &str) -> SecretString {
        SecretString::from(s.to_owned())
    }

    #[test]
    fn the_secrets_file_round_trips_and_is_deleted_on_reading() {
        let dir = std::env::temp_dir().join(format!("aws-sso-secrets-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("secrets.json");
        let pem = "-----BEGIN X-----\nAAAA\n-----END X-----\n";
        let bytes =
            SecretsFile::encode(Some(&secret("tok\"en")), Some(&secret(pem)), None).unwrap();
        assert_eq!(
            std::str::from_utf8(&bytes).unwrap(),
            r#"{"token":"tok\"en","cert_pem":"-----BEGIN X-----\nAAAA\n-----END X-----\n"}"#
        );
        std::fs::write(&path, &bytes).unwrap();
        let file = SecretsFile::take(&path).unwrap();
        assert!(!path.exists(), "deleted on reading");
        assert_eq!(file.token.as_ref().unwrap().expose_secret(), "tok\"en");
        assert_eq!(file.cert_pem.as_ref().unwrap().expose_secret(), pem);
        assert!(file.key_pem.is_none());
        assert_eq!(
            format!("{file:?}"),
            "SecretsFile { token: true, cert_pem: true, key_pem: false }"
        );

        // An unusable file is deleted too, and the error does not quote it.
        std::fs::write(&path, br#"{"token":"s3cr3t","extra":1}"#).unwrap();
        let err = format!("{:#}", SecretsFile::take(&path).unwrap_err());
        assert!(!path.exists());
        assert!(err.contains("unknown field `extra`"), "{err}");
        assert!(!err.contains("s3cr3t"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_flags_decide_which_secrets_the_file_must_hold() {
        let file = |token: Option<&str>, cert: Option<&str>, key: Option<&str>| SecretsFile {
            token: token.map(secret),
            cert_pem: cert.map(secret),
            key_pem: key.map(secret),
        };
        let s = secrets_from_file(&listen(false, false), file(Some("tok"), None, None)).unwrap();
        assert!(s.token.is_some() && s.key.is_none());
        let s = secrets_from_file(&listen(true, true), file(Some("tok"), Some("x"), None)).unwrap();
        assert!(s.token.is_none() && s.key.is_none());
        let err = |f: SecretsFile| {
            format!(
                "{:#}",
                secrets_from_file(&listen(false, false), f).unwrap_err()
            )
        };
        assert!(err(file(None, None, None)).contains("holds no bearer token"));
        assert!(err(file(Some("Bearer x"), None, None)).contains("bearer token is invalid"));
        assert!(err(file(Some("tok"), Some("x"), None)).contains("without the other"));
        assert!(err(file(Some("tok"), Some("x"), Some("y"))).contains("are unusable"));
    }
}
