//! Mail as a job, against SQLite and PostgreSQL: queued in the caller's transaction (the outbox
//! row and its delivery job, both or neither), delivered by the runner, a failed delivery
//! recorded on the outbox row and retried; mail waiting in an older release's outbox becomes a
//! job when the database is upgraded.

use std::time::Duration;

use domain::accounts::Email;
use domain::config::{Config, SmtpTls};
use domain::email::{self, Mailer, Outgoing};
use domain::jobs::{work::Work, Runner};
use sqlx::Row;

use crate::on_both_databases;
use crate::support::{Backend, EmptyDb, TestClock, TestDb};

async fn queue(tx: &mut sqlx::Transaction<'static, sqlx::Any>, now: i64, subject: &str) {
    let to = Email::parse("kanri@example.jp").expect("address");
    email::enqueue(
        &mut **tx,
        now,
        &Outgoing {
            org_id: None,
            to: &to,
            subject,
            body_text: "仮パスワード: Xy3",
            attachments: &[],
        },
    )
    .await
    .expect("queued");
}

/// (attempts, sent, last_error, body) of the outbox row with `subject`.
async fn outbox(t: &TestDb, subject: &str) -> (i64, bool, Option<String>, String) {
    let r = sqlx::query(
        "SELECT attempts, sent_at, last_error, body_text FROM outbox WHERE subject = $1",
    )
    .bind(subject)
    .fetch_one(&t.db.pool)
    .await
    .expect("the outbox row");
    (
        r.try_get("attempts").expect("attempts"),
        r.try_get::<Option<i64>, _>("sent_at")
            .expect("sent_at")
            .is_some(),
        r.try_get("last_error").expect("last_error"),
        r.try_get("body_text").expect("body"),
    )
}

on_both_databases!(
    a_mail_is_queued_with_its_transaction_and_delivered_by_its_job,
    a_failed_delivery_is_recorded_and_retried_after_the_retry_delay,
    mail_waiting_in_the_outbox_before_the_upgrade_becomes_a_job,
);

async fn a_mail_is_queued_with_its_transaction_and_delivered_by_its_job(backend: Backend) {
    let Some(t) = TestDb::new(backend).await else {
        return;
    };
    let clock = TestClock::start();
    let mut tx = t.db.begin().await.expect("begin");
    queue(&mut tx, clock.now(), "取り消し").await;
    tx.rollback().await.expect("rollback");
    assert_eq!(t.count("SELECT COUNT(*) FROM outbox").await, 0);
    assert_eq!(t.count("SELECT COUNT(*) FROM jobs").await, 0);

    let mut tx = t.db.begin().await.expect("begin");
    queue(&mut tx, clock.now(), "アカウント発行のお知らせ").await;
    tx.commit().await.expect("commit");
    assert_eq!(
        t.count("SELECT COUNT(*) FROM jobs WHERE kind = 'email' AND status = 'pending'")
            .await,
        1
    );

    let mailer = Mailer::from_config(&t.config).expect("mailer");
    let runner = Runner::new(
        t.db.clone(),
        clock.clock.clone(),
        Work::new(t.db.clone(), clock.clock.clone(), mailer),
    );
    assert_eq!(runner.run_until_idle().await.expect("run"), 1);
    let (attempts, sent, _, body) = outbox(&t, "アカウント発行のお知らせ").await;
    assert_eq!((attempts, sent), (1, true));
    assert_eq!(body, "", "the temporary password is not kept once sent");
    let files: Vec<_> = std::fs::read_dir(t.config.data_dir.join("outbox"))
        .expect("the outbox folder")
        .map_while(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
        .collect();
    assert_eq!(files.len(), 1);
    assert_eq!(
        t.count("SELECT COUNT(*) FROM jobs WHERE kind = 'email' AND status = 'done'")
            .await,
        1
    );
}

async fn a_failed_delivery_is_recorded_and_retried_after_the_retry_delay(backend: Backend) {
    let Some(t) = TestDb::new(backend).await else {
        return;
    };
    // Nothing listens on the port.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let config = Config {
        smtp_host: Some("127.0.0.1".into()),
        smtp_port: Some(port),
        smtp_tls: SmtpTls::None,
        mail_retry_seconds: 7,
        ..t.config.clone()
    };
    let clock = TestClock::start();
    let mut tx = t.db.begin().await.expect("begin");
    queue(&mut tx, clock.now(), "パスワード再設定のご案内").await;
    tx.commit().await.expect("commit");
    let runner = Runner::new(
        t.db.clone(),
        clock.clock.clone(),
        Work::new(
            t.db.clone(),
            clock.clock.clone(),
            Mailer::from_config(&config).expect("mailer"),
        ),
    )
    .poll_interval(Duration::from_millis(20));
    let before = clock.now();
    assert!(runner.run_one().await.expect("run"));
    let after = clock.now();
    let (attempts, sent, last_error, _) = outbox(&t, "パスワード再設定のご案内").await;
    assert_eq!((attempts, sent), (1, false));
    assert!(!last_error.unwrap_or_default().is_empty());
    let job = sqlx::query("SELECT status, run_at, last_error FROM jobs WHERE kind = 'email'")
        .fetch_one(&t.db.pool)
        .await
        .expect("the job");
    assert_eq!(
        job.try_get::<String, _>("status").expect("status"),
        "pending"
    );
    let run_at: i64 = job.try_get("run_at").expect("run_at");
    assert!((before + 7..=after + 7).contains(&run_at), "{run_at}");
    let error: String = job.try_get("last_error").expect("last_error");
    assert!(error.contains("kanri@example.jp"), "{error}");
    assert!(!runner.run_one().await.expect("run"), "not due yet");
    clock.set(8);
    assert!(runner.run_one().await.expect("run"));
    assert_eq!(outbox(&t, "パスワード再設定のご案内").await.0, 2);
}

