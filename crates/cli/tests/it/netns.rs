//! Another host, made here: a network namespace (its own loopback) joined to this one by a
//! veth pair on a /30 of its own (so tests running at once do not collide), with its own
//! `/etc/hosts` and `/etc/resolv.conf` (`ip netns exec` mounts `/etc/netns/NS/*` over
//! `/etc/`); a real sshd in it; and an attacker's listener in it (a real TLS server, run as
//! an unprivileged user) that logs every connection and whatever request reaches it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use testkit::process::ChildGuard;

use crate::harness::User;

pub(crate) fn run(args: &[&str]) -> Output {
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
pub(crate) struct Netns {
    pub(crate) name: String,
    etc: PathBuf,
    /// The root namespace's end of the veth pair.
    pub(crate) root_addr: String,
    /// The namespace's end of the veth pair.
    pub(crate) ns_addr: String,
}

impl Netns {
    /// A namespace whose processes see `hosts` as /etc/hosts and `resolv_conf(root_addr)`
    /// as /etc/resolv.conf.
    pub(crate) fn create(hosts: &str, resolv_conf: impl FnOnce(&str) -> String) -> Netns {
        let tag = format!("{:08x}", rand_u32());
        let name = format!("awsso-{tag}");
        let etc = PathBuf::from("/etc/netns").join(&name);
        let (root_addr, ns_addr) = free_slash30();
        std::fs::create_dir_all(&etc).unwrap();
        let ns = Netns {
            name,
            etc,
            root_addr,
            ns_addr,
        };
        std::fs::write(ns.etc.join("hosts"), hosts).unwrap();
        std::fs::write(ns.etc.join("resolv.conf"), resolv_conf(&ns.root_addr)).unwrap();
        let n = ns.name.as_str();
        let (outer, inner) = (format!("aws{tag}a"), format!("aws{tag}b"));
        run(&["ip", "netns", "add", n]);
        run(&["ip", "-n", n, "link", "set", "lo", "up"]);
        run(&[
            "ip", "link", "add", &outer, "type", "veth", "peer", "name", &inner, "netns", n,
        ]);
        let root_cidr = format!("{}/30", ns.root_addr);
        run(&["ip", "addr", "add", &root_cidr, "dev", &outer]);
        run(&["ip", "link", "set", &outer, "up"]);
        let ns_cidr = format!("{}/30", ns.ns_addr);
        run(&["ip", "-n", n, "addr", "add", &ns_cidr, "dev", &inner]);
        run(&["ip", "-n", n, "link", "set", &inner, "up"]);
        ns
    }

    /// `ip netns exec NS <program> <args>` with an empty environment plus `env`.
    pub(crate) fn command(&self, program: &Path, args: &[&str], env: &[(&str, &str)]) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.name])
            .arg(program)
            .args(args)
            .env_clear()
            .env("PATH", "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin")
            .envs(env.iter().copied());
        cmd
    }

    /// The prefix that runs a program inside the namespace.
    pub(crate) fn wrapper(&self) -> [&str; 4] {
        ["ip", "netns", "exec", &self.name]
    }

    /// `aws-sso <args>` inside the namespace, as `user`, not yet started.
    pub(crate) fn aws_sso_command(&self, user: &User, args: &[&str]) -> Command {
        user.command_in(&self.wrapper(), args)
    }

    /// `aws-sso <args>` inside the namespace, as `user`.
    pub(crate) fn aws_sso(&self, user: &User, args: &[&str]) -> Output {
        self.aws_sso_command(user, args).output().unwrap()
    }

    /// The TCP listening sockets in the namespace (`ss -Hltn`).
    pub(crate) fn listeners(&self) -> String {
        let out = run(&["ip", "netns", "exec", &self.name, "ss", "-Hltn"]);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Waits until something listens on `addr` (`ip:port`, `[::1]:port`) in the namespace.
    pub(crate) fn wait_for_listener_on(&self, addr: &str, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let want = format!("{addr} ");
        while Instant::now() < deadline {
            if self.listeners().contains(&want) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    /// Waits until something listens on `127.0.0.1:port` inside the namespace.
    pub(crate) fn wait_for_listener(&self, port: u16, timeout: Duration) -> bool {
        self.wait_for_listener_on(&format!("127.0.0.1:{port}"), timeout)
    }

    /// A real sshd listening on the namespace's veth address, port 22, accepting the
    /// returned client key for root.
    pub(crate) fn start_sshd(&self) -> Sshd {
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
                "ListenAddress {}:22\nHostKey {}\nPidFile {}\nPermitRootLogin prohibit-password\n\
                 AuthorizedKeysFile {}\nStrictModes no\nPasswordAuthentication no\n\
                 KbdInteractiveAuthentication no\nUsePAM no\nAllowTcpForwarding yes\n\
                 GatewayPorts no\nLogLevel VERBOSE\n",
                self.ns_addr,
                host_key.display(),
                d.join("sshd.pid").display(),
                d.join("authorized_keys").display()
            ),
        )
        .unwrap();
        // sshd's privilege-separation directory, as the package's service unit makes it.
        std::fs::create_dir_all("/run/sshd").unwrap();
        let mut child = ChildGuard::spawn(
            &mut self.command(
                Path::new("/usr/sbin/sshd"),
                &["-D", "-e", "-f", config.to_str().unwrap()],
                &[],
            ),
            "sshd-netns",
        )
        .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while !child.stderr().contains("Server listening") {
            assert!(
                Instant::now() < deadline && child.try_status().is_none(),
                "sshd did not start: {}",
                child.stderr()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Sshd {
            child,
            client_key,
            destination: format!("root@{}", self.ns_addr),
            _dir: dir,
        }
    }

    /// An attacker's listener on `ip:port` in the namespace, run as `nobody` (a non-root
    /// user of that host): TLS with `chain_pem`/`key_pem` when given, else plain TCP.
    pub(crate) fn attacker(&self, ip: &str, port: u16, tls: Option<(&str, &str)>) -> Attacker {
        Attacker::start(self, ip, port, tls)
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

/// A /30 in 10.200.0.0-10.254.255.255 that no interface of this machine uses yet:
/// (root side, namespace side).
fn free_slash30() -> (String, String) {
    let used = String::from_utf8_lossy(&run(&["ip", "-o", "-4", "addr"]).stdout).into_owned();
    loop {
        let r = rand_u32();
        let (a, b, c) = (200 + (r % 55), (r >> 8) & 0xff, ((r >> 16) % 64) * 4);
        let net = format!("10.{a}.{b}.");
        let (root, ns) = (format!("{net}{}", c + 1), format!("{net}{}", c + 2));
        if !used.contains(&format!("inet {root}/")) && !used.contains(&format!("inet {ns}/")) {
            return (root, ns);
        }
    }
}

pub(crate) fn rand_u32() -> u32 {
    use std::io::Read;
    let mut b = [0u8; 4];
    std::fs::File::open("/dev/urandom")
        .unwrap()
        .read_exact(&mut b)
        .unwrap();
    u32::from_le_bytes(b)
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

/// The sshd of a [`Netns`] and how to log in to it.
pub(crate) struct Sshd {
    pub(crate) child: ChildGuard,
    client_key: PathBuf,
    /// `root@<namespace address>`.
    pub(crate) destination: String,
    _dir: tempfile::TempDir,
}

impl Sshd {
    /// ssh client options that log in with the test key, trusting the host key blindly
    /// and never prompting.
    pub(crate) fn client_options(&self) -> Vec<String> {
        [
            "-F",
            "/dev/null",
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "BatchMode=yes",
            "-o",
            "IdentitiesOnly=yes",
            "-i",
            self.client_key.to_str().unwrap(),
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect()
    }
}

/// The attacker's server: Python's `ssl` (OpenSSL) or plain TCP, one connection at a time.
/// Logs `connection`, then `handshake refused: <why>` or `handshake done`, then
/// `request: <the head, CRLFs as " | ">` and answers 404. It runs as `nobody`, so the files
/// it reads are made world-readable in a directory of their own.
const ATTACKER_PY: &str = r#"
import socket, ssl, sys
ip, port = sys.argv[1], int(sys.argv[2])
ctx = None
if len(sys.argv) > 3:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(sys.argv[3], sys.argv[4])
s = socket.socket(socket.AF_INET6 if ":" in ip else socket.AF_INET)
# Only lets the port be reused past TIME_WAIT; never two listeners at once on Linux.
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((ip, port))
s.listen(16)
print("listening", flush=True)
while True:
    c, _ = s.accept()
    c.settimeout(10)
    print("connection", flush=True)
    if ctx is not None:
        try:
            c = ctx.wrap_socket(c, server_side=True)
        except Exception as e:
            print("handshake refused:", e, flush=True)
            c.close()
            continue
        print("handshake done", flush=True)
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            chunk = c.recv(65536)
            if not chunk:
                break
            data += chunk
    except Exception as e:
        print("read failed:", e, flush=True)
    print("request:", data.decode("latin-1").replace("\r\n", " | "), flush=True)
    try:
        c.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        c.close()
    except Exception:
        pass
"#;

pub(crate) struct Attacker {
    child: ChildGuard,
    _dir: tempfile::TempDir,
}

impl Attacker {
    fn start(ns: &Netns, ip: &str, port: u16, tls: Option<(&str, &str)>) -> Attacker {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let script = dir.path().join("attacker.py");
        std::fs::write(&script, ATTACKER_PY).unwrap();
        let mut args: Vec<String> = [
            "--reuid=nobody",
            "--regid=nogroup",
            "--clear-groups",
            "/usr/bin/python3",
            "-u",
            script.to_str().unwrap(),
            ip,
            &port.to_string(),
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        if let Some((chain, key)) = tls {
            for (name, pem) in [("chain.pem", chain), ("key.pem", key)] {
                let path = dir.path().join(name);
                std::fs::write(&path, pem).unwrap();
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
                args.push(path.to_str().unwrap().to_owned());
            }
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut child = ChildGuard::spawn(
            &mut ns.command(Path::new("setpriv"), &args, &[]),
            "attacker",
        )
        .unwrap();
        assert!(
            child.wait_for_output("listening", Duration::from_secs(10)),
            "the attacker's listener did not start: {}",
            child.stderr()
        );
        Attacker { child, _dir: dir }
    }

    /// Everything it logged.
    pub(crate) fn log(&self) -> String {
        self.child.stdout() + &self.child.stderr()
    }

    /// How many connections it accepted.
    pub(crate) fn connections(&self) -> usize {
        self.child
            .stdout()
            .lines()
            .filter(|l| *l == "connection")
            .count()
    }

    /// Asserts that at least one connection came in and that not one byte of a request
    /// reached the listener: no request, no `Authorization` header, no `token`. The TLS
    /// handshake may fail (the client refused the chain: rustls, OpenSSL's name check) or
    /// complete (botocore checks the name itself right after it) but nothing is sent.
    pub(crate) fn assert_got_nothing(&self, token: &str) {
        let log = self.log();
        assert!(
            self.connections() >= 1,
            "the SDK never connected to the attacker: {log}"
        );
        assert!(
            self.requests().iter().all(String::is_empty),
            "a request reached the attacker: {log}"
        );
        assert!(!log.to_ascii_lowercase().contains("authorization"), "{log}");
        assert!(!log.contains(token), "the attacker has the token: {log}");
    }

    /// How many TLS handshakes the client broke off (an alert or a closed connection).
    pub(crate) fn refused_handshakes(&self) -> usize {
        self.child
            .stdout()
            .lines()
            .filter(|l| l.starts_with("handshake refused:"))
            .count()
    }

    /// The request heads it received.
    pub(crate) fn requests(&self) -> Vec<String> {
        self.child
            .stdout()
            .lines()
            .filter_map(|l| l.strip_prefix("request:"))
            .map(|r| r.trim().to_owned())
            .collect()
    }
}

impl Netns {
    /// Replaces the namespace's /etc/hosts for the processes started from now on.
    pub(crate) fn set_hosts(&self, hosts: &str) {
        std::fs::write(self.etc.join("hosts"), hosts).unwrap();
    }
}

/// The people of the attacks, with certificates from Pebble through certd: the victim,
/// whose `dev.<zone>` certificate serves the ECS server, and mallory, another customer of
/// the same service holding a valid certificate for `evil.<zone>` from the same CA.
pub(crate) struct Parties {
    pub(crate) victim: User,
    /// `dev.<zone>`.
    pub(crate) fqdn: String,
    /// The victim's bearer token (hex, without `Bearer `).
    pub(crate) bearer: String,
    /// The victim's chain and key, PEM.
    pub(crate) victim_cert: (String, String),
    /// Mallory's chain and key for `evil.<zone>`, PEM.
    pub(crate) mallory_cert: (String, String),
    /// A self-signed certificate for `dev.<zone>` and its key, PEM.
    pub(crate) self_signed: (String, String),
    /// A PEM file holding Pebble's root: the Rust SDK's `SSL_CERT_FILE`.
    pub(crate) roots: tempfile::NamedTempFile,
}

impl Parties {
    /// Issues both certificates and makes the SDKs trust Pebble's root (botocore through
    /// certifi's bundle, the Rust SDK through [`Parties::roots`]), as they trust a public CA.
    pub(crate) fn new(w: &crate::cert::World, tag: &str) -> Parties {
        use cli::items::{ECS_SSL_CERT, ECS_SSL_KEY};
        let issued = |user: &User| {
            let sign = ["setup", "ecs", "cert", "sign-csr"];
            let mut r = user.run(&sign);
            // Pebble rejects 5 % of nonces on purpose and instant-acme's retries sometimes
            // run out (a known flake of certd-acme, tested elsewhere): one more attempt.
            if !r.ok && r.stderr.contains("kept rejecting nonces") {
                r = user.run(&sign);
            }
            assert!(r.ok, "sign-csr: {}", r.stderr);
            assert!(r.stderr.contains("Stored the certificate"), "{}", r.stderr);
            (
                user.stored(ECS_SSL_CERT).unwrap(),
                user.stored(ECS_SSL_KEY).unwrap(),
            )
        };
        let (victim, fqdn, _) = w.enrolled_user(&format!("{tag}v"), "dev");
        let victim_cert = issued(&victim);
        let (mallory, evil, _) = w.enrolled_user(&format!("{tag}m"), "evil");
        let mallory_cert = issued(&mallory);
        let names = pki::cert_info(
            pki::parse_cert_chain(&mallory_cert.0)
                .unwrap()
                .first()
                .unwrap(),
        )
        .unwrap()
        .dns_names;
        assert_eq!(names, [evil], "mallory's certificate names only her name");
        testkit::venv::trust_ca_for_botocore(w._pebble.issuer_root_pem());
        let roots = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(roots.path(), w._pebble.issuer_root_pem()).unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec![fqdn.clone()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let bearer = victim.generate_token();
        Parties {
            victim,
            fqdn,
            bearer,
            victim_cert,
            mallory_cert,
            self_signed: (cert.pem(), key.serialize_pem()),
            roots,
        }
    }

    /// The SDK environment for `https://<fqdn>:<port>/` with the victim's token.
    pub(crate) fn sdk_env(&self, port: u16) -> Vec<(String, String)> {
        vec![
            (
                "AWS_CONTAINER_CREDENTIALS_FULL_URI".into(),
                format!("https://{}:{port}/", self.fqdn),
            ),
            (
                "AWS_CONTAINER_AUTHORIZATION_TOKEN".into(),
                format!("Bearer {}", self.bearer),
            ),
        ]
    }

    /// [`Parties::sdk_env`] plus `SSL_CERT_FILE` for the Rust SDK.
    pub(crate) fn rust_sdk_env(&self, port: u16) -> Vec<(String, String)> {
        let mut env = self.sdk_env(port);
        env.push((
            "SSL_CERT_FILE".into(),
            self.roots.path().to_str().unwrap().to_owned(),
        ));
        env
    }
}
