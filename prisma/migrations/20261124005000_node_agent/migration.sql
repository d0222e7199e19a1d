-- Node agents: a machine registers once per tenant (its machine identity), a hostname names one
-- node per tenant, and batches an agent replays after an outage are stored once (ingest receipts).

-- AlterTable
ALTER TABLE "nodes" ADD COLUMN     "machine_id" VARCHAR(255);

-- CreateTable
CREATE TABLE "ingest_receipts" (
    "tenant_id" UUID NOT NULL,
    "idempotency_key" VARCHAR(255) NOT NULL,
    "accepted" INTEGER NOT NULL,
    "received_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "ingest_receipts_pkey" PRIMARY KEY ("tenant_id","idempotency_key")
);

-- CreateIndex
CREATE INDEX "ingest_receipts_received_at_idx" ON "ingest_receipts"("received_at");

-- CreateIndex
CREATE UNIQUE INDEX "nodes_tenant_id_machine_id_key" ON "nodes"("tenant_id", "machine_id");

-- CreateIndex
CREATE UNIQUE INDEX "nodes_tenant_id_hostname_key" ON "nodes"("tenant_id", "hostname");

-- AddForeignKey
ALTER TABLE "ingest_receipts" ADD CONSTRAINT "ingest_receipts_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("tenant_id") ON DELETE CASCADE ON UPDATE CASCADE;

-- The same tenant isolation as every other tenant table (see the row-level security migration).
ALTER TABLE "ingest_receipts" ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON "ingest_receipts" USING (tenant_id = app_current_tenant_id()) WITH CHECK (tenant_id = app_current_tenant_id());
GRANT SELECT, INSERT, UPDATE, DELETE ON "ingest_receipts" TO omega_app;
