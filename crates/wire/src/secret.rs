//! The secret string type every crate uses for tokens, keys and credentials.
//!
//! `secrecy::SecretString` redacts itself in `Debug`, has no `Display`, and zeroizes on
//! drop; reaching the value takes an explicit `expose_secret()`.

pub use secrecy::{ExposeSecret, SecretString};
