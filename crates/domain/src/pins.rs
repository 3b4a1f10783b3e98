//! The signing PIN: setting and changing it, checking it before every certificate signature,
//! locking signing after repeated wrong PINs, and an administrator's unlock and reset.
//!
//! The binding of keys to the PIN is [`ca::pin`]: this module keeps the PIN lock in the
//! database, counts failures there (so every `inkan serve` process sees the same count), moves
//! keys the CA held into envelopes when a first PIN is set, and after a reset revokes the
//! PIN-bound certificates and orders their free re-issue, issued once the new PIN is set.

use std::sync::Arc;

use ca::certstore::{RevocationReason, Serial};
use ca::pin::{PinLock, PinVault, Recipient, UnlockedPin};
use ca::CaError;
use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::accounts::User;
use crate::acting::Acting;
use crate::audit;
use crate::certificates::{self, CertStatus, Check};
use crate::db::Db;
use crate::error::{unique_violation, Failure, FieldError};
use crate::mail::{self, Addressee, Mail};
use crate::permissions::{require, Action};

/// [`Acting::admit`]'s rule for the PIN: one's own needs the signer's right to one's own seals
/// and certificate; an administrator may act for any user of the organisation
/// ([`Acting::resolve`] checked that).
pub fn holder(acting: &Acting) -> Result<(), Failure> {
    if acting.for_self() {
        require(acting.actor().roles, Action::OwnSealsAndCertificate)?;
    }
    Ok(())
}

/// Wrong PINs in a row that lock signing.
pub const MAX_FAILURES: i64 = 5;
/// How long signing stays locked unless an administrator unlocks it first.
pub const LOCK_SECONDS: i64 = 30 * 60;

/// The CA the PIN works with: its vault seals PINs' wrapping keys, its keys move into PIN
/// envelopes, its certificates are revoked when a PIN is reset.
pub type PinCa = crate::ca_store::Ca;

/// Whether a PIN is set and whether signing is locked.
#[derive(Debug, Clone, Serialize)]
pub struct PinStatus {
    /// A PIN is set: every certificate signature needs it.
    pub set: bool,
    /// Wrong PINs in a row so far.
    pub failures: i64,
    /// Signing is locked until then (Unix seconds), unless an administrator unlocks it.
    pub locked_until: Option<i64>,
}

/// A new PIN (entered twice), and the current one when changing it.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PinChange {
    /// The current PIN; needed when one is set.
    #[serde(default)]
    pub current: Option<String>,
    /// 8 to 64 half-width letters and digits.
    #[serde(default)]
    pub pin: String,
    /// The same PIN again.
    #[serde(default)]
    pub confirm: String,
}

struct Stored {
    lock: PinLock,
    failures: i64,
    locked_until: Option<i64>,
}

async fn load(db: &Db, user_id: &str) -> Result<Option<Stored>, Failure> {
    let Some(row) = sqlx::query(
        "SELECT lock_json, failures, locked_until FROM signing_pins WHERE user_id = $1",
    )
    .bind(user_id)
    .fetch_optional(&db.pool)
    .await?
    else {
        return Ok(None);
    };
    let json: String = row.try_get("lock_json")?;
    Ok(Some(Stored {
        lock: serde_json::from_str(&json).map_err(|e| anyhow::anyhow!("PIN lock: {e}"))?,
        failures: row.try_get("failures")?,
        locked_until: row.try_get("locked_until")?,
    }))
}

/// The user's PIN status.
pub async fn status(db: &Db, now: i64, user_id: &str) -> Result<PinStatus, Failure> {
    Ok(match load(db, user_id).await? {
        None => PinStatus {
            set: false,
            failures: 0,
            locked_until: None,
        },
        Some(s) => {
            let locked = s.locked_until.filter(|&t| t > now);
            PinStatus {
                set: true,
                failures: if s.locked_until.is_some() && locked.is_none() {
                    0
                } else {
                    s.failures
                },
                locked_until: locked,
            }
        }
    })
}

/// Where the user's new signer keys are sealed to, when a PIN is set.
pub async fn recipient(db: &Db, user_id: &str) -> Result<Option<Recipient>, Failure> {
    match load(db, user_id).await? {
        None => Ok(None),
        Some(s) => Ok(Some(s.lock.recipient().map_err(anyhow::Error::from)?)),
    }
}

