//! The database: SQLite or PostgreSQL chosen by the URL's scheme, one connection pool (sqlx's
//! `Any` driver, queries written once with `$1` placeholders, which both accept), and the
//! migrations in `migrations/sqlite` and `migrations/postgres`, run at every start.

use std::sync::Arc;

use anyhow::Context;
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Row};

use crate::audit::Seal;
use crate::config::{redact_url, Config};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The shared pool, and the key the audit log is sealed with (every change appends to it).
/// Cheap to clone.
#[derive(Debug, Clone)]
pub struct Db {
    pub pool: AnyPool,
    pub backend: Backend,
    pub audit: Arc<Seal>,
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
        let master = crate::ca_store::master_key(config)?;
        let audit = Arc::new(Seal::new(&master, &config.data_dir)?);
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
        let mut options = AnyPoolOptions::new()
            .max_connections(if backend == Backend::Sqlite { 4 } else { 10 })
            .acquire_timeout(std::time::Duration::from_secs(10));
        if backend == Backend::Sqlite {
            // Write-ahead logging: a commit appends to the log and syncs it once (the rollback
            // journal syncs the journal, then the database, then deletes the journal: three to
            // four syncs), and readers go on while one connection writes. `synchronous = FULL`
            // keeps every commit durable the moment it returns. The mode is kept in the file; a
            // database in memory keeps its own.
            options = options.after_connect(|conn, _| {
                Box::pin(async move {
                    sqlx::query("PRAGMA journal_mode = WAL")
                        .execute(&mut *conn)
                        .await?;
                    sqlx::query("PRAGMA synchronous = FULL")
                        .execute(&mut *conn)
                        .await?;
                    Ok(())
                })
            });
        }
        let pool = options
            .connect(&url)
            .await
            .with_context(|| format!("cannot connect to the database {shown}"))?;
        let db = Db {
            pool,
            backend,
            audit,
        };
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

/// A stored text that names no variant of the enum it was read as: the database holds a value
/// this version does not know (a newer version wrote it, or the row was edited by hand).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {text:?}")]
pub struct UnknownText {
    /// What the text should have named (`certificate status`).
    pub what: &'static str,
    pub text: String,
}

/// Reads `column` as an enum declared with `stored_text!` (pass its `parse`). An unknown text
/// is a decoding error naming the column and the text, so the request fails as an internal
/// error instead of carrying on with a guess.
pub fn stored<T>(
    row: &AnyRow,
    column: &str,
    parse: fn(&str) -> Result<T, UnknownText>,
) -> Result<T, sqlx::Error> {
    let text: String = row.try_get(column)?;
    parse(&text).map_err(|e| sqlx::Error::ColumnDecode {
        index: column.to_owned(),
        source: Box::new(e),
    })
}

/// Declares an enum stored as text, each variant's text written once: `as_str` is the one
/// mapping, `parse` its inverse (an unknown text is an [`UnknownText`] naming what was read),
/// and `Display` and `Serialize` give the same text, so the JSON answers and the pages show
/// what the database holds. Bind `as_str()` into SQL; read with [`stored`].
macro_rules! stored_text {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident ($what:literal) {
            $($(#[$vmeta:meta])* $variant:ident = $text:literal,)+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        $vis enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl $name {
            /// Every variant, in the order declared.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The text stored for this variant.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }

            /// The variant stored as `text`.
            pub fn parse(text: &str) -> Result<Self, $crate::db::UnknownText> {
                Self::ALL
                    .iter()
                    .copied()
                    .find(|v| v.as_str() == text)
                    .ok_or_else(|| $crate::db::UnknownText {
                        what: $what,
                        text: text.to_owned(),
                    })
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
    };
}
pub(crate) use stored_text;

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// The SQLite database is opened in write-ahead-log mode with full syncs: one sync a
    /// commit, durable when the commit returns, readers beside the writer.
    #[tokio::test]
    async fn sqlite_writes_ahead_and_syncs_every_commit() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config {
            data_dir: dir.path().to_path_buf(),
            ..Config::default()
        };
        let db = Db::open(&config).await.unwrap();
        let mut conn = db.pool.acquire().await.unwrap();
        let mode: String = sqlx::query("PRAGMA journal_mode")
            .fetch_one(&mut *conn)
            .await
            .unwrap()
            .try_get(0)
            .unwrap();
        assert_eq!(mode, "wal");
        let synchronous: i64 = sqlx::query("PRAGMA synchronous")
            .fetch_one(&mut *conn)
            .await
            .unwrap()
            .try_get(0)
            .unwrap();
        assert_eq!(synchronous, 2, "FULL");
    }
}
