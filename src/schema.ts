import { lexicographicSortSchema, type GraphQLSchema } from 'graphql';
import { builder } from './builder.js';
import { answerCompiledRows } from './modules/shared/compiled-read.js';
import './modules/shared/scalars.js';
import './modules/shared/error-types.js';
import './modules/identity/identity-types.schema.js';
import './modules/identity/auth.schema.js';
import './modules/identity/admin.schema.js';
import './modules/cluster/node.schema.js';
import './modules/cluster/region.schema.js';
import './modules/cluster/network.schema.js';
import './modules/cluster/storage.schema.js';
import './modules/cluster/cluster-views.schema.js';
import './modules/cluster/node.subscriptions.js';
import './modules/cluster/node-registry.subscriptions.js';
import './modules/cluster/cluster-views.subscriptions.js';
import './modules/workloads/session.schema.js';
import './modules/workloads/session-stats.schema.js';
import './modules/workloads/deployment.schema.js';
import './modules/workloads/session.subscriptions.js';
import './modules/workloads/deployment.subscriptions.js';
import './modules/billing/usage.schema.js';
import './modules/billing/billing.schema.js';
import './modules/notifications/notification.schema.js';
import './modules/notifications/notification.subscriptions.js';
import './modules/telemetry/metrics.schema.js';
import './modules/telemetry/llm-metrics.schema.js';
import './modules/telemetry/event.schema.js';
import './modules/telemetry/summary.schema.js';
import './modules/telemetry/telemetry.subscriptions.js';
import './modules/ai/model.schema.js';
import './modules/ai/conversation.schema.js';
import './modules/ai/conversation.subscriptions.js';
import './modules/ai/document.schema.js';
import './modules/ai/response-cache.schema.js';
import './modules/tools/tool.schema.js';
import './modules/realtime/realtime.schema.js';
import './modules/lifecycle/archive.schema.js';

let schema: GraphQLSchema | undefined;

/** The one GraphQL schema, built once from every module's types and fields. */
export function buildSchema(): GraphQLSchema {
  if (!schema) {
    schema = lexicographicSortSchema(builder.toSchema());
    answerCompiledRows(schema);
  }
  return schema;
}
