-- Inkan's certificate authority lives in the database (ARCHITECTURE.md, "The CA"), so several
-- `inkan serve` processes on several hosts share it through the database alone, and an issuance,
-- a revocation or a key moved into a PIN envelope commits in the same transaction as the order or
-- PIN change it belongs to. The master key that seals the keys stays outside the database.

-- The one CA of the instance: its settings and public material (certificates, key labels).
CREATE TABLE ca_authority (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    organisation TEXT NOT NULL,
    base_url TEXT NOT NULL,
    key_algorithm TEXT NOT NULL,
    material TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- Private keys sealed under the master key (AES-256-GCM, bound to their label): the CA's own
-- (root, issuing, TSA, OCSP) and signers' keys the CA holds until a PIN takes them over.
CREATE TABLE ca_keys (
    label TEXT PRIMARY KEY,
    sealed BLOB NOT NULL,
    created_at BIGINT NOT NULL
);

-- Every certificate the CA issued or imported. `record` is the certificate with its chain and
-- key label (JSON); revocation and replacement are columns, changed by one conditional update.
CREATE TABLE ca_certificates (
    serial TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    record TEXT NOT NULL,
    not_after BIGINT NOT NULL,
    revoked_at BIGINT,
    revocation_reason TEXT,
    replaced_by TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX ca_certificates_revoked ON ca_certificates (revoked_at);

-- The last CRL number per scope (`root`, `issuing`), taken by one UPDATE ... RETURNING.
CREATE TABLE ca_crl_numbers (
    scope TEXT PRIMARY KEY,
    number BIGINT NOT NULL
);

-- An approval now issues in the transaction that marks the order issued, so no order waits in
-- `issuing` any more; one left there by an interrupted approval goes back to the queue.
UPDATE certificate_applications SET status = 'pending' WHERE status = 'issuing';
