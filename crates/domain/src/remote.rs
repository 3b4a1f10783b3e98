//! Signature services Inkan reaches over HTTP: an organisation's external RFC 3161 timestamp
//! authority (used instead of Inkan's own when an administrator sets one), and the OCSP
//! responders and CRLs of certificates Inkan's CA did not issue (an imported certificate's
//! chain, an external TSA's). The calls block (ureq) and are made from the blocking thread that
//! signs; each has a timeout, follows no redirect and reads a bounded answer, and an answer is
//! passed on only when it is what was asked for (a timestamp reply, an OCSP response, a CRL),
//! so a URL named in an uploaded certificate cannot make Inkan copy another document into a
//! PDF. What failed is kept, so the caller can say which service did.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use der::Decode as _;
use pdf_sign::{PdfError, RevocationTransport, TsaTransport};

/// How long one call may take, connecting included.
pub const TIMEOUT: Duration = Duration::from_secs(15);
/// A URL, at most this many characters.
pub const MAX_URL_CHARS: usize = 2000;
/// The largest answer read (a big CA's CRL stays well below).
const MAX_ANSWER: u64 = 16 << 20;

/// `text` as an `http://` or `https://` URL with a host and no user name or password, at most
/// [`MAX_URL_CHARS`] characters, as the HTTP client reads it (trimmed); or the message key of
/// what is wrong: `error.required`, `error.too_long`, or `bad`.
pub fn http_url(text: &str, bad: &'static str) -> Result<String, &'static str> {
    let text = text.trim();
    if text.is_empty() {
        return Err("error.required");
    }
    if text.chars().count() > MAX_URL_CHARS {
        return Err("error.too_long");
    }
    let uri: ureq::http::Uri = text.parse().map_err(|_| bad)?;
    let scheme_ok = uri
        .scheme_str()
        .is_some_and(|s| s.eq_ignore_ascii_case("http") || s.eq_ignore_ascii_case("https"));
    let host_ok = uri
        .authority()
        .is_some_and(|a| !a.host().is_empty() && !a.as_str().contains('@'));
    if scheme_ok && host_ok {
        Ok(text.to_owned())
    } else {
        Err(bad)
    }
}

/// An external timestamp authority's address (RFC 3161 over HTTP).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TsaUrl(String);

impl TsaUrl {
    /// The URL, or the message key of what is wrong with it.
    pub fn parse(text: &str) -> Result<Self, &'static str> {
        http_url(text, "error.tsa_url").map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// TLS by rustls on aws-lc-rs, trusting the platform's root certificates (what the webhook
/// deliveries and these calls share). `who` names the caller in the warning given when the
/// platform has none.
pub(crate) fn tls_config(who: &str) -> ureq::tls::TlsConfig {
    use ureq::tls::{Certificate, RootCerts, TlsConfig, TlsProvider};
    let native = rustls_native_certs::load_native_certs();
    if native.certs.is_empty() {
        tracing::warn!(errors = ?native.errors, "no root certificates found: {who} over https will fail");
    }
    let roots: Vec<Certificate<'static>> = native
        .certs
        .iter()
        .map(|c| Certificate::from_der(c.as_ref()).to_owned())
        .collect();
    TlsConfig::builder()
        .provider(TlsProvider::Rustls)
        .root_certs(RootCerts::new_with_certs(&roots))
        .unversioned_rustls_crypto_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
        .build()
}

/// The process's client for these calls: [`TIMEOUT`], no redirects, any status returned as it
/// is.
fn agent() -> &'static ureq::Agent {
    static AGENT: OnceLock<ureq::Agent> = OnceLock::new();
    AGENT.get_or_init(|| {
        ureq::Agent::config_builder()
            .timeout_global(Some(TIMEOUT))
            .max_redirects(0)
            .http_status_as_error(false)
            .user_agent(concat!("Inkan/", env!("CARGO_PKG_VERSION")))
            .tls_config(tls_config("timestamps and revocation data"))
            .build()
            .into()
    })
}

/// POSTs `body` (or GETs without one) and reads a successful answer.
fn fetch(url: &str, body: Option<(&str, &[u8])>) -> Result<Vec<u8>, String> {
    let response = match body {
        Some((content_type, data)) => agent()
            .post(url)
            .header("Content-Type", content_type)
            .send(data),
        None => agent().get(url).call(),
    };
    let response = response.map_err(|e| e.to_string())?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!("answered HTTP {}", status.as_u16()));
    }
    response
        .into_body()
        .with_config()
        .limit(MAX_ANSWER)
        .read_to_vec()
        .map_err(|e| e.to_string())
}

