//! Inkan's CA in the database: its settings and public material (`ca_authority`), the keys it
//! holds sealed under the master key (`ca_keys`: its own, and signers' keys until a PIN takes
//! them over), every certificate it issued with its revocation (`ca_certificates`) and its CRL
//! numbers (`ca_crl_numbers`). The master key stays outside the database (a file or
//! `INKAN_MASTER_KEY`). Several `inkan serve` processes on several hosts share the CA through the
//! database alone.
//!
//! The `ca` crate does the cryptography over the stores it is given. For each operation this
//! module loads what the operation reads into a [`Staged`] pair of stores (records and sealed
//! keys), runs it, and writes what it changed on the caller's transaction ([`Staged::flush`]):
//! an issuance commits with the order it fulfils, a revocation with the PIN reset that causes
//! it, a key's move into a PIN envelope with the envelope — or nothing does.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use anyhow::{anyhow, Context};
use ca::authority::{Authority, BaseUrl, CaConfig, CaMaterial};
use ca::certstore::{CertKind, CertRecord, CertStore, Revocation, RevocationReason, Serial};
use ca::clock::SystemClock;
use ca::keystore::SealedStorage;
use ca::keystore::{KeyAlgorithm, KeyStore, MasterKey, SealedKeyStore};
use ca::pin::PinVault;
use ca::CaError;
use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::ca_folder::CaDir;
use crate::db::Db;

/// The CA's settings as stored (no secret).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Settings {
    pub organisation: String,
    pub base_url: String,
    /// `p256` or `rsa3072`.
    pub key_algorithm: String,
}

impl Settings {
    fn config(&self) -> anyhow::Result<CaConfig> {
        let mut config = CaConfig::new(&self.organisation, BaseUrl::parse(&self.base_url)?);
        config.ca_key_algorithm = KeyAlgorithm::parse(&self.key_algorithm)?;
        Ok(config)
    }
}

/// The service's CA: what every operation needs, loaded once per process. Certificates and
/// signers' keys are read from the database per operation.
pub struct Ca {
    settings: Settings,
    material: CaMaterial,
    master: Arc<MasterKey>,
    /// The CA's own sealed keys (root, issuing, TSA, OCSP), by label.
    own_keys: Arc<HashMap<String, Vec<u8>>>,
    /// The CA's own certificates (issuing CA, TSA, OCSP responder), for its OCSP and CRLs.
    own_records: Vec<CertRecord>,
    vault: Arc<PinVault>,
    /// A view for what reads no certificate record: the TSA, the public certificates.
    base: Authority,
    crls: Mutex<HashMap<&'static str, CachedCrl>>,
}

impl std::fmt::Debug for Ca {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ca")
            .field("organisation", &self.settings.organisation)
            .field("base_url", &self.settings.base_url)
            .finish_non_exhaustive()
    }
}

#[derive(Debug)]
struct CachedCrl {
    listed: Vec<(String, i64)>,
    der: Vec<u8>,
    refresh_at: SystemTime,
}

/// Which CRL: the issuing CA's (signers, TSA, OCSP responder) or the root's (issuing CAs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrlScope {
    Issuing,
    Root,
}

impl CrlScope {
    fn name(self) -> &'static str {
        match self {
            CrlScope::Issuing => "issuing",
            CrlScope::Root => "root",
        }
    }

    fn lists(self, kind: CertKind) -> bool {
        match self {
            CrlScope::Issuing => kind.issued_by_issuing_ca(),
            CrlScope::Root => kind == CertKind::IssuingCa,
        }
    }
}

/// How the service came by its CA at this start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// From the database, where an earlier start (of this or another process) put it.
    Loaded,
    /// Imported from the configured CA folder (`ca_dir`), once.
    Imported(std::path::PathBuf),
    /// Made now: the first start of an instance without one.
    Created,
}

