//! Integration tests of certd-dns over real sockets on loopback: `dig` (BIND's client, a
//! real peer) and raw hickory-proto messages over UDP and TCP.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    clippy::print_stderr
)]

mod api;
mod dig;
mod malformed;
mod no_redirect;
mod wire;

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream, UdpSocket};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use certd_dns::{CaaRecord, NameServer, ServeOptions, Soa, ZoneConfig, ZoneState};
use hickory_proto::op::{Edns, Message, Query};
use hickory_proto::rr::{Name, RecordType};

pub const APEX: &str = "example.test";

/// The test zone: NS ns1 inside it (glue 192.0.2.53) and one outside, CAA for Let's Encrypt.
pub fn config() -> ZoneConfig {
    ZoneConfig {
        apex: APEX.into(),
        nameservers: vec![
            NameServer {
                name: "ns1.example.test".into(),
                ipv4: Some(Ipv4Addr::new(192, 0, 2, 53)),
                ipv6: None,
            },
            NameServer {
                name: "ns2.elsewhere.test".into(),
                ipv4: None,
                ipv6: None,
            },
        ],
        soa: Soa {
            mname: "ns1.example.test".into(),
            rname: "hostmaster.example.test".into(),
            serial: 2026120301,
            refresh: 7200,
            retry: 3600,
            expire: 1_209_600,
            minimum: 60,
        },
        caa: vec![CaaRecord {
            issuer: "letsencrypt.org".into(),
            account_uri: Some("https://acme-v02.api.letsencrypt.org/acme/acct/123".into()),
            dns01_only: true,
        }],
        answer_aaaa: false,
        ttl: 300,
    }
}

/// A running server on a loopback port (UDP and TCP), stopped on drop.
#[derive(Debug)]
pub struct Server {
    pub zone: Arc<ZoneState>,
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Server {
    pub fn start(config: ZoneConfig) -> Server {
        Self::start_with(config, ServeOptions::default())
    }

    pub fn start_with(config: ZoneConfig, opts: ServeOptions) -> Server {
        let zone = Arc::new(ZoneState::new(config).unwrap());
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        // UDP and TCP on the same port: bind UDP on port 0, then TCP on its port (retry if
        // that TCP port happens to be taken).
        let (udp, tcp) = runtime.block_on(async {
            for _ in 0..50 {
                let udp = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
                let port = udp.local_addr().unwrap().port();
                if let Ok(tcp) = tokio::net::TcpListener::bind(("127.0.0.1", port)).await {
                    return (udp, tcp);
                }
            }
            panic!("no loopback port free for both UDP and TCP");
        });
        let addr = udp.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        runtime.spawn(certd_dns::serve(udp, tcp, zone.clone(), opts, async move {
            let _ = stopped.await;
        }));
        Server {
            zone,
            addr,
            stop: Some(stop),
            runtime: Some(runtime),
        }
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Queries `name`/`qtype` over UDP with EDNS (payload 1232) and returns the response.
    pub fn udp(&self, name: &str, qtype: RecordType) -> Message {
        udp_exchange(self.addr, &query(name, qtype, Some(1232))).expect("a UDP response")
    }

    /// Queries `name`/`qtype` over TCP.
    pub fn tcp(&self, name: &str, qtype: RecordType) -> Message {
        let mut stream = tcp_connect(self.addr);
        tcp_exchange(
            &mut stream,
            &query(name, qtype, Some(1232)).to_vec().unwrap(),
        )
        .expect("a TCP response")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_timeout(Duration::from_secs(2));
        }
    }
}

/// A query message with RD=1 (as stub resolvers send), EDNS with `payload` if given.
pub fn query(name: &str, qtype: RecordType, payload: Option<u16>) -> Message {
    let mut m = Message::query();
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(Name::from_ascii(name).unwrap(), qtype));
    if let Some(payload) = payload {
        let mut edns = Edns::new();
        edns.set_max_payload(payload);
        m.set_edns(edns);
    }
    m
}

/// Sends raw bytes over UDP; the raw response, or None if none came within 500 ms.
pub fn udp_raw(addr: SocketAddr, bytes: &[u8]) -> Option<Vec<u8>> {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    sock.send_to(bytes, addr).unwrap();
    let mut buf = vec![0; 65535];
    match sock.recv_from(&mut buf) {
        Ok((n, _)) => Some(buf[..n].to_vec()),
        Err(_) => None,
    }
}

/// One UDP exchange; checks the response's ID.
pub fn udp_exchange(addr: SocketAddr, m: &Message) -> Option<Message> {
    let bytes = udp_raw(addr, &m.to_vec().unwrap())?;
    let response = Message::from_vec(&bytes).unwrap();
    assert_eq!(response.metadata.id, m.metadata.id);
    Some(response)
}

pub fn tcp_connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(3)))
        .unwrap();
    stream
}

/// Sends one length-prefixed message; None if the server closed the connection instead.
pub fn tcp_exchange(stream: &mut TcpStream, bytes: &[u8]) -> Option<Message> {
    let mut framed = u16::try_from(bytes.len()).unwrap().to_be_bytes().to_vec();
    framed.extend_from_slice(bytes);
    stream.write_all(&framed).ok()?;
    let mut len = [0; 2];
    stream.read_exact(&mut len).ok()?;
    let mut buf = vec![0; usize::from(u16::from_be_bytes(len))];
    stream.read_exact(&mut buf).ok()?;
    Some(Message::from_vec(&buf).unwrap())
}

/// Runs `dig @127.0.0.1 -p PORT +time=2 +tries=1 ARGS...` and returns its stdout.
pub fn dig(port: u16, args: &[&str]) -> String {
    let out = Command::new("dig")
        .arg("@127.0.0.1")
        .args(["-p", &port.to_string(), "+time=2", "+tries=1"])
        .args(args)
        .output()
        .expect("dig must be installed (apt-get install bind9-dnsutils)");
    String::from_utf8(out.stdout).unwrap()
}
