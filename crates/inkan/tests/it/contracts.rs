//! The contracts' JSON API end to end (drafts and parties so far): a document manager drafts a
//! contract and names a user of the organisation, an outside party and an approver; the
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
        ("party_role", "party_step", "email_invalid")
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
    // The administrator does not change it.
    let a = admin.post(
        &parties,
        json!({ "role": "copy_recipient", "step": 4, "email": "a@example.com", "name": "A" }),
    );
    assert_eq!(a.status, 403);
}

#[test]
fn drafts_and_parties_through_the_api_on_sqlite() {
    drafts_and_parties_through_the_api(Backend::Sqlite);
}

#[test]
fn drafts_and_parties_through_the_api_on_postgres() {
    drafts_and_parties_through_the_api(Backend::Postgres);
}
