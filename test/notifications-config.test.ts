import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { SecretBox } from '../src/infra/secret-box.js';
import { postWebhook } from '../src/modules/notifications/webhook-sender.js';
import { isPublicAddress, resolveTarget } from '../src/modules/notifications/webhook-target.js';
import {
  CreateNotificationConfigDocument,
  DeleteNotificationConfigDocument,
  NotificationConfigByIdDocument,
  NotificationConfigsDocument,
  UpdateNotificationConfigDocument,
  type CreateNotificationConfigInput,
} from './generated/graphql.js';
import { runPostgresTests } from './helpers/backing-services.js';
import { startTestServer, type DatabaseKind, type SignedInUser, type TestServer } from './helpers/server.js';

const kinds: DatabaseKind[] = runPostgresTests ? ['pglite', 'postgres'] : ['pglite'];
const SECRET = 'whsec-test-0123456789abcdef';

/** A generic webhook on a public address (never called: configuration only checks where it points). */
const aWebhook = (overrides: Partial<CreateNotificationConfigInput> = {}): CreateNotificationConfigInput => ({
  name: `hook-${Math.random().toString(36).slice(2, 8)}`,
  channelType: 'WEBHOOK',
  targetUrl: 'https://93.184.215.14/omega/events?token=abc',
  secret: SECRET,
  eventTypes: ['NODE_FAILED', 'SESSION_FAILED'],
  ...overrides,
});

async function created(user: SignedInUser, input: CreateNotificationConfigInput) {
  const result = await user.request(CreateNotificationConfigDocument, { input });
  const outcome = result.data?.createNotificationConfig;
  if (outcome?.__typename !== 'CreateNotificationConfigSuccess') throw new Error(`not created: ${JSON.stringify(result)}`);
  return outcome.notificationConfig;
}

