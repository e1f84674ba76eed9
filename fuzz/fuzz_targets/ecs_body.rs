//! The ECS server's credential-load body: `PUT /` and `PUT /slot/<profile>` through the
//! real router (bearer token, body limit, JSON parsing, validation), and
//! `wire::ecs::LoadRequest` on its own. Never a 5xx or a panic; the router accepts exactly
//! what the parser and validator accept; what it accepts is served back as valid
//! credentials JSON with an RFC 3339 `Z` expiry.
#![no_main]

use std::sync::{Arc, OnceLock};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use libfuzzer_sys::fuzz_target;
use secrecy::{ExposeSecret, SecretString};
use time::OffsetDateTime;
use tower::ServiceExt;

const TOKEN: &str = "fuzz-token-0123456789";
const NOW: i64 = 1_800_000_000;

fn now() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(NOW).expect("time")
}

struct Server {
    rt: tokio::runtime::Runtime,
    app: axum::Router,
}

fn server() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(|| {
        let token = ecs::BearerToken::new(&SecretString::from(TOKEN)).expect("token");
        let state = ecs::AppState::new(Some(token), Arc::new(now), None);
        Server {
            rt: tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .build()
                .expect("runtime"),
            app: ecs::router(state),
        }
    })
}

fn call(method: &str, path: &str, body: &[u8]) -> (StatusCode, Vec<u8>) {
    let s = server();
    let req = Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {TOKEN}"))
        .header("content-type", "application/json")
        .body(Body::from(body.to_vec()))
        .expect("request");
    s.rt.block_on(async {
        let resp = s.app.clone().oneshot(req).await.expect("infallible");
        let status = resp.status();
        let bytes = resp.into_body().collect().await.expect("body").to_bytes();
        (status, bytes.to_vec())
    })
}

fn served(path: &str, access_key_id: &str) {
    let (status, body) = call("GET", path, b"");
    assert_eq!(status, StatusCode::OK, "{path} after a 200 PUT");
    let v: serde_json::Value = serde_json::from_slice(&body).expect("credentials JSON");
    assert_eq!(v["AccessKeyId"], access_key_id);
    let exp = v["Expiration"].as_str().expect("Expiration");
    assert!(exp.ends_with('Z'), "Expiration {exp}");
    time::OffsetDateTime::parse(exp, &time::format_description::well_known::Rfc3339)
        .expect("RFC 3339 Expiration");
}

fuzz_target!(|data: &[u8]| {
    // The parser and validator alone.
    let direct = serde_json::from_slice::<wire::ecs::LoadRequest>(data)
        .ok()
        .map(|r| r.validate(now()));
    let accepted = match &direct {
        Some(Ok((_, creds))) => {
            assert!(!creds.access_key_id.is_empty());
            assert!(!creds.secret_access_key.expose_secret().is_empty());
            Some(creds.access_key_id.clone())
        }
        _ => None,
    };

    let (status, _) = call("PUT", "/", data);
    assert!(!status.is_server_error(), "PUT / answered {status}");
    assert_eq!(
        status == StatusCode::OK,
        accepted.is_some(),
        "PUT / answered {status}"
    );
    if let Some(akid) = &accepted {
        served("/", akid);
    }

    let (status, _) = call("PUT", "/slot/fz", data);
    assert!(!status.is_server_error(), "PUT /slot/fz answered {status}");
    if status == StatusCode::OK {
        let req: wire::ecs::LoadRequest = serde_json::from_slice(data).expect("accepted JSON");
        assert!(req.profile_name.is_empty() || req.profile_name == "fz");
        let akid = req
            .creds
            .as_ref()
            .map(|c| c.access_key_id.clone())
            .unwrap_or_default();
        served("/slot/fz", &akid);
    }
});
