//! Organisations and users: the parsed types (`Email`, `Role`, `RoleSet`), the password rule and
//! hashing (Argon2id), creating organisations (the first one at `inkan admin init` or the first
//! start; later ones by the instance operator) and users with their account email, and the
//! changes administrators make to users. Every change is recorded in the audit log in the same
//! transaction.

use std::fmt;

use anyhow::Context;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use sqlx::any::AnyRow;
use sqlx::{Any, AnyConnection, Row, Transaction};

use crate::audit;
use crate::config::Secret;
use crate::db::{flag, Db};
use crate::error::{unique_violation, Failure, FieldError};
use crate::i18n::Lang;
use crate::mail::{self, Addressee, Mail};

/// An email address, trimmed and lower-cased: the one rule for logins, contract parties and
/// certificate applications. It must also fit a certificate's rfc822Name (ASCII, a local part
/// of 1–64 characters without spaces or specials, a host name after the `@`), so an address an
/// account accepts is never refused later by the certificate authority.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

/// Why an address was refused; [`EmailError::key`] is the message shown next to the field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    #[error("an email address is needed")]
    Empty,
    #[error("an email address has one @ between a name and a domain")]
    NoAt,
    #[error("an email address is at most 254 characters")]
    TooLong,
    #[error("only ASCII addresses fit in a signing certificate")]
    NotAscii,
    #[error("the part before @ must be 1-64 characters without spaces or ()<>[]\\,;:\"@")]
    Local,
    #[error("the part after @ is not a host name (letters, digits and hyphens, dot-separated)")]
    Domain,
}

impl EmailError {
    /// The message key.
    pub fn key(self) -> &'static str {
        match self {
            EmailError::Empty => "error.required",
            EmailError::NoAt => "error.email_no_at",
            EmailError::TooLong => "error.email_too_long",
            EmailError::NotAscii => "error.email_ascii",
            EmailError::Local => "error.email_local",
            EmailError::Domain => "error.email_domain",
        }
    }

    /// The refusal of field `field`.
    pub fn on(self, field: &'static str) -> FieldError {
        FieldError::new(field, self.key())
    }
}

