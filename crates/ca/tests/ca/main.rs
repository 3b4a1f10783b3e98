//! End-to-end tests of the CA against openssl, through a loopback HTTP server.

mod external;
mod support;

use std::time::{Duration, SystemTime};

use ca::certstore::{CertKind, RevocationReason};
use ca::keystore::KeyAlgorithm;
use der::{Decode, Encode};
use support::{http, japanese_application, openssl_in, TestCa};

#[test]
fn signer_certificate_shows_every_subject_field_in_utf8() {
    let t = TestCa::start(KeyAlgorithm::EcdsaP256);
    let rec =
        t.ca.issue(&japanese_application("Taro Yamada", "taro@example.co.jp"))
            .expect("issue");
    let cert = t.write_pem("signer.pem", &[&rec.cert_der]);
    let (ok, text) = openssl_in(
        t.dir.path(),
        &[
            "x509",
            "-in",
            cert.to_str().expect("p"),
            "-noout",
            "-text",
            "-nameopt",
            "multiline,utf8,-esc_msb",
        ],
    );
    assert!(ok, "{text}");
    for want in [
        "countryName               = JP",
        "stateOrProvinceName       = 東京都",
        "localityName              = 千代田区",
        "streetAddress             = 丸の内1-1-1 印鑑ビル3階",
        "postalCode                = 100-0005",
        "organizationName          = 株式会社印鑑",
        "organizationalUnitName    = 法務部",
        "commonName                = Taro Yamada",
        "emailAddress              = taro@example.co.jp",
        "email:taro@example.co.jp",
        "Digital Signature, Non Repudiation",
        "E-mail Protection, 1.3.6.1.5.5.7.3.36, 1.2.840.113583.1.1.5",
        &format!("OCSP - URI:{}/ocsp", t.base),
        &format!("CA Issuers - URI:{}/ca.crt", t.base),
        &format!("URI:{}/crl", t.base),
    ] {
        assert!(text.contains(want), "missing {want:?} in\n{text}");
    }
    assert!(text.contains("X509v3 Key Usage: critical"), "{text}");
    // The Japanese fields are UTF8String, the country a PrintableString.
    let (ok, asn1) = openssl_in(t.dir.path(), &["asn1parse", "-in", "signer.pem"]);
    assert!(ok, "{asn1}");
    assert!(asn1.contains("PRINTABLESTRING   :JP"), "{asn1}");
    let lines: Vec<&str> = asn1.lines().collect();
    for field in [
        "stateOrProvinceName",
        "localityName",
        "streetAddress",
        "postalCode",
        "organizationName",
        "organizationalUnitName",
        "commonName",
    ] {
        let types: Vec<&str> = lines
            .windows(2)
            .filter(|w| w[0].ends_with(&format!(":{field}")))
            .map(|w| w[1])
            .collect();
        assert!(
            !types.is_empty() && types.iter().all(|l| l.contains("UTF8STRING")),
            "{field}: {types:?}"
        );
    }
    // Chain: signer -> issuing -> root.
    let (ok, v) = openssl_in(
        t.dir.path(),
        &[
            "verify",
            "-CAfile",
            "root.pem",
            "-untrusted",
            "issuing.pem",
            "-purpose",
            "smimesign",
            "signer.pem",
        ],
    );
    assert!(ok && v.contains("signer.pem: OK"), "{v}");
    // Serial: 128-bit-ish positive.
    assert!(rec.serial.to_bytes().len() >= 15, "{}", rec.serial);
}

#[test]
fn ocsp_says_good_then_revoked_with_reason() {
    let t = TestCa::start(KeyAlgorithm::EcdsaP256);
    let rec =
        t.ca.issue(&japanese_application("Hanako Sato", "hanako@example.jp"))
            .expect("issue");
    t.write_pem("signer.pem", &[&rec.cert_der]);
    let args = [
        "-issuer",
        "issuing.pem",
        "-cert",
        "signer.pem",
        "-CAfile",
        "root.pem",
    ];
    let (ok, out) = t.ocsp(&args);
    assert!(ok, "{out}");
    assert!(out.contains("Response verify OK"), "{out}");
    assert!(out.contains("signer.pem: good"), "{out}");
    assert!(!out.contains("WARNING"), "nonce must be echoed: {out}");

    t.ca.revoke(&rec.serial, RevocationReason::KeyCompromise)
        .expect("revoke");
    let (ok, out) = t.ocsp(&args);
    assert!(ok, "{out}");
    assert!(out.contains("signer.pem: revoked"), "{out}");
    assert!(out.contains("Reason: keyCompromise"), "{out}");
    assert!(out.contains("Revocation Time:"), "{out}");
}