/// The instance's master key: `INKAN_MASTER_KEY`, else `master.key` in the CA folder, else in
/// the data folder (written there first when missing).
pub fn master_key(config: &crate::config::Config) -> anyhow::Result<MasterKey> {
    let key_dir = config
        .ca_dir
        .clone()
        .unwrap_or_else(|| config.data_dir.clone());
    std::fs::create_dir_all(&key_dir).with_context(|| format!("creating {}", key_dir.display()))?;
    CaDir::new(&key_dir).master_key(true)
}

/// The service's CA: the database's; else the configured CA folder imported once; else a new
/// CA (the embedded default's first start), named after the first organisation and reached at
/// the service's base URL. The master key is `INKAN_MASTER_KEY`, else `master.key` in the CA
/// folder, else in the data folder (written there on the first start): every process sharing
/// the database needs the same one.
pub async fn for_service(
    db: &Db,
    config: &crate::config::Config,
    now: i64,
) -> anyhow::Result<(Ca, Origin)> {
    let master = || master_key(config);
    if let Some(ca) = Ca::load(db, master()?).await? {
        return Ok((ca, Origin::Loaded));
    }
    if let Some(dir) = config
        .ca_dir
        .as_ref()
        .filter(|d| d.join("ca.json").exists())
    {
        return match Ca::import(db, now, &CaDir::new(dir)).await {
            Ok(ca) => Ok((ca, Origin::Imported(dir.clone()))),
            // Another process imported it meanwhile.
            Err(e) => match Ca::load(db, master()?).await? {
                Some(ca) => Ok((ca, Origin::Loaded)),
                None => Err(e.context(format!("importing the CA folder {}", dir.display()))),
            },
        };
    }
    let settings = Settings {
        // The CA's names ("<organisation> Root CA") allow 40 characters.
        organisation: config.initial_org.chars().take(40).collect(),
        base_url: config.base_url(),
        key_algorithm: "p256".into(),
    };
    match Ca::create(db, now, master()?, settings).await? {
        Some(ca) => Ok((ca, Origin::Created)),
        None => Ok((
            Ca::load(db, master()?)
                .await?
                .context("the CA another process made is not readable")?,
            Origin::Loaded,
        )),
    }
}

impl Ca {
    /// The CA of the database, if it has one, opened with `master`.
    pub async fn load(db: &Db, master: MasterKey) -> anyhow::Result<Option<Self>> {
        let Some(row) = sqlx::query(
            "SELECT organisation, base_url, key_algorithm, material FROM ca_authority WHERE id = 1",
        )
        .fetch_optional(&db.pool)
        .await?
        else {
            return Ok(None);
        };
        let settings = Settings {
            organisation: row.try_get("organisation")?,
            base_url: row.try_get("base_url")?,
            key_algorithm: row.try_get("key_algorithm")?,
        };
        let material: CaMaterial = serde_json::from_str(&row.try_get::<String, _>("material")?)
            .context("reading the CA's material")?;
        let labels = [
            &material.root.key,
            &material.issuing.key,
            &material.tsa.key,
            &material.ocsp.key,
        ]
        .map(|k| k.label().to_owned());
        let mut own_keys = HashMap::new();
        for label in labels {
            own_keys.insert(label.clone(), sealed_key(&db.pool, &label).await?);
        }
        let own_kinds = [CertKind::IssuingCa, CertKind::Tsa, CertKind::OcspResponder]
            .map(kind_text)
            .into_iter()
            .map(|k| k.map(|k| format!("'{k}'")))
            .collect::<anyhow::Result<Vec<_>>>()?
            .join(", ");
        let own_records = records_where(&db.pool, &format!("kind IN ({own_kinds})")).await?;
        Self::assemble(settings, material, master, own_keys, own_records).map(Some)
    }

