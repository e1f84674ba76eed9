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
/// The certificate service's base URLs, one per line, tried in that order (a value from
/// before failover existed holds one URL, which is the same format).
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

/// The service URLs in a stored [`CERTD_SERVICE_URL`] value: one per line, blank lines and
/// surrounding spaces ignored, order kept.
pub fn parse_service_urls(stored: &str) -> Vec<String> {
    stored
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The [`CERTD_SERVICE_URL`] value for `urls` (checked URLs hold no line breaks).
pub fn service_urls_value(urls: &[String]) -> SecretString {
    SecretString::from(urls.join("\n"))
}

/// The configured service URLs in order, else the default service alone.
pub fn service_urls(store: &dyn SecureStore) -> anyhow::Result<Vec<String>> {
    let stored = store
        .get(CERTD_SERVICE_URL)
        .context("cannot read the service URLs")?
        .map(|v| parse_service_urls(v.expose_secret()))
        .unwrap_or_default();
    if stored.is_empty() {
        return Ok(vec![crate::certd_client::DEFAULT_SERVICE_URL.to_owned()]);
    }
    Ok(stored)
}

/// Wraps a `String` that holds a secret.
pub fn secret(s: String) -> SecretString {
    SecretString::from(s)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn service_urls_round_trip_and_read_the_single_url_format() {
        // The format before failover: one URL.
        assert_eq!(
            parse_service_urls("https://certs.example.org"),
            vec!["https://certs.example.org".to_owned()]
        );
        let urls = vec![
            "https://a.example.org".to_owned(),
            "http://127.0.0.1:8080".to_owned(),
        ];
        let stored = service_urls_value(&urls);
        assert_eq!(parse_service_urls(stored.expose_secret()), urls);
        assert_eq!(
            parse_service_urls(" https://a.example.org \r\n\nhttps://b.example.org\n"),
            vec![
                "https://a.example.org".to_owned(),
                "https://b.example.org".to_owned()
            ]
        );
        assert!(parse_service_urls("\n \n").is_empty());
    }

    #[test]
    fn service_urls_default_when_none_is_stored() {
        let store = securestore::MemoryStore::default();
        assert_eq!(
            service_urls(&store).unwrap(),
            vec![crate::certd_client::DEFAULT_SERVICE_URL.to_owned()]
        );
        store
            .set(CERTD_SERVICE_URL, &SecretString::from("http://127.0.0.1:1"))
            .unwrap();
        assert_eq!(
            service_urls(&store).unwrap(),
            vec!["http://127.0.0.1:1".to_owned()]
        );
    }
}
