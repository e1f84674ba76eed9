//! `aws-sso ecs server`: the ECS credential server in the foreground, with TLS and the
//! bearer token from the SecureStore, until SIGINT or SIGTERM.

use std::net::SocketAddr;
use std::process::ExitCode;

use anyhow::{Context, bail};
use ecs::{AppState, ServeOptions};

use crate::args::ListenArgs;
use crate::config::Config;
use crate::{items, out};

/// What the server needs from the SecureStore, read once at start.
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
pub fn run(args: &ListenArgs) -> anyhow::Result<ExitCode> {
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
    drop(store);
    serve(args, ServerSecrets { token, key })
}

/// Checks the secrets, binds and serves until a signal arrives.
pub fn serve(args: &ListenArgs, secrets: ServerSecrets) -> anyhow::Result<ExitCode> {
    let now = time::OffsetDateTime::now_utc();
    let mut not_after = None;
    if let Some(key) = &secrets.key {
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
        not_after = Some(info.not_after);
    }
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
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr}"))?;
        let local = listener.local_addr()?;
        tracing::info!(url = %format!("{scheme}://{local}/"), "ECS server listening");
        let opts = ServeOptions {
            tls,
            ..ServeOptions::default()
        };
        ecs::serve(listener, ecs::router(state), opts, shutdown_signal()).await;
        tracing::info!("ECS server stopped");
        anyhow::Ok(())
    })?;
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
