//! Webhooks: the endpoints an organisation's administrators register for contract events, and
//! their deliveries. [`emit`] writes one delivery per subscribed endpoint, with its job, in the
//! caller's transaction (a change rolled back sends nothing); [`deliver`], the
//! `webhook_delivery` job, POSTs the body fixed at emit time, signed with the endpoint's secret,
//! and retries a failure with capped exponential backoff for 24 hours.
//!
//! A receiver checks `Inkan-Webhook-Signature: v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`,
//! where `<t>` is the `Inkan-Webhook-Timestamp` header (Unix seconds of the attempt) and the key
//! is the secret exactly as shown at creation (`whsec_…`, its ASCII bytes). Deliveries are
//! at least once (an attempt whose outcome could not be recorded is made again): receivers
//! drop repeats by `Inkan-Webhook-Id`, and may refuse old timestamps against replays.
//!
//! Hardening left to do: any http(s) address is accepted, loopback and private networks
//! included (the tests deliver to 127.0.0.1), so an administrator can make the server send
//! requests inside its own network (SSRF); refusing such addresses, after resolving the name
//! at every attempt, belongs here. Secrets are stored as they are, not sealed under the master
//! key, and the delivery log is never purged.

use std::io::Read;
use std::sync::OnceLock;
use std::time::Duration;

use anyhow::Context;
use aws_lc_rs::hmac;
use serde::{Deserialize, Serialize, Serializer};
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use crate::accounts::{new_id, User};
use crate::audit;
use crate::config::Secret;
use crate::db::{stored, stored_text, Db};
use crate::error::{Failure, FieldError};
use crate::jobs::{self, Kind, NewJob, Permanent};
use crate::permissions::{require, Action};

stored_text! {
    /// What a delivery reports (its body's `type`).
    pub enum Event("webhook event") {
        ContractSent = "contract.sent",
        ContractOpened = "contract.opened",
        ContractSigned = "contract.signed",
        ContractApproved = "contract.approved",
        ContractDeclined = "contract.declined",
        ContractCancelled = "contract.cancelled",
        ContractExpired = "contract.expired",
        ContractCompleted = "contract.completed",
        /// An administrator's test of one endpoint ([`ping`]); no endpoint subscribes to it.
        Ping = "ping",
    }
}

impl Event {
    /// Whether an endpoint may subscribe to it.
    pub fn subscribable(self) -> bool {
        self != Event::Ping
    }
}

stored_text! {
    /// Where a delivery is.
    pub enum DeliveryStatus("webhook delivery status") {
        /// Not yet accepted by the receiver; another attempt is due at `next_attempt_at`.
        Pending = "pending",
        /// The receiver answered 2xx.
        Delivered = "delivered",
        /// Given up: 24 hours of failed attempts, or the endpoint was deleted.
        Failed = "failed",
    }
}

/// Endpoints of one organisation, at most.
pub const MAX_ENDPOINTS: i64 = 20;
/// An endpoint's URL, at most this many characters.
pub const MAX_URL_CHARS: usize = crate::remote::MAX_URL_CHARS;
/// An endpoint's description, at most this many characters.
pub const MAX_DESCRIPTION_CHARS: usize = 200;
/// How long one attempt may take, connecting included; redirects are not followed.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// A failed delivery is retried while its next attempt falls within this long of its creation.
pub const RETRY_FOR_SECONDS: i64 = 24 * 3600;
/// `last_error`, at most this many characters.
const MAX_ERROR_CHARS: usize = 500;
/// What the delivery log shows, newest first.
const DELIVERIES_SHOWN: i64 = 200;
/// The job's attempt limit is no limit: the 24 hours end a delivery. (A 1-second first delay
/// makes about 35 attempts in 24 hours.)
const JOB_MAX_ATTEMPTS: i64 = 1000;
/// `last_error` of the deliveries of a deleted endpoint.
const ENDPOINT_DELETED: &str = "the endpoint was deleted";

/// An endpoint's address: `http://` or `https://`, a host, no user name or password, at most
/// [`MAX_URL_CHARS`] characters, as the HTTP client reads it (ASCII: a non-ASCII host in
/// punycode, other characters percent-encoded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookUrl(String);

impl WebhookUrl {
    /// The URL, or the message key of what is wrong with it.
    pub fn parse(text: &str) -> Result<Self, &'static str> {
        crate::remote::http_url(text, "error.webhook_url").map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The events an endpoint subscribes to, each once, in [`Event::ALL`]'s order; or the message
/// key of what is wrong (none, or a name that is not a subscribable event).
fn parse_events(names: &[String]) -> Result<Vec<Event>, &'static str> {
    if names.is_empty() {
        return Err("error.required");
    }
    let mut events = Vec::new();
    for name in names {
        match Event::parse(name.trim()) {
            Ok(e) if e.subscribable() => events.push(e),
            _ => return Err("error.webhook_events"),
        }
    }
    Ok(Event::ALL
        .iter()
        .copied()
        .filter(|e| events.contains(e))
        .collect())
}

/// A new endpoint as an administrator describes it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct NewEndpoint {
    /// Where deliveries are POSTed.
    pub url: String,
    /// The events to deliver: `contract.sent`, `contract.opened`, … (at least one).
    pub events: Vec<String>,
    /// Shown in the list (at most 200 characters).
    pub description: Option<String>,
}

