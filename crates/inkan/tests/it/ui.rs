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
        [
            "ホーム",
            "ユーザー管理",
            "監査ログ",
            "請求",
            "組織の設定",
            "契約",
            "プロフィール"
        ],
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
    browser.click(".lang");
    browser.wait_for("#users");
    assert_eq!(browser.text("h1"), "User management");
    assert_eq!(browser.texts("#users a")[0], "Details");
    browser.screenshot("users-english");
    browser.click(".lang");
    browser.wait_for("#users");
    assert_eq!(browser.text("h1"), "ユーザー管理");

    // Logout, then the new user's first login with the mailed password.
    browser.logout();
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
    assert_eq!(
        browser.texts("nav.side a"),
        ["ホーム", "契約", "署名する", "プロフィール"]
    );
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
    browser.login(base, ADMIN_EMAIL, "Reset2026pass");
    assert_eq!(browser.text("#me"), ADMIN_EMAIL);
    browser.screenshot("logged-in-after-reset");
}

/// The certificate application in the browser: the three steps with field errors, the
/// confirmation with the price, the order on the profile, the operator's identity check, and
/// the issued certificate's expiry on the profile; a transaction agent sees 「申請する」 disabled
/// with the reason.
#[test]
fn ui_certificate_application_identity_check_and_profile_status() {
    let Some((service, _ca)) = crate::lifecycle::service_with_ca(Backend::Sqlite) else {
        return;
    };
    let Some(browser) = Browser::start("ui_certificate") else {
        return;
    };
    let base = &service.app.base;
    let mut admin = service.admin();
    service.user(&mut admin, "yamada@example.jp", &["signer"], "Yamada2026x");
    service.user(
        &mut admin,
        "agent@example.jp",
        &["transaction_agent"],
        "Agent2026x",
    );
    service.operator();

    // A transaction agent: 「申請する」 shown disabled, with the reason.
    browser.login(base, "agent@example.jp", "Agent2026x");
    browser.click("#me");
    browser.wait_for("#certificate");
    assert!(browser.source().contains("id=\"apply\" disabled"));
    assert_eq!(
        browser.text("#apply-reason"),
        "取引士は簡易署名(立会人型)のみ行えるため、申請できません"
    );
    browser.screenshot("agent-profile");
    browser.logout();

    browser.login(base, "yamada@example.jp", "Yamada2026x");
    browser.click("#me");
    browser.wait_for("#no-certificate");
    browser.screenshot("profile-no-certificate");
    browser.click("#apply");
    browser.wait_for("#type-form");
    browser.screenshot("step1-type");
    browser.submit("#type-form");
    browser.wait_for("#applicant-form");
    assert!(
        browser.source().contains("value=\"yamada@example.jp\""),
        "email prefilled"
    );
    // So are the organisation's name (its settings) and the country, visibly.
    assert_eq!(browser.value("#organisation"), "Inkan");
    assert_eq!(browser.value("#country"), "JP");
    assert_eq!(
        browser.texts("#applicant-form .required").len(),
        13,
        "all but the building"
    );
    browser.fill("#email", "");
    browser.fill("#organisation", "");
    browser.fill("#country", "");
    browser.submit("#applicant-form");
    for field in [
        "organisation",
        "country",
        "postal_code",
        "prefecture",
        "family_name_romaji",
        "email",
    ] {
        assert_eq!(
            browser.text(&format!("#{field}-error")),
            "入力してください",
            "{field}"
        );
    }
    browser.screenshot("step2-required");
    let fill_all = |postal: &str, romaji: &str| {
        for (id, value) in [
            ("organisation", "株式会社印鑑テスト"),
            ("department", "法務部"),
            ("family_name", "山田"),
            ("given_name", "太郎"),
            ("family_name_romaji", romaji),
            ("given_name_romaji", "Taro"),
            ("postal_code", postal),
            ("country", "JP"),
            ("city", "千代田区"),
            ("street", "千代田1-1"),
            ("building", "印鑑ビル 5F"),
            ("phone", "03-1234-5678"),
            ("email", "yamada@example.jp"),
        ] {
            browser.fill(&format!("#{id}"), value);
        }
    };
    fill_all("123", "山田");
    browser.submit("#applicant-form");
    assert_eq!(
        browser.text("#postal_code-error"),
        "郵便番号は 7 桁の数字で入力してください(例: 100-0001)"
    );
    assert_eq!(
        browser.text("#family_name_romaji-error"),
        "ローマ字(半角英字・スペース・ハイフン)で入力してください"
    );
    assert_eq!(browser.text("#prefecture-error"), "入力してください");
    browser.screenshot("step2-bad-values");
    fill_all("1000001", "Yamada");
    browser.select("#prefecture", "東京都");
    browser.submit("#applicant-form");
    browser.wait_for("#order-form");
    assert_eq!(browser.text("#confirm-cn"), "Yamada Taro");
    assert_eq!(browser.text("#confirm-price"), "8,000円 / 年(税抜)");
    assert_eq!(browser.text("#confirm-tax"), "800円");
    assert_eq!(browser.text("#confirm-total"), "8,800円");
    // 「修正する」: back to the form as filled in, then on to the confirmation again.
    browser.click("#edit-submit");
    browser.wait_for("#applicant-form");
    assert_eq!(browser.value("#city"), "千代田区");
    assert_eq!(browser.value("#family_name_romaji"), "Yamada");
    browser.fill("#building", "印鑑ビル 6F");
    browser.submit("#applicant-form");
    browser.wait_for("#order-form");
    assert!(
        browser.source().contains("印鑑ビル 6F"),
        "the corrected value"
    );
    assert!(browser.text("#duplicate-warning").contains("1 回だけ"));
    assert!(
        browser.source().contains("100-0001"),
        "the postal code as it will be ordered"
    );
    browser.screenshot("step3-confirm");
    browser.submit("#order-form");
    assert_eq!(
        browser.text(".flash"),
        "お申込みを受け付けました。本人確認のご連絡をお待ちください"
    );
    let order_id = browser.text("#applications .order-id");
    assert!(order_id.starts_with("INK"), "{order_id}");
    assert_eq!(browser.text("#applications .app-status"), "本人確認待ち");
    assert!(
        !browser.exists("a#apply"),
        "no second application while one is open"
    );
    browser.screenshot("profile-pending");
    // The signing screen says why it cannot sign yet.
    browser.click("nav.side a[href='/sign']");
    browser.wait_for("#sign-form");
    assert_eq!(
        browser.text("#sign-blocked"),
        "電子証明書は本人確認待ちのため、まだ署名できません"
    );
    assert!(browser.source().contains("id=\"sign-submit\" disabled"));
    browser.screenshot("sign-blocked-pending");
    browser.logout();

    // The operator's queue.
    browser.login(base, "op@inkan.example", "Operator2026");
    browser.click("nav.side a[href='/identity-checks']");
    browser.wait_for(&format!("#check-{order_id}"));
    // What the operator checks: the full address, the department, the phone.
    let entry = browser.text(&format!("#check-{order_id}"));
    for shown in [
        "〒100-0001 東京都千代田区千代田1-1 印鑑ビル 6F",
        "法務部",
        "03-1234-5678",
    ] {
        assert!(entry.contains(shown), "{shown} in {entry}");
    }
    browser.screenshot("identity-checks");
    // Rejecting without a method or a reason: the entry again, as typed, each message next to
    // its field.
    browser.fill(&format!("#note-{order_id}"), "折り返し待ち");
    browser.click(&format!("#check-{order_id} button.reject"));
    browser.wait_for(&format!("#method-{order_id}-error"));
    assert_eq!(
        browser.text(&format!("#method-{order_id}-error")),
        "入力してください"
    );
    assert_eq!(
        browser.text(&format!("#reason-{order_id}-error")),
        "入力してください"
    );
    assert_eq!(browser.value(&format!("#note-{order_id}")), "折り返し待ち");
    browser.screenshot("identity-check-refused");
    browser.fill(&format!("#method-{order_id}"), "電話(登録番号へ折り返し)");
    browser.click(&format!("#check-{order_id} button.approve"));
    browser.wait_for("#checks-empty");
    assert_eq!(browser.text(".flash"), "承認し、電子証明書を発行しました");
    browser.screenshot("identity-check-approved");
    browser.logout();

    // The signer's profile: the certificate, its expiry a year away, 「変更する」.
    browser.login(base, "yamada@example.jp", "Yamada2026x");
    browser.click("#me");
    browser.wait_for("#certificates");
    assert_eq!(browser.text("#certificates .cert-status"), "有効");
    let expiry = browser.text("#certificates .expiry");
    let next_year = (chrono::Utc::now() + chrono::Duration::days(365))
        .format("%Y-%m")
        .to_string();
    assert!(
        expiry.starts_with(&next_year[..4]),
        "{expiry} vs {next_year}"
    );
    assert_eq!(browser.text("#applications .app-status"), "発行済み");
    assert!(browser.exists("#change"));
    assert!(
        !browser.exists("#renew"),
        "renewal opens three months before expiry"
    );
    browser.screenshot("profile-issued");
    browser.click("nav.side a[href='/sign']");
    browser.wait_for("#sign-form");
    assert!(!browser.exists("#sign-blocked"));
    browser.screenshot("sign-ready");
}

