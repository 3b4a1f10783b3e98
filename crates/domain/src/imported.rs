//! Signing certificates from other CAs (a commercial CA on Adobe's AATL, say), imported with
//! their keys as PKCS#12 in the profile's 電子証明書 section, by their owner or an administrator
//! for them. The file is opened and checked by [`ca::external`]; its password opens it and is
//! dropped (never stored, never logged). The key is sealed to the owner's signing PIN exactly as
//! the keys Inkan issues are (so a PIN must be set first), and kept in `imported_certificates`;
//! the certificate with the chain from the file becomes the CA's `Imported` record
//! (`ca_certificates`: never on Inkan's CRL or OCSP), so a signature finds its chain as it finds
//! an Inkan certificate's. The newest usable certificate of a signer, imported or issued, is the
//! one that signs ([`crate::signing::signing_certificate`]).

use serde::Serialize;
use sqlx::{AnyConnection, Row};
use zeroize::Zeroizing;

use crate::acting::Acting;
use crate::audit;
use crate::ca_store::Ca;
use crate::certificates;
use crate::db::{stored, stored_text, Db};
use crate::error::{Failure, FieldError};
use crate::pins;

/// A PKCS#12 file, at most this large (a key and a chain of a few certificates take a few KB).
pub const MAX_BYTES: usize = 64 * 1024;

stored_text! {
    /// Where an imported certificate stands: `imported_certificates.status`.
    pub enum ImportStatus("imported certificate status") {
        /// Usable: its key is sealed to the owner's PIN.
        Active = "active",
        /// Removed by its owner or an administrator, or its key lost with the PIN it was sealed
        /// to (reset); it signs no more.
        Removed = "removed",
    }
}

/// An imported certificate as the profile and the API show it.
#[derive(Debug, Clone, Serialize)]
pub struct ImportedView {
    /// Hex serial number.
    pub serial: String,
    /// RFC 4514.
    pub subject: String,
    /// RFC 4514: the CA that issued it.
    pub issuer: String,
    pub not_before: i64,
    pub not_after: i64,
    pub status: ImportStatus,
    /// When it was imported (Unix seconds).
    pub imported_at: i64,
}

/// [`Acting::admit`]'s rule: only a user who holds certificates (a signer) imports one; an
/// administrator may import for them.
pub fn holder(acting: &Acting) -> Result<(), Failure> {
    certificates::may_apply(acting.user())
}

/// What a refusal of the file means for the form: the field and the message key.
fn refused(e: ca::CaError) -> Failure {
    use ca::external::Refusal;
    let (field, key) = match e {
        ca::CaError::Import(r) => match r {
            Refusal::WrongPassword => ("password", "error.p12_password"),
            Refusal::NotPkcs12 => ("file", "error.p12_not_pkcs12"),
            Refusal::Unsupported => ("file", "error.p12_unsupported"),
            Refusal::NoKey => ("file", "error.p12_no_key"),
            Refusal::KeyType => ("file", "error.p12_key_type"),
            Refusal::KeyMismatch => ("file", "error.p12_key_mismatch"),
            Refusal::NotYetValid => ("file", "error.p12_not_yet_valid"),
            Refusal::Expired => ("file", "error.p12_expired"),
            Refusal::NotForSigning => ("file", "error.p12_not_for_signing"),
            Refusal::NoRevocationInfo => ("file", "error.p12_no_revocation"),
            Refusal::IncompleteChain => ("file", "error.p12_incomplete_chain"),
        },
        other => return Failure::Internal(anyhow::anyhow!("opening a PKCS#12 file: {other}")),
    };
    Failure::invalid(field, key)
}

