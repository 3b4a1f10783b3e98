//! Jobs: every side effect that happens after the change causing it (delivering a mail, the
//! periodic sweep, renewal reminders, the audit-chain walk) is a row in `jobs`, written in the
//! caller's transaction ([`enqueue`]) and run by a [`Runner`] in every `inkan serve` process. A
//! runner claims due jobs with a lease that it keeps alive while the job runs, records the
//! outcome, retries failures with capped exponential backoff up to the job's `max_attempts`, and
//! takes over a job whose process died once its lease has run out. What each kind does, and the
//! scheduler of the periodic kinds, is in [`work`].

pub mod work;

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use sqlx::{Any, Executor, Row};

use crate::accounts::new_id;
use crate::clock::Clock;
use crate::db::{Backend, Db};

/// The longest wait between two attempts.
pub const MAX_BACKOFF_SECONDS: i64 = 3600;
/// The first retry delay of kinds that do not choose their own.
pub const DEFAULT_RETRY_SECONDS: i64 = 30;
/// How long a claim holds without news from its runner. A running job's lease is renewed every
/// third of this, so a job may run longer; a process that dies delays its jobs by this much.
pub const LEASE_SECONDS: i64 = 60;
/// How long finished jobs are kept (their dedupe keys with them): long past the period a
/// scheduler could still enqueue again.
const DONE_KEPT_SECONDS: i64 = 86400;
/// How long failed jobs are kept, for the operator to read `last_error`.
const FAILED_KEPT_SECONDS: i64 = 30 * 86400;
/// `last_error` of a job taken over after its lease ran out.
const LEASE_LOST: &str =
    "the lease ran out before the job finished (its process stopped or stalled)";

crate::db::stored_text! {
    /// What a job does.
    pub enum Kind("job kind") {
        /// Delivers one queued mail (payload: `{"outbox_id": …}`).
        Email = "email",
        /// Drops expired sessions, reset links, seal drafts and old finished jobs.
        Sweep = "sweep",
        /// Queues the due certificate renewal reminders.
        RenewalNotices = "renewal_notices",
        /// Walks the whole audit chain when the last whole walk is an hour old.
        AuditWalk = "audit_walk",
        /// Carries out a party's signature on a contract (payload: `{"signature": …}`).
        ContractSignature = "contract_signature",
        /// Completes a contract every party signed or approved (payload: `{"contract": …}`).
        ContractCompletion = "contract_completion",
        /// Sends the due contract reminders, expires overdue contracts and completes any a
        /// lost completion job left behind.
        ContractTimers = "contract_timers",
        /// POSTs one webhook delivery to its endpoint (payload: `{"delivery": …}`), retrying
        /// for 24 hours (see [`crate::webhooks`]).
        WebhookDelivery = "webhook_delivery",
        /// Looks up a password-reset request's address and mails the link (payload: an
        /// [`crate::auth::ResetRequest`]).
        PasswordReset = "password_reset",
        /// Tests only: run by the service only with `INKAN_TEST_JOBS=1` (see [`work`]), and by
        /// the test's own handlers in the domain tests.
        Test = "test",
    }
}

crate::db::stored_text! {
    /// Where a job is.
    pub enum Status("job status") {
        /// Waiting for `run_at`.
        Pending = "pending",
        /// Claimed by `lease_owner` until `lease_until`.
        Running = "running",
        Done = "done",
        /// Given up: `max_attempts` reached, or an error retrying cannot cure.
        Failed = "failed",
    }
}

/// A job to enqueue: `NewJob::new(kind, payload)`, then optionally a dedupe key, a later start
/// and another attempt limit.
#[derive(Debug, Clone)]
pub struct NewJob {
    kind: Kind,
    payload: serde_json::Value,
    dedupe_key: Option<String>,
    run_at: Option<i64>,
    max_attempts: i64,
}

impl NewJob {
    /// Due at once, five attempts.
    pub fn new(kind: Kind, payload: serde_json::Value) -> Self {
        Self {
            kind,
            payload,
            dedupe_key: None,
            run_at: None,
            max_attempts: 5,
        }
    }

