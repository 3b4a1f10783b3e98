//! The certificate lifecycle's JSON API: one's own certificate status and applications, the
//! applicant form's check (the confirmation step), placing the priced order (idempotent), a
//! certificate of another CA imported with its key (PKCS#12) and removed, the instance
//! operator's identity-check queue with approval (issuance) and rejection, and the
//! organisation's billing ledger (JSON and CSV).

use axum::extract::multipart::{Multipart, MultipartRejection};
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::AppState;
use crate::error::{ApiError, AsSigner, HttpFailure};
use crate::routes::extract::{ApiActing, ApiJson, ApiSession};
use crate::routes::schemas::{
    Applicant, ApplicantForm, CertificateView, Charge, ImportedCertificate, Order, PendingCheck,
};
use domain::accounts;
use domain::acting::Acting;
use domain::certificates::{self, Check, OrderKind, PRICE_JPY, TAX_JPY};
use domain::error::Failure;
use domain::imported;
use domain::permissions::{require, Action};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/me/certificate", get(status))
        .route("/api/users/{id}/certificate", get(status))
        .route("/api/me/certificate/check", post(check_form))
        .route("/api/me/certificate/orders", post(place_order))
        .route("/api/users/{id}/certificate/orders", post(place_order))
        .route("/api/me/certificate/renewals", post(renew))
        .route("/api/users/{id}/certificate/renewals", post(renew))
        .route("/api/me/certificate/changes", post(change))
        .route("/api/users/{id}/certificate/changes", post(change))
        .route(
            "/api/me/certificate/imports",
            post(import).layer(DefaultBodyLimit::max(IMPORT_LIMIT)),
        )
        .route(
            "/api/users/{id}/certificate/imports",
            post(import).layer(DefaultBodyLimit::max(IMPORT_LIMIT)),
        )
        .route(
            "/api/me/certificate/imports/{serial}",
            delete(remove_import),
        )
        .route(
            "/api/users/{id}/certificate/imports/{serial}",
            delete(remove_import),
        )
        .route("/api/identity-checks", get(queue))
        .route("/api/identity-checks/{order_id}/approve", post(approve))
        .route("/api/identity-checks/{order_id}/reject", post(reject))
        .route(
            "/api/me/sign",
            post(sign).layer(axum::extract::DefaultBodyLimit::max(SIGN_LIMIT)),
        )
        .route("/api/billing", get(billing))
        .route("/api/billing.csv", get(billing_csv))
}

/// The paths these handlers serve for the caller; each also serves `/api/users/{id}/…`.
pub const MIRRORED: &[&str] = &[
    "/api/me/certificate",
    "/api/me/certificate/orders",
    "/api/me/certificate/renewals",
    "/api/me/certificate/changes",
    "/api/me/certificate/imports",
    "/api/me/certificate/imports/{serial}",
];

/// The largest import body read: a PKCS#12 file at its limit, its password and the multipart
/// framing. A larger one is refused as too large without being read whole.
pub const IMPORT_LIMIT: usize = imported::MAX_BYTES + 16 * 1024;

/// The request header carrying the signing PIN (never a query parameter: URLs get logged).
pub const PIN_HEADER: &str = "x-inkan-signing-pin";

/// The largest PDF the service signs.
pub const SIGN_LIMIT: usize = 50 * 1024 * 1024;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SignQuery {
    /// `B-T`, `B-LT` or `B-LTA`. The level is the organisation's setting (an administrator's,
    /// `/api/organisation/settings`); a stronger level asked for here is used, a weaker one is
    /// not (a malformed one is still refused).
    pub level: Option<String>,
    /// A visible signature at `PAGE,X,Y,WIDTH,HEIGHT` (points); omitted, invisible.
    pub visible: Option<String>,
    /// The reason recorded in the signature.
    pub reason: Option<String>,
    /// The seal to stamp on a visible signature (its id, see `/api/me/seals`); omitted, the
    /// default seal.
    pub seal: Option<String>,
}

