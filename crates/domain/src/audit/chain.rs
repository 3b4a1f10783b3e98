//! What makes the audit log tamper-evident to someone who can write to the database but does
//! not hold the master key:
//!
//! - every entry's hash is a MAC (HMAC-SHA256 under a key derived from the master key, the
//!   [`Seal`]) over its fields and the previous entry's MAC, so an entry cannot be changed, nor
//!   the chain recomputed after it, without the key;
//! - anchors (checkpoints): every `audit_anchor_seconds`, when entries were added, the number of
//!   entries and the newest one's MAC are recorded, MAC'd, linked to the anchor before and
//!   timestamped by Inkan's TSA, in `audit_anchors` and in `audit-anchors.jsonl` in the data
//!   folder of every process (and a log line), so entries removed from the end (up to the last
//!   anchor), every entry removed, or an anchor removed are found by [`verify`].
//!
//! Entries written before keyed chains (an upgraded instance) carry a plain SHA-256; the first
//! anchor records where MACs begin (`keyed_from`), and every entry from there on must carry one.

use std::collections::BTreeMap;
use std::io::{BufRead, Read, Seek, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use aws_lc_rs::{digest, hmac};
use sqlx::Row;

use super::{entry_from_row, Entry, ENTRY_COLUMNS, GENESIS};
use crate::ca_store::Ca;
use crate::db::Db;

/// The file in each process's data folder that keeps a copy of every anchor.
pub const ANCHOR_FILE: &str = "audit-anchors.jsonl";

/// The key the chain and its anchors are MAC'd with, and where this process copies anchors.
pub struct Seal {
    key: hmac::Key,
    file: PathBuf,
}

impl std::fmt::Debug for Seal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Seal")
            .field("key", &"<redacted>")
            .field("file", &self.file)
            .finish()
    }
}

impl Seal {
    /// The seal of an instance whose master key is `master`, copying anchors into `data_dir`.
    pub fn new(master: &ca::keystore::MasterKey, data_dir: &Path) -> anyhow::Result<Self> {
        let secret = master
            .derive(b"audit chain")
            .context("deriving the audit log's key")?;
        Ok(Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, secret.as_ref()),
            file: data_dir.join(ANCHOR_FILE),
        })
    }

    /// Where this process keeps its copy of the anchors.
    pub fn file(&self) -> &Path {
        &self.file
    }

    fn context(&self) -> hmac::Context {
        hmac::Context::with_key(&self.key)
    }
}

/// Feeds an entry's fields, each length-prefixed so fields cannot run together, to `update`.
fn entry_fields(entry: &Entry, mut update: impl FnMut(&[u8])) {
    let mut field = |bytes: &[u8]| {
        update(&(bytes.len() as u64).to_be_bytes());
        update(bytes);
    };
    field(&entry.seq.to_be_bytes());
    field(&entry.at.to_be_bytes());
    field(entry.org_id.as_deref().unwrap_or("\u{0}").as_bytes());
    field(entry.actor.as_deref().unwrap_or("\u{0}").as_bytes());
    field(entry.action.as_bytes());
    field(entry.detail.as_bytes());
    field(entry.prev_hash.as_bytes());
}

impl Entry {
    /// The entry's MAC under `seal`: what its `hash` holds.
    pub fn mac(&self, seal: &Seal) -> String {
        let mut ctx = seal.context();
        ctx.update(b"inkan-audit-v2");
        entry_fields(self, |b| ctx.update(b));
        hex::encode(ctx.sign().as_ref())
    }

    /// Whether the entry's hash is its MAC, or, before `keyed_from` (`None`: unless it carries
    /// a MAC), its legacy hash.
    pub fn is_genuine(&self, seal: &Seal, keyed_from: Option<i64>) -> bool {
        self.genuine_as(seal, keyed_from).is_some()
    }

    /// As [`Entry::is_genuine`]: `Some(true)` when its hash is its MAC, `Some(false)` when it is
    /// its legacy hash and that is allowed here, `None` when neither.
    fn genuine_as(&self, seal: &Seal, keyed_from: Option<i64>) -> Option<bool> {
        let keyed_here = keyed_from.map(|first| self.seq >= first);
        if keyed_here != Some(false) && self.hash == self.mac(seal) {
            Some(true)
        } else if keyed_here != Some(true) && self.hash == self.legacy_hash() {
            Some(false)
        } else {
            None
        }
    }

