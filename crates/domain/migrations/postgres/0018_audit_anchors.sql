-- The audit log's anchors: checkpoints (how many entries, the newest one's MAC) made every few
-- minutes, each MAC'd under a key derived from the master key (never in the database), linked to
-- the one before (prev_mac) and timestamped by Inkan's TSA (token: an RFC 3161 TimeStampToken
-- over the anchor's text and MAC). Each is also written to a log line and to audit-anchors.jsonl
-- in every process's data folder, so removing entries from the end, removing every entry,
-- removing an anchor, or rewriting the chain is found by `inkan admin verify-audit`.
-- keyed_from: the first entry whose hash is a MAC (entries before it predate keyed chains).
-- Append-only like the log (an upsert's DO UPDATE fires the UPDATE trigger). Keep in step with
-- ../sqlite/.

CREATE TABLE audit_anchors (
    n BIGINT PRIMARY KEY,
    at BIGINT NOT NULL,
    entries BIGINT NOT NULL,
    head TEXT NOT NULL,
    keyed_from BIGINT NOT NULL,
    prev_mac TEXT NOT NULL UNIQUE,
    mac TEXT NOT NULL UNIQUE,
    token BYTEA NOT NULL
);

CREATE TRIGGER audit_anchors_no_change BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_anchors
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
