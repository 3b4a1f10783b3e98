-- The contract screens (the list, the preparation wizard): the sender's message to the parties,
-- kept with the draft; and the indexes the list reads by (an organisation's contracts by their
-- last change, a document manager's own).

ALTER TABLE contracts ADD COLUMN message TEXT NOT NULL DEFAULT '';
CREATE INDEX contracts_org_updated ON contracts (org_id, updated_at);
CREATE INDEX contracts_creator ON contracts (created_by, created_at);
