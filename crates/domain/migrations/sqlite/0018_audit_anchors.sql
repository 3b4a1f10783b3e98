-- The audit log's anchors: checkpoints (how many entries, the newest one's MAC) made every few
-- minutes, each MAC'd under a key derived from the master key (never in the database), linked to
-- the one before (prev_mac) and timestamped by Inkan's TSA (token: an RFC 3161 TimeStampToken
-- over the anchor's text and MAC). Each is also written to a log line and to audit-anchors.jsonl
-- in every process's data folder, so removing entries from the end, removing every entry,
-- removing an anchor, or rewriting the chain is found by `inkan admin verify-audit`.
-- keyed_from: the first entry whose hash is a MAC (entries before it predate keyed chains).
-- Append-only like the log.

CREATE TABLE audit_anchors (
    n BIGINT PRIMARY KEY,
    at BIGINT NOT NULL,
    entries BIGINT NOT NULL,
    head TEXT NOT NULL,
    keyed_from BIGINT NOT NULL,
    prev_mac TEXT NOT NULL UNIQUE,
    mac TEXT NOT NULL UNIQUE,
    token BLOB NOT NULL
);

CREATE TRIGGER audit_anchors_no_update BEFORE UPDATE ON audit_anchors
BEGIN
    SELECT RAISE(ABORT, 'audit_anchors is append-only');
END;

CREATE TRIGGER audit_anchors_no_delete BEFORE DELETE ON audit_anchors
BEGIN
    SELECT RAISE(ABORT, 'audit_anchors is append-only');
END;

-- REPLACE INTO (and INSERT OR REPLACE) removes the row it conflicts with without firing DELETE
-- triggers: refuse any insert that would meet an existing row.
CREATE TRIGGER audit_anchors_no_replace BEFORE INSERT ON audit_anchors
WHEN EXISTS (SELECT 1 FROM audit_anchors
             WHERE n = NEW.n OR prev_mac = NEW.prev_mac OR mac = NEW.mac)
BEGIN
    SELECT RAISE(ABORT, 'audit_anchors is append-only');
END;

CREATE TRIGGER audit_log_no_replace BEFORE INSERT ON audit_log
WHEN EXISTS (SELECT 1 FROM audit_log
             WHERE seq = NEW.seq OR prev_hash = NEW.prev_hash OR hash = NEW.hash)
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
