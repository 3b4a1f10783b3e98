//! Certificates issued per second (key generation, sealing, signing, storing) and OCSP
//! responses per second, with P-256 and RSA 3072 CA keys sealed in memory.

use std::sync::Arc;

use ca::application::{Country, Email, SignerApplication};
use ca::authority::{Authority, BaseUrl, CaConfig};
use ca::certstore::MemoryCertStore;
use ca::clock::SystemClock;
use ca::keystore::{KeyAlgorithm, MasterKey, MemoryStorage, SealedKeyStore};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use der::Encode;
use x509_cert::Certificate;

fn authority(alg: KeyAlgorithm) -> Authority {
    let keys =
        SealedKeyStore::new(&MasterKey::generate().expect("mk"), MemoryStorage::new()).expect("ks");
    let mut config = CaConfig::new(
        "Bench",
        BaseUrl::parse("http://127.0.0.1:8080").expect("url"),
    );
    config.ca_key_algorithm = alg;
    Authority::init(
        config,
        Arc::new(keys),
        Arc::new(MemoryCertStore::new()),
        Arc::new(SystemClock),
    )
    .expect("init")
}

fn application() -> SignerApplication {
    SignerApplication {
        country: Country::parse("JP").expect("c"),
        state_or_province: Some("東京都".into()),
        locality: Some("港区".into()),
        street_address: None,
        postal_code: Some("105-0011".into()),
        organisation: Some("印鑑株式会社".into()),
        organisational_unit: None,
        common_name: "Taro Yamada".into(),
        email: Email::parse("taro@example.jp").expect("email"),
    }
}

/// A DER OCSPRequest for `cert` (SHA-1 CertID, as openssl sends by default), with a nonce.
fn ocsp_request(issuer: &Certificate, cert: &Certificate) -> Vec<u8> {
    use aws_lc_rs::digest::{digest, SHA1_FOR_LEGACY_USE_ONLY as SHA1};
    use x509_ocsp::{CertId, OcspRequest, Request, TbsRequest};
    let id = CertId {
        hash_algorithm: spki::AlgorithmIdentifierOwned {
            oid: const_oid::db::rfc5912::ID_SHA_1,
            parameters: Some(der::asn1::Null.into()),
        },
        issuer_name_hash: der::asn1::OctetString::new(
            digest(
                &SHA1,
                &issuer.tbs_certificate.subject.to_der().expect("der"),
            )
            .as_ref(),
        )
        .expect("os"),
        issuer_key_hash: der::asn1::OctetString::new(
            digest(
                &SHA1,
                issuer
                    .tbs_certificate
                    .subject_public_key_info
                    .subject_public_key
                    .raw_bytes(),
            )
            .as_ref(),
        )
        .expect("os"),
        serial_number: cert.tbs_certificate.serial_number.clone(),
    };
    let nonce = x509_cert::ext::Extension {
        extn_id: const_oid::db::rfc6960::ID_PKIX_OCSP_NONCE,
        critical: false,
        extn_value: der::asn1::OctetString::new(
            der::asn1::OctetString::new(vec![9u8; 16])
                .expect("n")
                .to_der()
                .expect("der"),
        )
        .expect("os"),
    };
    OcspRequest {
        tbs_request: TbsRequest {
            version: Default::default(),
            requestor_name: None,
            request_list: vec![Request {
                req_cert: id,
                single_request_extensions: None,
            }],
            request_extensions: Some(vec![nonce]),
        },
        optional_signature: None,
    }
    .to_der()
    .expect("der")
}

fn bench(c: &mut Criterion) {
    use der::Decode;
    for (name, alg) in [
        ("p256", KeyAlgorithm::EcdsaP256),
        ("rsa3072", KeyAlgorithm::Rsa3072),
    ] {
        let ca = authority(alg);
        let app = application();
        let mut g = c.benchmark_group(format!("ca-{name}"));
        g.throughput(Throughput::Elements(1));
        g.sample_size(if alg == KeyAlgorithm::Rsa3072 { 20 } else { 50 });
        // Signer keys are P-256 (the default) in both groups; the CA key differs.
        g.bench_function("issue_certificate", |b| {
            b.iter(|| ca.issue(&app).expect("issue"))
        });
        let issuer = Certificate::from_der(ca.issuing_cert_der()).expect("issuer");
        let rec = ca.issue(&app).expect("issue");
        let req = ocsp_request(
            &issuer,
            &Certificate::from_der(&rec.cert_der).expect("cert"),
        );
        let resp = ca.ocsp().respond(&req).expect("respond");
        assert!(resp.len() > 200, "a signed response, not an error");
        g.bench_function("ocsp_response", |b| {
            b.iter(|| ca.ocsp().respond(&req).expect("ocsp"))
        });
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
