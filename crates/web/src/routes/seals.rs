//! The seal images' JSON API: a signer uploads an image (a draft with the original and the
//! transparent PNG to preview), saves it as one of at most three seals, lists them, makes one
//! the default, deletes one, and fetches their pictures; administrators do the same for a signer
//! of their organisation under `/api/users/{id}/…`.

use axum::extract::multipart::{Multipart, MultipartRejection};
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::AppState;
use crate::error::{ApiError, AsSigner, HttpFailure};
use crate::routes::extract::{ApiActing, ApiJson};
use domain::accounts::User;
use domain::acting::Acting;
use domain::error::Failure;
use domain::seals::{self, Draft, Picture, Seal, SealName};

/// The largest upload body read: a 512 KB image and the multipart framing around it. A larger
/// file is refused as too large (413) without being read whole.
pub const UPLOAD_LIMIT: usize = seal::MAX_BYTES + 16 * 1024;

/// Each handler serves the caller's path and an administrator's for a user of the organisation
/// (the OpenAPI document lists the second as a mirror of the first: see `api::mirror_for_users`).
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/me/seal-drafts",
            post(upload).layer(DefaultBodyLimit::max(UPLOAD_LIMIT)),
        )
        .route(
            "/api/users/{id}/seal-drafts",
            post(upload).layer(DefaultBodyLimit::max(UPLOAD_LIMIT)),
        )
        .route("/api/me/seal-drafts/{draft}", delete(discard))
        .route("/api/users/{id}/seal-drafts/{draft}", delete(discard))
        .route("/api/me/seal-drafts/{draft}/original", get(draft_original))
        .route(
            "/api/users/{id}/seal-drafts/{draft}/original",
            get(draft_original),
        )
        .route(
            "/api/me/seal-drafts/{draft}/transparent",
            get(draft_transparent),
        )
        .route(
            "/api/users/{id}/seal-drafts/{draft}/transparent",
            get(draft_transparent),
        )
        .route("/api/me/seals", get(list).post(save))
        .route("/api/users/{id}/seals", get(list).post(save))
        .route("/api/me/seals/{seal}", delete(remove))
        .route("/api/users/{id}/seals/{seal}", delete(remove))
        .route("/api/me/seals/{seal}/image", get(image))
        .route("/api/users/{id}/seals/{seal}/image", get(image))
        .route("/api/me/seals/{seal}/original", get(original))
        .route("/api/users/{id}/seals/{seal}/original", get(original))
        .route("/api/me/seals/{seal}/default", post(make_default))
        .route("/api/users/{id}/seals/{seal}/default", post(make_default))
}

/// The paths these handlers serve for the caller; each also serves `/api/users/{id}/…`.
pub const MIRRORED: &[&str] = &[
    "/api/me/seal-drafts",
    "/api/me/seal-drafts/{draft}",
    "/api/me/seal-drafts/{draft}/original",
    "/api/me/seal-drafts/{draft}/transparent",
    "/api/me/seals",
    "/api/me/seals/{seal}",
    "/api/me/seals/{seal}/image",
    "/api/me/seals/{seal}/original",
    "/api/me/seals/{seal}/default",
];

/// Where a user's seal resources live: `/api/me` for the caller, `/api/users/{id}` when an
/// administrator names the user ([`Acting::named`]).
pub fn base_path(named: Option<&User>) -> String {
    match named {
        Some(user) => format!("/api/users/{}", user.id),
        None => "/api/me".to_owned(),
    }
}

#[derive(Debug, Deserialize)]
pub struct DraftPath {
    draft: String,
}

#[derive(Debug, Deserialize)]
pub struct SealPath {
    seal: String,
}

/// An upload (multipart/form-data).
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct SealUpload {
    /// The seal image: PNG, GIF or JPEG (recognised by content), at most 512 KB, 4096 pixels on
    /// a side and 16 megapixels, not animated. Its file name, without the extension, names the
    /// seal.
    #[schema(value_type = String, format = Binary)]
    pub file: Vec<u8>,
}

/// An upload waiting to be saved: preview both pictures, then save it (or discard it) within
/// the hour.
#[derive(Debug, Serialize, ToSchema)]
pub struct DraftView {
    pub id: String,
    /// The proposed name: the file name without its extension.
    pub name: String,
    /// The transparent picture's width in pixels.
    pub width: i64,
    /// The transparent picture's height in pixels.
    pub height: i64,
    /// The original's media type: `image/png`, `image/gif` or `image/jpeg`.
    pub media_type: String,
    /// The image as uploaded.
    pub original_url: String,
    /// The transparent PNG Inkan made from it.
    pub transparent_url: String,
    /// When the draft is deleted unless saved (Unix seconds).
    pub expires_at: i64,
}

