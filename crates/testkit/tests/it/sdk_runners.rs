//! Both SDK runners resolve container credentials from a served JSON document, over plain
//! HTTP (with the authorization token checked) and over HTTPS trusted through the testkit
//! CA; they also report failures as text. The server here is a stand-in, not aws-sso.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::process::Command;
use std::sync::mpsc;
use std::time::Duration;

use testkit::{ChildGuard, KeyKind, TestCa, free_port, random_creds, wait_for_port};

const EXPIRATION: &str = "2099-01-01T00:00:00Z";

fn creds_json(akid: &str, secret: &str, token: &str) -> String {
    serde_json::json!({
        "AccessKeyId": akid,
        "SecretAccessKey": secret,
        "Token": token,
        "Expiration": EXPIRATION,
    })
    .to_string()
}

/// Serves `body` to up to `n` requests on a loopback port; sends each Authorization header.
fn serve_plain(body: String, n: usize) -> (u16, mpsc::Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(n) {
            let mut stream = stream.unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut auth = String::new();
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap() == 0 || line == "\r\n" {
                    break;
                }
                if let Some((name, value)) = line.split_once(':')
                    && name.eq_ignore_ascii_case("authorization")
                {
                    auth = value.trim().to_owned();
                }
            }
            let _ = tx.send(auth);
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (port, rx)
}

#[test]
fn both_sdks_read_container_credentials_over_http_with_a_token_file() {
    testkit::require_venv();
    let (akid, secret, token) = random_creds();
    let (port, seen) = serve_plain(creds_json(&akid, &secret, &token), 2);
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, "bearer-for-test").unwrap();
    let uri = format!("http://127.0.0.1:{port}/creds");
    let env = [
        ("AWS_CONTAINER_CREDENTIALS_FULL_URI", uri.as_str()),
        (
            "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
            token_file.to_str().unwrap(),
        ),
    ];

    let py = testkit::python_sdk_fetch(&env).unwrap();
    assert_eq!(py["AccessKeyId"], akid.as_str());
    assert_eq!(py["SecretAccessKey"], secret.as_str());
    assert_eq!(py["Token"], token.as_str());
    assert_eq!(py["Method"], "container-role");

    let rs = testkit::rust_sdk_fetch(&env).unwrap();
    assert_eq!(rs["AccessKeyId"], akid.as_str());
    assert_eq!(rs["SessionToken"], token.as_str());
    assert_eq!(rs["Expiration"], EXPIRATION);

    for _ in 0..2 {
        let auth = seen.recv_timeout(Duration::from_secs(5)).unwrap();
        assert_eq!(auth, "bearer-for-test");
    }
}

#[test]
fn both_sdks_trust_the_test_ca_over_https() {
    testkit::require_venv();
    let ca = TestCa::new("testkit https root");
    let leaf = ca.issue(&["localhost", "127.0.0.1"], KeyKind::EcdsaP256);
    let dir = tempfile::tempdir().unwrap();
    let files = leaf.write_files(dir.path(), "server");
    let ca_file = ca.write_cert(&dir.path().join("ca.crt"));
    let (akid, secret, token) = random_creds();
    std::fs::write(
        dir.path().join("creds.json"),
        creds_json(&akid, &secret, &token),
    )
    .unwrap();

    // `openssl s_server -WWW` serves files from its working directory over TLS.
    let port = free_port();
    let _server = ChildGuard::spawn(
        Command::new("openssl")
            .args(["s_server", "-quiet", "-WWW", "-accept"])
            .arg(format!("127.0.0.1:{port}"))
            .arg("-cert")
            .arg(&files.cert)
            .arg("-key")
            .arg(&files.key)
            .current_dir(dir.path()),
        "openssl-s_server",
    )
    .unwrap();
    assert!(wait_for_port(
        ([127, 0, 0, 1], port).into(),
        Duration::from_secs(10)
    ));

    let uri = format!("https://localhost:{port}/creds.json");
    let env = [
        ("AWS_CONTAINER_CREDENTIALS_FULL_URI", uri.as_str()),
        ("AWS_CONTAINER_AUTHORIZATION_TOKEN", "unused-by-s_server"),
        ("SSL_CERT_FILE", ca_file.to_str().unwrap()),
    ];
    let rs = testkit::rust_sdk_fetch(&env).unwrap();
    assert_eq!(rs["SecretAccessKey"], secret.as_str());

    testkit::trust_ca_for_botocore(ca.cert_pem());
    testkit::trust_ca_for_botocore(ca.cert_pem()); // idempotent
    let bundle = std::fs::read_to_string(&testkit::venv::botocore_ca_bundles()[0]).unwrap();
    assert_eq!(bundle.matches(ca.cert_pem().trim()).count(), 1);
    let py = testkit::python_sdk_fetch(&env).unwrap();
    assert_eq!(py["AccessKeyId"], akid.as_str());
}

#[test]
fn failures_come_back_as_error_text() {
    testkit::require_venv();
    let uri = format!("http://127.0.0.1:{}/nothing-listens", free_port());
    let env = [
        ("AWS_CONTAINER_CREDENTIALS_FULL_URI", uri.as_str()),
        ("AWS_CONTAINER_AUTHORIZATION_TOKEN", "x"),
    ];
    let py = testkit::python_sdk_fetch(&env).unwrap_err();
    assert!(!py.is_empty());
    let rs = testkit::rust_sdk_fetch(&env).unwrap_err();
    assert!(rs.starts_with("rust-sdk-probe: "), "{rs}");
}

#[test]
fn aws_cli_reports_the_container_role_source() {
    testkit::require_venv();
    let (akid, secret, token) = random_creds();
    let (port, _seen) = serve_plain(creds_json(&akid, &secret, &token), 4);
    let uri = format!("http://127.0.0.1:{port}/creds");
    let env = [
        ("AWS_CONTAINER_CREDENTIALS_FULL_URI", uri.as_str()),
        ("AWS_CONTAINER_AUTHORIZATION_TOKEN", "t"),
    ];
    let out = testkit::aws_cli(&env, &["configure", "list"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("container-role"), "{text}");
    assert!(
        text.contains(&akid[akid.len() - 4..]),
        "awscli shows the key's tail: {text}"
    );
}
