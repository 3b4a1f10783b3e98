//! Email: a message is queued in the `outbox` table inside the transaction that causes it
//! ([`enqueue`]); a worker in every `inkan serve` process ([`run_worker`]) claims due messages
//! with a lease, delivers them through the [`Mailer`] (SMTP with lettre, or .eml files in
//! `DATA_DIR/outbox/`), and marks them sent or schedules a retry with backoff.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use lettre::message::header::ContentType;
use lettre::message::{Mailbox, Message};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use sqlx::{Any, Executor, Row};

use crate::accounts::{new_id, Email};
use crate::config::{Config, SmtpTls};
use crate::db::{Backend, Db};

/// Messages claimed at once by one worker.
const BATCH: i64 = 10;
/// How long one SMTP exchange may take.
const SMTP_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a claim holds: long enough to send a whole batch at the SMTP timeout. A process that
/// dies holding a claim only delays those messages until the lease runs out.
const LEASE_SECONDS: i64 = BATCH * (SMTP_TIMEOUT.as_secs() as i64 + 5) + 60;
/// The longest wait between two attempts.
const MAX_BACKOFF_SECONDS: i64 = 3600;
/// `next_attempt_at` of a message given up on (the SMTP server refused it permanently).
const NEVER: i64 = i64::MAX;

/// A message to queue.
#[derive(Debug)]
pub struct Outgoing<'a> {
    pub org_id: Option<&'a str>,
    pub to: &'a Email,
    pub subject: &'a str,
    pub body_text: &'a str,
}

/// Queues a plain-text mail to `address` in `tx` (sent only if the transaction commits).
pub async fn enqueue_text(
    tx: &mut sqlx::Transaction<'static, Any>,
    now: i64,
    org_id: &str,
    address: &str,
    subject: &str,
    body: &str,
) -> anyhow::Result<String> {
    let to = Email::parse(address).map_err(anyhow::Error::msg)?;
    enqueue(
        &mut **tx,
        now,
        &Outgoing {
            org_id: Some(org_id),
            to: &to,
            subject,
            body_text: body,
        },
    )
    .await
}

/// Queues `mail` through `executor` (pass `&mut *tx` so it is sent only if the transaction
/// commits). Returns the message's id.
pub async fn enqueue<'e, E>(executor: E, now: i64, mail: &Outgoing<'_>) -> anyhow::Result<String>
where
    E: Executor<'e, Database = Any>,
{
    let id = new_id()?;
    sqlx::query(
        "INSERT INTO outbox (id, org_id, to_addr, subject, body_text, created_at, attempts, \
         next_attempt_at, claimed_until) VALUES ($1, $2, $3, $4, $5, $6, 0, $6, 0)",
    )
    .bind(&id)
    .bind(mail.org_id)
    .bind(mail.to.as_str())
    .bind(mail.subject)
    .bind(mail.body_text)
    .bind(now)
    .execute(executor)
    .await
    .context("queueing an email")?;
    Ok(id)
}

enum Transport {
    /// Each message as `<created_at>-<id>.eml` in this folder.
    Files(PathBuf),
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
}

/// Where mail goes, and how patiently.
pub struct Mailer {
    from: Mailbox,
    transport: Transport,
    retry_seconds: i64,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let transport = match &self.transport {
            Transport::Files(dir) => format!("files in {}", dir.display()),
            Transport::Smtp(_) => "smtp".into(),
        };
        f.debug_struct("Mailer")
            .field("from", &self.from.to_string())
            .field("transport", &transport)
            .finish()
    }
}

/// One delivery attempt's failure.
struct Failure {
    message: String,
    /// Retrying cannot help (the server refused the message or the address is malformed).
    permanent: bool,
}

