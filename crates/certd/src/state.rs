//! What every request handler shares: the store, the live DNS zone, settings, limits and
//! the clock.

use std::sync::Arc;

use certd_dns::ZoneState;
use certd_store::{PasswordHash, Store};
use time::OffsetDateTime;

use crate::limits::Limits;

/// Where the service reads the time: a parameter so expiry and windows are testable.
pub type Clock = Arc<dyn Fn() -> OffsetDateTime + Send + Sync>;

/// Settings the handlers need.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The zone, e.g. `aws-sso-cli.org`.
    pub zone: String,
    /// `Secure` on the session cookie.
    pub secure_cookies: bool,
    /// Hostnames per account.
    pub hostnames_per_account: u32,
    /// How long a deleted hostname is held back.
    pub hostname_hold: time::Duration,
    /// How long a login lasts.
    pub session_ttl: time::Duration,
    /// Oldest accepted signed request.
    pub signature_max_age: time::Duration,
    /// The service's public base URL (`https://certs.example.org`): links in mails.
    pub public_url: String,
    /// Client addresses (networks) of reverse proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<crate::proxy::IpNet>,
    /// The service itself is reached over HTTPS (its own TLS, or a trusted proxy's):
    /// HSTS is sent.
    pub https: bool,
}

impl Settings {
    /// Defaults for `zone`: 90-day hold, 12-hour sessions, 5-minute signatures.
    pub fn new(zone: &str) -> Self {
        Settings {
            zone: zone.to_owned(),
            secure_cookies: true,
            hostnames_per_account: 5,
            hostname_hold: time::Duration::days(90),
            session_ttl: time::Duration::hours(12),
            signature_max_age: time::Duration::minutes(5),
            public_url: format!("https://certs.{zone}"),
            trusted_proxies: Vec::new(),
            https: false,
        }
    }
}

/// The shared state, cheap to clone.
#[derive(Clone)]
pub struct AppState(pub(crate) Arc<Inner>);

pub(crate) struct Inner {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) zone: Arc<ZoneState>,
    pub(crate) settings: Settings,
    pub(crate) limits: Limits,
    pub(crate) clock: Clock,
    pub(crate) dummy_hash: PasswordHash,
    pub(crate) acme: Option<Arc<crate::acme::AcmeHandle>>,
    pub(crate) mailer: certd_mail::Mailer,
    /// Key of the forms' anti-forgery tokens (random per process: a restart only makes
    /// open forms ask for a reload).
    pub(crate) csrf_key: aws_lc_rs::hmac::Key,
    /// Hostnames with a certificate order under way in this process.
    pub(crate) ordering: std::sync::Mutex<std::collections::HashSet<String>>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("settings", &self.0.settings)
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// State over `store` and `zone`, ordering certificates from `acme` when given.
    pub fn new(
        store: Arc<dyn Store>,
        zone: Arc<ZoneState>,
        settings: Settings,
        clock: Clock,
        acme: Option<crate::acme::AcmeHandle>,
    ) -> anyhow::Result<Self> {
        let dummy_hash = crate::secrets::dummy_hash()?;
        // Mail goes to standard error until a mail server is configured (`with_mailer`).
        let mailer = certd_mail::Mailer::new(
            &certd_mail::MailConfig::default(),
            std::path::Path::new("."),
        )?;
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let csrf_key = aws_lc_rs::hmac::Key::generate(aws_lc_rs::hmac::HMAC_SHA256, &rng)
            .map_err(|_| anyhow::anyhow!("cannot generate the CSRF key"))?;
        Ok(AppState(Arc::new(Inner {
            store,
            zone,
            settings,
            limits: Limits::default(),
            clock,
            dummy_hash,
            acme: acme.map(Arc::new),
            mailer,
            csrf_key,
            ordering: std::sync::Mutex::default(),
        })))
    }

    /// The same state sending mail through `mailer`. Call before the state is cloned.
    pub fn with_mailer(mut self, mailer: certd_mail::Mailer) -> anyhow::Result<Self> {
        let inner = Arc::get_mut(&mut self.0)
            .ok_or_else(|| anyhow::anyhow!("with_mailer after the state was shared"))?;
        inner.mailer = mailer;
        Ok(self)
    }

    /// The ACME client handle, when a CA is configured.
    pub fn acme_handle(&self) -> Option<Arc<crate::acme::AcmeHandle>> {
        self.0.acme.clone()
    }

    pub(crate) async fn acme(&self) -> Result<&certd_acme::Acme, crate::error::ApiError> {
        match &self.0.acme {
            Some(handle) => handle.get().await,
            None => Err(crate::error::ApiError::CaUnavailable(
                "no ACME CA is configured".into(),
            )),
        }
    }

    pub(crate) fn now(&self) -> OffsetDateTime {
        (self.0.clock)()
    }

    pub(crate) fn store(&self) -> &dyn Store {
        self.0.store.as_ref()
    }

    pub(crate) fn fqdn(&self, label: &str) -> String {
        format!("{label}.{}", self.0.settings.zone)
    }
}

/// A hostname's certificate order under way; the name is free again when this is dropped.
pub(crate) struct Ordering {
    state: AppState,
    hostname: String,
}

impl AppState {
    /// Marks `hostname` as being ordered, or refuses while another order for it runs: the
    /// zone holds two TXT values per name, and a third order would fail late, after its
    /// order exists at the CA.
    pub(crate) fn begin_order(
        &self,
        hostname: &str,
        fqdn: &str,
    ) -> Result<Ordering, crate::error::ApiError> {
        let mut ordering = self
            .0
            .ordering
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if !ordering.insert(hostname.to_owned()) {
            return Err(crate::error::ApiError::OrderInProgress(fqdn.to_owned()));
        }
        Ok(Ordering {
            state: self.clone(),
            hostname: hostname.to_owned(),
        })
    }
}

impl Drop for Ordering {
    fn drop(&mut self) {
        self.state
            .0
            .ordering
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&self.hostname);
    }
}
