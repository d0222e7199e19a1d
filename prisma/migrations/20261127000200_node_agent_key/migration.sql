-- The API key whose agent registered a node: the one credential that may open the secret
-- environment variables of the sessions placed on that node. A key deleted unbinds its nodes.
ALTER TABLE "nodes" ADD COLUMN "agent_api_key_id" UUID;
ALTER TABLE "nodes" ADD CONSTRAINT "nodes_agent_api_key_id_fkey" FOREIGN KEY ("agent_api_key_id") REFERENCES "api_keys"("api_key_id") ON DELETE SET NULL ON UPDATE CASCADE;
