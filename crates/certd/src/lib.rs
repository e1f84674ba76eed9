//! aws-sso-certd as a library: configuration, the JSON API over the store and the live DNS
//! zone, authentication (sessions, signed device requests), rate limits and the audit log.
//! `main` only parses arguments and calls [`run`]; tests drive [`router`] in-process.

pub mod acme;
pub mod api;
pub mod auth;
pub mod config;
pub mod error;
pub mod jobs;
pub mod limits;
pub mod proxy;
pub mod secrets;
pub mod service;
pub mod state;
pub mod validate;
pub mod web;
pub mod webcert;

use std::sync::Arc;

use anyhow::Context;
use axum::Router;

pub use state::{AppState, Clock, Settings};

/// The whole HTTP interface over `state`: the HTML pages, the JSON API, and the security
/// headers on every response.
pub fn router(state: AppState) -> Router {
    web::routes()
        .merge(api::routes())
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            web::security_headers,
        ))
        .with_state(state)
}

/// The zone's DNS configuration from certd's config.
pub fn zone_config(config: &config::Config) -> certd_dns::ZoneConfig {
    let nameservers: Vec<certd_dns::NameServer> = config
        .nameservers
        .iter()
        .map(|n| certd_dns::NameServer {
            name: n.clone(),
            ipv4: None,
            ipv6: None,
        })
        .collect();
    let mname = config.nameservers.first().cloned().unwrap_or_default();
    // The serial only has to grow between configurations: the start time does.
    let serial = u32::try_from(time::OffsetDateTime::now_utc().unix_timestamp()).unwrap_or(1);
    certd_dns::ZoneConfig {
        apex: config.zone.clone(),
        nameservers,
        soa: certd_dns::Soa {
            mname,
            rname: config.hostmaster.clone(),
            serial,
            refresh: 3600,
            retry: 600,
            expire: 1_209_600,
            minimum: 60,
        },
        caa: vec![certd_dns::CaaRecord {
            issuer: config.caa_issuer.clone(),
            account_uri: config.caa_account_uri.clone(),
            dns01_only: true,
        }],
        answer_aaaa: config.answer_aaaa,
        ttl: 300,
    }
}

/// Runs the service: opens the store (migrating it), loads the registered names into the
/// zone, and serves HTTP and DNS until SIGINT or SIGTERM.
pub fn run(config: config::Config) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        std::fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("cannot create data_dir {}", config.data_dir.display()))?;
        // A configured certificate is checked before any port is taken.
        let tls = match &config.tls {
            Some((cert, key)) => Some(tls_config(cert, key)?),
            None => None,
        };
        let store = certd_store::open(&config.store)
            .await
            .context("cannot open the store")?;
        let zone = Arc::new(certd_dns::ZoneState::new(zone_config(&config))?);
        zone.replace_all(loadable_labels(store.list_all_labels().await?))?;
        tracing::info!(zone = %config.zone, names = zone.len(), "zone loaded");
        let udp = tokio::net::UdpSocket::bind(config.dns_listen)
            .await
            .with_context(|| format!("cannot listen on {} (UDP)", config.dns_listen))?;
        let tcp = tokio::net::TcpListener::bind(config.dns_listen)
            .await
            .with_context(|| format!("cannot listen on {} (TCP)", config.dns_listen))?;
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let mut dns_stop = stop_rx;
        let dns = tokio::spawn(certd_dns::serve(udp, tcp, Arc::clone(&zone), certd_dns::ServeOptions::default(), async move {
            let _ = dns_stop.wait_for(|s| *s).await;
        }));
        let mut settings = Settings::new(&config.zone);
        settings.secure_cookies = config.secure_cookies;
        settings.hostnames_per_account = config.hostnames_per_account;
        settings.public_url = config.public_url.clone();
        settings.trusted_proxies = config.trusted_proxies.clone();
        settings.https = config.https;
        let clock: Clock = Arc::new(time::OffsetDateTime::now_utc);
        let mailer = certd_mail::Mailer::new(&config.mail, &config.config_dir)
            .context("[mail]")?;
        tracing::info!(transport = mailer.transport_name(), "mail");
        let state = AppState::new(store, Arc::clone(&zone), settings, clock, Some(acme_handle(&config)?))?
            .with_mailer(mailer)?;
        let tls = match (&config.acme_web_label, tls) {
            (Some(label), _) => {
                let acme = state.acme_handle().context("no ACME CA")?;
                let web = webcert::WebCert::start(label, Arc::clone(&zone), acme, &config.data_dir).await?;
                let cfg = web.server_config()?;
                web.spawn_renewal();
                Some(cfg)
            }
            (None, tls) => tls,
        };
        // Interrupted orders are settled in the background: a CA that is down must not
        // keep the service from starting.
        let recovering = state.clone();
        tokio::spawn(async move {
            match jobs::recover_orders(&recovering).await {
                Ok(r) if r.completed + r.failed > 0 => {
                    tracing::info!(completed = r.completed, failed = r.failed, "interrupted orders settled");
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "cannot list interrupted orders"),
            }
        });
        jobs::spawn_housekeeping(state.clone());
        let listener = tokio::net::TcpListener::bind(config.http_listen)
            .await
            .with_context(|| format!("cannot listen on {}", config.http_listen))?;
        tracing::info!(http = %config.http_listen, dns = %config.dns_listen, https = tls.is_some(), public_url = %config.public_url, "aws-sso-certd serving");
        let opts = ecs::ServeOptions { tls, ..ecs::ServeOptions::default() };
        ecs::serve(listener, router(state), opts, shutdown_signal()).await;
        let _ = stop_tx.send(true);
        let _ = dns.await;
        tracing::info!("aws-sso-certd stopped");
        anyhow::Ok(())
    })
}

