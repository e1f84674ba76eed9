//! Attack: a non-root user on the remote host binds the forwarded port (127.0.0.1:4144)
//! before the user's `ssh -R`, so SDKs there connect to them instead of the tunnel.
//! The remote host is a network namespace resolving `dev.certs.test` through certd's own
//! DNS; the squatter is a real TLS server run as `nobody` there; the SDKs are the real
//! botocore, AWS CLI and AWS SDK for Rust, trusting Pebble's root as they trust a public
//! CA.
//!
//! Mitigations: the SDKs verify the server's name against a certificate only the victim
//! holds (a squatter with a self-signed or another name's valid certificate gets refused
//! before any request is sent); and `aws-sso ecs ssh` binds exactly 127.0.0.1 on the remote
//! with `ExitOnForwardFailure`, so a squatted port ends ssh at once with an explanation.
//! The controls show each test catching the attack without its mitigation: a squatter who
//! holds the right certificate, or a plain-HTTP endpoint, receives the token; and the
//! plain `-R 4144:localhost:...` forward carries on while the squatter keeps 127.0.0.1.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use testkit::process::ChildGuard;
use testkit::sdk::{aws_cli_in, python_sdk_fetch_in, rust_sdk_fetch_in};

use crate::cert::World;
use crate::harness::env_refs;
use crate::netns::{Netns, Parties};

const PORT: u16 = 4144;

/// A remote host resolving through certd's DNS (served on the veth until dropped).
fn remote_host(w: &World) -> (Netns, tokio::sync::oneshot::Sender<()>) {
    let ns = Netns::create("127.0.0.1 localhost\n", |root| {
        format!("nameserver {root}\noptions timeout:1 attempts:2\n")
    });
    let dns = w.serve_dns_on_port_53(ns.root_addr.parse().unwrap());
    (ns, dns)
}

/// botocore (and, when `all_sdks`, the AWS CLI and the Rust SDK) in the namespace, pointed
/// at `https://<fqdn>:4144/` with the victim's token, all fail with a certificate error.
fn sdks_refuse(ns: &Netns, p: &Parties, all_sdks: bool) {
    let env = p.sdk_env(PORT);
    let err = python_sdk_fetch_in(&ns.wrapper(), &env_refs(&env)).unwrap_err();
    assert!(err.contains("SSL validation failed"), "botocore: {err}");
    if !all_sdks {
        return;
    }
    let rust_env = p.rust_sdk_env(PORT);
    let err = rust_sdk_fetch_in(&ns.wrapper(), &env_refs(&rust_env)).unwrap_err();
    assert!(
        err.contains("invalid peer certificate") || err.contains("certificate"),
        "the Rust SDK: {err}"
    );
    let mut cli_env = env_refs(&env);
    cli_env.extend([
        ("AWS_DEFAULT_REGION", "us-east-1"),
        ("AWS_MAX_ATTEMPTS", "1"),
    ]);
    let out = aws_cli_in(&ns.wrapper(), &cli_env, &["configure", "list"]);
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        !text.contains("container-role"),
        "the AWS CLI got credentials: {text}"
    );
}

