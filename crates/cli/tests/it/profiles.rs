//! `aws-sso ecs load` resolving real AWS profile kinds through the AWS SDK for Rust:
//! `credential_process` and an assume-role chain (against a local STS stand-in, since AWS
//! itself cannot be reached from tests).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
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

/// Answers one STS AssumeRole call with `creds` and returns the request head.
fn fake_sts(akid: String, secret: String, token: String) -> (u16, std::thread::JoinHandle<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut head = String::new();
        let mut length = 0usize;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap() == 0 || line == "\r\n" {
                break;
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().unwrap();
            }
            head.push_str(&line);
        }
        let mut body = vec![0u8; length];
        reader.read_exact(&mut body).unwrap();
        head.push_str(&String::from_utf8_lossy(&body));
        let exp = in_two_hours();
        let xml = format!(
            r#"<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult><Credentials><AccessKeyId>{akid}</AccessKeyId><SecretAccessKey>{secret}</SecretAccessKey><SessionToken>{token}</SessionToken><Expiration>{exp}</Expiration></Credentials><AssumedRoleUser><Arn>arn:aws:sts::123456789012:assumed-role/Dev/aws-sso</Arn><AssumedRoleId>AROAEXAMPLE:aws-sso</AssumedRoleId></AssumedRoleUser></AssumeRoleResult><ResponseMetadata><RequestId>c0ffee</RequestId></ResponseMetadata></AssumeRoleResponse>"#
        );
        let _ = write!(
            stream,
            "HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{xml}",
            xml.len()
        );
        head
    });
    (port, handle)
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
