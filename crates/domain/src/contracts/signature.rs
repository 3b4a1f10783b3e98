//! A party's signature on a contract: asked for by the party ([`request`]: fields, seal and PIN
//! checked at once), carried out by a job ([`carry_out`]) that signs every document of the
//! contract as one incremental update each (PAdES B-T: a timestamp from Inkan's TSA), with the
//! party's own certificate (当事者型) or the organisation's platform certificate (立会人型).
//!
//! A signature is a row (`contract_signatures`, one per party) and a job, written in one
//! transaction; the job is idempotent (a finished row is never signed again), serialised per
//! contract by the contract's lease (parallel parties of one step sign one after another, in
//! the order their requests arrive), and records everything it wrote in one transaction: the
//! documents' new bytes, the party's status, the field values, the history, the next step.
//! Should it fail, it is retried; once out of attempts the row says why and the party may ask
//! again. A key held by the signer's PIN is opened for the job by a grant (the PIN's opened
//! wrapping key sealed under the master key for this signature only, see
//! [`ca::pin::PinVault::grant`]), cleared when the signature is done or failed.

use crate::settings::Tz;
use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::Context;
use ca::application::{Country, SignerApplication};
use ca::authority::KeyHolder;
use pdf_sign::form::{FieldFill, FillValue};
use pdf_sign::{HashAlgorithm, Level, SignOptions};
use serde::{Deserialize, Serialize};
use sqlx::Row;

use super::desk::Desk;
use super::flow::{self, access, advance, field_name, user_by_id, Visitor};
use super::{record, Actor, FieldKind, PartyRole, PartyStatus, SignatureKind, Via};
use crate::accounts::{self, new_id, Role, User};
use crate::ca_folder::CaKeySigner;
use crate::clock::Clock;
use crate::db::{stored_text, Db};
use crate::error::{Failure, FieldError};
use crate::jobs::{self, NewJob};
use crate::signing::{Providers, Usable};

stored_text! {
    /// Where a party's signature is.
    pub enum SignatureStatus("signature status") {
        /// Asked for; its job has not finished.
        Pending = "pending",
        Done = "done",
        /// Given up (the reason is kept); the party may ask again.
        Failed = "failed",
    }
}

/// Attempts of a signature job before it is given up.
const ATTEMPTS: i64 = 5;
/// A new signature job is claimed by the request that asked for it, which runs it at once (see
/// [`crate::jobs::enqueue_claimed`]), leased this long; should that process die, the runners
/// take it afterwards.
const INLINE_GRACE_SECONDS: i64 = 30;
/// A text field's value, at most.
const MAX_VALUE: usize = 500;

/// What a party sends to sign.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct SignRequest {
    /// The party's text fields' values and checkboxes' states, by field id.
    pub fields: BTreeMap<String, FieldInput>,
    /// The seal a certificate signature stamps (one of the signer's); their default when absent.
    pub seal: Option<String>,
    /// The signing PIN, when the signer has set one.
    pub pin: Option<String>,
}

/// A field's value as the party gives it.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum FieldInput {
    Text(String),
    Checked(bool),
}

/// What the job needs from the request (kept in the row; never the PIN).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Order {
    /// Every field of the party: PDF field name → value (text, or "true"/"false").
    fills: Vec<(String, String, bool)>,
    /// Contract field id → value, stored with the party's fields when signed.
    values: BTreeMap<String, String>,
    seal: Option<String>,
    authentication: String,
    via: Via,
    /// When the party asked (the signing time shown and the date filled).
    asked_at: i64,
}

/// Where a signature is: its status and, once failed (or failing and retried), why.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub signature: String,
    pub status: SignatureStatus,
    pub error: Option<String>,
}

