import pg from 'pg';
import { PreparedStatementNames } from './prepared-statements.js';
import { PrismaPg } from '@prisma/adapter-pg';
import type {
  SqlDriverAdapter,
  SqlDriverAdapterFactory,
  SqlQuery,
  Transaction as AdapterTransaction,
} from '@prisma/driver-adapter-utils';
import { PrismaClient } from '../generated/prisma/client.js';
import { OWNER_SCOPE, ScopedConnections, type ConnectionScope } from './scoped-connections.js';
import { currentTenantId } from './tenant-scope.js';

/** The role tenant work runs as; row-level security applies to it (see the RLS migration). */
export const APP_ROLE = 'omega_app';

export interface Database {
  /** Tenant work: every transaction runs as APP_ROLE within the current tenant scope. */
  prisma: PrismaClient;
  /** Cross-tenant work (sign-in, schedulers, jobs): the owner's connection, not bound to a tenant. */
  system: PrismaClient;
  /** One parameterised statement's rows in the current tenant scope, as the tenant client would run it, without the ORM. */
  tenantRows: TenantRows;
  /** Owner statements (health checks); on a server its connections are switched to the owner first. */
  pool: pg.Pool;
  /** Connections of the whole pool now, for metrics. */
  poolStats(): { total: number; idle: number; waiting: number };
  /** At most this many connections serve the ORM clients (the rest of DB_POOL_MAX serves prepared statements). */
  ormConnections: number;
  close(): Promise<void>;
}

const ENTER_TENANT: Omit<SqlQuery, 'args'> = {
  sql: "SELECT set_config('role', $1, true), set_config('app.current_tenant_id', $2, true)",
  argTypes: [
    { scalarType: 'string', arity: 'scalar' },
    { scalarType: 'string', arity: 'scalar' },
  ],
};

async function enterTenant(tx: AdapterTransaction): Promise<void> {
  await tx.executeRaw({ ...ENTER_TENANT, args: [APP_ROLE, currentTenantId() ?? ''] });
}

/**
 * How a statement's rows arrive: `rowMode: 'array'` gives each row as an array of its columns in
 * order; `types` replaces the driver's parsing of column values by type.
 */
export interface RowOptions {
  rowMode?: 'array';
  types?: pg.CustomTypesConfig;
}

/** Runs one parameterised statement in the current tenant scope and returns its rows. */
export type TenantRows = <T>(sql: string, values: unknown[], options?: RowOptions) => Promise<T[]>;

/** A transaction of either client: an interactive one of the tenant client, or withExclusiveLock's. */
export type Transaction = Omit<PrismaClient, '$connect' | '$disconnect' | '$on' | '$transaction' | '$extends'>;

/**
 * Makes the rest of an owner-connection transaction (e.g. one holding withExclusiveLock) run as the
 * tenant role within one tenant, so row-level security applies to a job's work as to a request's.
 */
export async function actAsTenant(tx: Transaction, tenantId: string): Promise<void> {
  await tx.$executeRawUnsafe(ENTER_TENANT.sql, APP_ROLE, tenantId);
}

const enterNothing = async (): Promise<void> => undefined;

const statement = (sql: string): SqlQuery => ({ sql, args: [], argTypes: [] });

/**
 * Wraps an adapter so that every statement runs in a transaction that first runs `enter`; for the
 * tenant client that takes APP_ROLE and the current tenant, both transaction-local, so a pooled
 * connection never carries one request's tenant into another's (the embedded database's
 * connections even share one session).
 */
function inTransactions(adapter: SqlDriverAdapter, enter: (tx: AdapterTransaction) => Promise<void>): SqlDriverAdapter {
  const inTenantTransaction = async <T>(run: (tx: AdapterTransaction) => Promise<T>): Promise<T> => {
    const tx = await adapter.startTransaction();
    try {
      await enter(tx);
      const result = await run(tx);
      await tx.executeRaw(statement('COMMIT'));
      await tx.commit();
      return result;
    } catch (error) {
      await tx.executeRaw(statement('ROLLBACK')).catch(() => undefined);
      await tx.rollback().catch(() => undefined);
      throw error;
    }
  };
  return new Proxy(adapter, {
    get(target, property, receiver) {
      switch (property) {
        case 'queryRaw':
          return (query: SqlQuery) => inTenantTransaction((tx) => tx.queryRaw(query));
        case 'executeRaw':
          return (query: SqlQuery) => inTenantTransaction((tx) => tx.executeRaw(query));
        case 'startTransaction':
          return async (...args: Parameters<SqlDriverAdapter['startTransaction']>) => {
            const tx = await target.startTransaction(...args);
            await enter(tx);
            return tx;
          };
        case 'executeScript':
          return () => Promise.reject(new Error('scripts are not run on the tenant connection'));
        default:
          return Reflect.get(target, property, receiver) as unknown;
      }
    },
  });
}

function transactionalFactory(factory: SqlDriverAdapterFactory, enter: (tx: AdapterTransaction) => Promise<void>): SqlDriverAdapterFactory {
  return {
    provider: factory.provider,
    adapterName: factory.adapterName,
    connect: async () => inTransactions(await factory.connect(), enter),
  };
}