    /// Enqueueing is a no-op when a job (in any status, until purged) already has this key.
    pub fn dedupe_key(mut self, key: impl Into<String>) -> Self {
        self.dedupe_key = Some(key.into());
        self
    }

    /// Not before `at` (Unix seconds).
    pub fn run_at(mut self, at: i64) -> Self {
        self.run_at = Some(at);
        self
    }

    pub fn max_attempts(mut self, attempts: i64) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }
}

/// Writes `job` through `executor` (pass `&mut *tx`: the job exists only if the transaction
/// commits). Returns its id, or `None` when its dedupe key is taken (nothing is written).
pub async fn enqueue<'e, E>(executor: E, now: i64, job: &NewJob) -> anyhow::Result<Option<String>>
where
    E: Executor<'e, Database = Any>,
{
    let id = new_id()?;
    let written = sqlx::query(&format!(
        "INSERT INTO jobs (id, kind, payload, dedupe_key, status, run_at, attempts, \
         max_attempts, created_at) VALUES ($1, $2, $3, $4, '{pending}', $5, 0, $6, $7) \
         ON CONFLICT DO NOTHING",
        pending = Status::Pending.as_str(),
    ))
    .bind(&id)
    .bind(job.kind.as_str())
    .bind(job.payload.to_string())
    .bind(job.dedupe_key.as_deref())
    .bind(job.run_at.unwrap_or(now))
    .bind(job.max_attempts)
    .bind(now)
    .execute(executor)
    .await
    .with_context(|| format!("enqueueing a {} job", job.kind.as_str()))?;
    Ok((written.rows_affected() == 1).then_some(id))
}

/// A job enqueued already claimed by its caller, who runs it at once with
/// [`Runner::run_claim`] (no second statement to claim it): written through `executor` as
/// running, its first attempt, leased for `lease_seconds`. Should the caller die before it is
/// done, the lease runs out and any runner takes it over, as any job whose runner died. `None`
/// when its dedupe key is taken (nothing is written).
pub async fn enqueue_claimed<'e, E>(
    executor: E,
    now: i64,
    job: &NewJob,
    lease_seconds: i64,
) -> anyhow::Result<Option<Claim>>
where
    E: Executor<'e, Database = Any>,
{
    let id = new_id()?;
    let owner = format!("{}-{}", std::process::id(), new_id()?);
    let written = sqlx::query(&format!(
        "INSERT INTO jobs (id, kind, payload, dedupe_key, status, run_at, attempts, \
         max_attempts, created_at, lease_owner, lease_until) \
         VALUES ($1, $2, $3, $4, '{running}', $5, 1, $6, $7, $8, $9) ON CONFLICT DO NOTHING",
        running = Status::Running.as_str(),
    ))
    .bind(&id)
    .bind(job.kind.as_str())
    .bind(job.payload.to_string())
    .bind(job.dedupe_key.as_deref())
    .bind(job.run_at.unwrap_or(now))
    .bind(job.max_attempts)
    .bind(now)
    .bind(&owner)
    .bind(now + lease_seconds)
    .execute(executor)
    .await
    .with_context(|| format!("enqueueing a {} job", job.kind.as_str()))?;
    Ok((written.rows_affected() == 1).then(|| {
        Claim(Claimed {
            job: Job::new(
                id,
                job.kind,
                job.payload.to_string(),
                1,
                job.max_attempts,
                owner.clone(),
            ),
            owner,
        })
    }))
}

/// A job its caller holds (see [`enqueue_claimed`]).
#[derive(Debug)]
pub struct Claim(Claimed);

impl Claim {
    pub fn id(&self) -> &str {
        &self.0.job.id
    }

    /// Hands `value` to the job's handler, which takes it with [`Job::take_handed`] (a lock
    /// the claimant took for the job, say); dropped with the job when not taken.
    pub fn handing(self, value: impl std::any::Any + Send) -> Self {
        *self
            .0
            .job
            .handed
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(Box::new(value));
        self
    }
}

