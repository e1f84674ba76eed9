//! Where the store lives: `sqlite:<path>` or a `postgres://` URL. Owns parsing and the
//! redacted form used in `Debug`, `Display` and errors; connecting is the backends' job.

use std::fmt;
use std::path::PathBuf;

use crate::StoreError;

/// A database location. `Debug` and `Display` never show a password.
pub enum Dsn {
    /// An SQLite file (created if missing).
    Sqlite(PathBuf),
    /// A PostgreSQL URL (`postgres://user:password@host:port/db?...`).
    Postgres(PgUrl),
}

impl Dsn {
    /// Parses `sqlite:<path>` / `sqlite://<path>` or `postgres://...` / `postgresql://...`.
    pub fn parse(s: &str) -> Result<Self, StoreError> {
        if let Some(path) = s.strip_prefix("sqlite://").or(s.strip_prefix("sqlite:")) {
            if path.is_empty() {
                return Err(StoreError::InvalidDsn {
                    dsn: s.to_owned(),
                    reason: "no file path after sqlite:".into(),
                });
            }
            return Ok(Self::Sqlite(PathBuf::from(path)));
        }
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            return Ok(Self::Postgres(PgUrl(s.to_owned())));
        }
        Err(StoreError::InvalidDsn {
            dsn: redact(s),
            reason: "expected sqlite:<path> or postgres://...".into(),
        })
    }
}

impl fmt::Display for Dsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sqlite(path) => write!(f, "sqlite:{}", path.display()),
            Self::Postgres(url) => url.fmt(f),
        }
    }
}

impl fmt::Debug for Dsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Dsn({self})")
    }
}

/// A PostgreSQL connection URL, which may hold a password. Read it through
/// [`PgUrl::expose_secret`]; `Debug` and `Display` show `***` for the password.
pub struct PgUrl(String);

impl PgUrl {
    /// Wraps a `postgres://` URL.
    pub fn new(url: String) -> Self {
        Self(url)
    }

    /// The full URL, password included: only for handing to the driver.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PgUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redact(&self.0))
    }
}

impl fmt::Debug for PgUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PgUrl({self})")
    }
}

/// Replaces the password in a URL's userinfo and any `password=` query parameter by `***`.
pub(crate) fn redact(url: &str) -> String {
    let (head, query) = match url.split_once('?') {
        Some((h, q)) => (h, Some(q)),
        None => (url, None),
    };
    let mut out = match head.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, path) = match rest.find('/') {
                Some(i) => rest.split_at(i),
                None => (rest, ""),
            };
            let authority = match authority.rsplit_once('@') {
                Some((userinfo, host)) => match userinfo.split_once(':') {
                    Some((user, _password)) => format!("{user}:***@{host}"),
                    None => format!("{userinfo}@{host}"),
                },
                None => authority.to_owned(),
            };
            format!("{scheme}://{authority}{path}")
        }
        None => head.to_owned(),
    };
    if let Some(query) = query {
        let params: Vec<String> = query
            .split('&')
            .map(|p| match p.split_once('=') {
                Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                _ => p.to_owned(),
            })
            .collect();
        out.push('?');
        out.push_str(&params.join("&"));
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;
    use std::path::Path;

    #[test]
    fn passwords_never_print() {
        let dsn = Dsn::parse(
            "postgres://certd:s3cr3t@db.internal:5432/certd?password=also&sslmode=disable",
        )
        .unwrap();
        for shown in [format!("{dsn}"), format!("{dsn:?}")] {
            assert!(!shown.contains("s3cr3t"), "{shown}");
            assert!(!shown.contains("also"), "{shown}");
            assert!(
                shown.contains("certd:***@db.internal:5432/certd"),
                "{shown}"
            );
            assert!(shown.contains("sslmode=disable"), "{shown}");
        }
        let Dsn::Postgres(url) = dsn else {
            panic!("postgres")
        };
        assert!(url.expose_secret().contains("s3cr3t"));
    }

    #[test]
    fn sqlite_and_bad_dsns() {
        assert!(
            matches!(Dsn::parse("sqlite:/var/lib/certd/certd.db").unwrap(), Dsn::Sqlite(p) if p == Path::new("/var/lib/certd/certd.db"))
        );
        assert!(
            matches!(Dsn::parse("sqlite://rel.db").unwrap(), Dsn::Sqlite(p) if p == Path::new("rel.db"))
        );
        assert!(Dsn::parse("sqlite:").is_err());
        let err = Dsn::parse("mysql://root:pw@x/db")
            .err()
            .unwrap()
            .to_string();
        assert!(!err.contains("pw@"), "{err}");
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact("postgres://h"), "postgres://h");
    }
}
