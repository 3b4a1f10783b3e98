//! Key storage: the [`KeyStore`] trait through which the CA uses every private key, and the
//! master key that seals keys at rest. Implementations: [`SealedKeyStore`] (PKCS#8 sealed with
//! AES-256-GCM, in a directory or in bytes the caller keeps) and [`Pkcs11KeyStore`] (an HSM).
//!
//! A key never leaves its store in plain text: callers get a [`KeyHandle`], the public key and
//! signatures.

mod pkcs11;
pub(crate) mod sealed;

pub use pkcs11::Pkcs11KeyStore;
pub use sealed::{DirStorage, MemoryStorage, SealedKeyStore, SealedStorage};

use std::path::Path;

use const_oid::db::rfc5912::{ECDSA_WITH_SHA_256, SHA_256_WITH_RSA_ENCRYPTION};
use der::asn1::Null;
use der::Any;
use serde::{Deserialize, Serialize};
use spki::AlgorithmIdentifierOwned;
use zeroize::Zeroizing;

use crate::error::{CaError, Result};

/// The key types the CA generates. Every key signs with SHA-256: ECDSA P-256 (DER signature)
/// or RSA PKCS#1 v1.5.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum KeyAlgorithm {
    /// ECDSA on NIST P-256 with SHA-256 (the default).
    #[default]
    EcdsaP256,
    /// RSA 3072-bit, PKCS#1 v1.5 with SHA-256.
    Rsa3072,
    /// RSA 2048-bit, PKCS#1 v1.5 with SHA-256 (for imported keys; not offered for new CAs).
    Rsa2048,
    /// RSA 4096-bit, PKCS#1 v1.5 with SHA-256 (for imported keys; not offered for new CAs).
    Rsa4096,
}

impl KeyAlgorithm {
    /// Parses `p256`/`ecdsa-p256` or `rsa3072`/`rsa-3072`.
    pub fn parse(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "p256" | "p-256" | "ecdsa-p256" | "ec" => Ok(KeyAlgorithm::EcdsaP256),
            "rsa3072" | "rsa-3072" | "rsa" => Ok(KeyAlgorithm::Rsa3072),
            other => Err(CaError::invalid(
                "key algorithm",
                format!("{other:?} (use p256 or rsa3072)"),
            )),
        }
    }

    /// The signature algorithm identifier this key signs with.
    pub fn signature_algorithm(self) -> AlgorithmIdentifierOwned {
        match self {
            KeyAlgorithm::EcdsaP256 => AlgorithmIdentifierOwned {
                oid: ECDSA_WITH_SHA_256,
                parameters: None,
            },
            KeyAlgorithm::Rsa3072 | KeyAlgorithm::Rsa2048 | KeyAlgorithm::Rsa4096 => {
                AlgorithmIdentifierOwned {
                    oid: SHA_256_WITH_RSA_ENCRYPTION,
                    parameters: Some(Any::from(Null)),
                }
            }
        }
    }

    pub(crate) fn is_rsa(self) -> bool {
        matches!(
            self,
            KeyAlgorithm::Rsa3072 | KeyAlgorithm::Rsa2048 | KeyAlgorithm::Rsa4096
        )
    }
}

/// A reference to a private key inside a [`KeyStore`]: its label and algorithm. Holds no
/// secret; callers persist it (it is `Serialize`) to find the key again.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct KeyHandle {
    label: String,
    algorithm: KeyAlgorithm,
}

impl KeyHandle {
    /// A handle to the key stored under `label`.
    pub fn new(label: &str, algorithm: KeyAlgorithm) -> Result<Self> {
        check_label(label)?;
        Ok(KeyHandle {
            label: label.to_owned(),
            algorithm,
        })
    }

    /// The key's label in its store.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The key's algorithm.
    pub fn algorithm(&self) -> KeyAlgorithm {
        self.algorithm
    }
}

/// Where private keys live. The CA signs certificates, CRLs, OCSP responses and timestamps
/// through this trait only, so a file store and an HSM are interchangeable.
pub trait KeyStore: Send + Sync + std::fmt::Debug {
    /// Generates a new key pair under `label` (which must not exist yet).
    fn generate(&self, label: &str, alg: KeyAlgorithm) -> Result<KeyHandle>;

    /// Stores an existing private key (unencrypted PKCS#8 DER) under `label`.
    fn import_pkcs8(&self, label: &str, pkcs8_der: &[u8]) -> Result<KeyHandle>;

    /// The public key as a DER SubjectPublicKeyInfo.
    fn public_key_spki_der(&self, h: &KeyHandle) -> Result<Vec<u8>>;

    /// Signs `message` with SHA-256 under the key's scheme ([`KeyAlgorithm`]); ECDSA signatures
    /// are DER `ECDSA-Sig-Value`s, RSA ones PKCS#1 v1.5.
    fn sign(&self, h: &KeyHandle, message: &[u8]) -> Result<Vec<u8>>;

    /// Seals the key to a signing PIN's wrapping key ([`crate::pin`]) and returns the envelope;
    /// the store keeps its own copy until [`KeyStore::delete`]. Stores whose keys cannot leave
    /// them (an HSM) refuse.
    fn seal_to_pin(&self, h: &KeyHandle, recipient: &crate::pin::Recipient) -> Result<Vec<u8>> {
        let _ = (h, recipient);
        Err(CaError::Unsupported(
            "moving keys out of this key store".into(),
        ))
    }

