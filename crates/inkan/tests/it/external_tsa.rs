//! An organisation's external timestamp authority (組織の設定 → 外部タイムスタンプ局), with a
//! second `inkan serve` on loopback standing in for an accredited TSA (a CA of its own, named
//! "External TSA KK", answering RFC 3161 at `/tsa`): a bad URL is refused with its message, in
//! the reader's language; once set, `/api/me/sign`'s signature timestamp and document timestamp,
//! a completed contract's document timestamp and the certificate of completion's timestamps are
//! that TSA's, and the files pass the validators trusting both roots (the external TSA's
//! revocation data fetched over HTTP from its own CA) and `inkan verify`; with the TSA down,
//! signing answers 502 naming it and signs nothing; cleared, Inkan's own TSA is used again.

use std::path::Path;

use serde_json::json;

use crate::contract_flow::{parallel_contract, wait_for_status};
use crate::lifecycle::{issue, service_with_ca, service_with_named_ca};
use crate::serve::Backend;
use crate::service::Api;
use crate::support::{
    inkan, minimal_pdf, multipart_form, multipart_type, text, timestamp_authorities, validate_with,
};

const EXTERNAL: &str = "External TSA KK";

/// `bytes` pass `../shared/conformance/validate` at B-LTA with revocation, trusting `roots`, and
/// `inkan verify` with the same roots.
fn assert_valid(bytes: &[u8], roots: &[&Path], what: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join(format!("{what}.pdf"));
    std::fs::write(&path, bytes).expect("write");
    let mut extra = vec!["--level", "B-LTA", "--revocation"];
    let others: Vec<String> = roots[1..].iter().map(|r| r.display().to_string()).collect();
    for r in &others {
        extra.extend(["--trust", r.as_str()]);
    }
    let (valid, verdict) = validate_with(&path, roots[0].to_str().expect("root"), &extra);
    assert!(valid, "{what}: {verdict}");
    let mut args = vec!["verify".to_owned(), path.display().to_string()];
    for r in roots {
        args.extend(["--trust".to_owned(), r.display().to_string()]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = inkan(&args);
    assert!(out.status.success(), "{what}: {}", text(&out));
}

fn sign(signer: &mut Api) -> crate::service::Answer {
    let pdf = minimal_pdf("External TSA");
    signer.raw("POST", "/api/me/sign", Some(&pdf), Some("application/pdf"))
}

fn all_by(authorities: &[Option<String>], who: &str) -> bool {
    !authorities.is_empty()
        && authorities.iter().all(|a| {
            a.as_deref()
                .is_some_and(|s| s.contains(who) && s.contains("Timestamping Authority"))
        })
}

fn signatures_and_document_timestamps_come_from_the_organisations_external_tsa(backend: Backend) {
    let Some((service, ca)) = service_with_ca(backend) else {
        return;
    };
    let Some((external, external_ca)) = service_with_named_ca(Backend::Sqlite, EXTERNAL, &[])
    else {
        return;
    };
    let tsa_url = format!("{}/tsa", external.app.base);
    let inkan_root = ca.path().join("ca/root.pem");
    let external_root = external_ca.path().join("ca/root.pem");
    let roots = [inkan_root.as_path(), external_root.as_path()];
    let mut admin = service.admin();

    // Bad addresses are refused by their field, and nothing changes.
    for bad in [
        "ftp://tsa.example.com/",
        "tsa.example.com/tsa",
        "https://user:pw@tsa.example.com/",
    ] {
        let a = admin.patch("/api/organisation/settings", json!({ "tsa_url": bad }));
        assert_eq!(a.status, 400, "{bad}: {:?}", a.body);
        assert_eq!(a.field("tsa_url"), "tsa_url", "{bad}: {:?}", a.body);
        assert!(
            a.body["fields"]["tsa_url"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("http:// or https://")),
            "{:?}",
            a.body
        );
    }
    // The settings page says so in Japanese, next to the field, keeping what was typed.
    let csrf = admin.csrf.clone().expect("csrf");
    let form = format!("csrf={csrf}&tsa_url=ftp%3A%2F%2Ftsa.example.com%2F");
    let a = admin.raw(
        "POST",
        "/settings",
        Some(form.as_bytes()),
        Some("application/x-www-form-urlencoded"),
    );
    assert_eq!(a.status, 400, "{}", a.text);
    assert!(
        a.text
            .contains("id=\"tsa_url-error\">タイムスタンプ局の URL は http:&#x2f;&#x2f; か"),
        "{}",
        a.text
    );
    assert_eq!(admin.get("/api/organisation/settings").body["tsa_url"], "");

    let a = admin.patch("/api/organisation/settings", json!({ "tsa_url": tsa_url }));
    assert_eq!(a.status, 200, "{:?}", a.body);
    assert_eq!(a.body["tsa_url"], tsa_url.as_str());
    let audit = admin.get("/api/audit").text;
    assert!(
        audit.contains("organisation.settings_changed") && audit.contains(&tsa_url),
        "{audit}"
    );

    // Self-signing at B-LTA: both timestamps are the external TSA's.
    let mut op = service.operator();
    let (_, mut signer) = service.user(&mut admin, "tsa@example.jp", &["signer"], "Signer2026x");
    issue(&mut signer, &mut op, "tsa-order-1", 41);
    let a = sign(&mut signer);
    assert_eq!(a.status, 200, "{}", a.text);
    let authorities = timestamp_authorities(&a.bytes);
    assert_eq!(authorities.len(), 2, "a signature and a document timestamp");
    assert!(all_by(&authorities, EXTERNAL), "{authorities:?}");
    assert_valid(&a.bytes, &roots, "self-signed");

    // A contract's completion: the document timestamp and the certificate of completion's
    // timestamps are the external TSA's too.
    let (_, mut manager) = service.user(
        &mut admin,
        "dm@example.jp",
        &["document_manager"],
        "Manager2026x",
    );
    let (id, document, mut signers) = parallel_contract(&service, &mut admin, &mut manager, 1);
    let (mut agent, token) = signers.remove(0);
    let a = agent.post(&format!("/api/party/{token}/sign"), json!({}));
    assert_eq!(a.status, 200, "{:?}", a.body);
    wait_for_status(&mut manager, &id, "completed");
    let signed = manager.get(&format!("/api/contracts/{id}/documents/{document}/pdf"));
    let authorities = timestamp_authorities(&signed.bytes);
    assert_eq!(
        authorities.len(),
        2,
        "the party's signature and the document timestamp"
    );
    // The party's signature timestamp as well as the document timestamp.
    assert!(all_by(&authorities, EXTERNAL), "{authorities:?}");
    assert_valid(&signed.bytes, &roots, "contract");
    let certificate = manager.get(&format!("/api/contracts/{id}/certificate"));
    assert_eq!(certificate.status, 200);
    let authorities = timestamp_authorities(&certificate.bytes);
    assert_eq!(authorities.len(), 2);
    assert!(all_by(&authorities, EXTERNAL), "{authorities:?}");
    assert_valid(&certificate.bytes, &roots, "certificate-of-completion");

    // The TSA stops answering: signing is refused with a 502 that names it, in the API's words
    // and, on /sign, in the signer's language.
    drop(external);
    let a = sign(&mut signer);
    assert_eq!(a.status, 502, "{}", a.text);
    assert_eq!(a.code(), "tsa_unavailable", "{:?}", a.body);
    assert!(
        a.body["message"]
            .as_str()
            .is_some_and(|m| m.contains(&tsa_url) && m.contains("timestamp authority")),
        "{:?}",
        a.body
    );

    // The signing page shows the same refusal in Japanese.
    let csrf = signer.csrf.clone().expect("csrf");
    let pdf = minimal_pdf("External TSA");
    let form = multipart_form(&[("csrf", &csrf)], &[("pdf", "keiyaku.pdf", &pdf)]);
    let a = signer.raw("POST", "/sign", Some(&form), Some(&multipart_type()));
    assert_eq!(a.status, 502, "{}", a.text);
    assert!(
        a.text
            .contains("外部タイムスタンプ局からタイムスタンプを取得できなかった"),
        "{}",
        a.text
    );

    // Cleared: Inkan's own TSA again.
    let a = admin.patch("/api/organisation/settings", json!({ "tsa_url": "" }));
    assert_eq!(a.status, 200, "{:?}", a.body);
    assert_eq!(a.body["tsa_url"], "");
    let a = sign(&mut signer);
    assert_eq!(a.status, 200, "{}", a.text);
    let authorities = timestamp_authorities(&a.bytes);
    assert!(all_by(&authorities, "Inkan Test CA"), "{authorities:?}");
    assert_valid(&a.bytes, &roots[..1], "inkan-again");
}

#[test]
fn signatures_and_document_timestamps_come_from_the_organisations_external_tsa_on_sqlite() {
    signatures_and_document_timestamps_come_from_the_organisations_external_tsa(Backend::Sqlite);
}

#[test]
fn signatures_and_document_timestamps_come_from_the_organisations_external_tsa_on_postgres() {
    signatures_and_document_timestamps_come_from_the_organisations_external_tsa(Backend::Postgres);
}
