//! certd serving HTTPS itself, as a process: with a configured certificate, and with one it
//! gets for its own web name from its ACME CA (Pebble) through its own DNS, kept across a
//! restart. curl checks the chain, the headers only HTTPS gets (HSTS, Secure cookies), and
//! that no user can take the service's own name.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use testkit::ca::{KeyKind, TestCa};
use testkit::pebble::{Pebble, PebbleOptions};
use testkit::process::ChildGuard;

fn start(cfg: &Path, http: u16) -> ChildGuard {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_aws-sso-certd"));
    cmd.args(["serve", "--config", cfg.to_str().unwrap()])
        .env("CERTD_LOG", "debug");
    let mut child = ChildGuard::spawn(&mut cmd, "certd-https").unwrap();
    let addr = format!("127.0.0.1:{http}").parse().unwrap();
    if !child.wait_for_port(addr, Duration::from_secs(60)) {
        panic!(
            "certd did not listen: {:?} {}",
            child.try_status(),
            child.stderr()
        );
    }
    child
}

/// `curl -i` over HTTPS to `name:port` (resolved to 127.0.0.1) trusting only `ca`.
fn curl_https(name: &str, port: u16, ca: &Path, path: &str, data: Option<&str>) -> (bool, String) {
    let jar = ca.with_file_name("cookies");
    let mut cmd = Command::new("curl");
    cmd.args(["-sS", "-i", "--max-time", "10", "-b"])
        .arg(&jar)
        .arg("-c")
        .arg(&jar)
        .arg("--cacert")
        .arg(ca)
        .args(["--resolve", &format!("{name}:{port}:127.0.0.1")]);
    if let Some(d) = data {
        cmd.args(["-H", "content-type: application/json", "--data", d]);
    }
    let out = cmd
        .arg(format!("https://{name}:{port}{path}"))
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn base_config(http: u16, dns: u16, acme: &str) -> String {
    format!(
        r#"
[service]
zone = "certs.test"
data_dir = "data"
[http]
listen = "127.0.0.1:{http}"
{acme_http}
[dns]
listen = "127.0.0.1:{dns}"
nameservers = ["ns1.certs.test"]
hostmaster = "hostmaster.certs.test"
[mail]
transport = "log"
from = "certd@certs.test"
"#,
        acme_http = acme
    )
}

#[test]
fn certd_serves_https_with_a_configured_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("certd test CA");
    let files = ca
        .issue(&["portal.example.test"], KeyKind::EcdsaP256)
        .write_files(dir.path(), "web");
    let ca_file = ca.write_cert(&dir.path().join("ca.crt"));
    let (http, dns) = (testkit::ports::free_port(), testkit::ports::free_port());
    let cfg = dir.path().join("certd.toml");
    let tls = format!(
        "tls_cert = \"{}\"\ntls_key = \"{}\"",
        files.chain.display(),
        files.key.display()
    );
    let text = base_config(http, dns, &tls)
        + "[acme]\ndirectory = \"letsencrypt-staging\"\ncontact = \"ops@certs.test\"\ncaa_issuer = \"letsencrypt.org\"\n";
    std::fs::write(&cfg, text).unwrap();
    let _certd = start(&cfg, http);
    let (ok, out) = curl_https("portal.example.test", http, &ca_file, "/login", None);
    assert!(ok, "{out}");
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    let lower = out.to_ascii_lowercase();
    assert!(
        lower.contains("strict-transport-security: max-age=31536000"),
        "{out}"
    );
    // The pre-session cookie carries Secure over HTTPS.
    assert!(
        lower.contains("set-cookie: certd_pre=") && lower.contains("; secure"),
        "{out}"
    );
    // A client that does not trust the CA is refused the handshake.
    let other = TestCa::new("someone else").write_cert(&dir.path().join("other.crt"));
    let (ok, out) = curl_https("portal.example.test", http, &other, "/", None);
    assert!(!ok, "{out}");

    // A key that does not match the certificate stops certd at start, naming both files.
    let wrong = ca.issue(&["portal.example.test"], KeyKind::EcdsaP256);
    let mismatched = dir.path().join("wrong.key");
    std::fs::write(&mismatched, wrong.key_pkcs8_pem).unwrap();
    let text = std::fs::read_to_string(&cfg).unwrap().replace(
        &files.key.display().to_string(),
        &mismatched.display().to_string(),
    );
    let bad_cfg = dir.path().join("bad.toml");
    std::fs::write(&bad_cfg, text).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_aws-sso-certd"))
        .args(["serve", "--config", bad_cfg.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("http.tls_cert") && err.contains("wrong.key"),
        "{err}"
    );
}

#[test]
fn certd_gets_its_own_web_certificate_through_its_own_dns() {
    let dir = tempfile::tempdir().unwrap();
    let (http, dns) = (testkit::ports::free_port(), testkit::ports::free_port());
    // Pebble validates DNS-01 against certd's DNS server.
    let pebble = Pebble::start(
        format!("127.0.0.1:{dns}").parse().unwrap(),
        PebbleOptions::default(),
    );
    let root = dir.path().join("pebble-https-root.pem");
    std::fs::write(&root, pebble.https_root_pem()).unwrap();
    let issuer = dir.path().join("pebble-issuer.pem");
    std::fs::write(&issuer, pebble.issuer_root_pem()).unwrap();
    let cfg = dir.path().join("certd.toml");
    let text = base_config(http, dns, "acme_web_label = \"portal\"")
        + &format!(
            "[acme]\ndirectory = \"{}\"\ncontact = \"ops@certs.test\"\ncaa_issuer = \"pebble.letsencrypt.org\"\nextra_root = \"{}\"\n",
            pebble.directory_url(),
            root.display()
        );
    std::fs::write(&cfg, text).unwrap();
    let mut certd = start(&cfg, http);
    let (ok, out) = curl_https("portal.certs.test", http, &issuer, "/", None);
    assert!(ok, "{out}\ncertd: {}", certd.stderr());
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    assert!(
        out.to_ascii_lowercase()
            .contains("strict-transport-security"),
        "{out}"
    );
    let stored = std::fs::read_to_string(dir.path().join("data/web-chain.pem")).unwrap();
    let key_mode = std::fs::metadata(dir.path().join("data/web-key.pem"))
        .map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o777)
        .unwrap();
    assert_eq!(key_mode, 0o600);

    // No user can take the service's own name.
    let signup =
        r#"{"username":"mallory","password":"a long and unusual phrase","email":"m@example.org"}"#;
    let (ok, out) = curl_https(
        "portal.certs.test",
        http,
        &issuer,
        "/api/v1/accounts",
        Some(signup),
    );
    assert!(ok && out.contains("201"), "{out}");
    let login = r#"{"username":"mallory","password":"a long and unusual phrase"}"#;
    let (ok, out) = curl_https(
        "portal.certs.test",
        http,
        &issuer,
        "/api/v1/session",
        Some(login),
    );
    assert!(ok && out.starts_with("HTTP/1.1 200"), "{out}");
    let (_, out) = curl_https(
        "portal.certs.test",
        http,
        &issuer,
        "/api/v1/hostnames",
        Some(r#"{"name":"portal"}"#),
    );
    assert!(
        out.starts_with("HTTP/1.1 409") && out.contains("CD3001"),
        "{out}"
    );
    let (_, out) = curl_https(
        "portal.certs.test",
        http,
        &issuer,
        "/api/v1/hostnames",
        Some(r#"{"name":"mallorys"}"#),
    );
    assert!(out.starts_with("HTTP/1.1 201"), "{out}");

    // A restart serves the stored certificate instead of ordering another.
    let status = certd.terminate_and_wait();
    assert!(status.success(), "{status:?}");
    let certd = start(&cfg, http);
    let (ok, out) = curl_https("portal.certs.test", http, &issuer, "/", None);
    assert!(ok, "{out}");
    assert!(
        certd.stderr().contains("using the stored web certificate"),
        "{}",
        certd.stderr()
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("data/web-chain.pem")).unwrap(),
        stored
    );
}

/// The serial of the certificate served on `port` (openssl s_client), lowercase hex
/// without leading zeros.
fn served_serial(port: u16) -> String {
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "openssl s_client -connect 127.0.0.1:{port} -servername portal.certs.test </dev/null 2>/dev/null | openssl x509 -noout -serial"
        ))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout)
        .trim()
        .to_ascii_lowercase();
    text.trim_start_matches("serial=")
        .trim_start_matches('0')
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_web_certificate_is_renewed_and_swapped_without_a_restart() {
    use std::sync::Arc;
    let dir = tempfile::tempdir().unwrap();
    let zone = Arc::new(certd_dns::ZoneState::new(crate::harness::zone_config()).unwrap());
    let (udp, tcp) = loop {
        let udp = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let port = udp.local_addr().unwrap().port();
        if let Ok(tcp) = tokio::net::TcpListener::bind(("127.0.0.1", port)).await {
            break (udp, tcp);
        }
    };
    let dns = udp.local_addr().unwrap();
    tokio::spawn(certd_dns::serve(
        udp,
        tcp,
        Arc::clone(&zone),
        certd_dns::ServeOptions::default(),
        std::future::pending(),
    ));
    let pebble = tokio::task::spawn_blocking(move || Pebble::start(dns, PebbleOptions::default()))
        .await
        .unwrap();
    let mut acme = certd_acme::AcmeConfig::new(certd_acme::Directory::Url(pebble.directory_url()));
    acme.contact_email = Some("ops@certs.test".into());
    acme.extra_roots_pem = Some(pebble.https_root_pem().to_owned());
    let account = certd_acme::FileAccountStore::new(dir.path().join("acme.json"));
    let handle = Arc::new(certd::acme::AcmeHandle::new(acme, account));
    let web = certd::webcert::WebCert::start("portal", Arc::clone(&zone), handle, dir.path())
        .await
        .unwrap();
    let first = web.info();
    assert_eq!(first.dns_names, vec!["portal.certs.test".to_owned()]);
    assert!(!certd::webcert::due(&first, first.not_before));
    assert!(certd::webcert::due(
        &first,
        first.not_after - time::Duration::days(1)
    ));

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let opts = ecs::ServeOptions {
        tls: Some(web.server_config().unwrap()),
        ..ecs::ServeOptions::default()
    };
    let app = axum::Router::new().route("/", axum::routing::get(|| async { "ok" }));
    tokio::spawn(ecs::serve(listener, app, opts, std::future::pending()));
    let before = tokio::task::spawn_blocking(move || served_serial(port))
        .await
        .unwrap();
    assert_eq!(before, first.serial_hex.trim_start_matches('0'));

    let renewed = web.renew().await.unwrap();
    assert_ne!(renewed.serial_hex, first.serial_hex);
    let after = tokio::task::spawn_blocking(move || served_serial(port))
        .await
        .unwrap();
    assert_eq!(
        after,
        renewed.serial_hex.trim_start_matches('0'),
        "the running server serves the new one"
    );
    // And the stored pair is the new one (what a restart would load).
    let stored = std::fs::read_to_string(dir.path().join("web-chain.pem")).unwrap();
    let leaf = pki::parse_cert_chain(&stored).unwrap();
    assert_eq!(
        pki::cert_info(&leaf[0]).unwrap().serial_hex,
        renewed.serial_hex
    );
}