/// The outcome of signature `id` (its last error while it is retried).
pub async fn outcome(db: &Db, id: &str) -> Result<Outcome, Failure> {
    let row = sqlx::query(
        "SELECT s.status, s.error, j.last_error FROM contract_signatures s \
         LEFT JOIN jobs j ON j.dedupe_key = 'contract_signature:' || s.id WHERE s.id = $1",
    )
    .bind(id)
    .fetch_optional(&db.pool)
    .await?
    .ok_or(Failure::NotFound)?;
    let status = crate::db::stored(&row, "status", SignatureStatus::parse)?;
    let error: Option<String> = match status {
        SignatureStatus::Failed => row.try_get("error")?,
        SignatureStatus::Pending => row.try_get("last_error")?,
        SignatureStatus::Done => None,
    };
    Ok(Outcome {
        signature: id.to_owned(),
        status,
        error,
    })
}

/// Whether the party's signature is being carried out, and why their last one failed.
pub async fn pending(db: &Db, party_id: &str) -> Result<(bool, Option<String>), Failure> {
    let row = sqlx::query("SELECT status, error FROM contract_signatures WHERE party_id = $1")
        .bind(party_id)
        .fetch_optional(&db.pool)
        .await?;
    Ok(match row {
        None => (false, None),
        Some(r) => match crate::db::stored(&r, "status", SignatureStatus::parse)? {
            SignatureStatus::Pending => (true, None),
            SignatureStatus::Done => (false, None),
            SignatureStatus::Failed => (false, r.try_get("error")?),
        },
    })
}

/// A signature asked for: its id and, when this request wrote it, the job carrying it out,
/// claimed by the request to run at once ([`crate::jobs::Runner::run_claim`]), holding the
/// contract's lease when no other process held it (one commit fewer).
#[derive(Debug)]
pub struct Asked {
    pub signature: String,
    pub job: Option<jobs::Claim>,
}

/// A party asks to sign: checks their turn, their fields' values, their seal and PIN (a wrong
/// PIN counts towards the lock), then writes the signature row and its job in one transaction.
/// Asking again while one is pending returns that one (a retried request never signs twice).
pub async fn request(
    desk: &Desk,
    now: i64,
    token: &str,
    visitor: &Visitor,
    request: &SignRequest,
    via: &Via,
) -> Result<Asked, Failure> {
    let access = access(&desk.db, now, token, visitor).await?;
    if let Some(existing) = existing(&desk.db, &access.party.id).await? {
        return Ok(existing);
    }
    access.may_act()?;
    if access.party.role != PartyRole::Signer {
        return Err(Failure::BadRequest("error.not_a_signer"));
    }
    let kind = access
        .party
        .signature_kind
        .ok_or(Failure::BadRequest("error.not_a_signer"))?;
    let fields: Vec<super::Field> = super::field_rows(&desk.db, &access.contract.id)
        .await?
        .into_iter()
        .filter(|f| f.party_id == access.party.id)
        .collect();
    let (fills, values) = fill_values(&fields, request, &access.party.name, now)?;
    let mut authentication = access.authentication.to_owned();
    let mut grant = None;
    let mut seal = None;
    let signature_id = new_id()?;
    if kind == SignatureKind::Certificate {
        let user = visitor
            .user
            .as_ref()
            .ok_or(Failure::Unauthenticated)?
            .clone();
        if !user.roles.has(Role::Signer) {
            return Err(Failure::Forbidden);
        }
        let Usable { envelope, .. } =
            crate::signing::signing_certificate(&desk.db, now, &user).await?;
        let (seal_id, _) =
            crate::seals::for_signature(&desk.db, &user, request.seal.as_deref()).await?;
        seal = seal_id;
        let unlocked = crate::pins::check_for_signing(
            &desk.db,
            now,
            desk.ca.vault(),
            &user,
            request.pin.as_deref(),
        )
        .await?;
        if unlocked.is_some() {
            authentication = "login+pin".into();
        }
        if envelope.is_some() {
            let unlocked = unlocked.ok_or(Failure::invalid("pin", "error.pin_required"))?;
            grant = Some(hex::encode(
                desk.ca
                    .vault()
                    .grant(&unlocked, &signature_id)
                    .map_err(|e| anyhow::anyhow!("granting the PIN's key: {e}"))?,
            ));
        }
    }
    let order = Order {
        fills,
        values,
        seal,
        authentication,
        via: via.clone(),
        asked_at: now,
    };
    // The contract's lock, then its lease in the same transaction as the row and the job: the
    // request carries the signature out at once, holding both (see `Asked`).
    let guard = desk.lock(&access.contract.id).await?;
    let mut tx = desk.db.begin().await?;
    // A failed earlier signature makes way for this one.
    sqlx::query("DELETE FROM contract_signatures WHERE party_id = $1 AND status = $2")
        .bind(&access.party.id)
        .bind(SignatureStatus::Failed.as_str())
        .execute(&mut *tx)
        .await?;
    let inserted = sqlx::query(
        "INSERT INTO contract_signatures (id, contract_id, party_id, status, kind, request, \
         pin_grant, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
    )
    .bind(&signature_id)
    .bind(&access.contract.id)
    .bind(&access.party.id)
    .bind(SignatureStatus::Pending.as_str())
    .bind(kind.as_str())
    .bind(serde_json::to_string(&order).map_err(anyhow::Error::from)?)
    .bind(grant)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    if inserted.rows_affected() == 0 {
        // A concurrent request of the same party got there first.
        drop(tx);
        return existing(&desk.db, &access.party.id)
            .await?
            .ok_or_else(|| Failure::Internal(anyhow::anyhow!("a signature row vanished")));
    }
    let job = jobs::enqueue_claimed(
        &mut *tx,
        now,
        &NewJob::new(
            jobs::Kind::ContractSignature,
            serde_json::json!({ "signature": signature_id }),
        )
        .max_attempts(ATTEMPTS)
        .dedupe_key(format!("contract_signature:{signature_id}")),
        INLINE_GRACE_SECONDS,
    )
    .await?;
    let lease = match &job {
        Some(_) => {
            desk.lease_in(&mut tx, now, &access.contract.id, guard)
                .await?
        }
        None => None,
    };
    let job = match (job, lease) {
        (Some(job), Some(lease)) => Some(job.handing(lease)),
        (job, _) => job,
    };
    record(
        &mut tx,
        &desk.db.audit,
        now,
        &access.contract.id,
        &Actor::party(&access.contract, &access.party).via(via),
        "party.signature_requested",
        serde_json::json!({
            "party": access.party.id, "signature": signature_id, "kind": kind.as_str(),
            "authentication": order.authentication,
        }),
    )
    .await?;
    tx.commit().await?;
    Ok(Asked {
        signature: signature_id,
        job,
    })
}

