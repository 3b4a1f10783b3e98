//! A contract in progress: sending it (every field written into the documents first), each
//! party's turn (personal links, outside parties' one-time codes and sessions), approving and
//! declining, the step order, reminders and expiry. Signatures themselves are in
//! [`super::signature`], completion in [`super::completion`].

use serde::Serialize;
use sqlx::{Any, Row, Transaction};

use super::desk::Desk;
use super::{
    changeable_draft, documents, fields, get, load, record, sender_contract, Actor, Contract,
    ContractStatus, Document, Field, FieldKind, Party, PartyRole, PartyStatus, SignatureKind, Via,
};
use crate::accounts::{self, User, USER_COLUMNS};
use crate::auth::{new_token, token_hash};
use crate::db::Db;
use crate::error::{Failure, FieldError};
use crate::i18n::Lang;
use crate::jobs::{self, NewJob};
use crate::mail::{self, Addressee, Company, Mail};
use crate::storage::StorageError;

/// An outside party's one-time code: how long it is valid, and how many wrong entries it takes.
pub const CODE_SECONDS: i64 = 600;
pub const CODE_TRIES: i64 = 5;
/// An outside party's session after the code, at most.
const PARTY_SESSION_SECONDS: i64 = 2 * 3600;
/// A completed contract's links still open its documents this long.
pub const DOWNLOAD_SECONDS: i64 = 30 * 86400;
/// A reason (declining, cancelling), at most.
const MAX_REASON: usize = 1000;

/// The user `id` of any organisation.
pub(crate) async fn user_by_id(db: &Db, id: &str) -> Result<Option<User>, Failure> {
    let row = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"))
        .bind(id)
        .fetch_optional(&db.pool)
        .await?;
    row.map(|r| User::from_row(&r).map_err(Failure::Internal))
        .transpose()
}

// Sending

/// Sends a draft: checks it is complete (every problem at once), writes every field and the
/// contract ID into each document, and asks the parties of the first step. The documents are
/// prepared before anything is recorded (their bytes are content-addressed, so a send that
/// fails after leaves only unreferenced bytes); the status, the prepared documents, the links
/// and the mails are one transaction.
pub async fn send(
    desk: &Desk,
    now: i64,
    sender: &User,
    via: &Via,
    contract_id: &str,
) -> Result<Contract, Failure> {
    let contract = changeable_draft(&desk.db, sender, contract_id).await?;
    let documents = documents(&desk.db, sender, contract_id).await?;
    let fields = fields(&desk.db, sender, contract_id).await?;
    readiness(desk, now, &contract, &documents, &fields).await?;
    let mut prepared = Vec::with_capacity(documents.len());
    for document in &documents {
        let mine: Vec<&Field> = fields
            .iter()
            .filter(|f| f.document_id == document.id)
            .collect();
        prepared.push(prepare(desk, &contract, document, &mine).await?);
    }
    let mut tx = desk.db.begin().await?;
    let expires_at = now + contract.expiry_days * 86400;
    let sent = sqlx::query(
        "UPDATE contracts SET status = $2, sent_at = $3, expires_at = $4, updated_at = $3 \
         WHERE id = $1 AND status = $5",
    )
    .bind(contract_id)
    .bind(ContractStatus::Sent.as_str())
    .bind(now)
    .bind(expires_at)
    .bind(ContractStatus::Draft.as_str())
    .execute(&mut *tx)
    .await?;
    if sent.rows_affected() == 0 {
        return Err(not_draft());
    }
    for (document, sha256) in documents.iter().zip(&prepared) {
        sqlx::query(
            "UPDATE contract_documents SET prepared_sha256 = $2, current_sha256 = $2 \
             WHERE id = $1",
        )
        .bind(&document.id)
        .bind(sha256)
        .execute(&mut *tx)
        .await?;
    }
    sqlx::query("UPDATE contract_parties SET language = $2 WHERE contract_id = $1")
        .bind(contract_id)
        .bind(sender.language.as_str())
        .execute(&mut *tx)
        .await?;
    record(
        &mut tx,
        &desk.db.audit,
        now,
        contract_id,
        &Actor::user(sender).via(via),
        "contract.sent",
        serde_json::json!({
            "expires_at": expires_at,
            "documents": documents.iter().zip(&prepared).map(|(d, p)| serde_json::json!({
                "document": d.id, "original_sha256": d.original_sha256, "prepared_sha256": p,
            })).collect::<Vec<_>>(),
        }),
    )
    .await?;
    advance(&mut tx, desk, now, contract_id).await?;
    tx.commit().await?;
    get(&desk.db, sender, contract_id).await
}

fn not_draft() -> Failure {
    Failure::Conflict(vec![FieldError::new(
        "contract",
        "error.contract_not_draft",
    )])
}

/// What a draft needs before it is sent: a document, a party who signs or approves, a
/// signature field for every signer, and a valid certificate for every certificate signer
/// (refused now, not when they come to sign).
async fn readiness(
    desk: &Desk,
    now: i64,
    contract: &Contract,
    documents: &[Document],
    fields: &[Field],
) -> Result<(), Failure> {
    let mut errors = Vec::new();
    if documents.is_empty() {
        errors.push(FieldError::new("documents", "error.contract_no_documents"));
    }
    let acting: Vec<&Party> = contract
        .parties
        .iter()
        .filter(|p| p.role != PartyRole::CopyRecipient)
        .collect();
    if acting.is_empty() {
        errors.push(FieldError::new("parties", "error.contract_no_signers"));
    }
    let mut unplaced = false;
    let mut uncertified = false;
    for party in acting.iter().filter(|p| p.role == PartyRole::Signer) {
        let placed = fields
            .iter()
            .any(|f| f.party_id == party.id && f.kind == FieldKind::Signature);
        unplaced |= !placed;
        if party.signature_kind == Some(SignatureKind::Certificate) {
            let holds = match &party.user_id {
                Some(id) => match user_by_id(&desk.db, id).await? {
                    Some(user) if user.active => {
                        crate::signing::signing_certificate(&desk.db, now, &user)
                            .await
                            .is_ok()
                    }
                    _ => false,
                },
                None => false,
            };
            uncertified |= !holds;
        }
    }
    if unplaced {
        errors.push(FieldError::new("fields", "error.signer_without_field"));
    }
    if uncertified {
        errors.push(FieldError::new(
            "parties",
            "error.party_without_certificate",
        ));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Failure::Conflict(errors))
    }
}