/// Signs the uploaded PDF (the body, `application/pdf`) with the caller's own certificate
/// (当事者型) and answers the signed PDF: PAdES at the organisation's level (B-T, B-LT or B-LTA,
/// set by an administrator) with a timestamp from Inkan's TSA (or the organisation's external
/// one) and, from B-LT, long-term validation data.
/// Refused, saying why, without an active certificate in its validity period.
#[utoipa::path(post, path = "/api/me/sign", tag = "certificates",
    params(SignQuery,
        ("X-Inkan-Signing-Pin" = Option<String>, Header, description = "The signing PIN, when the signer has set one")),
    request_body(content((crate::routes::schemas::FileBytes = "application/pdf"), (crate::routes::schemas::FileBytes = "application/octet-stream")), description = "The PDF to sign (sent as application/pdf or application/octet-stream)"),
    security(("session" = [], "csrf" = [])),
    responses(
        (status = 200, description = "The signed PDF", content_type = "application/pdf", body = crate::routes::schemas::FileBytes),
        (status = 400, description = "No usable certificate (and why), a bad option, a seal that is not the caller's, or a PDF that cannot be signed", body = ApiError),
        AsSigner,
        (status = 413, description = "Larger than 50 MB", body = ApiError),
        (status = 423, description = "Signing locked after repeated wrong PINs", body = ApiError),
        (status = 502, description = "The organisation's external timestamp authority, or another CA's OCSP responder, CRL or issuer certificate, could not be reached or answered wrongly (the message names it); nothing was signed", body = ApiError),
    ))]
pub async fn sign(
    State(state): State<AppState>,
    ApiSession(session): ApiSession,
    headers: HeaderMap,
    query: Result<axum::extract::Query<SignQuery>, axum::extract::rejection::QueryRejection>,
    body: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Response, HttpFailure> {
    let axum::extract::Query(query) = query.map_err(|e| Failure::BadQuery(e.body_text()))?;
    let pdf = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            Failure::TooLarge(SIGN_LIMIT as u64)
        } else {
            Failure::BadUpload(e.body_text())
        }
    })?;
    let level = query
        .level
        .as_deref()
        .map(domain::signing::parse_level)
        .transpose()?;
    let placement = query
        .visible
        .as_deref()
        .map(pdf_sign::Placement::parse)
        .transpose()
        .map_err(|_| Failure::invalid("visible", "error.placement"))?;
    let signed = domain::signing::sign(
        &state.db,
        state.clock.now(),
        Some(state.ca.clone()),
        &session.user,
        pdf.to_vec(),
        domain::signing::Request {
            level,
            placement,
            reason: query.reason,
            pin: headers
                .get(PIN_HEADER)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            seal: query.seal.filter(|s| !s.is_empty()),
        },
    )
    .await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/pdf"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"signed.pdf\"",
            ),
        ],
        signed,
    )
        .into_response())
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CertificateStatus {
    /// Whether the caller may apply now.
    pub can_apply: bool,
    /// Why not, when `can_apply` is false (a message code).
    pub reason: Option<String>,
    pub price_jpy: i64,
    pub tax_jpy: i64,
    /// Newest first.
    #[schema(value_type = Vec<Order>)]
    pub applications: Vec<certificates::Order>,
    /// Newest first.
    #[schema(value_type = Vec<CertificateView>)]
    pub certificates: Vec<certificates::CertificateView>,
    /// Certificates of other CAs imported with their keys, newest first.
    #[schema(value_type = Vec<ImportedCertificate>)]
    pub imported: Vec<imported::ImportedView>,
}

/// The caller's certificates and applications, and whether they may apply.
#[utoipa::path(get, path = "/api/me/certificate", tag = "certificates",
    security(("session" = [])),
    responses(
        (status = 200, description = "Status", body = CertificateStatus),
        (status = 401, description = "Not logged in", body = ApiError),
        (status = 403, description = "The password must be changed first", body = ApiError),
    ))]
pub async fn status(
    State(state): State<AppState>,
    ApiActing(acting): ApiActing,
) -> Result<Json<CertificateStatus>, HttpFailure> {
    let o = certificates::overview(&state.db, state.clock.now(), acting.user()).await?;
    Ok(Json(CertificateStatus {
        can_apply: o.can_apply,
        reason: o
            .reason
            .map(|k| k.strip_prefix("error.").unwrap_or(k).to_owned()),
        price_jpy: PRICE_JPY,
        tax_jpy: TAX_JPY,
        applications: o.applications,
        certificates: o.certificates,
        imported: o.imported,
    }))
}