    /// The plain SHA-256 entries carried before keyed chains (anyone can compute it).
    pub fn legacy_hash(&self) -> String {
        let mut ctx = digest::Context::new(&digest::SHA256);
        ctx.update(b"inkan-audit-v1");
        entry_fields(self, |b| ctx.update(b));
        hex::encode(ctx.finish().as_ref())
    }
}

/// A checkpoint of the chain.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Anchor {
    /// 1, 2, 3 …
    pub n: i64,
    /// When it was made (Unix seconds).
    pub at: i64,
    /// How many entries it covers: the newest one's `seq`.
    pub entries: i64,
    /// That entry's hash.
    pub head: String,
    /// The first entry carrying a MAC.
    pub keyed_from: i64,
    /// The previous anchor's MAC ([`GENESIS`] for the first).
    pub prev_mac: String,
    /// The MAC of [`Anchor::text`].
    pub mac: String,
}

impl Anchor {
    /// What the MAC covers.
    fn text(&self) -> String {
        format!(
            "inkan-audit-anchor-v1\n{}\n{}\n{}\n{}\n{}\n{}\n",
            self.n, self.at, self.entries, self.head, self.keyed_from, self.prev_mac
        )
    }

    fn compute_mac(&self, seal: &Seal) -> String {
        let mut ctx = seal.context();
        ctx.update(self.text().as_bytes());
        hex::encode(ctx.sign().as_ref())
    }

    /// The SHA-256 the TSA's token covers: the text and its MAC.
    fn digest(&self) -> Vec<u8> {
        let mut ctx = digest::Context::new(&digest::SHA256);
        ctx.update(self.text().as_bytes());
        ctx.update(self.mac.as_bytes());
        ctx.finish().as_ref().to_vec()
    }
}

/// Where the chain or its anchors are not what was written.
#[derive(Debug, PartialEq, Eq)]
pub struct Break {
    /// The entry where it shows (for an anchor, the entries it covers).
    pub seq: i64,
    pub reason: String,
}

fn broken(seq: i64, reason: impl Into<String>) -> Break {
    Break {
        seq,
        reason: reason.into(),
    }
}

/// How many entries a walk reads at a time.
const PAGE: i64 = 1000;

/// The end of a walk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct WalkEnd {
    /// The last entry's `seq` and hash (`(0, GENESIS)` when none were read or found).
    pub last: (i64, String),
    pub count: u64,
    /// The first entry carrying a MAC, if any was read.
    pub keyed_from: Option<i64>,
}

/// Walks the entries after `from` (`(0, GENESIS)` for the whole log), a page at a time. Entries
/// from `keyed_from` on must carry a MAC and entries before it the legacy hash; with `None`,
/// legacy hashes are accepted until the first MAC. `heads` maps anchored entries to the hash
/// their anchor recorded.
pub(super) async fn walk(
    db: &Db,
    from: (i64, String),
    mut keyed_from: Option<i64>,
    heads: &BTreeMap<i64, (i64, String)>,
) -> anyhow::Result<Result<WalkEnd, Break>> {
    let seal = &db.audit;
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
            let reason = if entry.seq != last_seq + 1 {
                Some("an entry is missing before this one")
            } else if entry.prev_hash != expected_prev {
                Some("it does not follow the previous entry")
            } else {
                match entry.genuine_as(seal, keyed_from) {
                    None => Some("its content was changed (its MAC does not match)"),
                    Some(keyed) => {
                        // Once one entry carries a MAC, every later one must.
                        if keyed && keyed_from.is_none() {
                            keyed_from = Some(entry.seq);
                        }
                        None
                    }
                }
            };
            if let Some(reason) = reason {
                return Ok(Err(broken(entry.seq, reason)));
            }
            if let Some((n, head)) = heads.get(&entry.seq) {
                if *head != entry.hash {
                    return Ok(Err(broken(
                        entry.seq,
                        format!(
                            "the chain was rewritten: checkpoint {n} recorded another entry here"
                        ),
                    )));
                }
            }
            last_seq = entry.seq;
            expected_prev = entry.hash;
            count += 1;
        }
        if (rows.len() as i64) < PAGE {
            return Ok(Ok(WalkEnd {
                last: (last_seq, expected_prev),
                count,
                keyed_from,
            }));
        }
    }
}

const ANCHOR_COLUMNS: &str = "n, at, entries, head, keyed_from, prev_mac, mac";

