//! Who signs: the [`Signer`] trait, and a file-backed implementation whose private-key operations
//! run in aws-lc-rs (constant-time RSA and ECDSA).

use aws_lc_rs::digest;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeyPair as RsaKeyPair;
use aws_lc_rs::signature::{self, EcdsaKeyPair, EcdsaSigningAlgorithm, RsaEncoding};
use der::{Decode, Encode};
use x509_cert::Certificate;

use crate::error::{PdfError, Result};

/// The digest used for the document and the signed attributes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum HashAlgorithm {
    #[default]
    Sha256,
    Sha384,
    Sha512,
}

impl HashAlgorithm {
    pub fn parse(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().replace('-', "").as_str() {
            "sha256" => Ok(Self::Sha256),
            "sha384" => Ok(Self::Sha384),
            "sha512" => Ok(Self::Sha512),
            _ => Err(PdfError::Invalid(format!(
                "unknown hash '{s}' (use sha256, sha384 or sha512)"
            ))),
        }
    }

    pub fn digest_algorithm(self) -> &'static digest::Algorithm {
        match self {
            Self::Sha256 => &digest::SHA256,
            Self::Sha384 => &digest::SHA384,
            Self::Sha512 => &digest::SHA512,
        }
    }

    pub fn oid(self) -> der::asn1::ObjectIdentifier {
        match self {
            Self::Sha256 => const_oid::db::rfc5912::ID_SHA_256,
            Self::Sha384 => const_oid::db::rfc5912::ID_SHA_384,
            Self::Sha512 => const_oid::db::rfc5912::ID_SHA_512,
        }
    }

    pub fn from_oid(oid: &der::asn1::ObjectIdentifier) -> Option<Self> {
        [Self::Sha256, Self::Sha384, Self::Sha512]
            .into_iter()
            .find(|h| h.oid() == *oid)
    }

    pub fn output_len(self) -> usize {
        self.digest_algorithm().output_len()
    }

    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        digest::digest(self.digest_algorithm(), data)
            .as_ref()
            .to_vec()
    }
}

/// The kind of signature a key makes, which fixes the CMS signature algorithm.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignatureScheme {
    RsaPkcs1,
    RsaPss,
    EcdsaP256,
    EcdsaP384,
}

/// A private key and its certificate chain. Implement this to keep keys in a database, behind a
/// PIN or in an HSM: the signing code only asks for a signature over the signed attributes.
pub trait Signer {
    /// The signer's certificate (DER) first, then the issuing chain up to (optionally) the root.
    fn certificates(&self) -> &[Vec<u8>];

    fn scheme(&self) -> SignatureScheme;

    /// The largest signature this key can produce, in bytes (to size the /Contents reserve).
    fn max_signature_len(&self) -> usize;

    /// Signs `message` (the DER of the signed attributes) with `hash`.
    fn sign(&self, hash: HashAlgorithm, message: &[u8]) -> Result<Vec<u8>>;

    /// The hash the key signs with when the caller does not choose one.
    fn default_hash(&self) -> HashAlgorithm {
        match self.scheme() {
            SignatureScheme::EcdsaP384 => HashAlgorithm::Sha384,
            _ => HashAlgorithm::Sha256,
        }
    }
}

enum Key {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair, SignatureScheme),
}

/// A key held in memory (loaded once from PEM, DER or PKCS#12), signing through aws-lc-rs.
pub struct KeySigner {
    key: Key,
    pss: bool,
    certs: Vec<Vec<u8>>,
    rng: SystemRandom,
}

impl std::fmt::Debug for KeySigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeySigner")
            .field("scheme", &self.scheme())
            .finish_non_exhaustive()
    }
}

