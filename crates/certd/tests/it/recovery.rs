//! Interrupted orders settled at start, housekeeping, and the zone's weekly budget.

use axum::http::StatusCode;
use certd_store::{NewCertificate, NewOrder, OrderState, OrderUpdate};
use serde_json::json;

use crate::harness::{Certd, code};
use crate::issue::{csr_pem, enrolled, signed_post, world};

/// Records like certd, then "dies" right after the challenge is published: the future
/// never completes and the test drops it, as a killed process would leave the order.
struct CrashAfterChallenge {
    inner: certd::acme::StoreObserver,
    crashed: tokio::sync::Notify,
}

impl certd_acme::OrderObserver for CrashAfterChallenge {
    async fn record(&self, step: &certd_acme::OrderStep) -> Result<(), certd_acme::BoxError> {
        self.inner.record(step).await?;
        if matches!(step, certd_acme::OrderStep::ChallengePublished { .. }) {
            self.crashed.notify_one();
            std::future::pending::<()>().await;
        }
        Ok(())
    }
}

#[tokio::test]
async fn an_order_interrupted_after_its_challenge_is_completed_at_start() {
    let w = world().await;
    let certd = &w.certd;
    let (cookie, _, _) = enrolled(certd, "nina", "dev").await;
    let account = certd
        .store
        .get_account_by_username("nina")
        .await
        .unwrap()
        .id;
    let der = pki::csr::csr_from_pem(&csr_pem(&["dev.certs.test"])).unwrap();
    let order = certd
        .store
        .create_order(
            NewOrder {
                account_id: account,
                device_id: None,
                hostname: "dev",
                csr_der: &der,
            },
            time::OffsetDateTime::now_utc(),
        )
        .await
        .unwrap();

    // A first process gets as far as publishing the challenge, then dies.
    let acme = certd_acme::Acme::open(
        &w.acme_config,
        &certd_acme::FileAccountStore::new(w.account_path.clone()),
    )
    .await
    .unwrap();
    let observer = CrashAfterChallenge {
        inner: certd::acme::StoreObserver::new(&certd.state, order.id, account),
        crashed: tokio::sync::Notify::new(),
    };
    tokio::select! {
        r = acme.issue(&der, "dev.certs.test", certd.zone.as_ref(), &observer) => panic!("the order should have been cut short: {r:?}"),
        () = observer.crashed.notified() => {}
    }
    let stored = certd.store.get_order(order.id).await.unwrap();
    assert!(
        !stored.state.is_finished(),
        "interrupted in {:?}",
        stored.state
    );

    // The next start resumes it from the stored URL.
    let recovery = certd::jobs::recover_orders(&certd.state).await.unwrap();
    assert_eq!(
        recovery,
        certd::jobs::Recovery {
            completed: 1,
            failed: 0
        }
    );
    assert_eq!(
        certd.store.get_order(order.id).await.unwrap().state,
        OrderState::Valid
    );
    let list = certd
        .call("GET", "/api/v1/certificates", Some(&cookie), None)
        .await;
    assert_eq!(list.json.as_array().unwrap().len(), 1, "{}", list.json);
    assert!(certd.zone.challenges("dev").is_empty());
}

#[tokio::test]
async fn orders_that_cannot_resume_are_failed_and_their_txt_withdrawn() {
    let certd = Certd::new().await;
    let cookie = certd.user("omar").await;
    certd.hostname_and_key(&cookie, "box").await;
    let account = certd
        .store
        .get_account_by_username("omar")
        .await
        .unwrap()
        .id;
    let now = time::OffsetDateTime::now_utc();
    let der = b"not used";
    let never_created = certd
        .store
        .create_order(
            NewOrder {
                account_id: account,
                device_id: None,
                hostname: "box",
                csr_der: der,
            },
            now,
        )
        .await
        .unwrap();
    let published = certd
        .store
        .create_order(
            NewOrder {
                account_id: account,
                device_id: None,
                hostname: "box",
                csr_der: der,
            },
            now,
        )
        .await
        .unwrap();
    let update = OrderUpdate {
        state: OrderState::ChallengePublished,
        acme_order_url: Some("https://127.0.0.1:9/acme/order/gone".into()),
        challenge_txt: Some("txt-value-of-a-dead-order".into()),
        error: None,
    };
    certd
        .store
        .update_order(published.id, &OrderState::Pending, &update, now)
        .await
        .unwrap();
    certd
        .zone
        .set_challenge("box", "txt-value-of-a-dead-order")
        .unwrap();

    // No CA is configured here: nothing can resume, everything must fail cleanly.
    let recovery = certd::jobs::recover_orders(&certd.state).await.unwrap();
    assert_eq!(
        recovery,
        certd::jobs::Recovery {
            completed: 0,
            failed: 2
        }
    );
    for id in [never_created.id, published.id] {
        let o = certd.store.get_order(id).await.unwrap();
        assert!(
            matches!(o.state, OrderState::Failed { .. }),
            "{:?}",
            o.state
        );
    }
    assert!(
        certd.zone.challenges("box").is_empty(),
        "the dead order's TXT is withdrawn"
    );
    assert!(
        certd
            .store
            .list_unfinished_orders()
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn housekeeping_prunes_old_nonces_and_sessions() {
    let certd = Certd::new().await;
    let cookie = certd.user("pia").await;
    let key = certd.hostname_and_key(&cookie, "pia-box").await;
    let device = pki::request_signing::DeviceKey::generate().unwrap();
    let pk = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        device.public_key(),
    );
    let r = certd
        .call(
            "POST",
            "/api/v1/enroll",
            None,
            Some(json!({"api_key": key, "public_key": pk})),
        )
        .await;
    let id = certd_store::DeviceId(r.json["device_id"].as_i64().unwrap());
    let at = time::OffsetDateTime::from_unix_timestamp(certd.now()).unwrap();
    certd.store.use_nonce(id, "old", at).await.unwrap();
    certd.advance(13 * 3600);
    let (nonces, sessions) = certd::jobs::housekeeping(&certd.state).await.unwrap();
    assert_eq!((nonces, sessions), (1, 1));
}

#[tokio::test]
async fn the_weekly_budget_of_the_zone_is_enforced_before_the_ca() {
    let certd = Certd::new().await;
    let (_, device, id) = enrolled(&certd, "quinn", "q-box").await;
    let account = certd
        .store
        .get_account_by_username("quinn")
        .await
        .unwrap()
        .id;
    let now = time::OffsetDateTime::from_unix_timestamp(certd.now()).unwrap();
    for i in 0..50 {
        let serial = format!("{i:040x}");
        let cert = NewCertificate {
            serial: &serial,
            account_id: account,
            hostname: "q-box",
            order_id: None,
            replaces: None,
            not_before: now,
            not_after: now + time::Duration::days(90),
            chain_pem: "-",
        };
        certd.store.insert_certificate(cert, now).await.unwrap();
    }
    let body = json!({"csr": csr_pem(&["q-box.certs.test"])}).to_string();
    let r = certd
        .send(signed_post(&device, id, certd.now(), "b1", &body))
        .await;
    assert_eq!(
        (r.status, code(&r)),
        (StatusCode::TOO_MANY_REQUESTS, "CD8002"),
        "{}",
        r.json
    );
    assert!(r.headers.contains_key("retry-after"));
    assert!(
        r.json["error"]["message"]
            .as_str()
            .unwrap()
            .contains("50 of 50")
    );
    assert!(
        certd
            .store
            .list_unfinished_orders()
            .await
            .unwrap()
            .is_empty(),
        "no order placed"
    );
}
