//! The web UI's templates (minijinja, compiled into the binary from `templates/`). Pages are
//! rendered on the server; the few that need scripts (the signing page) load them as files from
//! `/static/` (`asset("…")` gives a file's versioned URL), never inline, so the
//! Content-Security-Policy forbids inline code. Every text comes from [`domain::i18n`] through the
//! `t` function the templates call.

use axum::http::StatusCode;
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
        "cert_list.html",
        include_str!("../templates/cert_list.html"),
    ),
    (
        "cert_import.html",
        include_str!("../templates/cert_import.html"),
    ),
    (
        "identity_checks.html",
        include_str!("../templates/identity_checks.html"),
    ),
    ("billing.html", include_str!("../templates/billing.html")),
    ("sign.html", include_str!("../templates/sign.html")),
    ("settings.html", include_str!("../templates/settings.html")),
    ("pin.html", include_str!("../templates/pin.html")),
    ("seals.html", include_str!("../templates/seals.html")),
    (
        "contracts.html",
        include_str!("../templates/contracts.html"),
    ),
    ("contract.html", include_str!("../templates/contract.html")),
    (
        "contract_prepare.html",
        include_str!("../templates/contract_prepare.html"),
    ),
    ("party.html", include_str!("../templates/party.html")),
    ("trust.html", include_str!("../templates/trust.html")),
];

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
        // A template names its files itself (`asset("app.css")`), so the URL needs no escaping.
        env.add_function("asset", |path: String| {
            Value::from_safe_string(crate::assets::url(&path))
        });
        Ok(Self { env })
    }

    /// The page's HTML, or what went wrong rendering it (tests: `render` only logs that).
    #[cfg(test)]
    pub fn html(&self, template: &str, lang: Lang, ctx: Value) -> Result<String, minijinja::Error> {
        self.env
            .get_template(template)?
            .render(in_language(lang, ctx))
    }

    /// Renders `template` with `ctx`, the language and its `t` function.
    pub fn render(&self, status: StatusCode, template: &str, lang: Lang, ctx: Value) -> Response {
        let full = in_language(lang, ctx);
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

/// `ctx` with what every page has in its language: `lang`, `t("key")` for a text and
/// `yen(8800)` for an amount of money (8,800円 / ¥8,800).
fn in_language(lang: Lang, ctx: Value) -> Value {
    let t = Value::from_function(move |key: String| i18n::t(lang, &key).to_owned());
    let yen = Value::from_function(move |amount: i64| i18n::yen(lang, amount));
    minijinja::context! { t => t, yen => yen, lang => lang.as_str(), ..ctx }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_compiles() {
        Pages::new().expect("templates");
    }

    /// The certificate pages with what they are given: the renewal's confirmation and a
    /// certificate read as labelled fields from its application.
    #[test]
    fn the_certificate_pages_render_what_they_are_given() {
        let pages = Pages::new().expect("templates");
        let applicant = minijinja::context! {
            family_name => "山田", given_name => "太郎", family_name_romaji => "Yamada",
            given_name_romaji => "Taro", organisation => "株式会社印鑑", department => "法務部",
            postal_code => "100-0001", prefecture => "東京都", city => "千代田区",
            street => "千代田1-1", building => "", email => "taro@example.jp", country => "JP",
        };
        let me = minijinja::context! { display_name => "山田", email => "taro@example.jp" };
        let confirm = pages
            .html(
                "cert_confirm.html",
                Lang::Ja,
                minijinja::context! {
                    renewal => "0A1B", rows => vec![("組織名", "株式会社印鑑")],
                    common_name => "Yamada Taro", key => "k", for_user => (), back => "/profile",
                    price => 8000, tax => 800, total => 8800, csrf => "c", me => me.clone(),
                    menu => Vec::<(String, String)>::new(),
                },
            )
            .expect("the renewal's confirmation");
        assert!(
            confirm.contains(">8,800円<") && confirm.contains("value=\"0A1B\""),
            "{confirm}"
        );
        let profile = pages
            .html(
                "cert_list.html",
                Lang::En,
                minijinja::context! { cert => minijinja::context! {
                    certificates => vec![minijinja::context! {
                        serial => "0A1B", order_id => "INK1", subject => "CN=Yamada Taro",
                        not_after => 1_800_000_000, status => "active",
                    }],
                    applications => vec![minijinja::context! {
                        order_id => "INK1", applicant => applicant,
                    }],
                }},
            )
            .expect("a certificate");
        for shown in [
            "山田 太郎 (Yamada Taro)",
            "〒100-0001 東京都千代田区千代田1-1",
            "法務部",
            "Valid",
        ] {
            assert!(profile.contains(shown), "{shown}: {profile}");
        }
    }

    /// The trust page in both languages: the fingerprints, both downloads, and every step for
    /// Acrobat, Windows and macOS with the names their screens use.
    #[test]
    fn the_trust_page_shows_the_fingerprints_downloads_and_every_step() {
        let pages = Pages::new().expect("templates");
        let ctx = minijinja::context! {
            root => minijinja::context! {
                subject => "CN=Example Root CA,O=Example KK", not_before => 1_700_000_000,
                not_after => 2_000_000_000, sha256 => "AB:CD:EF", sha1 => "01:23:45",
            },
            der_url => "/root.crt", pem_url => "/root.pem",
        };
        for lang in [Lang::Ja, Lang::En] {
            let html = pages
                .html("trust.html", lang, ctx.clone())
                .expect("the trust page");
            for shown in [
                "CN=Example Root CA,O=Example KK",
                ">AB:CD:EF<",
                ">01:23:45<",
                "&#x2f;root.crt\" download=\"inkan-root.crt\"",
                "&#x2f;root.pem\" download=\"inkan-root.pem\"",
                "certmgr.msc",
            ] {
                assert!(html.contains(shown), "{lang}: {shown}");
            }
            // The two downloads; six steps for Acrobat, four each for Windows and macOS.
            assert_eq!(html.matches("<li>").count(), 2 + 6 + 4 + 4, "{lang}");
            assert!(!html.contains("trust."), "{lang}: an untranslated key");
        }
        let en = pages.html("trust.html", Lang::En, ctx).expect("English");
        for name in [
            "Identities &amp; Trusted Certificates",
            "Use this certificate as a trusted root",
            "Certified documents",
            "Trusted Root Certification Authorities",
            "Keychain Access",
            "Always Trust",
        ] {
            assert!(en.contains(name), "{name}");
        }
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

    /// What the Content-Security-Policy would refuse, by template: an inline script (a `<script>`
    /// with a body, or without `src`), a `<style>` element, a `style=` attribute, an event
    /// handler attribute (`onclick=`…) or a `javascript:` URL.
    fn inline_code(source: &str) -> Vec<String> {
        let lower = source.to_lowercase();
        let mut found = Vec::new();
        let mut rest = lower.as_str();
        while let Some(start) = rest.find('<') {
            let after = &rest[start + 1..];
            let end = after.find('>').unwrap_or(after.len());
            let tag = &after[..end];
            let name: String = tag
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric())
                .collect();
            if name == "style" {
                found.push("<style>".to_owned());
            }
            if name == "script" {
                let body = after[end..].trim_start_matches('>');
                let closed = body.trim_start().starts_with("</script");
                if !tag.contains(" src=") || !closed {
                    found.push(format!("<{tag}> with inline code"));
                }
            }
            // Attributes: a name preceded by whitespace and followed by `=`.
            for (at, _) in tag.match_indices('=') {
                let before = tag[..at].trim_end();
                let attribute: String = before
                    .chars()
                    .rev()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect();
                let preceded =
                    before[..before.len() - attribute.len()].ends_with(|c: char| c.is_whitespace());
                if preceded && (attribute == "style" || attribute.starts_with("on")) {
                    found.push(format!("{attribute}= in <{name}>"));
                }
            }
            if tag.contains("javascript:") {
                found.push(format!("javascript: URL in <{name}>"));
            }
            rest = &after[end..];
        }
        found
    }

    #[test]
    fn no_template_has_inline_scripts_styles_or_event_handlers() {
        let mut found = Vec::new();
        for (name, source) in TEMPLATES {
            for problem in inline_code(source) {
                found.push(format!("{name}: {problem}"));
            }
        }
        assert!(found.is_empty(), "inline code: {found:?}");
    }

    #[test]
    fn the_inline_code_check_finds_what_it_looks_for() {
        assert!(inline_code(r#"<script type="module" src="/static/a.mjs"></script>"#).is_empty());
        assert!(inline_code(r#"<p class="x" data-on="1">"#).is_empty());
        assert_eq!(inline_code("<script>alert(1)</script>").len(), 1);
        assert_eq!(
            inline_code(r#"<script src="/a.js">alert(1)</script>"#).len(),
            1
        );
        assert_eq!(inline_code(r#"<div style="color:red">"#).len(), 1);
        assert_eq!(inline_code(r#"<button onclick="go()">"#).len(), 1);
        assert_eq!(inline_code(r#"<IMG SRC=x ONERROR="go()">"#).len(), 1);
        assert_eq!(inline_code("<style>p{}</style>").len(), 1);
        assert_eq!(inline_code(r#"<a href="javascript:go()">"#).len(), 1);
    }

    /// Every `asset("…")` a template names is a file of `static/`.
    #[test]
    fn every_asset_the_templates_name_exists() {
        let mut missing = Vec::new();
        for (name, source) in TEMPLATES {
            for quote in ['"', '\''] {
                let call = format!("asset({quote}");
                for (at, _) in source.match_indices(&call) {
                    let path = source[at + call.len()..]
                        .split(quote)
                        .next()
                        .unwrap_or_default();
                    if crate::assets::find(path).is_none() {
                        missing.push(format!("{name}: {path}"));
                    }
                }
            }
        }
        assert!(missing.is_empty(), "missing static files: {missing:?}");
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
