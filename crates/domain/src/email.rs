//! Email: a message is queued inside the transaction that causes it ([`enqueue`]): its content
//! and delivery record in the `outbox` table, and a [`jobs::Kind::Email`] job that delivers it
//! ([`deliver_queued`]) through the [`Mailer`] (SMTP with lettre, or .eml files in
//! `DATA_DIR/outbox/`). The job runner retries a failed delivery with backoff.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use lettre::message::header::ContentType;
use lettre::message::{Attachment as MailAttachment, Mailbox, Message, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use sqlx::{Acquire, Any, Row};

use crate::accounts::{new_id, Email};
use crate::config::{Config, SmtpTls};
use crate::db::Db;
use crate::jobs::{self, Kind, NewJob, Permanent};

/// How long one SMTP exchange may take.
const SMTP_TIMEOUT: Duration = Duration::from_secs(30);
/// Delivery attempts before a mail is given up: with the retry delay doubling up to an hour,
/// about four days of trying.
pub const MAX_ATTEMPTS: i64 = 100;

/// A message to queue.
#[derive(Debug)]
pub struct Outgoing<'a> {
    pub org_id: Option<&'a str>,
    pub to: &'a Email,
    pub subject: &'a str,
    pub body_text: &'a str,
    /// Files from the document store, attached as PDFs.
    pub attachments: &'a [Attachment],
}

/// A file a mail carries: its bytes in the document store, and the name it is attached under.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Attachment {
    pub sha256: String,
    pub name: String,
}

/// Queues a plain-text mail to `address` in `tx` (sent only if the transaction commits).
pub async fn enqueue_text(
    tx: &mut sqlx::Transaction<'static, Any>,
    now: i64,
    org_id: &str,
    address: &str,
    subject: &str,
    body: &str,
    attachments: &[Attachment],
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
            attachments,
        },
    )
    .await
}

