-- CreateSchema
CREATE SCHEMA IF NOT EXISTS "public";

-- CreateSchema
CREATE SCHEMA IF NOT EXISTS "security";

-- CreateTable
CREATE TABLE "tenants" (
    "tenant_id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "name" VARCHAR(255) NOT NULL,
    "slug" VARCHAR(100) NOT NULL,
    "status" VARCHAR(20) NOT NULL DEFAULT 'active',
    "billing_email" VARCHAR(255),
    "billing_plan" VARCHAR(50) NOT NULL DEFAULT 'pay_as_you_go',
    "metadata" JSONB NOT NULL DEFAULT '{}',
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "tenants_pkey" PRIMARY KEY ("tenant_id")
);

-- CreateTable
CREATE TABLE "environments" (
    "environment_id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "tenant_id" UUID NOT NULL,
    "name" VARCHAR(20) NOT NULL,
    "region_id" UUID,
    "quotas" JSONB NOT NULL DEFAULT '{}',
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "environments_pkey" PRIMARY KEY ("environment_id")
);

-- CreateTable
CREATE TABLE "users" (
    "user_id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "tenant_id" UUID NOT NULL,
    "username" VARCHAR(100) NOT NULL,
    "email" VARCHAR(255) NOT NULL,
    "full_name" VARCHAR(255),
    "role" VARCHAR(50) NOT NULL DEFAULT 'user',
    "status" VARCHAR(20) NOT NULL DEFAULT 'active',
    "last_login" TIMESTAMPTZ(6),
    "last_active" TIMESTAMPTZ(6),
    "preferences" JSONB NOT NULL DEFAULT '{}',
    "quota_cpu_hours" DECIMAL(10,2) NOT NULL DEFAULT 100,
    "quota_memory_gb_hours" DECIMAL(12,2) NOT NULL DEFAULT 1000,
    "quota_storage_gb" DECIMAL(12,2) NOT NULL DEFAULT 100,
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "users_pkey" PRIMARY KEY ("user_id")
);

-- CreateTable
CREATE TABLE "user_sessions" (
    "token_id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "tenant_id" UUID NOT NULL,
    "user_id" UUID NOT NULL,
    "refresh_token_hash" VARCHAR(128) NOT NULL,
    "family_id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "replaced_by_id" UUID,
    "expires_at" TIMESTAMPTZ(6) NOT NULL,
    "revoked_at" TIMESTAMPTZ(6),
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "last_used_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "client_ip" INET,
    "user_agent" TEXT,

    CONSTRAINT "user_sessions_pkey" PRIMARY KEY ("token_id")
);

-- CreateTable
CREATE TABLE "api_keys" (
    "api_key_id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "tenant_id" UUID NOT NULL,
    "environment_id" UUID NOT NULL,
    "created_by" UUID,
    "name" VARCHAR(255) NOT NULL,
    "key_prefix" VARCHAR(16) NOT NULL,
    "key_hash" VARCHAR(128) NOT NULL,
    "scopes" TEXT[] DEFAULT ARRAY[]::TEXT[],
    "rate_limit_per_minute" INTEGER NOT NULL DEFAULT 60,
    "status" VARCHAR(20) NOT NULL DEFAULT 'active',
    "last_used_at" TIMESTAMPTZ(6),
    "expires_at" TIMESTAMPTZ(6),
    "revoked_at" TIMESTAMPTZ(6),
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "api_keys_pkey" PRIMARY KEY ("api_key_id")
);

-- CreateTable
CREATE TABLE "security"."credentials" (
    "credential_id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "tenant_id" UUID NOT NULL,
    "user_id" UUID NOT NULL,
    "password_hash" TEXT NOT NULL,
    "totp_enabled" BOOLEAN NOT NULL DEFAULT false,
    "totp_secret" TEXT,
    "last_password_change" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "account_locked" BOOLEAN NOT NULL DEFAULT false,
    "account_locked_until" TIMESTAMPTZ(6),
    "password_reset_token_hash" VARCHAR(128),
    "password_reset_expires" TIMESTAMPTZ(6),
    "failed_login_attempts" INTEGER NOT NULL DEFAULT 0,
    "security_level" INTEGER NOT NULL DEFAULT 1,
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "credentials_pkey" PRIMARY KEY ("credential_id")
);

-- CreateTable
CREATE TABLE "security"."password_history" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "tenant_id" UUID NOT NULL,
    "user_id" UUID NOT NULL,
    "password_hash" TEXT NOT NULL,
    "changed_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "password_history_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "security"."login_attempts" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "tenant_id" UUID,
    "user_id" UUID,
    "username" VARCHAR(255) NOT NULL,
    "ip_address" INET NOT NULL,
    "user_agent" TEXT,
    "success" BOOLEAN NOT NULL,
    "failure_reason" VARCHAR(100),
    "timestamp" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "login_attempts_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "security"."security_events" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "tenant_id" UUID,
    "event_type" VARCHAR(50) NOT NULL,
    "user_id" UUID,
    "username" VARCHAR(255),
    "ip_address" INET,
    "user_agent" TEXT,
    "details" JSONB NOT NULL DEFAULT '{}',
    "timestamp" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "security_events_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "regions" (
    "region_id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "code" VARCHAR(50) NOT NULL,
    "name" VARCHAR(255) NOT NULL,
    "provider" VARCHAR(50) NOT NULL,
    "location" VARCHAR(255),
    "status" VARCHAR(20) NOT NULL DEFAULT 'active',
    "metadata" JSONB NOT NULL DEFAULT '{}',
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "regions_pkey" PRIMARY KEY ("region_id")
);

-- CreateTable
CREATE TABLE "nodes" (
    "node_id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "tenant_id" UUID NOT NULL,
    "hostname" VARCHAR(255) NOT NULL,
    "ip_address" INET NOT NULL,
    "node_type" VARCHAR(50) NOT NULL,
    "status" VARCHAR(20) NOT NULL DEFAULT 'inactive',
    "total_cpu_cores" INTEGER NOT NULL,
    "total_memory_gb" DECIMAL(10,2) NOT NULL,
    "total_storage_gb" DECIMAL(12,2) NOT NULL,
    "gpu_count" INTEGER NOT NULL DEFAULT 0,
    "gpu_memory_gb" DECIMAL(10,2) NOT NULL DEFAULT 0,
    "network_bandwidth_mbps" INTEGER NOT NULL DEFAULT 1000,
    "architecture" VARCHAR(20) NOT NULL DEFAULT 'x86_64',
    "os_version" VARCHAR(100),
    "kernel_version" VARCHAR(100),
    "docker_version" VARCHAR(50),
    "labels" JSONB NOT NULL DEFAULT '{}',
    "annotations" JSONB NOT NULL DEFAULT '{}',
    "capabilities" JSONB NOT NULL DEFAULT '{}',
    "region_id" UUID,
    "gpu_type" VARCHAR(50),
    "provider" VARCHAR(50),
    "instance_type" VARCHAR(100),
    "spot_instance" BOOLEAN NOT NULL DEFAULT false,
    "price_per_hour" DECIMAL(10,4),
    "cluster_name" VARCHAR(255),
    "model_name" VARCHAR(255),
    "deployment_id" UUID,
    "endpoint_url" VARCHAR(500),
    "last_heartbeat" TIMESTAMPTZ(6),
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "nodes_pkey" PRIMARY KEY ("node_id")
);

