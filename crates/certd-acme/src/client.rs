//! `Acme`: the ACME account of a certd instance, opened once from its [`AccountStore`]
//! (created at the CA on first use, then reused), and the account-level operations:
//! revocation and ARI renewal info. Orders are in `order.rs`.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use instant_acme::{
    Account, CertificateIdentifier, HttpClient, NewAccount, RetryPolicy, RevocationReason,
    RevocationRequest,
};
use rustls_pki_types::CertificateDer;
use time::OffsetDateTime;

use crate::account::{AccountStore, STORED_VERSION, StoredAccount};
use crate::config::AcmeConfig;
use crate::error::{AcmeError, error_chain};
use crate::http::{AcmeHttp, Tap, with_retry_after_slot};

/// The ACME client of certd: one account at one CA. Cheap to share by reference; orders
/// may run concurrently.
pub struct Acme {
    pub(crate) account: Account,
    account_url: String,
    directory_url: String,
    pub(crate) poll: RetryPolicy,
    bad_nonces: Arc<AtomicU64>,
}

impl fmt::Debug for Acme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Acme")
            .field("account_url", &self.account_url)
            .field("directory_url", &self.directory_url)
            .finish_non_exhaustive()
    }
}

/// A suggested renewal window from the CA (ARI, RFC 9773).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenewalWindow {
    /// Renew at a random time between `start`...
    pub start: OffsetDateTime,
    /// ...and `end` (renew at once if `start` is past).
    pub end: OffsetDateTime,
    /// Why the window is what it is (e.g. a revocation incident), when the CA says.
    pub explanation_url: Option<String>,
    /// When to ask again (the response's `Retry-After`).
    pub check_again_in: Duration,
}

impl Acme {
    /// Opens the account kept in `store`, or creates one at the CA and stores it. Only the
    /// directory is fetched when the account exists.
    pub async fn open(config: &AcmeConfig, store: &dyn AccountStore) -> Result<Acme, AcmeError> {
        let http = AcmeHttp::new(config.extra_roots_pem.as_deref(), config.request_timeout)?;
        with_retry_after_slot(Self::open_with(config, store, http)).await
    }

    /// [`Acme::open`] over any HTTP client (unit tests give a scripted one).
    pub(crate) async fn open_with(
        config: &AcmeConfig,
        store: &dyn AccountStore,
        http: impl HttpClient,
    ) -> Result<Acme, AcmeError> {
        let directory_url = config.directory.url().to_owned();
        let contact = config.contact_uri()?;
        let bad_nonces = Arc::new(AtomicU64::new(0));
        let http = Arc::new(http);
        let builder = || {
            Account::builder_with_http(Box::new(Tap {
                inner: http.clone(),
                bad_nonces: bad_nonces.clone(),
            }))
        };
        let store_err = |reason: String| AcmeError::AccountStore {
            store: store.describe(),
            reason,
        };
        let loaded = store
            .load()
            .map_err(|e| store_err(format!("cannot read: {}", error_chain(e.as_ref()))))?;

        let (account, account_url) = if let Some(doc) = loaded {
            let stored = StoredAccount::parse(store, &doc)?;
            if stored.directory_url != directory_url {
                return Err(AcmeError::AccountDirectoryMismatch {
                    stored: stored.directory_url,
                    configured: directory_url,
                });
            }
            let account = builder()
                .from_credentials(stored.credentials)
                .await
                .map_err(|e| AcmeError::from_acme(e, "the CA's directory"))?;
            tracing::info!(acme.account = %stored.account_url, "ACME account restored");
            (account, stored.account_url)
        } else {
            let contacts: Vec<&str> = contact.iter().map(String::as_str).collect();
            let eab = config
                .external_account
                .as_ref()
                .map(|e| e.to_instant_acme());
            let new_account = NewAccount {
                contact: &contacts,
                terms_of_service_agreed: true,
                only_return_existing: false,
            };
            let (account, credentials) = crate::order::nonce_retried!(
                builder()
                    .create(&new_account, directory_url.clone(), eab.as_ref())
                    .await
            )
            .map_err(|e| AcmeError::from_acme(e, "the CA to create the account"))?;
            let account_url = account.id().to_owned();
            let stored = StoredAccount {
                version: STORED_VERSION,
                directory_url: directory_url.clone(),
                account_url: account_url.clone(),
                credentials,
            };
            store.save(&stored.to_secret()?).map_err(|e| {
                store_err(format!(
                    "the account {account_url} was created at the CA but cannot be stored: {}",
                    error_chain(e.as_ref())
                ))
            })?;
            tracing::info!(acme.account = %account_url, store = %store.describe(), "ACME account created");
            (account, account_url)
        };
        Ok(Acme {
            account,
            account_url,
            directory_url,
            poll: config.poll,
            bad_nonces,
        })
    }

    /// The account URL (for CAA `accounturi`).
    pub fn account_url(&self) -> &str {
        &self.account_url
    }

    /// How many times the CA answered `badNonce` since [`Acme::open`] (each one retried by
    /// instant-acme, up to twice per request).
    pub fn bad_nonces_seen(&self) -> u64 {
        self.bad_nonces.load(Ordering::Relaxed)
    }

    /// The directory the account lives at.
    pub fn directory_url(&self) -> &str {
        &self.directory_url
    }

    /// Revokes a certificate this account ordered (DER), giving `reason`.
    pub async fn revoke(&self, cert_der: &[u8], reason: RevocationReason) -> Result<(), AcmeError> {
        with_retry_after_slot(async {
            let cert = CertificateDer::from(cert_der);
            let request = RevocationRequest {
                certificate: &cert,
                reason: Some(reason),
            };
            crate::order::nonce_retried!(self.account.revoke(&request).await)
                .map_err(|e| AcmeError::from_acme(e, "the CA to revoke"))?;
            tracing::info!(acme.account = %self.account_url, "certificate revoked");
            Ok(())
        })
        .await
    }

    /// The CA's suggested renewal window for a certificate (DER) it issued, through ARI
    /// (RFC 9773). [`AcmeError::Unsupported`] if the CA has no `renewalInfo` endpoint
    /// (Pebble 2.4 has none; Let's Encrypt has).
    pub async fn renewal_window(&self, cert_der: &[u8]) -> Result<RenewalWindow, AcmeError> {
        with_retry_after_slot(async {
            let cert = CertificateDer::from(cert_der);
            let id = CertificateIdentifier::try_from(&cert).map_err(|reason| {
                AcmeError::ChainMismatch {
                    reason: format!("cannot identify the certificate for ARI: {reason}"),
                }
            })?;
            let (info, check_again_in) = self
                .account
                .renewal_info(&id)
                .await
                .map_err(|e| AcmeError::from_acme(e, "the CA's renewal info"))?;
            Ok(RenewalWindow {
                start: info.suggested_window.start,
                end: info.suggested_window.end,
                explanation_url: info.explanation_url,
                check_again_in,
            })
        })
        .await
    }
}
