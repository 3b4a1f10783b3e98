-- Where the audit chain was last found intact (one row, id 1), so the audit screen checks only
-- what was appended since, and when the whole chain was last walked. A break found by either
-- check is kept here, so it stays reported.
CREATE TABLE audit_checkpoint (
    id BIGINT PRIMARY KEY,
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL,
    full_at BIGINT,
    broken_seq BIGINT,
    broken_reason TEXT,
    updated_at BIGINT NOT NULL
);
