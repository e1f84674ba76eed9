//! The server over real sockets: TLS with the typed client pinned to the served
//! certificate, refusal of any other certificate, and graceful shutdown.

use std::time::Duration;

use rcgen::{CertificateParams, KeyPair};
use secrecy::SecretString;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use crate::{TOKEN, TestClock, token};

struct Running {
    url: String,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

fn cert(name: &str) -> (String, String) {
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec![name.to_owned(), "127.0.0.1".to_owned()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    (cert.pem(), key.serialize_pem())
}

async fn start(tls: Option<&pki::ServingKey>, clock: &TestClock) -> Running {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let state = ecs::AppState::new(Some(token()), clock.clock(), None);
    let opts = ecs::ServeOptions {
        tls: tls.map(|k| ecs::server_config(k).unwrap()),
        ..Default::default()
    };
    let (stop, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(ecs::serve(listener, ecs::router(state), opts, async {
        let _ = rx.await;
    }));
    let scheme = if tls.is_some() { "https" } else { "http" };
    Running {
        url: format!("{scheme}://{addr}"),
        stop: Some(stop),
        task,
    }
}

fn auth() -> Option<SecretString> {
    Some(SecretString::from(format!("Bearer {TOKEN}")))
}

#[tokio::test]
async fn tls_client_pinned_to_the_served_certificate_loads_and_lists() {
    let (cert_pem, key_pem) = cert("ecs.example.test");
    let key = pki::ServingKey::from_pem(&cert_pem, &key_pem).unwrap();
    let clock = TestClock::new();
    let mut srv = start(Some(&key), &clock).await;
    let client = ecs::EcsClient::new(&srv.url, auth(), Some(key.leaf().clone())).unwrap();
    client.health().await.unwrap();
    let body: wire::ecs::LoadRequest =
        serde_json::from_str(&crate::load_body("dev", "ASIATLS", clock.now(), 3600)).unwrap();
    client.load(Some("dev"), &body).await.unwrap();
    let list = client.list().await.unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].profile_name, "dev");
    client.unload(Some("dev")).await.unwrap();
    let err = client.unload(Some("dev")).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("No credentials loaded for profile \"dev\""),
        "{err}"
    );

    // The server stops when asked, and then nobody connects.
    srv.stop.take().unwrap().send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), &mut srv.task)
        .await
        .unwrap()
        .unwrap();
    assert!(client.health().await.is_err());
}

#[tokio::test]
async fn client_refuses_any_other_certificate() {
    let (cert_pem, key_pem) = cert("ecs.example.test");
    let key = pki::ServingKey::from_pem(&cert_pem, &key_pem).unwrap();
    let (other_pem, other_key) = cert("ecs.example.test");
    let other = pki::ServingKey::from_pem(&other_pem, &other_key).unwrap();
    let clock = TestClock::new();
    let srv = start(Some(&key), &clock).await;
    let client = ecs::EcsClient::new(&srv.url, auth(), Some(other.leaf().clone())).unwrap();
    let err = client.health().await.unwrap_err().to_string();
    assert!(
        err.contains("cannot reach the ECS server") && err.to_lowercase().contains("certificate"),
        "{err}"
    );
    // And HTTPS without any certificate to trust is refused before connecting.
    let err = ecs::EcsClient::new(&srv.url, auth(), None).unwrap_err();
    assert!(matches!(err, ecs::ClientError::NoCertificate));
}

#[tokio::test]
async fn wrong_token_over_the_wire_is_refused_with_the_envelope() {
    let clock = TestClock::new();
    let srv = start(None, &clock).await;
    let client = ecs::EcsClient::new(
        &srv.url,
        Some(SecretString::from("Bearer nope".to_owned())),
        None,
    )
    .unwrap();
    let err = client.list().await.unwrap_err();
    match err {
        ecs::ClientError::Status { status, message } => {
            assert_eq!(status.as_u16(), 403);
            assert_eq!(message, "Invalid authorization token");
        }
        other => panic!("unexpected {other}"),
    }
}
