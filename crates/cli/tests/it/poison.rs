//! Attack: DNS or /etc/hosts poisoning. The certificate's name is pointed at an address
//! the attacker listens on: 127.0.0.2, another loopback address, where any local user can
//! listen, in a hosts file of the (namespace) host; the attacker serves a certificate of
//! their own there (self-signed for the name, or valid from the same CA for another name).
//!
//! Mitigations: the SDKs verify the name (the attacker never sees a request), and
//! `aws-sso setup ecs cert fqdn`, `setup ecs cert status` and `ecs server` all report that
//! the name resolves to an address the certificate service does not publish (it publishes
//! 127.0.0.1 and ::1 only). Controls: with the victim's own certificate the attacker
//! receives the token, and with a clean hosts file all three checks pass.

use std::time::Duration;

use serde_json::Value;
use testkit::process::ChildGuard;
use testkit::sdk::{python_sdk_fetch_in, rust_sdk_fetch_in};

use crate::cert::World;
use crate::harness::env_refs;
use crate::netns::{Netns, Parties};

const PORT: u16 = 4144;
const ATTACKER_IP: &str = "127.0.0.2";

fn status_json(ns: &Netns, p: &Parties) -> Value {
    let out = ns.aws_sso(
        &p.victim,
        &["setup", "ecs", "cert", "status", "--output", "json"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// `aws-sso ecs server` (TLS with the stored certificate) on the namespace's 127.0.0.1:4144.
fn server_in(ns: &Netns, p: &Parties) -> ChildGuard {
    let mut cmd = ns.aws_sso_command(&p.victim, &["ecs", "server"]);
    let mut server = ChildGuard::spawn(&mut cmd, "ecs-server-netns").unwrap();
    assert!(
        server.wait_for_output("ECS server listening", Duration::from_secs(15)),
        "the server did not start: {}",
        server.stderr()
    );
    assert!(server.stderr().contains("https://127.0.0.1:4144/"));
    server
}

#[test]
fn poison_sdks_refuse_the_attackers_address_and_every_check_reports_it() {
    testkit::venv::require_venv();
    let w = World::start();
    let p = Parties::new(&w, "po");
    let fqdn = p.fqdn.clone();
    let poisoned = format!("127.0.0.1 localhost\n{ATTACKER_IP} {fqdn}\n");
    let ns = Netns::create(&poisoned, |_| "options timeout:1 attempts:1\n".to_owned());
    let resolved = ns
        .command(std::path::Path::new("getent"), &["ahostsv4", &fqdn], &[])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&resolved.stdout).starts_with(&format!("{ATTACKER_IP} ")),
        "{}",
        String::from_utf8_lossy(&resolved.stdout)
    );

    // The real server runs on 127.0.0.1:4144 and warns, naming the address.
    let mut server = server_in(&ns, &p);
    let warning = format!("WARNING: {fqdn} resolves to {ATTACKER_IP} (another loopback address");
    assert!(
        server.wait_for_output(&warning, Duration::from_secs(15)),
        "{}",
        server.stderr()
    );
    let said = server.stderr();
    for part in [
        "not 127.0.0.1/::1 which the certificate service publishes",
        "DNS or /etc/hosts may be poisoned",
    ] {
        assert!(said.contains(part), "{part} in {said}");
    }
    assert!(server.try_status().is_none(), "the server keeps serving");

    // The attacker on 127.0.0.2:4144, as `nobody`, with a certificate of its own: the
    // SDKs refuse it and it never sees a request.
    for (what, (chain, key)) in [
        ("self-signed for the name", &p.self_signed),
        ("valid for evil.certs.test", &p.mallory_cert),
    ] {
        let attacker = ns.attacker(ATTACKER_IP, PORT, Some((chain, key)));
        let err = python_sdk_fetch_in(&ns.wrapper(), &env_refs(&p.sdk_env(PORT))).unwrap_err();
        assert!(err.contains("SSL validation failed"), "{what}: {err}");
        let err = rust_sdk_fetch_in(&ns.wrapper(), &env_refs(&p.rust_sdk_env(PORT))).unwrap_err();
        assert!(err.contains("certificate"), "{what}: {err}");
        attacker.assert_got_nothing(&p.bearer);
    }

    // `setup ecs cert fqdn` refuses the name, `status` reports it (text and JSON).
    let out = ns.aws_sso(&p.victim, &["setup", "ecs", "cert", "fqdn", &fqdn]);
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{said}");
    for part in [
        &format!("not storing {fqdn}: {fqdn} resolves to {ATTACKER_IP} (another loopback"),
        "not 127.0.0.1/::1 which the certificate service publishes",
        "DNS or /etc/hosts may be poisoned",
    ] {
        assert!(said.contains(part), "{part} in {said}");
    }
    let v = status_json(&ns, &p);
    assert_eq!(v["dns"]["ok"], false, "{v}");
    assert_eq!(
        v["dns"]["addresses"],
        serde_json::json!([ATTACKER_IP]),
        "{v}"
    );
    assert!(
        v["dns"]["problem"]
            .as_str()
            .unwrap()
            .contains("which the certificate service publishes"),
        "{v}"
    );
    let out = ns.aws_sso(&p.victim, &["setup", "ecs", "cert", "status"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!(
            "DNS check:    FAILED: {fqdn} resolves to {ATTACKER_IP}"
        )),
        "{text}"
    );

    // Control: an attacker holding the victim's certificate gets the token.
    let attacker = ns.attacker(
        ATTACKER_IP,
        PORT,
        Some((&p.victim_cert.0, &p.victim_cert.1)),
    );
    python_sdk_fetch_in(&ns.wrapper(), &env_refs(&p.sdk_env(PORT))).unwrap_err();
    assert!(
        attacker
            .requests()
            .iter()
            .any(|r| r.contains(&format!("Bearer {}", p.bearer))),
        "with the right certificate the poisoned address receives the token: {}",
        attacker.log()
    );
    drop(attacker);
    server.terminate_and_wait();
    assert!(!server.stderr().contains(&p.bearer));

    // Control: with a clean hosts file every check passes, and the SDK gets credentials
    // from the real server.
    ns.set_hosts(&format!("127.0.0.1 localhost\n127.0.0.1 {fqdn}\n"));
    let mut server = server_in(&ns, &p);
    let (akid, _, _) = p.victim.profile("dev");
    let load = ns.aws_sso(
        &p.victim,
        &[
            "ecs",
            "load",
            "--profile",
            "dev",
            "--server",
            "127.0.0.1:4144",
        ],
    );
    assert!(
        load.status.success(),
        "{}",
        String::from_utf8_lossy(&load.stderr)
    );
    let got = python_sdk_fetch_in(&ns.wrapper(), &env_refs(&p.sdk_env(PORT))).unwrap();
    assert_eq!(got["AccessKeyId"], akid.as_str(), "{got}");
    let v = status_json(&ns, &p);
    assert_eq!(v["dns"]["ok"], true, "{v}");
    assert_eq!(
        v["dns"]["addresses"],
        serde_json::json!(["127.0.0.1"]),
        "{v}"
    );
    let out = ns.aws_sso(&p.victim, &["setup", "ecs", "cert", "fqdn", &fqdn]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    server.terminate_and_wait();
    let said = server.stderr();
    assert!(!said.contains("WARNING"), "{said}");
    assert!(!said.contains(&p.bearer));
}
