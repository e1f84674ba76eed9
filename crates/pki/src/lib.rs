//! Keys, certificates and PEM/DER for aws-sso: parsing what users import, checking that a
//! certificate chain matches its private key, and reading what a certificate says.
//!
//! No IO, no web framework and no storage: callers hand in PEM text and get typed values
//! back. The one crypto provider is rustls' aws-lc-rs.

mod cert;
pub mod csr;
mod error;
mod key;
pub mod request_signing;

pub use cert::{CertInfo, cert_info, chain_to_pem, check_server_chain, parse_cert_chain};
pub use error::PkiError;
pub use key::{KeyFormat, ServingKey, parse_private_key};
pub use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// The crypto provider used everywhere in the project.
pub fn provider() -> std::sync::Arc<rustls::crypto::CryptoProvider> {
    std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

#[cfg(test)]
mod tests;
