//! The web UI in headless Chromium against the real server (SQLite, real SMTP on loopback): the
//! first administrator logs in with the temporary password, is made to choose a new one (and
//! sees the errors next to the fields), creates a user from the user-management screen, switches
//! to English and logs out; the new user logs in with the mailed password. Every screen is
//! saved under `target/screenshots/ui_*/`.

use crate::browser::Browser;
use crate::serve::Backend;
use crate::service::{Service, ADMIN_EMAIL};

fn first_login_password_change_and_user_creation(backend: Backend, name: &str) {
    let Some(service) = Service::start_with(backend, &[("INKAN_BASE_URL", "http://127.0.0.1")])
    else {
        return;
    };
    let Some(browser) = Browser::start(name) else {
        return;
    };
    let base = &service.app.base;
    let temporary = service.printed_password();

    // Not logged in: every page leads to the login.
    browser.goto(&format!("{base}/users"));
    browser.wait_for("#login-form");
    assert!(
        browser.current_url().ends_with("/login"),
        "{}",
        browser.current_url()
    );
    assert_eq!(browser.text("h1"), "ログイン");
    browser.screenshot("login");

    // A wrong password: the message, and the address kept.
    browser.fill("#email", ADMIN_EMAIL);
    browser.fill("#password", "not-the-password-1");
    browser.submit("#login-form");
    assert_eq!(
        browser.text(".error-summary"),
        "メールアドレスまたはパスワードが正しくありません"
    );
    assert!(browser
        .source()
        .contains(&format!("value=\"{ADMIN_EMAIL}\"")));
    browser.screenshot("login-failed");

    // The temporary password: straight to the forced change.
    browser.fill("#password", &temporary);
    browser.submit("#login-form");
    browser.wait_for("#forced");
    assert!(
        browser.current_url().ends_with("/password"),
        "{}",
        browser.current_url()
    );
    browser.screenshot("forced-password-change");
    // Another page is not reachable before the change.
    browser.goto(&format!("{base}/users"));
    browser.wait_for("#forced");

    // Mismatched confirmation and a weak password: each message next to its field.
    browser.fill("#current_password", &temporary);
    browser.fill("#new_password", "Kanri2026pass");
    browser.fill("#new_password_confirmation", "Kanri2026pasx");
    browser.submit("#password-form");
    assert_eq!(
        browser.text("#new_password_confirmation-error"),
        "確認用パスワードが一致しません"
    );
    browser.screenshot("password-mismatch");
    browser.fill("#current_password", &temporary);
    browser.fill("#new_password", "abcdefgh");
    browser.fill("#new_password_confirmation", "abcdefgh");
    browser.submit("#password-form");
    assert_eq!(
        browser.text("#new_password-error"),
        "パスワードは 8 文字以上で、英字と数字の両方を含めてください"
    );
    browser.fill("#current_password", &temporary);
    browser.fill("#new_password", "Kanri2026pass");
    browser.fill("#new_password_confirmation", "Kanri2026pass");
    browser.submit("#password-form");
    assert_eq!(browser.text(".flash"), "パスワードを変更しました");
    assert_eq!(browser.text("#me"), ADMIN_EMAIL, "the name top right");
    let menu = browser.texts("nav.side a");
    assert_eq!(
        menu,
        ["ホーム", "ユーザー管理", "監査ログ", "設定"],
        "{menu:?}"
    );
    browser.screenshot("home");

    // User management: the list, then a new user.
    browser.click("nav.side a[href='/users']");
    browser.wait_for("#users");
    browser.screenshot("users");
    browser.click("#new-user");
    browser.wait_for("#user-form");
    assert_eq!(
        browser.texts(".required").len(),
        3,
        "name, email and role are marked required"
    );
    browser.submit("#user-form");
    for field in ["display_name", "email", "roles"] {
        assert_eq!(
            browser.text(&format!("#{field}-error")),
            "入力してください",
            "{field}"
        );
    }
    browser.screenshot("new-user-empty");
    browser.fill("#display_name", "文書 管理子");
    browser.fill("#email", "bunsho@example.jp");
    browser.select("#roles", "document_manager+signer");
    browser.fill("#password", "Temp12345");
    browser.fill("#password_confirmation", "Temp12346");
    browser.submit("#user-form");
    assert_eq!(
        browser.text("#password_confirmation-error"),
        "確認用パスワードが一致しません"
    );
    // The entered values stay; the passwords do not.
    assert!(browser.source().contains("value=\"bunsho@example.jp\""));
    browser.fill("#password", "");
    browser.fill("#password_confirmation", "");
    browser.submit("#user-form");
    assert_eq!(
        browser.text(".flash"),
        "ユーザーを作成し、アカウント発行のお知らせを送信しました"
    );
    assert_eq!(browser.text("#user-email"), "bunsho@example.jp");
    assert_eq!(browser.text("#user-role"), "文書管理者+署名者");
    assert_eq!(browser.text("#user-status"), "パスワード未設定");
    browser.screenshot("user-created");
    let mailed = service.mailed_password("bunsho@example.jp");

    // The list has 詳細 for both users.
    browser.click("nav.side a[href='/users']");
    browser.wait_for("#users");
    assert_eq!(
        browser.texts("#users td.email"),
        [ADMIN_EMAIL, "bunsho@example.jp"]
    );
    assert_eq!(browser.texts("#users a").len(), 2);
    browser.screenshot("users-with-new-user");

    // English.
    browser.click("a.lang");
    browser.wait_for("#users");
    assert_eq!(browser.text("h1"), "User management");
    assert_eq!(browser.texts("#users a")[0], "Details");
    browser.screenshot("users-english");
    browser.click("a.lang");
    browser.wait_for("#users");
    assert_eq!(browser.text("h1"), "ユーザー管理");

    // Logout, then the new user's first login with the mailed password.
    browser.click("#logout");
    browser.wait_for("#login-form");
    assert_eq!(browser.text(".flash"), "ログアウトしました");
    browser.screenshot("logged-out");
    browser.fill("#email", "bunsho@example.jp");
    browser.fill("#password", &mailed);
    browser.submit("#login-form");
    browser.wait_for("#forced");
    browser.fill("#current_password", &mailed);
    browser.fill("#new_password", "Bunsho2026x");
    browser.fill("#new_password_confirmation", "Bunsho2026x");
    browser.submit("#password-form");
    assert_eq!(browser.text("#home-roles"), "文書管理者+署名者");
    assert_eq!(browser.texts("nav.side a"), ["ホーム", "設定"]);
    browser.screenshot("new-user-home");
    // No user management for a document manager.
    browser.goto(&format!("{base}/users"));
    assert_eq!(
        browser.text("#error-message"),
        "この操作を行う権限がありません"
    );
    browser.click("#me");
    browser.wait_for("#profile-email");
    assert_eq!(browser.text("#profile-email"), "bunsho@example.jp");
    browser.screenshot("profile");
}

