//! `aws-sso-certd serve` as a process: its HTTP API driven with curl, its DNS queried
//! with dig, and a restart that keeps every registered name resolving.

use std::process::Command;
use std::time::Duration;

use testkit::process::ChildGuard;

struct Running {
    child: ChildGuard,
    http: u16,
    dns: u16,
}

fn config(dir: &std::path::Path, http: u16, dns: u16) -> std::path::PathBuf {
    let path = dir.join("certd.toml");
    let text = format!(
        r#"
[service]
zone = "certs.test"
data_dir = "data"
[http]
listen = "127.0.0.1:{http}"
secure_cookies = false
[dns]
listen = "127.0.0.1:{dns}"
nameservers = ["ns1.certs.test"]
hostmaster = "hostmaster.certs.test"
[acme]
directory = "letsencrypt-staging"
contact = "ops@certs.test"
caa_issuer = "letsencrypt.org"
"#
    );
    std::fs::write(&path, text).unwrap();
    path
}

fn start(dir: &std::path::Path, http: u16, dns: u16) -> Running {
    let cfg = config(dir, http, dns);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_aws-sso-certd"));
    cmd.args(["serve", "--config", cfg.to_str().unwrap()])
        .env("CERTD_LOG", "debug");
    let mut child = ChildGuard::spawn(&mut cmd, "certd").unwrap();
    let addr = format!("127.0.0.1:{http}").parse().unwrap();
    if !child.wait_for_port(addr, Duration::from_secs(20)) {
        panic!(
            "certd did not listen: {:?} {}",
            child.try_status(),
            child.stderr()
        );
    }
    Running { child, http, dns }
}

