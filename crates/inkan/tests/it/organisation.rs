//! An organisation's settings as its administrator keeps them, through the API and the page:
//! the name, the address that prefills certificate applications, the support text every mail
//! ends with, and the time zone of visible signatures. Bad values are refused by field with
//! nothing changed; another organisation's name is a conflict.

use serde_json::json;

use crate::serve::Backend;
use crate::service::{labelled, Service};

#[test]
fn an_administrator_keeps_the_organisations_name_address_mail_footer_and_time_zone() {
    let Some(service) = Service::start(Backend::Sqlite) else {
        return;
    };
    let mut admin = service.admin();
    let mut operator = service.operator();
    let _other = service.other_org_admin(&mut operator);

    let before = admin.get("/api/organisation/settings");
    assert_eq!(before.status, 200, "{:?}", before.body);
    assert_eq!(before.body["time_zone"], "Asia/Tokyo", "Japan by default");
    assert_eq!(before.body["mail_footer"], "");

    // Every bad value at once, each by its field; nothing changes.
    let bad = admin.patch(
        "/api/organisation/settings",
        json!({
            "name": " ", "postal_code": "12-34", "prefecture": "東京", "time_zone": "Asia/Edo",
            "mail_footer": "a\n".repeat(11), "pades_level": "B-B",
        }),
    );
    assert_eq!(bad.status, 400, "{:?}", bad.body);
    for (field, code) in [
        ("name", "org_name_invalid"),
        ("postal_code", "postal_code"),
        ("prefecture", "prefecture"),
        ("time_zone", "time_zone"),
        ("mail_footer", "mail_footer_long"),
        ("pades_level", "level"),
    ] {
        assert_eq!(bad.field(field), code, "{field}: {:?}", bad.body);
    }
    let taken = admin.patch("/api/organisation/settings", json!({ "name": "別会社" }));
    assert_eq!(
        (taken.status, taken.field("name")),
        (409, "org_name_taken"),
        "{:?}",
        taken.body
    );
    assert_eq!(admin.get("/api/organisation/settings").body, before.body);

    // A change: normalised, answered as it is now, and in the audit log from what to what.
    let changed = admin.patch(
        "/api/organisation/settings",
        json!({
            "name": "株式会社印鑑設定", "postal_code": "1000001", "prefecture": "東京都",
            "city": "千代田区", "street": "千代田1-1", "building": "印鑑ビル 5F",
            "mail_footer": "お問い合わせ: 総務部 (soumu@example.jp)\r\n電話 03-1234-5678",
            "time_zone": "Asia/Seoul",
        }),
    );
    assert_eq!(changed.status, 200, "{:?}", changed.body);
    assert_eq!(changed.body["postal_code"], "100-0001");
    assert_eq!(
        changed.body["mail_footer"],
        "お問い合わせ: 総務部 (soumu@example.jp)\n電話 03-1234-5678"
    );
    assert_eq!(
        changed.body["pades_level"], before.body["pades_level"],
        "left as it was"
    );
    let audit = admin.get("/api/audit").body.to_string();
    assert!(audit.contains("organisation.settings_changed"), "{audit}");
    assert!(
        audit.contains("株式会社印鑑設定") && audit.contains("Asia/Seoul"),
        "{audit}"
    );

    // Mail sent for the organisation from now on: the greeting names it, the support text and
    // the send-only note end it.
    let a = admin.post(
        "/api/users",
        json!({ "display_name": "設定 花子", "email": "hanako@example.jp", "roles": ["signer"] }),
    );
    assert_eq!(a.status, 201, "{:?}", a.body);
    let mail = service.mail_to("hanako@example.jp", "アカウント発行のお知らせ");
    assert_eq!(mail["full_subject"], "【Inkan】アカウント発行のお知らせ");
    // As delivered by SMTP, lines end in CRLF.
    let body = &mail["body"].as_str().expect("body").replace("\r\n", "\n");
    assert!(
        body.starts_with("株式会社印鑑設定 設定 花子 様\n"),
        "{body}"
    );
    assert!(
        body.contains(
            "本メールは送信専用です。このアドレスにご返信いただいてもお答えできません。\n\
             お問い合わせ: 総務部 (soumu@example.jp)\n電話 03-1234-5678\nInkan\n"
        ),
        "{body}"
    );

    // The signer's certificate application starts from the organisation's name and address.
    let mut signer = service.api();
    signer.first_login(
        "hanako@example.jp",
        &labelled(body, "仮パスワード:"),
        "Hanako2026x",
    );
    let form = signer.get("/certificate/apply/form");
    assert_eq!(form.status, 200);
    for prefilled in [
        "value=\"株式会社印鑑設定\"",
        "value=\"100-0001\"",
        "value=\"東京都\" selected",
        "value=\"千代田区\"",
        "value=\"千代田1-1\"",
        "value=\"印鑑ビル 5F\"",
        "value=\"JP\"",
    ] {
        assert!(form.text.contains(prefilled), "{prefilled}: {}", form.text);
    }

    // The audit log reads as lines in the reader's language, filtered by what and when, and
    // downloads as CSV with the same filter.
    let log = admin.get("/audit?what=accounts");
    assert_eq!(log.status, 200);
    for shown in [
        "利用者を作成",
        "組織の設定を変更",
        // As the page escapes it: time_zone: Asia/Tokyo → Asia/Seoul.
        "time_zone: Asia&#x2f;Tokyo → Asia&#x2f;Seoul",
    ] {
        assert!(log.text.contains(shown), "{shown}: {}", log.text);
    }
    assert!(!log.text.contains(">user.created<"), "no raw codes");
    let contracts_only = admin.get("/audit?what=contracts");
    assert!(
        contracts_only.text.contains("id=\"audit-empty\""),
        "{}",
        contracts_only.text
    );
    let future = admin.get("/audit?from=2099-01-01");
    assert!(
        future.text.contains("id=\"audit-empty\""),
        "{}",
        future.text
    );
    let bad = admin.get("/audit?from=2026-13-40");
    assert_eq!(bad.status, 400);
    assert!(
        bad.text
            .contains("日付は YYYY-MM-DD の形で入力してください"),
        "{}",
        bad.text
    );
    let csv = admin.get("/audit.csv?what=accounts");
    assert_eq!(csv.status, 200);
    assert_eq!(csv.header("content-type"), Some("text/csv; charset=utf-8"));
    let text = csv.text.trim_start_matches('\u{feff}');
    assert!(
        text.starts_with("seq,time_jst,actor,action,what,detail\r\n"),
        "{text}"
    );
    assert!(
        text.contains("\"organisation.settings_changed\",\"組織の設定を変更\""),
        "{text}"
    );
    assert!(!text.contains("contract."), "{text}");

    // The page shows the same and keeps what was typed when refused.
    let page = admin.get("/settings");
    assert_eq!(page.status, 200);
    assert!(
        page.text.contains("value=\"Asia&#x2f;Seoul\" selected"),
        "{}",
        page.text
    );
    assert!(
        page.text.contains("電話 03-1234-5678</textarea>"),
        "{}",
        page.text
    );
}