/// Which service reached over HTTP failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// The organisation's external timestamp authority.
    Timestamps,
    /// An OCSP responder or CRL of another CA.
    Revocation,
}

/// What failed at a service reached over HTTP: which one, its URL and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreachable {
    pub service: Service,
    pub url: String,
    pub why: String,
}

impl std::fmt::Display for Unreachable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.url, self.why)
    }
}

/// The first failure of a signature's calls, kept for its message.
#[derive(Debug, Default)]
pub struct Failures(Mutex<Option<Unreachable>>);

impl Failures {
    fn note(&self, service: Service, url: &str, why: String) -> PdfError {
        let failure = Unreachable {
            service,
            url: url.to_owned(),
            why,
        };
        let error = PdfError::Invalid(format!("{failure}"));
        let mut first = self.0.lock().unwrap_or_else(|e| e.into_inner());
        first.get_or_insert(failure);
        error
    }

    /// The first failure noted, if any.
    pub fn first(&self) -> Option<Unreachable> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// An external timestamp authority: the request POSTed as `application/timestamp-query`, the
/// answer passed on when it is a timestamp reply that grants the request (pdf-sign then checks
/// that it answers this request).
#[derive(Debug)]
pub struct HttpTsa<'a> {
    pub url: &'a TsaUrl,
    pub failures: &'a Failures,
}

impl TsaTransport for HttpTsa<'_> {
    fn post(&self, request: &[u8]) -> pdf_sign::Result<Vec<u8>> {
        let url = self.url.as_str();
        let fail = |why: String| self.failures.note(Service::Timestamps, url, why);
        let answer = fetch(url, Some(("application/timestamp-query", request))).map_err(fail)?;
        let reply = x509_tsp::TimeStampResp::from_der(&answer)
            .map_err(|_| fail("the answer is not a timestamp reply (RFC 3161)".into()))?;
        let status = reply.status.status as u32;
        if status > 1 {
            return Err(fail(format!("refused the request (PKIStatus {status})")));
        }
        Ok(answer)
    }
}

/// OCSP responders and CRLs of other CAs: an OCSP request POSTed as
/// `application/ocsp-request`, a CRL fetched with GET; each answer passed on only when it is
/// one.
#[derive(Debug)]
pub struct HttpRevocation<'a> {
    pub failures: &'a Failures,
}

impl RevocationTransport for HttpRevocation<'_> {
    fn ocsp(&self, url: &str, request: &[u8]) -> pdf_sign::Result<Vec<u8>> {
        let fail = |why: String| self.failures.note(Service::Revocation, url, why);
        http_url(url, "").map_err(|_| fail("not an http(s) address".into()))?;
        let answer = fetch(url, Some(("application/ocsp-request", request))).map_err(fail)?;
        x509_ocsp::OcspResponse::from_der(&answer)
            .map_err(|_| fail("the answer is not an OCSP response".into()))?;
        Ok(answer)
    }

    fn get(&self, url: &str) -> pdf_sign::Result<Vec<u8>> {
        let fail = |why: String| self.failures.note(Service::Revocation, url, why);
        http_url(url, "").map_err(|_| fail("not an http(s) address".into()))?;
        let answer = fetch(url, None).map_err(fail)?;
        x509_cert::crl::CertificateList::from_der(&answer)
            .map_err(|_| fail("the answer is not a CRL".into()))?;
        Ok(answer)
    }
}

