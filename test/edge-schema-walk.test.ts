import { randomUUID } from 'node:crypto';
import { encodeGlobalID } from '@pothos/plugin-relay';
import {
  getNamedType,
  getNullableType,
  isEnumType,
  isInputObjectType,
  isLeafType,
  isListType,
  isNonNullType,
  type GraphQLArgument,
  type GraphQLField,
  type GraphQLInputType,
} from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { buildSchema } from '../src/schema.js';
import { runPostgresTests } from './helpers/backing-services.js';
import { startTestServer, TEST_JWT_SECRET, type DatabaseKind, type SignedInUser, type TestServer } from './helpers/server.js';

const kinds: DatabaseKind[] = runPostgresTests ? ['pglite', 'postgres'] : ['pglite'];

/** A value of the type that passes the edge, for the arguments a call needs besides the one under test. */
function plausible(type: GraphQLInputType, depth = 0): unknown {
  const nullable = getNullableType(type);
  if (isListType(nullable)) return [plausible(nullable.ofType, depth + 1)];
  if (isEnumType(nullable)) return nullable.getValues()[0]!.name;
  if (isInputObjectType(nullable)) {
    const fields = Object.values(nullable.getFields()).filter((field) => isNonNullType(field.type) && field.defaultValue === undefined);
    return Object.fromEntries(fields.map((field) => [field.name, depth > 4 ? null : plausible(field.type, depth + 1)]));
  }
  switch (nullable.name) {
    case 'ID':
      return encodeGlobalID('ClusterNode', randomUUID());
    case 'Int':
      return 1;
    case 'Float':
      return 1;
    case 'Boolean':
      return true;
    case 'DateTime':
      return new Date().toISOString();
    case 'JSON':
      return {};
    default:
      return 'plausible';
  }
}

const deepJson = (levels: number): unknown => (levels === 0 ? 1 : { a: deepJson(levels - 1) });

/** Hostile values for a leaf type: each must come back as a typed error (or be accepted), never an internal one. */
function hostile(type: GraphQLInputType): unknown[] {
  const named = getNamedType(type);
  switch (named.name) {
    case 'ID':
      return [encodeGlobalID('ClusterNode', 'not-a-uuid'), encodeGlobalID('Tenant', randomUUID()), 'not-a-uuid', randomUUID(), 'a\u0000b'];
    case 'String':
      return ['a\u0000b', 'x'.repeat(1_000_000), 'a\uD800b', 'x'.repeat(4_000), randomUUID(), 'not-a-uuid', ''];
    case 'Int':
      return [2_147_483_647, -2_147_483_648, -1, 0];
    case 'Float':
      return [1e308, -1e308, -1, 0];
    case 'DateTime':
      return ['not-a-date', '9999-12-31T23:59:59Z', '0001-01-01T00:00:00Z'];
    case 'JSON':
      return [deepJson(40), { nul: 'a\u0000b' }, 'x'.repeat(200_000)];
    case 'Boolean':
      return [];
    default:
      return isEnumType(named) ? [] : ['a\u0000b'];
  }
}

interface Probe {
  field: string;
  path: string;
  variables: Record<string, unknown>;
}

/** One probe per hostile value of every leaf argument and input field (two levels into inputs), the rest plausible. */
function probesFor(field: GraphQLField<unknown, unknown>): Probe[] {
  const base = Object.fromEntries(field.args.map((arg) => [arg.name, isNonNullType(arg.type) ? plausible(arg.type) : undefined]));
  const probes: Probe[] = [];
  const walk = (arg: GraphQLArgument, type: GraphQLInputType, path: string[], depth: number) => {
    const nullable = getNullableType(type);
    const inner = isListType(nullable) ? getNullableType(nullable.ofType) : nullable;
    if (isInputObjectType(inner)) {
      if (depth >= 2) return;
      for (const child of Object.values(inner.getFields())) walk(arg, child.type, [...path, child.name], depth + 1);
      return;
    }
    if (!isLeafType(inner)) return;
    for (const value of hostile(inner)) {
      const variables = structuredClone(base);
      let target = (variables[arg.name] ??= plausible(arg.type)) as Record<string, unknown>;
      const leaf = isListType(nullable) ? [value] : value;
      if (path.length === 0) variables[arg.name] = leaf;
      else {
        if (Array.isArray(target)) target = target[0] as Record<string, unknown>;
        for (const step of path.slice(0, -1)) target = (target[step] ??= {}) as Record<string, unknown>;
        target[path.at(-1)!] = leaf;
      }
      probes.push({ field: field.name, path: [arg.name, ...path].join('.'), variables });
    }
  };
  for (const arg of field.args) walk(arg, arg.type, [], 0);
  return probes;
}

