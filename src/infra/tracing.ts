/**
 * OpenTelemetry traces: a span per GraphQL operation and resolver (envelop's plugin), Prisma's query
 * spans, incoming HTTP requests and Redis commands, exported over OTLP/HTTP. Loaded only when tracing
 * is on, so a server without it pays nothing.
 */
import { register } from 'node:module';
import { useOpenTelemetry } from '@envelop/opentelemetry';
import { DiagLogLevel, SpanKind, TraceFlags, context, diag, propagation, trace, type Attributes, type Context, type Link } from '@opentelemetry/api';
import { OTLPTraceExporter as OtlpJsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as OtlpProtobufExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { IORedisInstrumentation } from '@opentelemetry/instrumentation-ioredis';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  NodeTracerProvider,
  ParentBasedSampler,
  SamplingDecision,
  SimpleSpanProcessor,
  TraceIdRatioBasedSampler,
  type ReadableSpan,
  type Sampler,
  type SamplingResult,
  type Span,
  type SpanExporter,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-node';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';
import { PrismaInstrumentation } from '@prisma/instrumentation';
import { createAddHookMessageChannel } from 'import-in-the-middle';
import { redactUrl, type TraceSampler, type TracingSettings } from '../config.js';
import type { Logger } from './logger.js';

export interface Tracing {
  /** The envelop plugin that opens the operation and resolver spans; goes last in the plugin list. */
  graphqlPlugin: ReturnType<typeof useOpenTelemetry>;
  /** Sends the spans buffered so far. */
  flush(): Promise<void>;
  /** Sends the spans still buffered, then stops tracing. */
  shutdown(): Promise<void>;
}

/** Probes and scrapes every few seconds would bury the requests worth reading. */
const UNTRACED_PATHS = new Set(['/healthz', '/readyz', '/metrics']);

/** Resolver arguments (a login's password, a new API key's secret) must not leave the process. */
const RESOLVER_ARGUMENTS = 'graphql.resolver.args';
const RESOLVER_TYPE = 'graphql.resolver.typeName';

const ROOT_TYPES = new Set(['Query', 'Mutation', 'Subscription']);

function samplerFor(kind: TraceSampler, ratio: number): Sampler {
  const root = kind.endsWith('always_on') ? new AlwaysOnSampler() : kind.endsWith('always_off') ? new AlwaysOffSampler() : new TraceIdRatioBasedSampler(ratio);
  return kind.startsWith('parentbased_') ? new ParentBasedSampler({ root }) : root;
}

/**
 * The configured sampler, except that a trace starts only at a request or an operation (background
 * jobs' statements would each be a trace of one span), and with `root` resolver spans only for the
 * operation's root fields (a span per field of every listed row would dwarf the work it shows).
 */
class ServerSampler implements Sampler {
  constructor(
    private readonly configured: Sampler,
    private readonly resolverSpans: TracingSettings['resolverSpans'],
  ) {}
  shouldSample(parent: Context, traceId: string, name: string, kind: SpanKind, attributes: Attributes, links: Link[]): SamplingResult {
    const parentSpan = trace.getSpanContext(parent);
    if (name.startsWith('prisma:') && !(parentSpan && parentSpan.traceFlags & TraceFlags.SAMPLED)) return { decision: SamplingDecision.NOT_RECORD };
    const typeName = attributes[RESOLVER_TYPE];
    if (this.resolverSpans === 'root' && typeof typeName === 'string' && !ROOT_TYPES.has(typeName)) return { decision: SamplingDecision.NOT_RECORD };
    return this.configured.shouldSample(parent, traceId, name, kind, attributes, links);
  }
  toString(): string {
    return `ServerSampler{${this.configured.toString()}}`;
  }
}

/** Drops resolver arguments from every span before any exporter sees it. */
class WithoutResolverArguments implements SpanProcessor {
  constructor(private readonly next: SpanProcessor) {}
  onStart(span: Span, parent: Context): void {
    // The plugin sets the attribute when it starts the span, and the SDK offers no way to unset one.
    delete (span.attributes as Record<string, unknown>)[RESOLVER_ARGUMENTS];
    this.next.onStart(span, parent);
  }
  onEnd(span: ReadableSpan): void {
    this.next.onEnd(span);
  }
  forceFlush(): Promise<void> {
    return this.next.forceFlush();
  }
  shutdown(): Promise<void> {
    return this.next.shutdown();
  }
}

let moduleHookRegistered = false;

/**
 * Instruments modules the process loads from now on (an ES module is patched only when the loader
 * hook sees it load), so main starts tracing before it imports the server.
 */
async function hookModuleLoading(instrument: () => void): Promise<void> {
  if (moduleHookRegistered) return instrument();
  moduleHookRegistered = true;
  const { registerOptions, waitForAllMessagesAcknowledged } = createAddHookMessageChannel();
  register('import-in-the-middle/hook.mjs', import.meta.url, registerOptions);
  instrument();
  await waitForAllMessagesAcknowledged();
}

/**
 * Starts tracing process-wide. `exporter` replaces the OTLP exporter (tests read spans from memory);
 * its spans are handed over as each ends rather than in batches.
 */
export async function startTracing(settings: TracingSettings, log: Logger, options: { exporter?: SpanExporter } = {}): Promise<Tracing> {
  diag.setLogger(
    {
      error: (message) => log.warn(`tracing: ${message}`),
      warn: (message) => log.warn(`tracing: ${message}`),
      info: () => undefined,
      debug: () => undefined,
      verbose: () => undefined,
    },
    DiagLogLevel.WARN,
  );
  const exporterOptions = { url: settings.endpoint, headers: settings.headers, timeoutMillis: settings.timeoutMs };
  const processor = options.exporter
    ? new SimpleSpanProcessor(options.exporter)
    : new BatchSpanProcessor(settings.protocol === 'http/json' ? new OtlpJsonExporter(exporterOptions) : new OtlpProtobufExporter(exporterOptions));
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ ...settings.resourceAttributes, [ATTR_SERVICE_NAME]: settings.serviceName }),
    sampler: new ServerSampler(samplerFor(settings.sampler, settings.samplerRatio), settings.resolverSpans),
    spanProcessors: [new WithoutResolverArguments(processor)],
  });
  // The async-hooks context manager and W3C trace-context propagation, so a caller's traceparent is continued.
  provider.register();

  let unregister: () => void = () => undefined;
  await hookModuleLoading(() => {
    unregister = registerInstrumentations({
      tracerProvider: provider,
      instrumentations: [
        new HttpInstrumentation({ ignoreIncomingRequestHook: (request) => UNTRACED_PATHS.has(new URL(request.url ?? '/', 'http://local').pathname) }),
        new IORedisInstrumentation({ requireParentSpan: true }),
        new PrismaInstrumentation(),
      ],
    });
  });
  if (!options.exporter) log.info('tracing on', { endpoint: redactUrl(settings.endpoint), protocol: settings.protocol, service: settings.serviceName });

  return {
    // INTERNAL: the HTTP request's span is the server span; the operation runs within it.
    graphqlPlugin: useOpenTelemetry({ resolvers: settings.resolverSpans !== 'none', variables: false, result: false }, provider, SpanKind.INTERNAL, {}, settings.serviceName),
    flush: () => provider.forceFlush(),
    async shutdown() {
      unregister();
      await provider.shutdown();
      trace.disable();
      context.disable();
      propagation.disable();
      diag.disable();
    },
  };
}
