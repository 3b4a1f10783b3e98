//! Helpers shared by the domain tests: a fresh database of either kind (a SQLite file, or a new
//! PostgreSQL database on the machine's server, dropped afterwards), a second pool on it (as a
//! second process would have), and a movable clock.
//!
//! PostgreSQL tests skip with a message when the server is unreachable, and fail instead when
//! `CI` or `INKAN_REQUIRE_POSTGRES` is set.

use std::path::PathBuf;

use domain::clock::Clock;
use domain::config::{Config, Secret};
use domain::db::Db;
use sqlx::{Connection, Row};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs an async scenario `fn(Backend)` as two tests, `sqlite` and `postgres`, in a module named
/// after it.
#[macro_export]
macro_rules! on_both_databases {
    ($($scenario:ident),* $(,)?) => {$(
        mod $scenario {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$scenario($crate::support::Backend::Sqlite).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$scenario($crate::support::Backend::Postgres).await
            }
        }
    )*};
}

/// The machine's PostgreSQL (trust auth); `INKAN_TEST_POSTGRES_URL` points elsewhere.
fn postgres_admin_url() -> String {
    std::env::var("INKAN_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A fresh PostgreSQL database, dropped with this value.
struct PgDatabase {
    name: String,
}

impl PgDatabase {
    /// `None` (after saying so) when PostgreSQL is unreachable, unless it is required.
    async fn create() -> Option<Self> {
        let mut bytes = [0u8; 8];
        aws_lc_rs::rand::fill(&mut bytes).expect("random");
        let name = format!("inkan_domain_test_{}", hex::encode(bytes));
        let created = async {
            let mut c = sqlx::PgConnection::connect(&postgres_admin_url()).await?;
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(&mut c)
                .await?;
            c.close().await
        }
        .await;
        match created {
            Ok(()) => Some(Self { name }),
            Err(e) => {
                let required = std::env::var_os("CI").is_some()
                    || std::env::var_os("INKAN_REQUIRE_POSTGRES").is_some();
                assert!(
                    !required,
                    "PostgreSQL at {} is required (CI or INKAN_REQUIRE_POSTGRES is set) but unreachable: {e}",
                    postgres_admin_url()
                );
                eprintln!(
                    "SKIPPED: PostgreSQL at {} is unreachable: {e}",
                    postgres_admin_url()
                );
                None
            }
        }
    }

    fn url(&self) -> String {
        let admin = postgres_admin_url();
        let server = admin.rsplit_once('/').map_or(admin.as_str(), |(s, _)| s);
        format!("{server}/{}", self.name)
    }
}

impl Drop for PgDatabase {
    /// On a thread of its own: the test's runtime may be the one dropping this.
    fn drop(&mut self) {
        let name = self.name.clone();
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let mut c = sqlx::PgConnection::connect(&postgres_admin_url()).await?;
                sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut c)
                    .await?;
                c.close().await
            })
        })
        .join();
    }
}

/// A fresh database with no tables yet (see [`EmptyDb::open`]), and a data folder.
pub struct EmptyDb {
    pub backend: Backend,
    /// The database's URL.
    pub url: String,
    config: Config,
    dir: tempfile::TempDir,
    pg: Option<PgDatabase>,
}

impl EmptyDb {
    /// `None` when PostgreSQL is unavailable (and allowed to be).
    pub async fn new(backend: Backend) -> Option<Self> {
        let dir = tempfile::tempdir().expect("tempdir");
        let (url, pg) = match backend {
            Backend::Sqlite => (
                format!("sqlite://{}?mode=rwc", dir.path().join("test.db").display()),
                None,
            ),
            Backend::Postgres => {
                let pg = PgDatabase::create().await?;
                (pg.url(), Some(pg))
            }
        };
        let config = Config {
            data_dir: dir.path().join("data"),
            database_url: Some(Secret::new(url.clone())),
            ..Config::default()
        };
        Some(Self {
            backend,
            url,
            config,
            dir,
            pg,
        })
    }

    /// Runs this backend's migrations up to `version` only (an older release's database).
    pub async fn migrate_to(&self, version: u32) {
        let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("migrations")
            .join(match self.backend {
                Backend::Sqlite => "sqlite",
                Backend::Postgres => "postgres",
            });
        let older = tempfile::tempdir().expect("tempdir");
        for entry in std::fs::read_dir(&folder).expect("migrations") {
            let path = entry.expect("entry").path();
            let name = path
                .file_name()
                .expect("name")
                .to_string_lossy()
                .into_owned();
            let number: u32 = name[..4].parse().expect("a numbered migration");
            if number <= version {
                std::fs::copy(&path, older.path().join(&name)).expect("copy");
            }
        }
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(&self.url).await.expect("connect");
        sqlx::migrate::Migrator::new(older.path())
            .await
            .expect("migrations")
            .run(&pool)
            .await
            .expect("migrated");
        pool.close().await;
    }

