//! The CA on disk and over HTTP: `inkan ca init` lays out a CA folder (sealed keys, certificate
//! store, public material), `inkan ca serve` publishes its certificates, CRLs, OCSP responder
//! and timestamp authority. `inkan serve` will mount the same router.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context};
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use ca::authority::{paths, Authority, BaseUrl, CaConfig, CaMaterial};
use ca::certstore::{CertRecord, JsonFileCertStore, Serial};
use ca::clock::SystemClock;
use ca::keystore::{KeyAlgorithm, KeyHandle, KeyStore, MasterKey, SealedKeyStore};
use ca::pin::{PinBoundKey, PinVault};
use der::Decode;
use pdf_sign::{HashAlgorithm, PdfError, SignatureScheme, Signer};
use serde::{Deserialize, Serialize};

/// The environment variable holding the master key (64 hex digits).
pub const MASTER_KEY_ENV: &str = "INKAN_MASTER_KEY";

/// What `ca.json` holds: no secret, just the settings and the public material.
#[derive(Debug, Serialize, Deserialize)]
struct CaFile {
    organisation: String,
    base_url: String,
    key_algorithm: String,
    material: CaMaterial,
}

/// A CA folder: `ca.json`, `certs.json`, `keys/` (sealed), and `master.key` unless the master
/// key comes from the environment.
#[derive(Debug)]
pub struct CaDir {
    pub dir: PathBuf,
}

impl CaDir {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    fn master_key(&self, create: bool) -> anyhow::Result<MasterKey> {
        if std::env::var_os(MASTER_KEY_ENV).is_some() {
            return MasterKey::from_env(MASTER_KEY_ENV).context("reading the master key");
        }
        let path = self.dir.join("master.key");
        if path.exists() {
            return MasterKey::from_file(&path).context("reading the master key");
        }
        if !create {
            bail!(
                "no master key: set {MASTER_KEY_ENV} or restore {}",
                path.display()
            );
        }
        let key = MasterKey::generate()?;
        write_private(&path, key.to_hex().as_bytes())?;
        eprintln!(
            "inkan ca: a new master key was written to {} — keep it apart from the CA folder in production ({MASTER_KEY_ENV})",
            path.display()
        );
        Ok(key)
    }

    fn stores(&self, create: bool) -> anyhow::Result<(Arc<dyn KeyStore>, Arc<JsonFileCertStore>)> {
        let master = self.master_key(create)?;
        let keys: Arc<dyn KeyStore> =
            Arc::new(SealedKeyStore::in_dir(&master, self.dir.join("keys"))?);
        let certs = Arc::new(JsonFileCertStore::open(self.dir.join("certs.json"))?);
        Ok((keys, certs))
    }

    /// Creates the root, issuing, TSA and OCSP certificates and their sealed keys.
    pub fn init(
        &self,
        organisation: &str,
        base_url: &str,
        key_algorithm: &str,
    ) -> anyhow::Result<Authority> {
        let file = self.dir.join("ca.json");
        if file.exists() {
            bail!("{} already holds a CA", self.dir.display());
        }
        std::fs::create_dir_all(&self.dir)
            .with_context(|| format!("cannot create {}", self.dir.display()))?;
        let (keys, certs) = self.stores(true)?;
        let mut config = CaConfig::new(organisation, BaseUrl::parse(base_url)?);
        config.ca_key_algorithm = KeyAlgorithm::parse(key_algorithm)?;
        let authority = Authority::init(config, keys, certs, Arc::new(SystemClock))?;
        let record = CaFile {
            organisation: organisation.to_string(),
            base_url: base_url.to_string(),
            key_algorithm: key_algorithm.to_string(),
            material: authority.material().clone(),
        };
        write_private(&file, serde_json::to_string_pretty(&record)?.as_bytes())?;
        Ok(authority)
    }

    /// The signing PINs' vault, keyed by this CA's master key.
    pub fn pin_vault(&self) -> anyhow::Result<PinVault> {
        Ok(PinVault::new(&self.master_key(false)?)?)
    }