/// Records `job` done in the handler's transaction `tx`, with whatever else the handler writes
/// there (one commit instead of two); its runner then records nothing more. Fails when the
/// job's claim was lost (another runner took it over): `tx` must then roll back.
pub async fn done_in(
    tx: &mut sqlx::Transaction<'static, Any>,
    now: i64,
    job: &Job,
) -> anyhow::Result<()> {
    let done = sqlx::query(&format!(
        "UPDATE jobs SET status = '{done}', finished_at = $1, lease_owner = NULL, \
         lease_until = NULL WHERE id = $2 AND lease_owner = $3 AND status = '{running}'",
        done = Status::Done.as_str(),
        running = Status::Running.as_str(),
    ))
    .bind(now)
    .bind(&job.id)
    .bind(&job.owner)
    .execute(&mut **tx)
    .await
    .context("recording a job done")?;
    anyhow::ensure!(
        done.rows_affected() == 1,
        "the claim on job {} was lost",
        job.id
    );
    job.recorded.store(true, Ordering::Release);
    Ok(())
}

/// A claimed job, as its handler sees it.
#[derive(Debug, Clone)]
pub struct Job {
    pub id: String,
    pub kind: Kind,
    payload: String,
    /// This attempt's number, from 1.
    pub attempt: i64,
    pub max_attempts: i64,
    /// The token of this attempt's claim (`lease_owner`).
    owner: String,
    /// Set by [`done_in`]: the handler recorded the job done in its own transaction.
    recorded: Arc<AtomicBool>,
    /// What the caller that claimed the job handed to its handler ([`Claim::handing`]).
    handed: Handed,
}

/// Something handed from a job's claimant to its handler, taken at most once.
#[derive(Clone, Default)]
struct Handed(Arc<std::sync::Mutex<Option<Box<dyn std::any::Any + Send>>>>);

impl std::fmt::Debug for Handed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Handed")
    }
}

impl Job {
    fn new(
        id: String,
        kind: Kind,
        payload: String,
        attempt: i64,
        max_attempts: i64,
        owner: String,
    ) -> Self {
        Self {
            id,
            kind,
            payload,
            attempt,
            max_attempts,
            owner,
            recorded: Arc::new(AtomicBool::new(false)),
            handed: Handed::default(),
        }
    }

    /// What the claimant handed to this attempt ([`Claim::handing`]), if it is a `T` and not
    /// taken yet.
    pub fn take_handed<T: std::any::Any>(&self) -> Option<T> {
        let mut handed = self.handed.0.lock().unwrap_or_else(|e| e.into_inner());
        match handed.take()?.downcast::<T>() {
            Ok(value) => Some(*value),
            Err(other) => {
                *handed = Some(other);
                None
            }
        }
    }

    /// The payload as `T`; a payload that does not parse is a [`Permanent`] error.
    pub fn payload<T: serde::de::DeserializeOwned>(&self) -> anyhow::Result<T> {
        serde_json::from_str(&self.payload).map_err(|e| {
            Permanent(format!(
                "the payload of {} job {}: {e}",
                self.kind.as_str(),
                self.id
            ))
            .into()
        })
    }
}

/// An error that retrying cannot cure (a mail the SMTP server refused): the job fails at once.
/// Handlers return it inside their `anyhow::Error` (context may be added around it).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Permanent(pub String);

/// The delay before the attempt after failed attempt `attempt` (from 1): `base` doubling each
/// time, capped at [`MAX_BACKOFF_SECONDS`].
pub fn backoff(base: i64, attempt: i64) -> i64 {
    let exponent = (attempt - 1).clamp(0, 20) as u32;
    base.max(1)
        .saturating_mul(1 << exponent)
        .min(MAX_BACKOFF_SECONDS)
}

/// What runs the jobs of some kinds: the service's [`work::Work`], a match over [`Kind`], or a
/// test's own.
pub trait Handler: Send + Sync + 'static {
    /// The kinds this handler runs. Its runner claims no others, so a process that does not run
    /// a kind leaves its jobs to one that does.
    fn kinds(&self) -> Vec<Kind>;

    /// Runs one attempt of `job`. An error retries it (after [`Handler::backoff`]) until its
    /// `max_attempts`, unless it is [`Permanent`].
    fn run(&self, job: &Job) -> impl Future<Output = anyhow::Result<()>> + Send;

    /// Seconds to wait after failed attempt `job.attempt`.
    fn backoff(&self, job: &Job) -> i64 {
        backoff(DEFAULT_RETRY_SECONDS, job.attempt)
    }
}

