//! [`MailError`]: every way configuring or sending a mail can fail, one variant per cause.
//!
//! No variant carries the message body (it holds single-use links), the SMTP password, or
//! the server's reply text (a server may quote what it was sent): only addresses, the
//! server's name, reply codes, and the local reason a connection failed.

use std::path::PathBuf;

/// Why a mail could not be configured or sent.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// An address is not a mailbox (`from` of `[mail]`, or the recipient of a message).
    #[error("{field} is not a valid email address")]
    BadAddress {
        /// `"from"` or `"to"`.
        field: &'static str,
    },

    /// A message's subject contains a line break or another control character.
    #[error("the subject contains a control character")]
    BadSubject,

    /// The `[mail]` settings contradict each other or lack a value.
    #[error("invalid [mail] settings: {0}")]
    Config(String),

    /// The SMTP password file could not be read (the error never quotes its contents).
    #[error("cannot read the SMTP password file {path}: {source}")]
    PasswordFile {
        /// The file, as resolved against the config's directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },

    /// TLS could not be set up for the server (no usable root certificates, say).
    #[error("cannot set up TLS for the SMTP server {host}: {reason}")]
    TlsSetup {
        /// The server name.
        host: String,
        /// What failed.
        reason: String,
    },

    /// lettre refused to assemble the message (a header it cannot encode).
    #[error("cannot build the mail: {reason}")]
    Build {
        /// lettre's reason (names a header, never quotes the body).
        reason: String,
    },

    /// The TCP connection or the TLS handshake with the server failed (refused,
    /// unreachable, certificate not trusted).
    #[error("cannot connect to the SMTP server {host}:{port}: {reason}")]
    Connect {
        /// The server name.
        host: String,
        /// The server port.
        port: u16,
        /// The system's or rustls's reason.
        reason: String,
    },

    /// The connection broke during the SMTP exchange.
    #[error("the connection to the SMTP server {host}:{port} broke: {reason}")]
    Network {
        /// The server name.
        host: String,
        /// The server port.
        port: u16,
        /// The system's reason.
        reason: String,
    },

    /// The server did not answer within `smtp_timeout_secs`.
    #[error("the SMTP server {host}:{port} did not answer in time")]
    Timeout {
        /// The server name.
        host: String,
        /// The server port.
        port: u16,
    },

    /// `smtp_tls = "starttls"` requires STARTTLS and the server does not offer it.
    #[error(
        "the SMTP server {host}:{port} does not offer STARTTLS, which smtp_tls = \"starttls\" \
         requires (use \"tls\" for implicit TLS, usually port 465)"
    )]
    StartTlsUnavailable {
        /// The server name.
        host: String,
        /// The server port.
        port: u16,
    },

    /// TLS failed after the handshake.
    #[error("TLS with the SMTP server {host}:{port} failed")]
    Tls {
        /// The server name.
        host: String,
        /// The server port.
        port: u16,
    },

    /// The server refused a command: 4xx (try again later) or 5xx (permanent), e.g. 535
    /// for bad credentials or 550 for an unknown recipient.
    #[error("the SMTP server {host}:{port} refused the mail with reply code {code}")]
    Rejected {
        /// The server name.
        host: String,
        /// The server port.
        port: u16,
        /// The SMTP reply code.
        code: u16,
    },

    /// The exchange went wrong on the protocol level (an unparsable reply, no common
    /// authentication mechanism, 8-bit content the server cannot take).
    #[error("SMTP with {host}:{port} failed: {reason}")]
    Protocol {
        /// The server name.
        host: String,
        /// The server port.
        port: u16,
        /// lettre's description of the step that failed.
        reason: String,
    },

    /// The log transport could not write to stderr.
    #[error("cannot write the mail to stderr: {0}")]
    Log(#[source] std::io::Error),
}

impl MailError {
    /// True when sending again later may succeed (a 4xx reply, a timeout, a connection
    /// problem); false for configuration, address and permanent (5xx) errors.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Rejected { code, .. } => (400..500).contains(code),
            Self::Connect { .. } | Self::Network { .. } | Self::Timeout { .. } => true,
            _ => false,
        }
    }
}