/// An import (multipart/form-data): the file and its password.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct CertificateImport {
    /// The PKCS#12 file (.p12, .pfx) with the key, the certificate and its chain; at most 64 KB.
    #[schema(value_type = String, format = Binary)]
    pub file: Vec<u8>,
    /// The file's password: it only opens the file and is never stored.
    pub password: String,
}

/// Reads an import's `file` and `password` parts, handing `other` any other text part (a
/// page's `user`); a body over [`IMPORT_LIMIT`] is the file's "too large".
pub async fn read_import(
    multipart: Result<Multipart, MultipartRejection>,
    mut other: impl FnMut(&str, String),
) -> Result<(Vec<u8>, zeroize::Zeroizing<String>), Failure> {
    let too_large = || Failure::invalid("file", "error.p12_too_large");
    let mut multipart = multipart.map_err(|e| Failure::BadUpload(e.body_text()))?;
    let (mut file, mut password) = (Vec::new(), zeroize::Zeroizing::new(String::new()));
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => return Err(too_large()),
            Err(e) => return Err(Failure::BadUpload(e.body_text())),
        };
        let name = field.name().unwrap_or_default().to_owned();
        let bytes = field.bytes().await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                too_large()
            } else {
                Failure::BadUpload(e.body_text())
            }
        })?;
        match name.as_str() {
            "file" => file = bytes.to_vec(),
            "password" => {
                *password = String::from_utf8(bytes.to_vec())
                    .map_err(|_| Failure::invalid("password", "error.p12_password"))?;
            }
            _ => other(&name, String::from_utf8_lossy(&bytes).into_owned()),
        }
    }
    Ok((file, password))
}

/// Imports a signing certificate of another CA (a commercial one on Adobe's AATL, say) with
/// its key, from a PKCS#12 file and its password: the key is sealed to the signer's PIN (set
/// one first), the chain from the file is what signatures carry, and as the newest usable
/// certificate it signs from now on (`/api/me/sign`, contracts). The password is never stored.
/// Refused, storing nothing, saying why: no PIN, a wrong password, not PKCS#12, no key, a key
/// that is not P-256 or RSA 2048–4096 or not the certificate's, a certificate not valid now or
/// not for signatures, over 64 KB, or imported already.
#[utoipa::path(post, path = "/api/me/certificate/imports", tag = "certificates",
    request_body(content = CertificateImport, content_type = "multipart/form-data"),
    security(("session" = [], "csrf" = [])),
    responses(
        (status = 201, description = "Imported", body = ImportedCertificate),
        (status = 400, description = "The file or its password refused (the field and the reason), no signing PIN set yet, a malformed body, or a transaction agent", body = ApiError),
        AsSigner,
        (status = 409, description = "This certificate is imported already", body = ApiError),
    ))]
pub async fn import(
    State(state): State<AppState>,
    ApiActing(acting): ApiActing,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<(StatusCode, Json<imported::ImportedView>), HttpFailure> {
    let acting = acting.admit(imported::holder)?;
    let (file, password) = read_import(multipart, |_, _| {}).await?;
    let view = imported::import(&state.db, state.clock.now(), &acting, &file, password).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// Removes an imported certificate: it signs no more, and its key is gone (importing the file
/// again brings it back).
#[utoipa::path(delete, path = "/api/me/certificate/imports/{serial}", tag = "certificates",
    params(("serial" = String, Path, description = "The certificate's serial (hex)")),
    security(("session" = [], "csrf" = [])),
    responses(
        (status = 204, description = "Removed"),
        (status = 400, description = "A transaction agent", body = ApiError),
        AsSigner,
        (status = 404, description = "No such active imported certificate of the caller", body = ApiError),
    ))]
