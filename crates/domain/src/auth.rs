//! Logging in and staying logged in: database sessions (so any `inkan serve` process behind a
//! load balancer knows them), the login throttle, password changes and one-time reset links.
//!
//! - A session is a random 256-bit token in an HttpOnly cookie; the database keeps only its
//!   SHA-256, with a CSRF token, an absolute expiry (12 hours) and an idle timeout (2 hours).
//! - Failed logins are counted per account (5 in 15 minutes lock it for 15 minutes) and per
//!   client address (20 in 15 minutes lock the address). Unknown addresses are counted and
//!   locked like real ones, so the answers never tell whether an account exists.
//! - A reset link is valid for an hour and once; using it, like changing the password, ends the
//!   user's other sessions.

use aws_lc_rs::digest;
use sqlx::{AnyConnection, Row};

use crate::accounts::{
    self, check_password_strength, hash_password_blocking, verify_password_blocking, Email, User,
    USER_COLUMNS,
};
use crate::audit;
use crate::config::Secret;
use crate::db::Db;
use crate::error::{Failure, FieldError};
use crate::mail::{self, Addressee, Mail};

pub const SESSION_COOKIE: &str = "inkan_session";
pub const SESSION_SECONDS: i64 = 12 * 3600;
pub const IDLE_SECONDS: i64 = 2 * 3600;
pub const ACCOUNT_FAILURE_LIMIT: i64 = 5;
pub const ADDRESS_FAILURE_LIMIT: i64 = 20;
pub const FAILURE_WINDOW_SECONDS: i64 = 15 * 60;
pub const LOCK_SECONDS: i64 = 15 * 60;
pub const RESET_SECONDS: i64 = 3600;
/// At most this many reset emails per user per hour; further requests are silently dropped.
const RESETS_PER_HOUR: i64 = 3;

/// A hash that no password matches, verified against when the account does not exist so that
/// a login takes as long either way.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$9Hc1Gm1Sx6SK5h6cXTS0G0ea1tNyz3D9kGJ6A0yZ2jA";

/// The logged-in user of a request, with the session's CSRF token.
#[derive(Debug, Clone)]
pub struct Session {
    pub user: User,
    pub csrf_token: String,
    id_hash: String,
}

/// A random token: 256 bits as 64 hex digits.
pub fn new_token() -> anyhow::Result<String> {
    let mut bytes = [0u8; 32];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| anyhow::anyhow!("no system randomness"))?;
    Ok(hex::encode(bytes))
}

/// The SHA-256 (hex) of a token: what is kept of it (sessions, reset links, contract links).
pub(crate) fn token_hash(token: &str) -> String {
    hex::encode(digest::digest(&digest::SHA256, token.as_bytes()).as_ref())
}

/// Where a login attempt comes from, for the throttle and the audit log.
#[derive(Debug, Clone)]
pub struct Client {
    pub address: String,
}

/// A successful login.
#[derive(Debug)]
pub struct LoggedIn {
    pub token: Secret<String>,
    pub session: Session,
}

