//! Answers as BIND's `dig` sees them: the apex records, registered and unknown names, AAAA,
//! TXT challenges, REFUSED outside the zone, flags, TCP fallback and 0x20 case.

use crate::{Server, config, dig};

/// The `;; flags:` words of a dig answer, e.g. `["qr", "aa"]`.
fn flags(out: &str) -> Vec<String> {
    let line = out
        .lines()
        .find(|l| l.starts_with(";; flags:"))
        .unwrap_or_else(|| panic!("no flags line in:\n{out}"));
    let flags = line.trim_start_matches(";; flags:");
    let flags = flags.split(';').next().unwrap();
    flags.split_whitespace().map(str::to_owned).collect()
}

fn status(out: &str) -> &str {
    let at = out
        .find("status: ")
        .unwrap_or_else(|| panic!("no status in:\n{out}"));
    out[at + 8..].split(',').next().unwrap()
}

/// The answer section's records, one `name ttl class type rdata` string each.
fn answers(port: u16, args: &[&str]) -> Vec<String> {
    section(port, "+answer", args)
}

/// The records of one section (`+answer`, `+authority`), whitespace normalised.
fn section(port: u16, which: &str, args: &[&str]) -> Vec<String> {
    let mut a = vec!["+noall", which];
    a.extend_from_slice(args);
    dig(port, &a)
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with(';'))
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}

#[test]
fn apex_has_soa_ns_and_caa() {
    let s = Server::start(config());
    let p = s.port();
    assert_eq!(
        answers(p, &["example.test", "SOA"]),
        [
            "example.test. 300 IN SOA ns1.example.test. hostmaster.example.test. 2026120301 7200 3600 1209600 60"
        ]
    );
    let mut ns = answers(p, &["example.test", "NS"]);
    ns.sort();
    assert_eq!(
        ns,
        [
            "example.test. 300 IN NS ns1.example.test.",
            "example.test. 300 IN NS ns2.elsewhere.test."
        ]
    );
    let out = dig(p, &["example.test", "NS"]);
    assert!(
        out.contains("ns1.example.test.\t300\tIN\tA\t192.0.2.53"),
        "glue in additional:\n{out}"
    );
    assert_eq!(
        answers(p, &["example.test", "CAA"]),
        [
            "example.test. 300 IN CAA 0 issue \"letsencrypt.org; accounturi=https://acme-v02.api.letsencrypt.org/acme/acct/123; validationmethods=dns-01\""
        ]
    );
    let out = dig(p, &["example.test", "SOA"]);
    assert_eq!(status(&out), "NOERROR");
    assert_eq!(flags(&out), ["qr", "aa", "rd"], "AA set, RD copied, no RA");
    assert!(out.contains("WARNING: recursion requested but not available"));
}

#[test]
fn registered_names_resolve_to_loopback_and_unknown_names_do_not_exist() {
    let s = Server::start(config());
    let p = s.port();
    s.zone.register("alice").unwrap();
    assert_eq!(
        answers(p, &["alice.example.test", "A"]),
        ["alice.example.test. 300 IN A 127.0.0.1"]
    );
    let out = dig(p, &["alice.example.test", "A", "+norec"]);
    assert_eq!(flags(&out), ["qr", "aa"]);

    let out = dig(p, &["bob.example.test", "A"]);
    assert_eq!(status(&out), "NXDOMAIN");
    assert!(flags(&out).contains(&"aa".to_owned()));
    assert_eq!(
        section(p, "+authority", &["bob.example.test", "A"]),
        [
            "example.test. 60 IN SOA ns1.example.test. hostmaster.example.test. 2026120301 7200 3600 1209600 60"
        ],
        "SOA with the negative TTL in authority"
    );

    s.zone.unregister("alice").unwrap();
    assert_eq!(status(&dig(p, &["alice.example.test", "A"])), "NXDOMAIN");
}

#[test]
fn aaaa_only_when_configured() {
    let s = Server::start(config());
    s.zone.register("alice").unwrap();
    let out = dig(s.port(), &["alice.example.test", "AAAA"]);
    assert_eq!(status(&out), "NOERROR");
    assert!(out.contains("ANSWER: 0"), "{out}");
    assert!(
        out.contains("AUTHORITY: 1"),
        "NODATA carries the SOA:\n{out}"
    );

    let mut c = config();
    c.answer_aaaa = true;
    let s = Server::start(c);
    s.zone.register("alice").unwrap();
    assert_eq!(
        answers(s.port(), &["alice.example.test", "AAAA"]),
        ["alice.example.test. 300 IN AAAA ::1"]
    );
}

