-- Contracts in progress (ARCHITECTURE.md, "Contracts"): sending, each party's personal link
-- (its token stored hashed), outside parties' one-time codes and sessions, the signatures as
-- requests a job carries out (one per party, serialised per contract by the contract's lease),
-- completion, and the organisations' platform certificates for simple signatures (立会人型).

ALTER TABLE contracts ADD COLUMN expiry_days BIGINT NOT NULL DEFAULT 30;
-- Held by the process writing the contract's documents (a signature, the completion).
ALTER TABLE contracts ADD COLUMN lease_owner TEXT;
ALTER TABLE contracts ADD COLUMN lease_until BIGINT;
-- The certificate of completion's bytes in the document store.
ALTER TABLE contracts ADD COLUMN completion_sha256 TEXT;

-- The PDF with every field written in, before the first signature.
ALTER TABLE contract_documents ADD COLUMN prepared_sha256 TEXT;

ALTER TABLE contract_parties ADD COLUMN notified_at BIGINT;
ALTER TABLE contract_parties ADD COLUMN opened_at BIGINT;
ALTER TABLE contract_parties ADD COLUMN acted_at BIGINT;
ALTER TABLE contract_parties ADD COLUMN reason TEXT;
ALTER TABLE contract_parties ADD COLUMN reminders_sent BIGINT NOT NULL DEFAULT 0;
ALTER TABLE contract_parties ADD COLUMN last_mailed_at BIGINT;
ALTER TABLE contract_parties ADD COLUMN code_hash TEXT;
ALTER TABLE contract_parties ADD COLUMN code_expires_at BIGINT;
ALTER TABLE contract_parties ADD COLUMN code_tries BIGINT NOT NULL DEFAULT 0;
ALTER TABLE contract_parties ADD COLUMN session_hash TEXT;
ALTER TABLE contract_parties ADD COLUMN session_expires_at BIGINT;
ALTER TABLE contract_parties ADD COLUMN authentication TEXT;
ALTER TABLE contract_parties ADD COLUMN language TEXT;

-- Each party's personal linkss (a reminder sends a new one; the earlier ones keep working),
-- valid while the contract is in progress and for 30 days after it completed.
CREATE TABLE contract_links (
    token_hash TEXT PRIMARY KEY,
    party_id TEXT NOT NULL REFERENCES contract_parties (id),
    contract_id TEXT NOT NULL REFERENCES contracts (id),
    created_at BIGINT NOT NULL
);
CREATE INDEX contract_links_party ON contract_links (party_id);

-- A party's signature: asked for by the party, carried out by a job. One per party.
CREATE TABLE contract_signatures (
    id TEXT PRIMARY KEY,
    contract_id TEXT NOT NULL REFERENCES contracts (id),
    party_id TEXT NOT NULL UNIQUE REFERENCES contract_parties (id),
    status TEXT NOT NULL,
    kind TEXT NOT NULL,
    request TEXT NOT NULL,
    -- A PIN-held key's opened wrapping key, sealed under the master key for this signature
    -- only; cleared when the signature is done or failed.
    pin_grant TEXT,
    serial TEXT,
    error TEXT,
    created_at BIGINT NOT NULL,
    finished_at BIGINT
);
CREATE INDEX contract_signatures_contract ON contract_signatures (contract_id, created_at);

-- The certificates Inkan signs simple signatures with for an organisation (one per signature,
-- see contracts::signature::platform_certificate; their keys held by the CA).
CREATE TABLE platform_certificates (
    org_id TEXT NOT NULL REFERENCES organisations (id),
    serial TEXT NOT NULL,
    not_after BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (org_id, serial)
);

-- Files a mail carries, from the document store: a JSON list of {"sha256", "name"}.
ALTER TABLE outbox ADD COLUMN attachments TEXT;
