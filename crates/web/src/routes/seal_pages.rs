//! The seal images' screens: the 「印影・署名画像」 section of the profile and of a user's 詳細
//! page (an administrator acting for a signer: the forms carry `user`), and its forms: upload
//! (「選択する」), the preview of both pictures with the name, 「保存する」 and 「キャンセル」,
//! 「既定にする」, and 「削除」 after a confirmation. Without JavaScript: every step is a page.

use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use minijinja::{context, Value};
use serde::Deserialize;

use crate::app::AppState;
use crate::error::HttpStatus as _;
use crate::routes::extract::{CsrfForm, CsrfMultipart, PageSession};
use crate::routes::pages::{
    error_page, form_errors, merge, profile_with, shown_on_form, user_detail_with, UserPage,
};
use crate::routes::seals::{base_path, read_upload, DraftView, SealView, UPLOAD_LIMIT};
use domain::accounts::{Role, User};
use domain::acting::{Acting, Whom};
use domain::auth::Session;
use domain::error::Failure;
use domain::i18n::Lang;
use domain::seals::{self, SealName, MAX_SEALS};

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/seals/drafts",
            post(upload).layer(DefaultBodyLimit::max(UPLOAD_LIMIT)),
        )
        .route("/seals/drafts/{draft}/discard", post(discard))
        .route("/seals", post(save))
        .route("/seals/{seal}/default", post(make_default))
        .route("/seals/{seal}/delete", post(delete))
        .route("/static/default-seal.png", get(default_seal))
}

/// What the seal section shows besides the list: the draft being previewed (`?draft=`) or the
/// seal to confirm deleting (`?delete=`).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct SealPageQuery {
    pub draft: Option<String>,
    pub delete: Option<String>,
}

/// The seal section's context for `user`'s page: the profile, or (`as_admin`) their 詳細 page.
/// Nothing for users who hold no seals; a transaction agent's own profile says why.
pub(crate) async fn section(
    state: &AppState,
    user: &User,
    as_admin: bool,
    view: &SealPageQuery,
) -> Value {
    if seals::may_hold_seals(user).is_err() {
        return if !as_admin && user.roles.has(Role::TransactionAgent) {
            context! { agent => true }
        } else {
            Value::from(())
        };
    }
    let base = base_path(as_admin.then_some(user));
    let list: Vec<SealView> = seals::list(&state.db, user)
        .await
        .unwrap_or_default()
        .iter()
        .map(|s| SealView::new(s, &base))
        .collect();
    let draft = match view.draft.as_deref().filter(|d| !d.is_empty()) {
        Some(id) => Some(
            seals::draft(&state.db, state.clock.now(), user, id)
                .await
                .map(|d| DraftView::new(&d, &base)),
        ),
        None => None,
    };
    let deleting = view
        .delete
        .as_deref()
        .and_then(|id| list.iter().find(|s| s.id == id));
    let page = if as_admin {
        format!("/users/{}", user.id)
    } else {
        "/profile".to_owned()
    };
    context! {
        count => list.len(),
        max => MAX_SEALS,
        deleting => deleting,
        list => list,
        draft_missing => matches!(draft, Some(Err(_))),
        draft => draft.and_then(Result::ok),
        page => page,
        for_user => as_admin.then(|| user.id.clone()),
    }
}

/// Where to go after a seal action: the section on the profile or on the user's 詳細 page.
fn after(for_user: &str, msg: &str, query: &str) -> Redirect {
    let page = if for_user.is_empty() {
        "/profile".to_owned()
    } else {
        format!("/users/{for_user}")
    };
    let msg = if msg.is_empty() {
        String::new()
    } else {
        format!("msg={msg}")
    };
    let sep = if msg.is_empty() || query.is_empty() {
        ""
    } else {
        "&"
    };
    Redirect::to(&format!("{page}?{msg}{sep}{query}#seals"))
}

/// A failed seal action: the page again with the messages (keeping the draft in preview), or
/// the error page when the request itself was not allowed.
async fn failed(
    state: &AppState,
    session: &Session,
    lang: Lang,
    for_user: &str,
    view: SealPageQuery,
    f: Failure,
    extra: Value,
) -> Response {
    if !shown_on_form(&f) {
        return error_page(state, Some(session), lang, &f);
    }
    let errors = merge([form_errors(&f, lang), extra]);
    if for_user.is_empty() {
        profile_with(state, session, lang, f.status(), &view, None, errors).await
    } else {
        match Acting::resolve(&state.db, session.user.clone(), Whom::User(for_user)).await {
            Ok(acting) => {
                let page = UserPage::new(session, acting.user(), lang, f.status());
                user_detail_with(state, page, &view, None, errors).await
            }
            Err(f) => error_page(state, Some(session), lang, &f),
        }
    }
}

/// 「選択する」: the upload; on success the page previews the draft.
async fn upload(
    State(state): State<AppState>,
    PageSession(session, lang): PageSession,
    CsrfMultipart(multipart): CsrfMultipart,
) -> Response {
    let mut for_user = String::new();
    // The form puts its hidden fields before the file, so they are known even when the file is
    // refused for its size.
    let file = read_upload(Ok(multipart), |name, value| {
        if name == "user" {
            for_user = value;
        }
    })
    .await;
    let result = async {
        let acting = acting_for(&state, &session, &for_user).await?;
        crate::routes::seals::create_draft(&state, &acting, file?).await
    }
    .await;
    match result {
        Ok(draft) => after(&for_user, "", &format!("draft={}", draft.id)).into_response(),
        Err(f) => {
            let view = SealPageQuery::default();
            failed(&state, &session, lang, &for_user, view, f, Value::default()).await
        }
    }
}

