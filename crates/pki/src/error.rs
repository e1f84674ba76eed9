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
    /// The leaf cannot serve TLS (a CA certificate, or restricted to other uses).
    #[error("the certificate cannot serve TLS: {0}")]
    NotForServers(String),
    /// The leaf is a CA certificate: OpenSSL-based clients accept one as a server
    /// certificate, rustls-based clients (webpki) refuse it.
    #[error(
        "the certificate cannot serve TLS to every client: it is a CA certificate (basicConstraints CA:TRUE), not a server certificate"
    )]
    CaLeaf,
    /// A certificate of the chain is not signed by the next one.
    #[error(
        "certificate #{index} is not signed by certificate #{next}: the file must hold the server certificate, then the certificates that signed it, in order"
    )]
    NotSignedByNext {
        /// Position of the certificate, 1-based.
        index: usize,
        /// Position of the one that should have signed it.
        next: usize,
    },
    /// The key matches a later certificate of the chain, not the first.
    #[error(
        "the server certificate must come first: the private key matches certificate #{index}, not #1"
    )]
    LeafNotFirst {
        /// Position of the certificate the key matches, 1-based.
        index: usize,
    },
    /// The certificate was issued for another key.
    #[error("the certificate does not match the private key (its public key is another one)")]
    KeyMismatch,
}