/// 8 to 64 half-width letters and digits, the same twice.
fn check_new(change: &PinChange) -> Result<(), Failure> {
    let pin = change.pin.as_str();
    let mut errors = Vec::new();
    if !(8..=64).contains(&pin.len()) || !pin.bytes().all(|b| b.is_ascii_alphanumeric()) {
        errors.push(FieldError::new("pin", "error.pin_format"));
    } else if change.confirm != change.pin {
        errors.push(FieldError::new("confirm", "error.pin_mismatch"));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Failure::Invalid(errors))
    }
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, Failure> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Failure::Internal(e.into()))
}

/// Checks `pin` for a signature or a PIN change. A wrong PIN counts; the fifth in a row locks
/// signing for [`LOCK_SECONDS`]. Every failure and the lock go to the audit log, and the owner
/// is told of the lock by email.
async fn attempt(
    db: &Db,
    now: i64,
    vault: &Arc<PinVault>,
    user: &User,
    stored: Stored,
    pin: &str,
) -> Result<UnlockedPin, Failure> {
    match stored.locked_until {
        Some(until) if until > now => return Err(Failure::PinLocked(until)),
        Some(_) => {
            // The waiting period is over: the count starts again.
            sqlx::query(
                "UPDATE signing_pins SET failures = 0, locked_until = NULL \
                 WHERE user_id = $1 AND locked_until <= $2",
            )
            .bind(&user.id)
            .bind(now)
            .execute(&db.pool)
            .await?;
        }
        None => {}
    }
    let (v, lock, given) = (vault.clone(), stored.lock, pin.to_owned());
    match blocking(move || v.unlock(&lock, &given)).await? {
        Ok(unlocked) => {
            // Right PIN: the count restarts, unless concurrent failures locked it meanwhile.
            let cleared = sqlx::query(
                "UPDATE signing_pins SET failures = 0 WHERE user_id = $1 \
                 AND (locked_until IS NULL OR locked_until <= $2)",
            )
            .bind(&user.id)
            .bind(now)
            .execute(&db.pool)
            .await?;
            if cleared.rows_affected() == 0 {
                let until = status(db, now, &user.id).await?.locked_until.unwrap_or(now);
                return Err(Failure::PinLocked(until));
            }
            Ok(unlocked)
        }
        Err(CaError::WrongPin) => Err(count_failure(db, now, user).await?),
        Err(e) => Err(Failure::Internal(anyhow::anyhow!(
            "opening the PIN lock: {e}"
        ))),
    }
}

/// Records a wrong PIN; returns the failure to answer with.
async fn count_failure(db: &Db, now: i64, user: &User) -> Result<Failure, Failure> {
    let until = now + LOCK_SECONDS;
    let mut tx = db.begin().await?;
    // One statement, so concurrent wrong PINs are all counted.
    let row = sqlx::query(
        "UPDATE signing_pins SET failures = failures + 1, updated_at = $3, \
         locked_until = CASE WHEN failures + 1 >= $4 AND locked_until IS NULL THEN $2 \
         ELSE locked_until END WHERE user_id = $1 RETURNING failures, locked_until",
    )
    .bind(&user.id)
    .bind(until)
    .bind(now)
    .bind(MAX_FAILURES)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(Failure::NotFound)?;
    let failures: i64 = row.try_get("failures")?;
    let locked_until: Option<i64> = row.try_get("locked_until")?;
    audit::append_for(
        &mut tx,
        &db.audit,
        now,
        user,
        &user.id,
        "pin.failed",
        serde_json::json!({ "failures": failures }),
    )
    .await?;
    let newly_locked = locked_until == Some(until) && failures == MAX_FAILURES;
    if newly_locked {
        audit::append_for(
            &mut tx,
            &db.audit,
            now,
            user,
            "system",
            "pin.locked",
            serde_json::json!({ "user": user.id, "until": until }),
        )
        .await?;
        let notice = Mail::PinLocked {
            name: &user.display_name,
            max_failures: MAX_FAILURES,
            locked_until: until,
        };
        mail::send(&mut tx, now, &Addressee::user(user), &notice).await?;
    }
    tx.commit().await?;
    Ok(match locked_until {
        Some(t) if t > now => Failure::PinLocked(t),
        _ => Failure::invalid("pin", "error.pin_wrong"),
    })
}