describe('webhook targets', () => {
  it('classifies addresses: loopback, private, link-local, unique-local and their IPv4-in-IPv6 forms are not public', () => {
    const internal = [
      ...['127.0.0.1', '10.1.2.3', '172.16.0.1', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0'],
      ...['::1', '::', 'fe80::1', 'fd00::1', '::ffff:127.0.0.1', '::ffff:a00:1', '64:ff9b::7f00:1', '2002:c0a8:101::1', 'ff02::1'],
    ];
    const external = ['93.184.215.14', '8.8.8.8', '172.32.0.1', '2606:4700:4700::1111', '::ffff:8.8.8.8'];
    expect(internal.filter(isPublicAddress)).toEqual([]);
    expect(external.filter((address) => !isPublicAddress(address))).toEqual([]);
  });

  it('checks every address a host resolves to, so one private answer refuses the target', async () => {
    const lookup = async () => [
      { address: '93.184.215.14', family: 4 },
      { address: '10.0.0.7', family: 4 },
    ];
    await expect(resolveTarget('https://mixed.example/hook', { allowPrivateTargets: false, lookup })).rejects.toThrow(/private/);
    await expect(resolveTarget('https://mixed.example/hook', { allowPrivateTargets: true, lookup })).resolves.toMatchObject({ address: '93.184.215.14' });
    await expect(resolveTarget('gopher://93.184.215.14/', { allowPrivateTargets: true })).rejects.toThrow(/http or https/);
    await expect(resolveTarget('https://user:pw@93.184.215.14/', { allowPrivateTargets: true })).rejects.toThrow(/credentials/);
  });

  it('connects to the address it checked, not to a later DNS answer', async () => {
    const seen: { host?: string; url?: string }[] = [];
    const receiver = createServer((request: IncomingMessage, response) => {
      seen.push({ host: request.headers.host, url: request.url });
      request.resume();
      request.on('end', () => response.end('ok'));
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const { port } = receiver.address() as AddressInfo;
    try {
      // The name does not exist in DNS: the request can only arrive if the checked address is used.
      let answers = 0;
      const lookup = async () => {
        answers += 1;
        return [{ address: '127.0.0.1', family: 4 }];
      };
      const target = await resolveTarget(`http://receiver.omega.invalid:${port}/hook`, { allowPrivateTargets: true, lookup });
      const response = await postWebhook(target, { 'content-type': 'application/json' }, '{}', 2_000);
      expect(response).toEqual({ status: 200, bodySnippet: 'ok' });
      expect(answers).toBe(1);
      expect(seen).toEqual([{ host: `receiver.omega.invalid:${port}`, url: '/hook' }]);
    } finally {
      await new Promise((resolve) => receiver.close(resolve));
    }
  });
});

describe.each(kinds)('notification channels over HTTP on %s', (kind) => {
  let server: TestServer;
  let admin: SignedInUser;

  beforeAll(async () => {
    // The operator's default: private and loopback targets are refused.
    server = await startTestServer(kind, { jobsEnabled: false }, { env: { NOTIFICATIONS_ALLOW_PRIVATE_TARGETS: '' } });
    admin = await server.signIn({ role: 'admin' });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('creates a channel and never shows its secret; query values in the URL are hidden', async () => {
    const result = await admin.request(CreateNotificationConfigDocument, { input: aWebhook({ name: 'ops-hook', maxAttempts: 5 }) });
    expect(JSON.stringify(result)).not.toContain(SECRET);
    expect(result.data!.createNotificationConfig).toMatchObject({
      __typename: 'CreateNotificationConfigSuccess',
      notificationConfig: {
        name: 'ops-hook',
        channelType: 'WEBHOOK',
        targetUrl: 'https://93.184.215.14/omega/events?token=***',
        eventTypes: ['NODE_FAILED', 'SESSION_FAILED'],
        enabled: true,
        maxAttempts: 5,
        hasSecret: true,
      },
    });
    const fields = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...admin.headers },
      body: JSON.stringify({ query: '{ __type(name: "NotificationConfig") { fields { name } } }' }),
    }).then((response) => response.json() as Promise<{ data: { __type: { fields: { name: string }[] } } }>);
    expect(fields.data.__type.fields.map((field) => field.name)).not.toContain('secret');

    const slack = await created(admin, {
      name: 'slack-alerts',
      channelType: 'SLACK',
      targetUrl: 'https://93.184.215.14/services/T000/B000/XXXXSECRETXXXX',
      eventTypes: ['DEPLOYMENT_SCALED'],
    });
    expect(slack).toMatchObject({ hasSecret: false, targetUrl: 'https://93.184.215.14/services/T000/B000/***' });
  });

  it('refuses non-http URLs and loopback, private and link-local targets', async () => {
    const refusals: [string, RegExp][] = [
      ['ftp://93.184.215.14/x', /http or https/],
      ['not a url', /valid URL/],
      ['http://127.0.0.1:8080/hook', /loopback, private/],
      ['http://localhost:8080/hook', /loopback, private/],
      ['http://10.0.0.5/hook', /loopback, private/],
      ['http://[::1]:8080/hook', /loopback, private/],
      ['http://[fd12:3456::1]/hook', /loopback, private/],
      ['http://169.254.169.254/latest/meta-data', /loopback, private/],
      ['http://[::ffff:192.168.0.1]/hook', /loopback, private/],
    ];
    for (const [targetUrl, reason] of refusals) {
      const result = await admin.request(CreateNotificationConfigDocument, { input: aWebhook({ targetUrl }) });
      const outcome = result.data!.createNotificationConfig;
      if (outcome.__typename !== 'ValidationError') throw new Error(`${targetUrl} was accepted`);
      expect(outcome.issues).toHaveLength(1);
      expect(outcome.issues[0]!.path).toBe('targetUrl');
      expect(outcome.issues[0]!.message).toMatch(reason);
    }
  });

  it('requires a secret for signed channels and at least one event type; names are unique per tenant', async () => {
    const unsigned = await admin.request(CreateNotificationConfigDocument, { input: aWebhook({ secret: null, eventTypes: [], maxAttempts: 99 }) });
    const outcome = unsigned.data!.createNotificationConfig;
    if (outcome.__typename !== 'ValidationError') throw new Error(`unexpected ${outcome.__typename}`);
    expect(outcome.issues.map((issue) => issue.path).sort()).toEqual(['eventTypes', 'maxAttempts', 'secret']);
    const test = await admin.request(CreateNotificationConfigDocument, { input: aWebhook({ eventTypes: ['NOTIFICATION_TEST'] }) });
    expect(test.data!.createNotificationConfig).toMatchObject({ __typename: 'ValidationError', issues: [{ path: 'eventTypes.0' }] });

    await created(admin, aWebhook({ name: 'unique-name' }));
    const duplicate = await admin.request(CreateNotificationConfigDocument, { input: aWebhook({ name: 'unique-name' }) });
    expect(duplicate.data!.createNotificationConfig).toMatchObject({ __typename: 'ConflictError', field: 'name' });
    // Another tenant may use the same name.
    const other = await server.signIn({ role: 'admin' });
    await created(other, aWebhook({ name: 'unique-name' }));
  });

  it('updates only the given fields, re-checks a new URL, and keeps a signed channel signed', async () => {
    const config = await created(admin, aWebhook({ name: 'to-update' }));
    const updated = await admin.request(UpdateNotificationConfigDocument, { id: config.id, input: { eventTypes: ['QUOTA_EXCEEDED', 'SECURITY_EVENT'], enabled: false } });
    expect(updated.data!.updateNotificationConfig).toMatchObject({
      notificationConfig: { name: 'to-update', eventTypes: ['QUOTA_EXCEEDED', 'SECURITY_EVENT'], enabled: false, hasSecret: true, maxAttempts: 8 },
    });
    const internal = await admin.request(UpdateNotificationConfigDocument, { id: config.id, input: { targetUrl: 'http://192.168.1.20/hook' } });
    expect(internal.data!.updateNotificationConfig).toMatchObject({ __typename: 'ValidationError', issues: [{ path: 'targetUrl' }] });
    const unsign = await admin.request(UpdateNotificationConfigDocument, { id: config.id, input: { secret: null } });
    expect(unsign.data!.updateNotificationConfig).toMatchObject({ __typename: 'ValidationError', issues: [{ path: 'secret' }] });
    await created(admin, aWebhook({ name: 'taken' }));
    const rename = await admin.request(UpdateNotificationConfigDocument, { id: config.id, input: { name: 'taken' } });
    expect(rename.data!.updateNotificationConfig).toMatchObject({ __typename: 'ConflictError', field: 'name' });
    const stored = await server.db.system.notificationConfig.findUniqueOrThrow({ where: { id: Buffer.from(config.id, 'base64').toString().split(':')[1]! } });
    expect({ url: stored.targetUrl, secret: SecretBox.fromConfig(server.config.encryption).open(stored.secret!) }).toEqual({ url: 'https://93.184.215.14/omega/events?token=abc', secret: SECRET });
  });

  it('lists channels by name with filters and pages, and deletes one', async () => {
    const owner = await server.signIn({ role: 'admin' });
    for (const name of ['a-hook', 'b-hook', 'c-hook']) await created(owner, aWebhook({ name }));
    await created(owner, { name: 'd-discord', channelType: 'DISCORD', targetUrl: 'https://93.184.215.14/api/webhooks/1/tok', eventTypes: ['NODE_FAILED'], enabled: false });
    const page = await owner.request(NotificationConfigsDocument, { first: 2 });
    expect(page.data!.notificationConfigs.edges.map(({ node }) => node.name)).toEqual(['a-hook', 'b-hook']);
    const rest = await owner.request(NotificationConfigsDocument, { first: 10, after: page.data!.notificationConfigs.pageInfo.endCursor });
    expect(rest.data!.notificationConfigs.edges.map(({ node }) => node.name)).toEqual(['c-hook', 'd-discord']);
    const disabled = await owner.request(NotificationConfigsDocument, { filter: { enabled: false } });
    expect(disabled.data!.notificationConfigs.edges.map(({ node }) => node.name)).toEqual(['d-discord']);
    const discord = await owner.request(NotificationConfigsDocument, { filter: { channelType: ['DISCORD', 'SLACK'] } });
    expect(discord.data!.notificationConfigs.edges.map(({ node }) => node.targetUrl)).toEqual(['https://93.184.215.14/api/webhooks/1/***']);

    const target = page.data!.notificationConfigs.edges[0]!.node.id;
    const deleted = await owner.request(DeleteNotificationConfigDocument, { id: target });
    expect(deleted.data!.deleteNotificationConfig).toEqual({ __typename: 'DeleteNotificationConfigSuccess', deletedId: target });
    expect((await owner.request(NotificationConfigByIdDocument, { id: target })).data!.notificationConfig).toBeNull();
    const again = await owner.request(DeleteNotificationConfigDocument, { id: target });
    expect(again.data!.deleteNotificationConfig).toMatchObject({ __typename: 'NotFoundError', resource: 'NotificationConfig' });
  });

  it("keeps channels to their tenant and writes to notifications:write holders", async () => {
    const owner = await server.signIn({ role: 'admin' });
    const stranger = await server.signIn({ role: 'admin' });
    const config = await created(owner, aWebhook({ name: 'private-hook' }));

    expect((await stranger.request(NotificationConfigByIdDocument, { id: config.id })).data!.notificationConfig).toBeNull();
    expect((await stranger.request(NotificationConfigsDocument, { first: 100 })).data!.notificationConfigs.edges).toEqual([]);
    const update = await stranger.request(UpdateNotificationConfigDocument, { id: config.id, input: { enabled: false } });
    expect(update.data!.updateNotificationConfig).toMatchObject({ __typename: 'NotFoundError' });
    const remove = await stranger.request(DeleteNotificationConfigDocument, { id: config.id });
    expect(remove.data!.deleteNotificationConfig).toMatchObject({ __typename: 'NotFoundError' });
    expect((await owner.request(NotificationConfigByIdDocument, { id: config.id })).data!.notificationConfig).toMatchObject({ enabled: true });

    const reader = await server.signIn({ role: 'readonly', tenantId: owner.tenantId });
    expect((await reader.request(NotificationConfigsDocument, {})).data!.notificationConfigs.edges).toHaveLength(1);
    const denied = await reader.request(CreateNotificationConfigDocument, { input: aWebhook() });
    expect(denied.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const operator = await server.signIn({ role: 'operator', tenantId: owner.tenantId });
    await created(operator, aWebhook({ name: 'operator-hook' }));
  });
});
