//! certd-acme against real peers: certd's own DNS server (crate certd-dns) on a loopback
//! port, and Pebble validating DNS-01 against it. The one scripted CA (a 429 rate limit)
//! is a unit test in `src/rate_limit_tests.rs`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    clippy::print_stderr
)]

mod account;
mod failures;
mod harness;
mod issue;
mod resume;
mod revoke;
