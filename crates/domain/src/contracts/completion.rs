//! Completing a contract every party signed or approved (the completion job): each document
//! gets the validation data of every signature in it (a DSS) and a document timestamp (PAdES
//! B-LTA); the certificate of completion is rendered and signed with the organisation's
//! platform certificate (B-LTA). Timestamps come from the contract's organisation's external
//! TSA when it has one, and validation data for other CAs' certificates over HTTP
//! ([`crate::signing::Providers`]); then, in one transaction, the contract is completed, its
//! history and the audit log get every SHA-256, and every party and the sender are mailed the
//! signed PDFs (attached up to [`ATTACH_BYTES`], otherwise their link, valid
//! [`flow::DOWNLOAD_SECONDS`]).

use std::collections::HashMap;

use anyhow::Context;
use pdf_sign::{FileSource, HashAlgorithm, Level, SignOptions};
use sqlx::Row;

use super::desk::Desk;
use super::flow::{self, user_by_id};
use super::signature::platform_certificate;
use super::{
    history, load, record, Actor, Contract, ContractStatus, Document, PartyRole, PartyStatus,
};
use crate::accounts;
use crate::auth::new_token;
use crate::clock::{jst_seconds, Clock};
use crate::email::Attachment;
use crate::i18n::{t, Lang};
use crate::mail::{self, Addressee, Mail};
use crate::signing::Providers;

/// A completion mail carries the PDFs when together they are at most this large.
pub const ATTACH_BYTES: u64 = 10 * 1024 * 1024;

