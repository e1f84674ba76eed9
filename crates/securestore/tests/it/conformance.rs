//! One battery every backend must pass identically (memory, json, file, and keyring when
//! `AWS_SSO_TEST_KEYRING=1`).

use securestore::{
    ExposeSecret, FileStore, JsonStore, MemoryStore, PasswordSource, SecretString, SecureStore,
    StoreError,
};

use crate::TEST_WORK_FACTOR;

fn secret(s: &str) -> SecretString {
    SecretString::from(s)
}

fn get(store: &dyn SecureStore, name: &str) -> Option<String> {
    store
        .get(name)
        .unwrap()
        .map(|v| v.expose_secret().to_owned())
}

/// Exercise `store` using item names that start with `prefix` (unique per run for shared
/// stores such as the OS keyring). Leaves no items behind.
pub fn battery(store: &dyn SecureStore, prefix: &str) {
    let a = format!("{prefix}ecs-bearer-token");
    let b = format!("{prefix}ecs-ssl-key");
    assert_eq!(get(store, &a), None, "{store:?}");
    assert!(!store.delete(&a).unwrap(), "{store:?}");

    store.set(&a, &secret("first")).unwrap();
    assert_eq!(get(store, &a).as_deref(), Some("first"));
    store.set(&a, &secret("second")).unwrap();
    assert_eq!(get(store, &a).as_deref(), Some("second"));

    let pem = "-----BEGIN PRIVATE KEY-----\nMIIB\u{e9}\"quote\\slash\n-----END PRIVATE KEY-----\n";
    store.set(&b, &secret(pem)).unwrap();
    assert_eq!(get(store, &b).as_deref(), Some(pem));
    assert_eq!(get(store, &a).as_deref(), Some("second"));

    assert!(store.delete(&a).unwrap());
    assert!(!store.delete(&a).unwrap());
    assert_eq!(get(store, &a), None);
    assert_eq!(get(store, &b).as_deref(), Some(pem));
    assert!(store.delete(&b).unwrap());

    // set_many writes all of its items, and with one bad name none of them.
    store
        .set_many(&[(&a, &secret("pair-a")), (&b, &secret("pair-b"))])
        .unwrap();
    assert_eq!(get(store, &a).as_deref(), Some("pair-a"));
    assert_eq!(get(store, &b).as_deref(), Some("pair-b"));
    assert!(matches!(
        store.set_many(&[(&a, &secret("changed")), ("bad name", &secret("v"))]),
        Err(StoreError::InvalidName { .. })
    ));
    assert_eq!(get(store, &a).as_deref(), Some("pair-a"));
    assert!(store.delete(&a).unwrap());
    assert!(store.delete(&b).unwrap());

    for bad in [
        "",
        "has space",
        "slash/name",
        "dots..ok-but-\u{e9}",
        &"x".repeat(129),
    ] {
        assert!(
            matches!(store.get(bad), Err(StoreError::InvalidName { .. })),
            "{bad:?}"
        );
        assert!(matches!(
            store.set(bad, &secret("v")),
            Err(StoreError::InvalidName { .. })
        ));
        assert!(matches!(
            store.delete(bad),
            Err(StoreError::InvalidName { .. })
        ));
    }
    let debug = format!("{store:?} {}", store.describe());
    assert!(
        !debug.contains("second") && !debug.contains("PRIVATE"),
        "{debug}"
    );
}

#[test]
fn memory_store_conforms() {
    battery(&MemoryStore::new(), "");
}

#[test]
fn json_store_conforms() {
    let dir = tempfile::tempdir().unwrap();
    battery(&JsonStore::new(dir.path()), "");
}

#[test]
fn file_store_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let pw = PasswordSource::Given(secret("correct horse"));
    battery(
        &FileStore::new(dir.path(), pw, Some(TEST_WORK_FACTOR)).unwrap(),
        "",
    );
}
