//! Rate limits: fixed windows counted per key (client address, account, device), in
//! memory. Time is a parameter so tests move it by hand.

use std::collections::HashMap;
use std::sync::Mutex;

use time::OffsetDateTime;

use crate::error::ApiError;

/// One limit: at most `max` events per `window`.
#[derive(Debug, Clone, Copy)]
pub struct Limit {
    /// Events allowed per window.
    pub max: u32,
    /// The window.
    pub window: time::Duration,
}

/// Counters for one limit.
#[derive(Debug)]
pub struct Limiter {
    limit: Limit,
    counts: Mutex<HashMap<String, (OffsetDateTime, u32)>>,
}

impl Limiter {
    /// A limiter enforcing `limit`.
    pub fn new(limit: Limit) -> Self {
        Limiter {
            limit,
            counts: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one event for `key` at `now`; refuses with the seconds until the window
    /// ends when the key is over its limit.
    pub fn hit(&self, key: &str, now: OffsetDateTime) -> Result<(), ApiError> {
        let mut counts = self
            .counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if counts.len() > 100_000 {
            counts.retain(|_, (start, _)| now - *start < self.limit.window);
        }
        let entry = counts.entry(key.to_owned()).or_insert((now, 0));
        if now - entry.0 >= self.limit.window {
            *entry = (now, 0);
        }
        if entry.1 >= self.limit.max {
            let left = (entry.0 + self.limit.window - now).whole_seconds().max(1);
            return Err(ApiError::RateLimited {
                retry_after: u64::try_from(left).unwrap_or(1),
            });
        }
        entry.1 += 1;
        Ok(())
    }

    /// Gives back one event [`Limiter::hit`] counted for `key`: a slot taken up front for
    /// an attempt that turned out not to count (a login, or the account page's
    /// current-password check, whose password was right).
    pub fn refund(&self, key: &str) {
        let mut counts = self
            .counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(entry) = counts.get_mut(key) {
            entry.1 = entry.1.saturating_sub(1);
        }
    }

    /// Forgets `key` (a successful login clears its failures).
    pub fn reset(&self, key: &str) {
        self.counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(key);
    }
}

/// The limits certd enforces.
#[derive(Debug)]
pub struct Limits {
    /// Account creation per client address.
    pub signup_per_addr: Limiter,
    /// Login attempts per client address.
    pub login_per_addr: Limiter,
    /// Failed logins per account, from anywhere.
    pub login_failures_per_account: Limiter,
    /// Failed logins per account from one client address.
    pub login_failures_per_account_addr: Limiter,
    /// Password-reset requests per client address.
    pub reset_per_addr: Limiter,
    /// Enrollment attempts per client address.
    pub enroll_per_addr: Limiter,
    /// Signed requests per device.
    pub signing_per_device: Limiter,
    /// Signed requests per client address.
    pub signing_per_addr: Limiter,
    /// Certificate requests per account.
    pub signing_per_account: Limiter,
}

impl Default for Limits {
    fn default() -> Self {
        let per = |max, minutes| {
            Limiter::new(Limit {
                max,
                window: time::Duration::minutes(minutes),
            })
        };
        Limits {
            signup_per_addr: per(5, 60),
            login_per_addr: per(30, 15),
            login_failures_per_account: per(50, 15),
            login_failures_per_account_addr: per(10, 15),
            reset_per_addr: per(10, 60),
            enroll_per_addr: per(20, 60),
            signing_per_device: per(30, 60),
            signing_per_addr: per(60, 60),
            signing_per_account: per(10, 60),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use time::macros::datetime;

    #[test]
    fn windows_limit_and_reset() {
        let l = Limiter::new(Limit {
            max: 2,
            window: time::Duration::minutes(1),
        });
        let t = datetime!(2026-01-01 0:00 UTC);
        l.hit("a", t).unwrap();
        l.hit("a", t).unwrap();
        assert!(matches!(
            l.hit("a", t + time::Duration::seconds(10)),
            Err(ApiError::RateLimited { retry_after: 50 })
        ));
        l.hit("b", t).unwrap();
        l.hit("a", t + time::Duration::minutes(1)).unwrap();
        l.reset("a");
        l.hit("a", t + time::Duration::minutes(1)).unwrap();
    }

    #[test]
    fn a_refunded_slot_can_be_taken_again() {
        let l = Limiter::new(Limit {
            max: 1,
            window: time::Duration::minutes(1),
        });
        let t = datetime!(2026-01-01 0:00 UTC);
        l.hit("a", t).unwrap();
        assert!(l.hit("a", t).is_err());
        l.refund("a");
        l.hit("a", t).unwrap();
        l.refund("nobody");
        l.refund("a");
        l.refund("a");
        l.hit("a", t).unwrap();
        assert!(l.hit("a", t).is_err(), "a refund never goes below zero");
    }
}
