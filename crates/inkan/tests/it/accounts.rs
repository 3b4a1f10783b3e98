//! Accounts through the JSON API of the real server, on SQLite and PostgreSQL, with the account
//! emails delivered to a real SMTP server on loopback: the forced first password change, user
//! creation and its bad inputs, role changes and deactivation, the login throttle and lock,
//! password reset, session cookies, CSRF and expiry (the clock moved through
//! `INKAN_TEST_CLOCK_FILE`, never by sleeping), and two server processes on one PostgreSQL.

use serde_json::{json, Value};

use crate::serve::{Backend, TestApp, TestDb};
use crate::service::{labelled, set_clock, Api, Service, ADMIN_EMAIL};

fn users_count(service: &Service) -> i64 {
    service.app.db.count("SELECT COUNT(*) FROM users")
}

fn audit_actions(service: &Service) -> Vec<String> {
    service.app.db.with_conn(|c| {
        Box::pin(async move {
            use sqlx::Row;
            let rows = sqlx::query("SELECT action FROM audit_log ORDER BY seq")
                .fetch_all(c)
                .await?;
            rows.iter().map(|r| r.try_get::<String, _>(0)).collect()
        })
    })
}

fn first_login_is_forced_and_the_temporary_password_stops_working(backend: Backend) {
    let Some(service) = Service::start(backend) else {
        return;
    };
    let temporary = service.printed_password();
    assert_eq!(service.mailed_password(ADMIN_EMAIL), temporary);
    let mut api = service.api();
    let a = api.login(ADMIN_EMAIL, &temporary);
    assert_eq!(a.status, 200, "{:?}", a.body);
    assert_eq!(a.body["user"]["must_change_password"], true);
    assert_eq!(a.body["user"]["roles"], json!(["administrator"]));
    // Until the password is changed, only /api/me, the change itself and logout answer.
    let a = api.get("/api/users");
    assert_eq!((a.status, a.code()), (403, "password_change_required"));
    assert_eq!(api.get("/api/me").status, 200);
    for (new, confirmation, field, code) in [
        ("short1", "short1", "new_password", "password_weak"),
        (
            "lettersonly",
            "lettersonly",
            "new_password",
            "password_weak",
        ),
        ("1234567890", "1234567890", "new_password", "password_weak"),
        (
            "Kanri2026pass",
            "Kanri2026pasx",
            "new_password_confirmation",
            "password_mismatch",
        ),
        (
            temporary.as_str(),
            temporary.as_str(),
            "new_password",
            "password_same",
        ),
    ] {
        let a = api.post(
            "/api/me/password",
            json!({ "current_password": temporary, "new_password": new, "new_password_confirmation": confirmation }),
        );
        assert_eq!(
            (a.status, a.field(field)),
            (400, code),
            "{new}: {:?}",
            a.body
        );
    }
    let a = api.post(
        "/api/me/password",
        json!({ "current_password": "wrong-1234", "new_password": "Kanri2026pass", "new_password_confirmation": "Kanri2026pass" }),
    );
    assert_eq!(
        (a.status, a.field("current_password")),
        (400, "password_wrong")
    );
    let a = api.post(
        "/api/me/password",
        json!({ "current_password": temporary, "new_password": "Kanri2026pass", "new_password_confirmation": "Kanri2026pass" }),
    );
    assert_eq!(a.status, 204, "{:?}", a.body);
    assert_eq!(api.get("/api/users").status, 200);
    // The temporary password no longer works; the new one does.
    assert_eq!(service.api().login(ADMIN_EMAIL, &temporary).status, 401);
    assert_eq!(
        service.api().login(ADMIN_EMAIL, "Kanri2026pass").status,
        200
    );
    let actions = audit_actions(&service);
    for expected in [
        "login",
        "password.change_failed",
        "password.changed",
        "login.failed",
    ] {
        assert!(
            actions.iter().any(|a| a == expected),
            "{expected} in {actions:?}"
        );
    }
}

#[test]
fn first_login_is_forced_and_the_temporary_password_stops_working_on_sqlite() {
    first_login_is_forced_and_the_temporary_password_stops_working(Backend::Sqlite);
}

