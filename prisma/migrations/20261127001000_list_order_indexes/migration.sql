-- Lists read a tenant's nodes, sessions and system events newest first with the write order (seq)
-- and the id as tie-breakers. An index in exactly that order per tenant lets a page be read off
-- the index and stop after its rows, instead of sorting every row of the tenant. The events'
-- index replaces the shorter one on (tenant_id, timestamp), whose every use it serves.
CREATE INDEX "nodes_list_order_idx" ON "nodes"("tenant_id", "created_at" DESC, "seq" DESC, "node_id" DESC);

CREATE INDEX "sessions_list_order_idx" ON "sessions"("tenant_id", "created_at" DESC, "seq" DESC, "session_id" DESC);

DROP INDEX "system_events_tenant_id_timestamp_idx";

CREATE INDEX "system_events_list_order_idx" ON "system_events"("tenant_id", "timestamp" DESC, "seq" DESC, "event_id" DESC);
