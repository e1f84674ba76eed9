//! Denial of service against certd. A flood from one address (certd as a process, Pebble
//! as its CA): many concurrent connections hammering login, sign-up, enrollment and signed
//! certificate requests. The per-address, per-account and per-device limits engage (429,
//! `CD7001`, `Retry-After`), counted per route; a user at another address, meanwhile, signs
//! up, logs in (to the very account the flood guesses at), registers a name, enrolls and
//! gets a certificate, and the latency of each of those requests is measured. A second,
//! in-process test shows that signatures forged under someone's device id do not spend
//! that device's allowance.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use base64::Engine;
use pki::request_signing::DeviceKey;
use serde_json::json;

use crate::harness::{Certd, HttpConn, Proc, ZONE, code, signed_headers};

const PASSWORD: &str = "a long and unusual phrase";
const FLOODER: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1));
const USER: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
/// Concurrent flooding connections.
const CONNECTIONS: usize = 32;
/// Requests the flood sends at least (more while the user is not done yet).
const AT_LEAST: usize = 2_000;
/// Requests the flood sends at most.
const AT_MOST: usize = 12_800;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Route {
    Login,
    SignUp,
    Enroll,
    Certificate,
}

const ROUTES: [Route; 4] = [
    Route::Login,
    Route::SignUp,
    Route::Enroll,
    Route::Certificate,
];

/// What the flood got back on one route.
#[derive(Default, Debug)]
struct Tally {
    sent: usize,
    /// (status, code) → count.
    answers: std::collections::BTreeMap<(u16, String), usize>,
    /// 429s without a positive `Retry-After`.
    no_retry_after: usize,
}

fn pk(device: &DeviceKey) -> String {
    base64::engine::general_purpose::STANDARD.encode(device.public_key())
}

