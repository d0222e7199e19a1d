import { builder } from '../../builder.js';
import { tenantOf } from '../../context.js';
import { compact } from '../shared/graphql.js';
import { ValidationError } from '../shared/errors.js';
import type { CacheLookup } from './response-cache.service.js';
import { mutationErrors } from '../shared/graphql-errors.js';

export const CachedResponseRef = builder.prismaNode('ResponseCache', {
  name: 'CachedResponse',
  description: 'A response kept for a prompt and its generation parameters until it expires',
  id: { field: 'id' },
  fields: (t) => ({
    cacheKey: t.exposeString('cacheKey', { description: 'SHA-256 of the model, prompt and parameters' }),
    modelId: t.exposeString('modelId', { nullable: true }),
    prompt: t.exposeString('prompt'),
    parameters: t.expose('parameters', { type: 'JSON' }),
    response: t.exposeString('response'),
    metrics: t.expose('metrics', { type: 'JSON', nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    expiresAt: t.expose('expiresAt', { type: 'DateTime' }),
    hitCount: t.exposeInt('hitCount', { description: 'Lookups that found it since it was stored' }),
  }),
});

const CacheLookupRef = builder.objectRef<CacheLookup>('CacheLookup').implement({
  fields: (t) => ({
    hit: t.exposeBoolean('hit'),
    cacheKey: t.exposeString('cacheKey'),
    entry: t.field({ type: CachedResponseRef, nullable: true, resolve: (lookup) => lookup.entry }),
  }),
});

const CacheKeyInput = {
  prompt: 'The prompt exactly as sent to the model',
  parameters: 'Generation parameters (temperature, top_p, ...); key order does not matter',
};

const LookupCachedResponseInput = builder.inputType('LookupCachedResponseInput', {
  fields: (t) => ({
    prompt: t.string({ required: true, description: CacheKeyInput.prompt }),
    parameters: t.field({ type: 'JSON', required: false, description: CacheKeyInput.parameters }),
    modelId: t.string({ required: false, description: "The model's catalog key" }),
  }),
});

const StoreCachedResponseInput = builder.inputType('StoreCachedResponseInput', {
  fields: (t) => ({
    prompt: t.string({ required: true, description: CacheKeyInput.prompt }),
    parameters: t.field({ type: 'JSON', required: false, description: CacheKeyInput.parameters }),
    modelId: t.string({ required: false }),
    response: t.string({ required: true }),
    metrics: t.field({ type: 'JSON', required: false }),
    ttlSeconds: t.int({ required: false, description: '1 second to 30 days; defaults to 3600' }),
  }),
});

builder.mutationFields((t) => ({
  lookupCachedResponse: t.field({
    type: CacheLookupRef,
    description: 'Looks up an unexpired response for this prompt and these parameters; a hit is counted, so it is a write',
    authScopes: { permission: 'cache:write' },
    errors: mutationErrors('LookupCachedResponse', 'lookup', [ValidationError]),
    args: { input: t.arg({ type: LookupCachedResponseInput, required: true }) },
    resolve: (_root, args, ctx) => ctx.services.responseCache.lookup(tenantOf(ctx), compact(args.input)),
  }),
  storeCachedResponse: t.field({
    type: CachedResponseRef,
    description: 'Keeps a response for this prompt and these parameters for ttlSeconds, replacing an earlier one',
    authScopes: { permission: 'cache:write' },
    errors: mutationErrors('StoreCachedResponse', 'cachedResponse', [ValidationError]),
    args: { input: t.arg({ type: StoreCachedResponseInput, required: true }) },
    resolve: (_root, args, ctx) => ctx.services.responseCache.store(tenantOf(ctx), compact(args.input)),
  }),
}));
