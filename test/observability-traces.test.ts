import { createServer as createHttpServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { trace } from '@opentelemetry/api';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/infra/logger.js';
import { startTracing, type Tracing } from '../src/infra/tracing.js';
import { ClusterNodesDocument, LoginDocument } from './generated/graphql.js';
import { aRegisteredNode } from './helpers/builders.js';
import { STRONG_PASSWORD, aUserWithPassword } from './helpers/identity.js';
import { startTestServer, type SignedInUser, type TestServer } from './helpers/server.js';

const quiet = createLogger('silent');
const OPERATION_SPAN = 'query.ClusterNodes';

/** The spans from `span` up to the root of its trace, as far as they were recorded. */
function ancestry(span: ReadableSpan, all: ReadableSpan[]): string[] {
  const names: string[] = [];
  for (let at: ReadableSpan | undefined = span; at; ) {
    names.push(at.name);
    const parentId: string | undefined = at.parentSpanContext?.spanId;
    at = all.find((candidate) => candidate.spanContext().spanId === parentId);
  }
  return names;
}

describe('traces of a GraphQL request', () => {
  const exporter = new InMemorySpanExporter();
  let tracing: Tracing;
  let server: TestServer;
  let admin: SignedInUser;

  beforeAll(async () => {
    // Tracing as OTEL_EXPORTER_OTLP_ENDPOINT turns it on, its spans kept in memory instead of sent.
    tracing = await startTracing(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' }).observability.tracing, quiet, { exporter });
    server = await startTestServer('pglite', { jobsEnabled: false }, { tracing });
    admin = await server.signIn({ role: 'admin' });
    await aRegisteredNode(admin);
    await aRegisteredNode(admin);
  });
  afterAll(async () => {
    await server?.close();
    await tracing?.shutdown();
  });

  it('puts the operation, its resolvers and its SQL statements in one trace', async () => {
    exporter.reset();
    const result = await admin.request(ClusterNodesDocument, { first: 5 });
    expect(result.data?.nodes.edges).toHaveLength(2);
    await tracing.flush();

    const spans = exporter.getFinishedSpans();
    const operation = spans.find((span) => span.name === OPERATION_SPAN);
    expect(operation?.attributes).toMatchObject({ 'graphql.execute.operationName': 'ClusterNodes', 'graphql.execute.operationType': 'query' });
    const traceId = operation!.spanContext().traceId;
    expect(spans.filter((span) => span.spanContext().traceId !== traceId).map((span) => span.name)).toEqual([]);

    const resolver = spans.find((span) => span.name === 'Query.nodes');
    expect(resolver?.parentSpanContext?.spanId).toBe(operation!.spanContext().spanId);
    // Root fields only by default: a span per field of every row would dwarf the work.
    expect(spans.filter((span) => span.name === 'ClusterNode.hostname')).toEqual([]);

    const statements = spans.filter((span) => span.name === 'prisma:client:db_query');
    const nodeSelect = statements.find((span) => /SELECT[\s\S]*"nodes"/.test(String(span.attributes['db.query.text'])));
    expect(nodeSelect?.attributes['db.system.name']).toBe('postgresql');
    expect(ancestry(nodeSelect!, spans)).toEqual(expect.arrayContaining(['prisma:client:db_query', 'prisma:client:operation', OPERATION_SPAN]));
  });

  it('keeps passwords and tokens out of every span, signing in', async () => {
    const user = await aUserWithPassword(admin);
    exporter.reset();
    const result = await server.request(LoginDocument, { input: { login: user.username, password: STRONG_PASSWORD } });
    const payload = result.data?.login;
    if (payload?.__typename !== 'LoginSuccess') throw new Error(`login failed: ${JSON.stringify(result)}`);
    await tracing.flush();

    const spans = exporter.getFinishedSpans();
    expect(spans.map((span) => span.name)).toEqual(expect.arrayContaining(['mutation.Login', 'Mutation.login']));
    const recorded = JSON.stringify(spans.map((span) => ({ name: span.name, attributes: span.attributes, events: span.events })));
    for (const secret of [STRONG_PASSWORD, payload.tokens.accessToken, payload.tokens.refreshToken]) expect(recorded).not.toContain(secret);
  });
});

describe('tracing settings', () => {
  it('is off unless an OTLP endpoint or the OTLP exporter is named, and the SDK is not disabled', () => {
    const tracingOf = (env: Record<string, string>) => loadConfig(env).observability.tracing;
    expect(tracingOf({}).enabled).toBe(false);
    expect(tracingOf({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' })).toMatchObject({ enabled: true, endpoint: 'http://collector:4318/v1/traces' });
    expect(tracingOf({ OTEL_TRACES_EXPORTER: 'otlp' })).toMatchObject({ enabled: true, endpoint: 'http://localhost:4318/v1/traces' });
    expect(tracingOf({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_SDK_DISABLED: 'true' }).enabled).toBe(false);
    expect(tracingOf({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_TRACES_EXPORTER: 'none' }).enabled).toBe(false);
    expect(
      tracingOf({
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318',
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://traces.example.test/in',
        OTEL_EXPORTER_OTLP_HEADERS: 'x-team=ops, authorization=Bearer%20abc',
        OTEL_EXPORTER_OTLP_TRACES_HEADERS: 'x-team=gpu',
        OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json',
        OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
        OTEL_TRACES_SAMPLER_ARG: '0.25',
      }),
    ).toMatchObject({
      endpoint: 'https://traces.example.test/in',
      headers: { 'x-team': 'gpu', authorization: 'Bearer abc' },
      protocol: 'http/json',
      sampler: 'parentbased_traceidratio',
      samplerRatio: 0.25,
    });
  });

  it('names the variable when a value is wrong', () => {
    expect(() => loadConfig({ OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' })).toThrow(/^OTEL_EXPORTER_OTLP_PROTOCOL must be one of http\/protobuf, http\/json/);
    expect(() => loadConfig({ OTEL_TRACES_SAMPLER_ARG: '1.5' })).toThrow(/^OTEL_TRACES_SAMPLER_ARG must be a number from 0 to 1/);
    expect(() => loadConfig({ OTEL_EXPORTER_OTLP_HEADERS: 'no-equals-sign' })).toThrow(/^OTEL_EXPORTER_OTLP_HEADERS must be key=value pairs/);
    expect(() => loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' })).toThrow(/^OTEL_EXPORTER_OTLP_ENDPOINT /);
  });
});

describe('export over OTLP/HTTP', () => {
  let collector: Server;
  const received: { path: string; headers: Record<string, unknown>; body: string }[] = [];

  beforeAll(async () => {
    collector = createHttpServer((request, response) => {
      let body = '';
      request.on('data', (chunk: Buffer) => (body += chunk.toString()));
      request.on('end', () => {
        received.push({ path: request.url ?? '', headers: request.headers, body });
        response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
  });
  afterAll(() => new Promise<void>((resolve) => collector.close(() => resolve())));

  it('sends spans where the OTEL_* variables say, with their headers and service name', async () => {
    const { port } = collector.address() as AddressInfo;
    const settings = loadConfig({
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_EXPORTER_OTLP_HEADERS: 'x-collector-key=k-123',
      OTEL_SERVICE_NAME: 'omega-traces-test',
    }).observability.tracing;
    const tracing = await startTracing(settings, quiet);
    trace.getTracer('test').startSpan('a unit of work').end();
    await tracing.shutdown();

    expect(received).toHaveLength(1);
    expect(received[0]).toMatchObject({ path: '/v1/traces', headers: expect.objectContaining({ 'x-collector-key': 'k-123' }) });
    const body = JSON.parse(received[0]!.body) as {
      resourceSpans: { resource: { attributes: { key: string; value: { stringValue?: string } }[] }; scopeSpans: { spans: { name: string }[] }[] }[];
    };
    const [resourceSpans] = body.resourceSpans;
    expect(resourceSpans!.resource.attributes).toContainEqual({ key: 'service.name', value: { stringValue: 'omega-traces-test' } });
    expect(resourceSpans!.scopeSpans.flatMap((scope) => scope.spans.map((span) => span.name))).toEqual(['a unit of work']);
  });
});
