//! Issued certificates and their revocations, behind the [`CertStore`] trait (the server keeps
//! them in SQL). Here: [`MemoryCertStore`] and [`JsonFileCertStore`] (one JSON file, rewritten
//! whole through a temporary file and a rename on every change).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use x509_cert::ext::pkix::CrlReason;

use crate::error::{CaError, Result};
use crate::keystore::KeyHandle;

/// A certificate serial as lowercase hex, without leading zero octets (`0a1b…`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Serial(String);

impl Serial {
    /// Parses hex digits (`:` separators and case ignored; leading zero octets dropped).
    pub fn parse(s: &str) -> Result<Self> {
        let clean: String = s
            .chars()
            .filter(|c| *c != ':')
            .collect::<String>()
            .to_lowercase();
        let bytes = hex::decode(&clean)
            .map_err(|_| CaError::invalid("serial", format!("{s:?} is not hexadecimal")))?;
        Self::from_bytes(&bytes)
    }

    /// From the big-endian bytes of a positive integer.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
        let bytes = &bytes[start..];
        if bytes.is_empty() || bytes.len() > 20 {
            return Err(CaError::invalid("serial", "must be 1 to 20 octets"));
        }
        Ok(Serial(hex::encode(bytes)))
    }

    /// The hex digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The big-endian bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        hex::decode(&self.0).unwrap_or_default()
    }
}

impl std::fmt::Display for Serial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Serial {
    type Error = CaError;
    fn try_from(s: String) -> Result<Self> {
        Serial::parse(&s)
    }
}

impl From<Serial> for String {
    fn from(s: Serial) -> String {
        s.0
    }
}

/// What a certificate is for; decides which CRL lists it and whether OCSP answers for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CertKind {
    /// The issuing CA (issued by the root; listed on the root's CRL).
    IssuingCa,
    /// The timestamping certificate (issued by the issuing CA).
    Tsa,
    /// The OCSP-signing certificate (issued by the issuing CA).
    OcspResponder,
    /// A signer's certificate issued by this CA.
    Signer,
    /// A signer's certificate from another CA, imported from PKCS#12 (never on our CRL).
    Imported,
}

impl CertKind {
    /// Whether the issuing CA issued it (so its CRL and OCSP cover it).
    pub fn issued_by_issuing_ca(self) -> bool {
        matches!(
            self,
            CertKind::Tsa | CertKind::OcspResponder | CertKind::Signer
        )
    }
}

/// RFC 5280 CRLReason values a revocation can give.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RevocationReason {
    Unspecified,
    KeyCompromise,
    CaCompromise,
    AffiliationChanged,
    Superseded,
    CessationOfOperation,
    CertificateHold,
    PrivilegeWithdrawn,
    AaCompromise,
}

impl RevocationReason {
    /// The ASN.1 CRLReason.
    pub fn crl_reason(self) -> CrlReason {
        match self {
            RevocationReason::Unspecified => CrlReason::Unspecified,
            RevocationReason::KeyCompromise => CrlReason::KeyCompromise,
            RevocationReason::CaCompromise => CrlReason::CaCompromise,
            RevocationReason::AffiliationChanged => CrlReason::AffiliationChanged,
            RevocationReason::Superseded => CrlReason::Superseded,
            RevocationReason::CessationOfOperation => CrlReason::CessationOfOperation,
            RevocationReason::CertificateHold => CrlReason::CertificateHold,
            RevocationReason::PrivilegeWithdrawn => CrlReason::PrivilegeWithdrawn,
            RevocationReason::AaCompromise => CrlReason::AaCompromise,
        }
    }
}

/// When and why a certificate was revoked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revocation {
    /// Unix seconds.
    pub time: u64,
    pub reason: RevocationReason,
}

