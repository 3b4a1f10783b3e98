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
    /// The sender's display name now.
    pub sender_name: String,
    pub created_at: i64,
    /// When anything last happened to it (its last history event).
    pub updated_at: i64,
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
    /// The sender's message to the parties (may be empty).
    pub message: String,
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
            sender_name: String::new(),
            created_at: 0,
            updated_at: 0,
            sent_at: None,
            completed_at: None,
            expires_at: None,
            expiry_days: EXPIRY_DAYS,
            reminder_days: REMINDER_DAYS,
            max_reminders: MAX_REMINDERS,
            allow_forwarding: false,
            end_reason: None,
            message: String::new(),
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
        &db.audit,
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

// Lists: a page of the contracts a user may see, filtered, searched and sorted, and the counts
// per status beside it.

/// How a list of contracts is ordered: newest first, by creation or by their last change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ListSort {
    #[default]
    Created,
    Updated,
}

impl ListSort {
    pub fn as_str(self) -> &'static str {
        match self {
            ListSort::Created => "created",
            ListSort::Updated => "updated",
        }
    }
}

/// Contracts on one page of a list, unless asked otherwise, and at most.
pub const LIST_LIMIT: i64 = 20;
pub const MAX_LIST_LIMIT: i64 = 100;
/// A search, at most this many characters.
const MAX_SEARCH: usize = 100;

/// Which contracts a list shows.
#[derive(Debug, Clone, PartialEq)]
pub struct ListQuery {
    /// Only contracts in this status.
    pub status: Option<ContractStatus>,
    /// Words of the title, or of a party's name or email address (any case); empty for all.
    pub search: String,
    /// "Waiting for me": the contracts in progress where the caller is a party whose turn it is
    /// (of any organisation on the instance), instead of the contracts they sent or administer.
    pub waiting: bool,
    pub sort: ListSort,
    /// From 1.
    pub page: i64,
    /// 1 to [`MAX_LIST_LIMIT`].
    pub limit: i64,
}

impl Default for ListQuery {
    fn default() -> Self {
        Self {
            status: None,
            search: String::new(),
            waiting: false,
            sort: ListSort::Created,
            page: 1,
            limit: LIST_LIMIT,
        }
    }
}

impl ListQuery {
    /// A list's parameters as a page's query string or the API gives them (absent or empty:
    /// the default); every problem at once.
    pub fn parse(
        status: Option<&str>,
        search: Option<&str>,
        waiting: Option<&str>,
        sort: Option<&str>,
        page: Option<&str>,
        limit: Option<&str>,
    ) -> Result<Self, Failure> {
        fn given(v: Option<&str>) -> Option<&str> {
            v.map(str::trim).filter(|v| !v.is_empty())
        }
        let mut errors = Vec::new();
        let mut query = ListQuery::default();
        if let Some(status) = given(status) {
            match ContractStatus::parse(status) {
                Ok(s) => query.status = Some(s),
                Err(_) => errors.push(FieldError::new("status", "error.list_status")),
            }
        }
        let search = search.unwrap_or_default().trim();
        if search.chars().count() > MAX_SEARCH || search.chars().any(char::is_control) {
            errors.push(FieldError::new("q", "error.too_long"));
        } else {
            search.clone_into(&mut query.search);
        }
        match given(waiting) {
            None | Some("false" | "0") => {}
            Some("true" | "1") => query.waiting = true,
            Some(_) => errors.push(FieldError::new("waiting", "error.list_flag")),
        }
        match given(sort) {
            None | Some("created") => {}
            Some("updated") => query.sort = ListSort::Updated,
            Some(_) => errors.push(FieldError::new("sort", "error.list_sort")),
        }
        let number =
            |v: Option<&str>, field: &'static str, key: &'static str, max: i64| match given(v)
                .map(str::parse::<i64>)
            {
                None => Ok(None),
                Some(Ok(n)) if (1..=max).contains(&n) => Ok(Some(n)),
                Some(_) => Err(FieldError::new(field, key)),
            };
        match number(page, "page", "error.list_page", 1_000_000) {
            Ok(n) => query.page = n.unwrap_or(1),
            Err(e) => errors.push(e),
        }
        match number(limit, "limit", "error.list_limit", MAX_LIST_LIMIT) {
            Ok(n) => query.limit = n.unwrap_or(LIST_LIMIT),
            Err(e) => errors.push(e),
        }
        if errors.is_empty() {
            Ok(query)
        } else {
            Err(Failure::Invalid(errors))
        }
    }
}

