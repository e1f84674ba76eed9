//! Private keys: parsing PKCS#8, SEC1 and PKCS#1 PEM, and pairing a key with its chain
//! for serving TLS.

use std::sync::Arc;

use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::{PemObject, SectionKind};
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::PkiError;

/// The encoding a private key arrived in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyFormat {
    /// `-----BEGIN PRIVATE KEY-----`.
    Pkcs8,
    /// `-----BEGIN EC PRIVATE KEY-----`.
    Sec1,
    /// `-----BEGIN RSA PRIVATE KEY-----`.
    Pkcs1,
}

impl KeyFormat {
    fn name(self) -> &'static str {
        match self {
            KeyFormat::Pkcs8 => "PKCS#8",
            KeyFormat::Sec1 => "SEC1",
            KeyFormat::Pkcs1 => "PKCS#1",
        }
    }
}

/// Parses exactly one private key from PEM text (other blocks, such as certificates, are
/// ignored). The returned DER zeroizes itself on drop and never prints its bytes.
pub fn parse_private_key(pem: &str) -> Result<(PrivateKeyDer<'static>, KeyFormat), PkiError> {
    let mut found: Option<(PrivateKeyDer<'static>, KeyFormat)> = None;
    for item in <(SectionKind, Vec<u8>)>::pem_slice_iter(pem.as_bytes()) {
        let (kind, der) = item.map_err(|e| PkiError::BadPem(e.to_string()))?;
        let key = match kind {
            SectionKind::PrivateKey => (PrivateKeyDer::Pkcs8(der.into()), KeyFormat::Pkcs8),
            SectionKind::EcPrivateKey => (PrivateKeyDer::Sec1(der.into()), KeyFormat::Sec1),
            SectionKind::RsaPrivateKey => (PrivateKeyDer::Pkcs1(der.into()), KeyFormat::Pkcs1),
            _ => continue,
        };
        if found.replace(key).is_some() {
            return Err(PkiError::SeveralPrivateKeys);
        }
    }
    found.ok_or(PkiError::NoPrivateKey)
}

/// Why the provider refuses a key, when the leaf says: an RSA key under 2048 bits.
fn weak_rsa(chain: &[CertificateDer<'static>]) -> Option<String> {
    use x509_parser::prelude::{FromDer, X509Certificate};
    use x509_parser::public_key::PublicKey;
    let (_, leaf) = X509Certificate::from_der(chain.first()?).ok()?;
    match leaf.public_key().parsed().ok()? {
        PublicKey::RSA(rsa) if rsa.key_size() < 2048 => Some(format!(
            "RSA keys of {} bits are not accepted; use RSA 2048 or more, or ECDSA P-256",
            rsa.key_size()
        )),
        _ => None,
    }
}

/// A private key and the certificate chain it serves, checked to belong together.
#[derive(Debug, Clone)]
pub struct ServingKey {
    certified: Arc<CertifiedKey>,
}

impl ServingKey {
    /// Pairs `key_pem` with `chain_pem` (leaf first) and checks that the leaf certificate
    /// carries the key's public half.
    pub fn from_pem(chain_pem: &str, key_pem: &str) -> Result<Self, PkiError> {
        let chain = crate::parse_cert_chain(chain_pem)?;
        let (key, format) = parse_private_key(key_pem)?;
        Self::new(chain, key, format)
    }

    fn new(
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
        format: KeyFormat,
    ) -> Result<Self, PkiError> {
        let provider = crate::provider();
        let signer =
            provider
                .key_provider
                .load_private_key(key)
                .map_err(|e| PkiError::UnusableKey {
                    format: format.name(),
                    reason: weak_rsa(&chain).unwrap_or_else(|| e.to_string()),
                })?;
        let certified = CertifiedKey::new(chain, signer);
        match certified.keys_match() {
            Ok(()) => Ok(ServingKey {
                certified: Arc::new(certified),
            }),
            Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch)) => {
                // Say so when the key is another certificate's of the file (order swapped).
                let later = certified.cert.iter().skip(1).position(|c| {
                    CertifiedKey::new(vec![c.clone()], Arc::clone(&certified.key))
                        .keys_match()
                        .is_ok()
                });
                Err(match later {
                    Some(i) => PkiError::LeafNotFirst { index: i + 2 },
                    None => PkiError::KeyMismatch,
                })
            }
            Err(e) => Err(PkiError::BadCertificate {
                index: 1,
                reason: e.to_string(),
            }),
        }
    }

    /// The checked pair, ready for a rustls certificate resolver.
    pub fn certified_key(&self) -> Arc<CertifiedKey> {
        Arc::clone(&self.certified)
    }

    /// The end-entity (leaf) certificate.
    pub fn leaf(&self) -> &CertificateDer<'static> {
        // `new` only builds a ServingKey from a non-empty chain.
        &self.certified.cert[0]
    }

    /// The whole chain, leaf first.
    pub fn chain(&self) -> &[CertificateDer<'static>] {
        &self.certified.cert
    }
}
