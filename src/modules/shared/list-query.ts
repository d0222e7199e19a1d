/**
 * Dashboard lists from one declaration per model: the `filter` input (field conditions composed with
 * and / or / not), the `orderBy` input (made stable by unique tie-breakers) and grouped counts, with
 * their translation into Prisma's where / orderBy / groupBy. Every refused argument is a
 * ValidationError naming its path, which query resolvers answer as BAD_USER_INPUT.
 */
import { encodeGlobalID, resolveArrayConnection } from '@pothos/plugin-relay';
import { builder } from '../../builder.js';
import { getDatamodel } from '../../generated/pothos-types.js';
import { ValidationError } from './errors.js';
import { inOneStatement } from './read-query.js';
import { withGraphQLErrors } from './graphql-errors.js';
import type { Context } from '../../context.js';
import { isUuid } from './validation.js';

type FieldBuilder = Parameters<Parameters<typeof builder.inputType>[1]['fields']>[0];
type InputRef = ReturnType<FieldBuilder['field']>;
type Where = Record<string, unknown>;
type Scalar = 'String' | 'Boolean' | 'Int' | 'Float' | 'DateTime' | 'JSON';
type TypeParam = Scalar | Parameters<FieldBuilder['field']>[0]['type'];

/** How one `filter` field reads and what condition it puts on which column. */
export interface FilterField {
  input(t: FieldBuilder): InputRef;
  /**
   * The Prisma condition for a given (non-null) value; `path` names the argument in errors, `field` is
   * its name. `unknowable`: whether a column's condition must be made false rather than unknown on a
   * row without a value (a nullable column under a `not`; see `definite`).
   */
  where(value: unknown, path: string, field: string, unknowable: (column: string) => boolean): Where;
  /** A range bound on a column, checked against the other bound of the same column. */
  bound?: { column: string; side: 'lower' | 'upper' };
}

/** Global IDs as Pothos parses them. */
interface GlobalId {
  typename: string;
  id: string;
}

function uuidOf(value: unknown, path: string): string {
  if (!isUuid(value)) throw new ValidationError([{ path, message: 'must be a UUID' }]);
  return value as string;
}

/** The row id of a global ID that must be of `typename`, refused naming `path` otherwise. */
export function idOf(value: unknown, typename: string, path: string): string {
  const id = value as GlobalId;
  if (id.typename !== typename) throw new ValidationError([{ path, message: `must be the ID of a ${typename}` }]);
  return uuidOf(id.id, path);
}

/**
 * A column condition that is false, never unknown, where the column holds null. SQL's NOT of an
 * unknown is unknown, so `not: { gpuType: ["A100"] }` would drop the rows without a GPU type; under a
 * `not` each column condition first requires a value, and its negation keeps those rows.
 */
const definite = (column: string, condition: Where, unknowable: (column: string) => boolean): Where =>
  unknowable(column) ? { AND: [{ [column]: { not: null } }, { [column]: condition }] } : { [column]: condition };

/** LIKE's wildcards and its escape character in the user's text, matched as themselves. */
export const escapeLike = (text: string) => text.replace(/[\\%_]/g, (character) => `\\${character}`);

/** Rows whose `column` is any of the given values (an enum, or a scalar type). */
export const anyOf = (type: TypeParam, column?: string, description?: string): FilterField => ({
  input: (t) => t.field({ type: [type] as never, required: false, description }),
  where: (value, _path, field, unknowable) => definite(column ?? field, { in: value }, unknowable),
});

/** Rows whose `column` equals the value. */
export const equals = (type: Scalar, column?: string, description?: string): FilterField => ({
  input: (t) => t.field({ type: type as never, required: false, description }),
  where: (value, _path, field, unknowable) => definite(column ?? field, { equals: value }, unknowable),
});

/**
 * The type a global ID must be of: its ref, which also lets the edge refuse another type's ID, or its
 * name where the module owning the type imports this one (the ref would close an import circle).
 */
type IdType = { name: string } | string;

const typenameOf = (type: IdType) => (typeof type === 'string' ? type : type.name);
const forType = (type: IdType) => (typeof type === 'string' ? {} : { for: type as never });

