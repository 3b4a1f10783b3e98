//! `inkan serve` on a temporary data folder (SQLite there, or a fresh PostgreSQL database),
//! with its log read for job times and its /proc entries for CPU time and peak RSS.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use serde_json::{json, Value};

use crate::api::Api;
use crate::outbox::Outbox;
use crate::{note, ADMIN, PASSWORD};

/// A fresh PostgreSQL database on the server of `admin_url`, dropped with this value.
pub struct PgDatabase {
    admin_url: String,
    name: String,
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a Tokio runtime")
}

impl PgDatabase {
    pub fn create(admin_url: &str) -> Result<Self, String> {
        use sqlx::Connection;
        let mut random = [0u8; 6];
        aws_lc_rs::rand::fill(&mut random).map_err(|_| "no randomness".to_string())?;
        let name = format!("inkan_bench_{}", hex::encode(random));
        runtime()
            .block_on(async {
                let mut c = sqlx::PgConnection::connect(admin_url).await?;
                sqlx::query(&format!("CREATE DATABASE {name}"))
                    .execute(&mut c)
                    .await?;
                c.close().await
            })
            .map_err(|e| e.to_string())?;
        Ok(Self {
            admin_url: admin_url.to_owned(),
            name,
        })
    }

    pub fn url(&self) -> String {
        let server = self
            .admin_url
            .rsplit_once('/')
            .map_or(self.admin_url.as_str(), |(s, _)| s);
        format!("{server}/{}", self.name)
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        use sqlx::Connection;
        let (url, name) = (self.admin_url.clone(), self.name.clone());
        let _ = runtime().block_on(async move {
            let mut c = sqlx::PgConnection::connect(&url).await?;
            sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&mut c)
                .await?;
            c.close().await
        });
    }
}

/// A job's start or end, as the server logged it.
#[derive(Debug, Clone)]
struct JobEvent {
    at: SystemTime,
    started: bool,
    kind: String,
    job: String,
}

/// What the server wrote on standard error: job events, and the last lines for error messages.
#[derive(Debug, Default)]
pub struct ServerLog {
    jobs: Vec<JobEvent>,
    tail: VecDeque<String>,
    /// Requests the server answered 5xx and the bench sent again.
    pub retried: usize,
    /// Log lines saying "database is locked" (SQLite's busy timeout ran out).
    locked: usize,
}

impl ServerLog {
    /// Keeps a JSON log line (`INKAN_LOG_FORMAT=json`): job starts and ends, by time.
    fn take(&mut self, line: String) {
        if let Ok(v) = serde_json::from_str::<Value>(&line) {
            let message = v["fields"]["message"].as_str().unwrap_or_default();
            let started = message == "job started";
            if started || message == "job done" {
                let at = v["timestamp"]
                    .as_str()
                    .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                    .map(SystemTime::from);
                if let Some(at) = at {
                    self.jobs.push(JobEvent {
                        at,
                        started,
                        kind: v["fields"]["kind"].as_str().unwrap_or_default().to_owned(),
                        job: v["fields"]["job"].as_str().unwrap_or_default().to_owned(),
                    });
                }
            }
        }
        if line.contains("database is locked") {
            self.locked += 1;
        }
        if self.tail.len() == 200 {
            self.tail.pop_front();
        }
        self.tail.push_back(line);
    }

