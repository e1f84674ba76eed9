//! An in-process certd over a temporary SQLite database, a clock the test moves, and
//! requests with a cookie jar of one.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;
use time::OffsetDateTime;
use tower::ServiceExt;

pub const ZONE: &str = "certs.test";

pub struct Certd {
    pub app: axum::Router,
    pub state: certd::AppState,
    pub zone: Arc<certd_dns::ZoneState>,
    pub store: Arc<dyn certd_store::Store>,
    pub db_path: std::path::PathBuf,
    clock: Arc<AtomicI64>,
    _dir: tempfile::TempDir,
}

pub struct Reply {
    pub status: StatusCode,
    pub json: Value,
    pub cookie: Option<String>,
    pub headers: axum::http::HeaderMap,
}

pub fn zone_config() -> certd_dns::ZoneConfig {
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

impl Certd {
    pub async fn new() -> Self {
        let zone = Arc::new(certd_dns::ZoneState::new(zone_config()).unwrap());
        Certd::with(zone, None).await
    }

    /// A certd over `zone`, ordering certificates from `acme` when given.
    pub async fn with(
        zone: Arc<certd_dns::ZoneState>,
        acme: Option<certd::acme::AcmeHandle>,
    ) -> Self {
        Certd::with_settings(zone, acme, |_| {}).await
    }

    /// A certd with `adjust` applied to its settings.
    pub async fn with_settings(
        zone: Arc<certd_dns::ZoneState>,
        acme: Option<certd::acme::AcmeHandle>,
        adjust: impl FnOnce(&mut certd::Settings),
    ) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let db_path = dir.path().join("certd.sqlite");
        let dsn = certd_store::Dsn::parse(&format!("sqlite://{}", db_path.display())).unwrap();
        let store = certd_store::open(&dsn).await.unwrap();
        let clock = Arc::new(AtomicI64::new(1_800_000_000));
        let c = Arc::clone(&clock);
        let mut settings = certd::Settings::new(ZONE);
        settings.secure_cookies = false;
        adjust(&mut settings);
        let state = certd::AppState::new(
            Arc::clone(&store),
            Arc::clone(&zone),
            settings,
            Arc::new(move || {
                OffsetDateTime::from_unix_timestamp(c.load(Ordering::SeqCst)).unwrap()
            }),
            acme,
        )
        .unwrap();
        Certd {
            app: certd::router(state.clone()),
            state,
            zone,
            store,
            db_path,
            clock,
            _dir: dir,
        }
    }

    pub fn now(&self) -> i64 {
        self.clock.load(Ordering::SeqCst)
    }

    pub fn advance(&self, secs: i64) {
        self.clock.fetch_add(secs, Ordering::SeqCst);
    }

    pub async fn send(&self, req: Request<Body>) -> Reply {
        self.send_from(req, "192.0.2.10:5000").await
    }

    pub async fn send_from(&self, mut req: Request<Body>, addr: &str) -> Reply {
        let addr: SocketAddr = addr.parse().unwrap();
        req.extensions_mut().insert(ConnectInfo(addr));
        let resp = self.app.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let cookie = headers
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(str::to_owned);
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Reply {
            status,
            json,
            cookie,
            headers,
        }
    }

    pub async fn call(
        &self,
        method: &str,
        path: &str,
        cookie: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(c) = cookie {
            req = req.header("cookie", c);
        }
        let body = match body {
            Some(v) => Body::from(v.to_string()),
            None => Body::empty(),
        };
        self.send(
            req.header("content-type", "application/json")
                .body(body)
                .unwrap(),
        )
        .await
    }

    /// Signs up and logs in `user`; returns the session cookie.
    pub async fn user(&self, user: &str) -> String {
        let body = serde_json::json!({"username": user, "password": "a long and unusual phrase", "email": format!("{user}@example.org")});
        let r = self
            .call("POST", "/api/v1/accounts", None, Some(body))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
        // The address counts as confirmed (the mailed link is the web tests' business).
        let account = self.store.get_account_by_username(user).await.unwrap();
        let at = OffsetDateTime::from_unix_timestamp(self.now()).unwrap();
        self.store
            .mark_email_verified(account.id, &account.email, at)
            .await
            .unwrap();
        let body = serde_json::json!({"username": user, "password": "a long and unusual phrase"});
        let r = self.call("POST", "/api/v1/session", None, Some(body)).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.json);
        r.cookie.unwrap()
    }

    /// Registers `label` for the session and creates an API key for it; returns the key.
    pub async fn hostname_and_key(&self, cookie: &str, label: &str) -> String {
        let r = self
            .call(
                "POST",
                "/api/v1/hostnames",
                Some(cookie),
                Some(serde_json::json!({"name": label})),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
        let r = self
            .call(
                "POST",
                "/api/v1/api-keys",
                Some(cookie),
                Some(serde_json::json!({"hostname": label})),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
        r.json["key"].as_str().unwrap().to_owned()
    }
}

pub fn code(r: &Reply) -> &str {
    r.json["error"]["code"].as_str().unwrap_or("")
}

/// The string `key` of every object in the JSON array `list` (audit actions, serials...).
pub fn each<'a>(list: &'a Value, key: &str) -> Vec<&'a str> {
    list.as_array()
        .unwrap_or_else(|| panic!("not an array: {list}"))
        .iter()
        .map(|e| e[key].as_str().unwrap())
        .collect()
}