/// Queues `mail` on `conn` (pass `&mut *tx` so it is sent only if the transaction commits): the
/// outbox row and its delivery job, both or neither (a savepoint inside the caller's
/// transaction). Returns the message's id.
pub async fn enqueue<'e, A>(conn: A, now: i64, mail: &Outgoing<'_>) -> anyhow::Result<String>
where
    A: Acquire<'e, Database = Any>,
{
    let id = new_id()?;
    let mut tx = conn.begin().await.context("queueing an email")?;
    sqlx::query(
        "INSERT INTO outbox (id, org_id, to_addr, subject, body_text, created_at, attempts, \
         attachments) VALUES ($1, $2, $3, $4, $5, $6, 0, $7)",
    )
    .bind(&id)
    .bind(mail.org_id)
    .bind(mail.to.as_str())
    .bind(mail.subject)
    .bind(mail.body_text)
    .bind(now)
    .bind(if mail.attachments.is_empty() {
        None
    } else {
        Some(serde_json::to_string(mail.attachments)?)
    })
    .execute(&mut *tx)
    .await
    .context("queueing an email")?;
    let job =
        NewJob::new(Kind::Email, serde_json::json!({ "outbox_id": id })).max_attempts(MAX_ATTEMPTS);
    jobs::enqueue(&mut *tx, now, &job).await?;
    tx.commit().await.context("queueing an email")?;
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
    /// Where attachments are read from.
    store: Option<std::sync::Arc<crate::storage::DocumentStore>>,
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
            store: None,
        })
    }

    /// Reads attachments from `store`.
    pub fn with_store(mut self, store: std::sync::Arc<crate::storage::DocumentStore>) -> Self {
        self.store = Some(store);
        self
    }

    /// The attachments' bytes (a mail carries at most a few MB: the sender decides).
    async fn attachments(&self, mail: &Queued) -> Result<Vec<(String, Vec<u8>)>, Failure> {
        let mut files = Vec::new();
        if mail.attachments.is_empty() {
            return Ok(files);
        }
        let store = self.store.as_ref().ok_or_else(|| Failure {
            message: "this process has no document store to read attachments from".into(),
            permanent: false,
        })?;
        for a in &mail.attachments {
            let mut download = store.get(&a.sha256).await.map_err(|e| Failure {
                message: format!("reading the attachment {}: {e}", a.name),
                permanent: false,
            })?;
            let mut bytes = Vec::with_capacity(usize::try_from(download.size).unwrap_or(0));
            while let Some(chunk) = futures_util::StreamExt::next(&mut download.bytes).await {
                bytes.extend_from_slice(&chunk.map_err(|e| Failure {
                    message: format!("reading the attachment {}: {e}", a.name),
                    permanent: false,
                })?);
            }
            files.push((a.name.clone(), bytes));
        }
        Ok(files)
    }

    /// The delay before the attempt after `failures` failed ones: from `mail_retry_seconds`,
    /// doubling, capped at an hour.
    pub(crate) fn backoff(&self, failures: i64) -> i64 {
        jobs::backoff(self.retry_seconds, failures)
    }

    fn build(&self, mail: &Queued, files: Vec<(String, Vec<u8>)>) -> Result<Message, Failure> {
        let permanent = |message: String| Failure {
            message,
            permanent: true,
        };
        let to: Mailbox = mail
            .to_addr
            .parse()
            .map_err(|e| permanent(format!("bad recipient '{}': {e}", mail.to_addr)))?;
        let builder = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(mail.subject.clone())
            // The outbox id makes the Message-ID stable across retries, so a receiver can
            // discard a duplicate if a lease ever ran out mid-delivery.
            .message_id(Some(format!("<{}@{}>", mail.id, self.from.email.domain())));
        let built = if files.is_empty() {
            builder
                .header(ContentType::TEXT_PLAIN)
                .body(mail.body_text.clone())
        } else {
            let pdf = ContentType::parse("application/pdf")
                .map_err(|e| permanent(format!("the PDF content type: {e}")))?;
            let mut parts =
                MultiPart::mixed().singlepart(SinglePart::plain(mail.body_text.clone()));
            for (name, bytes) in files {
                parts = parts.singlepart(MailAttachment::new(name).body(bytes, pdf.clone()));
            }
            builder.multipart(parts)
        };
        built.map_err(|e| permanent(format!("cannot build the message: {e}")))
    }

    async fn deliver(&self, mail: &Queued) -> Result<(), Failure> {
        let files = self.attachments(mail).await?;
        let message = self.build(mail, files)?;
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

/// A queued message.
#[derive(Debug)]
struct Queued {
    id: String,
    to_addr: String,
    subject: String,
    body_text: String,
    created_at: i64,
    attachments: Vec<Attachment>,
}

/// Delivers the queued message `outbox_id` (what a [`Kind::Email`] job does) and records the
/// attempt on its outbox row. Already sent: nothing to do (a job taken over after its lease ran
/// out mid-delivery does not send again). A failure is an error for the runner to retry, or a
/// [`Permanent`] one when the server refused the message.
pub async fn deliver_queued(
    db: &Db,
    mailer: &Mailer,
    now: i64,
    outbox_id: &str,
) -> anyhow::Result<()> {
    let row = sqlx::query(
        "SELECT id, to_addr, subject, body_text, created_at, sent_at, attachments FROM outbox \
         WHERE id = $1",
    )
    .bind(outbox_id)
    .fetch_optional(&db.pool)
    .await
    .context("reading a queued email")?
    .ok_or_else(|| Permanent(format!("no email {outbox_id} in the outbox")))?;
    if row.try_get::<Option<i64>, _>("sent_at")?.is_some() {
        return Ok(());
    }
    let mail = Queued {
        id: row.try_get("id")?,
        to_addr: row.try_get("to_addr")?,
        subject: row.try_get("subject")?,
        body_text: row.try_get("body_text")?,
        created_at: row.try_get("created_at")?,
        attachments: match row.try_get::<Option<String>, _>("attachments")? {
            Some(json) => serde_json::from_str(&json)
                .map_err(|e| Permanent(format!("the attachments of email {outbox_id}: {e}")))?,
            None => Vec::new(),
        },
    };
    match mailer.deliver(&mail).await {
        Ok(()) => {
            // The body may hold a temporary password: it is not kept once delivered.
            sqlx::query(
                "UPDATE outbox SET sent_at = $1, attempts = attempts + 1, last_error = NULL, \
                 body_text = '' WHERE id = $2",
            )
            .bind(now)
            .bind(&mail.id)
            .execute(&db.pool)
            .await
            .context("recording a delivered email")?;
            tracing::info!(email = %mail.id, to = %mail.to_addr, "email sent");
            Ok(())
        }
        Err(failure) => {
            sqlx::query("UPDATE outbox SET attempts = attempts + 1, last_error = $1 WHERE id = $2")
                .bind(&failure.message)
                .bind(&mail.id)
                .execute(&db.pool)
                .await
                .context("recording a failed delivery")?;
            let what = format!("delivering email {} to {}", mail.id, mail.to_addr);
            if failure.permanent {
                Err(anyhow::Error::new(Permanent(failure.message)).context(what))
            } else {
                Err(anyhow::anyhow!(failure.message).context(what))
            }
        }
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
            .build(
                &Queued {
                    id: "abc".into(),
                    to_addr: "user@example.com".into(),
                    subject: "アカウント発行のお知らせ".into(),
                    body_text: "仮パスワード: Xy3".into(),
                    created_at: 0,
                    attachments: Vec::new(),
                },
                Vec::new(),
            )
            .unwrap_or_else(|f| panic!("{}", f.message));
        let raw = String::from_utf8(message.formatted()).expect("ASCII");
        assert!(raw.is_ascii(), "{raw}");
        assert!(raw.contains("Subject: =?utf-8?"), "{raw}");
        assert!(raw.contains("charset=utf-8"), "{raw}");
        assert!(raw.contains("Message-ID: <abc@localhost>"), "{raw}");
    }
}
