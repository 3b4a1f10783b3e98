//! The contract list in headless Chromium: the tabs count each status (and follow the search),
//! the search finds a contract by title, by a party's name and by a party's address, the list
//! is paged (20 a page) and sorted by creation or by the last change, a signer's 「自分の対応待ち」
//! leads to their signing page, and an administrator reads the organisation's contracts, a draft
//! read-only. The search, the tabs, the pager and 「開く」 are used with the keyboard alone. The
//! clock is moved between contracts so that their order is certain. Screens are saved under
//! `target/screenshots/ui_lists/`.

use serde_json::json;

use crate::browser::{Browser, KEY_ENTER};
use crate::serve::Backend;
use crate::service::{set_clock, Service, ADMIN_EMAIL, MANAGER_EMAIL, MANAGER_PASSWORD};

#[test]
fn ui_the_contract_list_counts_searches_pages_sorts_and_shows_whose_turn_it_is() {
    let clock_dir = tempfile::tempdir().expect("tempdir");
    let clock = clock_dir.path().join("offset");
    set_clock(&clock, 0);
    let clock_env = clock.display().to_string();
    let Some(service) =
        Service::start_with(Backend::Sqlite, &[("INKAN_TEST_CLOCK_FILE", &clock_env)])
    else {
        return;
    };
    let Some(browser) = Browser::start("ui_lists") else {
        return;
    };
    let base = &service.app.base;
    let mut admin = service.admin();
    let mut manager = service.manager(&mut admin);
    let (_, mut colleague) = service.user(
        &mut admin,
        "bunsho2@example.jp",
        &["document_manager"],
        "Bunsho2026y",
    );
    let (shomei, _) = service.user(&mut admin, "shomei@example.jp", &["signer"], "Shomei2026x");
    let a = admin.patch(
        &format!("/api/users/{shomei}"),
        json!({ "display_name": "署名 一郎" }),
    );
    assert_eq!(a.status, 200, "{:?}", a.body);

    // 23 drafts, two contracts sent, one cancelled: a minute apart.
    let mut minute = 0;
    let mut tick = || {
        minute += 1;
        set_clock(&clock, minute * 60);
    };
    let mut drafts = Vec::new();
    for n in 1..=23 {
        tick();
        drafts.push(manager.draft(&format!("下書き契約 {n:02}")));
    }
    tick();
    let with_signer = manager.send_contract(
        "送付済み契約 A",
        &[
            ("shomei@example.jp", "", 1),
            ("partner@example.com", "相手方 一郎", 2),
        ],
    );
    tick();
    let other_sent = manager.send_contract(
        "送付済み契約 B",
        &[("acme@example.com", "Acme 株式会社", 1)],
    );
    tick();
    let cancelled = manager.draft("取消契約");
    let a = manager.post(
        &format!("/api/contracts/{cancelled}/cancel"),
        json!({ "reason": "条件変更のため" }),
    );
    assert_eq!(a.status, 200, "{:?}", a.body);
    tick();
    colleague.draft("他の担当の契約");

    let count = |tab: &str| browser.text(&format!("#tab-{tab} .count"));
    let titles = || browser.texts("#contracts tbody td.title");

    // The document manager's own contracts: counts per status, the newest first, 20 a page.
    browser.login(base, MANAGER_EMAIL, MANAGER_PASSWORD);
    browser.click("nav.side a[href='/contracts']");
    browser.wait_for("#contracts");
    let counts: Vec<String> = [
        "all",
        "draft",
        "sent",
        "completed",
        "declined",
        "cancelled",
        "expired",
        "waiting",
    ]
    .iter()
    .map(|t| count(t))
    .collect();
    assert_eq!(counts, ["26", "23", "2", "0", "0", "1", "0", "0"]);
    assert_eq!(browser.count("#contracts tbody tr"), 20);
    assert_eq!(
        titles()[..3],
        ["取消契約", "送付済み契約 B", "送付済み契約 A"]
    );
    assert_eq!(browser.text("#list-range"), "26 件中 1–20 件");
    assert_eq!(browser.text("#page-of"), "1 / 2 ページ");
    assert!(!browser.exists("#page-prev"));
    browser.screenshot("list");

    // With the keyboard: the search by a party's name, then Enter.
    browser.tab_to("q", 40);
    browser.type_into("#q", &format!("相手方{KEY_ENTER}"));
    browser.wait_for("#search-clear");
    assert_eq!(titles(), ["送付済み契約 A"]);
    assert_eq!(
        (count("all"), count("sent"), count("draft")),
        ("1".into(), "1".into(), "0".into())
    );
    browser.screenshot("search-party-name");
    // By a party's address, and by part of a title.
    browser.goto(&format!("{base}/contracts?q=ACME%40"));
    assert_eq!(titles(), ["送付済み契約 B"]);
    browser.goto(&format!("{base}/contracts?q=%E5%8F%96%E6%B6%88"));
    assert_eq!(titles(), ["取消契約"]);
    browser.goto(&format!("{base}/contracts?q=no-such-contract"));
    assert!(browser
        .text("#contracts-none")
        .contains("条件に合う契約はありません"));
    browser.screenshot("search-nothing");

    // The drafts' tab and the pager, with the keyboard.
    browser.goto(&format!("{base}/contracts"));
    browser.tab_to("tab-draft", 40);
    browser.press(KEY_ENTER);
    browser.wait_for("#tab-draft[aria-current=page]");
    assert_eq!(browser.count("#contracts tbody tr"), 20);
    assert_eq!(titles()[0], "下書き契約 23");
    browser.tab_to("page-next", 80);
    browser.press(KEY_ENTER);
    browser.wait_for("#page-prev");
    assert_eq!(
        titles(),
        ["下書き契約 03", "下書き契約 02", "下書き契約 01"]
    );
    assert_eq!(browser.text("#list-range"), "23 件中 21–23 件");
    browser.screenshot("drafts-page-2");

    // Sorted by the last change: the oldest draft, just renamed, comes first.
    tick();
    let a = manager.patch(
        &format!("/api/contracts/{}", drafts[0]),
        json!({ "title": "下書き契約 01 (改訂)" }),
    );
    assert_eq!(a.status, 200, "{:?}", a.body);
    browser.goto(&format!("{base}/contracts?status=draft"));
    browser.select("#sort", "updated");
    browser.submit("#search");
    assert_eq!(titles()[0], "下書き契約 01 (改訂)");
    assert!(browser.current_url().contains("sort=updated"));
    browser.screenshot("sorted-by-change");

    // Cancelling from a contract's page: the reason is required, said next to its field.
    browser.goto(&format!("{base}/contracts/{other_sent}"));
    browser.click("#cancel-box summary");
    browser.submit("#cancel-form");
    assert_eq!(browser.text("#reason-error"), "入力してください");
    browser.screenshot("cancel-reason-required");
    browser.fill("#cancel-reason", "先方の都合により");
    browser.submit("#cancel-form");
    assert_eq!(browser.text("#contract-status"), "取消");
    assert!(browser.text("#end-reason").contains("先方の都合により"));
    assert!(browser.text("#history").contains("先方の都合により"));
    // The list in English.
    browser.goto(&format!("{base}/contracts"));
    browser.click(".lang");
    browser.wait_for("#tab-all");
    assert!(
        browser.text("#tab-all").starts_with("All"),
        "{}",
        browser.text("#tab-all")
    );
    assert_eq!(count("cancelled"), "2");
    assert!(browser.text("#tab-waiting").starts_with("Waiting for me"));
    browser.screenshot("list-english");
    browser.click(".lang");
    browser.wait_for("#tab-all");

    // The signer: only their turns; 「開く」 (with the keyboard) opens their signing page.
    browser.login(base, "shomei@example.jp", "Shomei2026x");
    browser.click("nav.side a[href='/contracts']");
    browser.wait_for("#contracts");
    assert_eq!(browser.texts(".tabs a").len(), 1, "the waiting tab alone");
    assert_eq!(count("waiting"), "1");
    assert_eq!(
        browser.texts("#contracts tbody .contract-name"),
        ["送付済み契約 A"]
    );
    browser.screenshot("signer-waiting");
    browser.tab_to(&format!("open-{with_signer}"), 40);
    browser.press(KEY_ENTER);
    browser.wait_for("#sign-form");
    assert!(browser.current_url().contains("/sign/"));

    // The administrator: the organisation's contracts with their senders; a draft read-only.
    browser.login(base, ADMIN_EMAIL, "Kanri2026pass");
    browser.goto(&format!("{base}/contracts"));
    assert_eq!(count("all"), "27");
    assert!(
        !browser.exists("#contract-new"),
        "an administrator drafts nothing"
    );
    assert_eq!(titles()[0], "他の担当の契約");
    assert!(browser
        .text("#contracts tbody tr")
        .contains("bunsho2@example.jp"));
    browser.screenshot("admin-list");
    browser.click(&format!("#row-{} td.title a", drafts[22]));
    browser.wait_for("#contract-title");
    assert!(
        !browser.exists("#prepare"),
        "no wizard for the administrator"
    );
    assert!(!browser.exists("#sender-actions"));
    assert_eq!(browser.text("#contract-status"), "下書き");
    browser.screenshot("admin-draft");
}