fn anchor_from_row(row: &sqlx::any::AnyRow) -> Result<Anchor, sqlx::Error> {
    Ok(Anchor {
        n: row.try_get("n")?,
        at: row.try_get("at")?,
        entries: row.try_get("entries")?,
        head: row.try_get("head")?,
        keyed_from: row.try_get("keyed_from")?,
        prev_mac: row.try_get("prev_mac")?,
        mac: row.try_get("mac")?,
    })
}

/// The first anchor, if any.
pub async fn first_anchor(db: &Db) -> Result<Option<Anchor>, sqlx::Error> {
    one_anchor(db, "ASC").await
}

/// The newest anchor, if any.
pub async fn newest_anchor(db: &Db) -> Result<Option<Anchor>, sqlx::Error> {
    one_anchor(db, "DESC").await
}

async fn one_anchor(db: &Db, order: &str) -> Result<Option<Anchor>, sqlx::Error> {
    sqlx::query(&format!(
        "SELECT {ANCHOR_COLUMNS} FROM audit_anchors ORDER BY n {order} LIMIT 1"
    ))
    .fetch_optional(&db.pool)
    .await?
    .map(|row| anchor_from_row(&row))
    .transpose()
}

/// Every anchor in the database, in order.
pub async fn anchors(db: &Db) -> Result<Vec<(Anchor, Vec<u8>)>, sqlx::Error> {
    let rows = sqlx::query(&format!(
        "SELECT {ANCHOR_COLUMNS}, token FROM audit_anchors ORDER BY n"
    ))
    .fetch_all(&db.pool)
    .await?;
    rows.iter()
        .map(|row| Ok((anchor_from_row(row)?, row.try_get("token")?)))
        .collect()
}

/// What a whole check found intact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub entries: u64,
    /// The last entry's `seq` and hash.
    pub last: (i64, String),
    pub anchors: u64,
    /// The entries the last anchor covers (0 without one): entries after it could still be
    /// removed from the end unnoticed until the next anchor.
    pub anchored: i64,
}

/// Checks the whole log against its anchors (the database's and this process's file): every
/// entry's MAC and link, every anchor's MAC, link, timestamp and head, and that no anchor in the
/// file is missing from the database. The first break found, or what was found intact. Without
/// `ca` (an instance without its CA yet, which has made no anchor) timestamps are not checked.
pub async fn verify(db: &Db, ca: Option<&Ca>) -> anyhow::Result<Result<Verified, Break>> {
    let stored = anchors(db).await?;
    let kept = read_file(db.audit.file())?;
    let mut previous = GENESIS.to_owned();
    let mut heads = BTreeMap::new();
    for (i, (anchor, token)) in stored.iter().enumerate() {
        let n = i as i64 + 1;
        if anchor.n != n || anchor.prev_mac != previous {
            return Ok(Err(broken(
                anchor.entries,
                format!("checkpoint {n} was removed from the database"),
            )));
        }
        if anchor.mac != anchor.compute_mac(&db.audit) {
            return Ok(Err(broken(
                anchor.entries,
                format!("checkpoint {n} is not genuine (its MAC does not match)"),
            )));
        }
        let checked =
            ca.map(|ca| check_token(token, &anchor.digest(), ca.authority().tsa_cert_der()));
        if let Some(Err(e)) = checked {
            return Ok(Err(broken(
                anchor.entries,
                format!("checkpoint {n}'s timestamp does not hold: {e}"),
            )));
        }
        previous = anchor.mac.clone();
        heads.insert(anchor.entries, (anchor.n, anchor.head.clone()));
    }
    for copy in &kept {
        let file = db.audit.file().display();
        if copy.mac != copy.compute_mac(&db.audit) {
            return Ok(Err(broken(
                copy.entries,
                format!("the copy of checkpoint {} in {file} is not genuine", copy.n),
            )));
        }
        match stored.iter().find(|(a, _)| a.n == copy.n) {
            Some((a, _)) if a == copy => {}
            Some(_) => {
                return Ok(Err(broken(
                    copy.entries,
                    format!(
                        "checkpoint {} in the database differs from its copy in {file}",
                        copy.n
                    ),
                )))
            }
            None => {
                return Ok(Err(broken(
                    copy.entries,
                    format!(
                        "checkpoint {} (kept in {file}) was removed from the database",
                        copy.n
                    ),
                )))
            }
        }
    }
    let keyed_from = stored.first().map(|(a, _)| a.keyed_from);
    let end = match walk(db, (0, GENESIS.to_owned()), keyed_from, &heads).await? {
        Ok(end) => end,
        Err(b) => return Ok(Err(b)),
    };
    let anchored = stored.last().map_or(0, |(a, _)| a.entries);
    if end.last.0 < anchored {
        let (n, _) = &heads[&anchored];
        let reason = if end.count == 0 {
            format!("every entry was removed (checkpoint {n} covers {anchored})")
        } else {
            format!(
                "the entries after {} were removed (checkpoint {n} covers {anchored})",
                end.last.0
            )
        };
        return Ok(Err(broken(end.last.0 + 1, reason)));
    }
    Ok(Ok(Verified {
        entries: end.count,
        last: end.last,
        anchors: stored.len() as u64,
        anchored,
    }))
}

