//! Certificate signing requests: the service's policy check (valid signature, exactly the
//! device's hostname, no wildcard, IP or other name, an accepted key) and the CLI's CSR
//! building lives beside it later. Each refusal is its own variant.

use rustls_pki_types::CertificateSigningRequestDer;
use rustls_pki_types::pem::PemObject;
use x509_parser::certification_request::X509CertificationRequest;
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::prelude::FromDer;
use x509_parser::public_key::PublicKey;

/// Largest CSR accepted (DER bytes).
pub const MAX_CSR_BYTES: usize = 16 * 1024;

/// Why a CSR was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CsrError {
    /// Not a PEM `CERTIFICATE REQUEST` block.
    #[error("not a PEM certificate signing request (-----BEGIN CERTIFICATE REQUEST-----)")]
    NotPem,
    /// Text before or after the PEM block.
    #[error("text outside the PEM block: send the -----BEGIN CERTIFICATE REQUEST----- block alone")]
    TextAroundPem,
    /// More than one PEM block (another CSR, a certificate, a private key...).
    #[error(
        "{0} PEM blocks: send exactly one PEM block, the CERTIFICATE REQUEST, and never a private key"
    )]
    SeveralPemBlocks(usize),
    /// Too large to be a CSR for one name.
    #[error("the CSR is larger than {MAX_CSR_BYTES} bytes")]
    TooLarge,
    /// The DER does not parse.
    #[error("the CSR cannot be parsed: {0}")]
    Malformed(String),
    /// The self-signature does not verify.
    #[error("the CSR's signature does not verify")]
    BadSignature,
    /// A wildcard name.
    #[error("wildcard names are not accepted ({0})")]
    Wildcard(String),
    /// An IP address SAN.
    #[error("IP addresses are not accepted in the CSR ({0})")]
    IpAddress(String),
    /// A name other than the device's hostname.
    #[error("the CSR names {found:?}; it must name exactly {expected:?}")]
    WrongName {
        /// What it named.
        found: String,
        /// The device's hostname.
        expected: String,
    },
    /// More than one name, or a non-DNS name kind.
    #[error("the CSR must name exactly one DNS name, {expected:?}; it names {found}")]
    OtherNames {
        /// Description of the names found.
        found: String,
        /// The device's hostname.
        expected: String,
    },
    /// Key or CSR generation failed (the system's random source, or rcgen).
    #[error("cannot generate a key and CSR: {0}")]
    Generate(String),
    /// A key type or size outside the policy.
    #[error("key not accepted: {0}; use ECDSA P-256/P-384 or RSA 2048-4096")]
    WeakKey(String),
}

/// What an accepted CSR requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsrInfo {
    /// The one DNS name.
    pub name: String,
    /// The key, e.g. `ECDSA P-256`.
    pub key: String,
}

const P256: &str = "1.2.840.10045.3.1.7";
const P384: &str = "1.3.132.0.34";

const CSR_BEGIN: &str = "-----BEGIN CERTIFICATE REQUEST-----";
const CSR_END: &str = "-----END CERTIFICATE REQUEST-----";

/// Parses a PEM CSR into DER: exactly one `CERTIFICATE REQUEST` block and nothing else but
/// whitespace, so that what is checked is all that was sent.
pub fn csr_from_pem(pem: &str) -> Result<Vec<u8>, CsrError> {
    let blocks = pem.matches("-----BEGIN ").count();
    if blocks > 1 {
        return Err(CsrError::SeveralPemBlocks(blocks));
    }
    let text = pem.trim();
    if !text.contains(CSR_BEGIN) {
        return Err(CsrError::NotPem);
    }
    if !text.starts_with(CSR_BEGIN) || !text.ends_with(CSR_END) {
        return Err(CsrError::TextAroundPem);
    }
    let der = CertificateSigningRequestDer::from_pem_slice(text.as_bytes())
        .map_err(|_| CsrError::NotPem)?;
    Ok(der.as_ref().to_vec())
}

