//! `AcmeConfig`: which CA (Let's Encrypt presets or any directory URL), the account's
//! contact, External Account Binding, extra trusted roots, and the polling policy. Parsing
//! certd's config file is certd's job; this is the validated runtime shape.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use instant_acme::{LetsEncrypt, RetryPolicy};
use secrecy::{ExposeSecret, SecretSlice};

use crate::error::AcmeError;

/// The ACME directory to use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Directory {
    /// Let's Encrypt production.
    LetsEncryptProduction,
    /// Let's Encrypt staging (untrusted certificates, generous limits).
    LetsEncryptStaging,
    /// Any other directory URL (`https://` only).
    Url(String),
}

impl Directory {
    /// The directory URL.
    pub fn url(&self) -> &str {
        match self {
            Directory::LetsEncryptProduction => LetsEncrypt::Production.url(),
            Directory::LetsEncryptStaging => LetsEncrypt::Staging.url(),
            Directory::Url(url) => url,
        }
    }
}

impl FromStr for Directory {
    type Err = AcmeError;

    /// `letsencrypt` (or `letsencrypt-production`), `letsencrypt-staging`, or an `https://`
    /// URL.
    fn from_str(s: &str) -> Result<Directory, AcmeError> {
        match s.trim() {
            "letsencrypt" | "letsencrypt-production" => Ok(Directory::LetsEncryptProduction),
            "letsencrypt-staging" => Ok(Directory::LetsEncryptStaging),
            url if url.starts_with("https://") && url.len() > "https://".len() => {
                Ok(Directory::Url(url.to_owned()))
            }
            other => Err(AcmeError::Config {
                reason: format!(
                    "ACME directory {other:?}: expected letsencrypt, letsencrypt-staging or an \
                     https:// URL"
                ),
            }),
        }
    }
}

impl fmt::Display for Directory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.url())
    }
}

/// External Account Binding credentials (RFC 8555 §7.3.4), as CAs other than Let's Encrypt
/// hand them out. The HMAC key never shows in `Debug`.
pub struct ExternalAccountBinding {
    kid: String,
    hmac_key: SecretSlice<u8>,
}

impl ExternalAccountBinding {
    /// From the key id and the raw HMAC key bytes.
    pub fn new(kid: impl Into<String>, hmac_key: Vec<u8>) -> Result<Self, AcmeError> {
        let kid = kid.into();
        if kid.is_empty() || hmac_key.is_empty() {
            return Err(AcmeError::Config {
                reason: "External Account Binding needs a key id and a non-empty HMAC key"
                    .to_owned(),
            });
        }
        Ok(ExternalAccountBinding {
            kid,
            hmac_key: hmac_key.into(),
        })
    }

    /// From the key id and the HMAC key as CAs print it: base64url (padded or not).
    pub fn from_base64url(kid: impl Into<String>, hmac_key_b64: &str) -> Result<Self, AcmeError> {
        let text = hmac_key_b64.trim();
        let key = URL_SAFE_NO_PAD
            .decode(text)
            .or_else(|_| URL_SAFE.decode(text))
            .map_err(|_| AcmeError::Config {
                reason: "External Account Binding HMAC key is not base64url".to_owned(),
            })?;
        Self::new(kid, key)
    }

    /// The key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub(crate) fn to_instant_acme(&self) -> instant_acme::ExternalAccountKey {
        instant_acme::ExternalAccountKey::new(self.kid.clone(), self.hmac_key.expose_secret())
    }
}

impl fmt::Debug for ExternalAccountBinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExternalAccountBinding")
            .field("kid", &self.kid)
            .field("hmac_key", &"[redacted]")
            .finish()
    }
}

/// The default order polling: first look after 5 ms, then 1.7 times longer each time
/// (0.005, 0.0085, 0.014, 0.025, 0.042, 0.071, 0.12, 0.2, 0.35, 0.59, 1.0, 1.7 s...), for at
/// most two minutes; a `Retry-After` from the CA takes precedence. A CA that validates or
/// issues at once (Pebble takes under 10 ms for each) answers on the first or second look;
/// Let's Encrypt's few seconds of DNS-01 validation cost about a dozen polls, far below its
/// limits.
pub const DEFAULT_POLL: RetryPolicy = RetryPolicy::new()
    .initial_delay(Duration::from_millis(5))
    .backoff(1.7)
    .timeout(Duration::from_secs(120));

