//! Certificates end to end: an enrolled device's signed CSR goes through certd, which
//! orders it from Pebble (Let's Encrypt's test CA) validating DNS-01 against certd's own
//! DNS server; the chain comes back, every step is stored, the TXT record is gone.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64::Engine;
use pki::request_signing::DeviceKey;
use serde_json::json;
use testkit::pebble::{Pebble, PebbleOptions};
use tokio::sync::oneshot;
use wire::signature::SignatureParams;

use crate::harness::{Certd, code, each, zone_config};

pub struct World {
    pub certd: Certd,
    pub pebble: Pebble,
    pub acme_config: certd_acme::AcmeConfig,
    pub account_path: std::path::PathBuf,
    _stop_dns: oneshot::Sender<()>,
}

pub async fn world() -> World {
    world_inner(false).await.0
}

/// A relay in front of Pebble whose certd-to-Pebble direction can be held: bytes certd has
/// sent wait in the relay while `open` is false (TLS passes through untouched, and Pebble
/// builds its URLs from the Host header, so the whole order goes through the relay).
pub struct Gate {
    pub open: tokio::sync::watch::Sender<bool>,
}

async fn gate(target: std::net::SocketAddr) -> (Gate, std::net::SocketAddr) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (open, watching) = tokio::sync::watch::channel(true);
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let mut watching = watching.clone();
            tokio::spawn(async move {
                let Ok(server) = tokio::net::TcpStream::connect(target).await else {
                    return;
                };
                let (mut from_client, mut to_client) = client.into_split();
                let (mut from_server, mut to_server) = server.into_split();
                let up = async move {
                    let mut buf = vec![0u8; 16 * 1024];
                    while let Ok(n @ 1..) = from_client.read(&mut buf).await {
                        if watching.wait_for(|open| *open).await.is_err()
                            || to_server.write_all(&buf[..n]).await.is_err()
                        {
                            break;
                        }
                    }
                    let _ = to_server.shutdown().await;
                };
                let down = async move {
                    let _ = tokio::io::copy(&mut from_server, &mut to_client).await;
                    let _ = to_client.shutdown().await;
                };
                tokio::join!(up, down);
            });
        }
    });
    (Gate { open }, addr)
}

/// A world whose certd reaches Pebble through a [`Gate`].
pub async fn gated_world() -> (World, Gate) {
    let (w, gate) = world_inner(true).await;
    (w, gate.unwrap())
}

async fn world_inner(gated: bool) -> (World, Option<Gate>) {
    let zone = Arc::new(certd_dns::ZoneState::new(zone_config()).unwrap());
    let (udp, tcp) = loop {
        let udp = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let port = udp.local_addr().unwrap().port();
        if let Ok(tcp) = tokio::net::TcpListener::bind(("127.0.0.1", port)).await {
            break (udp, tcp);
        }
    };
    let dns = udp.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(certd_dns::serve(
        udp,
        tcp,
        zone.clone(),
        certd_dns::ServeOptions::default(),
        async {
            let _ = stopped.await;
        },
    ));
    let pebble = tokio::task::spawn_blocking(move || Pebble::start(dns, PebbleOptions::default()))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let account_path = dir.keep().join("acme-account.json");
    let account = certd_acme::FileAccountStore::new(account_path.clone());
    let mut config = acme_config(&pebble);
    let mut held = None;
    if gated {
        let listen = pebble
            .directory_url()
            .trim_start_matches("https://")
            .trim_end_matches("/dir")
            .parse()
            .unwrap();
        let (g, addr) = gate(listen).await;
        config.directory = certd_acme::Directory::Url(format!("https://{addr}/dir"));
        held = Some(g);
    }
    let handle = certd::acme::AcmeHandle::new(config, account);
    let certd = Certd::with(zone, Some(handle)).await;
    let world = World {
        acme_config: acme_config(&pebble),
        certd,
        pebble,
        account_path,
        _stop_dns: stop,
    };
    (world, held)
}

