//! Certificates: parsing PEM chains and reading the facts users and checks need
//! (names, issuer, serial, validity).

use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use time::OffsetDateTime;
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::PkiError;

/// Parses every `CERTIFICATE` block of `pem`, in order (leaf first by convention), and
/// checks that each one is a well-formed X.509 certificate.
pub fn parse_cert_chain(pem: &str) -> Result<Vec<CertificateDer<'static>>, PkiError> {
    let mut chain = Vec::new();
    for (i, item) in CertificateDer::pem_slice_iter(pem.as_bytes()).enumerate() {
        let der = item.map_err(|e| PkiError::BadPem(e.to_string()))?;
        let bad = |reason: String| PkiError::BadCertificate {
            index: i + 1,
            reason,
        };
        let (rest, _) = X509Certificate::from_der(&der).map_err(|e| bad(e.to_string()))?;
        // Bytes after the certificate would be served as part of it, and TLS clients
        // refuse such a certificate.
        if !rest.is_empty() {
            return Err(bad(format!("{} bytes after its end", rest.len())));
        }
        chain.push(der);
    }
    if chain.is_empty() {
        return Err(PkiError::NoCertificate);
    }
    Ok(chain)
}

/// The chain as PEM text: its `CERTIFICATE` blocks only, re-encoded, so that nothing else
/// the file held (explanatory text, a private key) is stored or printed with it.
pub fn chain_to_pem(chain: &[CertificateDer<'_>]) -> String {
    use base64::Engine;
    let mut out = String::new();
    for der in chain {
        let b64 = base64::engine::general_purpose::STANDARD.encode(der.as_ref());
        out.push_str("-----BEGIN CERTIFICATE-----\n");
        let mut rest = b64.as_str();
        while !rest.is_empty() {
            let (line, tail) = rest.split_at(rest.len().min(64));
            out.push_str(line);
            out.push('\n');
            rest = tail;
        }
        out.push_str("-----END CERTIFICATE-----\n");
    }
    out
}

/// Checks that `chain` (leaf first) can serve TLS: the leaf's extended key usage, when
/// restricted, allows TLS servers; every certificate is signed by the one after it; and,
/// checked last, the leaf is not a CA certificate ([`PkiError::CaLeaf`]). The last one's own signature is not judged (a root's
/// self-signature is not what clients trust it for), nor are signatures in algorithms the
/// verifier does not know.
pub fn check_server_chain(chain: &[CertificateDer<'_>]) -> Result<(), PkiError> {
    let mut parsed = Vec::with_capacity(chain.len());
    for (i, der) in chain.iter().enumerate() {
        let (_, cert) = X509Certificate::from_der(der).map_err(|e| PkiError::BadCertificate {
            index: i + 1,
            reason: e.to_string(),
        })?;
        parsed.push(cert);
    }
    let Some(leaf) = parsed.first() else {
        return Err(PkiError::NoCertificate);
    };
    if let Ok(Some(eku)) = leaf.extended_key_usage()
        && !eku.value.server_auth
        && !eku.value.any
    {
        return Err(PkiError::NotForServers(
            "its extended key usage does not include TLS server authentication".into(),
        ));
    }
    let judged = |r: Result<(), x509_parser::error::X509Error>| match r {
        Err(x509_parser::error::X509Error::SignatureUnsupportedAlgorithm) => Ok(()),
        other => other,
    };
    for (i, pair) in parsed.windows(2).enumerate() {
        if judged(pair[0].verify_signature(Some(pair[1].public_key()))).is_err() {
            return Err(PkiError::NotSignedByNext {
                index: i + 1,
                next: i + 2,
            });
        }
    }
    // Last, so that a caller who tolerates it knows every other check passed.
    if leaf.is_ca() {
        return Err(PkiError::CaLeaf);
    }
    Ok(())
}

/// What a certificate says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertInfo {
    /// Subject distinguished name.
    pub subject: String,
    /// Issuer distinguished name.
    pub issuer: String,
    /// Serial number, lowercase hex.
    pub serial_hex: String,
    /// Start of validity.
    pub not_before: OffsetDateTime,
    /// End of validity.
    pub not_after: OffsetDateTime,
    /// DNS names of the subjectAltName extension.
    pub dns_names: Vec<String>,
    /// IP addresses of the subjectAltName extension.
    pub ip_addresses: Vec<String>,
}

impl CertInfo {
    /// Whether the certificate is within its validity period at `now`.
    pub fn is_valid_at(&self, now: OffsetDateTime) -> bool {
        self.not_before <= now && now <= self.not_after
    }
}

impl CertInfo {
    /// When renewal is due: a third of the lifetime before expiry (Let's Encrypt's advice;
    /// with 90-day certificates, 30 days of margin for an outage of the service or CA).
    pub fn renewal_from(&self) -> OffsetDateTime {
        self.not_after - (self.not_after - self.not_before) / 3
    }
}

/// Reads the facts of one DER certificate.
pub fn cert_info(der: &CertificateDer<'_>) -> Result<CertInfo, PkiError> {
    let bad = |reason: String| PkiError::BadCertificate { index: 1, reason };
    let (_, cert) = X509Certificate::from_der(der).map_err(|e| bad(e.to_string()))?;
    let mut dns_names = Vec::new();
    let mut ip_addresses = Vec::new();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for name in &san.value.general_names {
            match name {
                GeneralName::DNSName(n) => dns_names.push((*n).to_owned()),
                GeneralName::IPAddress(b) => ip_addresses.push(ip_to_string(b)),
                _ => {}
            }
        }
    }
    Ok(CertInfo {
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
        serial_hex: cert.raw_serial_as_string().replace(':', ""),
        not_before: cert.validity().not_before.to_datetime(),
        not_after: cert.validity().not_after.to_datetime(),
        dns_names,
        ip_addresses,
    })
}

fn ip_to_string(bytes: &[u8]) -> String {
    match bytes.len() {
        4 => std::net::Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3]).to_string(),
        16 => {
            let mut a = [0u8; 16];
            a.copy_from_slice(bytes);
            std::net::Ipv6Addr::from(a).to_string()
        }
        _ => format!("{bytes:02x?}"),
    }
}
