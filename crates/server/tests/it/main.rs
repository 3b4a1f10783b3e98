//! The server crate's integration tests, one binary: the `inkan` command line end to end
//! (`cli`), Inkan's CA over HTTP with long-term signatures (`ltv`), the web service on SQLite
//! and PostgreSQL (`serve`), its email through the outbox (`email`), the headless-Chromium
//! harness for testing pages as a person uses them (`browser`), and the harness that runs
//! schemathesis against a live server's OpenAPI document (`schemathesis`).

mod browser;
mod cli;
mod email;
mod ltv;
mod schemathesis;
mod serve;
mod support;