function operationFor(kind: 'query' | 'mutation', field: GraphQLField<unknown, unknown>): string {
  const definitions = field.args.map((arg) => `$${arg.name}: ${arg.type.toString()}`).join(', ');
  const passed = field.args.map((arg) => `${arg.name}: $${arg.name}`).join(', ');
  const selection = isLeafType(getNamedType(field.type)) ? '' : ' { __typename }';
  return `${kind}${definitions ? `(${definitions})` : ''} { ${field.name}${passed ? `(${passed})` : ''}${selection} }`;
}

interface Call {
  kind: 'query' | 'mutation';
  field: GraphQLField<unknown, unknown>;
  probe: Probe;
}

/** One operation asking each call's field under an alias of its own (`p0`, `p1`...), with variables of its own. */
function batchedOperation(calls: Call[]): { query: string; variables: Record<string, unknown> } {
  const definitions: string[] = [];
  const selections: string[] = [];
  const variables: Record<string, unknown> = {};
  calls.forEach(({ field, probe }, index) => {
    const alias = `p${index}`;
    for (const arg of field.args) {
      definitions.push(`$${alias}_${arg.name}: ${arg.type.toString()}`);
      variables[`${alias}_${arg.name}`] = probe.variables[arg.name];
    }
    const passed = field.args.map((arg) => `${arg.name}: $${alias}_${arg.name}`).join(', ');
    const selection = isLeafType(getNamedType(field.type)) ? '' : ' { __typename }';
    selections.push(`${alias}: ${field.name}${passed ? `(${passed})` : ''}${selection}`);
  });
  return { query: `${calls[0]!.kind}${definitions.length > 0 ? `(${definitions.join(', ')})` : ''} { ${selections.join(' ')} }`, variables };
}

/** Aliases per request: under MAX_QUERY_ALIASES, and few enough that their resolvers wait little for the pool. */
const BATCH_SIZE = 10;
/** Lexical tokens per request, under MAX_QUERY_TOKENS. */
const BATCH_TOKENS = 2_000;
const tokensOf = (query: string) => query.match(/[$!:(){}[\],=@]|[\w.]+/g)?.length ?? 0;
/** Variables this large or deep go alone: two in one request would pass MAX_REQUEST_BODY_BYTES or MAX_JSON_DEPTH. */
const aloneBySize = (probe: Probe) => JSON.stringify(probe.variables).length > 50_000;
const depthOf = (value: unknown): number => (value !== null && typeof value === 'object' ? 1 + Math.max(0, ...Object.values(value).map(depthOf)) : 0);
const goesAlone = (probe: Probe) => aloneBySize(probe) || depthOf(probe.variables) > 16;

/**
 * The requests that carry the calls: fields of one kind in fixed groups (so a group's document
 * repeats and stays compiled), each request asking at most one probe of each field of its group,
 * so that an error naming a field names one probe; large or deep probes alone.
 */
function batchesOf(calls: Call[]): Call[][] {
  const alone = calls.filter((call) => goesAlone(call.probe)).map((call) => [call]);
  const byField = new Map<GraphQLField<unknown, unknown>, Call[]>();
  for (const call of calls) if (!goesAlone(call.probe)) byField.set(call.field, [...(byField.get(call.field) ?? []), call]);
  const groups: Call[][][] = [];
  for (const kind of ['query', 'mutation'] as const) {
    const fields = [...byField.values()].filter((list) => list[0]!.kind === kind).sort((a, b) => b.length - a.length);
    for (let start = 0; start < fields.length; ) {
      let size = Math.min(BATCH_SIZE, fields.length - start);
      while (size > 1 && tokensOf(batchedOperation(fields.slice(start, start + size).map((list) => list[0]!)).query) > BATCH_TOKENS) size--;
      groups.push(fields.slice(start, start + size));
      start += size;
    }
  }
  const batches: Call[][] = [];
  for (const group of groups) {
    for (let round = 0; round < group[0]!.length; round++) {
      batches.push(group.flatMap((list) => (round < list.length ? [list[round]!] : [])));
    }
  }
  return [...batches, ...alone];
}

interface Answer {
  status: number;
  body: { data?: unknown; errors?: { message: string; path?: unknown[]; extensions?: { code?: string; variable?: string; issues?: { path: string }[] } }[] };
}

type AnswerError = NonNullable<Answer['body']['errors']>[number];

const isInternal = (error: AnswerError) => error.extensions?.code === 'INTERNAL_SERVER_ERROR' || error.message === 'Unexpected error.';