#[test]
fn ocsp_unknown_serial_is_unknown_and_get_works() {
    let t = TestCa::start(KeyAlgorithm::EcdsaP256);
    let (ok, out) = t.ocsp(&[
        "-issuer",
        "issuing.pem",
        "-serial",
        "0x1234567890",
        "-CAfile",
        "root.pem",
    ]);
    assert!(ok, "{out}");
    assert!(out.contains("0x1234567890: unknown"), "{out}");

    // GET form (RFC 6960 A.1): the request made by openssl, base64 and URL-escaped.
    let rec =
        t.ca.issue(&japanese_application("Jiro", "jiro@example.jp"))
            .expect("issue");
    t.write_pem("signer.pem", &[&rec.cert_der]);
    let (ok, out) = openssl_in(
        t.dir.path(),
        &[
            "ocsp",
            "-no_nonce",
            "-issuer",
            "issuing.pem",
            "-cert",
            "signer.pem",
            "-reqout",
            "req.der",
        ],
    );
    assert!(ok, "{out}");
    use base64::Engine;
    let req = std::fs::read(t.path("req.der")).expect("req");
    let b64 = base64::engine::general_purpose::STANDARD.encode(req);
    let escaped = b64
        .replace('+', "%2B")
        .replace('/', "%2F")
        .replace('=', "%3D");
    let (code, body) = http(
        &t.base,
        "GET",
        &format!("/ocsp/{escaped}"),
        b"",
        "text/plain",
    );
    assert_eq!(code, 200);
    std::fs::write(t.path("resp.der"), body).expect("write");
    let (ok, out) = openssl_in(
        t.dir.path(),
        &[
            "ocsp",
            "-no_nonce",
            "-respin",
            "resp.der",
            "-issuer",
            "issuing.pem",
            "-cert",
            "signer.pem",
            "-CAfile",
            "root.pem",
        ],
    );
    assert!(ok && out.contains("signer.pem: good"), "{out}");
}

#[test]
fn malformed_requests_get_protocol_errors_and_the_server_keeps_serving() {
    let t = TestCa::start(KeyAlgorithm::EcdsaP256);
    for junk in [
        &b""[..],
        b"\x30\x03\x02\x01",
        b"hello world",
        &[0x30, 0x80, 0, 0][..],
    ] {
        let (code, body) = http(&t.base, "POST", "/ocsp", junk, "application/ocsp-request");
        assert_eq!(code, 200);
        let resp = x509_ocsp::OcspResponse::from_der(&body).expect("an OCSP response");
        assert_eq!(
            resp.response_status,
            x509_ocsp::OcspResponseStatus::MalformedRequest
        );
        assert!(resp.response_bytes.is_none());

        let (code, body) = http(&t.base, "POST", "/tsa", junk, "application/timestamp-query");
        assert_eq!(code, 200);
        std::fs::write(t.path("bad.tsr"), &body).expect("write");
        let (ok, out) = openssl_in(t.dir.path(), &["ts", "-reply", "-in", "bad.tsr", "-text"]);
        assert!(ok, "{out}");
        assert!(out.contains("Status: Rejected"), "{out}");
        assert!(
            out.contains("the data submitted has the wrong format"),
            "{out}"
        );
    }
    let (code, _) = http(&t.base, "GET", "/ocsp/%%%", b"", "text/plain");
    assert_eq!(code, 200);
    // Still serving.
    let (ok, out) = t.ocsp(&[
        "-issuer",
        "issuing.pem",
        "-serial",
        "0x01",
        "-CAfile",
        "root.pem",
    ]);
    assert!(ok && out.contains("0x01: unknown"), "{out}");
}

#[test]
fn timestamps_verify_with_openssl() {
    let t = TestCa::start(KeyAlgorithm::EcdsaP256);
    std::fs::write(t.path("data.txt"), "契約書 contract body\n").expect("write");
    let (ok, out) = openssl_in(
        t.dir.path(),
        &[
            "ts", "-query", "-data", "data.txt", "-sha256", "-cert", "-out", "req.tsq",
        ],
    );
    assert!(ok, "{out}");
    let req = std::fs::read(t.path("req.tsq")).expect("req");
    let (code, body) = http(&t.base, "POST", "/tsa", &req, "application/timestamp-query");
    assert_eq!(code, 200);
    std::fs::write(t.path("resp.tsr"), &body).expect("write");
    let (ok, out) = openssl_in(
        t.dir.path(),
        &[
            "ts",
            "-verify",
            "-data",
            "data.txt",
            "-in",
            "resp.tsr",
            "-CAfile",
            "root.pem",
            "-untrusted",
            "tsa.pem",
        ],
    );
    assert!(ok && out.contains("Verification: OK"), "{out}");
    // Also against the query (checks the nonce) and with the token's own certificates.
    let (ok, out) = openssl_in(
        t.dir.path(),
        &[
            "ts",
            "-verify",
            "-queryfile",
            "req.tsq",
            "-in",
            "resp.tsr",
            "-CAfile",
            "root.pem",
        ],
    );
    assert!(ok && out.contains("Verification: OK"), "{out}");
    let (ok, text) = openssl_in(t.dir.path(), &["ts", "-reply", "-in", "resp.tsr", "-text"]);
    assert!(ok, "{text}");
    assert!(text.contains("Status: Granted"), "{text}");
    assert!(text.contains("Policy OID: 1.3.6.1.4.1.0.1"), "{text}");
    assert!(text.contains("Accuracy: 0x01 seconds"), "{text}");
    assert!(!text.contains("Nonce: unspecified"), "{text}");
    // Different data must not verify.
    std::fs::write(t.path("other.txt"), "契約書 contract body!\n").expect("write");
    let (ok, out) = openssl_in(
        t.dir.path(),
        &[
            "ts",
            "-verify",
            "-data",
            "other.txt",
            "-in",
            "resp.tsr",
            "-CAfile",
            "root.pem",
            "-untrusted",
            "tsa.pem",
        ],
    );
    assert!(!ok, "{out}");
    // Two tokens never share a serial.
    let (_, body2) = http(&t.base, "POST", "/tsa", &req, "application/timestamp-query");
    std::fs::write(t.path("resp2.tsr"), &body2).expect("write");
    let (_, text2) = openssl_in(t.dir.path(), &["ts", "-reply", "-in", "resp2.tsr", "-text"]);
    let serial = |s: &str| {
        s.lines()
            .find(|l| l.starts_with("Serial number"))
            .map(str::to_owned)
    };
    assert!(serial(&text).is_some());
    assert_ne!(serial(&text), serial(&text2));
}