async fn mail_waiting_in_the_outbox_before_the_upgrade_becomes_a_job(backend: Backend) {
    let Some(empty) = EmptyDb::new(backend).await else {
        return;
    };
    // The outbox of the release before the job runner: one message waiting for its third
    // attempt, one given up on (the server refused it), one sent.
    empty.migrate_to(7).await;
    let pool = sqlx::AnyPool::connect(&empty.url).await.expect("connect");
    sqlx::query(
        "INSERT INTO outbox (id, org_id, to_addr, subject, body_text, created_at, attempts, \
         next_attempt_at, last_error, sent_at, claimed_by, claimed_until) VALUES \
         ('waiting', NULL, 'kanri@example.jp', '待機', '本文', 100, 2, 500, 'timed out', NULL, NULL, 0), \
         ('refused', NULL, 'nobody@example.jp', '拒否', '本文', 100, 1, 9223372036854775807, '550', NULL, NULL, 0), \
         ('sent', NULL, 'kanri@example.jp', '送信済み', '', 100, 1, 100, NULL, 150, NULL, 0)",
    )
    .execute(&pool)
    .await
    .expect("the old outbox");
    pool.close().await;

    let t = empty.open().await;
    let rows = sqlx::query(
        "SELECT id, kind, payload, status, run_at, attempts, max_attempts, last_error FROM jobs",
    )
    .fetch_all(&t.db.pool)
    .await
    .expect("jobs");
    assert_eq!(rows.len(), 1, "only the waiting message becomes a job");
    let job = &rows[0];
    let text = |c: &str| job.try_get::<String, _>(c).expect(c);
    let number = |c: &str| job.try_get::<i64, _>(c).expect(c);
    assert_eq!(
        (text("id"), text("kind"), text("status")),
        ("waiting".into(), "email".into(), "pending".into())
    );
    let payload: serde_json::Value = serde_json::from_str(&text("payload")).expect("JSON");
    assert_eq!(payload, serde_json::json!({ "outbox_id": "waiting" }));
    assert_eq!(
        (number("run_at"), number("attempts"), number("max_attempts")),
        (500, 2, email::MAX_ATTEMPTS)
    );
    assert_eq!(text("last_error"), "timed out");

    let clock = TestClock::start();
    let mailer = Mailer::from_config(&t.config).expect("mailer");
    let runner = Runner::new(
        t.db.clone(),
        clock.clock.clone(),
        Work::new(t.db.clone(), clock.clock.clone(), mailer),
    );
    assert_eq!(runner.run_until_idle().await.expect("run"), 1);
    let (attempts, sent, _, _) = outbox(&t, "待機").await;
    assert_eq!((attempts, sent), (3, true));
    assert!(!outbox(&t, "拒否").await.1);
}
