//! The insecure [`JsonStore`]: secrets in clear text in `<dir>/secure-store.json`, still
//! 0600 and written atomically. Only ever used when chosen explicitly; owns the warning.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};

use secrecy::SecretString;

use crate::atomic::{read_private, write_private};
use crate::map::SecretMap;
use crate::{SecureStore, StoreError, validate_name};

/// File name of the json store inside its directory.
pub const JSON_FILE_NAME: &str = "secure-store.json";

/// Plaintext JSON map `{"name": "value"}`. Re-read on every operation, so it is never
/// stale; a mutex serialises read-modify-write within this process.
pub struct JsonStore {
    path: PathBuf,
    write_lock: Mutex<()>,
}

impl JsonStore {
    /// Open (lazily) `<dir>/secure-store.json`, logging a warning that it is insecure.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        let path = dir.into().join(JSON_FILE_NAME);
        tracing::warn!(
            store.path = %path.display(),
            "insecure json secure store in use: secrets are stored in clear text; \
             use `SecureStore: file` or `keyring` instead"
        );
        Self {
            path,
            write_lock: Mutex::new(()),
        }
    }

    /// The file this store reads and writes.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn lock(&self) -> MutexGuard<'_, ()> {
        self.write_lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn load(&self) -> Result<SecretMap, StoreError> {
        match read_private(&self.path)? {
            Some(bytes) => SecretMap::decode(&self.path, &bytes),
            None => Ok(SecretMap::default()),
        }
    }

    fn save(&self, map: &SecretMap) -> Result<(), StoreError> {
        let bytes = map.encode().map_err(|e| StoreError::Encrypt {
            path: self.path.clone(),
            reason: format!("JSON encoding failed: {e}"),
        })?;
        write_private(&self.path, &bytes)
    }
}

impl fmt::Debug for JsonStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JsonStore")
            .field("path", &self.path)
            .finish()
    }
}

impl SecureStore for JsonStore {
    fn get(&self, name: &str) -> Result<Option<SecretString>, StoreError> {
        validate_name(name)?;
        let _guard = self.lock();
        Ok(self.load()?.get(name))
    }

    fn set(&self, name: &str, value: &SecretString) -> Result<(), StoreError> {
        validate_name(name)?;
        let _guard = self.lock();
        let mut map = self.load()?;
        map.insert(name, value);
        self.save(&map)
    }

    fn set_many(&self, items: &[(&str, &SecretString)]) -> Result<(), StoreError> {
        for (name, _) in items {
            validate_name(name)?;
        }
        let _guard = self.lock();
        let mut map = self.load()?;
        for (name, value) in items {
            map.insert(name, value);
        }
        self.save(&map)
    }

    fn delete(&self, name: &str) -> Result<bool, StoreError> {
        validate_name(name)?;
        let _guard = self.lock();
        let mut map = self.load()?;
        if !map.remove(name) {
            return Ok(false);
        }
        self.save(&map)?;
        Ok(true)
    }

    fn describe(&self) -> String {
        format!("json {} (insecure)", self.path.display())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::os::unix::fs::PermissionsExt;

    use secrecy::ExposeSecret;

    use super::*;

    #[test]
    fn round_trip_file_is_0600_and_corrupt_is_reported() {
        let tmp = tempfile::tempdir().unwrap();
        let store = JsonStore::new(tmp.path());
        store
            .set("ecs-bearer-token", &SecretString::from("tok"))
            .unwrap();
        assert_eq!(
            store
                .get("ecs-bearer-token")
                .unwrap()
                .unwrap()
                .expose_secret(),
            "tok"
        );
        let mode = std::fs::metadata(store.path())
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(
            format!("{store:?}"),
            format!("JsonStore {{ path: {:?} }}", store.path())
        );

        std::fs::write(store.path(), b"{\"a\": 1}").unwrap();
        assert!(matches!(store.get("a"), Err(StoreError::Corrupt { .. })));
        assert!(matches!(
            store.set("a", &SecretString::from("x")),
            Err(StoreError::Corrupt { .. })
        ));
        assert_eq!(std::fs::read(store.path()).unwrap(), b"{\"a\": 1}");
    }
}
