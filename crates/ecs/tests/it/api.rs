//! The ECS API driven in-process through the router: statuses, envelopes, auth, state.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

use crate::{TOKEN, TestClock, load_body, token};

struct Api {
    app: axum::Router,
    clock: TestClock,
}

impl Api {
    fn new() -> Self {
        let clock = TestClock::new();
        let state = ecs::AppState::new(Some(token()), clock.clock(), None);
        Api {
            app: ecs::router(state),
            clock,
        }
    }

    async fn send(
        &self,
        method: &str,
        path: &str,
        body: Option<String>,
        auth: Option<&str>,
    ) -> (StatusCode, Value) {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(a) = auth {
            req = req.header("Authorization", a);
        }
        let req = req
            .body(body.map(Body::from).unwrap_or_else(Body::empty))
            .unwrap();
        let resp = self.app.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        let json = serde_json::from_slice(&bytes)
            .unwrap_or(Value::String(String::from_utf8_lossy(&bytes).into()));
        (status, json)
    }

    async fn call(&self, method: &str, path: &str, body: Option<String>) -> (StatusCode, Value) {
        self.send(method, path, body, Some(&format!("Bearer {TOKEN}")))
            .await
    }
}

fn message(code: u16, text: &str) -> Value {
    serde_json::json!({"code": code.to_string(), "message": text})
}

#[tokio::test]
async fn load_then_serve_default_credentials() {
    let api = Api::new();
    assert_eq!(
        api.call("GET", "/", None).await,
        (
            StatusCode::NOT_FOUND,
            message(404, "Credentials unavailable")
        )
    );
    let body = load_body("dev", "ASIADEFAULT", api.clock.now(), 3600);
    assert_eq!(
        api.call("PUT", "/", Some(body)).await,
        (StatusCode::OK, message(200, "OK"))
    );
    let (status, json) = api.call("GET", "/?x=1", None).await;
    assert_eq!(status, StatusCode::OK, "a query string on / is fine");
    assert_eq!(json["AccessKeyId"], "ASIADEFAULT");
    assert_eq!(json["SecretAccessKey"], "secret-ASIADEFAULT");
    assert_eq!(json["Token"], "token-ASIADEFAULT");
    assert!(json["Expiration"].as_str().unwrap().ends_with('Z'));
    let (status, json) = api.call("GET", "/profile", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json["ProfileName"], "dev");
    assert_eq!(json["AccountId"], "000000000042");
}

