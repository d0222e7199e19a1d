import { timingSafeEqual } from 'node:crypto';
import { getOperationAST } from 'graphql';
import { usePrometheus } from '@graphql-yoga/plugin-prometheus';
import type { Plugin } from 'graphql-yoga';
import type { ObservabilitySettings } from '../config.js';
import type { ServerMetrics } from '../infra/metrics.js';

const METRICS_PATH = '/metrics';

function bearerMatches(header: string | null, token: string): boolean {
  const given = Buffer.from(header?.replace(/^Bearer\s+/i, '') ?? '');
  const expected = Buffer.from(token);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/**
 * Prometheus metrics: operations by name and type (count, duration histogram, errors) from the
 * yoga plugin, open subscriptions, and `GET /metrics` serving the server's registry, behind
 * METRICS_TOKEN when it is set.
 */
export function useServerMetrics(metrics: ServerMetrics, settings: ObservabilitySettings): Plugin {
  return {
    onPluginInit({ addPlugin }) {
      addPlugin(
        usePrometheus({
          registry: metrics.registry,
          endpoint: false,
          metrics: {
            graphql_envelop_request: true,
            graphql_envelop_request_duration: true,
            graphql_envelop_error_result: true,
            graphql_envelop_phase_execute: true,
            graphql_envelop_phase_subscribe: true,
            graphql_yoga_http_duration: true,
            // On by default in the plugin; each costs every request work (a walk of the document for
            // deprecated fields, a quantile summary, a timer per phase) for figures the ones above give.
            graphql_envelop_deprecated_field: false,
            graphql_envelop_request_time_summary: false,
            graphql_envelop_phase_parse: false,
            graphql_envelop_phase_validate: false,
            graphql_envelop_phase_context: false,
            graphql_envelop_schema_change: false,
          },
        }),
      );
    },
    async onRequest({ request, url, endResponse, fetchAPI }) {
      if (url.pathname !== METRICS_PATH) return;
      if (settings.metricsToken && !bearerMatches(request.headers.get('authorization'), settings.metricsToken)) {
        endResponse(new fetchAPI.Response('metrics need the configured bearer token\n', { status: 401, headers: { 'www-authenticate': 'Bearer' } }));
        return;
      }
      endResponse(new fetchAPI.Response(await metrics.registry.metrics(), { status: 200, headers: { 'content-type': metrics.registry.contentType } }));
    },
    onSubscribe({ args }) {
      const operationName = getOperationAST(args.document, args.operationName)?.name?.value ?? 'anonymous';
      return {
        onSubscribeResult: ({ result }) => {
          if (!(Symbol.asyncIterator in result)) return;
          metrics.activeSubscriptions.inc({ operationName });
          return { onEnd: () => metrics.activeSubscriptions.dec({ operationName }) };
        },
      };
    },
  };
}
