//! An organisation's settings, which its administrators change: the PAdES level of the
//! signatures the service makes with a signer's own certificate (B-T, B-LT or B-LTA; B-LTA
//! until changed). Each change is recorded in the audit log in the same transaction.

use sqlx::Row;

use crate::accounts::User;
use crate::audit;
use crate::db::Db;
use crate::error::{Failure, FieldError};
use crate::permissions::{require, Action};
use crate::signing::Level;

/// The levels an organisation may choose, weakest first (B-B, without a timestamp, is not
/// offered).
pub const LEVELS: [Level; 3] = [Level::BT, Level::BLT, Level::BLTA];

/// `B-T`, `B-LT` or `B-LTA`.
pub fn level_name(level: Level) -> &'static str {
    match level {
        Level::BB => "B-B",
        Level::BT => "B-T",
        Level::BLT => "B-LT",
        Level::BLTA => "B-LTA",
    }
}

/// How far a level goes: each one is the one before with more.
pub fn level_rank(level: Level) -> u8 {
    match level {
        Level::BB => 0,
        Level::BT => 1,
        Level::BLT => 2,
        Level::BLTA => 3,
    }
}

/// An organisation's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// The PAdES level of a signature with a signer's own certificate.
    pub pades_level: Level,
}

/// What an administrator changes; `None` leaves a setting as it is.
#[derive(Debug, Clone, Default)]
pub struct Change {
    /// `B-T`, `B-LT` or `B-LTA` (as typed; checked here).
    pub pades_level: Option<String>,
}

/// The settings of organisation `org_id` (anyone of it may be bound by them; only
/// administrators read them through [`for_admin`]).
pub async fn of_organisation(db: &Db, org_id: &str) -> Result<Settings, Failure> {
    let row = sqlx::query("SELECT pades_level FROM organisations WHERE id = $1")
        .bind(org_id)
        .fetch_optional(&db.pool)
        .await?
        .ok_or(Failure::NotFound)?;
    Ok(Settings {
        pades_level: stored_level(&row)?,
    })
}

fn stored_level(row: &sqlx::any::AnyRow) -> Result<Level, Failure> {
    let text: String = row.try_get("pades_level")?;
    crate::signing::parse_level(&text)
        .map_err(|_| Failure::Internal(anyhow::anyhow!("stored PAdES level {text:?}")))
}

/// The administrator's organisation's settings.
pub async fn for_admin(db: &Db, admin: &User) -> Result<Settings, Failure> {
    require(admin.roles, Action::ManageUsers)?;
    of_organisation(db, &admin.org_id).await
}

/// Changes the administrator's organisation's settings; answers them as they are now. An
/// audit entry names what changed (none when nothing did).
pub async fn update(db: &Db, now: i64, admin: &User, change: &Change) -> Result<Settings, Failure> {
    require(admin.roles, Action::ManageUsers)?;
    let level =
        match change.pades_level.as_deref().map(str::trim) {
            None => None,
            Some(s) => Some(crate::signing::parse_level(s).map_err(|_| {
                Failure::Invalid(vec![FieldError::new("pades_level", "error.level")])
            })?),
        };
    let mut tx = db.begin().await?;
    let row = sqlx::query("SELECT pades_level FROM organisations WHERE id = $1")
        .bind(&admin.org_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(Failure::NotFound)?;
    let before = stored_level(&row)?;
    let mut settings = Settings {
        pades_level: before,
    };
    if let Some(level) = level.filter(|l| *l != settings.pades_level) {
        sqlx::query("UPDATE organisations SET pades_level = $1 WHERE id = $2")
            .bind(level_name(level))
            .bind(&admin.org_id)
            .execute(&mut *tx)
            .await?;
        audit::append_for(
            &mut tx,
            now,
            admin,
            &admin.id,
            "organisation.settings_changed",
            serde_json::json!({
                "pades_level": { "from": level_name(before), "to": level_name(level) },
            }),
        )
        .await?;
        settings.pades_level = level;
    }
    tx.commit().await?;
    Ok(settings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_are_named_and_ranked_in_order() {
        let names: Vec<_> = LEVELS.iter().map(|l| level_name(*l)).collect();
        assert_eq!(names, ["B-T", "B-LT", "B-LTA"]);
        assert!(LEVELS
            .windows(2)
            .all(|w| level_rank(w[0]) < level_rank(w[1])));
        for l in LEVELS {
            assert_eq!(crate::signing::parse_level(level_name(l)).ok(), Some(l));
        }
    }
}
