//! Device keys and signed requests: the Ed25519 key `aws-sso` enrolls with the certificate
//! service, signing a request (RFC 9421 over method, path and content digest), and the
//! service's verification of signature, digest and age. Nonce reuse is the caller's check
//! (it needs storage); the header formats are `wire::signature`'s.

use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use secrecy::{ExposeSecret, SecretSlice};
use wire::signature::{self as sig, SignatureFormatError, SignatureParams};

/// Ed25519 public key length.
pub const PUBLIC_KEY_LEN: usize = 32;

/// Why signing or verifying failed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SigningError {
    /// The random generator or the key encoding failed.
    #[error("cannot create or load the device key")]
    Key,
    /// A header is malformed.
    #[error(transparent)]
    Format(#[from] SignatureFormatError),
    /// The body does not match its `Content-Digest`.
    #[error("the body does not match its Content-Digest")]
    DigestMismatch,
    /// The signature does not verify with the device's public key.
    #[error("the request signature is invalid")]
    BadSignature,
    /// The signature was made too long ago (or in the future).
    #[error("the request signature is {age}s old; at most {max}s is accepted")]
    Stale {
        /// Its age in seconds (negative: from the future).
        age: i64,
        /// The limit.
        max: i64,
    },
    /// The public key is not 32 bytes.
    #[error("an Ed25519 public key is 32 bytes")]
    BadPublicKey,
}

/// A device's Ed25519 private key. Its PKCS#8 bytes are secret: no `Debug` of them, zeroized
/// on drop, reachable only through [`DeviceKey::pkcs8`] for storing in the SecureStore.
pub struct DeviceKey {
    pair: Ed25519KeyPair,
    pkcs8: SecretSlice<u8>,
}

impl std::fmt::Debug for DeviceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceKey")
            .field("public", &hex(self.public_key()))
            .finish_non_exhaustive()
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

impl DeviceKey {
    /// A fresh key from the system random generator.
    pub fn generate() -> Result<Self, SigningError> {
        let doc =
            Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).map_err(|_| SigningError::Key)?;
        Self::from_pkcs8(doc.as_ref())
    }

    /// Loads a key stored as PKCS#8 DER.
    pub fn from_pkcs8(der: &[u8]) -> Result<Self, SigningError> {
        let pair = Ed25519KeyPair::from_pkcs8(der).map_err(|_| SigningError::Key)?;
        Ok(DeviceKey {
            pair,
            pkcs8: SecretSlice::from(der.to_vec()),
        })
    }

    /// The PKCS#8 DER, for the SecureStore only.
    pub fn pkcs8(&self) -> &SecretSlice<u8> {
        &self.pkcs8
    }

    /// The 32-byte public key the service stores.
    pub fn public_key(&self) -> &[u8] {
        self.pair.public_key().as_ref()
    }

    /// Signs a request: returns the `Content-Digest`, `Signature-Input` and `Signature`
    /// header values.
    pub fn sign_request(
        &self,
        method: &str,
        path: &str,
        body: &[u8],
        params: &SignatureParams,
    ) -> SignedHeaders {
        let content_digest = sig::content_digest_header(&sha256(body));
        let base = sig::request_base(method, path, &content_digest, params);
        let signature = self.pair.sign(base.as_bytes());
        SignedHeaders {
            content_digest,
            signature_input: sig::signature_input_header(params),
            signature: sig::signature_header(signature.as_ref()),
        }
    }
}

/// The three headers of a signed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedHeaders {
    /// `Content-Digest`.
    pub content_digest: String,
    /// `Signature-Input`.
    pub signature_input: String,
    /// `Signature`.
    pub signature: String,
}

fn sha256(body: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest(&SHA256, body).as_ref());
    out
}

/// Reads the parameters of a signed request without verifying anything yet (the service
/// needs `keyid` to find the public key).
pub fn request_params(headers: &SignedHeaders) -> Result<SignatureParams, SigningError> {
    Ok(sig::parse_signature_input(&headers.signature_input)?)
}

/// Verifies a signed request made with `public_key`: the digest matches the body, the
/// signature covers method, path and digest, and it was made within `max_age_secs` of
/// `now` (unix seconds; a minute of clock skew into the future is tolerated).
pub fn verify_request(
    public_key: &[u8],
    method: &str,
    path: &str,
    body: &[u8],
    headers: &SignedHeaders,
    now: i64,
    max_age_secs: i64,
) -> Result<SignatureParams, SigningError> {
    if public_key.len() != PUBLIC_KEY_LEN {
        return Err(SigningError::BadPublicKey);
    }
    let params = sig::parse_signature_input(&headers.signature_input)?;
    let age = now - params.created;
    if age > max_age_secs || age < -60 {
        return Err(SigningError::Stale {
            age,
            max: max_age_secs,
        });
    }
    if sig::parse_content_digest(&headers.content_digest)? != sha256(body) {
        return Err(SigningError::DigestMismatch);
    }
    let signature = sig::parse_signature(&headers.signature)?;
    let base = sig::request_base(method, path, &headers.content_digest, &params);
    UnparsedPublicKey::new(&ED25519, public_key)
        .verify(base.as_bytes(), &signature)
        .map_err(|_| SigningError::BadSignature)?;
    Ok(params)
}