/// The PDF field name of a contract field.
pub(crate) fn field_name(field_id: &str) -> String {
    format!("inkan-{field_id}")
}

/// Writes `fields` and the contract ID into a copy of `document`; returns the copy's SHA-256.
async fn prepare(
    desk: &Desk,
    contract: &Contract,
    document: &Document,
    fields: &[&Field],
) -> Result<String, Failure> {
    let names: std::collections::HashMap<&str, &str> = contract
        .parties
        .iter()
        .map(|p| (p.id.as_str(), p.name.as_str()))
        .collect();
    let form_fields = fields
        .iter()
        .map(|f| {
            let party = names.get(f.party_id.as_str()).copied().unwrap_or_default();
            let label = match (f.kind, f.label.is_empty()) {
                (FieldKind::Signature, _) => format!("署名 Signature: {party}"),
                (FieldKind::DateSigned, true) => "日付 Date".to_owned(),
                (FieldKind::Name, true) => format!("氏名 Name: {party}"),
                (_, true) => party.to_owned(),
                (_, false) => f.label.clone(),
            };
            pdf_sign::form::FormField {
                name: field_name(&f.id),
                kind: match f.kind {
                    FieldKind::Signature => pdf_sign::form::FieldKind::Signature,
                    FieldKind::Checkbox => pdf_sign::form::FieldKind::Checkbox,
                    FieldKind::Text | FieldKind::DateSigned | FieldKind::Name => {
                        pdf_sign::form::FieldKind::Text
                    }
                },
                page: usize::try_from(f.page).unwrap_or_default(),
                x: f.x,
                y: f.y,
                width: f.width,
                height: f.height,
                label,
                value: None,
            }
        })
        .collect();
    let options = pdf_sign::form::PrepareOptions {
        fields: form_fields,
        margin_text: Some(format!("Inkan Contract ID: {}", contract.id)),
    };
    let source = desk
        .store
        .source(&document.original_sha256)
        .await
        .map_err(|e| Failure::Internal(e.into()))?;
    write_document(desk, None, move |out| {
        pdf_sign::form::prepare(source, out, &options)
            .map(drop)
            .map_err(|e| Failure::UnreadablePdf(e.to_string()))
    })
    .await
}

/// Writes a new document with `write` on a blocking thread (hashed as it is written, never
/// read back) and keeps it in the store; returns its SHA-256. What `write` fails with is
/// returned, and the partial document is dropped. With a `parent`, the new document is an
/// incremental update of it, kept as a version (only what follows the parent's bytes is
/// written; see [`crate::storage::DocumentStore::create_version`]).
pub(crate) async fn write_document<E>(
    desk: &Desk,
    parent: Option<crate::storage::Stored>,
    write: impl FnOnce(&mut crate::storage::NewDocument) -> Result<(), E> + Send + 'static,
) -> Result<String, E>
where
    E: std::convert::From<StorageError>
        + std::convert::From<tokio::task::JoinError>
        + Send
        + 'static,
{
    let store = desk.store.clone();
    let written = tokio::task::spawn_blocking(move || -> Result<_, E> {
        let mut out = match &parent {
            Some(parent) => store.create_version(parent)?,
            None => store.create()?,
        };
        write(&mut out)?;
        Ok(out.finish()?)
    })
    .await??;
    Ok(desk.store.keep(written).await?.sha256)
}

// The order of the parties

/// After a change to a contract in progress (sent, a party signed or approved): when every
/// party who signs or approves has, queues the completion; otherwise asks the parties of the
/// lowest step still open who have not been asked yet. In the caller's transaction.
pub(crate) async fn advance(
    tx: &mut Transaction<'static, Any>,
    desk: &Desk,
    now: i64,
    contract_id: &str,
) -> Result<(), Failure> {
    let rows = sqlx::query(
        "SELECT id, step, role, status FROM contract_parties WHERE contract_id = $1 \
         ORDER BY step, position",
    )
    .bind(contract_id)
    .fetch_all(&mut **tx)
    .await?;
    let mut open = Vec::new();
    for r in &rows {
        let role = crate::db::stored(r, "role", PartyRole::parse)?;
        let status = crate::db::stored(r, "status", PartyStatus::parse)?;
        if role == PartyRole::CopyRecipient
            || matches!(status, PartyStatus::Signed | PartyStatus::Approved)
        {
            continue;
        }
        if status == PartyStatus::Declined {
            return Ok(());
        }
        open.push((
            r.try_get::<String, _>("id")?,
            r.try_get::<i64, _>("step")?,
            status,
        ));
    }
    let Some(step) = open.iter().map(|(_, step, _)| *step).min() else {
        jobs::enqueue(
            &mut **tx,
            now,
            &NewJob::new(
                jobs::Kind::ContractCompletion,
                serde_json::json!({ "contract": contract_id }),
            )
            .dedupe_key(format!("contract_completion:{contract_id}")),
        )
        .await?;
        return Ok(());
    };
    for (party_id, _, _) in open
        .iter()
        .filter(|(_, s, status)| *s == step && *status == PartyStatus::Waiting)
    {
        ask(tx, desk, now, contract_id, party_id, false).await?;
    }
    Ok(())
}

/// Who the mails about a contract come from: the sender's name and organisation.
struct From {
    sender: String,
    organisation: String,
}

async fn from(
    tx: &mut Transaction<'static, Any>,
    contract_id: &str,
) -> Result<(Contract, From), Failure> {
    let row = sqlx::query(
        "SELECT c.title, c.expires_at, c.message, u.display_name, o.name AS organisation \
         FROM contracts c JOIN users u ON u.id = c.created_by \
         JOIN organisations o ON o.id = c.org_id WHERE c.id = $1",
    )
    .bind(contract_id)
    .fetch_one(&mut **tx)
    .await?;
    let contract = Contract {
        title: row.try_get("title")?,
        expires_at: row.try_get("expires_at")?,
        message: row
            .try_get::<Option<String>, _>("message")?
            .unwrap_or_default(),
        ..Contract::empty(contract_id)
    };
    Ok((
        contract,
        From {
            sender: row.try_get("display_name")?,
            organisation: row.try_get("organisation")?,
        },
    ))
}

