//! The certificate lifecycle's screens: the profile's certificate section is in `pages`; here
//! are the application in three steps (type, applicant form, confirmation with the price and
//! 「お申込み」, or 「修正する」 back to the filled form), 「更新する」 (the same confirmation),
//! importing a certificate of another CA (PKCS#12) and removing it, the operator's
//! identity-check queue, and the billing ledger.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use minijinja::{context, Value};
use serde::{Deserialize, Serialize};

use crate::app::AppState;
use crate::error::HttpStatus as _;
use crate::routes::extract::{CsrfForm, CsrfMultipart, PageSession};
use crate::routes::pages::{
    error_page, error_page_saying, form_errors, frame, merge, render, shown_on_form, Flash,
};
use domain::acting::{Acting, Whom};
use domain::auth::{new_token, Session};
use domain::certificates::{self, ApplicantForm, Check, OrderKind, PREFECTURES};
use domain::error::Failure;
use domain::i18n::{self, Lang};
use domain::permissions::{require, Action};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/certificate/apply", get(step1))
        .route("/certificate/apply/form", get(step2).post(step2_submit))
        .route("/certificate/apply/order", post(order))
        .route("/certificate/renew", get(renew_confirm).post(renew))
        .route(
            "/certificate/import",
            post(import).layer(axum::extract::DefaultBodyLimit::max(
                crate::routes::certificates::IMPORT_LIMIT,
            )),
        )
        .route("/certificate/import/remove", post(remove_import))
        .route("/identity-checks", get(checks_page))
        .route("/identity-checks/{order_id}", post(decide))
        .route("/billing", get(billing_page))
        .route(
            "/sign",
            get(sign_page)
                .post(sign_submit)
                .layer(axum::extract::DefaultBodyLimit::max(
                    crate::routes::certificates::SIGN_LIMIT,
                )),
        )
}

async fn sign_view(
    state: &AppState,
    session: &Session,
    lang: Lang,
    status: StatusCode,
    error: Option<&Failure>,
) -> Response {
    let usable =
        domain::signing::signing_certificate(&state.db, state.clock.now(), &session.user).await;
    let blocked = usable
        .as_ref()
        .err()
        .map(|f| i18n::t(lang, f.key()).to_owned());
    let errors = error.map(|f| form_errors(f, lang)).unwrap_or_default();
    let pin = domain::pins::status(&state.db, state.clock.now(), &session.user.id)
        .await
        .ok();
    let level = domain::signing::level_for(&state.db, &session.user, None)
        .await
        .map(domain::settings::level_name)
        .unwrap_or("B-LTA");
    render(
        state,
        status,
        "sign.html",
        lang,
        context! {
            blocked => blocked,
            pin => pin,
            level_note => i18n::t(lang, "sign.level_note").replace("{level}", level),
            messages => crate::routes::contract_pages::script_texts(lang, &["sign.", "error."]),
            pin_max => domain::pins::MAX_FAILURES,
            seals => domain::seals::list(&state.db, &session.user).await.unwrap_or_default(),
            ..merge([errors, frame(session, lang, None)])
        },
    )
}

/// 「署名する」: choose a PDF (its pages are shown in the browser, where the seal is placed, or
/// an invisible signature chosen), sign it with one's own certificate at the organisation's
/// PAdES level, download the signed file.
async fn sign_page(
    State(state): State<AppState>,
    PageSession(session, lang): PageSession,
) -> Response {
    if let Err(f) = require(session.user.roles, Action::CertificateSignature) {
        return error_page(&state, Some(&session), lang, &f);
    }
    sign_view(&state, &session, lang, StatusCode::OK, None).await
}