/** Rows whose `column` holds the entity of this global ID (of `type`). */
export const idIs = (type: IdType, column: string, description?: string): FilterField => ({
  input: (t) => t.globalID({ required: false, ...forType(type), description }),
  where: (value, path, _field, unknowable) => definite(column, { equals: idOf(value, typenameOf(type), path) }, unknowable),
});

/** Rows whose `column` holds any of these entities' global IDs. */
export const idIn = (type: IdType, column: string, description?: string): FilterField => ({
  input: (t) => t.globalIDList({ required: false, ...forType(type), description }),
  where: (value, path, _field, unknowable) => definite(column, { in: (value as unknown[]).map((id, index) => idOf(id, typenameOf(type), `${path}.${index}`)) }, unknowable),
});

/** Rows whose plain-UUID `column` equals the value. */
export const uuidIs = (column?: string, description?: string): FilterField => ({
  input: (t) => t.string({ required: false, description }),
  where: (value, path, field, unknowable) => definite(column ?? field, { equals: uuidOf(value, path) }, unknowable),
});

/** Rows whose plain-UUID `column` is any of the values. */
export const uuidIn = (column: string, description?: string): FilterField => ({
  input: (t) => t.stringList({ required: false, description }),
  where: (value, path, _field, unknowable) => definite(column, { in: (value as unknown[]).map((id, index) => uuidOf(id, `${path}.${index}`)) }, unknowable),
});

/** Rows where any of `columns` contains the text, ignoring case; `%` and `_` match themselves. */
export const textSearch = (columns: string[], description = `Case-insensitive text contained in ${columns.join(' or ')}`): FilterField => ({
  input: (t) => t.string({ required: false, description }),
  where: (value, _path, _field, unknowable) => {
    const conditions = columns.map((column) => definite(column, { contains: escapeLike(value as string), mode: 'insensitive' }, unknowable));
    return conditions.length === 1 ? conditions[0]! : { OR: conditions };
  },
});

const bound =
  (operator: 'gte' | 'gt' | 'lte' | 'lt', side: 'lower' | 'upper') =>
  (column: string, type: 'DateTime' | 'Int' | 'Float' = 'DateTime', description?: string): FilterField => ({
    input: (t) => t.field({ type, required: false, description }),
    where: (value, _path, _field, unknowable) => definite(column, { [operator]: value }, unknowable),
    bound: { column, side },
  });

/** Rows whose `column` is at least the value (a range's start, inclusive). */
export const atLeast = bound('gte', 'lower');
/** Rows whose `column` is above the value. */
export const above = bound('gt', 'lower');
/** Rows whose `column` is at most the value (inclusive). */
export const atMost = bound('lte', 'upper');
/** Rows whose `column` is below the value (a range's end, exclusive). */
export const below = bound('lt', 'upper');

/** Rows whose JSON object `column` contains this JSON object (PostgreSQL's @>). */
export const jsonContains = (column: string, description = `Rows whose ${column} contain this JSON object (@>)`): FilterField => ({
  input: (t) => t.field({ type: 'JSON', required: false, description }),
  where: (value, path) => {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ValidationError([{ path, message: 'must be a JSON object' }]);
    const conditions = containedPaths(value as Record<string, unknown>, []).map((condition) => ({ [column]: condition }));
    return conditions.length === 1 ? conditions[0]! : { AND: conditions };
  },
});

/** Object containment as Prisma's JSON path conditions: a leaf equals, an array contains. */
function containedPaths(object: Record<string, unknown>, path: string[]): Where[] {
  return Object.entries(object).flatMap(([key, value]): Where[] => {
    const at = [...path, key];
    if (Array.isArray(value)) return [{ path: at, array_contains: value }];
    if (typeof value === 'object' && value !== null) return containedPaths(value as Record<string, unknown>, at);
    return [{ path: at, equals: value }];
  });
}

/** A field with a rule of its own (a domain condition no column operator expresses). */
export const custom = (input: (t: FieldBuilder) => InputRef, where: (value: unknown, path: string) => Where): FilterField => ({ input, where });

/** How one `orderBy` value sorts: a column, and where its nulls go. */
export type OrderColumn = string | { column: string; nulls: 'first' | 'last' };
/** How one grouped count groups: a column, and how its values become the keys clients see. */
export type GroupColumn = string | { column: string; key: (value: unknown) => string | null };