pub async fn remove_import(
    State(state): State<AppState>,
    ApiActing(acting): ApiActing,
    Path(ImportPath { serial }): Path<ImportPath>,
) -> Result<StatusCode, HttpFailure> {
    let acting = acting.admit(imported::holder)?;
    imported::remove(&state.db, state.clock.now(), &acting, &serial).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
pub struct ImportPath {
    serial: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Confirmation {
    /// The values as they will be ordered (normalised).
    #[schema(value_type = Applicant)]
    pub applicant: certificates::Applicant,
    /// The certificate's common name.
    pub common_name: String,
    pub price_jpy: i64,
    pub tax_jpy: i64,
    pub total_jpy: i64,
}

/// Checks the applicant form (step 2) and answers the confirmation (step 3); stores nothing.
#[utoipa::path(post, path = "/api/me/certificate/check", tag = "certificates",
    request_body = ApplicantForm,
    security(("session" = [], "csrf" = [])),
    responses(
        (status = 200, description = "Valid: what will be ordered, and the price", body = Confirmation),
        (status = 400, description = "Field problems, or the caller may not apply", body = ApiError),
        AsSigner,
        (status = 413, description = "Body too large", body = ApiError),
    ))]
pub async fn check_form(
    ApiSession(session): ApiSession,
    ApiJson(form): ApiJson<certificates::ApplicantForm>,
) -> Result<Json<Confirmation>, HttpFailure> {
    certificates::may_apply(&session.user)?;
    let applicant = form.check()?;
    Ok(Json(Confirmation {
        common_name: applicant.common_name(),
        applicant,
        price_jpy: PRICE_JPY,
        tax_jpy: TAX_JPY,
        total_jpy: PRICE_JPY + TAX_JPY,
    }))
}

/// Places the order (「お申込み」). Send a fresh `Idempotency-Key` per confirmation page: a
/// repeated request with the same key answers the same order (200) and charges nothing more.
#[utoipa::path(post, path = "/api/me/certificate/orders", tag = "certificates",
    request_body = ApplicantForm,
    params(("Idempotency-Key" = String, Header, description = "8 to 64 letters, digits, - or _; one per confirmation")),
    security(("session" = [], "csrf" = [])),
    responses(
        (status = 201, description = "Ordered", body = Order),
        (status = 200, description = "The same order again (same key)", body = Order),
        (status = 400, description = "Field problems, a bad key, or the caller may not apply", body = ApiError),
        AsSigner,
        (status = 409, description = "Another application is open", body = ApiError),
        (status = 413, description = "Body too large", body = ApiError),
    ))]
pub async fn place_order(
    State(state): State<AppState>,
    ApiActing(acting): ApiActing,
    headers: HeaderMap,
    ApiJson(form): ApiJson<certificates::ApplicantForm>,
) -> Ordered {
    order_for(&state, &acting, &headers, form).await
}

type Ordered = Result<(StatusCode, Json<certificates::Order>), HttpFailure>;

/// Orders a first certificate for `user`, placed by `actor` (the user, or an administrator).
async fn order_for(
    state: &AppState,
    acting: &Acting,
    headers: &HeaderMap,
    form: certificates::ApplicantForm,
) -> Ordered {
    certificates::may_apply(acting.user())?;
    let key = idempotency_key(headers)?;
    let applicant = form.check()?;
    let (order, created) = certificates::place_order(
        &state.db,
        state.clock.now(),
        acting,
        &applicant,
        &key,
        &OrderKind::New,
    )
    .await?;
    Ok((created_or_ok(created), Json(order)))
}

/// Orders the renewal of `user`'s certificate.
async fn renew_for(
    state: &AppState,
    acting: &Acting,
    headers: &HeaderMap,
    req: Renewal,
) -> Ordered {
    certificates::may_apply(acting.user())?;
    let key = idempotency_key(headers)?;
    let (order, created) =
        certificates::renew(&state.db, state.clock.now(), acting, &req.serial, &key).await?;
    Ok((created_or_ok(created), Json(order)))
}

/// Orders a re-issue of `user`'s certificate with changed data.
async fn change_for(
    state: &AppState,
    acting: &Acting,
    headers: &HeaderMap,
    req: ChangeRequest,
) -> Ordered {
    certificates::may_apply(acting.user())?;
    let key = idempotency_key(headers)?;
    let applicant = req.applicant.check()?;
    let (order, created) = certificates::change(
        &state.db,
        state.clock.now(),
        acting,
        &req.serial,
        &applicant,
        &key,
    )
    .await?;
    Ok((created_or_ok(created), Json(order)))
}

