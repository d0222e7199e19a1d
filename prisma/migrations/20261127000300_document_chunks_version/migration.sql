-- A counter per tenant that every change to its document chunks moves on, in the same transaction.
-- An API instance holding a collection's vectors in memory for the exact scan (where pgvector is
-- missing) compares it with the counter it loaded at and reloads what changed, whichever instance
-- (or job, or operator) made the change.
ALTER TABLE "tenants" ADD COLUMN "document_chunks_version" BIGINT NOT NULL DEFAULT 0;

CREATE OR REPLACE FUNCTION bump_document_chunks_version() RETURNS trigger
  LANGUAGE plpgsql
  AS $$
BEGIN
  -- Only tenants whose rows the statement changed; under row-level security that is the caller's.
  IF TG_OP = 'DELETE' THEN
    UPDATE tenants SET document_chunks_version = document_chunks_version + 1
    WHERE tenant_id IN (SELECT DISTINCT tenant_id FROM changed_before);
  ELSIF TG_OP = 'UPDATE' THEN
    UPDATE tenants SET document_chunks_version = document_chunks_version + 1
    WHERE tenant_id IN (SELECT tenant_id FROM changed_before UNION SELECT tenant_id FROM changed_after);
  ELSE
    UPDATE tenants SET document_chunks_version = document_chunks_version + 1
    WHERE tenant_id IN (SELECT DISTINCT tenant_id FROM changed_after);
  END IF;
  RETURN NULL;
END
$$;

-- One trigger per event: a trigger with transition tables fires on one event only.
CREATE TRIGGER document_chunks_version_insert AFTER INSERT ON "document_chunks"
  REFERENCING NEW TABLE AS changed_after FOR EACH STATEMENT EXECUTE FUNCTION bump_document_chunks_version();
CREATE TRIGGER document_chunks_version_update AFTER UPDATE ON "document_chunks"
  REFERENCING OLD TABLE AS changed_before NEW TABLE AS changed_after FOR EACH STATEMENT EXECUTE FUNCTION bump_document_chunks_version();
CREATE TRIGGER document_chunks_version_delete AFTER DELETE ON "document_chunks"
  REFERENCING OLD TABLE AS changed_before FOR EACH STATEMENT EXECUTE FUNCTION bump_document_chunks_version();