export interface ListDeclaration {
  /** The GraphQL names' prefix: `<name>Filter`, `<name>Order`, `<name>OrderField`, `<name>GroupField`. */
  name: string;
  /** The Prisma model listed, where its name is not `name`. */
  model?: string;
  filter: Record<string, FilterField>;
  /** Sortable fields by their GraphQL enum value (UPPER_CASE). */
  orderBy: Record<string, OrderColumn>;
  /** The order when none is asked for: [enum value, direction]. */
  defaultOrder: [string, Direction];
  /** Unique columns appended to every order, in its first term's direction, so pages never overlap. */
  tieBreakers: string[];
  /** Fields a grouped count can group by, by their GraphQL enum value. */
  groupBy?: Record<string, GroupColumn>;
}

type Direction = 'asc' | 'desc';
/** The filter input as GraphQL hands it to a resolver. */
export type FilterValue = { [field: string]: unknown; and?: FilterValue[] | null; or?: FilterValue[] | null; not?: FilterValue | null };
export interface OrderValue {
  field: string;
  direction?: Direction | null;
}

/** How deeply and / or / not may nest. */
export const MAX_FILTER_DEPTH = 5;
const MAX_ORDER_TERMS = 3;

export const SortDirection = builder.enumType('SortDirection', { values: { ASC: { value: 'asc' }, DESC: { value: 'desc' } } as const });

const GroupCountRef = builder.objectRef<{ key: string | null; count: number }>('GroupCount').implement({
  description: 'How many rows share one value of the grouped field (null: rows without one)',
  fields: (t) => ({ key: t.exposeString('key', { nullable: true }), count: t.exposeInt('count') }),
});

