//! The domain's in-process tests, one binary, each against a fresh SQLite file and a fresh
//! PostgreSQL database (`support`): whom a request acts for (`acting`), the audit log against
//! tampering (`audit`), the CA in the database (`ca`), contract drafts (`contracts`), the
//! contract screens' lists and draft changes (`contracts_list`), the job runner (`jobs`), mail
//! delivery as a job (`email`), password-reset requests answered exactly once (`reset`), and
//! certificates imported from other CAs with an organisation's external timestamp authority
//! (`imported`).

mod acting;
mod audit;
mod ca;
mod contracts;
mod contracts_list;
mod email;
mod imported;
mod jobs;
mod reset;
mod support;
