//! A hostile corpus of certificate signing requests and certificates, generated at test
//! time (rcgen, the `openssl` CLI, and a little hand-written DER for what neither makes):
//! what an attacker, a broken tool or a confused user might hand certd's
//! `POST /api/v1/certificates` or `aws-sso setup ecs cert load` / `setup ecs ssl`.
//!
//! Every case is named by an enum variant, so a test that maps cases to the refusal it
//! expects is checked for completeness by the compiler. Nothing here is committed: keys
//! are fresh on every call.

use std::net::{IpAddr, Ipv4Addr};
use std::process::Command;

use base64::Engine;
use rcgen::{
    BasicConstraints, CertificateParams, CustomExtension, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256,
    PKCS_ED25519, PublicKeyData, SanType,
};
use time::{Duration, OffsetDateTime};

/// OID of the subjectAltName extension.
const SAN_OID: &[u64] = &[2, 5, 29, 17];
/// A private OID for padding extensions.
const PADDING_OID: &[u64] = &[1, 3, 6, 1, 4, 1, 55555, 1];

/// One way a CSR can be wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CsrCase {
    /// Only another name of the same zone.
    WrongName,
    /// The right name plus a name elsewhere.
    ExtraSan,
    /// The right name twice.
    DuplicateSan,
    /// `*.<zone>`.
    WildcardZone,
    /// `*.<fqdn>`.
    WildcardBelow,
    /// The right name and the IP 127.0.0.1.
    IpSan,
    /// Only the IP 127.0.0.1.
    IpOnly,
    /// The right SAN, a CN naming another host.
    CnDiffers,
    /// The name only in the CN, no subjectAltName.
    NoSan,
    /// No name at all.
    NoNames,
    /// The right name plus an email address.
    EmailSan,
    /// The right name plus a URI.
    UriSan,
    /// The name with a trailing dot.
    TrailingDot,
    /// The name followed by a NUL byte and another domain.
    NulInName,
    /// A second subjectAltName extension naming another host.
    SecondSanExtension,
    /// RSA 1024 (openssl).
    Rsa1024,
    /// RSA 8192: hand-made DER with an 8192-bit modulus and a junk signature (the key is
    /// judged before the signature; making a real 8192-bit key costs ~30 s here).
    Rsa8192,
    /// Ed25519 (rcgen).
    Ed25519,
    /// ECDSA P-521 (openssl).
    P521,
    /// ECDSA secp256k1 (openssl).
    Secp256k1,
    /// P-256 with explicit curve parameters instead of the named curve (openssl).
    ExplicitCurve,
    /// One byte of the signature flipped.
    BadSignature,
    /// The DER cut in half.
    Truncated,
    /// Just over 16 KiB of DER (a real CSR padded with an extension).
    Oversized16k,
    /// 1 MiB of DER (a real CSR padded with an extension).
    Oversized1m,
    /// Random bytes inside a CSR PEM block.
    Garbage,
    /// Text that is not PEM.
    NotPem,
    /// The empty string.
    Empty,
    /// The DER in base64 without the PEM lines.
    Base64NoArmor,
    /// Characters that are not base64 inside the block.
    BadBase64,
    /// A valid CSR followed by text.
    TrailingJunk,
    /// Text before a valid CSR.
    LeadingJunk,
    /// A valid CSR followed by a second one for another name.
    TwoCsrs,
    /// The private key pasted before the CSR.
    KeyAndCsr,
    /// A certificate for the name instead of a CSR.
    CertificateNotCsr,
}

/// A hostile CSR: what goes into the API's `csr` field.
#[derive(Debug, Clone)]
pub struct HostileCsr {
    /// Which case.
    pub case: CsrCase,
    /// The text (PEM, or whatever the case is made of).
    pub pem: String,
}

