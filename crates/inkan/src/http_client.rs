//! Plain-HTTP transports for timestamps and revocation data (RFC 3161 over HTTP, RFC 6960
//! OCSP over HTTP POST, CRLs by GET), used by `inkan sign --level`.

use std::time::Duration;

use pdf_sign::{PdfError, RevocationTransport, TsaTransport};

/// Answers larger than this are refused (a CRL of a big CA stays well below).
const MAX_BODY: u64 = 16 << 20;

#[derive(Debug)]
pub struct Http {
    agent: ureq::Agent,
}

impl Http {
    pub fn new() -> Self {
        let config = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(30)))
            .http_status_as_error(false)
            .build();
        Self {
            agent: config.into(),
        }
    }

    fn fetch(&self, url: &str, body: Option<(&str, &[u8])>) -> pdf_sign::Result<Vec<u8>> {
        let fail = |e: ureq::Error| PdfError::Invalid(format!("{url}: {e}"));
        let resp = match body {
            Some((content_type, data)) => self
                .agent
                .post(url)
                .header("Content-Type", content_type)
                .send(data)
                .map_err(fail)?,
            None => self.agent.get(url).call().map_err(fail)?,
        };
        let status = resp.status();
        if !status.is_success() {
            return Err(PdfError::Invalid(format!("{url} answered HTTP {status}")));
        }
        resp.into_body()
            .with_config()
            .limit(MAX_BODY)
            .read_to_vec()
            .map_err(fail)
    }
}

/// A timestamp authority at a URL.
#[derive(Debug)]
pub struct HttpTsa<'a> {
    pub http: &'a Http,
    pub url: String,
}

impl TsaTransport for HttpTsa<'_> {
    fn post(&self, request: &[u8]) -> pdf_sign::Result<Vec<u8>> {
        self.http
            .fetch(&self.url, Some(("application/timestamp-query", request)))
    }
}

impl RevocationTransport for Http {
    fn ocsp(&self, url: &str, request: &[u8]) -> pdf_sign::Result<Vec<u8>> {
        self.fetch(url, Some(("application/ocsp-request", request)))
    }

    fn get(&self, url: &str) -> pdf_sign::Result<Vec<u8>> {
        self.fetch(url, None)
    }
}
