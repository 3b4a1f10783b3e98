//! Inkan's CA in the database (`domain::ca_store`): made once, shared by every process through
//! the database alone (two pools here), an issuance that commits with its transaction or leaves
//! nothing, revocations on the next CRL and in OCSP answers from every process, and a CA folder
//! imported with its keys, certificates, revocations and CRL numbers.

use ca::application::{Country, Email, SignerApplication};
use ca::authority::KeyHolder;
use ca::certstore::{CertRecord, RevocationReason, Serial};
use ca::keystore::MasterKey;
use der::Decode;
use domain::ca_folder::CaDir;
use domain::ca_store::{Ca, CrlScope, Settings};
use x509_cert::Certificate;
use x509_ocsp::CertStatus;

use crate::on_both_databases;
use crate::support::{Backend, TestDb};

const NOW: i64 = 1_800_000_000;

fn settings() -> Settings {
    Settings {
        organisation: "Inkan Test".into(),
        base_url: "http://127.0.0.1:1".into(),
        key_algorithm: "p256".into(),
    }
}

fn application(name: &str) -> SignerApplication {
    SignerApplication {
        country: Country::parse("JP").expect("country"),
        state_or_province: Some("東京都".into()),
        locality: Some("千代田区".into()),
        street_address: Some("丸の内1-1-1".into()),
        postal_code: Some("100-0005".into()),
        organisation: Some("株式会社印鑑".into()),
        organisational_unit: None,
        common_name: name.into(),
        email: Email::parse("signer@example.jp").expect("email"),
    }
}

/// A second handle on the same master key (as another process reads it from its file).
fn same_master(master: &MasterKey) -> MasterKey {
    MasterKey::from_hex(&master.to_hex()).expect("master")
}

/// Issues a signer certificate in a transaction that commits (or rolls back, `commit: false`).
async fn issue(ca: &Ca, t: &TestDb, db: &domain::db::Db, name: &str, commit: bool) -> CertRecord {
    let _ = t;
    let mut tx = db.begin().await.expect("begin");
    let staged = ca.stage(&mut tx, &[], &[]).await.expect("stage");
    let issued = staged
        .authority
        .issue_for(&application(name), KeyHolder::Ca)
        .expect("issued");
    staged.flush(&mut tx, NOW).await.expect("flush");
    if commit {
        tx.commit().await.expect("commit");
    } else {
        tx.rollback().await.expect("rollback");
    }
    issued.record
}

async fn revoke(ca: &Ca, db: &domain::db::Db, serial: &Serial) {
    let mut tx = db.begin().await.expect("begin");
    let staged = ca
        .stage(&mut tx, &[serial.as_str()], &[])
        .await
        .expect("stage");
    staged
        .authority
        .revoke(serial, RevocationReason::KeyCompromise)
        .expect("revoked");
    staged.flush(&mut tx, NOW).await.expect("flush");
    tx.commit().await.expect("commit");
}

/// What `ca`'s OCSP responder says about `record` now.
async fn ocsp_status(ca: &Ca, db: &domain::db::Db, record: &CertRecord) -> CertStatus {
    let cert = Certificate::from_der(&record.cert_der).expect("cert");
    let issuer = Certificate::from_der(ca.authority().issuing_cert_der()).expect("issuer");
    let request = pdf_sign::ltv::ocsp_request(&cert, &issuer).expect("request");
    let answer = ca.ocsp(db, &request, false).await.expect("answer");
    let basic = pdf_sign::ltv::basic_ocsp(&answer).expect("a basic response");
    basic.tbs_response_data.responses[0].cert_status
}

fn crl_serials(der: &[u8]) -> Vec<String> {
    let crl = x509_cert::crl::CertificateList::from_der(der).expect("a CRL");
    crl.tbs_cert_list
        .revoked_certificates
        .unwrap_or_default()
        .iter()
        .map(|r| hex::encode(r.serial_number.as_bytes()))
        .collect()
}

fn crl_number(der: &[u8]) -> Vec<u8> {
    let crl = x509_cert::crl::CertificateList::from_der(der).expect("a CRL");
    crl.tbs_cert_list
        .crl_extensions
        .unwrap_or_default()
        .into_iter()
        .find(|e| e.extn_id == const_oid::db::rfc5280::ID_CE_CRL_NUMBER)
        .map(|e| e.extn_value.as_bytes().to_vec())
        .expect("a CRL number")
}

on_both_databases!(
    two_processes_share_one_ca_through_the_database,
    an_issuance_rolled_back_leaves_no_certificate_and_no_key,
    a_ca_folder_is_imported_with_its_revocations_and_crl_numbers,
);

