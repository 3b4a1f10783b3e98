//! The job runner against SQLite and PostgreSQL: enqueueing inside the caller's transaction,
//! dedupe keys, retries with backoff, giving up, two runners sharing one queue, leases that run
//! out, and the periodic scheduler.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use domain::db::Db;
use domain::jobs::{self, Handler, Job, Kind, NewJob, Permanent, Runner};
use serde::Deserialize;
use serde_json::json;
use sqlx::Row;

use crate::on_both_databases;
use crate::support::{Backend, TestClock, TestDb};

/// What a [`Scripted`] job does, from its payload.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Script {
    /// Fails its first `fail` attempts.
    fail: i64,
    /// Fails with a [`Permanent`] error.
    permanent: bool,
    /// Its first attempt never ends (the process running it hangs or dies).
    hang_first: bool,
    /// Its first attempt waits for [`Scripted::release`].
    wait_first: bool,
    sleep_ms: u64,
}

/// A handler of [`Kind::Test`] jobs doing what each job's [`Script`] says, and counting the
/// attempts it started per job id.
#[derive(Clone, Default)]
struct Scripted {
    runs: Arc<Mutex<HashMap<String, usize>>>,
    release: Arc<tokio::sync::Notify>,
}

impl Scripted {
    fn runs(&self) -> HashMap<String, usize> {
        self.runs.lock().expect("lock").clone()
    }
}

impl Handler for Scripted {
    fn kinds(&self) -> Vec<Kind> {
        vec![Kind::Test]
    }

    fn backoff(&self, job: &Job) -> i64 {
        jobs::backoff(10, job.attempt)
    }

    async fn run(&self, job: &Job) -> anyhow::Result<()> {
        *self
            .runs
            .lock()
            .expect("lock")
            .entry(job.id.clone())
            .or_default() += 1;
        let script: Script = job.payload()?;
        if script.hang_first && job.attempt == 1 {
            std::future::pending::<()>().await;
        }
        if script.wait_first && job.attempt == 1 {
            self.release.notified().await;
        }
        tokio::time::sleep(Duration::from_millis(script.sleep_ms)).await;
        if script.permanent {
            return Err(Permanent("refused for good".into()).into());
        }
        anyhow::ensure!(job.attempt > script.fail, "planned failure {}", job.attempt);
        Ok(())
    }
}

/// A job's row.
#[derive(Debug)]
struct Stored {
    status: String,
    attempts: i64,
    run_at: i64,
    last_error: Option<String>,
    lease_until: Option<i64>,
    finished_at: Option<i64>,
}

async fn stored(db: &Db, id: &str) -> Stored {
    let r = sqlx::query(
        "SELECT status, attempts, run_at, last_error, lease_until, finished_at FROM jobs \
         WHERE id = $1",
    )
    .bind(id)
    .fetch_one(&db.pool)
    .await
    .expect("the job's row");
    Stored {
        status: r.try_get("status").expect("status"),
        attempts: r.try_get("attempts").expect("attempts"),
        run_at: r.try_get("run_at").expect("run_at"),
        last_error: r.try_get("last_error").expect("last_error"),
        lease_until: r.try_get("lease_until").expect("lease_until"),
        finished_at: r.try_get("finished_at").expect("finished_at"),
    }
}

/// Enqueues a committed test job following `script`.
async fn enqueue(db: &Db, now: i64, script: serde_json::Value, max_attempts: i64) -> String {
    jobs::enqueue(
        &db.pool,
        now,
        &NewJob::new(Kind::Test, script).max_attempts(max_attempts),
    )
    .await
    .expect("enqueue")
    .expect("no dedupe key, so written")
}