/// One page of a list of contracts.
#[derive(Debug, Clone, Serialize)]
pub struct ContractList {
    pub contracts: Vec<Contract>,
    /// How many contracts the list has on all its pages.
    pub total: i64,
    pub page: i64,
    pub limit: i64,
}

impl ContractList {
    /// The number of pages (at least 1).
    pub fn pages(&self) -> i64 {
        ((self.total + self.limit - 1) / self.limit).max(1)
    }
}

/// How many contracts of each status a user sees (with the list's search), and how many wait
/// for them. The statuses are `None` for a user who sees no list of contracts (only their turns).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub all: Option<i64>,
    pub draft: Option<i64>,
    pub sent: Option<i64>,
    pub completed: Option<i64>,
    pub declined: Option<i64>,
    pub cancelled: Option<i64>,
    pub expired: Option<i64>,
    /// Contracts in progress where it is the user's turn as a party.
    pub waiting: i64,
}

/// Whose contracts a user lists: the organisation's (an administrator, read-only), their own
/// (a document manager), or none (anyone else, who still has their own turns). The instance
/// operator sees no organisation's business, their turns included.
fn list_scope(user: &User) -> Result<Option<bool>, Failure> {
    if user.roles.has(Role::Operator) {
        return Err(Failure::Forbidden);
    }
    let all = allows(user.roles, Action::ManageUsers);
    Ok((all || allows(user.roles, Action::ManageContracts)).then_some(all))
}

