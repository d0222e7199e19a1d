import { randomUUID } from 'node:crypto';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Secret, TOTP } from 'otpauth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../src/infra/logger.js';
import { parseEncryptionKey, SecretBox } from '../src/infra/secret-box.js';
import { DeliveryWorker } from '../src/modules/notifications/delivery.worker.js';
import { loadConfig } from '../src/config.js';
import { SIGNATURE_HEADER, TIMESTAMP_HEADER, verifySignature } from '../src/modules/notifications/notification.payloads.js';
import { resealSecrets } from '../src/ops/secrets.js';
import { ConfirmTotpDocument, CreateNotificationConfigDocument, EnrollTotpDocument, SendTestNotificationDocument } from './generated/graphql.js';
import { runPostgresTests } from './helpers/backing-services.js';
import { aUserWithPassword, login, STRONG_PASSWORD } from './helpers/identity.js';
import { expectResult, startTestServer, TEST_ENCRYPTION_KEY, type DatabaseKind, type SignedInUser, type TestServer } from './helpers/server.js';

const kinds: DatabaseKind[] = runPostgresTests ? ['pglite', 'postgres'] : ['pglite'];
const WEBHOOK_SECRET = 'whsec-at-rest-test-secret-0123456789';
const NEW_KEY = Buffer.alloc(32, 9).toString('base64');

describe('the secret box', () => {
  it('opens what it sealed, under the current or a previous key, and refuses tampering or an unknown key', () => {
    const oldKey = parseEncryptionKey(TEST_ENCRYPTION_KEY);
    const newKey = parseEncryptionKey(NEW_KEY);
    const before = new SecretBox(oldKey);
    const sealed = before.seal('s3cret');
    expect(sealed).toMatch(new RegExp(`^enc:v1:${oldKey.id}:`));
    expect(sealed).not.toContain('s3cret');
    expect(before.seal('s3cret')).not.toBe(sealed);
    const after = new SecretBox(newKey, [oldKey]);
    expect(after.open(sealed)).toBe('s3cret');
    expect(after.needsResealing(sealed)).toBe(true);
    expect(after.needsResealing(after.seal('x'))).toBe(false);
    expect(() => new SecretBox(newKey).open(sealed)).toThrow(/no encryption key with id/);
    // One bit of the last byte flipped: replacing base64 characters may leave the bytes as they were.
    const prefix = sealed.slice(0, sealed.lastIndexOf(':') + 1);
    const bytes = Buffer.from(sealed.slice(prefix.length), 'base64url');
    bytes[bytes.length - 1]! ^= 1;
    const tampered = prefix + bytes.toString('base64url');
    expect(() => before.open(tampered)).toThrow(/integrity/);
  });
});

describe.each(kinds)('secrets at rest on %s', (kind) => {
  let server: TestServer;
  let admin: SignedInUser;
  let hook: { requests: { headers: IncomingHttpHeaders; body: string }[]; url: string; close: () => Promise<void> };
  let channelId: string;
  let totp: TOTP;
  let username: string;

  beforeAll(async () => {
    const requests: { headers: IncomingHttpHeaders; body: string }[] = [];
    const receiver = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        requests.push({ headers: request.headers, body: Buffer.concat(chunks).toString('utf8') });
        response.writeHead(200).end('ok');
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    hook = {
      requests,
      url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`,
      close: () => new Promise<void>((resolve) => receiver.close(() => resolve())),
    };
    server = await startTestServer(kind, { jobsEnabled: false }, { env: { NOTIFICATIONS_ALLOW_PRIVATE_TARGETS: 'true' } });
    admin = await server.signIn({ role: 'admin' });

    const created = await admin.request(CreateNotificationConfigDocument, {
      input: { name: `hook-${randomUUID().slice(0, 8)}`, channelType: 'WEBHOOK', targetUrl: hook.url, secret: WEBHOOK_SECRET, eventTypes: ['NODE_FAILED'] },
    });
    channelId = expectResult(created, 'CreateNotificationConfigSuccess').notificationConfig.id;

    const user = await aUserWithPassword(admin);
    username = user.username;
    const { tokens } = await login(server, username, STRONG_PASSWORD);
    const client = server.withHeaders({ authorization: `Bearer ${tokens!.accessToken}` });
    const enrollment = (await client.request(EnrollTotpDocument)).data!.enrollTotp;
    totp = new TOTP({ secret: Secret.fromBase32(enrollment.secret), digits: 6, period: 30 });
    expect((await client.request(ConfirmTotpDocument, { code: totp.generate() })).data!.confirmTotp.__typename).toBe('ConfirmTotpSuccess');
  });
  afterAll(async () => {
    await hook?.close();
    await server?.close();
  });

  it('stores no plain webhook or TOTP secret, only values sealed under the key', async () => {
    const keyId = parseEncryptionKey(TEST_ENCRYPTION_KEY).id;
    const channels = await server.db.system.notificationConfig.findMany({ where: { tenantId: admin.tenantId } });
    expect(channels.map((channel) => channel.secret)).toEqual([expect.stringMatching(new RegExp(`^enc:v1:${keyId}:`))]);
    expect(JSON.stringify(channels)).not.toContain(WEBHOOK_SECRET);
    const credential = await server.db.system.credential.findFirstOrThrow({ where: { user: { username } } });
    expect(credential.totpSecret).toMatch(new RegExp(`^enc:v1:${keyId}:`));
    expect(credential.totpSecret).not.toContain(totp.secret.base32);
  });

  it('reseals every secret under a new key, after which both still work with the new key alone', async () => {
    const rotated = await resealSecrets(server.db.system, new SecretBox(parseEncryptionKey(NEW_KEY), [parseEncryptionKey(TEST_ENCRYPTION_KEY)]));
    expect(rotated.notificationSecrets).toBeGreaterThanOrEqual(1);
    expect(rotated.totpSecrets).toBeGreaterThanOrEqual(1);
    const newKeyId = parseEncryptionKey(NEW_KEY).id;
    const channel = await server.db.system.notificationConfig.findUniqueOrThrow({ where: { id: Buffer.from(channelId, 'base64').toString().split(':')[1]! } });
    expect(SecretBox.keyIdOf(channel.secret!)).toBe(newKeyId);

    // A second instance that knows only the new key.
    const rotatedServer = await startTestServer(kind, { databaseUrl: server.rawDatabaseUrl, jobsEnabled: false, encryption: { key: NEW_KEY, previousKeys: [] } });
    try {
      expect((await login(rotatedServer, username, STRONG_PASSWORD, totp.generate())).tokens).toBeDefined();

      const queued = await rotatedServer.withHeaders(admin.headers).request(SendTestNotificationDocument, { configId: channelId });
      expect(queued.data?.sendTestNotification.__typename).toBe('SendTestNotificationSuccess');
      const worker = new DeliveryWorker({
        system: rotatedServer.db.system,
        log: createLogger('silent'),
        settings: { ...loadConfig({}).notifications, allowPrivateTargets: true },
        secrets: SecretBox.fromConfig(rotatedServer.config.encryption),
      });
      await worker.runOnce();
      expect(hook.requests).toHaveLength(1);
      const [request] = hook.requests;
      expect(verifySignature(WEBHOOK_SECRET, request!.headers[TIMESTAMP_HEADER] as string, request!.body, request!.headers[SIGNATURE_HEADER] as string)).toBe(true);
    } finally {
      await rotatedServer.close();
    }
  });
});
