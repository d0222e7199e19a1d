import { randomUUID } from 'node:crypto';
import { startEmbeddedPostgres } from '../src/infra/embedded-postgres.js';
import { applyMigrations } from '../src/infra/migrator.js';
import { createDatabase } from '../src/infra/db.js';
import { createMemoryPubSub } from '../src/infra/pubsub.js';
import { Topic } from '../src/infra/topics.js';
import { createLogger } from '../src/infra/logger.js';
import { NotificationService } from '../src/modules/notifications/notification.service.js';
import { notificationEventsJob } from '../src/modules/notifications/notification.events.js';

const embedded = await startEmbeddedPostgres();
await applyMigrations(embedded.url);
const db = createDatabase(embedded.url, Number(process.env.POOL ?? 3));
const tenant = await db.system.tenant.create({ data: { name: 't', slug: 't' + Date.now() } });
await db.system.notificationConfig.create({ data: { tenantId: tenant.id, name: 'c', channelType: 'webhook', targetUrl: 'http://x', eventTypes: ['node.failed', 'session.failed', 'deployment.scaled'] } });
const svc = new NotificationService(db.prisma);
const pubsub = createMemoryPubSub();
const log = createLogger('debug');
const jobs = [notificationEventsJob(pubsub, svc, log), notificationEventsJob(pubsub, svc, log)];
jobs.forEach((j) => j.start());
const timer = setTimeout(() => { console.log('HUNG'); process.exit(1); }, 15000);
const at = new Date().toISOString();
await pubsub.publish(Topic.NodeStatusChanged, { tenantId: tenant.id, nodeId: randomUUID(), previousStatus: 'active', status: 'failed', at });
await pubsub.publish(Topic.SessionStateChanged, { tenantId: tenant.id, sessionId: randomUUID(), userId: randomUUID(), previousStatus: 'running', status: 'failed', nodeId: null, allocations: [], reason: 'OOM', at });
await pubsub.publish(Topic.DeploymentChanged, { tenantId: tenant.id, deploymentId: randomUUID(), change: 'scaled', status: 'running', desiredReplicas: 4, currentReplicas: 2, nodeId: null, at });
for (let i = 0; i < 20; i++) {
  const rows = await db.system.$transaction((tx) => tx.notificationDelivery.count());
  console.log('rows', rows);
  if (rows >= 3) break;
  await new Promise((r) => setTimeout(r, 100));
}
clearTimeout(timer);
await Promise.all(jobs.map((j) => j.stop()));
await db.close(); await embedded.close();
console.log('done');