/// Waits (at most 20 s) until `id` is in `status`.
async fn wait_for_status(db: &Db, id: &str, status: &str) {
    let started = Instant::now();
    while stored(db, id).await.status != status {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "never {status}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

on_both_databases!(
    a_job_enqueued_in_a_rolled_back_transaction_does_not_exist,
    a_dedupe_key_is_used_once_even_after_its_job_ran,
    a_failing_job_is_retried_with_backoff_and_keeps_its_error_until_it_succeeds,
    a_job_that_keeps_failing_is_failed_after_max_attempts,
    two_runners_run_each_of_200_jobs_exactly_once,
    a_job_whose_lease_ran_out_is_taken_over_and_finished_once,
    a_running_job_keeps_its_lease_alive,
    the_scheduler_creates_each_periods_job_once_across_processes,
    a_job_enqueued_claimed_is_run_by_its_caller_or_after_its_lease_by_any_runner,
);

/// A job enqueued claimed (a signature's, run by the request that asked for it) exists only if
/// its transaction commits; no runner takes it while its caller's lease holds; the caller runs
/// it to its end once; and when the caller dies before running it, a runner takes it once the
/// lease has run out.
async fn a_job_enqueued_claimed_is_run_by_its_caller_or_after_its_lease_by_any_runner(
    backend: Backend,
) {
    let Some(t) = TestDb::new(backend).await else {
        return;
    };
    let clock = TestClock::start();
    let handler = Scripted::default();
    let runner = Runner::new(t.db.clone(), clock.clock.clone(), handler.clone());
    let claimed = |key: &'static str| {
        NewJob::new(Kind::Test, json!({}))
            .max_attempts(3)
            .dedupe_key(key)
    };

    let mut tx = t.db.begin().await.expect("begin");
    jobs::enqueue_claimed(&mut *tx, clock.now(), &claimed("rolled back"), 30)
        .await
        .expect("enqueue")
        .expect("written");
    tx.rollback().await.expect("rollback");
    assert_eq!(t.count("SELECT COUNT(*) FROM jobs").await, 0);

    let mut tx = t.db.begin().await.expect("begin");
    let claim = jobs::enqueue_claimed(&mut *tx, clock.now(), &claimed("run by its caller"), 30)
        .await
        .expect("enqueue")
        .expect("written");
    tx.commit().await.expect("commit");
    let id = claim.id().to_owned();
    let job = stored(&t.db, &id).await;
    assert_eq!((job.status.as_str(), job.attempts), ("running", 1));
    assert_eq!(job.lease_until, Some(clock.now() + 30));
    assert!(!runner.run_one().await.expect("run"), "its caller holds it");
    assert!(
        jobs::enqueue_claimed(&t.db.pool, clock.now(), &claimed("run by its caller"), 30)
            .await
            .expect("enqueue")
            .is_none(),
        "the dedupe key is taken"
    );
    runner.run_claim(claim).await.expect("run");
    let job = stored(&t.db, &id).await;
    assert_eq!((job.status.as_str(), job.attempts), ("done", 1));
    assert_eq!(handler.runs()[&id], 1);

    // Its caller died before running it.
    let lost = jobs::enqueue_claimed(&t.db.pool, clock.now(), &claimed("caller died"), 30)
        .await
        .expect("enqueue")
        .expect("written");
    let id = lost.id().to_owned();
    drop(lost);
    clock.set(29);
    assert!(
        !runner.run_one().await.expect("run"),
        "the lease still holds"
    );
    clock.set(31);
    assert!(runner.run_one().await.expect("run"));
    let job = stored(&t.db, &id).await;
    assert_eq!((job.status.as_str(), job.attempts), ("done", 2));
    assert_eq!(handler.runs()[&id], 1);
}

async fn a_job_enqueued_in_a_rolled_back_transaction_does_not_exist(backend: Backend) {
    let Some(t) = TestDb::new(backend).await else {
        return;
    };
    let mut tx = t.db.begin().await.expect("begin");
    jobs::enqueue(&mut *tx, 1000, &NewJob::new(Kind::Test, json!({})))
        .await
        .expect("enqueue")
        .expect("written");
    tx.rollback().await.expect("rollback");
    assert_eq!(t.count("SELECT COUNT(*) FROM jobs").await, 0);

    let mut tx = t.db.begin().await.expect("begin");
    let id = jobs::enqueue(
        &mut *tx,
        1000,
        &NewJob::new(Kind::Test, json!({})).run_at(1500),
    )
    .await
    .expect("enqueue")
    .expect("written");
    tx.commit().await.expect("commit");
    let job = stored(&t.db, &id).await;
    assert_eq!(
        (job.status.as_str(), job.attempts, job.run_at),
        ("pending", 0, 1500)
    );
}

async fn a_dedupe_key_is_used_once_even_after_its_job_ran(backend: Backend) {
    let Some(t) = TestDb::new(backend).await else {
        return;
    };
    let keyed = || NewJob::new(Kind::Test, json!({})).dedupe_key("report@1000");
    let first = jobs::enqueue(&t.db.pool, 1000, &keyed())
        .await
        .expect("enqueue");
    assert!(first.is_some());
    let again = jobs::enqueue(&t.db.pool, 1001, &keyed())
        .await
        .expect("enqueue");
    assert_eq!(again, None, "a pending job has the key");

    // Two transactions racing for one key: the second waits for the first and writes nothing.
    let racing = NewJob::new(Kind::Test, json!({})).dedupe_key("report@2000");
    let mut tx1 = t.db.begin().await.expect("begin");
    assert!(jobs::enqueue(&mut *tx1, 2000, &racing)
        .await
        .expect("enqueue")
        .is_some());
    let second = {
        let db = t.db.clone();
        let racing = racing.clone();
        tokio::spawn(async move {
            let mut tx2 = db.begin().await.expect("begin");
            let written = jobs::enqueue(&mut *tx2, 2000, &racing)
                .await
                .expect("enqueue");
            tx2.commit().await.expect("commit");
            written
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    tx1.commit().await.expect("commit");
    assert_eq!(second.await.expect("task"), None);

    let clock = TestClock::start();
    let runner = Runner::new(t.db.clone(), clock.clock.clone(), Scripted::default());
    assert_eq!(runner.run_until_idle().await.expect("run"), 2);
    let after = jobs::enqueue(&t.db.pool, 3000, &keyed())
        .await
        .expect("enqueue");
    assert_eq!(after, None, "a finished job keeps its key");
    assert_eq!(t.count("SELECT COUNT(*) FROM jobs").await, 2);
}

async fn a_failing_job_is_retried_with_backoff_and_keeps_its_error_until_it_succeeds(
    backend: Backend,
) {
    let Some(t) = TestDb::new(backend).await else {
        return;
    };
    let clock = TestClock::start();
    let handler = Scripted::default();
    let runner = Runner::new(t.db.clone(), clock.clock.clone(), handler.clone());
    let id = enqueue(&t.db, clock.now(), json!({ "fail": 2 }), 5).await;

    // Each failure is kept and the next attempt waits 10 s, then 20 s (the handler's base, doubled).
    let mut offset = 0;
    for (attempt, delay) in [(1, 10), (2, 20)] {
        let before = clock.now();
        assert!(runner.run_one().await.expect("run"));
        let after = clock.now();
        let job = stored(&t.db, &id).await;
        assert_eq!((job.status.as_str(), job.attempts), ("pending", attempt));
        assert_eq!(
            job.last_error.as_deref(),
            Some(format!("planned failure {attempt}").as_str())
        );
        assert!(
            (before + delay..=after + delay).contains(&job.run_at),
            "attempt {attempt}: run_at {} not {delay} s after {before}..{after}",
            job.run_at
        );
        assert_eq!((job.lease_until, job.finished_at), (None, None));
        assert!(!runner.run_one().await.expect("run"), "not due yet");
        offset += delay + 2;
        clock.set(offset);
    }
    assert!(runner.run_one().await.expect("run"));
    let job = stored(&t.db, &id).await;
    assert_eq!((job.status.as_str(), job.attempts), ("done", 3));
    assert!(job.finished_at.is_some());
    assert_eq!(job.last_error.as_deref(), Some("planned failure 2"));
    assert_eq!(handler.runs()[&id], 3);
    assert!(!runner.run_one().await.expect("run"));
}

async fn a_job_that_keeps_failing_is_failed_after_max_attempts(backend: Backend) {
    let Some(t) = TestDb::new(backend).await else {
        return;
    };
    let clock = TestClock::start();
    let runner = Runner::new(t.db.clone(), clock.clock.clone(), Scripted::default());
    let id = enqueue(&t.db, clock.now(), json!({ "fail": 99 }), 2).await;
    assert!(runner.run_one().await.expect("run"));
    assert_eq!(stored(&t.db, &id).await.status, "pending");
    clock.set(60);
    assert!(runner.run_one().await.expect("run"));
    let job = stored(&t.db, &id).await;
    assert_eq!((job.status.as_str(), job.attempts), ("failed", 2));
    assert_eq!(job.last_error.as_deref(), Some("planned failure 2"));
    assert!(job.finished_at.is_some());
    clock.set(100_000);
    assert!(!runner.run_one().await.expect("run"), "never tried again");

    // An error retrying cannot cure fails the job at its first attempt.
    let id = enqueue(&t.db, clock.now(), json!({ "permanent": true }), 5).await;
    assert!(runner.run_one().await.expect("run"));
    let job = stored(&t.db, &id).await;
    assert_eq!((job.status.as_str(), job.attempts), ("failed", 1));
    assert_eq!(job.last_error.as_deref(), Some("refused for good"));
}

async fn two_runners_run_each_of_200_jobs_exactly_once(backend: Backend) {
    let Some(t) = TestDb::new(backend).await else {
        return;
    };
    let clock = TestClock::start();
    let now = clock.now();
    let mut tx = t.db.begin().await.expect("begin");
    for _ in 0..200 {
        jobs::enqueue(
            &mut *tx,
            now,
            &NewJob::new(Kind::Test, json!({ "sleep_ms": 2 })),
        )
        .await
        .expect("enqueue");
    }
    tx.commit().await.expect("commit");
    // Two pools, as two processes have, each runner running four jobs at once.
    let handlers = [Scripted::default(), Scripted::default()];
    let mut runners = Vec::new();
    for handler in &handlers {
        let db = t.second_pool().await;
        let runner = Runner::new(db, clock.clock.clone(), handler.clone())
            .concurrency(4)
            .poll_interval(Duration::from_millis(20));
        runners.push(tokio::spawn(std::sync::Arc::new(runner).run()));
    }
    let started = Instant::now();
    while t
        .count("SELECT COUNT(*) FROM jobs WHERE status = 'done'")
        .await
        < 200
    {
        assert!(started.elapsed() < Duration::from_secs(120), "not all done");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    for runner in runners {
        runner.abort();
    }
    let (a, b) = (handlers[0].runs(), handlers[1].runs());
    eprintln!("runner A ran {}, runner B ran {}", a.len(), b.len());
    let mut all = a.clone();
    for (id, n) in b {
        *all.entry(id).or_default() += n;
    }
    assert_eq!(all.len(), 200);
    assert!(all.values().all(|n| *n == 1), "a job ran twice");
    assert_eq!(
        t.count("SELECT COUNT(*) FROM jobs WHERE status = 'done' AND attempts = 1")
            .await,
        200
    );
}

async fn a_job_whose_lease_ran_out_is_taken_over_and_finished_once(backend: Backend) {
    let Some(t) = TestDb::new(backend).await else {
        return;
    };
    let clock = TestClock::start();
    let (first, second) = (Scripted::default(), Scripted::default());
    let first_runner = Arc::new(
        Runner::new(t.second_pool().await, clock.clock.clone(), first.clone()).lease_seconds(60),
    );
    let second_runner = Runner::new(t.db.clone(), clock.clock.clone(), second.clone());

    // The first runner's process hangs in the job, then dies (the task is dropped).
    let id = enqueue(&t.db, clock.now(), json!({ "hang_first": true }), 5).await;
    let hung = tokio::spawn({
        let runner = first_runner.clone();
        async move { runner.run_one().await }
    });
    wait_for_status(&t.db, &id, "running").await;
    hung.abort();
    assert!(
        !second_runner.run_one().await.expect("run"),
        "the lease still holds"
    );
    clock.set(61);
    assert!(second_runner.run_one().await.expect("run"));
    let job = stored(&t.db, &id).await;
    assert_eq!((job.status.as_str(), job.attempts), ("done", 2));
    assert!(
        job.last_error
            .as_deref()
            .unwrap_or("")
            .contains("lease ran out"),
        "{job:?}"
    );
    assert_eq!((first.runs()[&id], second.runs()[&id]), (1, 1));

    // A runner that stalls past its lease finds the job taken over when it wakes up: its
    // outcome is not recorded over the other runner's.
    let id = enqueue(
        &t.db,
        clock.now(),
        json!({ "wait_first": true, "fail": 1 }),
        5,
    )
    .await;
    let stalled = tokio::spawn({
        let runner = first_runner.clone();
        async move { runner.run_one().await }
    });
    wait_for_status(&t.db, &id, "running").await;
    clock.set(200);
    assert!(second_runner.run_one().await.expect("run"));
    first.release.notify_one();
    assert!(stalled.await.expect("task").expect("run"));
    let job = stored(&t.db, &id).await;
    assert_eq!(
        (job.status.as_str(), job.attempts),
        ("done", 2),
        "the stalled attempt's failure was not recorded"
    );

    // A job whose last allowed attempt lost its process is failed by the sweep, not run again.
    let id = enqueue(&t.db, clock.now(), json!({ "hang_first": true }), 1).await;
    let hung = tokio::spawn({
        let runner = first_runner.clone();
        async move { runner.run_one().await }
    });
    wait_for_status(&t.db, &id, "running").await;
    hung.abort();
    clock.set(400);
    assert!(!second_runner.run_one().await.expect("run"));
    jobs::sweep(&t.db, clock.now()).await.expect("sweep");
    let job = stored(&t.db, &id).await;
    assert_eq!((job.status.as_str(), job.attempts), ("failed", 1));
    assert!(job
        .last_error
        .as_deref()
        .unwrap_or("")
        .contains("lease ran out"));
}

async fn a_running_job_keeps_its_lease_alive(backend: Backend) {
    let Some(t) = TestDb::new(backend).await else {
        return;
    };
    let clock = TestClock::start();
    let runner = Arc::new(
        Runner::new(t.db.clone(), clock.clock.clone(), Scripted::default()).lease_seconds(3),
    );
    let id = enqueue(&t.db, clock.now(), json!({ "sleep_ms": 4500 }), 5).await;
    let running = tokio::spawn({
        let runner = runner.clone();
        async move { runner.run_one().await }
    });
    wait_for_status(&t.db, &id, "running").await;
    let first = stored(&t.db, &id).await.lease_until.expect("leased");
    tokio::time::sleep(Duration::from_millis(3500)).await;
    let later = stored(&t.db, &id).await;
    assert_eq!(later.status, "running");
    assert!(
        later.lease_until.expect("leased") > first,
        "the lease was not renewed"
    );
    assert!(running.await.expect("task").expect("run"));
    assert_eq!(stored(&t.db, &id).await.status, "done");
}

async fn the_scheduler_creates_each_periods_job_once_across_processes(backend: Backend) {
    let Some(t) = TestDb::new(backend).await else {
        return;
    };
    let other = t.second_pool().await;
    let schedule = |db: Db, now: i64| async move {
        jobs::work::schedule(&db, now, 60).await.expect("schedule")
    };
    // 6000 starts a ten-minute sweep period and a one-minute period of the others.
    assert_eq!(schedule(t.db.clone(), 6000).await, 4);
    assert_eq!(schedule(other.clone(), 6000).await, 0);
    assert_eq!(schedule(other.clone(), 6059).await, 0);
    assert_eq!(schedule(t.db.clone(), 6060).await, 3);
    assert_eq!(schedule(other.clone(), 6600).await, 4);
    let keys: Vec<String> = sqlx::query("SELECT dedupe_key FROM jobs ORDER BY dedupe_key")
        .fetch_all(&t.db.pool)
        .await
        .expect("keys")
        .iter()
        .map(|r| r.try_get("dedupe_key").expect("key"))
        .collect();
    assert_eq!(
        keys,
        [
            "audit_walk@6000",
            "audit_walk@6060",
            "audit_walk@6600",
            "contract_timers@6000",
            "contract_timers@6060",
            "contract_timers@6600",
            "renewal_notices@6000",
            "renewal_notices@6060",
            "renewal_notices@6600",
            "sweep@6000",
            "sweep@6600",
        ]
    );

    // The service's handler runs them all (an empty instance: nothing to sweep or remind), but
    // the contract timers, which a handler without the contracts' desk leaves to another.
    let clock = TestClock::start();
    let mailer = domain::email::Mailer::from_config(&t.config).expect("mailer");
    let work = jobs::work::Work::new(t.db.clone(), clock.clock.clone(), mailer);
    let runner = Runner::new(t.db.clone(), clock.clock.clone(), work);
    assert_eq!(runner.run_until_idle().await.expect("run"), 8);
    assert_eq!(
        t.count("SELECT COUNT(*) FROM jobs WHERE status = 'done'")
            .await,
        8
    );
}