impl Email {
    pub fn parse(s: &str) -> Result<Self, EmailError> {
        let s = s.trim().to_lowercase();
        if s.is_empty() {
            return Err(EmailError::Empty);
        }
        if s.len() > 254 {
            return Err(EmailError::TooLong);
        }
        let (local, domain) = s.rsplit_once('@').ok_or(EmailError::NoAt)?;
        if !s.is_ascii() {
            return Err(EmailError::NotAscii);
        }
        if local.is_empty()
            || local.len() > 64
            || local
                .bytes()
                .any(|b| b <= b' ' || b == 0x7f || b"()<>[]\\,;:\"@".contains(&b))
        {
            return Err(EmailError::Local);
        }
        // A host name: dot-separated labels of letters, digits and inner hyphens. One label
        // (`admin@localhost`, the first administrator's default) is a host name too.
        let host = domain.split('.').all(|l| {
            (1..=63).contains(&l.len())
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
        if !host {
            return Err(EmailError::Domain);
        }
        Ok(Self(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An organisation's name: not blank, at most 200 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgName(String);

impl OrgName {
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if s.is_empty() || s.chars().count() > 200 || s.chars().any(char::is_control) {
            Err("an organisation name must be 1 to 200 characters".into())
        } else {
            Ok(Self(s.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// One role. Users of a customer organisation hold one of the [`RoleSet`] combinations; the
/// instance operator's users hold `Operator` alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// 管理者
    Administrator,
    /// 文書管理者
    DocumentManager,
    /// 署名者
    Signer,
    /// 取引士
    TransactionAgent,
    /// 運営者: above the organisations; creates them, sees none of their documents.
    Operator,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Administrator => "administrator",
            Role::DocumentManager => "document_manager",
            Role::Signer => "signer",
            Role::TransactionAgent => "transaction_agent",
            Role::Operator => "operator",
        }
    }

    pub fn parse(s: &str) -> Result<Self, String> {
        Ok(match s {
            "administrator" => Role::Administrator,
            "document_manager" => Role::DocumentManager,
            "signer" => Role::Signer,
            "transaction_agent" => Role::TransactionAgent,
            "operator" => Role::Operator,
            _ => return Err(format!("unknown role '{s}'")),
        })
    }
}

/// A valid combination of roles, stored space-separated in `users.roles`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoleSet {
    primary: Role,
    signer: bool,
}

impl RoleSet {
    /// The combinations an organisation's user may hold (the operator's is not among them).
    pub const ASSIGNABLE: [RoleSet; 6] = [
        RoleSet::only(Role::Administrator),
        RoleSet::with_signer(Role::Administrator),
        RoleSet::only(Role::DocumentManager),
        RoleSet::with_signer(Role::DocumentManager),
        RoleSet::only(Role::Signer),
        RoleSet::only(Role::TransactionAgent),
    ];

    pub const fn only(role: Role) -> Self {
        Self {
            primary: role,
            signer: false,
        }
    }

    const fn with_signer(role: Role) -> Self {
        Self {
            primary: role,
            signer: true,
        }
    }

    pub fn has(self, role: Role) -> bool {
        self.primary == role || (role == Role::Signer && self.signer)
    }

    pub fn roles(self) -> Vec<Role> {
        let mut v = vec![self.primary];
        if self.signer {
            v.push(Role::Signer);
        }
        v
    }

    /// From a list of role names, in any order; `None` unless it is one of [`Self::ASSIGNABLE`]
    /// (or the operator's, when `allow_operator`).
    pub fn from_names<S: AsRef<str>>(names: &[S], allow_operator: bool) -> Option<Self> {
        let mut roles = names
            .iter()
            .map(|n| Role::parse(n.as_ref().trim()).ok())
            .collect::<Option<Vec<_>>>()?;
        roles.sort();
        roles.dedup();
        if roles.len() != names.len() {
            return None;
        }
        let set = match roles.as_slice() {
            [Role::Operator] if allow_operator => RoleSet::only(Role::Operator),
            [one] => RoleSet::only(*one),
            [primary, Role::Signer] => RoleSet::with_signer(*primary),
            _ => return None,
        };
        (set.primary == Role::Operator && allow_operator || Self::ASSIGNABLE.contains(&set))
            .then_some(set)
    }

    /// From the stored column.
    pub fn from_column(s: &str) -> anyhow::Result<Self> {
        let names: Vec<&str> = s.split_whitespace().collect();
        Self::from_names(&names, true)
            .ok_or_else(|| anyhow::anyhow!("stored roles '{s}' are not a valid combination"))
    }

    pub fn to_column(self) -> String {
        self.names().join(" ")
    }

    pub fn names(self) -> Vec<&'static str> {
        self.roles().into_iter().map(Role::as_str).collect()
    }

    /// The text key naming this combination (`role.administrator+signer`, …).
    pub fn label_key(self) -> &'static str {
        match (self.primary, self.signer) {
            (Role::Administrator, true) => "role.administrator+signer",
            (Role::DocumentManager, true) => "role.document_manager+signer",
            (Role::Administrator, false) => "role.administrator",
            (Role::DocumentManager, false) => "role.document_manager",
            (Role::Signer, _) => "role.signer",
            (Role::TransactionAgent, _) => "role.transaction_agent",
            (Role::Operator, _) => "role.operator",
        }
    }

    /// The form value of this combination (`administrator+signer`, …).
    pub fn form_value(self) -> String {
        self.names().join("+")
    }
}

/// A person's name as shown in the service: not blank, at most 100 characters.
pub fn parse_display_name(s: &str) -> Result<String, FieldError> {
    let s = s.trim();
    if s.is_empty() {
        Err(FieldError::new("display_name", "error.required"))
    } else if s.chars().count() > 100 || s.chars().any(char::is_control) {
        Err(FieldError::new("display_name", "error.name_invalid"))
    } else {
        Ok(s.to_owned())
    }
}

/// The password rule: 8 to 128 characters, with at least one ASCII letter and one digit.
pub fn check_password_strength(password: &str) -> bool {
    let n = password.chars().count();
    (8..=128).contains(&n)
        && password.chars().any(|c| c.is_ascii_alphabetic())
        && password.chars().any(|c| c.is_ascii_digit())
        && !password.chars().any(char::is_control)
}

/// A random identifier: 128 bits as 32 hex digits.
pub fn new_id() -> anyhow::Result<String> {
    let mut bytes = [0u8; 16];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| anyhow::anyhow!("no system randomness"))?;
    Ok(hex::encode(bytes))
}

/// A temporary password: 16 characters from letters and digits without look-alikes (0/O, 1/l/I),
/// always with at least one letter and one digit.
pub fn temporary_password() -> anyhow::Result<Secret<String>> {
    const LETTERS: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ";
    const DIGITS: &[u8] = b"23456789";
    loop {
        let mut bytes = [0u8; 16];
        aws_lc_rs::rand::fill(&mut bytes).map_err(|_| anyhow::anyhow!("no system randomness"))?;
        let alphabet: Vec<u8> = [LETTERS, DIGITS].concat();
        // 256 % 56 != 0: reject the biased tail.
        let limit = 256 - 256 % alphabet.len();
        let chars: String = bytes
            .iter()
            .filter(|&&b| (b as usize) < limit)
            .map(|&b| alphabet[b as usize % alphabet.len()] as char)
            .collect();
        if chars.len() == 16
            && chars.chars().any(|c| c.is_ascii_digit())
            && chars.chars().any(|c| c.is_ascii_alphabetic())
        {
            return Ok(Secret::new(chars));
        }
    }
}

/// An Argon2id hash (PHC string) of `password`.
pub fn hash_password(password: &Secret<String>) -> anyhow::Result<String> {
    let mut salt = [0u8; 16];
    aws_lc_rs::rand::fill(&mut salt).map_err(|_| anyhow::anyhow!("no system randomness"))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| anyhow::anyhow!("salt: {e}"))?;
    let hash = Argon2::default()
        .hash_password(password.expose().as_bytes(), &salt)
        .map_err(|e| anyhow::anyhow!("hashing the password: {e}"))?;
    Ok(hash.to_string())
}

/// Whether `password` matches the stored hash.
pub fn verify_password(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// What [`initialise`] created.
#[derive(Debug)]
#[allow(dead_code)] // the ids are for callers that go on to act as the new administrator
pub struct Initialised {
    pub org_id: String,
    pub admin_id: String,
    pub email: Email,
    pub temporary_password: Secret<String>,
}

/// Creates the instance's first organisation and administrator, with a temporary password that
/// must be changed at the first login. Returns `None` when the instance is already initialised
/// (by another process too: the `instance` row is claimed in the same transaction). The
/// administrator's 「アカウント発行のお知らせ」 is queued in the same transaction.
pub async fn initialise(
    db: &Db,
    now: i64,
    org: &OrgName,
    email: &Email,
    login_url: &str,
) -> anyhow::Result<Option<Initialised>> {
    let mut tx = db.begin().await?;
    let claimed = sqlx::query(
        "INSERT INTO instance (id, initialised_at) VALUES (1, $1) ON CONFLICT (id) DO NOTHING",
    )
    .bind(now)
    .execute(&mut *tx)
    .await
    .context("claiming the instance")?;
    if claimed.rows_affected() == 0 {
        tx.rollback().await?;
        return Ok(None);
    }
    let by = Creation {
        seal: &db.audit,
        now,
        actor: "system",
        login_url,
    };
    let created = insert_organisation(
        &mut tx,
        &by,
        OrgKind::Customer,
        org,
        &NewAccount {
            display_name: email.as_str().to_owned(),
            email: email.clone(),
            roles: RoleSet::only(Role::Administrator),
            password: None,
        },
    )
    .await
    .map_err(|f| anyhow::anyhow!("{f}"))?;
    tx.commit().await?;
    Ok(Some(Initialised {
        org_id: created.org_id,
        admin_id: created.user.id,
        email: email.clone(),
        temporary_password: created.password,
    }))
}

crate::db::stored_text! {
    /// What an organisation is.
    pub enum OrgKind("organisation kind") {
        /// A company using the service.
        Customer = "customer",
        /// The instance operator's own organisation: its users hold the operator role.
        Operator = "operator",
    }
}

/// The operator organisation's (fixed, reserved) name.
pub const OPERATOR_ORG: &str = "(instance operator)";

/// A checked request for a new account.
#[derive(Debug)]
pub struct NewAccount {
    pub display_name: String,
    pub email: Email,
    pub roles: RoleSet,
    /// Chosen by the administrator; `None` generates one. Either way it is temporary.
    pub password: Option<Secret<String>>,
}

impl NewAccount {
    /// Checks every field of a request and reports all problems at once.
    pub fn parse(
        display_name: &str,
        email: &str,
        roles: &[String],
        password: Option<&str>,
        confirmation: Option<&str>,
    ) -> Result<Self, Failure> {
        let mut errors = Vec::new();
        let display_name = parse_display_name(display_name).map_err(|e| errors.push(e));
        let email = if email.trim().is_empty() {
            errors.push(FieldError::new("email", "error.required"));
            Err(())
        } else {
            Email::parse(email).map_err(|e| errors.push(e.on("email")))
        };
        let roles = if roles.is_empty() {
            errors.push(FieldError::new("roles", "error.required"));
            Err(())
        } else {
            RoleSet::from_names(roles, false)
                .ok_or_else(|| errors.push(FieldError::new("roles", "error.roles_invalid")))
        };
        let password = match password.filter(|p| !p.is_empty()) {
            None => Ok(None),
            Some(p) if !check_password_strength(p) => {
                errors.push(FieldError::new("password", "error.password_weak"));
                Err(())
            }
            Some(p) if confirmation != Some(p) => {
                errors.push(FieldError::new(
                    "password_confirmation",
                    "error.password_mismatch",
                ));
                Err(())
            }
            Some(p) => Ok(Some(Secret::new(p.to_owned()))),
        };
        match (display_name, email, roles, password) {
            (Ok(display_name), Ok(email), Ok(roles), Ok(password)) if errors.is_empty() => {
                Ok(Self {
                    display_name,
                    email,
                    roles,
                    password,
                })
            }
            _ => Err(Failure::Invalid(errors)),
        }
    }
}

/// A stored user.
#[derive(Debug, Clone)]
pub struct User {
    pub id: String,
    pub org_id: String,
    pub email: String,
    pub display_name: String,
    pub roles: RoleSet,
    pub active: bool,
    pub must_change_password: bool,
    pub language: Lang,
    pub created_at: i64,
}

pub const USER_COLUMNS: &str =
    "id, org_id, email, display_name, roles, active, must_change_password, language, created_at";

impl User {
    pub fn from_row(row: &AnyRow) -> anyhow::Result<Self> {
        Ok(Self {
            id: row.try_get("id")?,
            org_id: row.try_get("org_id")?,
            email: row.try_get("email")?,
            display_name: row.try_get("display_name")?,
            roles: RoleSet::from_column(&row.try_get::<String, _>("roles")?)?,
            active: flag(row, "active")?,
            must_change_password: flag(row, "must_change_password")?,
            language: Lang::parse(&row.try_get::<String, _>("language")?).unwrap_or_default(),
            created_at: row.try_get("created_at")?,
        })
    }
}

/// What creating an organisation or a user made.
#[derive(Debug)]
pub struct Created {
    pub org_id: String,
    pub user: User,
    /// The temporary password (also emailed).
    pub password: Secret<String>,
}

/// Who creates an organisation or an account, when, and what goes with it.
struct Creation<'a> {
    seal: &'a audit::Seal,
    now: i64,
    /// A user id, `system` or `cli`.
    actor: &'a str,
    /// Where the account mail sends the new user.
    login_url: &'a str,
}

async fn insert_organisation(
    tx: &mut Transaction<'static, Any>,
    by: &Creation<'_>,
    kind: OrgKind,
    org: &OrgName,
    admin: &NewAccount,
) -> Result<Created, Failure> {
    let Creation {
        seal, now, actor, ..
    } = *by;
    let org_id = new_id()?;
    sqlx::query("INSERT INTO organisations (id, name, created_at, kind) VALUES ($1, $2, $3, $4)")
        .bind(&org_id)
        .bind(org.as_str())
        .bind(now)
        .bind(kind.as_str())
        .execute(&mut **tx)
        .await
        .map_err(|e| unique_violation(e, FieldError::new("name", "error.org_name_taken")))?;
    audit::append(
        tx,
        seal,
        now,
        &audit::Event {
            org_id: Some(&org_id),
            actor: Some(actor),
            action: "organisation.created",
            detail: serde_json::json!({ "organisation": org_id, "name": org.as_str() }),
        },
    )
    .await?;
    let (user, password) = insert_user(tx, by, &org_id, org, admin).await?;
    Ok(Created {
        org_id,
        user,
        password,
    })
}

/// Inserts the user, records it, and queues the account email, all in `tx`.
async fn insert_user(
    tx: &mut Transaction<'static, Any>,
    by: &Creation<'_>,
    org_id: &str,
    org: &OrgName,
    account: &NewAccount,
) -> Result<(User, Secret<String>), Failure> {
    let Creation {
        seal,
        now,
        actor,
        login_url,
    } = *by;
    let password = match &account.password {
        Some(p) => p.clone(),
        None => temporary_password()?,
    };
    let hash = hash_password_blocking(password.clone()).await?;
    let user = User {
        id: new_id()?,
        org_id: org_id.to_owned(),
        email: account.email.as_str().to_owned(),
        display_name: account.display_name.clone(),
        roles: account.roles,
        active: true,
        must_change_password: true,
        language: Lang::Ja,
        created_at: now,
    };
    sqlx::query(
        "INSERT INTO users (id, org_id, email, display_name, roles, password_hash, \
         must_change_password, active, created_at, language) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(&user.id)
    .bind(org_id)
    .bind(&user.email)
    .bind(&user.display_name)
    .bind(user.roles.to_column())
    .bind(&hash)
    .bind(true)
    .bind(true)
    .bind(now)
    .bind(user.language.as_str())
    .execute(&mut **tx)
    .await
    .map_err(|e| unique_violation(e, FieldError::new("email", "error.email_taken")))?;
    audit::append(
        tx,
        seal,
        now,
        &audit::Event {
            org_id: Some(org_id),
            actor: Some(actor),
            action: "user.created",
            detail: serde_json::json!({
                "user": user.id, "email": user.email, "roles": user.roles.names(),
                "password": if account.password.is_some() { "chosen" } else { "generated" },
            }),
        },
    )
    .await?;
    let notice = Mail::AccountIssued {
        name: &user.display_name,
        organisation: org.as_str(),
        login_url,
        email: &user.email,
        temporary_password: &password,
    };
    mail::send(tx, now, &Addressee::user(&user), &notice).await?;
    Ok((user, password))
}

/// An administrator creates a user of their organisation; the user is emailed the login URL and
/// the temporary password.
pub async fn create_user(
    db: &Db,
    now: i64,
    admin: &User,
    account: &NewAccount,
    login_url: &str,
) -> Result<Created, Failure> {
    let org = organisation_name(db, &admin.org_id).await?;
    let mut tx = db.begin().await?;
    let by = Creation {
        seal: &db.audit,
        now,
        actor: &admin.id,
        login_url,
    };
    let (user, password) = insert_user(&mut tx, &by, &admin.org_id, &org, account).await?;
    tx.commit().await?;
    Ok(Created {
        org_id: admin.org_id.clone(),
        user,
        password,
    })
}

/// The operator creates an organisation with its first administrator.
pub async fn create_organisation(
    db: &Db,
    now: i64,
    operator: &User,
    org: &OrgName,
    admin: &NewAccount,
    login_url: &str,
) -> Result<Created, Failure> {
    let mut tx = db.begin().await?;
    let by = Creation {
        seal: &db.audit,
        now,
        actor: &operator.id,
        login_url,
    };
    let created = insert_organisation(&mut tx, &by, OrgKind::Customer, org, admin).await?;
    tx.commit().await?;
    Ok(created)
}

/// Creates an instance operator (and the operator organisation on first use). `inkan admin
/// create-operator`.
pub async fn create_operator(
    db: &Db,
    now: i64,
    email: &Email,
    login_url: &str,
) -> Result<Created, Failure> {
    let org = OrgName::parse(OPERATOR_ORG).map_err(anyhow::Error::msg)?;
    let account = NewAccount {
        display_name: email.as_str().to_owned(),
        email: email.clone(),
        roles: RoleSet::only(Role::Operator),
        password: None,
    };
    let by = Creation {
        seal: &db.audit,
        now,
        actor: "cli",
        login_url,
    };
    let mut tx = db.begin().await?;
    let existing = sqlx::query("SELECT id FROM organisations WHERE kind = $1")
        .bind(OrgKind::Operator.as_str())
        .fetch_optional(&mut *tx)
        .await?;
    let created = match existing {
        Some(row) => {
            let org_id: String = row.try_get("id")?;
            let (user, password) = insert_user(&mut tx, &by, &org_id, &org, &account).await?;
            Created {
                org_id,
                user,
                password,
            }
        }
        None => insert_organisation(&mut tx, &by, OrgKind::Operator, &org, &account).await?,
    };
    tx.commit().await?;
    Ok(created)
}

pub async fn organisation_name(db: &Db, org_id: &str) -> Result<OrgName, Failure> {
    let row = sqlx::query("SELECT name FROM organisations WHERE id = $1")
        .bind(org_id)
        .fetch_optional(&db.pool)
        .await?
        .ok_or(Failure::NotFound)?;
    Ok(OrgName(row.try_get("name")?))
}

/// An organisation as the operator sees it.
#[derive(Debug, Clone)]
pub struct OrgSummary {
    pub id: String,
    pub name: String,
    pub created_at: i64,
    pub users: i64,
}

/// Every customer organisation, oldest first.
pub async fn list_organisations(db: &Db) -> Result<Vec<OrgSummary>, Failure> {
    let rows = sqlx::query(
        "SELECT o.id, o.name, o.created_at, \
         (SELECT COUNT(*) FROM users u WHERE u.org_id = o.id) AS users \
         FROM organisations o WHERE o.kind = $1 ORDER BY o.created_at, o.name",
    )
    .bind(OrgKind::Customer.as_str())
    .fetch_all(&db.pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(OrgSummary {
                id: r.try_get("id")?,
                name: r.try_get("name")?,
                created_at: r.try_get("created_at")?,
                users: r.try_get("users")?,
            })
        })
        .collect()
}

/// The users of one organisation, by name.
pub async fn list_users(db: &Db, org_id: &str) -> Result<Vec<User>, Failure> {
    let rows = sqlx::query(&format!(
        "SELECT {USER_COLUMNS} FROM users WHERE org_id = $1 ORDER BY created_at, email"
    ))
    .bind(org_id)
    .fetch_all(&db.pool)
    .await?;
    Ok(rows
        .iter()
        .map(User::from_row)
        .collect::<anyhow::Result<_>>()?)
}

/// Active users of `org_id` whose name or address contains `search` (any case; `%` and `_` taken
/// literally; empty for any), by name, at most `limit`: what a type-ahead offers. The
/// instance operator is nobody's colleague and is never found.
pub async fn search_users(
    db: &Db,
    org_id: &str,
    search: &str,
    limit: i64,
) -> Result<Vec<User>, Failure> {
    let mut pattern = String::from("%");
    for c in search.trim().to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    let rows = sqlx::query(&format!(
        "SELECT {USER_COLUMNS} FROM users WHERE org_id = $1 AND active = $2 \
         AND roles NOT LIKE $3 \
         AND (LOWER(display_name) LIKE $4 ESCAPE '\\' OR LOWER(email) LIKE $4 ESCAPE '\\') \
         ORDER BY display_name, email LIMIT $5"
    ))
    .bind(org_id)
    .bind(true)
    .bind("%operator%")
    .bind(&pattern)
    .bind(limit)
    .fetch_all(&db.pool)
    .await?;
    Ok(rows
        .iter()
        .map(User::from_row)
        .collect::<anyhow::Result<_>>()?)
}

/// A user of `org_id`; another organisation's user is not found.
/// The active user with `email`: of `prefer_org` when there is one, else of another
/// organisation on the instance (the same address may exist in several: more than one outside
/// `prefer_org` is ambiguous, and refused). `None`: nobody here has that address.
pub async fn find_by_email(
    db: &Db,
    prefer_org: &str,
    email: &Email,
) -> Result<Option<User>, Failure> {
    let rows = sqlx::query(&format!(
        "SELECT {USER_COLUMNS} FROM users WHERE email = $1 AND active = $2 ORDER BY created_at"
    ))
    .bind(email.as_str())
    .bind(true)
    .fetch_all(&db.pool)
    .await?;
    let users = rows
        .iter()
        .map(User::from_row)
        .collect::<Result<Vec<_>, _>>()?;
    if let Some(own) = users.iter().find(|u| u.org_id == prefer_org) {
        return Ok(Some(own.clone()));
    }
    match users.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(one.clone())),
        _ => Err(Failure::invalid("email", "error.email_ambiguous")),
    }
}