/// The `Idempotency-Key` header, checked.
fn idempotency_key(headers: &HeaderMap) -> Result<String, Failure> {
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    certificates::check_idempotency_key(&key)?;
    Ok(key)
}

fn created_or_ok(created: bool) -> StatusCode {
    if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct Renewal {
    /// The serial (hex) of the certificate to renew.
    #[serde(default)]
    pub serial: String,
}

/// 「更新する」: orders the renewal of one's active certificate (same data), from three months
/// before its expiry. A new order with a new charge; idempotent like a first order.
#[utoipa::path(post, path = "/api/me/certificate/renewals", tag = "certificates",
    request_body = Renewal,
    params(("Idempotency-Key" = String, Header, description = "8 to 64 letters, digits, - or _")),
    security(("session" = [], "csrf" = [])),
    responses(
        (status = 201, description = "Ordered", body = Order),
        (status = 200, description = "The same order again (same key)", body = Order),
        (status = 400, description = "Too early, a bad key, or the caller may not apply", body = ApiError),
        AsSigner,
        (status = 404, description = "No such active certificate of the caller", body = ApiError),
        (status = 409, description = "Another application is open", body = ApiError),
        (status = 413, description = "Body too large", body = ApiError),
    ))]
pub async fn renew(
    State(state): State<AppState>,
    ApiActing(acting): ApiActing,
    headers: HeaderMap,
    ApiJson(req): ApiJson<Renewal>,
) -> Ordered {
    renew_for(&state, &acting, &headers, req).await
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ChangeRequest {
    /// The serial (hex) of the certificate to replace.
    #[serde(default)]
    pub serial: String,
    /// The changed applicant data.
    #[serde(default)]
    #[schema(value_type = ApplicantForm)]
    pub applicant: certificates::ApplicantForm,
}

/// 「変更する」: orders a re-issue with changed data; when it is issued the old certificate is
/// revoked (superseded).
#[utoipa::path(post, path = "/api/me/certificate/changes", tag = "certificates",
    request_body = ChangeRequest,
    params(("Idempotency-Key" = String, Header, description = "8 to 64 letters, digits, - or _")),
    security(("session" = [], "csrf" = [])),
    responses(
        (status = 201, description = "Ordered", body = Order),
        (status = 200, description = "The same order again (same key)", body = Order),
        (status = 400, description = "Field problems, a bad key, or the caller may not apply", body = ApiError),
        AsSigner,
        (status = 404, description = "No such active certificate of the caller", body = ApiError),
        (status = 409, description = "Another application is open", body = ApiError),
        (status = 413, description = "Body too large", body = ApiError),
    ))]
pub async fn change(
    State(state): State<AppState>,
    ApiActing(acting): ApiActing,
    headers: HeaderMap,
    ApiJson(req): ApiJson<ChangeRequest>,
) -> Ordered {
    change_for(&state, &acting, &headers, req).await
}

/// The identity-check queue: pending applications, oldest first (the instance operator).
#[utoipa::path(get, path = "/api/identity-checks", tag = "certificates",
    security(("session" = [])),
    responses(
        (status = 200, description = "Pending applications", body = Vec<PendingCheck>),
        (status = 401, description = "Not logged in", body = ApiError),
        (status = 403, description = "Not the instance operator", body = ApiError),
    ))]
