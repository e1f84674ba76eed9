//! The one place that prints: results to stdout (text or JSON), errors to stderr.
#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "this module is the CLI's printer"
)]

use std::io::Write;

use crate::args::OutputMode;

/// Prints a line of text to stdout.
pub fn line(text: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{text}")
}

/// Prints a serialisable value: JSON in JSON mode, else `text`.
pub fn value<T: serde::Serialize>(mode: OutputMode, v: &T, text: &str) -> anyhow::Result<()> {
    match mode {
        OutputMode::Json => line(&serde_json::to_string_pretty(v)?)?,
        OutputMode::Text => {
            let mut out = std::io::stdout().lock();
            write!(out, "{text}")?;
        }
    }
    Ok(())
}

/// Prints a notice for people to stderr (never data).
pub fn note(text: &str) {
    eprintln!("{text}");
}

/// Prints an error with its chain of causes, once.
pub fn error(err: &anyhow::Error) {
    eprintln!("aws-sso: error: {err:#}");
}

/// Whether the error is a broken pipe on stdout (e.g. `aws-sso ... | head`).
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