/// The party's pending signature, if any.
async fn existing(db: &Db, party_id: &str) -> Result<Option<Asked>, Failure> {
    let row = sqlx::query("SELECT id FROM contract_signatures WHERE party_id = $1 AND status = $2")
        .bind(party_id)
        .bind(SignatureStatus::Pending.as_str())
        .fetch_optional(&db.pool)
        .await?;
    row.map(|r| {
        Ok(Asked {
            signature: r.try_get("id")?,
            job: None,
        })
    })
    .transpose()
}

/// Every field of the party with the value it gets: text and checkboxes from the request
/// (every text field must be filled), the name and the signing date by Inkan.
type Fills = (Vec<(String, String, bool)>, BTreeMap<String, String>);

fn fill_values(
    fields: &[super::Field],
    request: &SignRequest,
    name: &str,
    now: i64,
) -> Result<Fills, Failure> {
    let mut errors = Vec::new();
    for id in request.fields.keys() {
        let own = fields
            .iter()
            .any(|f| &f.id == id && matches!(f.kind, FieldKind::Text | FieldKind::Checkbox));
        if !own {
            errors.push(FieldError::new("fields", "error.field_not_yours"));
        }
    }
    let mut fills = Vec::new();
    let mut values = BTreeMap::new();
    for f in fields {
        let value = match (f.kind, request.fields.get(&f.id)) {
            (FieldKind::Signature, _) => continue,
            (FieldKind::Name, _) => name.to_owned(),
            (FieldKind::DateSigned, _) => crate::clock::jst_date(now),
            (FieldKind::Text, Some(FieldInput::Text(t)))
                if !t.trim().is_empty()
                    && t.chars().count() <= MAX_VALUE
                    && !t.chars().any(char::is_control) =>
            {
                t.trim().to_owned()
            }
            (FieldKind::Text, Some(FieldInput::Text(t))) if !t.trim().is_empty() => {
                errors.push(FieldError::new("fields", "error.too_long"));
                continue;
            }
            (FieldKind::Text, _) => {
                errors.push(FieldError::new("fields", "error.field_required"));
                continue;
            }
            (FieldKind::Checkbox, Some(FieldInput::Checked(c))) => c.to_string(),
            (FieldKind::Checkbox, None) => false.to_string(),
            (FieldKind::Checkbox, Some(FieldInput::Text(_))) => {
                errors.push(FieldError::new("fields", "error.field_checkbox"));
                continue;
            }
        };
        fills.push((
            field_name(&f.id),
            value.clone(),
            f.kind == FieldKind::Checkbox,
        ));
        values.insert(f.id.clone(), value);
    }
    errors.dedup();
    if errors.is_empty() {
        Ok((fills, values))
    } else {
        Err(Failure::Invalid(errors))
    }
}

