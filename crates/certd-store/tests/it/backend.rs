//! The two backends under test, behind one harness: opening, reopening, raw SQL for
//! tampering, and reading what each wrote to disk.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use certd_store::{Dsn, PgUrl, Store, StoreError};
use sqlx::Connection;
use tempfile::TempDir;
use testkit::postgres::PgServer;

/// A store plus what is needed to reopen it and to look at its files.
pub struct Backend {
    pub store: Arc<dyn Store>,
    place: Place,
}

enum Place {
    Sqlite { _dir: TempDir, path: PathBuf },
    Postgres { server: PgServer, db: String },
}

impl Backend {
    /// A fresh SQLite database in a temporary directory.
    pub async fn sqlite() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("certd.db");
        let store = certd_store::open(&Dsn::Sqlite(path.clone())).await.unwrap();
        Self {
            store,
            place: Place::Sqlite { _dir: dir, path },
        }
    }

    /// A fresh PostgreSQL server with an empty `certd` database.
    pub async fn postgres() -> Self {
        let server = PgServer::start();
        let url = server.create_database("certd").unwrap();
        let store = certd_store::open(&Dsn::parse(&url).unwrap()).await.unwrap();
        Self {
            store,
            place: Place::Postgres {
                server,
                db: "certd".into(),
            },
        }
    }

    /// Opens the same database again (migrations run again; data must be kept).
    pub async fn reopen(&self) -> Result<Arc<dyn Store>, StoreError> {
        match &self.place {
            Place::Sqlite { path, .. } => certd_store::open(&Dsn::Sqlite(path.clone())).await,
            Place::Postgres { server, db } => {
                certd_store::open(&Dsn::Postgres(PgUrl::new(server.url_for(db)))).await
            }
        }
    }

    pub fn is_sqlite(&self) -> bool {
        matches!(self.place, Place::Sqlite { .. })
    }

    /// Runs SQL outside the store (to tamper with the migrations table).
    pub async fn execute(&self, sql: &str) {
        match &self.place {
            Place::Sqlite { path, .. } => {
                let url = format!("sqlite:{}", path.display());
                let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
                sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
                    .execute(&mut conn)
                    .await
                    .unwrap();
                conn.close().await.unwrap();
            }
            Place::Postgres { server, db } => {
                server.psql(db, sql).unwrap();
            }
        }
    }

    /// Every file the backend keeps on disk (lossy UTF-8, one string per file), after
    /// flushing what it can: the SQLite file and its WAL, or the whole PostgreSQL cluster
    /// after a CHECKPOINT.
    pub async fn disk_files(&self) -> Vec<String> {
        let mut files = Vec::new();
        match &self.place {
            Place::Sqlite { path, .. } => {
                for suffix in ["", "-wal", "-shm"] {
                    let file = PathBuf::from(format!("{}{suffix}", path.display()));
                    if let Ok(bytes) = std::fs::read(&file) {
                        files.push(String::from_utf8_lossy(&bytes).into_owned());
                    }
                }
            }
            Place::Postgres { server, .. } => {
                server.psql("postgres", "CHECKPOINT").unwrap();
                read_tree(&server.data_dir(), &mut files);
            }
        }
        assert!(!files.is_empty());
        files
    }
}

fn read_tree(dir: &Path, out: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            read_tree(&path, out);
        } else if let Ok(bytes) = std::fs::read(&path) {
            out.push(String::from_utf8_lossy(&bytes).into_owned());
        }
    }
}

/// True if any file contains `needle` (std's substring search: fast even in debug builds).
pub fn contains(files: &[String], needle: &str) -> bool {
    files.iter().any(|f| f.contains(needle))
}