    /// Deletes the key (after it moved into a PIN envelope). Deleting a missing key succeeds.
    fn delete(&self, h: &KeyHandle) -> Result<()> {
        let _ = h;
        Err(CaError::Unsupported(
            "deleting keys from this key store".into(),
        ))
    }
}

/// Labels name files and HSM objects: 1–64 characters of `[A-Za-z0-9._-]`, not starting with a
/// dot (no path can be smuggled through a label).
pub(crate) fn check_label(label: &str) -> Result<()> {
    let ok = !label.is_empty()
        && label.len() <= 64
        && !label.starts_with('.')
        && label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(CaError::invalid(
            "key label",
            format!("{label:?}: use 1-64 characters of A-Z a-z 0-9 . _ -"),
        ))
    }
}

/// The 32-byte key that seals private keys at rest. Its `Debug` never shows the bytes, and the
/// bytes are wiped when it is dropped.
pub struct MasterKey(Zeroizing<[u8; 32]>);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(<redacted>)")
    }
}

impl MasterKey {
    /// A master key from exactly 32 bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let arr: [u8; 32] = bytes
            .try_into()
            .map_err(|_| CaError::MasterKey(format!("must be 32 bytes, got {}", bytes.len())))?;
        Ok(MasterKey(Zeroizing::new(arr)))
    }

    /// A master key from 64 hexadecimal digits (surrounding whitespace ignored).
    pub fn from_hex(s: &str) -> Result<Self> {
        let bytes = Zeroizing::new(
            hex::decode(s.trim())
                .map_err(|_| CaError::MasterKey("expected 64 hexadecimal digits".into()))?,
        );
        Self::from_bytes(&bytes)
    }

    /// Reads a master key file: 32 raw bytes, or 64 hexadecimal digits.
    pub fn from_file(path: &Path) -> Result<Self> {
        let data = Zeroizing::new(
            std::fs::read(path)
                .map_err(|e| CaError::MasterKey(format!("cannot read {}: {e}", path.display())))?,
        );
        if data.len() == 32 {
            return Self::from_bytes(&data);
        }
        let text = std::str::from_utf8(&data)
            .map_err(|_| CaError::MasterKey("file is neither 32 bytes nor hex".into()))?;
        Self::from_hex(text)
    }

    /// Reads a master key (64 hexadecimal digits) from the environment variable `var`.
    pub fn from_env(var: &str) -> Result<Self> {
        let v = Zeroizing::new(
            std::env::var(var).map_err(|_| CaError::MasterKey(format!("{var} is not set")))?,
        );
        Self::from_hex(&v)
    }

    /// A fresh random master key.
    pub fn generate() -> Result<Self> {
        let mut b = Zeroizing::new([0u8; 32]);
        aws_lc_rs::rand::fill(b.as_mut())
            .map_err(|_| CaError::Crypto("random generator failed".into()))?;
        Ok(MasterKey(b))
    }

    /// The key as 64 hexadecimal digits, to write it once to a file or secret store.
    pub fn to_hex(&self) -> Zeroizing<String> {
        Zeroizing::new(hex::encode(self.0.as_ref()))
    }

    /// A 32-byte secret for one use (HKDF-SHA256 with `purpose` as its info, e.g.
    /// `b"audit chain"`), so the master key's bytes never leave this type and one use's secret
    /// tells nothing of another's.
    pub fn derive(&self, purpose: &[u8]) -> Result<Zeroizing<[u8; 32]>> {
        crate::pin::hkdf(b"inkan master key v1", self.bytes(), purpose)
    }

    pub(crate) fn bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn master_key_debug_hides_the_bytes() {
        let k = MasterKey::from_bytes(&[0xAB; 32]).expect("key");
        let shown = format!("{k:?}");
        assert!(!shown.to_lowercase().contains("ab"), "{shown}");
        assert!(!shown.contains("171"), "{shown}");
    }

    #[test]
    fn master_key_needs_32_bytes() {
        assert!(MasterKey::from_bytes(&[1; 31]).is_err());
        assert!(MasterKey::from_hex(&"00".repeat(33)).is_err());
        assert!(MasterKey::from_hex(&format!(" {}\n", "0f".repeat(32))).is_ok());
    }

    #[test]
    fn derived_secrets_differ_by_purpose_and_by_master_key() {
        let k = MasterKey::from_bytes(&[1; 32]).expect("key");
        let audit = k.derive(b"audit chain").expect("derive");
        assert_eq!(*audit, *k.derive(b"audit chain").expect("derive"));
        assert_ne!(*audit, *k.derive(b"other").expect("derive"));
        assert_ne!(*audit, [1; 32]);
        let other = MasterKey::from_bytes(&[2; 32]).expect("key");
        assert_ne!(*audit, *other.derive(b"audit chain").expect("derive"));
    }

    #[test]
    fn labels_cannot_name_paths() {
        for bad in ["", "../x", "a/b", ".hidden", "a b", &"x".repeat(65)] {
            assert!(check_label(bad).is_err(), "{bad:?}");
        }
        assert!(check_label("signer-00ff.v1_a").is_ok());
    }
}