// ---- aws-sso-certd as a process, and a small HTTP/1.1 client for it ----------------------

/// `aws-sso-certd serve` as a process over SQLite in a temporary data directory, with its
/// DNS on a port of its own and, when asked, Pebble as its ACME CA (validating DNS-01
/// against that DNS). Mails go to its standard error (the `log` transport).
pub struct Proc {
    pub child: testkit::process::ChildGuard,
    pub http: u16,
    pub dns: u16,
    _pebble: Option<testkit::pebble::Pebble>,
    pub dir: tempfile::TempDir,
}

impl Proc {
    /// Starts certd (and Pebble first, when `pebble`) and waits until it listens.
    pub fn start(pebble: bool) -> Proc {
        let dir = tempfile::tempdir().unwrap();
        let (http, dns) = (testkit::ports::free_port(), testkit::ports::free_port());
        let pebble = pebble.then(|| {
            testkit::pebble::Pebble::start(
                ([127, 0, 0, 1], dns).into(),
                testkit::pebble::PebbleOptions::default(),
            )
        });
        let acme = match &pebble {
            Some(p) => {
                std::fs::write(dir.path().join("pebble-root.pem"), p.https_root_pem()).unwrap();
                format!(
                    "directory = \"{}\"\nextra_root = \"pebble-root.pem\"\n",
                    p.directory_url()
                )
            }
            None => "directory = \"letsencrypt-staging\"\n".to_owned(),
        };
        let cfg = dir.path().join("certd.toml");
        std::fs::write(
            &cfg,
            format!(
                "[service]\nzone = \"{ZONE}\"\ndata_dir = \"data\"\n\
                 [http]\nlisten = \"127.0.0.1:{http}\"\nsecure_cookies = false\n\
                 public_url = \"http://127.0.0.1:{http}\"\n\
                 [dns]\nlisten = \"127.0.0.1:{dns}\"\nnameservers = [\"ns1.{ZONE}\"]\n\
                 hostmaster = \"hostmaster.{ZONE}\"\n\
                 [acme]\n{acme}contact = \"ops@{ZONE}\"\ncaa_issuer = \"letsencrypt.org\"\n"
            ),
        )
        .unwrap();
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_aws-sso-certd"));
        cmd.args(["serve", "--config", cfg.to_str().unwrap()])
            .env("CERTD_LOG", "info");
        let mut child = testkit::process::ChildGuard::spawn(&mut cmd, "certd").unwrap();
        let addr = format!("127.0.0.1:{http}").parse().unwrap();
        if !child.wait_for_port(addr, std::time::Duration::from_secs(20)) {
            panic!(
                "certd did not listen: {:?} {}",
                child.try_status(),
                child.stderr()
            );
        }
        Proc {
            child,
            http,
            dns,
            _pebble: pebble,
            dir,
        }
    }

    /// The HTTP address.
    pub fn addr(&self) -> SocketAddr {
        ([127, 0, 0, 1], self.http).into()
    }

