//! PIN-bound signer keys.
//!
//! A signer who sets a signing PIN gets a wrapping key pair (X25519). Its private half is sealed
//! (AES-256-GCM) under a key derived from the PIN *and* the master key: Argon2id over the PIN,
//! keyed with a secret derived from the master key. Its public half stays readable, so the CA
//! can seal a signer key to it without knowing the PIN: an envelope made with an ephemeral
//! X25519 key, HKDF-SHA256 and AES-256-GCM. Only the PIN together with the master key opens the
//! wrapping key and so the envelope; there is no copy of a PIN-bound key sealed by the master
//! key alone. A leaked database without the PIN does not sign, nor does a PIN without the
//! master key.
//!
//! The PIN is checked against an Argon2id hash keyed with another master-key secret, so a
//! leaked database alone does not allow guessing PINs offline. Changing the PIN re-seals the
//! wrapping key under the new PIN; the envelopes stay as they are. A forgotten PIN loses the
//! wrapping key and every signer key sealed to it: the certificate has to be revoked and
//! re-issued.
//!
//! Formats (all bytes; [`PinLock`] carries them as hex):
//! - sealed wrapping key: 12-byte nonce ‖ ciphertext ‖ tag, associated data `INKP1` ‖ public key;
//! - envelope: `INKE1` ‖ algorithm byte ‖ ephemeral public key (32) ‖ recipient public key (32)
//!   ‖ nonce ‖ ciphertext ‖ tag, associated data everything before the nonce.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use aws_lc_rs::agreement::{self, PrivateKey, UnparsedPublicKey, X25519};
use aws_lc_rs::encoding::{AsBigEndian, Curve25519SeedBin};
use aws_lc_rs::hkdf::{Salt, HKDF_SHA256};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::error::{CaError, Result};
use crate::keystore::sealed::{alg_byte, alg_from_byte, OpenKey};
use crate::keystore::{KeyAlgorithm, MasterKey};

const LOCK_AAD: &[u8; 5] = b"INKP1";
const ENVELOPE_MAGIC: &[u8; 5] = b"INKE1";
const X25519_LEN: usize = 32;
const TAG_LEN: usize = 16;

fn crypto(what: &str) -> CaError {
    CaError::Crypto(what.to_owned())
}

fn random<const N: usize>() -> Result<[u8; N]> {
    let mut b = [0u8; N];
    aws_lc_rs::rand::fill(&mut b).map_err(|_| crypto("random generator failed"))?;
    Ok(b)
}

/// AES-256-GCM with a fresh random nonce; returns nonce ‖ ciphertext ‖ tag.
fn seal_with(key: &[u8; 32], aad: &[u8], plain: &[u8]) -> Result<Vec<u8>> {
    let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, key).map_err(|_| crypto("aes key"))?);
    let nonce: [u8; NONCE_LEN] = random()?;
    let mut buf = plain.to_vec();
    key.seal_in_place_append_tag(
        Nonce::assume_unique_for_key(nonce),
        Aad::from(aad),
        &mut buf,
    )
    .map_err(|_| crypto("sealing failed"))?;
    let mut out = nonce.to_vec();
    out.extend_from_slice(&buf);
    Ok(out)
}

/// Opens what [`seal_with`] made; `None` when the key or the associated data are wrong.
fn open_with(key: &[u8; 32], aad: &[u8], sealed: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    if sealed.len() < NONCE_LEN + TAG_LEN {
        return None;
    }
    let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, key).ok()?);
    let (nonce, ct) = sealed.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
    let mut buf = Zeroizing::new(ct.to_vec());
    let len = key
        .open_in_place(nonce, Aad::from(aad), &mut buf)
        .ok()?
        .len();
    buf.truncate(len);
    Some(buf)
}

/// HKDF-SHA256 of `ikm` with `salt` and `info`, 32 bytes.
pub(crate) fn hkdf(salt: &[u8], ikm: &[u8], info: &[u8]) -> Result<Zeroizing<[u8; 32]>> {
    let mut out = Zeroizing::new([0u8; 32]);
    Salt::new(HKDF_SHA256, salt)
        .extract(ikm)
        .expand(&[info], HKDF_SHA256)
        .and_then(|okm| okm.fill(out.as_mut()))
        .map_err(|_| crypto("key derivation failed"))?;
    Ok(out)
}