/** The input types, the translation and the grouped counts of one model's list. */
export function defineList(declaration: ListDeclaration) {
  const { name, filter: fields } = declaration;
  const Filter = builder.inputRef<FilterValue>(`${name}Filter`).implement({
    description: `Conditions on ${name} rows; all given fields must hold`,
    fields: (t) => ({
      ...Object.fromEntries(Object.entries(fields).map(([field, spec]) => [field, spec.input(t)])),
      and: t.field({ type: [Filter], required: false, description: 'Every one of these must hold' }),
      or: t.field({ type: [Filter], required: false, description: 'At least one of these must hold' }),
      not: t.field({ type: Filter, required: false, description: 'This must not hold' }),
    }),
  });
  const OrderField = builder.enumType(`${name}OrderField`, {
    values: Object.fromEntries(Object.keys(declaration.orderBy).map((value) => [value, { value }])),
  });
  const Order = builder.inputType(`${name}Order`, {
    fields: (t) => ({
      field: t.field({ type: OrderField, required: true }),
      direction: t.field({ type: SortDirection, required: false, description: 'DESC unless given' }),
    }),
  });
  const groups = declaration.groupBy ?? {};
  const GroupField = Object.keys(groups).length
    ? builder.enumType(`${name}GroupField`, { values: Object.fromEntries(Object.keys(groups).map((value) => [value, { value }])) })
    : null;

  const nullable = nullableColumns(declaration.model ?? name);
  const unknowableUnder = (negated: boolean) => (negated ? (column: string) => nullable.has(column) : () => false);

  function where(value: FilterValue | null | undefined, path = 'filter', depth = 1, negated = false): Where {
    if (!value) return {};
    if (depth > MAX_FILTER_DEPTH) throw new ValidationError([{ path, message: `nests and / or / not deeper than ${MAX_FILTER_DEPTH} levels` }]);
    const conditions: Where[] = [];
    const bounds = new Map<string, { lower?: [string, unknown]; upper?: [string, unknown] }>();
    for (const [field, fieldValue] of Object.entries(value)) {
      if (fieldValue === null || fieldValue === undefined || field === 'and' || field === 'or' || field === 'not') continue;
      const spec = fields[field];
      if (!spec) throw new ValidationError([{ path: `${path}.${field}`, message: 'is not a filter field' }]);
      if (Array.isArray(fieldValue) && fieldValue.length === 0) continue;
      conditions.push(spec.where(fieldValue, `${path}.${field}`, field, unknowableUnder(negated)));
      if (spec.bound) {
        const entry = bounds.get(spec.bound.column) ?? {};
        entry[spec.bound.side] = [`${path}.${field}`, fieldValue];
        bounds.set(spec.bound.column, entry);
      }
    }
    for (const { lower, upper } of bounds.values()) {
      if (lower && upper && (upper[1] as number | Date) < (lower[1] as number | Date)) {
        throw new ValidationError([{ path: upper[0], message: `is before ${lower[0]}` }]);
      }
    }
    if (value.and?.length) conditions.push({ AND: value.and.map((part, index) => where(part, `${path}.and.${index}`, depth + 1, negated)) });
    if (value.or?.length) conditions.push({ OR: value.or.map((part, index) => where(part, `${path}.or.${index}`, depth + 1, negated)) });
    if (value.not) conditions.push({ NOT: where(value.not, `${path}.not`, depth + 1, true) });
    return conditions.length === 1 ? conditions[0]! : conditions.length ? { AND: conditions } : {};
  }

  function orderBy(value: OrderValue[] | null | undefined): Record<string, unknown>[] {
    const terms = value?.length ? value : [{ field: declaration.defaultOrder[0], direction: declaration.defaultOrder[1] }];
    if (terms.length > MAX_ORDER_TERMS) throw new ValidationError([{ path: 'orderBy', message: `takes at most ${MAX_ORDER_TERMS} terms` }]);
    const order = terms.map(({ field, direction }) => {
      const spec = declaration.orderBy[field]!;
      const sort = direction ?? 'desc';
      return typeof spec === 'string' ? { [spec]: sort } : { [spec.column]: { sort, nulls: spec.nulls } };
    });
    const sorted = new Set(terms.map(({ field }) => declaration.orderBy[field]!).map((spec) => (typeof spec === 'string' ? spec : spec.column)));
    const tieDirection = terms[0]!.direction ?? 'desc';
    return [...order, ...declaration.tieBreakers.filter((column) => !sorted.has(column)).map((column) => ({ [column]: tieDirection }))];
  }

  /** The Prisma where of `scope` (the caller's rows) narrowed by the filter argument. */
  function scoped(scope: Where, filter: FilterValue | null | undefined): Where {
    const narrowed = where(filter);
    return Object.keys(narrowed).length ? { AND: [scope, narrowed] } : scope;
  }

  /** Row counts per value of the grouped field, largest first. */
  async function counts(
    delegate: GroupDelegate,
    scope: Where,
    args: { by: string; filter?: FilterValue | null },
  ): Promise<{ key: string | null; count: number }[]> {
    const spec = groups[args.by]!;
    const column = typeof spec === 'string' ? spec : spec.column;
    const rows = (await delegate.groupBy({ by: [column], where: scoped(scope, args.filter), _count: { _all: true } } as never)) as ({
      _count: { _all: number };
    } & Where)[];
    return rows
      .map((row) => {
        const raw = row[column];
        const key = typeof spec === 'string' ? (raw === null ? null : String(raw)) : spec.key(raw);
        return { key, count: row._count._all };
      })
      .sort((a, b) => b.count - a.count || String(a.key).localeCompare(String(b.key)));
  }

  return {
    Filter,
    Order,
    GroupField,
    where: scoped,
    orderBy,
    /** A Pothos-planned page query with the scope, filter and order applied, relations in one statement. */
    page<Q extends object>(query: Q, scope: Where, args: { filter?: FilterValue | null; orderBy?: OrderValue[] | null }) {
      return { ...inOneStatement(query), where: scoped(scope, args.filter), orderBy: orderBy(args.orderBy) };
    },
    counts,
    GroupCountRef,
    /** Declares `<field>(by, filter)`: the caller's rows counted per value of a field, under the list's filter. */
    countsQuery(field: string, options: { description: string; authScopes: object; rows: (ctx: Context) => [GroupDelegate, Where] }) {
      if (!GroupField) throw new Error(`${name} declares no groupBy`);
      builder.queryField(field, (t) =>
        t.field({
          type: [GroupCountRef],
          description: options.description,
          authScopes: options.authScopes as never,
          args: { by: t.arg({ type: GroupField, required: true }), filter: t.arg({ type: Filter, required: false }) },
          resolve: (_root, args, ctx) => withGraphQLErrors(() => counts(...options.rows(ctx), args)),
        }),
      );
    },
  };
}

