//! An organisation's settings, which its administrators change: the PAdES level of the
//! signatures the service makes with a signer's own certificate (B-T, B-LT or B-LTA; B-LTA
//! until changed), the organisation's name and address (the address prefills certificate
//! applications), the support text its mails end with, the time zone its visible signatures
//! print their time in, and an external RFC 3161 timestamp authority used instead of Inkan's
//! own. Each change is recorded in the audit log in the same transaction.

pub use chrono_tz::Tz;
use sqlx::Row;

use crate::accounts::{OrgName, User};
use crate::audit;
use crate::certificates::PREFECTURES;
use crate::db::Db;
use crate::error::{unique_violation, Failure, FieldError};
use crate::permissions::{require, Action};
use crate::remote::TsaUrl;
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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The PAdES level of a signature with a signer's own certificate.
    pub pades_level: Level,
    /// The organisation's name (on screens, in mails, in its platform certificates).
    pub name: String,
    /// The support text every mail sent for the organisation ends with (may be several lines;
    /// empty: none).
    pub mail_footer: String,
    /// The organisation's address: it prefills its signers' certificate applications.
    pub address: Address,
    /// The time zone visible signatures print their time in (an IANA name, `Asia/Tokyo` until
    /// changed).
    pub time_zone: Tz,
    /// The timestamp authority of the organisation's signatures and document timestamps, when
    /// it is not Inkan's own.
    pub tsa_url: Option<TsaUrl>,
}

/// An organisation's address; every part may be empty.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Address {
    /// 郵便番号, `100-0001`.
    pub postal_code: String,
    /// One of the 47 prefectures.
    pub prefecture: String,
    /// 市区町村.
    pub city: String,
    /// 番地.
    pub street: String,
    /// 建物名.
    pub building: String,
}

/// What an administrator changes; `None` leaves a setting as it is.
#[derive(Debug, Clone, Default)]
pub struct Change {
    /// `B-T`, `B-LT` or `B-LTA` (as typed; checked here).
    pub pades_level: Option<String>,
    pub name: Option<String>,
    pub mail_footer: Option<String>,
    pub postal_code: Option<String>,
    pub prefecture: Option<String>,
    pub city: Option<String>,
    pub street: Option<String>,
    pub building: Option<String>,
    /// An IANA time zone name such as `Asia/Tokyo`.
    pub time_zone: Option<String>,
    /// An external timestamp authority's `http://` or `https://` URL; empty for Inkan's own.
    pub tsa_url: Option<String>,
}

/// The longest support text, in characters and in lines.
const FOOTER_CHARS: usize = 1000;
const FOOTER_LINES: usize = 10;

const COLUMNS: &str = "pades_level, name, mail_footer, postal_code, prefecture, city, street, \
                       building, time_zone, tsa_url";

/// The settings of organisation `org_id` (anyone of it may be bound by them; only
/// administrators read them through [`for_admin`]).
pub async fn of_organisation(db: &Db, org_id: &str) -> Result<Settings, Failure> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM organisations WHERE id = $1"
    ))
    .bind(org_id)
    .fetch_optional(&db.pool)
    .await?
    .ok_or(Failure::NotFound)?;
    from_row(&row)
}