/// Carries out the signature `signature_id` (the job's work). A signature already done, or of
/// a contract no longer in progress, is left as it is.
pub async fn carry_out(
    desk: &Desk,
    clock: &Clock,
    signature_id: &str,
    job: &jobs::Job,
) -> anyhow::Result<()> {
    let outcome = sign_now(desk, clock, signature_id, job).await;
    if let Err(e) = &outcome {
        let last_attempt = job.attempt >= job.max_attempts;
        if last_attempt || e.chain().any(|c| c.is::<jobs::Permanent>()) {
            give_up(&desk.db, clock.now(), signature_id, &format!("{e:#}")).await?;
        }
    }
    outcome
}

async fn give_up(db: &Db, now: i64, signature_id: &str, why: &str) -> anyhow::Result<()> {
    // Read before the transaction (SQLite's write lock; see `completion`).
    let row = sqlx::query("SELECT contract_id, party_id FROM contract_signatures WHERE id = $1")
        .bind(signature_id)
        .fetch_optional(&db.pool)
        .await?;
    let Some(row) = row else {
        return Ok(());
    };
    let contract_id: String = row.try_get("contract_id")?;
    let party_id: String = row.try_get("party_id")?;
    let contract = super::load(db, &contract_id).await?;
    let mut tx = db.begin().await?;
    let failed = sqlx::query(
        "UPDATE contract_signatures SET status = $2, error = $3, finished_at = $4, \
         pin_grant = NULL WHERE id = $1 AND status = $5",
    )
    .bind(signature_id)
    .bind(SignatureStatus::Failed.as_str())
    .bind(why)
    .bind(now)
    .bind(SignatureStatus::Pending.as_str())
    .execute(&mut *tx)
    .await?;
    if let (1, Some(contract)) = (failed.rows_affected(), contract) {
        record(
            &mut tx,
            &db.audit,
            now,
            &contract_id,
            &Actor::system(&contract),
            "party.signature_failed",
            serde_json::json!({ "party": party_id, "signature": signature_id, "error": why }),
        )
        .await
        .map_err(anyhow::Error::from)?;
    }
    tx.commit().await?;
    Ok(())
}

