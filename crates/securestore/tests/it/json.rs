//! The insecure plaintext json store: still private on disk.

use std::fs;
use std::os::unix::fs::PermissionsExt;

use securestore::{ExposeSecret, JsonStore, SecretString, SecureStore, StoreError};

#[test]
fn file_is_0600_atomic_and_refused_when_group_readable() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("cfg");
    let store = JsonStore::new(&dir);
    store
        .set("ecs-bearer-token", &SecretString::from("tok"))
        .unwrap();
    let path = dir.join("secure-store.json");
    assert_eq!(store.path(), path);
    assert_eq!(
        fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(
        fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
        0o700
    );
    assert_eq!(
        fs::read_to_string(&path).unwrap(),
        r#"{"ecs-bearer-token":"tok"}"#
    );
    let names: Vec<_> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["secure-store.json"]);
    assert_eq!(
        store.describe(),
        format!("json {} (insecure)", path.display())
    );

    let reopened = JsonStore::new(&dir);
    assert_eq!(
        reopened
            .get("ecs-bearer-token")
            .unwrap()
            .unwrap()
            .expose_secret(),
        "tok"
    );
    fs::set_permissions(&path, fs::Permissions::from_mode(0o604)).unwrap();
    let err = reopened.get("ecs-bearer-token").unwrap_err();
    assert!(
        matches!(err, StoreError::InsecurePermissions { mode: 0o604, .. }),
        "{err:?}"
    );
}
