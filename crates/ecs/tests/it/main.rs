//! Integration tests of the ECS server: the API in-process, and TLS over real sockets.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod api;
mod net;

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use secrecy::SecretString;
use time::OffsetDateTime;

pub const TOKEN: &str = "0123456789abcdef0123456789abcdef";

/// A clock the test moves by hand.
#[derive(Clone, Debug)]
pub struct TestClock(Arc<AtomicI64>);

impl Default for TestClock {
    fn default() -> Self {
        Self::new()
    }
}

impl TestClock {
    pub fn new() -> Self {
        TestClock(Arc::new(AtomicI64::new(1_800_000_000)))
    }

    pub fn now(&self) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(self.0.load(Ordering::SeqCst)).unwrap()
    }
    pub fn advance(&self, secs: i64) {
        self.0.fetch_add(secs, Ordering::SeqCst);
    }
    pub fn clock(&self) -> ecs::Clock {
        let c = self.0.clone();
        Arc::new(move || OffsetDateTime::from_unix_timestamp(c.load(Ordering::SeqCst)).unwrap())
    }
}

pub fn token() -> ecs::BearerToken {
    ecs::BearerToken::new(&SecretString::from(TOKEN.to_owned())).unwrap()
}

/// A load body for `profile`, valid for `secs` from `now`.
pub fn load_body(profile: &str, akid: &str, now: OffsetDateTime, secs: i64) -> String {
    let exp = (now.unix_timestamp() + secs) * 1000;
    format!(
        r#"{{"ProfileName":"{profile}","Creds":{{"roleName":"Dev","accountId":42,"accessKeyId":"{akid}","secretAccessKey":"secret-{akid}","sessionToken":"token-{akid}","expiration":{exp}}}}}"#
    )
}