#[test]
fn crl_lists_revoked_serials_and_is_regenerated() {
    let t = TestCa::start(KeyAlgorithm::EcdsaP256);
    let a =
        t.ca.issue(&japanese_application("A", "a@example.jp"))
            .expect("a");
    let b =
        t.ca.issue(&japanese_application("B", "b@example.jp"))
            .expect("b");
    let c =
        t.ca.issue(&japanese_application("C", "c@example.jp"))
            .expect("c");
    let (code, crl0) = http(&t.base, "GET", "/crl", b"", "text/plain");
    assert_eq!(code, 200);
    t.ca.revoke(&a.serial, RevocationReason::KeyCompromise)
        .expect("revoke a");
    let changed =
        t.ca.change(&b.serial, &japanese_application("B2", "b2@example.jp"))
            .expect("change b");
    let (_, crl1) = http(&t.base, "GET", "/crl", b"", "text/plain");
    assert_ne!(crl0, crl1, "revocation must regenerate the CRL");
    std::fs::write(t.path("crl.der"), &crl1).expect("write");
    let (ok, text) = openssl_in(
        t.dir.path(),
        &[
            "crl",
            "-inform",
            "DER",
            "-in",
            "crl.der",
            "-noout",
            "-text",
            "-CAfile",
            "issuing.pem",
        ],
    );
    assert!(ok, "{text}");
    assert!(text.contains("verify OK"), "{text}");
    assert!(text.contains("Next Update:"), "{text}");
    assert!(text.contains("X509v3 CRL Number:"), "{text}");
    let upper = |s: &ca::certstore::Serial| s.as_str().to_uppercase();
    assert!(
        text.contains(&format!("Serial Number: {}", upper(&a.serial))),
        "{text}"
    );
    assert!(
        text.contains(&format!("Serial Number: {}", upper(&b.serial))),
        "{text}"
    );
    assert!(!text.contains(&upper(&c.serial)), "{text}");
    assert!(!text.contains(&upper(&changed.serial)), "{text}");
    assert!(
        text.contains("Key Compromise") && text.contains("Superseded"),
        "{text}"
    );

    // openssl refuses the revoked certificate with the CRL and accepts the new one.
    let (_, root_crl) = http(&t.base, "GET", "/root.crl", b"", "text/plain");
    std::fs::write(t.path("root.crl.der"), &root_crl).expect("write");
    for (src, dst) in [("crl.der", "crl.pem"), ("root.crl.der", "root.crl.pem")] {
        let (ok, out) = openssl_in(
            t.dir.path(),
            &["crl", "-inform", "DER", "-in", src, "-out", dst],
        );
        assert!(ok, "{out}");
    }
    t.write_pem("a.pem", &[&a.cert_der]);
    t.write_pem("new.pem", &[&changed.cert_der]);
    let verify = |cert: &str| {
        openssl_in(
            t.dir.path(),
            &[
                "verify",
                "-crl_check_all",
                "-CRLfile",
                "crl.pem",
                "-CRLfile",
                "root.crl.pem",
                "-CAfile",
                "root.pem",
                "-untrusted",
                "issuing.pem",
                cert,
            ],
        )
    };
    let (ok, out) = verify("a.pem");
    assert!(!ok && out.contains("certificate revoked"), "{out}");
    let (ok, out) = verify("new.pem");
    assert!(ok, "{out}");
    assert_eq!(
        t.ca.cert_store()
            .get(&b.serial)
            .expect("get")
            .expect("b")
            .replaced_by,
        Some(changed.serial.clone())
    );
}

#[test]
fn renewal_gives_a_new_key_and_keeps_the_old_certificate_valid() {
    let t = TestCa::start(KeyAlgorithm::EcdsaP256);
    let old =
        t.ca.issue(&japanese_application("Taro", "taro@example.jp"))
            .expect("issue");
    let new = t.ca.renew(&old.serial).expect("renew");
    assert_ne!(old.serial, new.serial);
    assert_ne!(old.key, new.key);
    let o = x509_cert::Certificate::from_der(&old.cert_der).expect("old");
    let n = x509_cert::Certificate::from_der(&new.cert_der).expect("new");
    assert_eq!(o.tbs_certificate.subject, n.tbs_certificate.subject);
    assert_ne!(
        o.tbs_certificate.subject_public_key_info,
        n.tbs_certificate.subject_public_key_info
    );
    t.write_pem("old.pem", &[&old.cert_der]);
    t.write_pem("new.pem", &[&new.cert_der]);
    for f in ["old.pem", "new.pem"] {
        let (ok, out) = t.ocsp(&["-issuer", "issuing.pem", "-cert", f, "-CAfile", "root.pem"]);
        assert!(ok && out.contains(&format!("{f}: good")), "{out}");
    }
    let stored =
        t.ca.cert_store()
            .get(&old.serial)
            .expect("get")
            .expect("old");
    assert_eq!(stored.replaced_by, Some(new.serial));
    assert!(stored.revocation.is_none());
}

