//! `inkan serve` and `inkan admin` against SQLite and PostgreSQL: the real binary on a free port
//! with a fresh database (a SQLite file, or a new PostgreSQL database per test on the machine's
//! server), configuration precedence, start-up errors, the first administrator, the audit chain.
//!
//! PostgreSQL tests skip with a message when the server is unreachable, and fail instead when
//! `CI` or `INKAN_REQUIRE_POSTGRES` is set.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use sqlx::{AnyConnection, Connection, Row};

use crate::support::{inkan, ok, text};

/// The machine's PostgreSQL (trust auth); `INKAN_TEST_POSTGRES_URL` points elsewhere.
fn postgres_admin_url() -> String {
    std::env::var("INKAN_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// A fresh PostgreSQL database, dropped with this value.
pub struct PgDatabase {
    name: String,
}

impl PgDatabase {
    /// `None` (after saying so) when PostgreSQL is unreachable, unless it is required.
    pub fn create() -> Option<Self> {
        let mut bytes = [0u8; 8];
        aws_lc_rs::rand::fill(&mut bytes).expect("random");
        let name = format!("inkan_test_{}", hex::encode(bytes));
        let result = rt().block_on(async {
            let mut c = sqlx::PgConnection::connect(&postgres_admin_url()).await?;
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(&mut c)
                .await?;
            c.close().await
        });
        match result {
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

    pub fn url(&self) -> String {
        let admin = postgres_admin_url();
        let server = admin.rsplit_once('/').map_or(admin.as_str(), |(s, _)| s);
        format!("{server}/{}", self.name)
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let name = self.name.clone();
        let _ = rt().block_on(async move {
            let mut c = sqlx::PgConnection::connect(&postgres_admin_url()).await?;
            sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&mut c)
                .await?;
            c.close().await
        });
    }
}

/// A fresh database of either kind, and a working folder for the server.
pub struct TestDb {
    pub dir: tempfile::TempDir,
    pub url: String,
    _pg: Option<PgDatabase>,
    /// For a second process on the same database: the first one's data folder, whose master
    /// key (written at its first start) opens the CA they share — as every host of one
    /// database is given the same `INKAN_MASTER_KEY`.
    key_of: Option<PathBuf>,
}

impl TestDb {
    pub fn new(backend: Backend) -> Option<Self> {
        let dir = tempfile::tempdir().expect("tempdir");
        let (url, pg) = match backend {
            Backend::Sqlite => (
                format!("sqlite://{}", dir.path().join("test.db").display()),
                None,
            ),
            Backend::Postgres => {
                let pg = PgDatabase::create()?;
                (pg.url(), Some(pg))
            }
        };
        Some(Self {
            dir,
            url,
            _pg: pg,
            key_of: None,
        })
    }

    /// Another working folder on the same database (for a second server process); dropping it
    /// leaves the database alone.
    pub fn share(&self) -> Self {
        let key_of = self
            .key_of
            .clone()
            .unwrap_or_else(|| self.dir.path().join("data"));
        // The first process may be this database's own or a share: whichever starts first finds
        // the key here (a process writes its data folder's master key only when there is none).
        let key = key_of.join("master.key");
        if !key.exists() {
            let mut bytes = [0u8; 32];
            aws_lc_rs::rand::fill(&mut bytes).expect("random");
            std::fs::create_dir_all(&key_of).expect("data folder");
            std::fs::write(&key, hex::encode(bytes)).expect("master key");
        }
        Self {
            dir: tempfile::tempdir().expect("tempdir"),
            url: self.url.clone(),
            _pg: None,
            key_of: Some(key_of),
        }
    }

    /// `inkan` with this database and a clean environment, run in the working folder.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = clean_command(self.dir.path());
        cmd.args(args).env("DATABASE_URL", &self.url);
        cmd
    }

    /// Runs `f` on a connection to this database.
    pub fn with_conn<T>(
        &self,
        f: impl for<'c> FnOnce(
            &'c mut AnyConnection,
        ) -> std::pin::Pin<
            Box<dyn std::future::Future<Output = Result<T, sqlx::Error>> + 'c>,
        >,
    ) -> T {
        sqlx::any::install_default_drivers();
        rt().block_on(async {
            let mut c = AnyConnection::connect(&self.url).await.expect("connect");
            let out = f(&mut c).await.expect("query");
            c.close().await.expect("close");
            out
        })
    }

    pub fn count(&self, sql: &'static str) -> i64 {
        self.with_conn(move |c| {
            Box::pin(async move { sqlx::query(sql).fetch_one(c).await?.try_get::<i64, _>(0) })
        })
    }
}

/// `inkan` run in `dir` without any INKAN_* or DATABASE_URL from the surrounding environment.
fn clean_command(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_inkan"));
    cmd.current_dir(dir);
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy().into_owned();
        if key.starts_with("INKAN_") || key == "DATABASE_URL" || key == "RUST_LOG" {
            cmd.env_remove(key);
        }
    }
    cmd
}