impl DraftView {
    pub fn new(d: &Draft, base: &str) -> Self {
        Self {
            id: d.id.clone(),
            name: d.name.clone(),
            width: d.width,
            height: d.height,
            media_type: d.media_type.clone(),
            original_url: format!("{base}/seal-drafts/{}/original", d.id),
            transparent_url: format!("{base}/seal-drafts/{}/transparent", d.id),
            expires_at: d.expires_at,
        }
    }
}

/// A registered seal.
#[derive(Debug, Serialize, ToSchema)]
pub struct SealView {
    pub id: String,
    pub name: String,
    /// The transparent picture's width in pixels.
    pub width: i64,
    /// The transparent picture's height in pixels.
    pub height: i64,
    /// The original's media type.
    pub media_type: String,
    /// Stamped when a signature names no seal.
    pub is_default: bool,
    /// Unix seconds.
    pub created_at: i64,
    /// The transparent PNG stamped on signatures.
    pub image_url: String,
    /// The image as uploaded.
    pub original_url: String,
}

impl SealView {
    pub fn new(s: &Seal, base: &str) -> Self {
        Self {
            id: s.id.clone(),
            name: s.name.clone(),
            width: s.width,
            height: s.height,
            media_type: s.media_type.clone(),
            is_default: s.is_default,
            created_at: s.created_at,
            image_url: format!("{base}/seals/{}/image", s.id),
            original_url: format!("{base}/seals/{}/original", s.id),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewSeal {
    /// The draft to save (its id).
    #[serde(default)]
    pub draft: String,
    /// The seal's name, 1 to 50 characters; omitted, the draft's (the file name).
    #[serde(default)]
    #[schema(min_length = 1, max_length = 50)]
    pub name: Option<String>,
}

/// A draft of the uploaded `(bytes, file name)`, decoded within the server's budget.
pub(crate) async fn create_draft(
    state: &AppState,
    acting: &Acting,
    (bytes, file_name): (Vec<u8>, String),
) -> Result<seals::Draft, Failure> {
    let now = state.clock.now();
    seals::create_draft(
        &state.db,
        &state.seal_budget,
        now,
        acting,
        bytes,
        &file_name,
    )
    .await
}

/// Reads the `file` part of an upload: (bytes, file name).
pub async fn read_upload(
    multipart: Result<Multipart, MultipartRejection>,
    mut other: impl FnMut(&str, String),
) -> Result<(Vec<u8>, String), Failure> {
    let mut multipart = multipart.map_err(|e| Failure::BadUpload(e.body_text()))?;
    let mut file = None;
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                return Err(seals::oversized_upload())
            }
            Err(e) => return Err(Failure::BadUpload(e.body_text())),
        };
        let name = field.name().unwrap_or_default().to_owned();
        if name == "file" {
            let file_name = field.file_name().unwrap_or_default().to_owned();
            let bytes = field.bytes().await.map_err(|e| {
                if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    seals::oversized_upload()
                } else {
                    Failure::BadUpload(e.body_text())
                }
            })?;
            file = Some((bytes.to_vec(), file_name));
        } else {
            let value = field
                .text()
                .await
                .map_err(|e| Failure::BadUpload(e.body_text()))?;
            other(&name, value);
        }
    }
    match file {
        Some((bytes, _)) if bytes.is_empty() => Err(Failure::invalid("file", "error.required")),
        Some(file) => Ok(file),
        None => Err(Failure::invalid("file", "error.required")),
    }
}

/// One of a draft's pictures.
async fn draft_picture(
    state: &AppState,
    acting: Acting,
    draft: &str,
    which: Picture,
) -> Result<Response, HttpFailure> {
    let acting = acting.admit(seals::holder)?;
    let now = state.clock.now();
    let picture = seals::draft_picture(&state.db, now, acting.user(), draft, which).await?;
    Ok(picture_response(picture))
}

/// One of a seal's pictures.
async fn seal_picture(
    state: &AppState,
    acting: Acting,
    seal: &str,
    which: Picture,
) -> Result<Response, HttpFailure> {
    let acting = acting.admit(seals::holder)?;
    let picture = seals::picture(&state.db, acting.user(), seal, which).await?;
    Ok(picture_response(picture))
}

/// An image answer: the stored media type, never sniffed, never cached across users.
fn picture_response((media_type, bytes): (String, Vec<u8>)) -> Response {
    (
        [
            (header::CONTENT_TYPE, media_type),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
            (header::CACHE_CONTROL, "private, no-cache".to_owned()),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; sandbox".to_owned(),
            ),
        ],
        bytes,
    )
        .into_response()
}