    /// The live database file.
    pub fn db(&self) -> std::path::PathBuf {
        self.dir.path().join("data/certd.sqlite")
    }

    /// Every token mailed so far in links to `page` (`verify`, `reset`), oldest first.
    pub fn mailed_tokens(&self, page: &str) -> Vec<String> {
        let needle = format!("/{page}?token=");
        self.child
            .stderr()
            .split(&needle)
            .skip(1)
            .map(|rest| {
                rest.chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
                    .collect()
            })
            .collect()
    }

    /// The `n`th token (from 1) mailed in a link to `page`, waiting up to 10 s for it.
    pub fn mailed_token(&self, page: &str, n: usize) -> String {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            if let Some(t) = self.mailed_tokens(page).get(n - 1) {
                return t.clone();
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no mail #{n} with a /{page} link: {}",
                self.child.stderr()
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    /// Rows of `query` run by the `sqlite3` tool on `db` (read-only), as JSON objects.
    pub fn sql(db: &std::path::Path, query: &str) -> Vec<Value> {
        let out = std::process::Command::new("sqlite3")
            .args(["-readonly", "-json"])
            .arg(db)
            .arg(query)
            .output()
            .expect("sqlite3 (apt package sqlite3)");
        assert!(
            out.status.success(),
            "{query}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout);
        if text.trim().is_empty() {
            return Vec::new();
        }
        serde_json::from_str(&text).unwrap()
    }

    /// `SELECT count(*)` of `table` in the live database.
    pub fn count(&self, table: &str) -> i64 {
        Self::sql(&self.db(), &format!("SELECT count(*) AS n FROM {table}"))[0]["n"]
            .as_i64()
            .unwrap()
    }

    /// What certd's DNS answers for `name` and `rtype`, one record per element (dig
    /// `+short`; an empty answer is an empty list).
    pub fn dig(&self, name: &str, rtype: &str) -> Vec<String> {
        let out = std::process::Command::new("dig")
            .args(["@127.0.0.1", "-p", &self.dns.to_string()])
            .arg(name)
            .args([rtype, "+short", "+time=2", "+tries=2"])
            .output()
            .expect("dig (apt package bind9-dnsutils) must be installed");
        assert!(out.status.success(), "dig {name} {rtype}: {out:?}");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| l.trim().to_owned())
            .filter(|l| !l.is_empty())
            .collect()
    }

    /// Asserts that no name in `names` (relative to the zone, or absolute with a dot at
    /// the end) answers anything but 127.0.0.1, for every address-bearing and delegating
    /// type (one `dig` run for all of them).
    pub fn assert_loopback_only(&self, names: &[&str]) {
        let mut cmd = std::process::Command::new("dig");
        cmd.args(["@127.0.0.1", "-p", &self.dns.to_string()])
            .args(["+short", "+time=2", "+tries=2"]);
        for name in names {
            let fqdn = if name.ends_with('.') {
                (*name).to_owned()
            } else {
                format!("{name}.{ZONE}.")
            };
            for rtype in [
                "A", "AAAA", "CNAME", "DNAME", "NS", "MX", "SRV", "PTR", "ANY",
            ] {
                cmd.arg(&fqdn).arg(rtype);
            }
        }
        let out = cmd
            .output()
            .expect("dig (apt package bind9-dnsutils) must be installed");
        assert!(out.status.success(), "dig: {out:?}");
        for answer in String::from_utf8_lossy(&out.stdout).lines() {
            assert_eq!(
                answer.trim(),
                "127.0.0.1",
                "an answer that is not loopback among {names:?}"
            );
        }
    }
}

/// One HTTP/1.1 answer.
#[derive(Debug)]
pub struct HttpReply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpReply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    /// The `CDxxxx` code of an API error.
    pub fn code(&self) -> String {
        self.json()["error"]["code"]
            .as_str()
            .unwrap_or("")
            .to_owned()
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The value a `Set-Cookie` header gives the cookie `name`.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("set-cookie"))
            .filter_map(|(_, v)| v.split(';').next())
            .filter_map(|c| c.trim().strip_prefix(name)?.strip_prefix('='))
            .map(str::to_owned)
            .next_back()
    }

