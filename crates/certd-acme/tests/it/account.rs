//! The account: created once, stored 0600, reused after a restart (Pebble sees one);
//! External Account Binding when the CA requires it; a stored account of another CA is
//! refused rather than silently replaced.

use std::os::unix::fs::PermissionsExt;

use certd_acme::{Acme, AcmeError, Directory, ExternalAccountBinding};
use testkit::pebble::PebbleOptions;

use crate::harness::World;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn account_is_created_once_and_reused() {
    let world = World::start().await;
    assert_eq!(world.pebble.account_count(), 0);
    let first = Acme::open(&world.config(), &world.store()).await.unwrap();
    let url = first.account_url().to_owned();
    assert!(url.starts_with("https://127.0.0.1:"), "{url}");
    drop(first);

    let mode = std::fs::metadata(world.account_path())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let text = std::fs::read_to_string(world.account_path()).unwrap();
    assert!(text.contains(&url));

    let second = Acme::open(&world.config(), &world.store()).await.unwrap();
    assert_eq!(second.account_url(), url);
    assert_eq!(world.pebble.account_count(), 1, "{}", world.pebble.log());
    // The restored account works: it can order.
    second
        .issue(
            &crate::harness::csr(&[crate::harness::FQDN]),
            crate::harness::FQDN,
            &*world.zone,
            &(),
        )
        .await
        .unwrap();
    assert_eq!(world.pebble.account_count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stored_account_of_another_directory_is_refused() {
    let world = World::start().await;
    Acme::open(&world.config(), &world.store()).await.unwrap();
    let mut other = world.config();
    other.directory = Directory::LetsEncryptStaging;
    match Acme::open(&other, &world.store()).await {
        Err(AcmeError::AccountDirectoryMismatch { stored, configured }) => {
            assert_eq!(stored, world.pebble.directory_url());
            assert_eq!(configured, Directory::LetsEncryptStaging.url());
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn external_account_binding_when_required() {
    const KEY: &str = "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W";
    let world = World::start_with(PebbleOptions {
        eab_keys: vec![("kid-1".into(), KEY.into())],
        ..PebbleOptions::default()
    })
    .await;

    let err = Acme::open(&world.config(), &world.store())
        .await
        .unwrap_err();
    assert!(
        matches!(err, AcmeError::ExternalAccountRequired { .. }),
        "{err:?}"
    );
    assert!(!world.account_path().exists(), "nothing stored on failure");

    let mut config = world.config();
    config.external_account = Some(ExternalAccountBinding::from_base64url("kid-1", KEY).unwrap());
    let acme = Acme::open(&config, &world.store()).await.unwrap();
    assert_eq!(world.pebble.account_count(), 1);
    assert!(!format!("{config:?}").contains(KEY));
    drop(acme);
}
