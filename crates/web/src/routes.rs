//! The HTTP routes, one module per surface, each exporting `fn router() -> Router<AppState>`,
//! merged here: `health` (`/healthz`), the static files (`crate::assets`), `ca` (the CA's public
//! endpoints), `api` (the JSON API under `/api`, with its OpenAPI document), `certificates` (the
//! certificate lifecycle's API), `pins` (the signing PIN's API), `seals` (the seal images' API),
//! `webhooks` (the webhook endpoints' API), `settings` (an organisation's settings' API),
//! `pages`, `cert_pages`, `pin_pages`, `seal_pages` and `settings_pages` (the server-rendered
//! web UI), `trust` (the public page for trusting Inkan's root certificate). `extract` holds the shared extractors; `schemas` documents the domain types the API
//! answers with.

use axum::Router;

use crate::app::AppState;

pub mod api;
pub mod ca;
pub mod cert_pages;
pub mod certificates;
pub mod contract_pages;
pub mod contracts;
pub mod extract;
pub mod health;
pub mod pages;
pub mod party;
pub mod party_pages;
pub mod pin_pages;
pub mod pins;
pub mod schemas;
pub mod seal_pages;
pub mod seals;
pub mod settings;
pub mod settings_pages;
pub mod trust;
pub mod webhooks;

/// Every route of the service (the CA's endpoints are added by `app` when configured).
pub fn router() -> Router<AppState> {
    Router::new()
        .merge(health::router())
        .merge(crate::assets::router())
        .merge(api::router())
        .merge(certificates::router())
        .merge(contracts::router())
        .merge(contract_pages::router())
        .merge(party::router())
        .merge(party_pages::router())
        .merge(seals::router())
        .merge(pages::router())
        .merge(cert_pages::router())
        .merge(pins::router())
        .merge(pin_pages::router())
        .merge(seal_pages::router())
        .merge(webhooks::router())
        .merge(settings::router())
        .merge(settings_pages::router())
        .merge(trust::router())
}
