//! The certificate service over HTTPS, as users reach the real one: the CLI trusts the
//! platform's roots (on Linux the system bundle, or `SSL_CERT_FILE` when set) plus an
//! optional `AWS_SSO_CERTD_CA`, checks the service's name, and stores nothing when the
//! service's certificate is not trusted.

use cli::items;
use testkit::ca::{KeyKind, TestCa};

use crate::cert::{World, ZONE, assert_unchanged, set_item, snapshot};
use crate::harness::{Run, User};

fn run_with(user: &User, env: &[(&str, &str)], args: &[&str]) -> Run {
    let mut cmd = user.command(args);
    cmd.envs(env.iter().copied());
    cmd.output().unwrap().into()
}

#[test]
fn cert_commands_reach_the_service_over_https_with_the_platform_roots() {
    let w = World::start();
    let ca = TestCa::new("certificate service test root");
    let dir = tempfile::tempdir().unwrap();
    let roots = ca.write_cert(&dir.path().join("roots.pem"));
    let roots = roots.to_str().unwrap();
    let issued = ca.issue(&["localhost"], KeyKind::EcdsaP256);
    let https = w.serve_https(&issued.chain_pem, &issued.key_pkcs8_pem);
    // The same certd under a certificate for another name, from the same trusted root.
    let other = ca.issue(&["certs.example.org"], KeyKind::EcdsaP256);
    let wrong_name = w.serve_https(&other.chain_pem, &other.key_pkcs8_pem);

    let user = User::new();
    let fqdn = format!("tls.{ZONE}");
    set_item(&user, items::ECS_CERT_FQDN, &fqdn);
    let key = w.api_key("tina", "tls");
    let enroll = ["setup", "ecs", "cert", "api-key", key.as_str()];

    // The system's roots do not hold the test root: refused before anything is sent.
    set_item(&user, items::CERTD_SERVICE_URL, &https);
    let before = snapshot(&user);
    let r = run_with(&user, &[], &enroll);
    assert!(!r.ok, "enrolled with an untrusted service: {}", r.stdout);
    assert!(
        r.stderr
            .contains(&format!("cannot reach the certificate service at {https}"))
            && r.stderr.to_lowercase().contains("certificate"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains(&key), "the API key is in the error");
    assert_unchanged(&user, &before, "an untrusted service");

    // Trusted root, wrong name: refused the same way.
    set_item(&user, items::CERTD_SERVICE_URL, &wrong_name);
    let before = snapshot(&user);
    let r = run_with(&user, &[("SSL_CERT_FILE", roots)], &enroll);
    assert!(
        !r.ok,
        "enrolled with a service named otherwise: {}",
        r.stdout
    );
    assert!(
        r.stderr.contains("cannot reach the certificate service"),
        "{}",
        r.stderr
    );
    assert_unchanged(&user, &before, "a service certificate for another name");

    // The platform roots (SSL_CERT_FILE is how Linux names them) hold the root: the API
    // key enrolls over HTTPS, the API key was not consumed by the refusals above.
    set_item(&user, items::CERTD_SERVICE_URL, &https);
    let r = run_with(&user, &[("SSL_CERT_FILE", roots)], &enroll);
    assert!(r.ok, "{}", r.stderr);

    // Signing goes over HTTPS too, here trusting the root through AWS_SSO_CERTD_CA only.
    let r = run_with(
        &user,
        &[("AWS_SSO_CERTD_CA", roots)],
        &["setup", "ecs", "cert", "sign-csr"],
    );
    assert!(r.ok, "{}", r.stderr);
    let status = user.ok(&["setup", "ecs", "cert", "status", "--output", "json"]);
    let status: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
    assert_eq!(status["fqdn"], fqdn, "{status}");
    assert!(
        status.to_string().contains("Pebble"),
        "the stored certificate is not Pebble's: {status}"
    );
}