/// One certificate the CA knows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertRecord {
    pub serial: Serial,
    pub kind: CertKind,
    /// The subject, RFC 4514 text (for lists and logs).
    pub subject: String,
    /// DER certificate.
    #[serde(with = "hex_bytes")]
    pub cert_der: Vec<u8>,
    /// DER issuer chain, nearest first (for imported certificates, as found in the PKCS#12).
    #[serde(with = "hex_vec")]
    pub chain: Vec<Vec<u8>>,
    /// The private key in the key store, when the CA holds it.
    pub key: Option<KeyHandle>,
    /// Unix seconds.
    pub not_before: u64,
    /// Unix seconds.
    pub not_after: u64,
    pub revocation: Option<Revocation>,
    /// The certificate that replaced this one (renewal or change).
    pub replaced_by: Option<Serial>,
}

/// Storage of issued certificates and revocations. Implementations must make `revoke` atomic
/// (one revocation wins) and `next_crl_number` strictly increasing per scope.
pub trait CertStore: Send + Sync + std::fmt::Debug {
    /// Adds a certificate; fails with `AlreadyExists` if its serial is known.
    fn insert(&self, rec: CertRecord) -> Result<()>;
    /// The certificate with this serial.
    fn get(&self, serial: &Serial) -> Result<Option<CertRecord>>;
    /// Marks a certificate revoked; `NotFound` or `AlreadyRevoked` otherwise.
    fn revoke(&self, serial: &Serial, revocation: Revocation) -> Result<()>;
    /// Records which certificate replaced `serial`.
    fn set_replaced_by(&self, serial: &Serial, by: &Serial) -> Result<()>;
    /// Every revoked certificate.
    fn revoked(&self) -> Result<Vec<CertRecord>>;
    /// Every certificate (for listings).
    fn all(&self) -> Result<Vec<CertRecord>>;
    /// The next CRL number for `scope` (`"root"`, `"issuing"`), starting at 1.
    fn next_crl_number(&self, scope: &str) -> Result<u64>;
}

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
struct State {
    certs: BTreeMap<Serial, CertRecord>,
    crl_numbers: BTreeMap<String, u64>,
}

impl State {
    fn insert(&mut self, rec: CertRecord) -> Result<()> {
        if self.certs.contains_key(&rec.serial) {
            return Err(CaError::AlreadyExists(format!(
                "certificate {}",
                rec.serial
            )));
        }
        self.certs.insert(rec.serial.clone(), rec);
        Ok(())
    }

    fn record(&mut self, serial: &Serial) -> Result<&mut CertRecord> {
        self.certs
            .get_mut(serial)
            .ok_or_else(|| CaError::NotFound(format!("certificate {serial}")))
    }

    fn revoke(&mut self, serial: &Serial, revocation: Revocation) -> Result<()> {
        let rec = self.record(serial)?;
        if rec.revocation.is_some() {
            return Err(CaError::AlreadyRevoked(serial.to_string()));
        }
        rec.revocation = Some(revocation);
        Ok(())
    }

    fn revoked(&self) -> Vec<CertRecord> {
        self.certs
            .values()
            .filter(|r| r.revocation.is_some())
            .cloned()
            .collect()
    }

