-- Contracts (ARCHITECTURE.md, "Contracts"): a document manager's draft with its documents (bytes
-- in the document store, content-addressed by SHA-256), its parties in steps (same step =
-- parallel), the fields each party fills, and the contract's own history of events. Statuses are
-- the domain's enums' texts.

CREATE TABLE contracts (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES organisations (id),
    title TEXT NOT NULL,
    status TEXT NOT NULL,
    created_by TEXT NOT NULL REFERENCES users (id),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    sent_at BIGINT,
    completed_at BIGINT,
    expires_at BIGINT,
    reminder_days BIGINT NOT NULL,
    max_reminders BIGINT NOT NULL,
    allow_forwarding INTEGER NOT NULL DEFAULT 0,
    end_reason TEXT
);
CREATE INDEX contracts_org ON contracts (org_id, created_at);

CREATE TABLE contract_documents (
    id TEXT PRIMARY KEY,
    contract_id TEXT NOT NULL REFERENCES contracts (id),
    position BIGINT NOT NULL,
    name TEXT NOT NULL,
    original_sha256 TEXT NOT NULL,
    original_size BIGINT NOT NULL,
    pages BIGINT NOT NULL,
    current_sha256 TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (contract_id, position)
);

CREATE TABLE contract_parties (
    id TEXT PRIMARY KEY,
    contract_id TEXT NOT NULL REFERENCES contracts (id),
    position BIGINT NOT NULL,
    step BIGINT NOT NULL,
    role TEXT NOT NULL,
    signature_kind TEXT,
    user_id TEXT REFERENCES users (id),
    name TEXT NOT NULL,
    email TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (contract_id, position)
);
CREATE INDEX contract_parties_user ON contract_parties (user_id);

CREATE TABLE contract_fields (
    id TEXT PRIMARY KEY,
    contract_id TEXT NOT NULL REFERENCES contracts (id),
    document_id TEXT NOT NULL REFERENCES contract_documents (id),
    party_id TEXT NOT NULL REFERENCES contract_parties (id),
    kind TEXT NOT NULL,
    page BIGINT NOT NULL,
    x REAL NOT NULL,
    y REAL NOT NULL,
    width REAL NOT NULL,
    height REAL NOT NULL,
    label TEXT NOT NULL,
    value TEXT,
    created_at BIGINT NOT NULL
);

-- The contract's own history (who did what when, from where), beside the audit log.
CREATE TABLE contract_events (
    id TEXT PRIMARY KEY,
    contract_id TEXT NOT NULL REFERENCES contracts (id),
    seq BIGINT NOT NULL,
    at BIGINT NOT NULL,
    kind TEXT NOT NULL,
    actor_user_id TEXT,
    actor_party_id TEXT,
    actor_name TEXT NOT NULL,
    actor_email TEXT NOT NULL,
    address TEXT,
    user_agent TEXT,
    detail TEXT NOT NULL,
    UNIQUE (contract_id, seq)
);