/// What the caller stores for a signer's PIN: its keyed Argon2id hash and the wrapping key pair
/// (the private half sealed under the PIN). Holds nothing that opens a key without the PIN and
/// the master key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PinLock {
    /// Argon2id PHC string of the PIN, keyed with a master-key secret.
    pub hash: String,
    /// Salt of the PIN's key derivation (hex).
    pub kek_salt: String,
    /// The wrapping public key, X25519 (hex).
    pub public: String,
    /// The wrapping private key sealed under the PIN-derived key (hex).
    pub sealed: String,
}

impl PinLock {
    /// Where signer keys for this PIN are sealed to.
    pub fn recipient(&self) -> Result<Recipient> {
        let bytes = hex::decode(&self.public).map_err(|_| crypto("PIN lock: bad public key"))?;
        let key: [u8; X25519_LEN] = bytes
            .try_into()
            .map_err(|_| crypto("PIN lock: bad public key"))?;
        Ok(Recipient(key))
    }
}

/// The public half of a PIN's wrapping key: what signer keys are sealed to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Recipient([u8; X25519_LEN]);

/// Makes and opens [`PinLock`]s with secrets derived from the master key.
pub struct PinVault {
    hash_secret: Zeroizing<[u8; 32]>,
    kek_secret: Zeroizing<[u8; 32]>,
    grant_secret: Zeroizing<[u8; 32]>,
}

impl std::fmt::Debug for PinVault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PinVault(<redacted>)")
    }
}

impl PinVault {
    /// A vault whose secrets come from `master`.
    pub fn new(master: &MasterKey) -> Result<Self> {
        Ok(PinVault {
            hash_secret: hkdf(b"inkan signing pin v1", master.bytes(), b"pin hash")?,
            kek_secret: hkdf(b"inkan signing pin v1", master.bytes(), b"pin key")?,
            grant_secret: hkdf(b"inkan signing pin v1", master.bytes(), b"pin grant")?,
        })
    }

    fn argon2<'a>(secret: &'a [u8; 32]) -> Result<Argon2<'a>> {
        Argon2::new_with_secret(
            secret,
            Algorithm::Argon2id,
            Version::V0x13,
            Params::default(),
        )
        .map_err(|e| CaError::Crypto(format!("argon2: {e}")))
    }

    fn kek(&self, pin: &str, salt_hex: &str) -> Result<Zeroizing<[u8; 32]>> {
        let salt = hex::decode(salt_hex).map_err(|_| crypto("PIN lock: bad salt"))?;
        let mut out = Zeroizing::new([0u8; 32]);
        Self::argon2(&self.kek_secret)?
            .hash_password_into(pin.as_bytes(), &salt, out.as_mut())
            .map_err(|e| CaError::Crypto(format!("argon2: {e}")))?;
        Ok(out)
    }

    fn hash(&self, pin: &str) -> Result<String> {
        let salt: [u8; 16] = random()?;
        let salt = SaltString::encode_b64(&salt).map_err(|e| CaError::Crypto(e.to_string()))?;
        Ok(Self::argon2(&self.hash_secret)?
            .hash_password(pin.as_bytes(), &salt)
            .map_err(|e| CaError::Crypto(format!("argon2: {e}")))?
            .to_string())
    }

    fn seal_private(&self, pin: &str, seed: &[u8], public: &[u8]) -> Result<PinLock> {
        let salt: [u8; 16] = random()?;
        let kek_salt = hex::encode(salt);
        let kek = self.kek(pin, &kek_salt)?;
        Ok(PinLock {
            hash: self.hash(pin)?,
            kek_salt,
            public: hex::encode(public),
            sealed: hex::encode(seal_with(&kek, &lock_aad(public), seed)?),
        })
    }

    /// A new PIN with a new wrapping key pair.
    pub fn create(&self, pin: &str) -> Result<PinLock> {
        let private = PrivateKey::generate(&X25519).map_err(|_| crypto("key generation"))?;
        let public = private
            .compute_public_key()
            .map_err(|_| crypto("key generation"))?;
        let seed: Curve25519SeedBin = private
            .as_be_bytes()
            .map_err(|_| crypto("key generation"))?;
        self.seal_private(pin, seed.as_ref(), public.as_ref())
    }

    /// Whether `pin` is the PIN of `lock` (the keyed Argon2id hash; tens of milliseconds).
    pub fn verify(&self, lock: &PinLock, pin: &str) -> bool {
        let Ok(hash) = PasswordHash::new(&lock.hash) else {
            return false;
        };
        Self::argon2(&self.hash_secret)
            .is_ok_and(|a| a.verify_password(pin.as_bytes(), &hash).is_ok())
    }

    /// Opens the wrapping key with `pin`; [`CaError::WrongPin`] if it is not the PIN.
    pub fn unlock(&self, lock: &PinLock, pin: &str) -> Result<UnlockedPin> {
        if !self.verify(lock, pin) {
            return Err(CaError::WrongPin);
        }
        let public = hex::decode(&lock.public).map_err(|_| crypto("PIN lock: bad public key"))?;
        let sealed = hex::decode(&lock.sealed).map_err(|_| crypto("PIN lock: bad sealed key"))?;
        let kek = self.kek(pin, &lock.kek_salt)?;
        // The hash matched, so a failure here means another master key or a tampered lock.
        let seed = open_with(&kek, &lock_aad(&public), &sealed).ok_or_else(|| {
            CaError::MasterKey("the PIN's wrapping key does not open with this master key".into())
        })?;
        let private = PrivateKey::from_private_key(&X25519, &seed)
            .map_err(|_| crypto("PIN lock: bad wrapping key"))?;
        Ok(UnlockedPin {
            private,
            public: lock.recipient()?,
        })
    }

    /// The same wrapping key under a new PIN (so keys sealed to it stay usable); needs the
    /// current PIN.
    pub fn change(&self, lock: &PinLock, current: &str, new_pin: &str) -> Result<PinLock> {
        let unlocked = self.unlock(lock, current)?;
        let seed: Curve25519SeedBin = unlocked
            .private
            .as_be_bytes()
            .map_err(|_| crypto("wrapping key"))?;
        self.seal_private(new_pin, seed.as_ref(), &unlocked.public.0)
    }
}

