//! certd-dns's query handler (what the UDP and TCP servers run) over a zone with two
//! registered names and an ACME challenge. Never panics; every response parses back,
//! answers the request's id, fits the UDP size, and carries no address other than the
//! loopback constants (the nameserver's glue, from the operator's config, aside).
#![no_main]

use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::OnceLock;

use certd_dns::{CaaRecord, NameServer, Soa, ZoneConfig, ZoneState};
use hickory_proto::op::{Message, MessageType};
use hickory_proto::rr::{Name, RData};
use libfuzzer_sys::fuzz_target;

const APEX: &str = "certs.test";
const GLUE_V4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 53);
const GLUE_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x53);

fn zone() -> &'static ZoneState {
    static ZONE: OnceLock<ZoneState> = OnceLock::new();
    ZONE.get_or_init(|| {
        let zone = ZoneState::new(ZoneConfig {
            apex: APEX.into(),
            nameservers: vec![
                NameServer {
                    name: format!("ns1.{APEX}"),
                    ipv4: Some(GLUE_V4),
                    ipv6: Some(GLUE_V6),
                },
                NameServer {
                    name: "ns2.example.net".into(),
                    ipv4: None,
                    ipv6: None,
                },
            ],
            soa: Soa {
                mname: format!("ns1.{APEX}"),
                rname: format!("hostmaster.{APEX}"),
                serial: 1,
                refresh: 3600,
                retry: 600,
                expire: 86400,
                minimum: 60,
            },
            caa: vec![CaaRecord {
                issuer: "letsencrypt.org".into(),
                account_uri: Some("https://acme.test/acct/1".into()),
                dns01_only: true,
            }],
            answer_aaaa: true,
            ttl: 60,
        })
        .expect("zone config");
        zone.register("dev").expect("register dev");
        zone.register("box-2").expect("register box-2");
        zone.set_challenge("dev", "aBcD-challenge_value-0123456789abcdefghijklmno")
            .expect("challenge");
        zone
    })
}

fn glue_owner(name: &Name) -> bool {
    name.to_ascii()
        .trim_end_matches('.')
        .eq_ignore_ascii_case(&format!("ns1.{APEX}"))
}

fuzz_target!(|data: &[u8]| {
    let zone = zone();
    for tcp in [false, true] {
        let Some(bytes) = certd_dns::fuzzing::handle(zone, data, tcp) else {
            continue;
        };
        if !tcp {
            assert!(
                bytes.len() <= usize::from(certd_dns::MAX_UDP_PAYLOAD),
                "UDP answer too large"
            );
        }
        let response = Message::from_vec(&bytes).expect("a response parses back");
        assert_eq!(response.metadata.message_type, MessageType::Response);
        assert_eq!(
            &bytes[..2],
            &data[..2],
            "the response carries the request's id"
        );
        let records = response
            .answers
            .iter()
            .chain(response.authorities.iter())
            .chain(response.additionals.iter());
        for r in records {
            match &r.data {
                RData::A(a) if a.0 != certd_dns::LOOPBACK_V4 => {
                    assert!(
                        glue_owner(&r.name) && a.0 == GLUE_V4,
                        "A {} for {}",
                        a.0,
                        r.name
                    );
                }
                RData::AAAA(a) if a.0 != certd_dns::LOOPBACK_V6 => {
                    assert!(
                        glue_owner(&r.name) && a.0 == GLUE_V6,
                        "AAAA {} for {}",
                        a.0,
                        r.name
                    );
                }
                RData::CNAME(_) => panic!("an alias record: {r:?}"),
                _ => {}
            }
        }
    }
});