async fn two_processes_share_one_ca_through_the_database(backend: Backend) {
    let Some(t) = TestDb::new(backend).await else {
        return;
    };
    let master = MasterKey::generate().expect("master");
    let first = Ca::create(&t.db, NOW, same_master(&master), settings())
        .await
        .expect("create")
        .expect("a new CA");
    // Made once: a second creation finds the CA there.
    let again = Ca::create(&t.db, NOW, same_master(&master), settings())
        .await
        .expect("create again");
    assert!(again.is_none());
    let other_db = t.second_pool().await;
    let second = Ca::load(&other_db, same_master(&master))
        .await
        .expect("load")
        .expect("the same CA");
    assert_eq!(
        first.authority().root_cert_der(),
        second.authority().root_cert_der()
    );

    // Each issues; each answers OCSP for the other's certificate.
    let a = issue(&first, &t, &t.db, "A", true).await;
    let b = issue(&second, &t, &other_db, "B", true).await;
    for (ca, db) in [(&first, &t.db), (&second, &other_db)] {
        for record in [&a, &b] {
            assert!(matches!(
                ocsp_status(ca, db, record).await,
                CertStatus::Good(_)
            ));
        }
    }
    // The first process's CRL is cached; the second revokes; the first lists it at once.
    let before = first.crl(&t.db, CrlScope::Issuing).await.expect("crl");
    assert!(crl_serials(&before).is_empty());
    assert_eq!(
        first.crl(&t.db, CrlScope::Issuing).await.expect("crl"),
        before
    );
    revoke(&second, &other_db, &b.serial).await;
    let after = first.crl(&t.db, CrlScope::Issuing).await.expect("crl");
    assert_eq!(crl_serials(&after), vec![b.serial.as_str().to_owned()]);
    assert_ne!(crl_number(&before), crl_number(&after), "a new CRL number");
    assert!(matches!(
        ocsp_status(&first, &t.db, &b).await,
        CertStatus::Revoked(_)
    ));
    assert!(matches!(
        ocsp_status(&first, &t.db, &a).await,
        CertStatus::Good(_)
    ));
    // A second revocation of the same certificate is refused and changes nothing.
    let mut tx = t.db.begin().await.expect("begin");
    let staged = first
        .stage(&mut tx, &[b.serial.as_str()], &[])
        .await
        .expect("stage");
    assert!(staged
        .authority
        .revoke(&b.serial, RevocationReason::Superseded)
        .is_err());
    // The CA's signer keys are sealed in the database, never in clear.
    let sealed: i64 = t.count("SELECT COUNT(*) FROM ca_keys").await;
    assert_eq!(
        sealed,
        4 + 2,
        "root, issuing, TSA, OCSP and the two signers' keys"
    );
}

async fn an_issuance_rolled_back_leaves_no_certificate_and_no_key(backend: Backend) {
    let Some(t) = TestDb::new(backend).await else {
        return;
    };
    let master = MasterKey::generate().expect("master");
    let ca = Ca::create(&t.db, NOW, master, settings())
        .await
        .expect("create")
        .expect("a new CA");
    let keys_before = t.count("SELECT COUNT(*) FROM ca_keys").await;
    let certs_before = t.count("SELECT COUNT(*) FROM ca_certificates").await;
    let lost = issue(&ca, &t, &t.db, "Lost", false).await;
    assert_eq!(t.count("SELECT COUNT(*) FROM ca_keys").await, keys_before);
    assert_eq!(
        t.count("SELECT COUNT(*) FROM ca_certificates").await,
        certs_before
    );
    // OCSP never answers "good" for a certificate no committed row knows.
    assert!(matches!(
        ocsp_status(&ca, &t.db, &lost).await,
        CertStatus::Unknown(_)
    ));
}

async fn a_ca_folder_is_imported_with_its_revocations_and_crl_numbers(backend: Backend) {
    let Some(t) = TestDb::new(backend).await else {
        return;
    };
    let folder = tempfile::tempdir().expect("tempdir");
    let dir = CaDir::new(folder.path().join("ca"));
    let authority = dir
        .init("Inkan Folder", "http://127.0.0.1:1", "p256")
        .expect("a folder CA");
    let kept = authority.issue(&application("Kept")).expect("kept");
    let revoked = authority.issue(&application("Revoked")).expect("revoked");
    authority
        .revoke(&revoked.serial, RevocationReason::KeyCompromise)
        .expect("revoke");
    let folder_crl = authority.crl_der().expect("crl");
    drop(authority);

    let ca = Ca::import(&t.db, NOW, &dir).await.expect("imported");
    assert_eq!(ca.settings().organisation, "Inkan Folder");
    assert!(matches!(
        ocsp_status(&ca, &t.db, &kept).await,
        CertStatus::Good(_)
    ));
    assert!(matches!(
        ocsp_status(&ca, &t.db, &revoked).await,
        CertStatus::Revoked(_)
    ));
    let crl = ca.crl(&t.db, CrlScope::Issuing).await.expect("crl");
    assert_eq!(crl_serials(&crl), vec![revoked.serial.as_str().to_owned()]);
    assert!(
        crl_number(&crl) > crl_number(&folder_crl),
        "CRL numbers go on from the folder's"
    );
    // The imported key signs: a certificate held by the CA in the folder signs from the database.
    let record = ca
        .record(&t.db, kept.serial.as_str())
        .await
        .expect("record");
    assert!(record.key.is_some());
    // Imported once.
    assert!(Ca::import(&t.db, NOW, &dir).await.is_err());
}

