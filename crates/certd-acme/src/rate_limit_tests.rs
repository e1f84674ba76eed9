//! The one scripted CA: Pebble has no rate limits, so a 429 `rateLimited` problem document
//! with `Retry-After` is served by hand to prove the mapping end to end (HTTP client,
//! `Retry-After` capture, problem mapping, sink untouched, `Failed` step).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use instant_acme::{BodyWrapper, BytesResponse, HttpClient};
use secrecy::SecretString;

use crate::{
    AccountStore, Acme, AcmeConfig, AcmeError, BoxError, ChallengeSink, Directory, OrderObserver,
    OrderStep,
};

const DIRECTORY: &str = r#"{"newNonce":"https://ca.test/nonce","newAccount":"https://ca.test/account","newOrder":"https://ca.test/order","revokeCert":"https://ca.test/revoke"}"#;

const RATE_LIMITED: &str = r#"{
  "type": "urn:ietf:params:acme:error:rateLimited",
  "detail": "too many certificates (50) already issued for \"certs.test\" in the last 168h0m0s, retry after 2026-01-01 00:00:00 UTC: see https://letsencrypt.org/docs/rate-limits/#new-certificates-per-registered-domain",
  "status": 429
}"#;

struct ScriptedCa;

impl HttpClient for ScriptedCa {
    fn request(
        &self,
        req: Request<BodyWrapper<Bytes>>,
    ) -> Pin<Box<dyn Future<Output = Result<BytesResponse, instant_acme::Error>> + Send>> {
        let rsp = Response::builder().header("Replay-Nonce", "n0nce");
        let rsp = match (req.method().clone(), req.uri().path()) {
            (Method::GET, "/dir") => rsp.status(StatusCode::OK).body(DIRECTORY.into()),
            (Method::HEAD, "/nonce") => rsp.status(StatusCode::OK).body(String::new()),
            (Method::POST, "/account") => rsp
                .status(StatusCode::CREATED)
                .header("Location", "https://ca.test/acct/1")
                .body("{}".into()),
            (Method::POST, "/order") => rsp
                .status(StatusCode::TOO_MANY_REQUESTS)
                .header("Retry-After", "3600")
                .header("Content-Type", "application/problem+json")
                .body(RATE_LIMITED.into()),
            (method, path) => panic!("unexpected {method} {path}"),
        }
        .unwrap()
        .map(|body: String| BodyWrapper::from(body.into_bytes()));
        Box::pin(async move { Ok(BytesResponse::from(rsp)) })
    }
}

#[derive(Debug, Default)]
struct MemoryStore(Mutex<Option<SecretString>>);

impl AccountStore for MemoryStore {
    fn load(&self) -> Result<Option<SecretString>, BoxError> {
        Ok(self.0.lock().unwrap().clone())
    }
    fn save(&self, document: &SecretString) -> Result<(), BoxError> {
        *self.0.lock().unwrap() = Some(document.clone());
        Ok(())
    }
    fn describe(&self) -> String {
        "memory".into()
    }
}

#[derive(Default)]
struct Recorder {
    steps: Mutex<Vec<OrderStep>>,
    txt: Mutex<Vec<String>>,
}

impl OrderObserver for Recorder {
    async fn record(&self, step: &OrderStep) -> Result<(), BoxError> {
        self.steps.lock().unwrap().push(step.clone());
        Ok(())
    }
}

impl ChallengeSink for Recorder {
    fn publish(&self, _fqdn: &str, txt_value: &str) -> Result<(), BoxError> {
        self.txt.lock().unwrap().push(txt_value.to_owned());
        Ok(())
    }
    fn clear(&self, _fqdn: &str, _txt_value: &str) -> Result<(), BoxError> {
        Ok(())
    }
}

fn csr(name: &str) -> Vec<u8> {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(vec![name.to_owned()]).unwrap();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.serialize_request(&key).unwrap().der().to_vec()
}

#[tokio::test]
async fn rate_limited_order_maps_to_rate_limited_with_retry_after() {
    let config = AcmeConfig::new(Directory::Url("https://ca.test/dir".into()));
    let store = MemoryStore::default();
    let acme = Acme::open_with(&config, &store, ScriptedCa).await.unwrap();
    assert_eq!(acme.account_url(), "https://ca.test/acct/1");

    let recorder = Recorder::default();
    let err = acme
        .issue(
            &csr("dev.certs.test"),
            "dev.certs.test",
            &recorder,
            &recorder,
        )
        .await
        .unwrap_err();
    match &err {
        AcmeError::RateLimited {
            detail,
            retry_after,
        } => {
            assert_eq!(*retry_after, Some(Duration::from_secs(3600)));
            assert!(detail.contains("too many certificates (50)"), "{detail}");
        }
        other => panic!("expected RateLimited, got {other:?}"),
    }
    assert_eq!(err.retry_after(), Some(Duration::from_secs(3600)));
    assert!(recorder.txt.lock().unwrap().is_empty(), "nothing published");
    // No order was created, so there is nothing to record.
    assert!(recorder.steps.lock().unwrap().is_empty());
}