/// Claims due jobs of its handler's kinds and runs them, up to `concurrency` at once.
pub struct Runner<H> {
    db: Db,
    clock: Clock,
    handler: Arc<H>,
    kinds: Vec<Kind>,
    lease_seconds: i64,
    concurrency: usize,
    poll: Duration,
}

impl<H> std::fmt::Debug for Runner<H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runner")
            .field("kinds", &self.kinds)
            .field("lease_seconds", &self.lease_seconds)
            .field("concurrency", &self.concurrency)
            .field("poll", &self.poll)
            .finish()
    }
}

/// How long an idle runner waits before it looks for due jobs again: a job enqueued by a
/// request (a mail, a contract's completion) waits half of it on average. Looking finds
/// nothing without writing anything, so looking often costs next to nothing.
const IDLE_POLL: Duration = Duration::from_millis(200);

/// A job this runner holds, and the token that proves it.
#[derive(Debug)]
struct Claimed {
    job: Job,
    owner: String,
}

impl<H: Handler> Runner<H> {
    pub fn new(db: Db, clock: Clock, handler: H) -> Self {
        let kinds = handler.kinds();
        Self {
            db,
            clock,
            handler: Arc::new(handler),
            kinds,
            lease_seconds: LEASE_SECONDS,
            concurrency: 4,
            poll: IDLE_POLL,
        }
    }

    pub fn lease_seconds(mut self, seconds: i64) -> Self {
        self.lease_seconds = seconds.max(1);
        self
    }

    /// How many jobs [`Runner::run`] runs at once.
    pub fn concurrency(mut self, jobs: usize) -> Self {
        self.concurrency = jobs.max(1);
        self
    }

    /// How long [`Runner::run`] waits when nothing is due.
    pub fn poll_interval(mut self, every: Duration) -> Self {
        self.poll = every;
        self
    }

    /// Runs jobs until the process stops.
    pub async fn run(self: Arc<Self>) {
        tracing::info!(runner = ?self, "job runner started");
        let runner = self;
        let slots = Arc::new(tokio::sync::Semaphore::new(runner.concurrency));
        loop {
            let Ok(slot) = slots.clone().acquire_owned().await else {
                return;
            };
            match runner.claim().await {
                Ok(Some(claimed)) => {
                    let runner = runner.clone();
                    tokio::spawn(async move {
                        if let Err(e) = runner.run_claimed(claimed).await {
                            tracing::warn!(error = %format!("{e:#}"), "job runner");
                        }
                        drop(slot);
                    });
                }
                Ok(None) => {
                    drop(slot);
                    tokio::time::sleep(runner.poll).await;
                }
                Err(e) => {
                    drop(slot);
                    tracing::warn!(error = %format!("{e:#}"), "job runner");
                    tokio::time::sleep(runner.poll).await;
                }
            }
        }
    }

