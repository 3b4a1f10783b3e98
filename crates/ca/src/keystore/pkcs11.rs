//! `Pkcs11KeyStore`: keys generated inside a PKCS#11 token (an HSM, or SoftHSM2 in tests) as
//! sensitive, non-extractable objects named by their label; the CA only ever gets public keys
//! and signatures out. One logged-in session, used under a lock.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

use aws_lc_rs::digest;
use const_oid::db::rfc5912::{ID_EC_PUBLIC_KEY, RSA_ENCRYPTION, SECP_256_R_1};
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as P11Error, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::types::AuthPin;
use der::asn1::{BitString, Null, OctetString, UintRef};
use der::{Any, Decode, Encode, Sequence};
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};

use super::{check_label, KeyAlgorithm, KeyHandle, KeyStore};
use crate::error::{CaError, Result};

/// RSAPublicKey / ECDSA-Sig-Value: both are a SEQUENCE of two positive INTEGERs.
#[derive(Sequence)]
struct TwoIntegers<'a> {
    a: UintRef<'a>,
    b: UintRef<'a>,
}

fn p11(e: P11Error) -> CaError {
    CaError::KeyStore(format!("PKCS#11: {e}"))
}

/// Keys inside a PKCS#11 token.
pub struct Pkcs11KeyStore {
    // Declared before `_ctx` so the session closes before the library context is dropped.
    session: Mutex<Session>,
    private_keys: Mutex<HashMap<String, ObjectHandle>>,
    _ctx: Pkcs11,
}

impl std::fmt::Debug for Pkcs11KeyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pkcs11KeyStore").finish_non_exhaustive()
    }
}

impl Pkcs11KeyStore {
    /// Loads the PKCS#11 `module` (e.g. `/usr/lib/softhsm/libsofthsm2.so`), finds the token
    /// labelled `token_label` and logs in as the user with `pin`.
    pub fn open(module: &Path, token_label: &str, pin: &str) -> Result<Self> {
        let ctx = Pkcs11::new(module).map_err(p11)?;
        match ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
            Ok(()) | Err(P11Error::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
            Err(e) => return Err(p11(e)),
        }
        let mut found = None;
        for slot in ctx.get_slots_with_token().map_err(p11)? {
            if ctx.get_token_info(slot).map_err(p11)?.label() == token_label {
                found = Some(slot);
                break;
            }
        }
        let slot =
            found.ok_or_else(|| CaError::NotFound(format!("PKCS#11 token {token_label:?}")))?;
        let session = ctx.open_rw_session(slot).map_err(p11)?;
        session
            .login(UserType::User, Some(&AuthPin::new(pin.to_owned().into())))
            .map_err(p11)?;
        Ok(Pkcs11KeyStore {
            session: Mutex::new(session),
            private_keys: Mutex::new(HashMap::new()),
            _ctx: ctx,
        })
    }

    fn session(&self) -> std::sync::MutexGuard<'_, Session> {
        self.session.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn find(session: &Session, class: ObjectClass, label: &str) -> Result<Option<ObjectHandle>> {
        let found = session
            .find_objects(&[
                Attribute::Class(class),
                Attribute::Label(label.as_bytes().to_vec()),
            ])
            .map_err(p11)?;
        Ok(found.first().copied())
    }

    fn private_key(&self, session: &Session, label: &str) -> Result<ObjectHandle> {
        let mut cache = self.private_keys.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(h) = cache.get(label) {
            return Ok(*h);
        }
        let h = Self::find(session, ObjectClass::PRIVATE_KEY, label)?
            .ok_or_else(|| CaError::NotFound(format!("key {label} in the token")))?;
        cache.insert(label.to_owned(), h);
        Ok(h)
    }
}

fn ec_params() -> Result<Vec<u8>> {
    Ok(SECP_256_R_1.to_der()?)
}

