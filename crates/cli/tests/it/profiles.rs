//! `aws-sso ecs load` resolving real AWS profile kinds through the AWS SDK for Rust:
//! `credential_process`, an assume-role chain and an SSO session (against local stand-ins
//! for STS and the SSO portal, since AWS itself cannot be reached from tests).

use std::io::Write;
use std::os::unix::fs::PermissionsExt;

use testkit::sdk::python_sdk_fetch;

use crate::harness::User;

fn process_script(
    dir: &std::path::Path,
    akid: &str,
    secret: &str,
    token: &str,
    expiration: &str,
) -> std::path::PathBuf {
    let path = dir.join("creds.sh");
    let json = format!(
        r#"{{"Version":1,"AccessKeyId":"{akid}","SecretAccessKey":"{secret}","SessionToken":"{token}","Expiration":"{expiration}"}}"#
    );
    std::fs::write(&path, format!("#!/bin/sh\ncat <<'JSON'\n{json}\nJSON\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o700)).unwrap();
    path
}

fn in_two_hours() -> String {
    let t = time::OffsetDateTime::now_utc() + time::Duration::hours(2);
    wire::ecs::rfc3339_z(t)
}

#[test]
fn credential_process_profiles_load_with_their_expiry() {
    let user = User::new();
    user.generate_token();
    let (akid, secret, session) = testkit::home::random_creds();
    let expiration = in_two_hours();
    let script = process_script(user.home.path(), &akid, &secret, &session, &expiration);
    user.home.write_config(&format!(
        "[profile proc]\ncredential_process = {}\n",
        script.display()
    ));
    let server = user.server(&[]);
    user.ok(&[
        "ecs",
        "load",
        "--profile",
        "proc",
        "--server",
        &server.addr(),
    ]);
    let summary = user.ok(&[
        "--output",
        "json",
        "ecs",
        "profile",
        "--server",
        &server.addr(),
    ]);
    let summary: serde_json::Value = serde_json::from_str(&summary.stdout).unwrap();
    let expected =
        time::OffsetDateTime::parse(&expiration, &time::format_description::well_known::Rfc3339)
            .unwrap();
    assert_eq!(summary["Expiration"], expected.unix_timestamp());
    assert!(
        summary["Expires"].as_str().unwrap().starts_with("1h5"),
        "{summary}"
    );

    let exports = user.ecs_env(&["--server", &server.addr()]);
    let got = python_sdk_fetch(&crate::harness::env_refs(&exports)).unwrap();
    assert_eq!(got["AccessKeyId"], akid.as_str());
    assert_eq!(got["Token"], session.as_str());
    server.stop();
}

#[test]
fn a_failing_profile_is_reported_and_nothing_is_loaded() {
    let user = User::new();
    user.generate_token();
    user.home
        .write_config("[profile broken]\ncredential_process = /bin/false\n");
    let server = user.server(&[]);
    let r = user.fails(&[
        "ecs",
        "load",
        "--profile",
        "broken",
        "--server",
        &server.addr(),
    ]);
    assert!(
        r.stderr
            .contains("cannot resolve credentials for AWS profile \"broken\""),
        "{}",
        r.stderr
    );
    let r = user.fails(&[
        "ecs",
        "load",
        "--profile",
        "missing",
        "--server",
        &server.addr(),
    ]);
    assert!(
        r.stderr.contains("\"missing\"") && r.stderr.contains("not defined"),
        "{}",
        r.stderr
    );
    let r = user.fails(&["ecs", "profile", "--server", &server.addr()]);
    assert!(r.stderr.contains("Credentials unavailable"), "{}", r.stderr);
    server.stop();
}

fn fake_endpoint(
    content_type: &'static str,
    body: String,
) -> (u16, std::thread::JoinHandle<String>) {
    crate::harness::one_shot_endpoint("200 OK", content_type, body)
}

/// Answers one STS AssumeRole call with the given credentials.
fn fake_sts(akid: String, secret: String, token: String) -> (u16, std::thread::JoinHandle<String>) {
    let exp = in_two_hours();
    let xml = format!(
        r#"<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult><Credentials><AccessKeyId>{akid}</AccessKeyId><SecretAccessKey>{secret}</SecretAccessKey><SessionToken>{token}</SessionToken><Expiration>{exp}</Expiration></Credentials><AssumedRoleUser><Arn>arn:aws:sts::123456789012:assumed-role/Dev/aws-sso</Arn><AssumedRoleId>AROAEXAMPLE:aws-sso</AssumedRoleId></AssumedRoleUser></AssumeRoleResult><ResponseMetadata><RequestId>c0ffee</RequestId></ResponseMetadata></AssumeRoleResponse>"#
    );
    fake_endpoint("text/xml", xml)
}

#[test]
fn assume_role_chains_are_resolved_through_sts() {
    let user = User::new();
    user.generate_token();
    let (base_akid, base_secret, base_token) = user.profile("base");
    let (akid, secret, session) = testkit::home::random_creds();
    let (port, captured) = fake_sts(akid.clone(), secret.clone(), session.clone());
    user.home.write_config(
        "[profile chained]\nrole_arn = arn:aws:iam::123456789012:role/Dev\nsource_profile = base\nregion = us-east-1\n\n[profile base]\nregion = us-east-1\n",
    );
    let server = user.server(&[]);
    let mut cmd = user.command(&[
        "ecs",
        "load",
        "--profile",
        "chained",
        "--server",
        &server.addr(),
    ]);
    cmd.env("AWS_ENDPOINT_URL_STS", format!("http://127.0.0.1:{port}"));
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let head = captured.join().unwrap();
    assert!(head.contains("Action=AssumeRole"), "{head}");
    assert!(
        head.contains(&format!("Credential={base_akid}/")),
        "signed with the source profile's key"
    );
    assert!(!head.contains(&base_secret) && head.contains(&base_token));

    let exports = user.ecs_env(&["--server", &server.addr()]);
    let got = python_sdk_fetch(&crate::harness::env_refs(&exports)).unwrap();
    assert_eq!(got["AccessKeyId"], akid.as_str());
    assert_eq!(got["SecretAccessKey"], secret.as_str());
    assert_eq!(got["Token"], session.as_str());
    server.stop();
}

#[test]
fn sso_sessions_cached_by_aws_sso_login_are_used() {
    let user = User::new();
    user.generate_token();
    let (akid, secret, session) = testkit::home::random_creds();
    let expiration_ms =
        (time::OffsetDateTime::now_utc() + time::Duration::hours(1)).unix_timestamp() * 1000;
    let body = format!(
        r#"{{"roleCredentials":{{"accessKeyId":"{akid}","secretAccessKey":"{secret}","sessionToken":"{session}","expiration":{expiration_ms}}}}}"#
    );
    let (port, captured) = fake_endpoint("application/json", body);
    user.home.write_config(
        "[profile sso-dev]\nsso_session = corp\nsso_account_id = 123456789012\nsso_role_name = Developer\nregion = eu-west-1\n\n[sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = eu-west-1\n",
    );
    // What `aws sso login --sso-session corp` leaves behind: the cache file is named by the
    // SHA-1 of the session name.
    let cache = user.home.path().join(".aws/sso/cache");
    std::fs::create_dir_all(&cache).unwrap();
    let digest = sha1_hex("corp");
    let expires_at =
        wire::ecs::rfc3339_z(time::OffsetDateTime::now_utc() + time::Duration::hours(8));
    std::fs::write(
        cache.join(format!("{digest}.json")),
        format!(r#"{{"startUrl":"https://corp.awsapps.com/start","region":"eu-west-1","accessToken":"sso-access-token-for-test","expiresAt":"{expires_at}"}}"#),
    )
    .unwrap();

    let server = user.server(&[]);
    let mut cmd = user.command(&[
        "ecs",
        "load",
        "--profile",
        "sso-dev",
        "--server",
        &server.addr(),
    ]);
    cmd.env("AWS_ENDPOINT_URL_SSO", format!("http://127.0.0.1:{port}"));
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let head = captured.join().unwrap();
    assert!(head.contains("/federation/credentials"), "{head}");
    assert!(
        head.contains("account_id=123456789012") && head.contains("role_name=Developer"),
        "{head}"
    );
    assert!(
        head.contains("sso-access-token-for-test"),
        "sends the cached SSO token"
    );

    let exports = user.ecs_env(&["--server", &server.addr()]);
    let got = python_sdk_fetch(&crate::harness::env_refs(&exports)).unwrap();
    assert_eq!(got["AccessKeyId"], akid.as_str());
    assert_eq!(got["Token"], session.as_str());
    server.stop();
}

/// SHA-1 in hex, through the openssl CLI (the cache names of the AWS CLI).
fn sha1_hex(text: &str) -> String {
    let mut child = std::process::Command::new("openssl")
        .args(["dgst", "-sha1", "-r"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned()
}
