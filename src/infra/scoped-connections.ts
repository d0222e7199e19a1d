import pg from 'pg';

/**
 * Who a pooled connection's session acts as: the owner (cross-tenant work), or a role confined by
 * row-level security within one tenant ('' = no tenant, which sees no tenant's rows).
 */
export type ConnectionScope = { kind: 'owner' } | { kind: 'tenant'; role: string; tenantId: string };

export const OWNER_SCOPE: ConnectionScope = { kind: 'owner' };

const keyOf = (scope: ConnectionScope) => (scope.kind === 'owner' ? 'owner' : `${scope.role}/${scope.tenantId}`);

const ENTER_TENANT = "SELECT set_config('role', $1, false), set_config('app.current_tenant_id', $2, false)";
const ENTER_OWNER = "SELECT set_config('role', 'none', false), set_config('app.current_tenant_id', '', false)";

type Queryable = Pick<pg.Pool, 'query' | 'connect' | 'on' | 'removeListener' | 'end' | 'options'>;

/**
 * Views of one PostgreSQL pool that hand out connections already in a scope. The scope is set on
 * the session, and only when a connection's last scope differs, so a statement costs no extra round
 * trip while a connection keeps serving one tenant; it is set before the statement on the same
 * connection, so no statement runs in another caller's scope. Transactions start on a connection
 * that is already in scope. A connection whose scope is not known for certain (a failed switch) is
 * switched again before its next use. Only for a server: the embedded database's connections share
 * one session, where a session-wide scope would leak between them.
 */
export class ScopedConnections {
  /** The scope each connection's session is in; a connection absent here is switched before use. */
  private readonly scopes = new WeakMap<pg.PoolClient, string>();

  constructor(private readonly pool: pg.Pool) {
    // A new session acts as the login role (the owner) with no tenant.
    pool.on('connect', (client) => this.scopes.set(client, 'owner'));
  }

  /** A connection in `scope`; release it as any pooled client. */
  async connect(scope: ConnectionScope): Promise<pg.PoolClient> {
    const client = await this.pool.connect();
    const key = keyOf(scope);
    if (this.scopes.get(client) === key) return client;
    this.scopes.delete(client);
    try {
      if (scope.kind === 'owner') await client.query(ENTER_OWNER);
      else await client.query(ENTER_TENANT, [scope.role, scope.tenantId]);
    } catch (error) {
      client.release(error as Error);
      throw error;
    }
    this.scopes.set(client, key);
    return client;
  }

  /**
   * A pg.Pool for callers (Prisma's adapter, health checks) whose every connection and statement
   * runs in the scope `scopeOf` names at that moment.
   */
  view(scopeOf: () => ConnectionScope): pg.Pool {
    const connect = () => this.connect(scopeOf());
    const query = async (textOrConfig: string | pg.QueryConfig, values?: unknown[]) => {
      const client = await connect();
      try {
        const result = await client.query(textOrConfig as pg.QueryConfig, values);
        client.release();
        return result;
      } catch (error) {
        // The server refusing a statement leaves the session as it was; anything else may not have.
        client.release(error instanceof pg.DatabaseError ? undefined : (error as Error));
        throw error;
      }
    };
    const pool = this.pool;
    const view: Queryable = {
      options: pool.options,
      query: query as pg.Pool['query'],
      connect: connect as pg.Pool['connect'],
      on: ((event: 'error', listener: (...args: unknown[]) => void) => (pool.on(event, listener), view)) as pg.Pool['on'],
      removeListener: ((event: 'error', listener: (...args: unknown[]) => void) => (pool.removeListener(event, listener), view)) as pg.Pool['removeListener'],
      end: (() => pool.end()) as pg.Pool['end'],
    };
    // Prisma's adapter accepts only a pg.Pool instance; the view has the surface it uses.
    return Object.assign(Object.create(pg.Pool.prototype) as pg.Pool, view);
  }
}
