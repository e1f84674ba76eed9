//! `aws-sso setup ecs cert`: the real thing against an in-process certd (its own DNS,
//! Pebble as the CA, SQLite), the aws-sso binary as the user runs it, and the ECS server
//! serving the issued chain.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode};
use cli::items;
use http_body_util::BodyExt;
use securestore::{ExposeSecret, FileStore, PasswordSource, SecureStore};
use serde_json::{Value, json};
use testkit::pebble::{Pebble, PebbleOptions};
use tower::ServiceExt;

use crate::harness::{Run, User};

pub(crate) const ZONE: &str = "certs.test";

/// certd on a real port, with its DNS and Pebble, on a runtime of its own.
pub(crate) struct World {
    rt: tokio::runtime::Runtime,
    app: axum::Router,
    url: String,
    zone: Arc<certd_dns::ZoneState>,
    store: Arc<dyn certd_store::Store>,
    pub(crate) _pebble: Pebble,
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
    pub(crate) fn start() -> World {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let (app, url, pebble, stop, zone, store) = rt.block_on(async {
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
                store.clone(),
                zone.clone(),
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
            (app, url, pebble, stop, zone, store)
        });
        World {
            rt,
            app,
            url,
            zone,
            store,
            _pebble: pebble,
            _dir: dir,
            _stop: stop,
        }
    }

    /// certd's DNS for the zone, also on `ip` port 53 (UDP and TCP) until the returned
    /// sender is dropped: what a resolver in a network namespace can be pointed at (glibc's
    /// resolv.conf knows no ports).
    pub(crate) fn serve_dns_on_port_53(
        &self,
        ip: std::net::IpAddr,
    ) -> tokio::sync::oneshot::Sender<()> {
        let zone = self.zone.clone();
        self.rt.block_on(async move {
            let udp = tokio::net::UdpSocket::bind((ip, 53)).await.unwrap();
            let tcp = tokio::net::TcpListener::bind((ip, 53)).await.unwrap();
            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            tokio::spawn(certd_dns::serve(
                udp,
                tcp,
                zone,
                certd_dns::ServeOptions::default(),
                async {
                    let _ = stopped.await;
                },
            ));
            stop
        })
    }