async fn sign_now(
    desk: &Desk,
    clock: &Clock,
    signature_id: &str,
    job: &jobs::Job,
) -> anyhow::Result<()> {
    let lease = match job.take_handed::<super::desk::Lease>() {
        Some(lease) => lease,
        None => {
            let Some(row) = signature_row(&desk.db, signature_id).await? else {
                return Ok(());
            };
            desk.lease(clock, &row.contract_id).await?
        }
    };
    // Read (again) under the lease: another process may have finished it meanwhile.
    let Some(row) = signature_row(&desk.db, signature_id).await? else {
        lease.abandon(&desk.db).await;
        return Ok(());
    };
    let contract = super::load(&desk.db, &row.contract_id)
        .await?
        .context("the contract is gone")?;
    if contract.status != super::ContractStatus::Sent {
        lease.abandon(&desk.db).await;
        give_up(
            &desk.db,
            clock.now(),
            signature_id,
            "the contract is no longer in progress",
        )
        .await?;
        return Ok(());
    }
    let party = contract
        .parties
        .iter()
        .find(|p| p.id == row.party_id)
        .cloned()
        .context("the party is gone")?;
    let order: Order = serde_json::from_str(&row.request)
        .map_err(|e| jobs::Permanent(format!("the signature's request: {e}")))?;
    let signer = match row.kind {
        SignatureKind::Certificate => {
            certificate_signer(desk, clock.now(), &party, &order, &row, signature_id).await?
        }
        SignatureKind::Simple => platform_signer(desk, clock.now(), &contract.org_id).await?,
    };
    let documents = super::document_rows(&desk.db, &contract.id).await?;
    let fields = super::field_rows(&desk.db, &contract.id).await?;
    let settings = crate::settings::of_organisation(&desk.db, &contract.org_id)
        .await
        .map_err(anyhow::Error::from)?;
    let zone = settings.time_zone;
    let current = current_hashes(&desk.db, &contract.id).await?;
    let mut written = Vec::new();
    for document in &documents {
        let before = current
            .get(&document.id)
            .cloned()
            .context("a document without bytes")?;
        let field = fields.iter().find(|f| {
            f.document_id == document.id && f.party_id == party.id && f.kind == FieldKind::Signature
        });
        let fills = order
            .fills
            .iter()
            .filter(|(name, _, _)| {
                fields
                    .iter()
                    .any(|f| f.document_id == document.id && field_name(&f.id) == *name)
            })
            .map(|(name, value, checkbox)| FieldFill {
                name: name.clone(),
                value: if *checkbox {
                    FillValue::Checkbox(value == "true")
                } else {
                    FillValue::Text(value.clone())
                },
            })
            .collect();
        let opts = SignOptions {
            placement: None,
            seal_png: field.map(|_| signer.seal.clone()),
            appearance_text: signer.lines(&party, &order, zone),
            name: Some(party.name.clone()),
            reason: Some(signer.reason(&contract, &party, &order)),
            location: None,
            contact_info: Some(party.email.clone()),
            certify: None,
            hash: Some(HashAlgorithm::Sha256),
            field_name: Some(match field {
                Some(f) => field_name(&f.id),
                None => format!("inkan-party-{}", party.id),
            }),
            signing_time: None,
            fill: fills,
        };
        let after = sign_document(desk, &before, signer.clone(), &settings.tsa_url, opts).await?;
        lease.renew(&desk.db, clock.now()).await?;
        written.push((document.id.clone(), before, after));
    }
    // The signed copies are stored, nothing is recorded yet: where a crash tests aim.
    crate::testing::hold("contract_signature").await;
    let now = clock.now();
    let mut tx = desk.db.begin().await?;
    lease.release(&mut tx).await?;
    jobs::done_in(&mut tx, now, job).await?;
    for (document_id, before, after) in &written {
        let moved = sqlx::query(
            "UPDATE contract_documents SET current_sha256 = $3 \
             WHERE id = $1 AND current_sha256 = $2",
        )
        .bind(document_id)
        .bind(before)
        .bind(after)
        .execute(&mut *tx)
        .await?;
        anyhow::ensure!(
            moved.rows_affected() == 1,
            "document {document_id} changed while it was being signed"
        );
    }
    let done = sqlx::query(
        "UPDATE contract_signatures SET status = $2, serial = $3, finished_at = $4, \
         pin_grant = NULL, error = NULL WHERE id = $1 AND status = $5",
    )
    .bind(signature_id)
    .bind(SignatureStatus::Done.as_str())
    .bind(&signer.serial)
    .bind(now)
    .bind(SignatureStatus::Pending.as_str())
    .execute(&mut *tx)
    .await?;
    anyhow::ensure!(
        done.rows_affected() == 1,
        "the signature was finished elsewhere"
    );
    let moved = sqlx::query(
        "UPDATE contract_parties SET status = $2, acted_at = $3, authentication = $4 \
         WHERE id = $1 AND status IN ($5, $6)",
    )
    .bind(&party.id)
    .bind(PartyStatus::Signed.as_str())
    .bind(now)
    .bind(&order.authentication)
    .bind(PartyStatus::Notified.as_str())
    .bind(PartyStatus::Opened.as_str())
    .execute(&mut *tx)
    .await?;
    anyhow::ensure!(
        moved.rows_affected() == 1,
        "the party is no longer in their turn"
    );
    for (field_id, value) in &order.values {
        sqlx::query("UPDATE contract_fields SET value = $2 WHERE id = $1")
            .bind(field_id)
            .bind(value)
            .execute(&mut *tx)
            .await?;
    }
    record(
        &mut tx,
        &desk.db.audit,
        now,
        &contract.id,
        &Actor::party(&contract, &party).via(&order.via),
        "party.signed",
        serde_json::json!({
            "party": party.id, "signature": signature_id, "kind": row.kind.as_str(),
            "serial": signer.serial, "authentication": order.authentication,
            "seal": order.seal,
            "documents": written.iter().map(|(d, before, after)| serde_json::json!({
                "document": d, "before_sha256": before, "after_sha256": after,
            })).collect::<Vec<_>>(),
        }),
    )
    .await
    .map_err(anyhow::Error::from)?;
    advance(&mut tx, desk, now, &contract.id)
        .await
        .map_err(anyhow::Error::from)?;
    tx.commit().await?;
    Ok(())
}

