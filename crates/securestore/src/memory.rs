//! The in-process [`MemoryStore`]: a map behind a mutex, forgotten on exit. For tests and
//! one-shot runs; owns no persistence.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Mutex, MutexGuard, PoisonError};

use secrecy::SecretString;

use crate::{SecureStore, StoreError, validate_name};

/// Secrets held only in this process's memory (zeroized on drop).
#[derive(Default)]
pub struct MemoryStore {
    items: Mutex<HashMap<String, SecretString>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn items(&self) -> MutexGuard<'_, HashMap<String, SecretString>> {
        // Every update is a single map operation, so a poisoned map is still consistent.
        self.items.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryStore")
            .field("items", &self.items().len())
            .finish()
    }
}

impl SecureStore for MemoryStore {
    fn get(&self, name: &str) -> Result<Option<SecretString>, StoreError> {
        validate_name(name)?;
        Ok(self.items().get(name).cloned())
    }

    fn set(&self, name: &str, value: &SecretString) -> Result<(), StoreError> {
        validate_name(name)?;
        self.items().insert(name.to_owned(), value.clone());
        Ok(())
    }

    fn set_many(&self, items: &[(&str, &SecretString)]) -> Result<(), StoreError> {
        for (name, _) in items {
            validate_name(name)?;
        }
        let mut map = self.items();
        for (name, value) in items {
            map.insert((*name).to_owned(), (*value).clone());
        }
        Ok(())
    }

    fn delete(&self, name: &str) -> Result<bool, StoreError> {
        validate_name(name)?;
        Ok(self.items().remove(name).is_some())
    }

    fn describe(&self) -> String {
        "memory".to_owned()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use secrecy::ExposeSecret;

    use super::*;

    #[test]
    fn round_trip_and_debug_hides_values() {
        let store = MemoryStore::new();
        assert!(store.get("k").unwrap().is_none());
        store.set("k", &SecretString::from("hunter2")).unwrap();
        assert_eq!(store.get("k").unwrap().unwrap().expose_secret(), "hunter2");
        assert_eq!(format!("{store:?}"), "MemoryStore { items: 1 }");
        assert!(store.delete("k").unwrap());
        assert!(!store.delete("k").unwrap());
        assert!(matches!(
            store.get("bad name"),
            Err(StoreError::InvalidName { .. })
        ));
    }
}
