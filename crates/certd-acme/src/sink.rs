//! `ChallengeSink`: where an order publishes and withdraws its DNS-01 TXT value, and the
//! adapter for certd's own zone ([`certd_dns::ZoneState`]). The sink is synchronous: the
//! zone is in memory and a withdrawal must also work from `Drop`.

use certd_dns::{ZoneError, ZoneState};

use crate::error::BoxError;

/// Publishes TXT `_acme-challenge.<fqdn>` values for the life of an order.
pub trait ChallengeSink: Sync {
    /// Publishes `txt_value` at `_acme-challenge.<fqdn>` (idempotent).
    fn publish(&self, fqdn: &str, txt_value: &str) -> Result<(), BoxError>;
    /// Withdraws `txt_value` from `_acme-challenge.<fqdn>`, leaving other values (another
    /// order's) in place. Withdrawing a value that is not there is not an error.
    fn clear(&self, fqdn: &str, txt_value: &str) -> Result<(), BoxError>;
}

impl<S: ChallengeSink + ?Sized> ChallengeSink for &S {
    fn publish(&self, fqdn: &str, txt_value: &str) -> Result<(), BoxError> {
        (**self).publish(fqdn, txt_value)
    }

    fn clear(&self, fqdn: &str, txt_value: &str) -> Result<(), BoxError> {
        (**self).clear(fqdn, txt_value)
    }
}

impl<S: ChallengeSink + ?Sized + Send> ChallengeSink for std::sync::Arc<S> {
    fn publish(&self, fqdn: &str, txt_value: &str) -> Result<(), BoxError> {
        (**self).publish(fqdn, txt_value)
    }

    fn clear(&self, fqdn: &str, txt_value: &str) -> Result<(), BoxError> {
        (**self).clear(fqdn, txt_value)
    }
}

/// Why certd's zone cannot take a challenge for a name.
#[derive(Debug, thiserror::Error)]
pub enum ZoneSinkError {
    /// The name is not a single label directly under the zone's apex.
    #[error("{fqdn} is not a name directly under the zone {apex}")]
    OutsideZone {
        /// The order's name.
        fqdn: String,
        /// The zone.
        apex: String,
    },
    /// The zone refused the change (name not registered, two values already published...).
    #[error(transparent)]
    Zone(#[from] ZoneError),
}

/// The label of `fqdn` under `apex`, if `fqdn` is exactly `<label>.<apex>` (any case).
fn label_under<'a>(fqdn: &'a str, apex: &str) -> Option<&'a str> {
    let fqdn = fqdn.strip_suffix('.').unwrap_or(fqdn);
    let split = fqdn.len().checked_sub(apex.len() + 1)?;
    let (label, rest) = fqdn.split_at_checked(split)?;
    let suffix = rest.strip_prefix('.')?;
    (suffix.eq_ignore_ascii_case(apex) && !label.is_empty() && !label.contains('.'))
        .then_some(label)
}

fn challenge_label<'a>(zone: &ZoneState, fqdn: &'a str) -> Result<&'a str, ZoneSinkError> {
    let apex = zone.apex();
    label_under(fqdn, &apex).ok_or_else(|| ZoneSinkError::OutsideZone {
        fqdn: fqdn.to_owned(),
        apex,
    })
}

impl ChallengeSink for ZoneState {
    fn publish(&self, fqdn: &str, txt_value: &str) -> Result<(), BoxError> {
        let label = challenge_label(self, fqdn)?;
        self.set_challenge(label, txt_value)
            .map_err(ZoneSinkError::from)?;
        Ok(())
    }

    fn clear(&self, fqdn: &str, txt_value: &str) -> Result<(), BoxError> {
        let label = challenge_label(self, fqdn)?;
        self.remove_challenge(label, txt_value)
            .map_err(ZoneSinkError::from)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_under_apex() {
        assert_eq!(label_under("dev.certs.test", "certs.test"), Some("dev"));
        assert_eq!(label_under("Dev.CERTS.test.", "certs.test"), Some("Dev"));
        assert_eq!(label_under("a.dev.certs.test", "certs.test"), None);
        assert_eq!(label_under("certs.test", "certs.test"), None);
        assert_eq!(label_under(".certs.test", "certs.test"), None);
        assert_eq!(label_under("devcerts.test", "certs.test"), None);
        assert_eq!(label_under("dev.other.test", "certs.test"), None);
    }
}
