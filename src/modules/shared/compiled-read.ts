/**
 * Compiled reads: a connection page turned into ONE parameterised SQL statement whose rows carry
 * exactly the GraphQL values asked for (columns, nested lists, global IDs' keys), so a page costs one
 * round trip and no per-row ORM work. Each model declares its table, its columns and its
 * relations once (a ReadModel); the statement runs on the tenant client, so the connection's tenant
 * scope and row-level security apply as to any other read. Whatever a statement cannot express (a
 * field not declared, a field with arguments, a directive, a filter operator it does not
 * translate) falls back to the Prisma query it replaces, so the two paths never answer differently.
 * Pages after or before a cursor compile too: the cursor's row is read in the same statement.
 */
import {
  defaultFieldResolver,
  getNamedType,
  isObjectType,
  Kind,
  type FieldNode,
  type GraphQLFieldResolver,
  type GraphQLObjectType,
  type GraphQLResolveInfo,
  type GraphQLSchema,
  type SelectionSetNode,
} from 'graphql';
import { getConnectionPageSize } from '@pothos/core';
import { formatPrismaCursor } from '@pothos/plugin-prisma';
import pg from 'pg';
import type { TenantRows } from '../../infra/db.js';
import { countCompiledRead } from '../../infra/metrics.js';

/** How a column's value reaches JSON: as it is, or a time as milliseconds since the epoch. */
type ColumnKind = 'scalar' | 'time' | 'json';

interface Column {
  sql: string;
  kind: ColumnKind;
}

/** A column by its SQL name: text, numbers (numeric and bigint read as numbers), booleans; not an array type (a nested list aggregates its columns into arrays). */
export const scalar = (sql: string): Column => ({ sql, kind: 'scalar' });
/** A timestamp column; GraphQL's DateTime and cursors read it as epoch milliseconds (truncated, as Prisma does). */
export const time = (sql: string): Column => ({ sql, kind: 'time' });
/** A json/jsonb column: the value itself, never compared by a compiled filter. */
export const json = (sql: string): Column => ({ sql, kind: 'json' });

type Direction = 'asc' | 'desc';
type OrderEntry = Record<string, Direction | { sort: Direction; nulls?: 'first' | 'last' }>;

/** How one GraphQL field of a declared type is read. */
export type FieldRead =
  | { kind: 'column'; column: string }
  | { kind: 'expression'; sql: (row: (column: string) => string) => string }
  | { kind: 'globalId'; typename: string; key: string[] }
  | { kind: 'list'; model: () => ReadModel; column: string; parentColumn: string; orderBy: OrderEntry[] };

export interface ReadModel {
  /** The GraphQL object type whose fields this model serves. */
  typename: string;
  table: string;
  /** Columns by their Prisma field name; filters, orders and cursors name them so. */
  columns: Record<string, Column>;
  /** The Prisma fields a connection cursor over this model reads from each row. */
  cursor: string[];
  /** GraphQL fields that are not a column of the same name. */
  fields: Record<string, FieldRead>;
}

/** GraphQL field `name` reads column `column` (a Prisma field name). */
export const fromColumn = (column: string): FieldRead => ({ kind: 'column', column });
/** A Relay global ID of `typename` over the key columns, encoded as Pothos encodes it. */
export const globalId = (typename: string, key: string[]): FieldRead => ({ kind: 'globalId', typename, key });
/** A list of `model` rows whose `column` equals the parent's `parentColumn`, in `orderBy` order. */
export const list = (model: () => ReadModel, column: string, parentColumn: string, orderBy: OrderEntry[]): FieldRead => ({
  kind: 'list',
  model,
  column,
  parentColumn,
  orderBy,
});
/** A value computed from the row's columns in SQL. */
export const expression = (sql: (row: (column: string) => string) => string): FieldRead => ({ kind: 'expression', sql });

const models = new Map<string, ReadModel>();

/** Declares how a GraphQL type is read in one statement; its fields answer compiled rows from then on. */
export function readModel(model: ReadModel): ReadModel {
  models.set(model.typename, model);
  return model;
}

