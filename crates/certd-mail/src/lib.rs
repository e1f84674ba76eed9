//! aws-sso-certd's outgoing email: the `[mail]` settings ([`MailConfig`]), and a
//! [`Mailer`] that sends plain-text [`Message`]s over SMTP (lettre, rustls on aws-lc-rs,
//! server certificates checked by the platform verifier) or, for local use, writes them to
//! stderr. It owns how a mail leaves the service; what a mail says (links, wording) and
//! when one is sent (limits) belong to the service.
//!
//! Mails carry single-use links: bodies never reach `tracing`, error values or `Debug`
//! output, and the SMTP password is read from a file and never shown.

mod config;
mod error;
mod mailer;

pub use crate::config::{MailConfig, SmtpTls, Transport, is_loopback_host};
pub use crate::error::MailError;
pub use crate::mailer::{Mailer, Message};
