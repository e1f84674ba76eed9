//! The name → secret map held by the file and json backends, and its JSON encoding
//! (`{"name": "value", ...}`). Owns zeroization of plaintext buffers, not file I/O.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroizing;

use crate::StoreError;

/// Secrets by item name; values are zeroized on drop by `SecretString`.
#[derive(Debug, Default, Clone)]
pub(crate) struct SecretMap(HashMap<String, SecretString>);

impl SecretMap {
    pub(crate) fn get(&self, name: &str) -> Option<SecretString> {
        self.0.get(name).cloned()
    }

    pub(crate) fn insert(&mut self, name: &str, value: &SecretString) {
        self.0.insert(name.to_owned(), value.clone());
    }

    pub(crate) fn remove(&mut self, name: &str) -> bool {
        self.0.remove(name).is_some()
    }

    /// Parse plaintext JSON. Errors describe the position, never the contents.
    pub(crate) fn decode(path: &Path, bytes: &[u8]) -> Result<Self, StoreError> {
        let parsed: HashMap<String, String> =
            serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt {
                path: path.to_path_buf(),
                reason: format!(
                    "not a JSON map of strings ({:?} error at line {}, column {})",
                    e.classify(),
                    e.line(),
                    e.column()
                ),
            })?;
        Ok(Self(
            parsed
                .into_iter()
                .map(|(k, v)| (k, SecretString::from(v)))
                .collect(),
        ))
    }

    /// Encode as JSON (sorted by name) into a buffer that is zeroized on drop.
    pub(crate) fn encode(&self) -> Result<Zeroizing<Vec<u8>>, serde_json::Error> {
        let sorted: BTreeMap<&str, &str> = self
            .0
            .iter()
            .map(|(k, v)| (k.as_str(), v.expose_secret()))
            .collect();
        // Worst case JSON escaping is 6 bytes per input byte; reserving that up front means
        // the buffer never reallocates and so never leaves an unzeroized copy behind.
        let capacity = 2 + sorted
            .iter()
            .map(|(k, v)| 6 * (k.len() + v.len()) + 6)
            .sum::<usize>();
        let mut out = Zeroizing::new(Vec::with_capacity(capacity));
        serde_json::to_writer(&mut *out, &sorted)?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn encode_decode_round_trip_with_escapes() {
        let mut map = SecretMap::default();
        map.insert("b", &SecretString::from("line\nquote\"\u{1}é"));
        map.insert("a", &SecretString::from(""));
        let bytes = map.encode().unwrap();
        assert!(bytes.capacity() >= bytes.len());
        assert!(bytes.starts_with(b"{\"a\":\"\",\"b\":"));
        let back = SecretMap::decode(Path::new("x"), &bytes).unwrap();
        assert_eq!(
            back.get("b").unwrap().expose_secret(),
            "line\nquote\"\u{1}é"
        );
        assert_eq!(back.get("a").unwrap().expose_secret(), "");
        assert!(back.get("c").is_none());
    }

    #[test]
    fn decode_error_does_not_echo_contents() {
        let err = SecretMap::decode(Path::new("p"), b"\"hunter2-secret\"").unwrap_err();
        let msg = format!("{err} {err:?}");
        assert!(matches!(err, StoreError::Corrupt { .. }));
        assert!(!msg.contains("hunter2"), "{msg}");
    }

    #[test]
    fn debug_redacts_values() {
        let mut map = SecretMap::default();
        map.insert("k", &SecretString::from("hunter2"));
        assert!(!format!("{map:?}").contains("hunter2"));
    }
}
