//! The CA's public endpoints over HTTP: certificates (the root also as PEM, for the trust
//! page's readers), CRLs, OCSP (GET and POST) and the timestamp authority, mounted by `inkan serve` at the root and served alone by `inkan ca serve`.

use std::sync::Arc;

use anyhow::Context;
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use ca::authority::{paths, Authority};
use der::Decode;
use domain::ca_folder::CaDir;
use domain::ca_store::{Ca, CrlScope};
use domain::db::Db;

fn der_response(content_type: &'static str, body: Vec<u8>) -> Response {
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}

fn failure(e: impl std::fmt::Display) -> Response {
    tracing_error(&format!("{e:#}"));
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        "the certificate authority failed; see the server log",
    )
        .into_response()
}

fn tracing_error(e: &dyn std::fmt::Display) {
    eprintln!("inkan ca: {e}");
}

/// Where the endpoints find the CA: the service's, in its database, or a CA folder served alone
/// (`inkan ca serve --dir`).
#[derive(Debug, Clone)]
pub enum CaSource {
    Database(Arc<Ca>, Db),
    Folder(Arc<Authority>),
}

impl CaSource {
    fn authority(&self) -> &Authority {
        match self {
            CaSource::Database(ca, _) => ca.authority(),
            CaSource::Folder(a) => a,
        }
    }

    async fn crl(&self, scope: CrlScope) -> anyhow::Result<Vec<u8>> {
        Ok(match (self, scope) {
            (CaSource::Database(ca, db), _) => ca.crl(db, scope).await?,
            (CaSource::Folder(a), CrlScope::Issuing) => a.crl_der()?,
            (CaSource::Folder(a), CrlScope::Root) => a.root_crl_der()?,
        })
    }

    async fn ocsp(&self, request: &[u8], root: bool) -> anyhow::Result<Vec<u8>> {
        Ok(match self {
            CaSource::Database(ca, db) => ca.ocsp(db, request, root).await?,
            CaSource::Folder(a) if root => a.root_ocsp().respond(request)?,
            CaSource::Folder(a) => a.ocsp().respond(request)?,
        })
    }
}

/// The CA's public endpoints: certificates, CRLs, OCSP (GET and POST) and the TSA.
pub fn router(source: CaSource) -> Router {
    Router::new()
        .route(&format!("/{}", paths::CA_CERT), get(issuing_cert))
        .route(&format!("/{}", paths::ROOT_CERT), get(root_cert))
        .route(&format!("/{}", paths::ROOT_CERT_PEM), get(root_cert_pem))
        .route(&format!("/{}", paths::CRL), get(crl))
        .route(&format!("/{}", paths::ROOT_CRL), get(root_crl))
        .route(&format!("/{}", paths::OCSP), post(ocsp_post))
        .route(&format!("/{}/{{*request}}", paths::OCSP), get(ocsp_get))
        .route(&format!("/{}", paths::ROOT_OCSP), post(root_ocsp_post))
        .route(
            &format!("/{}/{{*request}}", paths::ROOT_OCSP),
            get(root_ocsp_get),
        )
        .route(&format!("/{}", paths::TSA), post(tsa))
        .with_state(source)
}

async fn issuing_cert(State(ca): State<CaSource>) -> Response {
    der_response(
        "application/pkix-cert",
        ca.authority().issuing_cert_der().to_vec(),
    )
}

async fn root_cert(State(ca): State<CaSource>) -> Response {
    der_response(
        "application/pkix-cert",
        ca.authority().root_cert_der().to_vec(),
    )
}

/// The root as PEM, downloaded as a file (Acrobat and the operating systems import DER or PEM).
async fn root_cert_pem(State(ca): State<CaSource>) -> Response {
    match ca.authority().root_cert_pem() {
        Ok(pem) => (
            [
                (header::CONTENT_TYPE, "application/x-pem-file"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"root.pem\"",
                ),
            ],
            pem,
        )
            .into_response(),
        Err(e) => failure(e),
    }
}

async fn crl(State(ca): State<CaSource>) -> Response {
    match ca.crl(CrlScope::Issuing).await {
        Ok(der) => der_response("application/pkix-crl", der),
        Err(e) => failure(e),
    }
}

async fn root_crl(State(ca): State<CaSource>) -> Response {
    match ca.crl(CrlScope::Root).await {
        Ok(der) => der_response("application/pkix-crl", der),
        Err(e) => failure(e),
    }
}

/// An OCSP answer; a malformed request gets its "malformedRequest" response with HTTP 400.
fn ocsp_answer(result: anyhow::Result<Vec<u8>>) -> Response {
    match result {
        Ok(der) => {
            let malformed = x509_ocsp::OcspResponse::from_der(&der).is_ok_and(|r| {
                r.response_status == x509_ocsp::OcspResponseStatus::MalformedRequest
            });
            let status = if malformed {
                StatusCode::BAD_REQUEST
            } else {
                StatusCode::OK
            };
            (
                status,
                [(header::CONTENT_TYPE, "application/ocsp-response")],
                der,
            )
                .into_response()
        }
        Err(e) => failure(e),
    }
}

/// The DER request of a GET (RFC 6960 appendix A.1); an undecodable one is answered as
/// malformed by the responder (an empty request).
fn get_request(encoded: &str) -> Vec<u8> {
    ca::ocsp::get_request_der(encoded).unwrap_or_default()
}

async fn ocsp_post(State(ca): State<CaSource>, body: Bytes) -> Response {
    ocsp_answer(ca.ocsp(&body, false).await)
}

async fn ocsp_get(State(ca): State<CaSource>, UrlPath(request): UrlPath<String>) -> Response {
    ocsp_answer(ca.ocsp(&get_request(&request), false).await)
}

async fn root_ocsp_post(State(ca): State<CaSource>, body: Bytes) -> Response {
    ocsp_answer(ca.ocsp(&body, true).await)
}

async fn root_ocsp_get(State(ca): State<CaSource>, UrlPath(request): UrlPath<String>) -> Response {
    ocsp_answer(ca.ocsp(&get_request(&request), true).await)
}

/// A timestamp; a rejected request gets its RFC 3161 rejection with HTTP 400.
async fn tsa(State(ca): State<CaSource>, body: Bytes) -> Response {
    match ca.authority().tsa().respond(&body) {
        Ok(der) => {
            let rejected =
                x509_tsp::TimeStampResp::from_der(&der).is_ok_and(|r| r.status.status as u32 >= 2);
            let status = if rejected {
                StatusCode::BAD_REQUEST
            } else {
                StatusCode::OK
            };
            (
                status,
                [(header::CONTENT_TYPE, "application/timestamp-reply")],
                der,
            )
                .into_response()
        }
        Err(e) => failure(e),
    }
}

/// Serves the CA's endpoints until interrupted.
pub fn serve(dir: &CaDir, listen: &str) -> anyhow::Result<()> {
    let (authority, _) = dir.open()?;
    let app = router(CaSource::Folder(Arc::new(authority)));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        eprintln!("inkan ca: serving on http://{}", listener.local_addr()?);
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await?;
        Ok(())
    })
}
