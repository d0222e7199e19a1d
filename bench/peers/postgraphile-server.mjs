/**
 * The peer of bench/query.ts: PostGraphile 5 (Amber preset) on the bench database. It verifies the
 * same access token as the API and reads under the same row-level security: role omega_app and
 * app.current_tenant_id, per request through pgSettings.
 *
 *   node -r ./with-resolvers.cjs postgraphile-server.mjs   (env: DATABASE_URL, PORT, JWT_SECRET, JWT_ISSUER, JWT_AUDIENCE, DB_POOL_MAX)
 */
import { createServer } from 'node:http';
import { jwtVerify } from 'jose';
import { postgraphile } from 'postgraphile';
import { makePgService } from 'postgraphile/adaptors/pg';
import { grafserv } from 'postgraphile/grafserv/node';
import { PostGraphileAmberPreset } from 'postgraphile/presets/amber';

const env = (name, fallback) => process.env[name] ?? fallback;
const secret = new TextEncoder().encode(env('JWT_SECRET'));
const verifyOptions = { issuer: env('JWT_ISSUER', 'omega-control-plane'), audience: env('JWT_AUDIENCE', 'omega-api'), algorithms: ['HS256'] };

/** The tenant of a valid bearer token; a request without one reads nothing (no tenant set). */
async function tenantOf(authorization) {
  const match = /^Bearer (.+)$/.exec(authorization ?? '');
  if (!match) return '';
  const { payload } = await jwtVerify(match[1], secret, verifyOptions);
  return typeof payload.tid === 'string' ? payload.tid : '';
}

const preset = {
  extends: [PostGraphileAmberPreset],
  pgServices: [
    makePgService({
      connectionString: env('DATABASE_URL'),
      schemas: ['public'],
      poolConfig: { max: Number(env('DB_POOL_MAX', '10')) },
    }),
  ],
  grafserv: { graphqlPath: '/graphql', graphiql: false, watch: false },
  grafast: {
    explain: false,
    async context(requestContext) {
      const authorization = requestContext.node?.req?.headers?.authorization;
      return { pgSettings: { role: 'omega_app', 'app.current_tenant_id': await tenantOf(authorization) } };
    },
  },
};

const pgl = postgraphile(preset);
const serv = pgl.createServ(grafserv);
const server = createServer();
serv.addTo(server).catch((error) => {
  console.error(error);
  process.exit(1);
});
server.listen(Number(env('PORT', '0')), '127.0.0.1', () => {
  console.log(`listening ${server.address().port}`);
});
const stop = () => {
  server.close();
  void pgl.release().finally(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
