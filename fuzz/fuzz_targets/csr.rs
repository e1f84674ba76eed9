//! certd's CSR policy (`pki::csr`) on arbitrary bytes: as DER, and as the PEM text of the
//! API's `csr` field. Never panics; whatever it accepts really names exactly the FQDN.
#![no_main]

use libfuzzer_sys::fuzz_target;
use x509_parser::certification_request::X509CertificationRequest;
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::prelude::FromDer;

const FQDN: &str = "dev.certs.test";

fn check(der: &[u8]) {
    let Ok(info) = pki::csr::check_csr(der, FQDN) else {
        return;
    };
    // Accepted: the request names exactly FQDN, by an independent reading.
    assert_eq!(info.name, FQDN);
    let (_, csr) = X509CertificationRequest::from_der(der).expect("an accepted CSR parses");
    let mut names = Vec::new();
    for ext in csr.requested_extensions().into_iter().flatten() {
        if let ParsedExtension::SubjectAlternativeName(san) = ext {
            for n in &san.general_names {
                match n {
                    GeneralName::DNSName(d) => names.push(d.to_ascii_lowercase()),
                    other => panic!("accepted a CSR with a non-DNS name: {other:?}"),
                }
            }
        }
    }
    assert_eq!(names, vec![FQDN.to_owned()], "accepted names");
    for cn in csr.certification_request_info.subject.iter_common_name() {
        let cn = cn.as_str().expect("an accepted CN is a string");
        assert!(cn.eq_ignore_ascii_case(FQDN), "accepted CN {cn:?}");
    }
    csr.verify_signature()
        .expect("an accepted CSR's signature verifies");
}

fuzz_target!(|data: &[u8]| {
    check(data);
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(der) = pki::csr::csr_from_pem(text) {
            check(&der);
        }
    }
});
