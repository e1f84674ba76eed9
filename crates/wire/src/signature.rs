//! The request-signature scheme between `aws-sso` and `aws-sso-certd`: HTTP Message
//! Signatures (RFC 9421) over `@method`, `@path` and `content-digest` (RFC 9530), with
//! `created`, `keyid`, a single-use `nonce` and `alg="ed25519"`.
//!
//! This module owns the text: the signature base, `Signature-Input`, `Signature` and
//! `Content-Digest` values, built and parsed strictly. Keys, hashing and the verifier's
//! policy (age, nonce reuse) live elsewhere (`pki::request_signing`, the service).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// The label of our one signature.
pub const LABEL: &str = "sig1";
/// The covered components, in order.
pub const COMPONENTS: [&str; 3] = ["@method", "@path", "content-digest"];
/// The algorithm name in the parameters.
pub const ALG: &str = "ed25519";
/// Longest accepted `Signature-Input` or `Signature` header value.
pub const MAX_HEADER_LEN: usize = 1024;

/// The parameters of a signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureParams {
    /// Seconds since the epoch when the request was signed.
    pub created: i64,
    /// Which key signed: the device id.
    pub keyid: String,
    /// A value the signer never uses twice.
    pub nonce: String,
}

/// Why a signature header was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SignatureFormatError {
    /// A header is missing.
    #[error("missing {0} header")]
    Missing(&'static str),
    /// A header is longer than any we produce.
    #[error("{0} header too long")]
    TooLong(&'static str),
    /// `Signature-Input` is not `sig1=(...)` with our components and parameters.
    #[error("Signature-Input is not of the expected form: {0}")]
    BadInput(&'static str),
    /// `Signature` is not `sig1=:<base64>:`.
    #[error("Signature is not of the expected form")]
    BadSignature,
    /// `Content-Digest` is not `sha-256=:<base64 of 32 bytes>:`.
    #[error("Content-Digest is not sha-256=:<base64>:")]
    BadDigest,
}

/// Whether a parameter string value may travel inside an sf-string unescaped (we allow
/// only a plain, printable subset).
fn plain_token(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
}

/// The serialized inner list, e.g.
/// `("@method" "@path" "content-digest");created=1;keyid="d";nonce="n";alg="ed25519"`.
pub fn params_value(params: &SignatureParams) -> String {
    let comps: Vec<String> = COMPONENTS.iter().map(|c| format!("\"{c}\"")).collect();
    format!(
        "({});created={};keyid=\"{}\";nonce=\"{}\";alg=\"{ALG}\"",
        comps.join(" "),
        params.created,
        params.keyid,
        params.nonce
    )
}

/// The signature base (RFC 9421 section 2.5) for `components` (name, value) and the
/// serialized parameters.
pub fn signature_base(components: &[(&str, &str)], params_value: &str) -> String {
    let mut base = String::new();
    for (name, value) in components {
        base.push_str(&format!("\"{name}\": {value}\n"));
    }
    base.push_str(&format!("\"@signature-params\": {params_value}"));
    base
}

/// The base of our scheme for a request.
pub fn request_base(
    method: &str,
    path: &str,
    content_digest: &str,
    params: &SignatureParams,
) -> String {
    signature_base(
        &[
            ("@method", method),
            ("@path", path),
            ("content-digest", content_digest),
        ],
        &params_value(params),
    )
}

/// `Signature-Input: sig1=<params>`.
pub fn signature_input_header(params: &SignatureParams) -> String {
    format!("{LABEL}={}", params_value(params))
}

/// `Signature: sig1=:<base64>:`.
pub fn signature_header(signature: &[u8]) -> String {
    format!("{LABEL}=:{}:", STANDARD.encode(signature))
}

/// `Content-Digest: sha-256=:<base64>:` for a SHA-256 of the body.
pub fn content_digest_header(sha256: &[u8; 32]) -> String {
    format!("sha-256=:{}:", STANDARD.encode(sha256))
}

/// Parses `Content-Digest` into the SHA-256 it names.
pub fn parse_content_digest(value: &str) -> Result<[u8; 32], SignatureFormatError> {
    let b64 = value
        .trim()
        .strip_prefix("sha-256=:")
        .and_then(|v| v.strip_suffix(':'))
        .ok_or(SignatureFormatError::BadDigest)?;
    let bytes = STANDARD
        .decode(b64)
        .map_err(|_| SignatureFormatError::BadDigest)?;
    bytes
        .try_into()
        .map_err(|_| SignatureFormatError::BadDigest)
}

/// Parses `Signature-Input`: exactly our label, components and parameters, serialized
/// exactly as [`signature_input_header`] does (anything else is refused, so the verifier's
/// base is the signer's).
pub fn parse_signature_input(value: &str) -> Result<SignatureParams, SignatureFormatError> {
    use SignatureFormatError::BadInput;
    if value.len() > MAX_HEADER_LEN {
        return Err(SignatureFormatError::TooLong("Signature-Input"));
    }
    let rest = value
        .strip_prefix(LABEL)
        .and_then(|r| r.strip_prefix('='))
        .ok_or(BadInput("label is not sig1"))?;
    let comps = format!(
        "({})",
        COMPONENTS
            .iter()
            .map(|c| format!("\"{c}\""))
            .collect::<Vec<_>>()
            .join(" ")
    );
    let rest = rest
        .strip_prefix(comps.as_str())
        .ok_or(BadInput("covered components differ"))?;
    let mut created = None;
    let mut keyid = None;
    let mut nonce = None;
    let mut alg = None;
    for param in rest.split(';').skip(1) {
        let (k, v) = param
            .split_once('=')
            .ok_or(BadInput("parameter without value"))?;
        let quoted = || {
            v.strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .filter(|v| plain_token(v))
        };
        let slot = match k {
            "created" => {
                let n: i64 = v
                    .parse()
                    .map_err(|_| BadInput("created is not an integer"))?;
                if created.replace(n).is_some() {
                    return Err(BadInput("created twice"));
                }
                continue;
            }
            "keyid" => &mut keyid,
            "nonce" => &mut nonce,
            "alg" => &mut alg,
            _ => return Err(BadInput("unknown parameter")),
        };
        let v = quoted().ok_or(BadInput("parameter value is not a plain string"))?;
        if slot.replace(v.to_owned()).is_some() {
            return Err(BadInput("parameter given twice"));
        }
    }
    if alg.as_deref() != Some(ALG) {
        return Err(BadInput("alg must be ed25519"));
    }
    let params = SignatureParams {
        created: created.ok_or(BadInput("created missing"))?,
        keyid: keyid.ok_or(BadInput("keyid missing"))?,
        nonce: nonce.ok_or(BadInput("nonce missing"))?,
    };
    if signature_input_header(&params) != value {
        return Err(BadInput("parameters not in canonical order"));
    }
    Ok(params)
}

/// Parses `Signature: sig1=:<base64>:` into the signature bytes.
pub fn parse_signature(value: &str) -> Result<Vec<u8>, SignatureFormatError> {
    if value.len() > MAX_HEADER_LEN {
        return Err(SignatureFormatError::TooLong("Signature"));
    }
    let b64 = value
        .strip_prefix(LABEL)
        .and_then(|r| r.strip_prefix("=:"))
        .and_then(|r| r.strip_suffix(':'))
        .ok_or(SignatureFormatError::BadSignature)?;
    STANDARD
        .decode(b64)
        .map_err(|_| SignatureFormatError::BadSignature)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn params() -> SignatureParams {
        SignatureParams {
            created: 1_700_000_000,
            keyid: "dev-1".into(),
            nonce: "n0nce".into(),
        }
    }

    #[test]
    fn rfc_9421_example_base_is_reproduced() {
        // RFC 9421 B.2.6: the covered components and parameters of the ed25519 example.
        let params = r#"("date" "@method" "@path" "@authority" "content-type" "content-length");created=1618884473;keyid="test-key-ed25519""#;
        let base = signature_base(
            &[
                ("date", "Tue, 20 Apr 2021 02:07:55 GMT"),
                ("@method", "POST"),
                ("@path", "/foo"),
                ("@authority", "example.com"),
                ("content-type", "application/json"),
                ("content-length", "18"),
            ],
            params,
        );
        assert_eq!(
            base,
            "\"date\": Tue, 20 Apr 2021 02:07:55 GMT\n\"@method\": POST\n\"@path\": /foo\n\"@authority\": example.com\n\"content-type\": application/json\n\"content-length\": 18\n\"@signature-params\": (\"date\" \"@method\" \"@path\" \"@authority\" \"content-type\" \"content-length\");created=1618884473;keyid=\"test-key-ed25519\""
        );
    }

    #[test]
    fn headers_round_trip() {
        let p = params();
        let input = signature_input_header(&p);
        assert_eq!(
            input,
            r#"sig1=("@method" "@path" "content-digest");created=1700000000;keyid="dev-1";nonce="n0nce";alg="ed25519""#
        );
        assert_eq!(parse_signature_input(&input).unwrap(), p);
        let sig = signature_header(&[7u8; 64]);
        assert_eq!(parse_signature(&sig).unwrap(), vec![7u8; 64]);
        let digest = content_digest_header(&[1u8; 32]);
        assert_eq!(parse_content_digest(&digest).unwrap(), [1u8; 32]);
    }

    #[test]
    fn anything_but_the_canonical_form_is_refused() {
        let bad = [
            r#"sig2=("@method" "@path" "content-digest");created=1;keyid="d";nonce="n";alg="ed25519""#,
            r#"sig1=("@method" "@path");created=1;keyid="d";nonce="n";alg="ed25519""#,
            r#"sig1=("@method" "@path" "content-digest");created=1;keyid="d";nonce="n";alg="rsa-pss-sha512""#,
            r#"sig1=("@method" "@path" "content-digest");created=1;keyid="d";alg="ed25519""#,
            r#"sig1=("@method" "@path" "content-digest");keyid="d";created=1;nonce="n";alg="ed25519""#,
            r#"sig1=("@method" "@path" "content-digest");created=1;keyid="d";nonce="n";nonce="m";alg="ed25519""#,
            r#"sig1=("@method" "@path" "content-digest");created=x;keyid="d";nonce="n";alg="ed25519""#,
            r#"sig1=("@method" "@path" "content-digest");created=1;keyid="a b";nonce="n";alg="ed25519""#,
            r#"sig1=("@method" "@path" "content-digest");created=1;keyid="d";nonce="n";alg="ed25519";expires=2"#,
        ];
        for b in bad {
            assert!(parse_signature_input(b).is_err(), "{b}");
        }
        assert!(parse_signature_input(&"x".repeat(2000)).is_err());
        assert!(parse_signature("sig1=:!!:").is_err());
        assert!(parse_signature("sig1=AAAA").is_err());
        assert!(parse_content_digest("sha-512=:AAAA:").is_err());
        assert!(
            parse_content_digest("sha-256=:AAAA:").is_err(),
            "wrong length"
        );
    }
}
