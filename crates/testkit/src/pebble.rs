//! `Pebble`: Let's Encrypt's test ACME CA (`apt-get install -y pebble`) on loopback, with
//! its HTTPS certificate from a fresh [`TestCa`], DNS-01 validation against the DNS server
//! the test gives (`-dnsserver`), no validation sleeps and no authorization reuse. Its
//! management port answers the issuer root and certificate status (through `curl`). Killed
//! on drop. It knows nothing of the code under test.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::ca::{KeyKind, TestCa};
use crate::ports::{free_port, wait_for_port};
use crate::process::ChildGuard;

/// Where Debian's package puts the server.
pub const PEBBLE_BIN: &str = "/usr/bin/pebble";

/// How Pebble is started.
#[derive(Debug, Clone, Default)]
pub struct PebbleOptions {
    /// `PEBBLE_WFE_NONCEREJECT`: the percentage of good nonces Pebble rejects with
    /// `badNonce`. None keeps Pebble's own default (5 %).
    pub nonce_reject_percent: Option<u8>,
    /// External Account Binding keys (`kid`, base64url HMAC key). Any key makes EAB
    /// required (`externalAccountBindingRequired`).
    pub eab_keys: Vec<(String, String)>,
    /// `PEBBLE_AUTHZREUSE`: the percentage of valid authorizations Pebble reuses for a new
    /// order of the same account and name (as Let's Encrypt does for 30 days). None means
    /// 0: every order validates afresh.
    pub authz_reuse_percent: Option<u8>,
}

/// A running Pebble.
#[derive(Debug)]
pub struct Pebble {
    guard: ChildGuard,
    _dir: tempfile::TempDir,
    https_ca: TestCa,
    https_root_path: std::path::PathBuf,
    listen: SocketAddr,
    management: SocketAddr,
    issuer_root_pem: String,
}

impl Pebble {
    /// Starts Pebble validating DNS-01 against `dns_server` and waits until its directory
    /// and management port answer. Panics (with Pebble's output) if it does not start.
    pub fn start(dns_server: SocketAddr, opts: PebbleOptions) -> Pebble {
        assert!(
            Path::new(PEBBLE_BIN).exists(),
            "{PEBBLE_BIN} is missing: apt-get install -y pebble"
        );
        let dir = tempfile::tempdir().expect("temp dir for pebble");
        let https_ca = TestCa::new("testkit pebble https root");
        let leaf = https_ca.issue(&["localhost", "127.0.0.1"], KeyKind::EcdsaP256);
        let files = leaf.write_files(dir.path(), "pebble-https");
        let https_root_path = https_ca.write_cert(&dir.path().join("pebble-https-root.pem"));

        let listen: SocketAddr = ([127, 0, 0, 1], free_port()).into();
        let management: SocketAddr = ([127, 0, 0, 1], free_port()).into();
        let eab: serde_json::Map<String, serde_json::Value> = opts
            .eab_keys
            .iter()
            .map(|(kid, key)| (kid.clone(), serde_json::Value::from(key.as_str())))
            .collect();
        let config = serde_json::json!({
            "pebble": {
                "listenAddress": listen.to_string(),
                "managementListenAddress": management.to_string(),
                "certificate": files.chain,
                "privateKey": files.key,
                // Unused (DNS-01 only) but must be set: free ports so nothing collides.
                "httpPort": free_port(),
                "tlsPort": free_port(),
                "ocspResponderURL": "",
                "externalAccountBindingRequired": !eab.is_empty(),
                "externalAccountMACKeys": eab,
            }
        });
        let config_path = dir.path().join("pebble-config.json");
        std::fs::write(&config_path, serde_json::to_vec_pretty(&config).unwrap())
            .expect("write pebble config");

        let mut cmd = Command::new(PEBBLE_BIN);
        cmd.arg("-config")
            .arg(&config_path)
            .arg("-dnsserver")
            .arg(dns_server.to_string())
            .arg("-strict=false")
            .current_dir(dir.path())
            .env("PEBBLE_VA_NOSLEEP", "1")
            .env(
                "PEBBLE_AUTHZREUSE",
                opts.authz_reuse_percent.unwrap_or(0).to_string(),
            )
            .env_remove("PEBBLE_VA_ALWAYS_VALID")
            .env_remove("PEBBLE_WFE_NONCEREJECT");
        if let Some(percent) = opts.nonce_reject_percent {
            cmd.env("PEBBLE_WFE_NONCEREJECT", percent.to_string());
        }
        let mut guard = ChildGuard::spawn(&mut cmd, "pebble").expect("spawn pebble");
        let up = guard.wait_for_output("ACME directory available at", Duration::from_secs(20))
            && wait_for_port(listen, Duration::from_secs(10))
            && wait_for_port(management, Duration::from_secs(10));
        assert!(
            up,
            "pebble did not start:\n{}{}",
            guard.stdout(),
            guard.stderr()
        );

        let mut pebble = Pebble {
            guard,
            _dir: dir,
            https_ca,
            https_root_path,
            listen,
            management,
            issuer_root_pem: String::new(),
        };
        pebble.issuer_root_pem = pebble.management_get("/roots/0");
        assert!(
            pebble
                .issuer_root_pem
                .starts_with("-----BEGIN CERTIFICATE-----"),
            "pebble /roots/0: {}",
            pebble.issuer_root_pem
        );
        pebble
    }

    /// The ACME directory, `https://127.0.0.1:<port>/dir`.
    pub fn directory_url(&self) -> String {
        format!("https://{}/dir", self.listen)
    }

    /// The root that signed Pebble's HTTPS certificate: what an ACME client must trust.
    pub fn https_root_pem(&self) -> &str {
        self.https_ca.cert_pem()
    }

    /// The root that issued certificates chain to (`/roots/0`, new at every start).
    pub fn issuer_root_pem(&self) -> &str {
        &self.issuer_root_pem
    }

    /// `/cert-status-by-serial/<hex>`: `{"Status": "Valid"|"Revoked", "Reason", "RevokedAt",
    /// "Serial", "Certificate"}`.
    pub fn cert_status(&self, serial_hex: &str) -> serde_json::Value {
        let body = self.management_get(&format!("/cert-status-by-serial/{serial_hex}"));
        serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("cert-status for {serial_hex}: {e}: {body}"))
    }

    /// Everything Pebble logged so far.
    pub fn log(&self) -> String {
        format!("{}{}", self.guard.stdout(), self.guard.stderr())
    }

    /// How many ACME accounts Pebble holds (from its "There are now N accounts in memory"
    /// log line; 0 before the first).
    pub fn account_count(&self) -> usize {
        self.log()
            .lines()
            .filter_map(|l| l.split("There are now ").nth(1))
            .filter_map(|rest| rest.strip_suffix(" accounts in memory"))
            .filter_map(|n| n.trim().parse().ok())
            .next_back()
            .unwrap_or(0)
    }

    /// GET on the management port with curl, trusting the HTTPS root; retried briefly
    /// while the port comes up.
    fn management_get(&self, path: &str) -> String {
        let url = format!("https://{}{path}", self.management);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let out = Command::new("curl")
                .args(["-sS", "--fail", "--max-time", "5", "--cacert"])
                .arg(&self.https_root_path)
                .arg(&url)
                .output()
                .expect("run curl (apt-get install curl)");
            if out.status.success() {
                return String::from_utf8(out.stdout).expect("UTF-8 from pebble");
            }
            assert!(
                Instant::now() < deadline,
                "GET {url} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}
