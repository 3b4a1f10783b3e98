//! Inkan's domain: the rules and the storage of the service, with no HTTP. Each module owns its
//! tables and is called by the web layer (one call per request) or the background work:
//! `accounts` (organisations, users, roles), `acting` (whom a request acts for), `auth` (sessions, login throttle, passwords),
//! `permissions` (the role × action table), `certificates` (applications, orders, identity
//! checks, issuance, renewal), `imported` (certificates of other CAs imported as PKCS#12), `pins` (the signing PIN), `seals` (seal images), `settings` (an organisation's settings: the PAdES level), `signing`
//! (signing a PDF with a signer's key; where timestamps and revocation data come from), `remote`
//! (what is reached over HTTP: an external TSA, other CAs' OCSP responders, CRLs and issuers), `audit` (the hash-chained log), `mail` (what each mail
//! says: templates per kind and language), `email` (the outbox), `jobs` (the runner of side
//! effects), `ca_folder` (the CA on disk, keys the CA holds), `storage` (document bytes,
//! content-addressed in a folder or an object store), `webhooks` (endpoints for contract
//! events and their signed, retried deliveries); `config`, `db`, `clock`, `i18n` and `error`
//! serve them all.

pub mod accounts;
pub mod acting;
pub mod audit;
pub mod auth;
pub mod ca_folder;
pub mod ca_store;
pub mod certificates;
pub mod clock;
pub mod config;
pub mod contracts;
pub mod db;
pub mod email;
pub mod error;
pub mod i18n;
pub mod imported;
pub mod jobs;
pub mod mail;
pub mod permissions;
pub mod pins;
pub mod remote;
pub mod seals;
pub mod settings;
pub mod signing;
pub mod storage;
pub mod testing;
pub mod webhooks;
