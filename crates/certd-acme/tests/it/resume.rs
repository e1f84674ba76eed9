//! A restart in the middle of an order: the first client "dies" right after recording a
//! step (its future is dropped while the observer stalls); a fresh client opened from the
//! same account file resumes from the stored order URL and completes. Orders the CA
//! invalidated or never knew fail cleanly.

use certd_acme::{Acme, AcmeError, OrderStep};

use crate::harness::{Act, FQDN, Recorder, World, WrongValueSink, csr};

/// Runs an order until `step` is recorded, then drops everything (the crash); returns the
/// stored order URL.
async fn crash_at(world: &World, csr_der: &[u8], step: &'static str) -> String {
    let acme = Acme::open(&world.config(), &world.store()).await.unwrap();
    let recorder = Recorder::acting(step, Act::Stall);
    tokio::select! {
        result = acme.issue(csr_der, FQDN, &*world.zone, &recorder) => {
            panic!("the order ended before {step}: {result:?}")
        }
        () = recorder.reached.notified() => {}
    }
    assert_eq!(recorder.last().name(), step);
    // A real restart also loses the in-memory zone; the dropped order withdrew its TXT.
    assert!(world.zone.challenges("dev").is_empty());
    recorder.order_url()
}

async fn resume_completes_after(step: &'static str, expected: &[&str]) {
    let world = World::start().await;
    let csr_der = csr(&[FQDN]);
    let order_url = crash_at(&world, &csr_der, step).await;

    let acme = Acme::open(&world.config(), &world.store()).await.unwrap();
    let recorder = Recorder::new();
    let issued = acme
        .resume(&order_url, &csr_der, FQDN, &*world.zone, &recorder)
        .await
        .unwrap();
    assert_eq!(issued.order_url, order_url);
    assert_eq!(recorder.names(), expected);
    world.openssl_verify(&issued.chain_pem);
    assert!(world.txt(FQDN).await.is_empty());
    assert_eq!(world.pebble.account_count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_after_challenge_published_resumes_to_a_chain() {
    // The CA was not told to validate yet: the TXT is published again, then validated.
    resume_completes_after(
        "challenge_published",
        &["challenge_published", "ready", "finalized", "valid"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_after_ready_resumes_to_a_chain() {
    resume_completes_after("ready", &["finalized", "valid"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_after_finalized_resumes_to_a_chain() {
    resume_completes_after("finalized", &["valid"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resuming_an_invalid_order_fails_cleanly() {
    let world = World::start().await;
    let acme = Acme::open(&world.config(), &world.store()).await.unwrap();
    let csr_der = csr(&[FQDN]);
    let first = Recorder::new();
    acme.issue(&csr_der, FQDN, &WrongValueSink(&world.zone), &first)
        .await
        .unwrap_err();

    let recorder = Recorder::new();
    let err = acme
        .resume(&first.order_url(), &csr_der, FQDN, &*world.zone, &recorder)
        .await
        .unwrap_err();
    assert!(matches!(err, AcmeError::ValidationFailed { .. }), "{err:?}");
    assert_eq!(recorder.names(), ["failed"]);
    assert!(world.txt(FQDN).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resuming_an_unknown_order_fails_cleanly() {
    let world = World::start().await;
    let acme = Acme::open(&world.config(), &world.store()).await.unwrap();
    let bogus = world
        .pebble
        .directory_url()
        .replace("/dir", "/my-order/does-not-exist");
    let recorder = Recorder::new();
    let err = acme
        .resume(&bogus, &csr(&[FQDN]), FQDN, &*world.zone, &recorder)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, AcmeError::OrderFailed { order_url, .. } if *order_url == bogus),
        "{err:?}"
    );
    assert!(
        matches!(recorder.last(), OrderStep::Failed { ref kind, .. } if kind == "order_failed")
    );
    assert!(world.txt(FQDN).await.is_empty());
}