-- CreateTable
CREATE TABLE "node_resources" (
    "resource_id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "tenant_id" UUID NOT NULL,
    "node_id" UUID NOT NULL,
    "resource_type" VARCHAR(50) NOT NULL,
    "total_capacity" DECIMAL(15,4) NOT NULL,
    "allocated_capacity" DECIMAL(15,4) NOT NULL DEFAULT 0,
    "available_capacity" DECIMAL(15,4) GENERATED ALWAYS AS ("total_capacity" - "allocated_capacity") STORED,
    "reservation_capacity" DECIMAL(15,4) NOT NULL DEFAULT 0,
    "unit" VARCHAR(20) NOT NULL,
    "constraints" JSONB NOT NULL DEFAULT '{}',
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "node_resources_pkey" PRIMARY KEY ("resource_id")
);

-- CreateTable
CREATE TABLE "network_topologies" (
    "topology_id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "tenant_id" UUID NOT NULL,
    "topology_name" VARCHAR(255) NOT NULL,
    "network_type" VARCHAR(50) NOT NULL,
    "subnet" cidr NOT NULL,
    "vlan_id" INTEGER,
    "bandwidth_mbps" INTEGER NOT NULL,
    "latency_ms" DECIMAL(8,4),
    "mtu" INTEGER NOT NULL DEFAULT 1500,
    "qos_policies" JSONB NOT NULL DEFAULT '{}',
    "security_policies" JSONB NOT NULL DEFAULT '{}',
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "network_topologies_pkey" PRIMARY KEY ("topology_id")
);

-- CreateTable
CREATE TABLE "node_network_interfaces" (
    "interface_id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "tenant_id" UUID NOT NULL,
    "node_id" UUID NOT NULL,
    "topology_id" UUID,
    "interface_name" VARCHAR(50) NOT NULL,
    "mac_address" macaddr NOT NULL,
    "ip_address" INET,
    "interface_type" VARCHAR(20) NOT NULL,
    "speed_mbps" INTEGER NOT NULL,
    "duplex" VARCHAR(10) NOT NULL DEFAULT 'full',
    "status" VARCHAR(20) NOT NULL DEFAULT 'up',
    "driver" VARCHAR(100),
    "firmware_version" VARCHAR(100),
    "pci_slot" VARCHAR(20),
    "numa_node" INTEGER,
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "node_network_interfaces_pkey" PRIMARY KEY ("interface_id")
);

-- CreateTable
CREATE TABLE "storage_pools" (
    "pool_id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "tenant_id" UUID NOT NULL,
    "pool_name" VARCHAR(255) NOT NULL,
    "pool_type" VARCHAR(50) NOT NULL,
    "total_capacity_gb" DECIMAL(15,2) NOT NULL,
    "used_capacity_gb" DECIMAL(15,2) NOT NULL DEFAULT 0,
    "available_capacity_gb" DECIMAL(15,2) GENERATED ALWAYS AS ("total_capacity_gb" - "used_capacity_gb") STORED,
    "replication_factor" INTEGER NOT NULL DEFAULT 1,
    "compression_enabled" BOOLEAN NOT NULL DEFAULT true,
    "encryption_enabled" BOOLEAN NOT NULL DEFAULT true,
    "performance_tier" VARCHAR(20) NOT NULL DEFAULT 'standard',
    "node_ids" UUID[],
    "policies" JSONB NOT NULL DEFAULT '{}',
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "storage_pools_pkey" PRIMARY KEY ("pool_id")
);

-- CreateTable
CREATE TABLE "storage_volumes" (
    "volume_id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "tenant_id" UUID NOT NULL,
    "pool_id" UUID NOT NULL,
    "session_id" UUID,
    "volume_name" VARCHAR(255) NOT NULL,
    "size_gb" DECIMAL(12,2) NOT NULL,
    "mount_path" VARCHAR(500),
    "access_mode" VARCHAR(20) NOT NULL DEFAULT 'ReadWriteOnce',
    "storage_class" VARCHAR(100),
    "snapshot_policy" VARCHAR(100),
    "backup_enabled" BOOLEAN NOT NULL DEFAULT false,
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "deleted_at" TIMESTAMPTZ(6),

    CONSTRAINT "storage_volumes_pkey" PRIMARY KEY ("volume_id")
);

-- CreateTable
CREATE TABLE "sessions" (
    "session_id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "tenant_id" UUID NOT NULL,
    "user_id" UUID NOT NULL,
    "session_name" VARCHAR(255) NOT NULL,
    "session_type" VARCHAR(50) NOT NULL,
    "application" VARCHAR(100),
    "container_image" VARCHAR(500),
    "status" VARCHAR(20) NOT NULL DEFAULT 'pending',
    "priority" INTEGER NOT NULL DEFAULT 1,
    "max_runtime_minutes" INTEGER,
    "cpu_request" DECIMAL(8,2) NOT NULL,
    "cpu_limit" DECIMAL(8,2),
    "memory_request_gb" DECIMAL(10,2) NOT NULL,
    "memory_limit_gb" DECIMAL(10,2),
    "gpu_request" INTEGER NOT NULL DEFAULT 0,
    "gpu_type" VARCHAR(50),
    "storage_request_gb" DECIMAL(12,2) NOT NULL DEFAULT 0,
    "network_policy" VARCHAR(50) NOT NULL DEFAULT 'default',
    "environment_variables" JSONB NOT NULL DEFAULT '{}',
    "resource_constraints" JSONB NOT NULL DEFAULT '{}',
    "placement_preferences" JSONB NOT NULL DEFAULT '{}',
    "scheduled_node_id" UUID,
    "actual_node_ids" UUID[] DEFAULT ARRAY[]::UUID[],
    "start_time" TIMESTAMPTZ(6),
    "end_time" TIMESTAMPTZ(6),
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "sessions_pkey" PRIMARY KEY ("session_id")
);

-- CreateTable
CREATE TABLE "session_allocations" (
    "allocation_id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "tenant_id" UUID NOT NULL,
    "session_id" UUID NOT NULL,
    "node_id" UUID NOT NULL,
    "resource_type" VARCHAR(50) NOT NULL,
    "allocated_amount" DECIMAL(15,4) NOT NULL,
    "unit" VARCHAR(20) NOT NULL,
    "allocation_time" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "deallocation_time" TIMESTAMPTZ(6),
    "status" VARCHAR(20) NOT NULL DEFAULT 'active',

    CONSTRAINT "session_allocations_pkey" PRIMARY KEY ("allocation_id")
);

-- CreateTable
CREATE TABLE "deployments" (
    "deployment_id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "tenant_id" UUID NOT NULL,
    "environment_id" UUID,
    "name" VARCHAR(255) NOT NULL,
    "model_id" UUID NOT NULL,
    "gpu_type" VARCHAR(50) NOT NULL DEFAULT 'auto',
    "min_replicas" INTEGER NOT NULL DEFAULT 1,
    "max_replicas" INTEGER NOT NULL DEFAULT 1,
    "desired_replicas" INTEGER NOT NULL DEFAULT 1,
    "current_replicas" INTEGER NOT NULL DEFAULT 0,
    "strategy" VARCHAR(20) NOT NULL DEFAULT 'spread',
    "regions" VARCHAR(50)[] DEFAULT ARRAY[]::VARCHAR(50)[],
    "status" VARCHAR(20) NOT NULL DEFAULT 'pending',
    "autoscaling" JSONB NOT NULL DEFAULT '{}',
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "deployments_pkey" PRIMARY KEY ("deployment_id")
);