/// One way a certificate (chain) file can be wrong for the configured name and key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertCase {
    /// Only another name of the same zone.
    WrongName,
    /// The right name plus a name elsewhere.
    ExtraSan,
    /// `*.<zone>`.
    Wildcard,
    /// The right name and the IP 127.0.0.1.
    IpSan,
    /// Only the IP 127.0.0.1.
    IpOnly,
    /// The right SAN, a CN naming another host.
    CnDiffers,
    /// The name only in the CN, no subjectAltName.
    NoSan,
    /// An RSA-1024 leaf, given with its own key.
    Rsa1024,
    /// An Ed25519 leaf, given with its own key.
    Ed25519,
    /// One byte of the leaf's signature flipped (leaf + CA).
    BadSignature,
    /// The leaf's DER cut in half.
    Truncated,
    /// Bytes after the end of the leaf's DER, inside its PEM block.
    TrailingDerBytes,
    /// A 2 MiB file (a real chain and padding).
    Oversized,
    /// Random bytes inside a CERTIFICATE block.
    Garbage,
    /// Text that is not PEM.
    NotPem,
    /// An empty file.
    Empty,
    /// The chain in DER (binary), not PEM.
    Der,
    /// A valid chain followed by text (RFC 7468 explanatory text).
    TrailingJunk,
    /// The CA first, then the leaf.
    WrongOrder,
    /// The leaf followed by an unrelated self-signed certificate.
    UnrelatedSecond,
    /// The leaf and its private key in one file.
    KeyInCertFile,
    /// A CSR instead of a certificate.
    CsrNotCert,
    /// A certificate for another key.
    OtherKey,
    /// Expired yesterday.
    Expired,
    /// Valid from tomorrow.
    NotYetValid,
    /// A CA certificate (basicConstraints CA:TRUE) for the name, with the key.
    CaCertificate,
    /// A leaf whose extended key usage is client authentication only.
    ClientAuthOnly,
}

/// A hostile certificate file and the private key to give with it (`setup ecs ssl`).
#[derive(Debug, Clone)]
pub struct HostileCert {
    /// Which case.
    pub case: CertCase,
    /// The file's bytes.
    pub file: Vec<u8>,
    /// The private key (PKCS#8 PEM) that goes with it: the kit's key unless the case brings
    /// its own.
    pub key_pem: String,
}

/// A CA, a server key, and a good chain for `fqdn` signed by the CA: the baseline the
/// hostile certificates are variations of.
#[derive(Debug)]
pub struct CertKit {
    /// The name the certificates should be for.
    pub fqdn: String,
    /// The server's private key, PKCS#8 PEM.
    pub key_pem: String,
    /// The CA certificate, PEM.
    pub ca_pem: String,
    key: KeyPair,
    issuer: Issuer<'static, KeyPair>,
}

/// PEM armor around `der` with the `label`.
pub fn pem(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).expect("base64 is ASCII"));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// The DER inside the first PEM block of `pem`.
pub fn pem_der(pem: &str) -> Vec<u8> {
    let b64: String = pem
        .lines()
        .skip_while(|l| !l.starts_with("-----BEGIN"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .expect("PEM body is base64")
}

/// Deterministic-enough junk (xorshift), so failures reproduce within a run.
fn junk(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// A DER TLV.
fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(content);
    out
}

fn seq(parts: &[Vec<u8>]) -> Vec<u8> {
    tlv(0x30, &parts.concat())
}

/// The content of a subjectAltName extension naming `dns`.
fn san_content(dns: &str) -> Vec<u8> {
    seq(&[tlv(0x82, dns.as_bytes())])
}

fn dns(name: &str) -> SanType {
    SanType::DnsName(name.try_into().expect("an IA5 name"))
}

fn localhost_ip() -> SanType {
    SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST))
}

/// The zone of `fqdn`: everything after its first label.
fn zone_of(fqdn: &str) -> &str {
    fqdn.split_once('.').map_or(fqdn, |(_, z)| z)
}

/// A CSR (DER) with `sans`, an optional CN and extra extensions, signed by `key`.
fn rcgen_csr(
    key: &KeyPair,
    sans: Vec<SanType>,
    cn: Option<&str>,
    extensions: Vec<CustomExtension>,
) -> Vec<u8> {
    let mut p = CertificateParams::default();
    p.subject_alt_names = sans;
    p.distinguished_name = DistinguishedName::new();
    if let Some(cn) = cn {
        p.distinguished_name.push(DnType::CommonName, cn);
    }
    p.custom_extensions = extensions;
    p.serialize_request(key)
        .expect("serialize CSR")
        .der()
        .to_vec()
}

