//! Checks around an order: the FQDN is a plain host name, the CSR asks for exactly that
//! name (before the CA is bothered), and the chain the CA returns names exactly that FQDN
//! for the CSR's key. The CSR's signature and key policy are certd's checks (crate `pki`),
//! made before an order starts.

use time::OffsetDateTime;
use x509_parser::certification_request::X509CertificationRequest;
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::error::AcmeError;

/// A lowercase host name without a trailing dot: 2+ LDH labels of 1-63 characters, at most
/// 253 characters, no wildcard, not an IP literal.
pub(crate) fn check_fqdn(fqdn: &str) -> Result<String, AcmeError> {
    let name = fqdn.strip_suffix('.').unwrap_or(fqdn).to_ascii_lowercase();
    let label_ok = |l: &str| {
        (1..=63).contains(&l.len())
            && l.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    let labels: Vec<&str> = name.split('.').collect();
    let tld_numeric = labels
        .last()
        .is_some_and(|l| l.bytes().all(|b| b.is_ascii_digit()));
    if name.len() > 253 || labels.len() < 2 || !labels.iter().all(|l| label_ok(l)) || tld_numeric {
        return Err(AcmeError::InvalidFqdn {
            fqdn: fqdn.to_owned(),
        });
    }
    Ok(name)
}

fn bad_csr(reason: impl Into<String>) -> AcmeError {
    AcmeError::BadCsr {
        reason: reason.into(),
    }
}

/// Checks that the CSR parses and names exactly `fqdn` (one DNS SAN, CN absent or equal);
/// returns its SubjectPublicKeyInfo (DER) to compare with the issued leaf.
pub(crate) fn check_csr(csr_der: &[u8], fqdn: &str) -> Result<Vec<u8>, AcmeError> {
    let (rest, csr) = X509CertificationRequest::from_der(csr_der)
        .map_err(|e| bad_csr(format!("not a DER CSR: {e}")))?;
    if !rest.is_empty() {
        return Err(bad_csr("trailing bytes after the CSR"));
    }
    let info = &csr.certification_request_info;
    let mut dns = Vec::new();
    let mut other = 0usize;
    for ext in csr.requested_extensions().into_iter().flatten() {
        if let ParsedExtension::SubjectAlternativeName(san) = ext {
            for name in &san.general_names {
                match name {
                    GeneralName::DNSName(n) => dns.push(n.to_ascii_lowercase()),
                    _ => other += 1,
                }
            }
        }
    }
    if other > 0 || dns.len() != 1 || dns[0] != fqdn {
        return Err(bad_csr(format!(
            "the CSR must name exactly {fqdn} (one DNS subjectAltName, nothing else); it names \
             {dns:?} and {other} other names"
        )));
    }
    for cn in info.subject.iter_common_name() {
        let cn = cn.as_str().unwrap_or_default();
        if !cn.eq_ignore_ascii_case(fqdn) {
            return Err(bad_csr(format!(
                "the CSR's common name {cn:?} is not {fqdn}"
            )));
        }
    }
    Ok(info.subject_pki.raw.to_vec())
}

/// What the leaf of an issued chain says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeafFacts {
    /// Serial number, lowercase hex (what Pebble's `/cert-status-by-serial/` takes).
    pub serial_hex: String,
    /// Start of validity.
    pub not_before: OffsetDateTime,
    /// End of validity.
    pub not_after: OffsetDateTime,
}

fn mismatch(reason: impl Into<String>) -> AcmeError {
    AcmeError::ChainMismatch {
        reason: reason.into(),
    }
}

/// Checks that `chain_pem`'s first certificate names exactly `fqdn` and certifies the key
/// `spki` (the CSR's).
pub(crate) fn check_chain(
    chain_pem: &str,
    fqdn: &str,
    spki: &[u8],
) -> Result<LeafFacts, AcmeError> {
    let chain = pki::parse_cert_chain(chain_pem).map_err(|e| mismatch(e.to_string()))?;
    let leaf = chain.first().ok_or_else(|| mismatch("empty chain"))?;
    let info = pki::cert_info(leaf).map_err(|e| mismatch(e.to_string()))?;
    let names_ok = info.dns_names.len() == 1
        && info.dns_names[0].eq_ignore_ascii_case(fqdn)
        && info.ip_addresses.is_empty();
    if !names_ok {
        return Err(mismatch(format!(
            "the leaf names {:?} {:?}, not exactly {fqdn}",
            info.dns_names, info.ip_addresses
        )));
    }
    let (_, cert) = X509Certificate::from_der(leaf).map_err(|e| mismatch(e.to_string()))?;
    if cert.public_key().raw != spki {
        return Err(mismatch("the leaf certifies another key than the CSR's"));
    }
    Ok(LeafFacts {
        serial_hex: info.serial_hex,
        not_before: info.not_before,
        not_after: info.not_after,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use rcgen::{CertificateParams, DnType, KeyPair, PublicKeyData, SanType};

    #[test]
    fn fqdn_rules() {
        assert_eq!(check_fqdn("Dev.Certs.Test.").unwrap(), "dev.certs.test");
        for bad in [
            "",
            "test",
            "*.certs.test",
            "a..test",
            "-a.test",
            "a-.test",
            "127.0.0.1",
            "a_b.test",
            &format!("{}.test", "a".repeat(64)),
        ] {
            assert!(check_fqdn(bad).is_err(), "{bad:?}");
        }
    }

    fn csr(names: Vec<SanType>, cn: Option<&str>) -> (Vec<u8>, KeyPair) {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::default();
        params.subject_alt_names = names;
        params.distinguished_name = rcgen::DistinguishedName::new();
        if let Some(cn) = cn {
            params.distinguished_name.push(DnType::CommonName, cn);
        }
        (params.serialize_request(&key).unwrap().der().to_vec(), key)
    }

    fn dns(n: &str) -> SanType {
        SanType::DnsName(n.try_into().unwrap())
    }

    #[test]
    fn csr_must_name_exactly_the_fqdn() {
        let (der, key) = csr(vec![dns("dev.certs.test")], Some("dev.certs.test"));
        let spki = check_csr(&der, "dev.certs.test").unwrap();
        assert_eq!(spki, key.subject_public_key_info());
        assert!(check_csr(&csr(vec![dns("dev.certs.test")], None).0, "dev.certs.test").is_ok());

        let refused = [
            csr(vec![dns("other.certs.test")], None).0,
            csr(vec![dns("dev.certs.test"), dns("x.certs.test")], None).0,
            csr(
                vec![
                    dns("dev.certs.test"),
                    SanType::IpAddress([127, 0, 0, 1].into()),
                ],
                None,
            )
            .0,
            csr(vec![dns("dev.certs.test")], Some("evil.test")).0,
            csr(vec![], Some("dev.certs.test")).0,
            b"not a csr".to_vec(),
        ];
        for der in refused {
            assert!(
                matches!(
                    check_csr(&der, "dev.certs.test"),
                    Err(AcmeError::BadCsr { .. })
                ),
                "{der:?}"
            );
        }
    }
}