/// An endpoint, as the organisation's administrators see it (never with its secret).
#[derive(Debug, Clone, Serialize)]
pub struct Endpoint {
    pub id: String,
    pub url: String,
    pub description: Option<String>,
    pub events: Vec<Event>,
    pub created_at: i64,
}

/// An endpoint just created, with its signing secret: the only time the secret is shown.
#[derive(Debug, Clone, Serialize)]
pub struct CreatedEndpoint {
    #[serde(flatten)]
    pub endpoint: Endpoint,
    #[serde(serialize_with = "exposed")]
    pub secret: Secret<String>,
}

fn exposed<S: Serializer>(secret: &Secret<String>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(secret.expose())
}

/// One delivery of the log.
#[derive(Debug, Clone, Serialize)]
pub struct Delivery {
    pub id: String,
    pub event: Event,
    pub status: DeliveryStatus,
    pub attempts: i64,
    /// The HTTP status of the last attempt (none before the first, or after a transport error).
    pub last_status_code: Option<i64>,
    /// What went wrong at the last attempt.
    pub last_error: Option<String>,
    pub created_at: i64,
    pub last_attempt_at: Option<i64>,
    /// When a pending delivery is tried again (about).
    pub next_attempt_at: Option<i64>,
    pub delivered_at: Option<i64>,
}

/// A new signing secret: `whsec_` and 32 random bytes in hex.
fn new_secret() -> anyhow::Result<Secret<String>> {
    let mut bytes = [0u8; 32];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| anyhow::anyhow!("no system randomness"))?;
    Ok(Secret::new(format!("whsec_{}", hex::encode(bytes))))
}

/// The `Inkan-Webhook-Signature` of `body` sent at `timestamp`: `v1=` and the hex HMAC-SHA256,
/// keyed with the secret's text, of `"<timestamp>.<body>"`.
pub fn signature(secret: &str, timestamp: i64, body: &str) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let mut ctx = hmac::Context::with_key(&key);
    ctx.update(timestamp.to_string().as_bytes());
    ctx.update(b".");
    ctx.update(body.as_bytes());
    format!("v1={}", hex::encode(ctx.sign().as_ref()))
}

/// The wait after failed attempt `attempt` (from 1): `first` doubling each time, capped at an
/// hour (the job runner's backoff, which [`crate::jobs::work`] uses for this kind too).
pub fn retry_delay(first: i64, attempt: i64) -> i64 {
    jobs::backoff(first, attempt)
}

/// When the attempt after failed attempt `attempt` of a delivery created at `created_at` is
/// due, or `None` when that would be more than [`RETRY_FOR_SECONDS`] after its creation.
fn next_attempt(created_at: i64, now: i64, first: i64, attempt: i64) -> Option<i64> {
    let next = now + retry_delay(first, attempt);
    (next <= created_at + RETRY_FOR_SECONDS).then_some(next)
}

/// At most `max` characters of `text`.
fn truncated(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((end, _)) => text[..end].to_owned(),
        None => text.to_owned(),
    }
}