/** A row a compiled statement returned: the GraphQL values by response key, plus the cursor's fields. */
class CompiledObject {
  constructor(readonly values: Record<string, unknown>) {}
}

/**
 * Lets every declared type answer compiled rows by response key, in front of its own resolvers
 * (which still serve every other read). The schema's printed form does not change.
 */
export function answerCompiledRows(schema: GraphQLSchema): void {
  for (const model of models.values()) {
    const type = schema.getType(model.typename);
    if (!isObjectType(type)) throw new Error(`read model ${model.typename} names no object type`);
    for (const field of Object.values(type.getFields())) {
      const original: GraphQLFieldResolver<unknown, unknown> = field.resolve ?? defaultFieldResolver;
      const read = model.fields[field.name];
      field.resolve =
        read?.kind === 'list'
          ? (parent, args, context, info) => (parent instanceof CompiledObject ? parent.values[info.path.key] : original(parent, args, context, info))
          : read?.kind === 'globalId'
            ? globalIdResolver(model, read, original)
            : (parent, args, context, info) => (parent instanceof CompiledObject ? parent.values[info.path.key] : original(parent, args, context, info));
    }
    const isTypeOf = type.isTypeOf;
    if (isTypeOf) type.isTypeOf = (value, context, info) => value instanceof CompiledObject || isTypeOf(value, context, info);
  }
}

/** A Relay global ID as Pothos encodes it: base64 of `Type:key`; null where the key is. */
const globalIdOf = (typename: string, key: string | null) => (key === null ? null : Buffer.from(`${typename}:${key}`, 'utf8').toString('base64'));

/**
 * The resolver of a global ID field: a compiled row carries the key's values (times as epoch
 * milliseconds) and the ID is encoded here, as Pothos encodes it: one key as its text, a compound
 * key as the JSON array of its parts' texts (a time as an ISO string).
 */
function globalIdResolver(model: ReadModel, read: Extract<FieldRead, { kind: 'globalId' }>, original: GraphQLFieldResolver<unknown, unknown>): GraphQLFieldResolver<unknown, unknown> {
  const times = read.key.map((name) => model.columns[name]?.kind === 'time');
  const text = (part: unknown, index: number) => (times[index] ? new Date(part as number).toISOString() : String(part));
  return (parent, args, context, info) => {
    if (!(parent instanceof CompiledObject)) return original(parent, args, context, info);
    const key = parent.values[info.path.key];
    if (key === null || key === undefined) return null;
    return globalIdOf(read.typename, Array.isArray(key) ? JSON.stringify(key.map(text)) : text(key, 0));
  };
}

/** The Prisma findMany arguments a connection resolver builds from Pothos's planned query. */
export interface PageQuery {
  where?: unknown;
  orderBy?: unknown;
  take?: number;
  skip?: number;
  cursor?: unknown;
}

/** A Prisma model delegate; only its findMany is used, for the pages a statement cannot express. */
interface Delegate {
  findMany(args: never): PromiseLike<unknown[]>;
}

/**
 * One page of a connection over `model`: in one compiled statement when the selection, filter and
 * order allow it, else `delegate.findMany(query)` (the Prisma query with the same arguments).
 */
export async function readPage<D extends Delegate>(
  model: ReadModel,
  rows: TenantRows,
  info: GraphQLResolveInfo,
  delegate: D,
  query: Parameters<D['findMany']>[0] & PageQuery,
): Promise<Awaited<ReturnType<D['findMany']>>> {
  const statement = compilePage(model, info, query);
  countCompiledRead(model.typename, statement ? 'compiled' : 'fallback');
  if (!statement) return (await delegate.findMany(query as never)) as Awaited<ReturnType<D['findMany']>>;
  // The rows are read by the declared type's fields through answerCompiledRows, not as Prisma rows.
  return (await runStatement(model, rows, statement)) as unknown as Awaited<ReturnType<D['findMany']>>;
}