/// The real server on a free port, stopped when dropped.
pub struct TestApp {
    pub base: String,
    pub db: TestDb,
    /// Everything the server printed on standard output so far (login instructions).
    pub stdout: Vec<String>,
    child: Child,
}

impl TestApp {
    /// `inkan serve` with a fresh database; `None` when PostgreSQL is unavailable (and allowed
    /// to be).
    pub fn spawn(backend: Backend) -> Option<Self> {
        let db = TestDb::new(backend)?;
        let cmd = db.command(&["serve"]);
        Some(Self::start(db, cmd))
    }

    /// Starts `cmd` (an `inkan serve`), forcing port 0, and waits until `/healthz` answers.
    pub fn start(db: TestDb, mut cmd: Command) -> Self {
        let started = Instant::now();
        // Port 0 unless the caller chose a port (a CA whose URLs name this server).
        if !cmd.get_envs().any(|(k, _)| k == "INKAN_LISTEN") {
            cmd.env("INKAN_LISTEN", "127.0.0.1:0");
        }
        // A second process on a database shares the first one's master key, unless its CA
        // folder brings its own.
        let sets = |name: &str| cmd.get_envs().any(|(k, _)| k == name);
        if !sets("INKAN_CA_DIR") && !sets("INKAN_MASTER_KEY") {
            if let Some(key) = db
                .key_of
                .as_ref()
                .and_then(|dir| std::fs::read_to_string(dir.join("master.key")).ok())
            {
                cmd.env("INKAN_MASTER_KEY", key.trim());
            }
        }
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("inkan serve starts");
        // The log is read as it comes (its last lines kept for a failure's message): a pipe
        // nobody reads fills up, and a server logging at debug level then stops answering.
        let log = std::sync::Arc::new(std::sync::Mutex::new(std::collections::VecDeque::new()));
        let err = child.stderr.take().expect("stderr");
        let kept = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                let mut kept = kept.lock().unwrap_or_else(|e| e.into_inner());
                kept.push_back(line);
                if kept.len() > 200 {
                    kept.pop_front();
                }
            }
        });
        let (tx, rx) = mpsc::channel();
        let out = child.stdout.take().expect("stdout");
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut stdout = Vec::new();
        let base = loop {
            match rx.recv_timeout(Duration::from_secs(30)) {
                Ok(line) => {
                    if let Some(url) = line.strip_prefix("Listening on ") {
                        break url.to_owned();
                    }
                    stdout.push(line);
                }
                Err(_) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    let log = log.lock().unwrap_or_else(|e| e.into_inner());
                    panic!(
                        "inkan serve did not start: {}\n{}",
                        stdout.join("\n"),
                        log.iter().cloned().collect::<Vec<_>>().join("\n")
                    );
                }
            }
        };
        let app = Self {
            base,
            db,
            stdout,
            child,
        };
        while app.get("/healthz").0 != 200 {
            assert!(started.elapsed() < Duration::from_secs(30), "no /healthz");
            std::thread::sleep(Duration::from_millis(50));
        }
        app
    }

    /// GET `path`: (status, body).
    pub fn get(&self, path: &str) -> (u16, Vec<u8>) {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(10)))
            .build()
            .into();
        match agent.get(format!("{}{path}", self.base)).call() {
            Ok(mut r) => (
                r.status().as_u16(),
                r.body_mut().read_to_vec().expect("body"),
            ),
            Err(_) => (0, Vec::new()),
        }
    }

    pub fn health(&self) -> serde_json::Value {
        let (status, body) = self.get("/healthz");
        assert_eq!(status, 200);
        serde_json::from_slice(&body).expect("JSON")
    }
}