/// Sets the user's first PIN, or changes it (the current PIN is then needed). A first PIN
/// takes over the keys the CA held for the user's certificates and, after a reset, has the
/// waiting free re-issue issued.
pub async fn set(
    db: &Db,
    now: i64,
    ca: &PinCa,
    acting: &Acting,
    change: &PinChange,
) -> Result<PinStatus, Failure> {
    let (actor, user) = (acting.actor(), acting.user());
    crate::permissions::require(user.roles, crate::permissions::Action::CertificateSignature)
        .map_err(|_| Failure::BadRequest("error.pin_not_signer"))?;
    match load(db, &user.id).await? {
        Some(stored) => {
            let current = change
                .current
                .as_deref()
                .filter(|c| !c.is_empty())
                .ok_or(Failure::invalid("current", "error.pin_current_required"))?;
            let old_json = serde_json::to_string(&stored.lock).map_err(anyhow::Error::from)?;
            let old_lock = stored.lock.clone();
            match attempt(db, now, ca.vault(), user, stored, current).await {
                Ok(_) => {}
                // The current PIN's field is the one that was wrong.
                Err(Failure::Invalid(_)) => {
                    return Err(Failure::invalid("current", "error.pin_wrong"))
                }
                Err(e) => return Err(e),
            }
            check_new(change)?;
            let (v, cur, new_pin) = (ca.vault().clone(), current.to_owned(), change.pin.clone());
            let lock = blocking(move || v.change(&old_lock, &cur, &new_pin))
                .await?
                .map_err(|e| anyhow::anyhow!("changing the PIN: {e}"))?;
            let json = serde_json::to_string(&lock).map_err(anyhow::Error::from)?;
            let mut tx = db.begin().await?;
            let updated = sqlx::query(
                "UPDATE signing_pins SET lock_json = $2, updated_at = $3 \
                 WHERE user_id = $1 AND lock_json = $4",
            )
            .bind(&user.id)
            .bind(&json)
            .bind(now)
            .bind(&old_json)
            .execute(&mut *tx)
            .await?;
            if updated.rows_affected() == 0 {
                return Err(Failure::Conflict(vec![FieldError::new(
                    "pin",
                    "error.pin_changed_meanwhile",
                )]));
            }
            audit::append_for(
                &mut tx,
                &db.audit,
                now,
                user,
                &actor.id,
                "pin.changed",
                serde_json::json!({ "user": user.id }),
            )
            .await?;
            let notice = Mail::PinChanged {
                name: &user.display_name,
                administrator: administrator(actor, user),
            };
            mail::send(&mut tx, now, &Addressee::user(user), &notice).await?;
            tx.commit().await?;
        }
        None => {
            check_new(change)?;
            let (v, new_pin) = (ca.vault().clone(), change.pin.clone());
            let lock = blocking(move || v.create(&new_pin))
                .await?
                .map_err(|e| anyhow::anyhow!("creating the PIN lock: {e}"))?;
            let json = serde_json::to_string(&lock).map_err(anyhow::Error::from)?;
            let mut tx = db.begin().await?;
            let inserted = sqlx::query(
                "INSERT INTO signing_pins (user_id, org_id, lock_json, failures, created_at, \
                 updated_at) VALUES ($1, $2, $3, 0, $4, $4)",
            )
            .bind(&user.id)
            .bind(&user.org_id)
            .bind(&json)
            .bind(now)
            .execute(&mut *tx)
            .await;
            inserted.map_err(|e| {
                unique_violation(e, FieldError::new("pin", "error.pin_changed_meanwhile"))
            })?;
            audit::append_for(
                &mut tx,
                &db.audit,
                now,
                user,
                &actor.id,
                "pin.set",
                serde_json::json!({ "user": user.id }),
            )
            .await?;
            let notice = Mail::PinSet {
                name: &user.display_name,
                administrator: administrator(actor, user),
            };
            mail::send(&mut tx, now, &Addressee::user(user), &notice).await?;
            tx.commit().await?;
            let recipient = lock.recipient().map_err(anyhow::Error::from)?;
            bind_held_keys(db, now, ca, user, &recipient).await?;
            issue_waiting(db, now, ca, user).await?;
        }
    }
    status(db, now, &user.id).await
}