    /// The last `n` lines.
    pub fn last(&self, n: usize) -> String {
        let skip = self.tail.len().saturating_sub(n);
        self.tail
            .iter()
            .skip(skip)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// `inkan serve` on a temporary data folder and a free port, killed when dropped.
pub struct Server {
    child: Child,
    pub base: String,
    dir: tempfile::TempDir,
    env: Vec<(String, String)>,
    stdout: Arc<Mutex<Vec<String>>>,
    log: Arc<Mutex<ServerLog>>,
    pub outbox: Outbox,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// `inkan` run in `dir`, without INKAN_*, DATABASE_URL or RUST_LOG from the surroundings.
fn inkan(dir: &Path, env: &[(String, String)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_inkan"));
    cmd.current_dir(dir);
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy().into_owned();
        if key.starts_with("INKAN_") || key == "DATABASE_URL" || key == "RUST_LOG" {
            cmd.env_remove(key);
        }
    }
    cmd.envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    cmd
}

impl Server {
    /// Starts the server on SQLite in its data folder, or on `database_url`; returns once
    /// `/healthz` answers.
    pub fn start(database_url: Option<&str>) -> Self {
        Self::start_with(database_url, &[])
    }

    /// [`Server::start`] with settings of its own in `extra` (environment variables).
    pub fn start_with(database_url: Option<&str>, extra: &[(String, String)]) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("inkan-bench-")
            .tempdir()
            .expect("a temporary folder");
        let data = dir.path().join("data");
        let listen = format!("127.0.0.1:{}", free_port());
        let base = format!("http://{listen}");
        let mut env: Vec<(String, String)> = [
            ("INKAN_DATA_DIR", data.display().to_string()),
            ("INKAN_BASE_URL", base.clone()),
            ("INKAN_INITIAL_ADMIN_EMAIL", ADMIN.to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        if let Some(url) = database_url {
            env.push(("DATABASE_URL".into(), url.to_owned()));
        }
        env.extend(extra.iter().cloned());
        let mut child = inkan(dir.path(), &env)
            .arg("serve")
            .env("INKAN_LISTEN", &listen)
            // Job starts (debug) and ends (info) with their times, for the breakdown.
            .env("INKAN_LOG", "info,domain::jobs=debug")
            .env("INKAN_LOG_FORMAT", "json")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("inkan serve starts");
        note(&format!("inkan serve (pid {}) on {base}", child.id()));
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::new(Mutex::new(ServerLog::default()));
        let out = child.stdout.take().expect("stdout");
        let lines = stdout.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                lock(&lines).push(line);
            }
        });
        let err = child.stderr.take().expect("stderr");
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                lock(&sink).take(line);
            }
        });
        let server = Self {
            child,
            base: base.clone(),
            outbox: Outbox::new(data.join("outbox")),
            dir,
            env,
            stdout,
            log,
        };
        let started = Instant::now();
        while !lock(&server.stdout)
            .iter()
            .any(|l| l.starts_with("Listening on"))
        {
            server.check(started, Duration::from_secs(60), "to listen");
            std::thread::sleep(Duration::from_millis(50));
        }
        while server.api().get("/healthz").status != 200 {
            server.check(started, Duration::from_secs(60), "to answer /healthz");
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    /// Fails the bench, with the server's last words, when it is too late for `what`.
    fn check(&self, since: Instant, within: Duration, what: &str) {
        if since.elapsed() > within {
            panic!(
                "inkan serve did not manage {what} within {within:?}; its log ends:\n{}",
                self.tail()
            );
        }
    }

    fn tail(&self) -> String {
        lock(&self.log).last(30)
    }

    pub fn api(&self) -> Api {
        let mut api = Api::new(&self.base);
        api.log = Some(self.log.clone());
        api
    }

    /// The first administrator, logged in with a password of their own.
    pub fn admin(&self) -> Api {
        let printed = lock(&self.stdout).join("\n");
        let temporary = labelled(&printed, "temporary password:");
        let mut api = self.api();
        api.first_login(ADMIN, &temporary, PASSWORD);
        api
    }

    /// A new user with `roles`, created by `admin`, logged in with the bench's password.
    pub fn user(&self, admin: &mut Api, email: &str, roles: &[&str]) -> Api {
        admin
            .post(
                "/api/users",
                json!({ "display_name": email, "email": email, "roles": roles }),
            )
            .expect(201, &format!("creating {email}"));
        let body = self
            .outbox
            .wait_body(email, |s| s == "アカウント発行のお知らせ");
        let mut api = self.api();
        api.first_login(email, &labelled(&body, "仮パスワード:"), PASSWORD);
        api
    }

    /// The instance operator, made by `inkan admin create-operator` and logged in.
    pub fn operator(&self) -> Api {
        let email = "op@example.jp";
        let out = inkan(self.dir.path(), &self.env)
            .args(["admin", "create-operator", "--email", email])
            .output()
            .expect("inkan admin create-operator runs");
        let printed = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "inkan admin create-operator: {printed}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut api = self.api();
        api.first_login(email, &labelled(&printed, "temporary password:"), PASSWORD);
        api
    }

    /// The party's token in the signature request of contract `title` mailed to `to`.
    pub fn request_token(&self, to: &str, title: &str) -> String {
        let prefix = format!("【署名依頼】{title}（");
        let body = self.outbox.wait_body(to, |s| s.starts_with(&prefix));
        let link = format!("{}/sign/", self.base);
        body.lines()
            .find_map(|l| l.trim().strip_prefix(link.as_str()))
            .unwrap_or_else(|| panic!("no {link}… link in {body}"))
            .to_owned()
    }

    /// Peak and current resident set size of the server process, in kB.
    pub fn rss_kb(&self) -> (u64, u64) {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("the server's /proc status");
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
                .unwrap_or(0)
        };
        (field("VmHWM:"), field("VmRSS:"))
    }

    /// How many requests it answered 5xx (each sent again), and how many of its log lines said
    /// "database is locked".
    pub fn trouble(&self) -> (usize, usize) {
        let log = lock(&self.log);
        (log.retried, log.locked)
    }

    /// CPU time (user + system) the server process has used so far, in seconds.
    pub fn cpu_seconds(&self) -> f64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id()))
            .expect("the server's /proc stat");
        // After the command name in parentheses: state is field 3, utime 14, stime 15.
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .map_or("", |(_, rest)| rest)
            .split_whitespace()
            .collect();
        let ticks = |i: usize| {
            fields
                .get(i)
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        (ticks(11) + ticks(12)) / clock_ticks()
    }

    /// The first `kind` job that started within [`from`, `to`]: (started, done).
    pub fn job_between(
        &self,
        kind: &str,
        from: SystemTime,
        to: SystemTime,
    ) -> Option<(SystemTime, SystemTime)> {
        let log = lock(&self.log);
        let start = log
            .jobs
            .iter()
            .find(|e| e.started && e.kind == kind && e.at >= from && e.at <= to)?;
        let done = log.jobs.iter().find(|e| !e.started && e.job == start.job)?;
        Some((start.at, done.at))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Clock ticks per second of /proc's CPU times (`getconf CLK_TCK`; 100 almost everywhere).
fn clock_ticks() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
            .unwrap_or(100.0)
    })
}

pub fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The value after `label` on its line of `text` (`仮パスワード: …`).
pub fn labelled(text: &str, label: &str) -> String {
    text.lines()
        .find_map(|l| l.trim().strip_prefix(label))
        .map(|v| v.trim().to_owned())
        .unwrap_or_else(|| panic!("no '{label}' in {text}"))
}
