//! The pages' forms refuse a missing or wrong CSRF token before anything changes: a logged-in
//! form (`CsrfForm`) and an upload (`CsrfMultipart`, whose first field is the token) answer the
//! error page with 403; a pre-login form (`PreLoginForm`) sends the visitor back to a fresh form
//! that says it expired. The same forms with the right token go through.

use crate::serve::Backend;
use crate::service::{Api, Service};

const FORM: &str = "application/x-www-form-urlencoded";

fn form(api: &mut Api, path: &str, body: &str) -> crate::service::Answer {
    api.raw("POST", path, Some(body.as_bytes()), Some(FORM))
}

fn encoded(fields: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish()
}

fn display_name(api: &mut Api) -> String {
    api.get("/api/me").body["user"]["display_name"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn a_logged_in_form_without_its_token_changes_nothing() {
    let Some(service) = Service::start(Backend::Sqlite) else {
        return;
    };
    let mut admin = service.admin();
    let before = display_name(&mut admin);
    let csrf = admin.csrf.clone().expect("token");
    for body in [
        "display_name=Changed&language=ja".to_owned(),
        "csrf=&display_name=Changed&language=ja".to_owned(),
        format!("csrf={}0&display_name=Changed&language=ja", &csrf[1..]),
    ] {
        let a = form(&mut admin, "/profile", &body);
        assert_eq!(a.status, 403, "{body}: {}", a.text);
        assert!(a.text.contains("The form has expired") || a.text.contains("フォームの有効期限"));
        assert_eq!(display_name(&mut admin), before, "{body}");
    }
    // The same form with the token goes through.
    let a = form(
        &mut admin,
        "/profile",
        &format!("csrf={csrf}&display_name=Changed&language=ja"),
    );
    assert_eq!(a.status, 303, "{}", a.text);
    assert_eq!(display_name(&mut admin), "Changed");
}

#[test]
fn an_upload_whose_first_field_is_not_the_token_is_refused() {
    let Some(service) = Service::start(Backend::Sqlite) else {
        return;
    };
    let mut admin = service.admin();
    let csrf = admin.csrf.clone().expect("token");
    let boundary = format!("multipart/form-data; boundary={}", crate::seals::BOUNDARY);
    let pdf = crate::support::minimal_pdf("forms");
    // The token after the file, a wrong token, and none at all.
    for fields in [
        vec![("level", "B-B"), ("csrf", csrf.as_str())],
        vec![("csrf", "0000")],
        vec![],
    ] {
        let body = crate::seals::multipart(&fields, Some(("a.pdf", &pdf)));
        let a = admin.raw("POST", "/sign", Some(&body), Some(&boundary));
        assert_eq!(a.status, 403, "{fields:?}: {}", a.text);
    }
    // The seal upload too: nothing is stored.
    let body = crate::seals::multipart(&[("csrf", "0000")], Some(("印.png", &[0u8; 8])));
    let a = admin.raw("POST", "/seals/drafts", Some(&body), Some(&boundary));
    assert_eq!(a.status, 403, "{}", a.text);
}

#[test]
fn a_pre_login_form_with_a_stale_token_starts_again_with_a_message() {
    let Some(service) = Service::start(Backend::Sqlite) else {
        return;
    };
    let email = crate::service::ADMIN_EMAIL;
    let password = service.printed_password();
    let mut anon = Api::new(&service.app.base);
    // No pre-login cookie at all, then a cookie the form's token does not match.
    for cookie in [None, Some(format!("inkan_form={}", "a".repeat(64)))] {
        anon.cookie = cookie;
        let a = form(
            &mut anon,
            "/login",
            &encoded(&[
                ("csrf", &"b".repeat(64)),
                ("email", email),
                ("password", &password),
            ]),
        );
        assert_eq!(a.status, 303, "{}", a.text);
        assert_eq!(a.header("location"), Some("/login?msg=form.expired"));
        assert!(
            !a.headers
                .iter()
                .any(|(n, v)| n == "set-cookie" && v.starts_with("inkan_session=")),
            "a stale form logs nobody in"
        );
    }
    // The fresh form says why, in the visitor's language.
    anon.cookie = None;
    let page = anon.get("/login?msg=form.expired");
    assert_eq!(page.status, 200);
    assert!(
        page.text.contains("フォームの有効期限が切れました"),
        "{}",
        page.text
    );
    let reset = form(
        &mut anon,
        "/password/reset",
        &encoded(&[("csrf", &"c".repeat(64)), ("email", email)]),
    );
    assert_eq!(
        reset.header("location"),
        Some("/password/reset?msg=form.expired")
    );
    assert!(anon
        .get("/password/reset?msg=form.expired")
        .text
        .contains("フォームの有効期限が切れました"));
    // With the page's own cookie and token the login goes through.
    let mut browser = Api::new(&service.app.base);
    let page = browser.get("/login");
    let token = page
        .text
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the form's token")
        .to_owned();
    browser.cookie = Some(format!("inkan_form={token}"));
    let a = form(
        &mut browser,
        "/login",
        &encoded(&[("csrf", &token), ("email", email), ("password", &password)]),
    );
    assert_eq!(a.status, 303, "{}", a.text);
    assert_eq!(a.header("location"), Some("/password"));
}

/// The language switch sends the browser back only to a path on this site: another origin
/// however spelled (`//host`, a backslash, a tab that browsers drop) goes home instead, and a
/// control character that could split the header is refused with 400, never a 500.
#[test]
fn the_language_switch_never_leaves_the_site() {
    let Some(service) = Service::start(Backend::Sqlite) else {
        return;
    };
    let mut anon = Api::new(&service.app.base);
    for (back, to) in [
        ("/contracts?x=1", "/contracts?x=1"),
        ("//evil.example/", "/"),
        ("/%5Cevil.example", "/"),
        ("https://evil.example/", "/"),
        ("%2F%2Fevil.example", "/"),
    ] {
        let a = anon.get(&format!("/language/en?back={back}"));
        assert_eq!(a.status, 303, "{back}: {}", a.text);
        assert_eq!(a.header("location"), Some(to), "{back}");
    }
    for back in ["/%09/evil.example", "/%0d%0aSet-Cookie:x=1", "/a%00b"] {
        let a = anon.get(&format!("/language/en?back={back}"));
        assert_eq!(a.status, 400, "{back}: {}", a.text);
        assert!(a.header("location").is_none(), "{back}");
    }
}

/// Every answer carries the security headers — pages, API answers, the CA's files, errors —
/// and an answer to a logged-in user is not stored by any cache.
#[test]
fn every_answer_carries_the_security_headers() {
    let Some(service) = Service::start(Backend::Sqlite) else {
        return;
    };
    let mut admin = service.admin();
    let mut anon = Api::new(&service.app.base);
    let answers = [
        ("/login", anon.get("/login")),
        ("/healthz", anon.get("/healthz")),
        ("/ca.crt", anon.get("/ca.crt")),
        ("/nonesuch", anon.get("/nonesuch")),
        ("/api/me anonymous", anon.get("/api/me")),
        ("/api/me", admin.get("/api/me")),
        ("/ (logged in)", admin.get("/")),
    ];
    for (what, a) in &answers {
        let policy = a.header("content-security-policy").unwrap_or_default();
        assert!(
            policy.contains("frame-ancestors 'none'"),
            "{what}: {policy}"
        );
        assert!(!policy.contains("unsafe"), "{what}: {policy}");
        assert_eq!(a.header("x-frame-options"), Some("DENY"), "{what}");
        assert_eq!(
            a.header("x-content-type-options"),
            Some("nosniff"),
            "{what}"
        );
        assert_eq!(a.header("referrer-policy"), Some("same-origin"), "{what}");
        // The tests' service names itself https://sign.example.jp (its mails' links).
        assert_eq!(
            a.header("strict-transport-security"),
            Some("max-age=31536000"),
            "{what}"
        );
    }
    for (what, a) in &answers[5..] {
        assert_eq!(a.header("cache-control"), Some("no-store"), "{what}");
    }
}

/// Twenty failed logins from one forwarded address lock that address, behind a trusted proxy
/// (`trusted_proxies`): other users behind the same proxy still log in. Without the setting,
/// the forwarding headers are ignored, so a client cannot pick its address with them (and
/// everyone behind one peer address shares its lock).
#[test]
fn failed_logins_lock_the_forwarded_address_only_behind_a_trusted_proxy() {
    for (trusted, other_user_locked) in [(true, false), (false, true)] {
        let env: &[(&str, &str)] = if trusted {
            &[("INKAN_TRUSTED_PROXIES", "127.0.0.1/32, ::1")]
        } else {
            &[]
        };
        let Some(service) = Service::start_with(Backend::Sqlite, env) else {
            return;
        };
        let password = service.printed_password();
        let from = |address: &str| {
            let mut api = Api::new(&service.app.base);
            api.headers
                .push(("X-Forwarded-For".to_owned(), address.to_owned()));
            api
        };
        let mut attacker = from("198.51.100.1");
        for n in 0..20 {
            let a = attacker.login(&format!("nobody{n}@example.jp"), "Wrong2026pass");
            // The twentieth failure locks the address.
            let locked = if n == 19 { 429 } else { 401 };
            assert_eq!(a.status, locked, "{n}: {:?}", a.body);
        }
        let a = attacker.login(crate::service::ADMIN_EMAIL, &password);
        assert_eq!(a.status, 429, "trusted {trusted}: {:?}", a.body);
        let a = from("198.51.100.2").login(crate::service::ADMIN_EMAIL, &password);
        if other_user_locked {
            assert_eq!(a.status, 429, "{:?}", a.body);
        } else {
            assert_eq!(a.status, 200, "{:?}", a.body);
        }
    }
}

/// A request that is malformed says which part was: a bad query string is not "invalid JSON",
/// nor is a broken upload.
#[test]
fn a_malformed_query_or_upload_is_named_as_such() {
    let Some(service) = Service::start(Backend::Sqlite) else {
        return;
    };
    let mut admin = service.admin();
    let a = admin.get("/api/audit?limit=many");
    assert_eq!(a.status, 400, "{}", a.text);
    assert_eq!(a.body["error"], "query", "{}", a.text);
    assert!(
        a.body["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("The query string is not valid") && !m.contains("JSON")),
        "{}",
        a.text
    );
    // A multipart body cut short (no closing boundary).
    let boundary = format!("multipart/form-data; boundary={}", crate::seals::BOUNDARY);
    let broken = format!(
        "--{}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\n\r\nabc",
        crate::seals::BOUNDARY
    );
    let (_, mut signer) = service.user(&mut admin, "seal@example.jp", &["signer"], "Signer2026x");
    let a = signer.raw(
        "POST",
        "/api/me/seal-drafts",
        Some(broken.as_bytes()),
        Some(&boundary),
    );
    assert_eq!(a.status, 400, "{}", a.text);
    assert_eq!(a.body["error"], "upload", "{}", a.text);
}

/// A form over its limit is answered 413 with the error page, in the reader's language, naming
/// the limit; an unreadable form says the form could not be read, never "invalid JSON".
#[test]
fn a_form_over_its_limit_names_the_limit() {
    let Some(service) = Service::start(Backend::Sqlite) else {
        return;
    };
    let mut admin = service.admin();
    let csrf = admin.csrf.clone().expect("token");
    let before = display_name(&mut admin);
    // A logged-in form (64 KB): the administrator reads Japanese.
    let huge = format!(
        "csrf={csrf}&language=ja&display_name={}",
        "x".repeat(100_000)
    );
    let a = form(&mut admin, "/profile", &huge);
    assert_eq!(a.status, 413, "{}", a.text);
    assert!(
        a.text.contains("リクエストが大きすぎます（最大 64 KB）")
            && a.text.contains("上限より小さくして"),
        "the limit, and what to do: {}",
        a.text
    );
    assert_eq!(display_name(&mut admin), before, "nothing changed");
    // A pre-login form, for a visitor who chose English.
    let mut anon = Api::new(&service.app.base);
    anon.cookie = Some("inkan_lang=en".to_owned());
    let a = form(
        &mut anon,
        "/login",
        &format!("email={}", "y".repeat(100_000)),
    );
    assert_eq!(a.status, 413, "{}", a.text);
    assert!(
        a.text
            .contains("The request body is too large (at most 64 KB)"),
        "{}",
        a.text
    );
    // An upload over the /sign page's 50 MB.
    let (_, mut signer) = service.user(&mut admin, "big@example.jp", &["signer"], "Signer2026x");
    let token = signer.csrf.clone().expect("token");
    let boundary = format!("multipart/form-data; boundary={}", crate::seals::BOUNDARY);
    let pdf = vec![b'%'; 51 * 1024 * 1024];
    let body = crate::seals::multipart(&[("csrf", token.as_str())], Some(("big.pdf", &pdf)));
    let a = signer.raw("POST", "/sign", Some(&body), Some(&boundary));
    assert_eq!(a.status, 413, "{}", a.text);
    assert!(a.text.contains("（最大 50 MB）"), "{}", a.text);
    // A form that is not a form.
    let a = admin.raw(
        "POST",
        "/profile",
        Some(b"{\"display_name\": \"x\"}"),
        Some("application/json"),
    );
    assert_eq!(a.status, 400, "{}", a.text);
    assert!(
        a.text.contains("送信されたフォーム") && !a.text.contains("JSON の形式"),
        "{}",
        a.text
    );
}