-- CreateTable
CREATE TABLE "deployment_nodes" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "tenant_id" UUID NOT NULL,
    "deployment_id" UUID NOT NULL,
    "node_id" UUID NOT NULL,
    "status" VARCHAR(20) NOT NULL DEFAULT 'provisioning',
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "deployment_nodes_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "node_metrics" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "time" TIMESTAMPTZ(6) NOT NULL,
    "tenant_id" UUID NOT NULL,
    "node_id" UUID NOT NULL,
    "metric_type" VARCHAR(50) NOT NULL,
    "value" DOUBLE PRECISION NOT NULL,
    "unit" VARCHAR(20),
    "labels" JSONB NOT NULL DEFAULT '{}',

    CONSTRAINT "node_metrics_pkey" PRIMARY KEY ("id","time")
);

-- CreateTable
CREATE TABLE "session_metrics" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "time" TIMESTAMPTZ(6) NOT NULL,
    "tenant_id" UUID NOT NULL,
    "session_id" UUID NOT NULL,
    "metric_type" VARCHAR(50) NOT NULL,
    "value" DOUBLE PRECISION NOT NULL,
    "unit" VARCHAR(20),
    "labels" JSONB NOT NULL DEFAULT '{}',

    CONSTRAINT "session_metrics_pkey" PRIMARY KEY ("id","time")
);

-- CreateTable
CREATE TABLE "system_metrics" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "timestamp" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "tenant_id" UUID NOT NULL,
    "node_id" UUID,
    "cpu_percent" DOUBLE PRECISION,
    "cpu_temperature" DOUBLE PRECISION,
    "memory_percent" DOUBLE PRECISION,
    "memory_used_mb" DOUBLE PRECISION,
    "memory_temperature" DOUBLE PRECISION,
    "gpu_percent" DOUBLE PRECISION,
    "gpu_temperature" DOUBLE PRECISION,
    "gpu_fans_rpm" DOUBLE PRECISION,
    "gpu_watt" DOUBLE PRECISION,
    "vram_percent" DOUBLE PRECISION,
    "vram_used_mb" DOUBLE PRECISION,
    "network_received" DOUBLE PRECISION,
    "network_sent" DOUBLE PRECISION,
    "disk_writes_s_c" DOUBLE PRECISION,
    "disk_reads_s_c" DOUBLE PRECISION,
    "disk_writes_s_d" DOUBLE PRECISION,
    "disk_reads_s_d" DOUBLE PRECISION,
    "system_uptime_seconds" DOUBLE PRECISION,
    "app_uptime_seconds" DOUBLE PRECISION,

    CONSTRAINT "system_metrics_pkey" PRIMARY KEY ("id","timestamp")
);

-- CreateTable
CREATE TABLE "llm_metrics" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "timestamp" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "tenant_id" UUID NOT NULL,
    "model_id" VARCHAR(255) NOT NULL,
    "chat_session_id" UUID,
    "api_key_id" UUID,
    "node_id" UUID,
    "request_id" VARCHAR(255) NOT NULL,
    "tokens_generated" INTEGER NOT NULL,
    "generation_time_ms" DOUBLE PRECISION NOT NULL,
    "tokens_per_second" DOUBLE PRECISION,
    "time_to_first_token_ms" DOUBLE PRECISION,
    "cache_hit" BOOLEAN NOT NULL DEFAULT false,
    "prompt_tokens" INTEGER,
    "total_tokens" INTEGER,
    "parameters" JSONB,

    CONSTRAINT "llm_metrics_pkey" PRIMARY KEY ("id","timestamp")
);

-- CreateTable
CREATE TABLE "system_events" (
    "event_id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "timestamp" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "tenant_id" UUID,
    "event_type" VARCHAR(100) NOT NULL,
    "severity" VARCHAR(20) NOT NULL,
    "source_component" VARCHAR(100) NOT NULL,
    "source_node_id" UUID,
    "session_id" UUID,
    "user_id" UUID,
    "message" TEXT NOT NULL,
    "details" JSONB NOT NULL DEFAULT '{}',
    "resolved_at" TIMESTAMPTZ(6),
    "resolved_by" UUID,

    CONSTRAINT "system_events_pkey" PRIMARY KEY ("event_id","timestamp")
);

-- CreateTable
CREATE TABLE "daily_metrics_summary" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "tenant_id" UUID NOT NULL,
    "date" DATE NOT NULL,
    "total_requests" INTEGER NOT NULL DEFAULT 0,
    "total_tokens_generated" BIGINT NOT NULL DEFAULT 0,
    "avg_tokens_per_second" DOUBLE PRECISION,
    "avg_response_time_ms" DOUBLE PRECISION,
    "cache_hits" INTEGER NOT NULL DEFAULT 0,
    "cache_misses" INTEGER NOT NULL DEFAULT 0,
    "most_used_model" VARCHAR(255),
    "peak_cpu_percent" DOUBLE PRECISION,
    "peak_memory_percent" DOUBLE PRECISION,
    "peak_gpu_percent" DOUBLE PRECISION,
    "computed_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "daily_metrics_summary_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "models" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "model_id" VARCHAR(255) NOT NULL,
    "name" VARCHAR(255) NOT NULL,
    "provider" VARCHAR(100),
    "family" VARCHAR(100),
    "format" VARCHAR(50),
    "parameter_size" VARCHAR(20),
    "quantization" VARCHAR(20),
    "context_length" INTEGER NOT NULL,
    "file_path" VARCHAR(500),
    "file_size_mb" DOUBLE PRECISION,
    "gpu_memory_required_gb" DECIMAL(10,2),
    "price_input_per_million" DECIMAL(12,6) NOT NULL DEFAULT 0,
    "price_output_per_million" DECIMAL(12,6) NOT NULL DEFAULT 0,
    "is_active" BOOLEAN NOT NULL DEFAULT true,
    "first_added" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "last_used" TIMESTAMPTZ(6),
    "metadata" JSONB NOT NULL DEFAULT '{}',

    CONSTRAINT "models_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "chat_sessions" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "tenant_id" UUID NOT NULL,
    "user_id" UUID,
    "title" VARCHAR(255),
    "status" VARCHAR(20) NOT NULL DEFAULT 'active',
    "metadata" JSONB NOT NULL DEFAULT '{}',
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "last_active" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "chat_sessions_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "conversations" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "tenant_id" UUID NOT NULL,
    "chat_session_id" UUID NOT NULL,
    "title" VARCHAR(255),
    "summary" TEXT,
    "metadata" JSONB NOT NULL DEFAULT '{}',
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "conversations_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "messages" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "tenant_id" UUID NOT NULL,
    "conversation_id" UUID NOT NULL,
    "role" VARCHAR(50) NOT NULL,
    "content" TEXT NOT NULL,
    "model_id" UUID,
    "request_id" VARCHAR(255),
    "tokens" INTEGER,
    "metadata" JSONB NOT NULL DEFAULT '{}',
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "messages_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "documents" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "tenant_id" UUID NOT NULL,
    "title" VARCHAR(255),
    "content" TEXT NOT NULL,
    "source" VARCHAR(500),
    "metadata" JSONB NOT NULL DEFAULT '{}',
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "documents_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "document_chunks" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "tenant_id" UUID NOT NULL,
    "document_id" UUID NOT NULL,
    "chunk_index" INTEGER NOT NULL,
    "content" TEXT NOT NULL,
    "metadata" JSONB NOT NULL DEFAULT '{}',
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "document_chunks_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "response_cache" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "tenant_id" UUID NOT NULL,
    "cache_key" VARCHAR(255) NOT NULL,
    "model_id" VARCHAR(255),
    "prompt" TEXT NOT NULL,
    "parameters" JSONB NOT NULL,
    "response" TEXT NOT NULL,
    "metrics" JSONB,
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "expires_at" TIMESTAMPTZ(6) NOT NULL,
    "hit_count" INTEGER NOT NULL DEFAULT 1,

    CONSTRAINT "response_cache_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "tool_sessions" (
    "session_id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "tenant_id" UUID NOT NULL,
    "tool_id" VARCHAR(50) NOT NULL,
    "tool_version" VARCHAR(50),
    "started_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "ended_at" TIMESTAMPTZ(6),
    "last_activity" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "total_compressions" INTEGER NOT NULL DEFAULT 0,
    "total_embeddings" INTEGER NOT NULL DEFAULT 0,
    "total_workflows" INTEGER NOT NULL DEFAULT 0,
    "tokens_saved" BIGINT NOT NULL DEFAULT 0,

    CONSTRAINT "tool_sessions_pkey" PRIMARY KEY ("session_id")
);

