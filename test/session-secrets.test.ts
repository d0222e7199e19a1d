import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SecretBox } from '../src/infra/secret-box.js';
import { encodeGlobalID } from '@pothos/plugin-relay';
import {
  CreateApiKeyDocument,
  CreateSessionDocument,
  OpenSessionEnvironmentDocument,
  RevokeApiKeyDocument,
  ScheduleSessionDocument,
  SessionEnvironmentDocument,
  TransitionSessionDocument,
} from './generated/graphql.js';
import { aComputeNode, aRegisteredNode, aSession, rawId } from './helpers/builders.js';
import { runPostgresTests } from './helpers/backing-services.js';
import { expectResult, startTestServer, type DatabaseKind, type GraphQLClient, type SignedInUser, type TestServer } from './helpers/server.js';

const kinds: DatabaseKind[] = runPostgresTests ? ['pglite', 'postgres'] : ['pglite'];
const AWS_SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
/** Rows as text, their write-order numbers (bigint) included. */
const asText = (_key: string, value: unknown) => (typeof value === 'bigint' ? String(value) : value);

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
    expect(JSON.stringify(row, asText)).not.toContain(AWS_SECRET);
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

describe.each(kinds)("the agent's key opens the secrets of its node's sessions, and nothing else does, on %s", (kind) => {
  let server: TestServer;
  let admin: SignedInUser;
  let owner: SignedInUser;
  let environmentId: string;
  const AGENT_SCOPES = ['cluster:read', 'cluster:write', 'sessions:read', 'sessions:write', 'sessions:manage', 'metrics:write'];

  /** An agent's API key in the admin's tenant: its id and a client sending it. */
  const anAgentKey = async (name: string): Promise<{ id: string; client: GraphQLClient }> => {
    const created = expectResult(await admin.request(CreateApiKeyDocument, { input: { name, environmentId, scopes: AGENT_SCOPES } }), 'CreateApiKeySuccess').created;
    return { id: created.apiKey.id, client: server.withHeaders({ 'x-api-key': created.secret }) };
  };
  /** A machine an agent registers, labelled so sessions can be sent to it. */
  const aMachine = (machineId: string) => aComputeNode({ machineId, labels: { machine: machineId } });
  /** A session of the owner with a secret, placed on that machine's node. */
  const aPlacedSecretSession = async (machineId: string) => {
    const input = aSession({
      cpuRequest: 0.1,
      memoryRequestGb: 0.1,
      environmentVariables: { REGION: 'eu' },
      secretEnvironmentVariables: { TOKEN: AWS_SECRET },
      placementPreferences: { nodeSelector: { machine: machineId } },
    });
    const created = expectResult(
      await owner.request(CreateSessionDocument, { input }),
      'CreateSessionSuccess',
    ).session;
    expectResult(await admin.request(ScheduleSessionDocument, { id: created.id }), 'ScheduleSessionSuccess');
    return created.id;
  };
  const open = async (client: GraphQLClient, id: string) => {
    const result = (await client.request(OpenSessionEnvironmentDocument, { id })).data!.openSessionEnvironment;
    return result.__typename === 'OpenSessionEnvironmentSuccess' ? result.environment.variables : result.__typename;
  };

  beforeAll(async () => {
    server = await startTestServer(kind, { jobsEnabled: false });
    admin = await server.signIn({ role: 'admin' });
    owner = await server.signIn({ role: 'user', tenantId: admin.tenantId });
    const environment = await server.db.system.environment.create({ data: { tenantId: admin.tenantId, name: 'prod' } });
    environmentId = encodeGlobalID('Environment', environment.id);
  });
  afterAll(async () => {
    await server?.close();
  });

  it('opens them for the key that registered the node, while the session is placed there, and names the variables (not their values) in an event', async () => {
    const agent = await anAgentKey('agent of node one');
    const other = await anAgentKey('another agent');
    const machine = aMachine('secrets-machine-1');
    await aRegisteredNode(agent.client, machine);
    const sessionId = await aPlacedSecretSession('secrets-machine-1');

    expect(await open(agent.client, sessionId)).toEqual({ REGION: 'eu', TOKEN: AWS_SECRET });
    // Another key of the tenant with the same scopes, the session's owner and an admin: refused.
    expect(await open(other.client, sessionId)).toBe('ForbiddenError');
    expect(await open(owner, sessionId)).toBe('ForbiddenError');
    expect(await open(admin, sessionId)).toBe('ForbiddenError');
    // Registering the same machine with another key does not take it over while the first key lives.
    await aRegisteredNode(other.client, machine);
    expect(await open(other.client, sessionId)).toBe('ForbiddenError');

    const events = await server.db.system.systemEvent.findMany({ where: { tenantId: admin.tenantId, eventType: 'session.environment_opened' } });
    expect(events.map((event) => event.details)).toEqual([expect.objectContaining({ sessionId: rawId(sessionId), apiKeyId: rawId(agent.id), secretNames: ['TOKEN'] })]);
    expect(JSON.stringify(events, asText)).not.toContain(AWS_SECRET);

    // Once the session has ended, not even its agent opens it.
    expectResult(await owner.request(TransitionSessionDocument, { id: sessionId, status: 'CANCELLED' }), 'TransitionSessionSuccess');
    expect(await open(agent.client, sessionId)).toBe('ForbiddenError');
  });

  it("passes to a new key once the node's key is revoked (a rotation), and is nothing to another tenant", async () => {
    const retiring = await anAgentKey('retiring agent key');
    const machine = aMachine('secrets-machine-2');
    await aRegisteredNode(retiring.client, machine);
    const sessionId = await aPlacedSecretSession('secrets-machine-2');
    expectResult(await admin.request(RevokeApiKeyDocument, { id: retiring.id }), 'RevokeApiKeySuccess');
    const successor = await anAgentKey('new agent key');
    expect(await open(successor.client, sessionId)).toBe('ForbiddenError');
    await aRegisteredNode(successor.client, machine);
    expect(await open(successor.client, sessionId)).toEqual({ REGION: 'eu', TOKEN: AWS_SECRET });

    const stranger = await server.signIn({ role: 'admin' });
    expect(await open(stranger, sessionId)).toBe('NotFoundError');
  });
});
