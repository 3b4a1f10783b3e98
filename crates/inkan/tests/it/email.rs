//! Email through the outbox: a real SMTP server on loopback (aiosmtpd, `smtp_sink.py`) receives
//! the first administrator's 「アカウント発行のお知らせ」, which is held while the SMTP server is
//! down and delivered when it comes up; without SMTP the message is an .eml file in the data
//! folder's outbox. Messages are decoded by Python's email package, not by the code under test.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sqlx::Row;

use crate::serve::{Backend, TestApp, TestDb};

const PIP_LINE: &str = "~/.cache/inkan-conformance/venv/bin/pip install aiosmtpd==1.4.6";

/// The conformance virtualenv's Python, which has aiosmtpd.
fn python() -> PathBuf {
    std::env::var("INKAN_CONFORMANCE_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(std::env::var("HOME").expect("HOME")).join(".cache/inkan-conformance")
        })
        .join("venv/bin/python")
}

fn sink_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/smtp_sink.py")
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("address")
        .port()
}

/// aiosmtpd on 127.0.0.1:`port`, writing each message it accepts into `folder`.
pub struct SmtpSink {
    child: Child,
    folder: PathBuf,
}

impl SmtpSink {
    pub fn start(port: u16, folder: &Path) -> Self {
        let mut child = Command::new(python())
            .arg(sink_script())
            .args(["serve", &port.to_string()])
            .arg(folder)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "{} does not run ({e}); install with: {PIP_LINE}",
                    python().display()
                )
            });
        let mut line = String::new();
        let _ = BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line);
        if line.trim() != "ready" {
            let _ = child.kill();
            let out = child.wait_with_output().expect("output");
            panic!(
                "the SMTP sink did not start (is aiosmtpd installed? {PIP_LINE}): {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Self {
            child,
            folder: folder.to_owned(),
        }
    }

    /// The decoded messages received so far, in order.
    /// Every message received so far. Each subject must carry the service's prefix (【Inkan】
    /// or `[Inkan] `): `subject` is the rest, as the tests look for it; `full_subject` is whole.
    pub fn messages(&self) -> Vec<serde_json::Value> {
        let mut n = 1;
        let mut out = Vec::new();
        while let Ok(text) = std::fs::read_to_string(self.folder.join(format!("{n}.json"))) {
            let mut message: serde_json::Value = serde_json::from_str(&text).expect("JSON");
            let full = message["subject"].as_str().unwrap_or_default().to_owned();
            let topic = full
                .strip_prefix("【Inkan】")
                .or_else(|| full.strip_prefix("[Inkan] "))
                .unwrap_or_else(|| panic!("no service prefix in the subject {full:?}"))
                .to_owned();
            message["subject"] = topic.into();
            message["full_subject"] = full.into();
            out.push(message);
            n += 1;
        }
        out
    }

    pub fn wait_for_messages(&self, count: usize, within: Duration) -> Vec<serde_json::Value> {
        let started = Instant::now();
        loop {
            let messages = self.messages();
            if messages.len() >= count {
                return messages;
            }
            assert!(
                started.elapsed() < within,
                "{count} message(s) not received within {within:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `inkan serve` with a fresh database, delivering by plain SMTP to 127.0.0.1:`port`.
pub fn serve_with_smtp(backend: Backend, port: u16, env: &[(&str, &str)]) -> Option<TestApp> {
    let db = TestDb::new(backend)?;
    let mut cmd = smtp_serve_command(&db, port);
    for (k, v) in env {
        cmd.env(k, v);
    }
    Some(TestApp::start(db, cmd))
}

/// `inkan serve` on `db` mailing through the SMTP sink on `port` (every process of a test's
/// service is configured alike).
pub fn smtp_serve_command(db: &TestDb, port: u16) -> std::process::Command {
    let mut cmd = db.command(&["serve"]);
    cmd.env("INKAN_SMTP_HOST", "127.0.0.1")
        .env("INKAN_SMTP_PORT", port.to_string())
        .env("INKAN_SMTP_TLS", "none")
        .env("INKAN_MAIL_FROM", "印鑑サービス <noreply@inkan.test>")
        .env("INKAN_MAIL_RETRY_SECONDS", "1")
        .env("INKAN_INITIAL_ADMIN_EMAIL", "kanri@example.jp")
        .env("INKAN_BASE_URL", "https://sign.example.jp");
    cmd
}

/// The temporary password the server printed at its first start.
fn printed_password(app: &TestApp) -> String {
    app.stdout
        .iter()
        .find_map(|l| l.trim().strip_prefix("temporary password:"))
        .map(|p| p.trim().to_owned())
        .unwrap_or_else(|| panic!("no temporary password in {:?}", app.stdout))
}

fn assert_account_notice(message: &serde_json::Value, password: &str) {
    // Whole as the .eml file has it; through the SMTP sink, `full_subject`.
    let subject = message.get("full_subject").unwrap_or(&message["subject"]);
    assert_eq!(subject, "【Inkan】アカウント発行のお知らせ", "{message}");
    assert_eq!(message["to"], "kanri@example.jp", "{message}");
    assert_eq!(
        message["from"], "印鑑サービス <noreply@inkan.test>",
        "{message}"
    );
    assert_eq!(message["content_type"], "text/plain", "{message}");
    let body = message["body"].as_str().expect("a text body");
    assert!(
        body.contains("ログイン URL: https://sign.example.jp/login"),
        "{body}"
    );
    let mailed = body
        .lines()
        .find_map(|l| l.strip_prefix("仮パスワード: "))
        .unwrap_or_else(|| panic!("no temporary password in {body}"));
    assert_eq!(mailed.trim(), password);
}

/// (attempts, sent) of the only outbox row.
fn outbox_state(db: &TestDb) -> (i64, bool) {
    db.with_conn(|c| {
        Box::pin(async move {
            let r = sqlx::query(
                "SELECT attempts, CASE WHEN sent_at IS NULL THEN 0 ELSE 1 END AS sent FROM outbox",
            )
            .fetch_one(c)
            .await?;
            Ok((r.try_get(0)?, r.try_get::<i64, _>(1)? == 1))
        })
    })
}

// ---------------------------------------------------------------------------------------------

fn first_administrator_receives_the_account_email(backend: Backend) {
    let port = free_port();
    let folder = tempfile::tempdir().expect("tempdir");
    let sink = SmtpSink::start(port, folder.path());
    let Some(app) = serve_with_smtp(backend, port, &[]) else {
        return;
    };
    let messages = sink.wait_for_messages(1, Duration::from_secs(30));
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert_account_notice(&messages[0], &printed_password(&app));
    assert_eq!(messages[0]["rcpt_tos"][0], "kanri@example.jp");
    let (attempts, sent) = outbox_state(&app.db);
    assert!(sent);
    assert_eq!(attempts, 1);
    // Sent once only: the worker does not pick a delivered message up again.
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(sink.messages().len(), 1);
}

#[test]
fn first_administrator_receives_the_account_email_by_smtp_on_sqlite() {
    first_administrator_receives_the_account_email(Backend::Sqlite);
}

#[test]
fn first_administrator_receives_the_account_email_by_smtp_on_postgres() {
    first_administrator_receives_the_account_email(Backend::Postgres);
}

fn mail_waits_while_smtp_is_down_and_is_sent_when_it_returns(backend: Backend) {
    let port = free_port();
    let Some(app) = serve_with_smtp(backend, port, &[]) else {
        return;
    };
    // Nothing listens on the port: attempts fail, and the message stays queued.
    let started = Instant::now();
    while outbox_state(&app.db).0 < 2 {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no failed delivery attempts recorded"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let (_, sent) = outbox_state(&app.db);
    assert!(!sent);
    let last_error = app.db.with_conn(|c| {
        Box::pin(async move {
            sqlx::query("SELECT last_error FROM outbox")
                .fetch_one(c)
                .await?
                .try_get::<String, _>(0)
        })
    });
    assert!(!last_error.is_empty());

    let folder = tempfile::tempdir().expect("tempdir");
    let sink = SmtpSink::start(port, folder.path());
    let messages = sink.wait_for_messages(1, Duration::from_secs(30));
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert_account_notice(&messages[0], &printed_password(&app));
    let (attempts, sent) = outbox_state(&app.db);
    assert!(sent);
    assert!(attempts >= 3, "{attempts}");
}

#[test]
fn mail_waits_while_smtp_is_down_and_is_sent_when_it_returns_on_sqlite() {
    mail_waits_while_smtp_is_down_and_is_sent_when_it_returns(Backend::Sqlite);
}

#[test]
fn mail_waits_while_smtp_is_down_and_is_sent_when_it_returns_on_postgres() {
    mail_waits_while_smtp_is_down_and_is_sent_when_it_returns(Backend::Postgres);
}

#[test]
fn without_smtp_the_account_email_is_an_eml_file_in_the_outbox_folder() {
    let db = TestDb::new(Backend::Sqlite).expect("SQLite");
    let mut cmd = db.command(&["serve"]);
    cmd.env("INKAN_INITIAL_ADMIN_EMAIL", "kanri@example.jp")
        .env("INKAN_MAIL_FROM", "印鑑サービス <noreply@inkan.test>")
        .env("INKAN_BASE_URL", "https://sign.example.jp");
    let app = TestApp::start(db, cmd);
    let outbox = app.db.dir.path().join("data/outbox");
    let started = Instant::now();
    let file = loop {
        let eml: Vec<PathBuf> = std::fs::read_dir(&outbox)
            .map(|d| {
                d.map_while(Result::ok)
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|x| x == "eml"))
                    .collect()
            })
            .unwrap_or_default();
        if let Some(f) = eml.first() {
            assert_eq!(eml.len(), 1, "{eml:?}");
            break f.clone();
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no .eml in {}",
            outbox.display()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let out = Command::new(python())
        .arg(sink_script())
        .arg("parse")
        .arg(&file)
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let message: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_account_notice(&message, &printed_password(&app));
    assert!(outbox_state(&app.db).1);
}