/// Runs `openssl <args>` and returns stdout (panics on failure).
fn openssl(args: &[&str]) -> Vec<u8> {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .expect("run openssl (apt-get install openssl)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// A CSR (DER) for `fqdn` (CN and SAN) with a key `openssl req -newkey <newkey>` makes.
fn openssl_csr(fqdn: &str, newkey: &[&str]) -> Vec<u8> {
    let subj = format!("/CN={fqdn}");
    let san = format!("subjectAltName=DNS:{fqdn}");
    let mut args = vec![
        "req",
        "-new",
        "-nodes",
        "-keyout",
        "/dev/null",
        "-outform",
        "DER",
    ];
    args.extend_from_slice(newkey);
    args.extend_from_slice(&["-subj", &subj, "-addext", &san]);
    openssl(&args)
}

/// A private key made by `openssl genpkey <args>`, as PKCS#8 PEM.
fn openssl_key(args: &[&str]) -> String {
    let mut all = vec!["genpkey"];
    all.extend_from_slice(args);
    String::from_utf8(openssl(&all)).expect("PEM")
}

/// A hand-made CSR naming `fqdn` with an RSA public key of `bits` bits and a signature
/// that is junk (no key is generated).
fn rsa_csr_unsigned(fqdn: &str, bits: usize) -> Vec<u8> {
    let oid = |arcs: &[u8]| tlv(0x06, arcs);
    let rsa_encryption = oid(&[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01]);
    let sha256_rsa = oid(&[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b]);
    let ext_request = oid(&[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x0e]);
    let cn = oid(&[0x55, 0x04, 0x03]);
    let san = oid(&[0x55, 0x1d, 0x11]);
    let null = tlv(0x05, &[]);
    let mut modulus = junk(bits / 8, 8192);
    modulus[0] |= 0x80;
    let last = modulus.len() - 1;
    modulus[last] |= 1;
    let mut int = vec![0u8];
    int.extend(modulus);
    let public = seq(&[tlv(0x02, &int), tlv(0x02, &[0x01, 0x00, 0x01])]);
    let mut bits_content = vec![0u8];
    bits_content.extend(public);
    let spki = seq(&[
        seq(&[rsa_encryption, null.clone()]),
        tlv(0x03, &bits_content),
    ]);
    let name = seq(&[tlv(0x31, &seq(&[cn, tlv(0x0c, fqdn.as_bytes())]))]);
    let extension = seq(&[san, tlv(0x04, &san_content(fqdn))]);
    let attribute = seq(&[ext_request, tlv(0x31, &seq(&[extension]))]);
    let info = seq(&[tlv(0x02, &[0]), name, spki, tlv(0xa0, &attribute)]);
    let mut sig = vec![0u8];
    sig.extend(junk(bits / 8, 99));
    seq(&[info, seq(&[sha256_rsa, null]), tlv(0x03, &sig)])
}

/// An RSA public key (PKCS#1 DER) rcgen can certify without loading the private key.
struct RsaPublicKey(Vec<u8>);

impl RsaPublicKey {
    /// The public half of a PEM private key, through `openssl rsa -RSAPublicKey_out`.
    fn of(key_pem: &str) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("rsa.key");
        std::fs::write(&path, key_pem).expect("write key");
        let path = path.to_str().expect("UTF-8 path");
        RsaPublicKey(openssl(&[
            "rsa",
            "-in",
            path,
            "-RSAPublicKey_out",
            "-outform",
            "DER",
        ]))
    }
}

impl PublicKeyData for RsaPublicKey {
    fn der_bytes(&self) -> &[u8] {
        &self.0
    }

    fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
        &rcgen::PKCS_RSA_SHA256
    }
}

