//! Revocation shows in Pebble's certificate status; revoking twice says so. ARI: Pebble
//! 2.4 has no `renewalInfo` endpoint, which surfaces as `Unsupported`.

use certd_acme::{Acme, AcmeError, RevocationReason};

use crate::harness::{FQDN, World, csr, leaf_der};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocation_shows_in_pebbles_cert_status() {
    let world = World::start().await;
    let acme = Acme::open(&world.config(), &world.store()).await.unwrap();
    let issued = acme
        .issue(&csr(&[FQDN]), FQDN, &*world.zone, &())
        .await
        .unwrap();
    let serial = issued.leaf.serial_hex.clone();
    let status = world.pebble.cert_status(&serial);
    assert_eq!(status["Status"], "Valid", "{status}");

    let der = leaf_der(&issued.chain_pem);
    acme.revoke(&der, RevocationReason::Superseded)
        .await
        .unwrap();
    let status = world.pebble.cert_status(&serial);
    assert_eq!(status["Status"], "Revoked", "{status}");
    assert_eq!(status["Reason"], 4, "{status}");

    let again = acme
        .revoke(&der, RevocationReason::Superseded)
        .await
        .unwrap_err();
    assert!(
        matches!(again, AcmeError::AlreadyRevoked { .. }),
        "{again:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renewal_window_is_unsupported_by_pebble_2_4() {
    let world = World::start().await;
    let acme = Acme::open(&world.config(), &world.store()).await.unwrap();
    let issued = acme
        .issue(&csr(&[FQDN]), FQDN, &*world.zone, &())
        .await
        .unwrap();
    let err = acme
        .renewal_window(&leaf_der(&issued.chain_pem))
        .await
        .unwrap_err();
    assert!(matches!(err, AcmeError::Unsupported { .. }), "{err:?}");
}
