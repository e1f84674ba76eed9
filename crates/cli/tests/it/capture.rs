//! Attack: a user on the machine of the ECS server (or of the SDK) who can read loopback
//! traffic (here tcpdump on `lo`) while real SDKs fetch credentials from `aws-sso ecs
//! server`. Over HTTPS the capture holds none of the bearer token, access key id, secret
//! key or session token; the same run over plain HTTP (`--disable-ssl`) holds all four,
//! which shows the capture and the search would catch the leak.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use testkit::ca::{KeyKind, TestCa};
use testkit::process::ChildGuard;
use testkit::sdk::{aws_cli_in, python_sdk_fetch_in, rust_sdk_fetch_in};

use crate::harness::{PrivateHosts, User};

/// `tcpdump -i lo` of one TCP port into a pcap file.
struct Tcpdump {
    child: ChildGuard,
    file: PathBuf,
}

impl Tcpdump {
    /// Starts capturing every packet to or from `port` on loopback, whole packets, each
    /// written as it arrives; returns once tcpdump says it listens.
    fn start(port: u16, dir: &Path) -> Tcpdump {
        let file = dir.join("lo.pcap");
        let mut cmd = Command::new("tcpdump");
        // -Z root: Debian's tcpdump would otherwise switch to the `tcpdump` user and could
        // not write into the test's private temp directory.
        // --immediate-mode: packets reach the file as they arrive, not when a kernel
        // buffer block fills or times out (else the last second is lost on SIGINT).
        cmd.args([
            "-i",
            "lo",
            "-n",
            "--immediate-mode",
            "-U",
            "-s",
            "0",
            "-Z",
            "root",
        ])
        .arg("-w")
        .arg(&file)
        .arg(format!("tcp port {port}"));
        let mut child = ChildGuard::spawn(&mut cmd, "tcpdump")
            .expect("run tcpdump (apt-get install -y tcpdump)");
        assert!(
            child.wait_for_output("listening on lo", Duration::from_secs(15)),
            "tcpdump did not start: {:?} {}",
            child.try_status(),
            child.stderr()
        );
        Tcpdump { child, file }
    }