/// Every hostile CSR for a device whose one name is `fqdn` (`<label>.<zone>`).
pub fn hostile_csrs(fqdn: &str) -> Vec<HostileCsr> {
    let zone = zone_of(fqdn);
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).expect("P-256 key");
    let good = rcgen_csr(&key, vec![dns(fqdn)], None, vec![]);
    let good_pem = pem("CERTIFICATE REQUEST", &good);
    let csr = |sans: Vec<SanType>, cn: Option<&str>| {
        pem("CERTIFICATE REQUEST", &rcgen_csr(&key, sans, cn, vec![]))
    };
    let padded = |len: usize| {
        let pad = CustomExtension::from_oid_content(PADDING_OID, tlv(0x04, &vec![0x41; len]));
        pem(
            "CERTIFICATE REQUEST",
            &rcgen_csr(&key, vec![dns(fqdn)], None, vec![pad]),
        )
    };
    let mut flipped = good.clone();
    let last = flipped.len() - 2;
    flipped[last] ^= 0x01;
    let cert = {
        let mut p = CertificateParams::new(vec![fqdn.to_owned()]).expect("params");
        p.distinguished_name = DistinguishedName::new();
        p.self_signed(&key).expect("self-signed").pem()
    };
    let ed = KeyPair::generate_for(&PKCS_ED25519).expect("Ed25519 key");
    use CsrCase as C;
    let cases = vec![
        (C::WrongName, csr(vec![dns(&format!("other.{zone}"))], None)),
        (C::ExtraSan, csr(vec![dns(fqdn), dns("evil.example.org")], None)),
        (C::DuplicateSan, csr(vec![dns(fqdn), dns(fqdn)], None)),
        (C::WildcardZone, csr(vec![dns(&format!("*.{zone}"))], None)),
        (C::WildcardBelow, csr(vec![dns(&format!("*.{fqdn}"))], None)),
        (C::IpSan, csr(vec![dns(fqdn), localhost_ip()], None)),
        (C::IpOnly, csr(vec![localhost_ip()], None)),
        (C::CnDiffers, csr(vec![dns(fqdn)], Some("evil.example.org"))),
        (C::NoSan, csr(vec![], Some(fqdn))),
        (C::NoNames, csr(vec![], None)),
        (
            C::EmailSan,
            csr(
                vec![
                    dns(fqdn),
                    SanType::Rfc822Name(format!("root@{fqdn}").as_str().try_into().expect("IA5")),
                ],
                None,
            ),
        ),
        (
            C::UriSan,
            csr(
                vec![
                    dns(fqdn),
                    SanType::URI("https://evil.example.org/".try_into().expect("IA5")),
                ],
                None,
            ),
        ),
        (C::TrailingDot, csr(vec![dns(&format!("{fqdn}."))], None)),
        (
            C::NulInName,
            csr(vec![dns(&format!("{fqdn}\0.evil.example.org"))], None),
        ),
        (
            C::SecondSanExtension,
            pem(
                "CERTIFICATE REQUEST",
                &rcgen_csr(
                    &key,
                    vec![dns(fqdn)],
                    None,
                    vec![CustomExtension::from_oid_content(
                        SAN_OID,
                        san_content("evil.example.org"),
                    )],
                ),
            ),
        ),
        (
            C::Rsa1024,
            pem(
                "CERTIFICATE REQUEST",
                &openssl_csr(fqdn, &["-newkey", "rsa:1024"]),
            ),
        ),
        (
            C::Rsa8192,
            pem("CERTIFICATE REQUEST", &rsa_csr_unsigned(fqdn, 8192)),
        ),
        (
            C::Ed25519,
            pem(
                "CERTIFICATE REQUEST",
                &rcgen_csr(&ed, vec![dns(fqdn)], None, vec![]),
            ),
        ),
        (
            C::P521,
            pem(
                "CERTIFICATE REQUEST",
                &openssl_csr(fqdn, &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-521"]),
            ),
        ),
        (
            C::Secp256k1,
            pem(
                "CERTIFICATE REQUEST",
                &openssl_csr(
                    fqdn,
                    &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:secp256k1"],
                ),
            ),
        ),
        (
            C::ExplicitCurve,
            pem(
                "CERTIFICATE REQUEST",
                &openssl_csr(
                    fqdn,
                    &[
                        "-newkey",
                        "ec",
                        "-pkeyopt",
                        "ec_paramgen_curve:P-256",
                        "-pkeyopt",
                        "ec_param_enc:explicit",
                    ],
                ),
            ),
        ),
        (C::BadSignature, pem("CERTIFICATE REQUEST", &flipped)),
        (
            C::Truncated,
            pem("CERTIFICATE REQUEST", &good[..good.len() / 2]),
        ),
        (C::Oversized16k, padded(16 * 1024)),
        (C::Oversized1m, padded(1024 * 1024)),
        (C::Garbage, pem("CERTIFICATE REQUEST", &junk(300, 7))),
        (C::NotPem, "hello, certd".to_owned()),
        (C::Empty, String::new()),
        (
            C::Base64NoArmor,
            base64::engine::general_purpose::STANDARD.encode(&good),
        ),
        (
            C::BadBase64,
            "-----BEGIN CERTIFICATE REQUEST-----\n!!!!not base64!!!!\n-----END CERTIFICATE REQUEST-----\n".to_owned(),
        ),
        (C::TrailingJunk, format!("{good_pem}and some junk after it\n")),
        (C::LeadingJunk, format!("some junk before it\n{good_pem}")),
        (
            C::TwoCsrs,
            format!("{good_pem}{}", csr(vec![dns("evil.example.org")], None)),
        ),
        (C::KeyAndCsr, format!("{}{good_pem}", key.serialize_pem())),
        (C::CertificateNotCsr, cert),
    ];
    cases
        .into_iter()
        .map(|(case, pem)| HostileCsr { case, pem })
        .collect()
}