    /// The hidden `csrf` field of a page.
    pub fn csrf(&self) -> String {
        let page = self.text();
        let at = page.find("name=\"csrf\" value=\"").expect("a csrf field") + 19;
        page[at..].split('"').next().unwrap().to_owned()
    }
}

/// The bytes of an HTTP/1.1 request (keep-alive).
pub fn http_request(method: &str, path: &str, headers: &[(&str, String)], body: &[u8]) -> Vec<u8> {
    let mut head = format!("{method} {path} HTTP/1.1\r\nhost: certd.test\r\n");
    for (n, v) in headers {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    head.push_str(&format!("content-length: {}\r\n\r\n", body.len()));
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

/// A keep-alive HTTP/1.1 connection to certd from a chosen loopback source address (so a
/// test can be several clients), reopened when the server closed it.
pub struct HttpConn {
    target: SocketAddr,
    from: std::net::IpAddr,
    stream: Option<tokio::io::BufReader<tokio::net::TcpStream>>,
}

impl HttpConn {
    pub fn new(target: SocketAddr, from: std::net::IpAddr) -> Self {
        HttpConn {
            target,
            from,
            stream: None,
        }
    }

    async fn open(&mut self) -> std::io::Result<()> {
        let socket = tokio::net::TcpSocket::new_v4()?;
        socket.bind(SocketAddr::new(self.from, 0))?;
        let stream = socket.connect(self.target).await?;
        stream.set_nodelay(true)?;
        self.stream = Some(tokio::io::BufReader::new(stream));
        Ok(())
    }

    /// Sends `bytes` (one whole request) and reads the answer; on a connection the server
    /// had closed, reopens it once and sends again.
    pub async fn send(&mut self, bytes: &[u8]) -> HttpReply {
        let fresh = self.stream.is_none();
        match self.try_send(bytes).await {
            Ok(r) => r,
            Err(e) if !fresh => {
                let _ = e;
                self.stream = None;
                self.try_send(bytes)
                    .await
                    .unwrap_or_else(|e| panic!("HTTP to {} failed: {e}", self.target))
            }
            Err(e) => panic!("HTTP to {} failed: {e}", self.target),
        }
    }

    /// A request with these headers and body.
    pub async fn call(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, String)],
        body: &[u8],
    ) -> HttpReply {
        self.send(&http_request(method, path, headers, body)).await
    }

    /// A JSON request, with the session cookie when given.
    pub async fn json(
        &mut self,
        method: &str,
        path: &str,
        session: Option<&str>,
        body: Option<Value>,
    ) -> HttpReply {
        let mut headers = vec![("content-type", "application/json".to_owned())];
        if let Some(s) = session {
            headers.push(("cookie", format!("{}={s}", certd::auth::SESSION_COOKIE)));
        }
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        self.call(method, path, &headers, body.as_bytes()).await
    }

    async fn try_send(&mut self, bytes: &[u8]) -> std::io::Result<HttpReply> {
        use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
        if self.stream.is_none() {
            self.open().await?;
        }
        let Some(stream) = self.stream.as_mut() else {
            return Err(std::io::ErrorKind::NotConnected.into());
        };
        stream.get_mut().write_all(bytes).await?;
        let mut status_line = String::new();
        if stream.read_line(&mut status_line).await? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        let status: u16 = status_line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| std::io::Error::other(format!("bad status line {status_line:?}")))?;
        let mut headers = Vec::new();
        loop {
            let mut line = String::new();
            if stream.read_line(&mut line).await? == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((n, v)) = line.split_once(':') {
                headers.push((n.trim().to_ascii_lowercase(), v.trim().to_owned()));
            }
        }
        let get = |n: &str| {
            headers
                .iter()
                .find(|(k, _)| k == n)
                .map(|(_, v): &(String, String)| v.to_ascii_lowercase())
        };
        let mut body = Vec::new();
        if get("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
            loop {
                let mut size = String::new();
                stream.read_line(&mut size).await?;
                let size = usize::from_str_radix(size.trim().split(';').next().unwrap_or(""), 16)
                    .map_err(std::io::Error::other)?;
                let mut chunk = vec![0u8; size + 2];
                stream.read_exact(&mut chunk).await?;
                if size == 0 {
                    break;
                }
                body.extend_from_slice(&chunk[..size]);
            }
        } else if let Some(len) = get("content-length").and_then(|v| v.parse::<usize>().ok()) {
            body.resize(len, 0);
            stream.read_exact(&mut body).await?;
        }
        if get("connection").is_some_and(|v| v.contains("close")) {
            self.stream = None;
        }
        Ok(HttpReply {
            status,
            headers,
            body,
        })
    }
}

