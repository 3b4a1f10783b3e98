//! The service's jobs: what each [`Kind`] does ([`Work`], the handler every `inkan serve` runs)
//! and the scheduler of the periodic kinds ([`schedule`]), which every process runs: it enqueues
//! each period's job under a dedupe key naming the kind and the period's start, so the first
//! process to get there creates it and the job runs once, whichever runner claims it.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use serde::Deserialize;

use super::{backoff, enqueue, Handler, Job, Kind, NewJob, DEFAULT_RETRY_SECONDS};
use crate::clock::Clock;
use crate::contracts::{completion, flow, signature, Desk};
use crate::db::Db;
use crate::email::{self, Mailer};
use crate::webhooks;

/// The sweep's period.
const SWEEP_SECONDS: i64 = 600;
/// Attempts of a periodic job: the next period runs it again anyway.
const PERIODIC_MAX_ATTEMPTS: i64 = 3;
/// The longest a test job waits for its release file.
const TEST_JOB_LIMIT: Duration = Duration::from_secs(600);

/// Runs the service's kinds.
#[derive(Debug)]
pub struct Work {
    db: Db,
    clock: Clock,
    mailer: Mailer,
    test_jobs: bool,
    /// What the contract kinds need; a process without it leaves them to one with it.
    desk: Option<Arc<Desk>>,
    /// The first retry delay of a webhook delivery (`webhook_retry_seconds`).
    webhook_retry_seconds: i64,
    /// How often the audit chain is anchored (`audit_anchor_seconds`).
    audit_anchor_seconds: i64,
}

impl Work {
    pub fn new(db: Db, clock: Clock, mailer: Mailer) -> Self {
        Self {
            db,
            clock,
            mailer,
            test_jobs: false,
            desk: None,
            webhook_retry_seconds: DEFAULT_RETRY_SECONDS,
            audit_anchor_seconds: crate::audit::chain::ANCHOR_SECONDS,
        }
    }

    /// The first retry delay of webhook deliveries (`webhook_retry_seconds`; 30 s unless set).
    pub fn with_webhook_retry_seconds(mut self, seconds: i64) -> Self {
        self.webhook_retry_seconds = seconds.max(1);
        self
    }

    /// How often the audit chain is anchored (`audit_anchor_seconds`; ten minutes unless set).
    pub fn with_audit_anchor_seconds(mut self, seconds: i64) -> Self {
        self.audit_anchor_seconds = seconds.max(1);
        self
    }

    /// Also runs the contract kinds (signatures, completion, reminders and expiry).
    pub fn with_contracts(mut self, desk: Arc<Desk>) -> Self {
        self.desk = Some(desk);
        self
    }

    fn desk(&self) -> anyhow::Result<&Desk> {
        self.desk
            .as_deref()
            .ok_or_else(|| anyhow::anyhow!("this runner has no contract desk"))
    }

    /// Also runs [`Kind::Test`] jobs: with `INKAN_TEST_JOBS=1` (tests only), see [`test_job`].
    pub fn with_test_jobs_from_env(mut self) -> Self {
        self.test_jobs = std::env::var("INKAN_TEST_JOBS").is_ok_and(|v| v == "1");
        if self.test_jobs {
            tracing::warn!("INKAN_TEST_JOBS=1: this process runs test jobs");
        }
        self
    }
}

#[derive(Deserialize)]
struct EmailPayload {
    outbox_id: String,
}

#[derive(Deserialize)]
struct SignaturePayload {
    signature: String,
}

#[derive(Deserialize)]
struct ContractPayload {
    contract: String,
}

#[derive(Deserialize)]
struct WebhookPayload {
    delivery: String,
}

impl Handler for Work {
    fn kinds(&self) -> Vec<Kind> {
        Kind::ALL
            .iter()
            .copied()
            .filter(|k| *k != Kind::Test || self.test_jobs)
            .filter(|k| {
                self.desk.is_some()
                    || !matches!(
                        k,
                        Kind::ContractSignature | Kind::ContractCompletion | Kind::ContractTimers
                    )
            })
            .collect()
    }

    fn backoff(&self, job: &Job) -> i64 {
        match job.kind {
            Kind::Email => self.mailer.backoff(job.attempt),
            Kind::WebhookDelivery => webhooks::retry_delay(self.webhook_retry_seconds, job.attempt),
            _ => backoff(DEFAULT_RETRY_SECONDS, job.attempt),
        }
    }

