//! Contracts: a document manager's draft (title, documents, parties in steps, fields), sent to
//! its parties in turn, signed or approved by each, and completed. This module owns the draft
//! and its parties, who may see a contract, and its own history; [`flow`] sends it and runs the
//! parties' turns, [`signature`] carries out their signatures, [`completion`] completes it.

pub mod completion;
pub mod desk;
pub mod flow;
pub mod signature;

pub use desk::Desk;

use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use crate::accounts::{self, new_id, Email, Role, User};
use crate::audit;
use crate::db::{flag, stored, stored_text, Db};
use crate::error::{Failure, FieldError};
use crate::permissions::{allows, require, Action};
use crate::storage::{DocumentStore, Download, StorageError};

stored_text! {
    /// Where a contract is.
    pub enum ContractStatus("contract status") {
        /// Being prepared; nothing is sent.
        Draft = "draft",
        /// With its parties, step by step.
        Sent = "sent",
        /// Every party signed or approved.
        Completed = "completed",
        /// A party declined; the contract stopped.
        Declined = "declined",
        /// The sender cancelled it.
        Cancelled = "cancelled",
        /// Not completed before its expiry.
        Expired = "expired",
    }
}

stored_text! {
    /// What a party does.
    pub enum PartyRole("party role") {
        /// Signs (with a certificate or a simple signature).
        Signer = "signer",
        /// Approves before the next step starts.
        Approver = "approver",
        /// Only receives the result.
        CopyRecipient = "copy_recipient",
    }
}

stored_text! {
    /// How a signer signs.
    pub enum SignatureKind("signature kind") {
        /// 当事者型: the party's own certificate (and PIN, and seal).
        Certificate = "certificate",
        /// 立会人型: Inkan signs with the organisation's platform certificate, recording who the
        /// party is and how they were authenticated.
        Simple = "simple",
    }
}

stored_text! {
    /// Where a party is.
    pub enum PartyStatus("party status") {
        /// Not their turn yet.
        Waiting = "waiting",
        /// Their link was sent.
        Notified = "notified",
        /// They opened the document.
        Opened = "opened",
        Signed = "signed",
        Approved = "approved",
        Declined = "declined",
    }
}

/// Days before the first automatic reminder, and the reminders at most (the defaults).
pub const REMINDER_DAYS: i64 = 3;
pub const MAX_REMINDERS: i64 = 5;
/// A sent contract expires after this many days unless the sender chose otherwise.
pub const EXPIRY_DAYS: i64 = 30;
/// Parties of one contract, at most.
pub const MAX_PARTIES: i64 = 50;

/// A contract as its sender and the organisation's administrators see it.
#[derive(Debug, Clone, Serialize)]
pub struct Contract {
    pub id: String,
    pub title: String,
    pub status: ContractStatus,
    /// The user who created it (its sender).
    pub created_by: String,
    pub created_at: i64,
    pub sent_at: Option<i64>,
    pub completed_at: Option<i64>,
    pub expires_at: Option<i64>,
    /// Days from sending to expiry.
    pub expiry_days: i64,
    pub reminder_days: i64,
    pub max_reminders: i64,
    pub allow_forwarding: bool,
    /// Why it was declined or cancelled.
    pub end_reason: Option<String>,
    pub parties: Vec<Party>,
    #[serde(skip)]
    pub org_id: String,
}

impl Contract {
    /// A contract with only its id, for rows that need a few columns.
    fn empty(id: &str) -> Self {
        Self {
            id: id.to_owned(),
            title: String::new(),
            status: ContractStatus::Draft,
            created_by: String::new(),
            created_at: 0,
            sent_at: None,
            completed_at: None,
            expires_at: None,
            expiry_days: EXPIRY_DAYS,
            reminder_days: REMINDER_DAYS,
            max_reminders: MAX_REMINDERS,
            allow_forwarding: false,
            end_reason: None,
            parties: Vec::new(),
            org_id: String::new(),
        }
    }
}

/// A party of a contract.
#[derive(Debug, Clone, Serialize)]
pub struct Party {
    pub id: String,
    /// The order in which the sender listed them.
    pub position: i64,
    /// Parties of one step act in parallel; steps follow each other.
    pub step: i64,
    pub role: PartyRole,
    /// For signers.
    pub signature_kind: Option<SignatureKind>,
    /// A user of this organisation or of another organisation on the instance; `None` for an
    /// outside party (name and email only).
    pub user_id: Option<String>,
    pub name: String,
    pub email: String,
    pub status: PartyStatus,
}

/// A new party as the sender describes it.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default)]
pub struct NewParty {
    /// `signer`, `approver` or `copy_recipient`.
    pub role: String,
    /// 1 or more; parties of one step act in parallel.
    pub step: i64,
    /// For signers: `certificate` or `simple`.
    pub signature_kind: Option<String>,
    /// A user of the instance (any organisation), by email; or an outside party.
    pub email: String,
    /// The name shown on the contract (for a user, their display name when empty).
    pub name: String,
}

/// Who may see a contract: its sender, and their organisation's administrators (read-only).
pub fn may_read(user: &User, contract: &Contract) -> bool {
    user.org_id == contract.org_id
        && (contract.created_by == user.id || allows(user.roles, Action::ManageUsers))
}

/// Who may change it: its sender, while they still manage contracts.
fn may_change(user: &User, contract: &Contract) -> Result<(), Failure> {
    require(user.roles, Action::ManageContracts)?;
    if user.org_id != contract.org_id {
        return Err(Failure::NotFound);
    }
    if contract.created_by != user.id {
        return Err(Failure::Forbidden);
    }
    Ok(())
}

