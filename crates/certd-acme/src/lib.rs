//! The ACME client of aws-sso-certd, over instant-acme: one account per certd instance,
//! created once and kept in an [`AccountStore`]; DNS-01 orders that publish their TXT
//! value through a [`ChallengeSink`] (certd's own zone, [`certd_dns::ZoneState`]),
//! finalize with the user's CSR and return a chain checked to name exactly the ordered
//! FQDN; every step reported to an [`OrderObserver`] so an order survives a restart
//! ([`Acme::resume`]); revocation and ARI renewal windows. CA problem documents become
//! [`AcmeError`] variants a user can act on.
//!
//! It owns no storage (the observer and the account store are the caller's), no HTTP
//! server, and no policy about who may order what: certd checks the user, the CSR's
//! signature and key before calling [`Acme::issue`]. The one crypto provider is
//! aws-lc-rs (through `pki::provider`), also for the HTTPS client.

mod account;
mod client;
mod config;
mod error;
mod http;
mod names;
mod order;
mod sink;

pub use account::{AccountStore, FileAccountStore};
pub use client::{Acme, RenewalWindow};
pub use config::{
    AcmeConfig, DEFAULT_POLL, DEFAULT_REQUEST_TIMEOUT, Directory, ExternalAccountBinding,
};
pub use error::{AcmeError, BoxError};
pub use instant_acme::{RetryPolicy, RevocationReason};
pub use names::LeafFacts;
pub use order::{Issued, OrderObserver, OrderStep};
pub use sink::{ChallengeSink, ZoneSinkError};

#[cfg(test)]
mod rate_limit_tests;
