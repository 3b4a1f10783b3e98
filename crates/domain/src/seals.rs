//! Seal images (印影) in the service: a signer's upload becomes a draft (checked and lifted off
//! its paper by the `seal` crate, previewed, gone after an hour), a saved draft becomes one of at
//! most three seals with one default, and a visible signature stamps the chosen seal. Everything
//! lives in the database, so every `inkan serve` process sees the same seals; every change is in
//! the audit log in the same transaction.

use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};
use tokio::sync::{Semaphore, SemaphorePermit};

use crate::accounts::{new_id, Role, User};
use crate::acting::Acting;
use crate::audit;
use crate::db::{flag, Backend, Db};
use crate::error::{Failure, FieldError};

/// The most seals one signer may register.
pub const MAX_SEALS: i64 = 3;
/// How long an upload waits to be saved.
pub const DRAFT_SECONDS: i64 = 3600;
/// Unsaved uploads kept per user; a newer one pushes out the oldest, so drafts cannot pile up.
const MAX_DRAFTS: i64 = 10;

/// [`Acting::admit`]'s rule for seals: the user acted for may hold seals.
pub fn holder(acting: &Acting) -> Result<(), Failure> {
    may_hold_seals(acting.user())
}

/// Who may hold seals: a signer (alone or with another role). A transaction agent makes simple
/// signatures (立会人型) only, whose appearance is the platform's, so registers none.
pub fn may_hold_seals(user: &User) -> Result<(), Failure> {
    if user.roles.has(Role::Signer) {
        Ok(())
    } else if user.roles.has(Role::TransactionAgent) {
        Err(Failure::BadRequest("error.agent_no_seals"))
    } else {
        Err(Failure::Forbidden)
    }
}

/// A seal's name as the signer chose it: trimmed, 1 to 50 characters, no control or
/// bidirectional-override characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealName(String);

