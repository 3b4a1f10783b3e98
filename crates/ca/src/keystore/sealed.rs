//! `SealedKeyStore`: keys generated with aws-lc-rs, kept as PKCS#8 sealed with AES-256-GCM under
//! the master key. Where the sealed bytes live is a [`SealedStorage`]: a directory (one file per
//! key, written to a temporary file and renamed) or memory (the caller copies the bytes to its
//! own storage, e.g. a database column).
//!
//! Sealed format: `INKK1` ‖ algorithm byte ‖ 12-byte nonce ‖ ciphertext ‖ 16-byte tag. The
//! associated data is the header plus the label, so a sealed key moved to another label, or
//! given another algorithm byte, does not open.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use aws_lc_rs::aead::{Aad, Nonce, RandomizedNonceKey, AES_256_GCM, NONCE_LEN};
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    EcdsaKeyPair, KeyPair, RsaKeyPair, ECDSA_P256_SHA256_ASN1_SIGNING, RSA_PKCS1_SHA256,
};
use zeroize::Zeroizing;

use super::{check_label, KeyAlgorithm, KeyHandle, KeyStore, MasterKey};
use crate::error::{CaError, Result};

const MAGIC: &[u8; 5] = b"INKK1";
const HEADER_LEN: usize = MAGIC.len() + 1;

/// Where sealed keys are kept. `store_new` must refuse to overwrite an existing label.
pub trait SealedStorage: Send + Sync + std::fmt::Debug {
    /// The sealed bytes stored under `label`, if any.
    fn load(&self, label: &str) -> Result<Option<Vec<u8>>>;
    /// Stores sealed bytes under a new `label`.
    fn store_new(&self, label: &str, sealed: &[u8]) -> Result<()>;
    /// Removes `label` (no error if it is not there).
    fn remove(&self, label: &str) -> Result<()>;
    /// Whether `label` is stored (another process may have removed it).
    fn contains(&self, label: &str) -> Result<bool> {
        Ok(self.load(label)?.is_some())
    }
}

/// Sealed keys as files `LABEL.key` in one directory.
#[derive(Debug, Clone)]
pub struct DirStorage {
    dir: PathBuf,
}

impl DirStorage {
    /// Uses (and creates, mode 0700 on Unix) the directory `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Result<Self> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir).map_err(|e| io_err(&dir, e))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))
                .map_err(|e| io_err(&dir, e))?;
        }
        Ok(DirStorage { dir })
    }

    fn path(&self, label: &str) -> PathBuf {
        self.dir.join(format!("{label}.key"))
    }
}

fn io_err(path: &Path, e: std::io::Error) -> CaError {
    CaError::KeyStore(format!("{}: {e}", path.display()))
}

impl SealedStorage for DirStorage {
    fn load(&self, label: &str) -> Result<Option<Vec<u8>>> {
        let path = self.path(label);
        match std::fs::read(&path) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_err(&path, e)),
        }
    }

    fn store_new(&self, label: &str, sealed: &[u8]) -> Result<()> {
        let path = self.path(label);
        if path.exists() {
            return Err(CaError::AlreadyExists(format!("key {label}")));
        }
        let mut tmp =
            tempfile::NamedTempFile::new_in(&self.dir).map_err(|e| io_err(&self.dir, e))?;
        tmp.write_all(sealed).map_err(|e| io_err(tmp.path(), e))?;
        tmp.as_file()
            .sync_all()
            .map_err(|e| io_err(tmp.path(), e))?;
        // persist_noclobber: a concurrent generate of the same label loses instead of replacing.
        tmp.persist_noclobber(&path).map_err(|e| {
            if e.error.kind() == std::io::ErrorKind::AlreadyExists {
                CaError::AlreadyExists(format!("key {label}"))
            } else {
                io_err(&path, e.error)
            }
        })?;
        Ok(())
    }

    fn contains(&self, label: &str) -> Result<bool> {
        let path = self.path(label);
        match std::fs::metadata(&path) {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(io_err(&path, e)),
        }
    }

    fn remove(&self, label: &str) -> Result<()> {
        let path = self.path(label);
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err(&path, e)),
        }
        // The removal itself must survive a crash.
        std::fs::File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| io_err(&self.dir, e))
    }
}