/// Checks the credentials and opens a session.
pub async fn login(
    db: &Db,
    now: i64,
    email: &str,
    password: &str,
    client: &Client,
) -> Result<LoggedIn, Failure> {
    let mut missing = Vec::new();
    if email.trim().is_empty() {
        missing.push(FieldError::new("email", "error.required"));
    }
    if password.is_empty() {
        missing.push(FieldError::new("password", "error.required"));
    }
    if !missing.is_empty() {
        return Err(Failure::Invalid(missing));
    }
    let email = email.trim().to_lowercase();
    let account_key = format!("account:{email}");
    let address_key = format!("address:{}", client.address);
    if is_locked(db, now, &account_key).await? || is_locked(db, now, &address_key).await? {
        record(db, now, None, "login.refused_locked", &email, client).await?;
        return Err(Failure::Locked);
    }
    // The same address may hold an account in several organisations (organisations know
    // nothing of each other); the password picks the account, the oldest first.
    let rows = sqlx::query(&format!(
        "SELECT {USER_COLUMNS}, password_hash FROM users WHERE email = $1 ORDER BY created_at, id"
    ))
    .bind(&email)
    .fetch_all(&db.pool)
    .await?;
    let mut accounts = Vec::new();
    for r in &rows {
        accounts.push((User::from_row(r)?, r.try_get::<String, _>("password_hash")?));
    }
    let mut matched = None;
    let mut inactive_match = false;
    if accounts.is_empty() {
        verify_password_blocking(password.to_owned(), DUMMY_HASH.to_owned()).await;
    }
    for (u, hash) in &accounts {
        if verify_password_blocking(password.to_owned(), hash.clone()).await {
            if u.active {
                matched = Some(u.clone());
                break;
            }
            inactive_match = true;
        }
    }
    let user = match matched {
        Some(u) => u,
        None => {
            let other = accounts.first().map(|(u, _)| u);
            let org = other.map(|u| u.org_id.as_str());
            let reason = match (other, inactive_match) {
                (None, _) => "unknown account",
                (Some(_), true) => "deactivated account",
                (Some(_), false) => "wrong password",
            };
            let mut tx = db.begin().await?;
            audit::append(
                &mut tx,
                &db.audit,
                now,
                &audit::Event {
                    org_id: org,
                    actor: other.map(|u| u.id.as_str()),
                    action: "login.failed",
                    detail: serde_json::json!({ "email": email, "address": client.address, "reason": reason }),
                },
            )
            .await?;
            let account_locked =
                count_failure(&mut tx, now, &account_key, ACCOUNT_FAILURE_LIMIT).await?;
            let address_locked =
                count_failure(&mut tx, now, &address_key, ADDRESS_FAILURE_LIMIT).await?;
            for (locked, what) in [(account_locked, "account"), (address_locked, "address")] {
                if locked {
                    audit::append(
                        &mut tx,
                        &db.audit,
                        now,
                        &audit::Event {
                            org_id: org,
                            actor: None,
                            action: "login.locked",
                            detail: serde_json::json!({
                                "email": email, "address": client.address, "locked": what,
                                "until": now + LOCK_SECONDS,
                            }),
                        },
                    )
                    .await?;
                }
            }
            tx.commit().await?;
            return Err(if account_locked || address_locked {
                Failure::Locked
            } else {
                Failure::Unauthenticated
            });
        }
    };
    let token = new_token()?;
    let csrf_token = new_token()?;
    let id_hash = token_hash(&token);
    let mut tx = db.begin().await?;
    sqlx::query("DELETE FROM login_throttle WHERE key = $1")
        .bind(&account_key)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO sessions (id_hash, user_id, csrf_token, created_at, expires_at, last_seen_at) \
         VALUES ($1, $2, $3, $4, $5, $4)",
    )
    .bind(&id_hash)
    .bind(&user.id)
    .bind(&csrf_token)
    .bind(now)
    .bind(now + SESSION_SECONDS)
    .execute(&mut *tx)
    .await?;
    audit::append(
        &mut tx,
        &db.audit,
        now,
        &audit::Event {
            org_id: Some(&user.org_id),
            actor: Some(&user.id),
            action: "login",
            detail: serde_json::json!({ "address": client.address }),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(LoggedIn {
        token: Secret::new(token),
        session: Session {
            user,
            csrf_token,
            id_hash,
        },
    })
}

async fn is_locked(db: &Db, now: i64, key: &str) -> Result<bool, Failure> {
    let row = sqlx::query("SELECT locked_until FROM login_throttle WHERE key = $1")
        .bind(key)
        .fetch_optional(&db.pool)
        .await?;
    Ok(match row {
        Some(r) => r.try_get::<i64, _>("locked_until")? > now,
        None => false,
    })
}

/// Counts one failure for `key`; returns whether this failure locks it. One statement, so
/// concurrent failures from several processes are all counted.
async fn count_failure(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    now: i64,
    key: &str,
    limit: i64,
) -> Result<bool, Failure> {
    let row = sqlx::query(
        "INSERT INTO login_throttle (key, failures, first_failure_at, locked_until) \
         VALUES ($1, 1, $2, 0) \
         ON CONFLICT (key) DO UPDATE SET \
           failures = CASE WHEN login_throttle.first_failure_at < $3 \
                      THEN 1 ELSE login_throttle.failures + 1 END, \
           first_failure_at = CASE WHEN login_throttle.first_failure_at < $3 \
                      THEN $2 ELSE login_throttle.first_failure_at END \
         RETURNING failures",
    )
    .bind(key)
    .bind(now)
    .bind(now - FAILURE_WINDOW_SECONDS)
    .fetch_one(&mut **tx)
    .await?;
    let failures: i64 = row.try_get("failures")?;
    if failures >= limit {
        // Locked: the count starts again after the lock.
        sqlx::query(
            "UPDATE login_throttle SET locked_until = $2, failures = 0, first_failure_at = 0 \
             WHERE key = $1",
        )
        .bind(key)
        .bind(now + LOCK_SECONDS)
        .execute(&mut **tx)
        .await?;
        return Ok(true);
    }
    Ok(false)
}

async fn record(
    db: &Db,
    now: i64,
    user: Option<&User>,
    action: &str,
    email: &str,
    client: &Client,
) -> Result<(), Failure> {
    let mut tx = db.begin().await?;
    record_in(&mut tx, db, now, user, action, email, client).await?;
    tx.commit().await?;
    Ok(())
}

/// [`record`] in the caller's transaction.
async fn record_in(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    db: &Db,
    now: i64,
    user: Option<&User>,
    action: &str,
    email: &str,
    client: &Client,
) -> Result<(), Failure> {
    audit::append(
        tx,
        &db.audit,
        now,
        &audit::Event {
            org_id: user.map(|u| u.org_id.as_str()),
            actor: user.map(|u| u.id.as_str()),
            action,
            detail: serde_json::json!({ "email": email, "address": client.address }),
        },
    )
    .await?;
    Ok(())
}

/// The session of `token`, if it is valid now (and its user active); refreshes its idle timer.
pub async fn session(db: &Db, now: i64, token: &str) -> Result<Option<Session>, Failure> {
    if token.len() != 64 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(None);
    }
    let id_hash = token_hash(token);
    let columns = USER_COLUMNS
        .split(", ")
        .map(|c| format!("u.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    let row = sqlx::query(&format!(
        "SELECT {columns}, s.csrf_token, s.last_seen_at FROM sessions s \
         JOIN users u ON u.id = s.user_id \
         WHERE s.id_hash = $1 AND s.expires_at > $2 AND s.last_seen_at > $3"
    ))
    .bind(&id_hash)
    .bind(now)
    .bind(now - IDLE_SECONDS)
    .fetch_optional(&db.pool)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let user = User::from_row(&row)?;
    if !user.active {
        return Ok(None);
    }
    // Refresh the idle timer at most once a minute.
    if row.try_get::<i64, _>("last_seen_at")? < now - 60 {
        sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE id_hash = $2")
            .bind(now)
            .bind(&id_hash)
            .execute(&db.pool)
            .await?;
    }
    Ok(Some(Session {
        user,
        csrf_token: row.try_get("csrf_token")?,
        id_hash,
    }))
}

