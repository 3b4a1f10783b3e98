-- The signing-certificate lifecycle: applications (orders) with the applicant's data, the
-- identity check, the certificates issued from them, and the billing ledger.
-- * At most one open (pending) application per user (partial unique index), and one per
--   idempotency key, so a double-submitted order creates one order.
-- * order_counters hands out the daily sequence of order ids (INK + YYYYMMDD + NNNN).

CREATE TABLE certificate_applications (
    id TEXT PRIMARY KEY,
    order_id TEXT NOT NULL UNIQUE,
    org_id TEXT NOT NULL REFERENCES organisations (id),
    user_id TEXT NOT NULL REFERENCES users (id),
    idempotency_key TEXT NOT NULL,
    kind TEXT NOT NULL,
    replaces_serial TEXT,
    status TEXT NOT NULL,
    organisation TEXT NOT NULL,
    postal_code TEXT NOT NULL,
    country TEXT NOT NULL,
    prefecture TEXT NOT NULL,
    city TEXT NOT NULL,
    street TEXT NOT NULL,
    building TEXT NOT NULL,
    family_name TEXT NOT NULL,
    given_name TEXT NOT NULL,
    family_name_romaji TEXT NOT NULL,
    given_name_romaji TEXT NOT NULL,
    department TEXT NOT NULL,
    phone TEXT NOT NULL,
    email TEXT NOT NULL,
    common_name TEXT NOT NULL,
    price_jpy BIGINT NOT NULL,
    tax_jpy BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    checked_by TEXT,
    checked_at BIGINT,
    check_method TEXT,
    check_note TEXT,
    reject_reason TEXT,
    serial TEXT,
    UNIQUE (user_id, idempotency_key)
);
CREATE UNIQUE INDEX certificate_applications_one_open ON certificate_applications (user_id)
    WHERE status IN ('pending', 'issuing');
CREATE INDEX certificate_applications_status ON certificate_applications (status, created_at);

CREATE TABLE certificates (
    serial TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES organisations (id),
    user_id TEXT NOT NULL REFERENCES users (id),
    order_id TEXT NOT NULL REFERENCES certificate_applications (order_id),
    subject TEXT NOT NULL,
    cert_pem TEXT NOT NULL,
    not_before BIGINT NOT NULL,
    not_after BIGINT NOT NULL,
    status TEXT NOT NULL,
    renewal_notice_sent_at BIGINT,
    created_at BIGINT NOT NULL
);
CREATE INDEX certificates_user ON certificates (user_id, created_at);
CREATE INDEX certificates_expiry ON certificates (status, not_after);

CREATE TABLE billing_ledger (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES organisations (id),
    order_id TEXT NOT NULL REFERENCES certificate_applications (order_id),
    kind TEXT NOT NULL,
    amount_jpy BIGINT NOT NULL,
    tax_jpy BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (order_id, kind)
);
CREATE INDEX billing_ledger_org ON billing_ledger (org_id, created_at);

CREATE TABLE order_counters (
    day TEXT PRIMARY KEY,
    last BIGINT NOT NULL
);
