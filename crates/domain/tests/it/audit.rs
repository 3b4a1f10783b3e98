//! The audit log against someone who can write to the database but holds no master key: every
//! guard the database has is dropped first (as its administrator can), then entries are
//! removed from the end, every entry is removed, a checkpoint is removed or forged, the chain is
//! rewritten and recomputed (with the public legacy hash, with another key), and rows are
//! replaced; [`chain::verify`] finds each. With the guards in place, REPLACE and upserts are
//! refused.

use domain::audit::chain::{self, Anchor, ANCHOR_FILE};
use domain::audit::{self, Entry, Event, Seal, GENESIS};
use domain::ca_store::{Ca, Settings};
use domain::db::Db;
use sqlx::Row;

use crate::on_both_databases;
use crate::support::{Backend, TestDb};

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("time")
        .as_secs() as i64
}

/// A database with `entries` entries and Inkan's CA (for the checkpoints' timestamps).
async fn setup(backend: Backend, entries: usize) -> Option<(TestDb, Ca)> {
    let t = TestDb::new(backend).await?;
    append(&t.db, entries).await;
    let ca = Ca::create(
        &t.db,
        now(),
        ca::keystore::MasterKey::generate().expect("master"),
        Settings {
            organisation: "Audit Test".into(),
            base_url: "http://127.0.0.1:1".into(),
            key_algorithm: "p256".into(),
        },
    )
    .await
    .expect("created")
    .expect("a new CA");
    Some((t, ca))
}

async fn append(db: &Db, n: usize) {
    for i in 0..n {
        let mut tx = db.begin().await.expect("begin");
        audit::append(
            &mut tx,
            &db.audit,
            now(),
            &Event {
                org_id: Some("org"),
                actor: Some("cli"),
                action: "user.created",
                detail: serde_json::json!({ "n": i }),
            },
        )
        .await
        .expect("appended");
        tx.commit().await.expect("commit");
    }
}

async fn anchor(db: &Db, ca: &Ca) -> Anchor {
    chain::anchor_if_due(db, ca, now(), 0)
        .await
        .expect("anchoring runs")
        .expect("the chain is intact")
        .expect("an anchor is made")
}

async fn verify(db: &Db, ca: &Ca) -> Result<chain::Verified, audit::Break> {
    chain::verify(db, Some(ca))
        .await
        .expect("verification runs")
}

