//! Integration tests of the aws-sso binary: real processes, real AWS SDKs as clients.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod cert;
mod docker;
mod harness;
mod profiles;
mod remote;
mod sdk;
mod service_tls;
mod setup;
