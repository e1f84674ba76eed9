//! The OS keyring backend. With `AWS_SSO_TEST_KEYRING=1` (see `tests/run-keyring-test.sh`)
//! the keyring must be reachable and pass the conformance battery; otherwise, without a
//! session bus, it must report `KeyringUnavailable` cleanly and `open` must fall back to
//! the file store.

use std::path::Path;

use securestore::{KeyringStore, PasswordSource, StoreConfig, StoreError, open};

fn keyring_required() -> bool {
    std::env::var_os("AWS_SSO_TEST_KEYRING").is_some_and(|v| v == "1")
}

/// zbus uses `DBUS_SESSION_BUS_ADDRESS`, else `$XDG_RUNTIME_DIR/bus`.
fn no_session_bus() -> bool {
    std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none()
        && std::env::var_os("XDG_RUNTIME_DIR").is_none_or(|d| !Path::new(&d).join("bus").exists())
}

#[test]
fn keyring_store_conforms_or_is_cleanly_unavailable() {
    if keyring_required() {
        let store = match KeyringStore::new() {
            Ok(store) => store,
            Err(e) => panic!("AWS_SSO_TEST_KEYRING=1 but the keyring is unreachable: {e}"),
        };
        let prefix = format!("securestore-it-{}-", std::process::id());
        crate::conformance::battery(&store, &prefix);
    } else if no_session_bus() {
        let err = KeyringStore::new().unwrap_err();
        assert!(
            matches!(err, StoreError::KeyringUnavailable { .. }),
            "{err:?}"
        );
        assert!(err.to_string().contains("SecureStore: file"), "{err}");
    } else {
        // Some session bus exists but the test was not asked to use it: only no panic.
        let _ = KeyringStore::new();
    }
}

#[test]
fn keyring_auto_selection() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = StoreConfig {
        kind: None,
        dir: tmp.path().to_path_buf(),
        password: PasswordSource::Env,
        scrypt_work_factor: Some(crate::TEST_WORK_FACTOR),
    };
    let store = open(cfg).unwrap();
    if keyring_required() {
        assert_eq!(store.describe(), "keyring");
    } else if no_session_bus() {
        assert!(
            store.describe().starts_with("file "),
            "{}",
            store.describe()
        );
    }
}