#[test]
fn keys_at_rest_are_sealed() {
    let t = TestCa::start(KeyAlgorithm::EcdsaP256);
    t.ca.issue(&japanese_application("Taro", "taro@example.jp"))
        .expect("issue");
    let files: Vec<_> = std::fs::read_dir(t.path("keys"))
        .expect("dir")
        .map(|e| e.expect("entry").path())
        .collect();
    assert_eq!(
        files.len(),
        5,
        "root, issuing, tsa, ocsp, signer: {files:?}"
    );
    for f in &files {
        let bytes = std::fs::read(f).expect("read");
        assert!(!bytes.windows(5).any(|w| w == b"BEGIN"), "{f:?}");
        let (ok, out) = openssl_in(
            t.dir.path(),
            &[
                "pkey",
                "-inform",
                "DER",
                "-in",
                f.to_str().expect("p"),
                "-noout",
            ],
        );
        assert!(!ok, "openssl must not parse a sealed key: {out}");
    }
    // Without the right master key nothing opens.
    let wrong = ca::keystore::MasterKey::generate().expect("mk");
    let ks = ca::keystore::SealedKeyStore::in_dir(&wrong, t.path("keys")).expect("ks");
    use ca::keystore::KeyStore;
    let err = ks
        .sign(&t.ca.material().issuing.key, b"x")
        .expect_err("must fail");
    assert!(matches!(err, ca::CaError::MasterKey(_)), "{err}");
    // The right one, read back from its file, does.
    let right = ca::keystore::MasterKey::from_file(&t.path("master.hex")).expect("mk");
    let ks = ca::keystore::SealedKeyStore::in_dir(&right, t.path("keys")).expect("ks");
    assert!(ks.sign(&t.ca.material().issuing.key, b"x").is_ok());
}

#[test]
fn rsa_ca_issues_certificates_openssl_accepts() {
    let t = TestCa::start(KeyAlgorithm::Rsa3072);
    let rec =
        t.ca.issue(&japanese_application("Ichiro", "ichiro@example.jp"))
            .expect("issue");
    t.write_pem("signer.pem", &[&rec.cert_der]);
    let (ok, text) = openssl_in(
        t.dir.path(),
        &["x509", "-in", "signer.pem", "-noout", "-text"],
    );
    assert!(
        ok && text.contains("Public-Key: (3072 bit)") && text.contains("sha256WithRSAEncryption"),
        "{text}"
    );
    let (ok, v) = openssl_in(
        t.dir.path(),
        &[
            "verify",
            "-CAfile",
            "root.pem",
            "-untrusted",
            "issuing.pem",
            "signer.pem",
        ],
    );
    assert!(ok, "{v}");
    let (ok, out) = t.ocsp(&[
        "-issuer",
        "issuing.pem",
        "-cert",
        "signer.pem",
        "-CAfile",
        "root.pem",
    ]);
    assert!(ok && out.contains("signer.pem: good"), "{out}");
}

#[test]
fn tsa_and_ocsp_certificates_carry_their_usages() {
    let t = TestCa::start(KeyAlgorithm::EcdsaP256);
    let (ok, text) = openssl_in(t.dir.path(), &["x509", "-in", "tsa.pem", "-noout", "-text"]);
    assert!(ok, "{text}");
    assert!(
        text.contains("X509v3 Extended Key Usage: critical\n                Time Stamping"),
        "{text}"
    );
    t.write_pem("ocsp.pem", &[t.ca.ocsp_cert_der()]);
    let (ok, text) = openssl_in(
        t.dir.path(),
        &["x509", "-in", "ocsp.pem", "-noout", "-text"],
    );
    assert!(ok, "{text}");
    assert!(
        text.contains("OCSP Signing") && text.contains("OCSP No Check"),
        "{text}"
    );
    let (ok, v) = openssl_in(
        t.dir.path(),
        &[
            "verify",
            "-CAfile",
            "root.pem",
            "-untrusted",
            "issuing.pem",
            "-purpose",
            "timestampsign",
            "tsa.pem",
        ],
    );
    assert!(ok, "{v}");
    // The TSA certificate itself answers good over OCSP.
    let (ok, out) = t.ocsp(&[
        "-issuer",
        "issuing.pem",
        "-cert",
        "tsa.pem",
        "-CAfile",
        "root.pem",
    ]);
    assert!(ok && out.contains("tsa.pem: good"), "{out}");
    let kinds: Vec<CertKind> =
        t.ca.cert_store()
            .all()
            .expect("all")
            .iter()
            .map(|r| r.kind)
            .collect();
    assert!(kinds.contains(&CertKind::Tsa) && kinds.contains(&CertKind::OcspResponder));
    let _ = (
        SystemTime::now(),
        Duration::ZERO,
        Encode::to_der(&der::asn1::Null),
    );
}