    /// Claims one due job and runs it to its end; `false` when none was due.
    pub async fn run_one(&self) -> anyhow::Result<bool> {
        match self.claim().await? {
            Some(claimed) => {
                self.run_claimed(claimed).await?;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Runs due jobs one after the other until none is due; returns how many ran.
    pub async fn run_until_idle(&self) -> anyhow::Result<usize> {
        let mut ran = 0;
        while self.run_one().await? {
            ran += 1;
        }
        Ok(ran)
    }

    /// Runs a job its caller enqueued claimed ([`enqueue_claimed`]) to its end. A kind this
    /// runner does not run is left to the runners that do (its lease runs out first).
    pub async fn run_claim(&self, claim: Claim) -> anyhow::Result<()> {
        if !self.kinds.contains(&claim.0.job.kind) {
            tracing::warn!(job = %claim.0.job.id, "a claimed job of a kind this runner does not run");
            return Ok(());
        }
        self.run_claimed(claim.0).await
    }

    async fn claim(&self) -> anyhow::Result<Option<Claimed>> {
        self.claim_due().await
    }

    /// Takes the next due job of our kinds: pending and due, or running with its lease run out
    /// (its process died). One statement, so two runners never hold the same job: on
    /// PostgreSQL, `FOR UPDATE SKIP LOCKED` lets concurrent runners take different rows instead
    /// of waiting for each other, and the outer conditions are checked again on the locked row;
    /// SQLite runs one writer at a time. `id = (…)`, not `id IN (…)`: PostgreSQL may run an `IN`
    /// subquery again for each row it scans (a semi-join), and with `SKIP LOCKED` skipping the
    /// rows this very statement just took, one claim would take every due job; a scalar
    /// subquery runs once.
    async fn claim_due(&self) -> anyhow::Result<Option<Claimed>> {
        if self.kinds.is_empty() {
            return Ok(None);
        }
        let now = self.clock.now();
        // The process id tells an operator reading the table which process holds a job.
        let owner = format!("{}-{}", std::process::id(), new_id()?);
        let kinds = (0..self.kinds.len())
            .map(|i| format!("${}", i + 4))
            .collect::<Vec<_>>()
            .join(", ");
        let skip_locked = match self.db.backend {
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let (pending, running) = (Status::Pending.as_str(), Status::Running.as_str());
        let due = format!(
            "attempts < max_attempts AND ((status = '{pending}' AND run_at <= $3) \
             OR (status = '{running}' AND lease_until < $3))"
        );
        let sql = format!(
            "UPDATE jobs SET status = '{running}', lease_owner = $1, lease_until = $2, \
             attempts = attempts + 1, \
             last_error = CASE WHEN status = '{running}' THEN '{LEASE_LOST}' ELSE last_error END \
             WHERE id = (SELECT id FROM jobs WHERE kind IN ({kinds}) AND {due} \
                 ORDER BY run_at, created_at LIMIT 1{skip_locked}) \
             AND {due} \
             RETURNING id, kind, payload, attempts, max_attempts"
        );
        let mut query = sqlx::query(&sql)
            .bind(&owner)
            .bind(now + self.lease_seconds)
            .bind(now);
        for kind in &self.kinds {
            query = query.bind(kind.as_str());
        }
        let Some(row) = query
            .fetch_optional(&self.db.pool)
            .await
            .context("claiming a due job")?
        else {
            return Ok(None);
        };
        let kind: String = row.try_get("kind")?;
        let job = Job::new(
            row.try_get("id")?,
            Kind::parse(&kind).context("claimed a job")?,
            row.try_get("payload")?,
            row.try_get("attempts")?,
            row.try_get("max_attempts")?,
            owner.clone(),
        );
        Ok(Some(Claimed { job, owner }))
    }

    /// Runs a claimed job, renewing its lease meanwhile, and records the outcome.
    async fn run_claimed(&self, claimed: Claimed) -> anyhow::Result<()> {
        let Claimed { job, owner } = claimed;
        tracing::debug!(job = %job.id, kind = job.kind.as_str(), attempt = job.attempt, "job started");
        let outcome = {
            let work = self.handler.run(&job);
            tokio::pin!(work);
            let every = Duration::from_secs((self.lease_seconds / 3).max(1) as u64);
            let mut renew = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
            renew.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    outcome = &mut work => break outcome,
                    _ = renew.tick() => {
                        if let Err(e) = self.renew_lease(&job, &owner).await {
                            tracing::warn!(job = %job.id, error = %format!("{e:#}"), "renewing a job's lease");
                        }
                    }
                }
            }
        };
        self.record(&job, &owner, outcome).await
    }

    async fn renew_lease(&self, job: &Job, owner: &str) -> anyhow::Result<()> {
        let renewed = sqlx::query(&format!(
            "UPDATE jobs SET lease_until = $1 WHERE id = $2 AND lease_owner = $3 \
             AND status = '{}'",
            Status::Running.as_str()
        ))
        .bind(self.clock.now() + self.lease_seconds)
        .bind(&job.id)
        .bind(owner)
        .execute(&self.db.pool)
        .await
        .context("renewing a job's lease")?;
        if renewed.rows_affected() == 0 {
            tracing::warn!(job = %job.id, kind = job.kind.as_str(), "a running job's lease was lost; another runner may take it over");
        }
        Ok(())
    }

    /// Done; or failed (attempts used up, or a [`Permanent`] error); or pending again after the
    /// backoff, with the error kept in `last_error`. Only while our lease holds.
    async fn record(
        &self,
        job: &Job,
        owner: &str,
        outcome: anyhow::Result<()>,
    ) -> anyhow::Result<()> {
        let now = self.clock.now();
        let kind = job.kind.as_str();
        let (status, run_at, error) = match &outcome {
            Ok(()) if job.recorded.load(Ordering::Acquire) => {
                tracing::info!(job = %job.id, kind, attempt = job.attempt, "job done");
                return Ok(());
            }
            Ok(()) => {
                tracing::info!(job = %job.id, kind, attempt = job.attempt, "job done");
                (Status::Done, None, None)
            }
            Err(e) => {
                let error = format!("{e:#}");
                let permanent = e.chain().any(|cause| cause.is::<Permanent>());
                if permanent || job.attempt >= job.max_attempts {
                    tracing::error!(job = %job.id, kind, attempt = job.attempt, error, "job failed; not retrying");
                    (Status::Failed, None, Some(error))
                } else {
                    let retry_at = now + self.handler.backoff(job);
                    tracing::warn!(job = %job.id, kind, attempt = job.attempt, retry_at, error, "job failed; will retry");
                    (Status::Pending, Some(retry_at), Some(error))
                }
            }
        };
        let finished_at = matches!(status, Status::Done | Status::Failed).then_some(now);
        let recorded = sqlx::query(&format!(
            "UPDATE jobs SET status = $1, run_at = COALESCE($2, run_at), \
             last_error = COALESCE($3, last_error), finished_at = $4, \
             lease_owner = NULL, lease_until = NULL \
             WHERE id = $5 AND lease_owner = $6 AND status = '{}'",
            Status::Running.as_str()
        ))
        .bind(status.as_str())
        .bind(run_at)
        .bind(error)
        .bind(finished_at)
        .bind(&job.id)
        .bind(owner)
        .execute(&self.db.pool)
        .await
        .context("recording a job's outcome")?;
        if recorded.rows_affected() == 0 {
            tracing::warn!(job = %job.id, kind, "a job's lease ran out before its outcome was recorded");
        }
        Ok(())
    }
}

/// Housekeeping, run by the periodic sweep: fails running jobs whose lease ran out on their last
/// allowed attempt (no runner claims them again), and drops finished jobs once they are old
/// (done after a day, failed after 30 days). Returns how many rows it dropped.
pub async fn sweep(db: &Db, now: i64) -> anyhow::Result<u64> {
    sqlx::query(&format!(
        "UPDATE jobs SET status = '{failed}', finished_at = $1, last_error = '{LEASE_LOST}', \
         lease_owner = NULL, lease_until = NULL \
         WHERE status = '{running}' AND lease_until < $1 AND attempts >= max_attempts",
        failed = Status::Failed.as_str(),
        running = Status::Running.as_str(),
    ))
    .bind(now)
    .execute(&db.pool)
    .await
    .context("failing jobs abandoned on their last attempt")?;
    let dropped = sqlx::query(&format!(
        "DELETE FROM jobs WHERE (status = '{done}' AND finished_at < $1) \
         OR (status = '{failed}' AND finished_at < $2)",
        done = Status::Done.as_str(),
        failed = Status::Failed.as_str(),
    ))
    .bind(now - DONE_KEPT_SECONDS)
    .bind(now - FAILED_KEPT_SECONDS)
    .execute(&db.pool)
    .await
    .context("dropping old finished jobs")?;
    Ok(dropped.rows_affected())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        assert_eq!(backoff(10, 1), 10);
        assert_eq!(backoff(10, 2), 20);
        assert_eq!(backoff(10, 3), 40);
        assert_eq!(backoff(10, 10), 3600);
        assert_eq!(backoff(10, 10_000), 3600);
        assert_eq!(backoff(0, 1), 1, "never retried in a busy loop");
    }

    #[test]
    fn kinds_and_statuses_read_back_what_they_store() {
        for kind in Kind::ALL {
            assert_eq!(Kind::parse(kind.as_str()).ok(), Some(*kind));
        }
        for status in Status::ALL {
            assert_eq!(Status::parse(status.as_str()).ok(), Some(*status));
        }
        assert!(Kind::parse("nonesuch").is_err());
    }
}