    pub fn open(&self) -> anyhow::Result<(Authority, Arc<dyn KeyStore>)> {
        let file = self.dir.join("ca.json");
        let text = std::fs::read_to_string(&file).with_context(|| {
            format!(
                "{} is not a CA folder (run `inkan ca init`)",
                self.dir.display()
            )
        })?;
        let record: CaFile = serde_json::from_str(&text).context("reading ca.json")?;
        let (keys, certs) = self.stores(false)?;
        let mut config = CaConfig::new(&record.organisation, BaseUrl::parse(&record.base_url)?);
        config.ca_key_algorithm = KeyAlgorithm::parse(&record.key_algorithm)?;
        let authority = Authority::open(
            config,
            record.material,
            keys.clone(),
            certs,
            Arc::new(SystemClock),
        )?;
        Ok((authority, keys))
    }
}

/// Writes a file only its owner can read, atomically.
fn write_private(path: &Path, data: &[u8]) -> anyhow::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = tempfile::NamedTempFile::new_in(dir)?;
    std::fs::write(tmp.path(), data)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o600))?;
    }
    tmp.persist(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// HTTP

fn der_response(content_type: &'static str, body: Vec<u8>) -> Response {
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}

fn failure(e: impl std::fmt::Display) -> Response {
    tracing_error(&e);
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        "the certificate authority failed; see the server log",
    )
        .into_response()
}

fn tracing_error(e: &dyn std::fmt::Display) {
    eprintln!("inkan ca: {e}");
}

/// The CA's public endpoints: certificates, CRLs, OCSP (GET and POST) and the TSA.
pub fn router(authority: Arc<Authority>) -> Router {
    Router::new()
        .route(&format!("/{}", paths::CA_CERT), get(issuing_cert))
        .route(&format!("/{}", paths::ROOT_CERT), get(root_cert))
        .route(&format!("/{}", paths::CRL), get(crl))
        .route(&format!("/{}", paths::ROOT_CRL), get(root_crl))
        .route(&format!("/{}", paths::OCSP), post(ocsp_post))
        .route(&format!("/{}/{{*request}}", paths::OCSP), get(ocsp_get))
        .route(&format!("/{}", paths::ROOT_OCSP), post(root_ocsp_post))
        .route(
            &format!("/{}/{{*request}}", paths::ROOT_OCSP),
            get(root_ocsp_get),
        )
        .route(&format!("/{}", paths::TSA), post(tsa))
        .with_state(authority)
}

async fn issuing_cert(State(a): State<Arc<Authority>>) -> Response {
    der_response("application/pkix-cert", a.issuing_cert_der().to_vec())
}

async fn root_cert(State(a): State<Arc<Authority>>) -> Response {
    der_response("application/pkix-cert", a.root_cert_der().to_vec())
}

async fn crl(State(a): State<Arc<Authority>>) -> Response {
    match a.crl_der() {
        Ok(der) => der_response("application/pkix-crl", der),
        Err(e) => failure(e),
    }
}

async fn root_crl(State(a): State<Arc<Authority>>) -> Response {
    match a.root_crl_der() {
        Ok(der) => der_response("application/pkix-crl", der),
        Err(e) => failure(e),
    }
}

/// An OCSP answer; a malformed request gets its "malformedRequest" response with HTTP 400.
fn ocsp_answer(result: ca::Result<Vec<u8>>) -> Response {
    match result {
        Ok(der) => {
            let malformed = x509_ocsp::OcspResponse::from_der(&der).is_ok_and(|r| {
                r.response_status == x509_ocsp::OcspResponseStatus::MalformedRequest
            });
            let status = if malformed {
                StatusCode::BAD_REQUEST
            } else {
                StatusCode::OK
            };
            (
                status,
                [(header::CONTENT_TYPE, "application/ocsp-response")],
                der,
            )
                .into_response()
        }
        Err(e) => failure(e),
    }
}

async fn ocsp_post(State(a): State<Arc<Authority>>, body: Bytes) -> Response {
    ocsp_answer(a.ocsp().respond(&body))
}

async fn ocsp_get(State(a): State<Arc<Authority>>, UrlPath(request): UrlPath<String>) -> Response {
    ocsp_answer(a.ocsp().respond_get(&request))
}

async fn root_ocsp_post(State(a): State<Arc<Authority>>, body: Bytes) -> Response {
    ocsp_answer(a.root_ocsp().respond(&body))
}

async fn root_ocsp_get(
    State(a): State<Arc<Authority>>,
    UrlPath(request): UrlPath<String>,
) -> Response {
    ocsp_answer(a.root_ocsp().respond_get(&request))
}

