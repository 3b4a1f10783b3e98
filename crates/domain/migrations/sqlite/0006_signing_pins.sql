-- The signing PIN (one per user) and the signer keys bound to it.
-- * lock_json is ca::pin::PinLock: the PIN's Argon2id hash (keyed with a master-key secret)
--   and the wrapping key pair whose private half is sealed under a key derived from the PIN
--   and the master key. Nothing here opens a key without the PIN.
-- * failures counts wrong PINs in a row; the fifth sets locked_until (an administrator's
--   unlock or the waiting period clears it).
-- * certificates.key_envelope: the certificate's private key sealed to the owner's PIN
--   wrapping key; NULL while the CA's key store holds the key (no PIN set).

CREATE TABLE signing_pins (
    user_id TEXT PRIMARY KEY REFERENCES users (id),
    org_id TEXT NOT NULL REFERENCES organisations (id),
    lock_json TEXT NOT NULL,
    failures BIGINT NOT NULL DEFAULT 0,
    locked_until BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

ALTER TABLE certificates ADD COLUMN key_envelope BLOB;