/// SoftHSM2 (Debian `softhsm2`): the CA keys live in a token initialised by the test itself;
/// certificates issued with them verify in openssl. Skipped, loudly, only when the module is
/// not installed and `INKAN_REQUIRE_SOFTHSM` is unset.
#[test]
fn hsm_keys_issue_certificates_openssl_verifies() {
    let module = [
        "/usr/lib/softhsm/libsofthsm2.so",
        "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    ]
    .into_iter()
    .map(std::path::Path::new)
    .find(|p| p.exists());
    let Some(module) = module else {
        assert!(
            std::env::var_os("INKAN_REQUIRE_SOFTHSM").is_none(),
            "SoftHSM2 is required but not installed"
        );
        eprintln!("SKIPPED: softhsm2 is not installed (apt-get install -y softhsm2)");
        return;
    };
    let dir = tempfile::tempdir().expect("tmp");
    let tokens = dir.path().join("tokens");
    std::fs::create_dir(&tokens).expect("mkdir");
    let conf = dir.path().join("softhsm2.conf");
    std::fs::write(
        &conf,
        format!(
            "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
            tokens.display()
        ),
    )
    .expect("conf");
    let out = std::process::Command::new("softhsm2-util")
        .args([
            "--init-token",
            "--free",
            "--label",
            "inkan",
            "--pin",
            "1234",
            "--so-pin",
            "5678",
        ])
        .env("SOFTHSM2_CONF", &conf)
        .output()
        .expect("softhsm2-util");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // SoftHSM reads its configuration when the module is initialised. No other test loads it.
    std::env::set_var("SOFTHSM2_CONF", &conf);
    let hsm = ca::keystore::Pkcs11KeyStore::open(module, "inkan", "1234").expect("open token");
    assert!(ca::keystore::Pkcs11KeyStore::open(module, "no-such-token", "1234").is_err());
    let keys: std::sync::Arc<dyn ca::keystore::KeyStore> = std::sync::Arc::new(hsm);
    let t = TestCa::start_with(dir, keys.clone(), KeyAlgorithm::EcdsaP256);
    let rec =
        t.ca.issue(&japanese_application("Hsm Signer", "hsm@example.jp"))
            .expect("issue");
    t.write_pem("signer.pem", &[&rec.cert_der]);
    let (ok, v) = openssl_in(
        t.dir.path(),
        &[
            "verify",
            "-CAfile",
            "root.pem",
            "-untrusted",
            "issuing.pem",
            "signer.pem",
        ],
    );
    assert!(ok && v.contains("signer.pem: OK"), "{v}");
    let (ok, out) = t.ocsp(&[
        "-issuer",
        "issuing.pem",
        "-cert",
        "signer.pem",
        "-CAfile",
        "root.pem",
    ]);
    assert!(ok && out.contains("signer.pem: good"), "{out}");
    // The private keys are not extractable: the token holds them, no file does.
    assert!(!t.path("keys").exists());
    // RSA keys in the token work too.
    let h = keys
        .generate("rsa-in-token", KeyAlgorithm::Rsa3072)
        .expect("rsa");
    let spki = keys.public_key_spki_der(&h).expect("spki");
    let sig = keys.sign(&h, b"message").expect("sign");
    let info = spki::SubjectPublicKeyInfoRef::from_der(&spki).expect("spki");
    aws_lc_rs::signature::UnparsedPublicKey::new(
        &aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA256,
        info.subject_public_key.raw_bytes(),
    )
    .verify(b"message", &sig)
    .expect("RSA signature from the token verifies");
    assert!(matches!(
        keys.generate("rsa-in-token", KeyAlgorithm::Rsa3072),
        Err(ca::CaError::AlreadyExists(_))
    ));

    // A PDF signed with the signer key inside the token, timestamped by the TSA whose key is in
    // the token too, is accepted by the independent validators, revocation checked online.
    let signer = TokenSigner {
        keys: keys.clone(),
        key: rec.key.clone().expect("the CA holds the signer key"),
        certs: std::iter::once(rec.cert_der.clone())
            .chain(rec.chain.iter().cloned())
            .collect(),
    };
    let input = minimal_pdf();
    let mut signed = Vec::new();
    let tsa = InProcessTsa(&t.ca);
    pdf_sign::sign_timestamped(
        input,
        &mut signed,
        &signer,
        &pdf_sign::SignOptions::default(),
        &tsa,
    )
    .expect("signs with the token's key");
    let pdf = t.path("hsm-signed.pdf");
    std::fs::write(&pdf, &signed).expect("write");
    t.write_pem("root-anchor.pem", &[t.ca.root_cert_der()]);
    let validate = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/conformance/validate");
    let validate = std::env::var_os("INKAN_CONFORMANCE_DIR")
        .map(|d| std::path::PathBuf::from(d).join("validate"))
        .unwrap_or(validate);
    let out = std::process::Command::new("bash")
        .arg(validate)
        .arg(&pdf)
        .args(["--trust", t.path("root-anchor.pem").to_str().expect("path")])
        .args(["--level", "B-T", "--revocation"])
        .output()
        .expect("validate runs");
    assert!(
        out.status.success(),
        "validators reject the token-signed PDF: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// pdf-sign's signer over a key in any KeyStore (here the PKCS#11 token).
struct TokenSigner {
    keys: std::sync::Arc<dyn ca::keystore::KeyStore>,
    key: ca::keystore::KeyHandle,
    certs: Vec<Vec<u8>>,
}

impl pdf_sign::Signer for TokenSigner {
    fn certificates(&self) -> &[Vec<u8>] {
        &self.certs
    }
    fn scheme(&self) -> pdf_sign::SignatureScheme {
        pdf_sign::SignatureScheme::EcdsaP256
    }
    fn max_signature_len(&self) -> usize {
        72
    }
    fn sign(&self, _hash: pdf_sign::HashAlgorithm, message: &[u8]) -> pdf_sign::Result<Vec<u8>> {
        self.keys
            .sign(&self.key, message)
            .map_err(|e| pdf_sign::PdfError::Key(e.to_string()))
    }
}

/// The CA's TSA called in process.
struct InProcessTsa<'a>(&'a ca::authority::Authority);

impl pdf_sign::TsaTransport for InProcessTsa<'_> {
    fn post(&self, request: &[u8]) -> pdf_sign::Result<Vec<u8>> {
        self.0
            .tsa()
            .respond(request)
            .map_err(|e| pdf_sign::PdfError::Cms(e.to_string()))
    }
}

/// A one-page PDF with a classic cross-reference table.
fn minimal_pdf() -> Vec<u8> {
    let content = "BT /F1 18 Tf 72 720 Td (Signed in the token) Tj ET";
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_string(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>".to_string(),
        format!(
            "<< /Length {} >>\nstream\n{content}\nendstream",
            content.len()
        ),
    ];
    let mut pdf = b"%PDF-1.7\n".to_vec();
    let mut offsets = Vec::new();
    for (i, body) in objects.iter().enumerate() {
        offsets.push(pdf.len());
        pdf.extend_from_slice(format!("{} 0 obj\n{body}\nendobj\n", i + 1).as_bytes());
    }
    let xref = pdf.len();
    pdf.extend_from_slice(b"xref\n0 5\n0000000000 65535 f \n");
    for o in offsets {
        pdf.extend_from_slice(format!("{o:010} 00000 n \n").as_bytes());
    }
    pdf.extend_from_slice(
        format!("trailer\n<< /Size 5 /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n").as_bytes(),
    );
    pdf
}

#[test]
fn pkcs12_import_keeps_the_key_and_the_chain() {
    let t = TestCa::start(KeyAlgorithm::EcdsaP256);
    let run = |args: &[&str]| {
        let (ok, out) = openssl_in(t.dir.path(), args);
        assert!(ok, "openssl {args:?}: {out}");
    };
    run(&[
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-subj",
        "/CN=External Root",
        "-keyout",
        "xroot.key",
        "-out",
        "xroot.pem",
        "-days",
        "30",
    ]);
    run(&[
        "req",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-subj",
        "/CN=External Signer",
        "-keyout",
        "xleaf.key",
        "-out",
        "xleaf.csr",
    ]);
    run(&[
        "x509",
        "-req",
        "-in",
        "xleaf.csr",
        "-CA",
        "xroot.pem",
        "-CAkey",
        "xroot.key",
        "-CAcreateserial",
        "-out",
        "xleaf.pem",
        "-days",
        "30",
    ]);
    run(&[
        "pkcs12",
        "-export",
        "-inkey",
        "xleaf.key",
        "-in",
        "xleaf.pem",
        "-certfile",
        "xroot.pem",
        "-passout",
        "pass:secret",
        "-out",
        "x.p12",
    ]);
    let p12 = std::fs::read(t.path("x.p12")).expect("p12");

    assert!(matches!(
        t.ca.import_pkcs12(&p12, "wrong"),
        Err(ca::CaError::Pkcs12(_))
    ));
    let rec = t.ca.import_pkcs12(&p12, "secret").expect("import");
    assert_eq!(rec.kind, CertKind::Imported);
    assert_eq!(rec.chain.len(), 1, "the external root is kept");
    let root = x509_cert::Certificate::from_der(&rec.chain[0]).expect("root");
    assert!(root
        .tbs_certificate
        .subject
        .to_string()
        .contains("External Root"));
    assert!(matches!(
        t.ca.import_pkcs12(&p12, "secret"),
        Err(ca::CaError::AlreadyExists(_))
    ));

    // The key now signs from the key store (sealed on disk), matching the certificate.
    let key = rec.key.clone().expect("key");
    let keys = ca::keystore::SealedKeyStore::in_dir(
        &ca::keystore::MasterKey::from_file(&t.path("master.hex")).expect("mk"),
        t.path("keys"),
    )
    .expect("ks");
    use ca::keystore::KeyStore;
    let sig = keys.sign(&key, b"contract").expect("sign");
    let cert = x509_cert::Certificate::from_der(&rec.cert_der).expect("cert");
    aws_lc_rs::signature::UnparsedPublicKey::new(
        &aws_lc_rs::signature::ECDSA_P256_SHA256_ASN1,
        cert.tbs_certificate
            .subject_public_key_info
            .subject_public_key
            .raw_bytes(),
    )
    .verify(b"contract", &sig)
    .expect("signature by the imported key");
    // Another CA's certificate is not ours to revoke, and our OCSP does not vouch for it.
    assert!(t
        .ca
        .revoke(&rec.serial, RevocationReason::KeyCompromise)
        .is_err());
    // (openssl also refuses the response's signer: our responder is not delegated by that CA.)
    let (_, out) = t.ocsp(&[
        "-issuer",
        "xroot.pem",
        "-cert",
        "xleaf.pem",
        "-CAfile",
        "root.pem",
    ]);
    assert!(out.contains("xleaf.pem: unknown"), "{out}");
}

#[test]
fn times_follow_the_injected_clock() {
    use ca::authority::{Authority, BaseUrl, CaConfig};
    use std::sync::Arc;
    let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_900_000_000); // 2030-03-17
    let clock = Arc::new(ca::clock::ManualClock::new(start));
    let keys = Arc::new(
        ca::keystore::SealedKeyStore::new(
            &ca::keystore::MasterKey::generate().expect("mk"),
            ca::keystore::MemoryStorage::new(),
        )
        .expect("ks"),
    );
    let config = CaConfig::new("Clock", BaseUrl::parse("http://127.0.0.1:1").expect("url"));
    let ca = Authority::init(
        config,
        keys,
        Arc::new(ca::certstore::MemoryCertStore::new()),
        clock.clone(),
    )
    .expect("init");
    let rec = ca
        .issue(&japanese_application("T", "t@example.jp"))
        .expect("issue");
    assert_eq!(rec.not_before, 1_900_000_000 - 60);
    assert_eq!(rec.not_after, 1_900_000_000 + 365 * 24 * 3600);

    let crl_number = |der: &[u8]| {
        let crl = x509_cert::crl::CertificateList::from_der(der).expect("crl");
        let ext = crl
            .tbs_cert_list
            .crl_extensions
            .expect("exts")
            .into_iter()
            .find(|e| e.extn_id == const_oid::db::rfc5280::ID_CE_CRL_NUMBER)
            .expect("number");
        (
            x509_cert::ext::pkix::CrlNumber::from_der(ext.extn_value.as_bytes())
                .expect("n")
                .0
                .as_bytes()
                .to_vec(),
            crl.tbs_cert_list.this_update.to_system_time(),
        )
    };
    let first = ca.crl_der().expect("crl");
    assert_eq!(ca.crl_der().expect("crl"), first, "cached while fresh");
    clock.advance(Duration::from_secs(4 * 24 * 3600));
    let later = ca.crl_der().expect("crl");
    let (n1, t1) = crl_number(&first);
    let (n2, t2) = crl_number(&later);
    assert_eq!((n1, t1), (vec![1], start));
    assert_eq!(n2, vec![2]);
    assert_eq!(t2, start + Duration::from_secs(4 * 24 * 3600));

    // A renewal of a revoked certificate is refused; revoking twice too.
    ca.revoke(&rec.serial, RevocationReason::CessationOfOperation)
        .expect("revoke");
    assert!(matches!(
        ca.renew(&rec.serial),
        Err(ca::CaError::AlreadyRevoked(_))
    ));
    assert!(matches!(
        ca.revoke(&rec.serial, RevocationReason::KeyCompromise),
        Err(ca::CaError::AlreadyRevoked(_))
    ));
    let stored = ca.cert_store().get(&rec.serial).expect("get").expect("rec");
    assert_eq!(
        stored.revocation.map(|r| r.time),
        Some(1_900_000_000 + 4 * 24 * 3600)
    );

    // TSA genTime is the clock's time.
    let mut q = vec![];
    let imprint = x509_tsp::MessageImprint {
        hash_algorithm: spki::AlgorithmIdentifier {
            oid: const_oid::db::rfc5912::ID_SHA_256,
            parameters: None,
        },
        hashed_message: der::asn1::OctetString::new(vec![7u8; 32]).expect("os"),
    };
    let req = x509_tsp::TimeStampReq {
        version: x509_tsp::TspVersion::V1,
        message_imprint: imprint,
        req_policy: None,
        nonce: Some(der::asn1::Int::new(&[0x12, 0x34]).expect("int")),
        cert_req: false,
        extensions: None,
    };
    req.encode_to_vec(&mut q).expect("encode");
    let resp = ca.tsa().respond(&q).expect("respond");
    let resp = x509_tsp::TimeStampResp::from_der(&resp).expect("resp");
    let token = resp.time_stamp_token.expect("token");
    let sd =
        cms::signed_data::SignedData::from_der(&token.content.to_der().expect("der")).expect("sd");
    assert!(sd.certificates.is_none(), "no certificate unless certReq");
    let tst = x509_tsp::TstInfo::from_der(sd.encap_content_info.econtent.expect("content").value())
        .expect("tst");
    assert_eq!(
        tst.gen_time.to_system_time(),
        start + Duration::from_secs(4 * 24 * 3600)
    );
    assert_eq!(tst.nonce.expect("nonce").as_bytes(), &[0x12, 0x34]);

    // A policy the TSA does not have is refused with unacceptedPolicy.
    let mut bad = req.clone();
    bad.req_policy = Some(const_oid::ObjectIdentifier::new_unwrap("1.2.3.4"));
    let mut q = vec![];
    bad.encode_to_vec(&mut q).expect("encode");
    let out = ca.tsa().respond(&q).expect("respond");
    assert!(x509_tsp::TimeStampResp::from_der(&out)
        .map(|r| r.time_stamp_token.is_none())
        .unwrap_or(true));
    // PKIStatusInfo: status 2 (rejection), failInfo bit 15 set.
    assert!(
        out.windows(3).any(|w| w == [0x02, 0x01, 0x02]),
        "{out:02x?}"
    );
    assert!(
        out.windows(5).any(|w| w == [0x03, 0x03, 0x00, 0x00, 0x01]),
        "{out:02x?}"
    );
    let _ = Encode::to_der(&der::asn1::Null);
}

