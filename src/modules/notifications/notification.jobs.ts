import type { PrismaClient } from '../../generated/prisma/client.js';
import { periodicJob, type BackgroundJob } from '../../infra/jobs.js';
import type { Logger } from '../../infra/logger.js';
import type { PubSub } from '../../infra/pubsub.js';
import type { SecretBox } from '../../infra/secret-box.js';
import { DeliveryWorker } from './delivery.worker.js';
import { notificationEventsJob } from './notification.events.js';
import type { NotificationService } from './notification.service.js';
import type { NotificationSettings } from './notification.settings.js';

/** A full batch suggests more are due; a few passes drain a burst without waiting a poll interval each. */
const MAX_PASSES_PER_RUN = 10;

export function createNotificationJobs(deps: {
  system: PrismaClient;
  pubsub: PubSub;
  log: Logger;
  notifications: NotificationService;
  settings: NotificationSettings;
  secrets: SecretBox;
}): BackgroundJob[] {
  const worker = new DeliveryWorker({ system: deps.system, log: deps.log, settings: deps.settings, secrets: deps.secrets, pubsub: deps.pubsub });
  const deliveries = periodicJob(
    'notifications.deliveries',
    deps.settings.pollIntervalMs,
    async () => {
      for (let pass = 0; pass < MAX_PASSES_PER_RUN; pass += 1) {
        const { claimed } = await worker.runOnce();
        if (claimed < deps.settings.batchSize) break;
      }
    },
    deps.log,
  );
  let running = false;
  // New deliveries go out at once from the instance that queued them; polling picks up retries and other instances' work.
  deps.notifications.onQueued(() => {
    if (running) void deliveries.runNow();
  });
  const deliveryJob: BackgroundJob = {
    name: deliveries.name,
    start() {
      running = true;
      deliveries.start();
    },
    async stop() {
      running = false;
      await deliveries.stop();
    },
  };
  return [deliveryJob, notificationEventsJob(deps.pubsub, deps.notifications, deps.log)];
}
