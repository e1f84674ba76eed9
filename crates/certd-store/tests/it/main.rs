//! Integration tests for `certd-store`: one binary. `conformance` runs every behaviour on
//! SQLite (temp file) and on a real PostgreSQL server started by `testkit::postgres`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod backend;
mod conformance;
