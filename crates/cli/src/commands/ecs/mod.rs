//! `aws-sso ecs ...`: the ECS credential server and the commands that talk to it.

pub mod docker;
pub mod env;
pub mod list;
pub mod load;
pub mod server;
pub mod ssh;
pub mod unload;

use anyhow::Context;
use secrecy::ExposeSecret;
use securestore::SecureStore;

use crate::items;

/// A client of the server at `server` (host:port or a URL), speaking HTTPS and trusting
/// the stored certificate when one is stored, and sending the stored bearer token.
pub(crate) fn client_for(store: &dyn SecureStore, server: &str) -> anyhow::Result<ecs::EcsClient> {
    let pinned = match store.get(items::ECS_SSL_CERT)? {
        Some(pem) => {
            let chain = pki::parse_cert_chain(pem.expose_secret())
                .context("the stored certificate is unusable")?;
            chain.into_iter().next()
        }
        None => None,
    };
    let url = if server.contains("://") {
        server.to_owned()
    } else if pinned.is_some() {
        format!("https://{server}")
    } else {
        format!("http://{server}")
    };
    let auth = items::bearer_token(store)?.map(|t| t.header_value().clone());
    Ok(ecs::EcsClient::new(&url, auth, pinned)?)
}