#[test]
fn pin_held_keys_are_issued_renewed_and_moved_without_a_master_key_copy() {
    use ca::authority::KeyHolder;
    use ca::keystore::{KeyStore, MasterKey, SealedKeyStore};
    use ca::pin::PinVault;

    let t = TestCa::start(KeyAlgorithm::EcdsaP256);
    let master = MasterKey::from_file(&t.path("master.hex")).expect("mk");
    let vault = PinVault::new(&master).expect("vault");
    let lock = vault.create("pin12345").expect("lock");
    let recipient = lock.recipient().expect("recipient");
    let key_files = || std::fs::read_dir(t.path("keys")).expect("dir").count();
    let before = key_files();

    // Issued to the PIN: the CA keeps no key, the envelope holds the certificate's key.
    let issued =
        t.ca.issue_for(
            &japanese_application("Hanako", "hanako@example.jp"),
            KeyHolder::Pin(&recipient),
        )
        .expect("issue");
    assert!(issued.record.key.is_none());
    assert_eq!(key_files(), before, "no key file for a PIN-held key");
    let envelope = issued.envelope.expect("envelope");
    let key = vault
        .unlock(&lock, "pin12345")
        .expect("unlock")
        .open(&envelope)
        .expect("open");
    let cert = x509_cert::Certificate::from_der(&issued.record.cert_der).expect("cert");
    let spki = cert
        .tbs_certificate
        .subject_public_key_info
        .to_der()
        .expect("spki");
    assert_eq!(key.public_key_spki_der().expect("spki"), spki);
    t.write_pem("pin.pem", &[&issued.record.cert_der]);
    let (ok, out) = t.ocsp(&[
        "-issuer",
        "issuing.pem",
        "-cert",
        "pin.pem",
        "-CAfile",
        "root.pem",
    ]);
    assert!(ok && out.contains("pin.pem: good"), "{out}");

    // Renewed and changed to the PIN: new envelopes, still no key files.
    let renewed =
        t.ca.renew_for(&issued.record.serial, KeyHolder::Pin(&recipient))
            .expect("renew");
    let changed =
        t.ca.change_for(
            &renewed.record.serial,
            &japanese_application("Hanako Suzuki", "hanako@example.jp"),
            KeyHolder::Pin(&recipient),
        )
        .expect("change");
    assert!(renewed.envelope.is_some() && changed.envelope.is_some());
    assert_eq!(key_files(), before);

    // A CA-held key moves into an envelope and its sealed file is deleted.
    let held =
        t.ca.issue(&japanese_application("Jiro", "jiro@example.jp"))
            .expect("issue");
    let handle = held.key.clone().expect("held");
    assert_eq!(key_files(), before + 1);
    let keys = SealedKeyStore::in_dir(&master, t.path("keys")).expect("ks");
    let moved = keys.seal_to_pin(&handle, &recipient).expect("seal to pin");
    keys.delete(&handle).expect("delete");
    assert_eq!(key_files(), before);
    assert!(
        keys.sign(&handle, b"x").is_err(),
        "the master-key copy is gone"
    );
    let opened = vault
        .unlock(&lock, "pin12345")
        .expect("unlock")
        .open(&moved)
        .expect("open");
    let held_cert = x509_cert::Certificate::from_der(&held.cert_der).expect("cert");
    assert_eq!(
        opened.public_key_spki_der().expect("spki"),
        held_cert
            .tbs_certificate
            .subject_public_key_info
            .to_der()
            .expect("der")
    );
}

