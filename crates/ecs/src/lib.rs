//! The local ECS credential server of `aws-sso` and its typed client.
//!
//! The server speaks the aws-sso-cli ECS API (`/`, `/profile`, `/slot`, `/slot/<profile>`,
//! `/healthcheck`) over HTTP or HTTPS with a bearer token; SDKs read it through
//! `AWS_CONTAINER_CREDENTIALS_FULL_URI`. The client is what `aws-sso ecs load|unload|list`
//! use. Storage of secrets and resolving AWS profiles belong to other crates.

mod auth;
mod client;
mod error;
mod routes;
mod serve;
mod state;
mod tls;

pub use auth::BearerToken;
pub use client::{ClientError, EcsClient, path_for};
pub use error::ApiError;
pub use routes::router;
pub use serve::{ServeOptions, serve, serve_threads};
pub use state::{AppState, Clock, system_clock};
pub use tls::{TlsError, client_config_pinned, server_config};

/// The port aws-sso-cli's ECS server uses by default.
pub const DEFAULT_PORT: u16 = 4144;

/// The largest request body the server reads.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
