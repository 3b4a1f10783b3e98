//! `ca::external`: PKCS#12 files made by openssl (a root, an intermediate and leaves with their
//! keys) opened and checked — the chain kept, the key sealed to a PIN and signing for the
//! certificate — and every kind of file refused with its reason.

use std::path::Path;

use ca::external::{self, Refusal};
use ca::keystore::{KeyAlgorithm, MasterKey};
use ca::pin::PinVault;
use ca::CaError;
use der::Decode;

use crate::support::openssl_in;

const EXTENSIONS: &str = "\
[ca]
basicConstraints = critical, CA:true
keyUsage = critical, keyCertSign, cRLSign
crlDistributionPoints = URI:http://crl.outside.test/root.crl
[signer]
basicConstraints = CA:false
keyUsage = critical, digitalSignature, nonRepudiation
crlDistributionPoints = URI:http://crl.outside.test/ca.crl
[no_usage]
basicConstraints = CA:false
authorityInfoAccess = OCSP;URI:http://ocsp.outside.test/, caIssuers;URI:http://outside.test/ca.crt
[not_for_signing]
basicConstraints = CA:false
keyUsage = critical, keyEncipherment
crlDistributionPoints = URI:http://crl.outside.test/ca.crl
[no_revocation]
basicConstraints = CA:false
keyUsage = critical, digitalSignature
";

fn run(dir: &Path, args: &[&str]) {
    let (ok, out) = openssl_in(dir, args);
    assert!(ok, "openssl {args:?}: {out}");
}

/// A key of `kind` (`ec`, `rsa:4096`, `ed25519`) in `name.key`.
fn key(dir: &Path, name: &str, kind: &str) {
    let file = format!("{name}.key");
    match kind {
        "ec" => run(
            dir,
            &[
                "genpkey",
                "-algorithm",
                "EC",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-out",
                &file,
            ],
        ),
        "ed25519" => run(dir, &["genpkey", "-algorithm", "ed25519", "-out", &file]),
        bits => run(
            dir,
            &[
                "genpkey",
                "-algorithm",
                "RSA",
                "-pkeyopt",
                &format!("rsa_keygen_bits:{bits}"),
                "-out",
                &file,
            ],
        ),
    }
}

/// `name.pem` for `name.key`, issued by `issuer` with the extension section `section`.
fn issue(dir: &Path, name: &str, subject: &str, issuer: &str, section: &str) {
    run(
        dir,
        &[
            "req",
            "-new",
            "-utf8",
            "-key",
            &format!("{name}.key"),
            "-subj",
            subject,
            "-out",
            &format!("{name}.csr"),
        ],
    );
    run(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &format!("{name}.csr"),
            "-CA",
            &format!("{issuer}.pem"),
            "-CAkey",
            &format!("{issuer}.key"),
            "-CAcreateserial",
            "-days",
            "30",
            "-extfile",
            "ext.cnf",
            "-extensions",
            section,
            "-out",
            &format!("{name}.pem"),
        ],
    );
}

/// `name.p12` of `name.key` and `name.pem` with `chain.pem`, password "secret".
fn export(dir: &Path, name: &str) -> Vec<u8> {
    export_with(dir, name, "chain.pem")
}

/// `name.p12` of `name.key`, `name.pem` and the certificates in `chain`, password "secret".
fn export_with(dir: &Path, name: &str, chain: &str) -> Vec<u8> {
    run(
        dir,
        &[
            "pkcs12",
            "-export",
            "-inkey",
            &format!("{name}.key"),
            "-in",
            &format!("{name}.pem"),
            "-certfile",
            chain,
            "-passout",
            "pass:secret",
            "-out",
            &format!("{name}.p12"),
        ],
    );
    std::fs::read(dir.join(format!("{name}.p12"))).expect("p12")
}

fn refusal(result: ca::Result<external::External>) -> Refusal {
    match result {
        Err(CaError::Import(r)) => r,
        other => panic!("not refused: {other:?}"),
    }
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("time")
        .as_secs()
}