/// Uploads a seal image (「選択する」): checked, its background made transparent, and kept as a
/// draft for an hour to preview and save. Refused, storing nothing, when the caller has three
/// seals or the image is not acceptable (the message says why).
#[utoipa::path(post, path = "/api/me/seal-drafts", tag = "seals",
    request_body(content = SealUpload, content_type = "multipart/form-data"),
    security(("session" = [], "csrf" = [])),
    responses(
        (status = 201, description = "The draft, with both pictures to preview", body = DraftView),
        (status = 400, description = "Not an acceptable image (not PNG/GIF/JPEG, damaged, too many pixels, animated, no red stamp, no name), no file, or a transaction agent", body = ApiError),
        AsSigner,
        (status = 409, description = "Three seals are registered already", body = ApiError),
        (status = 413, description = "Larger than 512 KB", body = ApiError),
    ))]
pub async fn upload(
    State(state): State<AppState>,
    ApiActing(acting): ApiActing,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<(StatusCode, Json<DraftView>), HttpFailure> {
    let acting = acting.admit(seals::holder)?;
    let upload = read_upload(multipart, |_, _| {}).await?;
    let draft = create_draft(&state, &acting, upload).await?;
    let draft = DraftView::new(&draft, &base_path(acting.named()));
    Ok((StatusCode::CREATED, Json(draft)))
}

/// Discards a draft (「キャンセル」).
#[utoipa::path(delete, path = "/api/me/seal-drafts/{draft}", tag = "seals",
    params(("draft" = String, Path, description = "The draft's id")),
    security(("session" = [], "csrf" = [])),
    responses(
        (status = 204, description = "Discarded"),
        (status = 400, description = "A transaction agent", body = ApiError),
        AsSigner,
        (status = 404, description = "No such draft of the caller", body = ApiError),
    ))]
pub async fn discard(
    State(state): State<AppState>,
    ApiActing(acting): ApiActing,
    Path(DraftPath { draft }): Path<DraftPath>,
) -> Result<StatusCode, HttpFailure> {
    let acting = acting.admit(seals::holder)?;
    seals::discard_draft(&state.db, state.clock.now(), &acting, &draft).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A draft's image as uploaded.
#[utoipa::path(get, path = "/api/me/seal-drafts/{draft}/original", tag = "seals",
    params(("draft" = String, Path, description = "The draft's id")),
    security(("session" = [])),
    responses(
        (status = 200, description = "The image", content(
            (crate::routes::schemas::FileBytes = "image/png"), (crate::routes::schemas::FileBytes = "image/gif"), (crate::routes::schemas::FileBytes = "image/jpeg"))),
        (status = 400, description = "A transaction agent", body = ApiError),
        AsSigner,
        (status = 404, description = "No such draft of the caller (or expired)", body = ApiError),
    ))]
pub async fn draft_original(
    State(state): State<AppState>,
    ApiActing(acting): ApiActing,
    Path(DraftPath { draft }): Path<DraftPath>,
) -> Result<Response, HttpFailure> {
    draft_picture(&state, acting, &draft, Picture::Original).await
}

/// A draft's transparent PNG, as it will be stamped.
#[utoipa::path(get, path = "/api/me/seal-drafts/{draft}/transparent", tag = "seals",
    params(("draft" = String, Path, description = "The draft's id")),
    security(("session" = [])),
    responses(
        (status = 200, description = "The transparent PNG", content_type = "image/png", body = crate::routes::schemas::FileBytes),
        (status = 400, description = "A transaction agent", body = ApiError),
        AsSigner,
        (status = 404, description = "No such draft of the caller (or expired)", body = ApiError),
    ))]
pub async fn draft_transparent(
    State(state): State<AppState>,
    ApiActing(acting): ApiActing,
    Path(DraftPath { draft }): Path<DraftPath>,
) -> Result<Response, HttpFailure> {
    draft_picture(&state, acting, &draft, Picture::Transparent).await
}

/// The caller's seals, oldest first.
#[utoipa::path(get, path = "/api/me/seals", tag = "seals",
    security(("session" = [])),
    responses(
        (status = 200, description = "The seals", body = Vec<SealView>),
        (status = 400, description = "A transaction agent", body = ApiError),
        AsSigner,
    ))]
pub async fn list(
    State(state): State<AppState>,
    ApiActing(acting): ApiActing,
) -> Result<Json<Vec<SealView>>, HttpFailure> {
    let acting = acting.admit(seals::holder)?;
    let base = base_path(acting.named());
    let seals = seals::list(&state.db, acting.user()).await?;
    Ok(Json(
        seals.iter().map(|s| SealView::new(s, &base)).collect(),
    ))
}

