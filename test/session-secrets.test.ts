import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SecretBox } from '../src/infra/secret-box.js';
import { CreateSessionDocument, SessionEnvironmentDocument } from './generated/graphql.js';
import { aSession, rawId } from './helpers/builders.js';
import { runPostgresTests } from './helpers/backing-services.js';
import { expectResult, startTestServer, type DatabaseKind, type SignedInUser, type TestServer } from './helpers/server.js';

const kinds: DatabaseKind[] = runPostgresTests ? ['pglite', 'postgres'] : ['pglite'];
const AWS_SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';

describe.each(kinds)('session secrets on %s', (kind) => {
  let server: TestServer;
  let owner: SignedInUser;
  let sessionId: string;

  beforeAll(async () => {
    server = await startTestServer(kind, { jobsEnabled: false });
    owner = await server.signIn({ role: 'user' });
    const created = await owner.request(CreateSessionDocument, {
      input: aSession({ environmentVariables: { REGION: 'eu-west-1' }, secretEnvironmentVariables: { AWS_SECRET_ACCESS_KEY: AWS_SECRET } }),
    });
    sessionId = expectResult(created, 'CreateSessionSuccess').session.id;
  });
  afterAll(async () => {
    await server?.close();
  });

  it('stores secret values sealed and shows them masked, to the owner too', async () => {
    const row = await server.db.system.session.findUniqueOrThrow({ where: { id: rawId(sessionId) } });
    const stored = row.environmentVariables as Record<string, string>;
    expect(stored.REGION).toBe('eu-west-1');
    expect(SecretBox.isSealed(stored.AWS_SECRET_ACCESS_KEY!)).toBe(true);
    expect(JSON.stringify(row)).not.toContain(AWS_SECRET);
    const seen = (await owner.request(SessionEnvironmentDocument, { id: sessionId })).data!.session!.environmentVariables;
    expect(seen).toEqual({ REGION: 'eu-west-1', AWS_SECRET_ACCESS_KEY: '********' });
  });

  it('shows the variables to operators and admins, and to no other user of the tenant', async () => {
    for (const role of ['operator', 'admin'] as const) {
      const reader = await server.signIn({ role, tenantId: owner.tenantId });
      expect((await reader.request(SessionEnvironmentDocument, { id: sessionId })).data!.session!.environmentVariables).toEqual({ REGION: 'eu-west-1', AWS_SECRET_ACCESS_KEY: '********' });
    }
    const colleague = await server.signIn({ role: 'user', tenantId: owner.tenantId });
    const seen = await colleague.request(SessionEnvironmentDocument, { id: sessionId });
    expect(seen.errors).toBeUndefined();
    expect(seen.data!.session!.environmentVariables).toBeNull();
  });

  it('refuses a secret that is also a plain variable, and a plain value shaped like a sealed one', async () => {
    const twice = await owner.request(CreateSessionDocument, { input: aSession({ environmentVariables: { TOKEN: 'a' }, secretEnvironmentVariables: { TOKEN: 'b' } }) });
    expect(twice.data?.createSession.__typename).toBe('ValidationError');
    const forged = await owner.request(CreateSessionDocument, { input: aSession({ environmentVariables: { TOKEN: 'enc:v1:abc:def' } }) });
    expect(forged.data?.createSession.__typename).toBe('ValidationError');
  });
});