/** A compiled statement's rows as compiled objects, each also carrying its cursor's fields as Prisma rows do. */
async function runStatement(model: ReadModel, rows: TenantRows, statement: Statement): Promise<(CompiledObject & Record<string, unknown>)[]> {
  const found = await rows<unknown[]>(statement.sql, statement.params, PAGE_ROWS);
  const { shape, fromCursor } = statement;
  const offset = model.cursor.length;
  const times = model.cursor.map((name) => model.columns[name]!.kind === 'time');
  return found.map((row) => {
    const values: Record<string, unknown> = {};
    for (let index = 0; index < shape.keys.length; index += 1) {
      const nested = shape.lists[index];
      values[shape.keys[index]!] = nested ? decodeList(row[offset + index], nested) : row[offset + index];
    }
    for (const [key, at] of fromCursor) values[key] = typeof at === 'number' ? row[at] : at.map((index) => row[index]);
    const object = new CompiledObject(values) as CompiledObject & Record<string, unknown>;
    for (let index = 0; index < offset; index += 1) object[model.cursor[index]!] = times[index] ? new Date(row[index] as number) : row[index];
    return object;
  });
}

/** What a connection field declares to have its first pages read without the ORM's query planning. */
export interface FirstPages {
  model: ReadModel;
  /** The page's where and orderBy for these arguments (throwing the field's typed errors for bad ones). */
  query(args: Record<string, unknown>, ctx: { tenantRows: TenantRows }): { where?: unknown; orderBy?: unknown };
  /** The connection's totalCount, as the field declares it. */
  totalCount?(parent: unknown, args: never, ctx: never, info: GraphQLResolveInfo): unknown;
}

/** An edge whose cursor is written only when a query asks for it. */
class CompiledEdge {
  constructor(
    readonly connection: object,
    readonly node: CompiledObject & Record<string, unknown>,
    private readonly fields: string | string[],
  ) {}
  get cursor(): string {
    return formatPrismaCursor(this.node, this.fields);
  }
}

/**
 * The first page of a connection (`first`, or the default size; no cursor, no `last`) in one
 * compiled statement, as the ORM's connection resolver would answer it, without its query planning:
 * the same rows, edges, page info and totalCount. Undefined for any page it does not read this way,
 * which the field's own resolver then reads.
 */
export async function readFirstPage(
  pages: FirstPages,
  sizes: { defaultSize: number; maxSize: number },
  parent: unknown,
  args: Record<string, unknown>,
  ctx: { tenantRows: TenantRows },
  info: GraphQLResolveInfo,
): Promise<object | undefined> {
  if (args.after != null || args.before != null || args.last != null) return undefined;
  if (typeof args.first === 'number' && args.first < 0) return undefined;
  // A selection of totalCount alone reads no rows: the field's own resolver knows that case.
  if (!info.fieldNodes.some((node) => node.selectionSet?.selections.some((s) => s.kind !== Kind.FIELD || (s.name.value !== 'totalCount' && s.name.value !== '__typename')))) return undefined;
  const { limit: take } = getConnectionPageSize({ args, ...sizes });
  const { where, orderBy } = pages.query(args, ctx);
  const statement = compilePage(pages.model, info, { where, orderBy, take });
  if (!statement) return undefined;
  countCompiledRead(pages.model.typename, 'compiled');
  const objects = await runStatement(pages.model, ctx.tenantRows, statement);
  const hasNextPage = objects.length === take;
  const fields = pages.model.cursor.length === 1 ? pages.model.cursor[0]! : pages.model.cursor;
  const totalCount = pages.totalCount;
  const connection = {
    parent,
    args,
    totalCount: totalCount && (() => totalCount(parent, args as never, ctx as never, info)),
    edges: [] as CompiledEdge[],
    pageInfo: {
      hasPreviousPage: false,
      hasNextPage,
      get startCursor() {
        return connection.edges[0]?.cursor ?? null;
      },
      get endCursor() {
        return connection.edges.at(-1)?.cursor ?? null;
      },
    },
  };
  connection.edges = (hasNextPage ? objects.slice(0, -1) : objects).map((object) => new CompiledEdge(connection, object, fields));
  return connection;
}

