//! The names under which aws-sso keeps things in the SecureStore, and typed access to them.

use anyhow::Context;
use secrecy::{ExposeSecret, SecretString};
use securestore::SecureStore;

/// The ECS server's bearer token (without the `Bearer ` prefix).
pub const ECS_BEARER_TOKEN: &str = "ecs-bearer-token";
/// The ECS server's TLS private key (PEM).
pub const ECS_SSL_KEY: &str = "ecs-ssl-key";
/// The ECS server's certificate chain (PEM, leaf first).
pub const ECS_SSL_CERT: &str = "ecs-ssl-cert";
/// The name the ECS server's certificate is for (`aws-sso setup ecs cert fqdn`).
pub const ECS_CERT_FQDN: &str = "ecs-cert-fqdn";
/// The certificate service's base URL.
pub const CERTD_SERVICE_URL: &str = "certd-service-url";
/// The device key enrolled with the certificate service (PKCS#8 DER, hex).
pub const CERTD_DEVICE_KEY: &str = "certd-device-key";
/// The enrolled device's id at the certificate service.
pub const CERTD_DEVICE_ID: &str = "certd-device-id";
/// A key made by `cert export-csr`, waiting for `cert load` (PEM).
pub const ECS_CERT_PENDING_KEY: &str = "ecs-cert-pending-key";

/// The stored bearer token, checked.
pub fn bearer_token(store: &dyn SecureStore) -> anyhow::Result<Option<ecs::BearerToken>> {
    match store
        .get(ECS_BEARER_TOKEN)
        .context("cannot read the bearer token")?
    {
        None => Ok(None),
        Some(t) => Ok(Some(
            ecs::BearerToken::new(&t)
                .context("the stored bearer token is invalid; set a new one")?,
        )),
    }
}

/// The stored certificate and key, checked to match, or `None` when neither is stored.
pub fn serving_key(store: &dyn SecureStore) -> anyhow::Result<Option<pki::ServingKey>> {
    let cert = store
        .get(ECS_SSL_CERT)
        .context("cannot read the stored certificate")?;
    let key = store
        .get(ECS_SSL_KEY)
        .context("cannot read the stored private key")?;
    match (cert, key) {
        (None, None) => Ok(None),
        (Some(_), None) => anyhow::bail!(
            "a certificate is stored without its private key; run `aws-sso setup ecs ssl --delete` and import both again"
        ),
        (None, Some(_)) => anyhow::bail!(
            "a private key is stored without a certificate; run `aws-sso setup ecs ssl --certificate ... --private-key ...`"
        ),
        (Some(c), Some(k)) => Ok(Some(
            pki::ServingKey::from_pem(c.expose_secret(), k.expose_secret())
                .context("the stored certificate and key are unusable")?,
        )),
    }
}

/// Wraps a `String` that holds a secret.
pub fn secret(s: String) -> SecretString {
    SecretString::from(s)
}