/// A party as the mails to them need it.
pub(crate) struct Recipient {
    pub name: String,
    pub email: String,
    pub role: PartyRole,
    pub outside: bool,
    /// A user's own language; an outside party's, the sender's.
    pub lang: Lang,
    pub org_id: String,
    /// A user's organisation (this one or another on the instance); none for an outside party.
    pub company: Option<String>,
}

impl Recipient {
    /// The company the mail's greeting names.
    pub fn company(&self) -> Company<'_> {
        self.company
            .as_deref()
            .map_or(Company::Unknown, Company::Named)
    }
}

pub(crate) async fn recipient(
    conn: &mut sqlx::AnyConnection,
    party_id: &str,
) -> Result<Recipient, Failure> {
    let row = sqlx::query(
        "SELECT p.name, p.email, p.role, p.user_id, p.language, u.language AS user_language, \
         c.org_id, o.name AS company FROM contract_parties p \
         JOIN contracts c ON c.id = p.contract_id \
         LEFT JOIN users u ON u.id = p.user_id LEFT JOIN organisations o ON o.id = u.org_id \
         WHERE p.id = $1",
    )
    .bind(party_id)
    .fetch_one(conn)
    .await?;
    let user_id: Option<String> = row.try_get("user_id")?;
    let lang: Option<String> = row
        .try_get::<Option<String>, _>("user_language")?
        .or(row.try_get("language")?);
    Ok(Recipient {
        name: row.try_get("name")?,
        email: row.try_get("email")?,
        role: crate::db::stored(&row, "role", PartyRole::parse)?,
        outside: user_id.is_none(),
        lang: lang.as_deref().and_then(Lang::parse).unwrap_or_default(),
        org_id: row.try_get("org_id")?,
        company: row.try_get("company")?,
    })
}

/// Mails a party a new personal link: their turn (`reminder` false: the party becomes
/// notified) or a reminder. Each link is a random token whose hash is kept.
async fn ask(
    tx: &mut Transaction<'static, Any>,
    desk: &Desk,
    now: i64,
    contract_id: &str,
    party_id: &str,
    reminder: bool,
) -> Result<(), Failure> {
    let token = new_token()?;
    sqlx::query(
        "INSERT INTO contract_links (token_hash, party_id, contract_id, created_at) \
         VALUES ($1, $2, $3, $4)",
    )
    .bind(token_hash(&token))
    .bind(party_id)
    .bind(contract_id)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "UPDATE contract_parties SET status = CASE WHEN status = $2 THEN $3 ELSE status END, \
         notified_at = COALESCE(notified_at, $4), last_mailed_at = $4, \
         reminders_sent = reminders_sent + $5 WHERE id = $1",
    )
    .bind(party_id)
    .bind(PartyStatus::Waiting.as_str())
    .bind(PartyStatus::Notified.as_str())
    .bind(now)
    .bind(i64::from(reminder))
    .execute(&mut **tx)
    .await?;
    let (contract, from) = from(tx, contract_id).await?;
    let to = recipient(tx, party_id).await?;
    let link = desk.party_link(&token);
    let (name, sender, organisation, title, role) = (
        to.name.as_str(),
        from.sender.as_str(),
        from.organisation.as_str(),
        contract.title.as_str(),
        to.role.as_str(),
    );
    let expires_at = contract.expires_at.unwrap_or(now);
    let mail = if reminder {
        Mail::ContractReminder {
            name,
            sender,
            organisation,
            title,
            role,
            link: &link,
            expires_at,
            code: to.outside,
            message: &contract.message,
        }
    } else {
        Mail::ContractRequest {
            name,
            sender,
            organisation,
            title,
            role,
            link: &link,
            expires_at,
            code: to.outside,
            message: &contract.message,
        }
    };
    mail::send(
        tx,
        now,
        &Addressee {
            org_id: &to.org_id,
            address: &to.email,
            lang: to.lang,
            company: to.company(),
        },
        &mail,
    )
    .await?;
    Ok(())
}

// A party's link

/// Who opened a party's link: the logged-in user, if any, and an outside party's session
/// token (from the one-time code), if any.
#[derive(Debug, Clone, Default)]
pub struct Visitor {
    pub user: Option<User>,
    pub session: Option<String>,
}

/// What a party's link leads to now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// A user party who must log in (as that user) first.
    Login,
    /// An outside party who must confirm a one-time code first.
    Code,
    /// The parties of an earlier step have not finished.
    NotYourTurn,
    /// The party may sign, approve or decline.
    Act,
    /// Their signature is being carried out.
    Signing,
    /// They have acted; the contract goes on with the others.
    Done,
    /// The contract is completed: its documents and certificate may be downloaded.
    Completed,
    /// Declined, cancelled or expired: nothing more happens.
    Closed,
}

/// A party's view of their contract through their link.
#[derive(Debug, Clone, Serialize)]
pub struct PartyView {
    pub contract_id: String,
    pub title: String,
    pub status: ContractStatus,
    pub sender: String,
    pub organisation: String,
    pub expires_at: Option<i64>,
    pub party: Party,
    pub stage: Stage,
    /// The documents (only once the party is authenticated and it is or was their turn).
    pub documents: Vec<Document>,
    /// The party's own fields.
    pub fields: Vec<Field>,
    /// A signature that failed and may be asked for again, with why.
    pub failed: Option<String>,
    /// Whether the sender allows forwarding.
    pub allow_forwarding: bool,
}

/// A party's link, resolved: the contract, the party, and whether the visitor is them.
#[derive(Debug, Clone)]
pub struct Access {
    pub contract: Contract,
    pub party: Party,
    /// The visitor is the party: logged in as their user, or with their code session.
    pub authenticated: bool,
    /// How: `login` or `email_code`.
    pub authentication: &'static str,
}