#[test]
fn a_key_deleted_by_another_process_is_not_used_from_the_cache() {
    use ca::keystore::{KeyStore, MasterKey, SealedKeyStore};
    let t = TestCa::start(KeyAlgorithm::EcdsaP256);
    let held =
        t.ca.issue(&japanese_application("Goro", "goro@example.jp"))
            .expect("issue");
    let handle = held.key.expect("held");
    let master = MasterKey::from_file(&t.path("master.hex")).expect("mk");
    // Two processes' stores over one folder; the first has the key open (cached).
    let first = SealedKeyStore::in_dir(&master, t.path("keys")).expect("ks");
    let second = SealedKeyStore::in_dir(&master, t.path("keys")).expect("ks");
    first.sign(&handle, b"warm").expect("sign");
    second.delete(&handle).expect("delete");
    assert!(matches!(
        first.sign(&handle, b"after"),
        Err(ca::CaError::NotFound(_))
    ));
}

/// Two processes share one certificate store (the JSON file here, the database in the service):
/// a revocation recorded by one is on the other's next CRL, although that one had just built
/// and cached its CRL.
#[test]
fn a_revocation_by_another_process_is_on_the_next_crl() {
    use std::sync::Arc;

    use ca::authority::{Authority, BaseUrl, CaConfig};
    use ca::certstore::JsonFileCertStore;
    use ca::clock::SystemClock;
    use ca::keystore::{KeyStore, MasterKey, SealedKeyStore};

    let dir = tempfile::tempdir().expect("tempdir");
    let master = MasterKey::generate().expect("master");
    let keys = || -> Arc<dyn KeyStore> {
        Arc::new(SealedKeyStore::in_dir(&master, dir.path().join("keys")).expect("keys"))
    };
    let certs = || Arc::new(JsonFileCertStore::open(dir.path().join("certs.json")).expect("certs"));
    let config = CaConfig::new(
        "Inkan Test",
        BaseUrl::parse("http://127.0.0.1:1").expect("url"),
    );
    let first = Authority::init(config, keys(), certs(), Arc::new(SystemClock)).expect("init");
    let second = Authority::open(
        first.config().clone(),
        first.material().clone(),
        keys(),
        certs(),
        Arc::new(SystemClock),
    )
    .expect("open");
    let signer = first
        .issue(&japanese_application("A", "a@example.jp"))
        .expect("issue");
    let revoked_serials = |der: &[u8]| -> Vec<String> {
        let crl = x509_cert::crl::CertificateList::from_der(der).expect("a CRL");
        crl.tbs_cert_list
            .revoked_certificates
            .unwrap_or_default()
            .iter()
            .map(|r| hex::encode(r.serial_number.as_bytes()))
            .collect()
    };
    let before = second.crl_der().expect("crl");
    assert!(revoked_serials(&before).is_empty());
    assert_eq!(
        second.crl_der().expect("crl"),
        before,
        "cached while nothing changed"
    );

    first
        .revoke(&signer.serial, RevocationReason::KeyCompromise)
        .expect("revoke");
    let after = second.crl_der().expect("crl");
    assert_eq!(
        revoked_serials(&after),
        vec![signer.serial.as_str().to_owned()],
        "the other process's revocation is listed at once"
    );
}
