//! The audit log: append-only (the database refuses UPDATE and DELETE on it) and hash-chained.
//! Each entry's hash covers its content and the previous entry's hash, so editing, removing or
//! reordering entries breaks the chain, which [`verify`] finds (the whole log) and
//! [`verify_recent`] checks for the audit screen at the cost of what was appended since.

use aws_lc_rs::digest;
use sqlx::{Any, Row, Transaction};

use crate::db::Db;

/// An entry's columns, in [`entry_from_row`]'s terms.
const ENTRY_COLUMNS: &str = "seq, at, org_id, actor, action, detail, prev_hash, hash";

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

/// Appends an event about `user` (recorded in their organisation) done by `actor` (a user id
/// or `system`).
pub async fn append_for(
    tx: &mut Transaction<'static, Any>,
    now: i64,
    user: &crate::accounts::User,
    actor: &str,
    action: &str,
    detail: serde_json::Value,
) -> Result<Entry, sqlx::Error> {
    append(
        tx,
        now,
        &Event {
            org_id: Some(&user.org_id),
            actor: Some(actor),
            action,
            detail,
        },
    )
    .await
}

/// The newest `limit` entries of one organisation, newest first.
pub async fn for_organisation(
    db: &Db,
    org_id: &str,
    limit: i64,
) -> Result<Vec<Entry>, sqlx::Error> {
    let rows = sqlx::query(&format!(
        "SELECT {ENTRY_COLUMNS} FROM audit_log WHERE org_id = $1 ORDER BY seq DESC LIMIT $2"
    ))
    .bind(org_id)
    .bind(limit)
    .fetch_all(&db.pool)
    .await?;
    rows.iter().map(entry_from_row).collect()
}

/// What the audit page looks for; every part optional.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Entries by this user (their id).
    pub actor: Option<String>,
    /// Entries of this kind.
    pub kind: Option<Kind>,
    /// From this time (Unix seconds, inclusive) …
    pub from: Option<i64>,
    /// … until this one (exclusive).
    pub until: Option<i64>,
}

/// What an entry is about, by its action's prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Logins, passwords, users, the organisation.
    Accounts,
    /// Applications, identity checks, issued certificates, signed PDFs.
    Certificates,
    /// Signing PINs.
    Pins,
    /// Seal images.
    Seals,
    /// Contracts and their parties.
    Contracts,
    /// Webhooks.
    Webhooks,
}

impl Kind {
    pub const ALL: [Kind; 6] = [
        Kind::Accounts,
        Kind::Certificates,
        Kind::Pins,
        Kind::Seals,
        Kind::Contracts,
        Kind::Webhooks,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Accounts => "accounts",
            Kind::Certificates => "certificates",
            Kind::Pins => "pins",
            Kind::Seals => "seals",
            Kind::Contracts => "contracts",
            Kind::Webhooks => "webhooks",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The actions of this kind: exact names and `prefix.` families (constants, never input).
    fn actions(self) -> &'static [&'static str] {
        match self {
            Kind::Accounts => &[
                "login",
                "logout",
                "login.",
                "password.",
                "user.",
                "organisation.",
            ],
            Kind::Certificates => &[
                "certificate.",
                "identity_check.",
                "platform_certificate.",
                "document.",
            ],
            Kind::Pins => &["pin."],
            Kind::Seals => &["seal."],
            Kind::Contracts => &["contract.", "party."],
            Kind::Webhooks => &["webhook."],
        }
    }
}

/// The newest `limit` entries of one organisation that `filter` lets through, newest first.
pub async fn search(
    db: &Db,
    org_id: &str,
    filter: &Filter,
    limit: i64,
) -> Result<Vec<Entry>, sqlx::Error> {
    let mut sql = format!("SELECT {ENTRY_COLUMNS} FROM audit_log WHERE org_id = $1");
    let mut n = 1;
    let mut next = || {
        n += 1;
        format!("${n}")
    };
    if filter.actor.is_some() {
        sql.push_str(&format!(" AND actor = {}", next()));
    }
    if filter.from.is_some() {
        sql.push_str(&format!(" AND at >= {}", next()));
    }
    if filter.until.is_some() {
        sql.push_str(&format!(" AND at < {}", next()));
    }
    if let Some(kind) = filter.kind {
        let any: Vec<String> = kind
            .actions()
            .iter()
            .map(|a| match a.strip_suffix('.') {
                Some(family) => format!("action LIKE '{family}.%'"),
                None => format!("action = '{a}'"),
            })
            .collect();
        sql.push_str(&format!(" AND ({})", any.join(" OR ")));
    }
    sql.push_str(&format!(" ORDER BY seq DESC LIMIT {}", next()));
    let mut query = sqlx::query(&sql).bind(org_id);
    if let Some(actor) = &filter.actor {
        query = query.bind(actor);
    }
    if let Some(from) = filter.from {
        query = query.bind(from);
    }
    if let Some(until) = filter.until {
        query = query.bind(until);
    }
    let rows = query.bind(limit).fetch_all(&db.pool).await?;
    rows.iter().map(entry_from_row).collect()
}