impl Mailer {
    pub fn from_config(config: &Config) -> anyhow::Result<Self> {
        let from: Mailbox = config
            .mail_from
            .parse()
            .with_context(|| format!("mail_from '{}'", config.mail_from))?;
        let transport = match &config.smtp_host {
            None => Transport::Files(config.data_dir.join("outbox")),
            Some(host) => {
                let builder = match config.smtp_tls {
                    SmtpTls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host),
                    SmtpTls::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host)
                        .with_context(|| format!("SMTP over STARTTLS to {host}"))?,
                    SmtpTls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(host)
                        .with_context(|| format!("SMTP over TLS to {host}"))?,
                };
                let mut builder = builder.port(config.smtp_port()).timeout(Some(SMTP_TIMEOUT));
                if let Some(user) = &config.smtp_user {
                    let password = config
                        .smtp_password
                        .as_ref()
                        .map(|p| p.expose().clone())
                        .unwrap_or_default();
                    builder = builder.credentials(Credentials::new(user.clone(), password));
                }
                Transport::Smtp(builder.build())
            }
        };
        Ok(Self {
            from,
            transport,
            retry_seconds: config.mail_retry_seconds as i64,
        })
    }

    /// How often the worker looks for due messages.
    fn poll_interval(&self) -> Duration {
        Duration::from_secs(self.retry_seconds.clamp(1, 5) as u64)
    }

    /// The delay before the attempt after `failures` failed ones: doubling, capped.
    fn backoff(&self, failures: i64) -> i64 {
        let exponent = (failures - 1).clamp(0, 20) as u32;
        self.retry_seconds
            .saturating_mul(1 << exponent)
            .min(MAX_BACKOFF_SECONDS)
    }

    fn build(&self, mail: &Queued) -> Result<Message, Failure> {
        let permanent = |message: String| Failure {
            message,
            permanent: true,
        };
        let to: Mailbox = mail
            .to_addr
            .parse()
            .map_err(|e| permanent(format!("bad recipient '{}': {e}", mail.to_addr)))?;
        Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(mail.subject.clone())
            // The outbox id makes the Message-ID stable across retries, so a receiver can
            // discard a duplicate if a lease ever ran out mid-delivery.
            .message_id(Some(format!("<{}@{}>", mail.id, self.from.email.domain())))
            .header(ContentType::TEXT_PLAIN)
            .body(mail.body_text.clone())
            .map_err(|e| permanent(format!("cannot build the message: {e}")))
    }

    async fn deliver(&self, mail: &Queued) -> Result<(), Failure> {
        let message = self.build(mail)?;
        match &self.transport {
            Transport::Files(dir) => {
                write_eml(dir, mail, &message.formatted()).map_err(|e| Failure {
                    message: format!("{e:#}"),
                    permanent: false,
                })
            }
            Transport::Smtp(smtp) => smtp.send(message).await.map(|_| ()).map_err(|e| Failure {
                message: e.to_string(),
                permanent: e.is_permanent(),
            }),
        }
    }
}

fn write_eml(dir: &std::path::Path, mail: &Queued, bytes: &[u8]) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create the outbox folder {}", dir.display()))?;
    let name = format!("{}-{}.eml", mail.created_at, mail.id);
    // Written aside and renamed, so a reader of the folder never sees half a message.
    let partial = dir.join(format!(".{name}.partial"));
    std::fs::write(&partial, bytes)
        .with_context(|| format!("cannot write {}", partial.display()))?;
    std::fs::rename(&partial, dir.join(&name))
        .with_context(|| format!("cannot write {name} in {}", dir.display()))
}

/// A claimed message.
#[derive(Debug)]
struct Queued {
    id: String,
    to_addr: String,
    subject: String,
    body_text: String,
    created_at: i64,
    attempts: i64,
}

/// Claims up to [`BATCH`] due messages for `claim` (a fresh random token), atomically: the
/// UPDATE only takes rows whose lease has run out, so two workers never hold the same message.
/// On PostgreSQL, `FOR UPDATE SKIP LOCKED` lets concurrent workers take different rows instead
/// of waiting for each other (and the outer condition is re-checked on the locked row); SQLite
/// runs one writer at a time.
async fn claim(db: &Db, now: i64, claim: &str) -> anyhow::Result<Vec<Queued>> {
    let skip_locked = match db.backend {
        Backend::Postgres => " FOR UPDATE SKIP LOCKED",
        Backend::Sqlite => "",
    };
    let sql = format!(
        "UPDATE outbox SET claimed_by = $1, claimed_until = $2 \
         WHERE id IN (SELECT id FROM outbox \
             WHERE sent_at IS NULL AND next_attempt_at <= $3 AND claimed_until < $3 \
             ORDER BY next_attempt_at, created_at LIMIT $4{skip_locked}) \
         AND sent_at IS NULL AND claimed_until < $3 \
         RETURNING id, to_addr, subject, body_text, created_at, attempts"
    );
    let rows = sqlx::query(&sql)
        .bind(claim)
        .bind(now + LEASE_SECONDS)
        .bind(now)
        .bind(BATCH)
        .fetch_all(&db.pool)
        .await
        .context("claiming queued email")?;
    rows.iter()
        .map(|r| {
            Ok(Queued {
                id: r.try_get("id")?,
                to_addr: r.try_get("to_addr")?,
                subject: r.try_get("subject")?,
                body_text: r.try_get("body_text")?,
                created_at: r.try_get("created_at")?,
                attempts: r.try_get("attempts")?,
            })
        })
        .collect()
}