impl TestApp {
    /// Kills the server with SIGKILL (std's `Child::kill`), leaving its database.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The value after `label` in the login instructions.
fn printed(lines: &[String], label: &str) -> String {
    lines
        .iter()
        .find_map(|l| l.trim().strip_prefix(label).map(|v| v.trim().to_owned()))
        .unwrap_or_else(|| panic!("no '{label}' in {lines:?}"))
}

/// The administrator's row: (email, roles, must_change_password, active, password_hash).
fn admin_row(db: &TestDb) -> (String, String, i64, i64, String) {
    db.with_conn(|c| {
        Box::pin(async move {
            let r = sqlx::query(
                "SELECT email, roles, CASE WHEN must_change_password THEN 1 ELSE 0 END AS m, \
                 CASE WHEN active THEN 1 ELSE 0 END AS a, password_hash FROM users",
            )
            .fetch_one(c)
            .await?;
            Ok((
                r.try_get(0)?,
                r.try_get(1)?,
                r.try_get(2)?,
                r.try_get(3)?,
                r.try_get(4)?,
            ))
        })
    })
}

fn password_matches(password: &str, hash: &str) -> bool {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    let parsed = PasswordHash::new(hash).expect("PHC string");
    argon2::Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok()
}

// ---------------------------------------------------------------------------------------------

#[test]
fn serves_with_no_configuration_on_sqlite_in_the_data_folder() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Only the port is set, so that tests can run side by side; everything else is default.
    let db = TestDb {
        url: String::new(),
        dir,
        _pg: None,
        key_of: None,
    };
    let cmd = {
        let mut c = clean_command(db.dir.path());
        c.arg("serve");
        c
    };
    let app = TestApp::start(db, cmd);
    assert_eq!(app.health()["database"], "sqlite");
    let file = app.db.dir.path().join("data/inkan.db");
    assert!(file.is_file(), "no {}", file.display());
    printed(&app.stdout, "temporary password:");
}

#[test]
fn without_configuration_the_service_listens_on_local_port_8080() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = ok(clean_command(dir.path())
        .arg("config")
        .output()
        .expect("runs"));
    let t = text(&out);
    assert!(t.contains("listen = \"127.0.0.1:8080\""), "{t}");
    assert!(t.contains("database = \"sqlite://./data/inkan.db\""), "{t}");
}

fn serves_on(backend: Backend) {
    let Some(app) = TestApp::spawn(backend) else {
        return;
    };
    let expected = match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    assert_eq!(app.health()["database"], expected);
    // An unknown path is a 404, not a crash.
    assert_eq!(app.get("/no-such-page").0, 404);
}

#[test]
fn serves_on_sqlite() {
    serves_on(Backend::Sqlite);
}

#[test]
fn serves_on_postgres() {
    serves_on(Backend::Postgres);
}

fn first_start_creates_the_administrator(backend: Backend) {
    let Some(app) = TestApp::spawn(backend) else {
        return;
    };
    let email = printed(&app.stdout, "email:");
    let password = printed(&app.stdout, "temporary password:");
    assert_eq!(email, "admin@localhost");
    let (db_email, roles, must_change, active, hash) = admin_row(&app.db);
    assert_eq!(db_email, email);
    assert_eq!(roles, "administrator");
    assert_eq!((must_change, active), (1, 1));
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    assert!(!hash.contains(&password));
    assert!(password_matches(&password, &hash));
    assert!(!password_matches("wrong-password-1", &hash));
    assert_eq!(
        app.db
            .count("SELECT COUNT(*) FROM organisations WHERE name = 'Inkan'"),
        1
    );
    assert_eq!(app.db.count("SELECT COUNT(*) FROM audit_log"), 2);
}

#[test]
fn first_start_creates_the_administrator_on_sqlite() {
    first_start_creates_the_administrator(Backend::Sqlite);
}

#[test]
fn first_start_creates_the_administrator_on_postgres() {
    first_start_creates_the_administrator(Backend::Postgres);
}

fn admin_init_then_serve(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    let out = ok(db
        .command(&[
            "admin",
            "init",
            "--org",
            "Example KK",
            "--email",
            "Boss@Example.com",
        ])
        .output()
        .expect("runs"));
    let lines: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    let password = printed(&lines, "temporary password:");
    let (email, _, must_change, _, hash) = admin_row(&db);
    assert_eq!(email, "boss@example.com");
    assert_eq!(must_change, 1);
    assert!(password_matches(&password, &hash));

    let again = db
        .command(&[
            "admin",
            "init",
            "--org",
            "Other",
            "--email",
            "x@example.com",
        ])
        .output()
        .expect("runs");
    assert_eq!(again.status.code(), Some(1), "{}", text(&again));
    assert!(
        text(&again).contains("already initialised"),
        "{}",
        text(&again)
    );

    // The server finds the instance initialised: no second organisation, no new password.
    let cmd = db.command(&["serve"]);
    let app = TestApp::start(db, cmd);
    assert!(
        !app.stdout.iter().any(|l| l.contains("temporary password")),
        "{:?}",
        app.stdout
    );
    assert_eq!(app.db.count("SELECT COUNT(*) FROM organisations"), 1);
    assert_eq!(app.db.count("SELECT COUNT(*) FROM users"), 1);
}

