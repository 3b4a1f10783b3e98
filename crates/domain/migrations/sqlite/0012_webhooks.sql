-- Webhooks (crates/domain/src/webhooks.rs): an organisation's endpoints, the events each one
-- subscribes to, and every delivery: its body, fixed when the event happened, and the record of
-- its attempts. A delivery is sent by a `webhook_delivery` job written in the same transaction as
-- the delivery (and as the change it reports). Times are Unix seconds (UTC).

CREATE TABLE webhook_endpoints (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES organisations (id),
    url TEXT NOT NULL,
    description TEXT,
    -- The HMAC-SHA256 key of the deliveries' signatures, shown once at creation. Emptied when the
    -- endpoint is deleted; the row stays for its deliveries' sake.
    secret TEXT NOT NULL,
    created_by TEXT NOT NULL REFERENCES users (id),
    created_at BIGINT NOT NULL,
    deleted_at BIGINT
);
CREATE INDEX webhook_endpoints_org ON webhook_endpoints (org_id, created_at);

CREATE TABLE webhook_subscriptions (
    endpoint_id TEXT NOT NULL REFERENCES webhook_endpoints (id),
    event TEXT NOT NULL,
    PRIMARY KEY (endpoint_id, event)
);
CREATE INDEX webhook_subscriptions_event ON webhook_subscriptions (event, endpoint_id);

CREATE TABLE webhook_deliveries (
    id TEXT PRIMARY KEY,
    endpoint_id TEXT NOT NULL REFERENCES webhook_endpoints (id),
    event TEXT NOT NULL,
    -- The JSON body POSTed at every attempt.
    body TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts BIGINT NOT NULL DEFAULT 0,
    -- The HTTP status of the last attempt (none after a transport error).
    last_status_code BIGINT,
    -- What went wrong at the last attempt, at most 500 characters.
    last_error TEXT,
    created_at BIGINT NOT NULL,
    last_attempt_at BIGINT,
    next_attempt_at BIGINT,
    delivered_at BIGINT
);
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, created_at);