/** The scalar columns of a Prisma model that may hold null. */
let datamodel: ReturnType<typeof getDatamodel> | undefined;
function nullableColumns(model: string): Set<string> {
  datamodel ??= getDatamodel();
  const found = datamodel.datamodel.models[model];
  if (!found) throw new Error(`a list names the model ${model}, which the data model lacks`);
  return new Set(found.fields.filter((field) => field.kind === 'scalar' && !field.isRequired).map((field) => field.name));
}

/**
 * The order input and sorting of a list held in memory (a Redis view, a rollup of a few dozen rows):
 * `<name>Order` / `<name>OrderField` as declared lists have, over the rows' own keys. Terms are
 * DESC unless given, the unique `tieBreakers` end every order in its first term's direction, and rows
 * without a value go last in either direction.
 */
export function defineMemoryOrder<Row, Fields extends Record<string, keyof Row>>(name: string, fields: Fields, tieBreakers: (keyof Row)[]) {
  const OrderField = builder.enumType(`${name}OrderField`, {
    values: Object.fromEntries(Object.keys(fields).map((value) => [value, { value }])) as { [K in keyof Fields & string]: { value: K } },
  });
  const Order = builder.inputType(`${name}Order`, {
    fields: (t) => ({
      field: t.field({ type: OrderField, required: true }),
      direction: t.field({ type: SortDirection, required: false, description: 'DESC unless given' }),
    }),
  });
  const compare = (a: unknown, b: unknown) => (a === b ? 0 : a === null || a === undefined ? 1 : b === null || b === undefined ? -1 : (a as number | string) < (b as number | string) ? -1 : 1);
  function order(rows: readonly Row[], orderBy: readonly { field: keyof Fields & string; direction?: Direction | null }[] | null | undefined): Row[] {
    const given = orderBy ?? [];
    if (given.length > MAX_ORDER_TERMS) throw new ValidationError([{ path: 'orderBy', message: `takes at most ${MAX_ORDER_TERMS} terms` }]);
    const terms: { key: keyof Row; sign: number }[] = given.map(({ field, direction }) => ({ key: fields[field]!, sign: (direction ?? 'desc') === 'asc' ? 1 : -1 }));
    const tieSign = terms[0]?.sign ?? 1;
    for (const key of tieBreakers) if (!terms.some((term) => term.key === key)) terms.push({ key, sign: tieSign });
    return [...rows].sort((a, b) => {
      for (const { key, sign } of terms) {
        const found = compare(a[key], b[key]);
        if (found !== 0) return a[key] === null || a[key] === undefined || b[key] === null || b[key] === undefined ? found : found * sign;
      }
      return 0;
    });
  }
  /** One page of the rows in the asked (else `defaultOrder`) order, as a connection that also counts them all. */
  async function page(
    rows: readonly Row[],
    args: { orderBy?: readonly { field: keyof Fields & string; direction?: Direction | null }[] | null; first?: number | null; last?: number | null; after?: string | null; before?: string | null },
    defaultOrder: { field: keyof Fields & string; direction: Direction }[] = [],
  ) {
    const sorted = order(rows, args.orderBy?.length ? args.orderBy : defaultOrder);
    return { ...(await resolveArrayConnection({ args, defaultSize: 20, maxSize: 100 }, sorted)), totalCount: sorted.length };
  }
  return { Order, order, page };
}

/** The connection fields of a list held in memory: its count of all matching rows (see defineMemoryOrder's page). */
export const countedConnection = {
  fields: <Ref>(c: { int: (options: { description: string; resolve: (connection: object) => number }) => Ref }) => ({
    totalCount: c.int({ description: 'Rows matching the filter, on every page', resolve: (connection) => (connection as { totalCount: number }).totalCount }),
  }),
};

type GroupDelegate = { groupBy(args: never): PromiseLike<unknown[]> };

/** Grouping by a column of a GraphQL enum: keys are the enum's values as clients write them. */
export const enumGroup = (column: string): GroupColumn => ({ column, key: (value) => (value === null || value === undefined ? null : String(value).toUpperCase().replace(/[^A-Z0-9_]/g, '_')) });

/** The grouped-count key of a column holding another entity's ID: that entity's global ID. */
export const globalIdKey = (typename: string) => (value: unknown) => (value === null || value === undefined ? null : encodeGlobalID(typename, String(value)));
