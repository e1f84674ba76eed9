//! The test world: a certd-dns server for zone `certs.test` with `dev` registered, Pebble
//! pointed at it, an account file in a temp dir, CSRs from rcgen, DNS lookups, `openssl
//! verify`, and observers that record, fail or stall at a chosen step.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use certd_acme::{
    AcmeConfig, BoxError, ChallengeSink, Directory, FileAccountStore, OrderObserver, OrderStep,
    RetryPolicy,
};
use certd_dns::{NameServer, ServeOptions, Soa, ZoneConfig, ZoneState};
use hickory_proto::op::{Message, Query};
use hickory_proto::rr::{Name, RData, RecordType};
use testkit::pebble::{Pebble, PebbleOptions};
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::{Notify, oneshot};

pub const ZONE: &str = "certs.test";
pub const FQDN: &str = "dev.certs.test";

/// Fast first, then backing off: 10, 15, 22, 34 ms...; 15 s at most.
pub const TEST_POLL: RetryPolicy = RetryPolicy::new()
    .initial_delay(Duration::from_millis(10))
    .backoff(1.5)
    .timeout(Duration::from_secs(15));

pub struct World {
    pub zone: Arc<ZoneState>,
    pub dns: SocketAddr,
    pub pebble: Pebble,
    pub dir: tempfile::TempDir,
    _stop_dns: oneshot::Sender<()>,
}

fn zone_config() -> ZoneConfig {
    ZoneConfig {
        apex: ZONE.into(),
        nameservers: vec![NameServer {
            name: format!("ns1.{ZONE}"),
            ipv4: Some([127, 0, 0, 1].into()),
            ipv6: None,
        }],
        soa: Soa {
            mname: format!("ns1.{ZONE}"),
            rname: format!("hostmaster.{ZONE}"),
            serial: 1,
            refresh: 7200,
            retry: 3600,
            expire: 1_209_600,
            minimum: 60,
        },
        caa: vec![],
        answer_aaaa: false,
        ttl: 60,
    }
}

/// UDP and TCP on the same free loopback port.
async fn bind_dns() -> (UdpSocket, TcpListener) {
    for _ in 0..20 {
        let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let port = udp.local_addr().unwrap().port();
        if let Ok(tcp) = TcpListener::bind(("127.0.0.1", port)).await {
            return (udp, tcp);
        }
    }
    panic!("no free port for both UDP and TCP");
}

impl World {
    pub async fn start() -> World {
        World::start_with(PebbleOptions::default()).await
    }

    pub async fn start_with(opts: PebbleOptions) -> World {
        let zone = Arc::new(ZoneState::new(zone_config()).unwrap());
        zone.register("dev").unwrap();
        let (udp, tcp) = bind_dns().await;
        let dns = udp.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let serve_opts = ServeOptions {
            udp_workers: 1,
            ..ServeOptions::default()
        };
        tokio::spawn(certd_dns::serve(
            udp,
            tcp,
            zone.clone(),
            serve_opts,
            async {
                let _ = stopped.await;
            },
        ));
        let pebble = tokio::task::spawn_blocking(move || Pebble::start(dns, opts))
            .await
            .unwrap();
        World {
            zone,
            dns,
            pebble,
            dir: tempfile::tempdir().unwrap(),
            _stop_dns: stop,
        }
    }

    pub fn config(&self) -> AcmeConfig {
        let mut config = AcmeConfig::new(Directory::Url(self.pebble.directory_url()));
        config.contact_email = Some(format!("hostmaster@{ZONE}"));
        config.extra_roots_pem = Some(self.pebble.https_root_pem().to_owned());
        config.poll = TEST_POLL;
        config
    }

    pub fn account_path(&self) -> PathBuf {
        self.dir.path().join("acme-account.json")
    }

    pub fn store(&self) -> FileAccountStore {
        FileAccountStore::new(self.account_path())
    }

    /// The TXT values our DNS server answers for `_acme-challenge.<fqdn>`.
    pub async fn txt(&self, fqdn: &str) -> Vec<String> {
        let mut query = Message::query();
        query.add_query(Query::query(
            Name::from_ascii(format!("_acme-challenge.{fqdn}.")).unwrap(),
            RecordType::TXT,
        ));
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        socket
            .send_to(&query.to_vec().unwrap(), self.dns)
            .await
            .unwrap();
        let mut buf = vec![0; 4096];
        let n = tokio::time::timeout(Duration::from_secs(2), socket.recv(&mut buf))
            .await
            .expect("DNS answer within 2 s")
            .unwrap();
        let answer = Message::from_vec(&buf[..n]).unwrap();
        answer
            .answers
            .iter()
            .filter_map(|r| match &r.data {
                RData::TXT(txt) => Some(txt.to_string()),
                _ => None,
            })
            .collect()
    }

