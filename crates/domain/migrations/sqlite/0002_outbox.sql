-- The email outbox: every message is queued here in the transaction that causes it, and a worker
-- in each `inkan serve` process claims due messages with a lease (`claimed_by`, `claimed_until`),
-- sends them, and marks them sent or schedules a retry. Times are Unix seconds (UTC).

CREATE TABLE outbox (
    id TEXT PRIMARY KEY,
    org_id TEXT REFERENCES organisations (id),
    to_addr TEXT NOT NULL,
    subject TEXT NOT NULL,
    body_text TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    last_error TEXT,
    sent_at BIGINT,
    claimed_by TEXT,
    claimed_until BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX outbox_due ON outbox (sent_at, next_attempt_at);
