//! Certificates of other CAs imported as PKCS#12 (`domain::imported`), in-process on both
//! databases: refused without a signing PIN; once imported the newest usable certificate of the
//! signer (`signing::signing_certificate`) with the CA's `Imported` record holding the file's
//! chain and the key only in its PIN envelope; two imports of one file at once make one; a PIN
//! reset loses it. And an organisation's external timestamp authority (`settings`): kept,
//! audited from → to, cleared.

use domain::acting::Acting;
use domain::ca_store::{Ca, Settings};
use domain::error::Failure;
use domain::imported::{self, ImportStatus};
use domain::pins::{self, PinChange};
use zeroize::Zeroizing;

use crate::on_both_databases;
use crate::support::{Backend, Instance, TestDb};

const PIN: &str = "Import2026pin";

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("time")
        .as_secs() as i64
}

fn openssl(dir: &std::path::Path, args: &[&str]) {
    let out = std::process::Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl runs");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A root and a signer it issued (naming a CRL), as PKCS#12 with password "secret".
fn pkcs12() -> Vec<u8> {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    std::fs::write(
        d.join("ext.cnf"),
        "[signer]\nkeyUsage = critical, digitalSignature, nonRepudiation\n\
         crlDistributionPoints = URI:http://crl.outside.test/root.crl\n",
    )
    .expect("ext");
    for name in ["root", "leaf"] {
        openssl(
            d,
            &[
                "genpkey",
                "-algorithm",
                "EC",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-out",
                &format!("{name}.key"),
            ],
        );
    }
    openssl(
        d,
        &[
            "req",
            "-x509",
            "-key",
            "root.key",
            "-subj",
            "/CN=Outside Root",
            "-days",
            "30",
            "-out",
            "root.pem",
        ],
    );
    openssl(
        d,
        &[
            "req",
            "-new",
            "-key",
            "leaf.key",
            "-subj",
            "/CN=Outside Signer",
            "-out",
            "leaf.csr",
        ],
    );
    openssl(
        d,
        &[
            "x509",
            "-req",
            "-in",
            "leaf.csr",
            "-CA",
            "root.pem",
            "-CAkey",
            "root.key",
            "-CAcreateserial",
            "-days",
            "30",
            "-extfile",
            "ext.cnf",
            "-extensions",
            "signer",
            "-out",
            "leaf.pem",
        ],
    );
    openssl(
        d,
        &[
            "pkcs12",
            "-export",
            "-inkey",
            "leaf.key",
            "-in",
            "leaf.pem",
            "-certfile",
            "root.pem",
            "-passout",
            "pass:secret",
            "-out",
            "leaf.p12",
        ],
    );
    std::fs::read(d.join("leaf.p12")).expect("p12")
}

fn password() -> Zeroizing<String> {
    Zeroizing::new("secret".to_owned())
}

on_both_databases!(an_imported_certificate_signs_until_its_pin_is_reset,);

async fn an_imported_certificate_signs_until_its_pin_is_reset(backend: Backend) {
    let Some(t) = TestDb::new(backend).await else {
        return;
    };
    // After the file: openssl's certificates begin the second they are made.
    let file = pkcs12();
    let now = now();
    let instance = Instance::new(&t, "Import Test", "import.example").await;
    let signer = Instance::user(&t, &instance.admin, "signer@import.example", &["signer"]).await;
    let ca = Ca::create(
        &t.db,
        now,
        ca::keystore::MasterKey::generate().expect("master"),
        Settings {
            organisation: "Import Test".into(),
            base_url: "http://127.0.0.1:1".into(),
            key_algorithm: "p256".into(),
        },
    )
    .await
    .expect("created")
    .expect("a new CA");
    let acting = Acting::caller(signer.clone());

    // No PIN: refused, nothing kept.
    let refused = imported::import(&t.db, now, &acting, &file, password()).await;
    assert!(
        matches!(refused, Err(Failure::BadRequest("error.p12_pin_required"))),
        "{refused:?}"
    );
    assert_eq!(
        t.count("SELECT COUNT(*) FROM imported_certificates").await,
        0
    );
    pins::set(
        &t.db,
        now,
        &ca,
        &acting,
        &PinChange {
            current: None,
            pin: PIN.into(),
            confirm: PIN.into(),
        },
    )
    .await
    .expect("PIN set");

    // Two imports of the file at once: one is kept, the other is told it is there already.
    let (a, b) = tokio::join!(
        imported::import(&t.db, now, &acting, &file, password()),
        imported::import(&t.db, now, &acting, &file, password()),
    );
    let (view, other) = match (a, b) {
        (Ok(v), other) | (other, Ok(v)) => (v, other),
        (a, b) => panic!("neither imported: {a:?} {b:?}"),
    };
    assert!(
        matches!(&other, Err(Failure::Conflict(f)) if f[0].key == "error.p12_duplicate"),
        "{other:?}"
    );
    assert_eq!(
        t.count("SELECT COUNT(*) FROM imported_certificates").await,
        1
    );
    assert_eq!(
        t.count("SELECT COUNT(*) FROM audit_log WHERE action = 'certificate.imported'")
            .await,
        1
    );

    // It signs: the newest usable certificate, its key only in its PIN envelope, the CA's
    // record holding the file's chain.
    let usable = domain::signing::signing_certificate(&t.db, now, &signer)
        .await
        .expect("usable");
    assert_eq!(usable.serial, view.serial);
    assert!(usable.envelope.is_some());
    let record = ca.record(&t.db, &view.serial).await.expect("record");
    assert_eq!(record.kind, ca::certstore::CertKind::Imported);
    assert!(record.key.is_none());
    assert_eq!(record.chain.len(), 1, "the root from the file");

    // A reset PIN loses it: removed, its envelope emptied, nothing to sign with.
    let admin_acting = Acting::resolve(
        &t.db,
        instance.admin.clone(),
        domain::acting::Whom::User(&signer.id),
    )
    .await
    .expect("acting");
    pins::reset(&t.db, now, &ca, &admin_acting)
        .await
        .expect("reset");
    let list = imported::list(&t.db, &signer.id).await.expect("list");
    assert_eq!(list[0].status, ImportStatus::Removed);
    assert_eq!(
        t.count("SELECT COUNT(*) FROM imported_certificates WHERE LENGTH(key_envelope) > 0")
            .await,
        0
    );
    assert!(matches!(
        domain::signing::signing_certificate(&t.db, now, &signer).await,
        Err(Failure::BadRequest("error.no_certificate"))
    ));
}

on_both_databases!(an_organisations_timestamp_authority_is_kept_and_audited,);

async fn an_organisations_timestamp_authority_is_kept_and_audited(backend: Backend) {
    use domain::settings::{self, Change};
    let Some(t) = TestDb::new(backend).await else {
        return;
    };
    let instance = Instance::new(&t, "TSA Test", "tsa.example").await;
    let admin = &instance.admin;
    let set = |url: &str| Change {
        tsa_url: Some(url.into()),
        ..Change::default()
    };
    let before = settings::of_organisation(&t.db, &admin.org_id)
        .await
        .expect("settings");
    assert_eq!(before.tsa_url, None, "Inkan's own until set");
    let refused = settings::update(&t.db, now(), admin, &set("ftp://tsa.example/")).await;
    assert!(
        matches!(&refused, Err(Failure::Invalid(f)) if f[0].field == "tsa_url" && f[0].key == "error.tsa_url"),
        "{refused:?}"
    );
    let after = settings::update(&t.db, now(), admin, &set(" https://tsa.example/rfc3161 "))
        .await
        .expect("set");
    assert_eq!(
        after.tsa_url.as_ref().map(|u| u.as_str()),
        Some("https://tsa.example/rfc3161")
    );
    let read = settings::of_organisation(&t.db, &admin.org_id)
        .await
        .expect("settings");
    assert_eq!(read.tsa_url, after.tsa_url);
    let detail: String = sqlx::query_scalar(
        "SELECT detail FROM audit_log WHERE action = 'organisation.settings_changed'",
    )
    .fetch_one(&t.db.pool)
    .await
    .expect("audited");
    assert!(
        detail.contains("\"tsa_url\":{\"from\":\"\",\"to\":\"https://tsa.example/rfc3161\"}"),
        "{detail}"
    );
    let cleared = settings::update(&t.db, now(), admin, &set(""))
        .await
        .expect("cleared");
    assert_eq!(cleared.tsa_url, None);
}
