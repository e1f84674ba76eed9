//! The hostile CSR corpus (testkit::hostile) against `POST /api/v1/certificates`, posted by
//! an enrolled device with valid signatures: every CSR is refused with its own code and
//! a message naming the reason, nothing reaches the ACME CA (no account, no order, no TXT
//! record), every refusal is audited, and the next valid CSR is issued by Pebble.

use axum::http::StatusCode;
use serde_json::json;
use testkit::hostile::{CsrCase, hostile_csrs};

use crate::harness::code;
use crate::issue::{csr_pem, enrolled, signed_post, world};

/// The status, code and a fragment of the message each case must get.
fn expected(case: CsrCase) -> (StatusCode, &'static str, &'static str) {
    use CsrCase as C;
    let csr = |fragment| (StatusCode::BAD_REQUEST, "CD8001", fragment);
    match case {
        C::WrongName | C::ExtraSan | C::TrailingDot | C::NulInName | C::SecondSanExtension => {
            csr("it must name exactly \"dev.certs.test\"")
        }
        C::CnDiffers => csr("the CSR names \"evil.example.org\""),
        C::DuplicateSan => csr("2 DNS name(s)"),
        C::NoSan | C::NoNames => csr("no subjectAltName"),
        C::EmailSan | C::UriSan => csr("1 other name(s)"),
        C::WildcardZone | C::WildcardBelow => csr("wildcard names are not accepted"),
        C::IpSan | C::IpOnly => csr("IP addresses are not accepted"),
        C::Rsa1024 => csr("RSA 1024 bits"),
        C::Rsa8192 => csr("RSA 8192 bits"),
        C::Ed25519 => csr("key not accepted: Ed25519"),
        C::P521 => csr("key not accepted: elliptic curve P-521"),
        C::Secp256k1 => csr("key not accepted: elliptic curve secp256k1"),
        C::ExplicitCurve => csr("explicit curve parameters"),
        C::BadSignature => csr("signature does not verify"),
        C::Truncated | C::Garbage => csr("the CSR cannot be parsed"),
        C::Oversized16k => csr("larger than 16384 bytes"),
        C::Oversized1m => (StatusCode::PAYLOAD_TOO_LARGE, "CD7002", "too large"),
        C::NotPem | C::Empty | C::Base64NoArmor | C::BadBase64 | C::CertificateNotCsr => {
            csr("not a PEM certificate signing request")
        }
        C::TrailingJunk | C::LeadingJunk => csr("text outside the PEM block"),
        C::TwoCsrs | C::KeyAndCsr => csr("exactly one PEM block"),
    }
}

#[tokio::test]
async fn hostile_csrs_are_refused_before_any_acme_order_and_certd_still_issues() {
    let w = world().await;
    let certd = &w.certd;
    let (cookie, device, id) = enrolled(certd, "hugo", "dev").await;
    let corpus = hostile_csrs("dev.certs.test");
    assert!(corpus.len() >= 30, "{} cases", corpus.len());

    let mut refused_with_reason = 0;
    for (i, h) in corpus.iter().enumerate() {
        // Ten certificate requests per account per hour: move the clock past the window.
        if i % 9 == 8 {
            certd.advance(3601);
        }
        let body = json!({ "csr": h.pem }).to_string();
        let r = certd
            .send(signed_post(
                &device,
                id,
                certd.now(),
                &format!("h{i}"),
                &body,
            ))
            .await;
        let (status, want_code, fragment) = expected(h.case);
        let message = r.json["error"]["message"].as_str().unwrap_or_default();
        assert_eq!(
            (r.status, code(&r)),
            (status, want_code),
            "{:?}: {}",
            h.case,
            r.json
        );
        assert!(
            message.contains(fragment),
            "{:?}: expected {fragment:?} in {message:?}",
            h.case
        );
        // The message names the reason, never echoes the input (a pasted private key).
        assert!(message.len() < 300, "{:?}: {message}", h.case);
        for line in h.pem.lines().filter(|l| l.len() > 40) {
            assert!(!message.contains(line), "{:?} echoes its input", h.case);
        }
        if want_code == "CD8001" {
            refused_with_reason += 1;
        }
    }

    // Nothing reached the CA: no ACME account was even opened, no order stored, no TXT.
    assert!(
        !w.account_path.exists(),
        "certd contacted the ACME CA for a hostile CSR"
    );
    assert!(
        certd
            .store
            .get_order(certd_store::OrderId(1))
            .await
            .is_err(),
        "an order was stored for a hostile CSR"
    );
    assert!(certd.zone.challenges("dev").is_empty());

    // Every refused CSR is in the account's audit trail, with its code; no order step is.
    let audit = certd
        .call("GET", "/api/v1/audit", Some(&cookie), None)
        .await;
    let events = audit.json.as_array().unwrap();
    let refused = events
        .iter()
        .filter(|e| e["action"] == "certificate.request" && e["outcome"] == "denied")
        .filter(|e| e["reason"].as_str().unwrap_or("").starts_with("CD8001"))
        .count();
    assert_eq!(refused, refused_with_reason, "{}", audit.json);
    assert!(
        !events
            .iter()
            .any(|e| e["action"].as_str().unwrap().starts_with("order.")),
        "{}",
        audit.json
    );

    // And the next valid request is served: Pebble issues it, as the first order.
    certd.advance(3601);
    let body = json!({ "csr": csr_pem(&["dev.certs.test"]) }).to_string();
    let r = certd
        .send(signed_post(&device, id, certd.now(), "good", &body))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    let chain = pki::parse_cert_chain(r.json["chain_pem"].as_str().unwrap()).unwrap();
    let leaf = pki::cert_info(&chain[0]).unwrap();
    assert_eq!(leaf.dns_names, vec!["dev.certs.test".to_owned()]);
    let order = certd
        .store
        .get_order(certd_store::OrderId(1))
        .await
        .unwrap();
    assert_eq!(order.hostname, "dev");
}
