//! Integration tests for `securestore`: one binary, one module per topic.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod conformance;
mod file;
mod json;
mod keyring;
mod open;

/// Fast scrypt work factor for tests (age's default takes seconds).
pub const TEST_WORK_FACTOR: u8 = 10;
