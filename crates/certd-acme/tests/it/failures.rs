//! Orders that fail: each with a specific error, a `Failed` step, and no TXT left behind.

use std::time::Duration;

use certd_acme::{Acme, AcmeConfig, AcmeError, Directory, OrderStep, RetryPolicy};

use crate::harness::{Act, FQDN, Recorder, WRONG_VALUE, World, WrongValueSink, csr};

/// A name not registered in the zone: the zone refuses the TXT, the CA never validates.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unregistered_name_fails_clearly_and_leaves_no_txt() {
    let world = World::start().await;
    let acme = Acme::open(&world.config(), &world.store()).await.unwrap();
    let ghost = "ghost.certs.test";
    let recorder = Recorder::new();
    let err = acme
        .issue(&csr(&[ghost]), ghost, &*world.zone, &recorder)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, AcmeError::ChallengePublish { fqdn, .. } if fqdn == ghost),
        "{err:?}"
    );
    assert!(err.to_string().contains("not registered"), "{err}");
    assert_eq!(recorder.names(), ["created", "failed"]);
    assert!(
        matches!(recorder.last(), OrderStep::Failed { ref kind, .. } if kind == "challenge_publish")
    );
    assert!(world.txt(ghost).await.is_empty());
}

/// The CA finds another TXT value than the right one: validation fails with the CA's
/// detail, and the (wrong) value is withdrawn.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validation_failure_carries_the_cas_detail_and_clears_the_txt() {
    let world = World::start().await;
    let acme = Acme::open(&world.config(), &world.store()).await.unwrap();
    let recorder = Recorder::new();
    let sink = WrongValueSink(&world.zone);
    let err = acme
        .issue(&csr(&[FQDN]), FQDN, &sink, &recorder)
        .await
        .unwrap_err();
    match &err {
        AcmeError::ValidationFailed {
            fqdn,
            problem,
            detail,
        } => {
            assert_eq!(fqdn, FQDN);
            assert_eq!(problem.as_deref(), Some("unauthorized"), "{detail}");
            assert!(!detail.is_empty());
        }
        other => panic!("expected ValidationFailed, got {other:?}"),
    }
    eprintln!("validation failure as users see it: {err}");
    assert_eq!(
        recorder.names(),
        ["created", "challenge_published", "failed"]
    );
    assert!(world.txt(FQDN).await.is_empty());
    assert!(
        !world
            .zone
            .challenges("dev")
            .contains(&WRONG_VALUE.to_owned())
    );
}

/// The observer cannot store a step (injected failure) right after the TXT went out: the
/// order stops, the TXT is withdrawn, `Failed` is still attempted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn observer_failure_stops_the_order_and_clears_the_txt() {
    let world = World::start().await;
    let acme = Acme::open(&world.config(), &world.store()).await.unwrap();
    let recorder = Recorder::acting("challenge_published", Act::Fail);
    let err = acme
        .issue(&csr(&[FQDN]), FQDN, &*world.zone, &recorder)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            AcmeError::Observer {
                step: "challenge_published",
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        recorder.names(),
        ["created", "challenge_published", "failed"]
    );
    assert!(world.txt(FQDN).await.is_empty());
    assert!(world.zone.challenges("dev").is_empty());
}

/// A CSR that names something else is refused before any order exists.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csr_for_other_names_is_refused_before_ordering() {
    let world = World::start().await;
    let acme = Acme::open(&world.config(), &world.store()).await.unwrap();
    let recorder = Recorder::new();
    for names in [&["evil.certs.test"][..], &[FQDN, "evil.certs.test"][..]] {
        let err = acme
            .issue(&csr(names), FQDN, &*world.zone, &recorder)
            .await
            .unwrap_err();
        assert!(matches!(err, AcmeError::BadCsr { .. }), "{err:?}");
    }
    assert!(recorder.names().is_empty());
    assert!(!world.pebble.log().contains("order-plz -> calling"));
}

/// Nobody listens at the directory URL: a connection error, quickly.
#[tokio::test]
async fn unreachable_ca_is_a_connection_error() {
    let port = testkit::free_port();
    let mut config = AcmeConfig::new(Directory::Url(format!("https://127.0.0.1:{port}/dir")));
    config.request_timeout = Duration::from_secs(2);
    let dir = tempfile::tempdir().unwrap();
    let store = certd_acme::FileAccountStore::new(dir.path().join("a.json"));
    let err = Acme::open(&config, &store).await.unwrap_err();
    assert!(matches!(err, AcmeError::Connection { .. }), "{err:?}");
    eprintln!("{err}");
}

/// Polling runs out (a policy far shorter than validation): a timeout, and the TXT is
/// withdrawn.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polling_that_runs_out_is_a_timeout_and_clears_the_txt() {
    let world = World::start().await;
    let mut config = world.config();
    config.poll = RetryPolicy::new()
        .initial_delay(Duration::from_millis(5))
        .timeout(Duration::from_millis(1));
    let acme = Acme::open(&config, &world.store()).await.unwrap();
    let recorder = Recorder::new();
    let err = acme
        .issue(&csr(&[FQDN]), FQDN, &*world.zone, &recorder)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            AcmeError::Timeout {
                waiting_for: "the CA to validate the challenge"
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        recorder.names(),
        ["created", "challenge_published", "failed"]
    );
    assert!(world.txt(FQDN).await.is_empty());
}