    fn next_crl_number(&mut self, scope: &str) -> u64 {
        let n = self.crl_numbers.entry(scope.to_owned()).or_insert(0);
        *n += 1;
        *n
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Certificates in memory (tests, benchmarks).
#[derive(Debug, Default)]
pub struct MemoryCertStore(Mutex<State>);

impl MemoryCertStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

impl CertStore for MemoryCertStore {
    fn insert(&self, rec: CertRecord) -> Result<()> {
        lock(&self.0).insert(rec)
    }
    fn get(&self, serial: &Serial) -> Result<Option<CertRecord>> {
        Ok(lock(&self.0).certs.get(serial).cloned())
    }
    fn revoke(&self, serial: &Serial, revocation: Revocation) -> Result<()> {
        lock(&self.0).revoke(serial, revocation)
    }
    fn set_replaced_by(&self, serial: &Serial, by: &Serial) -> Result<()> {
        lock(&self.0).record(serial)?.replaced_by = Some(by.clone());
        Ok(())
    }
    fn revoked(&self) -> Result<Vec<CertRecord>> {
        Ok(lock(&self.0).revoked())
    }
    fn all(&self) -> Result<Vec<CertRecord>> {
        Ok(lock(&self.0).certs.values().cloned().collect())
    }
    fn next_crl_number(&self, scope: &str) -> Result<u64> {
        Ok(lock(&self.0).next_crl_number(scope))
    }
}

/// Certificates in one JSON file, rewritten atomically after each change and read again
/// whenever another process has changed it (`inkan ca revoke` beside a running `inkan ca serve`).
#[derive(Debug)]
pub struct JsonFileCertStore {
    path: PathBuf,
    state: Mutex<(Option<FileStamp>, State)>,
}

/// What identifies one version of the file.
type FileStamp = (std::time::SystemTime, u64);

impl JsonFileCertStore {
    /// Opens `path`, or starts empty if it does not exist.
    pub fn open(path: impl Into<PathBuf>) -> Result<Self> {
        let path = path.into();
        let state = match std::fs::read(&path) {
            Ok(b) => serde_json::from_slice(&b)
                .map_err(|e| CaError::CertStore(format!("{}: {e}", path.display())))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => State::default(),
            Err(e) => return Err(CaError::CertStore(format!("{}: {e}", path.display()))),
        };
        let stamp = stamp_of(&path);
        Ok(JsonFileCertStore {
            path,
            state: Mutex::new((stamp, state)),
        })
    }

    /// The last CRL number given out per scope (for moving the store elsewhere).
    pub fn crl_numbers(&self) -> Result<BTreeMap<String, u64>> {
        Ok(self.current()?.1.crl_numbers.clone())
    }

    /// The state, read again from the file if it changed since last seen.
    fn current(&self) -> Result<std::sync::MutexGuard<'_, (Option<FileStamp>, State)>> {
        let mut guard = lock(&self.state);
        let stamp = stamp_of(&self.path);
        if stamp.is_some() && stamp != guard.0 {
            let bytes = std::fs::read(&self.path)
                .map_err(|e| CaError::CertStore(format!("{}: {e}", self.path.display())))?;
            guard.1 = serde_json::from_slice(&bytes)
                .map_err(|e| CaError::CertStore(format!("{}: {e}", self.path.display())))?;
            guard.0 = stamp;
        }
        Ok(guard)
    }

    /// Applies `f` to a copy of the state, writes it, and keeps it only if the write worked.
    ///
    /// Several processes may share the file (`inkan serve` processes behind a load balancer, or
    /// `inkan ca revoke` beside them): each change holds an exclusive lock on `FILE.lock` and
    /// reads the file afresh under it, so no process writes over another's change.
    fn change<T>(&self, f: impl FnOnce(&mut State) -> Result<T>) -> Result<T> {
        let err = |e: std::io::Error| CaError::CertStore(format!("{}: {e}", self.path.display()));
        let mut guard = lock(&self.state);
        let mut lock_path = self.path.clone().into_os_string();
        lock_path.push(".lock");
        let lock_file = std::fs::File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(err)?;
        // Released when `lock_file` is dropped, after the write.
        lock_file.lock().map_err(err)?;
        match std::fs::read(&self.path) {
            Ok(bytes) => {
                guard.1 = serde_json::from_slice(&bytes)
                    .map_err(|e| CaError::CertStore(format!("{}: {e}", self.path.display())))?;
                guard.0 = stamp_of(&self.path);
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(err(e)),
        }
        let mut next = guard.1.clone();
        let out = f(&mut next)?;
        write_atomic(
            &self.path,
            &serde_json::to_vec_pretty(&next).map_err(|e| CaError::CertStore(e.to_string()))?,
        )?;
        guard.1 = next;
        guard.0 = stamp_of(&self.path);
        Ok(out)
    }
}

fn stamp_of(path: &Path) -> Option<FileStamp> {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}

fn write_atomic(path: &Path, data: &[u8]) -> Result<()> {
    let err = |e: std::io::Error| CaError::CertStore(format!("{}: {e}", path.display()));
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(err)?;
    tmp.write_all(data).map_err(err)?;
    tmp.as_file().sync_all().map_err(err)?;
    tmp.persist(path).map_err(|e| err(e.error))?;
    Ok(())
}

impl CertStore for JsonFileCertStore {
    fn insert(&self, rec: CertRecord) -> Result<()> {
        self.change(|s| s.insert(rec))
    }
    fn get(&self, serial: &Serial) -> Result<Option<CertRecord>> {
        Ok(self.current()?.1.certs.get(serial).cloned())
    }
    fn revoke(&self, serial: &Serial, revocation: Revocation) -> Result<()> {
        self.change(|s| s.revoke(serial, revocation))
    }
    fn set_replaced_by(&self, serial: &Serial, by: &Serial) -> Result<()> {
        self.change(|s| {
            s.record(serial)?.replaced_by = Some(by.clone());
            Ok(())
        })
    }
    fn revoked(&self) -> Result<Vec<CertRecord>> {
        Ok(self.current()?.1.revoked())
    }
    fn all(&self) -> Result<Vec<CertRecord>> {
        Ok(self.current()?.1.certs.values().cloned().collect())
    }
    fn next_crl_number(&self, scope: &str) -> Result<u64> {
        self.change(|s| Ok(s.next_crl_number(scope)))
    }
}

mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(b: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(b))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        hex::decode(s).map_err(serde::de::Error::custom)
    }
}