#[test]
fn admin_init_creates_the_first_administrator_once_on_sqlite() {
    admin_init_then_serve(Backend::Sqlite);
}

#[test]
fn admin_init_creates_the_first_administrator_once_on_postgres() {
    admin_init_then_serve(Backend::Postgres);
}

#[test]
fn environment_overrides_file_which_overrides_defaults() {
    let conf_dir = tempfile::tempdir().expect("tempdir");
    let config = conf_dir.path().join("inkan.toml");
    std::fs::write(
        &config,
        "data_dir = \"from-file\"\ninitial_org = \"File KK\"\nlog = \"debug\"\n",
    )
    .expect("write");
    let config_arg = config.to_str().expect("utf-8");

    // The file's data folder is used: the SQLite database appears there.
    let dir = tempfile::tempdir().expect("tempdir");
    let db = TestDb {
        url: String::new(),
        dir,
        _pg: None,
        key_of: None,
    };
    let mut cmd = clean_command(db.dir.path());
    cmd.args(["serve", "--config", config_arg]);
    let app = TestApp::start(db, cmd);
    assert!(app.db.dir.path().join("from-file/inkan.db").is_file());
    assert!(!app.db.dir.path().join("data").exists());
    assert!(app
        .stdout
        .iter()
        .any(|l| l.contains("organisation 'File KK'")));
    drop(app);

    // The environment wins over the file; what neither sets keeps its default.
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cmd = clean_command(dir.path());
    cmd.args(["serve", "--config", config_arg])
        .env("INKAN_DATA_DIR", "from-env");
    let db = TestDb {
        url: String::new(),
        dir,
        _pg: None,
        key_of: None,
    };
    let app = TestApp::start(db, cmd);
    assert!(app.db.dir.path().join("from-env/inkan.db").is_file());
    assert!(!app.db.dir.path().join("from-file").exists());
    assert!(app
        .stdout
        .iter()
        .any(|l| l.contains("organisation 'File KK'")));

    let out = ok(clean_command(app.db.dir.path())
        .args(["config", "--config", config_arg])
        .env("INKAN_LOG", "warn")
        .output()
        .expect("runs"));
    let t = text(&out);
    assert!(t.contains("log = \"warn\""), "{t}");
    assert!(t.contains("data_dir = \"from-file\""), "{t}");
    assert!(t.contains("listen = \"127.0.0.1:8080\""), "{t}");
}

#[test]
fn bad_configuration_exits_non_zero_with_a_message_naming_the_problem() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("inkan.toml");
    std::fs::write(&config, "listen = \"127.0.0.1:0\"\ndatabse_url = \"x\"\n").expect("write");
    let run = |cmd: &mut Command| {
        let out = cmd.output().expect("runs");
        (out.status.code(), text(&out))
    };

    let (code, t) =
        run(clean_command(dir.path()).args(["serve", "--config", config.to_str().expect("utf-8")]));
    assert_eq!(code, Some(2), "{t}");
    assert!(t.contains("databse_url") && t.contains("inkan.toml"), "{t}");

    let (code, t) = run(clean_command(dir.path())
        .arg("serve")
        .env("INKAN_LISTEN", "localhost"));
    assert_eq!(code, Some(2), "{t}");
    assert!(t.contains("INKAN_LISTEN"), "{t}");

    let (code, t) = run(clean_command(dir.path()).args(["serve", "--config", "missing.toml"]));
    assert_eq!(code, Some(2), "{t}");
    assert!(t.contains("missing.toml"), "{t}");

    let (code, t) = run(clean_command(dir.path())
        .arg("serve")
        .env("DATABASE_URL", "mysql://inkan:s3cret@db/inkan"));
    assert_eq!(code, Some(2), "{t}");
    assert!(t.contains("DATABASE_URL") && !t.contains("s3cret"), "{t}");

    // A database that does not answer: a start-up failure (1), the password not shown.
    let (code, t) = run(clean_command(dir.path())
        .arg("serve")
        .env("INKAN_LISTEN", "127.0.0.1:0")
        .env(
            "DATABASE_URL",
            "postgres://inkan:s3cret@127.0.0.1:1/inkan?connect_timeout=2",
        ));
    assert_eq!(code, Some(1), "{t}");
    assert!(t.contains("cannot connect to the database"), "{t}");
    assert!(!t.contains("s3cret"), "{t}");
    // Nothing was created for a server that never started.
    assert!(!dir.path().join("data/inkan.db").exists());
}