#[test]
fn a_pkcs12_is_opened_checked_and_its_key_sealed_to_a_pin() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    std::fs::write(d.join("ext.cnf"), EXTENSIONS).expect("ext");
    key(d, "root", "ec");
    run(
        d,
        &[
            "req",
            "-x509",
            "-key",
            "root.key",
            "-subj",
            "/CN=Outside Root/O=Outside KK",
            "-days",
            "30",
            "-out",
            "root.pem",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    );
    key(d, "inter", "ec");
    issue(
        d,
        "inter",
        "/CN=Outside Issuing CA/O=Outside KK",
        "root",
        "ca",
    );
    let chain = [
        std::fs::read(d.join("inter.pem")).expect("inter"),
        std::fs::read(d.join("root.pem")).expect("root"),
    ]
    .concat();
    std::fs::write(d.join("chain.pem"), chain).expect("chain");
    key(d, "p256", "ec");
    issue(d, "p256", "/CN=山田 太郎/O=Outside KK", "inter", "signer");
    let p12 = export(d, "p256");

    // Opened: the certificate with the file's chain, nearest issuer first, no key in the CA.
    let opened = external::open(&p12, "secret", now()).expect("opened");
    assert_eq!(opened.algorithm(), KeyAlgorithm::EcdsaP256);
    let record = &opened.record;
    assert_eq!(record.kind, ca::certstore::CertKind::Imported);
    assert!(record.key.is_none());
    assert!(record.subject.contains("山田 太郎"), "{}", record.subject);
    assert!(
        opened.issuer.contains("Outside Issuing CA"),
        "{}",
        opened.issuer
    );
    let names: Vec<String> = record
        .chain
        .iter()
        .map(|c| {
            x509_cert::Certificate::from_der(c)
                .expect("cert")
                .tbs_certificate
                .subject
                .to_string()
        })
        .collect();
    assert!(names[0].contains("Outside Issuing CA") && names[1].contains("Outside Root"));

    // The key, sealed to a PIN, opens only with it and signs for the certificate.
    let vault = PinVault::new(&MasterKey::from_bytes(&[3; 32]).expect("mk")).expect("vault");
    let lock = vault.create("Pin2026abc").expect("lock");
    let envelope = opened
        .seal_to(&lock.recipient().expect("recipient"))
        .expect("sealed");
    let opened_key = vault
        .unlock(&lock, "Pin2026abc")
        .expect("unlock")
        .open(&envelope)
        .expect("open");
    let signature = opened_key.sign(b"contract").expect("sign");
    let cert = x509_cert::Certificate::from_der(&record.cert_der).expect("cert");
    aws_lc_rs::signature::UnparsedPublicKey::new(
        &aws_lc_rs::signature::ECDSA_P256_SHA256_ASN1,
        cert.tbs_certificate
            .subject_public_key_info
            .subject_public_key
            .raw_bytes(),
    )
    .verify(b"contract", &signature)
    .expect("the certificate's key signed");
    assert!(vault.unlock(&lock, "Pin2026abd").is_err());

    // RSA 4096 and a certificate without key usage, whose status is at an OCSP responder, are
    // accepted too; and so is a file without the issuers when the leaf says where its issuer
    // is published.
    key(d, "rsa", "4096");
    issue(d, "rsa", "/CN=RSA Signer", "inter", "no_usage");
    let opened = external::open(&export(d, "rsa"), "secret", now()).expect("RSA 4096");
    assert_eq!(opened.algorithm(), KeyAlgorithm::Rsa4096);
    let alone = export_with(d, "rsa", "rsa.pem");
    let opened = external::open(&alone, "secret", now()).expect("issuers published");
    assert!(opened.record.chain.is_empty());

    // Refusals, each with its reason.
    assert_eq!(
        refusal(external::open(&p12, "wrong", now())),
        Refusal::WrongPassword
    );
    for not_p12 in [
        b"%PDF-1.7 not a key file".to_vec(),
        std::fs::read(d.join("p256.pem")).expect("pem"),
        Vec::new(),
        p12[..p12.len() / 2].to_vec(),
    ] {
        assert_eq!(
            refusal(external::open(&not_p12, "secret", now())),
            Refusal::NotPkcs12
        );
    }
    let validity = x509_cert::Certificate::from_der(&record.cert_der)
        .expect("cert")
        .tbs_certificate
        .validity;
    let not_before = validity.not_before.to_unix_duration().as_secs();
    let not_after = validity.not_after.to_unix_duration().as_secs();
    assert_eq!(
        refusal(external::open(&p12, "secret", not_before - 1)),
        Refusal::NotYetValid
    );
    assert_eq!(
        refusal(external::open(&p12, "secret", not_after)),
        Refusal::Expired
    );
    external::open(&p12, "secret", not_after - 1).expect("valid to its last second");

    // No key: a file of certificates only.
    run(
        d,
        &[
            "pkcs12",
            "-export",
            "-nokeys",
            "-in",
            "p256.pem",
            "-passout",
            "pass:secret",
            "-out",
            "nokeys.p12",
        ],
    );
    let nokeys = std::fs::read(d.join("nokeys.p12")).expect("p12");
    assert_eq!(
        refusal(external::open(&nokeys, "secret", now())),
        Refusal::NoKey
    );
    // A key usage without signatures.
    key(d, "enc", "ec");
    issue(d, "enc", "/CN=Encryption Only", "inter", "not_for_signing");
    assert_eq!(
        refusal(external::open(&export(d, "enc"), "secret", now())),
        Refusal::NotForSigning
    );
    // A certificate that names neither an OCSP responder nor a CRL.
    key(d, "norev", "ec");
    issue(d, "norev", "/CN=No Revocation", "inter", "no_revocation");
    assert_eq!(
        refusal(external::open(&export(d, "norev"), "secret", now())),
        Refusal::NoRevocationInfo
    );
    // A file without the issuers of a leaf that does not say where they are published.
    assert_eq!(
        refusal(external::open(
            &export_with(d, "p256", "p256.pem"),
            "secret",
            now()
        )),
        Refusal::IncompleteChain
    );
    // An Ed25519 key.
    key(d, "ed", "ed25519");
    issue(d, "ed", "/CN=Edwards Signer", "inter", "signer");
    assert_eq!(
        refusal(external::open(&export(d, "ed"), "secret", now())),
        Refusal::KeyType
    );
    // Another key than the certificate's (openssl will not write such a file; p12-keystore
    // does).
    let (_, pkcs8) =
        der::pem::decode_vec(&std::fs::read(d.join("enc.key")).expect("key")).expect("PEM key");
    let leaf = p12_keystore::Certificate::from_der(
        &x509_cert::Certificate::load_pem_chain(&std::fs::read(d.join("p256.pem")).expect("pem"))
            .expect("pem")[0]
            .to_der_vec(),
    )
    .expect("leaf");
    let mut store = p12_keystore::KeyStore::new();
    store.add_entry(
        "mismatch",
        p12_keystore::KeyStoreEntry::PrivateKeyChain(p12_keystore::PrivateKeyChain::new(
            "mismatch",
            p12_keystore::PrivateKey::from_der(&pkcs8).expect("key"),
            [leaf],
        )),
    );
    let mismatched = store.writer("secret").write().expect("written");
    assert_eq!(
        refusal(external::open(&mismatched, "secret", now())),
        Refusal::KeyMismatch
    );
}

trait ToDerVec {
    fn to_der_vec(&self) -> Vec<u8>;
}

impl ToDerVec for x509_cert::Certificate {
    fn to_der_vec(&self) -> Vec<u8> {
        der::Encode::to_der(self).expect("DER")
    }
}