fn acme_config(pebble: &Pebble) -> certd_acme::AcmeConfig {
    let mut config =
        certd_acme::AcmeConfig::new(certd_acme::Directory::Url(pebble.directory_url()));
    config.contact_email = Some("ops@certs.test".into());
    config.extra_roots_pem = Some(pebble.https_root_pem().to_owned());
    config
}

pub fn csr_pem(names: &[&str]) -> String {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params =
        rcgen::CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
            .unwrap();
    // rcgen puts a placeholder CN in by default; a CN must equal the name or be absent.
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.serialize_request(&key).unwrap().pem().unwrap()
}

pub fn signed_post(
    device: &DeviceKey,
    id: i64,
    now: i64,
    nonce: &str,
    body: &str,
) -> Request<Body> {
    let params = SignatureParams {
        created: now,
        keyid: id.to_string(),
        nonce: nonce.into(),
    };
    let h = device.sign_request("POST", "/api/v1/certificates", body.as_bytes(), &params);
    Request::post("/api/v1/certificates")
        .header("content-type", "application/json")
        .header("content-digest", h.content_digest)
        .header("signature-input", h.signature_input)
        .header("signature", h.signature)
        .body(Body::from(body.to_owned()))
        .unwrap()
}

pub async fn enrolled(certd: &Certd, user: &str, label: &str) -> (String, DeviceKey, i64) {
    let cookie = certd.user(user).await;
    let key = certd.hostname_and_key(&cookie, label).await;
    let device = DeviceKey::generate().unwrap();
    let pk = base64::engine::general_purpose::STANDARD.encode(device.public_key());
    let r = certd
        .call(
            "POST",
            "/api/v1/enroll",
            None,
            Some(json!({"api_key": key, "public_key": pk})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    (cookie, device, r.json["device_id"].as_i64().unwrap())
}

#[tokio::test]
async fn a_signed_csr_comes_back_as_a_chain_from_pebble() {
    let w = world().await;
    let certd = &w.certd;
    let (cookie, device, id) = enrolled(certd, "lena", "dev").await;
    let body = json!({"csr": csr_pem(&["dev.certs.test"])}).to_string();
    let r = certd
        .send(signed_post(&device, id, certd.now(), "c1", &body))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    let chain = r.json["chain_pem"].as_str().unwrap();
    let certs = pki::parse_cert_chain(chain).unwrap();
    let leaf = pki::cert_info(&certs[0]).unwrap();
    assert_eq!(leaf.dns_names, vec!["dev.certs.test".to_owned()]);
    assert_eq!(r.json["serial"], leaf.serial_hex);
    assert!(
        certd.zone.challenges("dev").is_empty(),
        "the TXT record is removed"
    );

    // Every step is stored, and the order ended valid.
    assert!(
        certd
            .store
            .list_unfinished_orders()
            .await
            .unwrap()
            .is_empty()
    );
    let list = certd
        .call("GET", "/api/v1/certificates", Some(&cookie), None)
        .await;
    assert_eq!(list.json[0]["serial"], leaf.serial_hex);

    // Revocation goes to the CA.
    let serial = leaf.serial_hex.clone();
    let r = certd
        .call(
            "DELETE",
            &format!("/api/v1/certificates/{serial}"),
            Some(&cookie),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.json);
    let status = w.pebble.cert_status(&serial);
    assert_eq!(status["Status"], "Revoked", "{status}");

    let audit = certd
        .call("GET", "/api/v1/audit", Some(&cookie), None)
        .await;
    let actions = each(&audit.json, "action");
    for a in [
        "certificate.request",
        "certificate.revoke",
        "order.created",
        "order.challenge_published",
        "order.validated",
        "order.valid",
    ] {
        assert!(actions.contains(&a), "{a} in {actions:?}");
    }
}

/// The owner revokes the device while the CA works on its order: the certificate that
/// comes back is revoked at the CA at once and the request gets 409 CD8008, not a chain.
#[tokio::test]
async fn a_certificate_for_a_device_revoked_during_its_order_is_revoked_at_once() {
    let (w, gate) = gated_world().await;
    let certd = &w.certd;
    let (cookie, device, id) = enrolled(certd, "nina", "nina-box").await;
    // A first certificate: the ACME account exists from here on, so the next request
    // reaches the store before it waits for the CA.
    let body = json!({"csr": csr_pem(&["nina-box.certs.test"])}).to_string();
    let r = certd
        .send(signed_post(&device, id, certd.now(), "n1", &body))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    let first = r.json["serial"].as_str().unwrap().to_owned();

    gate.open.send_replace(false);
    let body = json!({"csr": csr_pem(&["nina-box.certs.test"])}).to_string();
    let ordering = certd.send(signed_post(&device, id, certd.now(), "n2", &body));
    let revoking = async {
        // certd stores the order before it asks the CA; the CA is held until the device
        // is revoked.
        while certd
            .store
            .list_unfinished_orders()
            .await
            .unwrap()
            .is_empty()
        {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        let r = certd
            .call(
                "DELETE",
                &format!("/api/v1/devices/{id}"),
                Some(&cookie),
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.json);
        gate.open.send_replace(true);
    };
    let (r, ()) = tokio::join!(ordering, revoking);
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.json);
    assert_eq!(code(&r), "CD8008", "{}", r.json);
    assert!(r.json.get("chain_pem").is_none(), "{}", r.json);

    // The certificate issued during the revocation exists at the CA, revoked; the one
    // issued before stays valid (revoking a device stops its signing; certificates are
    // revoked on their own).
    let list = certd
        .call("GET", "/api/v1/certificates", Some(&cookie), None)
        .await;
    let serials = each(&list.json, "serial");
    assert_eq!(serials.len(), 2, "{}", list.json);
    for serial in serials {
        let status = w.pebble.cert_status(serial);
        let expected = if serial == first { "Valid" } else { "Revoked" };
        assert_eq!(status["Status"], expected, "{serial}: {status}");
    }
}

#[tokio::test]
async fn csrs_for_other_names_are_refused_before_any_order() {
    let w = world().await;
    let certd = &w.certd;
    let (_, device, id) = enrolled(certd, "mona", "mona-box").await;
    let cases = [
        (csr_pem(&["other.certs.test"]), "must name exactly"),
        (
            csr_pem(&["mona-box.certs.test", "evil.example.org"]),
            "must name exactly",
        ),
        (csr_pem(&["*.certs.test"]), "wildcard"),
        (
            "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n"
                .to_owned(),
            "CSR",
        ),
    ];
    for (i, (csr, message)) in cases.iter().enumerate() {
        let body = json!({"csr": csr}).to_string();
        let r = certd
            .send(signed_post(
                &device,
                id,
                certd.now(),
                &format!("n{i}"),
                &body,
            ))
            .await;
        assert_eq!(
            (r.status, code(&r)),
            (StatusCode::BAD_REQUEST, "CD8001"),
            "{}",
            r.json
        );
        assert!(
            r.json["error"]["message"]
                .as_str()
                .unwrap()
                .contains(message),
            "{}",
            r.json
        );
    }
    assert!(
        certd
            .store
            .list_unfinished_orders()
            .await
            .unwrap()
            .is_empty(),
        "nothing ordered"
    );
    assert!(certd.zone.challenges("mona-box").is_empty());
    // A stolen device id with another key signs nothing.
    let thief = DeviceKey::generate().unwrap();
    let body = json!({"csr": csr_pem(&["mona-box.certs.test"])}).to_string();
    let r = certd
        .send(signed_post(&thief, id, certd.now(), "t1", &body))
        .await;
    assert_eq!((r.status, code(&r)), (StatusCode::UNAUTHORIZED, "CD5001"));
}
