//! Accounts, sessions, hostnames and API keys through the JSON API: what is accepted,
//! what is refused with which code, what DNS answers, and what the database keeps.

use axum::http::StatusCode;
use serde_json::json;

use crate::harness::{Certd, code, each};

#[tokio::test]
async fn sign_up_log_in_register_a_hostname_and_create_a_key() {
    let certd = Certd::new().await;
    let cookie = certd.user("alice").await;
    assert!(cookie.starts_with("certd_session=ses_"));

    let r = certd
        .call(
            "POST",
            "/api/v1/hostnames",
            Some(&cookie),
            Some(json!({"name": "Laptop"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(r.json["fqdn"], "laptop.certs.test");
    assert_eq!(
        r.json["setup"],
        "aws-sso setup ecs cert fqdn laptop.certs.test"
    );
    assert!(
        certd.zone.is_registered("laptop"),
        "the name resolves as soon as it is registered"
    );

    let r = certd
        .call(
            "POST",
            "/api/v1/api-keys",
            Some(&cookie),
            Some(json!({"hostname": "laptop"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let key = r.json["key"].as_str().unwrap().to_owned();
    assert!(key.starts_with("ask_"));
    assert_eq!(
        r.json["setup"],
        format!("aws-sso setup ecs cert api-key {key}")
    );

    let r = certd
        .call("GET", "/api/v1/api-keys", Some(&cookie), None)
        .await;
    assert_eq!(r.json[0]["prefix"], &key[..12]);
    assert!(
        !r.json.to_string().contains(&key),
        "a key is shown once, never listed"
    );

    // The database holds hashes only: no key, session token or password in the file.
    let db = std::fs::read(&certd.db_path).unwrap();
    let db = String::from_utf8_lossy(&db);
    for secret in [
        &key[4..],
        &cookie["certd_session=ses_".len()..],
        "a long and unusual phrase",
    ] {
        assert!(!db.contains(secret), "a secret is stored in clear");
    }

    let r = certd
        .call("GET", "/api/v1/audit", Some(&cookie), None)
        .await;
    let actions = each(&r.json, "action");
    for a in [
        "account.create",
        "session.create",
        "hostname.create",
        "api_key.create",
    ] {
        assert!(actions.contains(&a), "{a} in {actions:?}");
    }
    assert_eq!(r.json[0]["client"], "192.0.2.10");
}

#[tokio::test]
async fn bad_sign_ups_are_refused_with_specific_errors_and_nothing_stored() {
    let certd = Certd::new().await;
    let cases = [
        (
            json!({"username": "ab", "password": "a long and unusual phrase", "email": "a@b.org"}),
            "username must be",
        ),
        (
            json!({"username": "bob", "password": "short", "email": "a@b.org"}),
            "12 to 1024",
        ),
        (
            json!({"username": "bob", "password": "password1234", "email": "a@b.org"}),
            "too common",
        ),
        (
            json!({"username": "bob", "password": "a long and unusual phrase", "email": "nope"}),
            "email address",
        ),
        (
            json!({"username": "bob", "password": "a long and unusual phrase", "email": "a@b.org", "admin": true}),
            "unknown field `admin`",
        ),
        (
            json!({"username": "<script>", "password": "a long and unusual phrase", "email": "a@b.org"}),
            "username must be",
        ),
    ];
    for (body, message) in cases {
        let r = certd
            .call("POST", "/api/v1/accounts", None, Some(body))
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert!(
            r.json["error"]["message"]
                .as_str()
                .unwrap()
                .contains(message),
            "{}",
            r.json
        );
    }
    assert!(certd.store.get_account_by_username("bob").await.is_err());
    certd.user("bob").await;
    let r = certd
        .call(
            "POST",
            "/api/v1/accounts",
            None,
            Some(json!({"username": "BOB", "password": "another long phrase", "email": "b@b.org"})),
        )
        .await;
    assert_eq!(
        (r.status, code(&r)),
        (StatusCode::CONFLICT, "CD1003"),
        "usernames are unique case-insensitively"
    );
}

#[tokio::test]
async fn login_failures_look_the_same_and_are_limited() {
    let certd = Certd::new().await;
    certd.user("carol").await;
    let wrong = certd
        .call(
            "POST",
            "/api/v1/session",
            None,
            Some(json!({"username": "carol", "password": "not her password"})),
        )
        .await;
    let unknown = certd
        .call(
            "POST",
            "/api/v1/session",
            None,
            Some(json!({"username": "nobody", "password": "not her password"})),
        )
        .await;
    assert_eq!(
        (wrong.status, &wrong.json),
        (unknown.status, &unknown.json),
        "no username oracle"
    );
    assert_eq!(code(&wrong), "CD2001");
    let mut last = wrong;
    for _ in 0..10 {
        last = certd
            .call(
                "POST",
                "/api/v1/session",
                None,
                Some(json!({"username": "carol", "password": "guess guess guess"})),
            )
            .await;
    }
    assert_eq!(
        (last.status, code(&last)),
        (StatusCode::TOO_MANY_REQUESTS, "CD7001")
    );
    assert!(last.headers.contains_key("retry-after"));
    // Even the right password waits out the window, then works.
    let r = certd
        .call(
            "POST",
            "/api/v1/session",
            None,
            Some(json!({"username": "carol", "password": "a long and unusual phrase"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    certd.advance(16 * 60);
    let r = certd
        .call(
            "POST",
            "/api/v1/session",
            None,
            Some(json!({"username": "carol", "password": "a long and unusual phrase"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test]
async fn sessions_expire_and_log_out() {
    let certd = Certd::new().await;
    let cookie = certd.user("dave").await;
    assert_eq!(
        certd
            .call("GET", "/api/v1/hostnames", Some(&cookie), None)
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        certd
            .call("GET", "/api/v1/hostnames", None, None)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        certd
            .call("DELETE", "/api/v1/session", Some(&cookie), None)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        certd
            .call("GET", "/api/v1/hostnames", Some(&cookie), None)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    let cookie = certd.user_login_again("dave").await;
    certd.advance(13 * 3600);
    assert_eq!(
        certd
            .call("GET", "/api/v1/hostnames", Some(&cookie), None)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
}

impl Certd {
    async fn user_login_again(&self, user: &str) -> String {
        let body = json!({"username": user, "password": "a long and unusual phrase"});
        self.call("POST", "/api/v1/session", None, Some(body))
            .await
            .cookie
            .unwrap()
    }
}

#[tokio::test]
async fn hostnames_are_unique_reserved_limited_and_held_after_deletion() {
    let certd = Certd::new().await;
    let a = certd.user("erin").await;
    let b = certd.user("frank").await;
    let post = |c: &str, name: &str| {
        let c = c.to_owned();
        let name = name.to_owned();
        let certd = &certd;
        async move {
            certd
                .call(
                    "POST",
                    "/api/v1/hostnames",
                    Some(&c),
                    Some(json!({"name": name})),
                )
                .await
        }
    };
    assert_eq!(post(&a, "dev").await.status, StatusCode::CREATED);
    let r = post(&b, "DEV").await;
    assert_eq!((r.status, code(&r)), (StatusCode::CONFLICT, "CD3001"));
    for bad in [
        "www",
        "ns1",
        "_acme-challenge",
        "a.b",
        "-x",
        "127.0.0.1",
        "x y",
    ] {
        let r = post(&b, bad).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}: {}", r.json);
        assert!(!certd.zone.is_registered(bad));
    }
    for n in ["h1", "h2", "h3", "h4"] {
        assert_eq!(post(&a, n).await.status, StatusCode::CREATED);
    }
    let r = post(&a, "h5").await;
    assert_eq!((r.status, code(&r)), (StatusCode::FORBIDDEN, "CD3002"));
    // Someone else's name cannot be deleted; one's own can, and is then held back.
    assert_eq!(
        certd
            .call("DELETE", "/api/v1/hostnames/dev", Some(&b), None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert!(certd.zone.is_registered("dev"));
    assert_eq!(
        certd
            .call("DELETE", "/api/v1/hostnames/dev", Some(&a), None)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert!(!certd.zone.is_registered("dev"), "gone from DNS");
    let r = post(&b, "dev").await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(
        r.json["error"]["message"]
            .as_str()
            .unwrap()
            .contains("held back"),
        "{}",
        r.json
    );
    certd.advance(91 * 86400);
    let b = certd.user_login_again("frank").await;
    assert_eq!(post(&b, "dev").await.status, StatusCode::CREATED);
}

#[tokio::test]
async fn api_keys_only_for_ones_own_hostnames() {
    let certd = Certd::new().await;
    let a = certd.user("gina").await;
    let b = certd.user("hank").await;
    certd.hostname_and_key(&a, "gina-box").await;
    let r = certd
        .call(
            "POST",
            "/api/v1/api-keys",
            Some(&b),
            Some(json!({"hostname": "gina-box"})),
        )
        .await;
    assert_eq!((r.status, code(&r)), (StatusCode::FORBIDDEN, "CD3003"));
    let r = certd.call("GET", "/api/v1/api-keys", Some(&b), None).await;
    assert_eq!(r.json, json!([]));
    let r = certd
        .call(
            "POST",
            "/api/v1/api-keys",
            None,
            Some(json!({"hostname": "gina-box"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn oversized_and_malformed_bodies_are_refused() {
    let certd = Certd::new().await;
    let big = json!({"username": "x".repeat(70_000), "password": "p", "email": "e"});
    let r = certd
        .call("POST", "/api/v1/accounts", None, Some(big))
        .await;
    assert_eq!(
        (r.status, code(&r)),
        (StatusCode::PAYLOAD_TOO_LARGE, "CD7002")
    );
    let req = axum::http::Request::post("/api/v1/accounts")
        .body(axum::body::Body::from("{nope"))
        .unwrap();
    let r = certd.send(req).await;
    assert_eq!((r.status, code(&r)), (StatusCode::BAD_REQUEST, "CD1002"));
}

#[tokio::test]
async fn sign_ups_per_address_are_limited() {
    let certd = Certd::new().await;
    let mut statuses = Vec::new();
    for i in 0..6 {
        let body = json!({"username": format!("user{i}"), "password": "a long and unusual phrase", "email": "u@example.org"});
        let req = axum::http::Request::post("/api/v1/accounts")
            .header("content-type", "application/json")
            .body(axum::body::Body::from(body.to_string()))
            .unwrap();
        statuses.push(certd.send_from(req, "198.51.100.7:1234").await.status);
    }
    assert_eq!(statuses[..5], [StatusCode::CREATED; 5]);
    assert_eq!(statuses[5], StatusCode::TOO_MANY_REQUESTS);
    // Another address is not affected.
    let body = json!({"username": "other", "password": "a long and unusual phrase", "email": "u@example.org"});
    let req = axum::http::Request::post("/api/v1/accounts")
        .body(axum::body::Body::from(body.to_string()))
        .unwrap();
    assert_eq!(
        certd.send_from(req, "198.51.100.8:1234").await.status,
        StatusCode::CREATED
    );
}
