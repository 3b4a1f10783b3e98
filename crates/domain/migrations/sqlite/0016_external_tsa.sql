-- An organisation's external RFC 3161 timestamp authority (an http:// or https:// URL, set by
-- its administrators), used instead of Inkan's own TSA for the signature timestamps and
-- document timestamps made for the organisation; empty: Inkan's own.

ALTER TABLE organisations ADD COLUMN tsa_url TEXT NOT NULL DEFAULT '';
