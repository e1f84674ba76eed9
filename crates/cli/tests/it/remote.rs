//! The remote-host scenario: the ECS server on this machine, an SDK on another host that
//! reaches it through `ssh -R 4144:localhost:<port>` and fetches over HTTPS with a
//! certificate certd got from Pebble. The "other host" is a network namespace the test
//! makes (its own loopback), joined to this one by a veth pair only so that the SSH client
//! can reach the sshd in it. The SDKs resolve `dev.certs.test` through certd's own DNS
//! server: `ip netns exec` mounts `/etc/netns/NS/resolv.conf` (naming certd's DNS on the
//! veth address) over `/etc/resolv.conf` and `/etc/netns/NS/hosts` (localhost only) over
//! `/etc/hosts` for the processes it starts, so the machine's resolver files are not used.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;
use testkit::process::ChildGuard;
use testkit::sdk::{aws_cli_in, python_sdk_fetch_in, rust_sdk_fetch_in};

use crate::cert::{World, ZONE};
use crate::harness::User;
use crate::netns::Netns;

/// Accepts one HTTP request on 127.0.0.1:PORT inside the namespace, answers 403 and
/// prints the request head (a stand-in STS endpoint that shows how the AWS CLI signed).
const CAPTURE_ONE: &str = r#"
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(1)
print("listening", flush=True)
s.settimeout(60)
c, _ = s.accept()
data = b""
while b"\r\n\r\n" not in data:
    chunk = c.recv(65536)
    if not chunk:
        break
    data += chunk
body = b"<ErrorResponse><Error><Code>AccessDenied</Code><Message>captured</Message></Error></ErrorResponse>"
c.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Type: text/xml\r\nConnection: close\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
c.close()
print(data.split(b"\r\n\r\n")[0].decode("latin-1"), flush=True)
"#;

