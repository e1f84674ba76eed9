//! `aws-sso setup ecs auth|ssl` and the SecureStore behind them: what is accepted, what is
//! refused with which message, and that a refusal stores nothing.

use std::os::unix::fs::PermissionsExt;

use testkit::ca::{KeyKind, TestCa, to_pkcs1_pem, to_sec1_pem};

use crate::harness::User;

#[test]
fn bad_tokens_are_refused_and_nothing_is_stored() {
    let user = User::new();
    let r = user.fails(&["setup", "ecs", "auth", "--bearer-token", ""]);
    assert!(
        r.stderr.contains("the bearer token is empty"),
        "{}",
        r.stderr
    );
    let r = user.fails(&["setup", "ecs", "auth", "--bearer-token", "Bearer abc"]);
    assert!(
        r.stderr.contains("must not start with 'Bearer '"),
        "{}",
        r.stderr
    );
    assert!(
        !user
            .home
            .config_dir()
            .join("aws-sso/secure-store.age")
            .exists()
    );
    let r = user.fails(&["ecs", "server", "--port", "0"]);
    assert!(
        r.stderr.contains("no bearer token is stored"),
        "{}",
        r.stderr
    );

    user.ok(&["setup", "ecs", "auth", "--bearer-token", "my-own-token"]);
    let r = user.ok(&["ecs", "env"]);
    let file = r
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("export AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE="))
        .unwrap();
    assert_eq!(
        std::fs::read_to_string(file).unwrap(),
        "Bearer my-own-token"
    );
    user.ok(&["setup", "ecs", "auth", "--delete"]);
    let r = user.ok(&["ecs", "env"]);
    assert!(
        r.stderr.contains("no bearer token is stored"),
        "{}",
        r.stderr
    );
}

#[test]
fn the_store_is_encrypted_private_and_refuses_a_wrong_password() {
    let user = User::new();
    let token = user.generate_token();
    let store = user.home.config_dir().join("aws-sso/secure-store.age");
    let bytes = std::fs::read(&store).unwrap();
    assert!(
        !String::from_utf8_lossy(&bytes).contains(&token),
        "the token is not stored in clear"
    );
    assert_eq!(
        std::fs::metadata(&store).unwrap().permissions().mode() & 0o777,
        0o600
    );

    let mut cmd = user.command(&["ecs", "env"]);
    cmd.env("AWS_SSO_FILE_PASSWORD", "not-the-password");
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("wrong password"), "{stderr}");

    std::fs::set_permissions(&store, std::fs::Permissions::from_mode(0o644)).unwrap();
    let r = user.fails(&["ecs", "env"]);
    assert!(r.stderr.contains("chmod 600"), "{}", r.stderr);
    std::fs::set_permissions(&store, std::fs::Permissions::from_mode(0o600)).unwrap();

    std::fs::write(&store, &bytes[..bytes.len() / 2]).unwrap();
    let r = user.fails(&["ecs", "env"]);
    assert!(
        r.stderr.contains("secure-store.age"),
        "names the file: {}",
        r.stderr
    );
    // The truncated file was not silently replaced by an empty store.
    assert_eq!(std::fs::read(&store).unwrap().len(), bytes.len() / 2);
}

#[test]
fn ssl_imports_pkcs8_sec1_and_pkcs1_keys() {
    let ca = TestCa::new("test root");
    let dir = tempfile::tempdir().unwrap();
    let ec = ca.issue(&["localhost"], KeyKind::EcdsaP256);
    let rsa = ca.issue(&["localhost"], KeyKind::Rsa2048);
    let cases = [
        (
            "pkcs8",
            ec.chain_pem.clone(),
            ec.key_pkcs8_pem.clone(),
            "BEGIN PRIVATE KEY",
        ),
        (
            "sec1",
            ec.chain_pem.clone(),
            to_sec1_pem(&ec.key_pkcs8_pem),
            "BEGIN EC PRIVATE KEY",
        ),
        (
            "pkcs1",
            rsa.chain_pem.clone(),
            to_pkcs1_pem(&rsa.key_pkcs8_pem),
            "BEGIN RSA PRIVATE KEY",
        ),
    ];
    for (name, chain, key, header) in cases {
        assert!(key.contains(header), "{name}");
        let user = User::new();
        let cert_path = dir.path().join(format!("{name}.crt"));
        let key_path = dir.path().join(format!("{name}.key"));
        std::fs::write(&cert_path, &chain).unwrap();
        std::fs::write(&key_path, &key).unwrap();
        let r = user.ok(&[
            "setup",
            "ecs",
            "ssl",
            "--certificate",
            cert_path.to_str().unwrap(),
            "--private-key",
            key_path.to_str().unwrap(),
        ]);
        assert!(
            r.stderr.contains("Stored the certificate for localhost"),
            "{name}: {}",
            r.stderr
        );
        let printed = user.ok(&["setup", "ecs", "ssl", "--print"]);
        assert!(printed.stdout.contains("BEGIN CERTIFICATE"), "{name}");
        assert!(
            !printed.stdout.contains("PRIVATE KEY"),
            "--print never shows the key"
        );
        let json = user.ok(&["--output", "json", "setup", "ecs", "ssl", "--print"]);
        let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
        assert_eq!(v["dns_names"][0], "localhost");
    }
}

#[test]
fn ssl_refuses_mismatched_expired_and_garbage_input_storing_nothing() {
    let ca = TestCa::new("test root");
    let dir = tempfile::tempdir().unwrap();
    let a = ca
        .issue(&["localhost"], KeyKind::EcdsaP256)
        .write_files(dir.path(), "a");
    let b = ca
        .issue(&["localhost"], KeyKind::EcdsaP256)
        .write_files(dir.path(), "b");
    let old = ca
        .issue_expired(&["localhost"])
        .write_files(dir.path(), "old");
    let junk = dir.path().join("junk.pem");
    std::fs::write(&junk, "hello").unwrap();
    let user = User::new();
    let s = |p: &std::path::Path| p.to_str().unwrap().to_owned();
    let cases = [
        (s(&a.cert), s(&b.key), "does not match the private key"),
        (s(&old.cert), s(&old.key), "expired on"),
        (s(&junk), s(&a.key), "no certificate found"),
        (s(&a.cert), s(&junk), "no private key found"),
        (
            s(&a.cert),
            s(&dir.path().join("missing.key")),
            "cannot read the private key",
        ),
    ];
    for (cert, key, message) in cases {
        let r = user.fails(&[
            "setup",
            "ecs",
            "ssl",
            "--certificate",
            &cert,
            "--private-key",
            &key,
        ]);
        assert!(
            r.stderr.contains(message),
            "expected {message:?}: {}",
            r.stderr
        );
        let key_text = std::fs::read_to_string(&key).unwrap_or_default();
        if let Some(line) = key_text.lines().nth(1) {
            assert!(!r.stderr.contains(line), "key material in an error");
        }
    }
    let r = user.fails(&["setup", "ecs", "ssl", "--print"]);
    assert!(
        r.stderr.contains("no certificate is stored"),
        "{}",
        r.stderr
    );
}