    /// The same certd also over HTTPS on a new loopback port, presenting `chain_pem` with
    /// `key_pem`; returns `https://localhost:<port>`.
    pub(crate) fn serve_https(&self, chain_pem: &str, key_pem: &str) -> String {
        let serving = pki::ServingKey::from_pem(chain_pem, key_pem).unwrap();
        let tls = ecs::server_config(&serving).unwrap();
        let app = self.app.clone();
        self.rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let port = listener.local_addr().unwrap().port();
            let opts = ecs::ServeOptions {
                tls: Some(tls),
                ..ecs::ServeOptions::default()
            };
            tokio::spawn(ecs::serve(
                listener,
                app,
                opts,
                std::future::pending::<()>(),
            ));
            format!("https://localhost:{port}")
        })
    }

    fn call(
        &self,
        path: &str,
        cookie: Option<&str>,
        body: Value,
    ) -> (StatusCode, Value, Option<String>) {
        self.request("POST", path, cookie, body)
    }

    fn request(
        &self,
        method: &str,
        path: &str,
        cookie: Option<&str>,
        body: Value,
    ) -> (StatusCode, Value, Option<String>) {
        self.rt.block_on(async {
            let mut req = Request::builder()
                .method(method)
                .uri(path)
                .header("content-type", "application/json");
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
    pub(crate) fn api_key(&self, user: &str, label: &str) -> String {
        self.account_with_key(user, label).0
    }

    /// An account with `label` registered: a one-time API key for it and the account's
    /// session cookie.
    fn account_with_key(&self, user: &str, label: &str) -> (String, String) {
        let pw = "a long and unusual phrase";
        let (s, j, _) = self.call(
            "/api/v1/accounts",
            None,
            json!({"username": user, "password": pw, "email": format!("{user}@example.org")}),
        );
        assert_eq!(s, StatusCode::CREATED, "{j}");
        // The address counts as confirmed (certd's own tests follow the mailed link).
        let store = self.store.clone();
        let user_name = user.to_owned();
        self.rt.block_on(async move {
            let account = store.get_account_by_username(&user_name).await.unwrap();
            store
                .mark_email_verified(account.id, &account.email, time::OffsetDateTime::now_utc())
                .await
                .unwrap();
        });
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
        (j["key"].as_str().unwrap().to_owned(), cookie)
    }

    /// A user with `<label>.<zone>` and this service stored (straight into the SecureStore,
    /// skipping the DNS check) and a device enrolled; returns it, the name and the
    /// account's session cookie.
    pub(crate) fn enrolled_user(&self, username: &str, label: &str) -> (User, String, String) {
        let user = User::new();
        let fqdn = format!("{label}.{ZONE}");
        set_item(&user, items::ECS_CERT_FQDN, &fqdn);
        set_item(&user, items::CERTD_SERVICE_URL, &self.url);
        let (key, cookie) = self.account_with_key(username, label);
        user.ok(&["setup", "ecs", "cert", "api-key", &key]);
        (user, fqdn, cookie)
    }
}

/// The user's SecureStore, opened the way aws-sso opens it in the test home.
fn store(user: &User) -> FileStore {
    FileStore::new(
        user.home.config_dir().join("aws-sso"),
        PasswordSource::Given(user.home.file_password().to_owned().into()),
        Some(10),
    )
    .unwrap()
}

pub(crate) fn set_item(user: &User, name: &str, value: &str) {
    store(user).set(name, &value.to_owned().into()).unwrap();
}

fn get_item(user: &User, name: &str) -> Option<String> {
    store(user)
        .get(name)
        .unwrap()
        .map(|v| v.expose_secret().to_owned())
}

/// Every item the certificate commands keep, and the stored chain as `ssl --print` shows it.
/// Compared, never printed: the keys are secrets.
#[derive(PartialEq)]
pub(crate) struct Snapshot {
    items: Vec<Option<String>>,
    printed: String,
}

pub(crate) fn snapshot(user: &User) -> Snapshot {
    let store = store(user);
    let items = [
        items::ECS_SSL_CERT,
        items::ECS_SSL_KEY,
        items::ECS_CERT_FQDN,
        items::CERTD_SERVICE_URL,
        items::CERTD_DEVICE_KEY,
        items::CERTD_DEVICE_ID,
        items::ECS_CERT_PENDING_KEY,
    ]
    .iter()
    .map(|n| store.get(n).unwrap().map(|v| v.expose_secret().to_owned()))
    .collect();
    // Without a stored certificate `--print` fails, which is also a state to compare.
    let print = user.run(&["setup", "ecs", "ssl", "--print", "--output", "json"]);
    let printed = format!("ok={} {}", print.ok, print.stdout);
    Snapshot { items, printed }
}

pub(crate) fn assert_unchanged(user: &User, before: &Snapshot, what: &str) {
    assert!(snapshot(user) == *before, "{what} changed the stored items");
}

/// A fresh P-256 key and a self-signed certificate for `fqdn` valid between the two times.
fn own_cert(
    fqdn: &str,
    not_before: time::OffsetDateTime,
    not_after: time::OffsetDateTime,
) -> (String, String) {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut params = rcgen::CertificateParams::new(vec![fqdn.to_owned()]).unwrap();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "own test ca");
    params.not_before = not_before;
    params.not_after = not_after;
    let cert = params.self_signed(&key).unwrap();
    (key.serialize_pem(), cert.pem())
}

/// Runs `aws-sso ecs server` expecting it to refuse to start (within 30 s).
fn server_refuses(user: &User) -> Run {
    let port = testkit::ports::free_port().to_string();
    let mut child = user
        .command(&["ecs", "server", "--port", &port])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            let out = child.wait_with_output().unwrap();
            panic!(
                "the ECS server started: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let r: Run = child.wait_with_output().unwrap().into();
    assert!(!r.ok, "the ECS server exited successfully: {}", r.stderr);
    r
}

fn renew_json(user: &User) -> Value {
    let r = user.ok(&["setup", "ecs", "cert", "renew", "--output", "json"]);
    serde_json::from_str(&r.stdout).unwrap()
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

#[test]
fn cert_renew_waits_for_the_window_then_renews_through_pebble() {
    let w = World::start();
    let (user, fqdn, _) = w.enrolled_user("rena", "renew");
    user.ok(&["setup", "ecs", "cert", "sign-csr"]);
    let serial = stored_serial(&user);

    // Fresh: nothing happens, and it says when it will be due.
    let v = renew_json(&user);
    assert_eq!(v["due"], false, "{v}");
    assert_eq!(v["renewed"], false, "{v}");
    let printed: Value = serde_json::from_str(
        &user
            .ok(&["setup", "ecs", "ssl", "--print", "--output", "json"])
            .stdout,
    )
    .unwrap();
    assert_eq!(v["not_after"], printed["not_after"], "{v}");
    assert!(v["renewal_start"].as_str().unwrap() < v["not_after"].as_str().unwrap());
    assert_eq!(stored_serial(&user), serial);
    let r = user.ok(&["setup", "ecs", "cert", "renew"]);
    assert!(
        r.stdout.contains("not due for renewal until"),
        "{}",
        r.stdout
    );
    assert_eq!(stored_serial(&user), serial);

    // A certificate valid for 3 days that started 2.5 days ago: its window has started.
    let now = time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap();
    let (key, chain) = own_cert(
        &fqdn,
        now - time::Duration::hours(60),
        now + time::Duration::hours(12),
    );
    let dir = tempfile::tempdir().unwrap();
    let (kf, cf) = (dir.path().join("key.pem"), dir.path().join("cert.pem"));
    std::fs::write(&kf, key).unwrap();
    std::fs::write(&cf, chain).unwrap();
    user.ok(&[
        "setup",
        "ecs",
        "ssl",
        "--certificate",
        cf.to_str().unwrap(),
        "--private-key",
        kf.to_str().unwrap(),
    ]);
    let old = stored_serial(&user);
    assert_ne!(old, serial);
    let v = renew_json(&user);
    assert_eq!(v["due"], true, "{v}");
    assert_eq!(v["renewed"], true, "{v}");
    let new = stored_serial(&user);
    assert!(new != old && new != serial, "a new certificate is stored");
    let printed: Value = serde_json::from_str(
        &user
            .ok(&["setup", "ecs", "ssl", "--print", "--output", "json"])
            .stdout,
    )
    .unwrap();
    assert_ne!(printed["issuer"], "CN=own test ca", "{printed}");
    assert_eq!(printed["dns_names"], json!([fqdn]));
    assert_eq!(v["not_after"], printed["not_after"], "{v}");
    // And the new one is not due.
    assert_eq!(renew_json(&user)["renewed"], false);
    assert_eq!(stored_serial(&user), new);

    // Expired (`ssl` and `load` refuse one, so straight into the SecureStore): renewed too.
    let ended = now - time::Duration::hours(1);
    let (key, chain) = own_cert(&fqdn, now - time::Duration::days(3), ended);
    set_item(&user, items::ECS_SSL_KEY, &key);
    set_item(&user, items::ECS_SSL_CERT, &chain);
    let r = user.ok(&["setup", "ecs", "cert", "renew", "--output", "json"]);
    assert!(
        r.stderr
            .contains(&format!("it expired on {}", wire::ecs::rfc3339_z(ended))),
        "{}",
        r.stderr
    );
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(
        (&v["due"], &v["renewed"]),
        (&json!(true), &json!(true)),
        "{v}"
    );
    let printed: Value = serde_json::from_str(
        &user
            .ok(&["setup", "ecs", "ssl", "--print", "--output", "json"])
            .stdout,
    )
    .unwrap();
    assert_ne!(printed["issuer"], "CN=own test ca", "{printed}");
    assert!(!r.stderr.contains("PRIVATE KEY") && !r.stdout.contains("PRIVATE KEY"));
}

#[test]
fn cert_refusals_by_the_service_store_nothing() {
    let w = World::start();
    let (user, fqdn, cookie) = w.enrolled_user("rafa", "mine");
    user.ok(&["setup", "ecs", "cert", "sign-csr"]);

    // A CSR for a name of another account: the service refuses it.
    w.api_key("olga", "theirs");
    set_item(&user, items::ECS_CERT_FQDN, &format!("theirs.{ZONE}"));
    let before = snapshot(&user);
    let r = user.fails(&["setup", "ecs", "cert", "sign-csr"]);
    assert!(
        r.stderr
            .contains("the certificate service refused the signing")
            && r.stderr.contains("CD8001"),
        "{}",
        r.stderr
    );
    assert_unchanged(&user, &before, "a refused CSR");
    set_item(&user, items::ECS_CERT_FQDN, &fqdn);

    // The service unreachable.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let url = format!("http://{closed}");
    set_item(&user, items::CERTD_SERVICE_URL, &url);
    let before = snapshot(&user);
    let r = user.fails(&["setup", "ecs", "cert", "sign-csr", "--force"]);
    assert!(
        r.stderr
            .contains(&format!("cannot reach the certificate service at {url}")),
        "{}",
        r.stderr
    );
    assert_unchanged(&user, &before, "an unreachable service");
    set_item(&user, items::CERTD_SERVICE_URL, &w.url);

    // A revoked device.
    let id = get_item(&user, items::CERTD_DEVICE_ID).unwrap();
    let (s, j, _) = w.request(
        "DELETE",
        &format!("/api/v1/devices/{id}"),
        Some(&cookie),
        Value::Null,
    );
    assert_eq!(s, StatusCode::NO_CONTENT, "{j}");
    let before = snapshot(&user);
    let r = user.fails(&["setup", "ecs", "cert", "sign-csr", "--force"]);
    assert!(
        r.stderr.contains("CD5002") && r.stderr.contains("unknown or revoked"),
        "{}",
        r.stderr
    );
    assert_unchanged(&user, &before, "a revoked device");
}

#[test]
fn cert_ecs_server_refuses_an_expired_or_mismatched_certificate() {
    let user = User::new();
    user.generate_token();
    let fqdn = format!("dev.{ZONE}");
    let now = time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap();

    // Expired: `load` and `ssl` refuse one, so it goes straight into the SecureStore.
    let ended = now - time::Duration::days(1);
    let (key, chain) = own_cert(&fqdn, now - time::Duration::days(4), ended);
    set_item(&user, items::ECS_SSL_KEY, &key);
    set_item(&user, items::ECS_SSL_CERT, &chain);
    let r = server_refuses(&user);
    assert!(
        r.stderr.contains(&format!(
            "certificate that expired on {}",
            wire::ecs::rfc3339_z(ended)
        )),
        "{}",
        r.stderr
    );

    // Valid, but stored with another key.
    let (_, chain) = own_cert(
        &fqdn,
        now - time::Duration::hours(1),
        now + time::Duration::days(1),
    );
    set_item(&user, items::ECS_SSL_CERT, &chain);
    let r = server_refuses(&user);
    assert!(
        r.stderr
            .contains("the certificate does not match the private key"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("PRIVATE KEY"), "{}", r.stderr);
}