/// Sealed keys in memory; the caller reads them with [`MemoryStorage::sealed`] and may put them
/// back with [`MemoryStorage::insert`] (e.g. after loading them from a database).
#[derive(Debug, Default)]
pub struct MemoryStorage {
    keys: Mutex<HashMap<String, Vec<u8>>>,
}

impl MemoryStorage {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// The sealed bytes of `label` (safe to store anywhere: they are encrypted).
    pub fn sealed(&self, label: &str) -> Option<Vec<u8>> {
        lock(&self.keys).get(label).cloned()
    }

    /// Puts sealed bytes (from [`MemoryStorage::sealed`]) back under `label`.
    pub fn insert(&self, label: &str, sealed: Vec<u8>) {
        lock(&self.keys).insert(label.to_owned(), sealed);
    }
}

impl SealedStorage for MemoryStorage {
    fn load(&self, label: &str) -> Result<Option<Vec<u8>>> {
        Ok(self.sealed(label))
    }

    fn store_new(&self, label: &str, sealed: &[u8]) -> Result<()> {
        let mut keys = lock(&self.keys);
        if keys.contains_key(label) {
            return Err(CaError::AlreadyExists(format!("key {label}")));
        }
        keys.insert(label.to_owned(), sealed.to_vec());
        Ok(())
    }

    fn remove(&self, label: &str) -> Result<()> {
        lock(&self.keys).remove(label);
        Ok(())
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A new private key of `alg` as unencrypted PKCS#8 DER (wiped when dropped).
pub(crate) fn generate_pkcs8(alg: KeyAlgorithm) -> Result<Zeroizing<Vec<u8>>> {
    let fail = |_| CaError::Crypto("key generation failed".into());
    match alg {
        KeyAlgorithm::EcdsaP256 => {
            let doc =
                EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &SystemRandom::new())
                    .map_err(fail)?;
            Ok(Zeroizing::new(doc.as_ref().to_vec()))
        }
        KeyAlgorithm::Rsa3072 | KeyAlgorithm::Rsa2048 | KeyAlgorithm::Rsa4096 => {
            let size = match alg {
                KeyAlgorithm::Rsa3072 => KeySize::Rsa3072,
                KeyAlgorithm::Rsa4096 => KeySize::Rsa4096,
                _ => KeySize::Rsa2048,
            };
            let k = RsaKeyPair::generate(size).map_err(fail)?;
            Ok(Zeroizing::new(k.as_der().map_err(fail)?.as_ref().to_vec()))
        }
    }
}

/// An opened private key, kept in memory while the process runs.
#[derive(Debug)]
pub(crate) enum OpenKey {
    Ec(EcdsaKeyPair),
    Rsa(RsaKeyPair),
}

impl OpenKey {
    pub(crate) fn from_pkcs8(alg: KeyAlgorithm, der: &[u8]) -> Result<Self> {
        let bad = |e: aws_lc_rs::error::KeyRejected| CaError::KeyStore(format!("bad key: {e}"));
        match alg {
            KeyAlgorithm::EcdsaP256 => Ok(OpenKey::Ec(
                EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, der).map_err(bad)?,
            )),
            KeyAlgorithm::Rsa3072 | KeyAlgorithm::Rsa2048 | KeyAlgorithm::Rsa4096 => {
                Ok(OpenKey::Rsa(RsaKeyPair::from_pkcs8(der).map_err(bad)?))
            }
        }
    }

