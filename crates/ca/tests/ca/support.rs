//! Test helpers: a CA in a temporary directory behind a loopback HTTP server (tiny_http) that
//! serves /ca.crt, /root.crt, /crl, /root.crl, /ocsp (GET and POST) and /tsa, and openssl runs.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::thread::JoinHandle;

use base64::Engine;
use ca::application::{Country, Email, SignerApplication};
use ca::authority::{Authority, BaseUrl, CaConfig};
use ca::certstore::MemoryCertStore;
use ca::clock::SystemClock;
use ca::keystore::{KeyAlgorithm, KeyStore, MasterKey, SealedKeyStore};

pub struct TestCa {
    pub dir: tempfile::TempDir,
    pub ca: Arc<Authority>,
    pub base: String,
    server: Arc<tiny_http::Server>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for TestCa {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

pub fn japanese_application(cn: &str, email: &str) -> SignerApplication {
    SignerApplication {
        country: Country::parse("JP").expect("country"),
        state_or_province: Some("東京都".into()),
        locality: Some("千代田区".into()),
        street_address: Some("丸の内1-1-1 印鑑ビル3階".into()),
        postal_code: Some("100-0005".into()),
        organisation: Some("株式会社印鑑".into()),
        organisational_unit: Some("法務部".into()),
        common_name: cn.into(),
        email: Email::parse(email).expect("email"),
    }
}

impl TestCa {
    /// A CA with sealed file keys under `dir/keys`.
    pub fn start(alg: KeyAlgorithm) -> TestCa {
        let dir = tempfile::tempdir().expect("tempdir");
        let master = MasterKey::generate().expect("master");
        std::fs::write(dir.path().join("master.hex"), master.to_hex().as_bytes()).expect("write");
        let keys: Arc<dyn KeyStore> =
            Arc::new(SealedKeyStore::in_dir(&master, dir.path().join("keys")).expect("keystore"));
        Self::start_with(dir, keys, alg)
    }

    pub fn start_with(
        dir: tempfile::TempDir,
        keys: Arc<dyn KeyStore>,
        alg: KeyAlgorithm,
    ) -> TestCa {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").expect("bind"));
        let port = server.server_addr().to_ip().expect("ip").port();
        let base = format!("http://127.0.0.1:{port}");
        let mut config = CaConfig::new("Inkan Test", BaseUrl::parse(&base).expect("url"));
        config.country = Some(Country::parse("JP").expect("c"));
        config.ca_key_algorithm = alg;
        config.signer_key_algorithm = alg;
        let ca = Arc::new(
            Authority::init(
                config,
                keys,
                Arc::new(MemoryCertStore::new()),
                Arc::new(SystemClock),
            )
            .expect("init"),
        );
        let thread = {
            let (server, ca) = (server.clone(), ca.clone());
            std::thread::spawn(move || serve(&server, &ca))
        };
        let t = TestCa {
            dir,
            ca,
            base,
            server,
            thread: Some(thread),
        };
        t.write_pem("root.pem", &[t.ca.root_cert_der()]);
        t.write_pem("issuing.pem", &[t.ca.issuing_cert_der()]);
        t.write_pem("tsa.pem", &[t.ca.tsa_cert_der()]);
        t
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn write_pem(&self, name: &str, ders: &[&[u8]]) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, pem(ders)).expect("write pem");
        path
    }

    pub fn ocsp(&self, args: &[&str]) -> (bool, String) {
        let mut all = vec!["ocsp", "-url"];
        let url = format!("{}/ocsp", self.base);
        all.push(&url);
        all.extend_from_slice(args);
        openssl_in(self.dir.path(), &all)
    }
}

pub fn pem(ders: &[&[u8]]) -> String {
    let mut out = String::new();
    for der in ders {
        let b64 = base64::engine::general_purpose::STANDARD.encode(der);
        out.push_str("-----BEGIN CERTIFICATE-----\n");
        for chunk in b64.as_bytes().chunks(64) {
            out.push_str(std::str::from_utf8(chunk).expect("ascii"));
            out.push('\n');
        }
        out.push_str("-----END CERTIFICATE-----\n");
    }
    out
}

fn serve(server: &tiny_http::Server, ca: &Authority) {
    for mut req in server.incoming_requests() {
        let mut body = Vec::new();
        let _ = req.as_reader().take(64 * 1024).read_to_end(&mut body);
        let url = req.url().to_owned();
        let post = *req.method() == tiny_http::Method::Post;
        let result = match (post, url.as_str()) {
            (false, "/ca.crt") => Ok((ca.issuing_cert_der().to_vec(), "application/pkix-cert")),
            (false, "/root.crt") => Ok((ca.root_cert_der().to_vec(), "application/pkix-cert")),
            (false, "/crl") => ca.crl_der().map(|d| (d, "application/pkix-crl")),
            (false, "/root.crl") => ca.root_crl_der().map(|d| (d, "application/pkix-crl")),
            (true, "/ocsp") => ca
                .ocsp()
                .respond(&body)
                .map(|d| (d, "application/ocsp-response")),
            (false, u) if u.starts_with("/ocsp/") => ca
                .ocsp()
                .respond_get(&u[6..])
                .map(|d| (d, "application/ocsp-response")),
            (true, "/tsa") => ca
                .tsa()
                .respond(&body)
                .map(|d| (d, "application/timestamp-reply")),
            _ => {
                let _ = req.respond(
                    tiny_http::Response::from_data(b"not found".to_vec()).with_status_code(404),
                );
                continue;
            }
        };
        let resp = match result {
            Ok((data, ctype)) => tiny_http::Response::from_data(data)
                .with_header(tiny_http::Header::from_bytes("Content-Type", ctype).expect("header")),
            Err(e) => {
                tiny_http::Response::from_data(e.to_string().into_bytes()).with_status_code(500)
            }
        };
        let _ = req.respond(resp);
    }
}

/// Runs openssl in `dir`; returns success and stdout+stderr.
pub fn openssl_in(dir: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run openssl");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// A raw HTTP/1.0 request to the test server; returns (status code, body).
pub fn http(base: &str, method: &str, path: &str, body: &[u8], ctype: &str) -> (u16, Vec<u8>) {
    let addr = base.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).expect("connect");
    let head = format!(
        "{method} {path} HTTP/1.0\r\nHost: {addr}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).expect("write");
    s.write_all(body).expect("write");
    let mut resp = Vec::new();
    s.read_to_end(&mut resp).expect("read");
    let split = resp
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("header end");
    let status_line = String::from_utf8_lossy(&resp[..split]).to_string();
    let code = status_line
        .split_whitespace()
        .nth(1)
        .expect("code")
        .parse()
        .expect("num");
    (code, resp[split + 4..].to_vec())
}