-- CreateTable
CREATE TABLE "tool_operations" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "tenant_id" UUID NOT NULL,
    "session_id" UUID NOT NULL,
    "tool_name" VARCHAR(50) NOT NULL,
    "operation_mode" VARCHAR(50) NOT NULL,
    "parameters" JSONB NOT NULL DEFAULT '{}',
    "file_path" VARCHAR(512),
    "tokens_original" INTEGER NOT NULL DEFAULT 0,
    "tokens_actual" INTEGER NOT NULL DEFAULT 0,
    "tokens_prevented" INTEGER NOT NULL DEFAULT 0,
    "response_time_ms" DOUBLE PRECISION,
    "tool_id" VARCHAR(50) NOT NULL,
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "tool_operations_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "usage_records" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "tenant_id" UUID NOT NULL,
    "environment_id" UUID,
    "api_key_id" UUID,
    "model_id" UUID NOT NULL,
    "node_id" UUID,
    "request_id" VARCHAR(255) NOT NULL,
    "prompt_tokens" INTEGER NOT NULL DEFAULT 0,
    "completion_tokens" INTEGER NOT NULL DEFAULT 0,
    "total_tokens" INTEGER NOT NULL DEFAULT 0,
    "cost_usd" DECIMAL(14,6) NOT NULL DEFAULT 0,
    "latency_ms" DOUBLE PRECISION,
    "recorded_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "usage_records_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "billing_events" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "tenant_id" UUID NOT NULL,
    "event_type" VARCHAR(50) NOT NULL,
    "period_start" DATE NOT NULL,
    "period_end" DATE NOT NULL,
    "amount_usd" DECIMAL(14,6) NOT NULL,
    "currency" VARCHAR(3) NOT NULL DEFAULT 'USD',
    "line_items" JSONB NOT NULL DEFAULT '[]',
    "idempotency_key" VARCHAR(255) NOT NULL,
    "status" VARCHAR(20) NOT NULL DEFAULT 'pending',
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "last_error" TEXT,
    "sent_at" TIMESTAMPTZ(6),
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "billing_events_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "notification_config" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "tenant_id" UUID NOT NULL,
    "name" VARCHAR(255) NOT NULL,
    "channel_type" VARCHAR(20) NOT NULL,
    "target_url" VARCHAR(2048) NOT NULL,
    "secret" TEXT,
    "event_types" VARCHAR(100)[] DEFAULT ARRAY[]::VARCHAR(100)[],
    "enabled" BOOLEAN NOT NULL DEFAULT true,
    "max_attempts" INTEGER NOT NULL DEFAULT 8,
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "notification_config_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "notification_deliveries" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "tenant_id" UUID NOT NULL,
    "config_id" UUID NOT NULL,
    "event_id" UUID NOT NULL,
    "event_type" VARCHAR(100) NOT NULL,
    "payload" JSONB NOT NULL,
    "status" VARCHAR(20) NOT NULL DEFAULT 'pending',
    "attempt_count" INTEGER NOT NULL DEFAULT 0,
    "max_attempts" INTEGER NOT NULL DEFAULT 8,
    "next_attempt_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "locked_until" TIMESTAMPTZ(6),
    "last_attempt_at" TIMESTAMPTZ(6),
    "response_code" INTEGER,
    "last_error" TEXT,
    "delivered_at" TIMESTAMPTZ(6),
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "notification_deliveries_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "tenants_slug_key" ON "tenants"("slug");

-- CreateIndex
CREATE UNIQUE INDEX "environments_tenant_id_name_key" ON "environments"("tenant_id", "name");

-- CreateIndex
CREATE UNIQUE INDEX "users_username_key" ON "users"("username");

-- CreateIndex
CREATE UNIQUE INDEX "users_email_key" ON "users"("email");

-- CreateIndex
CREATE INDEX "users_tenant_id_idx" ON "users"("tenant_id");

-- CreateIndex
CREATE INDEX "users_role_idx" ON "users"("role");

-- CreateIndex
CREATE INDEX "users_status_idx" ON "users"("status");

-- CreateIndex
CREATE UNIQUE INDEX "user_sessions_refresh_token_hash_key" ON "user_sessions"("refresh_token_hash");

-- CreateIndex
CREATE INDEX "user_sessions_user_id_idx" ON "user_sessions"("user_id");

-- CreateIndex
CREATE INDEX "user_sessions_family_id_idx" ON "user_sessions"("family_id");

-- CreateIndex
CREATE INDEX "user_sessions_expires_at_idx" ON "user_sessions"("expires_at");

-- CreateIndex
CREATE UNIQUE INDEX "api_keys_key_prefix_key" ON "api_keys"("key_prefix");

-- CreateIndex
CREATE UNIQUE INDEX "api_keys_key_hash_key" ON "api_keys"("key_hash");

-- CreateIndex
CREATE INDEX "api_keys_tenant_id_environment_id_idx" ON "api_keys"("tenant_id", "environment_id");

-- CreateIndex
CREATE UNIQUE INDEX "credentials_user_id_key" ON "security"."credentials"("user_id");

-- CreateIndex
CREATE UNIQUE INDEX "credentials_password_reset_token_hash_key" ON "security"."credentials"("password_reset_token_hash");

-- CreateIndex
CREATE INDEX "password_history_user_id_changed_at_idx" ON "security"."password_history"("user_id", "changed_at" DESC);

