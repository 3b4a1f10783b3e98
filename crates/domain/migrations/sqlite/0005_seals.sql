-- Seal images (印影): a signer's registered seals and the uploads waiting to be saved.
-- * seals: the uploaded original (with its media type) and the transparent PNG Inkan made from
--   it, stamped on visible signatures. At most one default per user (partial unique index); the
--   limit of three per user is kept by the service under the user's write lock.
-- * seal_drafts: an upload being previewed, not yet saved; gone after an hour (expires_at).

CREATE TABLE seals (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES organisations (id),
    user_id TEXT NOT NULL REFERENCES users (id),
    name TEXT NOT NULL,
    original BLOB NOT NULL,
    original_type TEXT NOT NULL,
    transparent BLOB NOT NULL,
    width BIGINT NOT NULL,
    height BIGINT NOT NULL,
    -- Registration order within the user (1, 2, …): "oldest" even within one second.
    ordinal BIGINT NOT NULL,
    is_default INTEGER NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX seals_one_default ON seals (user_id) WHERE is_default = 1;
CREATE UNIQUE INDEX seals_user_order ON seals (user_id, ordinal);

CREATE TABLE seal_drafts (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES organisations (id),
    user_id TEXT NOT NULL REFERENCES users (id),
    name TEXT NOT NULL,
    original BLOB NOT NULL,
    original_type TEXT NOT NULL,
    transparent BLOB NOT NULL,
    width BIGINT NOT NULL,
    height BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX seal_drafts_user ON seal_drafts (user_id, created_at);
CREATE INDEX seal_drafts_expiry ON seal_drafts (expires_at);