fn check_title(title: &str) -> Result<String, Failure> {
    let title = title.trim();
    if title.is_empty() {
        Err(Failure::invalid("title", "error.required"))
    } else if title.chars().count() > 200 || title.chars().any(char::is_control) {
        Err(Failure::invalid("title", "error.too_long"))
    } else {
        Ok(title.to_owned())
    }
}

/// A document manager starts a draft.
pub async fn create_draft(
    db: &Db,
    now: i64,
    sender: &User,
    title: &str,
) -> Result<Contract, Failure> {
    require(sender.roles, Action::ManageContracts)?;
    let title = check_title(title)?;
    let id = new_id()?;
    let mut tx = db.begin().await?;
    sqlx::query(
        "INSERT INTO contracts (id, org_id, title, status, created_by, created_at, updated_at, \
         reminder_days, max_reminders, allow_forwarding) \
         VALUES ($1, $2, $3, $4, $5, $6, $6, $7, $8, $9)",
    )
    .bind(&id)
    .bind(&sender.org_id)
    .bind(&title)
    .bind(ContractStatus::Draft.as_str())
    .bind(&sender.id)
    .bind(now)
    .bind(REMINDER_DAYS)
    .bind(MAX_REMINDERS)
    .bind(false)
    .execute(&mut *tx)
    .await?;
    record(
        &mut tx,
        now,
        &id,
        &Actor::user(sender),
        "contract.created",
        serde_json::json!({ "title": title }),
    )
    .await?;
    tx.commit().await?;
    get(db, sender, &id).await
}

/// The contract `id` as `user` may see it; another organisation's, or one `user` may not read,
/// is not found.
pub async fn get(db: &Db, user: &User, id: &str) -> Result<Contract, Failure> {
    let contract = load(db, id).await?.ok_or(Failure::NotFound)?;
    if !may_read(user, &contract) {
        return Err(Failure::NotFound);
    }
    Ok(contract)
}

/// The contracts `user` may see, newest first: their own, or the organisation's for an
/// administrator.
pub async fn list(db: &Db, user: &User) -> Result<Vec<Contract>, Failure> {
    let all = allows(user.roles, Action::ManageUsers);
    if !all && !allows(user.roles, Action::ManageContracts) {
        return Err(Failure::Forbidden);
    }
    let rows = sqlx::query(&format!(
        "SELECT {CONTRACT_COLUMNS} FROM contracts WHERE org_id = $1 \
         AND ($2 OR created_by = $3) ORDER BY created_at DESC, id"
    ))
    .bind(&user.org_id)
    .bind(all)
    .bind(&user.id)
    .fetch_all(&db.pool)
    .await?;
    let mut contracts = Vec::with_capacity(rows.len());
    for row in &rows {
        let mut c = contract_from_row(row)?;
        c.parties = parties(db, &c.id).await?;
        contracts.push(c);
    }
    Ok(contracts)
}

