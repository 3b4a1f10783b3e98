//! The audit log: append-only (the database refuses UPDATE and DELETE on it) and hash-chained.
//! Each entry's hash covers its content and the previous entry's hash, so editing, removing or
//! reordering entries breaks the chain, which [`verify`] finds.

use aws_lc_rs::digest;
use sqlx::{Any, Row, Transaction};

use crate::db::Db;

/// The `prev_hash` of the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One event to record.
#[derive(Debug)]
pub struct Event<'a> {
    pub org_id: Option<&'a str>,
    /// Who did it: a user id, or `cli` / `system`.
    pub actor: Option<&'a str>,
    /// What happened, e.g. `organisation.created`, `user.created`, `login.failed`.
    pub action: &'a str,
    /// Details as JSON (never a password or token).
    pub detail: serde_json::Value,
}

/// A stored entry.
#[derive(Debug, Clone)]
pub struct Entry {
    pub seq: i64,
    pub at: i64,
    pub org_id: Option<String>,
    pub actor: Option<String>,
    pub action: String,
    pub detail: String,
    pub prev_hash: String,
    pub hash: String,
}

impl Entry {
    /// SHA-256 over every field but `hash`, each length-prefixed so fields cannot run together.
    pub fn compute_hash(&self) -> String {
        let mut ctx = digest::Context::new(&digest::SHA256);
        ctx.update(b"inkan-audit-v1");
        let mut field = |bytes: &[u8]| {
            ctx.update(&(bytes.len() as u64).to_be_bytes());
            ctx.update(bytes);
        };
        field(&self.seq.to_be_bytes());
        field(&self.at.to_be_bytes());
        field(self.org_id.as_deref().unwrap_or("\u{0}").as_bytes());
        field(self.actor.as_deref().unwrap_or("\u{0}").as_bytes());
        field(self.action.as_bytes());
        field(self.detail.as_bytes());
        field(self.prev_hash.as_bytes());
        hex::encode(ctx.finish().as_ref())
    }
}

/// Appends `event` inside the caller's transaction, so it lands with the change it records.
///
/// Several processes may append at once. Appenders queue on a lock held until their
/// transaction ends (PostgreSQL: a transaction-level advisory lock; SQLite: the database's write
/// lock, which [`Db::begin`] takes first), so each reads the end its successor extends.
/// Should anything slip past, `seq` is the primary key and `prev_hash` is unique: a racing
/// writer fails rather than forking the chain.
pub async fn append(
    tx: &mut Transaction<'static, Any>,
    now: i64,
    event: &Event<'_>,
) -> Result<Entry, sqlx::Error> {
    if (**tx).backend_name().eq_ignore_ascii_case("postgresql") {
        sqlx::query("SELECT pg_advisory_xact_lock(7598821035) AS locked")
            .execute(&mut **tx)
            .await?;
    }
    let last = sqlx::query("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
        .fetch_optional(&mut **tx)
        .await?;
    let (seq, prev_hash) = match last {
        Some(row) => (row.try_get::<i64, _>("seq")? + 1, row.try_get("hash")?),
        None => (1, GENESIS.to_owned()),
    };
    let mut entry = Entry {
        seq,
        at: now,
        org_id: event.org_id.map(str::to_owned),
        actor: event.actor.map(str::to_owned),
        action: event.action.to_owned(),
        detail: event.detail.to_string(),
        prev_hash,
        hash: String::new(),
    };
    entry.hash = entry.compute_hash();
    sqlx::query(
        "INSERT INTO audit_log (seq, at, org_id, actor, action, detail, prev_hash, hash) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(entry.seq)
    .bind(entry.at)
    .bind(entry.org_id.clone())
    .bind(entry.actor.clone())
    .bind(entry.action.clone())
    .bind(entry.detail.clone())
    .bind(entry.prev_hash.clone())
    .bind(entry.hash.clone())
    .execute(&mut **tx)
    .await?;
    Ok(entry)
}

/// The newest `limit` entries of one organisation, newest first.
pub async fn for_organisation(
    db: &Db,
    org_id: &str,
    limit: i64,
) -> Result<Vec<Entry>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT seq, at, org_id, actor, action, detail, prev_hash, hash FROM audit_log \
         WHERE org_id = $1 ORDER BY seq DESC LIMIT $2",
    )
    .bind(org_id)
    .bind(limit)
    .fetch_all(&db.pool)
    .await?;
    rows.iter().map(entry_from_row).collect()
}

fn entry_from_row(row: &sqlx::any::AnyRow) -> Result<Entry, sqlx::Error> {
    Ok(Entry {
        seq: row.try_get("seq")?,
        at: row.try_get("at")?,
        org_id: row.try_get("org_id")?,
        actor: row.try_get("actor")?,
        action: row.try_get("action")?,
        detail: row.try_get("detail")?,
        prev_hash: row.try_get("prev_hash")?,
        hash: row.try_get("hash")?,
    })
}

/// Where the chain breaks.
#[derive(Debug, PartialEq, Eq)]
pub struct Break {
    pub seq: i64,
    pub reason: String,
}

/// Walks the whole log; returns the number of entries, or the first break.
pub async fn verify(db: &Db) -> anyhow::Result<Result<u64, Break>> {
    let rows = sqlx::query(
        "SELECT seq, at, org_id, actor, action, detail, prev_hash, hash FROM audit_log ORDER BY seq",
    )
    .fetch_all(&db.pool)
    .await?;
    let mut expected_prev = GENESIS.to_owned();
    for (expected_seq, row) in (1..).zip(rows.iter()) {
        let entry = entry_from_row(row)?;
        let broken = |reason: &str| {
            Ok(Err(Break {
                seq: entry.seq,
                reason: reason.to_owned(),
            }))
        };
        if entry.seq != expected_seq {
            return broken("an entry is missing before this one");
        }
        if entry.prev_hash != expected_prev {
            return broken("it does not follow the previous entry");
        }
        if entry.compute_hash() != entry.hash {
            return broken("its content was changed");
        }
        expected_prev = entry.hash;
    }
    Ok(Ok(rows.len() as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> Entry {
        let mut e = Entry {
            seq: 1,
            at: 1_700_000_000,
            org_id: Some("o".into()),
            actor: None,
            action: "user.created".into(),
            detail: "{}".into(),
            prev_hash: GENESIS.into(),
            hash: String::new(),
        };
        e.hash = e.compute_hash();
        e
    }

    #[test]
    fn every_field_is_covered_by_the_hash() {
        let base = entry();
        let changes: [fn(&mut Entry); 6] = [
            |e| e.seq = 2,
            |e| e.at += 1,
            |e| e.org_id = None,
            |e| e.actor = Some("u".into()),
            |e| e.detail = "{\"x\":1}".into(),
            |e| e.prev_hash = "1".repeat(64),
        ];
        for change in changes {
            let mut e = base.clone();
            change(&mut e);
            assert_ne!(e.compute_hash(), base.hash);
        }
    }

    #[test]
    fn fields_cannot_be_shifted_into_each_other() {
        let mut a = entry();
        a.action = "ab".into();
        a.detail = "c".into();
        let mut b = entry();
        b.action = "a".into();
        b.detail = "bc".into();
        assert_ne!(a.compute_hash(), b.compute_hash());
    }
}