impl PinVault {
    /// A grant: `unlocked`'s wrapping key sealed under the master key for one `purpose` (a
    /// signature's id), so that the job carrying out a signature the signer asked for with
    /// their PIN can open the key after a crash or on another process, without the PIN. The
    /// caller keeps it only until that signature is done.
    pub fn grant(&self, unlocked: &UnlockedPin, purpose: &str) -> Result<Vec<u8>> {
        let seed: Curve25519SeedBin = unlocked
            .private
            .as_be_bytes()
            .map_err(|_| crypto("wrapping key"))?;
        let mut plain = unlocked.public.0.to_vec();
        plain.extend_from_slice(seed.as_ref());
        seal_with(&self.grant_secret, &grant_aad(purpose), &plain)
    }

    /// The wrapping key a [`PinVault::grant`] for `purpose` holds.
    pub fn open_grant(&self, grant: &[u8], purpose: &str) -> Result<UnlockedPin> {
        let plain = open_with(&self.grant_secret, &grant_aad(purpose), grant)
            .filter(|p| p.len() == 2 * X25519_LEN)
            .ok_or_else(|| crypto("not a grant for this purpose and master key"))?;
        let (public, seed) = plain.split_at(X25519_LEN);
        let private =
            PrivateKey::from_private_key(&X25519, seed).map_err(|_| crypto("grant: bad key"))?;
        let mut recipient = [0u8; X25519_LEN];
        recipient.copy_from_slice(public);
        Ok(UnlockedPin {
            private,
            public: Recipient(recipient),
        })
    }
}

fn grant_aad(purpose: &str) -> Vec<u8> {
    let mut aad = b"INKG1".to_vec();
    aad.extend_from_slice(purpose.as_bytes());
    aad
}

fn lock_aad(public: &[u8]) -> Vec<u8> {
    let mut aad = LOCK_AAD.to_vec();
    aad.extend_from_slice(public);
    aad
}

fn envelope_key(shared: &[u8], eph: &[u8], recipient: &[u8]) -> Result<Zeroizing<[u8; 32]>> {
    let mut salt = eph.to_vec();
    salt.extend_from_slice(recipient);
    hkdf(&salt, shared, b"inkan signer key envelope v1")
}

