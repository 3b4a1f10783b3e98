-- One runner for every side effect (ARCHITECTURE.md, "Jobs"): a job is written in the
-- transaction that causes it and run by the runner of any `inkan serve` process, which claims it
-- with a lease (`lease_owner`, `lease_until`, kept alive while it runs), retries a failure with
-- capped exponential backoff until `max_attempts`, and takes over a job whose process died once
-- its lease has run out. `dedupe_key` is unique among all jobs, finished ones included, so a
-- period's job ("sweep@<start>") runs once however many processes schedule it; finished jobs are
-- purged after a day (failed ones after 30 days) by the sweep. Times are Unix seconds (UTC).

CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    dedupe_key TEXT,
    status TEXT NOT NULL CHECK (status IN ('pending', 'running', 'done', 'failed')),
    run_at BIGINT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    max_attempts BIGINT NOT NULL,
    lease_owner TEXT,
    lease_until BIGINT,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    finished_at BIGINT
);
CREATE UNIQUE INDEX jobs_dedupe_key ON jobs (dedupe_key);
CREATE INDEX jobs_due ON jobs (status, run_at);
CREATE INDEX jobs_finished ON jobs (status, finished_at);

-- The outbox keeps each mail's content and its delivery record (attempts, last_error, sent_at);
-- delivering it is now a job. Mail still waiting becomes a job due when its next attempt was;
-- mail given up on (next_attempt_at = i64::MAX) stays as it is.
INSERT INTO jobs (id, kind, payload, status, run_at, attempts, max_attempts, last_error,
                  created_at)
SELECT id, 'email', '{"outbox_id":"' || id || '"}', 'pending', next_attempt_at, attempts,
       max(attempts + 1, 100), last_error, created_at
FROM outbox
WHERE sent_at IS NULL AND next_attempt_at < 9223372036854775807;

DROP INDEX outbox_due;
ALTER TABLE outbox DROP COLUMN next_attempt_at;
ALTER TABLE outbox DROP COLUMN claimed_by;
ALTER TABLE outbox DROP COLUMN claimed_until;
