//! The CA on disk: `inkan ca init` lays out a CA folder (sealed keys, certificate store, public
//! material) that `inkan serve` and `inkan ca serve` open; and signing with a key the CA holds
//! or a signer's PIN opened.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context};
use ca::authority::{Authority, BaseUrl, CaConfig, CaMaterial};
use ca::certstore::CertStore;
use ca::certstore::{CertRecord, JsonFileCertStore, Serial};
use ca::clock::SystemClock;
use ca::keystore::{DirStorage, SealedStorage};
use ca::keystore::{KeyAlgorithm, KeyHandle, KeyStore, MasterKey, SealedKeyStore};

use crate::ca_store::Settings;
use ca::pin::{PinBoundKey, PinVault};
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

/// What a CA folder holds (see [`CaDir::contents`]).
#[derive(Debug)]
pub struct FolderContents {
    pub settings: Settings,
    pub material: CaMaterial,
    pub master: MasterKey,
    pub sealed_keys: Vec<(String, Vec<u8>)>,
    pub records: Vec<CertRecord>,
    pub crl_numbers: std::collections::BTreeMap<String, u64>,
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

    /// The master key: `INKAN_MASTER_KEY`, else the folder's `master.key` (written first when
    /// `create` and absent).
    pub fn master_key(&self, create: bool) -> anyhow::Result<MasterKey> {
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

    /// Everything the folder holds, for moving the CA into the database
    /// ([`crate::ca_store::Ca::import`]): settings, public material, the sealed keys (still
    /// sealed: the master key comes along to open them there), every certificate with its
    /// revocation, and the CRL numbers given out.
    pub fn contents(&self) -> anyhow::Result<FolderContents> {
        let file = self.dir.join("ca.json");
        let text = std::fs::read_to_string(&file)
            .with_context(|| format!("{} is not a CA folder (no ca.json)", self.dir.display()))?;
        let record: CaFile = serde_json::from_str(&text).context("reading ca.json")?;
        let master = self.master_key(false)?;
        let certs = JsonFileCertStore::open(self.dir.join("certs.json"))?;
        let records = certs.all()?;
        let storage = DirStorage::new(self.dir.join("keys"))?;
        let mut labels: Vec<String> = [
            &record.material.root.key,
            &record.material.issuing.key,
            &record.material.tsa.key,
            &record.material.ocsp.key,
        ]
        .iter()
        .map(|k| k.label().to_owned())
        .chain(
            records
                .iter()
                .filter_map(|r| r.key.as_ref().map(|k| k.label().to_owned())),
        )
        .collect();
        labels.sort();
        labels.dedup();
        let mut sealed_keys = Vec::new();
        for label in labels {
            // A signer's key moved into a PIN envelope has no file any more.
            if let Some(sealed) = storage.load(&label)? {
                sealed_keys.push((label, sealed));
            }
        }
        Ok(FolderContents {
            settings: Settings {
                organisation: record.organisation,
                base_url: record.base_url,
                key_algorithm: record.key_algorithm,
            },
            material: record.material,
            master,
            sealed_keys,
            records,
            crl_numbers: certs.crl_numbers()?,
        })
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
            KeyAlgorithm::Rsa4096 => 512,
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