/// How long one HTTP exchange with the CA may take (connect, and response headers).
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Everything the ACME client needs.
#[derive(Debug)]
pub struct AcmeConfig {
    /// The CA's directory.
    pub directory: Directory,
    /// Contact email for the account (sent as `mailto:`); optional for Let's Encrypt.
    pub contact_email: Option<String>,
    /// External Account Binding, for CAs that require it.
    pub external_account: Option<ExternalAccountBinding>,
    /// Extra trusted roots (PEM, any number of certificates) on top of the platform's, for
    /// the CA's HTTPS endpoint: Pebble or a private ACME CA.
    pub extra_roots_pem: Option<String>,
    /// How orders are polled while the CA validates and issues.
    pub poll: RetryPolicy,
    /// Limit on each HTTP exchange with the CA.
    pub request_timeout: Duration,
}

impl AcmeConfig {
    /// A configuration for `directory` with the defaults: no contact, no EAB, platform
    /// roots only, [`DEFAULT_POLL`], [`DEFAULT_REQUEST_TIMEOUT`].
    pub fn new(directory: Directory) -> AcmeConfig {
        AcmeConfig {
            directory,
            contact_email: None,
            external_account: None,
            extra_roots_pem: None,
            poll: DEFAULT_POLL,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
        }
    }

    /// The `mailto:` contact URI, checked.
    pub(crate) fn contact_uri(&self) -> Result<Option<String>, AcmeError> {
        let Some(email) = self.contact_email.as_deref() else {
            return Ok(None);
        };
        let ok = email.len() <= 254
            && email.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty() && domain.contains('.') && !domain.starts_with('.')
            })
            && email
                .bytes()
                .all(|b| b.is_ascii_graphic() && !b"<>,;:\"()[]\\".contains(&b));
        if !ok {
            return Err(AcmeError::Config {
                reason: format!("contact email {email:?} is not an email address"),
            });
        }
        Ok(Some(format!("mailto:{email}")))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn directory_presets_and_urls() {
        assert_eq!(
            "letsencrypt".parse::<Directory>().unwrap().url(),
            "https://acme-v02.api.letsencrypt.org/directory"
        );
        assert_eq!(
            "letsencrypt-staging".parse::<Directory>().unwrap().url(),
            "https://acme-staging-v02.api.letsencrypt.org/directory"
        );
        assert_eq!(
            "https://127.0.0.1:14000/dir".parse::<Directory>().unwrap(),
            Directory::Url("https://127.0.0.1:14000/dir".into())
        );
        assert!("http://ca.test/dir".parse::<Directory>().is_err());
        assert!("staging".parse::<Directory>().is_err());
    }

    #[test]
    fn eab_key_is_redacted_and_base64url_decoded() {
        let eab = ExternalAccountBinding::from_base64url(
            "kid-1",
            "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W",
        )
        .unwrap();
        let debug = format!("{eab:?}");
        assert!(
            debug.contains("kid-1") && debug.contains("[redacted]"),
            "{debug}"
        );
        assert!(!debug.contains("zWND"), "{debug}");
        assert_eq!(eab.hmac_key.expose_secret().len(), 48);
        assert!(ExternalAccountBinding::from_base64url("kid", "not base64!").is_err());
        assert!(ExternalAccountBinding::new("", vec![1]).is_err());
    }

    #[test]
    fn contact_email_is_checked() {
        let mut c = AcmeConfig::new(Directory::LetsEncryptStaging);
        assert_eq!(c.contact_uri().unwrap(), None);
        c.contact_email = Some("ops@example.org".into());
        assert_eq!(
            c.contact_uri().unwrap().as_deref(),
            Some("mailto:ops@example.org")
        );
        for bad in [
            "ops",
            "@example.org",
            "ops@localhost",
            "a b@example.org",
            "x@.org",
        ] {
            c.contact_email = Some(bad.into());
            assert!(c.contact_uri().is_err(), "{bad}");
        }
    }
}
