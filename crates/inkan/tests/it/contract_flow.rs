//! A contract from sending to completion, end to end against the real server, a real SMTP
//! server on loopback and Inkan's own CA, on SQLite and on PostgreSQL: two documents; step 1 an
//! internal certificate signer with a PIN, step 2 in parallel a transaction agent (simple) and
//! an outside party (simple, one-time code read from the delivered mail), step 3 an internal
//! approver, step 4 a certificate signer of another organisation on the same instance. The
//! final PDFs pass the independent validators at B-LTA with revocation checked, `inkan verify`
//! agrees, pdftoppm shows each seal in its rectangle, and the certificate of completion lists
//! every event and validates. Refusals on the way, each with its message and nothing changed.

use std::path::Path;

use serde_json::{json, Value};

use crate::lifecycle::{issue, red_pixels, service_with_ca};
use crate::serve::Backend;
use crate::service::{labelled, Api, Service};
use crate::support::{inkan, minimal_pdf, validate_with};

/// The personal link's token in the newest mail to `to` with `subject`.
pub fn link_token(service: &Service, to: &str, subject: &str) -> String {
    let mail = service.mail_to(to, subject);
    let body = mail["body"].as_str().expect("body");
    let link = body
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("https://sign.example.jp/sign/"))
        .unwrap_or_else(|| panic!("no link in {body}"));
    link.rsplit('/').next().expect("token").to_owned()
}

/// The subjects of the request and completion mails (the sender's organisation is "Inkan").
const REQUEST: &str = "【署名依頼】業務委託契約書（Inkan）";
const COMPLETED: &str = "【締結完了】業務委託契約書（Inkan）";

/// The signature fields' rectangles: (party index, x) on page 1 of the first document.
const SEALS: [(usize, f64); 4] = [(0, 40.0), (1, 175.0), (2, 310.0), (4, 445.0)];
const SEAL_Y: f64 = 80.0;
const SEAL_W: f64 = 120.0;
const SEAL_H: f64 = 60.0;

