//! The contracts' JSON API end to end (drafts, parties and documents so far): a document manager
//! drafts a contract, names a user of the organisation, an outside party and an approver, and
//! adds a PDF (refusals: not a PDF, encrypted, 60 MB) and places fields on it; the
//! organisation's administrator reads it and its history; refusals name their fields.

use serde_json::json;

use crate::serve::Backend;
use crate::service::Service;

fn drafts_and_parties_through_the_api(backend: Backend) {
    let Some(service) = Service::start(backend) else {
        return;
    };
    let mut admin = service.admin();
    let (_, mut manager) = service.user(
        &mut admin,
        "dm@example.jp",
        &["document_manager"],
        "Manager2026x",
    );
    service.user(&mut admin, "signer@example.jp", &["signer"], "Signer2026x");

    let a = manager.post("/api/contracts", json!({ "title": "業務委託契約書" }));
    assert_eq!(a.status, 201, "{:?}", a.body);
    assert_eq!(a.body["status"], "draft");
    assert_eq!(a.body["parties"], json!([]));
    let id = a.body["id"].as_str().expect("id").to_owned();
    let parties = format!("/api/contracts/{id}/parties");
    let a = manager.post(
        &parties,
        json!({ "role": "signer", "step": 1, "signature_kind": "certificate", "email": "signer@example.jp" }),
    );
    assert_eq!(a.status, 201, "{:?}", a.body);
    assert_eq!(
        (&a.body["role"], &a.body["status"]),
        (&json!("signer"), &json!("waiting"))
    );
    assert!(a.body["user_id"].is_string());
    let a = manager.post(
        &parties,
        json!({ "role": "signer", "step": 2, "signature_kind": "simple", "email": "guest@example.com", "name": "外部 太郎" }),
    );
    assert_eq!(a.status, 201, "{:?}", a.body);
    assert!(a.body["user_id"].is_null());
    let a = manager.post(
        &parties,
        json!({ "role": "approver", "step": 3, "email": "kanri@example.jp" }),
    );
    assert_eq!(a.status, 201, "{:?}", a.body);

    // Refusals say which field and why; nothing is stored.
    let a = manager.post(
        &parties,
        json!({ "role": "signer", "step": 1, "signature_kind": "certificate", "email": "guest@example.com", "name": "Guest" }),
    );
    assert_eq!(
        (a.status, a.field("signature_kind")),
        (400, "outside_party_simple_only")
    );
    let a = manager.post(&parties, json!({ "role": "boss", "step": 0, "email": "x" }));
    assert_eq!(a.status, 400, "{:?}", a.body);
    assert_eq!(
        (a.field("role"), a.field("step"), a.field("email")),
        ("party_role", "party_step", "email_no_at")
    );

    // The administrator reads it (and its history); the parties in step order.
    let got = admin.get(&format!("/api/contracts/{id}"));
    assert_eq!(got.status, 200, "{:?}", got.body);
    let steps: Vec<i64> = got.body["parties"]
        .as_array()
        .expect("parties")
        .iter()
        .map(|p| p["step"].as_i64().expect("step"))
        .collect();
    assert_eq!(steps, vec![1, 2, 3]);
    let events = admin.get(&format!("/api/contracts/{id}/events"));
    assert_eq!(events.status, 200);
    let kinds: Vec<&str> = events
        .body
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["kind"].as_str().expect("kind"))
        .collect();
    assert_eq!(
        kinds,
        [
            "contract.created",
            "contract.party_added",
            "contract.party_added",
            "contract.party_added"
        ]
    );
    assert_eq!(
        admin.get("/api/contracts").body.as_array().map(Vec::len),
        Some(1)
    );
    // Documents: a PDF streamed in and checked by its content; anything else refused.
    let documents = format!("/api/contracts/{id}/documents");
    let pdf = crate::support::minimal_pdf("業務委託契約書");
    let a = manager.raw(
        "POST",
        &format!("{documents}?name=契約書.pdf"),
        Some(&pdf),
        Some("application/pdf"),
    );
    assert_eq!(a.status, 201, "{:?}", a.body);
    assert_eq!(
        (&a.body["name"], &a.body["pages"]),
        (&json!("契約書"), &json!(1))
    );
    assert_eq!(a.body["original_size"], json!(pdf.len()));
    let sha = a.body["original_sha256"]
        .as_str()
        .expect("sha256")
        .to_owned();
    let stored = service
        .app
        .db
        .dir
        .path()
        .join(format!("data/documents/sha256/{}/{sha}", &sha[..2]));
    assert_eq!(std::fs::read(&stored).expect("stored by its digest"), pdf);
    let not_pdf = manager.raw(
        "POST",
        &format!("{documents}?name=memo.txt"),
        Some(b"just some text, not a PDF at all"),
        Some("application/pdf"),
    );
    assert_eq!(
        (not_pdf.status, not_pdf.code()),
        (400, "pdf"),
        "{:?}",
        not_pdf.body
    );
    let text = String::from_utf8_lossy(&pdf).replace(
        "/Root 1 0 R",
        "/Root 1 0 R /Encrypt << /Filter /Standard /V 1 /R 2 >>",
    );
    let encrypted = manager.raw(
        "POST",
        &format!("{documents}?name=locked.pdf"),
        Some(text.as_bytes()),
        Some("application/pdf"),
    );
    assert_eq!(encrypted.status, 400, "{:?}", encrypted.body);
    assert!(
        encrypted.body["message"]
            .as_str()
            .unwrap_or_default()
            .contains("encrypted"),
        "{:?}",
        encrypted.body
    );
    // 60 MB declared: refused before a byte of the body is read.
    let status = declared_upload(
        &service.app.base,
        &format!("{documents}?name=huge.pdf"),
        &manager,
        60 * 1024 * 1024,
    );
    assert_eq!(status, 413);
    let listed = admin.get(&documents);
    assert_eq!(
        listed.body.as_array().map(Vec::len),
        Some(1),
        "{:?}",
        listed.body
    );
    // Only the accepted PDF is kept in the store.
    let kept =
        crate::support::files_below(&service.app.db.dir.path().join("data/documents/sha256")).len();
    assert_eq!(kept, 1, "refused uploads leave nothing");

    // Fields on the rendered page: each checked against the page and the party.
    let document = listed.body[0]["id"].as_str().expect("document").to_owned();
    let contract = admin.get(&format!("/api/contracts/{id}"));
    let party_ids: Vec<String> = contract.body["parties"]
        .as_array()
        .expect("parties")
        .iter()
        .map(|p| p["id"].as_str().expect("id").to_owned())
        .collect();
    let fields = format!("/api/contracts/{id}/fields");
    let field = |kind: &str, party: &str, page: i64, x: f64| {
        json!({ "document": document, "party": party, "kind": kind, "page": page,
                "x": x, "y": 100, "width": 150, "height": 60, "label": "署名" })
    };
    let a = manager.post(&fields, field("signature", &party_ids[0], 1, 72.0));
    assert_eq!(a.status, 201, "{:?}", a.body);
    assert_eq!(
        (&a.body["kind"], &a.body["page"]),
        (&json!("signature"), &json!(1))
    );
    let a = manager.post(&fields, field("date_signed", &party_ids[1], 1, 300.0));
    assert_eq!(a.status, 201, "the outside signer's date: {:?}", a.body);
    // Outside the page (595 points wide), a page it does not have, a second signature of one
    // party on one document, a field for the approver (approvers fill nothing).
    let a = manager.post(&fields, field("text", &party_ids[0], 1, 500.0));
    assert_eq!(
        (a.status, a.field("x")),
        (400, "field_outside_page"),
        "{:?}",
        a.body
    );
    let a = manager.post(&fields, field("signature", &party_ids[0], 2, 72.0));
    assert_eq!((a.status, a.field("page")), (400, "field_page"));
    let a = manager.post(&fields, field("signature", &party_ids[0], 1, 300.0));
    assert_eq!((a.status, a.field("kind")), (400, "signature_field_placed"));
    let a = manager.post(&fields, field("signature", &party_ids[2], 1, 72.0));
    assert_eq!((a.status, a.field("party")), (400, "field_party_role"));
    let a = manager.post(&fields, field("date_signed", &party_ids[2], 1, 72.0));
    assert_eq!((a.status, a.field("party")), (400, "field_party_role"));
    let placed = admin.get(&fields);
    assert_eq!(
        placed.body.as_array().map(Vec::len),
        Some(2),
        "{:?}",
        placed.body
    );

    // Options: every problem named at once; then changed and in the history.
    let contract_path = format!("/api/contracts/{id}");
    let a = manager.patch(
        &contract_path,
        json!({ "reminder_days": 0, "max_reminders": 9 }),
    );
    assert_eq!(a.status, 400, "{:?}", a.body);
    assert_eq!(
        (a.field("reminder_days"), a.field("max_reminders")),
        ("reminder_days", "max_reminders")
    );
    let a = manager.patch(
        &contract_path,
        json!({ "reminder_days": 7, "max_reminders": 2, "allow_forwarding": true }),
    );
    assert_eq!(a.status, 200, "{:?}", a.body);
    assert_eq!(
        (
            &a.body["reminder_days"],
            &a.body["max_reminders"],
            &a.body["allow_forwarding"],
            &a.body["title"]
        ),
        (&json!(7), &json!(2), &json!(true), &json!("業務委託契約書"))
    );

    // The PDF comes back as it was stored, streamed, for the sender and the administrator.
    for api in [&mut manager, &mut admin] {
        let got = api.get(&format!("{documents}/{document}/pdf"));
        assert_eq!(got.status, 200);
        assert_eq!(got.header("content-type"), Some("application/pdf"));
        assert_eq!(got.bytes, pdf);
    }

    // A field, a document and a party removed from the draft (fields go with them).
    let field_id = placed
        .body
        .as_array()
        .and_then(|all| all.iter().find(|f| f["kind"] == json!("signature")))
        .and_then(|f| f["id"].as_str())
        .expect("the signature field")
        .to_owned();
    assert_eq!(manager.delete(&format!("{fields}/{field_id}")).status, 204);
    assert_eq!(manager.delete(&format!("{fields}/{field_id}")).status, 404);
    assert_eq!(admin.get(&fields).body.as_array().map(Vec::len), Some(1));
    assert_eq!(
        manager
            .delete(&format!("{parties}/{}", party_ids[1]))
            .status,
        204,
        "the outside signer, with their date field"
    );
    assert_eq!(admin.get(&fields).body.as_array().map(Vec::len), Some(0));
    assert_eq!(
        manager.delete(&format!("{documents}/{document}")).status,
        204
    );
    assert_eq!(
        crate::support::files_below(&service.app.db.dir.path().join("data/documents/sha256")).len(),
        0,
        "its bytes go with the last document referring to them"
    );

    // The administrator does not change it.
    let a = admin.post(
        &parties,
        json!({ "role": "copy_recipient", "step": 4, "email": "a@example.com", "name": "A" }),
    );
    assert_eq!(a.status, 403);
    // Cancelled by its sender with a reason; then nothing changes it any more.
    let cancel = format!("/api/contracts/{id}/cancel");
    let a = manager.post(&cancel, json!({ "reason": " " }));
    assert_eq!((a.status, a.field("reason")), (400, "required"));
    let a = manager.post(&cancel, json!({ "reason": "条件変更のため" }));
    assert_eq!(
        (a.status, &a.body["status"]),
        (200, &json!("cancelled")),
        "{:?}",
        a.body
    );
    assert_eq!(
        manager.post(&cancel, json!({ "reason": "again" })).status,
        409
    );
    let late = json!({ "role": "signer", "step": 1, "signature_kind": "simple", "email": "late@example.com", "name": "Late" });
    assert_eq!(manager.post(&parties, late).status, 409);
    let events = admin.get(&format!("/api/contracts/{id}/events"));
    let last = events
        .body
        .as_array()
        .and_then(|e| e.last())
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        (&last["kind"], &last["detail"]["reason"]),
        (&json!("contract.cancelled"), &json!("条件変更のため"))
    );
}