/**
 * Numbers arrive as text for numeric and bigint columns (and times, written as epoch milliseconds):
 * read as JavaScript numbers, as JSON would give them; every other type as the driver reads it.
 */
const PAGE_ROWS = {
  rowMode: 'array' as const,
  types: {
    getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
      oid === pg.types.builtins.NUMERIC || oid === pg.types.builtins.INT8 ? Number : pg.types.getTypeParser(oid, format as 'text')) as pg.CustomTypesConfig['getTypeParser'],
  },
};

/**
 * What the columns of a statement's rows (or of a nested list's columns) are: the response key of
 * each, and for a nested list the shape of its own rows.
 */
interface Shape {
  keys: string[];
  lists: (Shape | undefined)[];
}

/**
 * A nested list as the statement writes it, column by column: `[count, [values of the first
 * field], [values of the second], ...]` (a column of no rows is null), as compiled objects.
 */
function decodeList(value: unknown, shape: Shape): CompiledObject[] {
  const [count, ...columns] = value as [number, ...(unknown[] | null)[]];
  const objects = new Array<CompiledObject>(count);
  for (let row = 0; row < count; row += 1) {
    const values: Record<string, unknown> = {};
    for (let index = 0; index < shape.keys.length; index += 1) {
      const nested = shape.lists[index];
      const item = columns[index]![row];
      values[shape.keys[index]!] = nested ? decodeList(item, nested) : item;
    }
    objects[row] = new CompiledObject(values);
  }
  return objects;
}

interface Statement {
  sql: string;
  params: unknown[];
  /** The row's columns after the cursor's. */
  shape: Shape;
  /** Response keys of the page's rows whose values are the cursor's (by index, or indexes of a compound key). */
  fromCursor: [string, number | number[]][];
}

/** Bound parameters and table aliases of one statement being built, for one request's selection. */
class Builder {
  readonly params: unknown[] = [];
  /** Columns of the page's own row that the statement reads outside its inner select. */
  readonly used: Set<string>;
  /** Fields of the page's row answered from its cursor values instead of computed again in SQL. */
  readonly fromCursor: [string, number | number[]][];
  private aliases: number;
  /** The alias of the page's own row. */
  readonly root = 't0';
  /** A builder for a new statement, or one that goes on from a compiled selection (which binds no values). */
  constructor(
    readonly info: GraphQLResolveInfo,
    from?: CompiledSelection,
  ) {
    this.used = new Set(from?.used);
    this.fromCursor = from ? [...from.fromCursor] : [];
    this.aliases = from?.aliases ?? 1;
  }
  /** What the statement so far compiled of the selection, to start the next statement of the same selection from. */
  selection(object: { values: string[]; shape: Shape }): CompiledSelection {
    return { object, used: [...this.used], fromCursor: [...this.fromCursor], aliases: this.aliases };
  }
  /** `alias`'s column; a column of the page's row is selected by the inner statement. */
  ref(alias: string, column: Column): string {
    if (alias === this.root) this.used.add(column.sql);
    return `${alias}.${quote(column.sql)}`;
  }
  bind(value: unknown): string {
    this.params.push(value instanceof Date ? value.toISOString() : value);
    return `$${this.params.length}`;
  }
  alias(): string {
    return `t${this.aliases++}`;
  }
}

const quote = (name: string) => `"${name.replaceAll('"', '""')}"`;
// A nested list's json_build_array takes at most 100 arguments.
const MAX_KEYS = 50;

/** The part of a statement that depends on the selection alone: its values, and what they read. */
interface CompiledSelection {
  object: { values: string[]; shape: Shape };
  used: string[];
  fromCursor: [string, number | number[]][];
  aliases: number;
}

/**
 * Selections compiled before, by the field nodes of the connection: a compiled query (graphql-jit)
 * hands every execution of one document the same field nodes, so a dashboard's repeated query
 * compiles its selection once. Null for a selection that cannot be compiled.
 */
const selections = new WeakMap<readonly FieldNode[], CompiledSelection | null>();