pub async fn get_user(db: &Db, org_id: &str, id: &str) -> Result<User, Failure> {
    let row = sqlx::query(&format!(
        "SELECT {USER_COLUMNS} FROM users WHERE id = $1 AND org_id = $2"
    ))
    .bind(id)
    .bind(org_id)
    .fetch_optional(&db.pool)
    .await?
    .ok_or(Failure::NotFound)?;
    Ok(User::from_row(&row)?)
}

/// Changes an administrator may make to a user of their organisation.
#[derive(Debug, Default)]
pub struct UserChange {
    pub display_name: Option<String>,
    pub roles: Option<Vec<String>>,
    pub active: Option<bool>,
}

/// Applies `change` to the user `id` of the administrator's organisation. An administrator
/// cannot drop their own administrator role or deactivate themselves (so an organisation always
/// keeps one). Deactivating ends the user's sessions.
pub async fn update_user(
    db: &Db,
    now: i64,
    admin: &User,
    id: &str,
    change: &UserChange,
) -> Result<User, Failure> {
    let mut errors = Vec::new();
    let display_name = match &change.display_name {
        Some(n) => parse_display_name(n).map(Some).unwrap_or_else(|e| {
            errors.push(e);
            None
        }),
        None => None,
    };
    let roles = match &change.roles {
        Some(names) => RoleSet::from_names(names, false).or_else(|| {
            errors.push(FieldError::new("roles", "error.roles_invalid"));
            None
        }),
        None => None,
    };
    if !errors.is_empty() {
        return Err(Failure::Invalid(errors));
    }
    let before = get_user(db, &admin.org_id, id).await?;
    if before.id == admin.id
        && (change.active == Some(false) || roles.is_some_and(|r| !r.has(Role::Administrator)))
    {
        return Err(Failure::Conflict(vec![FieldError::new(
            "roles",
            "error.cannot_change_self",
        )]));
    }
    let mut after = before.clone();
    if let Some(n) = display_name {
        after.display_name = n;
    }
    if let Some(r) = roles {
        after.roles = r;
    }
    if let Some(a) = change.active {
        after.active = a;
    }
    let mut tx = db.begin().await?;
    sqlx::query(
        "UPDATE users SET display_name = $1, roles = $2, active = $3 WHERE id = $4 AND org_id = $5",
    )
    .bind(&after.display_name)
    .bind(after.roles.to_column())
    .bind(after.active)
    .bind(&after.id)
    .bind(&after.org_id)
    .execute(&mut *tx)
    .await?;
    let mut events = Vec::new();
    if after.roles != before.roles {
        events.push((
            "user.role_changed",
            serde_json::json!({ "user": after.id, "from": before.roles.names(), "to": after.roles.names() }),
        ));
    }
    if after.display_name != before.display_name {
        events.push((
            "user.renamed",
            serde_json::json!({ "user": after.id, "from": before.display_name, "to": after.display_name }),
        ));
    }
    if after.active != before.active {
        let action = if after.active {
            "user.reactivated"
        } else {
            "user.deactivated"
        };
        events.push((action, serde_json::json!({ "user": after.id })));
    }
    if !after.active {
        crate::auth::end_sessions(&mut tx, &after.id).await?;
    }
    for (action, detail) in events {
        audit::append(
            &mut tx,
            &db.audit,
            now,
            &audit::Event {
                org_id: Some(&after.org_id),
                actor: Some(&admin.id),
                action,
                detail,
            },
        )
        .await?;
    }
    tx.commit().await?;
    Ok(after)
}

