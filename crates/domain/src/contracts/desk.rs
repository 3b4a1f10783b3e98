//! What the contract operations past the draft reach ([`Desk`]), and the lease that lets one
//! writer at a time change a contract's documents.
//!
//! Each signature and the completion rewrite the contract's documents (an incremental update
//! on the current bytes), so two of them must never run at once for one contract, in this
//! process or in another sharing the database. A writer first takes the contract's in-process
//! lock (parallel requests of one process then queue in the order they arrive, without polling
//! the database), then its lease in the database (`lease_owner`, `lease_until`), renewed while it
//! writes; a process that dies holding it frees it when the lease runs out.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use anyhow::Context;

use crate::accounts::new_id;
use crate::ca_store::Ca;
use crate::db::Db;
use crate::storage::DocumentStore;

/// How long a contract's lease holds without renewal.
const LEASE_SECONDS: i64 = 60;
/// How long a writer waits for another process's lease before giving up (its job retries).
const LEASE_WAIT: Duration = Duration::from_secs(90);

/// What contract operations past the draft reach: the database, Inkan's CA (certificate and
/// platform signatures, timestamps, revocation data), the document store, and the service's
/// address for the links in mails. One per process, shared by the web handlers and the jobs.
#[derive(Debug)]
pub struct Desk {
    pub db: Db,
    pub ca: Arc<Ca>,
    pub store: Arc<DocumentStore>,
    /// The service's address, e.g. `https://sign.example.jp` (no trailing slash).
    pub base_url: String,
    /// The address in the organisations' platform certificates (the service's mail sender).
    pub platform_email: String,
    locks: Mutex<HashMap<String, Weak<tokio::sync::Mutex<()>>>>,
}

impl Desk {
    /// `mail_from` is the service's sender (`Inkan <noreply@example.jp>`): its address goes in
    /// the platform certificates, or `platform@inkan.invalid` when it is no host name.
    pub fn new(
        db: Db,
        ca: Arc<Ca>,
        store: Arc<DocumentStore>,
        base_url: &str,
        mail_from: &str,
    ) -> Self {
        let address = mail_from
            .rsplit_once('<')
            .map_or(mail_from, |(_, a)| a.trim_end_matches('>'))
            .trim();
        let platform_email = ca::application::Email::parse(address).map_or_else(
            |_| "platform@inkan.invalid".to_owned(),
            |e| e.as_str().to_owned(),
        );
        Self {
            db,
            ca,
            store,
            base_url: base_url.trim_end_matches('/').to_owned(),
            platform_email,
            locks: Mutex::new(HashMap::new()),
        }
    }

    /// A party's personal link.
    pub fn party_link(&self, token: &str) -> String {
        format!("{}/sign/{token}", self.base_url)
    }

