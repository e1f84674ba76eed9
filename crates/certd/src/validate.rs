//! Checks of what users type: usernames, passwords, email addresses and hostname labels.
//! Each refusal says exactly what is wrong.

use secrecy::{ExposeSecret, SecretString};

/// Labels nobody may register: the service's own names and ones that invite confusion.
pub const RESERVED_LABELS: &[&str] = &[
    "www",
    "ns",
    "ns1",
    "ns2",
    "ns3",
    "ns4",
    "api",
    "mail",
    "smtp",
    "imap",
    "pop",
    "mx",
    "ftp",
    "admin",
    "root",
    "certd",
    "acme",
    "_acme-challenge",
    "autoconfig",
    "autodiscover",
    "localhost",
    "status",
    "help",
    "support",
    "security",
    "abuse",
    "postmaster",
    "hostmaster",
    "webmaster",
    "login",
    "auth",
    "static",
    "assets",
    "cdn",
    "dev-null",
    "test",
    "example",
];

/// Passwords too common to accept, checked case-insensitively (the longest-lived leaked
/// passwords of 12 characters or more, which pass the length rule).
const COMMON_PASSWORDS: &[&str] = &[
    "123456789012",
    "1234567890123",
    "12345678901234",
    "123456789000",
    "qwertyuiopas",
    "qwertyuiop123",
    "qwerty123456",
    "password1234",
    "password12345",
    "password123456",
    "passwordpassword",
    "iloveyou1234",
    "abcdefghijkl",
    "abc123456789",
    "111111111111",
    "000000000000",
    "aaaaaaaaaaaa",
    "letmein12345",
    "welcome12345",
    "administrator",
    "changeme1234",
    "trustno11234",
    "1q2w3e4r5t6y",
    "1qaz2wsx3edc",
    "zaq12wsxcde3",
    "qazwsxedcrfv",
    "football1234",
    "baseball1234",
    "superman1234",
    "princess1234",
    "sunshine1234",
    "dragon123456",
    "monkey123456",
    "master123456",
    "starwars1234",
    "correcthorsebatterystaple",
    "passw0rd1234",
    "p@ssw0rd1234",
    "p@ssword1234",
    "qwertyqwerty",
    "asdfghjkl123",
    "asdfasdfasdf",
    "zxcvbnm12345",
    "987654321098",
    "aws-sso-certd",
    "awsssocertd12",
];

/// Why an input was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum InputError {
    /// Username rules.
    #[error("username must be 3 to 32 characters of a-z, 0-9 and '-'")]
    Username,
    /// Password too short or too long.
    #[error("password must be 12 to 1024 characters")]
    PasswordLength,
    /// Password on the common list or built from the username.
    #[error("password is too common or contains the username; choose another")]
    PasswordCommon,
    /// Email syntax.
    #[error("email address is not valid")]
    Email,
    /// Hostname label rules.
    #[error(
        "hostname must be 1 to 63 characters of a-z, 0-9 and '-', not starting or ending with '-'"
    )]
    Hostname,
    /// Reserved label.
    #[error("hostname {0:?} is reserved")]
    Reserved(String),
}

/// The longest username.
pub const MAX_USERNAME: usize = 32;

/// Normalises and checks a username: lowercase `[a-z0-9-]{3,32}`.
pub fn username(s: &str) -> Result<String, InputError> {
    let u = s.trim().to_ascii_lowercase();
    let ok = (3..=MAX_USERNAME).contains(&u.len())
        && u.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok { Ok(u) } else { Err(InputError::Username) }
}

/// Checks a password against the length rule, the common list and the username.
pub fn password(pw: &SecretString, username: &str) -> Result<(), InputError> {
    let p = pw.expose_secret();
    let n = p.chars().count();
    if !(12..=1024).contains(&n) {
        return Err(InputError::PasswordLength);
    }
    let lower = p.to_lowercase();
    let one_char = p.chars().all(|c| p.starts_with(c));
    if one_char
        || COMMON_PASSWORDS.contains(&lower.as_str())
        || (username.len() >= 3 && lower.contains(username))
    {
        return Err(InputError::PasswordCommon);
    }
    Ok(())
}

/// Checks an email address's syntax: one `@`, a non-empty local part, a dotted domain of
/// valid labels, at most 254 characters, no spaces or control characters.
pub fn email(s: &str) -> Result<String, InputError> {
    let e = s.trim();
    let Some((local, domain)) = e.split_once('@') else {
        return Err(InputError::Email);
    };
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && local
            .chars()
            .all(|c| c.is_ascii_graphic() && !"@<>()[]\\,;:\"".contains(c));
    let domain_ok = domain.contains('.')
        && domain.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    if e.len() <= 254 && local_ok && domain_ok {
        Ok(e.to_owned())
    } else {
        Err(InputError::Email)
    }
}

/// Normalises and checks a hostname label.
pub fn hostname(s: &str) -> Result<String, InputError> {
    let label = certd_dns::Label::parse(s.trim()).map_err(|_| InputError::Hostname)?;
    let l = label.as_str().to_owned();
    if RESERVED_LABELS.contains(&l.as_str()) || l.starts_with("xn--") || l.starts_with('_') {
        return Err(InputError::Reserved(l));
    }
    Ok(l)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn pw(s: &str) -> SecretString {
        SecretString::from(s.to_owned())
    }

    #[test]
    fn usernames() {
        assert_eq!(username(" Alice-1 ").unwrap(), "alice-1");
        for bad in [
            "ab",
            "a".repeat(33).as_str(),
            "al ice",
            "alice_",
            "<script>",
        ] {
            assert_eq!(username(bad), Err(InputError::Username), "{bad}");
        }
    }

    #[test]
    fn passwords() {
        assert!(password(&pw("a long and unusual phrase"), "alice").is_ok());
        assert_eq!(
            password(&pw("short"), "alice"),
            Err(InputError::PasswordLength)
        );
        assert_eq!(
            password(&pw("Password1234"), "alice"),
            Err(InputError::PasswordCommon)
        );
        assert_eq!(
            password(&pw("alice-is-my-name"), "alice"),
            Err(InputError::PasswordCommon)
        );
        assert_eq!(
            password(&pw("zzzzzzzzzzzzzz"), "bob"),
            Err(InputError::PasswordCommon)
        );
    }

    #[test]
    fn emails() {
        assert_eq!(email("a.b+c@example.org").unwrap(), "a.b+c@example.org");
        for bad in [
            "",
            "a",
            "a@b",
            "a@@b.c",
            "a b@c.de",
            "a@-x.org",
            "<x>@y.org",
            "a@b..org",
        ] {
            assert_eq!(email(bad), Err(InputError::Email), "{bad}");
        }
    }

    #[test]
    fn hostnames() {
        assert_eq!(hostname("My-Laptop").unwrap(), "my-laptop");
        assert_eq!(hostname("www"), Err(InputError::Reserved("www".into())));
        assert_eq!(hostname("_acme-challenge"), Err(InputError::Hostname));
        for bad in ["", "-a", "a-", "a.b", "a b", "1.2.3.4", &"x".repeat(64)] {
            assert!(hostname(bad).is_err(), "{bad}");
        }
    }
}
