//! Password-reset requests, queued and answered by the job runner: the request leaves one job row
//! whatever the address, and the answer (the link, its mail, the audit entry) is written in the
//! commit that ends the job, so a runner that stalls past its lease and wakes after another has
//! answered adds nothing: one link, one mail.

use std::sync::Arc;

use domain::auth::{self, Client};
use domain::jobs::{work::Work, Handler, Job, Kind, Runner};

use crate::on_both_databases;
use crate::support::{Backend, Instance, TestClock, TestDb};

/// The service's handler, held at the start of each job until released: a runner's process
/// stalling (a long pause, a frozen VM) while its lease runs out.
struct Stalled {
    work: Work,
    release: Arc<tokio::sync::Notify>,
}

impl Handler for Stalled {
    fn kinds(&self) -> Vec<Kind> {
        vec![Kind::PasswordReset]
    }

    async fn run(&self, job: &Job) -> anyhow::Result<()> {
        self.release.notified().await;
        self.work.run(job).await
    }
}

on_both_databases!(a_reset_request_is_answered_once_when_a_stalled_runner_wakes_up);

async fn a_reset_request_is_answered_once_when_a_stalled_runner_wakes_up(backend: Backend) {
    let Some(t) = TestDb::new(backend).await else {
        return;
    };
    let instance = Instance::new(&t, "Reset KK", "reset.example").await;
    Instance::user(&t, &instance.admin, "hanako@reset.example", &["signer"]).await;
    let clock = TestClock::start();
    let mailer = || domain::email::Mailer::from_config(&t.config).expect("mailer");
    let client = Client {
        address: "192.0.2.7".to_owned(),
    };
    let (mails, links, jobs_of) = (
        "SELECT COUNT(*) FROM outbox WHERE to_addr = 'hanako@reset.example'",
        "SELECT COUNT(*) FROM password_resets",
        "SELECT COUNT(*) FROM jobs WHERE kind = 'password_reset'",
    );
    let before = (t.count(mails).await, t.count(links).await);

    // A registered and an unknown address each leave one job row and nothing else yet.
    for email in ["hanako@reset.example", "nobody@reset.example"] {
        auth::request_reset(
            &t.db,
            clock.now(),
            email,
            "https://sign.example.jp",
            &client,
        )
        .await
        .expect("queued");
    }
    assert_eq!(t.count(jobs_of).await, 2);
    assert_eq!((t.count(mails).await, t.count(links).await), before);

    // The first runner claims the registered address's job and stalls past its lease.
    let release = Arc::new(tokio::sync::Notify::new());
    let stalled = Arc::new(
        Runner::new(
            t.second_pool().await,
            clock.clock.clone(),
            Stalled {
                work: Work::new(t.db.clone(), clock.clock.clone(), mailer()),
                release: release.clone(),
            },
        )
        .lease_seconds(60),
    );
    let first = tokio::spawn({
        let runner = stalled.clone();
        async move { runner.run_one().await }
    });
    let started = std::time::Instant::now();
    while t
        .count("SELECT COUNT(*) FROM jobs WHERE kind = 'password_reset' AND status = 'running'")
        .await
        == 0
    {
        assert!(
            started.elapsed().as_secs() < 20,
            "the job was never claimed"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    // Another runner takes it over once the lease has run out, and answers both requests.
    clock.set(120);
    let other = Runner::new(
        t.db.clone(),
        clock.clock.clone(),
        Work::new(t.db.clone(), clock.clock.clone(), mailer()),
    );
    let mut answered = 0;
    while other.run_one().await.expect("run") {
        answered += 1;
    }
    assert!(
        answered >= 2,
        "both requests answered (and their mail sent): {answered}"
    );
    assert_eq!(t.count(links).await, before.1 + 1);
    assert_eq!(t.count(mails).await, before.0 + 1);

    // The stalled runner wakes up: its claim is gone, so its answer is rolled back whole.
    release.notify_one();
    let _ = first.await.expect("task");
    assert_eq!(t.count(links).await, before.1 + 1, "one link");
    assert_eq!(t.count(mails).await, before.0 + 1, "one mail");
    assert_eq!(
        t.count("SELECT COUNT(*) FROM audit_log WHERE action = 'password.reset_requested'")
            .await,
        1
    );
    assert_eq!(
        t.count("SELECT COUNT(*) FROM audit_log WHERE action = 'password.reset_unknown'")
            .await,
        1
    );
    assert_eq!(
        t.count("SELECT COUNT(*) FROM jobs WHERE kind = 'password_reset' AND status = 'done'")
            .await,
        2
    );
}