    async fn run(&self, job: &Job) -> anyhow::Result<()> {
        let now = self.clock.now();
        match job.kind {
            Kind::Email => {
                let mail: EmailPayload = job.payload()?;
                email::deliver_queued(&self.db, &self.mailer, now, &mail.outbox_id).await
            }
            Kind::Sweep => {
                crate::auth::sweep(&self.db, now)
                    .await
                    .context("dropping expired sessions and reset links")?;
                crate::seals::sweep_drafts(&self.db, now)
                    .await
                    .context("dropping expired seal uploads")?;
                super::sweep(&self.db, now).await?;
                Ok(())
            }
            Kind::RenewalNotices => {
                let queued = crate::certificates::send_renewal_notices(&self.db, now)
                    .await
                    .context("queueing renewal reminders")?;
                if queued > 0 {
                    tracing::info!(queued, "renewal reminders queued");
                }
                Ok(())
            }
            Kind::AuditWalk => {
                // A break either finds is logged and kept for the audit screen; the job
                // succeeded.
                let ca = self.desk.as_deref().map(|desk| &*desk.ca);
                if let Some(ca) = ca {
                    let every = self.audit_anchor_seconds;
                    // A break is recorded for the audit screen and logged there.
                    let _ = crate::audit::chain::anchor_if_due(&self.db, ca, now, every)
                        .await
                        .context("anchoring the audit chain")?;
                }
                crate::audit::walk_whole_chain_if_due(&self.db, ca, now)
                    .await
                    .context("walking the audit chain")?;
                Ok(())
            }
            Kind::ContractSignature => {
                let p: SignaturePayload = job.payload()?;
                signature::carry_out(self.desk()?, &self.clock, &p.signature, job).await
            }
            Kind::ContractCompletion => {
                let p: ContractPayload = job.payload()?;
                completion::complete(self.desk()?, &self.clock, &p.contract).await
            }
            Kind::ContractTimers => {
                let (reminded, expired, completing) = flow::timers(self.desk()?, now).await?;
                if reminded + expired + completing > 0 {
                    tracing::info!(reminded, expired, completing, "contract timers");
                }
                Ok(())
            }
            Kind::WebhookDelivery => {
                let p: WebhookPayload = job.payload()?;
                let retry_seconds = self.webhook_retry_seconds;
                webhooks::deliver(&self.db, now, &p.delivery, job.attempt, retry_seconds).await
            }
            Kind::PasswordReset => {
                let request: crate::auth::ResetRequest = job.payload()?;
                crate::auth::carry_out_reset(&self.db, now, &request, job)
                    .await
                    .context("answering a password-reset request")
            }
            Kind::Test if self.test_jobs => test_job(job).await,
            Kind::Test => Err(super::Permanent("test jobs are not enabled".into()).into()),
        }
    }
}

#[derive(Deserialize)]
struct TestPayload {
    log: PathBuf,
    release: PathBuf,
}

/// A job that blocks (`INKAN_TEST_JOBS=1`, tests only): appends `start <pid>` to the payload's
/// `log` file, waits until its `release` file exists, then appends `finish <pid>`. A test kills
/// the process while it waits and sees another process take the job over.
async fn test_job(job: &Job) -> anyhow::Result<()> {
    let payload: TestPayload = job.payload()?;
    let note = |what: &str| -> anyhow::Result<()> {
        let mut log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&payload.log)
            .with_context(|| format!("opening {}", payload.log.display()))?;
        log.write_all(format!("{what} {}\n", std::process::id()).as_bytes())
            .with_context(|| format!("writing {}", payload.log.display()))
    };
    note("start")?;
    let started = std::time::Instant::now();
    while !payload.release.exists() {
        anyhow::ensure!(
            started.elapsed() < TEST_JOB_LIMIT,
            "{} did not appear",
            payload.release.display()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    note("finish")
}

/// The periodic kinds and their periods in seconds: the sweep every ten minutes, the rest every
/// `every` (`scheduler_seconds`).
fn periodic(every: i64) -> [(Kind, i64); 4] {
    let every = every.max(1);
    [
        (Kind::Sweep, SWEEP_SECONDS),
        (Kind::RenewalNotices, every),
        (Kind::AuditWalk, every),
        (Kind::ContractTimers, every),
    ]
}

/// Enqueues the current period's job of each periodic kind, keyed `<kind>@<period start>`;
/// a key some process already used is a no-op. Returns how many jobs this call created.
pub async fn schedule(db: &Db, now: i64, every: i64) -> anyhow::Result<usize> {
    let mut created = 0;
    for (kind, period) in periodic(every) {
        let start = now - now.rem_euclid(period);
        let job = NewJob::new(kind, serde_json::json!({}))
            .dedupe_key(format!("{}@{start}", kind.as_str()))
            .max_attempts(PERIODIC_MAX_ATTEMPTS);
        if enqueue(&db.pool, now, &job).await?.is_some() {
            created += 1;
        }
    }
    Ok(created)
}

/// The scheduler of every `inkan serve` process: [`schedule`] every `every` seconds, and this
/// host's copy of the audit chain's anchors brought up to date.
pub async fn run_scheduler(db: Db, clock: Clock, every: i64) {
    loop {
        if let Err(e) = schedule(&db, clock.now(), every).await {
            tracing::warn!(error = %format!("{e:#}"), "scheduling periodic jobs failed; retrying");
        }
        // Whichever process made them, this host's data folder keeps a copy of the anchors.
        if let Err(e) = crate::audit::chain::sync_file(&db).await {
            tracing::warn!(error = %format!("{e:#}"), "copying audit checkpoints failed; retrying");
        }
        tokio::time::sleep(Duration::from_secs(every.max(1) as u64)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sweep_runs_every_ten_minutes_and_the_others_every_scheduler_period() {
        assert_eq!(
            periodic(60),
            [
                (Kind::Sweep, 600),
                (Kind::RenewalNotices, 60),
                (Kind::AuditWalk, 60),
                (Kind::ContractTimers, 60)
            ]
        );
        assert_eq!(periodic(0)[1].1, 1);
    }
}
