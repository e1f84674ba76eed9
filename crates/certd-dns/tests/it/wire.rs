//! Answers as raw hickory-proto messages over UDP and TCP: header flags, sections, EDNS,
//! truncation and the fallback to TCP, nameserver hosts, classes and opcodes.

use hickory_proto::op::{Edns, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA};
use hickory_proto::rr::{DNSClass, RData, RecordType};

use crate::{Server, config, query, tcp_connect, tcp_exchange, udp_exchange};

#[test]
fn apex_answers_over_udp_and_tcp() {
    let s = Server::start(config());
    for r in [
        s.udp("example.test.", RecordType::SOA),
        s.tcp("example.test.", RecordType::SOA),
    ] {
        assert_eq!(r.metadata.message_type, MessageType::Response);
        assert_eq!(r.metadata.response_code, ResponseCode::NoError);
        assert!(r.metadata.authoritative);
        assert!(r.metadata.recursion_desired, "RD copied");
        assert!(!r.metadata.recursion_available, "RA never set");
        assert_eq!(r.answers.len(), 1);
        let RData::SOA(soa) = &r.answers[0].data else {
            panic!("{r:?}")
        };
        assert_eq!(soa.serial, 2026120301);
        assert_eq!(soa.mname.to_ascii(), "ns1.example.test.");
    }
    let r = s.udp("example.test.", RecordType::NS);
    assert_eq!(r.answers.len(), 2);
    assert_eq!(r.additionals.len(), 1, "glue for the in-zone NS only");
    assert_eq!(r.additionals[0].data, RData::A(A::new(192, 0, 2, 53)));
    let r = s.tcp("example.test.", RecordType::CAA);
    assert_eq!(r.answers.len(), 1);
    assert_eq!(r.answers[0].record_type(), RecordType::CAA);
    let r = s.udp("example.test.", RecordType::A);
    assert!(r.answers.is_empty() && r.metadata.response_code == ResponseCode::NoError);
    assert_eq!(r.authorities[0].record_type(), RecordType::SOA);
}

#[test]
fn registered_and_unknown_names() {
    let s = Server::start(config());
    s.zone.register("alice").unwrap();
    let r = s.udp("alice.example.test.", RecordType::A);
    assert_eq!(r.answers.len(), 1);
    assert_eq!(r.answers[0].data, RData::A(A(certd_dns::LOOPBACK_V4)));
    assert!(r.authorities.is_empty());
    let r = s.tcp("ALICE.example.test.", RecordType::A);
    assert_eq!(r.answers[0].name.to_ascii(), "ALICE.example.test.");

    for name in [
        "bob.example.test.",
        "x.alice.example.test.",
        "_acme-challenge.bob.example.test.",
        "*.example.test.",
        "a_b.example.test.",
    ] {
        let r = s.udp(name, RecordType::A);
        assert_eq!(r.metadata.response_code, ResponseCode::NXDomain, "{name}");
        assert!(r.metadata.authoritative);
        assert_eq!(r.authorities.len(), 1);
        assert_eq!(r.authorities[0].ttl, 60, "negative TTL = SOA minimum");
    }
    // Other types at a registered name: NODATA.
    for qtype in [
        RecordType::MX,
        RecordType::NS,
        RecordType::CNAME,
        RecordType::AAAA,
    ] {
        let r = s.udp("alice.example.test.", qtype);
        assert_eq!(r.metadata.response_code, ResponseCode::NoError, "{qtype}");
        assert!(r.answers.is_empty(), "{qtype}");
        assert_eq!(r.authorities[0].record_type(), RecordType::SOA);
    }
}

#[test]
fn aaaa_enabled_answers_loopback() {
    let mut c = config();
    c.answer_aaaa = true;
    let s = Server::start(c);
    s.zone.register("alice").unwrap();
    let r = s.udp("alice.example.test.", RecordType::AAAA);
    assert_eq!(r.answers.len(), 1);
    assert_eq!(r.answers[0].data, RData::AAAA(AAAA(certd_dns::LOOPBACK_V6)));
}

