//! Hostile input: random bytes, cut headers, responses, wrong question counts, a flood of
//! junk, idle and oversized TCP connections. None of it may stop the server answering.

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use certd_dns::ServeOptions;
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::RecordType;

use crate::{Server, config, query, tcp_connect, tcp_exchange, udp_exchange, udp_raw};

/// A deterministic byte source for junk.
fn junk(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn still_answers(s: &Server) {
    s.zone.register("alive").unwrap();
    let r = s.udp("alive.example.test.", RecordType::A);
    assert_eq!(r.answers.len(), 1);
    let r = s.tcp("alive.example.test.", RecordType::A);
    assert_eq!(r.answers.len(), 1);
}

#[test]
fn junk_over_udp_is_dropped() {
    let s = Server::start(config());
    let valid = query("example.test.", RecordType::SOA, None)
        .to_vec()
        .unwrap();
    let mut cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty", Vec::new()),
        ("cut header", valid[..5].to_vec()),
        ("header only, QDCOUNT=1", valid[..12].to_vec()),
        ("cut question", valid[..valid.len() - 3].to_vec()),
        ("random", junk(7, 200)),
    ];
    // A header claiming 1 question followed by a name with a pointer loop.
    let mut looped = valid[..12].to_vec();
    looped.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1]);
    cases.push(("pointer loop", looped));
    for (what, bytes) in cases {
        assert_eq!(udp_raw(s.addr, &bytes), None, "{what} is dropped");
    }
    still_answers(&s);
}

#[test]
fn responses_are_never_answered() {
    let s = Server::start(config());
    let mut q = query("example.test.", RecordType::SOA, None);
    q.metadata.message_type = hickory_proto::op::MessageType::Response;
    assert_eq!(udp_raw(s.addr, &q.to_vec().unwrap()), None);
    let mut stream = tcp_connect(s.addr);
    assert!(tcp_exchange(&mut stream, &q.to_vec().unwrap()).is_none());
    still_answers(&s);
}

#[test]
fn question_counts_other_than_one_get_formerr() {
    let s = Server::start(config());
    let mut two = query("example.test.", RecordType::SOA, None);
    two.add_query(hickory_proto::op::Query::query(
        "example.test.".parse().unwrap(),
        RecordType::NS,
    ));
    let mut zero = query("example.test.", RecordType::SOA, Some(1232));
    zero.queries.clear();
    for (what, q) in [("QDCOUNT=2", two), ("QDCOUNT=0", zero)] {
        let r = udp_exchange(s.addr, &q).unwrap();
        assert_eq!(r.metadata.response_code, ResponseCode::FormErr, "{what}");
        assert!(r.answers.is_empty() && r.queries.is_empty(), "{what}");
    }
    still_answers(&s);
}

#[test]
fn a_flood_of_junk_leaves_the_server_answering() {
    let s = Server::start(config());
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let valid = query("example.test.", RecordType::SOA, None)
        .to_vec()
        .unwrap();
    for i in 0..3000u64 {
        let mut bytes = junk(i, (i % 300) as usize);
        if i % 3 == 0 && !bytes.is_empty() {
            // Valid header, garbage after it: the parser's deeper paths.
            let n = bytes.len().min(12);
            bytes[..n].copy_from_slice(&valid[..n]);
            if bytes.len() > 2 {
                bytes[2] &= 0x7f; // QR=0
            }
        }
        let _ = sock.send_to(&bytes, s.addr);
    }
    // UDP is lossy: a datagram sent while the socket's queue is still full of junk may be
    // dropped by the kernel, and a resolver would ask again. The server must answer one
    // of a few tries, each waiting for its own answer.
    s.zone.register("alive").unwrap();
    let q = query("alive.example.test.", RecordType::A, Some(1232));
    let answered = (0..5).find_map(|_| udp_exchange(s.addr, &q));
    let r = answered.expect("no answer to 5 tries after the flood");
    assert_eq!(r.answers.len(), 1);
    let r = s.tcp("alive.example.test.", RecordType::A);
    assert_eq!(r.answers.len(), 1);
}

#[test]
fn junk_over_tcp_closes_that_connection_only() {
    let s = Server::start(config());
    let mut other = tcp_connect(s.addr);

    let mut bad = tcp_connect(s.addr);
    bad.write_all(&[0, 20]).unwrap();
    bad.write_all(&junk(3, 20)).unwrap();
    let mut buf = [0; 1];
    assert_eq!(bad.read(&mut buf).unwrap_or(0), 0, "closed");

    // A length prefix of 5: too short for a header.
    let mut bad = tcp_connect(s.addr);
    bad.write_all(&[0, 5, 1, 2, 3, 4, 5]).unwrap();
    assert_eq!(bad.read(&mut buf).unwrap_or(0), 0, "closed");

    // A connection cut mid-message.
    let mut cut = tcp_connect(s.addr);
    cut.write_all(&[0, 40, 1, 2]).unwrap();
    drop(cut);

    let q = query("example.test.", RecordType::SOA, None);
    assert!(tcp_exchange(&mut other, &q.to_vec().unwrap()).is_some());
    still_answers(&s);
}

#[test]
fn idle_tcp_connections_are_closed_and_bounded() {
    let opts = ServeOptions {
        udp_workers: 1,
        tcp_max_connections: 2,
        tcp_idle_timeout: Duration::from_millis(300),
    };
    let s = Server::start_with(config(), opts);
    let mut a = tcp_connect(s.addr);
    let _b = tcp_connect(s.addr);
    std::thread::sleep(Duration::from_millis(100));
    // A third connection over the bound is closed at once.
    let mut c = tcp_connect(s.addr);
    let mut buf = [0; 1];
    assert_eq!(c.read(&mut buf).unwrap_or(0), 0, "over the bound: closed");
    // Idle ones are closed after the timeout, freeing their slots.
    let started = Instant::now();
    assert_eq!(a.read(&mut buf).unwrap_or(0), 0, "idle: closed");
    assert!(started.elapsed() < Duration::from_secs(2));
    std::thread::sleep(Duration::from_millis(400));
    let q = query("example.test.", RecordType::SOA, None);
    let mut d = tcp_connect(s.addr);
    let r: Message = tcp_exchange(&mut d, &q.to_vec().unwrap()).unwrap();
    assert_eq!(r.answers.len(), 1);
}