    fn assemble(
        settings: Settings,
        material: CaMaterial,
        master: MasterKey,
        own_keys: HashMap<String, Vec<u8>>,
        own_records: Vec<CertRecord>,
    ) -> anyhow::Result<Self> {
        let vault = Arc::new(PinVault::new(&master)?);
        let master = Arc::new(master);
        let own_keys = Arc::new(own_keys);
        let staged = StagedKeys::new(&own_keys);
        let keys: Arc<dyn KeyStore> = Arc::new(SealedKeyStore::new(&master, staged)?);
        keys.public_key_spki_der(&material.issuing.key)
            .map_err(|e| {
                anyhow!(
                "the master key does not open the CA's keys ({e}); every process needs the key \
                 the CA was made with (INKAN_MASTER_KEY)"
            )
            })?;
        let base = Authority::open(
            settings.config()?,
            material.clone(),
            keys,
            Arc::new(StagedCerts::new(own_records.clone(), None)),
            Arc::new(SystemClock),
        )?;
        Ok(Self {
            settings,
            material,
            master,
            own_keys,
            own_records,
            vault,
            base,
            crls: Mutex::new(HashMap::new()),
        })
    }

    /// Creates the CA (root, issuing CA, TSA and OCSP certificates and their sealed keys) in the
    /// database, in one transaction. `Ok(None)` when the database has a CA already (another
    /// process made it first).
    pub async fn create(
        db: &Db,
        now: i64,
        master: MasterKey,
        settings: Settings,
    ) -> anyhow::Result<Option<Self>> {
        let staged_keys = StagedKeys::new(&Arc::new(HashMap::new()));
        let certs = Arc::new(StagedCerts::new(Vec::new(), None));
        let keys: Arc<dyn KeyStore> = Arc::new(SealedKeyStore::new(&master, staged_keys.clone())?);
        let (config, certs_for_init) = (settings.config()?, certs.clone());
        let authority = tokio::task::spawn_blocking(move || {
            Authority::init(config, keys, certs_for_init, Arc::new(SystemClock))
        })
        .await??;
        let staged = Staged {
            authority,
            certs,
            keys: staged_keys.clone(),
            key_store: Arc::new(SealedKeyStore::new(&master, staged_keys)?),
        };
        let mut tx = db.begin().await?;
        let claimed = sqlx::query(
            "INSERT INTO ca_authority (id, organisation, base_url, key_algorithm, material, \
             created_at) VALUES (1, $1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING",
        )
        .bind(&settings.organisation)
        .bind(&settings.base_url)
        .bind(&settings.key_algorithm)
        .bind(serde_json::to_string(staged.authority.material())?)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        if claimed.rows_affected() == 0 {
            return Ok(None);
        }
        staged.flush(&mut tx, now).await?;
        tx.commit().await?;
        Self::load(db, master).await
    }