/// The TLS configuration serving the PEM chain and key in these files (checked to match).
pub fn tls_config(
    cert: &std::path::Path,
    key: &std::path::Path,
) -> anyhow::Result<Arc<rustls::ServerConfig>> {
    let chain = std::fs::read_to_string(cert)
        .with_context(|| format!("cannot read http.tls_cert {}", cert.display()))?;
    let key_pem = std::fs::read_to_string(key)
        .with_context(|| format!("cannot read http.tls_key {}", key.display()))?;
    let serving = pki::ServingKey::from_pem(&chain, &key_pem).with_context(|| {
        format!(
            "http.tls_cert {} and http.tls_key {}",
            cert.display(),
            key.display()
        )
    })?;
    Ok(ecs::server_config(&serving)?)
}

/// The stored labels the zone can serve. A row that is not a valid label (the store checks
/// on the way in, so only a tampered database has one) is logged and left out: it can make
/// nothing resolve, and it must not keep every other name from resolving.
pub fn loadable_labels(labels: Vec<String>) -> Vec<String> {
    labels
        .into_iter()
        .filter(|l| {
            let ok = certd_dns::Label::parse(l).is_ok();
            if !ok {
                tracing::error!(label = %l.escape_debug(), "ignoring an invalid hostname stored in the database");
            }
            ok
        })
        .collect()
}

/// The ACME client of the configuration (opened on first use).
pub fn acme_handle(config: &config::Config) -> anyhow::Result<acme::AcmeHandle> {
    let directory: certd_acme::Directory = config
        .acme_directory
        .0
        .parse()
        .map_err(|e| anyhow::anyhow!("acme.directory: {e}"))?;
    let mut acme = certd_acme::AcmeConfig::new(directory);
    acme.contact_email = Some(config.acme_contact.clone());
    if let Some(path) = &config.acme_extra_root {
        let pem = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read acme.extra_root {}", path.display()))?;
        acme.extra_roots_pem = Some(pem);
    }
    if let Some(eab) = &config.eab {
        use secrecy::ExposeSecret;
        acme.external_account = Some(
            certd_acme::ExternalAccountBinding::from_base64url(
                &eab.kid,
                eab.hmac_key.expose_secret(),
            )
            .map_err(|e| anyhow::anyhow!("acme.eab_hmac_key_file: {e}"))?,
        );
    }
    let account = certd_acme::FileAccountStore::new(config.data_dir.join("acme-account.json"));
    Ok(acme::AcmeHandle::new(acme, account))
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