/// Resolves a link token. An unknown token, or one of a contract whose links have lapsed
/// (expired, or completed more than [`DOWNLOAD_SECONDS`] ago), is not found.
pub async fn access(db: &Db, now: i64, token: &str, visitor: &Visitor) -> Result<Access, Failure> {
    let row = sqlx::query(
        "SELECT l.party_id, l.contract_id, p.session_hash, p.session_expires_at \
         FROM contract_links l JOIN contract_parties p ON p.id = l.party_id \
         WHERE l.token_hash = $1",
    )
    .bind(token_hash(token))
    .fetch_optional(&db.pool)
    .await?
    .ok_or(Failure::NotFound)?;
    let contract_id: String = row.try_get("contract_id")?;
    let party_id: String = row.try_get("party_id")?;
    let contract = load(db, &contract_id).await?.ok_or(Failure::NotFound)?;
    let party = contract
        .parties
        .iter()
        .find(|p| p.id == party_id)
        .cloned()
        .ok_or(Failure::NotFound)?;
    let lapsed = match contract.status {
        ContractStatus::Completed => contract
            .completed_at
            .is_some_and(|t| now >= t + DOWNLOAD_SECONDS),
        ContractStatus::Draft => true,
        _ => false,
    };
    if lapsed {
        return Err(Failure::NotFound);
    }
    let (authenticated, authentication) = match &party.user_id {
        Some(user_id) => (
            visitor
                .user
                .as_ref()
                .is_some_and(|u| &u.id == user_id && u.active),
            "login",
        ),
        None => {
            let session_hash: Option<String> = row.try_get("session_hash")?;
            let until: Option<i64> = row.try_get("session_expires_at")?;
            let valid = match (&visitor.session, session_hash, until) {
                (Some(s), Some(h), Some(until)) => now < until && token_hash(s) == h,
                _ => false,
            };
            (valid, "email_code")
        }
    };
    Ok(Access {
        contract,
        party,
        authenticated,
        authentication,
    })
}

impl Access {
    /// Where the link leads now.
    pub fn stage(&self, signing: bool) -> Stage {
        match self.contract.status {
            ContractStatus::Completed if self.authenticated => return Stage::Completed,
            ContractStatus::Declined | ContractStatus::Cancelled | ContractStatus::Expired => {
                return Stage::Closed
            }
            _ => {}
        }
        if !self.authenticated {
            return if self.party.user_id.is_some() {
                Stage::Login
            } else {
                Stage::Code
            };
        }
        match self.party.status {
            PartyStatus::Waiting => Stage::NotYourTurn,
            PartyStatus::Notified | PartyStatus::Opened if signing => Stage::Signing,
            PartyStatus::Notified | PartyStatus::Opened
                if self.party.role == PartyRole::CopyRecipient =>
            {
                Stage::Done
            }
            PartyStatus::Notified | PartyStatus::Opened => Stage::Act,
            PartyStatus::Signed | PartyStatus::Approved | PartyStatus::Declined => Stage::Done,
        }
    }

    /// The party may act: authenticated, their turn, the contract in progress. Otherwise the
    /// refusal that says why.
    pub(crate) fn may_act(&self) -> Result<(), Failure> {
        if !self.authenticated {
            return Err(if self.party.user_id.is_some() {
                Failure::Unauthenticated
            } else {
                Failure::Forbidden
            });
        }
        match self.contract.status {
            ContractStatus::Sent => {}
            ContractStatus::Completed => return Err(closed("error.contract_completed")),
            _ => return Err(closed("error.contract_closed")),
        }
        match self.party.status {
            PartyStatus::Waiting => Err(closed("error.not_your_turn")),
            PartyStatus::Notified | PartyStatus::Opened => Ok(()),
            PartyStatus::Signed | PartyStatus::Approved | PartyStatus::Declined => {
                Err(closed("error.party_already_acted"))
            }
        }
    }
}

fn closed(key: &'static str) -> Failure {
    Failure::Conflict(vec![FieldError::new("contract", key)])
}

/// The party's view through their link; the first authenticated view during their turn marks
/// them opened (recorded once in the history).
pub async fn view(
    desk: &Desk,
    now: i64,
    token: &str,
    visitor: &Visitor,
    via: &Via,
) -> Result<PartyView, Failure> {
    let mut access = access(&desk.db, now, token, visitor).await?;
    let (signing, failed) = super::signature::pending(&desk.db, &access.party.id).await?;
    let stage = access.stage(signing);
    if stage == Stage::Act && access.party.status == PartyStatus::Notified {
        let mut tx = desk.db.begin().await?;
        let opened = sqlx::query(
            "UPDATE contract_parties SET status = $2, opened_at = $3 WHERE id = $1 AND status = $4",
        )
        .bind(&access.party.id)
        .bind(PartyStatus::Opened.as_str())
        .bind(now)
        .bind(PartyStatus::Notified.as_str())
        .execute(&mut *tx)
        .await?;
        if opened.rows_affected() == 1 {
            record(
                &mut tx,
                &desk.db.audit,
                now,
                &access.contract.id,
                &Actor::party(&access.contract, &access.party).via(via),
                "party.opened",
                serde_json::json!({ "party": access.party.id,
                                    "authentication": access.authentication }),
            )
            .await?;
        }
        tx.commit().await?;
        access = if opened.rows_affected() == 1 {
            access.party.status = PartyStatus::Opened;
            access
        } else {
            // Moved on meanwhile (another request of theirs): shown as it is now.
            self::access(&desk.db, now, token, visitor).await?
        };
    }
    let shows = matches!(
        stage,
        Stage::Act | Stage::Signing | Stage::Done | Stage::Completed
    );
    let (documents, fields) = if shows {
        let documents = super::document_rows(&desk.db, &access.contract.id).await?;
        let fields = super::field_rows(&desk.db, &access.contract.id)
            .await?
            .into_iter()
            .filter(|f| f.party_id == access.party.id)
            .collect();
        (documents, fields)
    } else {
        (Vec::new(), Vec::new())
    };
    let organisation = accounts::organisation_name(&desk.db, &access.contract.org_id)
        .await?
        .as_str()
        .to_owned();
    let sender = user_by_id(&desk.db, &access.contract.created_by)
        .await?
        .map(|u| u.display_name)
        .unwrap_or_default();
    Ok(PartyView {
        contract_id: access.contract.id.clone(),
        title: access.contract.title.clone(),
        status: access.contract.status,
        sender,
        organisation,
        expires_at: access.contract.expires_at,
        party: access.party.clone(),
        stage,
        documents,
        fields,
        failed,
        allow_forwarding: access.contract.allow_forwarding,
    })
}

/// A document as it stands now, for the party (authenticated, once it is their turn).
pub async fn party_document(
    desk: &Desk,
    now: i64,
    token: &str,
    visitor: &Visitor,
    document_id: &str,
) -> Result<(String, crate::storage::Download), Failure> {
    let access = access(&desk.db, now, token, visitor).await?;
    if !matches!(
        access.stage(false),
        Stage::Act | Stage::Done | Stage::Completed | Stage::Signing
    ) {
        return Err(Failure::Forbidden);
    }
    super::current_pdf(&desk.db, &desk.store, &access.contract.id, document_id).await
}

