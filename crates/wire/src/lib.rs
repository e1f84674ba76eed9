//! JSON types shared by the `aws-sso` CLI, its ECS credential server and `aws-sso-certd`.
//!
//! This crate owns shapes and their validation only: it performs no IO and pulls in no
//! web framework, so every side of a conversation agrees on the same bytes.

pub mod ecs;
mod secret;
pub mod signature;

pub use secret::{ExposeSecret, SecretString};