-- CreateIndex
CREATE INDEX "login_attempts_username_idx" ON "security"."login_attempts"("username");

-- CreateIndex
CREATE INDEX "login_attempts_ip_address_idx" ON "security"."login_attempts"("ip_address");

-- CreateIndex
CREATE INDEX "login_attempts_timestamp_idx" ON "security"."login_attempts"("timestamp");

-- CreateIndex
CREATE INDEX "login_attempts_tenant_id_timestamp_idx" ON "security"."login_attempts"("tenant_id", "timestamp" DESC);

-- CreateIndex
CREATE INDEX "security_events_user_id_idx" ON "security"."security_events"("user_id");

-- CreateIndex
CREATE INDEX "security_events_timestamp_idx" ON "security"."security_events"("timestamp");

-- CreateIndex
CREATE INDEX "security_events_tenant_id_timestamp_idx" ON "security"."security_events"("tenant_id", "timestamp" DESC);

-- CreateIndex
CREATE UNIQUE INDEX "regions_code_key" ON "regions"("code");

-- CreateIndex
CREATE UNIQUE INDEX "nodes_cluster_name_key" ON "nodes"("cluster_name");

-- CreateIndex
CREATE INDEX "nodes_tenant_id_status_idx" ON "nodes"("tenant_id", "status");

-- CreateIndex
CREATE INDEX "nodes_status_idx" ON "nodes"("status");

-- CreateIndex
CREATE INDEX "nodes_node_type_idx" ON "nodes"("node_type");

-- CreateIndex
CREATE INDEX "nodes_last_heartbeat_idx" ON "nodes"("last_heartbeat");

-- CreateIndex
CREATE INDEX "nodes_labels_idx" ON "nodes" USING GIN ("labels");

-- CreateIndex
CREATE INDEX "nodes_region_id_idx" ON "nodes"("region_id");

-- CreateIndex
CREATE INDEX "nodes_gpu_type_idx" ON "nodes"("gpu_type");

-- CreateIndex
CREATE INDEX "nodes_deployment_id_idx" ON "nodes"("deployment_id");

-- CreateIndex
CREATE INDEX "node_resources_resource_type_idx" ON "node_resources"("resource_type");

-- CreateIndex
CREATE INDEX "node_resources_tenant_id_idx" ON "node_resources"("tenant_id");

-- CreateIndex
CREATE UNIQUE INDEX "node_resources_node_id_resource_type_key" ON "node_resources"("node_id", "resource_type");

-- CreateIndex
CREATE INDEX "network_topologies_network_type_idx" ON "network_topologies"("network_type");

-- CreateIndex
CREATE INDEX "network_topologies_subnet_idx" ON "network_topologies"("subnet");

-- CreateIndex
CREATE INDEX "network_topologies_tenant_id_idx" ON "network_topologies"("tenant_id");

-- CreateIndex
CREATE INDEX "node_network_interfaces_topology_id_idx" ON "node_network_interfaces"("topology_id");

-- CreateIndex
CREATE INDEX "node_network_interfaces_interface_type_idx" ON "node_network_interfaces"("interface_type");

-- CreateIndex
CREATE UNIQUE INDEX "node_network_interfaces_node_id_interface_name_key" ON "node_network_interfaces"("node_id", "interface_name");

-- CreateIndex
CREATE INDEX "storage_pools_pool_type_idx" ON "storage_pools"("pool_type");

-- CreateIndex
CREATE INDEX "storage_pools_performance_tier_idx" ON "storage_pools"("performance_tier");

-- CreateIndex
CREATE UNIQUE INDEX "storage_pools_tenant_id_pool_name_key" ON "storage_pools"("tenant_id", "pool_name");

-- CreateIndex
CREATE INDEX "storage_volumes_pool_id_idx" ON "storage_volumes"("pool_id");

-- CreateIndex
CREATE INDEX "storage_volumes_session_id_idx" ON "storage_volumes"("session_id");

-- CreateIndex
CREATE INDEX "storage_volumes_volume_name_idx" ON "storage_volumes"("volume_name");

-- CreateIndex
CREATE INDEX "storage_volumes_tenant_id_idx" ON "storage_volumes"("tenant_id");

-- CreateIndex
CREATE INDEX "sessions_user_id_idx" ON "sessions"("user_id");

-- CreateIndex
CREATE INDEX "sessions_status_idx" ON "sessions"("status");

-- CreateIndex
CREATE INDEX "sessions_session_type_idx" ON "sessions"("session_type");

-- CreateIndex
CREATE INDEX "sessions_scheduled_node_id_idx" ON "sessions"("scheduled_node_id");

-- CreateIndex
CREATE INDEX "sessions_created_at_idx" ON "sessions"("created_at");

-- CreateIndex
CREATE INDEX "sessions_tenant_id_status_idx" ON "sessions"("tenant_id", "status");

-- CreateIndex
CREATE INDEX "session_allocations_session_id_idx" ON "session_allocations"("session_id");

-- CreateIndex
CREATE INDEX "session_allocations_node_id_idx" ON "session_allocations"("node_id");

-- CreateIndex
CREATE INDEX "session_allocations_status_idx" ON "session_allocations"("status");

-- CreateIndex
CREATE INDEX "deployments_model_id_idx" ON "deployments"("model_id");

-- CreateIndex
CREATE INDEX "deployments_status_idx" ON "deployments"("status");

-- CreateIndex
CREATE UNIQUE INDEX "deployments_tenant_id_name_key" ON "deployments"("tenant_id", "name");

-- CreateIndex
CREATE UNIQUE INDEX "deployment_nodes_node_id_key" ON "deployment_nodes"("node_id");

-- CreateIndex
CREATE INDEX "deployment_nodes_deployment_id_idx" ON "deployment_nodes"("deployment_id");

-- CreateIndex
CREATE INDEX "node_metrics_node_id_time_idx" ON "node_metrics"("node_id", "time" DESC);

-- CreateIndex
CREATE INDEX "node_metrics_metric_type_idx" ON "node_metrics"("metric_type");

-- CreateIndex
CREATE INDEX "node_metrics_tenant_id_time_idx" ON "node_metrics"("tenant_id", "time" DESC);

-- CreateIndex
CREATE INDEX "session_metrics_session_id_time_idx" ON "session_metrics"("session_id", "time" DESC);

-- CreateIndex
CREATE INDEX "session_metrics_metric_type_idx" ON "session_metrics"("metric_type");

-- CreateIndex
CREATE INDEX "session_metrics_tenant_id_time_idx" ON "session_metrics"("tenant_id", "time" DESC);

-- CreateIndex
CREATE INDEX "system_metrics_node_id_timestamp_idx" ON "system_metrics"("node_id", "timestamp" DESC);

-- CreateIndex
CREATE INDEX "system_metrics_tenant_id_timestamp_idx" ON "system_metrics"("tenant_id", "timestamp" DESC);

-- CreateIndex
CREATE INDEX "llm_metrics_timestamp_idx" ON "llm_metrics"("timestamp");

-- CreateIndex
CREATE INDEX "llm_metrics_model_id_timestamp_idx" ON "llm_metrics"("model_id", "timestamp" DESC);