    /// Takes the right to write `contract_id`'s documents: the in-process lock, then the
    /// database lease. Dropping the guard releases the lock; the lease is released by
    /// [`Lease::release`] in the transaction that records what was written, or runs out.
    pub(crate) async fn lease(
        &self,
        clock: &crate::clock::Clock,
        contract_id: &str,
    ) -> anyhow::Result<Lease> {
        let guard = self.lock(contract_id).await?;
        let owner = format!("{}-{}", std::process::id(), new_id()?);
        let started = tokio::time::Instant::now();
        loop {
            let now = clock.now();
            let taken = take_lease(
                &mut *self.db.pool.acquire().await?,
                contract_id,
                &owner,
                now,
            )
            .await?;
            if taken {
                return Ok(Lease::new(contract_id, owner, now, guard));
            }
            anyhow::ensure!(
                started.elapsed() < LEASE_WAIT,
                "contract {contract_id} is being written by another process"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The contract's in-process lock: writers of this process queue on it in the order they
    /// arrive. Take it before the database lease, never the other way round.
    pub(crate) async fn lock(
        &self,
        contract_id: &str,
    ) -> anyhow::Result<tokio::sync::OwnedMutexGuard<()>> {
        let lock = {
            let mut locks = self
                .locks
                .lock()
                .map_err(|_| anyhow::anyhow!("the contract locks are poisoned"))?;
            locks.retain(|_, weak| weak.strong_count() > 0);
            match locks.get(contract_id).and_then(Weak::upgrade) {
                Some(lock) => lock,
                None => {
                    let lock = Arc::new(tokio::sync::Mutex::new(()));
                    locks.insert(contract_id.to_owned(), Arc::downgrade(&lock));
                    lock
                }
            }
        };
        Ok(lock.lock_owned().await)
    }

    /// The contract's lease taken in the caller's transaction `tx`, holding the in-process
    /// lock `guard` ([`Self::lock`]); `None` when another process holds it (nothing waits: the
    /// caller's job takes it later with [`Self::lease`]). Counts once `tx` commits.
    pub(crate) async fn lease_in(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        now: i64,
        contract_id: &str,
        guard: tokio::sync::OwnedMutexGuard<()>,
    ) -> anyhow::Result<Option<Lease>> {
        let owner = format!("{}-{}", std::process::id(), new_id()?);
        Ok(take_lease(tx, contract_id, &owner, now)
            .await?
            .then(|| Lease::new(contract_id, owner, now, guard)))
    }
}

/// Takes the contract's lease for `owner` when nobody holds it (or theirs ran out).
async fn take_lease(
    conn: &mut sqlx::AnyConnection,
    contract_id: &str,
    owner: &str,
    now: i64,
) -> anyhow::Result<bool> {
    let taken = sqlx::query(
        "UPDATE contracts SET lease_owner = $2, lease_until = $3 \
         WHERE id = $1 AND (lease_until IS NULL OR lease_until < $4)",
    )
    .bind(contract_id)
    .bind(owner)
    .bind(now + LEASE_SECONDS)
    .bind(now)
    .execute(conn)
    .await
    .context("taking a contract's lease")?;
    Ok(taken.rows_affected() == 1)
}

/// The right to write one contract's documents (see [`Desk::lease`]).
#[derive(Debug)]
pub(crate) struct Lease {
    pub contract_id: String,
    pub owner: String,
    /// When it was taken or last renewed (Unix seconds).
    renewed_at: std::sync::atomic::AtomicI64,
    _guard: tokio::sync::OwnedMutexGuard<()>,
}

impl Lease {
    fn new(
        contract_id: &str,
        owner: String,
        now: i64,
        guard: tokio::sync::OwnedMutexGuard<()>,
    ) -> Self {
        Self {
            contract_id: contract_id.to_owned(),
            owner,
            renewed_at: std::sync::atomic::AtomicI64::new(now),
            _guard: guard,
        }
    }

    /// Extends the lease while a long write goes on: once a third of it has passed (before
    /// that, nothing is written).
    pub async fn renew(&self, db: &Db, now: i64) -> anyhow::Result<()> {
        use std::sync::atomic::Ordering;
        if now - self.renewed_at.load(Ordering::Relaxed) < LEASE_SECONDS / 3 {
            return Ok(());
        }
        let renewed =
            sqlx::query("UPDATE contracts SET lease_until = $3 WHERE id = $1 AND lease_owner = $2")
                .bind(&self.contract_id)
                .bind(&self.owner)
                .bind(now + LEASE_SECONDS)
                .execute(&db.pool)
                .await?;
        anyhow::ensure!(
            renewed.rows_affected() == 1,
            "the lease on contract {} was lost",
            self.contract_id
        );
        self.renewed_at.store(now, Ordering::Relaxed);
        Ok(())
    }

    /// Releases the lease in `tx`, failing when it was lost meanwhile (another writer may have
    /// changed the documents: `tx` must then roll back).
    pub async fn release(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    ) -> anyhow::Result<()> {
        let released = sqlx::query(
            "UPDATE contracts SET lease_owner = NULL, lease_until = NULL \
             WHERE id = $1 AND lease_owner = $2",
        )
        .bind(&self.contract_id)
        .bind(&self.owner)
        .execute(&mut **tx)
        .await?;
        anyhow::ensure!(
            released.rows_affected() == 1,
            "the lease on contract {} was lost",
            self.contract_id
        );
        Ok(())
    }

    /// Gives the lease up without writing (nothing was changed).
    pub async fn abandon(self, db: &Db) {
        if let Err(e) = sqlx::query(
            "UPDATE contracts SET lease_owner = NULL, lease_until = NULL \
             WHERE id = $1 AND lease_owner = $2",
        )
        .bind(&self.contract_id)
        .bind(&self.owner)
        .execute(&db.pool)
        .await
        {
            tracing::warn!(contract = %self.contract_id, error = %e, "releasing a contract's lease");
        }
    }
}
