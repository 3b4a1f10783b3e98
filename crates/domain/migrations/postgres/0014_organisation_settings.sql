-- An organisation's settings, set by its administrators: the PAdES level of the signatures the
-- service makes with a signer's own certificate (B-T, B-LT or B-LTA; B-LTA until changed).

ALTER TABLE organisations ADD COLUMN pades_level TEXT NOT NULL DEFAULT 'B-LTA';