    /// Imports a CA folder (`inkan ca init --dir`): its settings, sealed keys, certificates with
    /// their revocations, and CRL numbers, in one transaction. Refused when the database has a
    /// CA already.
    pub async fn import(db: &Db, now: i64, dir: &CaDir) -> anyhow::Result<Self> {
        let folder = dir.contents()?;
        let mut tx = db.begin().await?;
        let claimed = sqlx::query(
            "INSERT INTO ca_authority (id, organisation, base_url, key_algorithm, material, \
             created_at) VALUES (1, $1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING",
        )
        .bind(&folder.settings.organisation)
        .bind(&folder.settings.base_url)
        .bind(&folder.settings.key_algorithm)
        .bind(serde_json::to_string(&folder.material)?)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        if claimed.rows_affected() == 0 {
            anyhow::bail!("the database has a CA already");
        }
        for (label, sealed) in &folder.sealed_keys {
            insert_key(&mut tx, label, sealed, now).await?;
        }
        for record in &folder.records {
            insert_record(&mut tx, record, now).await?;
            if let Some(rev) = record.revocation {
                revoke_record(&mut tx, &record.serial, rev).await?;
            }
            if let Some(by) = &record.replaced_by {
                replace_record(&mut tx, &record.serial, by).await?;
            }
        }
        for (scope, number) in &folder.crl_numbers {
            sqlx::query("INSERT INTO ca_crl_numbers (scope, number) VALUES ($1, $2)")
                .bind(scope)
                .bind(*number as i64)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Self::load(db, folder.master)
            .await?
            .context("the imported CA is not readable")
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The signing PINs' vault (keyed by the same master key).
    pub fn vault(&self) -> &Arc<PinVault> {
        &self.vault
    }

    /// A view that reads no certificate record: the TSA, the CA's public certificates.
    pub fn authority(&self) -> &Authority {
        &self.base
    }

    /// Inkan's root certificate as the trust page shows it: whom it names, how long it is valid,
    /// and its fingerprints.
    pub fn root_certificate(&self) -> anyhow::Result<RootCertificate> {
        use der::Decode as _;
        let der = self.base.root_cert_der();
        let cert = x509_cert::Certificate::from_der(der).context("reading the root certificate")?;
        let validity = &cert.tbs_certificate.validity;
        let seconds = |t: &x509_cert::time::Time| t.to_unix_duration().as_secs() as i64;
        Ok(RootCertificate {
            subject: cert.tbs_certificate.subject.to_string(),
            not_before: seconds(&validity.not_before),
            not_after: seconds(&validity.not_after),
            sha256: fingerprint(&aws_lc_rs::digest::SHA256, der),
            sha1: fingerprint(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, der),
        })
    }

    /// Loads what an operation reads (the certificates `serials`, the signers' keys `labels`)
    /// into staged stores on `conn` (the caller's transaction), for [`Staged::flush`] to write
    /// back what the operation changed.
    pub async fn stage(
        &self,
        conn: &mut AnyConnection,
        serials: &[&str],
        labels: &[&str],
    ) -> anyhow::Result<Staged> {
        let mut records = self.own_records.clone();
        for serial in serials {
            if let Some(r) = record(conn, serial).await? {
                records.push(r);
            }
        }
        let keys = StagedKeys::new(&self.own_keys);
        for label in labels {
            let sealed = sealed_key(&mut *conn, label).await?;
            keys.preload(label, sealed);
        }
        self.staged(records, keys, None)
    }

    fn staged(
        &self,
        records: Vec<CertRecord>,
        keys: StagedKeys,
        crl_number: Option<u64>,
    ) -> anyhow::Result<Staged> {
        let certs = Arc::new(StagedCerts::new(records, crl_number));
        let store: Arc<dyn KeyStore> = Arc::new(SealedKeyStore::new(&self.master, keys.clone())?);
        let authority = Authority::open(
            self.settings.config()?,
            self.material.clone(),
            store.clone(),
            certs.clone(),
            Arc::new(SystemClock),
        )?;
        Ok(Staged {
            authority,
            certs,
            keys,
            key_store: store,
        })
    }

    /// Records a certificate of another CA imported with its key (`record`, kind `Imported`, no
    /// key held: its key is in a PIN envelope) on `conn`, the caller's transaction; `false` when
    /// the CA knows a certificate with its serial already. Never on Inkan's CRL or OCSP, it is
    /// kept here so that a signature finds its chain as for Inkan's own.
    pub(crate) async fn record_imported(
        conn: &mut AnyConnection,
        record: &CertRecord,
        now: i64,
    ) -> anyhow::Result<bool> {
        anyhow::ensure!(
            record.kind == CertKind::Imported && record.key.is_none(),
            "only an imported certificate without a held key is recorded this way"
        );
        let inserted = sqlx::query(
            "INSERT INTO ca_certificates (serial, kind, record, not_after, created_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (serial) DO NOTHING",
        )
        .bind(record.serial.as_str())
        .bind(kind_text(record.kind)?)
        .bind(serde_json::to_string(record)?)
        .bind(record.not_after as i64)
        .bind(now)
        .execute(&mut *conn)
        .await?;
        Ok(inserted.rows_affected() == 1)
    }

    /// The certificate `serial` as the CA knows it.
    pub async fn record(&self, db: &Db, serial: &str) -> anyhow::Result<CertRecord> {
        record(&mut *db.pool.acquire().await?, serial)
            .await?
            .with_context(|| format!("the CA has no certificate with serial {serial}"))
    }

    /// Answers an OCSP request (DER) from the issuing CA's responder, or the root's
    /// (`root`), with the statuses the database holds now.
    pub async fn ocsp(&self, db: &Db, request: &[u8], root: bool) -> anyhow::Result<Vec<u8>> {
        let serials = ca::ocsp::requested_serials(request);
        let mut conn = db.pool.acquire().await?;
        let wanted: Vec<&str> = serials.iter().map(Serial::as_str).collect();
        let staged = self.stage(&mut conn, &wanted, &[]).await?;
        let answer = if root {
            staged.authority.root_ocsp().respond(request)
        } else {
            staged.authority.ocsp().respond(request)
        };
        Ok(answer?)
    }

    /// The current CRL of `scope`: rebuilt (with the next CRL number) when the revocations in
    /// the database differ from those it lists or it is half-way to its next update, so a
    /// revocation committed by any process is on the next CRL fetched from every process.
    pub async fn crl(&self, db: &Db, scope: CrlScope) -> anyhow::Result<Vec<u8>> {
        // What the CRL must list, read without the certificates themselves: most requests
        // find it unchanged and answer from the cache.
        let rows = sqlx::query(
            "SELECT serial, kind, revoked_at FROM ca_certificates WHERE revoked_at IS NOT NULL",
        )
        .fetch_all(&db.pool)
        .await?;
        let mut listed = Vec::new();
        for row in &rows {
            let kind: CertKind =
                serde_json::from_value(serde_json::Value::String(row.try_get("kind")?))
                    .context("reading a certificate kind")?;
            if scope.lists(kind) {
                listed.push((
                    row.try_get::<String, _>("serial")?,
                    row.try_get("revoked_at")?,
                ));
            }
        }
        listed.sort();
        {
            let crls = self.crls.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(c) = crls.get(scope.name()) {
                if SystemTime::now() < c.refresh_at && c.listed == listed {
                    return Ok(c.der.clone());
                }
            }
        }
        let revoked: Vec<CertRecord> = records_where(&db.pool, "revoked_at IS NOT NULL")
            .await?
            .into_iter()
            .filter(|r| scope.lists(r.kind))
            .collect();
        let number: i64 = sqlx::query(
            "INSERT INTO ca_crl_numbers (scope, number) VALUES ($1, 1) \
             ON CONFLICT (scope) DO UPDATE SET number = ca_crl_numbers.number + 1 \
             RETURNING number",
        )
        .bind(scope.name())
        .fetch_one(&db.pool)
        .await?
        .try_get("number")?;
        let staged = self.staged(
            revoked,
            StagedKeys::new(&self.own_keys),
            Some(number as u64),
        )?;
        let der = match scope {
            CrlScope::Issuing => staged.authority.crl_der()?,
            CrlScope::Root => staged.authority.root_crl_der()?,
        };
        let validity = self.base.config().crl_validity;
        let mut crls = self.crls.lock().unwrap_or_else(|e| e.into_inner());
        crls.insert(
            scope.name(),
            CachedCrl {
                listed,
                der: der.clone(),
                refresh_at: SystemTime::now() + validity / 2,
            },
        );
        Ok(der)
    }
}

/// Inkan's root certificate as a reader checks it before trusting it.
#[derive(Debug, Clone, Serialize)]
pub struct RootCertificate {
    /// RFC 4514.
    pub subject: String,
    /// Unix seconds.
    pub not_before: i64,
    pub not_after: i64,
    /// SHA-256 of the DER as certificate viewers show it: upper-case hex pairs joined by colons.
    pub sha256: String,
    /// SHA-1 of the DER, the same way: the "thumbprint" Windows shows when installing a root.
    pub sha1: String,
}

/// `digest` of `data` as colon-separated upper-case hex (`AB:01:…`).
pub fn fingerprint(digest: &'static aws_lc_rs::digest::Algorithm, data: &[u8]) -> String {
    aws_lc_rs::digest::digest(digest, data)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// An operation's view of the CA: an [`Authority`] over staged stores, and what it changed.
pub struct Staged {
    pub authority: Authority,
    certs: Arc<StagedCerts>,
    keys: StagedKeys,
    /// The staged keys as a key store (to move a signer's key into a PIN envelope).
    key_store: Arc<dyn KeyStore>,
}

impl std::fmt::Debug for Staged {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Staged").finish_non_exhaustive()
    }
}

impl Staged {
    /// The staged key store: a signer's key the CA holds, to sign with or to move into a PIN
    /// envelope (a deletion is written by [`Staged::flush`]).
    pub fn keys(&self) -> &Arc<dyn KeyStore> {
        &self.key_store
    }

    /// Writes what the operation changed (new certificates, revocations, replacements, new and
    /// removed keys) on `conn`, the caller's transaction. A revocation another process recorded
    /// first fails the whole transaction.
    pub async fn flush(self, conn: &mut AnyConnection, now: i64) -> anyhow::Result<()> {
        let changes = std::mem::take(&mut *lock(&self.certs.changes));
        for change in changes {
            match change {
                Change::Insert(record) => insert_record(conn, &record, now).await?,
                Change::Revoke(serial, rev) => revoke_record(conn, &serial, rev).await?,
                Change::ReplacedBy(serial, by) => replace_record(conn, &serial, &by).await?,
            }
        }
        let (added, removed) = self.keys.changes();
        for (label, sealed) in added {
            insert_key(conn, &label, &sealed, now).await?;
        }
        for label in removed {
            sqlx::query("DELETE FROM ca_keys WHERE label = $1")
                .bind(&label)
                .execute(&mut *conn)
                .await?;
        }
        Ok(())
    }
}

/// A change an operation made to the certificate records.
#[derive(Debug)]
enum Change {
    Insert(CertRecord),
    Revoke(Serial, Revocation),
    ReplacedBy(Serial, Serial),
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The records an operation reads, and the changes it makes, kept for [`Staged::flush`].
#[derive(Debug)]
struct StagedCerts {
    records: Mutex<BTreeMap<Serial, CertRecord>>,
    changes: Mutex<Vec<Change>>,
    crl_number: Option<u64>,
}

impl StagedCerts {
    fn new(records: Vec<CertRecord>, crl_number: Option<u64>) -> Self {
        Self {
            records: Mutex::new(records.into_iter().map(|r| (r.serial.clone(), r)).collect()),
            changes: Mutex::new(Vec::new()),
            crl_number,
        }
    }
}

impl CertStore for StagedCerts {
    fn insert(&self, rec: CertRecord) -> ca::Result<()> {
        let mut records = lock(&self.records);
        if records.contains_key(&rec.serial) {
            return Err(CaError::AlreadyExists(format!(
                "certificate {}",
                rec.serial
            )));
        }
        records.insert(rec.serial.clone(), rec.clone());
        lock(&self.changes).push(Change::Insert(rec));
        Ok(())
    }

    fn get(&self, serial: &Serial) -> ca::Result<Option<CertRecord>> {
        Ok(lock(&self.records).get(serial).cloned())
    }

    fn revoke(&self, serial: &Serial, revocation: Revocation) -> ca::Result<()> {
        let mut records = lock(&self.records);
        let rec = records
            .get_mut(serial)
            .ok_or_else(|| CaError::NotFound(format!("certificate {serial}")))?;
        if rec.revocation.is_some() {
            return Err(CaError::AlreadyRevoked(serial.to_string()));
        }
        rec.revocation = Some(revocation);
        lock(&self.changes).push(Change::Revoke(serial.clone(), revocation));
        Ok(())
    }

    fn set_replaced_by(&self, serial: &Serial, by: &Serial) -> ca::Result<()> {
        let mut records = lock(&self.records);
        let rec = records
            .get_mut(serial)
            .ok_or_else(|| CaError::NotFound(format!("certificate {serial}")))?;
        rec.replaced_by = Some(by.clone());
        lock(&self.changes).push(Change::ReplacedBy(serial.clone(), by.clone()));
        Ok(())
    }

    fn revoked(&self) -> ca::Result<Vec<CertRecord>> {
        Ok(lock(&self.records)
            .values()
            .filter(|r| r.revocation.is_some())
            .cloned()
            .collect())
    }

    fn all(&self) -> ca::Result<Vec<CertRecord>> {
        Ok(lock(&self.records).values().cloned().collect())
    }

    fn next_crl_number(&self, scope: &str) -> ca::Result<u64> {
        self.crl_number
            .ok_or_else(|| CaError::Unsupported(format!("a {scope} CRL outside Ca::crl")))
    }
}

/// Sealed keys an operation reads (preloaded), and the keys it adds or removes.
#[derive(Debug, Clone)]
struct StagedKeys(Arc<KeysInner>);

#[derive(Debug)]
struct KeysInner {
    base: Arc<HashMap<String, Vec<u8>>>,
    loaded: Mutex<HashMap<String, Vec<u8>>>,
    added: Mutex<Vec<(String, Vec<u8>)>>,
    removed: Mutex<Vec<String>>,
}

impl StagedKeys {
    fn new(base: &Arc<HashMap<String, Vec<u8>>>) -> Self {
        Self(Arc::new(KeysInner {
            base: base.clone(),
            loaded: Mutex::new(HashMap::new()),
            added: Mutex::new(Vec::new()),
            removed: Mutex::new(Vec::new()),
        }))
    }

    fn preload(&self, label: &str, sealed: Vec<u8>) {
        lock(&self.0.loaded).insert(label.to_owned(), sealed);
    }

    fn changes(&self) -> (Vec<(String, Vec<u8>)>, Vec<String>) {
        (
            std::mem::take(&mut *lock(&self.0.added)),
            std::mem::take(&mut *lock(&self.0.removed)),
        )
    }
}

impl SealedStorage for StagedKeys {
    fn load(&self, label: &str) -> ca::Result<Option<Vec<u8>>> {
        if lock(&self.0.removed).iter().any(|l| l == label) {
            return Ok(None);
        }
        if let Some(sealed) = self.0.base.get(label) {
            return Ok(Some(sealed.clone()));
        }
        if let Some(sealed) = lock(&self.0.loaded).get(label) {
            return Ok(Some(sealed.clone()));
        }
        Ok(lock(&self.0.added)
            .iter()
            .find(|(l, _)| l == label)
            .map(|(_, s)| s.clone()))
    }

    fn store_new(&self, label: &str, sealed: &[u8]) -> ca::Result<()> {
        if self.load(label)?.is_some() {
            return Err(CaError::AlreadyExists(format!("key {label}")));
        }
        lock(&self.0.added).push((label.to_owned(), sealed.to_vec()));
        Ok(())
    }

    fn remove(&self, label: &str) -> ca::Result<()> {
        lock(&self.0.added).retain(|(l, _)| l != label);
        lock(&self.0.removed).push(label.to_owned());
        Ok(())
    }
}

/// The stored text of a certificate kind (the `ca` crate's serde name).
fn kind_text(kind: CertKind) -> anyhow::Result<String> {
    match serde_json::to_value(kind)? {
        serde_json::Value::String(s) => Ok(s),
        other => Err(anyhow!("a certificate kind stored as {other}")),
    }
}

fn reason_text(reason: RevocationReason) -> anyhow::Result<String> {
    match serde_json::to_value(reason)? {
        serde_json::Value::String(s) => Ok(s),
        other => Err(anyhow!("a revocation reason stored as {other}")),
    }
}

async fn insert_record(
    conn: &mut AnyConnection,
    record: &CertRecord,
    now: i64,
) -> anyhow::Result<()> {
    let mut stored = record.clone();
    // Revocation and replacement live in their columns.
    stored.revocation = None;
    stored.replaced_by = None;
    sqlx::query(
        "INSERT INTO ca_certificates (serial, kind, record, not_after, created_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(record.serial.as_str())
    .bind(kind_text(record.kind)?)
    .bind(serde_json::to_string(&stored)?)
    .bind(record.not_after as i64)
    .bind(now)
    .execute(&mut *conn)
    .await
    .with_context(|| format!("recording certificate {}", record.serial))?;
    Ok(())
}

/// Records a revocation; one that another process recorded first is an error (the caller's
/// transaction rolls back, as `revoke` on any store refuses a second revocation).
async fn revoke_record(
    conn: &mut AnyConnection,
    serial: &Serial,
    rev: Revocation,
) -> anyhow::Result<()> {
    let done = sqlx::query(
        "UPDATE ca_certificates SET revoked_at = $2, revocation_reason = $3 \
         WHERE serial = $1 AND revoked_at IS NULL",
    )
    .bind(serial.as_str())
    .bind(rev.time as i64)
    .bind(reason_text(rev.reason)?)
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() != 1 {
        anyhow::bail!("certificate {serial} is unknown or revoked already");
    }
    Ok(())
}

async fn replace_record(
    conn: &mut AnyConnection,
    serial: &Serial,
    by: &Serial,
) -> anyhow::Result<()> {
    sqlx::query("UPDATE ca_certificates SET replaced_by = $2 WHERE serial = $1")
        .bind(serial.as_str())
        .bind(by.as_str())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

async fn insert_key(
    conn: &mut AnyConnection,
    label: &str,
    sealed: &[u8],
    now: i64,
) -> anyhow::Result<()> {
    sqlx::query("INSERT INTO ca_keys (label, sealed, created_at) VALUES ($1, $2, $3)")
        .bind(label)
        .bind(sealed.to_vec())
        .bind(now)
        .execute(&mut *conn)
        .await
        .with_context(|| format!("storing key {label}"))?;
    Ok(())
}

async fn sealed_key<'c, E>(executor: E, label: &str) -> anyhow::Result<Vec<u8>>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    let row = sqlx::query("SELECT sealed FROM ca_keys WHERE label = $1")
        .bind(label)
        .fetch_optional(executor)
        .await?
        .with_context(|| format!("the CA holds no key {label}"))?;
    Ok(row.try_get("sealed")?)
}

fn from_row(row: &AnyRow) -> anyhow::Result<CertRecord> {
    let mut record: CertRecord = serde_json::from_str(&row.try_get::<String, _>("record")?)
        .context("reading a certificate record")?;
    let revoked_at: Option<i64> = row.try_get("revoked_at")?;
    let reason: Option<String> = row.try_get("revocation_reason")?;
    record.revocation = match (revoked_at, reason) {
        (Some(time), Some(reason)) => Some(Revocation {
            time: time as u64,
            reason: serde_json::from_value(serde_json::Value::String(reason))
                .context("reading a revocation reason")?,
        }),
        _ => None,
    };
    record.replaced_by = row
        .try_get::<Option<String>, _>("replaced_by")?
        .map(|s| Serial::parse(&s))
        .transpose()?;
    Ok(record)
}

async fn record(conn: &mut AnyConnection, serial: &str) -> anyhow::Result<Option<CertRecord>> {
    let Ok(serial) = Serial::parse(serial) else {
        return Ok(None);
    };
    let row = sqlx::query(
        "SELECT record, revoked_at, revocation_reason, replaced_by FROM ca_certificates \
         WHERE serial = $1",
    )
    .bind(serial.as_str())
    .fetch_optional(&mut *conn)
    .await?;
    row.as_ref().map(from_row).transpose()
}

/// The records matching `condition` (a constant SQL condition, never user input).
async fn records_where<'c, E>(executor: E, condition: &str) -> anyhow::Result<Vec<CertRecord>>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    let rows = sqlx::query(&format!(
        "SELECT record, revoked_at, revocation_reason, replaced_by FROM ca_certificates \
         WHERE {condition}"
    ))
    .fetch_all(executor)
    .await?;
    rows.iter().map(from_row).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_read_as_certificate_viewers_show_them() {
        // SHA-256 and SHA-1 of "abc" (FIPS 180-2's examples).
        assert_eq!(
            fingerprint(&aws_lc_rs::digest::SHA256, b"abc"),
            "BA:78:16:BF:8F:01:CF:EA:41:41:40:DE:5D:AE:22:23:B0:03:61:A3:96:17:7A:9C:B4:10:FF:61:F2:00:15:AD"
        );
        assert_eq!(
            fingerprint(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, b"abc"),
            "A9:99:3E:36:47:06:81:6A:BA:3E:25:71:78:50:C2:6C:9C:D0:D8:9D"
        );
    }
}