/// Checks that `token` is a timestamp over `digest` (SHA-256) signed by `tsa_certificate`.
fn check_token(token: &[u8], digest: &[u8], tsa_certificate: &[u8]) -> anyhow::Result<()> {
    use der::Encode as _;
    let parsed = pdf_sign::cms::ParsedCms::parse(token)?;
    let content = parsed
        .signed_data
        .encap_content_info
        .econtent
        .as_ref()
        .context("it holds no TSTInfo")?;
    let tst_info: der::asn1::OctetString = content.decode_as()?;
    // Read through pdf-sign, which also checks that the content is typed as a TSTInfo.
    let info = pdf_sign::ltv::tst_info(token)?;
    anyhow::ensure!(
        info.message_imprint.hashed_message.as_bytes() == digest,
        "it covers another text"
    );
    let hash = parsed.digest_algorithm()?;
    anyhow::ensure!(
        hash.digest(tst_info.as_bytes()) == parsed.message_digest()?,
        "its content was changed"
    );
    parsed.verify_signature()?;
    let signer = parsed.signer_certificate()?.to_der()?;
    anyhow::ensure!(
        signer == tsa_certificate,
        "it was not made by Inkan's timestamp authority"
    );
    Ok(())
}

/// How often anchors are made by default (`audit_anchor_seconds`).
pub const ANCHOR_SECONDS: i64 = 600;

/// Makes an anchor when entries were added since the last one and it is `every` seconds old (or
/// there is none), after checking what was added since: a chain found broken is recorded as
/// broken (`audit_checkpoint`) and not anchored. `ca`'s TSA timestamps it. Several
/// processes may try at once: one succeeds, the others find the anchor made. The new anchor,
/// if one was made (it is also copied to this process's file and logged), or the break.
pub async fn anchor_if_due(
    db: &Db,
    ca: &Ca,
    now: i64,
    every: i64,
) -> anyhow::Result<Result<Option<Anchor>, Break>> {
    let last = newest_anchor(db).await?;
    if last.as_ref().is_some_and(|a| now - a.at < every) {
        return Ok(Ok(None));
    }
    let (from, keyed_from) = match &last {
        Some(a) => ((a.entries, a.head.clone()), Some(a.keyed_from)),
        None => ((0, GENESIS.to_owned()), None),
    };
    if let Some(a) = &last {
        // The anchored head itself, unchanged.
        let intact = super::entry_at(db, a.entries)
            .await?
            .is_some_and(|e| e.hash == a.head && e.is_genuine(&db.audit, Some(a.keyed_from)));
        if !intact {
            let b = broken(
                a.entries,
                format!("the entry checkpoint {} covers was changed or removed", a.n),
            );
            return Ok(super::record_break(db, now, b).await?.map(|()| None));
        }
    }
    let end = match walk(db, from, keyed_from, &BTreeMap::new()).await? {
        Ok(end) => end,
        Err(b) => return Ok(super::record_break(db, now, b).await?.map(|()| None)),
    };
    if end.count == 0 {
        return Ok(Ok(None));
    }
    let mut anchor = Anchor {
        n: last.as_ref().map_or(1, |a| a.n + 1),
        at: now,
        entries: end.last.0,
        head: end.last.1,
        // An instance whose log predates keyed chains and has no MAC yet: the next entry.
        keyed_from: keyed_from.or(end.keyed_from).unwrap_or(end.last.0 + 1),
        prev_mac: last
            .as_ref()
            .map_or_else(|| GENESIS.to_owned(), |a| a.mac.clone()),
        mac: String::new(),
    };
    anchor.mac = anchor.compute_mac(&db.audit);
    let digest = anchor.digest();
    let token =
        pdf_sign::ltv::request_timestamp(&OwnTsa(ca), pdf_sign::HashAlgorithm::Sha256, &digest)
            .context("timestamping the audit checkpoint")?;
    let inserted = sqlx::query(
        "INSERT INTO audit_anchors (n, at, entries, head, keyed_from, prev_mac, mac, token) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
    )
    .bind(anchor.n)
    .bind(anchor.at)
    .bind(anchor.entries)
    .bind(&anchor.head)
    .bind(anchor.keyed_from)
    .bind(&anchor.prev_mac)
    .bind(&anchor.mac)
    .bind(&token)
    .execute(&db.pool)
    .await;
    match inserted {
        Ok(done) if done.rows_affected() == 1 => {}
        // Another process anchored first (SQLite's no-replace guard refuses rather than skips).
        Ok(_) => return Ok(Ok(None)),
        Err(_) if newest_anchor(db).await?.is_some_and(|a| a.n >= anchor.n) => return Ok(Ok(None)),
        Err(e) => return Err(e).context("storing the audit checkpoint"),
    }
    tracing::info!(
        target: "inkan::audit",
        checkpoint = anchor.n,
        entries = anchor.entries,
        head = %anchor.head,
        mac = %anchor.mac,
        "audit checkpoint"
    );
    sync_file(db).await?;
    Ok(Ok(Some(anchor)))
}

