//! What the server holds: the default credentials, the slotted ones, the expected token,
//! and the clock. Shared between connections behind one lock.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use time::OffsetDateTime;
use wire::ecs::Credentials;

use crate::BearerToken;

/// Where the server reads the time: a parameter so expiry is testable.
pub type Clock = Arc<dyn Fn() -> OffsetDateTime + Send + Sync>;

/// The real clock.
pub fn system_clock() -> Clock {
    Arc::new(OffsetDateTime::now_utc)
}

#[derive(Default)]
pub(crate) struct Slots {
    pub(crate) default: Option<(String, Credentials)>,
    pub(crate) slots: BTreeMap<String, Credentials>,
}

/// The server's state, cheap to clone.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    slots: RwLock<Slots>,
    token: Option<BearerToken>,
    clock: Clock,
    cert_not_after: Option<OffsetDateTime>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("auth", &self.inner.token.is_some())
            .field("cert_not_after", &self.inner.cert_not_after)
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// A server that requires `token` (or nothing, with `None`), reads time from `clock`,
    /// and reports its certificate expired after `cert_not_after`.
    pub fn new(
        token: Option<BearerToken>,
        clock: Clock,
        cert_not_after: Option<OffsetDateTime>,
    ) -> Self {
        AppState {
            inner: Arc::new(Inner {
                slots: RwLock::new(Slots::default()),
                token,
                clock,
                cert_not_after,
            }),
        }
    }

    pub(crate) fn token(&self) -> Option<&BearerToken> {
        self.inner.token.as_ref()
    }

    pub(crate) fn now(&self) -> OffsetDateTime {
        (self.inner.clock)()
    }

    pub(crate) fn cert_expired(&self) -> bool {
        self.inner.cert_not_after.is_some_and(|na| self.now() > na)
    }

    pub(crate) fn read(&self) -> RwLockReadGuard<'_, Slots> {
        // A panic while holding the lock cannot leave `Slots` half-updated: every write
        // is a single insert or remove. Recover the guard instead of propagating poison.
        self.inner
            .slots
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn write(&self) -> RwLockWriteGuard<'_, Slots> {
        self.inner
            .slots
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
