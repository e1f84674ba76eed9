//! Real AWS SDKs (botocore, the AWS CLI, the AWS SDK for Rust) fetching credentials from
//! `aws-sso ecs server` over HTTP on loopback and over HTTPS.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;

use serde_json::Value;
use testkit::ca::{KeyKind, TestCa};
use testkit::sdk::{aws_cli, python_sdk_fetch, rust_sdk_fetch};

use crate::harness::{User, env_refs};

fn assert_creds(got: &Value, akid: &str, secret: &str, token: &str, token_field: &str) {
    assert_eq!(got["AccessKeyId"], akid);
    assert_eq!(got["SecretAccessKey"], secret);
    assert_eq!(got[token_field], token);
}

/// Accepts one HTTP request on a loopback port, answers 403, and returns its head.
fn capture_one_request() -> (u16, std::thread::JoinHandle<String>) {
    let body = "<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>captured</Message></Error></ErrorResponse>";
    crate::harness::one_shot_endpoint("403 Forbidden", "text/xml", body.to_owned())
}

/// Runs `aws sts get-caller-identity` against a capturing endpoint and checks that the
/// request is signed with `akid` and carries `session` as its security token.
fn assert_aws_cli_signs_with(env: &[(&str, &str)], akid: &str, session: &str) {
    let (port, captured) = capture_one_request();
    let endpoint = format!("http://127.0.0.1:{port}");
    let mut cli_env = env.to_vec();
    cli_env.push(("AWS_DEFAULT_REGION", "us-east-1"));
    cli_env.push(("AWS_MAX_ATTEMPTS", "1"));
    let out = aws_cli(
        &cli_env,
        &["sts", "get-caller-identity", "--endpoint-url", &endpoint],
    );
    let head = captured.join().unwrap_or_else(|_| {
        panic!(
            "no request captured; aws said: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert!(!out.status.success(), "the capture server refuses the call");
    assert!(
        head.contains(&format!("Credential={akid}/")),
        "signed with the served key: {head}"
    );
    let token_header = format!("x-amz-security-token: {session}").to_ascii_lowercase();
    assert!(
        head.to_ascii_lowercase().contains(&token_header),
        "carries the session token"
    );
}

#[test]
fn sdks_fetch_over_http_with_token_and_token_file() {
    let user = User::new();
    let bearer = user.generate_token();
    let (akid, secret, session) = user.profile("dev");
    let server = user.server(&[]);
    user.ok(&[
        "ecs",
        "load",
        "--profile",
        "dev",
        "--server",
        &server.addr(),
    ]);
    let uri = format!("http://127.0.0.1:{}/", server.port);

    // The token in the environment.
    let header = format!("Bearer {bearer}");
    let env = [
        ("AWS_CONTAINER_CREDENTIALS_FULL_URI", uri.as_str()),
        ("AWS_CONTAINER_AUTHORIZATION_TOKEN", header.as_str()),
    ];
    let boto = python_sdk_fetch(&env).unwrap();
    assert_creds(&boto, &akid, &secret, &session, "Token");
    assert_eq!(boto["Method"], "container-role");
    assert_creds(
        &rust_sdk_fetch(&env).unwrap(),
        &akid,
        &secret,
        &session,
        "SessionToken",
    );

    // The token in the file `aws-sso ecs env` writes: exactly the header, no newline, 0600.
    let exports = user.ecs_env(&["--server", &server.addr()]);
    let file = &exports
        .iter()
        .find(|(k, _)| k == "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")
        .unwrap()
        .1;
    assert_eq!(std::fs::read_to_string(file).unwrap(), header);
    assert_eq!(
        std::fs::metadata(file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert!(
        exports
            .iter()
            .any(|(k, v)| k == "AWS_CONTAINER_CREDENTIALS_FULL_URI" && *v == uri)
    );
    let env = env_refs(&exports);
    assert_creds(
        &python_sdk_fetch(&env).unwrap(),
        &akid,
        &secret,
        &session,
        "Token",
    );
    assert_creds(
        &rust_sdk_fetch(&env).unwrap(),
        &akid,
        &secret,
        &session,
        "SessionToken",
    );

    // The AWS CLI signs a request with the served credentials.
    assert_aws_cli_signs_with(&env, &akid, &session);

    // A wrong or missing token gets nothing.
    for bad in [
        vec![("AWS_CONTAINER_AUTHORIZATION_TOKEN", "Bearer wrong")],
        vec![],
    ] {
        let mut env = vec![("AWS_CONTAINER_CREDENTIALS_FULL_URI", uri.as_str())];
        env.extend(bad);
        let err = python_sdk_fetch(&env).unwrap_err();
        assert!(
            err.contains("403")
                || err.contains("Invalid authorization")
                || err.contains("Missing authorization"),
            "{err}"
        );
        assert!(rust_sdk_fetch(&env).is_err());
    }

    // A credential in a field of the wrong type: the JSON error quotes it back to the
    // client, never into the log.
    let misplaced = "wJalrXUtnFEMI-misplaced-secret";
    let body = format!(
        r#"{{"ProfileName":"p","Creds":{{"accountId":"{misplaced}","accessKeyId":"A","secretAccessKey":"s"}}}}"#
    );
    let mut conn = std::net::TcpStream::connect(server.addr()).unwrap();
    write!(conn, "PUT / HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {bearer}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len()).unwrap();
    let mut answer = String::new();
    std::io::Read::read_to_string(&mut conn, &mut answer).unwrap();
    assert!(
        answer.starts_with("HTTP/1.1 400") && answer.contains("Invalid JSON body"),
        "{answer}"
    );

    // Nothing secret reached the server's debug log.
    let log = server.stop();
    assert!(
        !log.contains(misplaced),
        "a misplaced credential reached the log"
    );
    assert!(log.contains("loaded default credentials"), "{log}");
    for secret_text in [&bearer, &secret, &session] {
        assert!(
            !log.contains(secret_text.as_str()),
            "a secret leaked into the server log"
        );
    }
}

#[test]
fn sdks_fetch_over_https_trusting_the_ca() {
    let user = User::new();
    let bearer = user.generate_token();
    let (akid, secret, session) = user.profile("dev");
    let ca = TestCa::new("aws-sso test root");
    let dir = tempfile::tempdir().unwrap();
    let files = ca
        .issue(&["localhost", "127.0.0.1"], KeyKind::EcdsaP256)
        .write_files(dir.path(), "leaf");
    user.ok(&[
        "setup",
        "ecs",
        "ssl",
        "--certificate",
        files.chain.to_str().unwrap(),
        "--private-key",
        files.key.to_str().unwrap(),
    ]);
    testkit::venv::trust_ca_for_botocore(ca.cert_pem());
    let ca_file = ca.write_cert(&dir.path().join("ca.pem"));

    let server = user.server(&[]);
    // The client speaks HTTPS to the server and trusts the stored certificate.
    let r = user.ok(&[
        "ecs",
        "load",
        "--profile",
        "dev",
        "--server",
        &server.addr(),
    ]);
    assert!(
        r.stderr
            .contains(&format!("https://127.0.0.1:{}", server.port)),
        "{}",
        r.stderr
    );

    let exports = user.ecs_env(&["--server", &server.addr()]);
    let uri = format!("https://localhost:{}/", server.port);
    assert!(
        exports
            .iter()
            .any(|(k, v)| k == "AWS_CONTAINER_CREDENTIALS_FULL_URI" && *v == uri),
        "{exports:?}"
    );
    let env = env_refs(&exports);
    assert_creds(
        &python_sdk_fetch(&env).unwrap(),
        &akid,
        &secret,
        &session,
        "Token",
    );
    let mut rust_env = env.clone();
    let ca_path = ca_file.to_str().unwrap();
    rust_env.push(("SSL_CERT_FILE", ca_path));
    assert_creds(
        &rust_sdk_fetch(&rust_env).unwrap(),
        &akid,
        &secret,
        &session,
        "SessionToken",
    );
    assert_aws_cli_signs_with(&env, &akid, &session);

    // Without trusting the CA, the Rust SDK refuses the server: TLS really is verified.
    let err = rust_sdk_fetch(&env).unwrap_err();
    assert!(!err.contains(&secret), "{err}");

    // The token header also works in the environment over HTTPS.
    let header = format!("Bearer {bearer}");
    let env = [
        ("AWS_CONTAINER_CREDENTIALS_FULL_URI", uri.as_str()),
        ("AWS_CONTAINER_AUTHORIZATION_TOKEN", header.as_str()),
    ];
    assert_creds(
        &python_sdk_fetch(&env).unwrap(),
        &akid,
        &secret,
        &session,
        "Token",
    );
    let wrong = [
        ("AWS_CONTAINER_CREDENTIALS_FULL_URI", uri.as_str()),
        ("AWS_CONTAINER_AUTHORIZATION_TOKEN", "Bearer nope"),
    ];
    assert!(python_sdk_fetch(&wrong).is_err());

    let log = server.stop();
    for secret_text in [&bearer, &secret, &session] {
        assert!(
            !log.contains(secret_text.as_str()),
            "a secret leaked into the server log"
        );
    }
}

#[test]
fn slotted_profiles_are_served_on_their_own_path() {
    let user = User::new();
    user.generate_token();
    let (akid, secret, session) = user.profile("team:dev");
    let server = user.server(&[]);
    user.ok(&[
        "ecs",
        "load",
        "--profile",
        "team:dev",
        "--slotted",
        "--server",
        &server.addr(),
    ]);
    let exports = user.ecs_env(&["--slot", "team:dev", "--server", &server.addr()]);
    let uri = &exports
        .iter()
        .find(|(k, _)| k == "AWS_CONTAINER_CREDENTIALS_FULL_URI")
        .unwrap()
        .1;
    assert!(uri.ends_with("/slot/team:dev"), "{uri}");
    let env = env_refs(&exports);
    assert_creds(
        &python_sdk_fetch(&env).unwrap(),
        &akid,
        &secret,
        &session,
        "Token",
    );
    assert_creds(
        &rust_sdk_fetch(&env).unwrap(),
        &akid,
        &secret,
        &session,
        "SessionToken",
    );

    let list = user.ok(&[
        "--output",
        "json",
        "ecs",
        "list",
        "--server",
        &server.addr(),
    ]);
    let list: Value = serde_json::from_str(&list.stdout).unwrap();
    assert_eq!(list[0]["ProfileName"], "team:dev");
    // The default credentials were never loaded.
    let r = user.fails(&["ecs", "profile", "--server", &server.addr()]);
    assert!(r.stderr.contains("Credentials unavailable"), "{}", r.stderr);

    user.ok(&[
        "ecs",
        "unload",
        "--profile",
        "team:dev",
        "--server",
        &server.addr(),
    ]);
    let err = python_sdk_fetch(&env).unwrap_err();
    assert!(
        err.contains("404") || err.contains("No credentials loaded"),
        "{err}"
    );
    server.stop();
}
