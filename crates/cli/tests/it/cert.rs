//! `aws-sso setup ecs cert`: the real thing against an in-process certd (its own DNS,
//! Pebble as the CA, SQLite), the aws-sso binary as the user runs it, and the ECS server
//! serving the issued chain.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use testkit::pebble::{Pebble, PebbleOptions};
use tower::ServiceExt;

use crate::harness::{Run, User};

const ZONE: &str = "certs.test";

/// certd on a real port, with its DNS and Pebble, on a runtime of its own.
struct World {
    rt: tokio::runtime::Runtime,
    app: axum::Router,
    url: String,
    _pebble: Pebble,
    _dir: tempfile::TempDir,
    _stop: tokio::sync::oneshot::Sender<()>,
}

fn zone_config() -> certd_dns::ZoneConfig {
    certd_dns::ZoneConfig {
        apex: ZONE.into(),
        nameservers: vec![certd_dns::NameServer {
            name: format!("ns1.{ZONE}"),
            ipv4: None,
            ipv6: None,
        }],
        soa: certd_dns::Soa {
            mname: format!("ns1.{ZONE}"),
            rname: format!("hostmaster.{ZONE}"),
            serial: 1,
            refresh: 3600,
            retry: 600,
            expire: 86400,
            minimum: 60,
        },
        caa: vec![],
        answer_aaaa: false,
        ttl: 60,
    }
}

impl World {
    fn start() -> World {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let (app, url, pebble, stop) = rt.block_on(async {
            let zone = Arc::new(certd_dns::ZoneState::new(zone_config()).unwrap());
            let (udp, tcp) = loop {
                let udp = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
                let port = udp.local_addr().unwrap().port();
                if let Ok(tcp) = tokio::net::TcpListener::bind(("127.0.0.1", port)).await {
                    break (udp, tcp);
                }
            };
            let dns = udp.local_addr().unwrap();
            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            tokio::spawn(certd_dns::serve(
                udp,
                tcp,
                zone.clone(),
                certd_dns::ServeOptions::default(),
                async {
                    let _ = stopped.await;
                },
            ));
            let pebble =
                tokio::task::spawn_blocking(move || Pebble::start(dns, PebbleOptions::default()))
                    .await
                    .unwrap();
            let mut acme =
                certd_acme::AcmeConfig::new(certd_acme::Directory::Url(pebble.directory_url()));
            acme.contact_email = Some("ops@certs.test".into());
            acme.extra_roots_pem = Some(pebble.https_root_pem().to_owned());
            let account = certd_acme::FileAccountStore::new(dir.path().join("acme.json"));
            let handle = certd::acme::AcmeHandle::new(acme, account);
            let dsn = certd_store::Dsn::parse(&format!(
                "sqlite://{}",
                dir.path().join("certd.sqlite").display()
            ))
            .unwrap();
            let store = certd_store::open(&dsn).await.unwrap();
            let mut settings = certd::Settings::new(ZONE);
            settings.secure_cookies = false;
            let state = certd::AppState::new(
                store,
                zone,
                settings,
                Arc::new(time::OffsetDateTime::now_utc),
                Some(handle),
            )
            .unwrap();
            let app = certd::router(state);
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let url = format!("http://{}", listener.local_addr().unwrap());
            let served = app.clone();
            tokio::spawn(async move {
                axum::serve(
                    listener,
                    served.into_make_service_with_connect_info::<SocketAddr>(),
                )
                .await
                .unwrap();
            });
            (app, url, pebble, stop)
        });
        World {
            rt,
            app,
            url,
            _pebble: pebble,
            _dir: dir,
            _stop: stop,
        }
    }