    /// `openssl verify` of the chain's leaf against Pebble's issuer root, the rest of the
    /// chain as untrusted intermediates.
    pub fn openssl_verify(&self, chain_pem: &str) -> String {
        let certs = pki::parse_cert_chain(chain_pem).unwrap();
        assert!(certs.len() >= 2, "leaf and intermediate expected");
        let end = "-----END CERTIFICATE-----";
        let first_end = chain_pem.find(end).unwrap() + end.len();
        let (leaf, rest) = chain_pem.split_at(first_end);
        let dir = self.dir.path();
        std::fs::write(dir.join("root.pem"), self.pebble.issuer_root_pem()).unwrap();
        std::fs::write(dir.join("untrusted.pem"), rest.trim_start()).unwrap();
        std::fs::write(dir.join("leaf.pem"), format!("{leaf}\n")).unwrap();
        let out = Command::new("openssl")
            .arg("verify")
            .arg("-CAfile")
            .arg(dir.join("root.pem"))
            .arg("-untrusted")
            .arg(dir.join("untrusted.pem"))
            .args(["-purpose", "sslserver", "-verify_hostname", FQDN])
            .arg(dir.join("leaf.pem"))
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "openssl verify failed: {text}");
        text
    }
}

/// A DER CSR for `names` with a fresh P-256 key, no subject.
pub fn csr(names: &[&str]) -> Vec<u8> {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut params =
        rcgen::CertificateParams::new(names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>())
            .unwrap();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.serialize_request(&key).unwrap().der().to_vec()
}

/// The first certificate of a PEM chain, DER.
pub fn leaf_der(chain_pem: &str) -> Vec<u8> {
    pki::parse_cert_chain(chain_pem).unwrap()[0].to_vec()
}

/// What an observer does at one step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Act {
    /// Record, then refuse (an injected storage failure).
    Fail,
    /// Record, signal, then never return (the process "dies" here).
    Stall,
}

/// Records every step with its time; acts at `at` as told.
pub struct Recorder {
    pub steps: Mutex<Vec<(OrderStep, Instant)>>,
    at: Option<(&'static str, Act)>,
    pub reached: Notify,
}

impl Recorder {
    pub fn new() -> Recorder {
        Recorder {
            steps: Mutex::new(Vec::new()),
            at: None,
            reached: Notify::new(),
        }
    }

    pub fn acting(step: &'static str, act: Act) -> Recorder {
        Recorder {
            at: Some((step, act)),
            ..Recorder::new()
        }
    }

    pub fn names(&self) -> Vec<&'static str> {
        self.steps
            .lock()
            .unwrap()
            .iter()
            .map(|(s, _)| s.name())
            .collect()
    }

    pub fn order_url(&self) -> String {
        self.steps
            .lock()
            .unwrap()
            .iter()
            .find_map(|(s, _)| match s {
                OrderStep::Created { order_url } => Some(order_url.clone()),
                _ => None,
            })
            .expect("a Created step")
    }

    pub fn last(&self) -> OrderStep {
        self.steps.lock().unwrap().last().unwrap().0.clone()
    }
}

impl OrderObserver for Recorder {
    async fn record(&self, step: &OrderStep) -> Result<(), BoxError> {
        self.steps
            .lock()
            .unwrap()
            .push((step.clone(), Instant::now()));
        match self.at {
            Some((name, Act::Fail)) if name == step.name() => {
                Err(format!("injected failure recording {name}").into())
            }
            Some((name, Act::Stall)) if name == step.name() => {
                self.reached.notify_one();
                std::future::pending().await
            }
            _ => Ok(()),
        }
    }
}

/// Publishes `wrong-value` in the zone instead of the real value (a DNS that lost or
/// mangled the record), and withdraws it on clear.
pub struct WrongValueSink<'a>(pub &'a ZoneState);

pub const WRONG_VALUE: &str = "wrong-value";

impl ChallengeSink for WrongValueSink<'_> {
    fn publish(&self, fqdn: &str, _txt_value: &str) -> Result<(), BoxError> {
        self.0.publish(fqdn, WRONG_VALUE)
    }
    fn clear(&self, fqdn: &str, _txt_value: &str) -> Result<(), BoxError> {
        self.0.clear(fqdn, WRONG_VALUE)
    }
}
