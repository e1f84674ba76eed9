//! The request-signature scheme: `wire::signature`'s header parsers and
//! `pki::request_signing::verify_request`, the service's verification entry point.
//!
//! Input: `Signature-Input`, `Signature`, `Content-Digest`, method and path on the first
//! five lines, the body after them. Checked: parsing never panics and accepts only the
//! canonical forms; headers made by anyone but the process's own key never verify; and
//! the same fields, signed by that key, verify, while any one changed byte fails.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use pki::request_signing::{DeviceKey, SignedHeaders, verify_request};
use wire::signature::{self as sig, SignatureParams};

const NOW: i64 = 1_800_000_000;
const MAX_AGE: i64 = 300;

fn key() -> &'static DeviceKey {
    static KEY: OnceLock<DeviceKey> = OnceLock::new();
    KEY.get_or_init(|| DeviceKey::generate().expect("device key"))
}

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(6, |b| *b == b'\n');
    let mut line = || String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
    let (input, signature, digest, method, path) = (line(), line(), line(), line(), line());
    let body = parts.next().unwrap_or_default();

    // The parsers: canonical forms only.
    if let Ok(p) = sig::parse_signature_input(&input) {
        assert_eq!(
            sig::signature_input_header(&p),
            input,
            "non-canonical Signature-Input"
        );
    }
    if let Ok(bytes) = sig::parse_signature(&signature) {
        assert_eq!(
            sig::parse_signature(&sig::signature_header(&bytes)),
            Ok(bytes)
        );
    }
    if let Ok(d) = sig::parse_content_digest(&digest) {
        assert_eq!(
            sig::parse_content_digest(&sig::content_digest_header(&d)),
            Ok(d)
        );
    }

    // Headers from the input never verify under a key generated in this process, unless
    // they are exactly what that key makes for these fields.
    let given = SignedHeaders {
        content_digest: digest,
        signature_input: input,
        signature,
    };
    let _ = pki::request_signing::request_params(&given);
    if let Ok(p) = verify_request(
        key().public_key(),
        &method,
        &path,
        body,
        &given,
        NOW,
        MAX_AGE,
    ) {
        assert_eq!(
            key().sign_request(&method, &path, body, &p),
            given,
            "forged signature verified"
        );
    }

    // The same fields signed for real: verify, and each single change is caught.
    let nonce: String = path
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .take(32)
        .collect();
    let params = SignatureParams {
        created: NOW - i64::from(body.first().copied().unwrap_or(0)),
        keyid: "17".into(),
        nonce: if nonce.is_empty() { "n".into() } else { nonce },
    };
    let signed = key().sign_request(&method, &path, body, &params);
    assert_eq!(
        verify_request(
            key().public_key(),
            &method,
            &path,
            body,
            &signed,
            NOW,
            MAX_AGE
        ),
        Ok(params.clone())
    );
    let pick = body.len().wrapping_mul(31).wrapping_add(path.len());
    let mut body2 = body.to_vec();
    if body2.is_empty() {
        body2.push(b'x');
    } else {
        let i = pick % body2.len();
        body2[i] ^= 0x01;
    }
    assert!(
        verify_request(
            key().public_key(),
            &method,
            &path,
            &body2,
            &signed,
            NOW,
            MAX_AGE
        )
        .is_err()
    );
    let other_path = format!("{path}x");
    assert!(
        verify_request(
            key().public_key(),
            &method,
            &other_path,
            body,
            &signed,
            NOW,
            MAX_AGE
        )
        .is_err()
    );
    let mut bad_sig = signed.clone();
    let raw = sig::parse_signature(&signed.signature).expect("own signature parses");
    let mut raw2 = raw.clone();
    let i = pick % raw2.len();
    raw2[i] ^= 0x80;
    bad_sig.signature = sig::signature_header(&raw2);
    assert!(
        verify_request(
            key().public_key(),
            &method,
            &path,
            body,
            &bad_sig,
            NOW,
            MAX_AGE
        )
        .is_err()
    );
    let too_late = params.created + MAX_AGE + 1;
    assert!(
        verify_request(
            key().public_key(),
            &method,
            &path,
            body,
            &signed,
            too_late,
            MAX_AGE
        )
        .is_err()
    );
});
