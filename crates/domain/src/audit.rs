//! The audit log: append-only (the database refuses UPDATE, DELETE and REPLACE on it) and
//! chained: each entry's hash is a MAC, under a key derived from the master key, over its
//! content and the previous entry's hash, so editing, removing or reordering entries breaks the
//! chain and nobody without the key can recompute it; anchors recorded in and outside the
//! database find entries removed from the end ([`chain`]). [`chain::verify`] checks everything,
//! [`verify_recent`] what the audit screen needs at the cost of what was appended since.

pub mod chain;

use std::collections::BTreeMap;

use sqlx::{Any, Row, Transaction};

use crate::ca_store::Ca;
use crate::db::Db;
pub use chain::{Break, Seal, Verified};

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

/// Appends `event` inside the caller's transaction, so it lands with the change it records.
///
/// Several processes may append at once. Appenders queue on a lock held until their
/// transaction ends (PostgreSQL: a transaction-level advisory lock; SQLite: the database's write
/// lock, which [`Db::begin`] takes first), so each reads the end its successor extends.
/// Should anything slip past, `seq` is the primary key and `prev_hash` is unique: a racing
/// writer fails rather than forking the chain.
pub async fn append(
    tx: &mut Transaction<'static, Any>,
    seal: &Seal,
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
    entry.hash = entry.mac(seal);
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
    seal: &Seal,
    now: i64,
    user: &crate::accounts::User,
    actor: &str,
    action: &str,
    detail: serde_json::Value,
) -> Result<Entry, sqlx::Error> {
    append(
        tx,
        seal,
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

/// How often the scheduler walks the whole chain ([`walk_whole_chain_if_due`]).
const FULL_WALK_SECONDS: i64 = 3600;

/// The audit screen's check, costing what was appended since the last one: the entry the last
/// check ended on (`audit_checkpoint`) and the one the newest anchor covers must be unchanged,
/// and everything after the former must follow. The whole chain and its anchors are checked by
/// the scheduler once an hour ([`walk_whole_chain_if_due`]) and by `inkan admin verify-audit`,
/// so an edit further back is found too. A break, once found, is kept and reported until the log
/// is repaired by hand.
pub async fn verify_recent(db: &Db, now: i64) -> anyhow::Result<Result<(), Break>> {
    let checkpoint = sqlx::query(
        "SELECT seq, hash, broken_seq, broken_reason FROM audit_checkpoint WHERE id = 1",
    )
    .fetch_optional(&db.pool)
    .await?;
    // The first check walks everything.
    let (seq, hash) = match &checkpoint {
        None => (0, GENESIS.to_owned()),
        Some(row) => {
            if let Some(seq) = row.try_get::<Option<i64>, _>("broken_seq")? {
                let reason: Option<String> = row.try_get("broken_reason")?;
                return Ok(Err(Break {
                    seq,
                    reason: reason.unwrap_or_default(),
                }));
            }
            (row.try_get("seq")?, row.try_get("hash")?)
        }
    };
    let keyed_from = keyed_from(db, (seq, &hash)).await?;
    let mut held = vec![(
        seq,
        hash.clone(),
        "the entry last checked was changed or removed".to_owned(),
    )];
    if let Some(a) = chain::newest_anchor(db).await? {
        let reason = format!("the entry checkpoint {} covers was changed or removed", a.n);
        held.push((a.entries, a.head, reason));
    }
    for (seq, hash, reason) in held.into_iter().filter(|(seq, ..)| *seq > 0) {
        let intact = entry_at(db, seq)
            .await?
            .is_some_and(|e| e.hash == hash && e.is_genuine(&db.audit, keyed_from));
        if !intact {
            return record_break(db, now, Break { seq, reason }).await;
        }
    }
    walk_from(db, now, (seq, hash), checkpoint.is_none()).await
}

/// Where MACs begin: as the first anchor says; without one, at `checked` (an entry already
/// checked) if it carries one, else wherever the walk meets the first.
async fn keyed_from(db: &Db, checked: (i64, &str)) -> anyhow::Result<Option<i64>> {
    if let Some(first) = chain::first_anchor(db).await? {
        return Ok(Some(first.keyed_from));
    }
    let (seq, hash) = checked;
    let keyed = entry_at(db, seq)
        .await?
        .is_some_and(|e| e.mac(&db.audit) == hash);
    Ok(keyed.then_some(seq))
}

/// The entry numbered `seq`, if there is one.
pub(crate) async fn entry_at(db: &Db, seq: i64) -> Result<Option<Entry>, sqlx::Error> {
    sqlx::query(&format!(
        "SELECT {ENTRY_COLUMNS} FROM audit_log WHERE seq = $1"
    ))
    .bind(seq)
    .fetch_optional(&db.pool)
    .await?
    .map(|r| entry_from_row(&r))
    .transpose()
}

/// Checks the whole chain and its anchors when the last whole check is an hour old; one process
/// of several claims it (a conditional update). Without `ca` (a process without Inkan's CA, in
/// tests) the anchors' timestamps cannot be checked, and the chain alone is walked. `None` when
/// it was not due here.
pub async fn walk_whole_chain_if_due(
    db: &Db,
    ca: Option<&Ca>,
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
    let Some(ca) = ca else {
        return Ok(Some(
            walk_from(db, now, (0, GENESIS.to_owned()), true).await?,
        ));
    };
    Ok(Some(match chain::verify(db, Some(ca)).await? {
        Ok(verified) => {
            record_intact(db, now, verified.last, true).await?;
            Ok(())
        }
        Err(b) => record_break(db, now, b).await?,
    }))
}

/// Walks from `from` and records the result: the new end of the checked chain, or the break.
async fn walk_from(
    db: &Db,
    now: i64,
    from: (i64, String),
    whole: bool,
) -> anyhow::Result<Result<(), Break>> {
    let keyed_from = keyed_from(db, (from.0, &from.1)).await?;
    match chain::walk(db, from, keyed_from, &BTreeMap::new()).await? {
        Ok(end) => {
            record_intact(db, now, end.last, whole).await?;
            Ok(Ok(()))
        }
        Err(b) => record_break(db, now, b).await,
    }
}

/// Records that the chain was found intact up to `last` (its `seq` and hash).
async fn record_intact(
    db: &Db,
    now: i64,
    (seq, hash): (i64, String),
    whole: bool,
) -> Result<(), sqlx::Error> {
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
    Ok(())
}

pub(crate) async fn record_break(db: &Db, now: i64, b: Break) -> anyhow::Result<Result<(), Break>> {
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

    fn seal() -> Seal {
        let master = ca::keystore::MasterKey::from_bytes(&[7; 32]).expect("key");
        Seal::new(&master, std::path::Path::new("unused")).expect("seal")
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
        e.hash = e.mac(&seal());
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
            assert_ne!(e.mac(&seal()), base.hash);
            assert_ne!(e.legacy_hash(), base.legacy_hash());
        }
    }

    #[test]
    fn the_mac_needs_the_key() {
        let e = entry();
        let other = Seal::new(
            &ca::keystore::MasterKey::from_bytes(&[8; 32]).expect("key"),
            std::path::Path::new("unused"),
        )
        .expect("seal");
        assert_ne!(e.mac(&other), e.hash);
        assert_ne!(e.legacy_hash(), e.hash);
        assert!(e.is_genuine(&seal(), Some(1)));
        assert!(!e.is_genuine(&other, Some(1)));
    }

    #[test]
    fn fields_cannot_be_shifted_into_each_other() {
        let mut a = entry();
        a.action = "ab".into();
        a.detail = "c".into();
        let mut b = entry();
        b.action = "a".into();
        b.detail = "bc".into();
        assert_ne!(a.mac(&seal()), b.mac(&seal()));
        assert_ne!(a.legacy_hash(), b.legacy_hash());
    }
}
