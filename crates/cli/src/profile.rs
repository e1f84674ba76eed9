//! Resolving an AWS profile's credentials through the AWS SDK for Rust: static keys,
//! `credential_process`, assume-role chains and SSO sessions cached by `aws sso login`,
//! read from the standard shared config and credentials files.

use anyhow::Context;
use aws_credential_types::provider::ProvideCredentials;
use secrecy::SecretString;
use wire::ecs::{LoadRequest, RoleCredentials};

/// Resolves `profile` and returns the body that loads its credentials into the server.
pub async fn resolve(profile: &str) -> anyhow::Result<LoadRequest> {
    // The profile's region (or AWS_REGION / AWS_DEFAULT_REGION) signs the STS and SSO
    // calls of the chain. Instance metadata is not asked: this runs on a developer's
    // machine. STS is global, so us-east-1 stands in when nothing names one.
    use aws_config::meta::region::RegionProviderChain;
    let chain = RegionProviderChain::first_try(
        aws_config::environment::region::EnvironmentVariableRegionProvider::new(),
    )
    .or_else(
        aws_config::profile::ProfileFileRegionProvider::builder()
            .profile_name(profile)
            .build(),
    );
    let region = chain
        .region()
        .await
        .unwrap_or_else(|| aws_config::Region::from_static("us-east-1"));
    let provider_config =
        aws_config::provider_config::ProviderConfig::default().with_region(Some(region));
    let provider = aws_config::profile::ProfileFileCredentialsProvider::builder()
        .configure(&provider_config)
        .profile_name(profile)
        .build();
    let creds = provider
        .provide_credentials()
        .await
        .map_err(|e| anyhow::anyhow!(sdk_error_chain(&e)))
        .with_context(|| format!("cannot resolve credentials for AWS profile {profile:?}"))?;
    let expiration = match creds.expiry() {
        None => 0,
        Some(t) => {
            let since = t
                .duration_since(std::time::UNIX_EPOCH)
                .context("expiry before 1970")?;
            i64::try_from(since.as_millis()).context("expiry too far in the future")?
        }
    };
    let account_id = creds
        .account_id()
        .and_then(|a| a.as_str().parse::<u64>().ok())
        .unwrap_or(0);
    Ok(LoadRequest {
        profile_name: profile.to_owned(),
        creds: Some(RoleCredentials {
            role_name: String::new(),
            account_id,
            access_key_id: creds.access_key_id().to_owned(),
            secret_access_key: SecretString::from(creds.secret_access_key().to_owned()),
            session_token: SecretString::from(creds.session_token().unwrap_or_default().to_owned()),
            expiration,
            role_arn: None,
        }),
    })
}

/// The SDK's error and its sources, deduplicated (the SDK repeats itself in `source()`).
fn sdk_error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cur = Some(e);
    while let Some(err) = cur {
        let s = err.to_string();
        if !parts.iter().any(|p| p.contains(&s)) {
            parts.push(s);
        }
        cur = err.source();
    }
    parts.join(": ")
}