fn from_row(row: &sqlx::any::AnyRow) -> Result<Settings, Failure> {
    let text = |c: &str| row.try_get::<String, _>(c);
    let zone = text("time_zone")?;
    let tsa = text("tsa_url")?;
    Ok(Settings {
        pades_level: stored_level(row)?,
        name: text("name")?,
        mail_footer: text("mail_footer")?,
        address: Address {
            postal_code: text("postal_code")?,
            prefecture: text("prefecture")?,
            city: text("city")?,
            street: text("street")?,
            building: text("building")?,
        },
        time_zone: zone
            .parse()
            .map_err(|_| Failure::Internal(anyhow::anyhow!("stored time zone {zone:?}")))?,
        tsa_url: match tsa.as_str() {
            "" => None,
            url => Some(
                TsaUrl::parse(url)
                    .map_err(|_| Failure::Internal(anyhow::anyhow!("stored TSA URL {url:?}")))?,
            ),
        },
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

/// Changes the administrator's organisation's settings (every problem reported at once, nothing
/// changed then); answers them as they are now. One audit entry names what changed, from what
/// to what (none when nothing did).
pub async fn update(db: &Db, now: i64, admin: &User, change: &Change) -> Result<Settings, Failure> {
    require(admin.roles, Action::ManageUsers)?;
    let checked = check(change)?;
    let mut tx = db.begin().await?;
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM organisations WHERE id = $1"
    ))
    .bind(&admin.org_id)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(Failure::NotFound)?;
    let before = from_row(&row)?;
    let mut after = before.clone();
    checked.apply(&mut after);
    let changed = differences(&before, &after);
    if !changed.is_empty() {
        sqlx::query(
            "UPDATE organisations SET pades_level = $1, name = $2, mail_footer = $3, \
             postal_code = $4, prefecture = $5, city = $6, street = $7, building = $8, \
             time_zone = $9, tsa_url = $10 WHERE id = $11",
        )
        .bind(level_name(after.pades_level))
        .bind(&after.name)
        .bind(&after.mail_footer)
        .bind(&after.address.postal_code)
        .bind(&after.address.prefecture)
        .bind(&after.address.city)
        .bind(&after.address.street)
        .bind(&after.address.building)
        .bind(after.time_zone.name())
        .bind(after.tsa_url.as_ref().map_or("", TsaUrl::as_str))
        .bind(&admin.org_id)
        .execute(&mut *tx)
        .await
        .map_err(|e| unique_violation(e, FieldError::new("name", "error.org_name_taken")))?;
        audit::append_for(
            &mut tx,
            &db.audit,
            now,
            admin,
            &admin.id,
            "organisation.settings_changed",
            serde_json::Value::Object(changed),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(after)
}

/// A change with every given value checked and normalised.
#[derive(Debug, Default)]
struct Checked {
    pades_level: Option<Level>,
    name: Option<String>,
    mail_footer: Option<String>,
    postal_code: Option<String>,
    prefecture: Option<String>,
    city: Option<String>,
    street: Option<String>,
    building: Option<String>,
    time_zone: Option<Tz>,
    /// `Some(None)`: back to Inkan's own TSA.
    tsa_url: Option<Option<TsaUrl>>,
}

impl Checked {
    fn apply(self, s: &mut Settings) {
        let set = |to: &mut String, v: Option<String>| {
            if let Some(v) = v {
                *to = v;
            }
        };
        if let Some(level) = self.pades_level {
            s.pades_level = level;
        }
        if let Some(zone) = self.time_zone {
            s.time_zone = zone;
        }
        if let Some(tsa) = self.tsa_url {
            s.tsa_url = tsa;
        }
        set(&mut s.name, self.name);
        set(&mut s.mail_footer, self.mail_footer);
        set(&mut s.address.postal_code, self.postal_code);
        set(&mut s.address.prefecture, self.prefecture);
        set(&mut s.address.city, self.city);
        set(&mut s.address.street, self.street);
        set(&mut s.address.building, self.building);
    }
}

fn check(change: &Change) -> Result<Checked, Failure> {
    let mut errors = Vec::new();
    let mut checked = Checked::default();
    if let Some(level) = change.pades_level.as_deref().map(str::trim) {
        match crate::signing::parse_level(level) {
            Ok(l) if level_rank(l) >= level_rank(Level::BT) => checked.pades_level = Some(l),
            _ => errors.push(FieldError::new("pades_level", "error.level")),
        }
    }
    if let Some(name) = &change.name {
        match OrgName::parse(name) {
            Ok(n) => checked.name = Some(n.as_str().to_owned()),
            Err(_) => errors.push(FieldError::new("name", "error.org_name_invalid")),
        }
    }
    if let Some(footer) = &change.mail_footer {
        let footer = footer.replace("\r\n", "\n").trim().to_owned();
        if footer.chars().count() > FOOTER_CHARS || footer.lines().count() > FOOTER_LINES {
            errors.push(FieldError::new("mail_footer", "error.mail_footer_long"));
        } else if footer.chars().any(|c| c.is_control() && c != '\n') {
            errors.push(FieldError::new("mail_footer", "error.control_characters"));
        } else {
            checked.mail_footer = Some(footer);
        }
    }
    if let Some(code) = change.postal_code.as_deref().map(str::trim) {
        match code {
            "" => checked.postal_code = Some(String::new()),
            code => match crate::certificates::normalise_postal_code(code) {
                Some(c) => checked.postal_code = Some(c),
                None => errors.push(FieldError::new("postal_code", "error.postal_code")),
            },
        }
    }
    if let Some(p) = change.prefecture.as_deref().map(str::trim) {
        if p.is_empty() || PREFECTURES.contains(&p) {
            checked.prefecture = Some(p.to_owned());
        } else {
            errors.push(FieldError::new("prefecture", "error.prefecture"));
        }
    }
    let before = errors.len();
    let mut part = |field: &'static str, value: &Option<String>, max: usize| {
        value
            .as_deref()
            .map(|v| crate::certificates::text(&mut errors, field, v, max, false))
    };
    // The lengths of an application's fields, which these prefill.
    let (city, street, building) = (
        part("city", &change.city, 128),
        part("street", &change.street, 100),
        part("building", &change.building, 60),
    );
    if errors.len() == before {
        (checked.city, checked.street, checked.building) = (city, street, building);
    }
    if let Some(zone) = change.time_zone.as_deref().map(str::trim) {
        match zone.parse::<Tz>() {
            Ok(z) => checked.time_zone = Some(z),
            Err(_) => errors.push(FieldError::new("time_zone", "error.time_zone")),
        }
    }
    if let Some(url) = change.tsa_url.as_deref().map(str::trim) {
        match url {
            "" => checked.tsa_url = Some(None),
            url => match TsaUrl::parse(url) {
                Ok(u) => checked.tsa_url = Some(Some(u)),
                Err(key) => errors.push(FieldError::new("tsa_url", key)),
            },
        }
    }
    if errors.is_empty() {
        Ok(checked)
    } else {
        Err(Failure::Invalid(errors))
    }
}

/// What changed, as `{ setting: { from, to } }` for the audit log.
fn differences(before: &Settings, after: &Settings) -> serde_json::Map<String, serde_json::Value> {
    let pairs = [
        (
            "pades_level",
            level_name(before.pades_level),
            level_name(after.pades_level),
        ),
        ("name", &before.name, &after.name),
        ("mail_footer", &before.mail_footer, &after.mail_footer),
        (
            "postal_code",
            &before.address.postal_code,
            &after.address.postal_code,
        ),
        (
            "prefecture",
            &before.address.prefecture,
            &after.address.prefecture,
        ),
        ("city", &before.address.city, &after.address.city),
        ("street", &before.address.street, &after.address.street),
        (
            "building",
            &before.address.building,
            &after.address.building,
        ),
        ("time_zone", before.time_zone.name(), after.time_zone.name()),
        (
            "tsa_url",
            before.tsa_url.as_ref().map_or("", TsaUrl::as_str),
            after.tsa_url.as_ref().map_or("", TsaUrl::as_str),
        ),
    ];
    pairs
        .into_iter()
        .filter(|(_, from, to)| from != to)
        .map(|(key, from, to)| {
            (
                key.to_owned(),
                serde_json::json!({ "from": from, "to": to }),
            )
        })
        .collect()
}

/// `t` as `2026/11/30 18:55 JST` in `zone` (the time a visible signature prints).
pub fn local_time(zone: Tz, t: i64) -> String {
    use chrono::TimeZone as _;
    zone.timestamp_opt(t, 0)
        .single()
        .map(|t| t.format("%Y/%m/%d %H:%M %Z").to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signatures_time_reads_in_the_organisations_zone() {
        // 2026-11-30 09:55 UTC.
        let t = 1_796_032_500;
        assert_eq!(
            local_time(chrono_tz::Asia::Tokyo, t),
            "2026/11/30 18:55 JST"
        );
        assert_eq!(
            local_time(chrono_tz::Asia::Seoul, t),
            "2026/11/30 18:55 KST"
        );
        assert_eq!(local_time(chrono_tz::UTC, t), "2026/11/30 09:55 UTC");
    }

    #[test]
    fn every_bad_value_is_refused_by_its_field() {
        let change = Change {
            name: Some(String::new()),
            mail_footer: Some("x".repeat(1001)),
            postal_code: Some("1".into()),
            prefecture: Some("Tokyo".into()),
            city: Some("c\u{7}".into()),
            time_zone: Some("Mars/Olympus".into()),
            tsa_url: Some("ftp://tsa.example.com/".into()),
            ..Default::default()
        };
        let Err(Failure::Invalid(errors)) = check(&change) else {
            panic!("accepted");
        };
        let fields: Vec<&str> = errors.iter().map(|e| e.field).collect();
        assert_eq!(
            fields,
            [
                "name",
                "mail_footer",
                "postal_code",
                "prefecture",
                "city",
                "time_zone",
                "tsa_url"
            ]
        );
        // Clearing the address is allowed; a support text keeps its lines.
        let clear = Change {
            postal_code: Some(String::new()),
            prefecture: Some(String::new()),
            mail_footer: Some(" 1行目\r\n2行目 ".into()),
            ..Default::default()
        };
        let checked = check(&clear).expect("valid");
        assert_eq!(checked.postal_code.as_deref(), Some(""));
        // An empty TSA URL returns to Inkan's own; a URL is kept as given, trimmed.
        let tsa = |url: &str| {
            check(&Change {
                tsa_url: Some(url.into()),
                ..Default::default()
            })
            .expect("valid")
            .tsa_url
        };
        assert_eq!(tsa(" "), Some(None));
        assert_eq!(
            tsa(" https://tsa.example.jp/rfc3161 "),
            Some(Some(
                TsaUrl::parse("https://tsa.example.jp/rfc3161").expect("url")
            ))
        );
        assert_eq!(checked.mail_footer.as_deref(), Some("1行目\n2行目"));
    }
}
