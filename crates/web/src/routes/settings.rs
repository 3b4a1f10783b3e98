//! An organisation's settings through the JSON API, for its administrators: read them, change
//! them (the PAdES level of the signatures made with a signer's own certificate, the name and
//! address, the mails' support text, the time zone of visible signatures, an external timestamp
//! authority). What they mean and the audit entry are `domain::settings`.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::AppState;
use crate::error::{ApiError, HttpFailure};
use crate::routes::extract::{ApiJson, ApiSession};
use domain::settings;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/organisation/settings", get(read).patch(change))
}

/// An organisation's settings.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrganisationSettings {
    /// The PAdES level of every signature made with a signer's own certificate (`/sign`,
    /// `/api/me/sign`): `B-T`, `B-LT` or `B-LTA` (the default).
    #[schema(example = "B-LTA", pattern = "^B-(T|LT|LTA)$")]
    pub pades_level: String,
    /// The organisation's name.
    #[schema(example = "株式会社印鑑")]
    pub name: String,
    /// The support text every mail sent for the organisation ends with (empty: none).
    #[schema(example = "お問い合わせ: 総務部 (support@example.jp)")]
    pub mail_footer: String,
    /// 郵便番号 (`100-0001`; may be empty). The address prefills certificate applications.
    pub postal_code: String,
    /// 都道府県 (may be empty).
    pub prefecture: String,
    /// 市区町村.
    pub city: String,
    /// 番地.
    pub street: String,
    /// 建物名.
    pub building: String,
    /// The time zone visible signatures print their time in (IANA).
    #[schema(example = "Asia/Tokyo")]
    pub time_zone: String,
    /// The external RFC 3161 timestamp authority used instead of Inkan's own for the
    /// organisation's signature and document timestamps; empty: Inkan's own.
    #[schema(example = "https://tsa.example.jp/rfc3161")]
    pub tsa_url: String,
}

impl From<settings::Settings> for OrganisationSettings {
    fn from(s: settings::Settings) -> Self {
        Self {
            pades_level: settings::level_name(s.pades_level).to_owned(),
            name: s.name,
            mail_footer: s.mail_footer,
            postal_code: s.address.postal_code,
            prefecture: s.address.prefecture,
            city: s.address.city,
            street: s.address.street,
            building: s.address.building,
            time_zone: s.time_zone.name().to_owned(),
            tsa_url: s.tsa_url.map(|u| u.as_str().to_owned()).unwrap_or_default(),
        }
    }
}

/// What to change; a setting left out stays as it is. The settings page posts it too.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct OrganisationSettingsChange {
    /// `B-T`, `B-LT` or `B-LTA`.
    #[schema(example = "B-T", pattern = "^B-(T|LT|LTA)$")]
    pub pades_level: Option<String>,
    /// 1 to 200 characters, not another organisation's.
    pub name: Option<String>,
    /// At most 1,000 characters in 10 lines.
    pub mail_footer: Option<String>,
    /// 7 digits, with or without the hyphen; empty to clear.
    pub postal_code: Option<String>,
    /// One of the 47 prefectures; empty to clear.
    pub prefecture: Option<String>,
    pub city: Option<String>,
    pub street: Option<String>,
    pub building: Option<String>,
    /// An IANA time zone name.
    #[schema(example = "Asia/Tokyo")]
    pub time_zone: Option<String>,
    /// An external RFC 3161 timestamp authority: an `http://` or `https://` URL with a host
    /// (at most 2,000 characters); empty to use Inkan's own again.
    #[schema(example = "https://tsa.example.jp/rfc3161")]
    pub tsa_url: Option<String>,
}

impl From<OrganisationSettingsChange> for settings::Change {
    fn from(c: OrganisationSettingsChange) -> Self {
        Self {
            pades_level: c.pades_level,
            name: c.name,
            mail_footer: c.mail_footer,
            postal_code: c.postal_code,
            prefecture: c.prefecture,
            city: c.city,
            street: c.street,
            building: c.building,
            time_zone: c.time_zone,
            tsa_url: c.tsa_url,
        }
    }
}

/// The caller's organisation's settings (an administrator).
#[utoipa::path(get, path = "/api/organisation/settings", tag = "organisation settings",
    security(("session" = [])),
    responses(
        (status = 200, description = "The settings", body = OrganisationSettings),
        (status = 401, description = "Not logged in", body = ApiError),
        (status = 403, description = "Not an administrator, or the password must be changed first", body = ApiError),
    ))]
pub async fn read(
    State(state): State<AppState>,
    ApiSession(session): ApiSession,
) -> Result<Json<OrganisationSettings>, HttpFailure> {
    let s = settings::for_admin(&state.db, &session.user).await?;
    Ok(Json(s.into()))
}

/// Changes the caller's organisation's settings (an administrator); answers them as they are
/// now. A change is recorded in the audit log (`organisation.settings_changed`).
#[utoipa::path(patch, path = "/api/organisation/settings", tag = "organisation settings",
    request_body = OrganisationSettingsChange,
    security(("session" = [], "csrf" = [])),
    responses(
        (status = 200, description = "The settings", body = OrganisationSettings),
        (status = 400, description = "Field problems (every one named): not B-T, B-LT or B-LTA, a name, postal code, prefecture or time zone that is not one, a support text over 1,000 characters or 10 lines, a timestamp authority that is not an http(s) URL with a host; or a malformed body", body = ApiError),
        (status = 409, description = "Another organisation has this name", body = ApiError),
        (status = 401, description = "Not logged in", body = ApiError),
        (status = 403, description = "Not an administrator, CSRF token wrong, or the password must be changed first", body = ApiError),
        (status = 413, description = "Body too large", body = ApiError),
    ))]
pub async fn change(
    State(state): State<AppState>,
    ApiSession(session): ApiSession,
    ApiJson(change): ApiJson<OrganisationSettingsChange>,
) -> Result<Json<OrganisationSettings>, HttpFailure> {
    let s = settings::update(&state.db, state.clock.now(), &session.user, &change.into()).await?;
    Ok(Json(s.into()))
}