/// Imports `file` (PKCS#12, opened with `password`) as a signing certificate of the user
/// `acting` is for; answers it as the profile shows it. Refused, storing nothing: a file over
/// [`MAX_BYTES`] or none, a user without a signing PIN, a wrong password, a file that is not
/// PKCS#12, holds no key, a key that is not P-256 or RSA or not the certificate's, a certificate
/// not valid now or not for signatures, a chain that names no revocation data or does not
/// reach its root (signatures are kept valid long-term: B-LT, B-LTA), and one already imported. The audit log records the
/// import and who did it.
pub async fn import(
    db: &Db,
    now: i64,
    acting: &Acting,
    file: &[u8],
    password: Zeroizing<String>,
) -> Result<ImportedView, Failure> {
    let (actor, user) = (acting.actor(), acting.user());
    holder(acting)?;
    if file.is_empty() {
        return Err(Failure::invalid("file", "error.required"));
    }
    if file.len() > MAX_BYTES {
        return Err(Failure::invalid("file", "error.p12_too_large"));
    }
    let recipient = pins::recipient(db, &user.id)
        .await?
        .ok_or(Failure::BadRequest("error.p12_pin_required"))?;
    let data = file.to_vec();
    let at = u64::try_from(now).unwrap_or_default();
    let opened = tokio::task::spawn_blocking(move || ca::external::open(&data, &password, at))
        .await?
        .map_err(refused)?;
    let envelope = opened
        .seal_to(&recipient)
        .map_err(|e| anyhow::anyhow!("sealing the imported key to the PIN: {e}"))?;
    let record = &opened.record;
    let serial = record.serial.as_str().to_owned();
    let duplicate = || Failure::Conflict(vec![FieldError::new("file", "error.p12_duplicate")]);
    let mut tx = db.begin().await?;
    let earlier =
        sqlx::query("SELECT user_id, status FROM imported_certificates WHERE serial = $1")
            .bind(&serial)
            .fetch_optional(&mut *tx)
            .await?;
    match earlier {
        // The owner brings back a certificate removed earlier: its CA record is there already.
        Some(row)
            if row.try_get::<String, _>("user_id")? == user.id
                && stored(&row, "status", ImportStatus::parse)? == ImportStatus::Removed =>
        {
            sqlx::query(
                "UPDATE imported_certificates SET status = $2, key_envelope = $3, \
                 imported_by = $4, created_at = $5 WHERE serial = $1 AND status = $6",
            )
            .bind(&serial)
            .bind(ImportStatus::Active.as_str())
            .bind(envelope)
            .bind(&actor.id)
            .bind(now)
            .bind(ImportStatus::Removed.as_str())
            .execute(&mut *tx)
            .await?;
        }
        Some(_) => return Err(duplicate()),
        None => {
            if !Ca::record_imported(&mut tx, record, now).await? {
                return Err(duplicate());
            }
            sqlx::query(
                "INSERT INTO imported_certificates (serial, org_id, user_id, subject, issuer, \
                 not_before, not_after, status, key_envelope, imported_by, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            )
            .bind(&serial)
            .bind(&user.org_id)
            .bind(&user.id)
            .bind(&record.subject)
            .bind(&opened.issuer)
            .bind(record.not_before as i64)
            .bind(record.not_after as i64)
            .bind(ImportStatus::Active.as_str())
            .bind(envelope)
            .bind(&actor.id)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(|e| {
                crate::error::unique_violation(e, FieldError::new("file", "error.p12_duplicate"))
            })?;
        }
    }
    audit::append_for(
        &mut tx,
        &db.audit,
        now,
        user,
        &actor.id,
        "certificate.imported",
        serde_json::json!({
            "user": user.id, "serial": serial, "subject": record.subject,
            "issuer": opened.issuer, "not_after": record.not_after,
            "chain": record.chain.len(),
        }),
    )
    .await?;
    tx.commit().await?;
    Ok(ImportedView {
        serial,
        subject: record.subject.clone(),
        issuer: opened.issuer.clone(),
        not_before: record.not_before as i64,
        not_after: record.not_after as i64,
        status: ImportStatus::Active,
        imported_at: now,
    })
}

/// The user's imported certificates, newest first (removed ones too).
pub async fn list(db: &Db, user_id: &str) -> Result<Vec<ImportedView>, Failure> {
    let rows = sqlx::query(
        "SELECT serial, subject, issuer, not_before, not_after, status, created_at \
         FROM imported_certificates WHERE user_id = $1 ORDER BY created_at DESC, serial",
    )
    .bind(user_id)
    .fetch_all(&db.pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(ImportedView {
                serial: r.try_get("serial")?,
                subject: r.try_get("subject")?,
                issuer: r.try_get("issuer")?,
                not_before: r.try_get("not_before")?,
                not_after: r.try_get("not_after")?,
                status: stored(r, "status", ImportStatus::parse)?,
                imported_at: r.try_get("created_at")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(Failure::from)
}

/// Removes the user's active imported certificate `serial`: it signs no more and its key's
/// envelope is emptied (importing the file again brings it back). Another user's or an unknown
/// serial is not found.
pub async fn remove(db: &Db, now: i64, acting: &Acting, serial: &str) -> Result<(), Failure> {
    let (actor, user) = (acting.actor(), acting.user());
    holder(acting)?;
    let mut tx = db.begin().await?;
    let removed = sqlx::query(
        "UPDATE imported_certificates SET status = $3, key_envelope = $4 \
         WHERE serial = $1 AND user_id = $2 AND status = $5",
    )
    .bind(serial)
    .bind(&user.id)
    .bind(ImportStatus::Removed.as_str())
    .bind(Vec::<u8>::new())
    .bind(ImportStatus::Active.as_str())
    .execute(&mut *tx)
    .await?;
    if removed.rows_affected() == 0 {
        return Err(Failure::NotFound);
    }
    audit::append_for(
        &mut tx,
        &db.audit,
        now,
        user,
        &actor.id,
        "certificate.import_removed",
        serde_json::json!({ "user": user.id, "serial": serial }),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Marks the user's imported certificates removed and empties their envelopes, in the
/// caller's transaction (a PIN reset: the keys were sealed to the forgotten PIN); their serials.
pub(crate) async fn lose_keys(
    conn: &mut AnyConnection,
    user_id: &str,
) -> Result<Vec<String>, Failure> {
    let rows = sqlx::query(
        "UPDATE imported_certificates SET status = $2, key_envelope = $3 \
         WHERE user_id = $1 AND status = $4 RETURNING serial",
    )
    .bind(user_id)
    .bind(ImportStatus::Removed.as_str())
    .bind(Vec::<u8>::new())
    .bind(ImportStatus::Active.as_str())
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .iter()
        .map(|r| r.try_get("serial"))
        .collect::<Result<_, _>>()?)
}