/// Seals a signer key (unencrypted PKCS#8 of `alg`) to `recipient`.
pub(crate) fn seal_to(recipient: &Recipient, alg: KeyAlgorithm, pkcs8: &[u8]) -> Result<Vec<u8>> {
    let eph = PrivateKey::generate(&X25519).map_err(|_| crypto("key generation"))?;
    let eph_public = eph
        .compute_public_key()
        .map_err(|_| crypto("key generation"))?;
    let key = agreement::agree(
        &eph,
        UnparsedPublicKey::new(&X25519, recipient.0),
        crypto("key agreement failed"),
        |shared| envelope_key(shared, eph_public.as_ref(), &recipient.0),
    )?;
    let mut header = ENVELOPE_MAGIC.to_vec();
    header.push(alg_byte(alg));
    header.extend_from_slice(eph_public.as_ref());
    header.extend_from_slice(&recipient.0);
    let body = seal_with(&key, &header, pkcs8)?;
    header.extend_from_slice(&body);
    Ok(header)
}

/// A PIN's wrapping key, opened: opens the envelopes sealed to it. Dropped after the signature.
pub struct UnlockedPin {
    private: PrivateKey,
    public: Recipient,
}

impl std::fmt::Debug for UnlockedPin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UnlockedPin(<redacted>)")
    }
}

impl UnlockedPin {
    /// Where keys for this PIN are sealed to (its wrapping key's public half).
    pub fn recipient(&self) -> Recipient {
        self.public
    }

    /// Opens an envelope made by [`seal_to`] for this PIN's wrapping key.
    pub fn open(&self, envelope: &[u8]) -> Result<PinBoundKey> {
        let broken = || CaError::KeyStore("not an envelope for this PIN".into());
        let header_len = ENVELOPE_MAGIC.len() + 1 + 2 * X25519_LEN;
        if envelope.len() < header_len + NONCE_LEN + TAG_LEN
            || &envelope[..ENVELOPE_MAGIC.len()] != ENVELOPE_MAGIC
        {
            return Err(broken());
        }
        let (header, body) = envelope.split_at(header_len);
        let alg = alg_from_byte(header[ENVELOPE_MAGIC.len()]).ok_or_else(broken)?;
        let eph = &header[ENVELOPE_MAGIC.len() + 1..ENVELOPE_MAGIC.len() + 1 + X25519_LEN];
        let recipient = &header[ENVELOPE_MAGIC.len() + 1 + X25519_LEN..];
        if recipient != self.public.0 {
            return Err(broken());
        }
        let key = agreement::agree(
            &self.private,
            UnparsedPublicKey::new(&X25519, eph),
            broken(),
            |shared| envelope_key(shared, eph, recipient),
        )?;
        let pkcs8 = open_with(&key, header, body).ok_or_else(broken)?;
        Ok(PinBoundKey {
            algorithm: alg,
            key: OpenKey::from_pkcs8(alg, &pkcs8)?,
        })
    }
}

/// A signer key taken out of its envelope for one signature.
#[derive(Debug)]
pub struct PinBoundKey {
    algorithm: KeyAlgorithm,
    key: OpenKey,
}

impl PinBoundKey {
    pub fn algorithm(&self) -> KeyAlgorithm {
        self.algorithm
    }

    /// The public key as a DER SubjectPublicKeyInfo.
    pub fn public_key_spki_der(&self) -> Result<Vec<u8>> {
        self.key.spki_der()
    }