fn curl(port: u16, method: &str, path: &str, body: &str, jar: &std::path::Path) -> (u16, String) {
    let out = Command::new("curl")
        .args([
            "-s",
            "-o",
            "-",
            "-w",
            "\n%{http_code}",
            "-X",
            method,
            "-H",
            "content-type: application/json",
        ])
        .args([
            "-c",
            jar.to_str().unwrap(),
            "-b",
            jar.to_str().unwrap(),
            "--data",
            body,
        ])
        .arg(format!("http://127.0.0.1:{port}{path}"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap();
    (code.parse().unwrap(), body.to_owned())
}

fn dig(port: u16, name: &str, rtype: &str) -> String {
    let out = Command::new("dig")
        .args([
            "@127.0.0.1",
            "-p",
            &port.to_string(),
            name,
            rtype,
            "+short",
            "+time=2",
            "+tries=2",
        ])
        .output()
        .expect("dig (apt package bind9-dnsutils) must be installed");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
fn names_registered_over_http_resolve_to_loopback_and_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (http, dns) = (testkit::ports::free_port(), testkit::ports::free_port());
    let mut certd = start(dir.path(), http, dns);
    let jar = dir.path().join("cookies");
    let (code, body) = curl(
        http,
        "POST",
        "/api/v1/accounts",
        r#"{"username":"kim","password":"a long and unusual phrase","email":"kim@example.org"}"#,
        &jar,
    );
    assert_eq!(code, 201, "{body}");
    let (code, _) = curl(
        http,
        "POST",
        "/api/v1/session",
        r#"{"username":"kim","password":"a long and unusual phrase"}"#,
        &jar,
    );
    assert_eq!(code, 200);
    // No [mail] in the config: the log transport prints the verification mail.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let token = loop {
        let err = certd.child.stderr();
        if let Some(at) = err.find("/verify?token=") {
            let rest = &err[at + "/verify?token=".len()..];
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
                .unwrap_or(rest.len());
            break rest[..end].to_owned();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no mail printed: {err}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let (code, body) = curl(
        http,
        "POST",
        "/api/v1/api-keys",
        r#"{"hostname":"kims-mac"}"#,
        &jar,
    );
    assert_eq!(code, 403, "{body}");
    assert!(
        body.contains("CD2003"),
        "unverified accounts get no API key: {body}"
    );
    let (code, body) = curl(
        http,
        "POST",
        "/api/v1/email/verify",
        &format!(r#"{{"token":"{token}"}}"#),
        &jar,
    );
    assert_eq!(code, 200, "{body}");
    let (code, body) = curl(
        http,
        "POST",
        "/api/v1/hostnames",
        r#"{"name":"kims-mac"}"#,
        &jar,
    );
    assert_eq!(code, 201, "{body}");
    let (code, body) = curl(
        http,
        "POST",
        "/api/v1/api-keys",
        r#"{"hostname":"kims-mac"}"#,
        &jar,
    );
    assert_eq!(code, 201, "{body}");
    let api_key: serde_json::Value = serde_json::from_str(&body).unwrap();
    let api_key = api_key["key"].as_str().unwrap().to_owned();
    let session = std::fs::read_to_string(&jar).unwrap();
    let session = session.split_whitespace().last().unwrap().to_owned();
    assert!(session.starts_with("ses_"), "{session}");

    assert_eq!(dig(certd.dns, "kims-mac.certs.test", "A"), "127.0.0.1");
    assert_eq!(dig(certd.dns, "KIMS-MAC.certs.test", "A"), "127.0.0.1");
    assert_eq!(dig(certd.dns, "nobody.certs.test", "A"), "");
    assert!(
        dig(certd.dns, "certs.test", "SOA").starts_with("ns1.certs.test. hostmaster.certs.test.")
    );

    let status = certd.child.terminate_and_wait();
    assert!(
        status.success(),
        "certd stops cleanly on SIGTERM: {status:?}"
    );
    let log = certd.child.stderr();
    assert!(log.contains("DEBUG"), "the run logged at debug level");
    for secret in [
        "a long and unusual phrase",
        api_key.as_str(),
        session.as_str(),
    ] {
        assert!(!log.contains(secret), "a secret reached the log");
    }

    let certd = start(dir.path(), certd.http, certd.dns);
    assert_eq!(
        dig(certd.dns, "kims-mac.certs.test", "A"),
        "127.0.0.1",
        "names come back from the store"
    );
}

#[test]
fn a_broken_config_is_refused_with_its_reason() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("certd.toml");
    std::fs::write(
        &path,
        "[service]\nzone = \"certs.test\"\ndata_dir = \"d\"\nbogus = 1\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_aws-sso-certd"))
        .args(["check-config", "--config", path.to_str().unwrap()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("unknown field `bogus`"), "{err}");
}

#[test]
fn rows_written_straight_into_the_database_cannot_point_a_name_elsewhere() {
    let dir = tempfile::tempdir().unwrap();
    let (http, dns) = (testkit::ports::free_port(), testkit::ports::free_port());
    let mut certd = start(dir.path(), http, dns);
    let jar = dir.path().join("cookies");
    curl(
        http,
        "POST",
        "/api/v1/accounts",
        r#"{"username":"lou","password":"a long and unusual phrase","email":"lou@example.org"}"#,
        &jar,
    );
    curl(
        http,
        "POST",
        "/api/v1/session",
        r#"{"username":"lou","password":"a long and unusual phrase"}"#,
        &jar,
    );
    let (code, _) = curl(
        http,
        "POST",
        "/api/v1/hostnames",
        r#"{"name":"lou-box"}"#,
        &jar,
    );
    assert_eq!(code, 201);
    assert!(certd.child.terminate_and_wait().success());

    // An attacker with write access to the database adds rows of every shape.
    let db = dir.path().join("data/certd.sqlite");
    let sql = "INSERT INTO hostnames (label, account_id, created_at) VALUES \
        ('evil', 1, 0), ('10.0.0.1', 1, 0), ('a.b', 1, 0), ('x y', 1, 0), ('-bad', 1, 0);";
    let out = Command::new("sqlite3")
        .arg(&db)
        .arg(sql)
        .output()
        .expect("sqlite3 (apt package sqlite3)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let certd = start(dir.path(), http, dns);
    assert_eq!(
        dig(certd.dns, "evil.certs.test", "A"),
        "127.0.0.1",
        "a stored name only ever gets loopback"
    );
    assert_eq!(
        dig(certd.dns, "lou-box.certs.test", "A"),
        "127.0.0.1",
        "valid names keep resolving"
    );
    assert_eq!(dig(certd.dns, "10.0.0.1.certs.test", "A"), "");
    assert_eq!(dig(certd.dns, "a.b.certs.test", "A"), "");
    assert_eq!(dig(certd.dns, "evil.certs.test", "CNAME"), "");
    assert_eq!(dig(certd.dns, "evil.certs.test", "NS"), "");
}