struct SignatureRow {
    contract_id: String,
    party_id: String,
    kind: SignatureKind,
    request: String,
    grant: Option<String>,
}

/// The pending signature `id`; `None` once it is done or failed.
async fn signature_row(db: &Db, id: &str) -> anyhow::Result<Option<SignatureRow>> {
    let row = sqlx::query(
        "SELECT contract_id, party_id, kind, request, pin_grant FROM contract_signatures \
         WHERE id = $1 AND status = $2",
    )
    .bind(id)
    .bind(SignatureStatus::Pending.as_str())
    .fetch_optional(&db.pool)
    .await?;
    row.map(|r| {
        Ok(SignatureRow {
            contract_id: r.try_get("contract_id")?,
            party_id: r.try_get("party_id")?,
            kind: crate::db::stored(&r, "kind", SignatureKind::parse)?,
            request: r.try_get("request")?,
            grant: r.try_get("pin_grant")?,
        })
    })
    .transpose()
}

async fn current_hashes(
    db: &Db,
    contract_id: &str,
) -> anyhow::Result<std::collections::HashMap<String, String>> {
    let rows =
        sqlx::query("SELECT id, current_sha256 FROM contract_documents WHERE contract_id = $1")
            .bind(contract_id)
            .fetch_all(&db.pool)
            .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("id")?, r.try_get("current_sha256")?)))
        .collect()
}

/// Who signs and how it looks: the key with its certificate chain, the seal stamped, the
/// certificate's serial.
#[derive(Clone)]
struct Signing {
    key: Arc<CaKeySigner>,
    serial: String,
    seal: Vec<u8>,
    simple: bool,
}

impl Signing {
    /// The lines beside the seal, times in Japan time: a certificate signature shows the
    /// signer's name and the time; a simple one also says who Inkan signed for and how they
    /// proved it.
    /// What the seal's caption says; the time in the organisation's time zone `zone`.
    fn lines(&self, party: &super::Party, order: &Order, zone: Tz) -> Option<Vec<String>> {
        let at = crate::settings::local_time(zone, order.asked_at);
        Some(if self.simple {
            vec![
                party.name.clone(),
                party.email.clone(),
                format!(
                    "{} ({})",
                    authentication_label(&order.authentication),
                    "Inkan"
                ),
                at,
            ]
        } else {
            vec![party.name.clone(), at]
        })
    }