function compiledSelection(model: ReadModel, info: GraphQLResolveInfo): CompiledSelection | null {
  const cached = selections.get(info.fieldNodes);
  if (cached !== undefined) return cached;
  const selection = nodeSelection(info);
  const b = new Builder(info);
  const object = selection && compileObject(model, selection, b.root, b);
  const compiled = object ? b.selection(object) : null;
  selections.set(info.fieldNodes, compiled);
  return compiled;
}

function compilePage(model: ReadModel, info: GraphQLResolveInfo, query: PageQuery): Statement | null {
  // Prisma's paging: take rows from the start (or, negative, back from the end), a cursor row skipped.
  if (!query.take || (query.cursor === undefined ? query.skip : query.skip !== 1)) return null;
  const backward = query.take < 0;
  const selection = compiledSelection(model, info);
  if (!selection) return null;
  const b = new Builder(info, selection);
  const alias = b.root;
  const object = selection.object;
  let where = isPlainObject(query.where) ? compileWhere(model, query.where, alias, b) : query.where === undefined ? 'TRUE' : null;
  const terms = orderTerms(model, query.orderBy ?? []);
  if (where === null || terms === null) return null;
  if (query.cursor !== undefined) {
    const after = compileAfterCursor(model, query.cursor, backward ? terms.map(reversed) : terms, alias, b);
    if (after === null) return null;
    where = `(${where}) AND ${after}`;
  }
  const cursor = model.cursor.map((name) => valueOf(model.columns[name]!, alias, b));
  const order = orderClause(terms, alias, b);
  // Backward, the page is the last rows before the cursor: read in reverse, returned in order.
  const read = backward ? orderClause(terms.map(reversed), alias) : order;
  // The inner statement carries only the columns read outside it: the rows it sorts stay narrow.
  const columns = [...b.used].map((name) => `${alias}.${quote(name)}`).join(', ');
  // One row per page row, a column per value: no JSON to build in the database for the page itself.
  const sql =
    `SELECT ${[...cursor, ...object.values].join(', ')} ` +
    `FROM (SELECT ${columns} FROM ${quote(model.table)} ${alias} WHERE ${where}${read} LIMIT ${b.bind(Math.abs(query.take))}) ${alias}${order}`;
  return { sql, params: b.params, shape: object.shape, fromCursor: b.fromCursor };
}

/** One term of an order: a column, its direction and where its nulls go (PostgreSQL's default unless given). */
interface OrderTerm {
  column: Column;
  descending: boolean;
  nullsFirst: boolean;
}

const reversed = (term: OrderTerm): OrderTerm => ({ ...term, descending: !term.descending, nullsFirst: !term.nullsFirst });

/** The order's SQL; with a builder, the columns it names are read from the page's row (see Builder.ref). */
const orderClause = (terms: OrderTerm[], alias: string, b?: Builder) =>
  terms.length
    ? ` ORDER BY ${terms.map((term) => `${b ? b.ref(alias, term.column) : `${alias}.${quote(term.column.sql)}`} ${term.descending ? 'DESC' : 'ASC'} NULLS ${term.nullsFirst ? 'FIRST' : 'LAST'}`).join(', ')}`
    : '';

/**
 * Rows strictly after the cursor's row in the order `terms` (which ends in a unique column): the
 * first term where a row differs from the cursor row decides, nulls placed as the order places them.
 * The cursor row is read in the same statement; a cursor whose row is gone yields no rows.
 */