async fn sign_submit(
    State(state): State<AppState>,
    PageSession(session, lang): PageSession,
    CsrfMultipart(mut multipart): CsrfMultipart,
) -> Response {
    if let Err(f) = require(session.user.roles, Action::CertificateSignature) {
        return error_page(&state, Some(&session), lang, &f);
    }
    let unreadable =
        |e| crate::routes::extract::upload_failure(e, crate::routes::certificates::SIGN_LIMIT);
    let result = async {
        let (mut pdf, mut name) = (Vec::new(), String::from("document"));
        let (mut visible, mut reason) = (String::new(), String::new());
        let mut pin = String::new();
        let mut seal = String::new();
        while let Some(field) = multipart.next_field().await.map_err(unreadable)? {
            let field_name = field.name().unwrap_or_default().to_owned();
            if field_name == "pdf" {
                if let Some(f) = field.file_name() {
                    name = f
                        .trim_end_matches(".pdf")
                        .trim_end_matches(".PDF")
                        .to_owned();
                }
                pdf = field.bytes().await.map_err(unreadable)?.to_vec();
                continue;
            }
            let value = field.text().await.map_err(unreadable)?;
            match field_name.as_str() {
                "visible" => visible = value,
                "reason" => reason = value,
                "pin" => pin = value,
                "seal" => seal = value,
                _ => {}
            }
        }
        if pdf.is_empty() {
            return Err(Failure::invalid("pdf", "error.required"));
        }
        let placement = Some(visible.trim())
            .filter(|v| !v.is_empty())
            .map(pdf_sign::Placement::parse)
            .transpose()
            .map_err(|_| Failure::invalid("visible", "error.placement"))?;
        let signed = domain::signing::sign(
            &state.db,
            state.clock.now(),
            Some(state.ca.clone()),
            &session.user,
            pdf,
            domain::signing::Request {
                // The organisation's level: the page does not ask.
                level: None,
                placement,
                reason: Some(reason).filter(|r| !r.trim().is_empty()),
                pin: Some(pin),
                seal: Some(seal).filter(|s| !s.is_empty()),
            },
        )
        .await?;
        Ok((signed, name))
    }
    .await;
    match result {
        Ok((signed, name)) => {
            // An ASCII fallback name and the real one (RFC 6266 / 5987).
            let encoded: String = format!("{name}-signed.pdf")
                .bytes()
                .map(|b| {
                    if b.is_ascii_alphanumeric() || b"-._".contains(&b) {
                        (b as char).to_string()
                    } else {
                        format!("%{b:02X}")
                    }
                })
                .collect();
            (
                [
                    (
                        axum::http::header::CONTENT_TYPE,
                        "application/pdf".to_owned(),
                    ),
                    (
                        axum::http::header::CONTENT_DISPOSITION,
                        format!("attachment; filename=\"signed.pdf\"; filename*=UTF-8''{encoded}"),
                    ),
                ],
                signed,
            )
                .into_response()
        }
        Err(f) if shown_on_form(&f) => {
            sign_view(&state, &session, lang, f.status(), Some(&f)).await
        }
        Err(f) => error_page(&state, Some(&session), lang, &f),
    }
}

/// The form's fields in display order: (name, label key, required).
const FIELDS: [(&str, &str, bool); 14] = [
    ("organisation", "cert.f.organisation", true),
    ("department", "cert.f.department", true),
    ("family_name", "cert.f.family_name", true),
    ("given_name", "cert.f.given_name", true),
    ("family_name_romaji", "cert.f.family_name_romaji", true),
    ("given_name_romaji", "cert.f.given_name_romaji", true),
    ("postal_code", "cert.f.postal_code", true),
    ("country", "cert.f.country", true),
    ("prefecture", "cert.f.prefecture", true),
    ("city", "cert.f.city", true),
    ("street", "cert.f.street", true),
    ("building", "cert.f.building", false),
    ("phone", "cert.f.phone", true),
    ("email", "cert.f.email", true),
];

#[derive(Debug, Serialize)]
struct FieldRow {
    name: &'static str,
    label: String,
    required: bool,
}

fn fields(lang: Lang) -> Vec<FieldRow> {
    FIELDS
        .iter()
        .map(|(name, key, required)| FieldRow {
            name,
            label: i18n::t(lang, key).to_owned(),
            required: *required,
        })
        .collect()
}

#[derive(Debug, Deserialize, Default)]
struct ChangeOf {
    /// Set when the form changes an existing certificate (「変更する」).
    change: Option<String>,
    /// Set when an administrator acts for a user of the organisation (詳細).
    user: Option<String>,
}

/// Whom the application screens act for (the caller, or for an administrator a user of the
/// organisation), who must be allowed to hold a certificate.
async fn applicant(
    state: &AppState,
    session: &Session,
    user: Option<&str>,
) -> Result<Acting, Failure> {
    let whom = Whom::from_optional(user);
    Acting::resolve(&state.db, session.user.clone(), whom)
        .await?
        .admit(|acting| certificates::may_apply(acting.user()))
}