/// The certificate of completion, for a party of a completed contract (authenticated).
pub async fn party_certificate(
    desk: &Desk,
    now: i64,
    token: &str,
    visitor: &Visitor,
) -> Result<crate::storage::Download, Failure> {
    let access = access(&desk.db, now, token, visitor).await?;
    if access.stage(false) != Stage::Completed {
        return Err(if access.authenticated {
            closed("error.contract_not_completed")
        } else {
            Failure::Forbidden
        });
    }
    super::stored_certificate(&desk.db, &desk.store, &access.contract.id).await
}

/// Sends an outside party a new one-time code (the earlier one stops working).
pub async fn send_code(desk: &Desk, now: i64, token: &str, via: &Via) -> Result<(), Failure> {
    let access = access(&desk.db, now, token, &Visitor::default()).await?;
    if access.party.user_id.is_some() {
        return Err(Failure::BadRequest("error.code_not_needed"));
    }
    if matches!(
        access.contract.status,
        ContractStatus::Declined | ContractStatus::Cancelled | ContractStatus::Expired
    ) {
        return Err(closed("error.contract_closed"));
    }
    let code = one_time_code()?;
    let mut tx = desk.db.begin().await?;
    sqlx::query(
        "UPDATE contract_parties SET code_hash = $2, code_expires_at = $3, code_tries = 0 \
         WHERE id = $1",
    )
    .bind(&access.party.id)
    .bind(token_hash(&format!("{}:{code}", access.party.id)))
    .bind(now + CODE_SECONDS)
    .execute(&mut *tx)
    .await?;
    record(
        &mut tx,
        &desk.db.audit,
        now,
        &access.contract.id,
        &Actor::party(&access.contract, &access.party).via(via),
        "party.code_sent",
        serde_json::json!({ "party": access.party.id, "email": access.party.email }),
    )
    .await?;
    let to = recipient(&mut tx, &access.party.id).await?;
    mail::send(
        &mut tx,
        now,
        &Addressee {
            org_id: &to.org_id,
            address: &to.email,
            lang: to.lang,
            company: to.company(),
        },
        &Mail::ContractCode {
            name: &to.name,
            title: &access.contract.title,
            code: &code,
            minutes: CODE_SECONDS / 60,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Six random digits.
fn one_time_code() -> anyhow::Result<String> {
    let mut bytes = [0u8; 4];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| anyhow::anyhow!("no system randomness"))?;
    Ok(format!("{:06}", u32::from_be_bytes(bytes) % 1_000_000))
}

/// Confirms an outside party's one-time code; returns their session token. A wrong code
/// counts; the [`CODE_TRIES`]th wrong one, or an expired code, ends the code.
pub async fn confirm_code(
    desk: &Desk,
    now: i64,
    token: &str,
    code: &str,
    via: &Via,
) -> Result<String, Failure> {
    let access = access(&desk.db, now, token, &Visitor::default()).await?;
    if access.party.user_id.is_some() {
        return Err(Failure::BadRequest("error.code_not_needed"));
    }
    let row = sqlx::query(
        "SELECT code_hash, code_expires_at, code_tries FROM contract_parties WHERE id = $1",
    )
    .bind(&access.party.id)
    .fetch_one(&desk.db.pool)
    .await?;
    let stored: Option<String> = row.try_get("code_hash")?;
    let until: Option<i64> = row.try_get("code_expires_at")?;
    let tries: i64 = row.try_get("code_tries")?;
    let (Some(stored), Some(until)) = (stored, until) else {
        return Err(Failure::invalid("code", "error.code_expired"));
    };
    if now >= until || tries >= CODE_TRIES {
        return Err(Failure::invalid("code", "error.code_expired"));
    }
    let mut tx = desk.db.begin().await?;
    let actor = Actor::party(&access.contract, &access.party).via(via);
    if token_hash(&format!("{}:{}", access.party.id, code.trim())) != stored {
        // Counted only while the stored code is still the one checked.
        sqlx::query(
            "UPDATE contract_parties SET code_tries = code_tries + 1 \
             WHERE id = $1 AND code_hash = $2",
        )
        .bind(&access.party.id)
        .bind(&stored)
        .execute(&mut *tx)
        .await?;
        record(
            &mut tx,
            &desk.db.audit,
            now,
            &access.contract.id,
            &actor,
            "party.code_wrong",
            serde_json::json!({ "party": access.party.id, "try": tries + 1 }),
        )
        .await?;
        tx.commit().await?;
        return Err(Failure::invalid(
            "code",
            if tries + 1 >= CODE_TRIES {
                "error.code_used_up"
            } else {
                "error.code_wrong"
            },
        ));
    }
    let session = new_token()?;
    let used = sqlx::query(
        "UPDATE contract_parties SET code_hash = NULL, code_expires_at = NULL, \
         session_hash = $2, session_expires_at = $3 WHERE id = $1 AND code_hash = $4",
    )
    .bind(&access.party.id)
    .bind(token_hash(&session))
    .bind(now + PARTY_SESSION_SECONDS)
    .bind(&stored)
    .execute(&mut *tx)
    .await?;
    if used.rows_affected() == 0 {
        return Err(Failure::invalid("code", "error.code_expired"));
    }
    record(
        &mut tx,
        &desk.db.audit,
        now,
        &access.contract.id,
        &actor,
        "party.code_confirmed",
        serde_json::json!({ "party": access.party.id, "email": access.party.email }),
    )
    .await?;
    tx.commit().await?;
    Ok(session)
}

/// An approver approves; the next step is asked when this one is done.
pub async fn approve(
    desk: &Desk,
    now: i64,
    token: &str,
    visitor: &Visitor,
    via: &Via,
) -> Result<(), Failure> {
    let access = access(&desk.db, now, token, visitor).await?;
    access.may_act()?;
    if access.party.role != PartyRole::Approver {
        return Err(Failure::BadRequest("error.not_an_approver"));
    }
    let mut tx = desk.db.begin().await?;
    act(
        &mut tx,
        &access,
        now,
        PartyStatus::Approved,
        None,
        access.authentication,
    )
    .await?;
    record(
        &mut tx,
        &desk.db.audit,
        now,
        &access.contract.id,
        &Actor::party(&access.contract, &access.party).via(via),
        "party.approved",
        serde_json::json!({ "party": access.party.id, "authentication": access.authentication }),
    )
    .await?;
    advance(&mut tx, desk, now, &access.contract.id).await?;
    tx.commit().await?;
    Ok(())
}

/// Who a party forwards their place to.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default)]
pub struct Forward {
    pub email: String,
    /// For an outside person; a user's display name when empty.
    pub name: String,
    /// Why (optional), kept in the history.
    pub reason: String,
}

/// A party forwards their place to someone else, when the sender allowed it: the place (its
/// step, role, fields) passes to them and they are mailed a link; the forwarding party's links
/// stop working. A certificate signature passes only to a signer of the instance (who must hold
/// a valid certificate); recorded in the history with both identities.
pub async fn forward(
    desk: &Desk,
    now: i64,
    token: &str,
    visitor: &Visitor,
    to: &Forward,
    via: &Via,
) -> Result<(), Failure> {
    let access = access(&desk.db, now, token, visitor).await?;
    access.may_act()?;
    if !access.contract.allow_forwarding {
        return Err(Failure::Forbidden);
    }
    if super::signature::pending(&desk.db, &access.party.id)
        .await?
        .0
    {
        return Err(closed("error.signature_in_progress"));
    }
    let email =
        accounts::Email::parse(&to.email).map_err(|e| Failure::Invalid(vec![e.on("email")]))?;
    if email.as_str().eq_ignore_ascii_case(&access.party.email) {
        return Err(Failure::invalid("email", "error.forward_to_self"));
    }
    let user = accounts::find_by_email(&desk.db, &access.contract.org_id, &email).await?;
    if access.party.signature_kind == Some(SignatureKind::Certificate) {
        super::may_sign_with_certificate(user.as_ref())?;
        let holds = match &user {
            Some(u) => crate::signing::signing_certificate(&desk.db, now, u)
                .await
                .is_ok(),
            None => false,
        };
        if !holds {
            return Err(Failure::invalid("email", "error.party_without_certificate"));
        }
    }
    let name = super::party_name(&to.name, user.as_ref())?;
    let reason = to.reason.trim();
    if reason.chars().count() > MAX_REASON {
        return Err(Failure::invalid("reason", "error.too_long"));
    }
    let mut tx = desk.db.begin().await?;
    let moved = sqlx::query(
        "UPDATE contract_parties SET user_id = $2, name = $3, email = $4, status = $5, \
         opened_at = NULL, code_hash = NULL, code_expires_at = NULL, code_tries = 0, \
         session_hash = NULL, session_expires_at = NULL, reminders_sent = 0 \
         WHERE id = $1 AND status IN ($6, $7)",
    )
    .bind(&access.party.id)
    .bind(user.as_ref().map(|u| u.id.clone()))
    .bind(&name)
    .bind(email.as_str())
    .bind(PartyStatus::Waiting.as_str())
    .bind(PartyStatus::Notified.as_str())
    .bind(PartyStatus::Opened.as_str())
    .execute(&mut *tx)
    .await?;
    if moved.rows_affected() == 0 {
        return Err(closed("error.party_already_acted"));
    }
    sqlx::query("DELETE FROM contract_links WHERE party_id = $1")
        .bind(&access.party.id)
        .execute(&mut *tx)
        .await?;
    record(
        &mut tx,
        &desk.db.audit,
        now,
        &access.contract.id,
        &Actor::party(&access.contract, &access.party).via(via),
        "party.forwarded",
        serde_json::json!({
            "party": access.party.id,
            "from": { "name": access.party.name, "email": access.party.email },
            "to": { "name": name, "email": email.as_str(),
                    "user": user.as_ref().map(|u| u.id.clone()) },
            "reason": reason,
        }),
    )
    .await?;
    ask(
        &mut tx,
        desk,
        now,
        &access.contract.id,
        &access.party.id,
        false,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Moves the party from their turn to `status`, only if they are still in their turn (a
/// concurrent action of theirs loses).
pub(crate) async fn act(
    tx: &mut Transaction<'static, Any>,
    access: &Access,
    now: i64,
    status: PartyStatus,
    reason: Option<&str>,
    authentication: &str,
) -> Result<(), Failure> {
    let moved = sqlx::query(
        "UPDATE contract_parties SET status = $2, acted_at = $3, reason = $4, \
         authentication = $5 WHERE id = $1 AND status IN ($6, $7)",
    )
    .bind(&access.party.id)
    .bind(status.as_str())
    .bind(now)
    .bind(reason)
    .bind(authentication)
    .bind(PartyStatus::Notified.as_str())
    .bind(PartyStatus::Opened.as_str())
    .execute(&mut **tx)
    .await?;
    if moved.rows_affected() == 0 {
        return Err(closed("error.party_already_acted"));
    }
    Ok(())
}

fn check_reason(reason: &str) -> Result<&str, Failure> {
    let reason = reason.trim();
    if reason.is_empty() {
        Err(Failure::invalid("reason", "error.required"))
    } else if reason.chars().count() > MAX_REASON {
        Err(Failure::invalid("reason", "error.too_long"))
    } else {
        Ok(reason)
    }
}

/// A party declines with a reason: the contract stops and its sender is told.
pub async fn decline(
    desk: &Desk,
    now: i64,
    token: &str,
    visitor: &Visitor,
    reason: &str,
    via: &Via,
) -> Result<(), Failure> {
    let access = access(&desk.db, now, token, visitor).await?;
    access.may_act()?;
    let reason = check_reason(reason)?;
    if super::signature::pending(&desk.db, &access.party.id)
        .await?
        .0
    {
        return Err(closed("error.signature_in_progress"));
    }
    // Read before the transaction (SQLite's write lock; see `completion`).
    let sender = user_by_id(&desk.db, &access.contract.created_by).await?;
    let mut tx = desk.db.begin().await?;
    act(
        &mut tx,
        &access,
        now,
        PartyStatus::Declined,
        Some(reason),
        access.authentication,
    )
    .await?;
    if !end(
        &mut tx,
        now,
        &access.contract.id,
        ContractStatus::Declined,
        Some(reason),
    )
    .await?
    {
        return Err(closed("error.contract_closed"));
    }
    record(
        &mut tx,
        &desk.db.audit,
        now,
        &access.contract.id,
        &Actor::party(&access.contract, &access.party).via(via),
        "party.declined",
        serde_json::json!({ "party": access.party.id, "reason": reason }),
    )
    .await?;
    if let Some(sender) = sender {
        let party = format!("{} <{}>", access.party.name, access.party.email);
        mail::send(
            &mut tx,
            now,
            &Addressee::user(&sender),
            &Mail::ContractDeclined {
                name: &sender.display_name,
                title: &access.contract.title,
                party: &party,
                reason,
            },
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Ends a contract that has not ended (a draft, or one in progress: a draft can only be
/// cancelled) as `status`, with the reason; `false` when it had ended already (one conditional
/// update, so of two racing ends one wins).
async fn end(
    tx: &mut Transaction<'static, Any>,
    now: i64,
    contract_id: &str,
    status: ContractStatus,
    reason: Option<&str>,
) -> Result<bool, Failure> {
    let from_draft = if status == ContractStatus::Cancelled {
        ContractStatus::Draft
    } else {
        ContractStatus::Sent
    };
    let ended = sqlx::query(
        "UPDATE contracts SET status = $2, end_reason = COALESCE($3, end_reason), \
         updated_at = $4 WHERE id = $1 AND status IN ($5, $6)",
    )
    .bind(contract_id)
    .bind(status.as_str())
    .bind(reason)
    .bind(now)
    .bind(from_draft.as_str())
    .bind(ContractStatus::Sent.as_str())
    .execute(&mut **tx)
    .await?;
    Ok(ended.rows_affected() == 1)
}

/// The sender cancels a draft or a contract in progress, giving a reason; the parties already
/// asked are told, and their links stop working.
pub async fn cancel(
    desk: &Desk,
    now: i64,
    sender: &User,
    via: &Via,
    contract_id: &str,
    reason: &str,
) -> Result<Contract, Failure> {
    let contract = sender_contract(&desk.db, sender, contract_id).await?;
    let reason = check_reason(reason)?;
    let mut tx = desk.db.begin().await?;
    if !end(
        &mut tx,
        now,
        contract_id,
        ContractStatus::Cancelled,
        Some(reason),
    )
    .await?
    {
        return Err(closed("error.contract_closed"));
    }
    record(
        &mut tx,
        &desk.db.audit,
        now,
        contract_id,
        &Actor::user(sender).via(via),
        "contract.cancelled",
        serde_json::json!({ "reason": reason, "was": contract.status.as_str() }),
    )
    .await?;
    for party in contract.parties.iter().filter(|p| {
        p.role != PartyRole::CopyRecipient
            && matches!(p.status, PartyStatus::Notified | PartyStatus::Opened)
    }) {
        let to = recipient(&mut tx, &party.id).await?;
        mail::send(
            &mut tx,
            now,
            &Addressee {
                org_id: &to.org_id,
                address: &to.email,
                lang: to.lang,
                company: to.company(),
            },
            &Mail::ContractCancelled {
                name: &to.name,
                title: &contract.title,
                sender: &sender.display_name,
                reason,
            },
        )
        .await?;
    }
    tx.commit().await?;
    get(&desk.db, sender, contract_id).await
}

/// The sender reminds the parties whose turn it is now (a new link each); returns how many.
pub async fn remind(
    desk: &Desk,
    now: i64,
    sender: &User,
    via: &Via,
    contract_id: &str,
) -> Result<usize, Failure> {
    let contract = sender_contract(&desk.db, sender, contract_id).await?;
    if contract.status != ContractStatus::Sent {
        return Err(closed("error.contract_not_sent"));
    }
    let due: Vec<&Party> = contract
        .parties
        .iter()
        .filter(|p| {
            p.role != PartyRole::CopyRecipient
                && matches!(p.status, PartyStatus::Notified | PartyStatus::Opened)
        })
        .collect();
    let mut tx = desk.db.begin().await?;
    for party in &due {
        ask(&mut tx, desk, now, contract_id, &party.id, true).await?;
    }
    record(
        &mut tx,
        &desk.db.audit,
        now,
        contract_id,
        &Actor::user(sender).via(via),
        "contract.reminded",
        serde_json::json!({ "parties": due.iter().map(|p| p.id.clone()).collect::<Vec<_>>() }),
    )
    .await?;
    tx.commit().await?;
    Ok(due.len())
}

// Timers

/// The periodic work on contracts in progress: automatic reminders to parties whose turn it
/// has been for the contract's reminder interval (at most its number of reminders), expiry of
/// contracts past their date (the sender is told), and completion of contracts whose every
/// party acted but whose completion job is missing. Returns what it did, for the log.
pub async fn timers(desk: &Desk, now: i64) -> anyhow::Result<(usize, usize, usize)> {
    let due = sqlx::query(
        "SELECT p.id, p.contract_id FROM contract_parties p \
         JOIN contracts c ON c.id = p.contract_id \
         WHERE c.status = $1 AND p.status IN ($2, $3) AND p.role <> $4 \
         AND p.reminders_sent < c.max_reminders \
         AND p.last_mailed_at + c.reminder_days * 86400 <= $5 AND c.expires_at > $5",
    )
    .bind(ContractStatus::Sent.as_str())
    .bind(PartyStatus::Notified.as_str())
    .bind(PartyStatus::Opened.as_str())
    .bind(PartyRole::CopyRecipient.as_str())
    .bind(now)
    .fetch_all(&desk.db.pool)
    .await?;
    let mut reminded = 0;
    for r in &due {
        let party_id: String = r.try_get("id")?;
        let contract_id: String = r.try_get("contract_id")?;
        let mut tx = desk.db.begin().await?;
        // Checked again inside the transaction: another process may have sent it.
        let still = sqlx::query(
            "SELECT p.id FROM contract_parties p JOIN contracts c ON c.id = p.contract_id \
             WHERE p.id = $1 AND p.last_mailed_at + c.reminder_days * 86400 <= $2 \
             AND p.reminders_sent < c.max_reminders",
        )
        .bind(&party_id)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        if still.is_none() {
            continue;
        }
        ask(&mut tx, desk, now, &contract_id, &party_id, true)
            .await
            .map_err(anyhow::Error::from)?;
        tx.commit().await?;
        reminded += 1;
    }
    let overdue = sqlx::query("SELECT id FROM contracts WHERE status = $1 AND expires_at <= $2")
        .bind(ContractStatus::Sent.as_str())
        .bind(now)
        .fetch_all(&desk.db.pool)
        .await?;
    let mut expired = 0;
    for r in &overdue {
        let id: String = r.try_get("id")?;
        if expire(desk, now, &id).await? {
            expired += 1;
        }
    }
    let stuck = sqlx::query(
        "SELECT c.id FROM contracts c WHERE c.status = $1 AND NOT EXISTS ( \
         SELECT 1 FROM contract_parties p WHERE p.contract_id = c.id AND p.role <> $2 \
         AND p.status NOT IN ($3, $4))",
    )
    .bind(ContractStatus::Sent.as_str())
    .bind(PartyRole::CopyRecipient.as_str())
    .bind(PartyStatus::Signed.as_str())
    .bind(PartyStatus::Approved.as_str())
    .fetch_all(&desk.db.pool)
    .await?;
    let mut completing = 0;
    for r in &stuck {
        let id: String = r.try_get("id")?;
        // A new key each hour: one that failed for good is tried again the next hour.
        let job = NewJob::new(
            jobs::Kind::ContractCompletion,
            serde_json::json!({ "contract": id }),
        )
        .dedupe_key(format!("contract_completion:{id}@{}", now / 3600));
        let active = sqlx::query(
            "SELECT 1 FROM jobs WHERE kind = $1 AND status IN ('pending', 'running') \
             AND payload = $2",
        )
        .bind(jobs::Kind::ContractCompletion.as_str())
        .bind(serde_json::json!({ "contract": id }).to_string())
        .fetch_optional(&desk.db.pool)
        .await?;
        if active.is_none() && jobs::enqueue(&desk.db.pool, now, &job).await?.is_some() {
            completing += 1;
        }
    }
    Ok((reminded, expired, completing))
}

/// Expires a contract in progress past its date; the sender is told who had not acted.
async fn expire(desk: &Desk, now: i64, contract_id: &str) -> anyhow::Result<bool> {
    let Some(contract) = load(&desk.db, contract_id).await? else {
        return Ok(false);
    };
    let sender = user_by_id(&desk.db, &contract.created_by)
        .await
        .map_err(anyhow::Error::from)?;
    let mut tx = desk.db.begin().await?;
    let overdue = contract.expires_at.is_some_and(|t| t <= now);
    if !overdue || !end(&mut tx, now, contract_id, ContractStatus::Expired, None).await? {
        return Ok(false);
    }
    let pending: Vec<String> = contract
        .parties
        .iter()
        .filter(|p| {
            p.role != PartyRole::CopyRecipient
                && !matches!(p.status, PartyStatus::Signed | PartyStatus::Approved)
        })
        .map(|p| format!("{} <{}>", p.name, p.email))
        .collect();
    record(
        &mut tx,
        &desk.db.audit,
        now,
        contract_id,
        &Actor::system(&contract),
        "contract.expired",
        serde_json::json!({ "expires_at": contract.expires_at, "pending": pending }),
    )
    .await
    .map_err(anyhow::Error::from)?;
    if let Some(sender) = sender {
        mail::send(
            &mut tx,
            now,
            &Addressee::user(&sender),
            &Mail::ContractExpired {
                name: &sender.display_name,
                title: &contract.title,
                expired_at: contract.expires_at.unwrap_or(now),
                pending: &pending.join(", "),
            },
        )
        .await?;
    }
    tx.commit().await?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn access(
        status: ContractStatus,
        party: PartyStatus,
        user: bool,
        authenticated: bool,
    ) -> Access {
        let mut contract = Contract::empty("c");
        contract.status = status;
        Access {
            contract,
            party: Party {
                id: "p".into(),
                position: 1,
                step: 2,
                role: PartyRole::Signer,
                signature_kind: Some(SignatureKind::Simple),
                user_id: user.then(|| "u".to_owned()),
                name: "N".into(),
                email: "n@example.jp".into(),
                status: party,
            },
            authenticated,
            authentication: if user { "login" } else { "email_code" },
        }
    }

    fn refusal(a: &Access) -> Option<&'static str> {
        a.may_act().err().map(|f| f.key())
    }

    /// Whatever link a party holds, the server decides what it leads to: out of turn "not yet
    /// your turn", never the signing form; a closed contract nothing; a stranger no further than
    /// logging in or the code.
    #[test]
    fn a_link_leads_only_where_the_party_and_the_contract_stand() {
        let waiting = access(ContractStatus::Sent, PartyStatus::Waiting, false, true);
        assert_eq!(waiting.stage(false), Stage::NotYourTurn);
        assert_eq!(refusal(&waiting), Some("error.not_your_turn"));
        let turn = access(ContractStatus::Sent, PartyStatus::Opened, false, true);
        assert_eq!(turn.stage(false), Stage::Act);
        assert_eq!(turn.stage(true), Stage::Signing);
        assert_eq!(refusal(&turn), None);
        let stranger = access(ContractStatus::Sent, PartyStatus::Opened, false, false);
        assert_eq!(stranger.stage(false), Stage::Code);
        assert_eq!(refusal(&stranger), Some("error.forbidden"));
        let logged_out = access(ContractStatus::Sent, PartyStatus::Notified, true, false);
        assert_eq!(logged_out.stage(false), Stage::Login);
        assert_eq!(refusal(&logged_out), Some("error.unauthenticated"));
        let done = access(ContractStatus::Sent, PartyStatus::Signed, false, true);
        assert_eq!(done.stage(false), Stage::Done);
        assert_eq!(refusal(&done), Some("error.party_already_acted"));
        for status in [
            ContractStatus::Declined,
            ContractStatus::Cancelled,
            ContractStatus::Expired,
        ] {
            let closed = access(status, PartyStatus::Opened, false, true);
            assert_eq!(closed.stage(false), Stage::Closed);
            assert_eq!(refusal(&closed), Some("error.contract_closed"));
        }
        let completed = access(ContractStatus::Completed, PartyStatus::Signed, false, true);
        assert_eq!(completed.stage(false), Stage::Completed);
        assert_eq!(refusal(&completed), Some("error.contract_completed"));
        let completed_stranger =
            access(ContractStatus::Completed, PartyStatus::Signed, false, false);
        assert_eq!(completed_stranger.stage(false), Stage::Code);
    }
}
