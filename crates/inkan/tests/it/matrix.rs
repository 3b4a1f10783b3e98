//! The permission matrix, end to end: every endpoint called as every role, as another
//! organisation's administrator and without a session, against the real server. The expected
//! statuses are written out here by hand from the README's table — not derived from the
//! server's own permission code — so a change to either shows up as a failure.

use serde_json::json;

use crate::serve::Backend;
use crate::service::{Api, Service};

/// The callers, in the columns' order.
const CALLERS: [&str; 9] = [
    "administrator",
    "administrator+signer",
    "document_manager",
    "document_manager+signer",
    "signer",
    "transaction_agent",
    "operator",
    "other organisation's administrator",
    "anonymous",
];

/// (method, path, body kind, expected status per caller). `{target}` is a signer of the first
/// organisation; `{n}` makes a unique value per call. Pages answer 303 (to the login) without a
/// session; API endpoints 401. The service has its CA from the first start, so what a caller
/// may do succeeds where it needs the CA (setting a PIN; unlocking and resetting the PIN set
/// just before), and an unknown order is not found.
#[rustfmt::skip]
const MATRIX: &[(&str, &str, Body, [u16; 9])] = &[
    //                                                        A    A+S  DM   DM+S S    T    Op   X    anon
    ("GET",    "/healthz",                 Body::None,      [200, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("GET",    "/api/openapi.json",        Body::None,      [200, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("GET",    "/api/me",                  Body::None,      [200, 200, 200, 200, 200, 200, 200, 200, 401]),
    ("PATCH",  "/api/me",                  Body::Profile,   [200, 200, 200, 200, 200, 200, 200, 200, 401]),
    ("POST",   "/api/me/password",         Body::WrongPass, [400, 400, 400, 400, 400, 400, 400, 400, 401]),
    ("GET",    "/api/users",               Body::None,      [200, 200, 403, 403, 403, 403, 403, 200, 401]),
    ("POST",   "/api/users",               Body::NewUser,   [201, 201, 403, 403, 403, 403, 403, 201, 401]),
    ("GET",    "/api/users/{target}",      Body::None,      [200, 200, 403, 403, 403, 403, 403, 404, 401]),
    ("PATCH",  "/api/users/{target}",      Body::Rename,    [200, 200, 403, 403, 403, 403, 403, 404, 401]),
    ("GET",    "/api/users/no-such-user",  Body::None,      [404, 404, 403, 403, 403, 403, 403, 404, 401]),
    ("GET",    "/api/organisations",       Body::None,      [403, 403, 403, 403, 403, 403, 200, 403, 401]),
    ("POST",   "/api/organisations",       Body::NewOrg,    [403, 403, 403, 403, 403, 403, 201, 403, 401]),
    ("GET",    "/api/audit",               Body::None,      [200, 200, 403, 403, 403, 403, 403, 200, 401]),
    ("POST",   "/api/password-reset",      Body::Reset,     [202, 202, 202, 202, 202, 202, 202, 202, 202]),
    ("GET",    "/",                        Body::None,      [200, 200, 200, 200, 200, 200, 200, 200, 303]),
    ("GET",    "/profile",                 Body::None,      [200, 200, 200, 200, 200, 200, 200, 200, 303]),
    ("POST",   "/profile",                 Body::ProfileForm, [303, 303, 303, 303, 303, 303, 303, 303, 303]),
    ("GET",    "/password",                Body::None,      [200, 200, 200, 200, 200, 200, 200, 200, 303]),
    ("GET",    "/users",                   Body::None,      [200, 200, 403, 403, 403, 403, 403, 200, 303]),
    ("GET",    "/users/new",               Body::None,      [200, 200, 403, 403, 403, 403, 403, 200, 303]),
    ("POST",   "/users/new",               Body::NewUserForm, [303, 303, 403, 403, 403, 403, 403, 303, 303]),
    ("GET",    "/users/{target}",          Body::None,      [200, 200, 403, 403, 403, 403, 403, 404, 303]),
    ("POST",   "/users/{target}",          Body::RenameForm, [303, 303, 403, 403, 403, 403, 403, 404, 303]),
    ("GET",    "/organisations",           Body::None,      [403, 403, 403, 403, 403, 403, 200, 403, 303]),
    ("POST",   "/organisations",           Body::NewOrgForm, [403, 403, 403, 403, 403, 403, 303, 403, 303]),
    ("GET",    "/certificate/apply",       Body::None,      [403, 200, 403, 200, 200, 400, 403, 403, 303]),
    ("GET",    "/certificate/apply/form",  Body::None,      [403, 200, 403, 200, 200, 400, 403, 403, 303]),
    ("GET",    "/sign",                    Body::None,      [403, 200, 403, 200, 200, 403, 403, 403, 303]),
    ("GET",    "/identity-checks",         Body::None,      [403, 403, 403, 403, 403, 403, 200, 403, 303]),
    ("GET",    "/billing",                 Body::None,      [200, 200, 403, 403, 403, 403, 403, 200, 303]),
    ("GET",    "/audit",                   Body::None,      [200, 200, 403, 403, 403, 403, 403, 200, 303]),
    ("GET",    "/audit.csv",               Body::None,      [200, 200, 403, 403, 403, 403, 403, 200, 303]),
    ("GET",    "/api/me/certificate",      Body::None,      [200, 200, 200, 200, 200, 200, 200, 200, 401]),
    ("POST",   "/api/me/certificate/check", Body::Applicant, [403, 200, 403, 200, 200, 400, 403, 403, 401]),
    ("POST",   "/api/me/certificate/orders", Body::Order,   [403, 201, 403, 201, 201, 400, 403, 403, 401]),
    ("POST",   "/api/me/certificate/renewals", Body::Renewal, [403, 404, 403, 404, 404, 400, 403, 403, 401]),
    ("POST",   "/api/me/certificate/changes", Body::Change,   [403, 404, 403, 404, 404, 400, 403, 403, 401]),
    ("POST",   "/api/me/sign",             Body::Pdf,       [403, 400, 403, 400, 400, 403, 403, 403, 401]),
    ("GET",    "/api/users/{target}/certificate", Body::None, [200, 200, 403, 403, 403, 403, 403, 404, 401]),
    ("POST",   "/api/users/{target}/certificate/orders", Body::Order, [201, 409, 403, 403, 403, 403, 403, 404, 401]),
    ("POST",   "/api/users/{target}/certificate/renewals", Body::Renewal, [404, 404, 403, 403, 403, 403, 403, 404, 401]),
    ("POST",   "/api/users/{target}/certificate/changes", Body::Change, [404, 404, 403, 403, 403, 403, 403, 404, 401]),
    ("GET",    "/api/identity-checks",     Body::None,      [403, 403, 403, 403, 403, 403, 200, 403, 401]),
    ("POST",   "/api/identity-checks/INK000/approve", Body::Decision, [403, 403, 403, 403, 403, 403, 404, 403, 401]),
    ("POST",   "/api/identity-checks/INK000/reject",  Body::Decision, [403, 403, 403, 403, 403, 403, 404, 403, 401]),
    ("GET",    "/api/billing",             Body::None,      [200, 200, 403, 403, 403, 403, 403, 200, 401]),
    ("GET",    "/api/billing.csv",         Body::None,      [200, 200, 403, 403, 403, 403, 403, 200, 401]),
    ("POST",   "/api/contracts",           Body::NewContract, [403, 403, 201, 201, 403, 403, 403, 403, 401]),
    ("GET",    "/api/contracts",           Body::None,      [200, 200, 200, 200, 403, 403, 403, 200, 401]),
    ("GET",    "/api/contracts?waiting=true", Body::None,   [200, 200, 200, 200, 200, 200, 403, 200, 401]),
    ("GET",    "/api/contracts?status=sent&q=x&sort=updated&page=2&limit=5", Body::None, [200, 200, 200, 200, 403, 403, 403, 200, 401]),
    ("GET",    "/api/contracts/counts",    Body::None,      [200, 200, 200, 200, 200, 200, 403, 200, 401]),
    ("GET",    "/api/people?q=a",          Body::None,      [403, 403, 200, 200, 403, 403, 403, 403, 401]),
    ("PATCH",  "/api/contracts/none/parties/none", Body::PartyChange, [403, 403, 404, 404, 403, 403, 403, 403, 401]),
    ("PATCH",  "/api/contracts/none/fields/none", Body::FieldChange, [403, 403, 404, 404, 403, 403, 403, 403, 401]),
    ("GET",    "/api/contracts/none",      Body::None,      [404, 404, 404, 404, 404, 404, 404, 404, 401]),
    ("POST",   "/api/contracts/none/parties", Body::NewParty, [403, 403, 404, 404, 403, 403, 403, 403, 401]),
    ("GET",    "/api/contracts/none/events", Body::None,    [404, 404, 404, 404, 404, 404, 404, 404, 401]),
    ("POST",   "/api/contracts/none/documents", Body::Pdf,  [403, 403, 404, 404, 403, 403, 403, 403, 401]),
    ("GET",    "/api/contracts/none/documents", Body::None, [404, 404, 404, 404, 404, 404, 404, 404, 401]),
    ("POST",   "/api/contracts/none/fields", Body::NewField, [403, 403, 404, 404, 403, 403, 403, 403, 401]),
    ("GET",    "/api/contracts/none/fields", Body::None,    [404, 404, 404, 404, 404, 404, 404, 404, 401]),
    ("POST",   "/api/contracts/none/cancel", Body::Cancel,  [403, 403, 404, 404, 403, 403, 403, 403, 401]),
    ("PATCH",  "/api/contracts/none",      Body::Options,   [403, 403, 404, 404, 403, 403, 403, 403, 401]),
    ("DELETE", "/api/contracts/none/parties/none", Body::None, [403, 403, 404, 404, 403, 403, 403, 403, 401]),
    ("DELETE", "/api/contracts/none/documents/none", Body::None, [403, 403, 404, 404, 403, 403, 403, 403, 401]),
    ("DELETE", "/api/contracts/none/fields/none", Body::None, [403, 403, 404, 404, 403, 403, 403, 403, 401]),
    ("GET",    "/api/contracts/none/documents/none/pdf", Body::None, [404, 404, 404, 404, 404, 404, 404, 404, 401]),
    ("POST",   "/api/contracts/none/send", Body::None,      [403, 403, 404, 404, 403, 403, 403, 403, 401]),
    ("POST",   "/api/contracts/none/remind", Body::None,    [403, 403, 404, 404, 403, 403, 403, 403, 401]),
    ("GET",    "/api/contracts/none/certificate", Body::None, [404, 404, 404, 404, 404, 404, 404, 404, 401]),
    ("GET",    "/api/party/none",          Body::None,      [404, 404, 404, 404, 404, 404, 404, 404, 404]),
    ("POST",   "/api/party/none/code",     Body::None,      [404, 404, 404, 404, 404, 404, 404, 404, 404]),
    ("POST",   "/api/party/none/code/confirm", Body::Code,  [404, 404, 404, 404, 404, 404, 404, 404, 404]),
    ("POST",   "/api/party/none/sign",     Body::Sign,      [404, 404, 404, 404, 404, 404, 404, 404, 404]),
    ("POST",   "/api/party/none/approve",  Body::None,      [404, 404, 404, 404, 404, 404, 404, 404, 404]),
    ("POST",   "/api/party/none/decline",  Body::Cancel,    [404, 404, 404, 404, 404, 404, 404, 404, 404]),
    ("POST",   "/api/party/none/forward",  Body::Forward,   [404, 404, 404, 404, 404, 404, 404, 404, 404]),
    ("GET",    "/api/party/none/certificate", Body::None,   [404, 404, 404, 404, 404, 404, 404, 404, 404]),
    ("GET",    "/api/party/none/documents/none/pdf", Body::None, [404, 404, 404, 404, 404, 404, 404, 404, 404]),
    ("GET",    "/sign/none",               Body::None,      [404, 404, 404, 404, 404, 404, 404, 404, 404]),
    ("GET",    "/sign/none/documents/none", Body::None,     [404, 404, 404, 404, 404, 404, 404, 404, 404]),
    ("GET",    "/contracts",               Body::None,      [200, 200, 200, 200, 200, 200, 403, 200, 303]),
    ("GET",    "/contracts?waiting=true&q=x", Body::None,   [200, 200, 200, 200, 200, 200, 403, 200, 303]),
    ("POST",   "/contracts/none/open",     Body::SealActionForm, [404, 404, 404, 404, 404, 404, 403, 404, 303]),
    ("POST",   "/contracts",               Body::ContractForm, [403, 403, 303, 303, 403, 403, 403, 403, 303]),
    ("GET",    "/contracts/none",          Body::None,      [404, 404, 404, 404, 404, 404, 404, 404, 303]),
    ("GET",    "/api/me/pin",              Body::None,      [403, 200, 403, 200, 200, 403, 403, 403, 401]),
    ("PUT",    "/api/me/pin",              Body::Pin,       [403, 200, 403, 200, 200, 403, 403, 403, 401]),
    ("GET",    "/api/users/{target}/pin",  Body::None,      [200, 200, 403, 403, 403, 403, 403, 404, 401]),
    ("PUT",    "/api/users/{target}/pin",  Body::Pin,       [200, 200, 403, 403, 403, 403, 403, 404, 401]),
    ("POST",   "/api/users/{target}/pin/unlock", Body::None, [200, 200, 403, 403, 403, 403, 403, 404, 401]),
    ("POST",   "/api/users/{target}/pin/reset",  Body::None, [200, 200, 403, 403, 403, 403, 403, 404, 401]),
    ("GET",    "/pin",                     Body::None,      [403, 200, 403, 200, 200, 403, 403, 403, 303]),
    ("GET",    "/pin?user={target}",       Body::None,      [200, 200, 403, 403, 403, 403, 403, 404, 303]),
    ("POST",   "/pin",                     Body::PinForm,   [403, 400, 403, 400, 400, 403, 403, 403, 303]),
    ("POST",   "/pin/unlock",              Body::PinAdminForm, [400, 400, 403, 403, 403, 403, 403, 404, 303]),
    ("POST",   "/pin/reset",               Body::PinAdminForm, [400, 400, 403, 403, 403, 403, 403, 404, 303]),
    ("POST",   "/api/me/seal-drafts",      Body::SealImage, [403, 201, 403, 201, 201, 400, 403, 403, 401]),
    ("GET",    "/api/me/seal-drafts/none/original", Body::None, [403, 404, 403, 404, 404, 400, 403, 403, 401]),
    ("GET",    "/api/me/seal-drafts/none/transparent", Body::None, [403, 404, 403, 404, 404, 400, 403, 403, 401]),
    ("DELETE", "/api/me/seal-drafts/none", Body::None,      [403, 404, 403, 404, 404, 400, 403, 403, 401]),
    ("POST",   "/api/me/seals",            Body::SaveSeal,  [403, 201, 403, 201, 201, 400, 403, 403, 401]),
    ("GET",    "/api/me/seals",            Body::None,      [403, 200, 403, 200, 200, 400, 403, 403, 401]),
    ("GET",    "/api/me/seals/none/image", Body::None,      [403, 404, 403, 404, 404, 400, 403, 403, 401]),
    ("GET",    "/api/me/seals/none/original", Body::None,   [403, 404, 403, 404, 404, 400, 403, 403, 401]),
    ("POST",   "/api/me/seals/none/default", Body::None,    [403, 404, 403, 404, 404, 400, 403, 403, 401]),
    ("DELETE", "/api/me/seals/none",       Body::None,      [403, 404, 403, 404, 404, 400, 403, 403, 401]),
    ("POST",   "/api/users/{target}/seal-drafts", Body::SealImage, [201, 201, 403, 403, 403, 403, 403, 404, 401]),
    ("GET",    "/api/users/{target}/seal-drafts/none/original", Body::None, [404, 404, 403, 403, 403, 403, 403, 404, 401]),
    ("GET",    "/api/users/{target}/seal-drafts/none/transparent", Body::None, [404, 404, 403, 403, 403, 403, 403, 404, 401]),
    ("DELETE", "/api/users/{target}/seal-drafts/none", Body::None, [404, 404, 403, 403, 403, 403, 403, 404, 401]),
    ("POST",   "/api/users/{target}/seals", Body::SaveSeal, [201, 201, 403, 403, 403, 403, 403, 404, 401]),
    ("GET",    "/api/users/{target}/seals", Body::None,     [200, 200, 403, 403, 403, 403, 403, 404, 401]),
    ("GET",    "/api/users/{target}/seals/none/image", Body::None, [404, 404, 403, 403, 403, 403, 403, 404, 401]),
    ("GET",    "/api/users/{target}/seals/none/original", Body::None, [404, 404, 403, 403, 403, 403, 403, 404, 401]),
    ("POST",   "/api/users/{target}/seals/none/default", Body::None, [404, 404, 403, 403, 403, 403, 403, 404, 401]),
    ("DELETE", "/api/users/{target}/seals/none", Body::None, [404, 404, 403, 403, 403, 403, 403, 404, 401]),
    ("GET",    "/static/default-seal.png", Body::None,      [200, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("POST",   "/seals/drafts",            Body::SealForm,  [403, 303, 403, 303, 303, 400, 403, 403, 303]),
    ("POST",   "/seals",                   Body::SealSaveForm, [403, 404, 403, 404, 404, 400, 403, 403, 303]),
    ("POST",   "/seals/none/default",      Body::SealActionForm, [403, 404, 403, 404, 404, 400, 403, 403, 303]),
    ("POST",   "/seals/none/delete",       Body::SealActionForm, [403, 404, 403, 404, 404, 400, 403, 403, 303]),
    ("GET",    "/api/webhooks",            Body::None,      [200, 200, 403, 403, 403, 403, 403, 200, 401]),
    ("POST",   "/api/webhooks",            Body::NewWebhook, [201, 201, 403, 403, 403, 403, 403, 201, 401]),
    ("DELETE", "/api/webhooks/none",       Body::None,      [404, 404, 403, 403, 403, 403, 403, 404, 401]),
    ("GET",    "/api/webhooks/none/deliveries", Body::None, [404, 404, 403, 403, 403, 403, 403, 404, 401]),
    ("POST",   "/api/webhooks/none/test",  Body::None,      [404, 404, 403, 403, 403, 403, 403, 404, 401]),
    ("GET",    "/api/organisation/settings", Body::None,    [200, 200, 403, 403, 403, 403, 403, 200, 401]),
    ("PATCH",  "/api/organisation/settings", Body::Settings, [200, 200, 403, 403, 403, 403, 403, 200, 401]),
    ("GET",    "/settings",                Body::None,      [200, 200, 403, 403, 403, 403, 403, 200, 303]),
    ("POST",   "/settings",                Body::SettingsForm, [303, 303, 403, 403, 403, 403, 403, 303, 303]),
    ("POST",   "/api/me/certificate/imports", Body::P12,    [403, 400, 403, 400, 400, 400, 403, 403, 401]),
    ("POST",   "/api/users/{target}/certificate/imports", Body::P12, [400, 400, 403, 403, 403, 403, 403, 404, 401]),
    ("DELETE", "/api/me/certificate/imports/none", Body::None, [403, 404, 403, 404, 404, 400, 403, 403, 401]),
    ("DELETE", "/api/users/{target}/certificate/imports/none", Body::None, [404, 404, 403, 403, 403, 403, 403, 404, 401]),
    ("POST",   "/certificate/import",      Body::P12Form,   [403, 400, 403, 400, 400, 400, 403, 403, 303]),
    ("POST",   "/certificate/import/remove", Body::ImportRemoveForm, [403, 404, 403, 404, 404, 400, 403, 403, 303]),
    ("GET",    "/trust",                   Body::None,      [200, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("DELETE", "/api/session",             Body::None,      [204, 204, 204, 204, 204, 204, 204, 204, 401]),
];

#[derive(Debug, Clone, Copy)]
enum Body {
    None,
    Applicant,
    Order,
    Renewal,
    Change,
    Pdf,
    Decision,
    Profile,
    WrongPass,
    NewUser,
    Rename,
    NewOrg,
    Reset,
    ProfileForm,
    NewUserForm,
    RenameForm,
    NewOrgForm,
    Pin,
    PinForm,
    PinAdminForm,
    /// A generated stamp scan as the `file` part of a multipart upload.
    SealImage,
    /// `{"draft": ID}` with a draft uploaded just before (to the same place), or an id that
    /// does not exist when the caller cannot upload there.
    SaveSeal,
    /// The profile's upload form (multipart with the CSRF token).
    SealForm,
    /// The profile's save form naming a draft that does not exist.
    SealSaveForm,
    /// A seal action's form (CSRF token only).
    SealActionForm,
    /// `{"title": …}`.
    NewContract,
    /// An outside party who signs with a simple signature.
    NewParty,
    /// A signature field on a document and party that do not exist.
    NewField,
    /// `{"x": …}`: a field moved.
    FieldChange,
    /// `{"step": …}`: a party's step changed.
    PartyChange,
    /// The contracts page's new-draft form.
    ContractForm,
    /// `{"reason": …}`.
    Cancel,
    /// `{"reminder_days": …}`.
    Options,
    /// `{"code": "000000"}`.
    Code,
    /// A signature naming a field that is not the caller's.
    Sign,
    /// `{}`.
    Empty,
    /// `{"email": …}` of someone else.
    Forward,
    /// A webhook endpoint on loopback (nothing is ever sent to it: no event happens).
    NewWebhook,
    /// `{"pades_level": "B-LTA"}` (the default: nothing changes for the calls after it).
    Settings,
    /// The organisation settings page's form, choosing B-LTA.
    SettingsForm,
    /// A file that is not PKCS#12 and a password, as the import's multipart upload.
    P12,
    /// The profile's import form (multipart with the CSRF token) with such a file.
    P12Form,
    /// The removal of an imported certificate that does not exist.
    ImportRemoveForm,
}

fn call(api: &mut Api, method: &str, path: &str, body: Body, n: usize, target: &str) -> u16 {
    let csrf = api.csrf.clone().unwrap_or_default();
    let json_body = match body {
        Body::None => None,
        Body::Profile => Some(json!({ "display_name": format!("名前 {n}") })),
        Body::NewContract => Some(json!({ "title": format!("契約書 {n}") })),
        Body::Cancel => Some(json!({ "reason": "条件変更のため" })),
        Body::Options => Some(json!({ "reminder_days": 5 })),
        Body::FieldChange => Some(json!({ "x": 72 })),
        Body::PartyChange => Some(json!({ "step": 2 })),
        Body::Code => Some(json!({ "code": "000000" })),
        Body::Empty => Some(json!({})),
        Body::Forward => Some(json!({ "email": "someone@example.com", "name": "Someone" })),
        Body::NewWebhook => {
            Some(json!({ "url": "http://127.0.0.1:9/matrix", "events": ["contract.completed"] }))
        }
        Body::Sign => Some(json!({ "fields": { "none": "x" } })),
        Body::Settings => Some(json!({ "pades_level": "B-LTA" })),
        Body::NewField => Some(
            json!({ "document": "none", "party": "none", "kind": "signature", "page": 1, "x": 50, "y": 50, "width": 120, "height": 60 }),
        ),
        Body::NewParty => Some(
            json!({ "role": "signer", "step": 1, "signature_kind": "simple", "email": "guest@example.com", "name": "Guest" }),
        ),
        Body::WrongPass => Some(
            json!({ "current_password": "not-it-123", "new_password": "Another123", "new_password_confirmation": "Another123" }),
        ),
        Body::NewUser => Some(
            json!({ "display_name": "新規", "email": format!("new{n}@example.jp"), "roles": ["signer"] }),
        ),
        Body::Rename => Some(json!({ "display_name": format!("改名 {n}") })),
        Body::NewOrg => Some(
            json!({ "name": format!("組織 {n}"), "admin_name": "管理", "admin_email": format!("orgadmin{n}@example.jp") }),
        ),
        Body::Reset => Some(json!({ "email": "nobody@example.jp" })),
        Body::Applicant | Body::Order => Some(crate::service::applicant_form(n)),
        Body::Renewal => Some(json!({ "serial": "00" })),
        Body::Change => {
            Some(json!({ "serial": "00", "applicant": crate::service::applicant_form(n) }))
        }
        Body::Decision => Some(json!({ "method": "電話", "reason": "不一致" })),
        Body::Pin => Some(json!({ "pin": "Matrix2026", "confirm": "Matrix2026" })),
        _ => None,
    };
    let form = match body {
        Body::ProfileForm => Some(format!("csrf={csrf}&display_name=Name{n}&language=ja")),
        Body::NewUserForm => Some(format!(
            "csrf={csrf}&display_name=Form{n}&email=form{n}%40example.jp&roles=signer"
        )),
        Body::RenameForm => Some(format!(
            "csrf={csrf}&action=save&display_name=Renamed{n}&roles=signer"
        )),
        Body::SealSaveForm => Some(format!("csrf={csrf}&draft=none&name=Seal{n}")),
        Body::SealActionForm => Some(format!("csrf={csrf}")),
        Body::ContractForm => Some(format!("csrf={csrf}&title=Contract{n}")),
        Body::SettingsForm => Some(format!("csrf={csrf}&pades_level=B-LTA")),
        Body::ImportRemoveForm => Some(format!("csrf={csrf}&serial=none")),
        Body::NewOrgForm => Some(format!(
            "csrf={csrf}&name=FormOrg{n}&admin_name=Admin&admin_email=formorg{n}%40example.jp"
        )),
        Body::PinForm => Some(format!("csrf={csrf}&pin=Matrix2026&confirm=Matrix2026")),
        Body::PinAdminForm => Some(format!("csrf={csrf}&user={target}")),
        _ => None,
    };
    if matches!(body, Body::Order | Body::Renewal | Body::Change) {
        api.headers = vec![("Idempotency-Key".into(), format!("matrix-order-{n}"))];
    }
    let image = || crate::seals::png(&crate::seals::stamp_scan(120, crate::seals::VERMILION, 1));
    let multipart_type = format!("multipart/form-data; boundary={}", crate::seals::BOUNDARY);
    let not_p12: &[u8] = b"not a PKCS#12 file";
    match body {
        Body::P12 | Body::P12Form => {
            let mut fields = vec![("password", "matrix")];
            if matches!(body, Body::P12Form) {
                fields.insert(0, ("csrf", csrf.as_str()));
            }
            let form = crate::support::multipart_form(&fields, &[("file", "m.p12", not_p12)]);
            let content_type = crate::support::multipart_type();
            return api
                .raw(method, path, Some(&form), Some(&content_type))
                .status;
        }
        Body::SealImage => return crate::seals::upload(api, path, "印.png", &image()).status,
        Body::SaveSeal => {
            let drafts = path.replace("/seals", "/seal-drafts");
            let uploaded = crate::seals::upload(api, &drafts, "印.png", &image());
            let draft = uploaded.body["id"].as_str().unwrap_or("none").to_owned();
            return api.post(path, json!({ "draft": draft })).status;
        }
        Body::SealForm => {
            let form = crate::seals::multipart(&[("csrf", &csrf)], Some(("印.png", &image())));
            return api
                .raw(method, path, Some(&form), Some(&multipart_type))
                .status;
        }
        _ => {}
    }
    if matches!(body, Body::Pdf) {
        let pdf = crate::support::minimal_pdf("matrix");
        return api
            .raw(method, path, Some(&pdf), Some("application/pdf"))
            .status;
    }
    match (json_body, form) {
        (Some(j), _) => api.call(method, path, Some(&j)).status,
        (None, Some(f)) => {
            api.raw(
                method,
                path,
                Some(f.as_bytes()),
                Some("application/x-www-form-urlencoded"),
            )
            .status
        }
        (None, None) => api.call(method, path, None).status,
    }
}

fn every_endpoint_answers_every_role_as_the_readme_says(backend: Backend) {
    let Some(service) = Service::start(backend) else {
        return;
    };
    let mut admin = service.admin();
    let (target, _) = service.user(&mut admin, "target@example.jp", &["signer"], "Target2026x");
    let mut callers: Vec<Option<Api>> = vec![Some(admin.clone())];
    for (i, roles) in [
        &["administrator", "signer"][..],
        &["document_manager"],
        &["document_manager", "signer"],
        &["signer"],
        &["transaction_agent"],
    ]
    .iter()
    .enumerate()
    {
        let (_, api) = service.user(
            &mut admin,
            &format!("role{i}@example.jp"),
            roles,
            "Role2026pass",
        );
        callers.push(Some(api));
    }
    // The instance operator, created on the command line, creates a second organisation.
    let mut operator = service.operator();
    let mut other = service.other_org_admin(&mut operator);
    callers.push(Some(operator));
    callers.push(Some(other.clone()));
    callers.push(None);

    // The other organisation sees none of the first one's users, and its list has only itself.
    let list = other.get("/api/users").body;
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
    assert!(!list.to_string().contains("target@example.jp"));
    // An address used in the first organisation is free in the other (refusing it would tell
    // the other organisation it exists); each account logs in with its own password.
    let a = other.post(
        "/api/users",
        json!({ "display_name": "同名", "email": "target@example.jp", "roles": ["signer"] }),
    );
    assert_eq!(a.status, 201, "{:?}", a.body);
    let twin = a.body["id"].as_str().expect("id").to_owned();
    let started = std::time::Instant::now();
    let twin_password = loop {
        let all: Vec<_> = service
            .smtp
            .messages()
            .into_iter()
            .filter(|m| {
                m["to"] == "target@example.jp" && m["subject"] == "アカウント発行のお知らせ"
            })
            .collect();
        if all.len() == 2 {
            break crate::service::labelled(
                all[1]["body"].as_str().expect("body"),
                "仮パスワード:",
            );
        }
        assert!(started.elapsed().as_secs() < 30, "the second account email");
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    let mut twin_api = service.api();
    twin_api.first_login("target@example.jp", &twin_password, "Twin2026pass");
    assert_eq!(twin_api.get("/api/me").body["user"]["id"], twin.as_str());
    let mut first = service.api();
    assert_eq!(first.login("target@example.jp", "Target2026x").status, 200);
    assert_eq!(first.get("/api/me").body["user"]["id"], target.as_str());
    let mut failures = Vec::new();
    let mut n = 0;
    for (column, caller) in callers.iter_mut().enumerate() {
        let mut api = caller.take().unwrap_or_else(|| service.api());
        for (method, path, body, expected) in MATRIX {
            n += 1;
            let path = path.replace("{target}", &target);
            let got = call(&mut api, method, &path, *body, n, &target);
            if got != expected[column] {
                failures.push(format!(
                    "{method} {path} as {}: expected {}, got {got}",
                    CALLERS[column], expected[column]
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The parties' endpoints with a real outside party's link, called as every role, as another
/// organisation's administrator, anonymously (the link alone), and as the outside party with
/// the session their one-time code gave them (the last column). Only the party reaches the
/// documents and the actions (which then refuse what this party may not do); anyone with the
/// link sees where it leads and may have a code mailed to the party.
#[rustfmt::skip]
const PARTY_MATRIX: &[(&str, &str, Body, [u16; 10])] = &[
    //                                                 A    A+S  DM   DM+S S    T    Op   X    anon party
    ("GET",  "/api/party/{token}",                 Body::None,   [200, 200, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("GET",  "/sign/{token}",                      Body::None,   [200, 200, 200, 200, 200, 200, 200, 200, 200, 200]),
    // The page reads the outside party's session from its cookie only (the API also from the
    // header the last column sends): everyone is refused here.
    ("GET",  "/sign/{token}/documents/{document}", Body::None,   [403, 403, 403, 403, 403, 403, 403, 403, 403, 403]),
    ("GET",  "/api/party/{token}/documents/{document}/pdf", Body::None, [403, 403, 403, 403, 403, 403, 403, 403, 403, 200]),
    ("POST", "/api/party/{token}/sign",            Body::Sign,   [403, 403, 403, 403, 403, 403, 403, 403, 403, 400]),
    ("POST", "/api/party/{token}/approve",         Body::None,   [403, 403, 403, 403, 403, 403, 403, 403, 403, 400]),
    ("POST", "/api/party/{token}/decline",         Body::Empty,  [403, 403, 403, 403, 403, 403, 403, 403, 403, 400]),
    // The sender did not allow forwarding.
    ("POST", "/api/party/{token}/forward",         Body::Forward, [403, 403, 403, 403, 403, 403, 403, 403, 403, 403]),
    ("GET",  "/api/party/{token}/certificate",     Body::None,   [403, 403, 403, 403, 403, 403, 403, 403, 403, 409]),
    ("POST", "/api/party/{token}/code/confirm",    Body::Code,   [400, 400, 400, 400, 400, 400, 400, 400, 400, 400]),
];

fn the_party_endpoints_answer_only_the_party(backend: Backend) {
    let Some(service) = Service::start(backend) else {
        return;
    };
    let mut admin = service.admin();
    let mut callers: Vec<Api> = vec![admin.clone()];
    let mut manager = None;
    for (i, roles) in [
        &["administrator", "signer"][..],
        &["document_manager"],
        &["document_manager", "signer"],
        &["signer"],
        &["transaction_agent"],
    ]
    .iter()
    .enumerate()
    {
        let (_, api) = service.user(
            &mut admin,
            &format!("role{i}@example.jp"),
            roles,
            "Role2026pass",
        );
        if i == 1 {
            manager = Some(api.clone());
        }
        callers.push(api);
    }
    let mut operator = service.operator();
    let other = service.other_org_admin(&mut operator);
    callers.push(operator);
    callers.push(other);
    callers.push(service.api());
    let mut manager = manager.expect("the document manager");

    // A contract sent to an outside party (a simple signature, nothing else to fill).
    let id = manager
        .post("/api/contracts", json!({ "title": "Matrix" }))
        .body["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let pdf = crate::support::minimal_pdf("matrix");
    let document = manager
        .raw(
            "POST",
            &format!("/api/contracts/{id}/documents?name=m.pdf"),
            Some(&pdf),
            Some("application/pdf"),
        )
        .body["id"]
        .as_str()
        .expect("document")
        .to_owned();
    let party = manager.post(
        &format!("/api/contracts/{id}/parties"),
        json!({ "role": "signer", "step": 1, "signature_kind": "simple", "email": "guest@example.com", "name": "Guest" }),
    );
    let party = party.body["id"].as_str().expect("party").to_owned();
    let field = manager.post(
        &format!("/api/contracts/{id}/fields"),
        json!({ "document": document, "party": party, "kind": "signature", "page": 1, "x": 50, "y": 50, "width": 120, "height": 60 }),
    );
    assert_eq!(field.status, 201, "{:?}", field.body);
    let sent = manager.post(&format!("/api/contracts/{id}/send"), json!({}));
    assert_eq!(sent.status, 200, "{:?}", sent.body);
    let mail = service.mail_to("guest@example.com", "【署名依頼】Matrix（Inkan）");
    let body = mail["body"].as_str().expect("body");
    let token = body
        .lines()
        .find_map(|l| l.trim().strip_prefix("https://sign.example.jp/sign/"))
        .expect("the link")
        .to_owned();
    let mut guest = service.api();
    assert_eq!(
        guest
            .post(&format!("/api/party/{token}/code"), json!({}))
            .status,
        204
    );
    let code = crate::service::labelled(
        service.mail_to("guest@example.com", "【確認コード】Matrix")["body"]
            .as_str()
            .expect("body"),
        "確認コード:",
    );
    let a = guest.post(
        &format!("/api/party/{token}/code/confirm"),
        json!({ "code": code }),
    );
    assert_eq!(a.status, 200, "{:?}", a.body);
    guest.headers = vec![(
        "X-Inkan-Party".into(),
        a.body["session"].as_str().expect("session").to_owned(),
    )];
    callers.push(guest);

    let mut failures = Vec::new();
    let mut n = 0;
    for (column, api) in callers.iter_mut().enumerate() {
        for (method, path, body, expected) in PARTY_MATRIX {
            n += 1;
            let path = path
                .replace("{token}", &token)
                .replace("{document}", &document);
            let got = call(api, method, &path, *body, n, "");
            if got != expected[column] {
                let who = CALLERS.get(column).copied().unwrap_or("the outside party");
                failures.push(format!(
                    "{method} {path} as {who}: expected {}, got {got}",
                    expected[column]
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // Nothing above changed the party's turn.
    let contract = manager.get(&format!("/api/contracts/{id}")).body;
    assert_eq!(contract["parties"][0]["status"], "opened", "{contract}");
}

#[test]
fn the_party_endpoints_answer_only_the_party_on_sqlite() {
    the_party_endpoints_answer_only_the_party(Backend::Sqlite);
}

#[test]
fn the_party_endpoints_answer_only_the_party_on_postgres() {
    the_party_endpoints_answer_only_the_party(Backend::Postgres);
}

#[test]
fn every_endpoint_answers_every_role_as_the_readme_says_on_sqlite() {
    every_endpoint_answers_every_role_as_the_readme_says(Backend::Sqlite);
}

#[test]
fn every_endpoint_answers_every_role_as_the_readme_says_on_postgres() {
    every_endpoint_answers_every_role_as_the_readme_says(Backend::Postgres);
}

/// Every `/api` route the router serves (read from the route modules' source) is in the OpenAPI
/// document with its methods, and the document lists nothing the router does not serve.
#[test]
fn the_openapi_document_lists_every_api_route() {
    let Some(service) = Service::start(Backend::Sqlite) else {
        return;
    };
    let doc = service.api().get("/api/openapi.json");
    assert_eq!(doc.status, 200);
    assert!(
        doc.body["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.")),
        "{}",
        doc.body
    );
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../web/src/routes");
    let mut served = Vec::new();
    for file in [
        "api.rs",
        "health.rs",
        "certificates.rs",
        "contracts.rs",
        "party.rs",
        "pins.rs",
        "seals.rs",
        "settings.rs",
        "webhooks.rs",
    ] {
        let source = std::fs::read_to_string(dir.join(file)).expect("route source");
        // `.route("/path", get(a).post(b))`, possibly over several lines.
        for part in source.split(".route(").skip(1) {
            let path = part.split('"').nth(1).expect("a path literal").to_owned();
            let call = part.split(")\n").next().unwrap_or(part);
            for method in ["get", "post", "patch", "delete", "put"] {
                if call.contains(&format!("{method}(")) {
                    served.push((path.clone(), method.to_owned()));
                }
            }
        }
    }
    assert!(served.len() >= 15, "{served:?}");
    let paths = doc.body["paths"].as_object().expect("paths");
    let mut missing = Vec::new();
    for (path, method) in &served {
        if path == "/api/openapi.json" {
            continue;
        }
        if paths.get(path).and_then(|p| p.get(method)).is_none() {
            missing.push(format!("{method} {path}"));
        }
    }
    assert!(missing.is_empty(), "served but not documented: {missing:?}");
    for (path, ops) in paths {
        for method in ops.as_object().expect("operations").keys() {
            assert!(
                served.iter().any(|(p, m)| p == path && m == method),
                "documented but not served: {method} {path}"
            );
        }
    }
}

/// schemathesis against the live server, logged in as an administrator: no 5xx, and every
/// answer (status, content type, body) as the OpenAPI document says. `/api/session` is left out
/// so the run does not log itself out (login and logout are covered above).
fn the_live_api_conforms_to_its_openapi_document(backend: Backend) {
    let Some(service) = Service::start(backend) else {
        return;
    };
    let admin = service.admin();
    let cookie = admin.cookie.clone().expect("cookie");
    let csrf = admin.csrf.clone().expect("csrf");
    let base = &service.app.base;
    let Some((passed, output)) = crate::schemathesis::run_schemathesis_with(
        &format!("{base}/api/openapi.json"),
        base,
        &[("Cookie", &cookie), ("X-CSRF-Token", &csrf)],
        25,
        &["--exclude-path", "/api/session"],
    ) else {
        return;
    };
    assert!(passed, "{output}");
    // The run really exercised every operation but the excluded login/logout, logged in.
    assert!(output.contains("Tested: 96"), "{output}");
    assert!(!output.contains("401/403 responses\n401"), "{output}");
    assert_eq!(
        admin.clone().get("/api/users").status,
        200,
        "still logged in"
    );
}

#[test]
fn the_live_api_conforms_to_its_openapi_document_on_sqlite() {
    the_live_api_conforms_to_its_openapi_document(Backend::Sqlite);
}

#[test]
fn the_live_api_conforms_to_its_openapi_document_on_postgres() {
    the_live_api_conforms_to_its_openapi_document(Backend::Postgres);
}

/// The operator's endpoints under schemathesis, logged in as the instance operator.
#[test]
fn the_operator_api_conforms_to_its_openapi_document() {
    let Some(service) = Service::start(Backend::Sqlite) else {
        return;
    };
    let mut operator = service.operator();
    let cookie = operator.cookie.clone().expect("cookie");
    let csrf = operator.csrf.clone().expect("csrf");
    let base = &service.app.base;
    let Some((passed, output)) = crate::schemathesis::run_schemathesis_with(
        &format!("{base}/api/openapi.json"),
        base,
        &[("Cookie", &cookie), ("X-CSRF-Token", &csrf)],
        25,
        &["--include-path-regex", "^/api/(organisations|me)$"],
    ) else {
        return;
    };
    assert!(passed, "{output}");
    assert!(output.contains("Tested: 4"), "{output}");
    let orgs = operator.get("/api/organisations");
    assert!(
        orgs.body.as_array().is_some_and(|a| a.len() > 1),
        "organisations were created: {:?}",
        orgs.body
    );
}
