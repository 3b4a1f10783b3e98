//! The web UI's templates (minijinja, compiled into the binary from `templates/`) and the
//! stylesheet. Pages are rendered on the server, without JavaScript; every text comes from
//! [`domain::i18n`] through the `t` function the templates call.

use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use minijinja::{Environment, Value};

use domain::i18n::{self, Lang};

/// Every template, by name.
const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("../templates/base.html")),
    ("form.html", include_str!("../templates/form.html")),
    ("login.html", include_str!("../templates/login.html")),
    ("password.html", include_str!("../templates/password.html")),
    (
        "reset_request.html",
        include_str!("../templates/reset_request.html"),
    ),
    (
        "reset_set.html",
        include_str!("../templates/reset_set.html"),
    ),
    ("home.html", include_str!("../templates/home.html")),
    ("profile.html", include_str!("../templates/profile.html")),
    ("users.html", include_str!("../templates/users.html")),
    ("user_new.html", include_str!("../templates/user_new.html")),
    (
        "user_detail.html",
        include_str!("../templates/user_detail.html"),
    ),
    (
        "organisations.html",
        include_str!("../templates/organisations.html"),
    ),
    ("audit.html", include_str!("../templates/audit.html")),
    ("error.html", include_str!("../templates/error.html")),
    (
        "cert_apply.html",
        include_str!("../templates/cert_apply.html"),
    ),
    (
        "cert_form.html",
        include_str!("../templates/cert_form.html"),
    ),
    (
        "cert_confirm.html",
        include_str!("../templates/cert_confirm.html"),
    ),
    (
        "identity_checks.html",
        include_str!("../templates/identity_checks.html"),
    ),
    ("billing.html", include_str!("../templates/billing.html")),
    ("sign.html", include_str!("../templates/sign.html")),
    ("pin.html", include_str!("../templates/pin.html")),
    ("seals.html", include_str!("../templates/seals.html")),
    (
        "contracts.html",
        include_str!("../templates/contracts.html"),
    ),
    ("contract.html", include_str!("../templates/contract.html")),
    ("party.html", include_str!("../templates/party.html")),
];

pub const STYLESHEET: &str = include_str!("../templates/app.css");

#[derive(Debug)]
pub struct Pages {
    env: Environment<'static>,
}

impl Pages {
    pub fn new() -> anyhow::Result<Self> {
        let mut env = Environment::new();
        for (name, source) in TEMPLATES {
            env.add_template(name, source)
                .map_err(|e| anyhow::anyhow!("template {name}: {e:#}"))?;
        }
        env.add_filter("datetime", domain::clock::jst);
        Ok(Self { env })
    }

    /// Renders `template` with `ctx`, the language and its `t` function.
    pub fn render(&self, status: StatusCode, template: &str, lang: Lang, ctx: Value) -> Response {
        let t = Value::from_function(move |key: String| i18n::t(lang, &key).to_owned());
        let full = minijinja::context! { t => t, lang => lang.as_str(), ..ctx };
        match self
            .env
            .get_template(template)
            .and_then(|tmpl| tmpl.render(full))
        {
            Ok(html) => (status, Html(html)).into_response(),
            Err(e) => {
                tracing::error!(template, error = format!("{e:#}"), "rendering failed");
                (StatusCode::INTERNAL_SERVER_ERROR, "Internal server error").into_response()
            }
        }
    }
}

pub async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        STYLESHEET,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_compiles() {
        Pages::new().expect("templates");
    }

    /// A template file left out of [`TEMPLATES`] would only fail when a page renders it.
    #[test]
    fn every_template_file_is_registered() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
        for entry in std::fs::read_dir(dir).expect("templates dir") {
            let name = entry.expect("entry").file_name();
            let name = name.to_string_lossy();
            if name.ends_with(".html") {
                assert!(
                    TEMPLATES.iter().any(|(n, _)| *n == name),
                    "{name} is not in TEMPLATES"
                );
            }
        }
    }

    /// Every `t("key")` in the templates has both translations.
    #[test]
    fn every_text_key_in_the_templates_is_translated() {
        let mut missing = Vec::new();
        for (name, source) in TEMPLATES {
            // `t("key")`, not `select("…")`: the call must not end another name.
            for (at, _) in source.match_indices("t(\"") {
                if source[..at].ends_with(|c: char| c.is_alphanumeric() || c == '_') {
                    continue;
                }
                let key = source[at + 3..].split('"').next().unwrap_or_default();
                // `t("cert.status." ~ value)`: the prefix must have keys.
                let known = if key.ends_with('.') {
                    i18n::TEXTS.iter().any(|(k, _, _)| k.starts_with(key))
                } else {
                    i18n::known(key)
                };
                if !known {
                    missing.push(format!("{name}: {key}"));
                }
            }
        }
        assert!(missing.is_empty(), "untranslated: {missing:?}");
    }
}
