//! The steps every part shares: drafting and sending a contract, an outside party's
//! one-time code, signing.

use serde_json::{json, Value};

use crate::api::Api;
use crate::server::{labelled, Server};

/// A party of a bench contract, all in step 1.
pub struct PartySpec<'a> {
    pub email: &'a str,
    /// An outside party's name (`None`: a user of the instance).
    pub name: Option<&'a str>,
    pub kind: &'a str,
}

/// Drafts and sends contract `title`: `pdf`, and `parties` with a signature field each (in a
/// grid on page 1). Returns the contract's id.
pub fn send_contract(manager: &mut Api, title: &str, pdf: &[u8], parties: &[PartySpec]) -> String {
    let id = manager
        .post("/api/contracts", json!({ "title": title }))
        .expect(201, "creating a contract")["id"]
        .as_str()
        .expect("contract id")
        .to_owned();
    let document = manager
        .send(
            "POST",
            &format!("/api/contracts/{id}/documents?name=bench.pdf"),
            Some((pdf, "application/pdf")),
        )
        .expect(201, "uploading the PDF")["id"]
        .as_str()
        .expect("document id")
        .to_owned();
    for (i, p) in parties.iter().enumerate() {
        let mut party = json!({ "role": "signer", "step": 1, "signature_kind": p.kind,
                                "email": p.email });
        if let Some(name) = p.name {
            party["name"] = json!(name);
        }
        let party = manager
            .post(&format!("/api/contracts/{id}/parties"), party)
            .expect(201, "adding a party");
        let (col, row) = ((i % 4) as f64, (i / 4) as f64);
        manager
            .post(
                &format!("/api/contracts/{id}/fields"),
                json!({ "document": document, "party": party["id"], "kind": "signature",
                        "page": 1, "x": 20.0 + col * 140.0, "y": 40.0 + row * 70.0,
                        "width": 130, "height": 60, "label": "" }),
            )
            .expect(201, "placing a signature field");
    }
    manager
        .post(&format!("/api/contracts/{id}/send"), json!({}))
        .expect(200, "sending");
    id
}

/// An outside party's session: asks for the one-time code, reads it from the mail, confirms it.
pub fn outside_session(server: &Server, token: &str, email: &str, title: &str) -> Api {
    let mut guest = server.api();
    guest
        .post(&format!("/api/party/{token}/code"), json!({}))
        .expect(204, "asking for the code");
    let subject = format!("【確認コード】{title}");
    let body = server.outbox.wait_body(email, |s| s == subject);
    let session = guest
        .post(
            &format!("/api/party/{token}/code/confirm"),
            json!({ "code": labelled(&body, "確認コード:") }),
        )
        .expect(200, "confirming the code");
    guest.headers = vec![(
        "X-Inkan-Party".into(),
        session["session"].as_str().expect("session").to_owned(),
    )];
    guest
}

/// Signs as `api` with link `token`: 200 (done) or 202 (still being carried out).
pub fn sign(api: &mut Api, token: &str, body: Value) -> u16 {
    let reply = api.post(&format!("/api/party/{token}/sign"), body);
    assert!(
        reply.status == 200 || reply.status == 202,
        "signing: {} {:?}",
        reply.status,
        reply.body
    );
    reply.status
}