#[test]
fn squat_sdks_refuse_a_squatter_without_a_certificate_for_the_name() {
    testkit::venv::require_venv();
    let w = World::start();
    let p = Parties::new(&w, "sq");
    let (ns, _dns) = remote_host(&w);

    // (a) self-signed for the right name; (b) valid, from the same CA, for another name.
    for (what, (chain, key), all_refused_in_handshake) in [
        ("self-signed for the name", &p.self_signed, true),
        ("valid for evil.certs.test", &p.mallory_cert, false),
    ] {
        let squatter = ns.attacker("127.0.0.1", PORT, Some((chain, key)));
        sdks_refuse(&ns, &p, true);
        let log = squatter.log();
        assert!(
            squatter.connections() >= 3,
            "{what}: botocore, the Rust SDK and the AWS CLI each connected: {log}"
        );
        // The untrusted chain is refused inside the handshake by every SDK; the wrong name
        // by the Rust SDK inside it, by botocore right after it (urllib3's own name check).
        if all_refused_in_handshake {
            assert_eq!(
                squatter.refused_handshakes(),
                squatter.connections(),
                "{log}"
            );
        } else {
            assert!(squatter.refused_handshakes() >= 1, "{what}: {log}");
        }
        squatter.assert_got_nothing(&p.bearer);
    }

    // Control: the mitigation is the SDK verifying the name against a certificate only the
    // victim holds. A squatter holding that certificate gets the token from every SDK.
    let squatter = ns.attacker(
        "127.0.0.1",
        PORT,
        Some((&p.victim_cert.0, &p.victim_cert.1)),
    );
    let env = p.sdk_env(PORT);
    python_sdk_fetch_in(&ns.wrapper(), &env_refs(&env)).unwrap_err();
    rust_sdk_fetch_in(&ns.wrapper(), &env_refs(&p.rust_sdk_env(PORT))).unwrap_err();
    let want = format!("authorization: bearer {}", p.bearer).to_ascii_lowercase();
    let requests = squatter.requests();
    let leaked = requests
        .iter()
        .filter(|r| r.to_ascii_lowercase().contains(&want))
        .count();
    assert!(
        leaked >= 2,
        "with the right certificate the squatter receives the token from botocore and the Rust SDK: {requests:?}"
    );
    drop(squatter);

    // Control: over plain HTTP (botocore accepts http:// to 127.0.0.1) nothing stops it.
    let squatter = ns.attacker("127.0.0.1", PORT, None);
    let plain = [
        (
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            format!("http://127.0.0.1:{PORT}/"),
        ),
        (
            "AWS_CONTAINER_AUTHORIZATION_TOKEN",
            format!("Bearer {}", p.bearer),
        ),
    ];
    let plain: Vec<(&str, &str)> = plain.iter().map(|(k, v)| (*k, v.as_str())).collect();
    python_sdk_fetch_in(&ns.wrapper(), &plain).unwrap_err();
    assert!(
        squatter
            .requests()
            .iter()
            .any(|r| r.contains(&format!("Bearer {}", p.bearer))),
        "over plain HTTP the squatter receives the token: {}",
        squatter.log()
    );
}

/// The pids of `pid`'s children.
fn children(pid: u32) -> Vec<u32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|s| s.parse().ok())
        .collect()
}

/// Stops `aws-sso ecs ssh` and the ssh it runs (by their ids).
fn stop_tunnel(mut tunnel: ChildGuard) {
    for pid in children(tunnel.pid()) {
        let _ = Command::new("kill").arg(pid.to_string()).output();
    }
    tunnel.terminate_and_wait();
}

