//! The HTML interface at the HTTP level: the security headers on every response, the
//! anti-forgery token, client addresses behind trusted proxies only, and login limits that
//! slow a guesser without locking the owner out.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};

use crate::harness::{Certd, code, zone_config};

fn get(path: &str) -> Request<Body> {
    Request::builder().uri(path).body(Body::empty()).unwrap()
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let certd = Certd::new().await;
    for (req, what) in [
        (get("/"), "landing page"),
        (get("/login"), "login page"),
        (get("/static/style.css"), "stylesheet"),
        (get("/api/v1/hostnames"), "API refusal"),
        (get("/no/such/page"), "404"),
    ] {
        let r = certd.send(req).await;
        let h = |n: &str| {
            r.headers
                .get(n)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_else(|| panic!("{what}: no {n}"))
                .to_owned()
        };
        let csp = h("content-security-policy");
        assert!(csp.contains("frame-ancestors 'none'"), "{what}: {csp}");
        assert!(
            !csp.contains("unsafe-inline") && !csp.contains("script-src"),
            "{csp}"
        );
        assert_eq!(h("x-frame-options"), "DENY", "{what}");
        assert_eq!(h("x-content-type-options"), "nosniff", "{what}");
        assert_eq!(h("referrer-policy"), "no-referrer", "{what}");
        // Plain HTTP here: no HSTS.
        assert!(
            r.headers.get("strict-transport-security").is_none(),
            "{what}"
        );
    }
    let tls = Certd::with_settings(
        Arc::new(certd_dns::ZoneState::new(zone_config()).unwrap()),
        None,
        |s| s.https = true,
    )
    .await;
    let r = tls.send(get("/")).await;
    assert_eq!(
        r.headers.get("strict-transport-security").unwrap(),
        "max-age=31536000"
    );
}

/// A form post to `path` with `cookie` and these fields.
fn form(path: &str, cookie: &str, fields: &str) -> Request<Body> {
    Request::builder()
        .method("POST")
        .uri(path)
        .header("cookie", cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(fields.to_owned()))
        .unwrap()
}

