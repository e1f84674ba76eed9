//! `Label`: one validated hostname label under the zone (`[a-z0-9-]`, 1-63 characters, no
//! leading or trailing hyphen, stored lowercase). It does not know which labels are
//! reserved by the service's policy; only the zone's own nameserver names are refused, by
//! [`crate::ZoneState::register`].

use std::fmt;

/// The longest DNS label (RFC 1035 §2.3.4).
pub const MAX_LABEL_LEN: usize = 63;

/// Why a string is not a valid hostname label.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LabelError {
    /// The label is empty.
    #[error("the label is empty")]
    Empty,
    /// The label is longer than 63 characters.
    #[error("the label has {len} characters; at most {MAX_LABEL_LEN} are allowed")]
    TooLong {
        /// Its length in bytes.
        len: usize,
    },
    /// The label holds a character outside `[a-z0-9-]` (any case).
    #[error("the label has {ch:?} at position {position}; only a-z, 0-9 and '-' are allowed")]
    InvalidChar {
        /// The offending character.
        ch: char,
        /// Its position (in characters, from 0).
        position: usize,
    },
    /// The label starts with a hyphen.
    #[error("the label starts with a hyphen")]
    LeadingHyphen,
    /// The label ends with a hyphen.
    #[error("the label ends with a hyphen")]
    TrailingHyphen,
}

/// A hostname label under the zone, validated and lowercase.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Label(Box<str>);

impl Label {
    /// Validates `s` (case-insensitively) and returns it lowercase.
    pub fn parse(s: &str) -> Result<Label, LabelError> {
        if s.is_empty() {
            return Err(LabelError::Empty);
        }
        if let Some((position, ch)) = s
            .chars()
            .enumerate()
            .find(|(_, c)| !(c.is_ascii_alphanumeric() || *c == '-'))
        {
            return Err(LabelError::InvalidChar { ch, position });
        }
        // Only ASCII is left, so bytes are characters from here on.
        if s.len() > MAX_LABEL_LEN {
            return Err(LabelError::TooLong { len: s.len() });
        }
        if s.starts_with('-') {
            return Err(LabelError::LeadingHyphen);
        }
        if s.ends_with('-') {
            return Err(LabelError::TrailingHyphen);
        }
        Ok(Label(s.to_ascii_lowercase().into_boxed_str()))
    }

    /// The label, lowercase.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub(crate) fn into_boxed_bytes(self) -> Box<[u8]> {
        self.0.into_boxed_bytes()
    }
}

impl fmt::Display for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for Label {
    type Err = LabelError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Label::parse(s)
    }
}

/// Lowercases a wire-format label into `buf` if it could be a valid label; the hot path of
/// every query, so it allocates nothing. Anything else (too long, other bytes) is `None`:
/// such a name cannot be registered.
pub(crate) fn lower_wire_label<'b>(
    wire: &[u8],
    buf: &'b mut [u8; MAX_LABEL_LEN],
) -> Option<&'b [u8]> {
    if wire.is_empty() || wire.len() > MAX_LABEL_LEN {
        return None;
    }
    for (dst, &b) in buf.iter_mut().zip(wire) {
        if !(b.is_ascii_alphanumeric() || b == b'-') {
            return None;
        }
        *dst = b.to_ascii_lowercase();
    }
    Some(&buf[..wire.len()])
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn valid_labels_are_lowercased() {
        assert_eq!(Label::parse("Alice-01").unwrap().as_str(), "alice-01");
        assert_eq!(Label::parse("a").unwrap().as_str(), "a");
        assert_eq!(Label::parse("0").unwrap().as_str(), "0");
        assert_eq!(Label::parse("a--b").unwrap().as_str(), "a--b");
        let max = "x".repeat(63);
        assert_eq!(Label::parse(&max).unwrap().as_str(), max);
    }

    #[test]
    fn invalid_labels_say_why() {
        assert_eq!(Label::parse(""), Err(LabelError::Empty));
        assert_eq!(
            Label::parse(&"x".repeat(64)),
            Err(LabelError::TooLong { len: 64 })
        );
        assert_eq!(Label::parse("-a"), Err(LabelError::LeadingHyphen));
        assert_eq!(Label::parse("a-"), Err(LabelError::TrailingHyphen));
        assert_eq!(
            Label::parse("a.b"),
            Err(LabelError::InvalidChar {
                ch: '.',
                position: 1
            })
        );
        assert_eq!(
            Label::parse("_acme-challenge"),
            Err(LabelError::InvalidChar {
                ch: '_',
                position: 0
            })
        );
        assert_eq!(
            Label::parse("é"),
            Err(LabelError::InvalidChar {
                ch: 'é',
                position: 0
            })
        );
        assert!(matches!(
            Label::parse("a b"),
            Err(LabelError::InvalidChar { ch: ' ', .. })
        ));
        assert!(matches!(
            Label::parse("*"),
            Err(LabelError::InvalidChar { ch: '*', .. })
        ));
    }

    #[test]
    fn wire_labels_are_lowercased_without_allocating() {
        let mut buf = [0; MAX_LABEL_LEN];
        assert_eq!(lower_wire_label(b"HoSt-1", &mut buf), Some(&b"host-1"[..]));
        assert_eq!(lower_wire_label(b"a_b", &mut buf), None);
        assert_eq!(lower_wire_label(b"", &mut buf), None);
        assert_eq!(lower_wire_label(&[b'a'; 64], &mut buf), None);
    }
}