impl KeyStore for Pkcs11KeyStore {
    fn generate(&self, label: &str, alg: KeyAlgorithm) -> Result<KeyHandle> {
        check_label(label)?;
        let session = self.session();
        if Self::find(&session, ObjectClass::PRIVATE_KEY, label)?.is_some() {
            return Err(CaError::AlreadyExists(format!("key {label}")));
        }
        let name = || Attribute::Label(label.as_bytes().to_vec());
        let id = || Attribute::Id(label.as_bytes().to_vec());
        let mut public = vec![
            Attribute::Token(true),
            Attribute::Private(false),
            Attribute::Verify(true),
            name(),
            id(),
        ];
        let private = vec![
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Sensitive(true),
            Attribute::Extractable(false),
            Attribute::Sign(true),
            name(),
            id(),
        ];
        let mechanism = match alg {
            KeyAlgorithm::EcdsaP256 => {
                public.push(Attribute::EcParams(ec_params()?));
                Mechanism::EccKeyPairGen
            }
            KeyAlgorithm::Rsa3072 | KeyAlgorithm::Rsa2048 | KeyAlgorithm::Rsa4096 => {
                let bits: u64 = match alg {
                    KeyAlgorithm::Rsa3072 => 3072,
                    KeyAlgorithm::Rsa4096 => 4096,
                    _ => 2048,
                };
                public.push(Attribute::ModulusBits(bits.into()));
                public.push(Attribute::PublicExponent(vec![1, 0, 1]));
                Mechanism::RsaPkcsKeyPairGen
            }
        };
        let (_, private_handle) = session
            .generate_key_pair(&mechanism, &public, &private)
            .map_err(p11)?;
        self.private_keys
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(label.to_owned(), private_handle);
        KeyHandle::new(label, alg)
    }

    fn import_pkcs8(&self, _label: &str, _pkcs8_der: &[u8]) -> Result<KeyHandle> {
        Err(CaError::Unsupported(
            "importing a private key into the PKCS#11 token (use the sealed key store for imported keys)".into(),
        ))
    }

    fn public_key_spki_der(&self, h: &KeyHandle) -> Result<Vec<u8>> {
        let session = self.session();
        let obj = Self::find(&session, ObjectClass::PUBLIC_KEY, h.label())?
            .ok_or_else(|| CaError::NotFound(format!("public key {} in the token", h.label())))?;
        let (algorithm, key_bits) = if h.algorithm().is_rsa() {
            let attrs = session
                .get_attributes(
                    obj,
                    &[AttributeType::Modulus, AttributeType::PublicExponent],
                )
                .map_err(p11)?;
            let (mut n, mut e) = (None, None);
            for a in attrs {
                match a {
                    Attribute::Modulus(v) => n = Some(v),
                    Attribute::PublicExponent(v) => e = Some(v),
                    _ => {}
                }
            }
            let (n, e) = n
                .zip(e)
                .ok_or_else(|| CaError::KeyStore("RSA public key attributes missing".into()))?;
            let rsa = TwoIntegers {
                a: UintRef::new(&n)?,
                b: UintRef::new(&e)?,
            }
            .to_der()?;
            (
                AlgorithmIdentifierOwned {
                    oid: RSA_ENCRYPTION,
                    parameters: Some(Any::from(Null)),
                },
                rsa,
            )
        } else {
            let attrs = session
                .get_attributes(obj, &[AttributeType::EcPoint])
                .map_err(p11)?;
            let point = attrs
                .into_iter()
                .find_map(|a| {
                    if let Attribute::EcPoint(v) = a {
                        Some(v)
                    } else {
                        None
                    }
                })
                .ok_or_else(|| CaError::KeyStore("EC point missing".into()))?;
            // CKA_EC_POINT is the DER OCTET STRING around the uncompressed point.
            let raw = OctetString::from_der(&point)
                .map(|o| o.into_bytes())
                .unwrap_or(point);
            (
                AlgorithmIdentifierOwned {
                    oid: ID_EC_PUBLIC_KEY,
                    parameters: Some(Any::encode_from(&SECP_256_R_1)?),
                },
                raw,
            )
        };
        Ok(SubjectPublicKeyInfoOwned {
            algorithm,
            subject_public_key: BitString::from_bytes(&key_bits)?,
        }
        .to_der()?)
    }

    fn sign(&self, h: &KeyHandle, message: &[u8]) -> Result<Vec<u8>> {
        let session = self.session();
        let key = self.private_key(&session, h.label())?;
        if h.algorithm().is_rsa() {
            return session
                .sign(&Mechanism::Sha256RsaPkcs, key, message)
                .map_err(p11);
        }
        // Hash here and use plain CKM_ECDSA: tokens differ in which combined mechanisms they offer.
        let d = digest::digest(&digest::SHA256, message);
        let raw = session
            .sign(&Mechanism::Ecdsa, key, d.as_ref())
            .map_err(p11)?;
        if raw.len() != 64 {
            return Err(CaError::KeyStore(format!(
                "ECDSA signature of {} bytes from the token",
                raw.len()
            )));
        }
        let (r, s) = raw.split_at(32);
        Ok(TwoIntegers {
            a: UintRef::new(r)?,
            b: UintRef::new(s)?,
        }
        .to_der()?)
    }
}
