//! The database: SQLite or PostgreSQL chosen by the URL's scheme, one connection pool (sqlx's
//! `Any` driver, queries written once with `$1` placeholders, which both accept), and the
//! migrations in `migrations/sqlite` and `migrations/postgres`, run at every start.

use anyhow::Context;
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Row};

use crate::config::{redact_url, Config};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The shared pool. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Db {
    pub pool: AnyPool,
    pub backend: Backend,
}

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

impl Db {
    /// Creates the data folder, connects (creating a SQLite file if missing) and migrates.
    pub async fn open(config: &Config) -> anyhow::Result<Self> {
        std::fs::create_dir_all(&config.data_dir).with_context(|| {
            format!(
                "cannot create the data folder {}",
                config.data_dir.display()
            )
        })?;
        sqlx::any::install_default_drivers();
        let url = config.database_url();
        let mut url = url.expose().clone();
        let backend = if url.starts_with("sqlite:") {
            // Create the file on first use, unless the URL says otherwise.
            if !url.contains("mode=") {
                url.push(if url.contains('?') { '&' } else { '?' });
                url.push_str("mode=rwc");
            }
            Backend::Sqlite
        } else {
            Backend::Postgres
        };
        let shown = redact_url(&url);
        let pool = AnyPoolOptions::new()
            .max_connections(if backend == Backend::Sqlite { 4 } else { 10 })
            .acquire_timeout(std::time::Duration::from_secs(10))
            .connect(&url)
            .await
            .with_context(|| format!("cannot connect to the database {shown}"))?;
        let db = Db { pool, backend };
        let migrator = match backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator
            .run(&db.pool)
            .await
            .with_context(|| format!("migrating the database {shown}"))?;
        tracing::info!(database = %shown, "database ready");
        Ok(db)
    }

    /// Begins a transaction that writes. On SQLite it takes the write lock at once (`BEGIN
    /// IMMEDIATE`), waiting up to the busy timeout for other writers, so it never fails later
    /// when a read lock would have to become a write lock while another process writes.
    pub async fn begin(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>, sqlx::Error> {
        match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => self.pool.begin().await,
        }
    }

    /// Whether the database answers (for `/healthz`).
    pub async fn ping(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.pool).await.is_ok()
    }
}

// Used by the login routes (next step of issue 4).
#[allow(dead_code)]
/// A boolean column: BOOLEAN in PostgreSQL, INTEGER 0/1 in SQLite.
pub fn flag(row: &AnyRow, column: &str) -> Result<bool, sqlx::Error> {
    row.try_get::<bool, _>(column)
        .or_else(|_| row.try_get::<i64, _>(column).map(|v| v != 0))
}
