//! The zone's public API as certd uses it, checked through the answers it produces: label
//! validation, reserved nameserver labels, bulk loading, the two-value TXT limit.

use certd_dns::{LabelError, ZoneError, ZoneState};
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

use crate::{Server, config};

#[test]
fn invalid_labels_are_refused_with_the_reason() {
    let s = Server::start(config());
    let cases: [(&str, LabelError); 6] = [
        ("", LabelError::Empty),
        ("-alice", LabelError::LeadingHyphen),
        ("alice-", LabelError::TrailingHyphen),
        (
            "al.ice",
            LabelError::InvalidChar {
                ch: '.',
                position: 2,
            },
        ),
        (
            "_acme-challenge",
            LabelError::InvalidChar {
                ch: '_',
                position: 0,
            },
        ),
        (&"a".repeat(64), LabelError::TooLong { len: 64 }),
    ];
    for (label, why) in cases {
        assert_eq!(
            s.zone.register(label),
            Err(ZoneError::InvalidLabel {
                label: label.to_owned(),
                source: why.clone()
            }),
            "{label:?}"
        );
        assert!(s.zone.set_challenge(label, "v").is_err());
        assert!(s.zone.replace_all([label]).is_err());
    }
    assert!(s.zone.is_empty());
    let err = s.zone.register("al ice").unwrap_err().to_string();
    assert_eq!(
        err,
        "invalid label \"al ice\": the label has ' ' at position 2; only a-z, 0-9 and '-' are allowed"
    );
    // A dotted "label" must not create a deeper name.
    let r = s.udp("al.ice.example.test.", RecordType::A);
    assert_eq!(r.metadata.response_code, ResponseCode::NXDomain);
}

#[test]
fn labels_are_case_insensitive_and_stored_lowercase() {
    let s = Server::start(config());
    assert!(s.zone.register("MiXeD-42").unwrap());
    assert!(!s.zone.register("mixed-42").unwrap());
    assert!(s.zone.is_registered("MIXED-42"));
    assert_eq!(
        s.udp("mixed-42.example.test.", RecordType::A).answers.len(),
        1
    );
}

#[test]
fn nameserver_labels_cannot_be_registered() {
    let s = Server::start(config());
    assert_eq!(
        s.zone.register("ns1"),
        Err(ZoneError::ReservedForNameserver {
            label: "ns1".into()
        })
    );
    // ns2 lives outside the zone: its label is free here.
    assert!(s.zone.register("ns2").unwrap());
}

#[test]
fn replace_all_loads_a_whole_set_or_nothing() {
    let s = Server::start(config());
    s.zone.replace_all(["a", "b", "c"]).unwrap();
    assert_eq!(s.zone.len(), 3);
    assert!(s.zone.replace_all(["d", "not valid"]).is_err());
    assert_eq!(s.zone.len(), 3, "unchanged after a refused load");
    s.zone.replace_all(["d"]).unwrap();
    assert_eq!(
        s.udp("a.example.test.", RecordType::A)
            .metadata
            .response_code,
        ResponseCode::NXDomain
    );
    assert_eq!(s.udp("d.example.test.", RecordType::A).answers.len(), 1);
}

#[test]
fn a_third_challenge_value_is_refused() {
    let s = Server::start(config());
    s.zone.register("alice").unwrap();
    assert_eq!(
        s.zone.set_challenge("bob", "x"),
        Err(ZoneError::NotRegistered {
            label: "bob".into()
        })
    );
    s.zone.set_challenge("alice", "one").unwrap();
    s.zone.set_challenge("alice", "two").unwrap();
    assert_eq!(
        s.zone.set_challenge("alice", "three"),
        Err(ZoneError::TooManyChallenges {
            label: "alice".into()
        })
    );
    let r = s.udp("_acme-challenge.alice.example.test.", RecordType::TXT);
    assert_eq!(r.answers.len(), 2);
    s.zone.remove_challenge("alice", "one").unwrap();
    s.zone.set_challenge("alice", "three").unwrap();
    assert_eq!(s.zone.challenges("alice"), ["two", "three"]);
}

#[test]
fn configs_are_validated() {
    let mut c = config();
    c.nameservers[1].ipv4 = Some(std::net::Ipv4Addr::LOCALHOST);
    assert!(matches!(
        ZoneState::new(c),
        Err(certd_dns::ConfigError::GlueOutsideZone { .. })
    ));
    let mut c = config();
    c.apex = "bad apex".into();
    assert!(ZoneState::new(c).is_err());
}