/// A configured CA folder is imported at the first start and served; without one, the first
/// start creates the CA in the database, serves it and says where applications are checked.
#[test]
fn a_ca_folder_is_imported_and_without_one_the_first_start_creates_the_ca() {
    let Some(db) = TestDb::new(Backend::Sqlite) else {
        return;
    };
    let ca_dir: PathBuf = db.dir.path().join("ca");
    ok(inkan(&[
        "ca",
        "init",
        "--dir",
        ca_dir.to_str().expect("utf-8"),
        "--org",
        "Example KK",
        "--base-url",
        "http://127.0.0.1:9",
    ]));
    let mut cmd = db.command(&["serve"]);
    cmd.env("INKAN_CA_DIR", &ca_dir);
    let app = TestApp::start(db, cmd);
    let (status, body) = app.get("/root.crt");
    assert_eq!(status, 200);
    let root_pem = std::fs::read_to_string(ca_dir.join("root.pem")).expect("root.pem");
    let root = pem_body(&root_pem);
    assert_eq!(body, root);
    drop(app);

    let Some(app) = TestApp::spawn(Backend::Sqlite) else {
        return;
    };
    let (status, own_root) = app.get("/root.crt");
    assert_eq!(status, 200);
    assert_ne!(own_root, root, "a CA of its own");
    assert!(
        app.stdout.iter().any(|l| l.contains("/identity-checks")),
        "{:?}",
        app.stdout
    );
    assert!(app.db.dir.path().join("data/master.key").is_file());
}

fn pem_body(pem: &str) -> Vec<u8> {
    let (_, der) = der::pem::decode_vec(pem.as_bytes()).expect("PEM");
    der
}

/// Removes the database's guard on the audit log and edits entry `seq` behind the chain's back.
pub fn tamper_audit_entry(db: &TestDb, backend: Backend, seq: i64) {
    let drop_guard = match backend {
        Backend::Sqlite => "DROP TRIGGER IF EXISTS audit_log_no_update",
        Backend::Postgres => "DROP TRIGGER IF EXISTS audit_log_no_change ON audit_log",
    };
    db.with_conn(move |c| {
        Box::pin(async move {
            sqlx::query(drop_guard).execute(&mut *c).await?;
            sqlx::query(
                "UPDATE audit_log SET detail = '{\"email\":\"evil@example.com\"}' WHERE seq = $1",
            )
            .bind(seq)
            .execute(&mut *c)
            .await?;
            Ok(())
        })
    });
}

fn audit_tampering_is_detected(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    ok(db
        .command(&[
            "admin",
            "init",
            "--org",
            "Example KK",
            "--email",
            "a@example.com",
        ])
        .output()
        .expect("runs"));
    let out = ok(db
        .command(&["admin", "verify-audit"])
        .output()
        .expect("runs"));
    assert!(text(&out).contains("intact: 2 entries"), "{}", text(&out));
    let out = ok(db
        .command(&["admin", "audit-checkpoint"])
        .output()
        .expect("runs"));
    assert!(
        text(&out).contains("checkpoint 1 recorded: 2 entries"),
        "{}",
        text(&out)
    );
    let out = ok(db
        .command(&["admin", "verify-audit"])
        .output()
        .expect("runs"));
    assert!(
        text(&out).contains("2 entries, 1 checkpoints (the last covers 2 entries)"),
        "{}",
        text(&out)
    );
    assert!(
        std::fs::read_to_string(db.dir.path().join("data/audit-anchors.jsonl"))
            .expect("the data folder keeps a copy")
            .contains("\"n\":1"),
    );

    // The database itself refuses to change the log.
    let refused = db.with_conn(|c| {
        Box::pin(async move {
            Ok(
                sqlx::query("UPDATE audit_log SET detail = '{}' WHERE seq = 2")
                    .execute(c)
                    .await
                    .is_err(),
            )
        })
    });
    assert!(refused, "the audit log accepted an UPDATE");

    // Someone who removes that guard and edits an entry is still found out.
    tamper_audit_entry(&db, backend, 2);
    let out = db
        .command(&["admin", "verify-audit"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("entry 2"), "{}", text(&out));
    // No checkpoint is recorded over it.
    let out = db
        .command(&["admin", "audit-checkpoint"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("not recorded"), "{}", text(&out));
}

#[test]
fn audit_log_tampering_is_detected_on_sqlite() {
    audit_tampering_is_detected(Backend::Sqlite);
}

#[test]
fn audit_log_tampering_is_detected_on_postgres() {
    audit_tampering_is_detected(Backend::Postgres);
}
