//! The OpenAPI schemas of the domain types the JSON API takes and answers with. The handlers
//! (de)serialise the domain's own types; these structs only document the shape serde gives
//! them, so the domain crate knows nothing of OpenAPI. Never constructed: they exist for their
//! `ToSchema`. A drift between a schema and the real answer fails the schemathesis run
//! (`tests/it/schemathesis.rs`), which checks every live answer against the document.

#![allow(dead_code)]

use utoipa::ToSchema;

/// The applicant form as submitted (every field a string; the server checks them all and
/// reports every problem by field).
#[derive(Debug, ToSchema)]
pub struct ApplicantForm {
    /// 組織名 (at most 64 characters).
    organisation: String,
    /// 郵便番号: 7 digits, with or without the hyphen.
    postal_code: String,
    /// Two-letter country code (JP).
    country: String,
    /// 都道府県: one of the 47.
    prefecture: String,
    /// 市区町村
    city: String,
    /// 番地
    street: String,
    /// 建物名 (optional)
    building: String,
    /// 姓
    family_name: String,
    /// 名
    given_name: String,
    /// 姓 (ローマ字): Latin letters, spaces and hyphens.
    family_name_romaji: String,
    /// 名 (ローマ字)
    given_name_romaji: String,
    /// 部署名・店舗名
    department: String,
    /// 電話番号
    phone: String,
    /// メールアドレス
    email: String,
}

/// A checked application: the form's fields, every value trimmed and normalised (the postal
/// code as `123-4567`).
#[derive(Debug, ToSchema)]
pub struct Applicant {
    organisation: String,
    postal_code: String,
    country: String,
    prefecture: String,
    city: String,
    street: String,
    building: String,
    family_name: String,
    given_name: String,
    family_name_romaji: String,
    given_name_romaji: String,
    department: String,
    phone: String,
    email: String,
}

/// An application (order) on record.
#[derive(Debug, ToSchema)]
pub struct Order {
    order_id: String,
    /// `awaiting_pin` (a free re-issue after a PIN reset, waiting for the new PIN), `pending`
    /// (awaiting the identity check), `issuing`, `issued` or `rejected`.
    status: String,
    /// `new`, `renewal`, `change` or `reissue`.
    kind: String,
    common_name: String,
    price_jpy: i64,
    tax_jpy: i64,
    /// Unix seconds.
    created_at: i64,
    applicant: Applicant,
    reject_reason: Option<String>,
    /// The issued certificate's serial (hex).
    serial: Option<String>,
}

/// A certificate on record.
#[derive(Debug, ToSchema)]
pub struct CertificateView {
    /// Hex serial number.
    serial: String,
    order_id: String,
    /// RFC 4514 subject.
    subject: String,
    /// Unix seconds.
    not_before: i64,
    /// Unix seconds.
    not_after: i64,
    /// `active`, `revoked` or `superseded`.
    status: String,
    cert_pem: String,
}

/// A certificate of another CA imported with its key (PKCS#12).
#[derive(Debug, ToSchema)]
pub struct ImportedCertificate {
    /// Hex serial number.
    serial: String,
    /// RFC 4514 subject.
    subject: String,
    /// RFC 4514: the CA that issued it.
    issuer: String,
    /// Unix seconds.
    not_before: i64,
    /// Unix seconds.
    not_after: i64,
    /// `active`, or `removed` (by its owner or an administrator, or lost with a reset PIN).
    #[schema(pattern = "^(active|removed)$")]
    status: String,
    /// When it was imported (Unix seconds).
    imported_at: i64,
}

/// An application waiting in the identity-check queue.
#[derive(Debug, ToSchema)]
pub struct PendingCheck {
    order_id: String,
    common_name: String,
    /// The account (email) the application belongs to.
    organisation_account: String,
    /// Unix seconds.
    created_at: i64,
    applicant: Applicant,
}

/// One line of the billing ledger.
#[derive(Debug, ToSchema)]
pub struct Charge {
    order_id: String,
    /// `charge` or `refund`.
    kind: String,
    amount_jpy: i64,
    tax_jpy: i64,
    /// Unix seconds.
    created_at: i64,
    common_name: String,
}