#[test]
fn nameserver_hosts_answer_their_glue_and_parents_exist() {
    let mut c = config();
    c.nameservers[0].name = "a.dns.example.test".into();
    c.nameservers[0].ipv6 = Some("2001:db8::53".parse().unwrap());
    let s = Server::start(c);
    let r = s.udp("a.dns.example.test.", RecordType::A);
    assert_eq!(r.answers[0].data, RData::A(A::new(192, 0, 2, 53)));
    let r = s.udp("a.dns.example.test.", RecordType::AAAA);
    assert_eq!(
        r.answers[0].data,
        RData::AAAA(AAAA("2001:db8::53".parse().unwrap()))
    );
    // The empty non-terminal between the apex and the host: NODATA, not NXDOMAIN.
    let r = s.udp("dns.example.test.", RecordType::A);
    assert_eq!(r.metadata.response_code, ResponseCode::NoError);
    assert!(r.answers.is_empty());
    assert!(s.zone.register("dns").is_err(), "taken by the nameserver");
}

#[test]
fn udp_truncates_to_the_clients_size_and_tcp_carries_it_all() {
    let mut c = config();
    c.caa = (0..12)
        .map(|i| certd_dns::CaaRecord {
            issuer: format!("ca{i}.example.net"),
            account_uri: None,
            dns01_only: true,
        })
        .collect();
    let s = Server::start(c);
    let full_len = s
        .tcp("example.test.", RecordType::CAA)
        .to_vec()
        .unwrap()
        .len();
    assert!(full_len > 512 && full_len < 1232, "{full_len}");

    // EDNS 1232: fits.
    let r = s.udp("example.test.", RecordType::CAA);
    assert!(!r.metadata.truncation);
    assert_eq!(r.answers.len(), 12);
    // EDNS 512 and no EDNS: truncated, question and OPT kept.
    for payload in [Some(512), None] {
        let r = udp_exchange(s.addr, &query("example.test.", RecordType::CAA, payload)).unwrap();
        assert!(r.metadata.truncation, "{payload:?}");
        assert!(r.metadata.authoritative);
        assert!(r.answers.is_empty());
        assert_eq!(r.queries.len(), 1);
        assert_eq!(r.edns.is_some(), payload.is_some());
    }
    // A payload below 512 counts as 512 (RFC 6891 §6.2.5).
    let r = udp_exchange(s.addr, &query("example.test.", RecordType::SOA, Some(100))).unwrap();
    assert!(!r.metadata.truncation);
    // TCP: everything.
    let r = s.tcp("example.test.", RecordType::CAA);
    assert!(!r.metadata.truncation);
    assert_eq!(r.answers.len(), 12);
}

#[test]
fn edns_is_echoed_and_unknown_versions_get_badvers() {
    let s = Server::start(config());
    let r = s.udp("example.test.", RecordType::SOA);
    let edns = r.edns.expect("OPT echoed");
    assert_eq!(edns.max_payload(), certd_dns::MAX_UDP_PAYLOAD);
    assert_eq!(edns.version(), 0);
    assert!(!edns.flags().dnssec_ok);

    let mut q = query("example.test.", RecordType::SOA, None);
    let mut edns = Edns::new();
    edns.set_version(1);
    q.set_edns(edns);
    let r = udp_exchange(s.addr, &q).unwrap();
    // BADVERS shares the value 16 with BADSIG (RFC 6891 §9); hickory decodes it as BADSIG.
    assert_eq!(u16::from(r.metadata.response_code), 16);
    assert_eq!(r.edns.unwrap().version(), 0);
}

#[test]
fn other_classes_opcodes_and_transfers_are_refused() {
    let s = Server::start(config());
    let mut q = query("example.test.", RecordType::SOA, None);
    q.queries[0].set_query_class(DNSClass::CH);
    assert_eq!(
        udp_exchange(s.addr, &q).unwrap().metadata.response_code,
        ResponseCode::Refused
    );

    let mut q = query("example.test.", RecordType::SOA, None);
    q.metadata.op_code = OpCode::Status;
    let r = udp_exchange(s.addr, &q).unwrap();
    assert_eq!(r.metadata.response_code, ResponseCode::NotImp);

    let r = s.tcp("example.test.", RecordType::AXFR);
    assert_eq!(r.metadata.response_code, ResponseCode::Refused);
}

#[test]
fn tcp_serves_several_queries_per_connection() {
    let s = Server::start(config());
    s.zone.register("alice").unwrap();
    let mut stream = tcp_connect(s.addr);
    for _ in 0..3 {
        let q = query("alice.example.test.", RecordType::A, None);
        let r = tcp_exchange(&mut stream, &q.to_vec().unwrap()).unwrap();
        assert_eq!(r.metadata.id, q.metadata.id);
        assert_eq!(r.answers.len(), 1);
    }
}