async fn exec(db: &Db, sql: &str) {
    sqlx::query(sql)
        .execute(&db.pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// What a database administrator can do first: drop every trigger guarding the log.
async fn drop_guards(t: &TestDb, backend: Backend) {
    let statements: &[&str] = match backend {
        Backend::Sqlite => &[
            "DROP TRIGGER audit_log_no_update",
            "DROP TRIGGER audit_log_no_delete",
            "DROP TRIGGER audit_log_no_replace",
            "DROP TRIGGER audit_anchors_no_update",
            "DROP TRIGGER audit_anchors_no_delete",
            "DROP TRIGGER audit_anchors_no_replace",
        ],
        Backend::Postgres => &[
            "DROP TRIGGER audit_log_no_change ON audit_log",
            "DROP TRIGGER audit_anchors_no_change ON audit_anchors",
        ],
    };
    for sql in statements {
        exec(&t.db, sql).await;
    }
}

async fn entries(db: &Db) -> Vec<Entry> {
    let rows = sqlx::query(
        "SELECT seq, at, org_id, actor, action, detail, prev_hash, hash FROM audit_log \
         ORDER BY seq",
    )
    .fetch_all(&db.pool)
    .await
    .expect("entries");
    rows.iter()
        .map(|r| Entry {
            seq: r.get("seq"),
            at: r.get("at"),
            org_id: r.get("org_id"),
            actor: r.get("actor"),
            action: r.get("action"),
            detail: r.get("detail"),
            prev_hash: r.get("prev_hash"),
            hash: r.get("hash"),
        })
        .collect()
}

/// Rewrites entry `from`'s detail and recomputes every hash from there with `hash`, as someone
/// hiding the edit would.
async fn rewrite_from(db: &Db, from: i64, hash: impl Fn(&Entry) -> String) {
    let mut prev = GENESIS.to_owned();
    for mut e in entries(db).await {
        if e.seq >= from {
            if e.seq == from {
                e.detail = r#"{"email":"evil@example.com"}"#.into();
            }
            e.prev_hash = prev.clone();
            e.hash = hash(&e);
            sqlx::query(
                "UPDATE audit_log SET detail = $1, prev_hash = $2, hash = $3 WHERE seq = $4",
            )
            .bind(&e.detail)
            .bind(&e.prev_hash)
            .bind(&e.hash)
            .bind(e.seq)
            .execute(&db.pool)
            .await
            .expect("rewritten");
        }
        prev = e.hash;
    }
}

fn file_lines(db: &Db) -> Vec<Anchor> {
    std::fs::read_to_string(db.audit.file())
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("an anchor per line"))
        .collect()
}

on_both_databases!(
    an_intact_log_verifies_with_its_checkpoints_in_the_database_and_the_file,
    removing_entries_from_the_end_is_found,
    removing_every_entry_is_found,
    a_removed_checkpoint_is_found_by_its_copy_or_the_gap_it_leaves,
    a_chain_rewritten_and_recomputed_without_the_key_is_found,
    a_forged_or_altered_checkpoint_is_found,
    replacing_rows_is_refused,
    entries_from_before_keyed_chains_stay_verifiable_and_protected,
);

async fn an_intact_log_verifies_with_its_checkpoints_in_the_database_and_the_file(
    backend: Backend,
) {
    let Some((t, ca)) = setup(backend, 5).await else {
        return;
    };
    let first = anchor(&t.db, &ca).await;
    assert_eq!((first.n, first.entries, first.keyed_from), (1, 5, 1));
    // Not due again within the period, nor with nothing new.
    let again = chain::anchor_if_due(&t.db, &ca, now(), 600)
        .await
        .expect("runs");
    assert_eq!(again, Ok(None));
    let nothing = chain::anchor_if_due(&t.db, &ca, now(), 0)
        .await
        .expect("runs");
    assert_eq!(nothing, Ok(None));
    append(&t.db, 3).await;
    let second = anchor(&t.db, &ca).await;
    assert_eq!((second.n, second.entries), (2, 8));
    assert_eq!(second.prev_mac, first.mac);
    let verified = verify(&t.db, &ca).await.expect("intact");
    assert_eq!(
        (verified.entries, verified.anchors, verified.anchored),
        (8, 2, 8)
    );
    // Every process's data folder keeps a copy; a second process's file is brought up to date.
    assert_eq!(file_lines(&t.db), vec![first.clone(), second.clone()]);
    assert!(t.db.audit.file().ends_with(ANCHOR_FILE));
    std::fs::remove_file(t.db.audit.file()).expect("removed");
    assert_eq!(chain::sync_file(&t.db).await.expect("synced"), 2);
    assert_eq!(chain::sync_file(&t.db).await.expect("synced"), 0);
    assert_eq!(file_lines(&t.db), vec![first, second]);
    // A line cut short by a crash is skipped, and the next one starts on a line of its own.
    let mut text = std::fs::read_to_string(t.db.audit.file()).expect("read");
    text.push_str("{\"n\":3,\"at\"");
    std::fs::write(t.db.audit.file(), text).expect("written");
    append(&t.db, 1).await;
    let third = anchor(&t.db, &ca).await;
    let text = std::fs::read_to_string(t.db.audit.file()).expect("read");
    assert!(text.ends_with(&format!(
        "{}\n",
        serde_json::to_string(&third).expect("json")
    )));
    assert_eq!(verify(&t.db, &ca).await.expect("intact").anchors, 3);
}

async fn removing_entries_from_the_end_is_found(backend: Backend) {
    let Some((t, ca)) = setup(backend, 6).await else {
        return;
    };
    anchor(&t.db, &ca).await;
    drop_guards(&t, backend).await;
    exec(&t.db, "DELETE FROM audit_log WHERE seq > 4").await;
    let b = verify(&t.db, &ca).await.expect_err("found");
    assert_eq!(b.seq, 5, "{b:?}");
    assert!(b.reason.contains("entries after 4 were removed"), "{b:?}");
    // The audit screen's quick check finds it too.
    let recent = audit::verify_recent(&t.db, now()).await.expect("runs");
    assert!(recent.is_err(), "{recent:?}");
}

async fn removing_every_entry_is_found(backend: Backend) {
    let Some((t, ca)) = setup(backend, 3).await else {
        return;
    };
    anchor(&t.db, &ca).await;
    drop_guards(&t, backend).await;
    exec(&t.db, "DELETE FROM audit_log").await;
    let b = verify(&t.db, &ca).await.expect_err("found");
    assert!(b.reason.contains("every entry was removed"), "{b:?}");
    // And with the checkpoints removed from the database too, the file still holds them.
    exec(&t.db, "DELETE FROM audit_anchors").await;
    let b = verify(&t.db, &ca).await.expect_err("found");
    assert!(b.reason.contains("was removed from the database"), "{b:?}");
}

async fn a_removed_checkpoint_is_found_by_its_copy_or_the_gap_it_leaves(backend: Backend) {
    let Some((t, ca)) = setup(backend, 2).await else {
        return;
    };
    anchor(&t.db, &ca).await;
    append(&t.db, 2).await;
    anchor(&t.db, &ca).await;
    append(&t.db, 2).await;
    anchor(&t.db, &ca).await;
    drop_guards(&t, backend).await;
    // The newest: the file's copy says it was there.
    exec(&t.db, "DELETE FROM audit_anchors WHERE n = 3").await;
    let b = verify(&t.db, &ca).await.expect_err("found");
    assert!(
        b.reason.contains("checkpoint 3 (kept in") && b.reason.contains("removed"),
        "{b:?}"
    );
    // One in the middle: the next no longer follows, even without the file.
    std::fs::remove_file(t.db.audit.file()).expect("removed");
    exec(&t.db, "DELETE FROM audit_anchors WHERE n = 1").await;
    let b = verify(&t.db, &ca).await.expect_err("found");
    assert!(b.reason.contains("checkpoint 1 was removed"), "{b:?}");
}

async fn a_chain_rewritten_and_recomputed_without_the_key_is_found(backend: Backend) {
    let Some((t, ca)) = setup(backend, 5).await else {
        return;
    };
    anchor(&t.db, &ca).await;
    append(&t.db, 2).await;
    drop_guards(&t, backend).await;
    // With the public legacy hash, from the second entry on.
    rewrite_from(&t.db, 2, Entry::legacy_hash).await;
    let b = verify(&t.db, &ca).await.expect_err("found");
    assert_eq!(b.seq, 2, "{b:?}");
    assert!(b.reason.contains("MAC does not match"), "{b:?}");
    // With a key of the attacker's own, over the entries no checkpoint covers yet.
    let (t, ca) = setup(backend, 3).await.expect("a second database");
    anchor(&t.db, &ca).await;
    append(&t.db, 3).await;
    drop_guards(&t, backend).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let other = Seal::new(
        &ca::keystore::MasterKey::generate().expect("key"),
        dir.path(),
    )
    .expect("seal");
    rewrite_from(&t.db, 5, |e| e.mac(&other)).await;
    let b = verify(&t.db, &ca).await.expect_err("found");
    assert_eq!(b.seq, 5, "{b:?}");
    // A checkpoint is refused over the rewritten chain, which is reported instead.
    let refused = chain::anchor_if_due(&t.db, &ca, now(), 0)
        .await
        .expect("runs");
    assert!(matches!(refused, Err(ref b) if b.seq == 5), "{refused:?}");
    assert!(audit::verify_recent(&t.db, now())
        .await
        .expect("runs")
        .is_err());
}

async fn a_forged_or_altered_checkpoint_is_found(backend: Backend) {
    let Some((t, ca)) = setup(backend, 3).await else {
        return;
    };
    anchor(&t.db, &ca).await;
    drop_guards(&t, backend).await;
    // Moved back to cover fewer entries (to hide removing the last), its MAC kept.
    exec(&t.db, "UPDATE audit_anchors SET entries = 2").await;
    std::fs::remove_file(t.db.audit.file()).expect("removed");
    let b = verify(&t.db, &ca).await.expect_err("found");
    assert!(b.reason.contains("checkpoint 1 is not genuine"), "{b:?}");
    // Its timestamp token swapped for another's.
    exec(&t.db, "UPDATE audit_anchors SET entries = 3").await;
    assert!(verify(&t.db, &ca).await.is_ok());
    let token: Vec<u8> = sqlx::query("SELECT token FROM audit_anchors WHERE n = 1")
        .fetch_one(&t.db.pool)
        .await
        .expect("token")
        .get("token");
    append(&t.db, 1).await;
    anchor(&t.db, &ca).await;
    sqlx::query("UPDATE audit_anchors SET token = $1 WHERE n = 2")
        .bind(&token)
        .execute(&t.db.pool)
        .await
        .expect("swapped");
    let b = verify(&t.db, &ca).await.expect_err("found");
    assert!(b.reason.contains("checkpoint 2's timestamp"), "{b:?}");
    // The file's copy edited.
    let (t, ca) = setup(backend, 2).await.expect("a second database");
    anchor(&t.db, &ca).await;
    let mut copy = file_lines(&t.db).remove(0);
    copy.entries = 1;
    std::fs::write(
        t.db.audit.file(),
        format!("{}\n", serde_json::to_string(&copy).expect("json")),
    )
    .expect("written");
    let b = verify(&t.db, &ca).await.expect_err("found");
    assert!(b.reason.contains("not genuine"), "{b:?}");
}

async fn replacing_rows_is_refused(backend: Backend) {
    let Some((t, ca)) = setup(backend, 2).await else {
        return;
    };
    anchor(&t.db, &ca).await;
    let before = entries(&t.db).await;
    let attempts: &[&str] = match backend {
        Backend::Sqlite => &[
            "REPLACE INTO audit_log (seq, at, org_id, actor, action, detail, prev_hash, hash) \
             SELECT seq, at, org_id, actor, action, '{}', prev_hash, hash FROM audit_log \
             WHERE seq = 2",
            "INSERT OR REPLACE INTO audit_log (seq, at, org_id, actor, action, detail, \
             prev_hash, hash) VALUES (2, 0, NULL, NULL, 'x', '{}', 'p', 'h')",
            "REPLACE INTO audit_anchors (n, at, entries, head, keyed_from, prev_mac, mac, token) \
             SELECT n, at, 1, head, keyed_from, prev_mac, mac, token FROM audit_anchors",
            "INSERT INTO audit_log (seq, at, org_id, actor, action, detail, prev_hash, hash) \
             VALUES (2, 0, NULL, NULL, 'x', '{}', 'p', 'h') \
             ON CONFLICT (seq) DO UPDATE SET detail = excluded.detail",
            "DELETE FROM audit_anchors",
            "UPDATE audit_anchors SET entries = 1",
        ],
        Backend::Postgres => &[
            "INSERT INTO audit_log (seq, at, org_id, actor, action, detail, prev_hash, hash) \
             VALUES (2, 0, NULL, NULL, 'x', '{}', 'p', 'h') \
             ON CONFLICT (seq) DO UPDATE SET detail = excluded.detail",
            "INSERT INTO audit_anchors (n, at, entries, head, keyed_from, prev_mac, mac, token) \
             VALUES (1, 0, 1, 'h', 1, 'p', 'm', '\\x00') \
             ON CONFLICT (n) DO UPDATE SET entries = excluded.entries",
            "TRUNCATE audit_log",
            "TRUNCATE audit_anchors",
            "DELETE FROM audit_anchors",
            "UPDATE audit_anchors SET entries = 1",
        ],
    };
    for sql in attempts {
        let result = sqlx::query(sql).execute(&t.db.pool).await;
        assert!(result.is_err(), "accepted: {sql}");
    }
    assert_eq!(entries(&t.db).await.len(), before.len());
    for (a, b) in entries(&t.db).await.iter().zip(&before) {
        assert_eq!((a.seq, &a.detail, &a.hash), (b.seq, &b.detail, &b.hash));
    }
    let verified = verify(&t.db, &ca).await.expect("intact");
    assert_eq!((verified.entries, verified.anchors), (2, 1));
}

async fn entries_from_before_keyed_chains_stay_verifiable_and_protected(backend: Backend) {
    let Some((t, ca)) = setup(backend, 0).await else {
        return;
    };
    // Three entries as an instance made them before keyed chains: plain SHA-256.
    let mut prev = GENESIS.to_owned();
    for seq in 1..=3 {
        let mut e = Entry {
            seq,
            at: now(),
            org_id: Some("org".into()),
            actor: Some("cli".into()),
            action: "user.created".into(),
            detail: "{}".into(),
            prev_hash: prev.clone(),
            hash: String::new(),
        };
        e.hash = e.legacy_hash();
        sqlx::query(
            "INSERT INTO audit_log (seq, at, org_id, actor, action, detail, prev_hash, hash) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(e.seq)
        .bind(e.at)
        .bind(&e.org_id)
        .bind(&e.actor)
        .bind(&e.action)
        .bind(&e.detail)
        .bind(&e.prev_hash)
        .bind(&e.hash)
        .execute(&t.db.pool)
        .await
        .expect("inserted");
        prev = e.hash;
    }
    // The upgraded instance goes on with MACs; its first checkpoint says where they begin.
    append(&t.db, 2).await;
    let first = anchor(&t.db, &ca).await;
    assert_eq!((first.entries, first.keyed_from), (5, 4));
    assert_eq!(verify(&t.db, &ca).await.expect("intact").entries, 5);
    // The old entries can be recomputed by anyone, but the first keyed one links to them.
    drop_guards(&t, backend).await;
    let mut e = entries(&t.db).await.remove(1);
    e.detail = r#"{"email":"evil@example.com"}"#.into();
    e.hash = e.legacy_hash();
    sqlx::query("UPDATE audit_log SET detail = $1, hash = $2 WHERE seq = 2")
        .bind(&e.detail)
        .bind(&e.hash)
        .execute(&t.db.pool)
        .await
        .expect("rewritten");
    rewrite_from(&t.db, 3, Entry::legacy_hash).await;
    let b = verify(&t.db, &ca).await.expect_err("found");
    assert!(b.seq <= 4, "{b:?}");
    // And keyed entries cannot pass as old ones: the checkpoint fixes where MACs begin.
    let (t, ca) = setup(backend, 4).await.expect("a second database");
    anchor(&t.db, &ca).await;
    drop_guards(&t, backend).await;
    rewrite_from(&t.db, 1, Entry::legacy_hash).await;
    let b = verify(&t.db, &ca).await.expect_err("found");
    assert_eq!(b.seq, 1, "{b:?}");
}
