//! The remote-host scenario: the ECS server on this machine, an SDK on another host that
//! reaches it through `ssh -R 4144:localhost:<port>` and fetches over HTTPS with a
//! certificate certd got from Pebble. The "other host" is a network namespace the test
//! makes (its own loopback), joined to this one by a veth pair only so that the SSH client
//! can reach the sshd in it. The SDK resolves `dev.certs.test` through the namespace's
//! hosts file (`/etc/netns/NS/hosts`): certd's DNS runs in the test process, outside.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::Value;
use testkit::process::ChildGuard;

use crate::cert::{World, ZONE};

/// The veth addresses: root namespace side and test-namespace side.
const ROOT_ADDR: &str = "10.255.254.1";
const NS_ADDR: &str = "10.255.254.2";

/// Prints botocore's resolved credentials as one JSON line; errors as `Type: message`.
const BOTOCORE_FETCH: &str = r#"
import json, sys
import botocore.session
try:
    creds = botocore.session.get_session().get_credentials()
    if creds is None:
        print("NoCredentials: botocore found no credentials", file=sys.stderr)
        sys.exit(1)
    frozen = creds.get_frozen_credentials()
except Exception as e:
    print(f"{type(e).__name__}: {e}", file=sys.stderr)
    sys.exit(1)
print(json.dumps({"AccessKeyId": frozen.access_key, "Token": frozen.token, "Method": creds.method}))
"#;

fn run(args: &[&str]) -> Output {
    let out = Command::new(args[0]).args(&args[1..]).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A network namespace with a veth pair to the root namespace; deleted (with its veth and
/// `/etc/netns/NS`) on drop.
struct Netns {
    name: String,
    etc: PathBuf,
}

impl Netns {
    fn create(hosts: &str) -> Netns {
        let tag = format!("{:08x}", rand_u32());
        let name = format!("awsso-{tag}");
        let etc = PathBuf::from("/etc/netns").join(&name);
        std::fs::create_dir_all(&etc).unwrap();
        let ns = Netns { name, etc };
        std::fs::write(ns.etc.join("hosts"), hosts).unwrap();
        let n = ns.name.as_str();
        let (outer, inner) = (format!("aws{tag}a"), format!("aws{tag}b"));
        run(&["ip", "netns", "add", n]);
        run(&["ip", "-n", n, "link", "set", "lo", "up"]);
        run(&[
            "ip", "link", "add", &outer, "type", "veth", "peer", "name", &inner, "netns", n,
        ]);
        run(&[
            "ip",
            "addr",
            "add",
            &format!("{ROOT_ADDR}/30"),
            "dev",
            &outer,
        ]);
        run(&["ip", "link", "set", &outer, "up"]);
        run(&[
            "ip",
            "-n",
            n,
            "addr",
            "add",
            &format!("{NS_ADDR}/30"),
            "dev",
            &inner,
        ]);
        run(&["ip", "-n", n, "link", "set", &inner, "up"]);
        ns
    }

    /// `ip netns exec NS <program> <args>` with an empty environment plus `env`.
    fn command(&self, program: &Path, args: &[&str], env: &[(&str, &str)]) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.name])
            .arg(program)
            .args(args)
            .env_clear()
            .env("PATH", "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin")
            .envs(env.iter().copied());
        cmd
    }

    /// Waits until something listens on `127.0.0.1:port` inside the namespace.
    fn wait_for_listener(&self, port: u16, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let want = format!("127.0.0.1:{port} ");
        while Instant::now() < deadline {
            let out = run(&["ip", "netns", "exec", &self.name, "ss", "-Hltn"]);
            if String::from_utf8_lossy(&out.stdout).contains(&want) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        // Deleting the namespace destroys the veth inside it and so its peer outside too.
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
        let _ = std::fs::remove_dir_all(&self.etc);
        // `/etc/netns` itself only if this left it empty.
        let _ = std::fs::remove_dir("/etc/netns");
    }
}

fn rand_u32() -> u32 {
    let mut b = [0u8; 4];
    getrandom_fill(&mut b);
    u32::from_le_bytes(b)
}

fn getrandom_fill(buf: &mut [u8]) {
    use std::io::Read;
    std::fs::File::open("/dev/urandom")
        .unwrap()
        .read_exact(buf)
        .unwrap();
}

fn keygen(path: &Path) {
    run(&[
        "ssh-keygen",
        "-q",
        "-t",
        "ed25519",
        "-N",
        "",
        "-f",
        path.to_str().unwrap(),
    ]);
}

