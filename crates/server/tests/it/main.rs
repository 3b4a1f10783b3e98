//! The server crate's integration tests, one binary: the `inkan` command line end to end
//! (`cli`), Inkan's CA over HTTP with long-term signatures (`ltv`), the web service on SQLite
//! and PostgreSQL (`serve`), and its email through the outbox (`email`).

mod cli;
mod email;
mod ltv;
mod serve;
mod support;