/// A fresh P-256 key (PKCS#8 PEM, secret) and a CSR naming only `fqdn` (no CN): what the
/// CLI sends to certd, and what certd sends its CA for its own web name.
pub fn new_key_and_csr(fqdn: &str) -> Result<(secrecy::SecretString, String), CsrError> {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
        .map_err(|_| CsrError::Generate("cannot generate a P-256 key".into()))?;
    let mut params = rcgen::CertificateParams::new(vec![fqdn.to_owned()])
        .map_err(|e| CsrError::Generate(format!("{fqdn}: {e}")))?;
    // rcgen puts a placeholder CN in by default; the SAN alone names the host.
    params.distinguished_name = rcgen::DistinguishedName::new();
    let csr = params
        .serialize_request(&key)
        .and_then(|c| c.pem())
        .map_err(|e| CsrError::Generate(e.to_string()))?;
    Ok((secrecy::SecretString::from(key.serialize_pem()), csr))
}

/// Checks `der` against the policy for `fqdn` (lowercase): signature valid; the subject
/// CN, if any, and the one SAN are exactly `fqdn`; no wildcard, IP or other name; key
/// ECDSA P-256/P-384 or RSA 2048-4096.
pub fn check_csr(der: &[u8], fqdn: &str) -> Result<CsrInfo, CsrError> {
    if der.len() > MAX_CSR_BYTES {
        return Err(CsrError::TooLarge);
    }
    let (rest, csr) =
        X509CertificationRequest::from_der(der).map_err(|e| CsrError::Malformed(e.to_string()))?;
    if !rest.is_empty() {
        return Err(CsrError::Malformed("trailing bytes after the CSR".into()));
    }
    // The key first: the verifier refuses weak keys too, and the user should hear why.
    let key = check_key(&csr)?;
    csr.verify_signature().map_err(|_| CsrError::BadSignature)?;
    let expected = fqdn.to_ascii_lowercase();
    let mut names: Vec<String> = Vec::new();
    let mut others: Vec<String> = Vec::new();
    for ext in csr.requested_extensions().into_iter().flatten() {
        if let ParsedExtension::SubjectAlternativeName(san) = ext {
            for n in &san.general_names {
                match n {
                    GeneralName::DNSName(d) => names.push(d.to_ascii_lowercase()),
                    GeneralName::IPAddress(ip) => {
                        return Err(CsrError::IpAddress(format!("{ip:02x?}")));
                    }
                    other => others.push(format!("{other:?}").chars().take(80).collect()),
                }
            }
        }
    }
    for cn in csr.certification_request_info.subject.iter_common_name() {
        let cn = cn
            .as_str()
            .map_err(|e| CsrError::Malformed(e.to_string()))?
            .to_ascii_lowercase();
        check_one(&cn, &expected)?;
    }
    for n in &names {
        check_one(n, &expected)?;
    }
    if !others.is_empty() || names.len() != 1 {
        let found = if names.is_empty() && others.is_empty() {
            "no subjectAltName".to_owned()
        } else {
            format!(
                "{} DNS name(s) and {} other name(s)",
                names.len(),
                others.len()
            )
        };
        return Err(CsrError::OtherNames { found, expected });
    }
    Ok(CsrInfo {
        name: expected,
        key,
    })
}

fn check_one(name: &str, expected: &str) -> Result<(), CsrError> {
    if name.contains('*') {
        return Err(CsrError::Wildcard(name.to_owned()));
    }
    if name.parse::<std::net::IpAddr>().is_ok() {
        return Err(CsrError::IpAddress(name.to_owned()));
    }
    if name != expected {
        return Err(CsrError::WrongName {
            found: name.to_owned(),
            expected: expected.to_owned(),
        });
    }
    Ok(())
}

