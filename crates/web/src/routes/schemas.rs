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
    /// Unix seconds.
    created_at: i64,
    sent_at: Option<i64>,
    completed_at: Option<i64>,
    expires_at: Option<i64>,
    /// Days before the first automatic reminder.
    reminder_days: i64,
    /// Automatic reminders at most.
    max_reminders: i64,
    /// Whether a party may forward their place to someone else.
    allow_forwarding: bool,
    /// In step order.
    parties: Vec<Party>,
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
}
