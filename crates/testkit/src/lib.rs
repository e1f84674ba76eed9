//! Test harness shared by every crate's tests: free ports, process guards, a test CA,
//! temporary user homes, and runners for the real AWS SDKs (botocore, awscli, aws-config).
//! It owns no product logic and is never a dependency of a shipped crate.

// A test-only crate: failing loudly (unwrap/expect/panic) and printing are what a harness does.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    clippy::print_stderr
)]

pub mod browser;
pub mod ca;
pub mod home;
pub mod hostile;
pub mod paths;
pub mod pebble;
pub mod ports;
pub mod postgres;
pub mod process;
pub mod sdk;
pub mod smtp;
pub mod venv;

pub use ca::{Issued, IssuedFiles, KeyKind, TestCa, to_pkcs1_pem, to_sec1_pem};
pub use home::{TempHome, random_creds};
pub use paths::{artifacts_dir, target_profile_dir, workspace_root};
pub use ports::{free_port, wait_for_port};
pub use process::ChildGuard;
pub use sdk::{aws_cli, python_sdk_fetch, rust_sdk_fetch, rust_sdk_probe_path};
pub use venv::{require_venv, trust_ca_for_botocore};