    /// Opens it as the service does (running every migration).
    pub async fn open(self) -> TestDb {
        let db = Db::open(&self.config).await.expect("database opens");
        TestDb {
            db,
            config: self.config,
            _dir: self.dir,
            _pg: self.pg,
        }
    }
}

/// A fresh, migrated database and a data folder.
pub struct TestDb {
    pub db: Db,
    pub config: Config,
    _dir: tempfile::TempDir,
    _pg: Option<PgDatabase>,
}

impl TestDb {
    /// `None` when PostgreSQL is unavailable (and allowed to be).
    pub async fn new(backend: Backend) -> Option<Self> {
        Some(EmptyDb::new(backend).await?.open().await)
    }

    /// Another pool on the same database, as a second process has.
    pub async fn second_pool(&self) -> Db {
        Db::open(&self.config).await.expect("database opens")
    }

    pub async fn count(&self, sql: &str) -> i64 {
        sqlx::query(sql)
            .fetch_one(&self.db.pool)
            .await
            .expect("count")
            .try_get(0)
            .expect("a number")
    }
}

/// A clock moved by rewriting its offset file (as `INKAN_TEST_CLOCK_FILE` does for a server).
pub struct TestClock {
    pub clock: Clock,
    path: PathBuf,
    _dir: tempfile::TempDir,
}

impl TestClock {
    /// At the system time until moved.
    pub fn start() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("offset");
        let clock = Clock::with_offset_file(path.clone());
        Self {
            clock,
            path,
            _dir: dir,
        }
    }

    /// Moves the clock `offset_seconds` from the system time.
    pub fn set(&self, offset_seconds: i64) {
        let tmp = self.path.with_extension("tmp");
        std::fs::write(&tmp, offset_seconds.to_string()).expect("write clock");
        std::fs::rename(&tmp, &self.path).expect("move clock");
    }

    pub fn now(&self) -> i64 {
        self.clock.now()
    }
}

/// When the fixtures say things happened (Unix seconds).
pub const FIXTURE_NOW: i64 = 1_800_000_000;
const FIXTURE_LOGIN: &str = "http://127.0.0.1/login";

/// A fresh instance: its first organisation's administrator, an instance operator, and another
/// organisation's administrator.
pub struct Instance {
    pub admin: domain::accounts::User,
    pub operator: domain::accounts::User,
    pub other_admin: domain::accounts::User,
}

impl Instance {
    /// Initialises the instance with the organisation `org` (administrator `admin@<domain>`).
    pub async fn new(t: &TestDb, org: &str, domain_name: &str) -> Self {
        use domain::accounts::{self, Email, NewAccount, OrgName};
        let email = Email::parse(&format!("admin@{domain_name}")).expect("email");
        let init = accounts::initialise(
            &t.db,
            FIXTURE_NOW,
            &OrgName::parse(org).expect("org"),
            &email,
            FIXTURE_LOGIN,
        )
        .await
        .expect("initialise")
        .expect("a fresh instance");
        let admin = accounts::get_user(&t.db, &init.org_id, &init.admin_id)
            .await
            .expect("admin");
        let operator = accounts::create_operator(
            &t.db,
            FIXTURE_NOW,
            &Email::parse(&format!("op@{domain_name}")).expect("email"),
            FIXTURE_LOGIN,
        )
        .await
        .expect("operator")
        .user;
        let other = NewAccount::parse(
            "Other Admin",
            "admin@other.example",
            &["administrator".to_owned()],
            None,
            None,
        )
        .expect("account");
        let other_admin = accounts::create_organisation(
            &t.db,
            FIXTURE_NOW,
            &operator,
            &OrgName::parse("Other KK").expect("org"),
            &other,
            FIXTURE_LOGIN,
        )
        .await
        .expect("organisation")
        .user;
        Self {
            admin,
            operator,
            other_admin,
        }
    }

    /// A user created by `admin` (named "Someone") with `roles`.
    pub async fn user(
        t: &TestDb,
        admin: &domain::accounts::User,
        email: &str,
        roles: &[&str],
    ) -> domain::accounts::User {
        let roles: Vec<String> = roles.iter().map(|r| (*r).to_owned()).collect();
        let account = domain::accounts::NewAccount::parse("Someone", email, &roles, None, None)
            .expect("account");
        domain::accounts::create_user(&t.db, FIXTURE_NOW, admin, &account, FIXTURE_LOGIN)
            .await
            .expect("created")
            .user
    }
}
