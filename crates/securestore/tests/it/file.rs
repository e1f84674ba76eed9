//! The age-encrypted file store: what is on disk, and every way reading it can fail.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use securestore::{ExposeSecret, FileStore, PasswordSource, SecretString, SecureStore, StoreError};

use crate::TEST_WORK_FACTOR;

const PASSWORD: &str = "correct horse battery";
const VALUE: &str = "super-secret-bearer-value-1234567890";

fn store(dir: &Path, password: &str, work_factor: u8) -> FileStore {
    let pw = PasswordSource::Given(SecretString::from(password));
    FileStore::new(dir, pw, Some(work_factor)).unwrap()
}

/// A directory holding a store with one item written at `TEST_WORK_FACTOR`.
fn written() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path(), PASSWORD, TEST_WORK_FACTOR);
    s.set("ecs-bearer-token", &SecretString::from(VALUE))
        .unwrap();
    let path = s.path().to_path_buf();
    (dir, path)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn file_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn persists_across_instances_as_0600_ciphertext_without_leftover_temp() {
    let (dir, path) = written();
    assert_eq!(path, dir.path().join("secure-store.age"));
    assert_eq!(
        fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(file_names(dir.path()), ["secure-store.age"]);

    let bytes = fs::read(&path).unwrap();
    assert!(bytes.starts_with(b"age-encryption.org/v1\n-> scrypt "));
    assert!(
        !contains(&bytes, VALUE.as_bytes()),
        "plaintext value found in the file"
    );
    assert!(
        !contains(&bytes, b"ecs-bearer-token"),
        "item name found in the file"
    );

    let reopened = store(dir.path(), PASSWORD, TEST_WORK_FACTOR);
    assert_eq!(
        reopened
            .get("ecs-bearer-token")
            .unwrap()
            .unwrap()
            .expose_secret(),
        VALUE
    );
    reopened
        .set("ecs-ssl-cert", &SecretString::from("cert"))
        .unwrap();
    assert_eq!(file_names(dir.path()), ["secure-store.age"]);
}

#[test]
fn dir_is_created_0700() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("config/aws-sso");
    store(&dir, PASSWORD, TEST_WORK_FACTOR)
        .set("k", &SecretString::from("v"))
        .unwrap();
    assert_eq!(
        fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
        0o700
    );
}