/// Adds a party to a draft. A user of the instance is found by email (their own organisation
/// first); anyone else is an outside party by name and email. Outside parties and transaction
/// agents sign with simple signatures only; approvers and copy recipients sign nothing.
pub async fn add_party(
    db: &Db,
    now: i64,
    sender: &User,
    contract_id: &str,
    new: &NewParty,
) -> Result<Party, Failure> {
    changeable_draft(db, sender, contract_id).await?;
    let mut errors = Vec::new();
    let role = PartyRole::parse(new.role.trim())
        .map_err(|_| errors.push(FieldError::new("role", "error.party_role")))
        .ok();
    if new.step < 1 || new.step > MAX_PARTIES {
        errors.push(FieldError::new("step", "error.party_step"));
    }
    let email = Email::parse(&new.email)
        .map_err(|_| errors.push(FieldError::new("email", "error.email_invalid")))
        .ok();
    let kind = match (role, new.signature_kind.as_deref().map(str::trim)) {
        (Some(PartyRole::Signer), Some(k)) => SignatureKind::parse(k)
            .map_err(|_| errors.push(FieldError::new("signature_kind", "error.signature_kind")))
            .ok(),
        (Some(PartyRole::Signer), None) => {
            errors.push(FieldError::new("signature_kind", "error.required"));
            None
        }
        (_, Some(k)) if !k.is_empty() => {
            errors.push(FieldError::new(
                "signature_kind",
                "error.signature_kind_unused",
            ));
            None
        }
        _ => None,
    };
    if !errors.is_empty() {
        return Err(Failure::Invalid(errors));
    }
    let (Some(role), Some(email)) = (role, email) else {
        return Err(Failure::Invalid(errors));
    };
    let user = accounts::find_by_email(db, &sender.org_id, &email).await?;
    if kind == Some(SignatureKind::Certificate) {
        may_sign_with_certificate(user.as_ref())?;
    }
    let name = party_name(&new.name, user.as_ref())?;
    let id = new_id()?;
    let mut tx = db.begin().await?;
    let position = next_number(&mut tx, Numbered::Parties, contract_id).await?;
    if position > MAX_PARTIES {
        return Err(Failure::invalid("email", "error.too_many_parties"));
    }
    sqlx::query(
        "INSERT INTO contract_parties (id, contract_id, position, step, role, signature_kind, \
         user_id, name, email, status, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(&id)
    .bind(contract_id)
    .bind(position)
    .bind(new.step)
    .bind(role.as_str())
    .bind(kind.map(SignatureKind::as_str))
    .bind(user.as_ref().map(|u| u.id.clone()))
    .bind(&name)
    .bind(email.as_str())
    .bind(PartyStatus::Waiting.as_str())
    .bind(now)
    .execute(&mut *tx)
    .await?;
    record(
        &mut tx,
        now,
        contract_id,
        &Actor::user(sender),
        "contract.party_added",
        serde_json::json!({
            "party": id, "role": role.as_str(), "step": new.step,
            "signature_kind": kind.map(SignatureKind::as_str), "email": email.as_str(),
            "user": user.as_ref().map(|u| u.id.clone()),
        }),
    )
    .await?;
    tx.commit().await?;
    parties(db, contract_id)
        .await?
        .into_iter()
        .find(|p| p.id == id)
        .ok_or_else(|| Failure::Internal(anyhow::anyhow!("the party just added is missing")))
}

/// 当事者型 needs the party's own certificate: a signer of the instance (whether they hold a
/// valid one is checked when the contract is sent).
fn may_sign_with_certificate(user: Option<&User>) -> Result<(), Failure> {
    match user {
        None => Err(Failure::invalid(
            "signature_kind",
            "error.outside_party_simple_only",
        )),
        Some(u) if u.roles.has(Role::TransactionAgent) && !u.roles.has(Role::Signer) => Err(
            Failure::invalid("signature_kind", "error.agent_simple_only"),
        ),
        Some(u) if !u.roles.has(Role::Signer) => {
            Err(Failure::invalid("signature_kind", "error.not_a_signer"))
        }
        Some(_) => Ok(()),
    }
}

/// The name a party is shown by: as given, or the user's display name when left empty.
fn party_name(given: &str, user: Option<&User>) -> Result<String, Failure> {
    match (given.trim(), user) {
        ("", Some(u)) => Ok(u.display_name.clone()),
        ("", None) => Err(Failure::invalid("name", "error.required")),
        (n, _) if n.chars().count() > 100 || n.chars().any(char::is_control) => {
            Err(Failure::invalid("name", "error.too_long"))
        }
        (n, _) => Ok(n.to_owned()),
    }
}

/// A document of a contract, up to this size.
pub const MAX_DOCUMENT_BYTES: u64 = 50 * 1024 * 1024;
/// Documents of one contract, at most.
pub const MAX_DOCUMENTS: i64 = 20;

/// A document of a contract.
#[derive(Debug, Clone, Serialize)]
pub struct Document {
    pub id: String,
    pub position: i64,
    /// The name shown (the file name without `.pdf`).
    pub name: String,
    /// The SHA-256 (hex) of the PDF as uploaded.
    pub original_sha256: String,
    pub original_size: i64,
    pub pages: i64,
}

/// Adds a PDF to a draft: streamed into the document store (at most [`MAX_DOCUMENT_BYTES`],
/// never held whole), then checked by its content with pdf-sign — not a PDF, encrypted or
/// unreadable is refused with the reason, and nothing is kept.
pub async fn add_document(
    db: &Db,
    store: &DocumentStore,
    now: i64,
    sender: &User,
    contract_id: &str,
    file_name: &str,
    body: impl tokio::io::AsyncRead + Unpin,
) -> Result<Document, Failure> {
    changeable_draft(db, sender, contract_id).await?;
    let name = document_name(file_name)?;
    let stored = match store.put(body, MAX_DOCUMENT_BYTES).await {
        Ok(stored) => stored,
        Err(StorageError::TooLarge { .. }) => return Err(Failure::TooLarge),
        Err(StorageError::Read(e)) => return Err(Failure::Malformed(e.to_string())),
        Err(e) => return Err(Failure::Internal(e.into())),
    };
    let pages = match page_count(store, &stored.sha256).await {
        Ok(pages) => pages,
        Err(refused) => {
            forget_unused(db, store, &stored.sha256).await?;
            return Err(refused);
        }
    };
    let id = new_id()?;
    let mut tx = db.begin().await?;
    let position = next_number(&mut tx, Numbered::Documents, contract_id).await?;
    if position > MAX_DOCUMENTS {
        return Err(Failure::invalid("file", "error.too_many_documents"));
    }
    sqlx::query(
        "INSERT INTO contract_documents (id, contract_id, position, name, original_sha256, \
         original_size, pages, current_sha256, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $5, $8)",
    )
    .bind(&id)
    .bind(contract_id)
    .bind(position)
    .bind(&name)
    .bind(&stored.sha256)
    .bind(stored.size as i64)
    .bind(pages)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    record(
        &mut tx,
        now,
        contract_id,
        &Actor::user(sender),
        "contract.document_added",
        serde_json::json!({
            "document": id, "name": name, "sha256": stored.sha256, "size": stored.size,
            "pages": pages,
        }),
    )
    .await?;
    tx.commit().await?;
    Ok(Document {
        id,
        position,
        name,
        original_sha256: stored.sha256,
        original_size: stored.size as i64,
        pages,
    })
}

/// The name a document is shown by: the file name without its directory and `.pdf`.
fn document_name(file_name: &str) -> Result<String, Failure> {
    let base = file_name
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or_default()
        .trim();
    let base = base
        .strip_suffix(".pdf")
        .or_else(|| base.strip_suffix(".PDF"))
        .unwrap_or(base)
        .trim();
    if base.is_empty() {
        Err(Failure::invalid("name", "error.required"))
    } else if base.chars().count() > 200 || base.chars().any(char::is_control) {
        Err(Failure::invalid("name", "error.too_long"))
    } else {
        Ok(base.to_owned())
    }
}

/// The pages of a stored PDF, read by pdf-sign without loading it whole; a file pdf-sign cannot
/// read is refused with its reason.
async fn page_count(store: &DocumentStore, sha256: &str) -> Result<i64, Failure> {
    let source = store
        .source(sha256)
        .await
        .map_err(|e| Failure::Internal(e.into()))?;
    tokio::task::spawn_blocking(move || {
        let document =
            pdf_sign::Document::open(source).map_err(|e| Failure::UnreadablePdf(e.to_string()))?;
        let pages = document
            .page_count()
            .map_err(|e| Failure::UnreadablePdf(e.to_string()))?;
        if pages == 0 {
            return Err(Failure::UnreadablePdf("the PDF has no pages".into()));
        }
        Ok(pages as i64)
    })
    .await
    .map_err(|e| Failure::Internal(e.into()))?
}

/// Deletes stored bytes that no document refers to (a refused upload).
async fn forget_unused(db: &Db, store: &DocumentStore, sha256: &str) -> Result<(), Failure> {
    let used: i64 = sqlx::query(
        "SELECT COUNT(*) AS n FROM contract_documents \
         WHERE original_sha256 = $1 OR current_sha256 = $1 OR prepared_sha256 = $1",
    )
    .bind(sha256)
    .fetch_one(&db.pool)
    .await?
    .try_get("n")?;
    if used == 0 {
        store
            .delete(sha256)
            .await
            .map_err(|e| Failure::Internal(e.into()))?;
    }
    Ok(())
}

/// The documents of a contract `user` may see, in order.
pub async fn documents(db: &Db, user: &User, contract_id: &str) -> Result<Vec<Document>, Failure> {
    get(db, user, contract_id).await?;
    document_rows(db, contract_id).await
}

/// The documents of a contract, in order.
async fn document_rows(db: &Db, contract_id: &str) -> Result<Vec<Document>, Failure> {
    let rows = sqlx::query(
        "SELECT id, position, name, original_sha256, original_size, pages \
         FROM contract_documents WHERE contract_id = $1 ORDER BY position",
    )
    .bind(contract_id)
    .fetch_all(&db.pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Document {
                id: r.try_get("id")?,
                position: r.try_get("position")?,
                name: r.try_get("name")?,
                original_sha256: r.try_get("original_sha256")?,
                original_size: r.try_get("original_size")?,
                pages: r.try_get("pages")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(Failure::from)
}

stored_text! {
    /// What a field holds.
    pub enum FieldKind("field kind") {
        /// The party's signature (a signer's), with their seal for a certificate signature.
        Signature = "signature",
        /// The date the party signed, filled when they sign.
        DateSigned = "date_signed",
        /// Text the party types.
        Text = "text",
        /// A box the party ticks.
        Checkbox = "checkbox",
        /// The party's name, filled when they sign.
        Name = "name",
    }
}

/// A field on a document, filled by one party. Coordinates are PDF points in the page's default
/// user space (the origin at the lower left).
#[derive(Debug, Clone, Serialize)]
pub struct Field {
    pub id: String,
    pub document_id: String,
    pub party_id: String,
    pub kind: FieldKind,
    /// From 1.
    pub page: i64,
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
    pub label: String,
    /// What the party filled in (after they signed).
    pub value: Option<String>,
}

/// A field as the sender places it on the rendered page.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default)]
pub struct NewField {
    pub document: String,
    pub party: String,
    /// `signature`, `date_signed`, `text`, `checkbox` or `name`.
    pub kind: String,
    /// From 1.
    pub page: i64,
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
    /// Shown to the party (e.g. 「住所」); up to 100 characters.
    pub label: String,
}

/// The smallest field, in points (a signature needs room for its seal).
const MIN_FIELD: f64 = 8.0;
const MIN_SIGNATURE: (f64, f64) = (36.0, 18.0);

/// Places a field on a draft's document for one of its signers: their signature (one per
/// document), the date they sign, text they type, a box they tick, their name. The rectangle
/// must lie on the page (its crop box).
pub async fn add_field(
    db: &Db,
    store: &DocumentStore,
    now: i64,
    sender: &User,
    contract_id: &str,
    new: &NewField,
) -> Result<Field, Failure> {
    let contract = changeable_draft(db, sender, contract_id).await?;
    let mut errors = Vec::new();
    let kind = FieldKind::parse(new.kind.trim())
        .map_err(|_| errors.push(FieldError::new("kind", "error.field_kind")))
        .ok();
    let party = contract.parties.iter().find(|p| p.id == new.party);
    match (party, kind) {
        (None, _) => errors.push(FieldError::new("party", "error.field_party")),
        // Fields are filled in the update that carries the party's signature: approvers and
        // copy recipients, who sign nothing, fill none.
        (Some(p), _) if p.role != PartyRole::Signer => {
            errors.push(FieldError::new("party", "error.field_party_role"))
        }
        _ => {}
    }
    let label = new.label.trim();
    if label.chars().count() > 100 || label.chars().any(char::is_control) {
        errors.push(FieldError::new("label", "error.too_long"));
    }
    let (min_w, min_h) = if kind == Some(FieldKind::Signature) {
        MIN_SIGNATURE
    } else {
        (MIN_FIELD, MIN_FIELD)
    };
    let numbers = [new.x, new.y, new.width, new.height];
    if numbers.iter().any(|n| !n.is_finite()) || new.width < min_w || new.height < min_h {
        errors.push(FieldError::new("width", "error.field_too_small"));
    }
    let document = documents(db, sender, contract_id)
        .await?
        .into_iter()
        .find(|d| d.id == new.document);
    if kind == Some(FieldKind::Signature) {
        let placed = field_rows(db, contract_id).await?.into_iter().any(|f| {
            f.kind == FieldKind::Signature
                && f.party_id == new.party
                && f.document_id == new.document
        });
        if placed {
            errors.push(FieldError::new("kind", "error.signature_field_placed"));
        }
    }
    match &document {
        None => errors.push(FieldError::new("document", "error.field_document")),
        Some(d) if new.page < 1 || new.page > d.pages => {
            errors.push(FieldError::new("page", "error.field_page"))
        }
        Some(d) if errors.is_empty() => {
            let [llx, lly, urx, ury] = page_box(store, &d.original_sha256, new.page).await?;
            let inside = new.x >= llx
                && new.y >= lly
                && new.x + new.width <= urx
                && new.y + new.height <= ury;
            if !inside {
                errors.push(FieldError::new("x", "error.field_outside_page"));
            }
        }
        Some(_) => {}
    }
    if !errors.is_empty() {
        return Err(Failure::Invalid(errors));
    }
    let (Some(kind), Some(party), Some(document)) = (kind, party, document) else {
        return Err(Failure::Invalid(errors));
    };
    let field = Field {
        id: new_id()?,
        document_id: document.id,
        party_id: party.id.clone(),
        kind,
        page: new.page,
        x: new.x,
        y: new.y,
        width: new.width,
        height: new.height,
        label: label.to_owned(),
        value: None,
    };
    let mut tx = db.begin().await?;
    sqlx::query(
        "INSERT INTO contract_fields (id, contract_id, document_id, party_id, kind, page, x, y, \
         width, height, label, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(&field.id)
    .bind(contract_id)
    .bind(&field.document_id)
    .bind(&field.party_id)
    .bind(kind.as_str())
    .bind(field.page)
    .bind(field.x)
    .bind(field.y)
    .bind(field.width)
    .bind(field.height)
    .bind(&field.label)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    record(
        &mut tx,
        now,
        contract_id,
        &Actor::user(sender),
        "contract.field_added",
        serde_json::json!({
            "field": field.id, "document": field.document_id, "party": field.party_id,
            "kind": kind.as_str(), "page": field.page,
            "rect": [field.x, field.y, field.width, field.height],
        }),
    )
    .await?;
    tx.commit().await?;
    Ok(field)
}

/// The fields of a contract `user` may see.
pub async fn fields(db: &Db, user: &User, contract_id: &str) -> Result<Vec<Field>, Failure> {
    get(db, user, contract_id).await?;
    field_rows(db, contract_id).await
}

/// The fields of a contract, by document and page.
async fn field_rows(db: &Db, contract_id: &str) -> Result<Vec<Field>, Failure> {
    let rows = sqlx::query(
        "SELECT f.id, f.document_id, f.party_id, f.kind, f.page, f.x, f.y, f.width, f.height, \
         f.label, f.value FROM contract_fields f JOIN contract_documents d ON d.id = f.document_id \
         WHERE f.contract_id = $1 ORDER BY d.position, f.page, f.created_at, f.id",
    )
    .bind(contract_id)
    .fetch_all(&db.pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Field {
                id: r.try_get("id")?,
                document_id: r.try_get("document_id")?,
                party_id: r.try_get("party_id")?,
                kind: stored(r, "kind", FieldKind::parse)?,
                page: r.try_get("page")?,
                x: r.try_get("x")?,
                y: r.try_get("y")?,
                width: r.try_get("width")?,
                height: r.try_get("height")?,
                label: r.try_get("label")?,
                value: r.try_get("value")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(Failure::from)
}

/// The visible area of page `page` (from 1) of a stored PDF.
async fn page_box(store: &DocumentStore, sha256: &str, page: i64) -> Result<[f64; 4], Failure> {
    let source = store
        .source(sha256)
        .await
        .map_err(|e| Failure::Internal(e.into()))?;
    tokio::task::spawn_blocking(move || {
        let document =
            pdf_sign::Document::open(source).map_err(|e| Failure::UnreadablePdf(e.to_string()))?;
        document
            .page_box(usize::try_from(page - 1).unwrap_or(usize::MAX))
            .map_err(|e| Failure::UnreadablePdf(e.to_string()))
    })
    .await
    .map_err(|e| Failure::Internal(e.into()))?
}

/// A document's PDF as it stands now (the original before sending, the signed one later),
/// streamed from the store, with its name for the download.
pub async fn document_pdf(
    db: &Db,
    store: &DocumentStore,
    user: &User,
    contract_id: &str,
    document_id: &str,
) -> Result<(String, Download), Failure> {
    get(db, user, contract_id).await?;
    current_pdf(db, store, contract_id, document_id).await
}

/// The certificate of completion of a completed contract `user` may see.
pub async fn certificate_pdf(
    db: &Db,
    store: &DocumentStore,
    user: &User,
    contract_id: &str,
) -> Result<Download, Failure> {
    get(db, user, contract_id).await?;
    stored_certificate(db, store, contract_id).await
}

/// The certificate of completion's bytes; a contract not completed has none.
async fn stored_certificate(
    db: &Db,
    store: &DocumentStore,
    contract_id: &str,
) -> Result<Download, Failure> {
    let sha256: Option<String> =
        sqlx::query("SELECT completion_sha256 FROM contracts WHERE id = $1")
            .bind(contract_id)
            .fetch_one(&db.pool)
            .await?
            .try_get("completion_sha256")?;
    let sha256 = sha256.ok_or_else(|| {
        Failure::Conflict(vec![FieldError::new(
            "contract",
            "error.contract_not_completed",
        )])
    })?;
    store
        .get(&sha256)
        .await
        .map_err(|e| Failure::Internal(e.into()))
}

/// A document's PDF as it stands now, with its name.
async fn current_pdf(
    db: &Db,
    store: &DocumentStore,
    contract_id: &str,
    document_id: &str,
) -> Result<(String, Download), Failure> {
    let row = sqlx::query(
        "SELECT name, current_sha256 FROM contract_documents WHERE id = $1 AND contract_id = $2",
    )
    .bind(document_id)
    .bind(contract_id)
    .fetch_optional(&db.pool)
    .await?
    .ok_or(Failure::NotFound)?;
    let name: String = row.try_get("name")?;
    let sha256: String = row.try_get("current_sha256")?;
    let download = store.get(&sha256).await.map_err(|e| match e {
        StorageError::NotFound => Failure::Internal(anyhow::anyhow!(
            "the stored bytes of document {document_id} ({sha256}) are missing"
        )),
        other => Failure::Internal(other.into()),
    })?;
    Ok((name, download))
}

/// What the sender may set on a draft besides its parties and documents; absent fields stay.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default)]
pub struct Options {
    pub title: Option<String>,
    /// Days before the first automatic reminder, and between reminders: 1 to 30.
    pub reminder_days: Option<i64>,
    /// Automatic reminders at most: 0 (none) to 5.
    pub max_reminders: Option<i64>,
    /// Whether a party may forward their place to someone else (recorded in the history).
    pub allow_forwarding: Option<bool>,
    /// Days from sending to expiry: 1 to 365.
    pub expiry_days: Option<i64>,
}

/// Changes a draft's title, reminders or forwarding; every problem is reported at once.
pub async fn set_options(
    db: &Db,
    now: i64,
    sender: &User,
    contract_id: &str,
    options: &Options,
) -> Result<Contract, Failure> {
    let contract = changeable_draft(db, sender, contract_id).await?;
    let mut errors = Vec::new();
    let title = match options.title.as_deref().map(check_title) {
        Some(Ok(t)) => t,
        Some(Err(f)) => {
            errors.extend_from_slice(f.fields());
            contract.title.clone()
        }
        None => contract.title.clone(),
    };
    let reminder_days = options.reminder_days.unwrap_or(contract.reminder_days);
    if !(1..=30).contains(&reminder_days) {
        errors.push(FieldError::new("reminder_days", "error.reminder_days"));
    }
    let max_reminders = options.max_reminders.unwrap_or(contract.max_reminders);
    if !(0..=MAX_REMINDERS).contains(&max_reminders) {
        errors.push(FieldError::new("max_reminders", "error.max_reminders"));
    }
    let expiry_days = options.expiry_days.unwrap_or(contract.expiry_days);
    if !(1..=365).contains(&expiry_days) {
        errors.push(FieldError::new("expiry_days", "error.expiry_days"));
    }
    if !errors.is_empty() {
        return Err(Failure::Invalid(errors));
    }
    let forwarding = options
        .allow_forwarding
        .unwrap_or(contract.allow_forwarding);
    let mut tx = db.begin().await?;
    let updated = sqlx::query(
        "UPDATE contracts SET title = $2, reminder_days = $3, max_reminders = $4, \
         allow_forwarding = $5, updated_at = $6, expiry_days = $8 WHERE id = $1 AND status = $7",
    )
    .bind(contract_id)
    .bind(&title)
    .bind(reminder_days)
    .bind(max_reminders)
    .bind(forwarding)
    .bind(now)
    .bind(ContractStatus::Draft.as_str())
    .bind(expiry_days)
    .execute(&mut *tx)
    .await?;
    if updated.rows_affected() == 0 {
        return Err(Failure::Conflict(vec![FieldError::new(
            "contract",
            "error.contract_not_draft",
        )]));
    }
    record(
        &mut tx,
        now,
        contract_id,
        &Actor::user(sender),
        "contract.options_changed",
        serde_json::json!({
            "title": title, "reminder_days": reminder_days, "max_reminders": max_reminders,
            "allow_forwarding": forwarding, "expiry_days": expiry_days,
        }),
    )
    .await?;
    tx.commit().await?;
    get(db, sender, contract_id).await
}

/// A contract `sender` may change: a document manager's own (refused before it is looked up
/// when the caller manages no contracts).
async fn sender_contract(db: &Db, sender: &User, contract_id: &str) -> Result<Contract, Failure> {
    require(sender.roles, Action::ManageContracts)?;
    let contract = get(db, sender, contract_id).await?;
    may_change(sender, &contract)?;
    Ok(contract)
}

/// A draft the sender may still change: theirs, not sent.
async fn changeable_draft(db: &Db, sender: &User, contract_id: &str) -> Result<Contract, Failure> {
    let contract = sender_contract(db, sender, contract_id).await?;
    if contract.status != ContractStatus::Draft {
        return Err(Failure::Conflict(vec![FieldError::new(
            "contract",
            "error.contract_not_draft",
        )]));
    }
    Ok(contract)
}

/// Removes a party from a draft, with the fields placed for them.
pub async fn remove_party(
    db: &Db,
    now: i64,
    sender: &User,
    contract_id: &str,
    party_id: &str,
) -> Result<(), Failure> {
    let contract = changeable_draft(db, sender, contract_id).await?;
    let party = contract
        .parties
        .iter()
        .find(|p| p.id == party_id)
        .ok_or(Failure::NotFound)?;
    let mut tx = db.begin().await?;
    sqlx::query("DELETE FROM contract_fields WHERE party_id = $1 AND contract_id = $2")
        .bind(party_id)
        .bind(contract_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM contract_parties WHERE id = $1 AND contract_id = $2")
        .bind(party_id)
        .bind(contract_id)
        .execute(&mut *tx)
        .await?;
    record(
        &mut tx,
        now,
        contract_id,
        &Actor::user(sender),
        "contract.party_removed",
        serde_json::json!({ "party": party_id, "email": party.email }),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Removes a document from a draft, with its fields; its bytes go when no document refers to
/// them any more.
pub async fn remove_document(
    db: &Db,
    store: &DocumentStore,
    now: i64,
    sender: &User,
    contract_id: &str,
    document_id: &str,
) -> Result<(), Failure> {
    changeable_draft(db, sender, contract_id).await?;
    let document = documents(db, sender, contract_id)
        .await?
        .into_iter()
        .find(|d| d.id == document_id)
        .ok_or(Failure::NotFound)?;
    let mut tx = db.begin().await?;
    sqlx::query("DELETE FROM contract_fields WHERE document_id = $1 AND contract_id = $2")
        .bind(document_id)
        .bind(contract_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM contract_documents WHERE id = $1 AND contract_id = $2")
        .bind(document_id)
        .bind(contract_id)
        .execute(&mut *tx)
        .await?;
    record(
        &mut tx,
        now,
        contract_id,
        &Actor::user(sender),
        "contract.document_removed",
        serde_json::json!({ "document": document_id, "name": document.name,
                            "sha256": document.original_sha256 }),
    )
    .await?;
    tx.commit().await?;
    forget_unused(db, store, &document.original_sha256).await
}

/// Removes a field from a draft.
pub async fn remove_field(
    db: &Db,
    now: i64,
    sender: &User,
    contract_id: &str,
    field_id: &str,
) -> Result<(), Failure> {
    changeable_draft(db, sender, contract_id).await?;
    let mut tx = db.begin().await?;
    let removed = sqlx::query("DELETE FROM contract_fields WHERE id = $1 AND contract_id = $2")
        .bind(field_id)
        .bind(contract_id)
        .execute(&mut *tx)
        .await?;
    if removed.rows_affected() == 0 {
        return Err(Failure::NotFound);
    }
    record(
        &mut tx,
        now,
        contract_id,
        &Actor::user(sender),
        "contract.field_removed",
        serde_json::json!({ "field": field_id }),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// One event of a contract's history.
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    pub seq: i64,
    pub at: i64,
    pub kind: String,
    pub actor_name: String,
    pub actor_email: String,
    /// The IP address and user agent the action came from, when it came from a request.
    pub address: Option<String>,
    pub user_agent: Option<String>,
    pub detail: serde_json::Value,
}

/// The history of a contract `user` may see, oldest first.
pub async fn events(db: &Db, user: &User, contract_id: &str) -> Result<Vec<Event>, Failure> {
    get(db, user, contract_id).await?;
    history(db, contract_id).await
}

/// The history of a contract, oldest first.
pub(crate) async fn history(db: &Db, contract_id: &str) -> Result<Vec<Event>, Failure> {
    let rows = sqlx::query(
        "SELECT seq, at, kind, actor_name, actor_email, address, user_agent, detail \
         FROM contract_events WHERE contract_id = $1 ORDER BY seq",
    )
    .bind(contract_id)
    .fetch_all(&db.pool)
    .await?;
    rows.iter()
        .map(|r| {
            let detail: String = r.try_get("detail")?;
            Ok(Event {
                seq: r.try_get("seq")?,
                at: r.try_get("at")?,
                kind: r.try_get("kind")?,
                actor_name: r.try_get("actor_name")?,
                actor_email: r.try_get("actor_email")?,
                address: r.try_get("address")?,
                user_agent: r.try_get("user_agent")?,
                detail: serde_json::from_str(&detail)
                    .map_err(|e| Failure::Internal(anyhow::anyhow!("an event's detail: {e}")))?,
            })
        })
        .collect()
}

/// Where a request came from, for the contract's history and the certificate of completion.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize)]
pub struct Via {
    pub address: Option<String>,
    pub user_agent: Option<String>,
}

/// Who did something to a contract, as its history keeps them: the identity as it is at that
/// moment (a later rename does not rewrite the history).
#[derive(Debug, Clone)]
pub struct Actor {
    pub user_id: Option<String>,
    pub party_id: Option<String>,
    /// The organisation the audit log files the event under (the contract's).
    pub org_id: String,
    pub name: String,
    pub email: String,
    pub via: Via,
}

impl Actor {
    /// A user of the instance (the sender, an administrator).
    pub fn user(user: &User) -> Self {
        Self {
            user_id: Some(user.id.clone()),
            party_id: None,
            org_id: user.org_id.clone(),
            name: user.display_name.clone(),
            email: user.email.clone(),
            via: Via::default(),
        }
    }

    /// A party of `contract` (with the account they act from, if any).
    pub fn party(contract: &Contract, party: &Party) -> Self {
        Self {
            user_id: party.user_id.clone(),
            party_id: Some(party.id.clone()),
            org_id: contract.org_id.clone(),
            name: party.name.clone(),
            email: party.email.clone(),
            via: Via::default(),
        }
    }

    /// Inkan itself (a job: completion, expiry).
    pub fn system(contract: &Contract) -> Self {
        Self {
            user_id: None,
            party_id: None,
            org_id: contract.org_id.clone(),
            name: "Inkan".into(),
            email: String::new(),
            via: Via::default(),
        }
    }

    pub fn via(mut self, via: &Via) -> Self {
        self.via = via.clone();
        self
    }

    /// The audit log's actor: a user id, `party:<id>` or `system`.
    fn audit_actor(&self) -> String {
        match (&self.user_id, &self.party_id) {
            (Some(user), _) => user.clone(),
            (None, Some(party)) => format!("party:{party}"),
            (None, None) => "system".into(),
        }
    }
}

/// Appends to the contract's history and to the audit log, on the caller's transaction.
pub(crate) async fn record(
    tx: &mut Transaction<'static, Any>,
    now: i64,
    contract_id: &str,
    actor: &Actor,
    kind: &str,
    detail: serde_json::Value,
) -> Result<(), Failure> {
    // One writer of a contract's history at a time: the contract's row lock (PostgreSQL; SQLite
    // holds its write lock already), so concurrent requests never number two events alike.
    sqlx::query("UPDATE contracts SET updated_at = updated_at WHERE id = $1")
        .bind(contract_id)
        .execute(&mut **tx)
        .await?;
    let seq = next_number(tx, Numbered::Events, contract_id).await?;
    sqlx::query(
        "INSERT INTO contract_events (id, contract_id, seq, at, kind, actor_user_id, \
         actor_party_id, actor_name, actor_email, address, user_agent, detail) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(new_id()?)
    .bind(contract_id)
    .bind(seq)
    .bind(now)
    .bind(kind)
    .bind(actor.user_id.clone())
    .bind(actor.party_id.clone())
    .bind(&actor.name)
    .bind(&actor.email)
    .bind(actor.via.address.clone())
    .bind(actor.via.user_agent.clone())
    .bind(detail.to_string())
    .execute(&mut **tx)
    .await?;
    if let Some(event) = webhook_event(kind) {
        let data = serde_json::json!({
            "contract": contract_id,
            "actor": { "name": actor.name, "email": actor.email, "party": actor.party_id },
            "detail": detail,
        });
        crate::webhooks::emit(tx, now, &actor.org_id, event, data).await?;
    }
    let mut audited = detail;
    audited["contract"] = serde_json::Value::String(contract_id.to_owned());
    let who = actor.audit_actor();
    audit::append(
        tx,
        now,
        &audit::Event {
            org_id: Some(&actor.org_id),
            actor: Some(&who),
            action: kind,
            detail: audited,
        },
    )
    .await?;
    Ok(())
}

/// The webhook event of a history event, for the organisation's subscribed endpoints.
fn webhook_event(kind: &str) -> Option<&'static str> {
    Some(match kind {
        "contract.sent" => "contract.sent",
        "party.opened" => "contract.opened",
        "party.signed" => "contract.signed",
        "party.approved" => "contract.approved",
        "party.declined" => "contract.declined",
        "contract.cancelled" => "contract.cancelled",
        "contract.expired" => "contract.expired",
        "contract.completed" => "contract.completed",
        _ => return None,
    })
}

/// What a contract numbers 1, 2, 3… in its own rows.
#[derive(Debug, Clone, Copy)]
enum Numbered {
    Parties,
    Documents,
    Events,
}

/// The next number of `what` in the contract (its rows' unique index catches a race).
async fn next_number(
    tx: &mut Transaction<'static, Any>,
    what: Numbered,
    contract_id: &str,
) -> Result<i64, Failure> {
    let sql = match what {
        Numbered::Parties => {
            "SELECT COALESCE(MAX(position), 0) + 1 AS next FROM contract_parties \
             WHERE contract_id = $1"
        }
        Numbered::Documents => {
            "SELECT COALESCE(MAX(position), 0) + 1 AS next FROM contract_documents \
             WHERE contract_id = $1"
        }
        Numbered::Events => {
            "SELECT COALESCE(MAX(seq), 0) + 1 AS next FROM contract_events WHERE contract_id = $1"
        }
    };
    Ok(sqlx::query(sql)
        .bind(contract_id)
        .fetch_one(&mut **tx)
        .await?
        .try_get("next")?)
}

const CONTRACT_COLUMNS: &str = "id, org_id, title, status, created_by, created_at, sent_at, \
     completed_at, expires_at, expiry_days, reminder_days, max_reminders, allow_forwarding, \
     end_reason";

fn contract_from_row(r: &AnyRow) -> Result<Contract, sqlx::Error> {
    Ok(Contract {
        id: r.try_get("id")?,
        org_id: r.try_get("org_id")?,
        title: r.try_get("title")?,
        status: stored(r, "status", ContractStatus::parse)?,
        created_by: r.try_get("created_by")?,
        created_at: r.try_get("created_at")?,
        sent_at: r.try_get("sent_at")?,
        completed_at: r.try_get("completed_at")?,
        expires_at: r.try_get("expires_at")?,
        expiry_days: r.try_get("expiry_days")?,
        end_reason: r.try_get("end_reason")?,
        reminder_days: r.try_get("reminder_days")?,
        max_reminders: r.try_get("max_reminders")?,
        allow_forwarding: flag(r, "allow_forwarding")?,
        parties: Vec::new(),
    })
}

async fn load(db: &Db, id: &str) -> Result<Option<Contract>, Failure> {
    let row = sqlx::query(&format!(
        "SELECT {CONTRACT_COLUMNS} FROM contracts WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(&db.pool)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let mut contract = contract_from_row(&row)?;
    contract.parties = parties(db, id).await?;
    Ok(Some(contract))
}

async fn parties(db: &Db, contract_id: &str) -> Result<Vec<Party>, Failure> {
    let rows = sqlx::query(
        "SELECT id, position, step, role, signature_kind, user_id, name, email, status \
         FROM contract_parties WHERE contract_id = $1 ORDER BY step, position",
    )
    .bind(contract_id)
    .fetch_all(&db.pool)
    .await?;
    rows.iter()
        .map(|r| {
            let kind: Option<String> = r.try_get("signature_kind")?;
            Ok(Party {
                id: r.try_get("id")?,
                position: r.try_get("position")?,
                step: r.try_get("step")?,
                role: stored(r, "role", PartyRole::parse)?,
                signature_kind: kind
                    .as_deref()
                    .map(SignatureKind::parse)
                    .transpose()
                    .map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
                user_id: r.try_get("user_id")?,
                name: r.try_get("name")?,
                email: r.try_get("email")?,
                status: stored(r, "status", PartyStatus::parse)?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(Failure::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_and_kind_reads_back_what_it_stores() {
        for s in ContractStatus::ALL {
            assert_eq!(ContractStatus::parse(s.as_str()).ok(), Some(*s));
        }
        for s in PartyStatus::ALL {
            assert_eq!(PartyStatus::parse(s.as_str()).ok(), Some(*s));
        }
        for r in PartyRole::ALL {
            assert_eq!(PartyRole::parse(r.as_str()).ok(), Some(*r));
        }
        for k in SignatureKind::ALL {
            assert_eq!(SignatureKind::parse(k.as_str()).ok(), Some(*k));
        }
        assert!(ContractStatus::parse("Draft").is_err());
    }
}