/// Inkan's TSA, in-process.
struct OwnTsa<'a>(&'a Ca);

impl pdf_sign::TsaTransport for OwnTsa<'_> {
    fn post(&self, request: &[u8]) -> pdf_sign::Result<Vec<u8>> {
        self.0
            .authority()
            .tsa()
            .respond(request)
            .map_err(|e| pdf_sign::PdfError::Invalid(format!("Inkan's TSA: {e}")))
    }
}

/// Appends to this process's file the anchors of the database it does not hold yet (those after
/// its last line), synced to disk. Returns how many were written.
pub async fn sync_file(db: &Db) -> anyhow::Result<usize> {
    let path = db.audit.file();
    let held = last_in_file(path)?;
    let missing: Vec<Anchor> = anchors(db)
        .await?
        .into_iter()
        .map(|(a, _)| a)
        .filter(|a| a.n > held)
        .collect();
    if missing.is_empty() {
        return Ok(0);
    }
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .read(true)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))?;
    let mut text = String::new();
    if !ends_with_newline(&mut file)? {
        // A line cut short by a crash stays apart from the next.
        text.push('\n');
    }
    for anchor in &missing {
        text.push_str(&serde_json::to_string(anchor)?);
        text.push('\n');
    }
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_data())
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(missing.len())
}

fn ends_with_newline(file: &mut std::fs::File) -> std::io::Result<bool> {
    let len = file.metadata()?.len();
    if len == 0 {
        return Ok(true);
    }
    file.seek(std::io::SeekFrom::Start(len - 1))?;
    let mut last = [0u8];
    file.read_exact(&mut last)?;
    Ok(last[0] == b'\n')
}

/// The number of the last anchor in the file (its last whole line), 0 without one.
fn last_in_file(path: &Path) -> anyhow::Result<i64> {
    let mut file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e).with_context(|| format!("opening {}", path.display())),
    };
    let len = file.metadata()?.len();
    // A line is a few hundred bytes: the tail holds the last whole one.
    let start = len.saturating_sub(4096);
    file.seek(std::io::SeekFrom::Start(start))?;
    let mut tail = String::new();
    file.take(4096).read_to_string(&mut tail)?;
    Ok(tail
        .lines()
        .rev()
        .find_map(|line| serde_json::from_str::<Anchor>(line).ok())
        .map_or(0, |a| a.n))
}

/// Every anchor in the file (lines that do not read as one, such as a line cut short by a
/// crash, are skipped).
fn read_file(path: &Path) -> anyhow::Result<Vec<Anchor>> {
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("opening {}", path.display())),
    };
    let mut kept = Vec::new();
    for line in std::io::BufReader::new(file).lines() {
        let line = line.with_context(|| format!("reading {}", path.display()))?;
        if let Ok(anchor) = serde_json::from_str::<Anchor>(&line) {
            if !kept.contains(&anchor) {
                kept.push(anchor);
            }
        }
    }
    Ok(kept)
}