    fn reason(&self, contract: &super::Contract, party: &super::Party, order: &Order) -> String {
        if self.simple {
            format!(
                "立会人型電子署名 / Signed by Inkan for {} <{}>, authenticated by {}; contract {}",
                party.name, party.email, order.authentication, contract.id
            )
        } else {
            format!("契約 / Contract {}", contract.id)
        }
    }
}

fn authentication_label(authentication: &str) -> &'static str {
    match authentication {
        "email_code" => "メール認証 / email code",
        "login+pin" => "ログイン+PIN / login + PIN",
        _ => "ログイン / login",
    }
}

async fn certificate_signer(
    desk: &Desk,
    now: i64,
    party: &super::Party,
    order: &Order,
    row: &SignatureRow,
    signature_id: &str,
) -> anyhow::Result<Signing> {
    let user_id = party
        .user_id
        .as_deref()
        .ok_or_else(|| jobs::Permanent("a certificate signer without an account".into()))?;
    let user: User = user_by_id(&desk.db, user_id)
        .await
        .map_err(anyhow::Error::from)?
        .ok_or_else(|| jobs::Permanent("the signer's account is gone".into()))?;
    let usable = crate::signing::signing_certificate(&desk.db, now, &user)
        .await
        .map_err(|e| jobs::Permanent(format!("the signer's certificate: {e}")))?;
    let record = desk.ca.record(&desk.db, &usable.serial).await?;
    let (_, seal) = crate::seals::for_signature(&desk.db, &user, order.seal.as_deref())
        .await
        .map_err(anyhow::Error::from)?;
    let key = match &usable.envelope {
        Some(envelope) => {
            let grant = row
                .grant
                .as_deref()
                .ok_or_else(|| jobs::Permanent("the PIN's grant is missing".into()))?;
            let grant = hex::decode(grant).context("the PIN's grant")?;
            let unlocked = desk
                .ca
                .vault()
                .open_grant(&grant, signature_id)
                .map_err(|e| jobs::Permanent(format!("the PIN's grant: {e}")))?;
            let key = unlocked
                .open(envelope)
                .map_err(|e| jobs::Permanent(format!("the signer's key: {e}")))?;
            CaKeySigner::pin_bound(key, &record)
        }
        None => held_key_signer(desk, &record).await?,
    };
    Ok(Signing {
        key: Arc::new(key),
        serial: usable.serial,
        seal,
        simple: false,
    })
}

/// A signer with the key the CA holds for `record`.
pub(crate) async fn held_key_signer(
    desk: &Desk,
    record: &ca::certstore::CertRecord,
) -> anyhow::Result<CaKeySigner> {
    let labels: Vec<&str> = record.key.as_ref().map(|k| k.label()).into_iter().collect();
    let staged = desk
        .ca
        .stage(&mut *desk.db.pool.acquire().await?, &[], &labels)
        .await?;
    CaKeySigner::new(staged.keys().clone(), record)
}

/// A signer for a simple signature (立会人型): a platform certificate issued by Inkan's CA to the
/// organisation for this signature alone ([`platform_certificate`]).
async fn platform_signer(desk: &Desk, now: i64, org_id: &str) -> anyhow::Result<Signing> {
    let serial = platform_certificate(desk, now, org_id).await?;
    let record = desk.ca.record(&desk.db, &serial).await?;
    Ok(Signing {
        key: Arc::new(held_key_signer(desk, &record).await?),
        serial,
        seal: seal::default_seal().to_vec(),
        simple: true,
    })
}

