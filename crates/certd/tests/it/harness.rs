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
            .mark_email_verified(account.id, at)
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