/// The administrator who set or changed `user`'s PIN, when it was not the owner: the mail
/// names them.
fn administrator<'a>(actor: &'a User, user: &User) -> Option<&'a str> {
    (actor.id != user.id).then_some(actor.display_name.as_str())
}

/// Moves the keys the CA holds for the user's usable certificates into envelopes sealed to the
/// PIN, then deletes the CA's copies: after this no key of the user opens without the PIN.
/// Runs when a first PIN is set, and again after a PIN-checked signature (a certificate issued
/// while the PIN was being set may have been given a CA-held key).
pub async fn bind_held_keys(
    db: &Db,
    now: i64,
    ca: &PinCa,
    user: &User,
    recipient: &Recipient,
) -> Result<(), Failure> {
    let serials = certificates::held_by_ca(db, &user.id).await?;
    let mut bound = Vec::new();
    for serial in serials {
        let record = ca.record(db, &serial).await?;
        let Some(handle) = record.key else {
            continue;
        };
        // The envelope is stored and the CA's copy deleted in one transaction: no moment
        // leaves the key with neither, or with a master-key-only copy beside its envelope.
        let mut tx = db.begin().await?;
        let staged = ca.stage(&mut tx, &[&serial], &[handle.label()]).await?;
        let to = *recipient;
        let (staged, envelope) = blocking(move || {
            let envelope = staged.keys().seal_to_pin(&handle, &to)?;
            staged.keys().delete(&handle)?;
            Ok::<_, CaError>((staged, envelope))
        })
        .await?
        .map_err(|e| anyhow::anyhow!("moving the key of {serial} into its PIN envelope: {e}"))?;
        if !certificates::store_envelope(&mut tx, &serial, envelope).await? {
            // Moved by a concurrent request: nothing of ours to commit.
            continue;
        }
        staged.flush(&mut tx, now).await?;
        tx.commit().await?;
        bound.push(serial);
    }
    if !bound.is_empty() {
        let mut tx = db.begin().await?;
        audit::append_for(
            &mut tx,
            &db.audit,
            now,
            user,
            "system",
            "pin.keys_bound",
            serde_json::json!({ "user": user.id, "serials": bound }),
        )
        .await?;
        tx.commit().await?;
    }
    Ok(())
}

/// Issues the free re-issue that waited for a new PIN after a reset (sealed to the new PIN).
async fn issue_waiting(db: &Db, now: i64, ca: &PinCa, user: &User) -> Result<(), Failure> {
    for order_id in certificates::awaiting_pin(db, &user.id).await? {
        // Not moved: taken by another process, or another application of the user is open and
        // the re-issue waits for it.
        if !certificates::end_pin_wait(&mut *db.pool.acquire().await?, &order_id).await? {
            continue;
        }
        let check = Check {
            method: "署名PINリセット後の再発行".into(),
            note: "失効した証明書と同じ内容・本人確認済み".into(),
        };
        certificates::approve(db, now, Some(ca), user, &order_id, &check).await?;
    }
    Ok(())
}

/// Checks the PIN before a certificate signature: `None` when the user has no PIN, the opened
/// wrapping key when the PIN is right.
pub async fn check_for_signing(
    db: &Db,
    now: i64,
    vault: &Arc<PinVault>,
    user: &User,
    pin: Option<&str>,
) -> Result<Option<UnlockedPin>, Failure> {
    let Some(stored) = load(db, &user.id).await? else {
        return Ok(None);
    };
    if let Some(until) = stored.locked_until.filter(|&t| t > now) {
        return Err(Failure::PinLocked(until));
    }
    let pin = pin
        .filter(|p| !p.is_empty())
        .ok_or(Failure::invalid("pin", "error.pin_required"))?;
    attempt(db, now, vault, user, stored, pin).await.map(Some)
}

