import { randomUUID } from 'node:crypto';
import { encodeGlobalID } from '@pothos/plugin-relay';
import { getNamedType, getNullableType, isEnumType, isInputObjectType, isLeafType, isListType, isNonNullType, type GraphQLArgument, type GraphQLField, type GraphQLInputType } from 'graphql';
import { buildSchema } from '../src/schema.js';
import { startTestServer } from '../test/helpers/server.js';
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


const server = await startTestServer('pglite');
const admin = await server.signIn({ role: 'admin' });
const schema = buildSchema();
const calls: { query: string; probe: Probe }[] = [];
for (const [kind, type] of [['query', schema.getQueryType()!], ['mutation', schema.getMutationType()!]] as const) {
  for (const field of Object.values(type.getFields())) {
    const query = operationFor(kind, field);
    for (const probe of probesFor(field)) calls.push({ query, probe });
  }
}
const N = Number(process.env.N ?? 2000);
const picked = calls.filter((_, i) => i % Math.ceil(calls.length / N) === 0);
const t0 = performance.now();
const slow: [number, string][] = [];
let next = 0;
await Promise.all(Array.from({ length: 4 }, async () => {
  while (next < picked.length) {
    const { query, probe } = picked[next++]!;
    const s = performance.now();
    const response = await fetch(server.url, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json', ...admin.headers }, body: JSON.stringify({ query, variables: probe.variables }) });
    await response.json();
    slow.push([performance.now() - s, probe.path + ' ' + JSON.stringify(probe.variables).length]);
  }
}));
console.log(picked.length, 'requests', (performance.now() - t0).toFixed(0), 'ms');
slow.sort((a, b) => b[0] - a[0]); console.log(slow.slice(0, 15));
const total = slow.reduce((a, s) => a + s[0], 0); const bigT = slow.filter(s => +s[1].split(' ').at(-1)! > 100000).reduce((a, s) => a + s[0], 0);
console.log('latency total', total.toFixed(0), 'of which >100KB bodies', bigT.toFixed(0));
await server.close();