    fn call(
        &self,
        path: &str,
        cookie: Option<&str>,
        body: Value,
    ) -> (StatusCode, Value, Option<String>) {
        self.rt.block_on(async {
            let mut req = Request::post(path).header("content-type", "application/json");
            if let Some(c) = cookie {
                req = req.header("cookie", c);
            }
            let mut req = req.body(Body::from(body.to_string())).unwrap();
            let addr: SocketAddr = "127.0.0.1:5000".parse().unwrap();
            req.extensions_mut().insert(ConnectInfo(addr));
            let resp = self.app.clone().oneshot(req).await.unwrap();
            let status = resp.status();
            let cookie = resp
                .headers()
                .get("set-cookie")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split(';').next())
                .map(str::to_owned);
            let bytes = resp.into_body().collect().await.unwrap().to_bytes();
            (
                status,
                serde_json::from_slice(&bytes).unwrap_or(Value::Null),
                cookie,
            )
        })
    }

    /// An account with `label` registered and a one-time API key for it.
    fn api_key(&self, user: &str, label: &str) -> String {
        let pw = "a long and unusual phrase";
        let (s, j, _) = self.call(
            "/api/v1/accounts",
            None,
            json!({"username": user, "password": pw, "email": format!("{user}@example.org")}),
        );
        assert_eq!(s, StatusCode::CREATED, "{j}");
        let (s, j, cookie) = self.call(
            "/api/v1/session",
            None,
            json!({"username": user, "password": pw}),
        );
        assert_eq!(s, StatusCode::OK, "{j}");
        let cookie = cookie.unwrap();
        let (s, j, _) = self.call("/api/v1/hostnames", Some(&cookie), json!({"name": label}));
        assert_eq!(s, StatusCode::CREATED, "{j}");
        let (s, j, _) = self.call(
            "/api/v1/api-keys",
            Some(&cookie),
            json!({"hostname": label}),
        );
        assert_eq!(s, StatusCode::CREATED, "{j}");
        j["key"].as_str().unwrap().to_owned()
    }
}

/// Runs `aws-sso <args>` with a private /etc/hosts (a mount namespace of its own).
fn run_with_hosts(user: &User, hosts: &Path, args: &[&str]) -> Run {
    let mut cmd = Command::new("unshare");
    user.home.apply(&mut cmd);
    cmd.args([
        "-m",
        "sh",
        "-c",
        "mount --bind \"$0\" /etc/hosts && exec \"$@\"",
    ])
    .arg(hosts)
    .arg(crate::harness::bin())
    .args(args);
    cmd.output().unwrap().into()
}

fn stored_serial(user: &User) -> String {
    let r = user.ok(&["setup", "ecs", "ssl", "--print", "--output", "json"]);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    v["serial"].as_str().unwrap().to_owned()
}