function compileAfterCursor(model: ReadModel, cursor: unknown, terms: OrderTerm[], alias: string, b: Builder): string | null {
  const key = cursorKey(model, cursor);
  if (!key || terms.length === 0) return null;
  const row = b.alias();
  const lookup = key.map(([column, value]) => `${row}.${quote(column.sql)} = ${b.bind(value)}`).join(' AND ');
  const at = (column: Column) => `(SELECT ${row}.${quote(column.sql)} FROM ${quote(model.table)} ${row} WHERE ${lookup})`;
  const alternatives = terms.map((term, index) => {
    const equal = terms.slice(0, index).map((before) => `${alias}.${quote(before.column.sql)} IS NOT DISTINCT FROM ${at(before.column)}`);
    const ref = `${alias}.${quote(term.column.sql)}`;
    const value = at(term.column);
    const beyond =
      `(CASE WHEN ${value} IS NULL THEN ${term.nullsFirst ? `${ref} IS NOT NULL` : 'FALSE'} ` +
      `WHEN ${ref} IS NULL THEN ${term.nullsFirst ? 'FALSE' : 'TRUE'} ELSE ${ref} ${term.descending ? '<' : '>'} ${value} END)`;
    return [...equal, beyond].join(' AND ');
  });
  return `(${alternatives.map((alternative) => `(${alternative})`).join(' OR ')})`;
}

/**
 * The columns and values that find a Prisma cursor's row: `{ id: v }`, or a compound
 * `{ id_timestamp: { id, timestamp } }`. A compound key that includes a non-time column finds the row
 * by those alone (a time read back through the ORM is cut to milliseconds, the stored one may not be).
 */
function cursorKey(model: ReadModel, cursor: unknown): [Column, unknown][] | null {
  if (!isPlainObject(cursor)) return null;
  const names = Object.keys(cursor);
  if (names.length !== 1) return null;
  const value = cursor[names[0]!];
  const parts: [string, unknown][] = model.cursor.length === 1 && names[0] === model.cursor[0] ? [[names[0]!, value]] : names[0] === model.cursor.join('_') && isPlainObject(value) ? model.cursor.map((name) => [name, value[name]]) : [];
  if (parts.length === 0 || parts.some(([name, part]) => !model.columns[name] || part === undefined || part === null)) return null;
  const columns = parts.map(([name, part]): [Column, unknown] => [model.columns[name]!, part]);
  const exact = columns.filter(([column]) => column.kind === 'scalar');
  return exact.length ? exact : columns;
}

/** The merged selection under `edges { node }` of the connection field, or null when it has directives. */
function nodeSelection(info: GraphQLResolveInfo): Map<string, FieldNode[]> | null {
  const connectionType = getNamedType(info.returnType) as GraphQLObjectType;
  const connection = collect(info, info.fieldNodes.map((node) => node.selectionSet), connectionType);
  if (!connection) return null;
  const edgeType = getNamedType(connectionType.getFields().edges!.type) as GraphQLObjectType;
  const edges = collect(info, (connection.get('edges') ?? []).map((node) => node.selectionSet), edgeType);
  if (!edges) return null;
  const nodeType = getNamedType(edgeType.getFields().node!.type) as GraphQLObjectType;
  return collect(info, (edges.get('node') ?? []).map((node) => node.selectionSet), nodeType);
}

/** Fields by response key under these selection sets on `type`, fragments expanded, as GraphQL merges them. */
function collect(info: GraphQLResolveInfo, sets: (SelectionSetNode | undefined)[], type: GraphQLObjectType): Map<string, FieldNode[]> | null {
  const fields = new Map<string, FieldNode[]>();
  const applies = (condition: string | undefined) => !condition || condition === type.name || type.getInterfaces().some((i) => i.name === condition);
  const visit = (set: SelectionSetNode | undefined): boolean => {
    for (const selection of set?.selections ?? []) {
      if (selection.directives?.length) return false;
      if (selection.kind === Kind.FIELD) {
        const key = selection.alias?.value ?? selection.name.value;
        fields.set(key, [...(fields.get(key) ?? []), selection]);
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        if (applies(selection.typeCondition?.name.value) && !visit(selection.selectionSet)) return false;
      } else {
        const fragment = info.fragments[selection.name.value];
        if (!fragment || fragment.directives?.length) return false;
        if (applies(fragment.typeCondition.name.value) && !visit(fragment.selectionSet)) return false;
      }
    }
    return true;
  };
  return sets.every(visit) ? fields : null;
}

const valueOf = (column: Column, alias: string, b: Builder) => {
  const ref = b.ref(alias, column);
  return column.kind === 'time' ? `floor(extract(epoch FROM ${ref}) * 1000)` : ref;
};