/// Ends the session.
pub async fn logout(db: &Db, now: i64, session: &Session) -> Result<(), Failure> {
    let mut tx = db.begin().await?;
    sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
        .bind(&session.id_hash)
        .execute(&mut *tx)
        .await?;
    audit::append(
        &mut tx,
        &db.audit,
        now,
        &audit::Event {
            org_id: Some(&session.user.org_id),
            actor: Some(&session.user.id),
            action: "logout",
            detail: serde_json::json!({}),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Ends every session of the user, in the caller's transaction (a deactivation, a reset
/// password).
pub(crate) async fn end_sessions(conn: &mut AnyConnection, user_id: &str) -> Result<(), Failure> {
    sqlx::query("DELETE FROM sessions WHERE user_id = $1")
        .bind(user_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Checks a new password and its confirmation.
fn check_new_password(new: &str, confirmation: &str) -> Result<(), Failure> {
    if new.is_empty() {
        Err(Failure::invalid("new_password", "error.required"))
    } else if !check_password_strength(new) {
        Err(Failure::invalid("new_password", "error.password_weak"))
    } else if new != confirmation {
        Err(Failure::invalid(
            "new_password_confirmation",
            "error.password_mismatch",
        ))
    } else {
        Ok(())
    }
}

/// The user changes their own password (the forced first change too). Other sessions end; this
/// one stays.
pub async fn change_password(
    db: &Db,
    now: i64,
    session: &Session,
    current: &str,
    new: &str,
    confirmation: &str,
) -> Result<(), Failure> {
    if current.is_empty() {
        return Err(Failure::invalid("current_password", "error.required"));
    }
    check_new_password(new, confirmation)?;
    let stored: String = sqlx::query("SELECT password_hash FROM users WHERE id = $1")
        .bind(&session.user.id)
        .fetch_one(&db.pool)
        .await?
        .try_get("password_hash")?;
    if !verify_password_blocking(current.to_owned(), stored.clone()).await {
        let mut tx = db.begin().await?;
        audit::append(
            &mut tx,
            &db.audit,
            now,
            &audit::Event {
                org_id: Some(&session.user.org_id),
                actor: Some(&session.user.id),
                action: "password.change_failed",
                detail: serde_json::json!({ "reason": "wrong current password" }),
            },
        )
        .await?;
        tx.commit().await?;
        return Err(Failure::invalid("current_password", "error.password_wrong"));
    }
    if verify_password_blocking(new.to_owned(), stored).await {
        return Err(Failure::invalid("new_password", "error.password_same"));
    }
    let hash = hash_password_blocking(Secret::new(new.to_owned())).await?;
    let mut tx = db.begin().await?;
    accounts::set_password_hash(&mut tx, &session.user.id, &hash).await?;
    sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND id_hash <> $2")
        .bind(&session.user.id)
        .bind(&session.id_hash)
        .execute(&mut *tx)
        .await?;
    audit::append(
        &mut tx,
        &db.audit,
        now,
        &audit::Event {
            org_id: Some(&session.user.org_id),
            actor: Some(&session.user.id),
            action: "password.changed",
            detail: serde_json::json!({ "first_login": session.user.must_change_password }),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// A password-reset request, as queued for [`carry_out_reset`].
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct ResetRequest {
    pub email: String,
    pub base_url: String,
    /// Where the request came from (for the audit log).
    pub address: String,
}

/// Emails a one-time reset link to `email` if it belongs to an active user. Answers the same
/// either way, in the same time: the request is only checked for form and queued (one job row,
/// whatever the address), and the job looks the address up and mails the link
/// ([`carry_out_reset`]).
pub async fn request_reset(
    db: &Db,
    now: i64,
    email: &str,
    base_url: &str,
    client: &Client,
) -> Result<(), Failure> {
    if email.trim().is_empty() {
        return Err(Failure::invalid("email", "error.required"));
    }
    let email = Email::parse(email).map_err(|e| Failure::Invalid(vec![e.on("email")]))?;
    let request = ResetRequest {
        email: email.as_str().to_owned(),
        base_url: base_url.to_owned(),
        address: client.address.clone(),
    };
    let job = crate::jobs::NewJob::new(
        crate::jobs::Kind::PasswordReset,
        serde_json::to_value(&request).map_err(anyhow::Error::from)?,
    );
    crate::jobs::enqueue(&db.pool, now, &job).await?;
    Ok(())
}

/// Looks up a queued reset request's address and mails a link to each active account with it
/// (one per organisation), within the hourly limit; records what was done in the audit log.
/// All of it and the `job`'s end are one commit: a runner that dies or loses its claim midway
/// leaves nothing behind, so the request is answered exactly once.
pub async fn carry_out_reset(
    db: &Db,
    now: i64,
    request: &ResetRequest,
    job: &crate::jobs::Job,
) -> Result<(), Failure> {
    let email = Email::parse(&request.email).map_err(|e| Failure::Invalid(vec![e.on("email")]))?;
    let client = Client {
        address: request.address.clone(),
    };
    let rows = sqlx::query(&format!(
        "SELECT {USER_COLUMNS} FROM users WHERE email = $1 ORDER BY created_at, id"
    ))
    .bind(email.as_str())
    .fetch_all(&db.pool)
    .await?;
    let mut tx = db.begin().await?;
    if rows.is_empty() {
        let unknown = "password.reset_unknown";
        record_in(&mut tx, db, now, None, unknown, email.as_str(), &client).await?;
    }
    // One link per account with this address (one per organisation).
    for row in &rows {
        let user = User::from_row(row)?;
        send_reset(&mut tx, db, now, &user, &email, &request.base_url, &client).await?;
    }
    crate::jobs::done_in(&mut tx, now, job).await?;
    tx.commit().await?;
    Ok(())
}

async fn send_reset(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    db: &Db,
    now: i64,
    user: &User,
    email: &Email,
    base_url: &str,
    client: &Client,
) -> Result<(), Failure> {
    let refused = if !user.active {
        Some("password.reset_refused")
    } else if resets_within_the_hour(tx, user, now).await? >= RESETS_PER_HOUR {
        Some("password.reset_throttled")
    } else {
        None
    };
    if let Some(action) = refused {
        return record_in(tx, db, now, Some(user), action, email.as_str(), client).await;
    }
    let token = new_token()?;
    let link = format!("{base_url}/password/reset/{token}");
    sqlx::query(
        "INSERT INTO password_resets (token_hash, user_id, created_at, expires_at) \
         VALUES ($1, $2, $3, $4)",
    )
    .bind(token_hash(&token))
    .bind(&user.id)
    .bind(now)
    .bind(now + RESET_SECONDS)
    .execute(&mut **tx)
    .await?;
    let notice = Mail::PasswordReset {
        name: &user.display_name,
        reset_link: &link,
    };
    mail::send(tx, now, &Addressee::user(user), &notice).await?;
    audit::append(
        tx,
        &db.audit,
        now,
        &audit::Event {
            org_id: Some(&user.org_id),
            actor: Some(&user.id),
            action: "password.reset_requested",
            detail: serde_json::json!({ "address": client.address }),
        },
    )
    .await?;
    Ok(())
}

/// How many reset links `user` was sent in the hour before `now`.
async fn resets_within_the_hour(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    user: &User,
    now: i64,
) -> Result<i64, Failure> {
    let row = sqlx::query(
        "SELECT COUNT(*) AS n FROM password_resets WHERE user_id = $1 AND created_at > $2",
    )
    .bind(&user.id)
    .bind(now - 3600)
    .fetch_one(&mut **tx)
    .await?;
    Ok(row.try_get("n")?)
}

/// Whether `token` is a reset link that can still be used.
pub async fn reset_valid(db: &Db, now: i64, token: &str) -> Result<bool, Failure> {
    let row = sqlx::query(
        "SELECT 1 AS ok FROM password_resets WHERE token_hash = $1 AND used_at IS NULL \
         AND expires_at > $2",
    )
    .bind(token_hash(token))
    .bind(now)
    .fetch_optional(&db.pool)
    .await?;
    Ok(row.is_some())
}

/// Sets a new password through a reset link: the link is used up, every session of the user
/// ends, and a login lock on the account is lifted.
pub async fn reset_password(
    db: &Db,
    now: i64,
    token: &str,
    new: &str,
    confirmation: &str,
) -> Result<(), Failure> {
    check_new_password(new, confirmation)?;
    let hash = hash_password_blocking(Secret::new(new.to_owned())).await?;
    let mut tx = db.begin().await?;
    // Claim the link in one statement, so two concurrent uses cannot both succeed.
    let claimed = sqlx::query(
        "UPDATE password_resets SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL \
         AND expires_at > $2 RETURNING user_id",
    )
    .bind(token_hash(token))
    .bind(now)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = claimed else {
        return Err(Failure::BadRequest("error.reset_invalid"));
    };
    let user_id: String = row.try_get("user_id")?;
    let user = User::from_row(
        &sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"))
            .bind(&user_id)
            .fetch_one(&mut *tx)
            .await?,
    )?;
    if !user.active {
        return Err(Failure::BadRequest("error.reset_invalid"));
    }
    accounts::set_password_hash(&mut tx, &user_id, &hash).await?;
    end_sessions(&mut tx, &user_id).await?;
    sqlx::query("DELETE FROM login_throttle WHERE key = $1")
        .bind(format!("account:{}", user.email))
        .execute(&mut *tx)
        .await?;
    audit::append(
        &mut tx,
        &db.audit,
        now,
        &audit::Event {
            org_id: Some(&user.org_id),
            actor: Some(&user.id),
            action: "password.reset",
            detail: serde_json::json!({}),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Drops expired sessions and reset links (run now and then by the server).
pub async fn sweep(db: &Db, now: i64) -> Result<(), Failure> {
    sqlx::query("DELETE FROM sessions WHERE expires_at <= $1 OR last_seen_at <= $2")
        .bind(now)
        .bind(now - IDLE_SECONDS)
        .execute(&db.pool)
        .await?;
    sqlx::query("DELETE FROM password_resets WHERE expires_at <= $1")
        .bind(now - 86400)
        .execute(&db.pool)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dummy_hash_parses_and_matches_nothing_common() {
        assert!(argon2::password_hash::PasswordHash::new(DUMMY_HASH).is_ok());
        assert!(!crate::accounts::verify_password("", DUMMY_HASH));
        assert!(!crate::accounts::verify_password("password1", DUMMY_HASH));
    }

    #[test]
    fn tokens_are_random_hex_and_only_their_hash_is_kept() {
        let a = new_token().expect("token");
        assert_eq!(a.len(), 64);
        assert_ne!(a, new_token().expect("token"));
        assert_ne!(token_hash(&a), a);
        assert_eq!(token_hash(&a), token_hash(&a));
    }
}