#[tokio::test]
async fn delete_default_then_get_is_a_clean_404() {
    let api = Api::new();
    api.call(
        "PUT",
        "/",
        Some(load_body("dev", "ASIA1", api.clock.now(), 3600)),
    )
    .await;
    assert_eq!(api.call("DELETE", "/", None).await.0, StatusCode::OK);
    assert_eq!(api.call("GET", "/", None).await.0, StatusCode::NOT_FOUND);
    assert_eq!(
        api.call("GET", "/profile", None).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(api.call("DELETE", "/", None).await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn credentials_near_expiry_are_not_served() {
    let api = Api::new();
    api.call(
        "PUT",
        "/",
        Some(load_body("dev", "ASIA1", api.clock.now(), 120)),
    )
    .await;
    assert_eq!(api.call("GET", "/", None).await.0, StatusCode::OK);
    api.clock.advance(61);
    assert_eq!(
        api.call("GET", "/", None).await,
        (StatusCode::NOT_FOUND, message(404, "Credentials expired"))
    );
}

#[tokio::test]
async fn slots_are_named_by_the_path_and_escaped() {
    let api = Api::new();
    let now = api.clock.now();
    let body = load_body("000042:Admin Role", "ASIASLOT", now, 3600);
    let (s, _) = api
        .call("PUT", "/slot/000042:Admin%20Role", Some(body))
        .await;
    assert_eq!(s, StatusCode::OK);
    // The body may leave ProfileName out: the path names the slot.
    let body = load_body("", "ASIAOTHER", now, 3600);
    assert_eq!(
        api.call("PUT", "/slot/other", Some(body)).await.0,
        StatusCode::OK
    );
    let (s, json) = api.call("GET", "/slot/000042:Admin%20Role", None).await;
    assert_eq!(
        (s, json["AccessKeyId"].as_str()),
        (StatusCode::OK, Some("ASIASLOT"))
    );
    let (_, list) = api.call("GET", "/slot", None).await;
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["ProfileName"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["000042:Admin Role", "other"]);
    // A body naming another profile than the path is refused and changes nothing.
    let body = load_body("mismatch", "ASIABAD", now, 3600);
    let (s, json) = api.call("PUT", "/slot/other", Some(body)).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(
        json["message"]
            .as_str()
            .unwrap()
            .contains("differs from ProfileName")
    );
    assert_eq!(
        api.call("GET", "/slot/other", None).await.1["AccessKeyId"],
        "ASIAOTHER"
    );
    assert_eq!(
        api.call("DELETE", "/slot/other", None).await.0,
        StatusCode::OK
    );
    assert_eq!(
        api.call("GET", "/slot/other", None).await,
        (
            StatusCode::NOT_FOUND,
            message(404, "No credentials loaded for profile \"other\"")
        )
    );
    assert_eq!(api.call("DELETE", "/slot", None).await.0, StatusCode::OK);
    assert_eq!(
        api.call("GET", "/slot", None).await.1,
        serde_json::json!([])
    );
}

#[tokio::test]
async fn wrong_or_missing_token_gets_nothing() {
    let api = Api::new();
    api.call(
        "PUT",
        "/",
        Some(load_body("dev", "ASIA1", api.clock.now(), 3600)),
    )
    .await;
    let forbidden = (
        StatusCode::FORBIDDEN,
        message(403, "Invalid authorization token"),
    );
    assert_eq!(
        api.send("GET", "/", None, Some("Bearer wrong")).await,
        forbidden
    );
    assert_eq!(api.send("GET", "/", None, Some(TOKEN)).await, forbidden);
    assert_eq!(
        api.send("GET", "/slot", None, Some(&format!("bearer {TOKEN}")))
            .await,
        forbidden
    );
    let (s, json) = api.send("GET", "/", None, None).await;
    assert_eq!(
        (s, json["message"].as_str()),
        (StatusCode::FORBIDDEN, Some("Missing authorization token"))
    );
    // Writes are refused too, and change nothing.
    let body = load_body("evil", "ASIAEVIL", api.clock.now(), 3600);
    assert_eq!(
        api.send("PUT", "/", Some(body), Some("Bearer nope"))
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        api.send("DELETE", "/", None, None).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(api.call("GET", "/", None).await.1["AccessKeyId"], "ASIA1");
    // Unknown paths do not reveal themselves without the token either.
    assert_eq!(
        api.send("GET", "/nope", None, None).await.0,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn healthcheck_needs_no_token() {
    let api = Api::new();
    assert_eq!(
        api.send("GET", "/healthcheck", None, None).await,
        (StatusCode::OK, message(200, "OK"))
    );
    assert_eq!(
        api.send("GET", "/healthcheck/slot/dev", None, None).await.0,
        StatusCode::NOT_FOUND
    );
    api.call(
        "PUT",
        "/slot/dev",
        Some(load_body("dev", "ASIA1", api.clock.now(), 3600)),
    )
    .await;
    assert_eq!(
        api.send("GET", "/healthcheck/slot/dev", None, None).await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn bad_input_gets_a_clear_error_and_changes_nothing() {
    let api = Api::new();
    let now = api.clock.now();
    api.call("PUT", "/", Some(load_body("dev", "ASIAKEEP", now, 3600)))
        .await;
    let cases: Vec<(String, StatusCode, &str)> = vec![
        (
            "{not json".into(),
            StatusCode::BAD_REQUEST,
            "Invalid JSON body",
        ),
        (
            r#"{"ProfileName":"x"}"#.into(),
            StatusCode::BAD_REQUEST,
            "missing Creds block",
        ),
        (
            r#"{"Creds":{}}"#.into(),
            StatusCode::BAD_REQUEST,
            "missing ProfileName",
        ),
        (
            r#"{"ProfileName":"x","Creds":{"accessKeyId":"A"}}"#.into(),
            StatusCode::BAD_REQUEST,
            "missing Creds.secretAccessKey",
        ),
        (
            r#"{"ProfileName":"x","Creds":{"accessKeyId":"A","secretAccessKey":"s","bogus":1}}"#
                .into(),
            StatusCode::BAD_REQUEST,
            "unknown field `bogus`",
        ),
        (
            load_body("x", "ASIAOLD", now, -10),
            StatusCode::BAD_REQUEST,
            "credentials expired at",
        ),
        (
            load_body("x", "ASIAOLD", now, 30),
            StatusCode::BAD_REQUEST,
            "credentials expired at",
        ),
        (
            format!(r#"{{"ProfileName":"{}"}}"#, "x".repeat(70_000)),
            StatusCode::PAYLOAD_TOO_LARGE,
            "larger than 65536 bytes",
        ),
    ];
    for (body, status, text) in cases {
        let (s, json) = api.call("PUT", "/", Some(body.clone())).await;
        assert_eq!(s, status, "{}", &body[..body.len().min(80)]);
        let msg = json["message"].as_str().unwrap_or_default();
        assert!(msg.contains(text), "{msg:?} should contain {text:?}");
        assert_eq!(json["code"], status.as_u16().to_string());
    }
    assert_eq!(
        api.call("GET", "/", None).await.1["AccessKeyId"],
        "ASIAKEEP"
    );
    assert_eq!(
        api.call("GET", "/slot", None).await.1,
        serde_json::json!([])
    );
    let (s, json) = api.call("POST", "/", None).await;
    assert_eq!(
        (s, json["message"].as_str()),
        (
            StatusCode::METHOD_NOT_ALLOWED,
            Some("Method POST not allowed here")
        )
    );
    assert_eq!(
        api.call("GET", "/nope", None).await.0,
        StatusCode::NOT_FOUND
    );
}
