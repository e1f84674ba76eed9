//! The main path: a CSR goes in, a chain that verifies against Pebble's root and names
//! exactly the FQDN comes out, every step is recorded, and the TXT is gone afterwards.
//! Pebble rejects 5 % of good nonces here (its default): instant-acme's retries carry it.

use std::time::Instant;

use certd_acme::{Acme, OrderStep};

use crate::harness::{FQDN, Recorder, World, csr};

/// The steps of an order that runs from creation to a certificate, in order.
const EVERY_STEP: [&str; 5] = [
    "created",
    "challenge_published",
    "ready",
    "finalized",
    "valid",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csr_in_verified_chain_out_and_txt_gone() {
    let world = World::start().await;
    let t0 = Instant::now();
    let acme = Acme::open(&world.config(), &world.store()).await.unwrap();
    let opened = t0.elapsed();

    let recorder = Recorder::new();
    let csr_der = csr(&[FQDN]);
    let t1 = Instant::now();
    let issued = acme
        .issue(&csr_der, FQDN, &*world.zone, &recorder)
        .await
        .unwrap();
    let took = t1.elapsed();

    // The chain: verifies against Pebble's issuer root, names exactly the FQDN.
    world.openssl_verify(&issued.chain_pem);
    let chain = pki::parse_cert_chain(&issued.chain_pem).unwrap();
    let info = pki::cert_info(&chain[0]).unwrap();
    assert_eq!(info.dns_names, vec![FQDN.to_owned()]);
    assert!(info.ip_addresses.is_empty());
    assert_eq!(info.serial_hex, issued.leaf.serial_hex);
    assert_eq!(issued.order_url, recorder.order_url());

    // Every step, in order; the TXT value recorded was the one the CA validated.
    assert_eq!(recorder.names(), EVERY_STEP);
    assert!(
        matches!(recorder.last(), OrderStep::Valid { ref serial_hex, .. } if *serial_hex == info.serial_hex)
    );

    // The TXT is withdrawn: the DNS answers nothing, the zone holds nothing.
    assert!(world.txt(FQDN).await.is_empty());
    assert!(world.zone.challenges("dev").is_empty());

    // Timing, for the report.
    let steps = recorder.steps.lock().unwrap().clone();
    let mut line = format!("account open {opened:?}; issuance {took:?}:");
    let mut prev = t1;
    for (step, at) in steps.iter() {
        line.push_str(&format!(" {} +{:?}", step.name(), at.duration_since(prev)));
        prev = *at;
    }
    line.push_str(&format!(" end +{:?}", (t1 + took).duration_since(prev)));
    eprintln!("{line}; badNonce retries: {}", acme.bad_nonces_seen());

    // The same with the production polling policy (first look after 5 ms).
    let mut config = world.config();
    config.poll = certd_acme::DEFAULT_POLL;
    let acme = Acme::open(&config, &world.store()).await.unwrap();
    let t2 = Instant::now();
    acme.issue(&csr(&[FQDN]), FQDN, &*world.zone, &())
        .await
        .unwrap();
    eprintln!("issuance with DEFAULT_POLL: {:?}", t2.elapsed());
}

/// Pebble's default 5 % nonce rejection is left on; orders keep succeeding and the count
/// shows instant-acme retried. Issues until at least one `badNonce` was seen (P(none in 15
/// orders of ~10 POSTs) ≈ 0.05 %).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_nonces_are_retried() {
    let world = World::start().await;
    let acme = Acme::open(&world.config(), &world.store()).await.unwrap();
    let mut orders = 0;
    while acme.bad_nonces_seen() == 0 && orders < 15 {
        acme.issue(&csr(&[FQDN]), FQDN, &*world.zone, &())
            .await
            .unwrap();
        orders += 1;
    }
    assert!(
        acme.bad_nonces_seen() > 0,
        "no badNonce in {orders} orders: is PEBBLE_WFE_NONCEREJECT off?"
    );
    eprintln!(
        "{} badNonce answers retried over {orders} orders",
        acme.bad_nonces_seen()
    );
    assert!(world.zone.challenges("dev").is_empty());
}

/// Pebble refusing half of all good nonces: instant-acme's three tries per request fail
/// for one request in eight, so without sending refused requests again whole, an order of
/// about ten requests would fail most of the time (all three orders here succeeding: about
/// 2 %). With it, every step (account, order, authorizations, challenge, polls, finalize,
/// deactivation, revocation) gets through; each order is recorded once per step.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_get_through_a_ca_that_refuses_half_the_nonces() {
    let world = World::start_with(testkit::pebble::PebbleOptions {
        nonce_reject_percent: Some(50),
        ..testkit::pebble::PebbleOptions::default()
    })
    .await;
    let acme = Acme::open(&world.config(), &world.store()).await.unwrap();
    let mut last = None;
    for _ in 0..3 {
        let recorder = Recorder::new();
        let issued = acme
            .issue(&csr(&[FQDN]), FQDN, &*world.zone, &recorder)
            .await
            .unwrap();
        assert_eq!(recorder.names(), EVERY_STEP);
        last = Some(issued);
    }
    let issued = last.unwrap();
    let chain = pki::parse_cert_chain(&issued.chain_pem).unwrap();
    acme.revoke(chain[0].as_ref(), certd_acme::RevocationReason::Superseded)
        .await
        .unwrap();
    assert!(
        acme.bad_nonces_seen() >= 10,
        "only {} badNonce answers: is PEBBLE_WFE_NONCEREJECT at 50?",
        acme.bad_nonces_seen()
    );
    eprintln!("{} badNonce answers over 3 orders", acme.bad_nonces_seen());
    assert!(world.zone.challenges("dev").is_empty());
}

/// Pebble here reuses every valid authorization (as Let's Encrypt does for 30 days): if
/// the first order's authorization stayed valid, the second order would be ready without
/// any challenge, and so would an order placed by whoever copied the ACME account key.
/// Deactivated after issuance, the second order must publish a TXT in our DNS again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authorizations_are_deactivated_after_issuance() {
    let world = World::start_with(testkit::pebble::PebbleOptions {
        authz_reuse_percent: Some(100),
        // No nonce rejections: this test is about authorizations, not retries.
        nonce_reject_percent: Some(0),
        ..testkit::pebble::PebbleOptions::default()
    })
    .await;
    let acme = Acme::open(&world.config(), &world.store()).await.unwrap();
    for round in ["first", "second"] {
        let recorder = Recorder::new();
        acme.issue(&csr(&[FQDN]), FQDN, &*world.zone, &recorder)
            .await
            .unwrap();
        assert_eq!(
            recorder.names(),
            EVERY_STEP,
            "{round} order: an authorization was reused"
        );
    }
}