#[test]
fn txt_challenge_while_set_only() {
    let s = Server::start(config());
    let p = s.port();
    s.zone.register("alice").unwrap();
    let name = "_acme-challenge.alice.example.test";
    assert_eq!(status(&dig(p, &[name, "TXT"])), "NXDOMAIN");
    s.zone.set_challenge("alice", "tok-1").unwrap();
    s.zone.set_challenge("alice", "tok-2").unwrap();
    let mut txt = answers(p, &[name, "TXT"]);
    txt.sort();
    assert_eq!(
        txt,
        [
            "_acme-challenge.alice.example.test. 60 IN TXT \"tok-1\"",
            "_acme-challenge.alice.example.test. 60 IN TXT \"tok-2\""
        ]
    );
    assert!(s.zone.set_challenge("alice", "tok-3").is_err());
    assert_eq!(answers(p, &[name, "TXT"]).len(), 2, "the third was refused");
    // Other types at the challenge name: NODATA.
    let out = dig(p, &[name, "A"]);
    assert_eq!(status(&out), "NOERROR");
    assert!(out.contains("ANSWER: 0"), "{out}");
    // No TXT at the name itself.
    assert!(answers(p, &["alice.example.test", "TXT"]).is_empty());

    s.zone.clear_challenges("alice").unwrap();
    assert_eq!(status(&dig(p, &[name, "TXT"])), "NXDOMAIN");
}

#[test]
fn names_outside_the_zone_are_refused() {
    let s = Server::start(config());
    for name in [
        "example.org",
        "test",
        ".",
        "example.test.evil.org",
        "xexample.test",
    ] {
        let out = dig(s.port(), &[name, "A"]);
        assert_eq!(status(&out), "REFUSED", "{name}:\n{out}");
        assert!(!flags(&out).contains(&"aa".to_owned()), "{out}");
        assert!(!flags(&out).contains(&"ra".to_owned()), "{out}");
    }
}

#[test]
fn large_answers_are_truncated_over_udp_and_complete_over_tcp() {
    let mut c = config();
    c.caa = (0..30)
        .map(|i| certd_dns::CaaRecord {
            issuer: format!("ca{i}.example.net"),
            account_uri: Some(format!("https://ca{i}.example.net/acme/acct/{i:08}")),
            dns01_only: true,
        })
        .collect();
    let s = Server::start(c);
    let p = s.port();
    // dig sees TC=1 over UDP and retries over TCP by itself.
    let out = dig(p, &["example.test", "CAA", "+bufsize=1232"]);
    assert!(out.contains("Truncated, retrying in TCP mode"), "{out}");
    assert!(out.contains("(TCP)"), "{out}");
    assert!(out.contains("ANSWER: 30"), "{out}");
    // Without the retry: the truncated UDP answer itself.
    let out = dig(p, &["example.test", "CAA", "+ignore", "+noedns"]);
    assert!(flags(&out).contains(&"tc".to_owned()), "{out}");
    assert!(out.contains("ANSWER: 0"), "{out}");
    // A small answer fits in 512 bytes without EDNS.
    let out = dig(p, &["example.test", "SOA", "+noedns"]);
    assert!(!flags(&out).contains(&"tc".to_owned()), "{out}");
}

#[test]
fn question_case_is_preserved() {
    let s = Server::start(config());
    s.zone.register("alice").unwrap();
    let out = dig(s.port(), &["AlIcE.ExAmPlE.TeSt", "A"]);
    assert!(out.contains(";AlIcE.ExAmPlE.TeSt.\t\tIN\tA"), "{out}");
    assert!(
        out.contains("AlIcE.ExAmPlE.TeSt.\t300\tIN\tA\t127.0.0.1"),
        "{out}"
    );
}

#[test]
fn edns_is_echoed_and_any_is_minimal() {
    let s = Server::start(config());
    s.zone.register("alice").unwrap();
    let out = dig(s.port(), &["alice.example.test", "A"]);
    assert!(out.contains("EDNS: version: 0, flags:; udp: 1232"), "{out}");
    let out = dig(s.port(), &["alice.example.test", "A", "+noedns"]);
    assert!(!out.contains("OPT PSEUDOSECTION"), "{out}");
    assert_eq!(
        answers(s.port(), &["alice.example.test", "ANY"]),
        ["alice.example.test. 300 IN A 127.0.0.1"]
    );
    assert_eq!(answers(s.port(), &["example.test", "ANY"]).len(), 1);
    let out = dig(s.port(), &["example.test", "AXFR"]);
    assert!(out.contains("Transfer failed"), "{out}");
}