/// Completes `contract_id` if it is in progress and every party who signs or approves has;
/// otherwise does nothing (a repeated or stale job).
pub async fn complete(desk: &Desk, clock: &Clock, contract_id: &str) -> anyhow::Result<()> {
    let lease = desk.lease(clock, contract_id).await?;
    let contract = load(&desk.db, contract_id)
        .await?
        .context("the contract is gone")?;
    let ready = contract.status == ContractStatus::Sent
        && contract.parties.iter().all(|p| {
            p.role == PartyRole::CopyRecipient
                || matches!(p.status, PartyStatus::Signed | PartyStatus::Approved)
        });
    if !ready {
        lease.abandon(&desk.db).await;
        return Ok(());
    }
    let documents = super::document_rows(&desk.db, contract_id).await?;
    let hashes = document_hashes(&desk.db, contract_id).await?;
    let mut finished = Vec::new();
    for document in &documents {
        let (prepared, current) = hashes
            .get(&document.id)
            .cloned()
            .context("a document without bytes")?;
        let done = extend_to_lta(desk, &contract.org_id, &current).await?;
        lease.renew(&desk.db, clock.now()).await?;
        finished.push((document, prepared, current, done));
    }
    let now = clock.now();
    let serial = platform_certificate(desk, now, &contract.org_id).await?;
    let certificate = certificate_of_completion(desk, &contract, &finished, now).await?;
    let certificate = sign_certificate(desk, &contract.org_id, &serial, certificate).await?;
    // Everything the mails need is read before the transaction: on SQLite it holds the write
    // lock, and a read through the pool meanwhile would wait for a connection another writer
    // holds ("database is locked" under load).
    let organisation = accounts::organisation_name(&desk.db, &contract.org_id)
        .await
        .map_err(anyhow::Error::from)?
        .as_str()
        .to_owned();
    let mut recipients = Vec::with_capacity(contract.parties.len());
    for party in &contract.parties {
        let conn = &mut *desk.db.pool.acquire().await?;
        recipients.push(flow::recipient(conn, &party.id).await?);
    }
    let sender = user_by_id(&desk.db, &contract.created_by)
        .await
        .map_err(anyhow::Error::from)?;
    let mut total = 0;
    for (_, _, _, done) in &finished {
        total += desk.store.size(done).await?;
    }
    total += desk.store.size(&certificate).await?;
    let mut tx = desk.db.begin().await?;
    lease.release(&mut tx).await?;
    for (document, _, current, done) in &finished {
        let moved = sqlx::query(
            "UPDATE contract_documents SET current_sha256 = $3 \
             WHERE id = $1 AND current_sha256 = $2",
        )
        .bind(&document.id)
        .bind(current)
        .bind(done)
        .execute(&mut *tx)
        .await?;
        anyhow::ensure!(
            moved.rows_affected() == 1,
            "document {} changed during completion",
            document.id
        );
    }
    let completed = sqlx::query(
        "UPDATE contracts SET status = $2, completed_at = $3, completion_sha256 = $4, \
         updated_at = $3 WHERE id = $1 AND status = $5",
    )
    .bind(contract_id)
    .bind(ContractStatus::Completed.as_str())
    .bind(now)
    .bind(&certificate)
    .bind(ContractStatus::Sent.as_str())
    .execute(&mut *tx)
    .await?;
    anyhow::ensure!(
        completed.rows_affected() == 1,
        "the contract left its progress meanwhile"
    );
    record(
        &mut tx,
        &desk.db.audit,
        now,
        contract_id,
        &Actor::system(&contract),
        "contract.completed",
        serde_json::json!({
            "certificate_sha256": certificate,
            "platform_certificate": serial,
            "documents": finished.iter().map(|(d, prepared, _, done)| serde_json::json!({
                "document": d.id, "name": d.name,
                "before_first_signature_sha256": prepared, "final_sha256": done,
            })).collect::<Vec<_>>(),
        }),
    )
    .await
    .map_err(anyhow::Error::from)?;
    let mut attachments: Vec<Attachment> = finished
        .iter()
        .map(|(d, _, _, done)| Attachment {
            sha256: done.clone(),
            name: format!("{}.pdf", d.name),
        })
        .collect();
    attachments.push(Attachment {
        sha256: certificate.clone(),
        name: "certificate-of-completion.pdf".into(),
    });
    let attached = total <= ATTACH_BYTES;
    let trust_link = format!("{}/trust", desk.base_url);
    let carried: &[Attachment] = if attached { &attachments } else { &[] };
    for (party, to) in contract.parties.iter().zip(&recipients) {
        let token = new_token()?;
        sqlx::query(
            "INSERT INTO contract_links (token_hash, party_id, contract_id, created_at) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(crate::auth::token_hash(&token))
        .bind(&party.id)
        .bind(contract_id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        mail::send_with(
            &mut tx,
            now,
            &Addressee {
                org_id: &to.org_id,
                address: &to.email,
                lang: to.lang,
                company: to.company(),
            },
            &Mail::ContractCompleted {
                name: &to.name,
                title: &contract.title,
                organisation: &organisation,
                attached,
                link: &desk.party_link(&token),
                link_expires_at: now + flow::DOWNLOAD_SECONDS,
                trust_link: &trust_link,
            },
            carried,
        )
        .await?;
    }
    if let Some(sender) = sender {
        let link = format!("{}/contracts/{}", desk.base_url, contract.id);
        mail::send_with(
            &mut tx,
            now,
            &Addressee::user(&sender),
            &Mail::ContractCompleted {
                name: &sender.display_name,
                title: &contract.title,
                organisation: &organisation,
                attached,
                link: &link,
                link_expires_at: now + flow::DOWNLOAD_SECONDS,
                trust_link: &trust_link,
            },
            carried,
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Each document's bytes before the first signature and now.
async fn document_hashes(
    db: &crate::db::Db,
    contract_id: &str,
) -> anyhow::Result<HashMap<String, (String, String)>> {
    let rows = sqlx::query(
        "SELECT id, prepared_sha256, current_sha256 FROM contract_documents \
         WHERE contract_id = $1",
    )
    .bind(contract_id)
    .fetch_all(&db.pool)
    .await?;
    rows.iter()
        .map(|r| {
            let prepared: Option<String> = r.try_get("prepared_sha256")?;
            let current: String = r.try_get("current_sha256")?;
            Ok((
                r.try_get("id")?,
                (prepared.unwrap_or_else(|| current.clone()), current),
            ))
        })
        .collect()
}

/// Adds the validation data of every signature (a DSS), a document timestamp (from the
/// organisation `org_id`'s timestamp authority), and the validation data of that timestamp:
/// PAdES B-LTA. Returns the new bytes' SHA-256.
async fn extend_to_lta(desk: &Desk, org_id: &str, sha256: &str) -> anyhow::Result<String> {
    let source = desk.store.source(sha256).await?;
    let transports = Providers::for_organisation(desk.ca.clone(), desk.db.clone(), org_id)
        .await
        .map_err(anyhow::Error::from)?;
    flow::write_document(desk, None, move |out| -> anyhow::Result<()> {
        let with_dss = tempfile::NamedTempFile::new()?;
        {
            let mut w = std::io::BufWriter::new(with_dss.as_file());
            transports
                .add_dss(source, &mut w)
                .map_err(|e| anyhow::anyhow!("adding the validation data: {e}"))?;
            std::io::Write::flush(&mut w)?;
        }
        let stamped = tempfile::NamedTempFile::new()?;
        {
            let mut w = std::io::BufWriter::new(stamped.as_file());
            pdf_sign::sign::timestamp_document(
                FileSource::open(with_dss.path())?,
                &mut w,
                &transports,
                HashAlgorithm::Sha256,
            )
            .map_err(|e| anyhow::anyhow!("the document timestamp: {e}"))?;
            std::io::Write::flush(&mut w)?;
        }
        transports
            .add_dss(FileSource::open(stamped.path())?, out)
            .map_err(|e| anyhow::anyhow!("the timestamp's validation data: {e}"))?;
        Ok(())
    })
    .await
}

/// The certificate of completion's PDF (unsigned), in the sender's language.
async fn certificate_of_completion(
    desk: &Desk,
    contract: &Contract,
    documents: &[(&Document, String, String, String)],
    now: i64,
) -> anyhow::Result<Vec<u8>> {
    let sender = user_by_id(&desk.db, &contract.created_by)
        .await
        .map_err(anyhow::Error::from)?
        .context("the sender's account is gone")?;
    let lang = sender.language;
    let ja = lang == Lang::Ja;
    let organisation = accounts::organisation_name(&desk.db, &contract.org_id)
        .await
        .map_err(anyhow::Error::from)?
        .as_str()
        .to_owned();
    let events = history(&desk.db, &contract.id)
        .await
        .map_err(anyhow::Error::from)?;
    let acted_at = party_times(&desk.db, &contract.id).await?;
    let mut party_entries = Vec::new();
    for p in &contract.parties {
        let (authentication, at) = acted_at.get(&p.id).cloned().unwrap_or_default();
        let organisation = match &p.user_id {
            Some(id) => match user_by_id(&desk.db, id)
                .await
                .map_err(anyhow::Error::from)?
            {
                Some(u) => Some(
                    accounts::organisation_name(&desk.db, &u.org_id)
                        .await
                        .map_err(anyhow::Error::from)?
                        .as_str()
                        .to_owned(),
                ),
                None => None,
            },
            None => None,
        };
        party_entries.push(report::PartyEntry {
            step: u32::try_from(p.step).unwrap_or_default(),
            role: t(lang, &format!("party.role.{}", p.role.as_str())).into(),
            signature_kind: p
                .signature_kind
                .map(|k| t(lang, &format!("party.kind.{}", k.as_str())).into()),
            name: p.name.clone(),
            email: p.email.clone(),
            organisation,
            authentication: authentication
                .as_deref()
                .map(|a| t(lang, &format!("party.auth.{a}")).to_owned())
                .unwrap_or_else(|| "-".into()),
            outcome: t(lang, &format!("party.status.{}", p.status.as_str())).into(),
            at: at.map(jst_seconds),
        });
    }
    let mut document_entries = Vec::new();
    for (d, prepared, _, done) in documents {
        document_entries.push(report::DocumentEntry {
            name: d.name.clone(),
            pages: u32::try_from(d.pages).unwrap_or_default(),
            size_before: desk.store.size(prepared).await?,
            sha256_before: prepared.clone(),
            sha256_after: done.clone(),
        });
    }
    let completion = report::Completion {
        language: if ja {
            report::Language::Ja
        } else {
            report::Language::En
        },
        contract_id: contract.id.clone(),
        contract_number: contract.id[..8.min(contract.id.len())].to_uppercase(),
        title: contract.title.clone(),
        organisation,
        sender: format!("{} <{}>", sender.display_name, sender.email),
        created_at: jst_seconds(contract.created_at),
        sent_at: contract.sent_at.map(jst_seconds).unwrap_or_default(),
        completed_at: jst_seconds(now),
        documents: document_entries,
        parties: party_entries,
        events: events
            .iter()
            .map(|e| report::EventEntry {
                at: jst_seconds(e.at),
                kind: t(lang, &format!("event.{}", e.kind)).into(),
                actor: if e.actor_email.is_empty() {
                    e.actor_name.clone()
                } else {
                    format!("{} <{}>", e.actor_name, e.actor_email)
                },
                address: e.address.clone(),
                user_agent: e.user_agent.clone(),
                detail: event_detail(&e.detail),
            })
            .collect(),
        issued_by: format!("Inkan ({})", desk.base_url),
        issued_at: chrono::DateTime::from_timestamp(now, 0)
            .context("the time now")?
            .with_timezone(&chrono::FixedOffset::east_opt(9 * 3600).context("UTC+9")?),
    };
    tokio::task::spawn_blocking(move || report::render(&completion))
        .await?
        .map_err(|e| anyhow::anyhow!("rendering the certificate of completion: {e}"))
}

/// A short text of an event's detail for the certificate (reasons, documents, codes' tries).
fn event_detail(detail: &serde_json::Value) -> Option<String> {
    for key in ["reason", "title", "name", "error"] {
        if let Some(v) = detail.get(key).and_then(|v| v.as_str()) {
            return Some(v.to_owned());
        }
    }
    detail
        .get("email")
        .and_then(|v| v.as_str())
        .map(str::to_owned)
}

/// Each party's authentication and the time they acted.
async fn party_times(
    db: &crate::db::Db,
    contract_id: &str,
) -> anyhow::Result<HashMap<String, (Option<String>, Option<i64>)>> {
    let rows = sqlx::query(
        "SELECT id, authentication, acted_at FROM contract_parties WHERE contract_id = $1",
    )
    .bind(contract_id)
    .fetch_all(&db.pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get("id")?,
                (r.try_get("authentication")?, r.try_get("acted_at")?),
            ))
        })
        .collect()
}

/// Signs the certificate of completion with the platform certificate `serial` at B-LTA (the
/// timestamps from organisation `org_id`'s timestamp authority); returns its SHA-256 in the
/// document store.
async fn sign_certificate(
    desk: &Desk,
    org_id: &str,
    serial: &str,
    pdf: Vec<u8>,
) -> anyhow::Result<String> {
    let record = desk.ca.record(&desk.db, serial).await?;
    let signer = super::signature::held_key_signer(desk, &record).await?;
    let transports = Providers::for_organisation(desk.ca.clone(), desk.db.clone(), org_id)
        .await
        .map_err(anyhow::Error::from)?;
    let signed = tokio::task::spawn_blocking(move || -> anyhow::Result<Vec<u8>> {
        let opts = SignOptions {
            name: Some("Inkan".into()),
            reason: Some("合意締結証明書 / Certificate of completion".into()),
            hash: Some(HashAlgorithm::Sha256),
            ..SignOptions::default()
        };
        crate::signing::sign_to_level(pdf, &signer, &opts, Level::BLTA, &transports)
            .map_err(|e| anyhow::anyhow!("signing the certificate of completion: {e}"))
    })
    .await??;
    let stored = desk
        .store
        .put(std::io::Cursor::new(signed), u64::MAX)
        .await?;
    Ok(stored.sha256)
}
