//! The server crate's integration tests, one binary: the `inkan` command line end to end
//! (`cli`), and Inkan's CA over HTTP with long-term signatures (`ltv`).

mod cli;
mod ltv;
mod support;