fn csr_for(fqdn: &str) -> String {
    crate::issue::csr_pem(&[fqdn])
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[allow(
    clippy::print_stderr,
    reason = "the test reports the latencies it measured"
)]
async fn a_flood_from_one_address_is_limited_while_a_user_elsewhere_gets_a_certificate() {
    let certd = Proc::start(true);
    let addr = certd.addr();

    // The flooder has an account, a name and an enrolled device of its own.
    let mut setup = HttpConn::new(addr, FLOODER);
    let mut ignored = Vec::new();
    let flooder = certd
        .onboard(&mut setup, "flo", "flo-box", &mut ignored)
        .await;
    let (flood_device, flood_id) = (flooder.device, flooder.id);
    let flood_body = Arc::new(json!({"csr": csr_for(&format!("flo-box.{ZONE}"))}).to_string());
    let flood_device = Arc::new(flood_device);

    // The user's baseline: an authenticated read before the flood.
    let mut user = HttpConn::new(addr, USER);
    let mut baseline = Vec::new();
    let probe = {
        let r = user
            .json(
                "POST",
                "/api/v1/accounts",
                None,
                Some(json!({"username": "pat", "password": PASSWORD, "email": "pat@example.org"})),
            )
            .await;
        assert_eq!(r.status, 201);
        let r = user
            .json(
                "POST",
                "/api/v1/session",
                None,
                Some(json!({"username": "pat", "password": PASSWORD})),
            )
            .await;
        r.cookie("certd_session").unwrap()
    };
    for _ in 0..20 {
        let t = Instant::now();
        let r = user
            .json("GET", "/api/v1/hostnames", Some(&probe), None)
            .await;
        assert_eq!(r.status, 200);
        baseline.push(t.elapsed());
    }

    // ---- the flood ----------------------------------------------------------------------------
    let user_done = Arc::new(AtomicBool::new(false));
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut flooders = Vec::new();
    for _ in 0..CONNECTIONS {
        let (user_done, next, body, device) = (
            user_done.clone(),
            next.clone(),
            flood_body.clone(),
            flood_device.clone(),
        );
        flooders.push(tokio::spawn(async move {
            let mut conn = HttpConn::new(addr, FLOODER);
            let mut tally: std::collections::BTreeMap<Route, Tally> = Default::default();
            loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= AT_MOST || (i >= AT_LEAST && user_done.load(Ordering::SeqCst)) {
                    break;
                }
                let route = ROUTES[i % ROUTES.len()];
                let r = match route {
                    // Guesses at the password of the account the user is about to use.
                    Route::Login => {
                        conn.json(
                            "POST",
                            "/api/v1/session",
                            None,
                            Some(
                                json!({"username": "lee", "password": format!("guess number {i}")}),
                            ),
                        )
                        .await
                    }
                    Route::SignUp => {
                        conn.json(
                            "POST",
                            "/api/v1/accounts",
                            None,
                            Some(json!({"username": format!("bot{i}"), "password": PASSWORD,
                                "email": format!("bot{i}@example.org")})),
                        )
                        .await
                    }
                    Route::Enroll => {
                        let guess = DeviceKey::generate().unwrap();
                        conn.json(
                            "POST",
                            "/api/v1/enroll",
                            None,
                            Some(json!({"api_key": format!("ask_guess{i:040}"),
                                "public_key": pk(&guess)})),
                        )
                        .await
                    }
                    // Valid requests from the flooder's own device, for its own name.
                    Route::Certificate => {
                        let path = "/api/v1/certificates";
                        let headers = signed_headers(
                            &device,
                            flood_id,
                            "POST",
                            path,
                            body.as_bytes(),
                            &format!("flood-{i}"),
                        );
                        conn.call("POST", path, &headers, body.as_bytes()).await
                    }
                };
                let t = tally.entry(route).or_default();
                t.sent += 1;
                *t.answers.entry((r.status, r.code())).or_default() += 1;
                if r.status == 429
                    && r.header("retry-after")
                        .and_then(|v| v.parse::<u64>().ok())
                        .is_none_or(|s| s == 0)
                {
                    t.no_retry_after += 1;
                }
            }
            tally
        }));
    }

    // ---- the user next to it ------------------------------------------------------------------
    // Let the flood get going first.
    while next.load(Ordering::SeqCst) < 400 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let mut steps = Vec::new();
    let lee = certd.onboard(&mut user, "lee", "lee-box", &mut steps).await;
    let (session, device, id) = (lee.session, lee.device, lee.id);
    let body = json!({"csr": csr_for(&format!("lee-box.{ZONE}"))}).to_string();
    let path = "/api/v1/certificates";
    let t = Instant::now();
    let r = user
        .call(
            "POST",
            path,
            &signed_headers(&device, id, "POST", path, body.as_bytes(), "lee-1"),
            body.as_bytes(),
        )
        .await;
    steps.push(("certificate (Pebble)", t.elapsed()));
    assert_eq!(r.status, 201, "the user gets a certificate: {}", r.text());
    assert_eq!(r.json()["fqdn"], format!("lee-box.{ZONE}"));
    let mut during = Vec::new();
    for _ in 0..20 {
        let t = Instant::now();
        let r = user
            .json("GET", "/api/v1/hostnames", Some(&session), None)
            .await;
        assert_eq!(r.status, 200);
        during.push(t.elapsed());
    }
    let flood_still_running = next.load(Ordering::SeqCst) < AT_MOST;
    user_done.store(true, Ordering::SeqCst);

    let mut tally: std::collections::BTreeMap<Route, Tally> = Default::default();
    for f in flooders {
        for (route, t) in f.await.unwrap() {
            let all = tally.entry(route).or_default();
            all.sent += t.sent;
            all.no_retry_after += t.no_retry_after;
            for (k, n) in t.answers {
                *all.answers.entry(k).or_default() += n;
            }
        }
    }
    let elapsed = started.elapsed();
    let sent: usize = tally.values().map(|t| t.sent).sum();

    // ---- figures ------------------------------------------------------------------------------
    baseline.sort();
    during.sort();
    eprintln!(
        "flood: {sent} requests over {CONNECTIONS} connections from {FLOODER} in {:.1}s ({:.0}/s)",
        elapsed.as_secs_f64(),
        sent as f64 / elapsed.as_secs_f64()
    );
    for (route, t) in &tally {
        eprintln!("  {route:?}: {} sent, answers {:?}", t.sent, t.answers);
    }
    eprintln!(
        "user at {USER}: GET /api/v1/hostnames before the flood p50 {:?} max {:?}; during p50 {:?} max {:?}",
        percentile(&baseline, 0.5),
        baseline[baseline.len() - 1],
        percentile(&during, 0.5),
        during[during.len() - 1]
    );
    for (what, d) in &steps {
        eprintln!("  user {what}: {d:?}");
    }

    // ---- what must hold -----------------------------------------------------------------------
    assert!(sent >= AT_LEAST, "{sent}");
    assert!(
        flood_still_running,
        "the flood ended before the user was done: raise AT_MOST"
    );
    let count = |route: Route, status: u16, code: &str| {
        tally[&route]
            .answers
            .get(&(status, code.to_owned()))
            .copied()
            .unwrap_or(0)
    };
    for route in ROUTES {
        let t = &tally[&route];
        assert_eq!(t.no_retry_after, 0, "{route:?}: 429s without Retry-After");
        let limited = count(route, 429, "CD7001");
        let accounted: usize = t.answers.values().sum();
        assert_eq!(accounted, t.sent);
        assert!(limited > t.sent / 2, "{route:?}: {:?}", t.answers);
    }
    // Log in: 10 wrong guesses for one account from one address, then that pair is
    // refused; the account's own ceiling (50 from anywhere) is not reached, so its owner
    // logs in from elsewhere (above).
    assert_eq!(
        count(Route::Login, 401, "CD2001"),
        10,
        "{:?}",
        tally[&Route::Login]
    );
    assert_eq!(
        count(Route::Login, 401, "CD2001") + count(Route::Login, 429, "CD7001"),
        tally[&Route::Login].sent
    );
    // Sign-up: 5 accounts per address per hour, one of them the flooder's own.
    assert_eq!(
        count(Route::SignUp, 201, ""),
        4,
        "{:?}",
        tally[&Route::SignUp]
    );
    assert_eq!(
        count(Route::SignUp, 201, "") + count(Route::SignUp, 429, "CD7001"),
        tally[&Route::SignUp].sent
    );
    // Enrollment: 20 attempts per address per hour, one of them the flooder's own.
    assert_eq!(
        count(Route::Enroll, 401, "CD4001"),
        19,
        "{:?}",
        tally[&Route::Enroll]
    );
    assert_eq!(
        count(Route::Enroll, 401, "CD4001") + count(Route::Enroll, 429, "CD7001"),
        tally[&Route::Enroll].sent
    );
    // Certificates: 10 requests per account per hour get past the limits; of those, one
    // order per name runs at a time (others get 409 CD8007 at once instead of failing
    // late, after their order exists at the CA); everything else is refused before any
    // work.
    let certs = &tally[&Route::Certificate];
    assert_eq!(
        count(Route::Certificate, 502, "CD8005"),
        0,
        "concurrent orders for one name failed late: {:?}",
        certs.answers
    );
    let reached_ca = certs.sent
        - count(Route::Certificate, 429, "CD7001")
        - count(Route::Certificate, 409, "CD8007");
    assert!(
        (1..=10).contains(&reached_ca),
        "{reached_ca} flood requests went past the limits: {:?}",
        certs.answers
    );
    assert_eq!(
        Proc::sql(&certd.db(), "SELECT count(*) AS n FROM orders WHERE hostname_id = (SELECT id FROM hostnames WHERE label = 'flo-box')")[0]["n"]
            .as_i64()
            .unwrap() as usize,
        reached_ca,
        "one order per request that got through"
    );
    // Responsive: the user's requests stayed fast while the flood ran.
    for (what, d) in &steps {
        let bound = if what.starts_with("certificate") {
            60
        } else {
            5
        };
        assert!(*d < Duration::from_secs(bound), "{what} took {d:?}");
    }
    assert!(
        during[during.len() - 1] < Duration::from_secs(2),
        "{during:?}"
    );
}