/// Where to go after an order: the profile, or the user's 詳細 page.
fn after_order(user: Option<&str>) -> String {
    match user.filter(|u| !u.is_empty()) {
        Some(id) => format!("/users/{id}?msg=cert.ordered"),
        None => "/profile?msg=cert.ordered".to_owned(),
    }
}

async fn step1(
    State(state): State<AppState>,
    PageSession(session, lang): PageSession,
    Query(change): Query<ChangeOf>,
) -> Response {
    let acting = match applicant(&state, &session, change.user.as_deref()).await {
        Ok(acting) => acting,
        Err(f) => return error_page(&state, Some(&session), lang, &f),
    };
    let user = acting.user();
    render(
        &state,
        StatusCode::OK,
        "cert_apply.html",
        lang,
        context! {
            change => change.change,
            for_user => change.user.as_ref().map(|_| user.id.clone()),
            for_name => change.user.as_ref().map(|_| user.display_name.clone()),
            ..frame(&session, lang, None)
        },
    )
}

/// Step 2, prefilled from the certificate being changed, else from the account and the
/// organisation's name and address (its settings).
async fn step2(
    State(state): State<AppState>,
    PageSession(session, lang): PageSession,
    Query(change): Query<ChangeOf>,
) -> Response {
    let acting = match applicant(&state, &session, change.user.as_deref()).await {
        Ok(acting) => acting,
        Err(f) => return error_page(&state, Some(&session), lang, &f),
    };
    let user = acting.user();
    let organisation = domain::settings::of_organisation(&state.db, &user.org_id)
        .await
        .ok();
    let mut values = ApplicantForm {
        country: "JP".into(),
        email: user.email.clone(),
        ..ApplicantForm::default()
    };
    if let Some(o) = organisation {
        values.organisation = o.name;
        values.postal_code = o.address.postal_code;
        values.prefecture = o.address.prefecture;
        values.city = o.address.city;
        values.street = o.address.street;
        values.building = o.address.building;
    }
    if let Some(serial) = &change.change {
        if let Ok(orders) = certificates::orders_of(&state.db, user).await {
            if let Some(o) = orders.iter().find(|o| o.serial.as_deref() == Some(serial)) {
                values = ApplicantForm::from(&o.applicant);
            }
        }
    }
    let errors = context! { for_user => change.user.clone() };
    form_page(
        &state,
        &session,
        lang,
        StatusCode::OK,
        &values,
        change.change,
        errors,
    )
}

fn form_page(
    state: &AppState,
    session: &Session,
    lang: Lang,
    status: StatusCode,
    values: &ApplicantForm,
    change: Option<String>,
    errors: Value,
) -> Response {
    render(
        state,
        status,
        "cert_form.html",
        lang,
        context! {
            fields => fields(lang),
            values => values,
            prefectures => PREFECTURES.as_slice(),
            change => change,
            ..merge([errors, frame(session, lang, None)])
        },
    )
}

#[derive(Debug, Deserialize)]
struct ApplicantPost {
    /// The confirmation page's order key (step 3 only).
    #[serde(default)]
    key: String,
    #[serde(default)]
    change: String,
    #[serde(default)]
    user: String,
    /// Set by the confirmation page's 「修正する」: show the form filled in, not confirm again.
    #[serde(default)]
    edit: String,
    #[serde(flatten)]
    form: ApplicantForm,
}

