-- Signing certificates from other CAs (a commercial CA on Adobe's AATL, say), imported with their
-- keys as PKCS#12 by their owner or an administrator for them. The certificate and the chain from
-- the file are the CA's record (ca_certificates, kind "Imported": never on Inkan's CRL or OCSP);
-- this row says whose it is and holds the key, sealed to the owner's signing PIN (nothing else
-- holds it). status: active, or removed (by the owner or an administrator, or lost with the PIN
-- it was sealed to; the envelope is then emptied).

CREATE TABLE imported_certificates (
    serial TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES organisations (id),
    user_id TEXT NOT NULL REFERENCES users (id),
    subject TEXT NOT NULL,
    issuer TEXT NOT NULL,
    not_before BIGINT NOT NULL,
    not_after BIGINT NOT NULL,
    status TEXT NOT NULL,
    key_envelope BYTEA NOT NULL,
    imported_by TEXT NOT NULL REFERENCES users (id),
    created_at BIGINT NOT NULL
);
CREATE INDEX imported_certificates_user ON imported_certificates (user_id, created_at);
