//! An organisation's settings through the JSON API, for its administrators: read them, change
//! them (the PAdES level of the signatures made with a signer's own certificate). What they
//! mean and the audit entry are `domain::settings`.

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
}

impl From<settings::Settings> for OrganisationSettings {
    fn from(s: settings::Settings) -> Self {
        Self {
            pades_level: settings::level_name(s.pades_level).to_owned(),
        }
    }
}

/// What to change; a setting left out stays as it is.
#[derive(Debug, Deserialize, ToSchema)]
pub struct OrganisationSettingsChange {
    /// `B-T`, `B-LT` or `B-LTA`.
    #[schema(example = "B-T", pattern = "^B-(T|LT|LTA)$")]
    pub pades_level: Option<String>,
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
        (status = 400, description = "Field problems (every one named): not B-T, B-LT or B-LTA; or a malformed body", body = ApiError),
        (status = 401, description = "Not logged in", body = ApiError),
        (status = 403, description = "Not an administrator, CSRF token wrong, or the password must be changed first", body = ApiError),
        (status = 413, description = "Body too large", body = ApiError),
    ))]
pub async fn change(
    State(state): State<AppState>,
    ApiSession(session): ApiSession,
    ApiJson(change): ApiJson<OrganisationSettingsChange>,
) -> Result<Json<OrganisationSettings>, HttpFailure> {
    let change = settings::Change {
        pades_level: change.pades_level,
    };
    let s = settings::update(&state.db, state.clock.now(), &session.user, &change).await?;
    Ok(Json(s.into()))
}
