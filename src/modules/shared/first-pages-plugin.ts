import SchemaBuilder, { BasePlugin, type PothosOutputFieldConfig, type SchemaTypes } from '@pothos/core';
import type { GraphQLFieldResolver } from 'graphql';
import { readFirstPage, type FirstPages } from './compiled-read.js';
import { withGraphQLErrors } from './graphql-errors.js';

declare global {
  export namespace PothosSchemaTypes {
    export interface Plugins<Types extends SchemaTypes> {
      firstPages: FirstPagesPlugin<Types>;
    }
  }
}

/** The field extension that declares a connection's first pages compiled (see readFirstPage). */
export const FIRST_PAGES = 'compiledFirstPages';

/**
 * Connection fields that declare FIRST_PAGES read their first pages in one compiled statement before
 * the ORM plugin plans a query for them. Listed after the auth plugin, so its wrapper runs inside the
 * field's authorization; any page it does not read goes on to the field's own resolver.
 */
export class FirstPagesPlugin<Types extends SchemaTypes> extends BasePlugin<Types> {
  override wrapResolve(resolver: GraphQLFieldResolver<unknown, Types['Context'], object>, fieldConfig: PothosOutputFieldConfig<Types>): GraphQLFieldResolver<unknown, Types['Context'], object> {
    const pages = fieldConfig.extensions?.[FIRST_PAGES] as FirstPages | undefined;
    if (!pages) return resolver;
    const prisma = (this.builder.options as { prisma?: { defaultConnectionSize?: number; maxConnectionSize?: number } }).prisma;
    const sizes = { defaultSize: prisma?.defaultConnectionSize ?? 20, maxSize: prisma?.maxConnectionSize ?? 100 };
    return async (parent, args, ctx, info) => {
      const page = await withGraphQLErrors(() => readFirstPage(pages, sizes, parent, args as Record<string, unknown>, ctx as never, info));
      return page ?? resolver(parent, args, ctx, info);
    };
  }
}

SchemaBuilder.registerPlugin('firstPages', FirstPagesPlugin);

export default 'firstPages' as const;
