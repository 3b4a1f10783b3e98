//! Organisations and users: the parsed types (`Email`, `Role`), password hashing (Argon2id),
//! and creating an organisation with its first administrator (`inkan admin init`, or the first
//! start of an empty instance).

use std::fmt;

use anyhow::Context;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use sqlx::Row;

use crate::audit;
use crate::config::Secret;
use crate::db::Db;
use crate::email;

/// A login email address, trimmed and lower-cased.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim().to_lowercase();
        let valid = s.len() <= 254
            && !s.chars().any(|c| c.is_whitespace() || c.is_control())
            && matches!(s.split_once('@'), Some((local, domain))
                if !local.is_empty() && !domain.is_empty() && !domain.contains('@'));
        if valid {
            Ok(Self(s))
        } else {
            Err(format!("'{}' is not an email address", s))
        }
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

// Parsed by user management and login (next steps of issue 4).
#[allow(dead_code)]
/// A user's roles within an organisation. Stored space-separated in `users.roles`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// 管理者
    Administrator,
    /// 文書管理者
    DocumentManager,
    /// 署名者
    Signer,
    /// 取引士
    TransactionAgent,
}

#[allow(dead_code)]
impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Administrator => "administrator",
            Role::DocumentManager => "document_manager",
            Role::Signer => "signer",
            Role::TransactionAgent => "transaction_agent",
        }
    }

    pub fn parse(s: &str) -> Result<Self, String> {
        Ok(match s {
            "administrator" => Role::Administrator,
            "document_manager" => Role::DocumentManager,
            "signer" => Role::Signer,
            "transaction_agent" => Role::TransactionAgent,
            _ => return Err(format!("unknown role '{s}'")),
        })
    }
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

// Used by login (next step of issue 4).
#[allow(dead_code)]
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
    let password = temporary_password()?;
    let hash = hash_password(&password)?;
    let org_id = new_id()?;
    let admin_id = new_id()?;
    let mut tx = db.pool.begin().await?;
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
    sqlx::query("INSERT INTO organisations (id, name, created_at) VALUES ($1, $2, $3)")
        .bind(&org_id)
        .bind(org.as_str())
        .bind(now)
        .execute(&mut *tx)
        .await
        .context("creating the organisation")?;
    sqlx::query(
        "INSERT INTO users (id, org_id, email, display_name, roles, password_hash, \
         must_change_password, active, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&admin_id)
    .bind(&org_id)
    .bind(email.as_str())
    .bind(email.as_str())
    .bind(Role::Administrator.as_str())
    .bind(&hash)
    .bind(true)
    .bind(true)
    .bind(now)
    .execute(&mut *tx)
    .await
    .context("creating the administrator")?;
    for (action, detail) in [
        (
            "organisation.created",
            serde_json::json!({ "organisation": org_id, "name": org.as_str() }),
        ),
        (
            "user.created",
            serde_json::json!({ "user": admin_id, "email": email.as_str(), "roles": [Role::Administrator.as_str()] }),
        ),
    ] {
        audit::append(
            &mut tx,
            now,
            &audit::Event {
                org_id: Some(&org_id),
                actor: Some("system"),
                action,
                detail,
            },
        )
        .await
        .context("writing the audit log")?;
    }
    let (subject, body_text) = account_notice(org, email, login_url, &password);
    email::enqueue(
        &mut *tx,
        now,
        &email::Outgoing {
            org_id: Some(&org_id),
            to: email,
            subject: &subject,
            body_text: &body_text,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Some(Initialised {
        org_id,
        admin_id,
        email: email.clone(),
        temporary_password: password,
    }))
}

/// The account issuance email (subject, body): where to log in, and the temporary password.
pub fn account_notice(
    org: &OrgName,
    email: &Email,
    login_url: &str,
    password: &Secret<String>,
) -> (String, String) {
    let body = format!(
        "{email} 様\n\n\
         Inkan のアカウントが発行されました。\n\
         次の URL から、仮パスワードでログインしてください。\n\n\
         組織: {org}\n\
         ログイン URL: {login_url}\n\
         メールアドレス: {email}\n\
         仮パスワード: {password}\n\n\
         初回ログイン時に、新しいパスワード(8 文字以上、英字と数字を含む)を設定していただきます。\n\
         このメールに心当たりがない場合は、破棄してください。\n",
        org = org.as_str(),
        password = password.expose(),
    );
    ("アカウント発行のお知らせ".to_owned(), body)
}

/// The name of the organisation that initialised the instance, if any.
pub async fn first_organisation(db: &Db) -> anyhow::Result<Option<String>> {
    let row = sqlx::query("SELECT name FROM organisations ORDER BY created_at, name LIMIT 1")
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
        for bad in ["", "a", "@x", "a@", "a b@x", "a@b@c"] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
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
        ] {
            assert_eq!(Role::parse(r.as_str()), Ok(r));
        }
    }
}
