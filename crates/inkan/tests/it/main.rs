//! The `inkan` binary's integration tests, one binary: the `inkan` command line end to end
//! (`cli`), the service's CA in its database killed mid-approval (`ca_db`), Inkan's CA over HTTP with long-term signatures (`ltv`), the web service on SQLite
//! and PostgreSQL (`serve`), its email through the outbox (`email`), the job runner across
//! processes (`jobs`), accounts, login and sessions through the JSON API (`accounts`, on the
//! `service` client), the forms' CSRF checks (`forms`), the role × endpoint
//! permission matrix and the OpenAPI document's coverage (`matrix`), the certificate lifecycle
//! (`lifecycle`), contract drafts through the API (`contracts`), the signing PIN (`pin`), seal images and the seal on signatures (`seals`), the
//! web UI in headless Chromium (`ui`, `ui_pin`, `ui_contracts`, `ui_prepare`, `ui_lists`, on the
//! `browser` harness),
//! accessibility checks by axe-core on the contract pages (`a11y`), webhooks delivered to a
//! receiver on loopback (`webhooks`), schemathesis against the live API (`schemathesis`), and
//! the public trust page with Inkan's root certificate (`trust`), and an organisation's external
//! timestamp authority (`external_tsa`), and signing with a certificate of another CA imported
//! as PKCS#12 (`imported`).

mod a11y;
mod accounts;
mod browser;
mod ca_db;
mod cli;
mod contract_flow;
mod contracts;
mod email;
mod external_tsa;
mod forms;
mod imported;
mod jobs;
mod lifecycle;
mod ltv;
mod matrix;
mod organisation;
mod pin;
mod schemathesis;
mod seals;
mod serve;
mod service;
mod support;
mod trust;
mod ui;
mod ui_contracts;
mod ui_lists;
mod ui_pin;
mod ui_prepare;
mod ui_sign;
mod webhooks;