#[test]
fn squat_ecs_ssh_forwards_for_sdks_and_fails_fast_on_a_squatted_port() {
    testkit::venv::require_venv();
    assert!(
        Path::new("/usr/sbin/sshd").exists(),
        "openssh-server is missing: run scripts/test"
    );
    let w = World::start();
    let p = Parties::new(&w, "ss");
    let user = &p.victim;
    let (akid, _secret, session) = user.profile("dev");
    let server = user.server(&[]);
    user.ok(&[
        "ecs",
        "load",
        "--profile",
        "dev",
        "--server",
        &server.addr(),
    ]);
    let (ns, _dns) = remote_host(&w);
    let sshd = ns.start_sshd();
    let port = server.port.to_string();
    let mut ssh_args = vec!["ecs", "ssh", "--port", &port, &sshd.destination, "--"];
    let client = sshd.client_options();
    ssh_args.extend(client.iter().map(String::as_str));
    ssh_args.push("-N");

    // (a) The forward works: SDKs on the host get the credentials through it.
    let tunnel = ChildGuard::spawn(&mut user.command(&ssh_args), "aws-sso-ecs-ssh").unwrap();
    assert!(
        ns.wait_for_listener(PORT, Duration::from_secs(15)),
        "no tunnel: {}\nsshd: {}",
        tunnel.stderr(),
        sshd.child.stderr()
    );
    assert!(
        !ns.listeners().contains(&format!("[::1]:{PORT} ")),
        "the forward binds 127.0.0.1 only: {}",
        ns.listeners()
    );
    let got = python_sdk_fetch_in(&ns.wrapper(), &env_refs(&p.sdk_env(PORT))).unwrap();
    assert_eq!(got["AccessKeyId"], akid.as_str(), "{got}");
    assert_eq!(got["Token"], session.as_str(), "{got}");
    let got = rust_sdk_fetch_in(&ns.wrapper(), &env_refs(&p.rust_sdk_env(PORT))).unwrap();
    assert_eq!(got["AccessKeyId"], akid.as_str(), "{got}");
    let said = tunnel.stderr();
    assert!(
        said.contains(&format!(
            "forwarding 127.0.0.1:{PORT} on {} to the ECS server on 127.0.0.1:{port}",
            sshd.destination
        )),
        "{said}"
    );
    assert!(
        !said.contains("warning"),
        "the local server answers: {said}"
    );
    assert!(!said.contains(&p.bearer), "{said}");
    stop_tunnel(tunnel);
    let deadline = Instant::now() + Duration::from_secs(10);
    while ns.listeners().contains(&format!(":{PORT} ")) {
        assert!(Instant::now() < deadline, "the tunnel stays up");
        std::thread::sleep(Duration::from_millis(50));
    }

    // (b) A user of the host squats 127.0.0.1:4144 first, with a valid certificate for
    //     another name: `aws-sso ecs ssh` fails at once and says why.
    let squatter = ns.attacker(
        "127.0.0.1",
        PORT,
        Some((&p.mallory_cert.0, &p.mallory_cert.1)),
    );
    let started = Instant::now();
    let mut cmd = user.command(&ssh_args);
    let mut run = ChildGuard::spawn(&mut cmd, "aws-sso-ecs-ssh-squatted").unwrap();
    let status = run
        .wait_for_exit(Duration::from_secs(20))
        .expect("aws-sso ecs ssh exits when the port is squatted");
    let took = started.elapsed();
    let said = run.stderr();
    assert_eq!(status.code(), Some(255), "ssh's status propagates: {said}");
    assert!(took < Duration::from_secs(10), "took {took:?}: {said}");
    for part in [
        &format!("remote port forwarding failed for listen port {PORT}"),
        &format!(
            "something on {} already listens on 127.0.0.1:{PORT}",
            sshd.destination
        ),
        &"possibly another user squatting the port to steal credentials".to_owned(),
        &"do not point SDKs on that host at it".to_owned(),
        &"ss -ltnp".to_owned(),
    ] {
        assert!(said.contains(part.as_str()), "{part:?} in {said}");
    }
    assert!(!said.contains(&p.bearer), "{said}");
    // SDKs pointed at the port anyway refuse the squatter.
    sdks_refuse(&ns, &p, false);
    squatter.assert_got_nothing(&p.bearer);

    // Control: the plain `-R 4144:localhost:<port>` forward does not notice the squatter.
    // sshd binds every loopback address and reports success when ::1 works, so ssh carries
    // on (no exit, no message) while SDKs resolving the name to 127.0.0.1 reach the squatter.
    let before = squatter.connections();
    let forward = format!("{PORT}:localhost:{port}");
    let mut plain = Command::new("ssh");
    plain
        .args(&client)
        .args(["-o", "ExitOnForwardFailure=yes", "-N", "-R", &forward])
        .arg(&sshd.destination);
    let mut plain = ChildGuard::spawn(&mut plain, "ssh-plain-forward").unwrap();
    assert!(
        ns.wait_for_listener_on(&format!("[::1]:{PORT}"), Duration::from_secs(15)),
        "sshd took ::1 only: {}\nssh: {}",
        ns.listeners(),
        plain.stderr()
    );
    assert!(
        plain.wait_for_exit(Duration::from_secs(2)).is_none(),
        "the plain forward stays up despite the squatter: {}",
        plain.stderr()
    );
    sdks_refuse(&ns, &p, false);
    assert!(
        squatter.connections() > before,
        "the SDK went to the squatter, not the tunnel: {}",
        squatter.log()
    );
    drop(plain);
    drop(squatter);

    // Without a local server, `aws-sso ecs ssh` warns before running ssh, and ssh's exit
    // status (here `false`'s) is its own.
    let unused = testkit::ports::free_port().to_string();
    let mut cmd = user.command(&["ecs", "ssh", "--port", &unused, "box", "-N"]);
    cmd.env("AWS_SSO_SSH", "false");
    let out = cmd.output().unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(
        said.contains(&format!(
            "warning: no ECS server answers on 127.0.0.1:{unused}"
        )),
        "{said}"
    );
    assert!(!said.contains("squatting"), "{said}");

    drop(sshd);
    let log = server.stop();
    assert!(!log.contains(&p.bearer), "the token is never logged");
}