    /// Recognises an imported PKCS#8 key: P-256 or RSA 2048/3072/4096.
    pub(crate) fn detect(der: &[u8]) -> Result<(KeyAlgorithm, Self)> {
        if let Ok(k) = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, der) {
            return Ok((KeyAlgorithm::EcdsaP256, OpenKey::Ec(k)));
        }
        if let Ok(k) = RsaKeyPair::from_pkcs8(der) {
            let alg = match k.public_modulus_len() {
                256 => KeyAlgorithm::Rsa2048,
                384 => KeyAlgorithm::Rsa3072,
                512 => KeyAlgorithm::Rsa4096,
                n => {
                    return Err(CaError::Unsupported(format!(
                        "RSA keys of {} bits (use 2048, 3072 or 4096)",
                        n * 8
                    )))
                }
            };
            return Ok((alg, OpenKey::Rsa(k)));
        }
        Err(CaError::Unsupported(
            "private key type (only ECDSA P-256 and RSA 2048/3072/4096 are accepted)".into(),
        ))
    }

    pub(crate) fn spki_der(&self) -> Result<Vec<u8>> {
        let der = match self {
            OpenKey::Ec(k) => k.public_key().as_der().map(|d| d.as_ref().to_vec()),
            OpenKey::Rsa(k) => k.public_key().as_der().map(|d| d.as_ref().to_vec()),
        };
        der.map_err(|_| CaError::Crypto("cannot encode the public key".into()))
    }

    pub(crate) fn sign(&self, message: &[u8]) -> Result<Vec<u8>> {
        let rng = SystemRandom::new();
        let fail = |_| CaError::Crypto("signing failed".into());
        match self {
            OpenKey::Ec(k) => Ok(k.sign(&rng, message).map_err(fail)?.as_ref().to_vec()),
            OpenKey::Rsa(k) => {
                let mut sig = vec![0u8; k.public_modulus_len()];
                k.sign(&RSA_PKCS1_SHA256, &rng, message, &mut sig)
                    .map_err(fail)?;
                Ok(sig)
            }
        }
    }
}

pub(crate) fn alg_byte(alg: KeyAlgorithm) -> u8 {
    match alg {
        KeyAlgorithm::EcdsaP256 => 1,
        KeyAlgorithm::Rsa3072 => 2,
        KeyAlgorithm::Rsa2048 => 3,
        KeyAlgorithm::Rsa4096 => 4,
    }
}

pub(crate) fn alg_from_byte(b: u8) -> Option<KeyAlgorithm> {
    match b {
        1 => Some(KeyAlgorithm::EcdsaP256),
        2 => Some(KeyAlgorithm::Rsa3072),
        3 => Some(KeyAlgorithm::Rsa2048),
        4 => Some(KeyAlgorithm::Rsa4096),
        _ => None,
    }
}

/// Keys sealed under a [`MasterKey`] in a [`SealedStorage`]. Opened keys are cached in memory.
pub struct SealedKeyStore<S: SealedStorage> {
    aead: RandomizedNonceKey,
    storage: S,
    open: Mutex<HashMap<String, Arc<OpenKey>>>,
}

impl<S: SealedStorage> std::fmt::Debug for SealedKeyStore<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealedKeyStore")
            .field("storage", &self.storage)
            .finish_non_exhaustive()
    }
}

impl SealedKeyStore<DirStorage> {
    /// Keys sealed as files in `dir`.
    pub fn in_dir(master: &MasterKey, dir: impl Into<PathBuf>) -> Result<Self> {
        Self::new(master, DirStorage::new(dir)?)
    }
}

impl<S: SealedStorage> SealedKeyStore<S> {
    /// A store sealing under `master` into `storage`.
    pub fn new(master: &MasterKey, storage: S) -> Result<Self> {
        let aead = RandomizedNonceKey::new(&AES_256_GCM, master.bytes())
            .map_err(|_| CaError::MasterKey("cannot set up AES-256-GCM".into()))?;
        Ok(SealedKeyStore {
            aead,
            storage,
            open: Mutex::new(HashMap::new()),
        })
    }

    /// The storage (e.g. to read sealed bytes out of a [`MemoryStorage`]).
    pub fn storage(&self) -> &S {
        &self.storage
    }

    fn aad(header: &[u8], label: &str) -> Vec<u8> {
        let mut aad = header.to_vec();
        aad.extend_from_slice(label.as_bytes());
        aad
    }

    fn seal(&self, label: &str, alg: KeyAlgorithm, pkcs8: &[u8]) -> Result<Vec<u8>> {
        let mut header = MAGIC.to_vec();
        header.push(alg_byte(alg));
        let mut body = Zeroizing::new(pkcs8.to_vec());
        let nonce = self
            .aead
            .seal_in_place_append_tag(Aad::from(Self::aad(&header, label)), &mut *body)
            .map_err(|_| CaError::Crypto("sealing failed".into()))?;
        let mut out = header;
        out.extend_from_slice(nonce.as_ref());
        out.extend_from_slice(&body);
        Ok(out)
    }

