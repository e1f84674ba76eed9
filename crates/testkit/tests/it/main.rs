//! testkit's integration tests: the SDK runners against real peers (the venv's botocore
//! and awscli, the `rust-sdk-probe` binary, `openssl s_server` for HTTPS).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

mod browser;
mod sdk_runners;