/// An attacker who knows a device's id (ids are small integers) signs requests under it
/// with a key of its own. They fail, and must not use up the device's hourly allowance:
/// the owner's next request still goes through.
#[tokio::test]
async fn forged_signatures_under_a_device_id_do_not_spend_its_allowance() {
    let certd = Certd::new().await;
    let (_, device, id) = crate::issue::enrolled(&certd, "owen", "owen-box").await;
    let forger = DeviceKey::generate().unwrap();
    let signed_get = |key: &DeviceKey, nonce: &str| {
        let params = wire::signature::SignatureParams {
            created: certd.now(),
            keyid: id.to_string(),
            nonce: nonce.into(),
        };
        let h = key.sign_request("GET", "/api/v1/device", b"", &params);
        axum::http::Request::get("/api/v1/device")
            .header("content-digest", h.content_digest)
            .header("signature-input", h.signature_input)
            .header("signature", h.signature)
            .body(axum::body::Body::empty())
            .unwrap()
    };
    let mut refused = 0;
    for from in ["203.0.113.1:1000", "203.0.113.2:1000"] {
        for i in 0..60 {
            let r = certd
                .send_from(signed_get(&forger, &format!("forged-{from}-{i}")), from)
                .await;
            assert_eq!(
                (r.status, code(&r)),
                (StatusCode::UNAUTHORIZED, "CD5001"),
                "forgery {i} from {from}: {}",
                r.json
            );
            refused += 1;
        }
        // The forger's address has spent its own allowance.
        let r = certd.send_from(signed_get(&forger, "one-more"), from).await;
        assert_eq!(
            (r.status, code(&r)),
            (StatusCode::TOO_MANY_REQUESTS, "CD7001")
        );
    }
    assert_eq!(refused, 120);
    let r = certd.send(signed_get(&device, "owner-1")).await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "the owner's device was locked out by forgeries: {}",
        r.json
    );
}
