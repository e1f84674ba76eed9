//! Helpers both backends use: argument bounds checked before any SQL runs, and turning
//! row counts into results. No SQL here.

use crate::StoreError;

/// Refuses usernames that are empty, longer than 64 bytes or not ASCII (so SQLite's and
/// PostgreSQL's `lower()` agree; the service's own rule is stricter).
pub(crate) fn check_username(username: &str) -> Result<(), StoreError> {
    if username.is_empty() || username.len() > 64 || !username.is_ascii() {
        return Err(StoreError::InvalidInput {
            what: "username",
            reason: "expected 1-64 ASCII characters",
        });
    }
    Ok(())
}

/// Refuses an empty value or one longer than `max` bytes.
pub(crate) fn bounded(what: &'static str, value: &str, max: usize) -> Result<(), StoreError> {
    if value.is_empty() || value.len() > max {
        return Err(StoreError::InvalidInput {
            what,
            reason: "empty or too long",
        });
    }
    Ok(())
}

/// A certificate serial as stored: lowercase hex, 1-64 digits.
pub(crate) fn check_serial(serial: &str) -> Result<String, StoreError> {
    if serial.is_empty() || serial.len() > 64 || !serial.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(StoreError::InvalidInput {
            what: "certificate serial",
            reason: "expected 1-64 hex digits",
        });
    }
    Ok(serial.to_ascii_lowercase())
}

/// `value` cut to at most `max` bytes on a character boundary (audit rows are never refused).
pub(crate) fn clip(value: &str, max: usize) -> &str {
    if value.len() <= max {
        return value;
    }
    let mut end = max;
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    &value[..end]
}

/// `NotFound { what }` unless a row was affected.
pub(crate) fn found(rows_affected: u64, what: &'static str) -> Result<(), StoreError> {
    if rows_affected == 0 {
        Err(StoreError::NotFound { what })
    } else {
        Ok(())
    }
}

/// A SQL `COUNT(*)` as u64.
pub(crate) fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;

    #[test]
    fn clip_respects_char_boundaries() {
        assert_eq!(clip("abc", 5), "abc");
        assert_eq!(clip("abcdef", 3), "abc");
        assert_eq!(clip("a\u{e9}b", 2), "a");
    }

    #[test]
    fn serials_are_lowercase_hex() {
        assert_eq!(check_serial("0A1b").ok().as_deref(), Some("0a1b"));
        assert!(check_serial("xyz").is_err());
        assert!(check_serial("").is_err());
    }
}