#[test]
fn wrong_password_is_reported_and_file_untouched() {
    let (dir, path) = written();
    let before = fs::read(&path).unwrap();
    let s = store(dir.path(), "not the password", TEST_WORK_FACTOR);
    let err = s.get("ecs-bearer-token").unwrap_err();
    assert!(matches!(err, StoreError::WrongPassword { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!(
            "cannot decrypt {}: wrong password (AWS_SSO_FILE_PASSWORD or the prompt)",
            path.display()
        )
    );
    // A failed read must never turn into an empty store written over the real one.
    assert!(matches!(
        s.set("other", &SecretString::from("x")),
        Err(StoreError::WrongPassword { .. })
    ));
    assert!(matches!(
        s.delete("ecs-bearer-token"),
        Err(StoreError::WrongPassword { .. })
    ));
    assert_eq!(fs::read(&path).unwrap(), before);
    let msg = format!("{err:?} {s:?}");
    assert!(
        !msg.contains("not the password") && !msg.contains(PASSWORD),
        "{msg}"
    );
}

fn assert_corrupt(dir: &Path, path: &Path, bytes: &[u8]) {
    fs::write(path, bytes).unwrap();
    let s = store(dir, PASSWORD, TEST_WORK_FACTOR);
    let err = s.get("ecs-bearer-token").unwrap_err();
    assert!(
        matches!(err, StoreError::Corrupt { .. }),
        "{} bytes: {err:?}",
        bytes.len()
    );
    assert!(
        err.to_string().contains(&path.display().to_string()),
        "{err}"
    );
    assert!(s.set("k", &SecretString::from("v")).is_err());
    assert_eq!(
        fs::read(path).unwrap(),
        bytes,
        "corrupt file was overwritten"
    );
}

#[test]
fn truncated_file_is_corrupt() {
    let (dir, path) = written();
    let full = fs::read(&path).unwrap();
    for len in [0, 10, full.len() / 2, full.len() - 1] {
        assert_corrupt(dir.path(), &path, &full[..len]);
    }
}

#[test]
fn garbage_file_is_corrupt() {
    let (dir, path) = written();
    assert_corrupt(dir.path(), &path, b"this is not an age file\n");
    assert_corrupt(dir.path(), &path, &[0xff; 300]);
    // A valid header with a flipped payload byte fails authentication.
    let mut flipped = fs::read(&path).unwrap();
    let last = flipped.len() - 1;
    flipped[last] ^= 1;
    assert_corrupt(dir.path(), &path, &flipped);
}

#[test]
fn group_readable_file_is_refused_not_fixed() {
    let (dir, path) = written();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
    let err = store(dir.path(), PASSWORD, TEST_WORK_FACTOR)
        .get("ecs-bearer-token")
        .unwrap_err();
    assert!(
        matches!(err, StoreError::InsecurePermissions { mode: 0o644, .. }),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains(&path.display().to_string()) && msg.contains("0644"),
        "{msg}"
    );
    assert!(
        msg.contains(&format!("chmod 600 {}", path.display())),
        "{msg}"
    );
    assert_eq!(
        fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o644
    );
}

#[test]
fn file_written_at_one_work_factor_opens_with_another() {
    let (dir, path) = written();
    assert!(
        contains(&fs::read(&path).unwrap(), b" 10\n"),
        "header should record log_n 10"
    );
    let s = store(dir.path(), PASSWORD, 12);
    assert_eq!(
        s.get("ecs-bearer-token").unwrap().unwrap().expose_secret(),
        VALUE
    );
    s.set("ecs-ssl-key", &SecretString::from("key")).unwrap();
    assert!(
        contains(&fs::read(&path).unwrap(), b" 12\n"),
        "rewrite uses the configured factor"
    );
    let again = store(dir.path(), PASSWORD, TEST_WORK_FACTOR);
    assert_eq!(
        again.get("ecs-ssl-key").unwrap().unwrap().expose_secret(),
        "key"
    );
}

#[test]
fn work_factor_out_of_range_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    for n in [0, 9, 23, 64, 255] {
        let pw = PasswordSource::Given(SecretString::from(PASSWORD));
        let err = FileStore::new(dir.path(), pw, Some(n)).unwrap_err();
        assert!(
            matches!(err, StoreError::InvalidWorkFactor { .. }),
            "{n}: {err:?}"
        );
    }
}

#[test]
fn decrypts_once_then_serves_from_cache() {
    let (dir, path) = written();
    let s = store(dir.path(), PASSWORD, TEST_WORK_FACTOR);
    assert!(s.get("ecs-bearer-token").unwrap().is_some());
    fs::write(&path, b"garbage that would not decrypt").unwrap();
    assert_eq!(
        s.get("ecs-bearer-token").unwrap().unwrap().expose_secret(),
        VALUE
    );
}

#[test]
fn missing_file_is_empty_and_needs_no_password() {
    let dir = tempfile::tempdir().unwrap();
    // Prompt would fail without a terminal; reading a missing store must not ask.
    let s = FileStore::new(dir.path(), PasswordSource::Prompt, Some(TEST_WORK_FACTOR)).unwrap();
    assert!(s.get("ecs-bearer-token").unwrap().is_none());
    assert!(!s.delete("ecs-bearer-token").unwrap());
    assert!(file_names(dir.path()).is_empty());
}

#[test]
fn debug_and_describe_show_path_only() {
    let (dir, path) = written();
    let s = store(dir.path(), PASSWORD, TEST_WORK_FACTOR);
    s.get("ecs-bearer-token").unwrap();
    let debug = format!("{s:?}");
    assert_eq!(
        debug,
        format!("FileStore {{ path: {path:?}, work_factor: Some(10) }}")
    );
    assert_eq!(s.describe(), format!("file {}", path.display()));
    let src = PasswordSource::Given(SecretString::from(PASSWORD));
    assert!(!format!("{src:?}").contains(PASSWORD));
}
