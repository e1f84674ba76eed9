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

/// Starts seeding the process's random generator on a background thread and returns at
/// once. AWS-LC seeds its generator from CPU jitter on first use, which takes about 40 ms;
/// a command that will make a key or serve TLS calls this first, so that the seeding runs
/// beside its other work (reading the SecureStore, loading TLS roots) instead of before the
/// key. Later users of the generator wait for the seeding if it is still running.
pub fn warm_up_rng() {
    // Failing to spawn, or to seed here, only means the first key pays for the seeding.
    let _detached = std::thread::Builder::new()
        .name("rng-seed".to_owned())
        .spawn(|| {
            let mut byte = [0u8; 1];
            aws_lc_rs::rand::fill(&mut byte).is_ok()
        });
}

#[cfg(test)]
mod tests;