    fn unseal(&self, label: &str, sealed: &[u8]) -> Result<(KeyAlgorithm, Zeroizing<Vec<u8>>)> {
        let broken = || CaError::KeyStore(format!("sealed key {label} is not in Inkan's format"));
        if sealed.len() < HEADER_LEN + NONCE_LEN + 16 || &sealed[..MAGIC.len()] != MAGIC {
            return Err(broken());
        }
        let alg = alg_from_byte(sealed[MAGIC.len()]).ok_or_else(broken)?;
        let (header, rest) = sealed.split_at(HEADER_LEN);
        let (nonce, ct) = rest.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| broken())?;
        let mut buf = Zeroizing::new(ct.to_vec());
        let plain_len = self
            .aead
            .open_in_place(nonce, Aad::from(Self::aad(header, label)), &mut buf)
            .map_err(|_| {
                CaError::MasterKey(format!(
                    "sealed key {label} does not open with this master key (wrong key or tampered file)"
                ))
            })?
            .len();
        buf.truncate(plain_len);
        Ok((alg, buf))
    }

    fn put(&self, label: &str, alg: KeyAlgorithm, pkcs8: &[u8], key: OpenKey) -> Result<KeyHandle> {
        check_label(label)?;
        let sealed = self.seal(label, alg, pkcs8)?;
        self.storage.store_new(label, &sealed)?;
        lock(&self.open).insert(label.to_owned(), Arc::new(key));
        KeyHandle::new(label, alg)
    }

    fn key(&self, h: &KeyHandle) -> Result<Arc<OpenKey>> {
        let cached = lock(&self.open).get(h.label()).cloned();
        if let Some(k) = cached {
            // Another process may have deleted it (moved into a PIN envelope): then the
            // cached copy goes too.
            if self.storage.contains(h.label())? {
                return Ok(k);
            }
            lock(&self.open).remove(h.label());
            return Err(CaError::NotFound(format!("key {}", h.label())));
        }
        let sealed = self
            .storage
            .load(h.label())?
            .ok_or_else(|| CaError::NotFound(format!("key {}", h.label())))?;
        let (alg, pkcs8) = self.unseal(h.label(), &sealed)?;
        if alg != h.algorithm() {
            return Err(CaError::KeyStore(format!(
                "key {} is {alg:?}, not {:?}",
                h.label(),
                h.algorithm()
            )));
        }
        let key = Arc::new(OpenKey::from_pkcs8(alg, &pkcs8)?);
        lock(&self.open).insert(h.label().to_owned(), key.clone());
        Ok(key)
    }
}

impl<S: SealedStorage> KeyStore for SealedKeyStore<S> {
    fn generate(&self, label: &str, alg: KeyAlgorithm) -> Result<KeyHandle> {
        check_label(label)?;
        let pkcs8 = generate_pkcs8(alg)?;
        let key = OpenKey::from_pkcs8(alg, &pkcs8)?;
        self.put(label, alg, &pkcs8, key)
    }

    fn import_pkcs8(&self, label: &str, pkcs8_der: &[u8]) -> Result<KeyHandle> {
        let (alg, key) = OpenKey::detect(pkcs8_der)?;
        self.put(label, alg, pkcs8_der, key)
    }

    fn public_key_spki_der(&self, h: &KeyHandle) -> Result<Vec<u8>> {
        self.key(h)?.spki_der()
    }

    fn sign(&self, h: &KeyHandle, message: &[u8]) -> Result<Vec<u8>> {
        self.key(h)?.sign(message)
    }

    fn seal_to_pin(&self, h: &KeyHandle, recipient: &crate::pin::Recipient) -> Result<Vec<u8>> {
        let sealed = self
            .storage
            .load(h.label())?
            .ok_or_else(|| CaError::NotFound(format!("key {}", h.label())))?;
        let (alg, pkcs8) = self.unseal(h.label(), &sealed)?;
        crate::pin::seal_to(recipient, alg, &pkcs8)
    }