/** One GraphQL object's values over the row `alias` (SQL expressions) and their shape, or null when a field is not declared. */
function compileObject(model: ReadModel, selection: Map<string, FieldNode[]>, alias: string, b: Builder): { values: string[]; shape: Shape } | null {
  const values: string[] = [];
  const shape: Shape = { keys: [], lists: [] };
  for (const [key, nodes] of selection) {
    const name = nodes[0]!.name.value;
    if (name === '__typename') continue;
    if (nodes.some((node) => node.arguments?.length)) return null;
    const read = model.fields[name] ?? (model.columns[name] ? fromColumn(name) : undefined);
    const at = alias === b.root && read ? cursorIndexes(model, read) : undefined;
    if (at !== undefined) {
      b.fromCursor.push([key, at]);
      continue;
    }
    const value = read ? compileField(model, read, nodes, alias, b) : null;
    if (value === null) return null;
    values.push(value.sql);
    shape.keys.push(key);
    shape.lists.push(value.shape);
  }
  if (values.length > MAX_KEYS) return null;
  return { values, shape };
}

/**
 * Where a field of the page's row is among the cursor's values (which the statement returns as
 * they are written for GraphQL, times as epoch milliseconds): a cursor column read as it is, or a
 * global ID over cursor columns.
 */
function cursorIndexes(model: ReadModel, read: FieldRead): number | number[] | undefined {
  if (read.kind === 'column') {
    const index = model.cursor.indexOf(read.column);
    return index < 0 ? undefined : index;
  }
  if (read.kind !== 'globalId') return undefined;
  const indexes = read.key.map((name) => model.cursor.indexOf(name));
  if (indexes.some((index) => index < 0)) return undefined;
  return indexes.length === 1 ? indexes[0] : indexes;
}

function compileField(model: ReadModel, read: FieldRead, nodes: FieldNode[], alias: string, b: Builder): { sql: string; shape?: Shape } | null {
  const column = (name: string) => {
    const found = model.columns[name];
    if (!found) throw new Error(`read model ${model.typename} has no column ${name}`);
    return found;
  };
  switch (read.kind) {
    case 'column':
      return { sql: valueOf(column(read.column), alias, b) };
    case 'expression':
      return { sql: read.sql((name) => b.ref(alias, column(name))) };
    case 'globalId': {
      // The key's values only: the field's resolver writes them as Pothos does (globalIdResolver).
      const parts = read.key.map((name) => valueOf(column(name), alias, b));
      return { sql: parts.length === 1 ? parts[0]! : `json_build_array(${parts.join(', ')})` };
    }
    case 'list': {
      const child = read.model();
      const type = b.info.schema.getType(child.typename) as GraphQLObjectType;
      const selection = collect(b.info, nodes.map((node) => node.selectionSet), type);
      if (!selection) return null;
      const childAlias = b.alias();
      const object = compileObject(child, selection, childAlias, b);
      const terms = orderTerms(child, read.orderBy);
      if (object === null || terms === null) return null;
      // Column by column (see decodeList): an array of one type is written as JSON with its type
      // looked up once, where an object or array per row would look up every value's type again.
      // The aggregates take their rows in the order the inner select sorts them, all in the same order.
      const rows = b.alias();
      const inner = object.values.map((value, index) => `${value} AS c${index}`);
      return {
        sql:
          `(SELECT json_build_array(count(*)${object.values.map((_, index) => `, array_agg(${rows}.c${index})`).join('')}) ` +
          `FROM (SELECT ${inner.length ? inner.join(', ') : 'NULL'} FROM ${quote(child.table)} ${childAlias} ` +
          `WHERE ${childAlias}.${quote(child.columns[read.column]!.sql)} = ${b.ref(alias, column(read.parentColumn))}${orderClause(terms, childAlias, b)}) ${rows})`,
        shape: object.shape,
      };
    }
  }
}