/// An administrator lifts the lock after repeated wrong PINs.
pub async fn unlock(db: &Db, now: i64, acting: &Acting) -> Result<PinStatus, Failure> {
    let (actor, user) = (acting.actor(), acting.user());
    // An administrator's act, never the locked signer's own.
    require(actor.roles, Action::OthersSealsAndCertificates)?;
    let mut tx = db.begin().await?;
    let updated = sqlx::query(
        "UPDATE signing_pins SET failures = 0, locked_until = NULL, updated_at = $2 \
         WHERE user_id = $1",
    )
    .bind(&user.id)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    if updated.rows_affected() == 0 {
        return Err(Failure::BadRequest("error.pin_not_set"));
    }
    audit::append_for(
        &mut tx,
        &db.audit,
        now,
        user,
        &actor.id,
        "pin.unlocked",
        serde_json::json!({ "user": user.id }),
    )
    .await?;
    tx.commit().await?;
    status(db, now, &user.id).await
}

/// What a reset did.
#[derive(Debug, Clone, Serialize)]
pub struct ResetOutcome {
    /// Certificates revoked because their keys were bound to the forgotten PIN.
    pub revoked: Vec<String>,
    /// The free re-issue's order, issued once the user sets a new PIN.
    pub reissue_order: Option<String>,
}

/// An administrator resets a forgotten PIN: the keys bound to it are lost, so their
/// certificates are revoked (imported ones removed), the PIN is removed, and a free re-issue of
/// the current certificate waits for the new PIN.
pub async fn reset(
    db: &Db,
    now: i64,
    ca: &PinCa,
    acting: &Acting,
) -> Result<ResetOutcome, Failure> {
    let (actor, user) = (acting.actor(), acting.user());
    require(actor.roles, Action::OthersSealsAndCertificates)?;
    if load(db, &user.id).await?.is_none() {
        return Err(Failure::BadRequest("error.pin_not_set"));
    }
    let mut revoked = Vec::new();
    let mut current = None;
    let mut tx = db.begin().await?;
    for bound in certificates::pin_bound(&mut tx, &user.id).await? {
        if bound.status == CertStatus::Active && current.is_none() && now < bound.not_after {
            current = Some(bound.serial.clone());
        }
        revoked.push(bound.serial);
    }
    // The keys bound to the forgotten PIN are lost: their certificates are revoked in the
    // transaction that removes the PIN.
    let serials: Vec<&str> = revoked.iter().map(String::as_str).collect();
    let staged = ca.stage(&mut tx, &serials, &[]).await?;
    let parsed = revoked
        .iter()
        .map(|s| Serial::parse(s))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow::anyhow!("a stored serial: {e}"))?;
    let staged = blocking(move || {
        for serial in &parsed {
            match staged
                .authority
                .revoke(serial, RevocationReason::Superseded)
            {
                Ok(()) | Err(CaError::AlreadyRevoked(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(staged)
    })
    .await?
    .map_err(|e| anyhow::anyhow!("revoking the PIN-bound certificates: {e}"))?;
    staged.flush(&mut tx, now).await?;
    sqlx::query("DELETE FROM signing_pins WHERE user_id = $1")
        .bind(&user.id)
        .execute(&mut *tx)
        .await?;
    for serial in &revoked {
        certificates::set_status(&mut tx, serial, CertStatus::Revoked).await?;
    }
    // Imported certificates are their own CAs' to revoke; their keys were sealed to the
    // forgotten PIN and are lost with it (the owner imports the file again).
    let removed = crate::imported::lose_keys(&mut tx, &user.id).await?;
    audit::append_for(
        &mut tx,
        &db.audit,
        now,
        user,
        &actor.id,
        "pin.reset",
        serde_json::json!({ "user": user.id, "revoked": revoked, "imports_removed": removed }),
    )
    .await?;
    // Someone who may no longer hold a certificate gets no re-issue; the re-issue's order, in
    // the same transaction, mails the reset itself with the order's number.
    let reissue_order = match current.filter(|_| certificates::may_apply(user).is_ok()) {
        Some(serial) => {
            let applicant = certificates::applicant_of(&mut tx, &serial).await?;
            Some(
                certificates::place_reissue(&mut tx, &db.audit, now, acting, &applicant, &serial)
                    .await?,
            )
        }
        None => {
            let notice = Mail::PinReset {
                name: &user.display_name,
                reissue_order: None,
            };
            mail::send(&mut tx, now, &Addressee::user(user), &notice).await?;
            None
        }
    };
    tx.commit().await?;
    Ok(ResetOutcome {
        revoked,
        reissue_order,
    })
}
