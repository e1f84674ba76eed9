//! The error type of the `pki` crate: one variant per way an input can be wrong.

/// Why a key or certificate was refused.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    /// The text holds no PEM private key at all.
    #[error(
        "no private key found: expected a PEM block 'PRIVATE KEY', 'EC PRIVATE KEY' or 'RSA PRIVATE KEY'"
    )]
    NoPrivateKey,
    /// A PEM block is malformed.
    #[error("malformed PEM: {0}")]
    BadPem(String),
    /// The text holds more than one private key.
    #[error("more than one private key found; give exactly one")]
    SeveralPrivateKeys,
    /// The key parses as PEM but the crypto provider cannot use it.
    #[error("unusable private key ({format}): {reason}")]
    UnusableKey {
        /// PKCS#8, SEC1 or PKCS#1.
        format: &'static str,
        /// What the provider said.
        reason: String,
    },
    /// The text holds no certificate.
    #[error("no certificate found: expected one or more PEM blocks 'CERTIFICATE'")]
    NoCertificate,
    /// A certificate's DER does not parse.
    #[error("certificate #{index} cannot be parsed: {reason}")]
    BadCertificate {
        /// Position in the chain, 1-based.
        index: usize,
        /// What the parser said.
        reason: String,
    },
    /// The certificate was issued for another key.
    #[error("the certificate does not match the private key (its public key is another one)")]
    KeyMismatch,
}
