import SchemaBuilder from '@pothos/core';
import ErrorsPlugin from '@pothos/plugin-errors';
import PrismaPlugin from '@pothos/plugin-prisma';
import RelayPlugin from '@pothos/plugin-relay';
import ScopeAuthPlugin from '@pothos/plugin-scope-auth';
import FirstPagesPlugin from './modules/shared/first-pages-plugin.js';
import { GraphQLError } from 'graphql';
import type { Prisma } from './generated/prisma/client.js';
import type PrismaTypes from './generated/pothos-types.js';
import { getDatamodel } from './generated/pothos-types.js';
import { runsInProduction } from './config.js';
import type { Context } from './context.js';
import type { Permission } from './modules/identity/permissions.js';
import { can } from './modules/identity/principal.js';

export const builder = new SchemaBuilder<{
  Context: Context;
  PrismaTypes: PrismaTypes;
  DefaultFieldNullability: false;
  AuthScopes: {
    /** Any signed-in user or valid API key. */
    authenticated: boolean;
    /** The principal's role (or API key scopes) grants this permission. */
    permission: Permission;
  };
  Scalars: {
    DateTime: { Input: Date; Output: Date };
    JSON: { Input: Prisma.InputJsonValue; Output: unknown };
  };
}>({
  // FirstPagesPlugin last: its wrapper runs inside the others', after a field's authorization.
  plugins: [ScopeAuthPlugin, ErrorsPlugin, PrismaPlugin, RelayPlugin, FirstPagesPlugin],
  defaultFieldNullability: false,
  scopeAuth: {
    authorizeOnSubscribe: true,
    authScopes: (ctx) => ({
      authenticated: ctx.principal !== null,
      permission: (permission) => can(ctx.principal, permission),
    }),
    unauthorizedError: (_parent, ctx) =>
      ctx.principal
        ? new GraphQLError('Not allowed', { extensions: { code: 'FORBIDDEN', http: { status: 200 } } })
        : new GraphQLError('Authentication required', { extensions: { code: 'UNAUTHENTICATED' } }),
  },
  prisma: {
    // The tenant client: row-level security confines every query to the request's tenant.
    client: (ctx) => ctx.prisma,
    dmmf: getDatamodel(),
    exposeDescriptions: false,
    filterConnectionTotalCount: true,
    onUnusedQuery: runsInProduction() ? null : 'warn',
    defaultConnectionSize: 20,
    maxConnectionSize: 100,
  },
  relay: {
    clientMutationId: 'omit',
    cursorType: 'String',
    // The cluster has its own `node(id)` and `nodes` fields; Relay's generic ones would clash.
    nodeQueryOptions: false,
    nodesQueryOptions: false,
  },
  errors: { defaultTypes: [] },
});

builder.queryType({});
builder.mutationType({});
builder.subscriptionType({});