/// Saves a draft as a seal (「保存する」), optionally renamed. The first seal becomes the default.
#[utoipa::path(post, path = "/api/me/seals", tag = "seals",
    request_body = NewSeal,
    security(("session" = [], "csrf" = [])),
    responses(
        (status = 201, description = "Saved", body = SealView),
        (status = 400, description = "No draft given, a bad name, or a transaction agent", body = ApiError),
        AsSigner,
        (status = 404, description = "No such draft of the caller (or expired)", body = ApiError),
        (status = 409, description = "Three seals are registered already", body = ApiError),
        (status = 413, description = "Body too large", body = ApiError),
    ))]
pub async fn save(
    State(state): State<AppState>,
    ApiActing(acting): ApiActing,
    ApiJson(req): ApiJson<NewSeal>,
) -> Result<(StatusCode, Json<SealView>), HttpFailure> {
    let acting = acting.admit(seals::holder)?;
    let name = req
        .name
        .as_deref()
        .map(SealName::parse)
        .transpose()
        .map_err(|e| Failure::Invalid(vec![e]))?;
    if req.draft.is_empty() {
        return Err(Failure::invalid("draft", "error.required").into());
    }
    let seal = seals::save(
        &state.db,
        state.clock.now(),
        &acting,
        &req.draft,
        name.as_ref(),
    );
    let seal = SealView::new(&seal.await?, &base_path(acting.named()));
    Ok((StatusCode::CREATED, Json(seal)))
}

/// Deletes one of the caller's seals. When it was the default, the oldest remaining one
/// becomes the default.
#[utoipa::path(delete, path = "/api/me/seals/{seal}", tag = "seals",
    params(("seal" = String, Path, description = "The seal's id")),
    security(("session" = [], "csrf" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "A transaction agent", body = ApiError),
        AsSigner,
        (status = 404, description = "No such seal of the caller", body = ApiError),
    ))]
pub async fn remove(
    State(state): State<AppState>,
    ApiActing(acting): ApiActing,
    Path(SealPath { seal }): Path<SealPath>,
) -> Result<StatusCode, HttpFailure> {
    let acting = acting.admit(seals::holder)?;
    seals::delete(&state.db, state.clock.now(), &acting, &seal).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A seal's transparent PNG, as stamped on signatures.
#[utoipa::path(get, path = "/api/me/seals/{seal}/image", tag = "seals",
    params(("seal" = String, Path, description = "The seal's id")),
    security(("session" = [])),
    responses(
        (status = 200, description = "The transparent PNG", content_type = "image/png", body = crate::routes::schemas::FileBytes),
        (status = 400, description = "A transaction agent", body = ApiError),
        AsSigner,
        (status = 404, description = "No such seal of the caller", body = ApiError),
    ))]
pub async fn image(
    State(state): State<AppState>,
    ApiActing(acting): ApiActing,
    Path(SealPath { seal }): Path<SealPath>,
) -> Result<Response, HttpFailure> {
    seal_picture(&state, acting, &seal, Picture::Transparent).await
}

/// A seal's image as uploaded.
#[utoipa::path(get, path = "/api/me/seals/{seal}/original", tag = "seals",
    params(("seal" = String, Path, description = "The seal's id")),
    security(("session" = [])),
    responses(
        (status = 200, description = "The image", content(
            (crate::routes::schemas::FileBytes = "image/png"), (crate::routes::schemas::FileBytes = "image/gif"), (crate::routes::schemas::FileBytes = "image/jpeg"))),
        (status = 400, description = "A transaction agent", body = ApiError),
        AsSigner,
        (status = 404, description = "No such seal of the caller", body = ApiError),
    ))]
pub async fn original(
    State(state): State<AppState>,
    ApiActing(acting): ApiActing,
    Path(SealPath { seal }): Path<SealPath>,
) -> Result<Response, HttpFailure> {
    seal_picture(&state, acting, &seal, Picture::Original).await
}

/// Makes one of the caller's seals the default (「既定にする」).
#[utoipa::path(post, path = "/api/me/seals/{seal}/default", tag = "seals",
    params(("seal" = String, Path, description = "The seal's id")),
    security(("session" = [], "csrf" = [])),
    responses(
        (status = 200, description = "Now the default", body = SealView),
        (status = 400, description = "A transaction agent", body = ApiError),
        AsSigner,
        (status = 404, description = "No such seal of the caller", body = ApiError),
    ))]
pub async fn make_default(
    State(state): State<AppState>,
    ApiActing(acting): ApiActing,
    Path(SealPath { seal }): Path<SealPath>,
) -> Result<Json<SealView>, HttpFailure> {
    let acting = acting.admit(seals::holder)?;
    let seal = seals::set_default(&state.db, state.clock.now(), &acting, &seal).await?;
    Ok(Json(SealView::new(&seal, &base_path(acting.named()))))
}