#[test]
fn first_login_is_forced_and_the_temporary_password_stops_working_on_postgres() {
    first_login_is_forced_and_the_temporary_password_stops_working(Backend::Postgres);
}

fn administrators_create_change_and_deactivate_users(backend: Backend) {
    let Some(service) = Service::start(backend) else {
        return;
    };
    let mut admin = service.admin();
    let before = users_count(&service);

    // Bad input: every problem reported at once, nothing stored.
    let a = admin.post("/api/users", json!({}));
    assert_eq!((a.status, a.code()), (400, "validation"), "{:?}", a.body);
    for field in ["display_name", "email", "roles"] {
        assert_eq!(a.field(field), "required", "{field}: {:?}", a.body);
    }
    let cases: [(Value, &str, &str); 6] = [
        (
            json!({ "display_name": "A", "email": "not-an-address", "roles": ["signer"] }),
            "email",
            "email_no_at",
        ),
        (
            json!({ "display_name": "A", "email": "a@example.jp", "roles": ["administrator", "document_manager"] }),
            "roles",
            "roles_invalid",
        ),
        (
            json!({ "display_name": "A", "email": "a@example.jp", "roles": ["transaction_agent", "signer"] }),
            "roles",
            "roles_invalid",
        ),
        (
            json!({ "display_name": "A", "email": "a@example.jp", "roles": ["operator"] }),
            "roles",
            "roles_invalid",
        ),
        (
            json!({ "display_name": "A", "email": "a@example.jp", "roles": ["signer"], "password": "weakpass", "password_confirmation": "weakpass" }),
            "password",
            "password_weak",
        ),
        (
            json!({ "display_name": "A", "email": "a@example.jp", "roles": ["signer"], "password": "Strong123", "password_confirmation": "Strong124" }),
            "password_confirmation",
            "password_mismatch",
        ),
    ];
    for (body, field, code) in cases {
        let a = admin.post("/api/users", body.clone());
        assert_eq!(
            (a.status, a.field(field)),
            (400, code),
            "{body}: {:?}",
            a.body
        );
    }
    let a = admin.post(
        "/api/users",
        json!({ "display_name": "x".repeat(101), "email": "a@example.jp", "roles": ["signer"] }),
    );
    assert_eq!(a.field("display_name"), "name_invalid");
    let a = admin.raw(
        "POST",
        "/api/users",
        Some(b"{\"display_name\": "),
        Some("application/json"),
    );
    assert_eq!((a.status, a.code()), (400, "json"), "{:?}", a.body);
    let a = admin.raw(
        "POST",
        "/api/users",
        Some(b"{\"roles\": \"signer\"}"),
        Some("application/json"),
    );
    assert_eq!((a.status, a.code()), (400, "json"), "{:?}", a.body);
    let a = admin.raw(
        "POST",
        "/api/users",
        Some(b"display_name=x"),
        Some("application/x-www-form-urlencoded"),
    );
    assert_eq!(
        (a.status, a.code()),
        (400, "json_content_type"),
        "{:?}",
        a.body
    );
    let huge = format!("{{\"display_name\": \"{}\"}}", "x".repeat(200_000));
    let a = admin.raw(
        "POST",
        "/api/users",
        Some(huge.as_bytes()),
        Some("application/json"),
    );
    assert_eq!(
        (a.status, a.code()),
        (413, "body_too_large"),
        "{:?}",
        a.body
    );
    assert_eq!(
        a.body["message"], "The request body is too large (at most 64 KB)",
        "the limit is named"
    );
    assert_eq!(users_count(&service), before, "nothing is half-created");

    // A user with a generated temporary password receives the account email.
    let a = admin.post(
        "/api/users",
        json!({ "display_name": "署名 花子", "email": "Hanako@Example.jp", "roles": ["signer", "document_manager"] }),
    );
    assert_eq!(a.status, 201, "{:?}", a.body);
    assert_eq!(a.body["email"], "hanako@example.jp");
    assert_eq!(a.body["roles"], json!(["document_manager", "signer"]));
    assert_eq!(a.body["must_change_password"], true);
    let hanako = a.body["id"].as_str().expect("id").to_owned();
    let mail = service.mail_to("hanako@example.jp", "アカウント発行のお知らせ");
    let body = mail["body"].as_str().expect("body");
    assert!(body.contains("署名 花子 様"), "{body}");
    assert_eq!(
        labelled(body, "ログイン URL:"),
        "https://sign.example.jp/login"
    );
    let temporary = labelled(body, "仮パスワード:");
    // A duplicate address, in any case, is refused.
    let a = admin.post(
        "/api/users",
        json!({ "display_name": "x", "email": "HANAKO@example.jp", "roles": ["signer"] }),
    );
    assert_eq!((a.status, a.code()), (409, "email_taken"), "{:?}", a.body);
    assert_eq!(users_count(&service), before + 1);

    // A chosen temporary password is mailed too, and must be changed as well.
    let a = admin.post(
        "/api/users",
        json!({ "display_name": "取引 一郎", "email": "ichiro@example.jp", "roles": ["transaction_agent"],
                "password": "Temp12345", "password_confirmation": "Temp12345" }),
    );
    assert_eq!(a.status, 201, "{:?}", a.body);
    assert_eq!(service.mailed_password("ichiro@example.jp"), "Temp12345");

    let mut user = service.api();
    user.first_login("hanako@example.jp", &temporary, "Hanako2026x");
    assert_eq!(
        user.get("/api/me").body["user"]["display_name"],
        "署名 花子"
    );
    // Not an administrator: no user management.
    assert_eq!(user.get("/api/users").status, 403);
    assert_eq!(
        user.get(&format!("/api/users/{hanako}")).status,
        200,
        "oneself"
    );

    // Role change, recorded.
    let a = admin.patch(
        &format!("/api/users/{hanako}"),
        json!({ "roles": ["signer"] }),
    );
    assert_eq!(
        (a.status, a.body["roles"].clone()),
        (200, json!(["signer"])),
        "{:?}",
        a.body
    );
    let a = admin.patch(
        &format!("/api/users/{hanako}"),
        json!({ "roles": ["signer", "transaction_agent"] }),
    );
    assert_eq!((a.status, a.field("roles")), (400, "roles_invalid"));
    assert_eq!(user.get("/api/me").body["user"]["roles"], json!(["signer"]));
    // An administrator cannot demote or deactivate themselves.
    let me = admin.get("/api/me").body["user"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let a = admin.patch(&format!("/api/users/{me}"), json!({ "roles": ["signer"] }));
    assert_eq!(
        (a.status, a.code()),
        (409, "cannot_change_self"),
        "{:?}",
        a.body
    );
    let a = admin.patch(&format!("/api/users/{me}"), json!({ "active": false }));
    assert_eq!(a.status, 409);
    // Deactivation ends the user's sessions and refuses logins; reactivation allows them again.
    let a = admin.patch(&format!("/api/users/{hanako}"), json!({ "active": false }));
    assert_eq!((a.status, a.body["active"].clone()), (200, json!(false)));
    assert_eq!(user.get("/api/me").status, 401);
    assert_eq!(
        service
            .api()
            .login("hanako@example.jp", "Hanako2026x")
            .status,
        401
    );
    admin.patch(&format!("/api/users/{hanako}"), json!({ "active": true }));
    assert_eq!(
        service
            .api()
            .login("hanako@example.jp", "Hanako2026x")
            .status,
        200
    );
    let list = admin.get("/api/users").body;
    assert_eq!(list.as_array().map(Vec::len), Some(3), "{list}");

    let actions = audit_actions(&service);
    for expected in [
        "user.created",
        "user.role_changed",
        "user.deactivated",
        "user.reactivated",
    ] {
        assert!(
            actions.iter().any(|a| a == expected),
            "{expected} in {actions:?}"
        );
    }
    let audit = admin.get("/api/audit");
    assert_eq!(audit.status, 200);
    assert_eq!(audit.body["chain_intact"], true);
    let change = audit.body["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .find(|e| e["action"] == "user.role_changed")
        .expect("a role change entry")
        .clone();
    assert_eq!(
        change["detail"]["from"],
        json!(["document_manager", "signer"])
    );
    assert_eq!(change["detail"]["to"], json!(["signer"]));
}

#[test]
fn administrators_create_change_and_deactivate_users_on_sqlite() {
    administrators_create_change_and_deactivate_users(Backend::Sqlite);
}

#[test]
fn administrators_create_change_and_deactivate_users_on_postgres() {
    administrators_create_change_and_deactivate_users(Backend::Postgres);
}

fn logins_are_throttled_and_locked(backend: Backend) {
    let clock_dir = tempfile::tempdir().expect("tempdir");
    let clock = clock_dir.path().join("offset");
    set_clock(&clock, 0);
    let clock_env = clock.display().to_string();
    let Some(service) = Service::start_with(backend, &[("INKAN_TEST_CLOCK_FILE", &clock_env)])
    else {
        return;
    };
    let mut admin = service.admin();
    let (_, _) = service.user(&mut admin, "taro@example.jp", &["signer"], "Taro2026pass");

    // Four failures: still 401; the fifth locks the account (429), and then even the right
    // password is refused until the lock passes.
    let mut api = service.api();
    for _ in 0..4 {
        assert_eq!(api.login("taro@example.jp", "wrong-pass-1").status, 401);
    }
    let a = api.login("taro@example.jp", "wrong-pass-1");
    assert_eq!((a.status, a.code()), (429, "locked"), "{:?}", a.body);
    assert_eq!(api.login("taro@example.jp", "Taro2026pass").status, 429);
    // An unknown address answers exactly alike: nothing tells whether an account exists.
    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(api.login("nobody@example.jp", "wrong-pass-1").status);
    }
    assert_eq!(statuses, [401, 401, 401, 401, 429, 429]);
    let actions = audit_actions(&service);
    assert!(
        actions.iter().filter(|a| *a == "login.locked").count() >= 2,
        "{actions:?}"
    );
    assert!(
        actions.iter().any(|a| a == "login.refused_locked"),
        "{actions:?}"
    );

    // 16 minutes later the lock has passed.
    set_clock(&clock, 16 * 60);
    assert_eq!(api.login("taro@example.jp", "Taro2026pass").status, 200);

    // Per address: 20 failures within 15 minutes, on any accounts, lock the address.
    let mut last = 0;
    for i in 0..20 {
        last = service
            .api()
            .login(&format!("guess{i}@example.jp"), "wrong-pass-1")
            .status;
    }
    assert_eq!(last, 429);
    assert_eq!(
        service.api().login(ADMIN_EMAIL, "Kanri2026pass").status,
        429
    );
    set_clock(&clock, 32 * 60);
    assert_eq!(
        service.api().login(ADMIN_EMAIL, "Kanri2026pass").status,
        200
    );

    // Sessions expire: idle for more than 2 hours, or 12 hours after login.
    let mut session = service.api();
    assert_eq!(session.login(ADMIN_EMAIL, "Kanri2026pass").status, 200);
    assert_eq!(session.get("/api/me").status, 200);
    set_clock(&clock, 32 * 60 + 2 * 3600 + 60);
    assert_eq!(session.get("/api/me").status, 401, "idle timeout");
    let mut session = service.api();
    assert_eq!(session.login(ADMIN_EMAIL, "Kanri2026pass").status, 200);
    let logged_in_at = 32 * 60 + 2 * 3600 + 60;
    for hour in 1..=11 {
        set_clock(&clock, logged_in_at + hour * 3600);
        assert_eq!(session.get("/api/me").status, 200, "hour {hour}");
    }
    set_clock(&clock, logged_in_at + 12 * 3600 + 60);
    assert_eq!(session.get("/api/me").status, 401, "12 hours after login");
}

#[test]
fn logins_are_throttled_and_locked_on_sqlite() {
    logins_are_throttled_and_locked(Backend::Sqlite);
}

#[test]
fn logins_are_throttled_and_locked_on_postgres() {
    logins_are_throttled_and_locked(Backend::Postgres);
}

fn passwords_are_reset_by_a_one_time_emailed_link(backend: Backend) {
    let clock_dir = tempfile::tempdir().expect("tempdir");
    let clock = clock_dir.path().join("offset");
    set_clock(&clock, 0);
    let clock_env = clock.display().to_string();
    let Some(service) = Service::start_with(backend, &[("INKAN_TEST_CLOCK_FILE", &clock_env)])
    else {
        return;
    };
    let mut admin = service.admin();
    let (_, mut old_session) =
        service.user(&mut admin, "jiro@example.jp", &["signer"], "Jiro2026pass");
    let mut anon = service.api();
    let unknown = anon.post(
        "/api/password-reset",
        json!({ "email": "nobody@example.jp" }),
    );
    let known = anon.post("/api/password-reset", json!({ "email": "JIRO@example.jp" }));
    assert_eq!(unknown.status, 202);
    assert_eq!(
        (known.status, &known.body),
        (unknown.status, &unknown.body),
        "same answer either way"
    );
    let a = anon.post("/api/password-reset", json!({ "email": "" }));
    assert_eq!((a.status, a.field("email")), (400, "required"));

    let mail = service.mail_to("jiro@example.jp", "パスワード再設定のご案内");
    let body = mail["body"].as_str().expect("body");
    let link = body
        .lines()
        .find(|l| l.contains("/password/reset/"))
        .unwrap_or_else(|| panic!("no link in {body}"))
        .trim()
        .to_owned();
    assert!(
        link.starts_with("https://sign.example.jp/password/reset/"),
        "{link}"
    );
    let token = link.rsplit('/').next().expect("token");

    let a = anon.post(
        &format!("/api/password-reset/{token}"),
        json!({ "new_password": "weak", "new_password_confirmation": "weak" }),
    );
    assert_eq!((a.status, a.field("new_password")), (400, "password_weak"));
    let a = anon.post(
        &format!("/api/password-reset/{token}"),
        json!({ "new_password": "Jiro2027pass", "new_password_confirmation": "Jiro2027pass" }),
    );
    assert_eq!(a.status, 204, "{:?}", a.body);
    // Once only; old sessions ended; old password gone.
    let a = anon.post(
        &format!("/api/password-reset/{token}"),
        json!({ "new_password": "Jiro2028pass", "new_password_confirmation": "Jiro2028pass" }),
    );
    assert_eq!((a.status, a.code()), (400, "reset_invalid"));
    assert_eq!(old_session.get("/api/me").status, 401);
    assert_eq!(
        service
            .api()
            .login("jiro@example.jp", "Jiro2026pass")
            .status,
        401
    );
    assert_eq!(
        service
            .api()
            .login("jiro@example.jp", "Jiro2027pass")
            .status,
        200
    );

    // A link is valid for an hour.
    anon.post("/api/password-reset", json!({ "email": "jiro@example.jp" }));
    let started = std::time::Instant::now();
    let token2 = loop {
        let messages = service.smtp.messages();
        let links: Vec<String> = messages
            .iter()
            .filter(|m| m["subject"] == "パスワード再設定のご案内")
            .filter_map(|m| {
                m["body"].as_str().and_then(|b| {
                    b.lines()
                        .find(|l| l.contains("/password/reset/"))
                        .map(|l| l.trim().to_owned())
                })
            })
            .collect();
        if links.len() >= 2 {
            break links[1].rsplit('/').next().expect("token").to_owned();
        }
        assert!(started.elapsed().as_secs() < 30, "second reset mail");
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    set_clock(&clock, 3601);
    let a = anon.post(
        &format!("/api/password-reset/{token2}"),
        json!({ "new_password": "Jiro2029pass", "new_password_confirmation": "Jiro2029pass" }),
    );
    assert_eq!((a.status, a.code()), (400, "reset_invalid"));
    let a = anon.post(
        "/api/password-reset/not-a-token",
        json!({ "new_password": "Jiro2029pass", "new_password_confirmation": "Jiro2029pass" }),
    );
    assert_eq!(a.status, 400);
    let actions = audit_actions(&service);
    for expected in [
        "password.reset_requested",
        "password.reset",
        "password.reset_unknown",
    ] {
        assert!(
            actions.iter().any(|a| a == expected),
            "{expected} in {actions:?}"
        );
    }
}

#[test]
fn passwords_are_reset_by_a_one_time_emailed_link_on_sqlite() {
    passwords_are_reset_by_a_one_time_emailed_link(Backend::Sqlite);
}

#[test]
fn passwords_are_reset_by_a_one_time_emailed_link_on_postgres() {
    passwords_are_reset_by_a_one_time_emailed_link(Backend::Postgres);
}

#[test]
fn session_cookies_are_httponly_samesite_and_secure_over_tls_and_csrf_is_required() {
    let Some(service) = Service::start(Backend::Sqlite) else {
        return;
    };
    let mut admin = service.admin();
    // The service's base URL is https://…: the cookie is Secure.
    admin.login(ADMIN_EMAIL, "Kanri2026pass");
    let cookie = admin
        .last_set_cookies
        .iter()
        .find(|c| c.starts_with("inkan_session="))
        .expect("session cookie")
        .clone();
    for attribute in ["HttpOnly", "SameSite=Lax", "Secure", "Path=/"] {
        assert!(cookie.contains(attribute), "{attribute} in {cookie}");
    }
    // Without the CSRF header, or with a wrong one, state-changing requests are refused.
    let mut no_csrf = admin.clone();
    no_csrf.csrf = None;
    let a = no_csrf.post(
        "/api/users",
        json!({ "display_name": "x", "email": "x@example.jp", "roles": ["signer"] }),
    );
    assert_eq!((a.status, a.code()), (403, "csrf"));
    no_csrf.csrf = Some("0".repeat(64));
    assert_eq!(no_csrf.delete("/api/session").status, 403);
    assert_eq!(no_csrf.get("/api/users").status, 200, "reads need no token");
    // Logout ends the session on the server, not just in the browser.
    let stolen = admin.cookie.clone();
    assert_eq!(admin.delete("/api/session").status, 204);
    let mut replay = service.api();
    replay.cookie = stolen;
    assert_eq!(replay.get("/api/me").status, 401);

    // Over plain HTTP the cookie is not Secure (it could not be sent back).
    let db = TestDb::new(Backend::Sqlite).expect("sqlite");
    let cmd = db.command(&["serve"]);
    let plain = TestApp::start(db, cmd);
    let password = plain
        .stdout
        .iter()
        .find_map(|l| l.trim().strip_prefix("temporary password:"))
        .expect("password")
        .trim()
        .to_owned();
    let mut api = Api::new(&plain.base);
    api.login("admin@localhost", &password);
    let cookie = api
        .last_set_cookies
        .iter()
        .find(|c| c.starts_with("inkan_session="))
        .expect("session cookie");
    assert!(!cookie.contains("Secure"), "{cookie}");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
}

/// Two `inkan serve` processes on one PostgreSQL database: a session opened on one works on
/// the other, and concurrent failed logins through both are all counted in one intact audit
/// chain, without a server error.
#[test]
fn two_servers_share_sessions_throttle_and_audit_chain_on_postgres() {
    let Some(service) = Service::start(Backend::Postgres) else {
        return;
    };
    let mut admin = service.admin();
    // The second process shares the database (and so the first's data) but not its folder.
    let second_db = service.app.db.share();
    let mut cmd = second_db.command(&["serve"]);
    cmd.env("INKAN_BASE_URL", "https://sign.example.jp");
    let second = TestApp::start(second_db, cmd);
    let mut other = admin.clone();
    other.base = second.base.clone();
    assert_eq!(
        other.get("/api/users").status,
        200,
        "the session works on the other process"
    );
    assert_eq!(admin.get("/api/me").status, 200);

    let bases = [service.app.base.clone(), second.base.clone()];
    let statuses: Vec<u16> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..24)
            .map(|i| {
                let base = bases[i % 2].clone();
                s.spawn(move || {
                    Api::new(&base)
                        .login(&format!("racer{}@example.jp", i % 3), "wrong-pass-1")
                        .status
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect()
    });
    assert!(
        statuses.iter().all(|s| *s == 401 || *s == 429),
        "{statuses:?}"
    );
    // 24 failures on 3 accounts from one address: every account and the address are locked.
    assert!(statuses.contains(&429), "{statuses:?}");
    let out = service
        .app
        .db
        .command(&["admin", "verify-audit"])
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let failed = service
        .app
        .db
        .count("SELECT COUNT(*) FROM audit_log WHERE action = 'login.failed'");
    let refused = service
        .app
        .db
        .count("SELECT COUNT(*) FROM audit_log WHERE action = 'login.refused_locked'");
    assert_eq!(failed + refused, 24, "every attempt recorded once");
}

/// The audit screen checks what was appended since its last check (so its cost does not grow
/// with the log) plus the entry that check ended on: an edit there is reported at once, and the
/// verdict stays "broken" afterwards.
fn audit_screen_reports_an_edit_of_the_last_checked_entry(backend: Backend) {
    let Some(service) = Service::start(backend) else {
        return;
    };
    // The first start anchored the log, in the database and in the data folder.
    assert_eq!(
        service.app.db.count("SELECT COUNT(*) FROM audit_anchors"),
        1
    );
    let copy = service.app.db.dir.path().join("data/audit-anchors.jsonl");
    let copy = std::fs::read_to_string(&copy).expect("the data folder keeps a copy");
    assert!(copy.starts_with("{\"n\":1,"), "{copy}");
    let mut admin = service.admin();
    assert_eq!(admin.get("/api/audit").body["chain_intact"], true);
    service.user(&mut admin, "audit1@example.jp", &["signer"], "Audit2026x");
    assert_eq!(admin.get("/api/audit").body["chain_intact"], true);
    let checked = service
        .app
        .db
        .count("SELECT seq FROM audit_checkpoint WHERE id = 1");
    assert_eq!(
        checked,
        service.app.db.count("SELECT MAX(seq) FROM audit_log"),
        "the check went to the end of the log"
    );
    crate::serve::tamper_audit_entry(&service.app.db, backend, checked);
    for _ in 0..2 {
        assert_eq!(admin.get("/api/audit").body["chain_intact"], false);
    }
    let page = admin.get("/audit");
    assert!(
        page.text.contains("監査ログの改ざんを検出しました"),
        "{}",
        page.text
    );
}

#[test]
fn audit_screen_reports_an_edit_of_the_last_checked_entry_on_sqlite() {
    audit_screen_reports_an_edit_of_the_last_checked_entry(Backend::Sqlite);
}

#[test]
fn audit_screen_reports_an_edit_of_the_last_checked_entry_on_postgres() {
    audit_screen_reports_an_edit_of_the_last_checked_entry(Backend::Postgres);
}

/// An edit further back is not in what the screen checks each time; the scheduler walks the
/// whole chain again at most an hour later (the clock is moved), and the screen then reports it.
#[test]
fn audit_screen_walks_the_whole_chain_every_hour() {
    let clock_dir = tempfile::tempdir().expect("tempdir");
    let clock = clock_dir.path().join("offset");
    set_clock(&clock, 0);
    let clock_env = clock.display().to_string();
    let env = [
        ("INKAN_TEST_CLOCK_FILE", clock_env.as_str()),
        ("INKAN_SCHEDULER_SECONDS", "1"),
    ];
    let Some(service) = Service::start_with(Backend::Sqlite, &env) else {
        return;
    };
    let mut admin = service.admin();
    service.user(&mut admin, "audit2@example.jp", &["signer"], "Audit2026x");
    assert_eq!(admin.get("/api/audit").body["chain_intact"], true);
    // The first entry: neither the last one checked nor the one the first start's checkpoint
    // covers (the screen checks both each time).
    crate::serve::tamper_audit_entry(&service.app.db, Backend::Sqlite, 1);
    assert_eq!(
        admin.get("/api/audit").body["chain_intact"],
        true,
        "within the hour only the new entries are checked"
    );
    // An hour later the scheduler walks the whole chain and finds it.
    set_clock(&clock, 3601);
    let mut admin = service.api();
    assert_eq!(admin.login(ADMIN_EMAIL, "Kanri2026pass").status, 200);
    let started = std::time::Instant::now();
    while admin.get("/api/audit").body["chain_intact"] == true {
        assert!(
            started.elapsed().as_secs() < 20,
            "the hourly walk did not report the edit"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}