fn contract_from_sending_to_completion(backend: Backend) {
    let Some((service, ca)) = service_with_ca(backend) else {
        return;
    };
    let root = ca.path().join("ca/root.pem");
    let root = root.to_str().expect("root");
    let work = tempfile::tempdir().expect("tempdir");
    let mut admin = service.admin();
    let mut op = service.operator();
    let (_, mut manager) = service.user(
        &mut admin,
        "dm@example.jp",
        &["document_manager"],
        "Manager2026x",
    );
    // Step 1: a signer with a PIN set before the certificate (its key sealed to the PIN).
    let (_, mut signer) = service.user(&mut admin, "yamada@example.jp", &["signer"], "Yamada2026x");
    let a = signer.call(
        "PUT",
        "/api/me/pin",
        Some(&json!({ "pin": "Pin12345678", "confirm": "Pin12345678" })),
    );
    assert_eq!(a.status, 200, "{:?}", a.body);
    issue(&mut signer, &mut op, "order-yamada", 1);
    let (_, mut agent) = service.user(
        &mut admin,
        "agent@example.jp",
        &["transaction_agent"],
        "Agent2026x",
    );
    let (_, mut approver) = service.user(&mut admin, "bucho@example.jp", &["signer"], "Bucho2026x");
    // Step 4: a signer of another organisation on the instance.
    let mut other_admin = service.other_org_admin(&mut op);
    let (_, mut partner) = service.user(
        &mut other_admin,
        "partner@example.com",
        &["signer"],
        "Partner2026x",
    );
    issue(&mut partner, &mut op, "order-partner", 2);

    // The draft: two documents, five parties in four steps, fields for every signer.
    let a = manager.post("/api/contracts", json!({ "title": "業務委託契約書" }));
    assert_eq!(a.status, 201, "{:?}", a.body);
    let id = a.body["id"].as_str().expect("id").to_owned();
    let mut documents = Vec::new();
    for (name, text) in [("本体.pdf", "Main agreement"), ("別紙.pdf", "Annex")] {
        let a = manager.raw(
            "POST",
            &format!("/api/contracts/{id}/documents?name={name}"),
            Some(&minimal_pdf(text)),
            Some("application/pdf"),
        );
        assert_eq!(a.status, 201, "{:?}", a.body);
        documents.push(a.body["id"].as_str().expect("id").to_owned());
    }
    let parties = [
        json!({ "role": "signer", "step": 1, "signature_kind": "certificate", "email": "yamada@example.jp" }),
        json!({ "role": "signer", "step": 2, "signature_kind": "simple", "email": "agent@example.jp" }),
        json!({ "role": "signer", "step": 2, "signature_kind": "simple", "email": "guest@example.com", "name": "外部 太郎" }),
        json!({ "role": "approver", "step": 3, "email": "bucho@example.jp" }),
        json!({ "role": "signer", "step": 4, "signature_kind": "certificate", "email": "partner@example.com" }),
        json!({ "role": "copy_recipient", "step": 4, "email": "archive@example.jp", "name": "保管係" }),
    ];
    let mut party_ids = Vec::new();
    for p in parties {
        let a = manager.post(&format!("/api/contracts/{id}/parties"), p);
        assert_eq!(a.status, 201, "{:?}", a.body);
        party_ids.push(a.body["id"].as_str().expect("id").to_owned());
    }
    let fields = format!("/api/contracts/{id}/fields");
    let place = |api: &mut Api,
                 document: &str,
                 party: usize,
                 kind: &str,
                 x: f64,
                 y: f64,
                 w: f64,
                 h: f64| {
        let a = api.post(
            &fields,
            json!({ "document": document, "party": party_ids[party], "kind": kind, "page": 1,
                    "x": x, "y": y, "width": w, "height": h, "label": "" }),
        );
        assert_eq!(a.status, 201, "{kind}: {:?}", a.body);
        a.body["id"].as_str().expect("id").to_owned()
    };
    for (party, x) in SEALS {
        place(
            &mut manager,
            &documents[0],
            party,
            "signature",
            x,
            SEAL_Y,
            SEAL_W,
            SEAL_H,
        );
    }
    place(
        &mut manager,
        &documents[1],
        0,
        "signature",
        40.0,
        80.0,
        120.0,
        60.0,
    );
    let address = place(
        &mut manager,
        &documents[0],
        0,
        "text",
        40.0,
        400.0,
        300.0,
        20.0,
    );
    place(
        &mut manager,
        &documents[0],
        0,
        "date_signed",
        40.0,
        370.0,
        150.0,
        20.0,
    );
    place(
        &mut manager,
        &documents[0],
        1,
        "name",
        40.0,
        340.0,
        150.0,
        20.0,
    );
    let agreed = place(
        &mut manager,
        &documents[0],
        2,
        "checkbox",
        40.0,
        310.0,
        14.0,
        14.0,
    );
    // Refusal: a field outside the page.
    let a = manager.post(
        &fields,
        json!({ "document": documents[0], "party": party_ids[0], "kind": "text", "page": 1,
                "x": 500, "y": 800, "width": 200, "height": 100, "label": "" }),
    );
    assert_eq!((a.status, a.field("x")), (400, "field_outside_page"));

    // The organisation's administrator subscribes a receiver to every contract event.
    let receiver = crate::webhooks::Receiver::start(&[200]);
    let a = admin.post(
        "/api/webhooks",
        json!({ "url": receiver.url, "events": ["contract.sent", "contract.opened",
                "contract.signed", "contract.approved", "contract.declined",
                "contract.cancelled", "contract.expired", "contract.completed"] }),
    );
    assert_eq!(a.status, 201, "{:?}", a.body);

    let sent = manager.post(&format!("/api/contracts/{id}/send"), json!({}));
    assert_eq!(sent.status, 200, "{:?}", sent.body);
    assert_eq!(sent.body["status"], "sent");
    // Sent once: a second send is refused.
    let again = manager.post(&format!("/api/contracts/{id}/send"), json!({}));
    assert_eq!((again.status, again.code()), (409, "contract_not_draft"));

    // The prepared document carries every field (empty) and the contract ID before anyone signs.
    let prepared = manager.get(&format!(
        "/api/contracts/{id}/documents/{}/pdf",
        documents[0]
    ));
    assert_eq!(prepared.status, 200);
    let prepared_path = work.path().join("prepared.pdf");
    std::fs::write(&prepared_path, &prepared.bytes).expect("write");
    let text = pdftotext(&prepared_path);
    assert!(text.contains(&id), "the contract ID on the page: {text}");

    // Step 1: the certificate signer, logged in, with the PIN.
    let token1 = link_token(&service, "yamada@example.jp", REQUEST);
    let anonymous = service.api().get(&format!("/api/party/{token1}"));
    assert_eq!(anonymous.body["stage"], "login", "{:?}", anonymous.body);
    assert!(anonymous.body["documents"]
        .as_array()
        .expect("docs")
        .is_empty());
    // Another user (the agent) is not this party.
    let a = agent.get(&format!("/api/party/{token1}"));
    assert_eq!(a.body["stage"], "login");
    let a = agent.post(&format!("/api/party/{token1}/sign"), json!({}));
    assert_eq!(a.status, 401, "{:?}", a.body);
    let view = signer.get(&format!("/api/party/{token1}"));
    assert_eq!(view.body["stage"], "act", "{:?}", view.body);
    assert_eq!(view.body["documents"].as_array().expect("docs").len(), 2);
    // Refusals: a missing text field, a wrong PIN; nothing signed.
    let a = signer.post(
        &format!("/api/party/{token1}/sign"),
        json!({ "pin": "Pin12345678" }),
    );
    assert_eq!((a.status, a.field("fields")), (400, "field_required"));
    let a = signer.post(
        &format!("/api/party/{token1}/sign"),
        json!({ "fields": { &address: "東京都千代田区千代田1-1" }, "pin": "Wrong1234567" }),
    );
    assert_eq!((a.status, a.field("pin")), (400, "pin_wrong"));
    let a = signer.post(
        &format!("/api/party/{token1}/sign"),
        json!({ "fields": { &address: "東京都千代田区千代田1-1" }, "pin": "Pin12345678" }),
    );
    assert_eq!(a.status, 200, "{:?}", a.body);
    assert_eq!(a.body["status"], "done");
    // Signing again changes nothing.
    let a = signer.post(
        &format!("/api/party/{token1}/sign"),
        json!({ "fields": { &address: "x" }, "pin": "Pin12345678" }),
    );
    assert_eq!((a.status, a.code()), (409, "party_already_acted"));

    // Step 2 in parallel: the outside party with a one-time code, the agent logged in.
    let token_guest = link_token(&service, "guest@example.com", REQUEST);
    let token_agent = link_token(&service, "agent@example.jp", REQUEST);
    let mut guest = service.api();
    assert_eq!(
        guest.get(&format!("/api/party/{token_guest}")).body["stage"],
        "code"
    );
    assert_eq!(
        guest
            .post(&format!("/api/party/{token_guest}/code"), json!({}))
            .status,
        204
    );
    let code = labelled(
        service.mail_to("guest@example.com", "【確認コード】業務委託契約書")["body"]
            .as_str()
            .expect("body"),
        "確認コード:",
    );
    let wrong = if code == "000000" { "000001" } else { "000000" };
    let a = guest.post(
        &format!("/api/party/{token_guest}/code/confirm"),
        json!({ "code": wrong }),
    );
    assert_eq!((a.status, a.field("code")), (400, "code_wrong"));
    // Without the session, the outside party cannot sign.
    let a = guest.post(&format!("/api/party/{token_guest}/sign"), json!({}));
    assert_eq!(a.status, 403, "{:?}", a.body);
    let a = guest.post(
        &format!("/api/party/{token_guest}/code/confirm"),
        json!({ "code": code }),
    );
    assert_eq!(a.status, 200, "{:?}", a.body);
    let session = a.body["session"].as_str().expect("session").to_owned();
    guest.headers = vec![("X-Inkan-Party".into(), session)];
    assert_eq!(
        guest.get(&format!("/api/party/{token_guest}")).body["stage"],
        "act"
    );
    // The outside party cannot use the agent's slot.
    let a = guest.post(&format!("/api/party/{token_agent}/sign"), json!({}));
    assert_eq!(a.status, 401, "{:?}", a.body);
    let a = guest.post(
        &format!("/api/party/{token_guest}/sign"),
        json!({ "fields": { &agreed: true } }),
    );
    assert_eq!(a.status, 200, "{:?}", a.body);
    let a = agent.post(&format!("/api/party/{token_agent}/sign"), json!({}));
    assert_eq!(a.status, 200, "{:?}", a.body);

    // Step 3: the approver.
    let token3 = link_token(&service, "bucho@example.jp", REQUEST);
    let a = approver.post(&format!("/api/party/{token3}/sign"), json!({}));
    assert_eq!((a.status, a.code()), (400, "not_a_signer"));
    let a = approver.post(&format!("/api/party/{token3}/approve"), json!({}));
    assert_eq!(a.status, 204, "{:?}", a.body);

    // Step 4: the other organisation's certificate signer (no PIN).
    let token4 = link_token(&service, "partner@example.com", REQUEST);
    let a = partner.post(&format!("/api/party/{token4}/sign"), json!({}));
    assert_eq!(a.status, 200, "{:?}", a.body);

    // Completion: the job adds the validation data and document timestamps, the certificate.
    let completed = wait_for_status(&mut manager, &id, "completed");
    assert!(completed["completed_at"].is_i64());
    let mut signed = Vec::new();
    for (n, document) in documents.iter().enumerate() {
        let a = manager.get(&format!("/api/contracts/{id}/documents/{document}/pdf"));
        assert_eq!(a.status, 200);
        let path = work.path().join(format!("final-{n}.pdf"));
        std::fs::write(&path, &a.bytes).expect("write");
        // Four signatures in each (the approver signs nothing), then the document timestamp.
        let (valid, verdict) = validate_with(
            &path,
            root,
            &["--level", "B-LTA", "--revocation", "--signatures", "4"],
        );
        assert!(valid, "document {n}: {verdict}");
        let out = inkan(&[
            "verify",
            path.to_str().expect("path"),
            "--trust",
            root,
            "--json",
        ]);
        assert!(
            out.status.success(),
            "inkan verify: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        signed.push((path, a.bytes));
    }
    for (party, x) in SEALS {
        let (inside, _) = red_pixels(&signed[0].0, (x, SEAL_Y, SEAL_W, SEAL_H));
        assert!(
            inside > 50,
            "party {party}'s seal in its rectangle: {inside} red pixels"
        );
    }
    // The values the parties filled in, as the contract keeps them.
    let placed = manager.get(&format!("/api/contracts/{id}/fields")).body;
    let value = |field: &str| {
        placed
            .as_array()
            .expect("fields")
            .iter()
            .find(|f| f["id"] == field)
            .map(|f| f["value"].clone())
            .expect("field")
    };
    assert_eq!(value(&address), json!("東京都千代田区千代田1-1"));
    assert_eq!(value(&agreed), json!("true"));
    assert!(
        pdftotext(&signed[0].0).contains(&id),
        "the contract ID still on the page"
    );

    let certificate = manager.get(&format!("/api/contracts/{id}/certificate"));
    assert_eq!(certificate.status, 200, "{}", certificate.text);
    let certificate_path = work.path().join("certificate.pdf");
    std::fs::write(&certificate_path, &certificate.bytes).expect("write");
    let (valid, verdict) = validate_with(
        &certificate_path,
        root,
        &["--level", "B-LTA", "--revocation"],
    );
    assert!(valid, "certificate of completion: {verdict}");
    let text = pdftotext(&certificate_path);
    let events = manager.get(&format!("/api/contracts/{id}/events")).body;
    for e in events.as_array().expect("events") {
        if e["kind"] == "contract.completed" {
            continue;
        }
        let email = e["actor_email"].as_str().unwrap_or_default();
        assert!(text.contains(email), "{email} in the certificate");
    }
    for sha in [sha256(&signed[0].1), sha256(&signed[1].1)] {
        assert!(
            text.contains(&sha),
            "the final SHA-256 {sha} in the certificate"
        );
    }
    // The audit log has the certificate's SHA-256.
    let audit = admin.get("/api/audit").text;
    assert!(
        audit.contains(&sha256(&certificate.bytes)),
        "the certificate's SHA-256 audited"
    );

    // Every party and the sender were mailed the signed PDFs and the certificate, attached, with
    // a link to the trust page.
    for to in [
        "yamada@example.jp",
        "agent@example.jp",
        "guest@example.com",
        "bucho@example.jp",
        "partner@example.com",
        "archive@example.jp",
        "dm@example.jp",
    ] {
        let mail = service.mail_to(to, COMPLETED);
        let attached: Vec<&str> = mail["attachments"]
            .as_array()
            .expect("attachments")
            .iter()
            .map(|a| a["sha256"].as_str().expect("sha"))
            .collect();
        assert!(
            attached.contains(&sha256(&signed[0].1).as_str()),
            "{to}: {mail:?}"
        );
        assert!(
            attached.contains(&sha256(&certificate.bytes).as_str()),
            "{to}"
        );
        // And the way to make Acrobat trust the signatures: the trust page.
        assert!(
            mail["body"]
                .as_str()
                .is_some_and(|b| b.contains("https://sign.example.jp/trust")),
            "{to}: {mail:?}"
        );
    }
    // The outside party downloads from their link while it lasts, with a new code session.
    let token_done = link_token(&service, "guest@example.com", COMPLETED);
    let mut later = service.api();
    assert_eq!(
        later.get(&format!("/api/party/{token_done}")).body["stage"],
        "code"
    );
    let a = later.get(&format!("/api/party/{token_done}/certificate"));
    assert_eq!(a.status, 403);

    // The webhook receiver heard every step: sent, each opening and signature, the approval,
    // the completion — each about this contract.
    crate::support::wait_until(
        std::time::Duration::from_secs(30),
        "the completion's webhook",
        || {
            receiver
                .received()
                .iter()
                .any(|r| r.body.contains("\"contract.completed\""))
        },
    );
    let mut types: Vec<String> = receiver
        .received()
        .iter()
        .map(|r| {
            let body: Value = serde_json::from_str(&r.body).expect("JSON");
            assert_eq!(body["data"]["contract"], json!(id), "{body}");
            body["type"].as_str().expect("type").to_owned()
        })
        .collect();
    types.sort();
    let count = |t: &str| types.iter().filter(|x| *x == t).count();
    assert_eq!(
        (
            count("contract.sent"),
            count("contract.signed"),
            count("contract.approved"),
            count("contract.completed")
        ),
        (1, 4, 1, 1),
        "{types:?}"
    );
    // Opened: the parties who viewed their link before acting (the others acted through the API).
    assert!(count("contract.opened") >= 2, "{types:?}");

    // A completed contract refuses cancelling and signing.
    let a = manager.post(
        &format!("/api/contracts/{id}/cancel"),
        json!({ "reason": "x" }),
    );
    assert_eq!((a.status, a.code()), (409, "contract_closed"));
    let a = partner.post(&format!("/api/party/{token4}/sign"), json!({}));
    assert_eq!((a.status, a.code()), (409, "contract_completed"));
}

pub fn wait_for_status(manager: &mut Api, id: &str, status: &str) -> Value {
    let started = std::time::Instant::now();
    loop {
        let c = manager.get(&format!("/api/contracts/{id}"));
        if c.body["status"] == status {
            return c.body;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(120),
            "the contract did not become {status}: {:?}",
            c.body
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

fn pdftotext(path: &Path) -> String {
    let out = std::process::Command::new("pdftotext")
        .args(["-enc", "UTF-8"])
        .arg(path)
        .arg("-")
        .output()
        .expect("pdftotext runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes))
}

#[test]
fn contract_from_sending_to_completion_on_sqlite() {
    contract_from_sending_to_completion(Backend::Sqlite);
}

#[test]
fn contract_from_sending_to_completion_on_postgres() {
    contract_from_sending_to_completion(Backend::Postgres);
}

/// A sent contract with `signers` internal simple signers in one step (a signature field each
/// on one page, in a grid), each logged in; returns (contract id, document id, the signers'
/// APIs with their link tokens).
pub fn parallel_contract(
    service: &Service,
    admin: &mut Api,
    manager: &mut Api,
    signers: usize,
) -> (String, String, Vec<(Api, String)>) {
    let id = manager
        .post("/api/contracts", json!({ "title": "同時署名" }))
        .body["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let document = manager
        .raw(
            "POST",
            &format!("/api/contracts/{id}/documents?name=同時.pdf"),
            Some(&minimal_pdf("Parallel")),
            Some("application/pdf"),
        )
        .body["id"]
        .as_str()
        .expect("document")
        .to_owned();
    let mut apis = Vec::new();
    for i in 0..signers {
        let email = format!("agent{i}@example.jp");
        let (_, api) = service.user(admin, &email, &["transaction_agent"], "Agent2026x");
        let party = manager.post(
            &format!("/api/contracts/{id}/parties"),
            json!({ "role": "signer", "step": 1, "signature_kind": "simple", "email": email }),
        );
        assert_eq!(party.status, 201, "{:?}", party.body);
        let (col, row) = ((i % 4) as f64, (i / 4) as f64);
        let a = manager.post(
            &format!("/api/contracts/{id}/fields"),
            json!({ "document": document, "party": party.body["id"], "kind": "signature",
                    "page": 1, "x": 20.0 + col * 140.0, "y": 40.0 + row * 70.0,
                    "width": 130, "height": 60 }),
        );
        assert_eq!(a.status, 201, "{:?}", a.body);
        apis.push((api, email));
    }
    let sent = manager.post(&format!("/api/contracts/{id}/send"), json!({}));
    assert_eq!(sent.status, 200, "{:?}", sent.body);
    let apis = apis
        .into_iter()
        .map(|(api, email)| {
            let token = link_token(service, &email, "【署名依頼】同時署名（Inkan）");
            (api, token)
        })
        .collect();
    (id, document, apis)
}

/// Twenty parallel signers of one step sign at once (twenty concurrent requests): every one
/// is answered signed, and the final PDF holds twenty valid signatures, none lost, none doubled.
fn twenty_parallel_signers_sign_at_once(backend: Backend) {
    let Some((service, ca)) = service_with_ca(backend) else {
        return;
    };
    let root = ca.path().join("ca/root.pem");
    let mut admin = service.admin();
    let (_, mut manager) = service.user(
        &mut admin,
        "dm@example.jp",
        &["document_manager"],
        "Manager2026x",
    );
    let (id, document, signers) = parallel_contract(&service, &mut admin, &mut manager, 20);
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(signers.len()));
    let threads: Vec<_> = signers
        .into_iter()
        .map(|(mut api, token)| {
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                barrier.wait();
                let a = api.post(&format!("/api/party/{token}/sign"), json!({}));
                (a.status, a.body)
            })
        })
        .collect();
    for t in threads {
        let (status, body) = t.join().expect("a signer's thread");
        assert_eq!(status, 200, "{body:?}");
        assert_eq!(body["status"], "done");
    }
    wait_for_status(&mut manager, &id, "completed");
    let a = manager.get(&format!("/api/contracts/{id}/documents/{document}/pdf"));
    let work = tempfile::tempdir().expect("tempdir");
    let path = work.path().join("parallel.pdf");
    std::fs::write(&path, &a.bytes).expect("write");
    let (valid, verdict) = validate_with(
        &path,
        root.to_str().expect("root"),
        &["--level", "B-LTA", "--revocation", "--signatures", "20"],
    );
    assert!(valid, "{verdict}");
    let events = manager.get(&format!("/api/contracts/{id}/events")).body;
    let signed = events
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["kind"] == "party.signed")
        .count();
    assert_eq!(signed, 20);
    // Each signature kept only what it appended, as a version of the document before it: the
    // 20 versions together are smaller than the final PDF, which holds every one of them (kept
    // whole, each would be larger than the one before).
    let versions =
        crate::support::files_below(&service.app.db.dir.path().join("data/documents/versions"));
    assert_eq!(versions.len(), 20, "{versions:?}");
    let mut kept = 0;
    for version in &versions {
        let bytes = std::fs::read(version).expect("a version");
        assert!(
            bytes.starts_with(b"inkan-version-1 "),
            "{}",
            version.display()
        );
        kept += bytes.len();
    }
    assert!(
        kept < a.bytes.len(),
        "{kept} bytes kept for a {}-byte PDF",
        a.bytes.len()
    );
}

#[test]
fn twenty_parallel_signers_sign_at_once_on_sqlite() {
    twenty_parallel_signers_sign_at_once(Backend::Sqlite);
}

#[test]
fn twenty_parallel_signers_sign_at_once_on_postgres() {
    twenty_parallel_signers_sign_at_once(Backend::Postgres);
}

/// The server is killed (SIGKILL) in the middle of a signature — the signed copy stored,
/// nothing recorded — and started again on the same database and documents: the signature's
/// job is taken over once its lease has run out (the clock is moved, not waited for), and the
/// contract completes with the signature present exactly once.
fn a_signature_interrupted_by_sigkill_is_finished_once_after_restart(backend: Backend) {
    let hold = tempfile::tempdir().expect("tempdir");
    let clock = tempfile::tempdir().expect("tempdir");
    let clock_file = clock.path().join("offset");
    crate::service::set_clock(&clock_file, 0);
    let hold_env = hold.path().display().to_string();
    let clock_env = clock_file.display().to_string();
    let Some((mut service, ca)) = crate::lifecycle::service_with_ca_env(
        backend,
        &[
            ("INKAN_TEST_HOLD_DIR", hold_env.as_str()),
            ("INKAN_TEST_CLOCK_FILE", clock_env.as_str()),
        ],
    ) else {
        return;
    };
    let root = ca.path().join("ca/root.pem");
    let mut admin = service.admin();
    let (_, mut manager) = service.user(
        &mut admin,
        "dm@example.jp",
        &["document_manager"],
        "Manager2026x",
    );
    let (id, document, mut signers) = parallel_contract(&service, &mut admin, &mut manager, 1);
    let (mut agent, token) = signers.remove(0);
    // The request never gets its answer: its server dies holding the signature.
    let request = std::thread::spawn(move || {
        agent.post(&format!("/api/party/{token}/sign"), json!({}));
    });
    crate::support::wait_until(
        std::time::Duration::from_secs(60),
        "the signature to reach its hold point",
        || hold.path().join("contract_signature.held").exists(),
    );
    let listen = service
        .app
        .base
        .strip_prefix("http://")
        .expect("base")
        .to_owned();
    let data = service.app.db.dir.path().join("data");
    service.app.kill();
    let _ = request.join();
    // The same address (the CA's URLs name it) and the same documents, without the hold.
    crate::service::set_clock(&clock_file, 180);
    let data_env = data.display().to_string();
    let ca_env = ca.path().join("ca").display().to_string();
    let restarted = service.start_another(&[
        ("INKAN_LISTEN", listen.as_str()),
        ("INKAN_DATA_DIR", data_env.as_str()),
        ("INKAN_CA_DIR", ca_env.as_str()),
        ("INKAN_TEST_CLOCK_FILE", clock_env.as_str()),
    ]);
    let mut manager = Api::new(&restarted.base);
    assert_eq!(manager.login("dm@example.jp", "Manager2026x").status, 200);
    wait_for_status(&mut manager, &id, "completed");
    let a = manager.get(&format!("/api/contracts/{id}/documents/{document}/pdf"));
    let work = tempfile::tempdir().expect("tempdir");
    let path = work.path().join("recovered.pdf");
    std::fs::write(&path, &a.bytes).expect("write");
    let (valid, verdict) = validate_with(
        &path,
        root.to_str().expect("root"),
        &["--level", "B-LTA", "--revocation", "--signatures", "1"],
    );
    assert!(valid, "{verdict}");
    let events = manager.get(&format!("/api/contracts/{id}/events")).body;
    let kinds: Vec<&str> = events
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["kind"].as_str())
        .collect();
    assert_eq!(
        kinds.iter().filter(|k| **k == "party.signed").count(),
        1,
        "{kinds:?}"
    );
}

#[test]
fn a_signature_interrupted_by_sigkill_is_finished_once_after_restart_on_sqlite() {
    a_signature_interrupted_by_sigkill_is_finished_once_after_restart(Backend::Sqlite);
}

#[test]
fn a_signature_interrupted_by_sigkill_is_finished_once_after_restart_on_postgres() {
    a_signature_interrupted_by_sigkill_is_finished_once_after_restart(Backend::Postgres);
}

/// A contract with one outside signer (a signature field), sent; returns (id, token).
fn outside_contract(
    service: &Service,
    manager: &mut Api,
    title: &str,
    email: &str,
) -> (String, String) {
    outside_contract_with(service, manager, title, email, json!({}))
}

/// [`outside_contract`] with the draft's `options` set before sending.
fn outside_contract_with(
    service: &Service,
    manager: &mut Api,
    title: &str,
    email: &str,
    options: Value,
) -> (String, String) {
    let id = manager
        .post("/api/contracts", json!({ "title": title }))
        .body["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let document = manager
        .raw(
            "POST",
            &format!("/api/contracts/{id}/documents?name=a.pdf"),
            Some(&minimal_pdf("Refusals")),
            Some("application/pdf"),
        )
        .body["id"]
        .as_str()
        .expect("document")
        .to_owned();
    let party = manager.post(
        &format!("/api/contracts/{id}/parties"),
        json!({ "role": "signer", "step": 1, "signature_kind": "simple", "email": email, "name": "外部 花子" }),
    );
    let a = manager.post(
        &format!("/api/contracts/{id}/fields"),
        json!({ "document": document, "party": party.body["id"], "kind": "signature", "page": 1,
                "x": 50, "y": 50, "width": 120, "height": 60 }),
    );
    assert_eq!(a.status, 201, "{:?}", a.body);
    let a = manager.patch(&format!("/api/contracts/{id}"), options);
    assert_eq!(a.status, 200, "{:?}", a.body);
    let sent = manager.post(&format!("/api/contracts/{id}/send"), json!({}));
    assert_eq!(sent.status, 200, "{:?}", sent.body);
    let token = link_token(service, email, &format!("【署名依頼】{title}（Inkan）"));
    (id, token)
}

/// How many messages to `to` with `subject` arrived so far.
fn mails(service: &Service, to: &str, subject: &str) -> usize {
    service
        .smtp
        .messages()
        .iter()
        .filter(|m| m["to"] == to && m["subject"] == subject)
        .count()
}

/// An outside party's session from a new code read from their mail.
fn code_session(service: &Service, guest: &mut Api, token: &str, email: &str, title: &str) {
    let subject = format!("【確認コード】{title}");
    let before = mails(service, email, &subject);
    assert_eq!(
        guest
            .post(&format!("/api/party/{token}/code"), json!({}))
            .status,
        204
    );
    crate::support::wait_until(std::time::Duration::from_secs(30), "the new code", || {
        mails(service, email, &subject) > before
    });
    let code = labelled(
        service.mail_to(email, &subject)["body"]
            .as_str()
            .expect("body"),
        "確認コード:",
    );
    let a = guest.post(
        &format!("/api/party/{token}/code/confirm"),
        json!({ "code": code }),
    );
    assert_eq!(a.status, 200, "{:?}", a.body);
    guest.headers = vec![(
        "X-Inkan-Party".into(),
        a.body["session"].as_str().expect("session").to_owned(),
    )];
}

/// The refusals of a contract's flow, each with its message and nothing changed, and its
/// timers: sending without a certificate or a signature field; the sixth code; a cancelled
/// contract (the asked party mailed, their link closed); a declined one (the sender mailed);
/// reminders on demand and automatic ones; expiry (the sender mailed, signing refused).
fn refusals_reminders_and_expiry(backend: Backend) {
    let clock = tempfile::tempdir().expect("tempdir");
    let clock_file = clock.path().join("offset");
    crate::service::set_clock(&clock_file, 0);
    let clock_env = clock_file.display().to_string();
    let Some((service, _ca)) = crate::lifecycle::service_with_ca_env(
        backend,
        &[
            ("INKAN_TEST_CLOCK_FILE", clock_env.as_str()),
            ("INKAN_SCHEDULER_SECONDS", "1"),
        ],
    ) else {
        return;
    };
    let mut admin = service.admin();
    let (_, mut manager) = service.user(
        &mut admin,
        "dm@example.jp",
        &["document_manager"],
        "Manager2026x",
    );
    service.user(&mut admin, "nocert@example.jp", &["signer"], "Nocert2026x");

    // Sending: a certificate signer without a certificate and without a field, refused at once.
    let id = manager
        .post("/api/contracts", json!({ "title": "未完成" }))
        .body["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let a = manager.post(&format!("/api/contracts/{id}/send"), json!({}));
    assert_eq!(a.status, 409, "{:?}", a.body);
    assert_eq!(
        (a.field("documents"), a.field("parties")),
        ("contract_no_documents", "contract_no_signers")
    );
    manager.raw(
        "POST",
        &format!("/api/contracts/{id}/documents?name=a.pdf"),
        Some(&minimal_pdf("x")),
        Some("application/pdf"),
    );
    manager.post(
        &format!("/api/contracts/{id}/parties"),
        json!({ "role": "signer", "step": 1, "signature_kind": "certificate", "email": "nocert@example.jp" }),
    );
    let a = manager.post(&format!("/api/contracts/{id}/send"), json!({}));
    assert_eq!(
        (a.status, a.field("parties"), a.field("fields")),
        (409, "party_without_certificate", "signer_without_field"),
        "{:?}",
        a.body
    );
    assert_eq!(
        manager.get(&format!("/api/contracts/{id}")).body["status"],
        "draft"
    );

    // The one-time code: five wrong entries end it, even the right one after them.
    let (id1, token1) = outside_contract(&service, &mut manager, "取消テスト", "one@example.com");
    let mut guest = service.api();
    assert_eq!(
        guest
            .post(&format!("/api/party/{token1}/code"), json!({}))
            .status,
        204
    );
    let code = labelled(
        service.mail_to("one@example.com", "【確認コード】取消テスト")["body"]
            .as_str()
            .expect("body"),
        "確認コード:",
    );
    let wrong = if code == "000000" { "000001" } else { "000000" };
    for n in 1..=5 {
        let a = guest.post(
            &format!("/api/party/{token1}/code/confirm"),
            json!({ "code": wrong }),
        );
        let want = if n == 5 { "code_used_up" } else { "code_wrong" };
        assert_eq!((a.status, a.field("code")), (400, want), "try {n}");
    }
    let a = guest.post(
        &format!("/api/party/{token1}/code/confirm"),
        json!({ "code": code }),
    );
    assert_eq!(
        (a.status, a.field("code")),
        (400, "code_expired"),
        "the sixth try"
    );
    code_session(
        &service,
        &mut guest,
        &token1,
        "one@example.com",
        "取消テスト",
    );
    assert_eq!(
        guest.get(&format!("/api/party/{token1}")).body["stage"],
        "act"
    );

    // A reminder on demand mails a new link; both links work.
    let a = manager.post(&format!("/api/contracts/{id1}/remind"), json!({}));
    assert_eq!((a.status, &a.body["reminded"]), (200, &json!(1)));
    let again = link_token(
        &service,
        "one@example.com",
        "【署名依頼・再送】取消テスト（Inkan）",
    );
    assert_ne!(again, token1);
    assert_eq!(
        guest.get(&format!("/api/party/{again}")).body["stage"],
        "act"
    );

    // Forwarding: refused unless the sender allowed it; then the place passes to someone else,
    // the first person's links stop working, and the history names both.
    let a = guest.post(
        &format!("/api/party/{token1}/forward"),
        json!({ "email": "deputy@example.com", "name": "代理 次郎" }),
    );
    assert_eq!(a.status, 403, "{:?}", a.body);
    let (id4, token4) = outside_contract_with(
        &service,
        &mut manager,
        "転送テスト",
        "four@example.com",
        json!({ "allow_forwarding": true, "message": "ご確認をお願いします。\n担当: 文書" }),
    );
    // The sender's message is in the request mail.
    let request = service.mail_to("four@example.com", "【署名依頼】転送テスト（Inkan）");
    assert!(
        request["body"]
            .as_str()
            .expect("body")
            .replace("\r\n", "\n")
            .contains("様からのメッセージ:\nご確認をお願いします。\n担当: 文書\n"),
        "{request}"
    );
    let mut guest4 = service.api();
    code_session(
        &service,
        &mut guest4,
        &token4,
        "four@example.com",
        "転送テスト",
    );
    let a = guest4.post(
        &format!("/api/party/{token4}/forward"),
        json!({ "email": "four@example.com" }),
    );
    assert_eq!((a.status, a.field("email")), (400, "forward_to_self"));
    let a = guest4.post(
        &format!("/api/party/{token4}/forward"),
        json!({ "email": "deputy@example.com", "name": "代理 次郎", "reason": "担当替え" }),
    );
    assert_eq!(a.status, 204, "{:?}", a.body);
    assert_eq!(guest4.get(&format!("/api/party/{token4}")).status, 404);
    let token5 = link_token(
        &service,
        "deputy@example.com",
        "【署名依頼】転送テスト（Inkan）",
    );
    let mut deputy = service.api();
    code_session(
        &service,
        &mut deputy,
        &token5,
        "deputy@example.com",
        "転送テスト",
    );
    let a = deputy.post(&format!("/api/party/{token5}/sign"), json!({}));
    assert_eq!(a.status, 200, "{:?}", a.body);
    let contract = wait_for_status(&mut manager, &id4, "completed");
    assert_eq!(contract["parties"][0]["email"], "deputy@example.com");
    let events = manager.get(&format!("/api/contracts/{id4}/events")).body;
    let forwarded = events
        .as_array()
        .expect("events")
        .iter()
        .find(|e| e["kind"] == "party.forwarded")
        .expect("the forwarding in the history");
    assert_eq!(forwarded["detail"]["from"]["email"], "four@example.com");
    assert_eq!(forwarded["detail"]["to"]["email"], "deputy@example.com");

    // Cancelled by the sender: the asked party is mailed, and signing is refused.
    let a = manager.post(
        &format!("/api/contracts/{id1}/cancel"),
        json!({ "reason": "条件変更" }),
    );
    assert_eq!(a.status, 200, "{:?}", a.body);
    service.mail_to("one@example.com", "【取り消し】取消テスト");
    let a = guest.post(&format!("/api/party/{token1}/sign"), json!({}));
    assert_eq!((a.status, a.code()), (409, "contract_closed"));
    assert_eq!(
        guest.get(&format!("/api/party/{token1}")).body["stage"],
        "closed"
    );

    // Declined by the party: the contract stops and the sender is mailed the reason.
    let (id2, token2) = outside_contract(&service, &mut manager, "却下テスト", "two@example.com");
    let mut guest2 = service.api();
    code_session(
        &service,
        &mut guest2,
        &token2,
        "two@example.com",
        "却下テスト",
    );
    let a = guest2.post(
        &format!("/api/party/{token2}/decline"),
        json!({ "reason": "金額が違います" }),
    );
    assert_eq!(a.status, 204, "{:?}", a.body);
    assert_eq!(
        manager.get(&format!("/api/contracts/{id2}")).body["status"],
        "declined"
    );
    let mail = service.mail_to("dm@example.jp", "【却下】却下テスト");
    assert_eq!(
        labelled(mail["body"].as_str().expect("body"), "理由:"),
        "金額が違います"
    );
    let a = guest2.post(&format!("/api/party/{token2}/sign"), json!({}));
    assert_eq!((a.status, a.code()), (409, "contract_closed"));

    // Timers: an automatic reminder after the interval (3 days), then expiry (30 days).
    let (id3, token3) = outside_contract(&service, &mut manager, "期限テスト", "three@example.com");
    crate::service::set_clock(&clock_file, 3 * 86400 + 60);
    let reminded = link_token(
        &service,
        "three@example.com",
        "【署名依頼・再送】期限テスト（Inkan）",
    );
    assert_ne!(reminded, token3);
    crate::service::set_clock(&clock_file, 31 * 86400);
    let mut manager = Api::new(&service.app.base);
    assert_eq!(manager.login("dm@example.jp", "Manager2026x").status, 200);
    wait_for_status(&mut manager, &id3, "expired");
    service.mail_to("dm@example.jp", "【期限切れ】期限テスト");
    let mut guest3 = service.api();
    assert_eq!(
        guest3.get(&format!("/api/party/{token3}")).body["stage"],
        "closed"
    );
    let a = guest3.post(&format!("/api/party/{token3}/code"), json!({}));
    assert_eq!((a.status, a.code()), (409, "contract_closed"));
}

#[test]
fn refusals_reminders_and_expiry_on_sqlite() {
    refusals_reminders_and_expiry(Backend::Sqlite);
}

#[test]
fn refusals_reminders_and_expiry_on_postgres() {
    refusals_reminders_and_expiry(Backend::Postgres);
}
