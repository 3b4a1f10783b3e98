//! What the fuzz targets share: the seed PDFs and the `exercise` driver of the pdf-sign tests
//! (one copy of each, in `crates/pdf-sign/tests/support/fuzz_common.rs`), and a test key made
//! once by the tests' `make_pki.sh`.

#[path = "../../crates/pdf-sign/tests/support/fuzz_common.rs"]
pub mod common;

use std::path::PathBuf;
use std::sync::OnceLock;

use pdf_sign::KeySigner;

pub struct Keys {
    pub signer: KeySigner,
    pub anchors: Vec<Vec<u8>>,
}

/// The P-256 test signer and the root to trust, from `$INKAN_FUZZ_PKI` (default
/// `fuzz/target/pki`), created with `make_pki.sh` the first time.
pub fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let dir = std::env::var_os("INKAN_FUZZ_PKI")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/pki"));
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../crates/pdf-sign/tests/support/make_pki.sh");
        let ok = std::process::Command::new("bash")
            .arg(&script)
            .arg(&dir)
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "make_pki.sh {} failed", dir.display());
        let read = |f: &str| std::fs::read(dir.join(f)).expect("PKI file");
        let signer = KeySigner::from_pem(
            &read("p256.key"),
            &read("p256.pem"),
            &[read("ca.pem")],
            false,
        )
        .expect("test key loads");
        let anchors = pdf_sign::keys::read_certificates(&read("root.pem")).expect("root");
        Keys { signer, anchors }
    })
}

/// One fuzz iteration: the whole reader, verify and sign on `data`.
pub fn run(data: &[u8]) {
    let k = keys();
    common::exercise(data, Some(&k.signer), &k.anchors);
}
