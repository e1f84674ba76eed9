//! Enrollment with an API key and requests signed with the device key: accepted once,
//! refused when replayed, stale, forged, revoked or made with a consumed key.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64::Engine;
use pki::request_signing::DeviceKey;
use serde_json::json;
use wire::signature::SignatureParams;

use crate::harness::{Certd, code, each};

async fn enroll(certd: &Certd, key: &str, device: &DeviceKey) -> crate::harness::Reply {
    let pk = base64::engine::general_purpose::STANDARD.encode(device.public_key());
    certd
        .call(
            "POST",
            "/api/v1/enroll",
            None,
            Some(json!({"api_key": key, "public_key": pk})),
        )
        .await
}

fn signed_get(device: &DeviceKey, id: i64, created: i64, nonce: &str) -> Request<Body> {
    let params = SignatureParams {
        created,
        keyid: id.to_string(),
        nonce: nonce.into(),
    };
    let h = device.sign_request("GET", "/api/v1/device", b"", &params);
    Request::get("/api/v1/device")
        .header("content-digest", h.content_digest)
        .header("signature-input", h.signature_input)
        .header("signature", h.signature)
        .body(Body::empty())
        .unwrap()
}

#[tokio::test]
async fn an_enrolled_device_signs_requests_once_each() {
    let certd = Certd::new().await;
    let cookie = certd.user("ivy").await;
    let key = certd.hostname_and_key(&cookie, "ivy-laptop").await;
    let device = DeviceKey::generate().unwrap();
    let r = enroll(&certd, &key, &device).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    assert_eq!(r.json["fqdn"], "ivy-laptop.certs.test");
    let id = r.json["device_id"].as_i64().unwrap();

    let r = certd.send(signed_get(&device, id, certd.now(), "n1")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    assert_eq!(r.json["hostname"], "ivy-laptop");

    // The same request again is a replay.
    let r = certd.send(signed_get(&device, id, certd.now(), "n1")).await;
    assert_eq!((r.status, code(&r)), (StatusCode::UNAUTHORIZED, "CD5003"));
    // Older than five minutes is stale.
    let r = certd
        .send(signed_get(&device, id, certd.now() - 301, "n2"))
        .await;
    assert_eq!((r.status, code(&r)), (StatusCode::UNAUTHORIZED, "CD5001"));
    // Signed by another key, claiming this device.
    let other = DeviceKey::generate().unwrap();
    let r = certd.send(signed_get(&other, id, certd.now(), "n3")).await;
    assert_eq!((r.status, code(&r)), (StatusCode::UNAUTHORIZED, "CD5001"));
    // Unsigned.
    let r = certd.call("GET", "/api/v1/device", None, None).await;
    assert_eq!((r.status, code(&r)), (StatusCode::UNAUTHORIZED, "CD5001"));

    // The API key was consumed by the enrollment: it enrolls nothing else.
    let again = enroll(&certd, &key, &DeviceKey::generate().unwrap()).await;
    assert_eq!(
        (again.status, code(&again)),
        (StatusCode::UNAUTHORIZED, "CD4001")
    );

    // A revoked device signs nothing more.
    let r = certd
        .call(
            "DELETE",
            &format!("/api/v1/devices/{id}"),
            Some(&cookie),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = certd.send(signed_get(&device, id, certd.now(), "n4")).await;
    assert_eq!((r.status, code(&r)), (StatusCode::UNAUTHORIZED, "CD5002"));

    let audit = certd
        .call("GET", "/api/v1/audit", Some(&cookie), None)
        .await;
    let actions = each(&audit.json, "action");
    assert!(
        actions.contains(&"device.enroll") && actions.contains(&"device.revoke"),
        "{actions:?}"
    );
}

#[tokio::test]
async fn enrollment_refuses_bad_keys_and_revoked_api_keys() {
    let certd = Certd::new().await;
    let cookie = certd.user("jack").await;
    let key = certd.hostname_and_key(&cookie, "jack-pc").await;
    let device = DeviceKey::generate().unwrap();
    let r = enroll(&certd, "ask_notarealkey", &device).await;
    assert_eq!((r.status, code(&r)), (StatusCode::UNAUTHORIZED, "CD4001"));
    let r = certd
        .call(
            "POST",
            "/api/v1/enroll",
            None,
            Some(json!({"api_key": key, "public_key": "AAAA"})),
        )
        .await;
    assert_eq!((r.status, code(&r)), (StatusCode::BAD_REQUEST, "CD4002"));
    let list = certd
        .call("GET", "/api/v1/api-keys", Some(&cookie), None)
        .await;
    let id = list.json[0]["id"].as_i64().unwrap();
    assert_eq!(
        certd
            .call(
                "DELETE",
                &format!("/api/v1/api-keys/{id}"),
                Some(&cookie),
                None
            )
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    let r = enroll(&certd, &key, &device).await;
    assert_eq!(
        (r.status, code(&r)),
        (StatusCode::UNAUTHORIZED, "CD4001"),
        "a revoked key enrolls nothing"
    );
    let r = certd
        .call("GET", "/api/v1/devices", Some(&cookie), None)
        .await;
    assert_eq!(r.json, json!([]));
}

#[tokio::test]
async fn a_device_flooding_signed_requests_is_limited() {
    let certd = Certd::new().await;
    let cookie = certd.user("rex").await;
    let key = certd.hostname_and_key(&cookie, "rex-box").await;
    let device = DeviceKey::generate().unwrap();
    let id = enroll(&certd, &key, &device).await.json["device_id"]
        .as_i64()
        .unwrap();
    for i in 0..30 {
        let r = certd
            .send(signed_get(&device, id, certd.now(), &format!("f{i}")))
            .await;
        assert_eq!(r.status, StatusCode::OK, "request {i}: {}", r.json);
    }
    let r = certd
        .send(signed_get(&device, id, certd.now(), "f30"))
        .await;
    assert_eq!(
        (r.status, code(&r)),
        (StatusCode::TOO_MANY_REQUESTS, "CD7001")
    );
    assert!(r.headers.contains_key("retry-after"));
    certd.advance(3601);
    let r = certd
        .send(signed_get(&device, id, certd.now(), "f31"))
        .await;
    assert_eq!(r.status, StatusCode::OK, "the window passes");
}