/// The certificate at `url` (an issuer named by a certificate's caIssuers address), DER or
/// PEM; a failure is noted in `failures` as the revocation data's (without the issuer, none can
/// be asked for).
pub fn fetch_certificate(url: &str, failures: &Failures) -> Option<x509_cert::Certificate> {
    let fail = |why: String| {
        failures.note(Service::Revocation, url, why);
        None
    };
    if http_url(url, "").is_err() {
        return fail("not an http(s) address".into());
    }
    let answer = match fetch(url, None) {
        Ok(a) => a,
        Err(why) => return fail(why),
    };
    let der = match der::pem::decode_vec(&answer) {
        Ok((_, der)) => der,
        Err(_) => answer,
    };
    match x509_cert::Certificate::from_der(&der) {
        Ok(c) => Some(c),
        Err(_) => fail("the answer is not a certificate".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_http_and_https_urls_with_a_host_are_timestamp_authorities() {
        for ok in [
            "http://timestamp.example.com",
            "https://tsa.example.jp/rfc3161?x=1",
            "  http://127.0.0.1:8081/tsa  ",
        ] {
            assert_eq!(
                TsaUrl::parse(ok).map(|u| u.as_str().to_owned()),
                Ok(ok.trim().to_owned())
            );
        }
        for (bad, key) in [
            ("", "error.required"),
            ("ftp://tsa.example.com/", "error.tsa_url"),
            ("tsa.example.com/tsa", "error.tsa_url"),
            ("https://user:pw@tsa.example.com/", "error.tsa_url"),
            ("https://", "error.tsa_url"),
            ("https://ts a.example.com/", "error.tsa_url"),
        ] {
            assert_eq!(TsaUrl::parse(bad), Err(key), "{bad:?}");
        }
        let long = format!("https://example.com/{}", "a".repeat(MAX_URL_CHARS));
        assert_eq!(TsaUrl::parse(&long), Err("error.too_long"));
    }

    /// A server that answers every request with `body`, once per connection, on loopback.
    fn answering(body: &'static [u8], status: &'static str) -> String {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}/x", listener.local_addr().expect("addr"));
        std::thread::spawn(move || {
            use std::io::{Read, Write};
            for stream in listener.incoming().take(4) {
                let Ok(mut stream) = stream else { continue };
                let mut buf = [0u8; 4096];
                let _ = stream.read(&mut buf);
                let head = format!(
                    "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(head.as_bytes());
                let _ = stream.write_all(body);
            }
        });
        url
    }

    #[test]
    fn an_answer_that_is_not_what_was_asked_for_is_refused_and_noted() {
        let failures = Failures::default();
        let url = answering(b"<html>secret intranet page</html>", "200 OK");
        let revocation = HttpRevocation {
            failures: &failures,
        };
        let refused = revocation.get(&url).expect_err("not a CRL");
        assert!(refused.to_string().contains("not a CRL"), "{refused}");
        assert!(revocation.ocsp(&url, b"x").is_err());
        let first = failures.first().expect("noted");
        assert_eq!(first.service, Service::Revocation);
        assert_eq!(first.url, url);
        assert!(revocation.get("file:///etc/passwd").is_err());

        let failures = Failures::default();
        let tsa_url = TsaUrl::parse(&answering(b"nope", "503 Service Unavailable")).expect("url");
        let tsa = HttpTsa {
            url: &tsa_url,
            failures: &failures,
        };
        let refused = tsa.post(b"request").expect_err("unavailable");
        assert!(refused.to_string().contains("HTTP 503"), "{refused}");
        let first = failures.first().expect("noted");
        assert_eq!(first.service, Service::Timestamps);
        assert_eq!(first.why, "answered HTTP 503");
    }
}