    /// SIGINT, wait for tcpdump to flush and exit, and return the pcap's bytes and the
    /// number of packets it says it captured.
    fn stop(mut self) -> (Vec<u8>, u64) {
        // Let the last packets (FIN/ACK of the last connection) be written.
        std::thread::sleep(Duration::from_millis(500));
        let status = Command::new("kill")
            .args(["-INT", &self.child.pid().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let exit = self
            .child
            .wait_for_exit(Duration::from_secs(15))
            .expect("tcpdump exits on SIGINT");
        let report = self.child.stderr();
        assert!(exit.success(), "tcpdump: {exit:?} {report}");
        let captured = report
            .lines()
            .find_map(|l| l.strip_suffix(" packets captured"))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or_else(|| panic!("no packet count from tcpdump: {report}"));
        // Kept beside the other child logs for a look with `tcpdump -r` or Wireshark.
        let kept =
            testkit::paths::artifacts_dir().join(format!("capture-{}.pcap", self.child.pid()));
        let _ = std::fs::copy(&self.file, kept);
        (std::fs::read(&self.file).unwrap(), captured)
    }
}

/// Distinctive random lowercase hex.
fn random_hex(bytes: usize) -> String {
    use std::io::Read;
    let mut buf = vec![0u8; bytes];
    std::fs::File::open("/dev/urandom")
        .unwrap()
        .read_exact(&mut buf)
        .unwrap();
    hex::encode(buf)
}

fn count(haystack: &[u8], needle: &[u8]) -> usize {
    haystack
        .windows(needle.len())
        .filter(|w| *w == needle)
        .count()
}

/// What the sniffer must not learn.
struct Secrets {
    bearer: String,
    akid: String,
    secret: String,
    session: String,
}

impl Secrets {
    fn named(&self) -> [(&'static str, &str); 4] {
        [
            ("bearer token", &self.bearer),
            ("access key id", &self.akid),
            ("secret access key", &self.secret),
            ("session token", &self.session),
        ]
    }
}

/// One run under capture: the server (HTTPS with a test-CA certificate for a random name,
/// or `--disable-ssl`), `ecs load`, then botocore, the AWS CLI and the AWS SDK for Rust
/// fetching the credentials with the bearer token. Returns the pcap, the packet count,
/// the secrets and the server's name.
fn sdks_fetch_under_capture(ssl: bool) -> (Vec<u8>, u64, Secrets, String) {
    let user = User::new();
    let bearer = format!("cap{}", random_hex(24));
    user.ok(&["setup", "ecs", "auth", "--bearer-token", &bearer]);
    let (akid, secret, session) = user.profile("dev");
    let fqdn = format!("sniff-{}.capture.test", random_hex(6));

    // The certificate is stored in both modes: only --disable-ssl differs.
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("capture test root");
    let files = ca
        .issue(&[&fqdn], KeyKind::EcdsaP256)
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
    let hosts = PrivateHosts::new(&[&fqdn]);
    let wrapper = hosts.wrapper();

    let server = user.server(if ssl { &[] } else { &["--disable-ssl"] });
    let capture = Tcpdump::start(server.port, dir.path());

    let (load_target, uri) = if ssl {
        (server.addr(), format!("https://{fqdn}:{}/", server.port))
    } else {
        (
            format!("http://{}", server.addr()),
            format!("http://127.0.0.1:{}/", server.port),
        )
    };
    user.ok(&["ecs", "load", "--profile", "dev", "--server", &load_target]);
    let header = format!("Bearer {bearer}");
    let env = [
        ("AWS_CONTAINER_CREDENTIALS_FULL_URI", uri.as_str()),
        ("AWS_CONTAINER_AUTHORIZATION_TOKEN", header.as_str()),
    ];

    let boto: Value = python_sdk_fetch_in(&wrapper, &env).unwrap();
    assert_eq!(boto["AccessKeyId"], akid.as_str());
    assert_eq!(boto["SecretAccessKey"], secret.as_str());
    assert_eq!(boto["Token"], session.as_str());
    assert_eq!(boto["Method"], "container-role");

    let out = aws_cli_in(&wrapper, &env, &["configure", "list"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("container-role") && text.contains(&akid[akid.len() - 4..]),
        "the AWS CLI got the served key: {text}"
    );

    let mut rust_env = env.to_vec();
    rust_env.push(("SSL_CERT_FILE", ca_file.to_str().unwrap()));
    let rust = rust_sdk_fetch_in(&wrapper, &rust_env).unwrap();
    assert_eq!(rust["SecretAccessKey"], secret.as_str());
    assert_eq!(rust["SessionToken"], session.as_str());

    let (pcap, packets) = capture.stop();
    server.stop();
    let secrets = Secrets {
        bearer,
        akid,
        secret,
        session,
    };
    (pcap, packets, secrets, fqdn)
}

#[test]
fn capture_of_loopback_https_holds_no_token_and_no_credentials() {
    let (pcap, packets, secrets, fqdn) = sdks_fetch_under_capture(true);
    // The capture really holds the conversation: the three SDKs' ClientHellos name the
    // server (SNI), and there is more than handshakes' worth of traffic.
    assert!(packets >= 30, "only {packets} packets captured");
    assert!(pcap.len() > 8_000, "pcap of only {} bytes", pcap.len());
    let hellos = count(&pcap, fqdn.as_bytes());
    assert!(
        hellos >= 3,
        "the SNI {fqdn} appears {hellos} times; expected a ClientHello from each SDK"
    );
    // TLS application data records (type 23, TLS 1.2 record version).
    assert!(count(&pcap, &[0x17, 0x03, 0x03]) >= 6);
    assert_eq!(
        count(&pcap, b"HTTP/1.1"),
        0,
        "no plaintext HTTP on the wire"
    );
    for (what, value) in secrets.named() {
        assert_eq!(
            count(&pcap, value.as_bytes()),
            0,
            "the {what} is readable in the loopback capture"
        );
    }
}

#[test]
fn capture_of_loopback_plain_http_shows_the_token_and_the_credentials() {
    // The mitigation off: the same run and the same search find every secret.
    let (pcap, packets, secrets, _) = sdks_fetch_under_capture(false);
    assert!(packets >= 20, "only {packets} packets captured");
    assert!(count(&pcap, b"GET / HTTP/1.1") >= 3, "the SDKs' requests");
    assert!(count(&pcap, b"PUT / HTTP/1.1") >= 1, "the load request");
    for (what, value) in secrets.named() {
        assert!(
            count(&pcap, value.as_bytes()) >= 3,
            "the {what} should be readable in a plain-HTTP capture"
        );
    }
}