fn check_key(csr: &X509CertificationRequest<'_>) -> Result<String, CsrError> {
    let spki = &csr.certification_request_info.subject_pki;
    match spki.parsed() {
        Ok(PublicKey::EC(_)) => {
            let Some(curve) = spki
                .algorithm
                .parameters
                .as_ref()
                // as_oid() also reads a SEQUENCE of explicit parameters as "an OID".
                .filter(|p| p.tag() == x509_parser::asn1_rs::Tag::Oid)
                .and_then(|p| p.as_oid().ok())
                .map(|o| o.to_id_string())
            else {
                return Err(CsrError::WeakKey(
                    "elliptic curve given by explicit curve parameters, not a named curve".into(),
                ));
            };
            match curve.as_str() {
                P256 => Ok("ECDSA P-256".into()),
                P384 => Ok("ECDSA P-384".into()),
                other => Err(CsrError::WeakKey(format!(
                    "elliptic curve {}",
                    known_oid(other).unwrap_or(other)
                ))),
            }
        }
        Ok(PublicKey::RSA(rsa)) => match rsa.key_size() {
            bits @ 2048..=4096 => Ok(format!("RSA {bits}")),
            bits => Err(CsrError::WeakKey(format!("RSA {bits} bits"))),
        },
        Ok(_) => {
            let oid = spki.algorithm.algorithm.to_id_string();
            Err(CsrError::WeakKey(match known_oid(&oid) {
                Some(name) => name.to_owned(),
                None => format!("algorithm {oid}"),
            }))
        }
        Err(e) => Err(CsrError::Malformed(e.to_string())),
    }
}

