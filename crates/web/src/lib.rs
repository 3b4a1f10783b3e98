//! Inkan's web layer: axum routes (one module per surface in `routes/`), the extractors that
//! resolve who is asking and for whom, the server-rendered pages (`view` and `templates/`) with
//! their static files (`assets`: `static/`, PDF.js) and security headers (`app`), the JSON API
//! with its OpenAPI document, and the mapping of domain failures to HTTP (`error`). A handler
//! extracts, authorizes, makes one domain call and renders.

pub mod app;
pub mod assets;
pub mod error;
pub mod routes;
pub mod view;