/// Issues a platform certificate for the organisation `org_id`: its subject names the
/// organisation and Inkan's platform signatures, its key is new and held by the CA. Each
/// simple signature (and each certificate of completion) gets its own: a document then never
/// carries two signatures by one certificate, which poppler-based readers (pdfsig, Evince,
/// Okular) fail to validate after the first (NSS keeps the certificate of the first and reports
/// "Unknown issue" for the next). Recorded in `platform_certificates` and the audit log.
pub async fn platform_certificate(desk: &Desk, now: i64, org_id: &str) -> anyhow::Result<String> {
    let organisation = accounts::organisation_name(&desk.db, org_id)
        .await
        .map_err(anyhow::Error::from)?
        .as_str()
        .to_owned();
    let application = SignerApplication {
        country: Country::parse("JP")?,
        state_or_province: None,
        locality: None,
        street_address: None,
        postal_code: None,
        organisation: Some(organisation.chars().take(64).collect()),
        organisational_unit: Some("Inkan 立会人型署名 / Inkan platform signatures".into()),
        common_name: format!(
            "{} (Inkan)",
            organisation.chars().take(56).collect::<String>()
        ),
        email: ca::application::Email::parse(&desk.platform_email)?,
    };
    let mut tx = desk.db.begin().await?;
    let staged = desk.ca.stage(&mut tx, &[], &[]).await?;
    let (staged, issued) = tokio::task::spawn_blocking(move || {
        let issued = staged.authority.issue_for(&application, KeyHolder::Ca);
        (staged, issued)
    })
    .await?;
    let issued =
        issued.map_err(|e| anyhow::anyhow!("the CA refused the platform certificate: {e}"))?;
    staged.flush(&mut tx, now).await?;
    let serial = issued.record.serial.to_string();
    let not_after = i64::try_from(issued.record.not_after)?;
    sqlx::query(
        "INSERT INTO platform_certificates (org_id, serial, not_after, created_at) \
         VALUES ($1, $2, $3, $4)",
    )
    .bind(org_id)
    .bind(&serial)
    .bind(not_after)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    crate::audit::append(
        &mut tx,
        &desk.db.audit,
        now,
        &crate::audit::Event {
            org_id: Some(org_id),
            actor: Some("system"),
            action: "platform_certificate.issued",
            detail: serde_json::json!({ "serial": serial, "not_after": not_after }),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(serial)
}

/// Signs the stored document `sha256` at B-T; returns the signed copy's SHA-256. The input is
/// read positioned from the store and the output streamed into the store, never whole in
/// memory; the signature being an incremental update, only what it adds is stored (a version
/// of the document), unless the output does not start with the input (pdf-sign had to rewrite
/// it), when it is signed again and stored whole.
async fn sign_document(
    desk: &Desk,
    sha256: &str,
    signer: Signing,
    tsa: &Option<crate::remote::TsaUrl>,
    opts: SignOptions,
) -> anyhow::Result<String> {
    match sign_into(desk, sha256, signer.clone(), tsa, opts.clone(), true).await {
        Err(e)
            if matches!(
                e.downcast_ref::<crate::storage::StorageError>(),
                Some(crate::storage::StorageError::NotIncremental)
            ) =>
        {
            tracing::info!(
                document = sha256,
                "a signature rewrote its document: stored whole"
            );
            sign_into(desk, sha256, signer, tsa, opts, false).await
        }
        signed => signed,
    }
}

async fn sign_into(
    desk: &Desk,
    sha256: &str,
    signer: Signing,
    tsa: &Option<crate::remote::TsaUrl>,
    opts: SignOptions,
    as_version: bool,
) -> anyhow::Result<String> {
    let source = desk.store.source(sha256).await?;
    let parent = crate::storage::Stored {
        sha256: sha256.to_owned(),
        size: pdf_sign::Source::len(&source),
    };
    // The organisation's timestamp authority (Inkan's own unless an administrator set one).
    let transports = Providers::new(desk.ca.clone(), desk.db.clone(), tsa.clone());
    let sign = move |out: &mut crate::storage::NewDocument| -> anyhow::Result<()> {
        let services = pdf_sign::Services {
            tsa: Some(&transports),
            revocation: &transports,
        };
        pdf_sign::sign_at_level(
            source,
            out,
            &mut pdf_sign::MemoryScratch,
            signer.key.as_ref(),
            &opts,
            Level::BT,
            &services,
        )
        .map_err(|e| anyhow::anyhow!("signing: {e}"))?;
        Ok(())
    };
    flow::write_document(desk, as_version.then_some(parent), sign).await
}
