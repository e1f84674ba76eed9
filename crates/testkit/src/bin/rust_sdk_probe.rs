//! `rust-sdk-probe`: a real AWS SDK for Rust client. It resolves credentials with
//! `aws-config`'s default chain (so it reads AWS_CONTAINER_CREDENTIALS_FULL_URI and
//! AWS_CONTAINER_AUTHORIZATION_TOKEN[_FILE] like any SDK user; HTTPS trust honours
//! SSL_CERT_FILE) and prints them as one JSON line. Errors go to stderr with their chain.

use std::process::ExitCode;

use anyhow::Context as _;
use aws_config::BehaviorVersion;
use aws_credential_types::provider::ProvideCredentials as _;
use time::format_description::well_known::Rfc3339;

#[tokio::main(flavor = "current_thread")]
#[expect(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "the JSON line is this tool's output; errors are printed once, with their chain"
)]
async fn main() -> ExitCode {
    match run().await {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("rust-sdk-probe: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> anyhow::Result<String> {
    let config = aws_config::defaults(BehaviorVersion::latest()).load().await;
    let provider = config
        .credentials_provider()
        .context("aws-config configured no credentials provider")?;
    let creds = provider
        .provide_credentials()
        .await
        .context("the default credentials chain failed")?;
    let expiration = creds
        .expiry()
        .map(|t| time::OffsetDateTime::from(t).format(&Rfc3339))
        .transpose()
        .context("formatting the expiration")?;
    Ok(serde_json::json!({
        "AccessKeyId": creds.access_key_id(),
        "SecretAccessKey": creds.secret_access_key(),
        "SessionToken": creds.session_token(),
        "Expiration": expiration,
    })
    .to_string())
}