/// A search as a LIKE pattern (lower case, `%` and `_` taken literally); empty for none.
fn like_pattern(search: &str) -> String {
    if search.is_empty() {
        return String::new();
    }
    let mut pattern = String::from("%");
    for c in search.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// The search condition on `contracts`, its pattern bound as `$n`.
fn search_clause(n: usize) -> String {
    format!(
        "(${n} = '' OR LOWER(contracts.title) LIKE ${n} ESCAPE '\\' OR EXISTS (SELECT 1 FROM \
         contract_parties s WHERE s.contract_id = contracts.id AND (LOWER(s.name) LIKE ${n} \
         ESCAPE '\\' OR LOWER(s.email) LIKE ${n} ESCAPE '\\')))"
    )
}

/// The parties' statuses in which it is their turn: asked, not yet acted.
const TURN_STATUSES: [PartyStatus; 2] = [PartyStatus::Notified, PartyStatus::Opened];

/// The condition "it is `$1`'s turn as a party" on `contracts`, the statuses bound as `$2`, `$3`
/// and the contract's as `$4`.
const WAITING_CLAUSE: &str = "contracts.status = $4 AND EXISTS (SELECT 1 FROM contract_parties p \
     WHERE p.contract_id = contracts.id AND p.user_id = $1 AND p.status IN ($2, $3))";

/// The condition "`$1`'s organisation, and (`$2`, an administrator) every contract of it or
/// only those `$3` sent".
const SCOPE_CLAUSE: &str = "contracts.org_id = $1 AND ($2 OR contracts.created_by = $3)";

/// A page of the contracts `user` may see (see [`ListQuery`]): their own, or the organisation's
/// for an administrator; or, asked for `waiting`, those where it is their turn. Another
/// caller's list is refused; anyone may ask for their turns, but the instance operator.
pub async fn list_page(db: &Db, user: &User, query: &ListQuery) -> Result<ContractList, Failure> {
    let scope = list_scope(user)?;
    let order = match query.sort {
        ListSort::Created => "contracts.created_at DESC, contracts.id",
        ListSort::Updated => "contracts.updated_at DESC, contracts.id",
    };
    let status = query.status.map(ContractStatus::as_str).unwrap_or_default();
    let pattern = like_pattern(&query.search);
    let offset = (query.page - 1).saturating_mul(query.limit);
    // The waiting list binds the user and the turn's statuses ($1 to $4), the others the scope
    // ($1 to $3); then the status, the search, the limit and the offset.
    let (condition, first) = if query.waiting {
        (WAITING_CLAUSE, 5)
    } else {
        (SCOPE_CLAUSE, 4)
    };
    let condition = format!(
        "{condition} AND (${first} = '' OR contracts.status = ${first}) AND {}",
        search_clause(first + 1)
    );
    let count_sql = format!("SELECT COUNT(*) AS n FROM contracts WHERE {condition}");
    let page_sql = format!(
        "SELECT {CONTRACT_COLUMNS} FROM contracts WHERE {condition} ORDER BY {order} \
         LIMIT ${} OFFSET ${}",
        first + 2,
        first + 3
    );
    let bound = |sql| {
        let q = sqlx::query(sql);
        let q = if query.waiting {
            q.bind(user.id.clone())
                .bind(TURN_STATUSES[0].as_str())
                .bind(TURN_STATUSES[1].as_str())
                .bind(ContractStatus::Sent.as_str())
        } else {
            q.bind(user.org_id.clone())
                .bind(scope.unwrap_or(false))
                .bind(user.id.clone())
        };
        q.bind(status).bind(pattern.clone())
    };
    if !query.waiting && scope.is_none() {
        return Err(Failure::Forbidden);
    }
    let total = count_rows(db, bound(count_sql.as_str())).await?;
    let rows = bound(page_sql.as_str())
        .bind(query.limit)
        .bind(offset)
        .fetch_all(&db.pool)
        .await?;
    let mut contracts = Vec::with_capacity(rows.len());
    for row in &rows {
        let mut c = contract_from_row(row)?;
        c.parties = parties(db, &c.id).await?;
        contracts.push(c);
    }
    Ok(ContractList {
        contracts,
        total,
        page: query.page,
        limit: query.limit,
    })
}

async fn count_rows<'q>(
    db: &Db,
    query: sqlx::query::Query<'q, Any, sqlx::any::AnyArguments<'q>>,
) -> Result<i64, Failure> {
    Ok(query.fetch_one(&db.pool).await?.try_get("n")?)
}

/// How many contracts `user` sees in each status with `search` (see [`Counts`]), and how many
/// wait for them.
pub async fn counts(db: &Db, user: &User, search: &str) -> Result<Counts, Failure> {
    let scope = list_scope(user)?;
    let pattern = like_pattern(search.trim());
    let mut counts = Counts {
        waiting: count_rows(
            db,
            sqlx::query(&format!(
                "SELECT COUNT(*) AS n FROM contracts WHERE {WAITING_CLAUSE} AND {}",
                search_clause(5)
            ))
            .bind(user.id.clone())
            .bind(TURN_STATUSES[0].as_str())
            .bind(TURN_STATUSES[1].as_str())
            .bind(ContractStatus::Sent.as_str())
            .bind(pattern.clone()),
        )
        .await?,
        ..Counts::default()
    };
    let Some(all) = scope else {
        return Ok(counts);
    };
    let rows = sqlx::query(&format!(
        "SELECT contracts.status AS status, COUNT(*) AS n FROM contracts \
         WHERE {SCOPE_CLAUSE} AND {} GROUP BY contracts.status",
        search_clause(4)
    ))
    .bind(&user.org_id)
    .bind(all)
    .bind(&user.id)
    .bind(&pattern)
    .fetch_all(&db.pool)
    .await?;
    let mut by_status = std::collections::HashMap::new();
    for row in &rows {
        let status = stored(row, "status", ContractStatus::parse)?;
        by_status.insert(status, row.try_get::<i64, _>("n")?);
    }
    let n = |s: ContractStatus| Some(by_status.get(&s).copied().unwrap_or(0));
    counts.all = Some(by_status.values().sum());
    counts.draft = n(ContractStatus::Draft);
    counts.sent = n(ContractStatus::Sent);
    counts.completed = n(ContractStatus::Completed);
    counts.declined = n(ContractStatus::Declined);
    counts.cancelled = n(ContractStatus::Cancelled);
    counts.expired = n(ContractStatus::Expired);
    Ok(counts)
}