-- CreateIndex
CREATE INDEX "llm_metrics_chat_session_id_idx" ON "llm_metrics"("chat_session_id");

-- CreateIndex
CREATE INDEX "llm_metrics_tenant_id_timestamp_idx" ON "llm_metrics"("tenant_id", "timestamp" DESC);

-- CreateIndex
CREATE INDEX "system_events_event_type_idx" ON "system_events"("event_type");

-- CreateIndex
CREATE INDEX "system_events_severity_idx" ON "system_events"("severity");

-- CreateIndex
CREATE INDEX "system_events_timestamp_idx" ON "system_events"("timestamp" DESC);

-- CreateIndex
CREATE INDEX "system_events_tenant_id_timestamp_idx" ON "system_events"("tenant_id", "timestamp" DESC);

-- CreateIndex
CREATE INDEX "system_events_source_node_id_idx" ON "system_events"("source_node_id");

-- CreateIndex
CREATE UNIQUE INDEX "daily_metrics_summary_tenant_id_date_key" ON "daily_metrics_summary"("tenant_id", "date");

-- CreateIndex
CREATE UNIQUE INDEX "models_model_id_key" ON "models"("model_id");

-- CreateIndex
CREATE INDEX "models_format_idx" ON "models"("format");

-- CreateIndex
CREATE INDEX "models_parameter_size_idx" ON "models"("parameter_size");

-- CreateIndex
CREATE INDEX "models_is_active_idx" ON "models"("is_active");

-- CreateIndex
CREATE INDEX "chat_sessions_tenant_id_last_active_idx" ON "chat_sessions"("tenant_id", "last_active" DESC);

-- CreateIndex
CREATE INDEX "chat_sessions_user_id_idx" ON "chat_sessions"("user_id");

-- CreateIndex
CREATE INDEX "conversations_chat_session_id_updated_at_idx" ON "conversations"("chat_session_id", "updated_at" DESC);

-- CreateIndex
CREATE INDEX "messages_conversation_id_created_at_idx" ON "messages"("conversation_id", "created_at");

-- CreateIndex
CREATE INDEX "messages_created_at_idx" ON "messages"("created_at");

-- CreateIndex
CREATE INDEX "messages_request_id_idx" ON "messages"("request_id");

-- CreateIndex
CREATE INDEX "documents_tenant_id_created_at_idx" ON "documents"("tenant_id", "created_at" DESC);

-- CreateIndex
CREATE INDEX "document_chunks_tenant_id_idx" ON "document_chunks"("tenant_id");

-- CreateIndex
CREATE UNIQUE INDEX "document_chunks_document_id_chunk_index_key" ON "document_chunks"("document_id", "chunk_index");

-- CreateIndex
CREATE INDEX "response_cache_expires_at_idx" ON "response_cache"("expires_at");

-- CreateIndex
CREATE UNIQUE INDEX "response_cache_tenant_id_cache_key_key" ON "response_cache"("tenant_id", "cache_key");

-- CreateIndex
CREATE INDEX "tool_sessions_tenant_id_started_at_idx" ON "tool_sessions"("tenant_id", "started_at" DESC);

-- CreateIndex
CREATE INDEX "tool_sessions_tool_id_idx" ON "tool_sessions"("tool_id");

-- CreateIndex
CREATE INDEX "idx_session_created" ON "tool_operations"("session_id", "created_at");

-- CreateIndex
CREATE INDEX "idx_tool_operation" ON "tool_operations"("tool_name", "operation_mode");

-- CreateIndex
CREATE INDEX "tool_operations_session_id_idx" ON "tool_operations"("session_id");

-- CreateIndex
CREATE INDEX "tool_operations_tool_name_idx" ON "tool_operations"("tool_name");

-- CreateIndex
CREATE INDEX "tool_operations_operation_mode_idx" ON "tool_operations"("operation_mode");

-- CreateIndex
CREATE INDEX "tool_operations_created_at_idx" ON "tool_operations"("created_at");

-- CreateIndex
CREATE INDEX "usage_records_tenant_id_recorded_at_idx" ON "usage_records"("tenant_id", "recorded_at");

-- CreateIndex
CREATE INDEX "usage_records_api_key_id_recorded_at_idx" ON "usage_records"("api_key_id", "recorded_at");

-- CreateIndex
CREATE INDEX "usage_records_model_id_recorded_at_idx" ON "usage_records"("model_id", "recorded_at");

-- CreateIndex
CREATE UNIQUE INDEX "usage_records_tenant_id_request_id_key" ON "usage_records"("tenant_id", "request_id");

-- CreateIndex
CREATE UNIQUE INDEX "billing_events_idempotency_key_key" ON "billing_events"("idempotency_key");

-- CreateIndex
CREATE INDEX "billing_events_status_created_at_idx" ON "billing_events"("status", "created_at");

-- CreateIndex
CREATE UNIQUE INDEX "billing_events_tenant_id_event_type_period_start_key" ON "billing_events"("tenant_id", "event_type", "period_start");

-- CreateIndex
CREATE UNIQUE INDEX "notification_config_tenant_id_name_key" ON "notification_config"("tenant_id", "name");

-- CreateIndex
CREATE INDEX "notification_deliveries_tenant_id_created_at_idx" ON "notification_deliveries"("tenant_id", "created_at" DESC);

-- CreateIndex
CREATE INDEX "notification_deliveries_status_next_attempt_at_idx" ON "notification_deliveries"("status", "next_attempt_at");

-- CreateIndex
CREATE UNIQUE INDEX "notification_deliveries_config_id_event_id_key" ON "notification_deliveries"("config_id", "event_id");