/// Claims and delivers the due messages once; returns how many were claimed.
pub async fn deliver_due(db: &Db, mailer: &Mailer, now: i64) -> anyhow::Result<usize> {
    let token = new_id()?;
    let batch = claim(db, now, &token).await?;
    for mail in &batch {
        let outcome = mailer.deliver(mail).await;
        let update = match &outcome {
            // The body may hold a temporary password: it is not kept once delivered.
            Ok(()) => sqlx::query(
                "UPDATE outbox SET sent_at = $1, attempts = attempts + 1, last_error = NULL, \
                 body_text = '', claimed_by = NULL, claimed_until = 0 \
                 WHERE id = $2 AND claimed_by = $3",
            )
            .bind(now),
            Err(failure) => sqlx::query(
                "UPDATE outbox SET next_attempt_at = $1, attempts = attempts + 1, \
                 last_error = $4, claimed_by = NULL, claimed_until = 0 \
                 WHERE id = $2 AND claimed_by = $3",
            )
            .bind(if failure.permanent {
                NEVER
            } else {
                now + mailer.backoff(mail.attempts + 1)
            }),
        };
        let update = update.bind(&mail.id).bind(&token);
        let update = match &outcome {
            Ok(()) => update,
            Err(failure) => update.bind(failure.message.clone()),
        };
        let done = update
            .execute(&db.pool)
            .await
            .context("recording a delivery attempt")?;
        match outcome {
            Ok(()) => tracing::info!(email = %mail.id, to = %mail.to_addr, "email sent"),
            Err(f) if f.permanent => {
                tracing::error!(email = %mail.id, to = %mail.to_addr, error = %f.message, "email refused; not retrying")
            }
            Err(f) => {
                tracing::warn!(email = %mail.id, to = %mail.to_addr, attempts = mail.attempts + 1, error = %f.message, "email not sent; will retry")
            }
        }
        if done.rows_affected() == 0 {
            tracing::warn!(email = %mail.id, "the claim on an email ran out before its delivery was recorded");
        }
    }
    Ok(batch.len())
}

/// The background worker of `inkan serve`: delivers due mail until the process stops.
pub async fn run_worker(db: Db, mailer: Mailer, clock: crate::clock::Clock) {
    tracing::info!(mailer = ?mailer, "email worker started");
    loop {
        match deliver_due(&db, &mailer, clock.now()).await {
            // A full batch: there may be more waiting.
            Ok(n) if n as i64 == BATCH => continue,
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %format!("{e:#}"), "email worker"),
        }
        tokio::time::sleep(mailer.poll_interval()).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mailer(retry_seconds: i64) -> Mailer {
        let config = Config {
            mail_retry_seconds: retry_seconds as u64,
            ..Config::default()
        };
        Mailer::from_config(&config).expect("mailer")
    }

    #[test]
    fn backoff_doubles_from_the_retry_delay_up_to_an_hour() {
        let m = mailer(30);
        assert_eq!(m.backoff(1), 30);
        assert_eq!(m.backoff(2), 60);
        assert_eq!(m.backoff(3), 120);
        assert_eq!(m.backoff(10), 3600);
        assert_eq!(m.backoff(1000), 3600);
    }

    #[test]
    fn japanese_subject_and_body_are_encoded_for_transport() {
        let m = mailer(30);
        let message = m
            .build(&Queued {
                id: "abc".into(),
                to_addr: "user@example.com".into(),
                subject: "アカウント発行のお知らせ".into(),
                body_text: "仮パスワード: Xy3".into(),
                created_at: 0,
                attempts: 0,
            })
            .unwrap_or_else(|f| panic!("{}", f.message));
        let raw = String::from_utf8(message.formatted()).expect("ASCII");
        assert!(raw.is_ascii(), "{raw}");
        assert!(raw.contains("Subject: =?utf-8?"), "{raw}");
        assert!(raw.contains("charset=utf-8"), "{raw}");
        assert!(raw.contains("Message-ID: <abc@localhost>"), "{raw}");
    }
}