/// Names of key algorithms and curves a refused CSR may use.
fn known_oid(oid: &str) -> Option<&'static str> {
    Some(match oid {
        "1.3.101.112" => "Ed25519",
        "1.3.101.113" => "Ed448",
        "1.3.101.110" => "X25519",
        "1.2.840.10040.4.1" => "DSA",
        "1.3.132.0.35" => "P-521",
        "1.3.132.0.10" => "secp256k1",
        "1.2.840.10045.3.1.1" => "P-192",
        "1.3.132.0.33" => "P-224",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use rcgen::{CertificateParams, DnType, KeyPair, SanType};

    const FQDN: &str = "dev.certs.test";

    fn csr(sans: Vec<SanType>, cn: Option<&str>, key: &KeyPair) -> Vec<u8> {
        let mut p = CertificateParams::default();
        p.subject_alt_names = sans;
        p.distinguished_name = rcgen::DistinguishedName::new();
        if let Some(cn) = cn {
            p.distinguished_name.push(DnType::CommonName, cn);
        }
        p.serialize_request(key).unwrap().der().to_vec()
    }

    fn dns(n: &str) -> SanType {
        SanType::DnsName(n.try_into().unwrap())
    }

    #[test]
    fn the_one_right_name_is_accepted() {
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let info = check_csr(&csr(vec![dns(FQDN)], None, &key), FQDN).unwrap();
        assert_eq!(
            info,
            CsrInfo {
                name: FQDN.into(),
                key: "ECDSA P-256".into()
            }
        );
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).unwrap();
        assert!(check_csr(&csr(vec![dns("DEV.certs.test")], Some(FQDN), &key), FQDN).is_ok());
        let der = csr(vec![dns(FQDN)], None, &KeyPair::generate().unwrap());
        let pem = format!(
            "-----BEGIN CERTIFICATE REQUEST-----\n{}\n-----END CERTIFICATE REQUEST-----\n",
            base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &der)
        );
        assert_eq!(csr_from_pem(&pem).unwrap(), der);
    }

    #[test]
    fn every_other_request_is_refused_for_its_reason() {
        let key = KeyPair::generate().unwrap();
        let ip = SanType::IpAddress("127.0.0.1".parse().unwrap());
        type Expect = fn(&CsrError) -> bool;
        let cases: Vec<(Vec<u8>, Expect)> = vec![
            (csr(vec![dns("other.certs.test")], None, &key), |e| {
                matches!(e, CsrError::WrongName { .. })
            }),
            (csr(vec![dns(FQDN), dns("x.certs.test")], None, &key), |e| {
                matches!(e, CsrError::WrongName { .. })
            }),
            (csr(vec![dns(FQDN), dns(FQDN)], None, &key), |e| {
                matches!(e, CsrError::OtherNames { .. })
            }),
            (csr(vec![dns("*.certs.test")], None, &key), |e| {
                matches!(e, CsrError::Wildcard(_))
            }),
            (csr(vec![dns(FQDN), ip], None, &key), |e| {
                matches!(e, CsrError::IpAddress(_))
            }),
            (csr(vec![], Some(FQDN), &key), |e| {
                matches!(e, CsrError::OtherNames { .. })
            }),
            (csr(vec![dns(FQDN)], Some("evil.example.org"), &key), |e| {
                matches!(e, CsrError::WrongName { .. })
            }),
        ];
        for (der, expect) in cases {
            let err = check_csr(&der, FQDN).unwrap_err();
            assert!(expect(&err), "{err}");
        }
        let mut der = csr(vec![dns(FQDN)], None, &key);
        let last = der.len() - 3;
        der[last] ^= 0x55;
        assert_eq!(check_csr(&der, FQDN), Err(CsrError::BadSignature));
        assert!(matches!(
            check_csr(&der[..40], FQDN),
            Err(CsrError::Malformed(_))
        ));
        assert_eq!(
            check_csr(&vec![0u8; MAX_CSR_BYTES + 1], FQDN),
            Err(CsrError::TooLarge)
        );
        assert_eq!(csr_from_pem("hello"), Err(CsrError::NotPem));
    }

    #[test]
    fn the_pem_must_be_one_csr_block_alone() {
        let key = KeyPair::generate().unwrap();
        let pem = rcgen::CertificateParams::new(vec![FQDN.to_owned()])
            .unwrap()
            .serialize_request(&key)
            .unwrap()
            .pem()
            .unwrap();
        assert!(csr_from_pem(&pem).is_ok());
        assert!(csr_from_pem(&format!("\n  {pem}\n\n")).is_ok());
        assert_eq!(
            csr_from_pem(&format!("{pem}junk")),
            Err(CsrError::TextAroundPem)
        );
        assert_eq!(
            csr_from_pem(&format!("junk\n{pem}")),
            Err(CsrError::TextAroundPem)
        );
        assert_eq!(
            csr_from_pem(&format!("{pem}{pem}")),
            Err(CsrError::SeveralPemBlocks(2))
        );
        assert_eq!(
            csr_from_pem(&format!("{}{pem}", key.serialize_pem())),
            Err(CsrError::SeveralPemBlocks(2))
        );
    }

    fn openssl_csr(newkey: &[&str]) -> Vec<u8> {
        let out = std::process::Command::new("openssl")
            .args([
                "req",
                "-new",
                "-nodes",
                "-keyout",
                "/dev/null",
                "-outform",
                "DER",
            ])
            .args(newkey)
            .args([
                "-subj",
                "/CN=dev.certs.test",
                "-addext",
                "subjectAltName=DNS:dev.certs.test",
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }

    #[test]
    fn weak_and_unusual_keys_are_refused() {
        let rsa1024 = openssl_csr(&["-newkey", "rsa:1024"]);
        assert_eq!(
            check_csr(&rsa1024, FQDN),
            Err(CsrError::WeakKey("RSA 1024 bits".into()))
        );
        let rsa8192 = openssl_csr(&["-newkey", "rsa:8192"]);
        assert!(matches!(
            check_csr(&rsa8192, FQDN),
            Err(CsrError::WeakKey(_))
        ));
        let ed = openssl_csr(&["-newkey", "ed25519"]);
        assert_eq!(
            check_csr(&ed, FQDN),
            Err(CsrError::WeakKey("Ed25519".into()))
        );
        let p521 = openssl_csr(&["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-521"]);
        assert_eq!(
            check_csr(&p521, FQDN),
            Err(CsrError::WeakKey("elliptic curve P-521".into()))
        );
        let explicit = openssl_csr(&[
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-pkeyopt",
            "ec_param_enc:explicit",
        ]);
        let err = check_csr(&explicit, FQDN).unwrap_err().to_string();
        assert!(err.contains("explicit curve parameters"), "{err}");
        let rsa2048 = openssl_csr(&["-newkey", "rsa:2048"]);
        assert_eq!(check_csr(&rsa2048, FQDN).unwrap().key, "RSA 2048");
    }
}