/** A Prisma orderBy as terms, or null when it names what the model does not declare. */
function orderTerms(model: ReadModel, orderBy: unknown): OrderTerm[] | null {
  const entries: unknown[] = Array.isArray(orderBy) ? orderBy : [orderBy];
  const terms: OrderTerm[] = [];
  for (const entry of entries) {
    if (!isPlainObject(entry)) return null;
    const names = Object.keys(entry);
    if (names.length !== 1) return null;
    const column = model.columns[names[0]!];
    const spec = entry[names[0]!];
    if (!column || column.kind === 'json') return null;
    const { sort, nulls } = (typeof spec === 'string' ? { sort: spec } : isPlainObject(spec) ? spec : {}) as { sort?: unknown; nulls?: unknown };
    if ((sort !== 'asc' && sort !== 'desc') || (nulls !== undefined && nulls !== 'first' && nulls !== 'last')) return null;
    // PostgreSQL's default, which Prisma keeps: nulls sort as if larger than every value.
    terms.push({ column, descending: sort === 'desc', nullsFirst: nulls === undefined ? sort === 'desc' : nulls === 'first' });
  }
  return terms;
}

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date);

/**
 * A Prisma where input as SQL over the row `alias`, for the operators whose SQL is unambiguous
 * (equality, null, in, notIn, ranges, AND / OR / NOT); null for anything else, which falls back.
 */
function compileWhere(model: ReadModel, where: object, alias: string, b: Builder): string | null {
  const terms: string[] = [];
  for (const [name, condition] of Object.entries(where)) {
    if (condition === undefined) continue;
    let term: string | null;
    if (name === 'AND' || name === 'OR' || name === 'NOT') {
      const parts = (Array.isArray(condition) ? condition : [condition]).map((part) => (isPlainObject(part) ? compileWhere(model, part, alias, b) : null));
      if (parts.some((part) => part === null)) return null;
      if (name === 'AND') term = parts.length ? parts.map((part) => `(${part})`).join(' AND ') : 'TRUE';
      else if (name === 'OR') term = parts.length ? parts.map((part) => `(${part})`).join(' OR ') : 'FALSE';
      else term = parts.length ? parts.map((part) => `NOT (${part})`).join(' AND ') : 'TRUE';
    } else {
      const column = model.columns[name];
      if (!column || column.kind === 'json') return null;
      term = compileCondition(`${alias}.${quote(column.sql)}`, condition, b);
    }
    if (term === null) return null;
    terms.push(`(${term})`);
  }
  return terms.length ? terms.join(' AND ') : 'TRUE';
}

const RANGES: Record<string, string> = { lt: '<', lte: '<=', gt: '>', gte: '>=' };

function compileCondition(ref: string, condition: unknown, b: Builder): string | null {
  if (condition === null) return `${ref} IS NULL`;
  if (!isPlainObject(condition)) return Array.isArray(condition) ? null : `${ref} = ${b.bind(condition)}`;
  const terms: string[] = [];
  for (const [operator, value] of Object.entries(condition)) {
    if (value === undefined) continue;
    if (operator === 'equals') terms.push(value === null ? `${ref} IS NULL` : `${ref} = ${b.bind(value)}`);
    else if (operator === 'in' && Array.isArray(value)) terms.push(`${ref} = ANY(${b.bind(value)})`);
    else if (operator === 'notIn' && Array.isArray(value)) terms.push(`NOT (${ref} = ANY(${b.bind(value)}))`);
    else if (operator in RANGES && value !== null && !isPlainObject(value)) terms.push(`${ref} ${RANGES[operator]} ${b.bind(value)}`);
    else if (operator === 'not' && value === null) terms.push(`${ref} IS NOT NULL`);
    else return null;
  }
  return terms.length ? terms.join(' AND ') : 'TRUE';
}

/** A connection field's FirstPages declaration (see readFirstPage). */
export function firstPages<Args, Ctx>(
  model: ReadModel,
  query: (args: Args, ctx: Ctx) => { where?: unknown; orderBy?: unknown },
  totalCount?: (parent: unknown, args: Args, ctx: Ctx) => unknown,
): FirstPages {
  return { model, query: query as FirstPages['query'], totalCount: totalCount as FirstPages['totalCount'] };
}
