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

/// A CA and a leaf for `key` it signed, both PEM.
fn ca_and_leaf(key: &KeyPair, leaf: CertificateParams) -> (String, String) {
    let ca_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let mut ca = CertificateParams::new(vec![]).unwrap();
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca_pem = ca.self_signed(&ca_key).unwrap().pem();
    let issuer = rcgen::Issuer::new(ca, ca_key);
    (ca_pem, leaf.signed_by(key, &issuer).unwrap().pem())
}

#[test]
fn chains_that_cannot_serve_are_refused_for_their_reason() {
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let params = || CertificateParams::new(vec!["dev.example.test".into()]).unwrap();
    let (ca, leaf) = ca_and_leaf(&key, params());
    let check = |pem: &str| check_server_chain(&parse_cert_chain(pem).unwrap());
    check(&format!("{leaf}{ca}")).unwrap();
    check(&leaf).unwrap();
    let (cert, _) = self_signed(&PKCS_ECDSA_P256_SHA256);
    check(&cert).unwrap();

    // Signed by someone else than the next certificate.
    let (other_ca, _) = ca_and_leaf(&key, params());
    assert!(matches!(
        check(&format!("{leaf}{other_ca}")),
        Err(PkiError::NotSignedByNext { index: 1, next: 2 })
    ));
    // A flipped signature byte, with and without the CA.
    let der = parse_cert_chain(&leaf).unwrap().remove(0);
    let mut bytes = der.as_ref().to_vec();
    let at = bytes.len() - 2;
    bytes[at] ^= 1;
    let flipped = vec![
        CertificateDer::from(bytes),
        parse_cert_chain(&ca).unwrap().remove(0),
    ];
    assert!(matches!(
        check_server_chain(&flipped),
        Err(PkiError::NotSignedByNext { .. })
    ));
    // A CA certificate, and a client-only one.
    let mut p = params();
    p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca_leaf = p.self_signed(&key).unwrap().pem();
    assert!(matches!(check(&ca_leaf), Err(PkiError::CaLeaf)));
    // CA:TRUE is judged after everything else: a CA leaf with a bad chain gets that.
    let ca_leaf_wrong_issuer = {
        let mut p = params();
        p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let (other_ca, _) = ca_and_leaf(&key, params());
        format!("{}{other_ca}", p.self_signed(&key).unwrap().pem())
    };
    assert!(matches!(
        check(&ca_leaf_wrong_issuer),
        Err(PkiError::NotSignedByNext { index: 1, next: 2 })
    ));
    let mut p = params();
    p.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    let (_, client) = ca_and_leaf(&key, p);
    let err = check(&client).unwrap_err().to_string();
    assert!(err.contains("TLS server authentication"), "{err}");
}

#[test]
fn bytes_after_a_certificate_and_swapped_order_are_named() {
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let (ca, leaf) = ca_and_leaf(
        &key,
        CertificateParams::new(vec!["dev.example.test".into()]).unwrap(),
    );
    let mut der = parse_cert_chain(&leaf).unwrap().remove(0).as_ref().to_vec();
    der.extend_from_slice(b"\0\0junk");
    let padded = chain_to_pem(&[CertificateDer::from(der)]);
    let err = parse_cert_chain(&padded).unwrap_err().to_string();
    assert!(err.contains("6 bytes after its end"), "{err}");

    let err = ServingKey::from_pem(&format!("{ca}{leaf}"), &key.serialize_pem()).unwrap_err();
    assert!(matches!(err, PkiError::LeafNotFirst { index: 2 }), "{err}");
}

#[test]
fn chain_to_pem_keeps_only_the_certificates() {
    let (cert, key) = self_signed(&PKCS_ECDSA_P256_SHA256);
    let chain = parse_cert_chain(&format!("intro text\n{cert}{key}trailing\n")).unwrap();
    let pem = chain_to_pem(&chain);
    assert_eq!(parse_cert_chain(&pem).unwrap(), chain);
    assert!(!pem.contains("PRIVATE KEY") && !pem.contains("text") && !pem.contains("trailing"));
    assert!(pem.lines().all(|l| l.len() <= 64), "{pem}");
}
