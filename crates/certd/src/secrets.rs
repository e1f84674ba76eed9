//! The service's own secrets: random bearer tokens (session cookies, API keys) that are
//! shown once and stored as SHA-256 hashes, and Argon2id password hashes.

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash as Phc, PasswordHasher, PasswordVerifier, SaltString};
use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use certd_store::{PasswordHash, TokenHash};
use secrecy::{ExposeSecret, SecretString};

/// Prefix of API keys, so they are recognisable in logs and secret scanners.
pub const API_KEY_PREFIX: &str = "ask_";
/// Prefix of session tokens.
pub const SESSION_PREFIX: &str = "ses_";

/// Why a secret operation failed.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// The random generator failed.
    #[error("the system random generator failed")]
    Random,
    /// Argon2 failed (never carries the password).
    #[error("password hashing failed")]
    Hash,
}

/// A fresh token: `<prefix><43 base64url characters>` (256 bits), and its hash.
pub fn new_token(prefix: &str) -> Result<(SecretString, TokenHash), SecretError> {
    use base64::Engine;
    let mut bytes = [0u8; 32];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| SecretError::Random)?;
    let token = format!(
        "{prefix}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    );
    let hash = hash_token(&token);
    Ok((SecretString::from(token), hash))
}

/// The SHA-256 hex of a presented token: what the store compares.
pub fn hash_token(token: &str) -> TokenHash {
    let d = digest(&SHA256, token.as_bytes());
    let hex: String = d.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    // A SHA-256 hex digest always satisfies `from_hex`.
    TokenHash::from_hex(&hex).unwrap_or_else(|_| unreachable_hash())
}

#[allow(
    clippy::panic,
    reason = "64 lowercase hex digits always form a TokenHash"
)]
fn unreachable_hash() -> TokenHash {
    panic!("SHA-256 hex digest refused as a token hash")
}

/// The prefix users see for an API key (its first 12 characters).
pub fn display_prefix(token: &SecretString) -> String {
    token.expose_secret().chars().take(12).collect()
}

/// Hashes a password with Argon2id (default parameters: 19 MiB, 2 passes).
pub fn hash_password(password: &SecretString) -> Result<PasswordHash, SecretError> {
    let salt = SaltString::generate(&mut OsRng);
    let phc = Argon2::default()
        .hash_password(password.expose_secret().as_bytes(), &salt)
        .map_err(|_| SecretError::Hash)?
        .to_string();
    PasswordHash::from_phc(phc).map_err(|_| SecretError::Hash)
}

/// Whether `password` matches `hash`.
pub fn verify_password(password: &SecretString, hash: &PasswordHash) -> bool {
    Phc::new(hash.as_phc())
        .map(|phc| {
            Argon2::default()
                .verify_password(password.expose_secret().as_bytes(), &phc)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A hash to verify against when the account does not exist, so that the answer takes
/// as long as for a real account.
pub fn dummy_hash() -> Result<PasswordHash, SecretError> {
    hash_password(&SecretString::from(
        "no such account: equalise timing".to_owned(),
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn tokens_are_prefixed_random_and_hashed() {
        let (a, ha) = new_token(API_KEY_PREFIX).unwrap();
        let (b, _) = new_token(API_KEY_PREFIX).unwrap();
        assert!(a.expose_secret().starts_with("ask_") && a.expose_secret().len() == 47);
        assert_ne!(a.expose_secret(), b.expose_secret());
        assert_eq!(hash_token(a.expose_secret()).as_hex(), ha.as_hex());
        assert!(!ha.as_hex().contains(&a.expose_secret()[4..]));
    }

    #[test]
    fn passwords_verify_only_themselves() {
        let pw = SecretString::from("correct horse battery staple".to_owned());
        let h = hash_password(&pw).unwrap();
        assert!(h.as_phc().starts_with("$argon2id$"));
        assert!(verify_password(&pw, &h));
        assert!(!verify_password(
            &SecretString::from("wrong".to_owned()),
            &h
        ));
    }
}