#[derive(Debug, Deserialize)]
struct SealPost {
    /// Set when an administrator acts for a user of the organisation.
    #[serde(default)]
    user: String,
    #[serde(default)]
    draft: String,
    #[serde(default)]
    name: String,
}

/// 「保存する」: the draft becomes a seal with the name as edited.
async fn save(
    State(state): State<AppState>,
    PageSession(session, lang): PageSession,
    CsrfForm(post): CsrfForm<SealPost>,
) -> Response {
    let result = async {
        let acting = acting_for(&state, &session, &post.user).await?;
        let name = SealName::parse(&post.name).map_err(|e| Failure::Invalid(vec![e]))?;
        let now = state.clock.now();
        seals::save(&state.db, now, &acting, &post.draft, Some(&name)).await
    }
    .await;
    match result {
        Ok(_) => after(&post.user, "seals.saved", "").into_response(),
        Err(f) => {
            let view = SealPageQuery {
                draft: Some(post.draft.clone()),
                delete: None,
            };
            let extra = context! { seal_name => post.name };
            failed(&state, &session, lang, &post.user, view, f, extra).await
        }
    }
}

/// 「キャンセル」: the draft is discarded.
async fn discard(
    State(state): State<AppState>,
    PageSession(session, lang): PageSession,
    Path(draft): Path<String>,
    CsrfForm(post): CsrfForm<SealPost>,
) -> Response {
    let result = async {
        let acting = acting_for(&state, &session, &post.user).await?;
        seals::discard_draft(&state.db, state.clock.now(), &acting, &draft).await
    }
    .await;
    match result {
        Ok(()) => after(&post.user, "seals.discarded", "").into_response(),
        // Already gone (expired, or discarded in another tab): nothing left to discard.
        Err(Failure::NotFound) => after(&post.user, "", "").into_response(),
        Err(f) => {
            let view = SealPageQuery::default();
            failed(
                &state,
                &session,
                lang,
                &post.user,
                view,
                f,
                Value::default(),
            )
            .await
        }
    }
}

/// What a seal's button does.
#[derive(Debug, Clone, Copy)]
enum SealAction {
    MakeDefault,
    Delete,
}

/// 「既定にする」
async fn make_default(
    State(state): State<AppState>,
    PageSession(session, lang): PageSession,
    Path(seal): Path<String>,
    CsrfForm(post): CsrfForm<SealPost>,
) -> Response {
    act_on_seal(state, lang, session, seal, post, SealAction::MakeDefault).await
}

/// 「削除する」 (confirmed on the page first: 「削除」 links to `?delete=ID`).
async fn delete(
    State(state): State<AppState>,
    PageSession(session, lang): PageSession,
    Path(seal): Path<String>,
    CsrfForm(post): CsrfForm<SealPost>,
) -> Response {
    act_on_seal(state, lang, session, seal, post, SealAction::Delete).await
}

async fn act_on_seal(
    state: AppState,
    lang: Lang,
    session: Session,
    seal: String,
    post: SealPost,
    action: SealAction,
) -> Response {
    let result = async {
        let acting = acting_for(&state, &session, &post.user).await?;
        let now = state.clock.now();
        match action {
            SealAction::MakeDefault => seals::set_default(&state.db, now, &acting, &seal)
                .await
                .map(|_| "seals.default_set"),
            SealAction::Delete => seals::delete(&state.db, now, &acting, &seal)
                .await
                .map(|()| "seals.deleted"),
        }
    }
    .await;
    match result {
        Ok(msg) => after(&post.user, msg, "").into_response(),
        Err(f) => {
            let view = SealPageQuery::default();
            failed(
                &state,
                &session,
                lang,
                &post.user,
                view,
                f,
                Value::default(),
            )
            .await
        }
    }
}

/// Whom a seal form acts for: the caller, or the user its `user` field names.
async fn acting_for(state: &AppState, session: &Session, user: &str) -> Result<Acting, Failure> {
    let whom = Whom::from_optional(Some(user));
    Acting::resolve(&state.db, session.user.clone(), whom).await
}

/// Inkan's 電子署名 seal, shown where a signer has registered none.
async fn default_seal() -> Response {
    (
        [
            (header::CONTENT_TYPE, "image/png"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        seal::default_seal(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_return_to_the_section_they_came_from() {
        let location = |r: Redirect| {
            r.into_response().headers()[header::LOCATION]
                .to_str()
                .map(str::to_owned)
                .unwrap_or_default()
        };
        assert_eq!(
            location(after("", "seals.saved", "")),
            "/profile?msg=seals.saved#seals"
        );
        assert_eq!(
            location(after("u1", "", "draft=d1")),
            "/users/u1?draft=d1#seals"
        );
        assert_eq!(location(after("", "", "")), "/profile?#seals");
    }
}