/// Whether a signing PIN is set and whether signing is locked.
#[derive(Debug, ToSchema)]
pub struct PinStatus {
    /// A PIN is set: every certificate signature needs it.
    set: bool,
    /// Wrong PINs in a row so far.
    failures: i64,
    /// Signing is locked until then (Unix seconds), unless an administrator unlocks it.
    locked_until: Option<i64>,
}

/// A new PIN (entered twice), and the current one when changing it.
#[derive(Debug, ToSchema)]
pub struct PinChange {
    /// The current PIN; needed when one is set.
    current: Option<String>,
    /// 8 to 64 half-width letters and digits.
    pin: String,
    /// The same PIN again.
    confirm: String,
}

/// What a PIN reset did.
#[derive(Debug, ToSchema)]
pub struct ResetOutcome {
    /// Certificates revoked because their keys were bound to the forgotten PIN.
    revoked: Vec<String>,
    /// The free re-issue's order, issued once the user sets a new PIN.
    reissue_order: Option<String>,
}

/// A contract.
#[derive(Debug, ToSchema)]
pub struct Contract {
    id: String,
    title: String,
    /// `draft`, `sent`, `completed`, `declined`, `cancelled` or `expired`.
    status: String,
    /// The user who created it (its sender).
    created_by: String,
    /// The sender's display name now.
    sender_name: String,
    /// Unix seconds.
    created_at: i64,
    /// When anything last happened to it (its last history event).
    updated_at: i64,
    sent_at: Option<i64>,
    completed_at: Option<i64>,
    expires_at: Option<i64>,
    /// Days from sending to expiry.
    expiry_days: i64,
    /// Days before the first automatic reminder.
    reminder_days: i64,
    /// Automatic reminders at most.
    max_reminders: i64,
    /// Whether a party may forward their place to someone else.
    allow_forwarding: bool,
    /// Why it was declined or cancelled.
    end_reason: Option<String>,
    /// The sender's message to the parties (may be empty).
    message: String,
    /// In step order.
    parties: Vec<Party>,
}

/// How many contracts the caller sees in each status, and how many wait for them.
#[derive(Debug, ToSchema)]
pub struct ContractCounts {
    /// Every status; null for a caller who lists no contracts (only their turns).
    all: Option<i64>,
    draft: Option<i64>,
    sent: Option<i64>,
    completed: Option<i64>,
    declined: Option<i64>,
    cancelled: Option<i64>,
    expired: Option<i64>,
    /// Contracts in progress where it is the caller's turn as a party.
    waiting: i64,
}

/// A user of the organisation who may be named as a party.
#[derive(Debug, ToSchema)]
pub struct Candidate {
    id: String,
    name: String,
    email: String,
    /// Why a certificate signature (当事者型) is not available to them, as a message key such as
    /// `error.no_certificate`, `error.certificate_expired`, `error.not_a_signer` or
    /// `error.agent_simple_only`; null when it is. A simple signature (立会人型) always is.
    certificate_refusal: Option<String>,
}

/// What changes of a party; absent fields stay.
#[derive(Debug, ToSchema)]
#[schema(as = PartyChange)]
pub struct PartyChangeBody {
    /// `signer`, `approver` or `copy_recipient`.
    role: Option<String>,
    /// 1 to 50.
    step: Option<i64>,
    /// Signers: `certificate` or `simple`.
    signature_kind: Option<String>,
    /// The name shown; a user's display name when empty.
    name: Option<String>,
}

/// What changes of a field; absent fields stay.
#[derive(Debug, ToSchema)]
#[schema(as = FieldChange)]
pub struct FieldChangeBody {
    /// From 1.
    page: Option<i64>,
    /// PDF points from the page's lower left corner; the field must lie on the page.
    x: Option<f64>,
    y: Option<f64>,
    width: Option<f64>,
    height: Option<f64>,
    /// Up to 100 characters.
    label: Option<String>,
}

/// A party of a contract.
#[derive(Debug, ToSchema)]
pub struct Party {
    id: String,
    /// The order in which the sender named them.
    position: i64,
    /// Parties of one step act in parallel; steps follow each other.
    step: i64,
    /// `signer`, `approver` or `copy_recipient`.
    role: String,
    /// Signers: `certificate` (当事者型) or `simple` (立会人型).
    signature_kind: Option<String>,
    /// A user of the instance, or none for an outside party.
    user_id: Option<String>,
    name: String,
    email: String,
    /// `waiting`, `notified`, `opened`, `signed`, `approved` or `declined`.
    status: String,
}