#[test]
fn cert_enroll_sign_and_serve_through_certd_and_pebble() {
    let w = World::start();
    let user = User::new();
    let fqdn = format!("dev.{ZONE}");
    let dir = tempfile::tempdir().unwrap();
    let hosts = dir.path().join("hosts");
    std::fs::write(
        &hosts,
        format!("127.0.0.1 localhost\n127.0.0.1 {fqdn}\n10.1.2.3 evil.{ZONE}\n"),
    )
    .unwrap();

    // The name: loopback only, checked through the system resolver.
    let r = run_with_hosts(
        &user,
        &hosts,
        &["setup", "ecs", "cert", "fqdn", &fqdn, "--service", &w.url],
    );
    assert!(r.ok, "{}", r.stderr);
    let evil = format!("evil.{ZONE}");
    let r = run_with_hosts(&user, &hosts, &["setup", "ecs", "cert", "fqdn", &evil]);
    assert!(!r.ok);
    assert!(
        r.stderr.contains("10.1.2.3") && r.stderr.contains("poisoned"),
        "{}",
        r.stderr
    );
    let r = user.fails(&["setup", "ecs", "cert", "fqdn", "not_a name.test"]);
    assert!(r.stderr.contains("not a valid host name"), "{}", r.stderr);

    // Enrollment; the consumed key is refused with the service's message.
    let key = w.api_key("lena", "dev");
    let r = user.ok(&["setup", "ecs", "cert", "api-key", &key]);
    assert!(r.stderr.contains(&fqdn), "{}", r.stderr);
    assert!(
        !r.stderr.contains(&key) && !r.stdout.contains(&key),
        "the key is never printed"
    );
    let r = user.fails(&["setup", "ecs", "cert", "api-key", &key]);
    assert!(
        r.stderr
            .contains("the certificate service refused the enrollment"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains(&key), "{}", r.stderr);

    // Signing: the refused enrollment stored nothing, so the first device still signs, and
    // the refused name was not stored either.
    let r = user.ok(&["setup", "ecs", "cert", "sign-csr"]);
    assert!(
        r.stderr
            .contains("Stored the certificate for dev.certs.test"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("PRIVATE KEY") && !r.stdout.contains("PRIVATE KEY"));
    let serial = stored_serial(&user);
    let r = user.ok(&["setup", "ecs", "ssl", "--print", "--output", "json"]);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["dns_names"], json!([fqdn]));

    // Not due: nothing happens without --force.
    let r = user.ok(&["setup", "ecs", "cert", "sign-csr"]);
    assert!(r.stderr.contains("not due for renewal"), "{}", r.stderr);
    assert_eq!(stored_serial(&user), serial);
    let r = user.ok(&["setup", "ecs", "cert", "sign-csr", "--force"]);
    assert!(r.stderr.contains("Stored the certificate"), "{}", r.stderr);
    let serial = stored_serial(&user);

    // The ECS server serves the new chain.
    user.generate_token();
    let server = user.server(&[]);
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "openssl s_client -connect {} -servername {fqdn} </dev/null 2>/dev/null | openssl x509 -noout -serial",
            server.addr()
        ))
        .output()
        .unwrap();
    let served = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let norm = |s: &str| {
        s.to_ascii_lowercase()
            .replace(':', "")
            .trim_start_matches('0')
            .to_owned()
    };
    assert_eq!(
        norm(served.trim_start_matches("serial=")),
        norm(&serial),
        "served {served}, stored {serial}"
    );
    server.stop();

    // Status, with the DNS check through the private hosts file.
    let r = run_with_hosts(
        &user,
        &hosts,
        &["setup", "ecs", "cert", "status", "--output", "json"],
    );
    assert!(r.ok, "{}", r.stderr);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["fqdn"], fqdn.as_str());
    assert_eq!(v["dns"]["ok"], true, "{v}");
    assert!(v["device_id"].as_i64().is_some(), "{v}");
    assert_eq!(v["certificate"]["serial"], serial.as_str());
    assert_eq!(v["certificate"]["due"], false);
    assert_eq!(v["certificate"]["problem"], Value::Null);
    assert_eq!(v["pending_key"], false);

    // Own CA: export-csr keeps the key, only the CSR leaves; load checks name and key.
    let d = dir.path();
    let csr = d.join("csr.pem");
    user.ok(&[
        "setup",
        "ecs",
        "cert",
        "export-csr",
        "--file",
        csr.to_str().unwrap(),
    ]);
    let csr_text = std::fs::read_to_string(&csr).unwrap();
    assert!(csr_text.contains("CERTIFICATE REQUEST") && !csr_text.contains("PRIVATE KEY"));
    openssl(
        d,
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem -subj /CN=own-ca -days 2",
    );
    let sign = |name: &str, csr: &str, out: &str| {
        std::fs::write(d.join("ext.cnf"), format!("subjectAltName=DNS:{name}\n")).unwrap();
        openssl(
            d,
            &format!(
                "openssl x509 -req -in {csr} -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 -extfile ext.cnf -out leaf.pem && cat leaf.pem ca.pem > {out}"
            ),
        );
    };
    sign(&format!("other.{ZONE}"), "csr.pem", "other.pem");
    let r = user.fails(&[
        "setup",
        "ecs",
        "cert",
        "load",
        d.join("other.pem").to_str().unwrap(),
    ]);
    assert!(
        r.stderr.contains("nothing was changed") && r.stderr.contains("other.certs.test"),
        "{}",
        r.stderr
    );
    assert_eq!(stored_serial(&user), serial);
    openssl(
        d,
        &format!(
            "openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout stray.key -out stray.csr -subj /CN={fqdn}"
        ),
    );
    sign(&fqdn, "stray.csr", "stray.pem");
    let r = user.fails(&[
        "setup",
        "ecs",
        "cert",
        "load",
        d.join("stray.pem").to_str().unwrap(),
    ]);
    assert!(r.stderr.contains("does not match the key"), "{}", r.stderr);
    assert_eq!(stored_serial(&user), serial);
    sign(&fqdn, "csr.pem", "own.pem");
    let r = user.ok(&[
        "setup",
        "ecs",
        "cert",
        "load",
        d.join("own.pem").to_str().unwrap(),
    ]);
    assert!(r.stderr.contains("own-ca"), "{}", r.stderr);
    assert_ne!(stored_serial(&user), serial);
    let r = user.ok(&["setup", "ecs", "ssl", "--print", "--output", "json"]);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["issuer"], "CN=own-ca", "{v}");
}

fn openssl(dir: &Path, script: &str) {
    let out = Command::new("sh")
        .arg("-c")
        .arg(script)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