pub async fn queue(
    State(state): State<AppState>,
    ApiSession(session): ApiSession,
) -> Result<Json<Vec<certificates::PendingCheck>>, HttpFailure> {
    require(session.user.roles, Action::IdentityChecks)?;
    Ok(Json(certificates::pending_checks(&state.db).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct Decision {
    /// How the identity was confirmed, e.g. 電話 (phone call to the registered number).
    #[serde(default)]
    #[schema(min_length = 1, max_length = 100)]
    pub method: String,
    #[serde(default)]
    #[schema(max_length = 1000)]
    pub note: String,
    /// Why (rejections only).
    #[serde(default)]
    pub reason: String,
}

/// Records an identity check as passed; the CA issues the certificate and the applicant is
/// emailed 「電子証明書発行のお知らせ」.
#[utoipa::path(post, path = "/api/identity-checks/{order_id}/approve", tag = "certificates",
    request_body = Decision,
    params(("order_id" = String, Path, description = "The order id, e.g. INK202611250001")),
    security(("session" = [], "csrf" = [])),
    responses(
        (status = 201, description = "Issued", body = CertificateView),
        (status = 400, description = "Missing method, or no CA configured", body = ApiError),
        (status = 401, description = "Not logged in", body = ApiError),
        (status = 403, description = "Not the instance operator, or CSRF token wrong", body = ApiError),
        (status = 404, description = "No such order", body = ApiError),
        (status = 409, description = "Already decided", body = ApiError),
        (status = 413, description = "Body too large", body = ApiError),
    ))]
pub async fn approve(
    State(state): State<AppState>,
    ApiSession(session): ApiSession,
    Path(order_id): Path<String>,
    ApiJson(decision): ApiJson<Decision>,
) -> Result<(StatusCode, Json<certificates::CertificateView>), HttpFailure> {
    require(session.user.roles, Action::IdentityChecks)?;
    let check = Check::parse(&decision.method, &decision.note)?;
    let cert = certificates::approve(
        &state.db,
        state.clock.now(),
        Some(&state.ca),
        &session.user,
        &order_id,
        &check,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(cert)))
}

/// Records an identity check as failed, with the reason (emailed to the applicant); the charge
/// is refunded.
#[utoipa::path(post, path = "/api/identity-checks/{order_id}/reject", tag = "certificates",
    request_body = Decision,
    params(("order_id" = String, Path, description = "The order id")),
    security(("session" = [], "csrf" = [])),
    responses(
        (status = 204, description = "Rejected"),
        (status = 400, description = "Missing method or reason", body = ApiError),
        (status = 401, description = "Not logged in", body = ApiError),
        (status = 403, description = "Not the instance operator, or CSRF token wrong", body = ApiError),
        (status = 404, description = "No such order", body = ApiError),
        (status = 409, description = "Already decided", body = ApiError),
        (status = 413, description = "Body too large", body = ApiError),
    ))]
pub async fn reject(
    State(state): State<AppState>,
    ApiSession(session): ApiSession,
    Path(order_id): Path<String>,
    ApiJson(decision): ApiJson<Decision>,
) -> Result<StatusCode, HttpFailure> {
    require(session.user.roles, Action::IdentityChecks)?;
    let check = Check::parse(&decision.method, &decision.note)?;
    certificates::reject(
        &state.db,
        state.clock.now(),
        &session.user,
        &order_id,
        &check,
        &decision.reason,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The organisation's billing ledger (administrators).
#[utoipa::path(get, path = "/api/billing", tag = "certificates",
    security(("session" = [])),
    responses(
        (status = 200, description = "Charges and refunds, oldest first", body = Vec<Charge>),
        (status = 401, description = "Not logged in", body = ApiError),
        (status = 403, description = "Not an administrator", body = ApiError),
    ))]
pub async fn billing(
    State(state): State<AppState>,
    ApiSession(session): ApiSession,
) -> Result<Json<Vec<certificates::Charge>>, HttpFailure> {
    require(session.user.roles, Action::ManageUsers)?;
    Ok(Json(
        certificates::ledger(&state.db, &session.user.org_id).await?,
    ))
}

/// The billing ledger as CSV (UTF-8 with BOM).
#[utoipa::path(get, path = "/api/billing.csv", tag = "certificates",
    security(("session" = [])),
    responses(
        (status = 200, description = "order_id, organisation, kind, amount_jpy, tax_jpy, total_jpy, date, common_name", content_type = "text/csv", body = String),
        (status = 401, description = "Not logged in", body = ApiError),
        (status = 403, description = "Not an administrator", body = ApiError),
    ))]
pub async fn billing_csv(
    State(state): State<AppState>,
    ApiSession(session): ApiSession,
) -> Result<Response, HttpFailure> {
    require(session.user.roles, Action::ManageUsers)?;
    let org = accounts::organisation_name(&state.db, &session.user.org_id).await?;
    let charges = certificates::ledger(&state.db, &session.user.org_id).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"inkan-billing.csv\"",
            ),
        ],
        certificates::ledger_csv(org.as_str(), &charges),
    )
        .into_response())
}