/// Registers an endpoint (an administrator): every problem with the input is named at once.
pub async fn create(
    db: &Db,
    now: i64,
    admin: &User,
    new: &NewEndpoint,
) -> Result<CreatedEndpoint, Failure> {
    require(admin.roles, Action::ManageUsers)?;
    let mut errors = Vec::new();
    let url = WebhookUrl::parse(&new.url)
        .map_err(|key| errors.push(FieldError::new("url", key)))
        .ok();
    let events = parse_events(&new.events)
        .map_err(|key| errors.push(FieldError::new("events", key)))
        .ok();
    let description = match new.description.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(d) if d.chars().count() > MAX_DESCRIPTION_CHARS => {
            errors.push(FieldError::new("description", "error.too_long"));
            None
        }
        Some(d) if d.chars().any(char::is_control) => {
            errors.push(FieldError::new("description", "error.control_characters"));
            None
        }
        Some(d) => Some(d.to_owned()),
    };
    let (Some(url), Some(events), true) = (url, events, errors.is_empty()) else {
        return Err(Failure::Invalid(errors));
    };
    let id = new_id()?;
    let secret = new_secret()?;
    let mut tx = db.begin().await?;
    let count: i64 = sqlx::query(
        "SELECT COUNT(*) AS n FROM webhook_endpoints WHERE org_id = $1 AND deleted_at IS NULL",
    )
    .bind(&admin.org_id)
    .fetch_one(&mut *tx)
    .await?
    .try_get("n")?;
    if count >= MAX_ENDPOINTS {
        return Err(Failure::Conflict(vec![FieldError::new(
            "url",
            "error.too_many_webhooks",
        )]));
    }
    sqlx::query(
        "INSERT INTO webhook_endpoints (id, org_id, url, description, secret, created_by, \
         created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&id)
    .bind(&admin.org_id)
    .bind(url.as_str())
    .bind(description.clone())
    .bind(secret.expose())
    .bind(&admin.id)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    for event in &events {
        sqlx::query("INSERT INTO webhook_subscriptions (endpoint_id, event) VALUES ($1, $2)")
            .bind(&id)
            .bind(event.as_str())
            .execute(&mut *tx)
            .await?;
    }
    let names: Vec<&str> = events.iter().map(|e| e.as_str()).collect();
    audit::append(
        &mut tx,
        &db.audit,
        now,
        &audit::Event {
            org_id: Some(&admin.org_id),
            actor: Some(&admin.id),
            action: "webhook.created",
            detail: serde_json::json!({
                "endpoint": id, "url": url.as_str(), "events": names,
                "description": description,
            }),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(CreatedEndpoint {
        endpoint: Endpoint {
            id,
            url: url.as_str().to_owned(),
            description,
            events,
            created_at: now,
        },
        secret,
    })
}

/// The organisation's endpoints, oldest first (an administrator).
pub async fn list(db: &Db, admin: &User) -> Result<Vec<Endpoint>, Failure> {
    require(admin.roles, Action::ManageUsers)?;
    let rows = sqlx::query(
        "SELECT id, url, description, created_at FROM webhook_endpoints \
         WHERE org_id = $1 AND deleted_at IS NULL ORDER BY created_at, id",
    )
    .bind(&admin.org_id)
    .fetch_all(&db.pool)
    .await?;
    let subscriptions = sqlx::query(
        "SELECT s.endpoint_id, s.event FROM webhook_subscriptions s \
         JOIN webhook_endpoints e ON e.id = s.endpoint_id \
         WHERE e.org_id = $1 AND e.deleted_at IS NULL",
    )
    .bind(&admin.org_id)
    .fetch_all(&db.pool)
    .await?;
    let mut endpoints = Vec::with_capacity(rows.len());
    for r in &rows {
        let id: String = r.try_get("id")?;
        let mut events = Vec::new();
        for s in &subscriptions {
            if s.try_get::<String, _>("endpoint_id")? == id {
                events.push(stored(s, "event", Event::parse)?);
            }
        }
        events.sort_by_key(|e| Event::ALL.iter().position(|a| a == e));
        endpoints.push(Endpoint {
            id,
            url: r.try_get("url")?,
            description: r.try_get("description")?,
            events,
            created_at: r.try_get("created_at")?,
        });
    }
    Ok(endpoints)
}

/// Fails unless `id` is a live endpoint of the caller's organisation (404 otherwise, another
/// organisation's included).
async fn own_endpoint(
    tx: &mut Transaction<'static, Any>,
    admin: &User,
    id: &str,
) -> Result<String, Failure> {
    let row = sqlx::query(
        "SELECT url FROM webhook_endpoints WHERE id = $1 AND org_id = $2 AND deleted_at IS NULL",
    )
    .bind(id)
    .bind(&admin.org_id)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or(Failure::NotFound)?;
    Ok(row.try_get("url")?)
}

/// Deletes an endpoint (an administrator): it receives nothing more, its secret is forgotten,
/// and its pending deliveries fail.
pub async fn delete(db: &Db, now: i64, admin: &User, id: &str) -> Result<(), Failure> {
    require(admin.roles, Action::ManageUsers)?;
    let mut tx = db.begin().await?;
    let url = own_endpoint(&mut tx, admin, id).await?;
    sqlx::query("UPDATE webhook_endpoints SET deleted_at = $1, secret = '' WHERE id = $2")
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    let abandoned = sqlx::query(&format!(
        "UPDATE webhook_deliveries SET status = '{failed}', last_error = '{ENDPOINT_DELETED}', \
         next_attempt_at = NULL WHERE endpoint_id = $1 AND status = '{pending}'",
        failed = DeliveryStatus::Failed.as_str(),
        pending = DeliveryStatus::Pending.as_str(),
    ))
    .bind(id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    audit::append(
        &mut tx,
        &db.audit,
        now,
        &audit::Event {
            org_id: Some(&admin.org_id),
            actor: Some(&admin.id),
            action: "webhook.deleted",
            detail: serde_json::json!({
                "endpoint": id, "url": url, "pending_deliveries_failed": abandoned,
            }),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

const DELIVERY_COLUMNS: &str = "id, event, status, attempts, last_status_code, last_error, \
     created_at, last_attempt_at, next_attempt_at, delivered_at";

fn delivery_from_row(r: &AnyRow) -> Result<Delivery, sqlx::Error> {
    Ok(Delivery {
        id: r.try_get("id")?,
        event: stored(r, "event", Event::parse)?,
        status: stored(r, "status", DeliveryStatus::parse)?,
        attempts: r.try_get("attempts")?,
        last_status_code: r.try_get("last_status_code")?,
        last_error: r.try_get("last_error")?,
        created_at: r.try_get("created_at")?,
        last_attempt_at: r.try_get("last_attempt_at")?,
        next_attempt_at: r.try_get("next_attempt_at")?,
        delivered_at: r.try_get("delivered_at")?,
    })
}

/// An endpoint's newest deliveries, newest first (an administrator).
pub async fn deliveries(db: &Db, admin: &User, id: &str) -> Result<Vec<Delivery>, Failure> {
    require(admin.roles, Action::ManageUsers)?;
    let mut tx = db.pool.begin().await?;
    own_endpoint(&mut tx, admin, id).await?;
    let rows = sqlx::query(&format!(
        "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE endpoint_id = $1 \
         ORDER BY created_at DESC, id DESC LIMIT {DELIVERIES_SHOWN}"
    ))
    .bind(id)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    rows.iter()
        .map(delivery_from_row)
        .collect::<Result<_, _>>()
        .map_err(Failure::from)
}

/// Sends a `ping` to one endpoint (an administrator checking their receiver); returns the
/// pending delivery.
pub async fn ping(db: &Db, now: i64, admin: &User, id: &str) -> Result<Delivery, Failure> {
    require(admin.roles, Action::ManageUsers)?;
    let mut tx = db.begin().await?;
    own_endpoint(&mut tx, admin, id).await?;
    let data = serde_json::json!({ "endpoint": id });
    let delivery = enqueue_delivery(&mut tx, now, id, Event::Ping, &data).await?;
    audit::append(
        &mut tx,
        &db.audit,
        now,
        &audit::Event {
            org_id: Some(&admin.org_id),
            actor: Some(&admin.id),
            action: "webhook.tested",
            detail: serde_json::json!({ "endpoint": id, "delivery": delivery }),
        },
    )
    .await?;
    let row = sqlx::query(&format!(
        "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE id = $1"
    ))
    .bind(&delivery)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(delivery_from_row(&row)?)
}

/// Queues `event` for every endpoint of `org_id` subscribed to it: a delivery (its body fixed
/// now) and its job each, on the caller's transaction, so a change rolled back sends nothing.
/// An unknown event name is an error (a mistake in the caller, not the user's).
pub async fn emit(
    tx: &mut Transaction<'static, Any>,
    now: i64,
    org_id: &str,
    event: &str,
    data: serde_json::Value,
) -> anyhow::Result<()> {
    let event = Event::parse(event).context("emitting a webhook event")?;
    let endpoints: Vec<String> = sqlx::query(
        "SELECT e.id FROM webhook_endpoints e \
         JOIN webhook_subscriptions s ON s.endpoint_id = e.id \
         WHERE e.org_id = $1 AND s.event = $2 AND e.deleted_at IS NULL \
         ORDER BY e.created_at, e.id",
    )
    .bind(org_id)
    .bind(event.as_str())
    .fetch_all(&mut **tx)
    .await
    .context("finding the endpoints subscribed to a webhook event")?
    .iter()
    .map(|r| r.try_get("id"))
    .collect::<Result<_, _>>()?;
    for endpoint in endpoints {
        enqueue_delivery(tx, now, &endpoint, event, &data).await?;
    }
    Ok(())
}

/// Writes one delivery of `event` to `endpoint` and its job; returns the delivery's id.
async fn enqueue_delivery(
    tx: &mut Transaction<'static, Any>,
    now: i64,
    endpoint: &str,
    event: Event,
    data: &serde_json::Value,
) -> anyhow::Result<String> {
    let id = new_id()?;
    let body = serde_json::json!({
        "id": id, "type": event.as_str(), "created_at": now, "data": data,
    })
    .to_string();
    sqlx::query(
        "INSERT INTO webhook_deliveries (id, endpoint_id, event, body, status, attempts, \
         created_at, next_attempt_at) VALUES ($1, $2, $3, $4, $5, 0, $6, $6)",
    )
    .bind(&id)
    .bind(endpoint)
    .bind(event.as_str())
    .bind(&body)
    .bind(DeliveryStatus::Pending.as_str())
    .bind(now)
    .execute(&mut **tx)
    .await
    .context("writing a webhook delivery")?;
    let job = NewJob::new(Kind::WebhookDelivery, serde_json::json!({ "delivery": id }))
        .max_attempts(JOB_MAX_ATTEMPTS);
    jobs::enqueue(&mut **tx, now, &job).await?;
    Ok(id)
}

/// One attempt's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    /// 2xx.
    Accepted(u16),
    /// Any other status (a redirect included: none is followed).
    Refused { status: u16, error: String },
    /// No answer: the name, the connection, TLS or the timeout failed.
    Unreachable(String),
}

/// Makes attempt `attempt` (the job's, from 1) of delivery `id` and records it on the delivery.
/// A refusal or no answer is an error, so the job runner retries it after
/// [`retry_delay`]`(retry_seconds, attempt)`, unless that retry would fall more than 24 hours
/// after the delivery's creation: then the delivery fails, and so does the job
/// ([`Permanent`]). A delivery no longer pending (delivered, or its endpoint deleted) is left
/// alone.
pub async fn deliver(
    db: &Db,
    now: i64,
    id: &str,
    attempt: i64,
    retry_seconds: i64,
) -> anyhow::Result<()> {
    let row = sqlx::query(
        "SELECT d.status, d.body, d.created_at, e.url, e.secret, e.deleted_at \
         FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id \
         WHERE d.id = $1",
    )
    .bind(id)
    .fetch_optional(&db.pool)
    .await
    .context("reading a webhook delivery")?;
    let Some(row) = row else {
        return Err(Permanent(format!("no webhook delivery {id}")).into());
    };
    if stored(&row, "status", DeliveryStatus::parse)? != DeliveryStatus::Pending {
        return Ok(());
    }
    let deleted: Option<i64> = row.try_get("deleted_at")?;
    if deleted.is_some() {
        record_failure(db, id, now, None, ENDPOINT_DELETED, None).await?;
        return Ok(());
    }
    let body: String = row.try_get("body")?;
    let url: String = row.try_get("url")?;
    let secret: String = row.try_get("secret")?;
    let created_at: i64 = row.try_get("created_at")?;
    let headers = vec![
        ("Inkan-Webhook-Id", id.to_owned()),
        ("Inkan-Webhook-Timestamp", now.to_string()),
        ("Inkan-Webhook-Signature", signature(&secret, now, &body)),
    ];
    let (status, error) = match post(url, headers, body).await {
        Outcome::Accepted(status) => {
            sqlx::query(&format!(
                "UPDATE webhook_deliveries SET status = $1, attempts = attempts + 1, \
                 last_status_code = $2, last_error = NULL, last_attempt_at = $3, \
                 delivered_at = $3, next_attempt_at = NULL WHERE id = $4 AND status = '{}'",
                DeliveryStatus::Pending.as_str()
            ))
            .bind(DeliveryStatus::Delivered.as_str())
            .bind(i64::from(status))
            .bind(now)
            .bind(id)
            .execute(&db.pool)
            .await
            .context("recording a webhook delivery")?;
            return Ok(());
        }
        Outcome::Refused { status, error } => (Some(status), error),
        Outcome::Unreachable(error) => (None, error),
    };
    let next = next_attempt(created_at, now, retry_seconds, attempt);
    record_failure(db, id, now, status, &error, next).await?;
    match next {
        Some(_) => Err(anyhow::anyhow!(
            "webhook delivery {id}: {}",
            truncated(&error, MAX_ERROR_CHARS)
        )),
        None => Err(Permanent(format!(
            "webhook delivery {id} given up 24 hours after it was queued: {}",
            truncated(&error, MAX_ERROR_CHARS)
        ))
        .into()),
    }
}

/// Records a failed attempt: pending again until `next`, or failed when there is none.
async fn record_failure(
    db: &Db,
    id: &str,
    now: i64,
    status: Option<u16>,
    error: &str,
    next: Option<i64>,
) -> anyhow::Result<()> {
    let outcome = match next {
        Some(_) => DeliveryStatus::Pending,
        None => DeliveryStatus::Failed,
    };
    // The deletion of the endpoint records its pending deliveries' end without an attempt.
    let attempted = i64::from(error != ENDPOINT_DELETED);
    sqlx::query(&format!(
        "UPDATE webhook_deliveries SET status = $1, attempts = attempts + $2, \
         last_status_code = $3, last_error = $4, last_attempt_at = \
         CASE WHEN $2 = 1 THEN $5 ELSE last_attempt_at END, next_attempt_at = $6 \
         WHERE id = $7 AND status = '{}'",
        DeliveryStatus::Pending.as_str()
    ))
    .bind(outcome.as_str())
    .bind(attempted)
    .bind(status.map(i64::from))
    .bind(truncated(error, MAX_ERROR_CHARS))
    .bind(now)
    .bind(next)
    .bind(id)
    .execute(&db.pool)
    .await
    .context("recording a webhook delivery's failed attempt")?;
    Ok(())
}

/// POSTs `body` on a blocking thread (the HTTP client blocks), waiting at most a little longer
/// than [`TIMEOUT`], after which the client gives up by itself.
async fn post(url: String, headers: Vec<(&'static str, String)>, body: String) -> Outcome {
    let call = tokio::task::spawn_blocking(move || post_blocking(&url, &headers, body));
    match tokio::time::timeout(TIMEOUT + Duration::from_secs(2), call).await {
        Ok(Ok(outcome)) => outcome,
        Ok(Err(e)) => Outcome::Unreachable(format!("the HTTP client stopped: {e}")),
        Err(_) => Outcome::Unreachable(format!("no answer within {} seconds", TIMEOUT.as_secs())),
    }
}

fn post_blocking(url: &str, headers: &[(&'static str, String)], body: String) -> Outcome {
    let mut request = agent().post(url).header("Content-Type", "application/json");
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    match request.send(body) {
        Ok(mut response) => {
            let status = response.status().as_u16();
            if (200..300).contains(&status) {
                return Outcome::Accepted(status);
            }
            // The start of the receiver's answer tells the administrator why it refused.
            let mut start = Vec::new();
            let _ = response
                .body_mut()
                .as_reader()
                .take(1024)
                .read_to_end(&mut start);
            let said = String::from_utf8_lossy(&start)
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ");
            let error = if said.is_empty() {
                format!("the receiver answered {status}")
            } else {
                format!("the receiver answered {status}: {said}")
            };
            Outcome::Refused { status, error }
        }
        Err(e) => Outcome::Unreachable(e.to_string()),
    }
}

/// The process's HTTP client for deliveries: one attempt at most [`TIMEOUT`], no redirects, any
/// status returned as it is; TLS by rustls on aws-lc-rs, trusting the platform's roots.
fn agent() -> &'static ureq::Agent {
    static AGENT: OnceLock<ureq::Agent> = OnceLock::new();
    AGENT.get_or_init(|| {
        ureq::Agent::config_builder()
            .timeout_global(Some(TIMEOUT))
            .max_redirects(0)
            .http_status_as_error(false)
            .user_agent(concat!("Inkan-Webhooks/", env!("CARGO_PKG_VERSION")))
            .tls_config(crate::remote::tls_config("webhook deliveries"))
            .build()
            .into()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_v1_and_the_hex_hmac_of_timestamp_dot_body() {
        // HMAC-SHA256 with key "key" over "1700000000.{}" (computed independently with
        // `printf '1700000000.{}' | openssl dgst -sha256 -hmac key`).
        assert_eq!(
            signature("key", 1_700_000_000, "{}"),
            "v1=9d713ed406bb7076d4123f0dc2c39d2df5c654ed4b0cd56b52c8b4c940bd63ae"
        );
    }

    #[test]
    fn secrets_are_whsec_and_32_random_bytes_in_hex() {
        let a = new_secret().expect("secret");
        let b = new_secret().expect("secret");
        let hex_part = a.expose().strip_prefix("whsec_").expect("prefix");
        assert_eq!(hex_part.len(), 64);
        assert!(hex_part.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a.expose(), b.expose());
        assert!(!format!("{a:?}").contains(hex_part), "never printed");
    }

    #[test]
    fn only_http_and_https_urls_with_a_host_are_accepted() {
        for ok in [
            "https://hooks.example.com/inkan",
            "http://127.0.0.1:8080/hook?x=1",
            "HTTPS://EXAMPLE.COM",
            "  https://example.com/padded  ",
            "http://[::1]:9000/",
        ] {
            assert!(WebhookUrl::parse(ok).is_ok(), "{ok}");
        }
        for (bad, key) in [
            ("", "error.required"),
            ("   ", "error.required"),
            ("ftp://example.com/", "error.webhook_url"),
            ("file:///etc/passwd", "error.webhook_url"),
            ("javascript:alert(1)", "error.webhook_url"),
            ("example.com/hook", "error.webhook_url"),
            ("https://", "error.webhook_url"),
            ("https://user:pass@example.com/", "error.webhook_url"),
            ("https://exa mple.com/", "error.webhook_url"),
            ("https://例え.jp/", "error.webhook_url"),
        ] {
            assert_eq!(WebhookUrl::parse(bad), Err(key), "{bad:?}");
        }
        let long = format!("https://example.com/{}", "a".repeat(MAX_URL_CHARS));
        assert_eq!(WebhookUrl::parse(&long), Err("error.too_long"));
        let longest = format!("https://example.com/{}", "a".repeat(MAX_URL_CHARS - 20));
        assert_eq!(longest.len(), MAX_URL_CHARS);
        assert!(WebhookUrl::parse(&longest).is_ok());
    }

    #[test]
    fn events_are_known_contract_events_each_once_and_at_least_one() {
        let names = |n: &[&str]| n.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            parse_events(&names(&[
                "contract.completed",
                "contract.sent",
                "contract.sent"
            ])),
            Ok(vec![Event::ContractSent, Event::ContractCompleted])
        );
        assert_eq!(parse_events(&[]), Err("error.required"));
        assert_eq!(
            parse_events(&names(&["contract.sent", "contract.shredded"])),
            Err("error.webhook_events")
        );
        assert_eq!(parse_events(&names(&["ping"])), Err("error.webhook_events"));
        let every: Vec<String> = Event::ALL
            .iter()
            .filter(|e| e.subscribable())
            .map(|e| e.as_str().to_owned())
            .collect();
        assert_eq!(parse_events(&every).map(|e| e.len()), Ok(8));
    }

    #[test]
    fn retries_double_from_the_first_delay_up_to_an_hour_for_24_hours() {
        let created = 1_000_000;
        assert_eq!(retry_delay(30, 1), 30);
        assert_eq!(retry_delay(30, 2), 60);
        assert_eq!(retry_delay(30, 8), 3600);
        assert_eq!(retry_delay(30, 50), 3600);
        // Replays the attempts of a receiver that never answers 2xx, each made when due.
        let mut now = created;
        let mut attempt = 1;
        let mut waits = Vec::new();
        while let Some(next) = next_attempt(created, now, 30, attempt) {
            waits.push(next - now);
            now = next;
            attempt += 1;
        }
        assert_eq!(&waits[..8], &[30, 60, 120, 240, 480, 960, 1920, 3600]);
        assert!(
            now <= created + RETRY_FOR_SECONDS,
            "no attempt after 24 hours"
        );
        assert!(
            now + 3600 > created + RETRY_FOR_SECONDS,
            "retried until the 24 hours are up"
        );
        assert_eq!(attempt, 30, "{waits:?}");
        // A delivery that waited longer than 24 hours for its first attempt still gets one,
        // and no retry.
        assert_eq!(
            next_attempt(created, created + RETRY_FOR_SECONDS + 5, 30, 1),
            None
        );
    }

    #[test]
    fn errors_are_cut_at_500_characters_not_inside_one() {
        let long = "失敗".repeat(400);
        let cut = truncated(&long, MAX_ERROR_CHARS);
        assert_eq!(cut.chars().count(), 500);
        assert_eq!(truncated("short", 500), "short");
    }

    /// An HTTP receiver on loopback answering each request with the next of `statuses` (the
    /// last one again when they run out), recording every request's head and body.
    struct Receiver {
        url: String,
        requests: std::sync::Arc<std::sync::Mutex<Vec<(String, String)>>>,
    }

    impl Receiver {
        fn start(statuses: Vec<u16>) -> Self {
            use std::io::Write;
            let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            let url = format!("http://{}/hook", listener.local_addr().expect("address"));
            let requests = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
            let seen = requests.clone();
            std::thread::spawn(move || {
                for (n, stream) in listener.incoming().enumerate() {
                    let Ok(mut stream) = stream else { return };
                    let (head, body) = read_request(&mut stream);
                    seen.lock().expect("lock").push((head, body));
                    let status = statuses[n.min(statuses.len() - 1)];
                    let _ = write!(
                        stream,
                        "HTTP/1.1 {status} X\r\nContent-Length: 4\r\nConnection: close\r\n\r\nnope"
                    );
                }
            });
            Self { url, requests }
        }

        fn requests(&self) -> Vec<(String, String)> {
            self.requests.lock().expect("lock").clone()
        }
    }

    fn read_request(stream: &mut std::net::TcpStream) -> (String, String) {
        let mut data = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let n = stream.read(&mut buf).unwrap_or(0);
            if n == 0 {
                break;
            }
            data.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&data).into_owned();
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let length = head
                    .lines()
                    .find_map(|l| {
                        let (name, value) = l.split_once(':')?;
                        name.eq_ignore_ascii_case("content-length")
                            .then(|| value.trim().parse::<usize>().ok())?
                    })
                    .unwrap_or(0);
                if body.len() >= length {
                    return (head.to_owned(), body.to_owned());
                }
            }
        }
        (String::from_utf8_lossy(&data).into_owned(), String::new())
    }

    fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
        head.lines().find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case(name).then_some(v.trim())
        })
    }

    const T0: i64 = 1_800_000_000;

    /// A fresh SQLite database with its first organisation's administrator.
    async fn database() -> (Db, User, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = crate::config::Config {
            data_dir: dir.path().to_owned(),
            ..Default::default()
        };
        let db = Db::open(&config).await.expect("database");
        let org = crate::accounts::OrgName::parse("Inkan").expect("name");
        let email = crate::accounts::Email::parse("kanri@example.jp").expect("email");
        let init = crate::accounts::initialise(&db, T0, &org, &email, "http://x/login")
            .await
            .expect("initialise")
            .expect("first start");
        let admin = crate::accounts::get_user(&db, &init.org_id, &init.admin_id)
            .await
            .expect("admin");
        (db, admin, dir)
    }

    async fn count(db: &Db, sql: &str) -> i64 {
        sqlx::query(sql)
            .fetch_one(&db.pool)
            .await
            .expect("count")
            .try_get(0)
            .expect("count")
    }

    async fn delivery(db: &Db, id: &str) -> Delivery {
        let row = sqlx::query(&format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE id = $1"
        ))
        .bind(id)
        .fetch_one(&db.pool)
        .await
        .expect("delivery");
        delivery_from_row(&row).expect("row")
    }

    fn endpoint_for(url: &str, events: &[&str]) -> NewEndpoint {
        NewEndpoint {
            url: url.to_owned(),
            events: events.iter().map(|e| (*e).to_owned()).collect(),
            description: Some("受信テスト".into()),
        }
    }

    #[tokio::test]
    async fn an_emitted_event_is_signed_retried_and_delivered_and_a_rollback_sends_nothing() {
        let (db, admin, _dir) = database().await;
        let receiver = Receiver::start(vec![500, 204]);
        let created = create(
            &db,
            T0,
            &admin,
            &endpoint_for(&receiver.url, &["contract.signed"]),
        )
        .await
        .expect("endpoint");
        let secret = created.secret.expose().clone();
        let listed = serde_json::to_value(list(&db, &admin).await.expect("list")).expect("json");
        assert_eq!(listed[0]["events"], serde_json::json!(["contract.signed"]));
        assert!(
            !listed.to_string().contains(&secret),
            "the list hides the secret"
        );

        // Rolled back: no delivery, no job. Another event: nothing for this endpoint.
        let mut tx = db.begin().await.expect("begin");
        let data = serde_json::json!({ "contract": "c1" });
        emit(&mut tx, T0, &admin.org_id, "contract.signed", data.clone())
            .await
            .expect("emit");
        tx.rollback().await.expect("rollback");
        let mut tx = db.begin().await.expect("begin");
        emit(&mut tx, T0, &admin.org_id, "contract.sent", data.clone())
            .await
            .expect("emit");
        tx.commit().await.expect("commit");
        assert_eq!(
            count(&db, "SELECT COUNT(*) FROM webhook_deliveries").await,
            0
        );
        assert_eq!(
            count(
                &db,
                "SELECT COUNT(*) FROM jobs WHERE kind = 'webhook_delivery'"
            )
            .await,
            0
        );
        let mut tx = db.begin().await.expect("begin");
        assert!(emit(
            &mut tx,
            T0,
            &admin.org_id,
            "contract.shredded",
            data.clone()
        )
        .await
        .is_err());
        tx.rollback().await.expect("rollback");

        let mut tx = db.begin().await.expect("begin");
        emit(&mut tx, T0, &admin.org_id, "contract.signed", data.clone())
            .await
            .expect("emit");
        tx.commit().await.expect("commit");
        let log = deliveries(&db, &admin, &created.endpoint.id)
            .await
            .expect("log");
        assert_eq!(log.len(), 1);
        let id = log[0].id.clone();
        assert_eq!(
            count(
                &db,
                "SELECT COUNT(*) FROM jobs WHERE kind = 'webhook_delivery'"
            )
            .await,
            1
        );

        // Attempt 1: 500, retried 30 s later.
        let e = deliver(&db, T0 + 1, &id, 1, 30).await.expect_err("refused");
        assert!(!e.chain().any(|c| c.is::<Permanent>()), "{e:#}");
        let d = delivery(&db, &id).await;
        assert_eq!(d.status, DeliveryStatus::Pending);
        assert_eq!((d.attempts, d.last_status_code), (1, Some(500)));
        assert_eq!(
            d.last_error.as_deref(),
            Some("the receiver answered 500: nope")
        );
        assert_eq!(d.next_attempt_at, Some(T0 + 31));
        // Attempt 2: accepted.
        deliver(&db, T0 + 31, &id, 2, 30).await.expect("delivered");
        let d = delivery(&db, &id).await;
        assert_eq!(d.status, DeliveryStatus::Delivered);
        assert_eq!((d.attempts, d.last_status_code), (2, Some(204)));
        assert_eq!((d.delivered_at, d.last_error), (Some(T0 + 31), None));
        // Done is done: a job run again sends nothing.
        deliver(&db, T0 + 40, &id, 3, 30).await.expect("no-op");

        let requests = receiver.requests();
        assert_eq!(requests.len(), 2);
        for (n, (head, body)) in requests.iter().enumerate() {
            assert!(head.starts_with("POST /hook HTTP/1.1"), "{head}");
            assert_eq!(header(head, "content-type"), Some("application/json"));
            assert_eq!(header(head, "inkan-webhook-id"), Some(id.as_str()));
            let t = header(head, "inkan-webhook-timestamp").expect("timestamp");
            assert_eq!(t, (T0 + 1 + 30 * n as i64).to_string());
            let t: i64 = t.parse().expect("number");
            assert_eq!(
                header(head, "inkan-webhook-signature"),
                Some(signature(&secret, t, body).as_str())
            );
            let json: serde_json::Value = serde_json::from_str(body).expect("JSON body");
            assert_eq!(
                json,
                serde_json::json!({
                    "id": id, "type": "contract.signed", "created_at": T0, "data": data,
                })
            );
        }
        let actions = count(
            &db,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'webhook.created'",
        )
        .await;
        assert_eq!(actions, 1);
    }

    #[tokio::test]
    async fn https_goes_through_rustls_on_aws_lc_rs_and_a_failed_handshake_is_recorded() {
        // A "server" that closes every connection: the TLS handshake fails, as an attempt's
        // error (a missing crypto provider would panic the client instead).
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("https://{}/hook", listener.local_addr().expect("address"));
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                drop(stream);
            }
        });
        match post(url, Vec::new(), "{}".into()).await {
            Outcome::Unreachable(error) => {
                assert!(!error.contains("stopped"), "{error}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn a_delivery_is_given_up_24_hours_after_it_was_queued() {
        let (db, admin, _dir) = database().await;
        // Nothing listens there: the connection is refused.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .expect("bind")
            .local_addr()
            .expect("address")
            .port();
        let url = format!("http://127.0.0.1:{port}/hook");
        let endpoint = create(&db, T0, &admin, &endpoint_for(&url, &["contract.expired"]))
            .await
            .expect("endpoint")
            .endpoint;
        let id = ping(&db, T0, &admin, &endpoint.id).await.expect("ping").id;

        let e = deliver(&db, T0, &id, 1, 30).await.expect_err("unreachable");
        assert!(!e.chain().any(|c| c.is::<Permanent>()), "{e:#}");
        let d = delivery(&db, &id).await;
        assert_eq!(
            (d.event, d.attempts, d.last_status_code),
            (Event::Ping, 1, None)
        );
        assert!(d.last_error.is_some_and(|e| !e.is_empty()));
        // Late in the 24 hours: a retry an hour later would fall after them.
        let late = T0 + RETRY_FOR_SECONDS - 1800;
        let e = deliver(&db, late, &id, 29, 30).await.expect_err("given up");
        assert!(e.chain().any(|c| c.is::<Permanent>()), "{e:#}");
        let d = delivery(&db, &id).await;
        assert_eq!(d.status, DeliveryStatus::Failed);
        assert_eq!((d.attempts, d.next_attempt_at), (2, None));
        assert_eq!(d.last_attempt_at, Some(late));
    }

    #[tokio::test]
    async fn a_deleted_endpoint_gets_nothing_more_and_forgets_its_secret() {
        let (db, admin, _dir) = database().await;
        let receiver = Receiver::start(vec![200]);
        let endpoint = create(
            &db,
            T0,
            &admin,
            &endpoint_for(&receiver.url, &["contract.completed"]),
        )
        .await
        .expect("endpoint")
        .endpoint;
        let id = ping(&db, T0, &admin, &endpoint.id).await.expect("ping").id;
        delete(&db, T0 + 1, &admin, &endpoint.id)
            .await
            .expect("delete");
        deliver(&db, T0 + 2, &id, 1, 30)
            .await
            .expect("nothing to do");
        assert!(receiver.requests().is_empty());
        let d = delivery(&db, &id).await;
        assert_eq!((d.status, d.attempts), (DeliveryStatus::Failed, 0));
        assert_eq!(d.last_error.as_deref(), Some(ENDPOINT_DELETED));
        assert_eq!(
            count(
                &db,
                "SELECT COUNT(*) FROM webhook_endpoints WHERE secret <> ''"
            )
            .await,
            0
        );
        let mut tx = db.begin().await.expect("begin");
        emit(
            &mut tx,
            T0 + 3,
            &admin.org_id,
            "contract.completed",
            serde_json::json!({}),
        )
        .await
        .expect("emit");
        tx.commit().await.expect("commit");
        assert_eq!(
            count(&db, "SELECT COUNT(*) FROM webhook_deliveries").await,
            1
        );
        assert!(matches!(
            deliveries(&db, &admin, &endpoint.id).await,
            Err(Failure::NotFound)
        ));
        assert!(matches!(
            delete(&db, T0 + 4, &admin, &endpoint.id).await,
            Err(Failure::NotFound)
        ));
        assert!(list(&db, &admin).await.expect("list").is_empty());
    }

    #[test]
    fn events_and_statuses_read_back_what_they_store() {
        for e in Event::ALL {
            assert_eq!(Event::parse(e.as_str()).ok(), Some(*e));
        }
        for s in DeliveryStatus::ALL {
            assert_eq!(DeliveryStatus::parse(s.as_str()).ok(), Some(*s));
        }
    }
}