/** The calls of a batch that an error refusing the whole request names: by its variable, its field, or its field's argument. */
function namedBy(error: AnswerError, calls: Call[]): number[] {
  const named = new Set<number>();
  const variable = /^p(\d+)_/.exec(error.extensions?.variable ?? '');
  if (variable) named.add(Number(variable[1]));
  const fields = [...(error.extensions?.issues ?? []).map((issue) => issue.path.split('.')[0]!)];
  calls.forEach((call, index) => {
    if (fields.includes(call.field.name) || error.message.startsWith(`${call.field.name}(`)) named.add(index);
  });
  return [...named];
}

describe.each(kinds)('every query and mutation answers hostile arguments with typed errors on %s', (databaseKind) => {
  let server: TestServer;
  let admin: SignedInUser;

  beforeAll(async () => {
    // No rate limits: the walk sends thousands of requests a minute, and each must reach the schema.
    const defaults = loadConfig({});
    server = await startTestServer(databaseKind, {
      jobsEnabled: false,
      auth: { ...defaults.auth, jwtSecret: TEST_JWT_SECRET, userRateLimitPerMinute: 1_000_000 },
      edge: { ...defaults.edge, signInFailuresPerAddress: 1_000_000 },
    });
    admin = await server.signIn({ role: 'admin' });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('never answers INTERNAL_SERVER_ERROR or HTTP 500, and stays up', async () => {
    const schema = buildSchema();
    const calls: Call[] = [];
    for (const [kind, type] of [['query', schema.getQueryType()!], ['mutation', schema.getMutationType()!]] as const) {
      for (const field of Object.values(type.getFields())) {
        for (const probe of probesFor(field)) calls.push({ kind, field, probe });
      }
    }
    const internal: string[] = [];
    const codes = new Set<string>();
    let answered = 0;
    const post = async (query: string, variables: Record<string, unknown>): Promise<Answer> => {
      const response = await fetch(server.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json', ...admin.headers },
        body: JSON.stringify({ query, variables }),
      });
      const answer: Answer = { status: response.status, body: (await response.json()) as Answer['body'] };
      for (const error of answer.body.errors ?? []) codes.add(error.extensions?.code ?? error.message);
      return answer;
    };
    const sendAlone = async ({ kind, field, probe }: Call): Promise<boolean> => {
      const { status, body } = await post(operationFor(kind, field), probe.variables);
      answered++;
      const unexpected = body.errors?.find(isInternal);
      if (status < 500 && !unexpected) return true;
      internal.push(`${probe.field}(${probe.path}) = ${JSON.stringify(probe.variables).slice(0, 120)} -> ${status} ${unexpected?.message ?? ''}`);
      return false;
    };
    /** Sends several probes as one request; a probe is answered by its alias's result, or by a refusal of the request that names it. */
    const send = async (batch: Call[]): Promise<void> => {
      if (batch.length === 1) {
        await sendAlone(batch[0]!);
        return;
      }
      const { query, variables } = batchedOperation(batch);
      const { status, body } = await post(query, variables);
      const unexpected = body.errors?.find(isInternal);
      if (status >= 500 || unexpected) {
        // Find the probe: alone, each answers as it would have. One that answers well alone still fails the walk.
        let found = false;
        for (const call of batch) found = !(await sendAlone(call)) || found;
        if (!found) internal.push(`${batch.map((call) => call.field.name).join(', ')} together -> ${status} ${unexpected?.message ?? ''}`);
        return;
      }
      if ('data' in body) {
        answered += batch.length;
        return;
      }
      // Refused before any resolver ran: the probes an error names are answered; the others go again.
      const named = new Set((body.errors ?? []).flatMap((error) => namedBy(error, batch)));
      answered += named.size;
      const rest = batch.filter((_, index) => !named.has(index));
      if (rest.length === 0) return;
      if (named.size > 0) return send(rest);
      const half = Math.ceil(rest.length / 2);
      await send(rest.slice(0, half));
      await send(rest.slice(half));
    };
    const batches = batchesOf(calls);
    let next = 0;
    await Promise.all(Array.from({ length: 2 }, async () => {
      while (next < batches.length) await send(batches[next++]!);
    }));
    expect(calls.length).toBeGreaterThan(500);
    expect(answered).toBe(calls.length);
    // A rate-limited probe tested nothing.
    expect([...codes]).not.toContain('RATE_LIMITED');
    expect(internal).toEqual([]);
    expect((await server.get('/healthz')).status).toBe(200);
  }, 900_000);
});
