//! The server crate's integration tests, one binary: the `inkan` command line end to end
//! (`cli`), Inkan's CA over HTTP with long-term signatures (`ltv`), and the web service on
//! SQLite and PostgreSQL (`serve`).

mod cli;
mod ltv;
mod serve;
mod support;