-- AddForeignKey
ALTER TABLE "environments" ADD CONSTRAINT "environments_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("tenant_id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "environments" ADD CONSTRAINT "environments_region_id_fkey" FOREIGN KEY ("region_id") REFERENCES "regions"("region_id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "users" ADD CONSTRAINT "users_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("tenant_id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "user_sessions" ADD CONSTRAINT "user_sessions_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("tenant_id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "user_sessions" ADD CONSTRAINT "user_sessions_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("user_id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "api_keys" ADD CONSTRAINT "api_keys_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("tenant_id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "api_keys" ADD CONSTRAINT "api_keys_environment_id_fkey" FOREIGN KEY ("environment_id") REFERENCES "environments"("environment_id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "api_keys" ADD CONSTRAINT "api_keys_created_by_fkey" FOREIGN KEY ("created_by") REFERENCES "users"("user_id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "security"."credentials" ADD CONSTRAINT "credentials_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("tenant_id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "security"."credentials" ADD CONSTRAINT "credentials_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("user_id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "security"."password_history" ADD CONSTRAINT "password_history_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("tenant_id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "security"."password_history" ADD CONSTRAINT "password_history_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("user_id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "security"."login_attempts" ADD CONSTRAINT "login_attempts_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("tenant_id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "security"."login_attempts" ADD CONSTRAINT "login_attempts_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("user_id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "security"."security_events" ADD CONSTRAINT "security_events_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("tenant_id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "security"."security_events" ADD CONSTRAINT "security_events_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("user_id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "nodes" ADD CONSTRAINT "nodes_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("tenant_id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "nodes" ADD CONSTRAINT "nodes_region_id_fkey" FOREIGN KEY ("region_id") REFERENCES "regions"("region_id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "nodes" ADD CONSTRAINT "nodes_deployment_id_fkey" FOREIGN KEY ("deployment_id") REFERENCES "deployments"("deployment_id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "node_resources" ADD CONSTRAINT "node_resources_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("tenant_id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "node_resources" ADD CONSTRAINT "node_resources_node_id_fkey" FOREIGN KEY ("node_id") REFERENCES "nodes"("node_id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "network_topologies" ADD CONSTRAINT "network_topologies_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("tenant_id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "node_network_interfaces" ADD CONSTRAINT "node_network_interfaces_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("tenant_id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "node_network_interfaces" ADD CONSTRAINT "node_network_interfaces_node_id_fkey" FOREIGN KEY ("node_id") REFERENCES "nodes"("node_id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "node_network_interfaces" ADD CONSTRAINT "node_network_interfaces_topology_id_fkey" FOREIGN KEY ("topology_id") REFERENCES "network_topologies"("topology_id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "storage_pools" ADD CONSTRAINT "storage_pools_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("tenant_id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "storage_volumes" ADD CONSTRAINT "storage_volumes_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("tenant_id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "storage_volumes" ADD CONSTRAINT "storage_volumes_pool_id_fkey" FOREIGN KEY ("pool_id") REFERENCES "storage_pools"("pool_id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "storage_volumes" ADD CONSTRAINT "storage_volumes_session_id_fkey" FOREIGN KEY ("session_id") REFERENCES "sessions"("session_id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "sessions" ADD CONSTRAINT "sessions_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("tenant_id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "sessions" ADD CONSTRAINT "sessions_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("user_id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "sessions" ADD CONSTRAINT "sessions_scheduled_node_id_fkey" FOREIGN KEY ("scheduled_node_id") REFERENCES "nodes"("node_id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "session_allocations" ADD CONSTRAINT "session_allocations_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("tenant_id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "session_allocations" ADD CONSTRAINT "session_allocations_session_id_fkey" FOREIGN KEY ("session_id") REFERENCES "sessions"("session_id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "session_allocations" ADD CONSTRAINT "session_allocations_node_id_fkey" FOREIGN KEY ("node_id") REFERENCES "nodes"("node_id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "deployments" ADD CONSTRAINT "deployments_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("tenant_id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "deployments" ADD CONSTRAINT "deployments_environment_id_fkey" FOREIGN KEY ("environment_id") REFERENCES "environments"("environment_id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "deployments" ADD CONSTRAINT "deployments_model_id_fkey" FOREIGN KEY ("model_id") REFERENCES "models"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "deployment_nodes" ADD CONSTRAINT "deployment_nodes_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("tenant_id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "deployment_nodes" ADD CONSTRAINT "deployment_nodes_deployment_id_fkey" FOREIGN KEY ("deployment_id") REFERENCES "deployments"("deployment_id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "deployment_nodes" ADD CONSTRAINT "deployment_nodes_node_id_fkey" FOREIGN KEY ("node_id") REFERENCES "nodes"("node_id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "node_metrics" ADD CONSTRAINT "node_metrics_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("tenant_id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "node_metrics" ADD CONSTRAINT "node_metrics_node_id_fkey" FOREIGN KEY ("node_id") REFERENCES "nodes"("node_id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "session_metrics" ADD CONSTRAINT "session_metrics_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("tenant_id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "session_metrics" ADD CONSTRAINT "session_metrics_session_id_fkey" FOREIGN KEY ("session_id") REFERENCES "sessions"("session_id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "system_metrics" ADD CONSTRAINT "system_metrics_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("tenant_id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "system_metrics" ADD CONSTRAINT "system_metrics_node_id_fkey" FOREIGN KEY ("node_id") REFERENCES "nodes"("node_id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "llm_metrics" ADD CONSTRAINT "llm_metrics_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("tenant_id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "system_events" ADD CONSTRAINT "system_events_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("tenant_id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "system_events" ADD CONSTRAINT "system_events_source_node_id_fkey" FOREIGN KEY ("source_node_id") REFERENCES "nodes"("node_id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "system_events" ADD CONSTRAINT "system_events_session_id_fkey" FOREIGN KEY ("session_id") REFERENCES "sessions"("session_id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "system_events" ADD CONSTRAINT "system_events_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("user_id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "system_events" ADD CONSTRAINT "system_events_resolved_by_fkey" FOREIGN KEY ("resolved_by") REFERENCES "users"("user_id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "daily_metrics_summary" ADD CONSTRAINT "daily_metrics_summary_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("tenant_id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "chat_sessions" ADD CONSTRAINT "chat_sessions_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("tenant_id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "chat_sessions" ADD CONSTRAINT "chat_sessions_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("user_id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "conversations" ADD CONSTRAINT "conversations_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("tenant_id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "conversations" ADD CONSTRAINT "conversations_chat_session_id_fkey" FOREIGN KEY ("chat_session_id") REFERENCES "chat_sessions"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "messages" ADD CONSTRAINT "messages_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("tenant_id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "messages" ADD CONSTRAINT "messages_conversation_id_fkey" FOREIGN KEY ("conversation_id") REFERENCES "conversations"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "messages" ADD CONSTRAINT "messages_model_id_fkey" FOREIGN KEY ("model_id") REFERENCES "models"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "documents" ADD CONSTRAINT "documents_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("tenant_id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "document_chunks" ADD CONSTRAINT "document_chunks_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("tenant_id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "document_chunks" ADD CONSTRAINT "document_chunks_document_id_fkey" FOREIGN KEY ("document_id") REFERENCES "documents"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "response_cache" ADD CONSTRAINT "response_cache_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("tenant_id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "tool_sessions" ADD CONSTRAINT "tool_sessions_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("tenant_id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "tool_operations" ADD CONSTRAINT "tool_operations_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("tenant_id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "tool_operations" ADD CONSTRAINT "tool_operations_session_id_fkey" FOREIGN KEY ("session_id") REFERENCES "tool_sessions"("session_id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "usage_records" ADD CONSTRAINT "usage_records_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("tenant_id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "usage_records" ADD CONSTRAINT "usage_records_environment_id_fkey" FOREIGN KEY ("environment_id") REFERENCES "environments"("environment_id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "usage_records" ADD CONSTRAINT "usage_records_api_key_id_fkey" FOREIGN KEY ("api_key_id") REFERENCES "api_keys"("api_key_id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "usage_records" ADD CONSTRAINT "usage_records_model_id_fkey" FOREIGN KEY ("model_id") REFERENCES "models"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "usage_records" ADD CONSTRAINT "usage_records_node_id_fkey" FOREIGN KEY ("node_id") REFERENCES "nodes"("node_id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "billing_events" ADD CONSTRAINT "billing_events_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("tenant_id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "notification_config" ADD CONSTRAINT "notification_config_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("tenant_id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "notification_deliveries" ADD CONSTRAINT "notification_deliveries_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("tenant_id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "notification_deliveries" ADD CONSTRAINT "notification_deliveries_config_id_fkey" FOREIGN KEY ("config_id") REFERENCES "notification_config"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- Rules Prisma cannot express: allowed values and invariants (CHECK constraints)
ALTER TABLE "tenants" ADD CONSTRAINT "tenants_status_check" CHECK (status IN ('active', 'suspended', 'deleted'));
ALTER TABLE "environments" ADD CONSTRAINT "environments_name_check" CHECK (name IN ('dev', 'staging', 'prod'));
ALTER TABLE "users" ADD CONSTRAINT "users_role_check" CHECK (role IN ('admin', 'operator', 'user', 'readonly'));
ALTER TABLE "users" ADD CONSTRAINT "users_status_check" CHECK (status IN ('active', 'inactive', 'suspended'));
ALTER TABLE "api_keys" ADD CONSTRAINT "api_keys_status_check" CHECK (status IN ('active', 'revoked'));
ALTER TABLE "api_keys" ADD CONSTRAINT "api_keys_rate_limit_check" CHECK (rate_limit_per_minute > 0);
ALTER TABLE "regions" ADD CONSTRAINT "regions_status_check" CHECK (status IN ('active', 'degraded', 'offline'));
ALTER TABLE "nodes" ADD CONSTRAINT "nodes_node_type_check" CHECK (node_type IN ('control', 'compute', 'storage', 'gpu', 'hybrid'));
ALTER TABLE "nodes" ADD CONSTRAINT "nodes_status_check" CHECK (status IN ('active', 'inactive', 'draining', 'failed', 'maintenance'));
ALTER TABLE "nodes" ADD CONSTRAINT "nodes_capacity_check" CHECK (total_cpu_cores > 0 AND total_memory_gb > 0 AND total_storage_gb >= 0 AND gpu_count >= 0 AND gpu_memory_gb >= 0);
ALTER TABLE "node_resources" ADD CONSTRAINT "node_resources_resource_type_check" CHECK (resource_type IN ('cpu', 'memory', 'storage', 'gpu', 'network'));
ALTER TABLE "node_resources" ADD CONSTRAINT "node_resources_capacity_check" CHECK (allocated_capacity >= 0 AND allocated_capacity <= total_capacity AND reservation_capacity >= 0);
ALTER TABLE "network_topologies" ADD CONSTRAINT "network_topologies_network_type_check" CHECK (network_type IN ('ethernet', 'infiniband', 'roce', 'omni_path'));
ALTER TABLE "network_topologies" ADD CONSTRAINT "network_topologies_vlan_id_check" CHECK (vlan_id IS NULL OR vlan_id BETWEEN 1 AND 4094);
ALTER TABLE "node_network_interfaces" ADD CONSTRAINT "node_network_interfaces_interface_type_check" CHECK (interface_type IN ('management', 'data', 'storage', 'cluster'));
ALTER TABLE "node_network_interfaces" ADD CONSTRAINT "node_network_interfaces_status_check" CHECK (status IN ('up', 'down', 'unknown'));
ALTER TABLE "storage_pools" ADD CONSTRAINT "storage_pools_pool_type_check" CHECK (pool_type IN ('local', 'distributed', 'replicated', 'erasure_coded'));
ALTER TABLE "storage_pools" ADD CONSTRAINT "storage_pools_performance_tier_check" CHECK (performance_tier IN ('nvme', 'ssd', 'standard', 'cold'));
ALTER TABLE "storage_pools" ADD CONSTRAINT "storage_pools_capacity_check" CHECK (used_capacity_gb >= 0 AND used_capacity_gb <= total_capacity_gb);
ALTER TABLE "storage_volumes" ADD CONSTRAINT "storage_volumes_access_mode_check" CHECK (access_mode IN ('ReadWriteOnce', 'ReadOnlyMany', 'ReadWriteMany'));
ALTER TABLE "storage_volumes" ADD CONSTRAINT "storage_volumes_size_check" CHECK (size_gb > 0);
ALTER TABLE "sessions" ADD CONSTRAINT "sessions_session_type_check" CHECK (session_type IN ('interactive', 'batch', 'streaming', 'ai_training', 'rendering'));
ALTER TABLE "sessions" ADD CONSTRAINT "sessions_status_check" CHECK (status IN ('pending', 'scheduled', 'running', 'paused', 'completed', 'failed', 'cancelled'));
ALTER TABLE "sessions" ADD CONSTRAINT "sessions_priority_check" CHECK (priority BETWEEN 1 AND 10);
ALTER TABLE "sessions" ADD CONSTRAINT "sessions_requests_check" CHECK (cpu_request > 0 AND memory_request_gb > 0 AND gpu_request >= 0 AND storage_request_gb >= 0);
ALTER TABLE "session_allocations" ADD CONSTRAINT "session_allocations_status_check" CHECK (status IN ('active', 'released', 'failed'));
ALTER TABLE "deployments" ADD CONSTRAINT "deployments_strategy_check" CHECK (strategy IN ('spread', 'packed'));
ALTER TABLE "deployments" ADD CONSTRAINT "deployments_status_check" CHECK (status IN ('pending', 'active', 'scaling', 'degraded', 'failed', 'deleting', 'deleted'));
ALTER TABLE "deployments" ADD CONSTRAINT "deployments_replicas_check" CHECK (min_replicas >= 0 AND max_replicas >= min_replicas AND desired_replicas BETWEEN min_replicas AND max_replicas AND current_replicas >= 0);
ALTER TABLE "deployment_nodes" ADD CONSTRAINT "deployment_nodes_status_check" CHECK (status IN ('provisioning', 'ready', 'draining', 'failed'));
ALTER TABLE "system_events" ADD CONSTRAINT "system_events_severity_check" CHECK (severity IN ('critical', 'error', 'warning', 'info', 'debug'));
ALTER TABLE "chat_sessions" ADD CONSTRAINT "chat_sessions_status_check" CHECK (status IN ('active', 'closed'));
ALTER TABLE "messages" ADD CONSTRAINT "messages_role_check" CHECK (role IN ('user', 'assistant', 'system'));
ALTER TABLE "usage_records" ADD CONSTRAINT "usage_records_tokens_check" CHECK (prompt_tokens >= 0 AND completion_tokens >= 0 AND total_tokens >= 0 AND cost_usd >= 0);
ALTER TABLE "billing_events" ADD CONSTRAINT "billing_events_status_check" CHECK (status IN ('pending', 'sent', 'failed'));
ALTER TABLE "notification_config" ADD CONSTRAINT "notification_config_channel_type_check" CHECK (channel_type IN ('webhook', 'slack', 'discord', 'email'));
ALTER TABLE "notification_deliveries" ADD CONSTRAINT "notification_deliveries_status_check" CHECK (status IN ('pending', 'in_progress', 'delivered', 'failed', 'dead'));

-- Partial indexes for the hot queues: pending sessions by priority then age, active allocations per node,
-- deliveries due for an attempt.
CREATE INDEX "sessions_pending_queue_idx" ON "sessions" ("priority" DESC, "created_at") WHERE "status" = 'pending';
CREATE INDEX "session_allocations_active_node_idx" ON "session_allocations" ("node_id", "resource_type") WHERE "status" = 'active';
CREATE INDEX "notification_deliveries_due_idx" ON "notification_deliveries" ("next_attempt_at") WHERE "status" IN ('pending', 'failed');