async fn step2_submit(
    State(state): State<AppState>,
    PageSession(session, lang): PageSession,
    CsrfForm(post): CsrfForm<ApplicantPost>,
) -> Response {
    if let Err(f) = applicant(&state, &session, Some(&post.user)).await {
        return error_page(&state, Some(&session), lang, &f);
    }
    let for_user = Some(post.user.clone()).filter(|u| !u.is_empty());
    let change = Some(post.change.clone()).filter(|c| !c.is_empty());
    if !post.edit.is_empty() {
        let values = context! { for_user => for_user };
        return form_page(
            &state,
            &session,
            lang,
            StatusCode::OK,
            &post.form,
            change,
            values,
        );
    }
    match post.form.check() {
        Ok(applicant) => {
            // A fresh key per confirmation page: resubmitting this page never orders twice.
            let key = match new_token() {
                Ok(k) => k,
                Err(e) => return error_page(&state, Some(&session), lang, &Failure::Internal(e)),
            };
            render(
                &state,
                StatusCode::OK,
                "cert_confirm.html",
                lang,
                context! {
                    rows => confirmation_rows(lang, &applicant),
                    values => applicant,
                    common_name => applicant.common_name(),
                    key => key,
                    change => change,
                    for_user => for_user,
                    ..merge([prices(), frame(&session, lang, None)])
                },
            )
        }
        Err(f) => {
            let for_user = Some(post.user.clone()).filter(|u| !u.is_empty());
            let errors = merge([form_errors(&f, lang), context! { for_user => for_user }]);
            form_page(
                &state,
                &session,
                lang,
                f.status(),
                &post.form,
                change,
                errors,
            )
        }
    }
}

async fn order(
    State(state): State<AppState>,
    PageSession(session, lang): PageSession,
    CsrfForm(post): CsrfForm<ApplicantPost>,
) -> Response {
    let change = Some(post.change.clone()).filter(|c| !c.is_empty());
    let result = async {
        let whom = Whom::from_optional(Some(&post.user));
        let acting = Acting::resolve(&state.db, session.user.clone(), whom).await?;
        let applicant = post.form.check()?;
        match &change {
            Some(serial) => {
                certificates::change(
                    &state.db,
                    state.clock.now(),
                    &acting,
                    serial,
                    &applicant,
                    &post.key,
                )
                .await
            }
            None => {
                certificates::place_order(
                    &state.db,
                    state.clock.now(),
                    &acting,
                    &applicant,
                    &post.key,
                    &OrderKind::New,
                )
                .await
            }
        }
    }
    .await;
    match result {
        // A repeated 「お申込み」 lands on the same order.
        Ok(_) => Redirect::to(&after_order(Some(&post.user))).into_response(),
        Err(f) if shown_on_form(&f) => {
            let for_user = Some(post.user.clone()).filter(|u| !u.is_empty());
            let errors = merge([form_errors(&f, lang), context! { for_user => for_user }]);
            form_page(
                &state,
                &session,
                lang,
                f.status(),
                &post.form,
                change,
                errors,
            )
        }
        Err(f) => error_page(&state, Some(&session), lang, &f),
    }
}

/// What a confirmation shows an order costs: the price, the tax and the total (yen).
fn prices() -> Value {
    context! {
        price => certificates::PRICE_JPY,
        tax => certificates::TAX_JPY,
        total => certificates::PRICE_JPY + certificates::TAX_JPY,
    }
}

/// The applicant's details as the confirmation page lists them: (label, value).
fn confirmation_rows(lang: Lang, applicant: &certificates::Applicant) -> Vec<(String, String)> {
    let values = serde_json::to_value(applicant).unwrap_or_default();
    FIELDS
        .iter()
        .map(|(name, label, _)| {
            let value = values[*name].as_str().unwrap_or_default().to_owned();
            (i18n::t(lang, label).to_owned(), value)
        })
        .collect()
}

#[derive(Debug, Deserialize)]
struct RenewOf {
    #[serde(default)]
    serial: String,
    /// Set when an administrator renews for a user of the organisation (詳細).
    user: Option<String>,
}

/// 「更新する」: the renewal's confirmation, as an application's: the certificate's details, the
/// price, the tax and the total, and 「お申込み」 (nothing is ordered or charged before it).
async fn renew_confirm(
    State(state): State<AppState>,
    PageSession(session, lang): PageSession,
    Query(of): Query<RenewOf>,
) -> Response {
    let result = async {
        let acting = applicant(&state, &session, of.user.as_deref()).await?;
        certificates::renewal_of(&state.db, state.clock.now(), &acting, &of.serial).await
    }
    .await;
    let applicant = match result {
        Ok(a) => a,
        Err(f) => return error_page(&state, Some(&session), lang, &f),
    };
    let key = match new_token() {
        Ok(k) => k,
        Err(e) => return error_page(&state, Some(&session), lang, &Failure::Internal(e)),
    };
    let for_user = of.user.filter(|u| !u.is_empty());
    let back = match &for_user {
        Some(id) => format!("/users/{id}"),
        None => "/profile".to_owned(),
    };
    render(
        &state,
        StatusCode::OK,
        "cert_confirm.html",
        lang,
        context! {
            renewal => of.serial,
            rows => confirmation_rows(lang, &applicant),
            common_name => applicant.common_name(),
            key => key,
            for_user => for_user,
            back => back,
            ..merge([prices(), frame(&session, lang, None)])
        },
    )
}