/// The headers of a request signed by `device` as device `id`.
pub fn signed_headers(
    device: &pki::request_signing::DeviceKey,
    id: i64,
    method: &str,
    path: &str,
    body: &[u8],
    nonce: &str,
) -> Vec<(&'static str, String)> {
    let params = wire::signature::SignatureParams {
        created: OffsetDateTime::now_utc().unix_timestamp(),
        keyid: id.to_string(),
        nonce: nonce.into(),
    };
    let h = device.sign_request(method, path, body, &params);
    vec![
        ("content-type", "application/json".to_owned()),
        ("content-digest", h.content_digest),
        ("signature-input", h.signature_input),
        ("signature", h.signature),
    ]
}

/// An account made through the API by [`Proc::onboard`].
pub struct Onboarded {
    pub session: String,
    /// The API key, consumed by the enrollment.
    pub key: String,
    pub device: pki::request_signing::DeviceKey,
    pub id: i64,
}

impl Proc {
    /// The token of the verification link mailed to `user` (found by the mail's greeting).
    pub fn verification_for(&self, user: &str) -> String {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let log = self.child.stderr();
            if let Some(at) = log.find(&format!("Hello {user},"))
                && let Some(t) = log[at..].split("/verify?token=").nth(1)
            {
                return t
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
                    .collect();
            }
            assert!(std::time::Instant::now() < deadline, "no mail for {user}");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    /// Signs `user` up, verifies the address, logs in, registers `label`, makes an API
    /// key and enrolls a new device with it, all over `conn`; each request's latency is
    /// pushed to `latencies`.
    pub async fn onboard(
        &self,
        conn: &mut HttpConn,
        user: &str,
        label: &str,
        latencies: &mut Vec<(&'static str, std::time::Duration)>,
    ) -> Onboarded {
        use serde_json::json;
        const PASSWORD: &str = "a long and unusual phrase";
        let mut step = async |what: &'static str,
                              conn: &mut HttpConn,
                              path: &str,
                              session: Option<&str>,
                              body: Value,
                              want: u16|
               -> HttpReply {
            let t = std::time::Instant::now();
            let r = conn.json("POST", path, session, Some(body)).await;
            latencies.push((what, t.elapsed()));
            assert_eq!(r.status, want, "{user}: {what}: {}", r.text());
            r
        };
        let email = format!("{user}@example.org");
        step(
            "sign up",
            conn,
            "/api/v1/accounts",
            None,
            json!({"username": user, "password": PASSWORD, "email": email}),
            201,
        )
        .await;
        let token = self.verification_for(user);
        let r = step(
            "log in",
            conn,
            "/api/v1/session",
            None,
            json!({"username": user, "password": PASSWORD}),
            200,
        )
        .await;
        let session = r.cookie("certd_session").unwrap();
        step(
            "verify email",
            conn,
            "/api/v1/email/verify",
            None,
            json!({"token": token}),
            200,
        )
        .await;
        step(
            "register hostname",
            conn,
            "/api/v1/hostnames",
            Some(&session),
            json!({"name": label}),
            201,
        )
        .await;
        let r = step(
            "create API key",
            conn,
            "/api/v1/api-keys",
            Some(&session),
            json!({"hostname": label}),
            201,
        )
        .await;
        let key = r.json()["key"].as_str().unwrap().to_owned();
        let device = pki::request_signing::DeviceKey::generate().unwrap();
        let pk = {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD.encode(device.public_key())
        };
        let r = step(
            "enroll",
            conn,
            "/api/v1/enroll",
            None,
            json!({"api_key": key, "public_key": pk}),
            201,
        )
        .await;
        let id = r.json()["device_id"].as_i64().unwrap();
        Onboarded {
            session,
            key,
            device,
            id,
        }
    }
}
