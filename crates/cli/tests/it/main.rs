//! Integration tests of the aws-sso binary: real processes, real AWS SDKs as clients.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod capture;
mod cert;
mod docker;
mod failover;
mod harness;
mod hostile;
mod netns;
mod poison;
mod profiles;
mod remote;
mod sdk;
mod secret_logs;
mod service_tls;
mod setup;
mod squat;