impl KeySigner {
    /// Builds a signer from a private key (PKCS#8, PKCS#1 RSA or SEC1 EC; PEM or DER) and the
    /// certificate chain, signer first. Checks that the key matches the certificate.
    pub fn new(key: &[u8], certs: Vec<Vec<u8>>, pss: bool) -> Result<Self> {
        let first = certs
            .first()
            .ok_or_else(|| PdfError::Key("no signer certificate given".into()))?;
        let cert = Certificate::from_der(first)
            .map_err(|e| PdfError::Key(format!("the signer certificate cannot be read: {e}")))?;
        let spki = cert
            .tbs_certificate
            .subject_public_key_info
            .subject_public_key
            .raw_bytes()
            .to_vec();
        let der = pem_or_der(key, &["PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY"])?;
        let key = load_key(&der)?;
        let public = match &key {
            Key::Rsa(k) => aws_lc_rs::signature::KeyPair::public_key(k)
                .as_ref()
                .to_vec(),
            Key::Ec(k, _) => aws_lc_rs::signature::KeyPair::public_key(k)
                .as_ref()
                .to_vec(),
        };
        if public != spki {
            return Err(PdfError::Key(
                "the private key does not belong to the signer certificate".into(),
            ));
        }
        if pss && !matches!(key, Key::Rsa(_)) {
            return Err(PdfError::Key("--pss needs an RSA key".into()));
        }
        Ok(Self {
            key,
            pss,
            certs,
            rng: SystemRandom::new(),
        })
    }

    /// Loads a key and chain from PEM files' contents.
    pub fn from_pem(
        key_pem: &[u8],
        cert_pem: &[u8],
        chain_pems: &[Vec<u8>],
        pss: bool,
    ) -> Result<Self> {
        let mut certs = read_certificates(cert_pem)?;
        for pem in chain_pems {
            certs.extend(read_certificates(pem)?);
        }
        Self::new(key_pem, certs, pss)
    }
}

fn load_key(der: &[u8]) -> Result<Key> {
    if let Ok(k) = RsaKeyPair::from_pkcs8(der).or_else(|_| RsaKeyPair::from_der(der)) {
        if k.public_modulus_len() < 256 {
            return Err(PdfError::Key(
                "RSA keys must have at least 2048 bits".into(),
            ));
        }
        return Ok(Key::Rsa(k));
    }
    let curves: [(&'static EcdsaSigningAlgorithm, SignatureScheme); 2] = [
        (
            &signature::ECDSA_P256_SHA256_ASN1_SIGNING,
            SignatureScheme::EcdsaP256,
        ),
        (
            &signature::ECDSA_P384_SHA384_ASN1_SIGNING,
            SignatureScheme::EcdsaP384,
        ),
    ];
    for (alg, scheme) in curves {
        if let Ok(k) = EcdsaKeyPair::from_private_key_der(alg, der) {
            return Ok(Key::Ec(k, scheme));
        }
    }
    Err(PdfError::Key(
        "unsupported or unreadable private key (use RSA 2048+ or ECDSA P-256/P-384, unencrypted PKCS#8, PKCS#1 or SEC1)".into(),
    ))
}

impl Signer for KeySigner {
    fn certificates(&self) -> &[Vec<u8>] {
        &self.certs
    }

    fn scheme(&self) -> SignatureScheme {
        match (&self.key, self.pss) {
            (Key::Rsa(_), false) => SignatureScheme::RsaPkcs1,
            (Key::Rsa(_), true) => SignatureScheme::RsaPss,
            (Key::Ec(_, s), _) => *s,
        }
    }

    fn max_signature_len(&self) -> usize {
        match &self.key {
            Key::Rsa(k) => k.public_modulus_len(),
            // DER of two INTEGERs, each up to the field size plus a sign byte.
            Key::Ec(_, SignatureScheme::EcdsaP256) => 72,
            Key::Ec(..) => 104,
        }
    }

    fn sign(&self, hash: HashAlgorithm, message: &[u8]) -> Result<Vec<u8>> {
        let fail = |_| PdfError::Key("the private-key operation failed".into());
        match &self.key {
            Key::Rsa(k) => {
                let encoding: &'static dyn RsaEncoding = match (self.pss, hash) {
                    (false, HashAlgorithm::Sha256) => &signature::RSA_PKCS1_SHA256,
                    (false, HashAlgorithm::Sha384) => &signature::RSA_PKCS1_SHA384,
                    (false, HashAlgorithm::Sha512) => &signature::RSA_PKCS1_SHA512,
                    (true, HashAlgorithm::Sha256) => &signature::RSA_PSS_SHA256,
                    (true, HashAlgorithm::Sha384) => &signature::RSA_PSS_SHA384,
                    (true, HashAlgorithm::Sha512) => &signature::RSA_PSS_SHA512,
                };
                let mut sig = vec![0; k.public_modulus_len()];
                k.sign(encoding, &self.rng, message, &mut sig)
                    .map_err(fail)?;
                Ok(sig)
            }
            Key::Ec(k, scheme) => {
                let native = match scheme {
                    SignatureScheme::EcdsaP384 => HashAlgorithm::Sha384,
                    _ => HashAlgorithm::Sha256,
                };
                if hash != native {
                    return Err(PdfError::Key(format!(
                        "this ECDSA key signs with {native:?}; choose that hash"
                    )));
                }
                Ok(k.sign(&self.rng, message).map_err(fail)?.as_ref().to_vec())
            }
        }
    }
}

