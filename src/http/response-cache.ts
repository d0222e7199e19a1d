import { useResponseCache } from '@graphql-yoga/plugin-response-cache';
import { getOperationAST, GraphQLError, Kind, type OperationDefinitionNode } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { Config } from '../config.js';
import type { Context } from '../context.js';
import type { Logger } from '../infra/logger.js';
import { ALL_TENANTS, type PubSub } from '../infra/pubsub.js';
import { createResponseCacheStore, EVERY_TENANT, type ResponseCacheStore } from '../infra/response-cache-store.js';
import { Topic, type TopicName } from '../infra/topics.js';
import type { Principal } from '../modules/identity/principal.js';
import type { RequestCallers } from './callers.js';
import type { RequestContexts } from './context.js';

/**
 * Fields whose values change without a mutation or event announcing it, so an answer that selects
 * one is never cached: views read live from Redis (keys expire), telemetry (ingested continuously)
 * and stamps written behind (heartbeat times, last use).
 */
export const NEVER_CACHED = [
  'Query.liveNodeHeartbeats',
  'Query.clusterState',
  'Query.sessionLiveState',
  'Query.latestNodeMetrics',
  'Query.metricSeries',
  'Query.systemMetrics',
  'Query.systemMetricSeries',
  'Query.clusterMetrics',
  'Query.llmMetrics',
  'Query.llmStats',
  'Message.generation',
  'ClusterNode.lastHeartbeat',
  'Model.lastUsed',
  'ApiKey.lastUsedAt',
];

/** Mutations that write only what NEVER_CACHED fields read (a status change a heartbeat causes is announced as an event). */
export const RETIRE_NOTHING = new Set(['recordHeartbeat', 'recordHeartbeats', 'ingestNodeMetrics', 'ingestSessionMetrics', 'recordSystemMetrics', 'recordLlmMetrics']);

/** Mutations that change what every tenant reads (the model catalog, regions) or another tenant's rows (platform administration). */
export const RETIRE_EVERY_TENANT = new Set(['createModel', 'updateModel', 'deleteModel', 'createRegion', 'updateRegion', 'deleteRegion', 'createTenant', 'updateTenant']);

/** Events that change only NEVER_CACHED fields, or (the cluster state) restate what other events announced. */
const EVENTS_RETIRING_NOTHING = new Set<TopicName>([Topic.NodeHeartbeatsRecorded, Topic.MetricsIngested, Topic.ClusterStateChanged]);

/** How yoga's response-cache plugin marks an answer it took from the cache. */
const SERVED_FROM_CACHE = Symbol.for('servedFromResponseCache');

/** Who sent a request, as authenticated before the cache is consulted, and what its entries are keyed by. */
interface Caller {
  principal: Principal | null;
  /** The generations and principal the request's entry is keyed by; null: the request is answered uncached. */
  key: string | null;
  operationName: string | null;
  started: number;
}

const principalKey = (p: Principal) => [p.tenantId, p.kind, p.userId ?? '', p.apiKeyId ?? '', p.role, p.environmentId ?? ''].join('|');

/** What a mutation retires: the caller's tenant, every tenant (no caller, or shared data), or nothing. */
function retiredBy(operation: OperationDefinitionNode, principal: Principal | null): string | null {
  const fields = operation.selectionSet.selections.map((selection) => (selection.kind === Kind.FIELD ? selection.name.value : null));
  if (!principal || fields.some((name) => name === null || RETIRE_EVERY_TENANT.has(name))) return EVERY_TENANT;
  if (fields.every((name) => RETIRE_NOTHING.has(name!))) return null;
  return principal.tenantId;
}

/** Retires a tenant's entries on each domain event this instance publishes; entries in Redis are shared, so other instances' events are theirs to retire. */
function retireOnEvents(pubsub: PubSub, store: ResponseCacheStore): () => void {
  const topics = (Object.values(Topic) as TopicName[]).filter((topic) => !EVENTS_RETIRING_NOTHING.has(topic));
  const stops = topics.map((topic) =>
    pubsub.listen(topic, ALL_TENANTS, (event) => void store.retire((event as { tenantId: string }).tenantId), { origin: 'local' }),
  );
  return () => stops.forEach((stop) => stop());
}

/**
 * The response cache for polling dashboards (RESPONSE_CACHE_TTL_MS; none when 0). A query repeated
 * by the same principal within the TTL is answered from the cache (Redis with REDIS_URL, else in
 * process) without running. The caller is authenticated before the cache is consulted, so revoked
 * credentials are refused as ever, and entries are keyed by principal (tenant, user or API key,
 * role, environment) and by generations that every mutation and domain event move on. Only answers
 * to queries without errors are stored.
 */
export function responseCachePlugins(config: Config, log: Logger, pubsub: PubSub, contexts: RequestContexts, requestCallers: RequestCallers): Plugin<Context>[] {
  const ttl = config.responseCache.ttlMs;
  if (ttl === 0) return [];
  const store = createResponseCacheStore(config.redisUrl, config.pubsub.namespace, log);
  const stopRetiring = retireOnEvents(pubsub, store);
  const callers = new WeakMap<Request, Caller>();

  const plugin: Plugin<Context> = {
    async onParams({ request, params }) {
      const started = performance.now();
      // The same authentication the context is built from: once per request.
      const principal = await requestCallers.principalOf(request);
      const generation = principal && params.query ? await store.generation(principal.tenantId) : null;
      callers.set(request, { principal, key: generation === null ? null : `${generation}|${principalKey(principal!)}`, operationName: params.operationName ?? null, started });
    },
    onPluginInit({ addPlugin }) {
      addPlugin(
        useResponseCache<Partial<Context>>({
          ttl,
          cache: store.entries,
          session: (request) => callers.get(request)?.key ?? null,
          enabled: (request, context) => {
            const caller = callers.get(request);
            if (!caller?.key) return false;
            // While executing, only the principal the key names may write under it.
            return !('principal' in context) || (context.principal != null && principalKey(context.principal) === principalKey(caller.principal!));
          },
          ttlPerSchemaCoordinate: Object.fromEntries(NEVER_CACHED.map((coordinate) => [coordinate, 0])),
          includeExtensionMetadata: true,
        }) as Plugin<Context>,
      );
    },
    onExecute({ args }) {
      const operation = getOperationAST(args.document, args.operationName);
      if (operation?.operation !== 'mutation') return;
      const scope = retiredBy(operation, (args.contextValue as Context | null)?.principal ?? null);
      // Retired before the answer leaves, so the caller's next read sees the change.
      if (scope !== null) return { onExecuteDone: () => store.retire(scope) };
    },
    async onExecutionResult({ request, result, setResult }) {
      if (!(result as unknown as Record<symbol, unknown>)[SERVED_FROM_CACHE]) return;
      const caller = callers.get(request)!;
      // A cached answer counts against the rate limit like any other; the context factory did not run.
      try {
        await contexts.admit(caller.principal);
      } catch (error) {
        if (!(error instanceof GraphQLError)) throw error;
        setResult({ errors: [error] });
        return;
      }
      const principal = caller.principal!;
      log.info('operation', {
        operationName: caller.operationName,
        operationType: 'query',
        durationMs: Math.round((performance.now() - caller.started) * 10) / 10,
        outcome: 'ok',
        responseCache: 'hit',
        principalId: principal.userId,
        apiKeyId: principal.apiKeyId,
        tenantId: principal.tenantId,
      });
    },
    async onDispose() {
      stopRetiring();
      await store.close();
    },
  };
  return [plugin];
}