/// An administrator applies for a signer from user management (詳細): the same steps, for
/// the user, and the order shows on the user's page.
#[test]
fn ui_administrator_applies_for_a_signer_from_user_details() {
    let Some((service, _ca)) = crate::lifecycle::service_with_ca(Backend::Sqlite) else {
        return;
    };
    let Some(browser) = Browser::start("ui_admin_applies_for_signer") else {
        return;
    };
    let base = &service.app.base;
    let mut admin = service.admin();
    let (signer_id, _) = service.user(&mut admin, "suzuki@example.jp", &["signer"], "Suzuki2026x");
    browser.login(base, ADMIN_EMAIL, "Kanri2026pass");
    browser.goto(&format!("{base}/users/{signer_id}"));
    browser.wait_for("#certificate");
    assert_eq!(
        browser.text("#no-certificate"),
        "電子証明書はまだありません"
    );
    browser.screenshot("user-details-no-certificate");
    browser.click("#apply");
    browser.wait_for("#type-form");
    assert_eq!(browser.text("#for-name"), "suzuki@example.jp");
    browser.submit("#type-form");
    browser.wait_for("#applicant-form");
    assert!(
        browser.source().contains("value=\"suzuki@example.jp\""),
        "the user's email"
    );
    for (id, value) in [
        ("organisation", "株式会社印鑑テスト"),
        ("department", "総務部"),
        ("family_name", "鈴木"),
        ("given_name", "一郎"),
        ("family_name_romaji", "Suzuki"),
        ("given_name_romaji", "Ichiro"),
        ("postal_code", "530-0001"),
        ("city", "大阪市北区"),
        ("street", "梅田1-1"),
        ("phone", "06-1234-5678"),
    ] {
        browser.fill(&format!("#{id}"), value);
    }
    browser.select("#prefecture", "大阪府");
    browser.submit("#applicant-form");
    browser.wait_for("#order-form");
    assert_eq!(browser.text("#confirm-cn"), "Suzuki Ichiro");
    browser.submit("#order-form");
    browser.wait_for("#applications");
    assert!(
        browser
            .current_url()
            .contains(&format!("/users/{signer_id}")),
        "{}",
        browser.current_url()
    );
    assert_eq!(browser.text("#applications .app-status"), "本人確認待ち");
    browser.screenshot("user-details-ordered");
    // The order is the signer's, placed by the administrator.
    let actor = service.app.db.with_conn(|c| {
        Box::pin(async move {
            use sqlx::Row;
            let r = sqlx::query(
                "SELECT a.user_id, l.actor FROM certificate_applications a, audit_log l \
                 WHERE l.action = 'certificate.ordered'",
            )
            .fetch_one(c)
            .await?;
            Ok((r.try_get::<String, _>(0)?, r.try_get::<String, _>(1)?))
        })
    });
    assert_eq!(actor.0, signer_id);
    assert_ne!(actor.1, signer_id, "the administrator acted");
}

