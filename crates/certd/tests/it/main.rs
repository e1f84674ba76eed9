//! Integration tests of aws-sso-certd: the JSON API in-process over a real SQLite store,
//! and the live DNS zone it keeps in step.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod api;
mod browser;
mod dump;
mod flood;
mod foreign;
mod harness;
mod hostile;
mod https;
mod issue;
mod process;
mod recovery;
mod signed;
mod web;