impl SealName {
    pub fn parse(s: &str) -> Result<Self, FieldError> {
        let name = s.trim();
        if name.is_empty() {
            Err(FieldError::new("name", "error.required"))
        } else if name.chars().count() > seal::SealName::MAX_CHARS {
            Err(FieldError::new("name", "error.too_long"))
        } else if name
            .chars()
            .any(|c| c.is_control() || matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'))
        {
            Err(FieldError::new("name", "error.control_characters"))
        } else {
            Ok(Self(name.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Which of the two pictures of a seal or draft.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Picture {
    /// The file as uploaded (PNG, GIF or JPEG).
    Original,
    /// The transparent PNG Inkan made from it.
    Transparent,
}

/// A registered seal (without its pictures).
#[derive(Debug, Clone, Serialize)]
pub struct Seal {
    pub id: String,
    pub user_id: String,
    pub name: String,
    /// The original's media type.
    pub media_type: String,
    /// The transparent picture's size in pixels.
    pub width: i64,
    pub height: i64,
    pub is_default: bool,
    pub created_at: i64,
}

const SEAL_COLUMNS: &str =
    "id, user_id, name, original_type, width, height, is_default, created_at";

impl Seal {
    fn from_row(row: &AnyRow) -> Result<Self, sqlx::Error> {
        Ok(Self {
            id: row.try_get("id")?,
            user_id: row.try_get("user_id")?,
            name: row.try_get("name")?,
            media_type: row.try_get("original_type")?,
            width: row.try_get("width")?,
            height: row.try_get("height")?,
            is_default: flag(row, "is_default")?,
            created_at: row.try_get("created_at")?,
        })
    }
}

/// An upload waiting to be saved (without its pictures).
#[derive(Debug, Clone, Serialize)]
pub struct Draft {
    pub id: String,
    pub user_id: String,
    /// The file name without its extension, as the `seal` crate derives it.
    pub name: String,
    pub media_type: String,
    pub width: i64,
    pub height: i64,
    pub created_at: i64,
    pub expires_at: i64,
}

const DRAFT_COLUMNS: &str =
    "id, user_id, name, original_type, width, height, created_at, expires_at";

impl Draft {
    fn from_row(row: &AnyRow) -> Result<Self, sqlx::Error> {
        Ok(Self {
            id: row.try_get("id")?,
            user_id: row.try_get("user_id")?,
            name: row.try_get("name")?,
            media_type: row.try_get("original_type")?,
            width: row.try_get("width")?,
            height: row.try_get("height")?,
            created_at: row.try_get("created_at")?,
            expires_at: row.try_get("expires_at")?,
        })
    }
}

/// The message key for each of the `seal` crate's refusals.
fn seal_error_key(e: &seal::SealError) -> &'static str {
    match e.code() {
        "too_large" => "error.seal_too_large",
        "not_an_image" => "error.seal_not_an_image",
        "too_many_pixels" => "error.seal_too_many_pixels",
        "corrupt" => "error.seal_corrupt",
        "unsupported_image" => "error.seal_unsupported_image",
        "animated" => "error.seal_animated",
        "bad_name" => "error.seal_bad_name",
        "no_stamp" => "error.seal_no_stamp",
        _ => "error.seal_image",
    }
}

/// An upload the `seal` crate refused, as the failure of the `file` field.
pub fn image_failure(e: &seal::SealError) -> Failure {
    Failure::Image {
        field: FieldError::new("file", seal_error_key(e)),
        detail: e.to_string(),
        too_large: matches!(e, seal::SealError::TooLarge { .. }),
    }
}

/// A file that did not even arrive whole because it is larger than the upload limit.
pub fn oversized_upload() -> Failure {
    Failure::Image {
        field: FieldError::new("file", "error.seal_too_large"),
        detail: format!(
            "the upload is larger than a seal image may be ({} bytes, 512 KB)",
            seal::MAX_BYTES
        ),
        too_large: true,
    }
}

fn media_type(format: seal::Format) -> &'static str {
    match format {
        seal::Format::Png => "image/png",
        seal::Format::Gif => "image/gif",
        seal::Format::Jpeg => "image/jpeg",
    }
}

/// Holds `user`'s seals still until the transaction ends, so counting them and adding or
/// removing one cannot interleave with another request for the same user. SQLite: the write
/// lock [`Db::begin`] took; PostgreSQL: the user's row.
async fn lock_user(
    db: &Db,
    tx: &mut Transaction<'static, Any>,
    user: &User,
) -> Result<(), Failure> {
    if db.backend == Backend::Postgres {
        sqlx::query("SELECT id FROM users WHERE id = $1 FOR UPDATE")
            .bind(&user.id)
            .fetch_optional(&mut **tx)
            .await?
            .ok_or(Failure::NotFound)?;
    }
    Ok(())
}

async fn seal_count(
    executor: impl sqlx::Executor<'_, Database = Any>,
    user: &User,
) -> Result<i64, Failure> {
    Ok(
        sqlx::query("SELECT COUNT(*) AS n FROM seals WHERE user_id = $1")
            .bind(&user.id)
            .fetch_one(executor)
            .await?
            .try_get("n")?,
    )
}

fn limit_reached(field: &'static str) -> Failure {
    Failure::Conflict(vec![FieldError::new(field, "error.seal_limit")])
}

/// How much memory seal uploads may take at once while they are decoded and lifted
/// (`seal_decode_budget_mb`). An upload reserves its cost ([`seal::decode_cost`], read from its
/// header) and waits until it fits, so many large uploads at once take turns instead of taking
/// the server's memory; one costing more than the whole budget waits to run alone.
#[derive(Debug)]
pub struct DecodeBudget {
    megabytes: Semaphore,
    total: u32,
}

impl DecodeBudget {
    pub fn new(megabytes: u32) -> Self {
        let total = megabytes.max(1);
        Self {
            megabytes: Semaphore::new(total as usize),
            total,
        }
    }

    /// Waits until `bytes` fit, and holds them until the returned permit is dropped.
    async fn reserve(&self, bytes: u64) -> SemaphorePermit<'_> {
        let megabytes = bytes.div_ceil(1 << 20).clamp(1, u64::from(self.total)) as u32;
        match self.megabytes.acquire_many(megabytes).await {
            Ok(permit) => permit,
            Err(_) => unreachable!("the budget's semaphore is never closed"),
        }
    }
}

/// Checks an upload for `user` (made by `actor`: the user or an administrator) and stores it as
/// a draft: the original and the transparent PNG lifted from it. Refused, storing nothing, when
/// the image is not acceptable or the user already has [`MAX_SEALS`] seals. Decoding waits for
/// room in `budget`.
pub async fn create_draft(
    db: &Db,
    budget: &DecodeBudget,
    now: i64,
    acting: &Acting,
    bytes: Vec<u8>,
    file_name: &str,
) -> Result<Draft, Failure> {
    let (actor, user) = (acting.actor(), acting.user());
    may_hold_seals(user)?;
    // Early and friendly; saving checks again under the lock.
    if seal_count(&db.pool, user).await? >= MAX_SEALS {
        return Err(limit_reached("file"));
    }
    let cost = seal::decode_cost(&bytes).map_err(|e| image_failure(&e))?;
    let reserved = budget.reserve(cost).await;
    let file_name = file_name.to_owned();
    let (bytes, name, format, cutout) = tokio::task::spawn_blocking(move || {
        let checked = seal::check(&bytes, &file_name)?;
        let cutout = seal::remove_background(&checked)?;
        // The decoded pixels go here, before the budget is given back.
        let (name, format) = (checked.name().as_str().to_owned(), checked.format());
        Ok::<_, seal::SealError>((bytes, name, format, cutout))
    })
    .await
    .map_err(|e| Failure::Internal(e.into()))?
    .map_err(|e| image_failure(&e))?;
    drop(reserved);
    let draft = Draft {
        id: new_id()?,
        user_id: user.id.clone(),
        name,
        media_type: media_type(format).to_owned(),
        width: i64::from(cutout.width),
        height: i64::from(cutout.height),
        created_at: now,
        expires_at: now + DRAFT_SECONDS,
    };
    let original_sha256 = hex::encode(aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        &bytes,
    ));
    let mut tx = db.begin().await?;
    sqlx::query(
        "INSERT INTO seal_drafts (id, org_id, user_id, name, original, original_type, \
         transparent, width, height, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(&draft.id)
    .bind(&user.org_id)
    .bind(&user.id)
    .bind(&draft.name)
    .bind(bytes)
    .bind(&draft.media_type)
    .bind(cutout.png)
    .bind(draft.width)
    .bind(draft.height)
    .bind(now)
    .bind(draft.expires_at)
    .execute(&mut *tx)
    .await?;
    // Expired drafts, and any beyond the newest MAX_DRAFTS, go now.
    sqlx::query(
        "DELETE FROM seal_drafts WHERE user_id = $1 AND (expires_at <= $2 OR id NOT IN \
         (SELECT id FROM seal_drafts WHERE user_id = $1 ORDER BY created_at DESC, id LIMIT $3))",
    )
    .bind(&user.id)
    .bind(now)
    .bind(MAX_DRAFTS)
    .execute(&mut *tx)
    .await?;
    audit::append_for(
        &mut tx,
        &db.audit,
        now,
        user,
        &actor.id,
        "seal.uploaded",
        serde_json::json!({
            "draft": draft.id, "for": user.id, "name": draft.name,
            "media_type": draft.media_type, "original_sha256": original_sha256,
        }),
    )
    .await?;
    tx.commit().await?;
    Ok(draft)
}

/// `user`'s draft `id`, unless it has expired.
pub async fn draft(db: &Db, now: i64, user: &User, id: &str) -> Result<Draft, Failure> {
    let row = sqlx::query(&format!(
        "SELECT {DRAFT_COLUMNS} FROM seal_drafts WHERE id = $1 AND user_id = $2 AND expires_at > $3"
    ))
    .bind(id)
    .bind(&user.id)
    .bind(now)
    .fetch_optional(&db.pool)
    .await?
    .ok_or(Failure::NotFound)?;
    Ok(Draft::from_row(&row)?)
}

/// One picture of `user`'s draft `id`: (media type, bytes).
pub async fn draft_picture(
    db: &Db,
    now: i64,
    user: &User,
    id: &str,
    picture: Picture,
) -> Result<(String, Vec<u8>), Failure> {
    let row = sqlx::query(
        "SELECT original, original_type, transparent FROM seal_drafts \
         WHERE id = $1 AND user_id = $2 AND expires_at > $3",
    )
    .bind(id)
    .bind(&user.id)
    .bind(now)
    .fetch_optional(&db.pool)
    .await?
    .ok_or(Failure::NotFound)?;
    picture_of(&row, picture)
}

fn picture_of(row: &AnyRow, picture: Picture) -> Result<(String, Vec<u8>), Failure> {
    Ok(match picture {
        Picture::Original => (row.try_get("original_type")?, row.try_get("original")?),
        Picture::Transparent => ("image/png".to_owned(), row.try_get("transparent")?),
    })
}

/// Discards `user`'s draft `id` (「キャンセル」).
pub async fn discard_draft(db: &Db, now: i64, acting: &Acting, id: &str) -> Result<(), Failure> {
    let (actor, user) = (acting.actor(), acting.user());
    may_hold_seals(user)?;
    let mut tx = db.begin().await?;
    let deleted = sqlx::query("DELETE FROM seal_drafts WHERE id = $1 AND user_id = $2")
        .bind(id)
        .bind(&user.id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if deleted == 0 {
        return Err(Failure::NotFound);
    }
    audit::append_for(
        &mut tx,
        &db.audit,
        now,
        user,
        &actor.id,
        "seal.upload_discarded",
        serde_json::json!({ "draft": id, "for": user.id }),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Saves `user`'s draft as a seal, named `name` or else as the draft is. The first seal becomes
/// the default. Refused when the user has [`MAX_SEALS`] already: counted under the user's lock,
/// so concurrent saves cannot pass the limit together.
pub async fn save(
    db: &Db,
    now: i64,
    acting: &Acting,
    draft_id: &str,
    name: Option<&SealName>,
) -> Result<Seal, Failure> {
    let (actor, user) = (acting.actor(), acting.user());
    may_hold_seals(user)?;
    let mut tx = db.begin().await?;
    lock_user(db, &mut tx, user).await?;
    let row = sqlx::query(&format!(
        "SELECT {DRAFT_COLUMNS} FROM seal_drafts WHERE id = $1 AND user_id = $2 AND expires_at > $3"
    ))
    .bind(draft_id)
    .bind(&user.id)
    .bind(now)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(Failure::NotFound)?;
    let draft = Draft::from_row(&row)?;
    let count = seal_count(&mut *tx, user).await?;
    if count >= MAX_SEALS {
        return Err(limit_reached("draft"));
    }
    let ordinal: i64 =
        sqlx::query("SELECT COALESCE(MAX(ordinal), 0) + 1 AS next FROM seals WHERE user_id = $1")
            .bind(&user.id)
            .fetch_one(&mut *tx)
            .await?
            .try_get("next")?;
    let seal = Seal {
        id: new_id()?,
        user_id: user.id.clone(),
        name: name.map_or(draft.name, |n| n.as_str().to_owned()),
        media_type: draft.media_type,
        width: draft.width,
        height: draft.height,
        is_default: count == 0,
        created_at: now,
    };
    sqlx::query(
        "INSERT INTO seals (id, org_id, user_id, name, original, original_type, transparent, \
         width, height, is_default, created_at, ordinal) \
         SELECT $1, org_id, user_id, $2, original, original_type, transparent, width, height, \
         $3, $4, $5 FROM seal_drafts WHERE id = $6",
    )
    .bind(&seal.id)
    .bind(&seal.name)
    .bind(seal.is_default)
    .bind(now)
    .bind(ordinal)
    .bind(draft_id)
    .execute(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM seal_drafts WHERE id = $1")
        .bind(draft_id)
        .execute(&mut *tx)
        .await?;
    audit::append_for(
        &mut tx,
        &db.audit,
        now,
        user,
        &actor.id,
        "seal.created",
        serde_json::json!({
            "seal": seal.id, "draft": draft_id, "for": user.id, "name": seal.name,
            "default": seal.is_default,
        }),
    )
    .await?;
    tx.commit().await?;
    Ok(seal)
}

/// `user`'s seals, in the order they were registered.
pub async fn list(db: &Db, user: &User) -> Result<Vec<Seal>, Failure> {
    let rows = sqlx::query(&format!(
        "SELECT {SEAL_COLUMNS} FROM seals WHERE user_id = $1 ORDER BY ordinal"
    ))
    .bind(&user.id)
    .fetch_all(&db.pool)
    .await?;
    Ok(rows.iter().map(Seal::from_row).collect::<Result<_, _>>()?)
}

/// One picture of `user`'s seal `id`: (media type, bytes).
pub async fn picture(
    db: &Db,
    user: &User,
    id: &str,
    picture: Picture,
) -> Result<(String, Vec<u8>), Failure> {
    let row = sqlx::query(
        "SELECT original, original_type, transparent FROM seals WHERE id = $1 AND user_id = $2",
    )
    .bind(id)
    .bind(&user.id)
    .fetch_optional(&db.pool)
    .await?
    .ok_or(Failure::NotFound)?;
    picture_of(&row, picture)
}

async fn locked_seal(
    tx: &mut Transaction<'static, Any>,
    user: &User,
    id: &str,
) -> Result<Seal, Failure> {
    let row = sqlx::query(&format!(
        "SELECT {SEAL_COLUMNS} FROM seals WHERE id = $1 AND user_id = $2"
    ))
    .bind(id)
    .bind(&user.id)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or(Failure::NotFound)?;
    Ok(Seal::from_row(&row)?)
}

/// Makes `user`'s seal `id` the default (「既定にする」).
pub async fn set_default(db: &Db, now: i64, acting: &Acting, id: &str) -> Result<Seal, Failure> {
    let (actor, user) = (acting.actor(), acting.user());
    may_hold_seals(user)?;
    let mut tx = db.begin().await?;
    lock_user(db, &mut tx, user).await?;
    let mut seal = locked_seal(&mut tx, user, id).await?;
    // The old default first: at most one default per user (a partial unique index).
    sqlx::query("UPDATE seals SET is_default = $1 WHERE user_id = $2 AND id <> $3")
        .bind(false)
        .bind(&user.id)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("UPDATE seals SET is_default = $1 WHERE id = $2")
        .bind(true)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    audit::append_for(
        &mut tx,
        &db.audit,
        now,
        user,
        &actor.id,
        "seal.default_set",
        serde_json::json!({ "seal": id, "for": user.id, "name": seal.name }),
    )
    .await?;
    tx.commit().await?;
    seal.is_default = true;
    Ok(seal)
}

/// Deletes `user`'s seal `id` (「削除」). When it was the default, the oldest remaining seal
/// becomes the default.
pub async fn delete(db: &Db, now: i64, acting: &Acting, id: &str) -> Result<(), Failure> {
    let (actor, user) = (acting.actor(), acting.user());
    may_hold_seals(user)?;
    let mut tx = db.begin().await?;
    lock_user(db, &mut tx, user).await?;
    let seal = locked_seal(&mut tx, user, id).await?;
    sqlx::query("DELETE FROM seals WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    let mut new_default: Option<String> = None;
    if seal.is_default {
        new_default =
            sqlx::query("SELECT id FROM seals WHERE user_id = $1 ORDER BY ordinal LIMIT 1")
                .bind(&user.id)
                .fetch_optional(&mut *tx)
                .await?
                .map(|r| r.try_get("id"))
                .transpose()?;
        if let Some(next) = &new_default {
            sqlx::query("UPDATE seals SET is_default = $1 WHERE id = $2")
                .bind(true)
                .bind(next)
                .execute(&mut *tx)
                .await?;
        }
    }
    audit::append_for(
        &mut tx,
        &db.audit,
        now,
        user,
        &actor.id,
        "seal.deleted",
        serde_json::json!({
            "seal": id, "for": user.id, "name": seal.name, "new_default": new_default,
        }),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The seal a visible signature of `user` stamps, as a transparent PNG, with its id: the seal
/// `chosen`, else the user's default seal, else (none registered) Inkan's 電子署名 seal. A
/// chosen id that is not one of the user's seals is refused.
pub async fn for_signature(
    db: &Db,
    user: &User,
    chosen: Option<&str>,
) -> Result<(Option<String>, Vec<u8>), Failure> {
    let row = match chosen {
        Some(id) => Some(
            sqlx::query("SELECT id, transparent FROM seals WHERE id = $1 AND user_id = $2")
                .bind(id)
                .bind(&user.id)
                .fetch_optional(&db.pool)
                .await?
                .ok_or_else(|| Failure::invalid("seal", "error.seal_unknown"))?,
        ),
        None => {
            sqlx::query("SELECT id, transparent FROM seals WHERE user_id = $1 AND is_default = $2")
                .bind(&user.id)
                .bind(true)
                .fetch_optional(&db.pool)
                .await?
        }
    };
    match row {
        Some(r) => Ok((Some(r.try_get("id")?), r.try_get("transparent")?)),
        None => Ok((None, seal::default_seal().to_vec())),
    }
}

/// Deletes expired drafts (the periodic sweep).
pub async fn sweep_drafts(db: &Db, now: i64) -> Result<u64, Failure> {
    Ok(
        sqlx::query("DELETE FROM seal_drafts WHERE expires_at <= $1")
            .bind(now)
            .execute(&db.pool)
            .await?
            .rows_affected(),
    )
}

#[cfg(test)]
mod tests {
    use futures_util::FutureExt as _;

    use super::*;

    const MB: u64 = 1 << 20;

    #[test]
    fn uploads_wait_until_their_cost_fits_the_budget() {
        let budget = DecodeBudget::new(100);
        let first = budget.reserve(80 * MB).now_or_never().expect("fits");
        assert!(budget.reserve(30 * MB).now_or_never().is_none(), "waits");
        let small = budget
            .reserve(20 * MB)
            .now_or_never()
            .expect("fits beside it");
        drop(first);
        let second = budget.reserve(30 * MB).now_or_never().expect("fits now");
        drop((small, second));
        // More than the whole budget: clamped, so it runs alone rather than never.
        let huge = budget.reserve(500 * MB).now_or_never().expect("alone");
        assert!(
            budget.reserve(1).now_or_never().is_none(),
            "nothing beside it"
        );
        drop(huge);
        assert!(budget.reserve(1).now_or_never().is_some());
    }

    #[test]
    fn a_seal_name_is_trimmed_and_checked() {
        assert_eq!(
            SealName::parse("  山田 印 ").map(|n| n.as_str().to_owned()),
            Ok("山田 印".to_owned())
        );
        assert_eq!(
            SealName::parse("   ").map_err(|e| e.key),
            Err("error.required")
        );
        assert_eq!(
            SealName::parse(&"印".repeat(51)).map_err(|e| e.key),
            Err("error.too_long")
        );
        assert!(SealName::parse(&"印".repeat(50)).is_ok());
        for bad in ["a\u{7}b", "abc\u{202E}gnp", "a\nb"] {
            assert_eq!(
                SealName::parse(bad).map_err(|e| e.key),
                Err("error.control_characters"),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn every_seal_refusal_has_its_own_message_key() {
        let errors = [
            seal::SealError::TooLarge { size: 1, max: 0 },
            seal::SealError::NotAnImage,
            seal::SealError::TooManyPixels {
                width: 1,
                height: 1,
            },
            seal::SealError::Corrupt(String::new()),
            seal::SealError::Unsupported(String::new()),
            seal::SealError::Animated,
            seal::SealError::BadName,
            seal::SealError::NoStamp,
        ];
        let mut keys: Vec<&str> = errors.iter().map(seal_error_key).collect();
        assert!(!keys.contains(&"error.seal_image"), "{keys:?}");
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(keys.len(), errors.len());
        for key in keys.iter().chain(&["error.seal_image", "error.seal_limit"]) {
            assert!(crate::i18n::known(key), "{key}");
        }
    }
}