impl CertKit {
    /// A fresh CA and server key for `fqdn`.
    pub fn new(fqdn: &str) -> Self {
        let ca_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).expect("CA key");
        let mut params = CertificateParams::default();
        params.distinguished_name = DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::CommonName, "hostile corpus CA");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let now = OffsetDateTime::now_utc();
        params.not_before = now - Duration::hours(1);
        params.not_after = now + Duration::days(30);
        let ca_pem = params.self_signed(&ca_key).expect("CA").pem();
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).expect("server key");
        CertKit {
            fqdn: fqdn.to_owned(),
            key_pem: key.serialize_pem(),
            ca_pem,
            key,
            issuer: Issuer::new(params, ca_key),
        }
    }

    fn leaf_params(&self, sans: Vec<SanType>, cn: Option<&str>) -> CertificateParams {
        let mut p = CertificateParams::default();
        p.subject_alt_names = sans;
        p.distinguished_name = DistinguishedName::new();
        if let Some(cn) = cn {
            p.distinguished_name.push(DnType::CommonName, cn);
        }
        p.is_ca = IsCa::ExplicitNoCa;
        p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        p.use_authority_key_identifier_extension = true;
        let now = OffsetDateTime::now_utc().replace_nanosecond(0).expect("ns");
        p.not_before = now - Duration::hours(1);
        p.not_after = now + Duration::days(7);
        p
    }

    /// The leaf (PEM) `params` describe, for `key`, signed by the CA.
    fn sign(&self, params: &CertificateParams, key: &impl PublicKeyData) -> String {
        params.signed_by(key, &self.issuer).expect("sign").pem()
    }

    /// A good leaf for the kit's key and name, followed by the CA.
    pub fn good_chain(&self) -> String {
        let leaf = self.sign(&self.leaf_params(vec![dns(&self.fqdn)], None), &self.key);
        format!("{leaf}{}", self.ca_pem)
    }

    /// Every hostile certificate file for the kit's name and key.
    pub fn hostile(&self) -> Vec<HostileCert> {
        let fqdn = self.fqdn.as_str();
        let zone = zone_of(fqdn);
        let chain_for = |sans: Vec<SanType>, cn: Option<&str>| {
            let leaf = self.sign(&self.leaf_params(sans, cn), &self.key);
            format!("{leaf}{}", self.ca_pem)
        };
        let good_params = self.leaf_params(vec![dns(fqdn)], None);
        let good_leaf = self.sign(&good_params, &self.key);
        let good_der = pem_der(&good_leaf);
        let good_chain = format!("{good_leaf}{}", self.ca_pem);
        let with_key = |case, file: String, key_pem: String| HostileCert {
            case,
            file: file.into_bytes(),
            key_pem,
        };
        let ours = |case, file: String| with_key(case, file, self.key_pem.clone());

        let rsa_key_pem = openssl_key(&["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024"]);
        // aws-lc (so rcgen) will not load an RSA-1024 key; the CA signs its public half.
        let rsa_leaf = self.sign(&good_params, &RsaPublicKey::of(&rsa_key_pem));
        let ed_key = KeyPair::generate_for(&PKCS_ED25519).expect("Ed25519 key");
        let ed_leaf = self.sign(&good_params, &ed_key);
        let other_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).expect("key");

        let mut flipped = good_der.clone();
        let last = flipped.len() - 2;
        flipped[last] ^= 0x01;
        let mut trailing = good_der.clone();
        trailing.extend_from_slice(b"\x00\x00junk");
        let mut oversized = good_chain.clone().into_bytes();
        oversized.extend(std::iter::repeat_n(b'#', 2 * 1024 * 1024));
        let unrelated = {
            let k = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).expect("key");
            let mut p =
                CertificateParams::new(vec!["unrelated.example.org".to_owned()]).expect("params");
            p.distinguished_name = DistinguishedName::new();
            p.self_signed(&k).expect("self-signed").pem()
        };
        let csr = pem(
            "CERTIFICATE REQUEST",
            &rcgen_csr(&self.key, vec![dns(fqdn)], None, vec![]),
        );
        let now = OffsetDateTime::now_utc().replace_nanosecond(0).expect("ns");
        let dated = |from: OffsetDateTime, to: OffsetDateTime| {
            let mut p = self.leaf_params(vec![dns(fqdn)], None);
            p.not_before = from;
            p.not_after = to;
            format!("{}{}", self.sign(&p, &self.key), self.ca_pem)
        };
        let ca_cert = {
            let mut p = self.leaf_params(vec![dns(fqdn)], Some(fqdn));
            p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            p.key_usages = vec![
                KeyUsagePurpose::KeyCertSign,
                KeyUsagePurpose::DigitalSignature,
            ];
            p.use_authority_key_identifier_extension = false;
            p.self_signed(&self.key).expect("CA cert").pem()
        };
        let client_only = {
            let mut p = self.leaf_params(vec![dns(fqdn)], None);
            p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
            format!("{}{}", self.sign(&p, &self.key), self.ca_pem)
        };
        let mut der_chain = good_der.clone();
        der_chain.extend(pem_der(&self.ca_pem));

        use CertCase as C;
        vec![
            ours(
                C::WrongName,
                chain_for(vec![dns(&format!("other.{zone}"))], None),
            ),
            ours(
                C::ExtraSan,
                chain_for(vec![dns(fqdn), dns("evil.example.org")], None),
            ),
            ours(
                C::Wildcard,
                chain_for(vec![dns(&format!("*.{zone}"))], None),
            ),
            ours(C::IpSan, chain_for(vec![dns(fqdn), localhost_ip()], None)),
            ours(C::IpOnly, chain_for(vec![localhost_ip()], None)),
            ours(
                C::CnDiffers,
                chain_for(vec![dns(fqdn)], Some("evil.example.org")),
            ),
            ours(C::NoSan, chain_for(vec![], Some(fqdn))),
            with_key(
                C::Rsa1024,
                format!("{rsa_leaf}{}", self.ca_pem),
                rsa_key_pem.clone(),
            ),
            with_key(
                C::Ed25519,
                format!("{ed_leaf}{}", self.ca_pem),
                ed_key.serialize_pem(),
            ),
            ours(
                C::BadSignature,
                format!("{}{}", pem("CERTIFICATE", &flipped), self.ca_pem),
            ),
            ours(
                C::Truncated,
                pem("CERTIFICATE", &good_der[..good_der.len() / 2]),
            ),
            ours(
                C::TrailingDerBytes,
                format!("{}{}", pem("CERTIFICATE", &trailing), self.ca_pem),
            ),
            HostileCert {
                case: C::Oversized,
                file: oversized,
                key_pem: self.key_pem.clone(),
            },
            ours(C::Garbage, pem("CERTIFICATE", &junk(400, 3))),
            ours(C::NotPem, "not a certificate at all\n".to_owned()),
            ours(C::Empty, String::new()),
            HostileCert {
                case: C::Der,
                file: der_chain,
                key_pem: self.key_pem.clone(),
            },
            ours(
                C::TrailingJunk,
                format!("{good_chain}trailing words after the chain\n"),
            ),
            ours(C::WrongOrder, format!("{}{good_leaf}", self.ca_pem)),
            ours(C::UnrelatedSecond, format!("{good_leaf}{unrelated}")),
            ours(C::KeyInCertFile, format!("{good_chain}{}", self.key_pem)),
            ours(C::CsrNotCert, csr),
            ours(
                C::OtherKey,
                format!("{}{}", self.sign(&good_params, &other_key), self.ca_pem),
            ),
            ours(
                C::Expired,
                dated(now - Duration::days(10), now - Duration::days(1)),
            ),
            ours(
                C::NotYetValid,
                dated(now + Duration::days(1), now + Duration::days(10)),
            ),
            ours(C::CaCertificate, ca_cert),
            ours(C::ClientAuthOnly, client_only),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_corpus_is_made_and_its_valid_parts_parse() {
        let csrs = hostile_csrs("dev.certs.test");
        assert_eq!(csrs.len(), 35);
        let big = csrs
            .iter()
            .find(|c| c.case == CsrCase::Oversized1m)
            .unwrap();
        assert!(pem_der(&big.pem).len() > 1024 * 1024);
        let kit = CertKit::new("dev.certs.test");
        assert!(kit.good_chain().contains(&kit.ca_pem));
        assert_eq!(kit.hostile().len(), 27);
    }
}