#[test]
fn ui_first_login_password_change_and_user_creation_on_sqlite() {
    first_login_password_change_and_user_creation(Backend::Sqlite, "ui_first_login_sqlite");
}

#[test]
fn ui_first_login_password_change_and_user_creation_on_postgres() {
    first_login_password_change_and_user_creation(Backend::Postgres, "ui_first_login_postgres");
}

/// 「パスワードをお忘れの方」: the request form, the emailed link, the new password, the login.
#[test]
fn ui_password_reset_by_emailed_link() {
    let Some(service) = Service::start_with(Backend::Sqlite, &[]) else {
        return;
    };
    let Some(browser) = Browser::start("ui_password_reset") else {
        return;
    };
    let base = &service.app.base;
    service.admin();
    browser.goto(&format!("{base}/login"));
    browser.click("a[href='/password/reset']");
    browser.wait_for("#email");
    browser.screenshot("reset-request");
    browser.fill("#email", ADMIN_EMAIL);
    browser.submit("form");
    assert_eq!(
        browser.text("#reset-sent"),
        "登録されているメールアドレスであれば、パスワード再設定用のリンクを送信しました"
    );
    let mail = service.mail_to(ADMIN_EMAIL, "パスワード再設定のご案内");
    let link = mail["body"]
        .as_str()
        .and_then(|b| b.lines().find(|l| l.contains("/password/reset/")))
        .expect("a link")
        .trim()
        .to_owned();
    // The mailed link names the configured base URL; the browser opens it on the test server.
    let path = link.trim_start_matches("https://sign.example.jp");
    browser.goto(&format!("{base}{path}"));
    browser.wait_for("#new_password");
    browser.fill("#new_password", "Reset2026pass");
    browser.fill("#new_password_confirmation", "Reset2026pass");
    browser.screenshot("reset-set");
    browser.submit("form");
    assert_eq!(
        browser.text(".flash"),
        "パスワードを再設定しました。新しいパスワードでログインしてください"
    );
    // The link is used up.
    browser.goto(&format!("{base}{path}"));
    assert_eq!(
        browser.text("#error-message"),
        "このリンクは無効か、有効期限が切れています。もう一度お申し込みください"
    );
    browser.goto(&format!("{base}/login"));
    browser.fill("#email", ADMIN_EMAIL);
    browser.fill("#password", "Reset2026pass");
    browser.submit("#login-form");
    assert_eq!(browser.text("#me"), ADMIN_EMAIL);
    browser.screenshot("logged-in-after-reset");
}