mod hex_vec {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[Vec<u8>], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(v.iter().map(hex::encode))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Vec<u8>>, D::Error> {
        let v = Vec::<String>::deserialize(d)?;
        v.into_iter()
            .map(|s| hex::decode(s).map_err(serde::de::Error::custom))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(serial: &str) -> CertRecord {
        CertRecord {
            serial: Serial::parse(serial).expect("serial"),
            kind: CertKind::Signer,
            subject: "CN=x".into(),
            cert_der: vec![1, 2, 3],
            chain: vec![vec![4]],
            key: None,
            not_before: 1,
            not_after: 2,
            revocation: None,
            replaced_by: None,
        }
    }

    /// Two stores on one file stand for two processes: every insert of both survives.
    #[test]
    fn concurrent_writers_on_one_file_lose_nothing() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("certs.json");
        std::thread::scope(|s| {
            for t in 0..4u32 {
                let path = path.clone();
                s.spawn(move || {
                    let store = JsonFileCertStore::open(&path).expect("open");
                    for i in 1..=25u32 {
                        store
                            .insert(rec(&format!("{t:02x}{i:04x}")))
                            .expect("insert");
                    }
                });
            }
        });
        let store = JsonFileCertStore::open(&path).expect("open");
        assert_eq!(store.all().expect("all").len(), 100);
    }

    #[test]
    fn serials_normalise() {
        assert_eq!(Serial::parse("00:0A:ff").expect("s").as_str(), "0aff");
        assert!(Serial::parse("xyz").is_err());
        assert!(Serial::parse("00").is_err());
    }

    #[test]
    fn json_store_survives_reopen_and_refuses_double_revocation() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("certs.json");
        let s = JsonFileCertStore::open(&path).expect("open");
        s.insert(rec("01")).expect("insert");
        assert!(matches!(
            s.insert(rec("01")),
            Err(CaError::AlreadyExists(_))
        ));
        let rev = Revocation {
            time: 5,
            reason: RevocationReason::KeyCompromise,
        };
        s.revoke(&Serial::parse("01").expect("s"), rev)
            .expect("revoke");
        assert!(matches!(
            s.revoke(&Serial::parse("01").expect("s"), rev),
            Err(CaError::AlreadyRevoked(_))
        ));
        assert_eq!(s.next_crl_number("issuing").expect("n"), 1);
        assert_eq!(s.next_crl_number("issuing").expect("n"), 2);
        let again = JsonFileCertStore::open(&path).expect("reopen");
        assert_eq!(again.revoked().expect("revoked")[0].revocation, Some(rev));
        assert_eq!(again.next_crl_number("issuing").expect("n"), 3);
        assert_eq!(
            again.get(&Serial::parse("01").expect("s")).expect("get"),
            Some(rec_revoked(rev))
        );
    }

    fn rec_revoked(rev: Revocation) -> CertRecord {
        CertRecord {
            revocation: Some(rev),
            ..rec("01")
        }
    }
}