/// Reads one or more certificates from PEM (or a single DER certificate).
pub fn read_certificates(data: &[u8]) -> Result<Vec<Vec<u8>>> {
    if data.starts_with(&[0x30]) {
        Certificate::from_der(data)
            .map_err(|e| PdfError::Key(format!("bad DER certificate: {e}")))?;
        return Ok(vec![data.to_vec()]);
    }
    let certs = Certificate::load_pem_chain(data)
        .map_err(|e| PdfError::Key(format!("bad PEM certificate: {e}")))?;
    if certs.is_empty() {
        return Err(PdfError::Key("no certificate found in the PEM data".into()));
    }
    certs
        .iter()
        .map(|c| c.to_der().map_err(|e| PdfError::Key(e.to_string())))
        .collect()
}

fn pem_or_der(data: &[u8], labels: &[&str]) -> Result<Vec<u8>> {
    let text = String::from_utf8_lossy(data);
    let Some(start) = text.find("-----BEGIN ") else {
        return Ok(data.to_vec());
    };
    // Skip anything before the key block (OpenSSL writes EC PARAMETERS first).
    for block in text[start..].split("-----BEGIN ").filter(|b| !b.is_empty()) {
        let pem = format!("-----BEGIN {block}");
        if let Ok((label, der)) = pem_rfc7468::decode_vec(pem.trim_end().as_bytes()) {
            if labels.contains(&label) {
                return Ok(der);
            }
            if label == "ENCRYPTED PRIVATE KEY" {
                return Err(PdfError::Key(
                    "the private key is encrypted; give an unencrypted key or a PKCS#12 file with --p12".into(),
                ));
            }
        }
    }
    Err(PdfError::Key("no private key found in the PEM data".into()))
}

impl KeySigner {
    /// Adds issuing certificates not already in the chain.
    pub fn add_chain(&mut self, certs: Vec<Vec<u8>>) {
        for c in certs {
            if !self.certs.contains(&c) {
                self.certs.push(c);
            }
        }
    }

    /// Loads the key and certificate chain from a PKCS#12 file.
    pub fn from_pkcs12(data: &[u8], password: &str, pss: bool) -> Result<Self> {
        use p12_keystore::{KeyStore, Pkcs12ImportPolicy};
        let store =
            KeyStore::from_pkcs12(data, password, Pkcs12ImportPolicy::Relaxed).map_err(|e| {
                PdfError::Key(format!(
                    "cannot open the PKCS#12 file (wrong password?): {e}"
                ))
            })?;
        let (_, chain) = store
            .private_key_chain()
            .ok_or_else(|| PdfError::Key("the PKCS#12 file holds no private key".into()))?;
        let certs: Vec<Vec<u8>> = chain.certs().iter().map(|c| c.as_der().to_vec()).collect();
        if certs.is_empty() {
            return Err(PdfError::Key(
                "the PKCS#12 file holds no certificate for its key".into(),
            ));
        }
        Self::new(chain.key().as_der(), certs, pss)
    }
}

#[cfg(test)]
mod tests {
    /// Signing draws a random number (RSA blinding, the ECDSA nonce), the first one of a one-shot
    /// `inkan sign` process; aws-lc's CPU-jitter entropy source spends ~50 ms starting up for it,
    /// five times what `openssl cms -sign` takes for a 1 MB file. `.cargo/config.toml` builds
    /// aws-lc to seed from the operating system instead. The test asks the linked aws-lc which
    /// source it has: a timing would be flaky on a busy machine.
    #[test]
    fn signing_seeds_aws_lc_from_the_os_not_cpu_jitter() {
        assert!(
            aws_lc_rs::try_fips_cpu_jitter_entropy().is_err(),
            "aws-lc was built with its CPU-jitter entropy source: is AWS_LC_SYS_NO_JITTER_ENTROPY=1 \
             from .cargo/config.toml in effect?"
        );
    }
}
