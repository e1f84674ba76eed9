//! DESIGN §5.1: no API can make a name resolve anywhere but loopback. There is no address
//! setter to call, so this drives every public mutation of the zone with random and
//! adversarial labels and values (IP literals, names, record syntax) and checks, after
//! each one, that every name in the zone answers A 127.0.0.1 / AAAA ::1 or nothing, that
//! no CNAME/NS/DNAME ever appears, and that the nameserver's glue is still the configured
//! one.

use std::net::{IpAddr, Ipv4Addr};

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{Name, RData, RecordType};

use crate::{Server, config, query, tcp_connect, tcp_exchange, udp_exchange};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, items: &'a [String]) -> &'a str {
        &items[self.below(items.len())]
    }
    fn string(&mut self, alphabet: &[u8], max_len: usize) -> String {
        let len = self.below(max_len + 1);
        (0..len)
            .map(|_| char::from(alphabet[self.below(alphabet.len())]))
            .collect()
    }
}

fn labels(rng: &mut Rng) -> Vec<String> {
    let mut v: Vec<String> = [
        "alice",
        "Bob",
        "ns1",
        "NS1",
        "ns2",
        "localhost",
        "127.0.0.1",
        "1.2.3.4",
        "10-0-0-1",
        "evil.com",
        "example.test",
        "_acme-challenge",
        "*",
        "@",
        "xn--80ak6aa92e",
        "www",
        "",
        "-",
        "a-",
        "0",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    v.push("a".repeat(63));
    v.push("a".repeat(64));
    for _ in 0..30 {
        v.push(rng.string(b"abcdefghijklmnopqrstuvwxyz0123456789-", 12));
    }
    for _ in 0..10 {
        v.push(rng.string(b"abcXYZ019-._*@ :/\\\"", 10));
    }
    v
}

fn values(rng: &mut Rng) -> Vec<String> {
    let mut v: Vec<String> = [
        "1.2.3.4",
        "192.0.2.1",
        "::ffff:1.2.3.4",
        "2001:db8::1",
        "CNAME evil.com.",
        "IN A 6.6.6.6",
        "evil.com.",
        "v=spf1 -all",
        "\"quoted\"",
        "",
        "x",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    v.push("t".repeat(255));
    v.push("t".repeat(256));
    for _ in 0..10 {
        v.push(rng.string(b"ABCabc0123456789-_.:;\" \\", 50));
    }
    v
}

/// The query names a label can lead to (skipping those hickory cannot even build).
fn names_for(label: &str) -> Vec<Name> {
    [
        format!("{label}.example.test."),
        format!("_acme-challenge.{label}.example.test."),
    ]
    .iter()
    .filter_map(|n| Name::from_ascii(n).ok())
    .collect()
}

fn is_ns1(name: &Name) -> bool {
    name.to_ascii().eq_ignore_ascii_case("ns1.example.test.")
}

/// Every address in `r` must be loopback (or ns1's configured glue, for ns1 itself).
fn check(name: &Name, qtype: RecordType, r: &Message) {
    assert!(
        matches!(
            r.metadata.response_code,
            ResponseCode::NoError | ResponseCode::NXDomain
        ),
        "{name} {qtype}: {r:?}"
    );
    for rec in &r.answers {
        assert_eq!(rec.name, *name, "answers are owned by the question's name");
        match &rec.data {
            RData::A(a) if is_ns1(name) => assert_eq!(a.0, Ipv4Addr::new(192, 0, 2, 53)),
            RData::A(a) => assert_eq!(IpAddr::V4(a.0), IpAddr::V4(Ipv4Addr::LOCALHOST), "{name}"),
            RData::AAAA(a) => assert!(a.0.is_loopback(), "{name}: {a}"),
            RData::TXT(_) => assert!(matches!(qtype, RecordType::TXT | RecordType::ANY)),
            other => panic!("{name} {qtype}: unexpected {other:?}"),
        }
    }
    for rec in r.authorities.iter().chain(&r.additionals) {
        assert_eq!(rec.record_type(), RecordType::SOA, "{name} {qtype}: {r:?}");
    }
}

fn check_label(s: &Server, label: &str, tcp: bool) {
    for name in names_for(label) {
        for qtype in [
            RecordType::A,
            RecordType::AAAA,
            RecordType::TXT,
            RecordType::ANY,
        ] {
            let q = query(&name.to_ascii(), qtype, Some(1232));
            let r = if tcp {
                tcp_exchange(&mut tcp_connect(s.addr), &q.to_vec().unwrap()).unwrap()
            } else {
                udp_exchange(s.addr, &q).unwrap()
            };
            check(&name, qtype, &r);
        }
    }
    // A registered label answers exactly one A 127.0.0.1.
    if s.zone.is_registered(label) {
        let r = s.udp(&format!("{label}.example.test."), RecordType::A);
        assert_eq!(r.answers.len(), 1, "{label}");
        assert_eq!(r.answers[0].data, RData::A(A(certd_dns::LOOPBACK_V4)));
    }
}

#[test]
fn no_mutation_makes_a_name_resolve_elsewhere() {
    let seed = std::env::var("CERTD_DNS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_cafe_f00d_u64);
    eprintln!("CERTD_DNS_SEED={seed}");
    let mut rng = Rng(seed);
    let labels = labels(&mut rng);
    let values = values(&mut rng);
    let mut c = config();
    c.answer_aaaa = true;
    let s = Server::start(c);

    for step in 0..400 {
        let label = rng.pick(&labels).to_owned();
        let value = rng.pick(&values).to_owned();
        // Every public mutation; refusals are fine, what matters is the answers after.
        match rng.below(6) {
            0 | 1 => {
                let _ = s.zone.register(&label);
            }
            2 => {
                let _ = s.zone.set_challenge(&label, &value);
            }
            3 => {
                let _ = s.zone.remove_challenge(&label, &value);
            }
            4 => {
                let _ = s.zone.clear_challenges(&label);
            }
            _ => {
                if rng.below(4) == 0 {
                    let subset: Vec<&str> = (0..rng.below(8)).map(|_| rng.pick(&labels)).collect();
                    let _ = s.zone.replace_all(subset);
                } else {
                    let _ = s.zone.unregister(&label);
                }
            }
        }
        check_label(&s, &label, step % 10 == 0);
        check_label(&s, "ns1", false);
        if step % 50 == 0 {
            for l in &labels {
                check_label(&s, l, false);
            }
        }
    }
    for l in &labels {
        check_label(&s, l, true);
    }
}