#[derive(Debug, Deserialize)]
struct RenewPost {
    #[serde(default)]
    serial: String,
    #[serde(default)]
    key: String,
    #[serde(default)]
    user: String,
}

async fn renew(
    State(state): State<AppState>,
    PageSession(session, lang): PageSession,
    CsrfForm(post): CsrfForm<RenewPost>,
) -> Response {
    let result = async {
        let whom = Whom::from_optional(Some(&post.user));
        let acting = Acting::resolve(&state.db, session.user.clone(), whom).await?;
        certificates::renew(
            &state.db,
            state.clock.now(),
            &acting,
            &post.serial,
            &post.key,
        )
        .await
    }
    .await;
    match result {
        Ok(_) => Redirect::to(&after_order(Some(&post.user))).into_response(),
        Err(f) => error_page(&state, Some(&session), lang, &f),
    }
}

/// Where to go after an import or a removal: the profile's certificate section, or the user's
/// 詳細 page.
fn after_import(for_user: &str, msg: &str) -> Redirect {
    match Some(for_user).filter(|u| !u.is_empty()) {
        Some(id) => Redirect::to(&format!("/users/{id}?msg={msg}#certificate")),
        None => Redirect::to(&format!("/profile?msg={msg}#certificate")),
    }
}

/// A refused import or removal: the profile (or 詳細) again with the messages next to the
/// import form's fields (its own `import_errors`: the seal form's fields share the names), or
/// the error page when the request itself was not allowed.
async fn import_failed(
    state: &AppState,
    session: &Session,
    lang: Lang,
    for_user: &str,
    f: Failure,
) -> Response {
    let on_form = shown_on_form(&f) || matches!(f, Failure::BadRequest("error.p12_pin_required"));
    if !on_form {
        return error_page(state, Some(session), lang, &f);
    }
    f.log();
    let fields: std::collections::BTreeMap<&str, &str> = f
        .fields()
        .iter()
        .map(|fe| (fe.field, i18n::t(lang, fe.key)))
        .collect();
    let errors = context! {
        error => i18n::t(lang, f.key()),
        // Set (if empty) so the form opens with the summary's message in view.
        import_errors => if fields.is_empty() { context! { none => true } } else { Value::from_serialize(&fields) },
    };
    let seals = crate::routes::seal_pages::SealPageQuery::default();
    if for_user.is_empty() {
        crate::routes::pages::profile_with(state, session, lang, f.status(), &seals, None, errors)
            .await
    } else {
        match Acting::resolve(&state.db, session.user.clone(), Whom::User(for_user)).await {
            Ok(acting) => {
                let page =
                    crate::routes::pages::UserPage::new(session, acting.user(), lang, f.status());
                crate::routes::pages::user_detail_with(state, page, &seals, None, errors).await
            }
            Err(f) => error_page(state, Some(session), lang, &f),
        }
    }
}

/// 「取り込む」: a PKCS#12 file and its password, for oneself or (an administrator) for a user.
async fn import(
    State(state): State<AppState>,
    PageSession(session, lang): PageSession,
    CsrfMultipart(multipart): CsrfMultipart,
) -> Response {
    let mut for_user = String::new();
    // The hidden `user` comes before the file, so it is known even when the file is refused.
    let read = crate::routes::certificates::read_import(Ok(multipart), |name, value| {
        if name == "user" {
            for_user = value;
        }
    })
    .await;
    let result = async {
        let whom = Whom::from_optional(Some(&for_user));
        let acting = Acting::resolve(&state.db, session.user.clone(), whom)
            .await?
            .admit(domain::imported::holder)?;
        let (file, password) = read?;
        domain::imported::import(&state.db, state.clock.now(), &acting, &file, password).await
    }
    .await;
    match result {
        Ok(_) => after_import(&for_user, "cert.import_done").into_response(),
        Err(f) => import_failed(&state, &session, lang, &for_user, f).await,
    }
}

