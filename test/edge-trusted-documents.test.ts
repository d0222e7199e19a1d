import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { MeDocument } from './generated/graphql.js';
import { bearer, wsClient } from './helpers/realtime.js';
import { startTestServer, type SignedInUser, type TestServer } from './helpers/server.js';

/** The manifest `npm run codegen` writes from test/operations: hash -> document. */
const MANIFEST = fileURLToPath(new URL('./generated/persisted-documents.json', import.meta.url));
const edge = loadConfig({}).edge;
const meHash = (MeDocument as unknown as { __meta__: { hash: string } }).__meta__.hash;
const byHash = (hash: string) => ({ extensions: { persistedQuery: { version: 1, sha256Hash: hash } } });
const ARBITRARY = '{ me { role } }';

interface Answer {
  status: number;
  body: { data?: Record<string, unknown>; errors?: { message: string; extensions?: Record<string, unknown> }[] };
}

function poster(server: TestServer, user: SignedInUser) {
  return async (body: unknown): Promise<Answer> => {
    const response = await fetch(server.url, { method: 'POST', headers: { 'content-type': 'application/json', ...user.headers }, body: JSON.stringify(body) });
    return { status: response.status, body: (await response.json()) as Answer['body'] };
  };
}

describe('the trusted-documents manifest codegen writes', () => {
  it('lists every operation of test/operations by its sha256 hash', () => {
    expect(existsSync(MANIFEST)).toBe(true);
    const manifest = JSON.parse(readFileSync(MANIFEST, 'utf8')) as Record<string, string>;
    expect(meHash).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(manifest[meHash]).toMatch(/^query Me\b/);
    expect(Object.keys(manifest).length).toBeGreaterThan(50);
  });

  it('TRUSTED_DOCUMENTS_ONLY needs a manifest, and is on by default once one is given', () => {
    expect(() => loadConfig({ TRUSTED_DOCUMENTS_ONLY: 'true' })).toThrow(/^TRUSTED_DOCUMENTS_ONLY requires TRUSTED_DOCUMENTS_FILE/);
    expect(loadConfig({ TRUSTED_DOCUMENTS_FILE: MANIFEST }).edge.trustedDocumentsOnly).toBe(true);
    expect(loadConfig({ TRUSTED_DOCUMENTS_FILE: MANIFEST, TRUSTED_DOCUMENTS_ONLY: 'false' }).edge.trustedDocumentsOnly).toBe(false);
  });
});

describe('trusted documents enforced', () => {
  let server: TestServer;
  let user: SignedInUser;
  let post: (body: unknown) => Promise<Answer>;

  beforeAll(async () => {
    server = await startTestServer('pglite', { edge: { ...edge, trustedDocumentsFile: MANIFEST, trustedDocumentsOnly: true } });
    user = await server.signIn({ role: 'readonly' });
    post = poster(server, user);
  });
  afterAll(async () => {
    await server?.close();
  });

  it('runs a listed operation sent by its hash, in either form', async () => {
    for (const hash of [meHash, meHash.replace('sha256:', '')]) {
      const answer = await post(byHash(hash));
      expect(answer.body.errors).toBeUndefined();
      expect(answer.body.data).toMatchObject({ me: { role: 'READONLY' } });
    }
  });

  it('refuses any document sent as text, listed or not, and an unknown hash, each with its code', async () => {
    const arbitrary = await post({ query: ARBITRARY });
    expect(arbitrary.status).toBe(400);
    expect(arbitrary.body.errors?.map((error) => error.extensions?.code)).toEqual(['TRUSTED_DOCUMENT_REQUIRED']);
    const manifest = JSON.parse(readFileSync(MANIFEST, 'utf8')) as Record<string, string>;
    const listedText = await post({ query: manifest[meHash] });
    expect(listedText.body.errors?.map((error) => error.extensions?.code)).toEqual(['TRUSTED_DOCUMENT_REQUIRED']);
    const unknown = await post(byHash(`sha256:${'0'.repeat(64)}`));
    expect(unknown.status).toBe(400);
    expect(unknown.body.errors?.map((error) => error.extensions?.code)).toEqual(['PERSISTED_QUERY_NOT_IN_LIST']);
  });

  it('applies over graphql-ws too: a listed operation by hash runs, an arbitrary subscription is refused', async () => {
    const client = wsClient(server.url, bearer(user.token));
    try {
      const listed = await client.iterate({ query: '', ...byHash(meHash) }).next();
      expect(listed.value).toMatchObject({ data: { me: { role: 'READONLY' } } });
      const refused = await client
        .iterate({ query: 'subscription { nodeStatusChanged { status } }' })
        .next()
        .then(
          () => [],
          (errors: { extensions?: Record<string, unknown> }[]) => errors.map((error) => error.extensions?.code),
        );
      expect(refused).toEqual(['TRUSTED_DOCUMENT_REQUIRED']);
    } finally {
      await client.dispose();
    }
  });
});

describe('trusted documents not enforced', () => {
  let server: TestServer;
  let post: (body: unknown) => Promise<Answer>;

  beforeAll(async () => {
    server = await startTestServer('pglite', { edge: { ...edge, trustedDocumentsFile: MANIFEST, trustedDocumentsOnly: false } });
    post = poster(server, await server.signIn({ role: 'readonly' }));
  });
  afterAll(async () => {
    await server?.close();
  });

  it('runs arbitrary documents, and listed ones by hash', async () => {
    expect((await post({ query: ARBITRARY })).body).toEqual({ data: { me: { role: 'READONLY' } } });
    expect((await post(byHash(meHash))).body.data).toMatchObject({ me: { role: 'READONLY' } });
  });
});
