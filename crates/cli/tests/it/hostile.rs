//! The hostile certificate corpus (testkit::hostile) against `aws-sso setup ecs cert load`
//! and `aws-sso setup ecs ssl`: every hostile file is refused with a message naming the
//! reason (or, where accepting is the design, stored without what made it hostile), the
//! SecureStore is unchanged by each refusal, nothing panics, and `ecs server` still serves
//! the good pair stored before.

use std::path::Path;
use std::process::Command;

use cli::items;
use testkit::hostile::{CertCase, CertKit};

use crate::cert::{Snapshot, assert_unchanged, set_item, snapshot};
use crate::harness::{Run, User};

const FQDN: &str = "dev.certs.test";

/// What `cert load` must say: `Err(fragment)` for a refusal, `Ok(())` where storing it is
/// the design.
fn load_expect(case: CertCase) -> Result<(), &'static str> {
    use CertCase as C;
    Err(match case {
        C::WrongName => "the certificate is for other.certs.test but the configured name is",
        C::Wildcard => "the certificate is for *.certs.test but the configured name is",
        C::IpOnly => "the certificate is for 127.0.0.1 but the configured name is",
        C::ExtraSan => "also names evil.example.org; it must name dev.certs.test only",
        C::IpSan => "also names 127.0.0.1; it must name dev.certs.test only",
        C::NoSan => "names no host: it has no subjectAltName",
        // The key is not the stored one.
        C::Rsa1024 | C::Ed25519 | C::OtherKey => "the certificate does not match the key",
        C::BadSignature | C::UnrelatedSecond => "certificate #1 is not signed by certificate #2",
        C::Truncated | C::Garbage => "certificate #1 cannot be parsed",
        C::TrailingDerBytes => "bytes after its end",
        C::Oversized => "larger than 1 MiB",
        C::NotPem | C::Empty | C::CsrNotCert => "no certificate found",
        C::Der => "is not a PEM text file (binary DER?",
        C::WrongOrder => "the server certificate must come first",
        C::Expired | C::NotYetValid => "the certificate is not valid now",
        C::CaCertificate => "it is a CA certificate",
        C::ClientAuthOnly => "does not include TLS server authentication",
        // TLS clients ignore the CN when there is a subjectAltName.
        C::CnDiffers => return Ok(()),
        // Text and key blocks around the certificates are dropped, not stored.
        C::TrailingJunk | C::KeyInCertFile => return Ok(()),
    })
}

/// What `ssl --certificate F --private-key K` must say. `ssl` imports a pair for any
/// name (localhost, an IP, a wildcard...): names are the user's choice there.
fn ssl_expect(case: CertCase) -> Result<(), &'static str> {
    use CertCase as C;
    Err(match case {
        C::WrongName | C::ExtraSan | C::Wildcard | C::IpSan | C::IpOnly | C::CnDiffers => {
            return Ok(());
        }
        // TLS 1.3 clients (botocore, the Rust SDK) accept Ed25519 server keys.
        C::Ed25519 => return Ok(()),
        // What `openssl req -x509` makes by default: stored, with a warning that
        // rustls-based clients refuse it (OpenSSL-based ones accept it).
        C::CaCertificate => return Ok(()),
        C::TrailingJunk | C::KeyInCertFile => return Ok(()),
        C::NoSan => "the certificate names no host",
        C::Rsa1024 => "RSA keys of 1024 bits are not accepted",
        C::OtherKey => "does not match the private key",
        C::BadSignature | C::UnrelatedSecond => "certificate #1 is not signed by certificate #2",
        C::Truncated | C::Garbage => "certificate #1 cannot be parsed",
        C::TrailingDerBytes => "bytes after its end",
        C::Oversized => "larger than 1 MiB",
        C::NotPem | C::Empty | C::CsrNotCert => "no certificate found",
        C::Der => "is not a PEM text file (binary DER?",
        C::WrongOrder => "the server certificate must come first",
        C::Expired => "the certificate expired on",
        C::NotYetValid => "the certificate is not valid until",
        C::ClientAuthOnly => "does not include TLS server authentication",
    })
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path.to_str().unwrap().to_owned()
}

/// A refusal: exit status 1 (not a panic's 101), the expected reason, no key material.
fn refused(r: &Run, what: &str, fragment: &str, key_pem: &str) {
    assert!(!r.ok, "{what} was accepted");
    assert!(!r.stderr.contains("panicked"), "{what}: {}", r.stderr);
    assert!(
        r.stderr.contains(fragment),
        "{what}: expected {fragment:?} in {}",
        r.stderr
    );
    for line in key_pem.lines().filter(|l| !l.starts_with("-----")) {
        assert!(
            !r.stderr.contains(line),
            "{what}: key material in the error"
        );
    }
}

