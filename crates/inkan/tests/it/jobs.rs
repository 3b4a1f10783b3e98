//! The job runner across processes: a job is running in one `inkan serve` when that process is
//! killed (SIGKILL, so it records nothing); a second process on the same database leaves the job
//! alone while its lease holds, takes it over once the lease has run out (the clock is moved,
//! not waited for) and finishes it, once.
//!
//! The job is of the test kind, which a server runs only with `INKAN_TEST_JOBS=1`: it writes
//! `start <pid>` to a log file, blocks until a release file exists, then writes `finish <pid>`.

use std::path::Path;
use std::time::Duration;

use sqlx::Row;

use crate::serve::{Backend, TestApp, TestDb};
use crate::service::set_clock;
use crate::support::wait_until;

/// (status, attempts, last_error) of the job.
fn job_row(db: &TestDb, id: &'static str) -> (String, i64, Option<String>) {
    db.with_conn(move |c| {
        Box::pin(async move {
            let r = sqlx::query("SELECT status, attempts, last_error FROM jobs WHERE id = $1")
                .bind(id)
                .fetch_one(c)
                .await?;
            Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?))
        })
    })
}

/// The log's lines as (what, pid).
fn log_lines(log: &Path) -> Vec<(String, u32)> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(|l| {
            let (what, pid) = l.split_once(' ').expect("<what> <pid>");
            (what.to_owned(), pid.parse().expect("a pid"))
        })
        .collect()
}

fn a_job_running_in_a_killed_process_is_taken_over_and_finished_once(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    let work = tempfile::tempdir().expect("tempdir");
    let clock = work.path().join("offset");
    set_clock(&clock, 0);
    let clock_env = clock.display().to_string();
    let serve = |db: TestDb| {
        let mut cmd = db.command(&["serve"]);
        cmd.env("INKAN_TEST_CLOCK_FILE", &clock_env)
            .env("INKAN_TEST_JOBS", "1");
        TestApp::start(db, cmd)
    };
    let first = serve(db.share());
    let log = work.path().join("log");
    let release = work.path().join("release");
    let payload = serde_json::json!({ "log": log, "release": release }).to_string();
    db.with_conn(move |c| {
        Box::pin(async move {
            sqlx::query(
                "INSERT INTO jobs (id, kind, payload, status, run_at, attempts, max_attempts, \
                 created_at) VALUES ('blocking', 'test', $1, 'pending', 0, 0, 5, 0)",
            )
            .bind(payload)
            .execute(c)
            .await
            .map(|_| ())
        })
    });
    wait_until(
        Duration::from_secs(30),
        "the first process starts the job",
        || !log_lines(&log).is_empty(),
    );
    assert_eq!(job_row(&db, "blocking").0, "running");

    // TestApp's drop kills the process with SIGKILL (std's Child::kill): no outcome recorded.
    drop(first);
    let second = serve(db.share());
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(log_lines(&log).len(), 1, "taken over while the lease held");
    assert_eq!(job_row(&db, "blocking").0, "running");

    std::fs::write(&release, "").expect("release");
    // Past the lease (60 s) of the dead process.
    set_clock(&clock, 120);
    wait_until(
        Duration::from_secs(30),
        "the second process finishes the job",
        || job_row(&db, "blocking").0 == "done",
    );
    std::thread::sleep(Duration::from_secs(3));
    let lines = log_lines(&log);
    let [(start1, pid1), (start2, pid2), (finish, pid3)] = lines.as_slice() else {
        panic!("not two starts and one finish: {lines:?}");
    };
    assert_eq!((start1.as_str(), start2.as_str()), ("start", "start"));
    assert_eq!(finish, "finish");
    assert_ne!(pid1, pid2, "taken over by the other process");
    assert_eq!(pid2, pid3);
    let (status, attempts, last_error) = job_row(&db, "blocking");
    assert_eq!((status.as_str(), attempts), ("done", 2));
    assert!(
        last_error
            .as_deref()
            .unwrap_or("")
            .contains("lease ran out"),
        "{last_error:?}"
    );
    drop(second);
}

#[test]
fn a_job_running_in_a_killed_process_is_taken_over_and_finished_once_on_postgres() {
    a_job_running_in_a_killed_process_is_taken_over_and_finished_once(Backend::Postgres);
}

#[test]
fn a_job_running_in_a_killed_process_is_taken_over_and_finished_once_on_sqlite() {
    a_job_running_in_a_killed_process_is_taken_over_and_finished_once(Backend::Sqlite);
}