/// An entry's details as a person reads them: `key: value` pairs, a change as `from → to`, long
/// identifiers and digests shortened.
pub fn summary(detail: &str) -> String {
    fn value(v: &serde_json::Value) -> String {
        match v {
            serde_json::Value::String(s)
                if s.len() > 16 && s.bytes().all(|b| b.is_ascii_hexdigit()) =>
            {
                format!("{}…", &s[..8])
            }
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Null => "—".into(),
            serde_json::Value::Array(items) => {
                items.iter().map(value).collect::<Vec<_>>().join(", ")
            }
            serde_json::Value::Object(o) if o.contains_key("from") && o.contains_key("to") => {
                format!("{} → {}", value(&o["from"]), value(&o["to"]))
            }
            serde_json::Value::Object(o) => {
                let pairs: Vec<String> = o
                    .iter()
                    .map(|(k, v)| format!("{k}: {}", value(v)))
                    .collect();
                format!("({})", pairs.join(", "))
            }
            other => other.to_string(),
        }
    }
    match serde_json::from_str::<serde_json::Value>(detail) {
        Ok(serde_json::Value::Object(o)) => o
            .iter()
            .map(|(k, v)| format!("{k}: {}", value(v)))
            .collect::<Vec<_>>()
            .join(" / "),
        Ok(other) => value(&other),
        Err(_) => detail.to_owned(),
    }
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

/// How many entries a walk reads at a time.
const PAGE: i64 = 1000;

/// Walks the entries after `from` (a sequence number and its hash; `(0, GENESIS)` for the whole
/// log), a page at a time; returns the last entry's sequence number and hash and how many were
/// read, or the first break.
async fn walk(db: &Db, from: (i64, String)) -> anyhow::Result<Result<((i64, String), u64), Break>> {
    let (mut last_seq, mut expected_prev) = from;
    let mut count = 0u64;
    loop {
        let rows = sqlx::query(&format!(
            "SELECT {ENTRY_COLUMNS} FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2"
        ))
        .bind(last_seq)
        .bind(PAGE)
        .fetch_all(&db.pool)
        .await?;
        for row in &rows {
            let entry = entry_from_row(row)?;
            if let Err(reason) = check_link(&entry, last_seq + 1, &expected_prev) {
                return Ok(Err(Break {
                    seq: entry.seq,
                    reason: reason.to_owned(),
                }));
            }
            last_seq = entry.seq;
            expected_prev = entry.hash;
            count += 1;
        }
        if (rows.len() as i64) < PAGE {
            return Ok(Ok(((last_seq, expected_prev), count)));
        }
    }
}

/// Whether `entry` is the one expected at `seq` after `prev`.
fn check_link(entry: &Entry, seq: i64, prev: &str) -> Result<(), &'static str> {
    if entry.seq != seq {
        Err("an entry is missing before this one")
    } else if entry.prev_hash != prev {
        Err("it does not follow the previous entry")
    } else if entry.compute_hash() != entry.hash {
        Err("its content was changed")
    } else {
        Ok(())
    }
}

/// Walks the whole log; returns the number of entries, or the first break.
pub async fn verify(db: &Db) -> anyhow::Result<Result<u64, Break>> {
    Ok(walk(db, (0, GENESIS.to_owned()))
        .await?
        .map(|(_, count)| count))
}

/// How often the scheduler walks the whole chain ([`walk_whole_chain_if_due`]).
const FULL_WALK_SECONDS: i64 = 3600;