/// The stored chain, as `ssl --print --output json` shows it.
fn printed_chain(user: &User) -> String {
    let r = user.ok(&["setup", "ecs", "ssl", "--print", "--output", "json"]);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    v["chain_pem"].as_str().unwrap().to_owned()
}

/// Puts the good pair back after a case whose storing is the design.
fn restore(user: &User, good_cert: &str, good_key: &str, baseline: &Snapshot) {
    user.ok(&[
        "setup",
        "ecs",
        "ssl",
        "--certificate",
        good_cert,
        "--private-key",
        good_key,
    ]);
    assert_unchanged(user, baseline, "restoring the good pair");
}

/// The serial the server at `addr` presents for `FQDN`, lowercase hex without leading 0s.
fn served_serial(addr: &str) -> String {
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "openssl s_client -connect {addr} -servername {FQDN} </dev/null 2>/dev/null | openssl x509 -noout -serial"
        ))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_ascii_lowercase();
    text.trim()
        .trim_start_matches("serial=")
        .trim_start_matches('0')
        .to_owned()
}

#[test]
fn hostile_certificates_are_refused_by_load_and_ssl_storing_nothing() {
    let user = User::new();
    user.generate_token();
    let kit = CertKit::new(FQDN);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let good_cert = write(d, "good.pem", kit.good_chain().as_bytes());
    let good_key = write(d, "good.key", kit.key_pem.as_bytes());
    user.ok(&[
        "setup",
        "ecs",
        "ssl",
        "--certificate",
        &good_cert,
        "--private-key",
        &good_key,
    ]);
    set_item(&user, items::ECS_CERT_FQDN, FQDN);
    let baseline = snapshot(&user);
    let good_serial = {
        let r = user.ok(&["setup", "ecs", "ssl", "--print", "--output", "json"]);
        let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
        v["serial"]
            .as_str()
            .unwrap()
            .trim_start_matches('0')
            .to_owned()
    };

    let corpus = kit.hostile();
    assert!(corpus.len() >= 25, "{} cases", corpus.len());
    let (mut refusals, mut by_design) = (0, 0);
    for (i, h) in corpus.iter().enumerate() {
        let file = write(d, &format!("case{i}.pem"), &h.file);
        let key = write(d, &format!("case{i}.key"), h.key_pem.as_bytes());
        let load = ["setup", "ecs", "cert", "load", file.as_str()];
        let ssl = [
            "setup",
            "ecs",
            "ssl",
            "--certificate",
            file.as_str(),
            "--private-key",
            key.as_str(),
        ];
        let runs: [(&str, &[&str], _); 2] = [
            ("cert load", &load, load_expect(h.case)),
            ("ssl", &ssl, ssl_expect(h.case)),
        ];
        // One after the other, each judged (and the store restored) before the next.
        for (command, args, expect) in runs {
            let r = user.run(args);
            let what = format!("{command} {:?}", h.case);
            match expect {
                Err(fragment) => {
                    refused(&r, &what, fragment, &h.key_pem);
                    // (Files that are too large or not text are refused before reading.)
                    let read = !matches!(h.case, CertCase::Oversized | CertCase::Der);
                    if command == "cert load" && read {
                        assert!(
                            r.stderr.contains("nothing was changed"),
                            "{what}: {}",
                            r.stderr
                        );
                    }
                    assert_unchanged(&user, &baseline, &what);
                    refusals += 1;
                }
                Ok(()) => {
                    assert!(r.ok, "{what} was refused: {}", r.stderr);
                    let warned = r.stderr.contains("warning:")
                        && r.stderr.contains("is a CA certificate")
                        && r.stderr.contains("basicConstraints=critical,CA:FALSE");
                    assert_eq!(
                        warned,
                        h.case == CertCase::CaCertificate,
                        "{what}: {}",
                        r.stderr
                    );
                    // Whatever was around the certificates is not stored, nor printed.
                    let stored = printed_chain(&user);
                    assert!(
                        !stored.contains("PRIVATE KEY") && !stored.contains("trailing words"),
                        "{what} stored more than certificates"
                    );
                    assert!(pki::parse_cert_chain(&stored).is_ok());
                    restore(&user, &good_cert, &good_key, &baseline);
                    by_design += 1;
                }
            }
        }
    }
    assert!(refusals >= 40, "{refusals} refusals");
    assert!(by_design <= 14, "{by_design} accepted by design");

    // The server still starts, with the good pair.
    let server = user.server(&[]);
    assert_eq!(
        served_serial(&server.addr()),
        good_serial.to_ascii_lowercase()
    );
    server.stop();
}
