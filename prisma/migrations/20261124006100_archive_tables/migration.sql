-- Seed 001's archives: sessions in a terminal state and old system events are moved here by the
-- retention job (src/modules/lifecycle), keeping the live tables small; admins can still read them.

-- CreateTable
CREATE TABLE "sessions_archive" (
    "session_id" UUID NOT NULL,
    "tenant_id" UUID NOT NULL,
    "user_id" UUID NOT NULL,
    "session_name" VARCHAR(255) NOT NULL,
    "session_type" VARCHAR(50) NOT NULL,
    "application" VARCHAR(100),
    "container_image" VARCHAR(500),
    "status" VARCHAR(20) NOT NULL,
    "priority" INTEGER NOT NULL,
    "max_runtime_minutes" INTEGER,
    "cpu_request" DECIMAL(8,2) NOT NULL,
    "cpu_limit" DECIMAL(8,2),
    "memory_request_gb" DECIMAL(10,2) NOT NULL,
    "memory_limit_gb" DECIMAL(10,2),
    "gpu_request" INTEGER NOT NULL,
    "gpu_type" VARCHAR(50),
    "storage_request_gb" DECIMAL(12,2) NOT NULL,
    "network_policy" VARCHAR(50) NOT NULL,
    "environment_variables" JSONB NOT NULL,
    "resource_constraints" JSONB NOT NULL,
    "placement_preferences" JSONB NOT NULL,
    "scheduling_notes" JSONB,
    "scheduled_node_id" UUID,
    "actual_node_ids" UUID[],
    "start_time" TIMESTAMPTZ(6),
    "end_time" TIMESTAMPTZ(6),
    "created_at" TIMESTAMPTZ(6) NOT NULL,
    "updated_at" TIMESTAMPTZ(6) NOT NULL,
    "archived_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "sessions_archive_pkey" PRIMARY KEY ("session_id")
);

-- CreateTable
CREATE TABLE "system_events_archive" (
    "event_id" UUID NOT NULL,
    "timestamp" TIMESTAMPTZ(6) NOT NULL,
    "tenant_id" UUID,
    "event_type" VARCHAR(100) NOT NULL,
    "severity" VARCHAR(20) NOT NULL,
    "source_component" VARCHAR(100) NOT NULL,
    "source_node_id" UUID,
    "session_id" UUID,
    "user_id" UUID,
    "message" TEXT NOT NULL,
    "details" JSONB NOT NULL,
    "resolved_at" TIMESTAMPTZ(6),
    "resolved_by" UUID,
    "archived_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "system_events_archive_pkey" PRIMARY KEY ("event_id","timestamp")
);

-- CreateIndex
CREATE INDEX "sessions_archive_tenant_id_archived_at_idx" ON "sessions_archive"("tenant_id", "archived_at" DESC);

-- CreateIndex
CREATE INDEX "system_events_archive_tenant_id_timestamp_idx" ON "system_events_archive"("tenant_id", "timestamp" DESC);

-- AddForeignKey
ALTER TABLE "sessions_archive" ADD CONSTRAINT "sessions_archive_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("tenant_id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "system_events_archive" ADD CONSTRAINT "system_events_archive_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("tenant_id") ON DELETE CASCADE ON UPDATE CASCADE;

-- The same tenant isolation as their sources (see the row-level security migration).
ALTER TABLE "sessions_archive" ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON "sessions_archive" USING (tenant_id = app_current_tenant_id()) WITH CHECK (tenant_id = app_current_tenant_id());
GRANT SELECT, INSERT, UPDATE, DELETE ON "sessions_archive" TO omega_app;

ALTER TABLE "system_events_archive" ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON "system_events_archive" USING (tenant_id = app_current_tenant_id()) WITH CHECK (tenant_id = app_current_tenant_id());
GRANT SELECT, INSERT, UPDATE, DELETE ON "system_events_archive" TO omega_app;
