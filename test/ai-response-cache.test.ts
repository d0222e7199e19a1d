import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LookupCachedResponseDocument, StoreCachedResponseDocument } from './generated/graphql.js';
import { runPostgresTests } from './helpers/backing-services.js';
import { servicesOf, startTestServer, type DatabaseKind, type SignedInUser, type TestServer } from './helpers/server.js';

const kinds: DatabaseKind[] = runPostgresTests ? ['pglite', 'postgres'] : ['pglite'];
const PROMPT = 'Summarise the cluster status';

describe.each(kinds)('response cache over HTTP on %s', (kind) => {
  let server: TestServer;
  let user: SignedInUser;

  const lookup = async (input: { prompt: string; parameters?: unknown; modelId?: string }, as: SignedInUser = user) => {
    const result = (await as.request(LookupCachedResponseDocument, { input })).data!.lookupCachedResponse;
    if (result.__typename !== 'LookupCachedResponseSuccess') throw new Error(`unexpected ${result.__typename}`);
    return result.lookup;
  };
  const store = async (input: { prompt: string; parameters?: unknown; modelId?: string; response: string; ttlSeconds?: number }, as: SignedInUser = user) =>
    (await as.request(StoreCachedResponseDocument, { input })).data!.storeCachedResponse;

  beforeAll(async () => {
    server = await startTestServer(kind);
    user = await server.signIn({ role: 'user' });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('misses, stores, then hits by prompt and parameters, counting hits', async () => {
    const parameters = { temperature: 0.2, top_p: 0.9, stop: ['\n'] };
    const miss = await lookup({ prompt: PROMPT, parameters, modelId: 'llama3-8b' });
    expect(miss).toMatchObject({ hit: false, entry: null });
    expect(miss.cacheKey).toMatch(/^[0-9a-f]{64}$/);

    const stored = await store({ prompt: PROMPT, parameters, modelId: 'llama3-8b', response: 'All 8 nodes are healthy.', ttlSeconds: 600 });
    expect(stored).toMatchObject({ __typename: 'StoreCachedResponseSuccess', cachedResponse: { cacheKey: miss.cacheKey, hitCount: 0 } });

    const first = await lookup({ prompt: PROMPT, parameters: { top_p: 0.9, stop: ['\n'], temperature: 0.2 }, modelId: 'llama3-8b' });
    expect(first).toMatchObject({ hit: true, cacheKey: miss.cacheKey, entry: { response: 'All 8 nodes are healthy.', hitCount: 1, parameters } });
    const second = await lookup({ prompt: PROMPT, parameters, modelId: 'llama3-8b' });
    expect(second.entry?.hitCount).toBe(2);

    expect((await lookup({ prompt: PROMPT, parameters: { ...parameters, temperature: 0.3 }, modelId: 'llama3-8b' })).hit).toBe(false);
    expect((await lookup({ prompt: PROMPT, parameters, modelId: 'mistral-7b' })).hit).toBe(false);
    expect((await lookup({ prompt: `${PROMPT}.`, parameters, modelId: 'llama3-8b' })).hit).toBe(false);
  });

  it('replaces an entry stored again and refuses a bad TTL', async () => {
    await store({ prompt: 'replace me', response: 'old' });
    await lookup({ prompt: 'replace me' });
    await store({ prompt: 'replace me', response: 'new', ttlSeconds: 60 });
    expect(await lookup({ prompt: 'replace me' })).toMatchObject({ hit: true, entry: { response: 'new', hitCount: 1 } });
    const refused = await store({ prompt: 'x', response: 'y', ttlSeconds: 0 });
    expect(refused).toMatchObject({ __typename: 'ValidationError', issues: [{ path: 'ttlSeconds' }] });
  });

  it('never returns an expired entry, and the purge job removes it', async () => {
    const stored = await store({ prompt: 'short-lived', response: 'stale soon', ttlSeconds: 60 });
    if (stored.__typename !== 'StoreCachedResponseSuccess') throw new Error(stored.__typename);
    const expired = new Date(Date.now() - 1000);
    await server.db.system.responseCache.updateMany({
      where: { cacheKey: stored.cachedResponse.cacheKey },
      data: { createdAt: new Date(expired.getTime() - 60_000), expiresAt: expired },
    });
    expect(await lookup({ prompt: 'short-lived' })).toMatchObject({ hit: false, entry: null });
    expect((await server.db.system.responseCache.findFirstOrThrow({ where: { cacheKey: stored.cachedResponse.cacheKey } })).hitCount).toBe(0);

    const purged = await servicesOf(server).responseCache.purgeExpired();
    expect(purged).toBe(1);
    expect(await server.db.system.responseCache.count({ where: { cacheKey: stored.cachedResponse.cacheKey } })).toBe(0);
    expect(await server.db.system.responseCache.count({ where: { tenantId: user.tenantId } })).toBe(2);
  });

  it('keeps each tenant’s cache to itself', async () => {
    const stranger = await server.signIn({ role: 'user' });
    const parameters = { temperature: 0.2, top_p: 0.9, stop: ['\n'] };
    expect(await lookup({ prompt: PROMPT, parameters, modelId: 'llama3-8b' }, stranger)).toMatchObject({ hit: false, entry: null });
    await store({ prompt: PROMPT, parameters, modelId: 'llama3-8b', response: 'Their answer' }, stranger);
    expect((await lookup({ prompt: PROMPT, parameters, modelId: 'llama3-8b' })).entry?.response).toBe('All 8 nodes are healthy.');
    expect((await lookup({ prompt: PROMPT, parameters, modelId: 'llama3-8b' }, stranger)).entry?.response).toBe('Their answer');
  });

  it('keeps prompts with quotes as data', async () => {
    const prompt = "'); DELETE FROM response_cache; --";
    await store({ prompt, parameters: { "x'": "y'" }, response: 'quoted' });
    expect(await lookup({ prompt, parameters: { "x'": "y'" } })).toMatchObject({ hit: true, entry: { response: 'quoted' } });
    expect(await server.db.system.responseCache.count({ where: { tenantId: user.tenantId } })).toBe(3);
  });

  it('needs cache permissions', async () => {
    const anonymous = server.withHeaders({});
    const refused = await anonymous.request(LookupCachedResponseDocument, { input: { prompt: 'x' } });
    expect(refused.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    // A lookup counts a hit: read-only principals may not make one.
    const reader = await server.signIn({ role: 'readonly', tenantId: user.tenantId });
    const forbidden = await reader.request(LookupCachedResponseDocument, { input: { prompt: PROMPT } });
    expect(forbidden.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });
});