/// Seal images in the browser: on the profile a signer chooses a scan, sees the original and
/// the transparent picture, renames and saves it (the default), adds a second and makes it the
/// default, deletes one after the confirmation, cancels an upload, is told why a text file and
/// a fourth seal are refused; an administrator does the same from the user's 詳細 page; the
/// signing screen offers the seals with the default chosen.
#[test]
fn ui_seal_images_on_the_profile_and_for_a_user() {
    use crate::seals::{jpeg, png, stamp_scan, CRIMSON, VERMILION};
    let Some(service) = Service::start_with(Backend::Sqlite, &[]) else {
        return;
    };
    let Some(browser) = Browser::start("ui_seals") else {
        return;
    };
    let base = &service.app.base;
    let mut admin = service.admin();
    let (signer_id, _) = service.user(&mut admin, "yamada@example.jp", &["signer"], "Yamada2026x");
    let files = tempfile::tempdir().expect("tempdir");
    let file = |name: &str, bytes: Vec<u8>| {
        let path = files.path().join(name);
        std::fs::write(&path, bytes).expect("write");
        path
    };
    let first = file("山田.png", png(&stamp_scan(360, VERMILION, 1)));
    let second = file("角印.jpg", jpeg(&stamp_scan(320, CRIMSON, 2)));
    let third = file("三.png", png(&stamp_scan(240, VERMILION, 3)));
    let fourth = file("四.png", png(&stamp_scan(240, VERMILION, 4)));
    let text = file("x.png", b"not an image at all".to_vec());
    let pictures_loaded = || {
        browser.script(
            "return Array.from(document.querySelectorAll('#seal-preview img'))
                .map(i => i.complete && i.naturalWidth > 0);",
        )
    };
    let upload = |path: &std::path::Path| {
        browser.choose_file("#seal-file", path);
        browser.submit("#seal-upload-form");
    };
    let names = || browser.texts("#seal-list .seal-name");
    let defaults = || browser.texts("#seal-list .is-default .seal-name");

    browser.login(base, "yamada@example.jp", "Yamada2026x");
    browser.click("#me");
    browser.wait_for("#seals");
    assert_eq!(browser.text("#seals h2"), "印影・署名画像");
    assert!(browser.exists("#no-seals"));
    browser.screenshot("profile-no-seals");

    // Choose, preview both pictures, rename, save: the first is the default.
    upload(&first);
    browser.wait_for("#seal-preview");
    assert_eq!(pictures_loaded(), serde_json::json!([true, true]));
    assert!(browser.source().contains("value=\"山田\""), "the file name");
    browser.screenshot("seal-preview");
    browser.fill("#seal-name", "山田 認印");
    browser.submit("#seal-save-form");
    assert_eq!(browser.text(".flash"), "印影を保存しました");
    assert_eq!(names(), ["山田 認印"]);
    assert_eq!(browser.text("#seal-list .default-badge"), "既定");
    assert!(!browser.exists("#seal-preview"));
    browser.screenshot("seal-saved-default");

    // A second, then 「既定にする」 on it.
    upload(&second);
    browser.wait_for("#seal-preview");
    assert_eq!(pictures_loaded(), serde_json::json!([true, true]));
    browser.submit("#seal-save-form");
    assert_eq!(names(), ["山田 認印", "角印"]);
    assert_eq!(defaults(), ["山田 認印"]);
    browser.screenshot("two-seals");
    browser.submit("#seal-list li:nth-child(2) form.make-default");
    assert_eq!(browser.text(".flash"), "既定の印影を変更しました");
    assert_eq!(defaults(), ["角印"]);
    browser.screenshot("second-made-default");

    // 「削除」 asks first; the default one goes and the other becomes the default.
    browser.click("#seal-list li:nth-child(2) a.delete-seal");
    browser.wait_for("#seal-delete-confirm");
    assert!(browser.text("#seal-delete-confirm").contains("角印"));
    browser.screenshot("delete-confirm");
    browser.submit("#seal-delete-form");
    assert_eq!(browser.text(".flash"), "印影を削除しました");
    assert_eq!(names(), ["山田 認印"]);
    assert_eq!(defaults(), ["山田 認印"]);
    browser.screenshot("seal-deleted");

    // 「キャンセル」 discards the upload; a text file is refused with the reason.
    upload(&third);
    browser.wait_for("#seal-preview");
    browser.submit("#seal-cancel-form");
    assert_eq!(browser.text(".flash"), "アップロードした画像を破棄しました");
    assert_eq!(names(), ["山田 認印"]);
    upload(&text);
    assert_eq!(
        browser.text("#file-error"),
        "PNG・GIF・JPEG 形式の画像ではありません"
    );
    browser.screenshot("not-an-image");

    // Up to three; a fourth is refused with the message.
    for path in [&third, &second] {
        upload(path);
        browser.wait_for("#seal-preview");
        browser.submit("#seal-save-form");
    }
    assert_eq!(names().len(), 3);
    assert_eq!(browser.text("#seal-count"), "登録数: 3 / 3");
    upload(&fourth);
    assert_eq!(
        browser.text("#file-error"),
        "印影は 3 件まで登録できます。追加するには、登録済みの印影を削除してください"
    );
    assert_eq!(names().len(), 3);
    browser.screenshot("fourth-refused");

    // The signing screen offers the seals, the default chosen.
    browser.click("nav.side a[href='/sign']");
    browser.wait_for("#seal-choice");
    assert_eq!(
        browser.texts("#seal-choice .seal-name"),
        ["山田 認印", "三", "角印"]
    );
    let chosen = browser.script(
        "const c = document.querySelector('input[name=seal]:checked');
         return c ? c.closest('label').textContent.trim() : null;",
    );
    assert_eq!(chosen, serde_json::json!("山田 認印"));
    browser.screenshot("sign-seal-choice");
    browser.logout();

    // The administrator, from the user's 詳細 page: delete one, upload and save another.
    browser.login(base, crate::service::ADMIN_EMAIL, "Kanri2026pass");
    browser.goto(&format!("{base}/users/{signer_id}"));
    browser.wait_for("#seals");
    assert_eq!(names().len(), 3);
    browser.click("#seal-list li:nth-child(3) a.delete-seal");
    browser.wait_for("#seal-delete-confirm");
    browser.submit("#seal-delete-form");
    assert_eq!(browser.text(".flash"), "印影を削除しました");
    assert!(
        browser
            .current_url()
            .contains(&format!("/users/{signer_id}")),
        "{}",
        browser.current_url()
    );
    upload(&fourth);
    browser.wait_for("#seal-preview");
    assert_eq!(pictures_loaded(), serde_json::json!([true, true]));
    browser.screenshot("admin-preview-for-user");
    browser.submit("#seal-save-form");
    assert_eq!(names(), ["山田 認印", "三", "四"]);
    browser.screenshot("admin-saved-for-user");
    // The administrator's own profile has no seal section (not a signer).
    browser.click("#me");
    browser.wait_for("#profile-email");
    assert!(!browser.exists("#seals"));
}