#[derive(Debug, Deserialize)]
struct RemoveImportPost {
    #[serde(default)]
    user: String,
    #[serde(default)]
    serial: String,
}

/// 「削除する」 on an imported certificate.
async fn remove_import(
    State(state): State<AppState>,
    PageSession(session, lang): PageSession,
    CsrfForm(post): CsrfForm<RemoveImportPost>,
) -> Response {
    let result = async {
        let whom = Whom::from_optional(Some(&post.user));
        let acting = Acting::resolve(&state.db, session.user.clone(), whom)
            .await?
            .admit(domain::imported::holder)?;
        domain::imported::remove(&state.db, state.clock.now(), &acting, &post.serial).await
    }
    .await;
    match result {
        Ok(()) => after_import(&post.user, "cert.import_removed").into_response(),
        Err(f) => error_page(&state, Some(&session), lang, &f),
    }
}

async fn checks_page(
    State(state): State<AppState>,
    PageSession(session, lang): PageSession,
    Query(flash): Query<Flash>,
) -> Response {
    checks_view(
        &state,
        &session,
        lang,
        StatusCode::OK,
        flash.key(),
        Value::default(),
    )
    .await
}

/// The queue; `failed` names the entry whose decision was refused, what was typed into it and
/// the messages next to its fields.
async fn checks_view(
    state: &AppState,
    session: &Session,
    lang: Lang,
    status: StatusCode,
    flash: Option<&str>,
    failed: Value,
) -> Response {
    let result = async {
        require(session.user.roles, Action::IdentityChecks)?;
        certificates::pending_checks(&state.db).await
    }
    .await;
    match result {
        Ok(pending) => render(
            state,
            status,
            "identity_checks.html",
            lang,
            merge([
                failed,
                context! { pending => pending },
                frame(session, lang, flash),
            ]),
        ),
        // An administrator may look for the queue here: say who works it, and how such an
        // account is made.
        Err(f @ Failure::Forbidden) => {
            error_page_saying(state, Some(session), lang, &f, Some("checks.who"))
        }
        Err(f) => error_page(state, Some(session), lang, &f),
    }
}

#[derive(Debug, Deserialize, Serialize)]
struct DecisionPost {
    /// `approve` or `reject`.
    #[serde(default)]
    decision: String,
    #[serde(default)]
    method: String,
    #[serde(default)]
    note: String,
    #[serde(default)]
    reason: String,
}

async fn decide(
    State(state): State<AppState>,
    PageSession(session, lang): PageSession,
    Path(order_id): Path<String>,
    CsrfForm(post): CsrfForm<DecisionPost>,
) -> Response {
    let result = async {
        require(session.user.roles, Action::IdentityChecks)?;
        let now = state.clock.now();
        if post.decision == "reject" {
            let (check, reason) = Check::parse_rejection(&post.method, &post.note, &post.reason)?;
            certificates::reject(&state.db, now, &session.user, &order_id, &check, &reason)
                .await
                .map(|()| "checks.rejected")
        } else {
            let check = Check::parse(&post.method, &post.note)?;
            certificates::approve(
                &state.db,
                now,
                Some(&state.ca),
                &session.user,
                &order_id,
                &check,
            )
            .await
            .map(|_| "checks.approved")
        }
    }
    .await;
    match result {
        Ok(msg) => Redirect::to(&format!("/identity-checks?msg={msg}")).into_response(),
        Err(f) if shown_on_form(&f) => {
            // The queue again, the entry as typed, each message next to its field.
            let failed = merge([
                form_errors(&f, lang),
                context! { failed => order_id, typed => post },
            ]);
            checks_view(&state, &session, lang, f.status(), None, failed).await
        }
        Err(f) => error_page(&state, Some(&session), lang, &f),
    }
}

async fn billing_page(
    State(state): State<AppState>,
    PageSession(session, lang): PageSession,
) -> Response {
    let result = async {
        require(session.user.roles, Action::ManageUsers)?;
        certificates::ledger(&state.db, &session.user.org_id).await
    }
    .await;
    match result {
        Ok(charges) => render(
            &state,
            StatusCode::OK,
            "billing.html",
            lang,
            context! { charges => charges, ..frame(&session, lang, None) },
        ),
        Err(f) => error_page(&state, Some(&session), lang, &f),
    }
}
