-- Invariants of the model catalog, the response cache and tool analytics that Prisma cannot express.
-- The API validates the same rules; these keep any other writer honest.

ALTER TABLE "models" ADD CONSTRAINT "models_sizes_check" CHECK (
  context_length > 0
  AND (file_size_mb IS NULL OR file_size_mb >= 0)
  AND (gpu_memory_required_gb IS NULL OR gpu_memory_required_gb >= 0)
);
ALTER TABLE "models" ADD CONSTRAINT "models_prices_check" CHECK (price_input_per_million >= 0 AND price_output_per_million >= 0);

ALTER TABLE "response_cache" ADD CONSTRAINT "response_cache_hits_check" CHECK (hit_count >= 0);
ALTER TABLE "response_cache" ADD CONSTRAINT "response_cache_expiry_check" CHECK (expires_at > created_at);

ALTER TABLE "tool_sessions" ADD CONSTRAINT "tool_sessions_tokens_saved_check" CHECK (tokens_saved >= 0);
ALTER TABLE "tool_operations" ADD CONSTRAINT "tool_operations_tokens_check" CHECK (
  tokens_original >= 0 AND tokens_actual >= 0 AND tokens_prevented >= 0 AND tokens_prevented <= tokens_original
);
