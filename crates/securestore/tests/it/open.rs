//! `open`: backend selection and the environment variables, driven in a child process
//! (this crate forbids `unsafe`, so tests cannot call `std::env::set_var`).

use std::process::{Command, Stdio};

use securestore::{
    ExposeSecret, FileStore, PasswordSource, SecretString, SecureStore, StoreConfig, StoreKind,
    open,
};

const CHILD_DIR_ENV: &str = "SECURESTORE_TEST_CHILD_DIR";

/// Run the ignored test `name` in a child copy of this test binary with `envs`.
fn run_child(name: &str, envs: &[(&str, &str)], remove: &[&str]) -> std::process::Output {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "--exact",
        name,
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ]);
    cmd.stdin(Stdio::null());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    for k in remove {
        cmd.env_remove(k);
    }
    cmd.output().unwrap()
}

fn config(kind: Option<StoreKind>, dir: &std::path::Path) -> StoreConfig {
    StoreConfig {
        kind,
        dir: dir.to_path_buf(),
        password: PasswordSource::Env,
        scrypt_work_factor: Some(crate::TEST_WORK_FACTOR),
    }
}

#[test]
#[ignore = "run as a child by env_password_and_work_factor_are_used"]
fn child_writes_with_env_password() {
    let Ok(dir) = std::env::var(CHILD_DIR_ENV) else {
        return; // run directly with --ignored: nothing to do
    };
    let store = open(config(Some(StoreKind::File), dir.as_ref())).unwrap();
    store
        .set("ecs-bearer-token", &SecretString::from("from-child"))
        .unwrap();
}

#[test]
fn env_password_and_work_factor_are_used() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_str().unwrap();
    let envs = [
        (CHILD_DIR_ENV, dir),
        ("AWS_SSO_FILE_PASSWORD", "env-pw"),
        ("AWS_SSO_FILE_SCRYPT_WORK_FACTOR", "11"),
    ];
    let out = run_child("open::child_writes_with_env_password", &envs, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let bytes = std::fs::read(tmp.path().join("secure-store.age")).unwrap();
    assert!(
        bytes.windows(4).any(|w| w == b" 11\n"),
        "env work factor overrides config"
    );
    let pw = PasswordSource::Given(SecretString::from("env-pw"));
    let store = FileStore::new(tmp.path(), pw, None).unwrap();
    assert_eq!(
        store
            .get("ecs-bearer-token")
            .unwrap()
            .unwrap()
            .expose_secret(),
        "from-child"
    );
}

#[test]
#[ignore = "run as a child by no_password_and_no_terminal_is_a_clear_error"]
fn child_writes_without_password() {
    let Ok(dir) = std::env::var(CHILD_DIR_ENV) else {
        return; // run directly with --ignored: nothing to do
    };
    let store = open(config(Some(StoreKind::File), dir.as_ref())).unwrap();
    let err = store
        .set("ecs-bearer-token", &SecretString::from("x"))
        .unwrap_err();
    assert!(
        err.to_string().contains("set AWS_SSO_FILE_PASSWORD"),
        "{err}"
    );
}

#[test]
fn no_password_and_no_terminal_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let envs = [(CHILD_DIR_ENV, tmp.path().to_str().unwrap())];
    let out = run_child(
        "open::child_writes_without_password",
        &envs,
        &["AWS_SSO_FILE_PASSWORD", "AWS_SSO_FILE_SCRYPT_WORK_FACTOR"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(!tmp.path().join("secure-store.age").exists());
}

#[test]
fn open_explicit_kinds() {
    let tmp = tempfile::tempdir().unwrap();
    let mem = open(config(Some(StoreKind::Memory), tmp.path())).unwrap();
    assert_eq!(mem.describe(), "memory");
    let file = open(config(Some(StoreKind::File), tmp.path())).unwrap();
    assert_eq!(
        file.describe(),
        format!("file {}", tmp.path().join("secure-store.age").display())
    );
    let json = open(config(Some(StoreKind::Json), tmp.path())).unwrap();
    assert!(json.describe().ends_with("secure-store.json (insecure)"));
}