    /// Signs `message` with SHA-256 (ECDSA DER signature or RSA PKCS#1 v1.5).
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>> {
        self.key.sign(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keystore::sealed::generate_pkcs8;

    fn vault() -> PinVault {
        PinVault::new(&MasterKey::from_bytes(&[7; 32]).expect("mk")).expect("vault")
    }

    #[test]
    fn only_the_pin_and_the_master_key_open_a_sealed_signer_key() {
        let v = vault();
        let lock = v.create("abcd1234").expect("create");
        assert!(lock.hash.starts_with("$argon2id$"), "{}", lock.hash);
        let pkcs8 = generate_pkcs8(KeyAlgorithm::EcdsaP256).expect("key");
        let envelope = seal_to(
            &lock.recipient().expect("r"),
            KeyAlgorithm::EcdsaP256,
            &pkcs8,
        )
        .expect("seal");
        // The PKCS#8 bytes appear nowhere in the envelope or the lock.
        assert!(!envelope
            .windows(32)
            .any(|w| pkcs8.windows(32).any(|p| p == w)));

        let key = v
            .unlock(&lock, "abcd1234")
            .expect("unlock")
            .open(&envelope)
            .expect("open");
        let direct = OpenKey::from_pkcs8(KeyAlgorithm::EcdsaP256, &pkcs8).expect("direct");
        assert_eq!(
            key.public_key_spki_der().expect("spki"),
            direct.spki_der().expect("spki")
        );
        assert!(!key.sign(b"x").expect("sign").is_empty());

        assert!(matches!(
            v.unlock(&lock, "abcd1235"),
            Err(CaError::WrongPin)
        ));
        // Another master key: the hash does not verify (keyed), nothing opens.
        let other = PinVault::new(&MasterKey::from_bytes(&[8; 32]).expect("mk")).expect("v");
        assert!(!other.verify(&lock, "abcd1234"));
        assert!(other.unlock(&lock, "abcd1234").is_err());
        // Another PIN's wrapping key does not open the envelope.
        let lock2 = v.create("abcd1234").expect("create");
        assert!(v
            .unlock(&lock2, "abcd1234")
            .expect("u")
            .open(&envelope)
            .is_err());
        // A flipped byte anywhere in the envelope is refused.
        let u = v.unlock(&lock, "abcd1234").expect("u");
        for i in [0, 5, 6, 40, 80, envelope.len() - 1] {
            let mut bad = envelope.clone();
            bad[i] ^= 1;
            assert!(u.open(&bad).is_err(), "byte {i}");
        }
    }

    #[test]
    fn a_grant_opens_the_envelopes_for_its_purpose_only_and_under_its_master_key() {
        let v = vault();
        let lock = v.create("abcd1234").expect("create");
        let pkcs8 = generate_pkcs8(KeyAlgorithm::EcdsaP256).expect("key");
        let envelope = seal_to(
            &lock.recipient().expect("r"),
            KeyAlgorithm::EcdsaP256,
            &pkcs8,
        )
        .expect("seal");
        let unlocked = v.unlock(&lock, "abcd1234").expect("unlock");
        let grant = v.grant(&unlocked, "signature-1").expect("grant");
        let opened = v.open_grant(&grant, "signature-1").expect("open grant");
        assert_eq!(opened.recipient(), unlocked.recipient());
        opened
            .open(&envelope)
            .expect("the grant opens the envelope");
        assert!(v.open_grant(&grant, "signature-2").is_err());
        let other = PinVault::new(&MasterKey::from_bytes(&[8; 32]).expect("mk")).expect("v");
        assert!(other.open_grant(&grant, "signature-1").is_err());
        let mut bad = grant.clone();
        bad[20] ^= 1;
        assert!(v.open_grant(&bad, "signature-1").is_err());
    }

    #[test]
    fn a_pin_change_keeps_the_envelopes_and_retires_the_old_pin() {
        let v = vault();
        let lock = v.create("first1234").expect("create");
        let pkcs8 = generate_pkcs8(KeyAlgorithm::EcdsaP256).expect("key");
        let envelope = seal_to(
            &lock.recipient().expect("r"),
            KeyAlgorithm::EcdsaP256,
            &pkcs8,
        )
        .expect("seal");
        assert!(matches!(
            v.change(&lock, "wrong1234", "second5678"),
            Err(CaError::WrongPin)
        ));
        let changed = v.change(&lock, "first1234", "second5678").expect("change");
        assert_eq!(changed.public, lock.public);
        assert_ne!(changed.sealed, lock.sealed);
        assert!(v.unlock(&changed, "first1234").is_err());
        v.unlock(&changed, "second5678")
            .expect("unlock")
            .open(&envelope)
            .expect("open");
    }

    #[test]
    fn a_tampered_lock_does_not_open() {
        let v = vault();
        let mut lock = v.create("abcd1234").expect("create");
        let mut sealed = hex::decode(&lock.sealed).expect("hex");
        sealed[20] ^= 1;
        lock.sealed = hex::encode(sealed);
        assert!(v.unlock(&lock, "abcd1234").is_err());
    }
}