/// A party to name.
#[derive(Debug, ToSchema)]
#[schema(as = NewParty)]
pub struct NewPartyBody {
    /// `signer`, `approver` or `copy_recipient`.
    role: String,
    /// 1 to 50; parties of one step act in parallel.
    step: i64,
    /// Signers only: `certificate` (a signer of the instance) or `simple`.
    signature_kind: Option<String>,
    /// A user of the instance is found by it (the caller's organisation first); anyone else is
    /// an outside party.
    email: String,
    /// The name shown on the contract; a user's display name when empty.
    name: String,
}

/// One event of a contract's history.
#[derive(Debug, ToSchema)]
pub struct ContractEvent {
    seq: i64,
    /// Unix seconds.
    at: i64,
    /// e.g. `contract.created`, `contract.party_added`.
    kind: String,
    /// Who acted, as they were named then.
    actor_name: String,
    actor_email: String,
    /// The IP address and user agent of the request, when a request caused it.
    address: Option<String>,
    user_agent: Option<String>,
    detail: serde_json::Value,
}

/// A document of a contract.
#[derive(Debug, ToSchema)]
pub struct ContractDocument {
    id: String,
    position: i64,
    /// The name shown (the file name without `.pdf`).
    name: String,
    /// The SHA-256 (hex) of the PDF as uploaded.
    original_sha256: String,
    original_size: i64,
    pages: i64,
}

/// A field on a contract's document, filled by one party.
#[derive(Debug, ToSchema)]
pub struct ContractField {
    id: String,
    document_id: String,
    party_id: String,
    /// `signature`, `date_signed`, `text`, `checkbox` or `name`.
    kind: String,
    /// From 1.
    page: i64,
    /// PDF points from the page's lower left corner.
    x: f64,
    y: f64,
    width: f64,
    height: f64,
    label: String,
    /// What the party filled in, once they signed.
    value: Option<String>,
}

/// A field to place.
#[derive(Debug, ToSchema)]
#[schema(as = NewField)]
pub struct NewFieldBody {
    /// The document's id.
    document: String,
    /// The party's id.
    party: String,
    /// `signature` (signers), `date_signed`, `text`, `checkbox` or `name`.
    kind: String,
    /// From 1.
    page: i64,
    /// PDF points from the page's lower left corner; the field must lie on the page.
    x: f64,
    y: f64,
    /// At least 36 × 18 for a signature, 8 × 8 otherwise.
    width: f64,
    height: f64,
    /// Up to 100 characters.
    label: String,
}

/// A draft's options; absent fields stay as they are.
#[derive(Debug, ToSchema)]
pub struct ContractOptions {
    /// 1 to 200 characters.
    title: Option<String>,
    /// Days before the first automatic reminder, and between reminders: 1 to 30.
    reminder_days: Option<i64>,
    /// Automatic reminders at most: 0 to 5.
    max_reminders: Option<i64>,
    /// Whether a party may forward their place to someone else.
    allow_forwarding: Option<bool>,
    /// Days from sending to expiry: 1 to 365.
    expiry_days: Option<i64>,
    /// The sender's message to the parties, shown on their page: up to 2000 characters.
    message: Option<String>,
}

/// A contract as a party sees it through their personal link.
#[derive(Debug, ToSchema)]
pub struct PartyView {
    contract_id: String,
    title: String,
    /// The contract's status.
    status: String,
    /// The sender's name.
    sender: String,
    /// The sender's organisation.
    organisation: String,
    expires_at: Option<i64>,
    /// The party the link is for.
    party: Party,
    /// `login` (log in as the party's user first), `code` (confirm the one-time code first),
    /// `not_your_turn`, `act` (sign, approve or decline), `signing`, `done`, `completed`
    /// (documents and certificate downloadable) or `closed` (declined, cancelled, expired).
    stage: String,
    /// Once the party is authenticated and it is (or was) their turn.
    documents: Vec<ContractDocument>,
    /// The party's own fields.
    fields: Vec<ContractField>,
    /// Why the party's last signature failed (they may sign again).
    failed: Option<String>,
    allow_forwarding: bool,
}