/// A signer of a fresh instance with a pending application, and the operator who checks it.
async fn pending_order(t: &TestDb) -> (domain::accounts::User, domain::accounts::User, String) {
    use domain::acting::Acting;
    use domain::certificates::{self, ApplicantForm, OrderKind};

    let instance = crate::support::Instance::new(t, "Order Test", "order.example").await;
    let signer =
        crate::support::Instance::user(t, &instance.admin, "signer@order.example", &["signer"])
            .await;
    let operator = instance.operator;
    let form = ApplicantForm {
        organisation: "株式会社印鑑".into(),
        postal_code: "100-0005".into(),
        country: "JP".into(),
        prefecture: "東京都".into(),
        city: "千代田区".into(),
        street: "丸の内1-1-1".into(),
        building: String::new(),
        family_name: "印鑑".into(),
        given_name: "太郎".into(),
        family_name_romaji: "Inkan".into(),
        given_name_romaji: "Taro".into(),
        department: "法務部".into(),
        phone: "03-1234-5678".into(),
        email: "signer@order.example".into(),
    };
    let applicant = form.check().expect("a valid form");
    let (order, _) = certificates::place_order(
        &t.db,
        NOW,
        &Acting::caller(signer.clone()),
        &applicant,
        "order-key-0001",
        &OrderKind::New,
    )
    .await
    .expect("ordered");
    (signer, operator, order.order_id)
}

on_both_databases!(an_approval_that_fails_after_the_ca_issued_leaves_no_trace,);

/// The approval's transaction fails after the CA issued (here: the certificates table is
/// missing, as any later step may fail): the order is still pending in the queue, the CA has
/// neither the certificate nor its key, and approving again issues exactly one certificate.
async fn an_approval_that_fails_after_the_ca_issued_leaves_no_trace(backend: Backend) {
    use domain::certificates::{self, Check};

    let Some(t) = TestDb::new(backend).await else {
        return;
    };
    let ca = Ca::create(
        &t.db,
        NOW,
        MasterKey::generate().expect("master"),
        settings(),
    )
    .await
    .expect("create")
    .expect("a new CA");
    let (_, operator, order_id) = pending_order(&t).await;
    let check = Check::parse("電話", "本人確認済み").expect("check");
    let certs = t.count("SELECT COUNT(*) FROM ca_certificates").await;
    let keys = t.count("SELECT COUNT(*) FROM ca_keys").await;
    sqlx::query("ALTER TABLE certificates RENAME TO certificates_away")
        .execute(&t.db.pool)
        .await
        .expect("rename");
    let failed = certificates::approve(&t.db, NOW, Some(&ca), &operator, &order_id, &check).await;
    assert!(failed.is_err(), "{failed:?}");
    sqlx::query("ALTER TABLE certificates_away RENAME TO certificates")
        .execute(&t.db.pool)
        .await
        .expect("rename back");
    assert_eq!(t.count("SELECT COUNT(*) FROM ca_certificates").await, certs);
    assert_eq!(t.count("SELECT COUNT(*) FROM ca_keys").await, keys);
    let queue = certificates::pending_checks(&t.db).await.expect("queue");
    assert!(
        queue.iter().any(|p| p.order_id == order_id),
        "back in the queue"
    );

    let issued = certificates::approve(&t.db, NOW, Some(&ca), &operator, &order_id, &check)
        .await
        .expect("approved");
    assert_eq!(
        t.count("SELECT COUNT(*) FROM ca_certificates").await,
        certs + 1
    );
    let record = ca
        .record(&t.db, &issued.serial)
        .await
        .expect("the CA knows it");
    assert!(matches!(
        ocsp_status(&ca, &t.db, &record).await,
        CertStatus::Good(_)
    ));
    // Approving again is refused: the order is no longer pending.
    let again = certificates::approve(&t.db, NOW, Some(&ca), &operator, &order_id, &check).await;
    assert!(again.is_err());
    assert_eq!(
        t.count("SELECT COUNT(*) FROM ca_certificates").await,
        certs + 1
    );
}