/// The audit screen's check, costing what was appended since the last one: the entry the last
/// check ended on (`audit_checkpoint`) must be unchanged and everything after it must follow.
/// The whole chain is walked by the scheduler once an hour ([`walk_whole_chain_if_due`]) and by
/// `inkan admin verify-audit`, so an edit further back is found too. A break, once found, is
/// kept and reported until the log is repaired by hand.
pub async fn verify_recent(db: &Db, now: i64) -> anyhow::Result<Result<(), Break>> {
    let checkpoint = sqlx::query(
        "SELECT seq, hash, broken_seq, broken_reason FROM audit_checkpoint WHERE id = 1",
    )
    .fetch_optional(&db.pool)
    .await?;
    let Some(row) = checkpoint else {
        // The first check walks everything.
        return walk_from(db, now, (0, GENESIS.to_owned()), true).await;
    };
    if let Some(seq) = row.try_get::<Option<i64>, _>("broken_seq")? {
        let reason: Option<String> = row.try_get("broken_reason")?;
        return Ok(Err(Break {
            seq,
            reason: reason.unwrap_or_default(),
        }));
    }
    let seq: i64 = row.try_get("seq")?;
    let hash: String = row.try_get("hash")?;
    if seq > 0 {
        // The entry the last check ended on, unchanged.
        let stored = sqlx::query(&format!(
            "SELECT {ENTRY_COLUMNS} FROM audit_log WHERE seq = $1"
        ))
        .bind(seq)
        .fetch_optional(&db.pool)
        .await?;
        let intact = match &stored {
            Some(r) => {
                let e = entry_from_row(r)?;
                e.hash == hash && e.compute_hash() == hash
            }
            None => false,
        };
        if !intact {
            let b = Break {
                seq,
                reason: "the entry last checked was changed or removed".into(),
            };
            return record_break(db, now, b).await;
        }
    }
    walk_from(db, now, (seq, hash), false).await
}

/// Walks the whole chain when the last whole walk is an hour old; one process of several
/// claims it (a conditional update). `None` when it was not due here.
pub async fn walk_whole_chain_if_due(
    db: &Db,
    now: i64,
) -> anyhow::Result<Option<Result<(), Break>>> {
    let claimed = sqlx::query(
        "UPDATE audit_checkpoint SET full_at = $1 WHERE id = 1 \
         AND broken_seq IS NULL AND (full_at IS NULL OR full_at <= $2)",
    )
    .bind(now)
    .bind(now - FULL_WALK_SECONDS)
    .execute(&db.pool)
    .await?;
    if claimed.rows_affected() == 0 {
        let exists = sqlx::query("SELECT 1 AS x FROM audit_checkpoint WHERE id = 1")
            .fetch_optional(&db.pool)
            .await?
            .is_some();
        if exists {
            return Ok(None);
        }
    }
    Ok(Some(
        walk_from(db, now, (0, GENESIS.to_owned()), true).await?,
    ))
}

/// Walks from `from` and records the result: the new end of the checked chain, or the break.
async fn walk_from(
    db: &Db,
    now: i64,
    from: (i64, String),
    whole: bool,
) -> anyhow::Result<Result<(), Break>> {
    match walk(db, from).await? {
        Ok(((seq, hash), _)) => {
            sqlx::query(
                "INSERT INTO audit_checkpoint (id, seq, hash, full_at, updated_at) \
                 VALUES (1, $1, $2, $3, $4) ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, \
                 hash = excluded.hash, updated_at = excluded.updated_at \
                 WHERE audit_checkpoint.seq < excluded.seq",
            )
            .bind(seq)
            .bind(hash)
            .bind(whole.then_some(now))
            .bind(now)
            .execute(&db.pool)
            .await?;
            Ok(Ok(()))
        }
        Err(b) => record_break(db, now, b).await,
    }
}

async fn record_break(db: &Db, now: i64, b: Break) -> anyhow::Result<Result<(), Break>> {
    tracing::error!(seq = b.seq, reason = %b.reason, "the audit chain is broken");
    sqlx::query(
        "INSERT INTO audit_checkpoint (id, seq, hash, broken_seq, broken_reason, updated_at) \
         VALUES (1, 0, $1, $2, $3, $4) ON CONFLICT (id) DO UPDATE SET \
         broken_seq = excluded.broken_seq, broken_reason = excluded.broken_reason, \
         updated_at = excluded.updated_at",
    )
    .bind(GENESIS)
    .bind(b.seq)
    .bind(&b.reason)
    .bind(now)
    .execute(&db.pool)
    .await?;
    Ok(Err(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn details_read_as_pairs_with_changes_and_long_identifiers_shortened() {
        let detail = r#"{"email":"a@example.jp","roles":["signer","administrator"],"pades_level":{"from":"B-LTA","to":"B-T"},"user":"0123456789abcdef0123456789abcdef","n":3,"x":null}"#;
        assert_eq!(
            summary(detail),
            "email: a@example.jp / n: 3 / pades_level: B-LTA → B-T / \
             roles: signer, administrator / user: 01234567… / x: —"
        );
        assert_eq!(summary("not json"), "not json");
    }

    #[test]
    fn kinds_parse_back_from_their_names() {
        for k in Kind::ALL {
            assert_eq!(Kind::parse(k.as_str()), Some(k));
        }
        assert_eq!(Kind::parse("everything"), None);
    }

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