/// Whether `der` is the PKCS#8 of a key (used before storing one imported by hand).
pub fn is_device_key(der: &SecretSlice<u8>) -> bool {
    Ed25519KeyPair::from_pkcs8(der.expose_secret()).is_ok()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn params(created: i64) -> SignatureParams {
        SignatureParams {
            created,
            keyid: "dev-1".into(),
            nonce: "abc123".into(),
        }
    }

    #[test]
    fn rfc_9421_ed25519_example_verifies() {
        // RFC 9421 B.2.6: the published example signature, checked against its public key
        // (B.1.4) over the base our builder reproduces.
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD;
        let spki = b64
            .decode("MCowBQYDK2VwAyEAJrQLj5P/89iXES9+vFgrIy29clF9CC/oPPsw3c5D0bs=")
            .unwrap();
        let public = &spki[spki.len() - 32..];
        let base = sig::signature_base(
            &[
                ("date", "Tue, 20 Apr 2021 02:07:55 GMT"),
                ("@method", "POST"),
                ("@path", "/foo"),
                ("@authority", "example.com"),
                ("content-type", "application/json"),
                ("content-length", "18"),
            ],
            r#"("date" "@method" "@path" "@authority" "content-type" "content-length");created=1618884473;keyid="test-key-ed25519""#,
        );
        let signature = b64
            .decode("wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1u02Gb04v9EDgwUPiu4A0w6vuQv5lIp5WPpBKRCw==")
            .unwrap();
        UnparsedPublicKey::new(&ED25519, public)
            .verify(base.as_bytes(), &signature)
            .unwrap();
    }

    #[test]
    fn signed_requests_verify_and_tampering_is_caught() {
        let key = DeviceKey::generate().unwrap();
        let body = br#"{"csr":"..."}"#;
        let h = key.sign_request("POST", "/api/v1/certificates", body, &params(1000));
        let ok = verify_request(
            key.public_key(),
            "POST",
            "/api/v1/certificates",
            body,
            &h,
            1010,
            300,
        );
        assert_eq!(ok.unwrap(), params(1000));
        let v = |m: &str, p: &str, b: &[u8], h: &SignedHeaders, now: i64| {
            verify_request(key.public_key(), m, p, b, h, now, 300)
        };
        assert_eq!(
            v("GET", "/api/v1/certificates", body, &h, 1010),
            Err(SigningError::BadSignature)
        );
        assert_eq!(
            v("POST", "/api/v1/enroll", body, &h, 1010),
            Err(SigningError::BadSignature)
        );
        assert_eq!(
            v("POST", "/api/v1/certificates", b"{}", &h, 1010),
            Err(SigningError::DigestMismatch)
        );
        assert_eq!(
            v("POST", "/api/v1/certificates", body, &h, 1301),
            Err(SigningError::Stale { age: 301, max: 300 })
        );
        assert!(matches!(
            v("POST", "/api/v1/certificates", body, &h, 900),
            Err(SigningError::Stale { .. })
        ));
        let mut forged = h.clone();
        forged.signature_input = forged.signature_input.replace("abc123", "abc124");
        assert_eq!(
            v("POST", "/api/v1/certificates", body, &forged, 1010),
            Err(SigningError::BadSignature)
        );
        let other = DeviceKey::generate().unwrap();
        let r = verify_request(
            other.public_key(),
            "POST",
            "/api/v1/certificates",
            body,
            &h,
            1010,
            300,
        );
        assert_eq!(r, Err(SigningError::BadSignature));
    }

    #[test]
    fn keys_round_trip_and_never_print_their_secret() {
        let key = DeviceKey::generate().unwrap();
        let again = DeviceKey::from_pkcs8(key.pkcs8().expose_secret()).unwrap();
        assert_eq!(key.public_key(), again.public_key());
        assert!(is_device_key(key.pkcs8()));
        let dbg = format!("{key:?}");
        assert!(!dbg.contains(&hex(key.pkcs8().expose_secret())));
        assert!(DeviceKey::from_pkcs8(b"junk").is_err());
    }
}