/// A one-time code to confirm.
#[derive(Debug, ToSchema)]
pub struct CodeBody {
    /// The six digits from the mail.
    code: String,
}

/// An outside party's session after the code: send it as the `x-inkan-party` header (the
/// browser also keeps it as the `inkan_party` cookie).
#[derive(Debug, ToSchema)]
pub struct PartySession {
    session: String,
}

/// A party's signature.
#[derive(Debug, ToSchema)]
pub struct SignBody {
    /// Text fields' values (strings) and checkboxes (booleans) by field id; every text field
    /// of the party must be filled.
    fields: std::collections::BTreeMap<String, serde_json::Value>,
    /// Certificate signers: the seal to stamp (their default when absent).
    seal: Option<String>,
    /// Certificate signers with a signing PIN.
    pin: Option<String>,
}

/// Where a signature is.
#[derive(Debug, ToSchema)]
pub struct SignatureOutcome {
    signature: String,
    /// `pending` (retried: see `error`), `done` or `failed` (sign again).
    status: String,
    error: Option<String>,
}

/// A reason (declining, cancelling): 1 to 1000 characters.
#[derive(Debug, ToSchema)]
pub struct ReasonBody {
    reason: String,
}

/// A webhook endpoint to register.
#[derive(Debug, ToSchema)]
#[schema(as = NewWebhookEndpoint)]
pub struct NewWebhookEndpoint {
    /// Where deliveries are POSTed: an `http://` or `https://` URL with a host (ASCII, no user
    /// name or password), at most 2000 characters.
    url: String,
    /// At least one of `contract.sent`, `contract.opened`, `contract.signed`,
    /// `contract.approved`, `contract.declined`, `contract.cancelled`, `contract.expired`,
    /// `contract.completed`.
    events: Vec<String>,
    /// Shown in the list; at most 200 characters.
    description: Option<String>,
}

/// A webhook endpoint (never with its secret).
#[derive(Debug, ToSchema)]
pub struct WebhookEndpoint {
    id: String,
    url: String,
    description: Option<String>,
    /// The events it receives, in a fixed order.
    events: Vec<String>,
    /// Unix seconds.
    created_at: i64,
}

/// A webhook endpoint just registered, with its signing secret (shown only this once).
#[derive(Debug, ToSchema)]
pub struct CreatedWebhookEndpoint {
    id: String,
    url: String,
    description: Option<String>,
    events: Vec<String>,
    /// Unix seconds.
    created_at: i64,
    /// `whsec_` and 64 hex digits: the HMAC-SHA256 key (these ASCII characters) of each
    /// delivery's `Inkan-Webhook-Signature: v1=<hex HMAC of "<Inkan-Webhook-Timestamp>.<body>">`.
    secret: String,
}

/// One delivery of an event to an endpoint. The POSTed body is
/// `{"id": <this id>, "type": <event>, "created_at": <Unix seconds>, "data": {…}}`.
#[derive(Debug, ToSchema)]
pub struct WebhookDelivery {
    id: String,
    /// A contract event, or `ping` (an administrator's test).
    event: String,
    /// `pending` (another attempt is due), `delivered` (answered 2xx) or `failed` (24 hours of
    /// failed attempts, or the endpoint was deleted).
    status: String,
    attempts: i64,
    /// The HTTP status of the last attempt; none before the first or after a transport error.
    last_status_code: Option<i64>,
    /// What went wrong at the last attempt (at most 500 characters).
    last_error: Option<String>,
    /// Unix seconds.
    created_at: i64,
    last_attempt_at: Option<i64>,
    /// When a pending delivery is tried again (about).
    next_attempt_at: Option<i64>,
    delivered_at: Option<i64>,
}

/// Whom a party forwards their place to.
#[derive(Debug, ToSchema)]
pub struct ForwardBody {
    /// A user of the instance is found by it; anyone else is an outside person.
    email: String,
    /// For an outside person (a user's display name when empty).
    name: Option<String>,
    /// Why (optional, at most 1000 characters); kept in the history.
    reason: Option<String>,
}

/// A file's bytes as the body of a request or an answer (a PDF, a PNG): one binary string, as
/// OpenAPI describes raw bodies (not an array of numbers).
#[derive(Debug, ToSchema)]
#[schema(value_type = String, format = Binary)]
#[allow(dead_code)]
pub struct FileBytes(Vec<u8>);