/// The DNS check of `aws-sso setup ecs cert status --output json` run in the namespace.
fn status_dns_in(ns: &Netns, user: &User) -> Value {
    let out = ns.aws_sso(
        user,
        &["setup", "ecs", "cert", "status", "--output", "json"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v["dns"].clone()
}

#[test]
fn sdks_on_a_remote_host_resolve_through_certd_and_fetch_through_ssh_reverse_tunnel() {
    testkit::venv::require_venv();
    assert!(
        Path::new("/usr/sbin/sshd").exists(),
        "openssh-server is missing: run scripts/test"
    );

    // 1. A certificate for dev.certs.test from Pebble through certd, a profile, the server.
    let w = World::start();
    let (user, fqdn, _) = w.enrolled_user("remo", "dev");
    assert_eq!(fqdn, format!("dev.{ZONE}"));
    let r = user.ok(&["setup", "ecs", "cert", "sign-csr"]);
    assert!(r.stderr.contains("Stored the certificate"), "{}", r.stderr);
    testkit::venv::trust_ca_for_botocore(w._pebble.issuer_root_pem());
    let bearer = user.generate_token();
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
    let exports = user.ecs_env(&["--server", &server.addr()]);
    let token_file = exports
        .iter()
        .find(|(k, _)| k == "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")
        .map(|(_, v)| v.clone())
        .unwrap();
    assert_eq!(
        std::fs::read_to_string(&token_file).unwrap(),
        format!("Bearer {bearer}")
    );

    // 2. The remote host: a namespace whose resolver is certd's DNS (on the veth address,
    //    port 53) and whose hosts file knows only localhost.
    let ns = Netns::create("127.0.0.1 localhost\n", |root| {
        format!("nameserver {root}\noptions timeout:1 attempts:2\n")
    });
    let dns = w.serve_dns_on_port_53(ns.root_addr.parse().unwrap());
    let resolved = ns
        .command(Path::new("getent"), &["ahostsv4", &fqdn], &[])
        .output()
        .unwrap();
    assert!(
        resolved.status.success(),
        "{fqdn} does not resolve in the namespace: {}",
        String::from_utf8_lossy(&resolved.stderr)
    );
    let resolved = String::from_utf8_lossy(&resolved.stdout).into_owned();
    assert!(
        resolved.lines().all(|l| l.starts_with("127.0.0.1 ")) && !resolved.is_empty(),
        "{resolved}"
    );
    // aws-sso's own DNS check on that host agrees.
    let check = status_dns_in(&ns, &user);
    assert_eq!(check["ok"], true, "{check}");
    assert_eq!(
        check["addresses"],
        serde_json::json!(["127.0.0.1"]),
        "{check}"
    );

    //    sshd in it, and the reverse tunnel into it.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let sshd = ns.start_sshd();
    let forward = format!("4144:localhost:{}", server.port);
    let mut ssh_cmd = Command::new("ssh");
    ssh_cmd
        .args(sshd.client_options())
        .args(["-v", "-o", "ExitOnForwardFailure=yes", "-N", "-R", &forward])
        .arg(&sshd.destination);
    let mut ssh = ChildGuard::spawn(&mut ssh_cmd, "ssh-reverse").unwrap();
    assert!(
        ns.wait_for_listener(4144, Duration::from_secs(15)),
        "no tunnel listener in the namespace; ssh ({:?}): {}\nsshd: {}",
        ssh.try_status(),
        ssh.stderr(),
        sshd.child.stderr()
    );

    // 3. The SDKs on the remote host: HTTPS to dev.certs.test:4144, through the tunnel.
    let uri = format!("https://{fqdn}:4144/");
    let env = [
        ("AWS_CONTAINER_CREDENTIALS_FULL_URI", uri.as_str()),
        (
            "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
            token_file.as_str(),
        ),
    ];
    let why = |e: String| -> String {
        format!("{e}\nssh: {}\nsshd: {}", ssh.stderr(), sshd.child.stderr())
    };
    let got = python_sdk_fetch_in(&ns.wrapper(), &env)
        .unwrap_or_else(|e| panic!("botocore in the namespace: {}", why(e)));
    assert_eq!(got["AccessKeyId"], akid.as_str(), "{got}");
    assert_eq!(got["Token"], session.as_str(), "{got}");
    assert_eq!(got["Method"], "container-role", "{got}");
    // The AWS SDK for Rust trusts Pebble's root through SSL_CERT_FILE (its native roots).
    let roots = d.join("roots.pem");
    std::fs::write(&roots, w._pebble.issuer_root_pem()).unwrap();
    let mut rust_env = env.to_vec();
    rust_env.push(("SSL_CERT_FILE", roots.to_str().unwrap()));
    let got = rust_sdk_fetch_in(&ns.wrapper(), &rust_env)
        .unwrap_or_else(|e| panic!("the Rust SDK in the namespace: {}", why(e)));
    assert_eq!(got["AccessKeyId"], akid.as_str(), "{got}");
    assert_eq!(got["SessionToken"], session.as_str(), "{got}");
    // The AWS CLI signs a call with the served credentials (to a stand-in STS endpoint
    // inside the namespace that captures the request).
    let sts_port = 4145;
    let mut capture = ChildGuard::spawn(
        &mut ns.command(
            &testkit::venv::python(),
            &["-u", "-c", CAPTURE_ONE, &sts_port.to_string()],
            &[],
        ),
        "sts-capture",
    )
    .unwrap();
    assert!(ns.wait_for_listener(sts_port, Duration::from_secs(10)));
    let mut cli_env = env.to_vec();
    cli_env.extend([
        ("AWS_DEFAULT_REGION", "us-east-1"),
        ("AWS_MAX_ATTEMPTS", "1"),
    ]);
    let endpoint = format!("http://127.0.0.1:{sts_port}");
    let out = aws_cli_in(
        &ns.wrapper(),
        &cli_env,
        &["sts", "get-caller-identity", "--endpoint-url", &endpoint],
    );
    assert!(
        !out.status.success(),
        "the capture endpoint refuses the call"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while capture.try_status().is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let head = capture.stdout();
    assert!(
        head.contains(&format!("Credential={akid}/")),
        "the AWS CLI signed with the served key: {head}\naws: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        head.to_ascii_lowercase().contains(&format!(
            "x-amz-security-token: {}",
            session.to_ascii_lowercase()
        )),
        "{head}"
    );
    // The SDKs' connections arrived through the tunnel, from the namespace's loopback.
    assert!(
        ssh.stderr()
            .contains("client_request_forwarded_tcpip: listen localhost port 4144"),
        "{}",
        ssh.stderr()
    );

    // A wrong token gets nothing.
    let err = python_sdk_fetch_in(
        &ns.wrapper(),
        &[
            ("AWS_CONTAINER_CREDENTIALS_FULL_URI", uri.as_str()),
            ("AWS_CONTAINER_AUTHORIZATION_TOKEN", "Bearer wrong"),
        ],
    )
    .unwrap_err();
    assert!(
        err.contains("403") || err.contains("Invalid authorization"),
        "{err}"
    );

    // The namespace really is another host: its loopback does not reach the server directly.
    let direct = python_sdk_fetch_in(
        &ns.wrapper(),
        &[
            (
                "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                &format!("https://{fqdn}:{}/", server.port),
            ),
            (
                "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
                token_file.as_str(),
            ),
        ],
    );
    assert!(direct.is_err(), "reached the server without the tunnel");

    // Without certd's DNS the name resolves nowhere in the namespace: the answers above
    // came from certd, not from a file of the machine.
    drop(dns);
    let check = status_dns_in(&ns, &user);
    assert_eq!(check["ok"], false, "{check}");
    let failed = python_sdk_fetch_in(&ns.wrapper(), &env).unwrap_err();
    assert!(!failed.is_empty());

    // 4. Tunnel, sshd, then the namespace (Netns's drop) go down.
    drop(ssh);
    drop(sshd);
    let log = server.stop();
    assert!(!log.contains(&bearer), "the token is never logged");
}
