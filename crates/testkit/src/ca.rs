//! `TestCa`: a throwaway root CA (rcgen, ECDSA P-256) that issues server leaves with
//! ECDSA or RSA keys, including expired ones, plus SEC1/PKCS#1 key conversions through
//! the `openssl` CLI. Certificates here are for tests only.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, PKCS_ECDSA_P256_SHA256, PKCS_RSA_SHA256,
};
use time::{Duration, OffsetDateTime};

/// The key algorithm of an issued leaf.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// ECDSA on P-256, signed with SHA-256.
    EcdsaP256,
    /// RSA 2048, PKCS#1 v1.5 with SHA-256.
    Rsa2048,
}

/// A self-signed root that signs leaves.
#[derive(Debug)]
pub struct TestCa {
    issuer: Issuer<'static, KeyPair>,
    cert_pem: String,
}

/// A leaf certificate and its key, all PEM.
#[derive(Debug, Clone)]
pub struct Issued {
    /// The leaf alone.
    pub cert_pem: String,
    /// The leaf's private key, PKCS#8 (`-----BEGIN PRIVATE KEY-----`).
    pub key_pkcs8_pem: String,
    /// The leaf followed by the root (there is no intermediate).
    pub chain_pem: String,
}

/// Where [`Issued::write_files`] put things.
#[derive(Debug, Clone)]
pub struct IssuedFiles {
    /// `<stem>.crt`: the leaf alone.
    pub cert: PathBuf,
    /// `<stem>.key`: the PKCS#8 key.
    pub key: PathBuf,
    /// `<stem>.chain.crt`: leaf + root.
    pub chain: PathBuf,
}

impl TestCa {
    /// A new root with common name `name`, valid from an hour ago for ten years.
    pub fn new(name: &str) -> Self {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).expect("generate CA key");
        let mut params = CertificateParams::default();
        params.distinguished_name.remove(DnType::CommonName);
        params.distinguished_name.push(DnType::CommonName, name);
        params
            .distinguished_name
            .push(DnType::OrganizationName, "aws-sso testkit");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let now = OffsetDateTime::now_utc();
        params.not_before = now - Duration::hours(1);
        params.not_after = now + Duration::days(3650);
        let cert = params.self_signed(&key).expect("self-sign the test CA");
        Self {
            issuer: Issuer::new(params, key),
            cert_pem: cert.pem(),
        }
    }

    /// The root certificate, PEM.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// Writes the root certificate to `path` and returns it.
    pub fn write_cert(&self, path: &Path) -> PathBuf {
        std::fs::write(path, &self.cert_pem)
            .unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        path.to_path_buf()
    }

    /// A server leaf for `names` (DNS names or IP literals), valid from an hour ago for 90 days.
    pub fn issue(&self, names: &[&str], kind: KeyKind) -> Issued {
        let now = OffsetDateTime::now_utc();
        self.issue_inner(
            names,
            kind,
            now - Duration::hours(1),
            now + Duration::days(90),
        )
    }

    /// An ECDSA P-256 leaf with the given validity window (past windows make expired certs).
    pub fn issue_with_validity(
        &self,
        names: &[&str],
        not_before: OffsetDateTime,
        not_after: OffsetDateTime,
    ) -> Issued {
        self.issue_inner(names, KeyKind::EcdsaP256, not_before, not_after)
    }

    /// An ECDSA P-256 leaf that expired yesterday.
    pub fn issue_expired(&self, names: &[&str]) -> Issued {
        let now = OffsetDateTime::now_utc();
        self.issue_with_validity(names, now - Duration::days(30), now - Duration::days(1))
    }

    fn issue_inner(
        &self,
        names: &[&str],
        kind: KeyKind,
        not_before: OffsetDateTime,
        not_after: OffsetDateTime,
    ) -> Issued {
        let key = match kind {
            KeyKind::EcdsaP256 => KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256),
            KeyKind::Rsa2048 => KeyPair::generate_for(&PKCS_RSA_SHA256),
        }
        .expect("generate leaf key");
        let owned: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let mut params = CertificateParams::new(owned).expect("valid subject alt names");
        params.distinguished_name.remove(DnType::CommonName);
        if let Some(first) = names.first() {
            params.distinguished_name.push(DnType::CommonName, *first);
        }
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = match kind {
            KeyKind::EcdsaP256 => vec![KeyUsagePurpose::DigitalSignature],
            KeyKind::Rsa2048 => vec![
                KeyUsagePurpose::DigitalSignature,
                KeyUsagePurpose::KeyEncipherment,
            ],
        };
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        params.not_before = not_before;
        params.not_after = not_after;
        let cert = params.signed_by(&key, &self.issuer).expect("sign leaf");
        let cert_pem = cert.pem();
        Issued {
            chain_pem: format!("{cert_pem}{}", self.cert_pem),
            cert_pem,
            key_pkcs8_pem: key.serialize_pem(),
        }
    }
}