/// Sets the user's own display name and language.
pub async fn update_profile(
    db: &Db,
    user: &User,
    display_name: Option<&str>,
    language: Option<&str>,
) -> Result<User, Failure> {
    let mut errors = Vec::new();
    let mut after = user.clone();
    if let Some(n) = display_name {
        match parse_display_name(n) {
            Ok(n) => after.display_name = n,
            Err(e) => errors.push(e),
        }
    }
    if let Some(l) = language {
        match Lang::parse(l) {
            Some(l) => after.language = l,
            None => errors.push(FieldError::new("language", "error.bad_request")),
        }
    }
    if !errors.is_empty() {
        return Err(Failure::Invalid(errors));
    }
    sqlx::query("UPDATE users SET display_name = $1, language = $2 WHERE id = $3")
        .bind(&after.display_name)
        .bind(after.language.as_str())
        .bind(&after.id)
        .execute(&db.pool)
        .await?;
    Ok(after)
}

/// Stores the user's new password hash, in the caller's transaction; a first-login change is
/// then done.
pub(crate) async fn set_password_hash(
    conn: &mut AnyConnection,
    user_id: &str,
    hash: &str,
) -> Result<(), Failure> {
    sqlx::query("UPDATE users SET password_hash = $1, must_change_password = $2 WHERE id = $3")
        .bind(hash)
        .bind(false)
        .bind(user_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Argon2id takes tens of milliseconds of CPU: off the async workers.
pub async fn hash_password_blocking(password: Secret<String>) -> anyhow::Result<String> {
    tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .context("the hashing task failed")?
}

/// [`verify_password`] off the async workers.
pub async fn verify_password_blocking(password: String, stored: String) -> bool {
    tokio::task::spawn_blocking(move || verify_password(&password, &stored))
        .await
        .unwrap_or(false)
}

/// The name of the organisation that initialised the instance, if any.
pub async fn first_organisation(db: &Db) -> anyhow::Result<Option<String>> {
    let row = sqlx::query(
        "SELECT name FROM organisations WHERE kind = $1 ORDER BY created_at, name LIMIT 1",
    )
    .bind(OrgKind::Customer.as_str())
    .fetch_optional(&db.pool)
    .await?;
    Ok(row.map(|r| r.try_get("name")).transpose()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(
            Email::parse("  Admin@Example.COM ")
                .expect("valid")
                .as_str(),
            "admin@example.com"
        );
        assert_eq!(
            Email::parse("admin@localhost").expect("one label").as_str(),
            "admin@localhost"
        );
        for (bad, why) in [
            ("", EmailError::Empty),
            ("a", EmailError::NoAt),
            ("@x", EmailError::Local),
            ("a@", EmailError::Domain),
            ("a b@x", EmailError::Local),
            ("a@b@c", EmailError::Local),
            ("a@exa mple.jp", EmailError::Domain),
            ("a@-x.jp", EmailError::Domain),
            ("a@x..jp", EmailError::Domain),
            ("山田@example.jp", EmailError::NotAscii),
        ] {
            assert_eq!(Email::parse(bad), Err(why), "{bad}");
        }
        let long = format!("{}@example.jp", "a".repeat(65));
        assert_eq!(Email::parse(&long), Err(EmailError::Local));
    }

    #[test]
    fn temporary_passwords_mix_letters_and_digits_and_differ() {
        let a = temporary_password().expect("password");
        let b = temporary_password().expect("password");
        assert_eq!(a.expose().len(), 16);
        assert!(a.expose().chars().any(|c| c.is_ascii_digit()));
        assert!(a.expose().chars().any(|c| c.is_ascii_alphabetic()));
        assert_ne!(a.expose(), b.expose());
    }

    #[test]
    fn password_hash_is_argon2id_and_verifies_only_the_password() {
        let p = Secret::new("correct horse 1".to_owned());
        let h = hash_password(&p).expect("hash");
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(verify_password("correct horse 1", &h));
        assert!(!verify_password("correct horse 2", &h));
    }

    #[test]
    fn roles_round_trip() {
        for r in [
            Role::Administrator,
            Role::DocumentManager,
            Role::Signer,
            Role::TransactionAgent,
            Role::Operator,
        ] {
            assert_eq!(Role::parse(r.as_str()), Ok(r));
        }
    }

    #[test]
    fn only_the_six_combinations_are_assignable() {
        let ok: &[&[&str]] = &[
            &["administrator"],
            &["signer", "administrator"],
            &["document_manager"],
            &["document_manager", "signer"],
            &["signer"],
            &["transaction_agent"],
        ];
        for names in ok {
            let set = RoleSet::from_names(names, false).expect("valid");
            assert_eq!(RoleSet::from_column(&set.to_column()).expect("stored"), set);
        }
        let bad: &[&[&str]] = &[
            &[],
            &["administrator", "document_manager"],
            &["transaction_agent", "signer"],
            &["signer", "signer"],
            &["operator"],
            &["administrator", "operator"],
            &["root"],
            &["administrator", "document_manager", "signer"],
        ];
        for names in bad {
            assert_eq!(RoleSet::from_names(names, false), None, "{names:?}");
        }
        assert!(RoleSet::from_names(&["operator"], true).is_some());
        assert!(RoleSet::from_names(&["operator", "signer"], true).is_none());
    }

    #[test]
    fn the_password_rule_wants_eight_characters_with_letters_and_digits() {
        for good in ["abcdefg1", "1234567a", "パスワードpass1234", "Abc 1234"] {
            assert!(check_password_strength(good), "{good}");
        }
        for bad in ["abc1234", "abcdefgh", "12345678", "", "ｱｲｳｴｵｶｷｸ"] {
            assert!(!check_password_strength(bad), "{bad}");
        }
        assert!(!check_password_strength(&"a1".repeat(65)));
    }
}