async fn body_of(certd: &Certd, req: Request<Body>) -> (StatusCode, String) {
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let mut req = req;
    req.extensions_mut()
        .insert(axum::extract::ConnectInfo::<std::net::SocketAddr>(
            "192.0.2.10:5000".parse().unwrap(),
        ));
    let resp = certd.app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

/// The anti-forgery token of the form on the page at `path`, as `cookie`'s session sees it.
async fn csrf_of(certd: &Certd, path: &str, cookie: &str) -> String {
    let mut req = get(path);
    req.headers_mut().insert("cookie", cookie.parse().unwrap());
    csrf_in(&body_of(certd, req).await.1)
}

fn csrf_in(page: &str) -> String {
    let at = page.find("name=\"csrf\" value=\"").expect("a csrf field") + 19;
    page[at..].split('"').next().unwrap().to_owned()
}

#[tokio::test]
async fn forms_need_the_token_of_their_own_session() {
    let certd = Certd::new().await;
    let alice = certd.user("alice").await;
    let bob = certd.user("bobby").await;
    let alice_csrf = csrf_of(&certd, "/dashboard", &alice).await;
    let bob_csrf = csrf_of(&certd, "/dashboard", &bob).await;
    assert_ne!(alice_csrf, bob_csrf);
    for (fields, what) in [
        ("name=one".to_owned(), "no token"),
        ("name=two&csrf=".to_owned(), "empty token"),
        (
            format!("name=three&csrf={bob_csrf}"),
            "another session's token",
        ),
    ] {
        let (status, body) = body_of(&certd, form("/hostnames", &alice, &fields)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{what}");
        assert!(body.contains("id=\"error\""), "{what}: {body}");
    }
    // The right token, but the browser says the post came from another site.
    let mut req = form(
        "/hostnames",
        &alice,
        &format!("name=four&csrf={alice_csrf}"),
    );
    req.headers_mut()
        .insert("sec-fetch-site", "cross-site".parse().unwrap());
    assert_eq!(body_of(&certd, req).await.0, StatusCode::FORBIDDEN);
    let mut req = form(
        "/hostnames",
        &alice,
        &format!("name=five&csrf={alice_csrf}"),
    );
    req.headers_mut()
        .insert("origin", "https://evil.example".parse().unwrap());
    assert_eq!(body_of(&certd, req).await.0, StatusCode::FORBIDDEN);
    let r = certd
        .call("GET", "/api/v1/hostnames", Some(&alice), None)
        .await;
    assert_eq!(r.json, serde_json::json!([]), "nothing was registered");
    // The right token from the right session works.
    let (status, _) = body_of(
        &certd,
        form("/hostnames", &alice, &format!("name=six&csrf={alice_csrf}")),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let r = certd
        .call("GET", "/api/v1/hostnames", Some(&alice), None)
        .await;
    assert_eq!(r.json[0]["name"], "six");
}

async fn audit_clients(certd: &Certd, cookie: &str) -> Vec<String> {
    let r = certd.call("GET", "/api/v1/audit", Some(cookie), None).await;
    r.json
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["client"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn x_forwarded_for_is_believed_only_from_trusted_proxies() {
    let certd = Certd::with_settings(
        Arc::new(certd_dns::ZoneState::new(zone_config()).unwrap()),
        None,
        |s| s.trusted_proxies = vec!["10.0.0.0/8".parse().unwrap()],
    )
    .await;
    let cookie = certd.user("carol").await;
    let hostname = |name: &str, xff: &str| {
        Request::builder()
            .method("POST")
            .uri("/api/v1/hostnames")
            .header("cookie", &cookie)
            .header("content-type", "application/json")
            .header("x-forwarded-for", xff)
            .body(Body::from(format!(r#"{{"name":"{name}"}}"#)))
            .unwrap()
    };
    // From an untrusted peer the header is the client's own claim: ignored.
    let r = certd
        .send_from(hostname("direct", "203.0.113.66"), "198.51.100.1:4000")
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    // Through the proxy: the right-most address it did not add itself.
    let r = certd
        .send_from(hostname("proxied", "6.6.6.6, 203.0.113.7"), "10.1.2.3:4000")
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let clients = audit_clients(&certd, &cookie).await;
    assert!(clients.contains(&"198.51.100.1".to_owned()), "{clients:?}");
    assert!(clients.contains(&"203.0.113.7".to_owned()), "{clients:?}");
    assert!(!clients.contains(&"203.0.113.66".to_owned()), "{clients:?}");
    assert!(!clients.contains(&"6.6.6.6".to_owned()), "{clients:?}");
}

#[tokio::test]
async fn a_guesser_is_stopped_without_locking_the_owner_out() {
    let certd = Certd::new().await;
    certd.user("dave1").await;
    let login = |user: &str, pw: &str, from: &'static str| {
        let body = serde_json::json!({"username": user, "password": pw}).to_string();
        let req = Request::builder()
            .method("POST")
            .uri("/api/v1/session")
            .header("content-type", "application/json")
            .body(Body::from(body))
            .unwrap();
        (req, from)
    };
    // Ten wrong passwords from one address, then that address is refused for the account,
    // and an unknown username is answered the same way.
    for _ in 0..10 {
        let (req, from) = login("dave1", "wrong password here", "203.0.113.5:1000");
        let r = certd.send_from(req, from).await;
        assert_eq!(code(&r), "CD2001");
        let (req, from) = login("nobody-here", "wrong password here", "203.0.113.5:1000");
        let r2 = certd.send_from(req, from).await;
        assert_eq!(r2.status, r.status);
        assert_eq!(r2.json, r.json, "unknown users get the same answer");
    }
    let (req, from) = login("dave1", "a long and unusual phrase", "203.0.113.5:1000");
    let r = certd.send_from(req, from).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.json);
    assert!(r.headers.get("retry-after").is_some());
    // The owner, from elsewhere, still gets in.
    let (req, from) = login("dave1", "a long and unusual phrase", "198.51.100.20:1000");
    let r = certd.send_from(req, from).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
}

#[tokio::test]
async fn verification_mails_are_limited_per_hour() {
    let certd = Certd::new().await;
    let body = serde_json::json!({"username": "erin1", "password": "a long and unusual phrase",
        "email": "erin1@example.org"});
    let r = certd
        .call("POST", "/api/v1/accounts", None, Some(body))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    let body = serde_json::json!({"username": "erin1", "password": "a long and unusual phrase"});
    let r = certd
        .call("POST", "/api/v1/session", None, Some(body))
        .await;
    let cookie = r.cookie.unwrap();
    let account = certd.store.get_account_by_username("erin1").await.unwrap();
    let mails = |certd: &Certd| {
        let since = time::OffsetDateTime::from_unix_timestamp(certd.now() - 7200).unwrap();
        let store = certd.store.clone();
        async move {
            store
                .count_email_tokens_since(account.id, certd_store::EmailPurpose::Verify, since)
                .await
                .unwrap()
        }
    };
    // Sign-up sent one; two more resends are allowed within the hour, the next is refused
    // with a time to wait, and nothing is sent for it.
    assert_eq!(mails(&certd).await, 1);
    for sent in 2..=3 {
        let r = certd
            .call("POST", "/api/v1/email/resend", Some(&cookie), None)
            .await;
        assert!(r.status.is_success(), "resend {sent}: {}", r.json);
        assert_eq!(mails(&certd).await, sent);
    }
    let r = certd
        .call("POST", "/api/v1/email/resend", Some(&cookie), None)
        .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.json);
    assert_eq!(code(&r), "CD7001");
    assert!(r.headers.get("retry-after").is_some());
    assert_eq!(mails(&certd).await, 3);
    // An hour later the allowance is back.
    certd.advance(3601);
    let r = certd
        .call("POST", "/api/v1/email/resend", Some(&cookie), None)
        .await;
    assert!(r.status.is_success(), "{}", r.json);
    assert_eq!(mails(&certd).await, 4);
}

/// Someone holding a stolen session guesses the current password on the account page
/// (the gate to changing the password or the email, or deleting the account). The guesses
/// count with the account's login failures, and each takes its slot before the slow
/// password check: even when they all arrive together, exactly the ceiling (50) is
/// checked and every other one is refused without a check.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_current_password_guesses_stop_at_the_account_ceiling() {
    let certd = Arc::new(Certd::new().await);
    let cookie = certd.user("gina1").await;
    let csrf = csrf_of(&certd, "/account", &cookie).await;
    let change = |current: &str, i: usize| {
        form(
            "/account/password",
            &cookie,
            &format!("csrf={csrf}&current_password={current}&new_password=another+long+phrase+{i}"),
        )
    };
    let guesses: Vec<_> = (0..80)
        .map(|i| {
            let (certd, req) = (Arc::clone(&certd), change(&format!("guess+number+{i}"), i));
            tokio::spawn(async move { body_of(&certd, req).await.0.as_u16() })
        })
        .collect();
    let mut answers = BTreeMap::new();
    for guess in guesses {
        *answers.entry(guess.await.unwrap()).or_insert(0) += 1;
    }
    assert_eq!(
        answers,
        BTreeMap::from([(403, 50), (429, 30)]),
        "403: wrong password (checked), 429: refused before the check"
    );
    // The right password waits for the window too; then it works.
    let right = "a+long+and+unusual+phrase";
    assert_eq!(
        body_of(&certd, change(right, 100)).await.0,
        StatusCode::TOO_MANY_REQUESTS
    );
    certd.advance(15 * 60 + 1);
    let (status, page) = body_of(&certd, change(right, 101)).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("Password changed"), "{page}");
}