/// A new personal link to `user`'s own turn as a party of a contract in progress (the
/// "waiting for me" list opens their signing page with it): the token of `/sign/{token}`.
/// Nothing is mailed; like any user party's link, it asks them to be logged in as themselves.
/// A contract where it is not their turn is not found.
pub async fn my_turn(db: &Db, now: i64, user: &User, contract_id: &str) -> Result<String, Failure> {
    list_scope(user)?;
    let party: Option<String> = sqlx::query(
        "SELECT p.id FROM contract_parties p JOIN contracts c ON c.id = p.contract_id \
         WHERE p.contract_id = $1 AND p.user_id = $2 AND p.status IN ($3, $4) AND c.status = $5 \
         ORDER BY p.step, p.position",
    )
    .bind(contract_id)
    .bind(&user.id)
    .bind(TURN_STATUSES[0].as_str())
    .bind(TURN_STATUSES[1].as_str())
    .bind(ContractStatus::Sent.as_str())
    .fetch_optional(&db.pool)
    .await?
    .map(|r| r.try_get("id"))
    .transpose()?;
    let party = party.ok_or(Failure::NotFound)?;
    let token = crate::auth::new_token()?;
    sqlx::query(
        "INSERT INTO contract_links (token_hash, party_id, contract_id, created_at) \
         VALUES ($1, $2, $3, $4)",
    )
    .bind(crate::auth::token_hash(&token))
    .bind(&party)
    .bind(contract_id)
    .bind(now)
    .execute(&db.pool)
    .await?;
    Ok(token)
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
        .map_err(|e| errors.push(e.on("email")))
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
        &db.audit,
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
        Err(StorageError::TooLarge { limit }) => return Err(Failure::TooLarge(limit)),
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
        &db.audit,
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
    let rect = [new.x, new.y, new.width, new.height];
    check_label_and_size(label, kind, rect, &mut errors);
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
        Some(d) => check_on_page(store, d, new.page, rect, &mut errors).await?,
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
        &db.audit,
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

/// A field's label (at most 100 characters, no control characters) and size (finite, at least
/// the minimum of its kind), for placing and changing it.
fn check_label_and_size(
    label: &str,
    kind: Option<FieldKind>,
    [x, y, width, height]: [f64; 4],
    errors: &mut Vec<FieldError>,
) {
    if label.chars().count() > 100 || label.chars().any(char::is_control) {
        errors.push(FieldError::new("label", "error.too_long"));
    }
    let (min_w, min_h) = if kind == Some(FieldKind::Signature) {
        MIN_SIGNATURE
    } else {
        (MIN_FIELD, MIN_FIELD)
    };
    if [x, y, width, height].iter().any(|n| !n.is_finite()) || width < min_w || height < min_h {
        errors.push(FieldError::new("width", "error.field_too_small"));
    }
}

/// A field's page exists in `document` and, when nothing else is wrong, its rectangle lies
/// inside that page's crop box.
async fn check_on_page(
    store: &DocumentStore,
    document: &Document,
    page: i64,
    [x, y, width, height]: [f64; 4],
    errors: &mut Vec<FieldError>,
) -> Result<(), Failure> {
    if page < 1 || page > document.pages {
        errors.push(FieldError::new("page", "error.field_page"));
    } else if errors.is_empty() {
        let [llx, lly, urx, ury] = page_box(store, &document.original_sha256, page).await?;
        if !(x >= llx && y >= lly && x + width <= urx && y + height <= ury) {
            errors.push(FieldError::new("x", "error.field_outside_page"));
        }
    }
    Ok(())
}

/// What the sender changes of a placed field (moved, resized, relabelled); absent parts stay.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default)]
pub struct FieldChange {
    /// From 1.
    pub page: Option<i64>,
    pub x: Option<f64>,
    pub y: Option<f64>,
    pub width: Option<f64>,
    pub height: Option<f64>,
    pub label: Option<String>,
}

/// Moves, resizes or relabels a field of a draft: the same rules as placing it (its size, on
/// the page); every problem at once.
pub async fn change_field(
    db: &Db,
    store: &DocumentStore,
    now: i64,
    sender: &User,
    contract_id: &str,
    field_id: &str,
    change: &FieldChange,
) -> Result<Field, Failure> {
    changeable_draft(db, sender, contract_id).await?;
    let old = field_rows(db, contract_id)
        .await?
        .into_iter()
        .find(|f| f.id == field_id)
        .ok_or(Failure::NotFound)?;
    let mut field = Field {
        page: change.page.unwrap_or(old.page),
        x: change.x.unwrap_or(old.x),
        y: change.y.unwrap_or(old.y),
        width: change.width.unwrap_or(old.width),
        height: change.height.unwrap_or(old.height),
        label: change
            .label
            .as_deref()
            .map_or_else(|| old.label.clone(), |l| l.trim().to_owned()),
        ..old.clone()
    };
    let mut errors = Vec::new();
    let rect = [field.x, field.y, field.width, field.height];
    check_label_and_size(&field.label, Some(field.kind), rect, &mut errors);
    let document = document_rows(db, contract_id)
        .await?
        .into_iter()
        .find(|d| d.id == field.document_id)
        .ok_or_else(|| Failure::Internal(anyhow::anyhow!("a field's document is missing")))?;
    check_on_page(store, &document, field.page, rect, &mut errors).await?;
    if !errors.is_empty() {
        return Err(Failure::Invalid(errors));
    }
    field.value = None;
    let mut tx = db.begin().await?;
    sqlx::query(
        "UPDATE contract_fields SET page = $3, x = $4, y = $5, width = $6, height = $7, \
         label = $8 WHERE id = $1 AND contract_id = $2",
    )
    .bind(field_id)
    .bind(contract_id)
    .bind(field.page)
    .bind(field.x)
    .bind(field.y)
    .bind(field.width)
    .bind(field.height)
    .bind(&field.label)
    .execute(&mut *tx)
    .await?;
    record(
        &mut tx,
        &db.audit,
        now,
        contract_id,
        &Actor::user(sender),
        "contract.field_changed",
        serde_json::json!({
            "field": field.id, "page": field.page,
            "rect": [field.x, field.y, field.width, field.height], "label": field.label,
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
    /// The sender's message to the parties: up to 2000 characters (line breaks allowed).
    pub message: Option<String>,
}

/// The sender's message, at most this many characters.
pub const MAX_MESSAGE: usize = 2000;

fn check_message(message: &str) -> Result<String, Failure> {
    let message = message.trim();
    let control = message
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t');
    if message.chars().count() > MAX_MESSAGE || control {
        Err(Failure::invalid("message", "error.too_long"))
    } else {
        Ok(message.replace("\r\n", "\n"))
    }
}

/// Changes a draft's title, message, reminders, expiry or forwarding; every problem is reported
/// at once.
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
    let message = match options.message.as_deref().map(check_message) {
        Some(Ok(m)) => m,
        Some(Err(f)) => {
            errors.extend_from_slice(f.fields());
            contract.message.clone()
        }
        None => contract.message.clone(),
    };
    if !errors.is_empty() {
        return Err(Failure::Invalid(errors));
    }
    let forwarding = options
        .allow_forwarding
        .unwrap_or(contract.allow_forwarding);
    let mut tx = db.begin().await?;
    let updated = sqlx::query(
        "UPDATE contracts SET title = $2, reminder_days = $3, max_reminders = $4, \
         allow_forwarding = $5, updated_at = $6, expiry_days = $8, message = $9 \
         WHERE id = $1 AND status = $7",
    )
    .bind(contract_id)
    .bind(&title)
    .bind(reminder_days)
    .bind(max_reminders)
    .bind(forwarding)
    .bind(now)
    .bind(ContractStatus::Draft.as_str())
    .bind(expiry_days)
    .bind(&message)
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
        &db.audit,
        now,
        contract_id,
        &Actor::user(sender),
        "contract.options_changed",
        serde_json::json!({
            "title": title, "reminder_days": reminder_days, "max_reminders": max_reminders,
            "allow_forwarding": forwarding, "expiry_days": expiry_days, "message": message,
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

/// What the sender changes of a draft's party; absent parts stay. The address is the party's
/// identity: another address is another party (remove this one, add that one).
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default)]
pub struct PartyChange {
    /// `signer`, `approver` or `copy_recipient`.
    pub role: Option<String>,
    pub step: Option<i64>,
    /// For signers: `certificate` or `simple` (an approver or copy recipient has none).
    pub signature_kind: Option<String>,
    pub name: Option<String>,
}

/// Changes a draft's party: their role, step, signature kind or name, by the rules of naming
/// them. A party who no longer signs loses the fields placed for them (in the same change).
pub async fn change_party(
    db: &Db,
    now: i64,
    sender: &User,
    contract_id: &str,
    party_id: &str,
    change: &PartyChange,
) -> Result<Party, Failure> {
    let contract = changeable_draft(db, sender, contract_id).await?;
    let old = contract
        .parties
        .iter()
        .find(|p| p.id == party_id)
        .ok_or(Failure::NotFound)?;
    let mut errors = Vec::new();
    let role = match change.role.as_deref().map(str::trim) {
        None => Some(old.role),
        Some(r) => PartyRole::parse(r)
            .map_err(|_| errors.push(FieldError::new("role", "error.party_role")))
            .ok(),
    };
    let step = change.step.unwrap_or(old.step);
    if !(1..=MAX_PARTIES).contains(&step) {
        errors.push(FieldError::new("step", "error.party_step"));
    }
    let asked = change
        .signature_kind
        .as_deref()
        .map(str::trim)
        .filter(|k| !k.is_empty());
    let kind = match (role, asked) {
        (Some(PartyRole::Signer), Some(k)) => SignatureKind::parse(k)
            .map_err(|_| errors.push(FieldError::new("signature_kind", "error.signature_kind")))
            .ok(),
        (Some(PartyRole::Signer), None) => {
            if old.signature_kind.is_none() {
                errors.push(FieldError::new("signature_kind", "error.required"));
            }
            old.signature_kind
        }
        (Some(_), Some(_)) => {
            errors.push(FieldError::new(
                "signature_kind",
                "error.signature_kind_unused",
            ));
            None
        }
        _ => None,
    };
    let user = match &old.user_id {
        Some(id) => user_of(db, id).await?,
        None => None,
    };
    if kind == Some(SignatureKind::Certificate) {
        if let Err(f) = may_sign_with_certificate(user.as_ref()) {
            errors.extend_from_slice(f.fields());
        }
    }
    let name = match change.name.as_deref() {
        None => Ok(old.name.clone()),
        Some(given) => party_name(given, user.as_ref()),
    };
    let name = name
        .map_err(|f| errors.extend_from_slice(f.fields()))
        .unwrap_or_default();
    if !errors.is_empty() {
        return Err(Failure::Invalid(errors));
    }
    let Some(role) = role else {
        return Err(Failure::Invalid(errors));
    };
    let mut tx = db.begin().await?;
    let removed = if role == PartyRole::Signer {
        0
    } else {
        sqlx::query("DELETE FROM contract_fields WHERE party_id = $1 AND contract_id = $2")
            .bind(party_id)
            .bind(contract_id)
            .execute(&mut *tx)
            .await?
            .rows_affected()
    };
    sqlx::query(
        "UPDATE contract_parties SET role = $3, step = $4, signature_kind = $5, name = $6 \
         WHERE id = $1 AND contract_id = $2",
    )
    .bind(party_id)
    .bind(contract_id)
    .bind(role.as_str())
    .bind(step)
    .bind(kind.map(SignatureKind::as_str))
    .bind(&name)
    .execute(&mut *tx)
    .await?;
    record(
        &mut tx,
        &db.audit,
        now,
        contract_id,
        &Actor::user(sender),
        "contract.party_changed",
        serde_json::json!({
            "party": party_id, "role": role.as_str(), "step": step,
            "signature_kind": kind.map(SignatureKind::as_str), "name": name,
            "fields_removed": removed,
        }),
    )
    .await?;
    tx.commit().await?;
    Ok(Party {
        role,
        step,
        signature_kind: kind,
        name,
        ..old.clone()
    })
}

/// The user `id` of any organisation (a party may be another organisation's user).
async fn user_of(db: &Db, id: &str) -> Result<Option<User>, Failure> {
    let row = sqlx::query(&format!(
        "SELECT {} FROM users WHERE id = $1",
        accounts::USER_COLUMNS
    ))
    .bind(id)
    .fetch_optional(&db.pool)
    .await?;
    row.map(|r| User::from_row(&r).map_err(Failure::Internal))
        .transpose()
}

/// Why a party could not sign with a certificate (当事者型), as a message key, or `None` when they
/// can: an outside party and a transaction agent sign with simple signatures only, a user
/// without the signer role has no certificate, and a signer needs one that is valid now (a
/// draft may still name them; sending refuses).
pub async fn certificate_refusal(
    db: &Db,
    now: i64,
    user: Option<&User>,
) -> Result<Option<&'static str>, Failure> {
    if let Err(f) = may_sign_with_certificate(user) {
        return Ok(f.fields().first().map(|e| e.key));
    }
    let Some(user) = user else {
        return Ok(Some("error.outside_party_simple_only"));
    };
    if !user.active {
        return Ok(Some("error.user_inactive"));
    }
    match crate::signing::signing_certificate(db, now, user).await {
        Ok(_) => Ok(None),
        Err(Failure::BadRequest(why)) => Ok(Some(why)),
        Err(other) => Err(other),
    }
}

/// A user a document manager may name as a party, and whether they could sign with a
/// certificate.
#[derive(Debug, Clone, Serialize)]
pub struct Candidate {
    pub id: String,
    pub name: String,
    pub email: String,
    /// Why a certificate signature (当事者型) is not available for them, as a message key
    /// (`None`: available). A simple signature (立会人型) always is.
    pub certificate_refusal: Option<&'static str>,
}

/// Users of the sender's organisation to name as parties, by name or address (`search`, any
/// case; empty for the first ones), at most `limit` (1 to 20): for the preparation screen's
/// type-ahead. A document manager's.
pub async fn candidates(
    db: &Db,
    now: i64,
    sender: &User,
    search: &str,
    limit: i64,
) -> Result<Vec<Candidate>, Failure> {
    require(sender.roles, Action::ManageContracts)?;
    let search = search.trim();
    if search.chars().count() > MAX_SEARCH || search.chars().any(char::is_control) {
        return Err(Failure::invalid("q", "error.too_long"));
    }
    let users = accounts::search_users(db, &sender.org_id, search, limit.clamp(1, 20)).await?;
    let mut found = Vec::with_capacity(users.len());
    for user in users {
        found.push(Candidate {
            certificate_refusal: certificate_refusal(db, now, Some(&user)).await?,
            id: user.id,
            name: user.display_name,
            email: user.email,
        });
    }
    Ok(found)
}

/// For each party of a draft its sender prepares, why a certificate signature is not available
/// to them (see [`certificate_refusal`]), by party id.
pub async fn certificate_refusals(
    db: &Db,
    now: i64,
    sender: &User,
    contract_id: &str,
) -> Result<Vec<(String, Option<&'static str>)>, Failure> {
    let contract = sender_contract(db, sender, contract_id).await?;
    let mut refusals = Vec::with_capacity(contract.parties.len());
    for party in &contract.parties {
        let user = match &party.user_id {
            Some(id) => user_of(db, id).await?,
            None => None,
        };
        refusals.push((
            party.id.clone(),
            certificate_refusal(db, now, user.as_ref()).await?,
        ));
    }
    Ok(refusals)
}

/// Where each party of a contract is in time: asked, opened, acted (with a decline's reason).
#[derive(Debug, Clone, Serialize)]
pub struct PartyProgress {
    pub party_id: String,
    pub notified_at: Option<i64>,
    pub opened_at: Option<i64>,
    pub acted_at: Option<i64>,
    pub reason: Option<String>,
}

/// The parties' times of a contract `user` may see, in the parties' order.
pub async fn progress(
    db: &Db,
    user: &User,
    contract_id: &str,
) -> Result<Vec<PartyProgress>, Failure> {
    get(db, user, contract_id).await?;
    let rows = sqlx::query(
        "SELECT id, notified_at, opened_at, acted_at, reason FROM contract_parties \
         WHERE contract_id = $1 ORDER BY step, position",
    )
    .bind(contract_id)
    .fetch_all(&db.pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(PartyProgress {
                party_id: r.try_get("id")?,
                notified_at: r.try_get("notified_at")?,
                opened_at: r.try_get("opened_at")?,
                acted_at: r.try_get("acted_at")?,
                reason: r.try_get("reason")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(Failure::from)
}

/// The sender's message to the parties of contract `contract_id`, for the page a party's link
/// opens (the caller has resolved the link).
pub async fn message_for_parties(db: &Db, contract_id: &str) -> Result<String, Failure> {
    Ok(sqlx::query("SELECT message FROM contracts WHERE id = $1")
        .bind(contract_id)
        .fetch_optional(&db.pool)
        .await?
        .map(|r| r.try_get("message"))
        .transpose()?
        .unwrap_or_default())
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
        &db.audit,
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
        &db.audit,
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
        &db.audit,
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
    seal: &audit::Seal,
    now: i64,
    contract_id: &str,
    actor: &Actor,
    kind: &str,
    detail: serde_json::Value,
) -> Result<(), Failure> {
    // One writer of a contract's history at a time: the contract's row lock (PostgreSQL; SQLite
    // holds its write lock already), so concurrent requests never number two events alike. The
    // same update dates the contract's last change (the list sorts by it).
    sqlx::query(
        "UPDATE contracts SET updated_at = CASE WHEN updated_at < $2 THEN $2 ELSE updated_at END \
         WHERE id = $1",
    )
    .bind(contract_id)
    .bind(now)
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
        seal,
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

/// The columns of a [`Contract`], qualified so that queries may join other tables, with the
/// sender's name.
const CONTRACT_COLUMNS: &str = "contracts.id, contracts.org_id, contracts.title, \
     contracts.status, contracts.created_by, contracts.created_at, contracts.updated_at, \
     contracts.sent_at, contracts.completed_at, contracts.expires_at, contracts.expiry_days, \
     contracts.reminder_days, contracts.max_reminders, contracts.allow_forwarding, \
     contracts.end_reason, contracts.message, \
     (SELECT u.display_name FROM users u WHERE u.id = contracts.created_by) AS sender_name";

fn contract_from_row(r: &AnyRow) -> Result<Contract, sqlx::Error> {
    Ok(Contract {
        id: r.try_get("id")?,
        org_id: r.try_get("org_id")?,
        title: r.try_get("title")?,
        status: stored(r, "status", ContractStatus::parse)?,
        created_by: r.try_get("created_by")?,
        sender_name: r
            .try_get::<Option<String>, _>("sender_name")?
            .unwrap_or_default(),
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
        sent_at: r.try_get("sent_at")?,
        completed_at: r.try_get("completed_at")?,
        expires_at: r.try_get("expires_at")?,
        expiry_days: r.try_get("expiry_days")?,
        end_reason: r.try_get("end_reason")?,
        reminder_days: r.try_get("reminder_days")?,
        max_reminders: r.try_get("max_reminders")?,
        allow_forwarding: flag(r, "allow_forwarding")?,
        message: r.try_get("message")?,
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