const tenantScope = (): ConnectionScope => ({ kind: 'tenant', role: APP_ROLE, tenantId: currentTenantId() ?? '' });

/** A pool whose clients losing their server never crash the process. */
function newPool(config: pg.PoolConfig): pg.Pool {
  const pool = new pg.Pool({ connectionTimeoutMillis: 5_000, ...config });
  // A client losing its server must not crash the process: an idle one is reported to the pool,
  // which replaces it; one checked out at that moment emits the error on itself, with no listener of
  // the pool's attached, while its statement fails with the same error and the pool drops it on
  // release.
  pool.on('error', () => undefined);
  pool.on('connect', (client) => client.on('error', () => undefined));
  return pool;
}

/**
 * On a server, each connection's session carries its scope (see ScopedConnections), so a statement
 * needs no transaction of its own. `embedded`: the embedded PGlite serves every connection from one
 * session and keeps a connection's statements together only inside a transaction; there every
 * statement runs in a transaction that takes its scope transaction-locally, the owner's included.
 */
export function createDatabase(url: string, poolMax: number, options: { embedded?: boolean; preparedStatements?: number } = {}): Database {
  // Prepared statements get connections of their own (see below): the pool's connections are shared
  // with them, at least one each.
  const preparedMax = !options.embedded && options.preparedStatements ? Math.max(1, Math.ceil(poolMax / 2)) : 0;
  const ormConnections = Math.max(1, poolMax - preparedMax);
  const pool = newPool({ connectionString: url, max: ormConnections });
  let system: PrismaClient;
  let prisma: PrismaClient;
  let ownerPool = pool;
  let tenantRows: TenantRows;
  let preparedPool: pg.Pool | undefined;
  if (options.embedded) {
    system = new PrismaClient({ adapter: transactionalFactory(new PrismaPg(pool), enterNothing) });
    prisma = new PrismaClient({ adapter: transactionalFactory(new PrismaPg(pool), enterTenant) });
    // The scope lives in a transaction there, taken as the tenant client takes it. Not through the
    // ORM's raw path, which passes parameters as JSON (bytes as base64) and costs a large one more
    // than the statement does.
    tenantRows = async <T>(sql: string, values: unknown[], options?: RowOptions) => {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        await client.query(ENTER_TENANT.sql, [APP_ROLE, currentTenantId() ?? '']);
        const { rows } = await client.query({ text: sql, values, ...options });
        await client.query('COMMIT');
        client.release();
        return rows as T[];
      } catch (error) {
        const rolledBack = await client.query('ROLLBACK').then(
          () => true,
          () => false,
        );
        // A connection that cannot even roll back is dropped, not handed to the next statement.
        client.release(rolledBack ? undefined : (error as Error));
        throw error;
      }
    };
  } else {
    const connections = new ScopedConnections(pool);
    ownerPool = connections.view(() => OWNER_SCOPE);
    const tenantPool = connections.view(tenantScope);
    system = new PrismaClient({ adapter: new PrismaPg(ownerPool) });
    prisma = new PrismaClient({ adapter: new PrismaPg(tenantPool) });
    if (preparedMax === 0) {
      tenantRows = async <T>(sql: string, values: unknown[], options?: RowOptions) => (await tenantPool.query({ text: sql, values, ...options })).rows as T[];
    } else {
      // Compiled reads repeat a few shapes per dashboard: prepared, they skip parsing and planning.
      // Planned once per connection, not again per execution: PostgreSQL keeps re-planning a
      // statement whose generic plan it costs above its custom ones, which for a page read off an
      // index is most of the statement's time. The setting applies to every statement with
      // parameters of a session, the unnamed ones the ORM sends included, so prepared statements
      // run on connections of their own that start with it; every other statement keeps
      // PostgreSQL's choice of a plan made for its values.
      const names = new PreparedStatementNames(options.preparedStatements!);
      preparedPool = newPool({ connectionString: url, max: preparedMax, options: '-c plan_cache_mode=force_generic_plan' });
      const preparedTenantPool = new ScopedConnections(preparedPool).view(tenantScope);
      tenantRows = async <T>(sql: string, values: unknown[], options?: RowOptions) => {
        const name = names.nameOf(sql);
        return (await (name ? preparedTenantPool : tenantPool).query({ name, text: sql, values, ...options })).rows as T[];
      };
    }
  }
  const pools = preparedPool ? [pool, preparedPool] : [pool];
  return {
    prisma,
    system,
    tenantRows,
    pool: ownerPool,
    ormConnections,
    poolStats: () => ({
      total: pools.reduce((n, p) => n + p.totalCount, 0),
      idle: pools.reduce((n, p) => n + p.idleCount, 0),
      waiting: pools.reduce((n, p) => n + p.waitingCount, 0),
    }),
    async close() {
      await Promise.all([prisma.$disconnect(), system.$disconnect()]);
      await Promise.all(pools.map((p) => p.end()));
    },
  };
}

/** Fails with the driver's reason when the database cannot answer a trivial query. */
export async function pingDatabase(pool: pg.Pool): Promise<void> {
  await pool.query('SELECT 1');
}