impl Issued {
    /// Writes `<stem>.crt`, `<stem>.key` (mode 0600) and `<stem>.chain.crt` into `dir`.
    pub fn write_files(&self, dir: &Path, stem: &str) -> IssuedFiles {
        use std::os::unix::fs::OpenOptionsExt;
        let files = IssuedFiles {
            cert: dir.join(format!("{stem}.crt")),
            key: dir.join(format!("{stem}.key")),
            chain: dir.join(format!("{stem}.chain.crt")),
        };
        std::fs::write(&files.cert, &self.cert_pem).expect("write cert");
        std::fs::write(&files.chain, &self.chain_pem).expect("write chain");
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&files.key)
            .and_then(|mut f| f.write_all(self.key_pkcs8_pem.as_bytes()))
            .expect("write key");
        files
    }
}

/// Converts a PKCS#8 EC key to SEC1 (`-----BEGIN EC PRIVATE KEY-----`) with `openssl pkey`.
pub fn to_sec1_pem(pkcs8_pem: &str) -> String {
    let out = openssl(&["pkey", "-traditional"], pkcs8_pem);
    assert!(
        out.contains("-----BEGIN EC PRIVATE KEY-----"),
        "not an EC key:\n{out}"
    );
    out
}

/// Converts a PKCS#8 RSA key to PKCS#1 (`-----BEGIN RSA PRIVATE KEY-----`) with `openssl rsa`.
pub fn to_pkcs1_pem(pkcs8_pem: &str) -> String {
    let out = openssl(&["rsa", "-traditional"], pkcs8_pem);
    assert!(
        out.contains("-----BEGIN RSA PRIVATE KEY-----"),
        "not an RSA key:\n{out}"
    );
    out
}

/// Runs `openssl <args>` with `input` on stdin and returns stdout; panics on failure.
fn openssl(args: &[&str], input: &str) -> String {
    let mut child = Command::new("openssl")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run openssl (apt-get install openssl)");
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(input.as_bytes())
        .expect("write to openssl");
    let out = child.wait_with_output().expect("wait for openssl");
    assert!(
        out.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("openssl prints PEM")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `openssl verify` of `leaf` against `ca`; returns (success, combined output).
    fn openssl_verify(ca: &TestCa, leaf: &Issued) -> (bool, String) {
        let dir = tempfile::tempdir().unwrap();
        let ca_path = ca.write_cert(&dir.path().join("ca.crt"));
        let files = leaf.write_files(dir.path(), "leaf");
        let out = Command::new("openssl")
            .arg("verify")
            .arg("-CAfile")
            .arg(&ca_path)
            .args(["-purpose", "sslserver"])
            .arg(&files.cert)
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text)
    }

    #[test]
    fn leaves_of_both_key_kinds_verify_against_the_root() {
        let ca = TestCa::new("testkit root");
        for kind in [KeyKind::EcdsaP256, KeyKind::Rsa2048] {
            let leaf = ca.issue(&["localhost", "127.0.0.1"], kind);
            let (ok, text) = openssl_verify(&ca, &leaf);
            assert!(ok, "{kind:?}: {text}");
            assert!(leaf.chain_pem.starts_with(&leaf.cert_pem));
            assert!(leaf.chain_pem.ends_with(ca.cert_pem()));
            assert!(
                leaf.key_pkcs8_pem
                    .starts_with("-----BEGIN PRIVATE KEY-----")
            );
        }
    }

    #[test]
    fn leaf_carries_the_requested_names() {
        let ca = TestCa::new("testkit root");
        let leaf = ca.issue(&["localhost", "127.0.0.1"], KeyKind::EcdsaP256);
        let text = openssl(
            &["x509", "-noout", "-ext", "subjectAltName"],
            &leaf.cert_pem,
        );
        assert!(text.contains("DNS:localhost"), "{text}");
        assert!(text.contains("IP Address:127.0.0.1"), "{text}");
    }

    #[test]
    fn expired_leaf_fails_verification() {
        let ca = TestCa::new("testkit root");
        let leaf = ca.issue_expired(&["localhost"]);
        let (ok, text) = openssl_verify(&ca, &leaf);
        assert!(!ok);
        assert!(text.contains("certificate has expired"), "{text}");
    }

    #[test]
    fn key_conversions_produce_traditional_pem_of_the_same_key() {
        let ca = TestCa::new("testkit root");
        let ec = ca.issue(&["localhost"], KeyKind::EcdsaP256);
        let sec1 = to_sec1_pem(&ec.key_pkcs8_pem);
        assert!(sec1.starts_with("-----BEGIN EC PRIVATE KEY-----"), "{sec1}");
        let rsa = ca.issue(&["localhost"], KeyKind::Rsa2048);
        let pkcs1 = to_pkcs1_pem(&rsa.key_pkcs8_pem);
        assert!(
            pkcs1.starts_with("-----BEGIN RSA PRIVATE KEY-----"),
            "{pkcs1}"
        );
        // Same key: the public halves match.
        for (a, b) in [(&ec.key_pkcs8_pem, &sec1), (&rsa.key_pkcs8_pem, &pkcs1)] {
            assert_eq!(
                openssl(&["pkey", "-pubout"], a),
                openssl(&["pkey", "-pubout"], b)
            );
        }
    }
}
