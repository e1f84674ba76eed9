//! The embedded schema migrations of both backends and the "schema too new" rule.
//! Running them is sqlx's `Migrator` (table `_sqlx_migrations`); this module owns the
//! list and the version check done before it.
//!
//! The list is written out (not `sqlx::migrate!()`) so sqlx's proc-macro crate, which
//! would compile both database drivers a second time for the host, stays out of the build.
//! A unit test keeps the list and the `migrations/` directories in step.

use std::borrow::Cow;

use sqlx::migrate::{Migration, MigrationType, Migrator};

use crate::StoreError;

/// One schema version, as SQL for each backend.
struct Step {
    version: i64,
    description: &'static str,
    sqlite: &'static str,
    postgres: &'static str,
}

/// Every schema version this binary knows, oldest first. Add new files here and in both
/// `migrations/` directories; never edit a released one (sqlx checks their checksums).
const STEPS: &[Step] = &[
    Step {
        version: 1,
        description: "initial",
        sqlite: include_str!("../migrations/sqlite/0001_initial.sql"),
        postgres: include_str!("../migrations/postgres/0001_initial.sql"),
    },
    Step {
        version: 2,
        description: "email_tokens",
        sqlite: include_str!("../migrations/sqlite/0002_email_tokens.sql"),
        postgres: include_str!("../migrations/postgres/0002_email_tokens.sql"),
    },
];

/// The newest schema version this binary knows.
pub const SCHEMA_VERSION: i64 = STEPS[STEPS.len() - 1].version;

/// Which backend's SQL to take.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Backend {
    Sqlite,
    Postgres,
}

/// The migrator for `backend`.
pub(crate) fn migrator(backend: Backend) -> Migrator {
    let migrations = STEPS
        .iter()
        .map(|step| {
            let sql = match backend {
                Backend::Sqlite => step.sqlite,
                Backend::Postgres => step.postgres,
            };
            Migration::new(
                step.version,
                Cow::Borrowed(step.description),
                MigrationType::Simple,
                sqlx::SqlSafeStr::into_sql_str(sql),
                false,
            )
        })
        .collect();
    Migrator::with_migrations(migrations)
}

/// Refuses a database whose highest applied migration is newer than this binary.
pub(crate) fn check_not_newer(applied: Option<i64>) -> Result<(), StoreError> {
    match applied {
        Some(db) if db > SCHEMA_VERSION => Err(StoreError::SchemaTooNew {
            db,
            binary: SCHEMA_VERSION,
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// Every file in `migrations/<backend>/` is in `STEPS` under its version, and back.
    #[test]
    fn steps_match_the_migration_directories() {
        for dir in ["sqlite", "postgres"] {
            let path = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/").to_owned() + dir;
            let mut files: Vec<String> = std::fs::read_dir(&path)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            files.sort();
            let expected: Vec<String> = STEPS
                .iter()
                .map(|s| format!("{:04}_{}.sql", s.version, s.description))
                .collect();
            assert_eq!(files, expected, "{path}");
        }
        for step in STEPS {
            let file = format!("{:04}_{}.sql", step.version, step.description);
            let on_disk = |dir: &str| {
                std::fs::read_to_string(format!(
                    "{}/migrations/{dir}/{file}",
                    env!("CARGO_MANIFEST_DIR")
                ))
                .unwrap()
            };
            assert_eq!(on_disk("sqlite"), step.sqlite);
            assert_eq!(on_disk("postgres"), step.postgres);
        }
    }

    #[test]
    fn newer_schema_is_refused_with_both_versions() {
        assert!(check_not_newer(None).is_ok());
        assert!(check_not_newer(Some(SCHEMA_VERSION)).is_ok());
        let err = check_not_newer(Some(SCHEMA_VERSION + 1)).unwrap_err();
        let text = err.to_string();
        assert!(text.contains(&(SCHEMA_VERSION + 1).to_string()), "{text}");
        assert!(text.contains(&SCHEMA_VERSION.to_string()), "{text}");
    }
}
