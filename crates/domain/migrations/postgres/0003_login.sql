-- Login, sessions and account management.
-- * An address may hold one account per organisation (organisations know nothing of each
--   other); the password picks the account at login (users_email serves that lookup).
-- * organisations.kind: 'customer', or 'operator' for the instance operator's own organisation,
--   which holds no documents and whose users create organisations.
-- * users.language: the UI language ('ja' or 'en').
-- * sessions.last_seen_at: for the idle timeout.
-- * login_throttle: failed logins per account ('account:EMAIL') and per client address
--   ('address:IP'); a key over its limit is locked until locked_until.
-- * password_resets: one-time reset links (only the token's SHA-256 is stored).

ALTER TABLE organisations ADD COLUMN kind TEXT NOT NULL DEFAULT 'customer';
ALTER TABLE users ADD COLUMN language TEXT NOT NULL DEFAULT 'ja';
ALTER TABLE sessions ADD COLUMN last_seen_at BIGINT NOT NULL DEFAULT 0;
CREATE INDEX users_email ON users (email);

CREATE TABLE login_throttle (
    key TEXT PRIMARY KEY,
    failures BIGINT NOT NULL,
    first_failure_at BIGINT NOT NULL,
    locked_until BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE password_resets (
    token_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE INDEX password_resets_user ON password_resets (user_id, created_at);