    fn delete(&self, h: &KeyHandle) -> Result<()> {
        lock(&self.open).remove(h.label());
        self.storage.remove(h.label())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::signature::{
        UnparsedPublicKey, ECDSA_P256_SHA256_ASN1, RSA_PKCS1_2048_8192_SHA256,
    };
    use spki::SubjectPublicKeyInfoRef;

    fn verify(spki: &[u8], alg: KeyAlgorithm, msg: &[u8], sig: &[u8]) -> bool {
        use der::Decode;
        let info = SubjectPublicKeyInfoRef::from_der(spki).expect("spki");
        let raw = info.subject_public_key.raw_bytes();
        if alg.is_rsa() {
            UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, raw)
                .verify(msg, sig)
                .is_ok()
        } else {
            UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, raw)
                .verify(msg, sig)
                .is_ok()
        }
    }

    #[test]
    fn sealed_keys_sign_and_reopen_from_disk() {
        let dir = tempfile::tempdir().expect("tmp");
        let master = MasterKey::generate().expect("mk");
        let ks = SealedKeyStore::in_dir(&master, dir.path()).expect("ks");
        for (label, alg) in [
            ("ec", KeyAlgorithm::EcdsaP256),
            ("rsa", KeyAlgorithm::Rsa3072),
        ] {
            let h = ks.generate(label, alg).expect("generate");
            let spki = ks.public_key_spki_der(&h).expect("spki");
            // A fresh store (empty cache) must open the file with the same master key.
            let ks2 = SealedKeyStore::in_dir(&master, dir.path()).expect("ks2");
            let sig = ks2.sign(&h, b"hello").expect("sign");
            assert!(verify(&spki, alg, b"hello", &sig));
            assert!(!verify(&spki, alg, b"hellO", &sig));
        }
        assert!(matches!(
            ks.generate("ec", KeyAlgorithm::EcdsaP256),
            Err(CaError::AlreadyExists(_))
        ));
    }

    #[test]
    fn wrong_master_key_or_moved_file_does_not_open() {
        let dir = tempfile::tempdir().expect("tmp");
        let master = MasterKey::generate().expect("mk");
        let ks = SealedKeyStore::in_dir(&master, dir.path()).expect("ks");
        let h = ks.generate("a", KeyAlgorithm::EcdsaP256).expect("gen");
        let other =
            SealedKeyStore::in_dir(&MasterKey::generate().expect("mk"), dir.path()).expect("ks");
        assert!(matches!(other.sign(&h, b"x"), Err(CaError::MasterKey(_))));
        // The label is bound into the ciphertext: a copied file under another name fails.
        std::fs::copy(dir.path().join("a.key"), dir.path().join("b.key")).expect("copy");
        let fresh = SealedKeyStore::in_dir(&master, dir.path()).expect("ks");
        let hb = KeyHandle::new("b", KeyAlgorithm::EcdsaP256).expect("h");
        assert!(matches!(fresh.sign(&hb, b"x"), Err(CaError::MasterKey(_))));
        // And the file does not hold the plain PKCS#8.
        let bytes = std::fs::read(dir.path().join("a.key")).expect("read");
        assert!(EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &bytes).is_err());
        assert!(!bytes.windows(5).any(|w| w == b"BEGIN"));
    }

    #[test]
    fn memory_storage_gives_sealed_bytes_to_the_caller() {
        let master = MasterKey::generate().expect("mk");
        let ks = SealedKeyStore::new(&master, MemoryStorage::new()).expect("ks");
        let h = ks.generate("k1", KeyAlgorithm::EcdsaP256).expect("gen");
        let sealed = ks.storage().sealed("k1").expect("sealed");
        assert_eq!(&sealed[..5], MAGIC);
        let again = SealedKeyStore::new(&master, MemoryStorage::new()).expect("ks");
        again.storage().insert("k1", sealed);
        let spki = ks.public_key_spki_der(&h).expect("spki");
        let sig = again.sign(&h, b"m").expect("sign");
        assert!(verify(&spki, KeyAlgorithm::EcdsaP256, b"m", &sig));
    }
}