/// Sends only the headers of an upload declaring `length` bytes, and reads the status line the
/// server answers with before any body byte is sent.
fn declared_upload(base: &str, path: &str, api: &crate::service::Api, length: usize) -> u16 {
    use std::io::{BufRead, BufReader, Write};
    let address = base.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(address).expect("connect");
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .expect("timeout");
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {address}\r\nCookie: {}\r\nX-CSRF-Token: {}\r\n\
         Content-Type: application/pdf\r\nContent-Length: {length}\r\n\r\n",
        api.cookie.as_deref().expect("cookie"),
        api.csrf.as_deref().expect("csrf"),
    );
    stream.write_all(request.as_bytes()).expect("headers");
    let mut status = String::new();
    BufReader::new(stream)
        .read_line(&mut status)
        .expect("status line");
    status
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{status}"))
}

#[test]
fn drafts_and_parties_through_the_api_on_sqlite() {
    drafts_and_parties_through_the_api(Backend::Sqlite);
}

#[test]
fn drafts_and_parties_through_the_api_on_postgres() {
    drafts_and_parties_through_the_api(Backend::Postgres);
}

/// The list's parameters, the counts, the people a document manager may name, and the draft's
/// changes the preparation screen makes: a party's role, step and kind, a field moved, resized
/// and relabelled, the message to the parties.
fn lists_people_and_changes_through_the_api(backend: Backend) {
    let Some(service) = Service::start(backend) else {
        return;
    };
    let mut admin = service.admin();
    let (_, mut manager) = service.user(
        &mut admin,
        "dm@example.jp",
        &["document_manager"],
        "Manager2026x",
    );
    let (_, mut signer) = service.user(&mut admin, "signer@example.jp", &["signer"], "Signer2026x");
    service.user(
        &mut admin,
        "agent@example.jp",
        &["transaction_agent"],
        "Agent2026x",
    );

    // People: the organisation's active users by name or address, with why a certificate
    // signature is not available to each.
    let a = manager.get("/api/people?q=EXAMPLE.JP&limit=20");
    assert_eq!(a.status, 200, "{:?}", a.body);
    let people = a.body.as_array().expect("people").clone();
    let refusal = |email: &str| {
        people
            .iter()
            .find(|p| p["email"] == email)
            .map(|p| p["certificate_refusal"].clone())
            .unwrap_or_else(|| panic!("{email} in {people:?}"))
    };
    assert_eq!(refusal("signer@example.jp"), json!("error.no_certificate"));
    assert_eq!(
        refusal("agent@example.jp"),
        json!("error.agent_simple_only")
    );
    assert_eq!(refusal("dm@example.jp"), json!("error.not_a_signer"));
    assert_eq!(
        manager
            .get("/api/people?q=agent")
            .body
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    assert_eq!(
        manager.get("/api/people?q=%25").body,
        json!([]),
        "% is taken literally"
    );
    assert_eq!(
        manager
            .get("/api/people?limit=1")
            .body
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    let a = manager.get("/api/people?limit=21");
    assert_eq!((a.status, a.field("limit")), (400, "list_limit"));
    assert_eq!(signer.get("/api/people?q=a").status, 403);
    assert_eq!(admin.get("/api/people?q=a").status, 403);

    // A draft with a signer, changed as the preparation screen does.
    let id = manager
        .post("/api/contracts", json!({ "title": "変更する契約" }))
        .body["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let a = manager.raw(
        "POST",
        &format!("/api/contracts/{id}/documents?name=a.pdf"),
        Some(&crate::support::minimal_pdf("A")),
        Some("application/pdf"),
    );
    let document = a.body["id"].as_str().expect("document").to_owned();
    let a = manager.post(
        &format!("/api/contracts/{id}/parties"),
        json!({ "role": "signer", "step": 1, "signature_kind": "simple", "email": "guest@example.com", "name": "Guest" }),
    );
    let guest = a.body["id"].as_str().expect("party").to_owned();
    let party = format!("/api/contracts/{id}/parties/{guest}");
    let a = manager.patch(&party, json!({ "signature_kind": "certificate" }));
    assert_eq!(
        (a.status, a.field("signature_kind")),
        (400, "outside_party_simple_only")
    );
    let a = manager.patch(&party, json!({ "step": 0, "role": "boss" }));
    assert_eq!(
        (a.field("step"), a.field("role")),
        ("party_step", "party_role")
    );
    let a = manager.patch(&party, json!({ "step": 3, "name": "Guest Two" }));
    assert_eq!(a.status, 200, "{:?}", a.body);
    assert_eq!(
        (&a.body["step"], &a.body["name"]),
        (&json!(3), &json!("Guest Two"))
    );
    let a = manager.post(
        &format!("/api/contracts/{id}/fields"),
        json!({ "document": document, "party": guest, "kind": "text", "page": 1,
                "x": 60, "y": 100, "width": 150, "height": 20 }),
    );
    assert_eq!(a.status, 201, "{:?}", a.body);
    let field = format!(
        "/api/contracts/{id}/fields/{}",
        a.body["id"].as_str().expect("id")
    );
    let a = manager.patch(&field, json!({ "x": 100.5, "y": 200.25, "label": "住所" }));
    assert_eq!(a.status, 200, "{:?}", a.body);
    assert_eq!(
        (
            &a.body["x"],
            &a.body["y"],
            &a.body["width"],
            &a.body["label"]
        ),
        (&json!(100.5), &json!(200.25), &json!(150.0), &json!("住所"))
    );
    let a = manager.patch(&field, json!({ "x": 500 }));
    assert_eq!((a.status, a.field("x")), (400, "field_outside_page"));
    let a = manager.patch(&field, json!({ "width": 2 }));
    assert_eq!((a.status, a.field("width")), (400, "field_too_small"));
    let a = manager.patch(&field, json!({ "page": 2 }));
    assert_eq!((a.status, a.field("page")), (400, "field_page"));
    assert_eq!(
        manager
            .patch(
                &format!("/api/contracts/{id}/fields/none"),
                json!({ "x": 1 })
            )
            .status,
        404
    );
    // An approver fills nothing: their fields go with the change.
    let a = manager.patch(&party, json!({ "role": "approver" }));
    assert_eq!(a.status, 200, "{:?}", a.body);
    assert_eq!(a.body["signature_kind"], json!(null));
    assert_eq!(
        manager.get(&format!("/api/contracts/{id}/fields")).body,
        json!([])
    );
    let a = manager.patch(&party, json!({ "role": "signer" }));
    assert_eq!((a.status, a.field("signature_kind")), (400, "required"));
    // The message to the parties.
    let a = manager.patch(
        &format!("/api/contracts/{id}"),
        json!({ "message": "  ご確認ください\r\nよろしくお願いします  " }),
    );
    assert_eq!(a.status, 200, "{:?}", a.body);
    assert_eq!(a.body["message"], "ご確認ください\nよろしくお願いします");
    let a = manager.patch(
        &format!("/api/contracts/{id}"),
        json!({ "message": "あ".repeat(2001) }),
    );
    assert_eq!((a.status, a.field("message")), (400, "too_long"));
    let kinds: Vec<String> = admin
        .get(&format!("/api/contracts/{id}/events"))
        .body
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["kind"].as_str().expect("kind").to_owned())
        .collect();
    assert!(
        kinds.contains(&"contract.party_changed".to_owned()),
        "{kinds:?}"
    );
    assert!(
        kinds.contains(&"contract.field_changed".to_owned()),
        "{kinds:?}"
    );
    // Others change nothing: the administrator (read-only), after cancelling nobody.
    assert_eq!(admin.patch(&party, json!({ "step": 2 })).status, 403);
    assert_eq!(admin.patch(&field, json!({ "x": 1 })).status, 403);

    // The list: 12 more drafts; pages with their total and links; filters; counts.
    for n in 1..=12 {
        let a = manager.post("/api/contracts", json!({ "title": format!("草案 {n}") }));
        assert_eq!(a.status, 201);
    }
    let a = manager.post(
        &format!("/api/contracts/{id}/cancel"),
        json!({ "reason": "やり直し" }),
    );
    assert_eq!(a.status, 200, "{:?}", a.body);
    let all = manager.get("/api/contracts");
    assert_eq!(
        all.body.as_array().map(Vec::len),
        Some(13),
        "all of them fit a page"
    );
    assert_eq!(all.header("x-total-count"), Some("13"));
    assert_eq!(all.header("link"), None);
    let page = manager.get("/api/contracts?limit=5&page=2&sort=updated");
    assert_eq!(page.body.as_array().map(Vec::len), Some(5));
    let link = page.header("link").expect("a Link header").to_owned();
    assert!(link.contains("page=3>; rel=\"next\""), "{link}");
    assert!(link.contains("page=1>; rel=\"prev\""), "{link}");
    assert!(link.contains("sort=updated"), "{link}");
    let last = manager.get("/api/contracts?limit=5&page=3");
    assert_eq!(last.body.as_array().map(Vec::len), Some(3));
    assert!(!last.header("link").unwrap_or_default().contains("next"));
    let cancelled = manager.get("/api/contracts?status=cancelled");
    assert_eq!(cancelled.body[0]["id"], id.as_str());
    assert_eq!(cancelled.body.as_array().map(Vec::len), Some(1));
    assert_eq!(
        cancelled.body[0]["message"],
        "ご確認ください\nよろしくお願いします"
    );
    assert_eq!(cancelled.body[0]["sender_name"], "dm@example.jp");
    let found = manager.get("/api/contracts?q=guest%20two");
    assert_eq!(
        found.body.as_array().map(Vec::len),
        Some(1),
        "by a party's name, any case"
    );
    let found = manager.get("/api/contracts?q=%E8%8D%89%E6%A1%88%201");
    assert_eq!(
        found.body.as_array().map(Vec::len),
        Some(4),
        "草案 1, 10, 11, 12: {:?}",
        found.body
    );
    let a = manager.get("/api/contracts?status=done&sort=oldest&page=0&limit=101&waiting=maybe");
    assert_eq!(a.status, 400, "{:?}", a.body);
    assert_eq!(
        (
            a.field("status"),
            a.field("sort"),
            a.field("page"),
            a.field("limit"),
            a.field("waiting")
        ),
        (
            "list_status",
            "list_sort",
            "list_page",
            "list_limit",
            "list_flag"
        )
    );
    let counts = manager.get("/api/contracts/counts").body;
    assert_eq!(
        counts,
        json!({ "all": 13, "draft": 12, "sent": 0, "completed": 0, "declined": 0,
                "cancelled": 1, "expired": 0, "waiting": 0 })
    );
    assert_eq!(manager.get("/api/contracts/counts?q=guest").body["all"], 1);
    // A signer lists no contracts, but their turns (none) and their counts of them.
    assert_eq!(signer.get("/api/contracts").status, 403);
    assert_eq!(signer.get("/api/contracts?waiting=true").body, json!([]));
    assert_eq!(
        signer.get("/api/contracts/counts").body,
        json!({ "all": null, "draft": null, "sent": null, "completed": null, "declined": null,
                "cancelled": null, "expired": null, "waiting": 0 })
    );
    // The administrator reads the organisation's.
    assert_eq!(admin.get("/api/contracts/counts").body["all"], 13);
}

#[test]
fn lists_people_and_changes_through_the_api_on_sqlite() {
    lists_people_and_changes_through_the_api(Backend::Sqlite);
}

#[test]
fn lists_people_and_changes_through_the_api_on_postgres() {
    lists_people_and_changes_through_the_api(Backend::Postgres);
}
