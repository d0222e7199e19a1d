/**
 * Webhook delivery throughput: BENCH_DELIVERIES queued deliveries sent to a local receiver by
 * 1 and by BENCH_WORKERS workers at once (each on its own connection), on the embedded database
 * and on PostgreSQL (TEST_DATABASE_URL, skipped when it does not answer). After each run the bench
 * checks that the receiver got every delivery exactly once.
 *
 *   npx tsx bench/notifications.ts
 *   BENCH_DELIVERIES=5000 BENCH_WORKERS=8 BENCH_BATCH=50 npx tsx bench/notifications.ts
 */
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createDatabase } from '../src/infra/db.js';
import { createLogger } from '../src/infra/logger.js';
import { SecretBox } from '../src/infra/secret-box.js';
import { DeliveryWorker } from '../src/modules/notifications/delivery.worker.js';
import { CreateNotificationConfigDocument } from '../test/generated/graphql.js';
import { runPostgresTests } from '../test/helpers/backing-services.js';
import { startTestServer, type DatabaseKind } from '../test/helpers/server.js';

const DELIVERIES = Number(process.env.BENCH_DELIVERIES ?? 2_000);
const WORKERS = Number(process.env.BENCH_WORKERS ?? 4);
const BATCH = Number(process.env.BENCH_BATCH ?? 20);
const log = createLogger('error');

async function run(kind: DatabaseKind, workers: number): Promise<string> {
  const seen = new Map<string, number>();
  const receiver = createServer((request, response) => {
    const id = String(request.headers['x-omega-delivery-id']);
    seen.set(id, (seen.get(id) ?? 0) + 1);
    request.resume();
    request.on('end', () => response.end('ok'));
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const server = await startTestServer(kind, { jobsEnabled: false }, { env: { NOTIFICATIONS_ALLOW_PRIVATE_TARGETS: 'true' } });
  // Two connections a worker: the embedded database's socket server takes 16 in all.
  const connections = Array.from({ length: workers }, () => createDatabase(server.rawDatabaseUrl, Number(process.env.BENCH_POOL ?? 2)));
  try {
    const admin = await server.signIn({ role: 'admin' });
    const created = await admin.request(CreateNotificationConfigDocument, {
      input: {
        name: 'bench',
        channelType: 'WEBHOOK',
        targetUrl: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`,
        secret: 'bench-secret-0123456789',
        eventTypes: ['NODE_FAILED'],
      },
    });
    if (created.data?.createNotificationConfig.__typename !== 'CreateNotificationConfigSuccess') throw new Error('channel not created');
    const configId = Buffer.from(created.data.createNotificationConfig.notificationConfig.id, 'base64').toString().split(':')[1]!;
    // Written straight to the table: the bench times sending, not queueing.
    await server.db.system.notificationDelivery.createMany({
      data: Array.from({ length: DELIVERIES }, (_, i) => {
        const id = randomUUID();
        return {
          tenantId: admin.tenantId,
          configId,
          eventId: id,
          eventType: 'node.failed',
          payload: { id, type: 'node.failed', tenantId: admin.tenantId, occurredAt: new Date().toISOString(), data: { nodeId: `n-${i}` } },
        };
      }),
    });
    const settings = { allowPrivateTargets: true, backoffBaseMs: 1_000, backoffCapMs: 10_000, timeoutMs: 5_000, leaseMs: 30_000, batchSize: BATCH, pollIntervalMs: 10 };
    const pool = connections.map((db) => new DeliveryWorker({ system: db.system, log, settings, secrets: SecretBox.fromConfig(server.config.encryption) }));
    const started = performance.now();
    let passes = 0;
    await Promise.all(
      pool.map(async (worker) => {
        for (;;) {
          const pass = await worker.runOnce();
          passes += 1;
          if (pass.claimed === 0) return;
        }
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    const doubled = [...seen.values()].filter((count) => count > 1).length;
    if (seen.size !== DELIVERIES || doubled > 0) throw new Error(`received ${seen.size} of ${DELIVERIES}, ${doubled} more than once`);
    return `${kind.padEnd(8)} workers=${workers} batch=${BATCH}: ${DELIVERIES} deliveries in ${seconds.toFixed(2)} s = ${(DELIVERIES / seconds).toFixed(0)}/s over ${passes} passes; each received exactly once`;
  } finally {
    await Promise.all(connections.map((db) => db.close()));
    await server.close();
    await new Promise((resolve) => receiver.close(resolve));
  }
}

const kinds: DatabaseKind[] = runPostgresTests ? ['pglite', 'postgres'] : ['pglite'];
for (const kind of kinds) {
  for (const workers of [1, WORKERS]) console.log(await run(kind, workers));
}