/// A timestamp; a rejected request gets its RFC 3161 rejection with HTTP 400.
async fn tsa(State(a): State<Arc<Authority>>, body: Bytes) -> Response {
    match a.tsa().respond(&body) {
        Ok(der) => {
            let rejected =
                x509_tsp::TimeStampResp::from_der(&der).is_ok_and(|r| r.status.status as u32 >= 2);
            let status = if rejected {
                StatusCode::BAD_REQUEST
            } else {
                StatusCode::OK
            };
            (
                status,
                [(header::CONTENT_TYPE, "application/timestamp-reply")],
                der,
            )
                .into_response()
        }
        Err(e) => failure(e),
    }
}

/// Serves the CA's endpoints until interrupted.
pub fn serve(dir: &CaDir, listen: &str) -> anyhow::Result<()> {
    let (authority, _) = dir.open()?;
    let app = router(Arc::new(authority));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        eprintln!("inkan ca: serving on http://{}", listener.local_addr()?);
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await?;
        Ok(())
    })
}

// ---------------------------------------------------------------------------------------------
// Signing with a key the CA holds

/// Where a service signer's key is: in the CA's key store, or opened from its PIN envelope
/// for this one signature.
enum KeySource {
    Store(Arc<dyn KeyStore>, KeyHandle),
    Pin(PinBoundKey),
}

/// A signer whose key the CA holds or the signer's PIN opened.
pub struct CaKeySigner {
    source: KeySource,
    algorithm: KeyAlgorithm,
    certs: Vec<Vec<u8>>,
}

impl std::fmt::Debug for CaKeySigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let key = match &self.source {
            KeySource::Store(_, h) => h.label(),
            KeySource::Pin(_) => "PIN-bound",
        };
        f.debug_struct("CaKeySigner").field("key", &key).finish()
    }
}

fn chain_of(record: &CertRecord) -> Vec<Vec<u8>> {
    let mut certs = vec![record.cert_der.clone()];
    certs.extend(record.chain.iter().cloned());
    certs
}

impl CaKeySigner {
    /// Signs with the key the CA's store holds for `record`.
    pub fn new(keys: Arc<dyn KeyStore>, record: &CertRecord) -> anyhow::Result<Self> {
        let Some(key) = record.key.clone() else {
            bail!(
                "the CA does not hold the key of certificate {}",
                record.serial.as_str()
            );
        };
        Ok(Self {
            algorithm: key.algorithm(),
            source: KeySource::Store(keys, key),
            certs: chain_of(record),
        })
    }

    /// Signs with a key opened from its PIN envelope.
    pub fn pin_bound(key: PinBoundKey, record: &CertRecord) -> Self {
        Self {
            algorithm: key.algorithm(),
            source: KeySource::Pin(key),
            certs: chain_of(record),
        }
    }
}

impl Signer for CaKeySigner {
    fn certificates(&self) -> &[Vec<u8>] {
        &self.certs
    }

    fn scheme(&self) -> SignatureScheme {
        match self.algorithm {
            KeyAlgorithm::EcdsaP256 => SignatureScheme::EcdsaP256,
            _ => SignatureScheme::RsaPkcs1,
        }
    }

    fn max_signature_len(&self) -> usize {
        match self.algorithm {
            KeyAlgorithm::EcdsaP256 => 72,
            KeyAlgorithm::Rsa2048 => 256,
            KeyAlgorithm::Rsa3072 => 384,
        }
    }

    fn sign(&self, hash: HashAlgorithm, message: &[u8]) -> pdf_sign::Result<Vec<u8>> {
        if hash != HashAlgorithm::Sha256 {
            return Err(PdfError::Key(
                "keys held by the CA sign with SHA-256".into(),
            ));
        }
        match &self.source {
            KeySource::Store(keys, key) => keys.sign(key, message),
            KeySource::Pin(key) => key.sign(message),
        }
        .map_err(|e| PdfError::Key(e.to_string()))
    }
}

/// Finds a certificate of the CA by serial (hex).
pub fn record(authority: &Authority, serial: &str) -> anyhow::Result<CertRecord> {
    let serial = Serial::parse(serial)?;
    authority
        .cert_store()
        .get(&serial)?
        .with_context(|| format!("no certificate with serial {}", serial.as_str()))
}
