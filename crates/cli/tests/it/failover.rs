//! Several certificate-service URLs (`setup ecs cert fqdn --service A --service B`): the
//! CLI moves to the next one only when the current one cannot be reached or answers 5xx,
//! says which one answered, lists every failure when none did (storing nothing), and never
//! moves on after a refusal (4xx, or the CA's own refusal) or after a signed CSR went out
//! unanswered. The real service is certd in-process with Pebble (see `cert.rs`); the broken
//! ones are a closed port and small servers that answer 503/502 or hang up.

use std::io::{BufRead, BufReader, Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cli::items;
use serde_json::Value;

use crate::cert::{World, ZONE, assert_unchanged, set_item, snapshot};
use crate::harness::{PrivateHosts, User};

/// What a [`Broken`] service does with each request.
#[derive(Clone)]
enum Behaviour {
    /// Answers with this status line and JSON body.
    Answer(&'static str, &'static str),
    /// Reads the request and hangs up without an answer.
    HangUp,
}

/// A service that never works: it records every request it reads, then answers per its
/// [`Behaviour`]. Stopped on drop.
struct Broken {
    port: u16,
    seen: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Broken {
    fn start(behaviour: Behaviour) -> Broken {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (seen2, stop2) = (seen.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            while !stop2.load(Ordering::SeqCst) {
                let Ok((stream, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                };
                stream.set_nonblocking(false).unwrap();
                stream
                    .set_read_timeout(Some(Duration::from_secs(10)))
                    .unwrap();
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut head = String::new();
                let mut length = 0usize;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap_or(0);
                    }
                    head.push_str(&line);
                }
                let mut body = vec![0u8; length];
                let _ = reader.read_exact(&mut body);
                head.push_str(&String::from_utf8_lossy(&body));
                seen2.lock().unwrap().push(head);
                let mut stream = stream;
                match &behaviour {
                    Behaviour::Answer(status, json) => {
                        let _ = write!(
                            stream,
                            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{json}",
                            json.len()
                        );
                    }
                    Behaviour::HangUp => {}
                }
                let _ = stream.shutdown(std::net::Shutdown::Both);
            }
        });
        Broken {
            port,
            seen,
            stop,
            thread: Some(thread),
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn requests(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for Broken {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// certd's answer when its CA cannot be reached from that instance (503, `CD8006`).
const CA_DOWN: &str = r#"{"error":{"code":"CD8006","message":"the certificate authority cannot be reached: connection refused"}}"#;
/// certd's answer when the CA itself refused to validate the name (502, `CD8004`).
const CA_REFUSED: &str =
    r#"{"error":{"code":"CD8004","message":"the CA could not validate the name"}}"#;

/// A loopback URL where nothing listens.
fn closed_url() -> String {
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    format!("http://{addr}")
}

/// The real certd's URL, and a user enrolled with it the way a user from before failover
/// was: one URL stored.
fn real_service(w: &World, user: &str, label: &str) -> (String, User, String) {
    let (enrolled, fqdn, _cookie) = w.enrolled_user(user, label);
    let url = enrolled.stored(items::CERTD_SERVICE_URL).unwrap();
    assert!(!url.contains('\n'), "a single URL in the old format: {url}");
    (url, enrolled, fqdn)
}

fn services(user: &User, urls: &[&str]) {
    set_item(user, items::CERTD_SERVICE_URL, &urls.join("\n"));
}

#[test]
fn failover_to_the_next_service_when_one_is_closed_or_answers_503() {
    let w = World::start();
    let (real, old_user, _) = real_service(&w, "olga", "olga-box");

    // `fqdn --service` repeated: stored as a list, order kept.
    let closed = closed_url();
    let user = User::new();
    let fqdn = format!("pia-box.{ZONE}");
    let hosts = PrivateHosts::new(&[&fqdn]);
    let out = user
        .command_in(
            &hosts.wrapper(),
            &[
                "setup",
                "ecs",
                "cert",
                "fqdn",
                &fqdn,
                "--service",
                &closed,
                "--service",
                &real,
            ],
        )
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!("{closed}, {real} as the certificate services")),
        "{stderr}"
    );
    assert_eq!(
        user.stored(items::CERTD_SERVICE_URL).unwrap(),
        format!("{closed}\n{real}")
    );

    // Enrollment and signing go through the second, and say so.
    let key = w.api_key("pia", "pia-box");
    let r = user.ok(&["setup", "ecs", "cert", "api-key", &key]);
    for part in [
        format!("cannot reach the certificate service at {closed}"),
        format!("trying {real}"),
        format!("The certificate service at {real} answered (after {closed} did not)"),
        "Enrolled as device".to_owned(),
    ] {
        assert!(r.stderr.contains(&part), "{part:?} in {}", r.stderr);
    }
    assert!(!r.stderr.contains(&key), "the API key is printed");
    let r = user.ok(&["setup", "ecs", "cert", "sign-csr"]);
    for part in [
        format!("cannot reach the certificate service at {closed}"),
        format!("The certificate service at {real} answered"),
        format!("Stored the certificate for {fqdn}"),
    ] {
        assert!(r.stderr.contains(&part), "{part:?} in {}", r.stderr);
    }
    let status = user.ok(&["setup", "ecs", "cert", "status", "--output", "json"]);
    let status: Value = serde_json::from_str(&status.stdout).unwrap();
    assert_eq!(status["service_urls"], serde_json::json!([closed, real]));
    assert_eq!(status["service_url"], closed.as_str());
    assert!(status.to_string().contains("Pebble"), "{status}");

    // A service answering 503 (its CA is down) comes first: the signed CSR reaches it,
    // then a freshly signed one goes to the next. The user enrolled before failover
    // existed (one URL stored) gets a list now.
    let unavailable = Broken::start(Behaviour::Answer("503 Service Unavailable", CA_DOWN));
    services(&old_user, &[&unavailable.url(), &real]);
    let r = old_user.ok(&["setup", "ecs", "cert", "sign-csr", "--force"]);
    for part in [
        format!(
            "the certificate service at {} is unavailable: the certificate authority cannot be reached",
            unavailable.url()
        ),
        "CD8006, HTTP 503".to_owned(),
        format!("The certificate service at {real} answered"),
        "Stored the certificate for olga-box.certs.test".to_owned(),
    ] {
        assert!(r.stderr.contains(&part), "{part:?} in {}", r.stderr);
    }
    let seen = unavailable.requests();
    assert_eq!(seen.len(), 1, "one attempt at the 503 service: {seen:?}");
    assert!(
        seen[0].starts_with("POST /api/v1/certificates")
            && seen[0].to_ascii_lowercase().contains("signature-input:"),
        "{}",
        seen[0]
    );

    // Enrollment through a 503 first, too.
    let key = w.api_key("quinn", "quinn-box");
    let third = User::new();
    set_item(&third, items::ECS_CERT_FQDN, &format!("quinn-box.{ZONE}"));
    services(&third, &[&unavailable.url(), &real]);
    let r = third.ok(&["setup", "ecs", "cert", "api-key", &key]);
    assert!(
        r.stderr.contains(&format!(
            "The certificate service at {real} answered (after {} did not)",
            unavailable.url()
        )),
        "{}",
        r.stderr
    );
    assert_eq!(unavailable.requests().len(), 2);
    assert!(third.stored(items::CERTD_DEVICE_ID).is_some());
}

#[test]
fn failover_stops_at_refusals_and_reports_every_failure() {
    let w = World::start();
    let (real, user, fqdn) = real_service(&w, "rosa", "rosa-box");
    let closed = closed_url();
    let unavailable = Broken::start(Behaviour::Answer("503 Service Unavailable", CA_DOWN));

    // Every service down: each URL with its failure, nothing stored, the key not spent.
    let fresh = User::new();
    set_item(&fresh, items::ECS_CERT_FQDN, &format!("sam-box.{ZONE}"));
    services(&fresh, &[&closed, &unavailable.url()]);
    let key = w.api_key("sam", "sam-box");
    let before = snapshot(&fresh);
    let r = fresh.fails(&["setup", "ecs", "cert", "api-key", &key]);
    for part in [
        "no certificate service answered the enrollment:".to_owned(),
        format!("- cannot reach the certificate service at {closed}"),
        format!(
            "- the certificate service at {} is unavailable: the certificate authority cannot be reached",
            unavailable.url()
        ),
    ] {
        assert!(r.stderr.contains(&part), "{part:?} in {}", r.stderr);
    }
    assert!(!r.stderr.contains(&key), "the API key is printed");
    assert_unchanged(&fresh, &before, "enrolling with every service down");
    services(&fresh, &[&real]);
    fresh.ok(&["setup", "ecs", "cert", "api-key", &key]);

    // Signing with every service down: nothing stored.
    services(&user, &[&closed, &unavailable.url()]);
    let before = snapshot(&user);
    let r = user.fails(&["setup", "ecs", "cert", "sign-csr", "--force"]);
    assert!(
        r.stderr
            .contains("no certificate service answered the signing:"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains(&closed) && r.stderr.contains(&unavailable.url()));
    assert_unchanged(&user, &before, "signing with every service down");

    // A 4xx from the first is the answer: shown, and the next service is never asked.
    let next = Broken::start(Behaviour::Answer("503 Service Unavailable", CA_DOWN));
    let other = User::new();
    set_item(&other, items::ECS_CERT_FQDN, &format!("tom-box.{ZONE}"));
    services(&other, &[&real, &next.url()]);
    let before = snapshot(&other);
    let r = other.fails(&["setup", "ecs", "cert", "api-key", "ask_not-a-real-key"]);
    assert!(
        r.stderr
            .contains("the certificate service refused the enrollment")
            && r.stderr.contains("CD4001, HTTP 401"),
        "{}",
        r.stderr
    );
    assert_unchanged(&other, &before, "a refused enrollment");
    // A CSR for a name that is not the device's: refused (CD8001), not retried.
    services(&user, &[&real, &next.url()]);
    set_item(&user, items::ECS_CERT_FQDN, &format!("someone-else.{ZONE}"));
    let before = snapshot(&user);
    let r = user.fails(&["setup", "ecs", "cert", "sign-csr", "--force"]);
    assert!(
        r.stderr
            .contains("the certificate service refused the signing")
            && r.stderr.contains("CD8001"),
        "{}",
        r.stderr
    );
    assert_unchanged(&user, &before, "a refused CSR");
    set_item(&user, items::ECS_CERT_FQDN, &fqdn);
    // The CA's own refusal (502, CD8004) is an answer too.
    let ca_refused = Broken::start(Behaviour::Answer("502 Bad Gateway", CA_REFUSED));
    services(&user, &[&ca_refused.url(), &next.url()]);
    let r = user.fails(&["setup", "ecs", "cert", "sign-csr", "--force"]);
    assert!(
        r.stderr
            .contains("the certificate service refused the signing: the CA could not validate the name (CD8004, HTTP 502)"),
        "{}",
        r.stderr
    );
    assert_eq!(ca_refused.requests().len(), 1);
    assert!(
        next.requests().is_empty(),
        "a service was asked after a refusal: {:?}",
        next.requests()
    );

    // A signed CSR that went out unanswered (the service hung up) is not sent elsewhere:
    // that service may be ordering it.
    let hangs_up = Broken::start(Behaviour::HangUp);
    services(&user, &[&hangs_up.url(), &next.url()]);
    let before = snapshot(&user);
    let r = user.fails(&["setup", "ecs", "cert", "sign-csr", "--force"]);
    assert!(
        r.stderr.contains("it was not sent to the next service"),
        "{}",
        r.stderr
    );
    assert_eq!(hangs_up.requests().len(), 1);
    assert!(next.requests().is_empty(), "{:?}", next.requests());
    assert_unchanged(&user, &before, "an unanswered signed CSR");
    // An enrollment that went unanswered is harmless to resend: it moves on.
    let key = w.api_key("uma", "uma-box");
    let last = User::new();
    set_item(&last, items::ECS_CERT_FQDN, &format!("uma-box.{ZONE}"));
    services(&last, &[&hangs_up.url(), &real]);
    let r = last.ok(&["setup", "ecs", "cert", "api-key", &key]);
    assert!(
        r.stderr
            .contains(&format!("The certificate service at {real} answered")),
        "{}",
        r.stderr
    );
    assert_eq!(hangs_up.requests().len(), 2);
}
