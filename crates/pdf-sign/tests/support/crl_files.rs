//! Revocation data for the verifier in tests: a test PKI's CRLs, read from its folder.

use std::path::Path;

use pdf_sign::{verify, PdfError, Report, RevocationTransport, VerifyOptions};

/// Serves the CRLs of the PKI folder it names by the file name their distribution points give;
/// there is no OCSP responder.
pub struct CrlFiles<'a>(pub &'a Path);

impl RevocationTransport for CrlFiles<'_> {
    fn ocsp(&self, url: &str, _request: &[u8]) -> pdf_sign::Result<Vec<u8>> {
        Err(PdfError::Invalid(format!("no OCSP responder at {url}")))
    }

    fn get(&self, url: &str) -> pdf_sign::Result<Vec<u8>> {
        let name = url.rsplit('/').next().unwrap_or_default();
        Ok(std::fs::read(self.0.join(name))?)
    }
}

/// Inkan's verdict on `pdf`, trusting `root` (DER) and checking revocation with `pki`'s CRLs.
pub fn verify_against(pdf: &[u8], root: &[u8], pki: &Path) -> Report {
    verify(
        pdf.to_vec(),
        &VerifyOptions {
            trust_anchors: vec![root.to_vec()],
            online: Some(&CrlFiles(pki)),
        },
    )
    .expect("verify runs")
}

/// `pdf` with a DSS holding the revocation data its signatures need, from `pki`'s CRLs.
pub fn with_dss(pdf: Vec<u8>, pki: &Path) -> Vec<u8> {
    let mut out = Vec::new();
    pdf_sign::ltv::add_dss(pdf, &mut out, &CrlFiles(pki), &[], &Default::default()).expect("DSS");
    out
}
