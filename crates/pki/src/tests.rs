#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use rcgen::{CertificateParams, KeyPair, PKCS_ECDSA_P256_SHA256, PKCS_ECDSA_P384_SHA384};

fn self_signed(alg: &'static rcgen::SignatureAlgorithm) -> (String, String) {
    let key = KeyPair::generate_for(alg).unwrap();
    let params = CertificateParams::new(vec!["dev.example.test".into()]).unwrap();
    let cert = params.self_signed(&key).unwrap();
    (cert.pem(), key.serialize_pem())
}

#[test]
fn matching_pair_is_accepted_and_described() {
    let (cert, key) = self_signed(&PKCS_ECDSA_P256_SHA256);
    let pair = ServingKey::from_pem(&cert, &key).unwrap();
    let info = cert_info(pair.leaf()).unwrap();
    assert_eq!(info.dns_names, vec!["dev.example.test".to_owned()]);
    assert!(info.is_valid_at(time::OffsetDateTime::now_utc()));
    assert!(!info.serial_hex.contains(':'));
}

#[test]
fn certificate_for_another_key_is_refused() {
    let (cert, _) = self_signed(&PKCS_ECDSA_P256_SHA256);
    let (_, other_key) = self_signed(&PKCS_ECDSA_P256_SHA256);
    let err = ServingKey::from_pem(&cert, &other_key).unwrap_err();
    assert!(matches!(err, PkiError::KeyMismatch), "{err}");
    let (_, p384_key) = self_signed(&PKCS_ECDSA_P384_SHA384);
    assert!(matches!(
        ServingKey::from_pem(&cert, &p384_key),
        Err(PkiError::KeyMismatch)
    ));
}

#[test]
fn key_formats_are_recognised() {
    let (_, key) = self_signed(&PKCS_ECDSA_P256_SHA256);
    assert_eq!(parse_private_key(&key).unwrap().1, KeyFormat::Pkcs8);
    assert!(matches!(
        parse_private_key("hello"),
        Err(PkiError::NoPrivateKey)
    ));
    let two = format!("{key}{key}");
    assert!(matches!(
        parse_private_key(&two),
        Err(PkiError::SeveralPrivateKeys)
    ));
}

#[test]
fn garbage_certificates_are_refused_with_their_position() {
    let (cert, _) = self_signed(&PKCS_ECDSA_P256_SHA256);
    assert!(matches!(
        parse_cert_chain("nothing"),
        Err(PkiError::NoCertificate)
    ));
    let junk = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
    let err = parse_cert_chain(&format!("{cert}{junk}")).unwrap_err();
    assert!(
        matches!(err, PkiError::BadCertificate { index: 2, .. }),
        "{err}"
    );
}

#[test]
fn errors_never_echo_key_material() {
    let (_, key) = self_signed(&PKCS_ECDSA_P256_SHA256);
    let broken = key.replace("PRIVATE KEY-----\n", "PRIVATE KEY-----\n!!");
    let shown = match parse_private_key(&broken) {
        Ok(_) => String::new(),
        Err(e) => format!("{e} {e:?}"),
    };
    let body_line = key.lines().nth(1).unwrap();
    assert!(!shown.contains(body_line), "{shown}");
}