/// botocore inside the namespace, with a throwaway HOME and only `env`.
fn botocore_in(ns: &Netns, env: &[(&str, &str)]) -> Result<Value, String> {
    let home = tempfile::tempdir().unwrap();
    let home_s = home.path().to_str().unwrap();
    let mut all = vec![("HOME", home_s), ("AWS_EC2_METADATA_DISABLED", "true")];
    all.extend_from_slice(env);
    let out = ns
        .command(&testkit::venv::python(), &["-c", BOTOCORE_FETCH], &all)
        .output()
        .unwrap();
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).trim().to_owned());
    }
    serde_json::from_slice(&out.stdout).map_err(|e| format!("{e}"))
}

#[test]
fn an_sdk_on_a_remote_host_fetches_through_ssh_reverse_tunnel_over_https() {
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

    // 2. The remote host: a namespace with sshd, and the reverse tunnel into it.
    let ns = Netns::create(&format!("127.0.0.1 localhost\n127.0.0.1 {fqdn}\n"));
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (host_key, client_key) = (d.join("host_key"), d.join("client_key"));
    keygen(&host_key);
    keygen(&client_key);
    std::fs::copy(d.join("client_key.pub"), d.join("authorized_keys")).unwrap();
    let config = d.join("sshd_config");
    std::fs::write(
        &config,
        format!(
            "ListenAddress {NS_ADDR}:22\nHostKey {}\nPidFile {}\nPermitRootLogin prohibit-password\n\
             AuthorizedKeysFile {}\nStrictModes no\nPasswordAuthentication no\n\
             KbdInteractiveAuthentication no\nUsePAM no\nAllowTcpForwarding yes\n\
             GatewayPorts no\nLogLevel VERBOSE\n",
            host_key.display(),
            d.join("sshd.pid").display(),
            d.join("authorized_keys").display()
        ),
    )
    .unwrap();
    // sshd's privilege-separation directory, as the package's service unit makes it.
    std::fs::create_dir_all("/run/sshd").unwrap();
    let mut sshd = ChildGuard::spawn(
        &mut ns.command(
            Path::new("/usr/sbin/sshd"),
            &["-D", "-e", "-f", config.to_str().unwrap()],
            &[],
        ),
        "sshd-netns",
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !sshd.stderr().contains("Server listening") {
        assert!(
            Instant::now() < deadline && sshd.try_status().is_none(),
            "sshd did not start: {}",
            sshd.stderr()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let forward = format!("4144:localhost:{}", server.port);
    let mut ssh_cmd = Command::new("ssh");
    ssh_cmd.args([
        "-F",
        "/dev/null",
        "-v",
        "-o",
        "StrictHostKeyChecking=no",
        "-o",
        "UserKnownHostsFile=/dev/null",
        "-o",
        "ExitOnForwardFailure=yes",
        "-o",
        "BatchMode=yes",
        "-o",
        "IdentitiesOnly=yes",
        "-i",
        client_key.to_str().unwrap(),
        "-N",
        "-R",
        &forward,
        &format!("root@{NS_ADDR}"),
    ]);
    let mut ssh = ChildGuard::spawn(&mut ssh_cmd, "ssh-reverse").unwrap();
    assert!(
        ns.wait_for_listener(4144, Duration::from_secs(15)),
        "no tunnel listener in the namespace; ssh ({:?}): {}\nsshd: {}",
        ssh.try_status(),
        ssh.stderr(),
        sshd.stderr()
    );

    // 3. botocore on the remote host: HTTPS to dev.certs.test:4144, through the tunnel.
    let uri = format!("https://{fqdn}:4144/");
    let env = [
        ("AWS_CONTAINER_CREDENTIALS_FULL_URI", uri.as_str()),
        (
            "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
            token_file.as_str(),
        ),
    ];
    let got = botocore_in(&ns, &env).unwrap_or_else(|e| {
        panic!(
            "botocore in the namespace: {e}\nssh: {}\nsshd: {}",
            ssh.stderr(),
            sshd.stderr()
        )
    });
    assert_eq!(got["AccessKeyId"], akid.as_str(), "{got}");
    assert_eq!(got["Token"], session.as_str(), "{got}");
    assert_eq!(got["Method"], "container-role", "{got}");
    // The SDK's connections arrived through the tunnel, from the namespace's loopback.
    assert!(
        ssh.stderr()
            .contains("client_request_forwarded_tcpip: listen localhost port 4144"),
        "{}",
        ssh.stderr()
    );

    // A wrong token gets nothing.
    let err = botocore_in(
        &ns,
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
    let direct = botocore_in(
        &ns,
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

    // 4. Tunnel, sshd, then the namespace (Netns's drop) go down.
    drop(ssh);
    drop(sshd);
    let log = server.stop();
    assert!(!log.contains(&bearer), "the token is never logged");
}
