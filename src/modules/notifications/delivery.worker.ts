import type { Prisma, PrismaClient } from '../../generated/prisma/client.js';
import type { Logger } from '../../infra/logger.js';
import type { PubSub } from '../../infra/pubsub.js';
import { Topic, type NotificationDeliveryChangedEvent } from '../../infra/topics.js';
import { EventPublisher } from '../shared/domain-events.js';
import { renderBody, signPayload, SIGNATURE_HEADER, TIMESTAMP_HEADER, type NotificationEnvelope } from './notification.payloads.js';
import type { NotificationSettings } from './notification.settings.js';
import type { ChannelType } from './notification.validation.js';
import { postWebhook, type WebhookResponse } from './webhook-sender.js';
import { resolveTarget, TargetRefusedError, type HostLookup } from './webhook-target.js';
import type { SecretBox } from '../../infra/secret-box.js';

/** What an attempt's record left: the delivery's status and when it is due again. */
interface Recorded {
  status: Outcome;
  nextAttemptAt: Date | null;
}

/** A delivery this worker holds the lease on. `attempt` fences its writes: a later claim bumps it. */
interface ClaimedDelivery {
  id: string;
  tenantId: string;
  configId: string;
  eventId: string;
  eventType: string;
  payload: NotificationEnvelope;
  attempt: number;
  channelType: ChannelType;
  targetUrl: string;
  secret: string | null;
}

type Outcome = NotificationDeliveryChangedEvent['status'];

export interface DeliveryPass {
  recovered: number;
  claimed: number;
  delivered: number;
  failed: number;
  dead: number;
}

export interface DeliveryWorkerDeps {
  /** The owner's connection: the worker serves every tenant and filters by delivery id. */
  system: PrismaClient;
  log: Logger;
  settings: NotificationSettings;
  /** Opens the channels' signing secrets, sealed at rest. */
  secrets: SecretBox;
  /** Where each attempt's outcome is announced once recorded; without it, nothing is. */
  pubsub?: PubSub;
  /** Tests pin jitter or DNS answers. */
  random?: () => number;
  lookup?: HostLookup;
}

const USER_AGENT = 'omega-control-plane-notifications/1';

type SystemDb = PrismaClient | Prisma.TransactionClient;

/**
 * Runs the work in a transaction unless it already is in one. Besides atomicity this matters on the
 * embedded database, whose socket server interleaves the protocol messages of concurrent statements
 * that run outside a transaction.
 */
function inTransaction<T>(db: SystemDb, work: (tx: Prisma.TransactionClient) => Promise<T>): Promise<T> {
  return '$transaction' in db ? db.$transaction(work) : work(db);
}

/**
 * Exponential backoff with "equal jitter": attempt n waits between half and all of
 * base * 2^(n-1), capped, so retries spread out yet each wait is at least as long as the last could be.
 */
export function retryDelayMs(
  attempt: number,
  settings: Pick<NotificationSettings, 'backoffBaseMs' | 'backoffCapMs'>,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(settings.backoffCapMs, settings.backoffBaseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

function describeFailure(error: unknown, timeoutMs: number): string {
  if (error instanceof TargetRefusedError) return `target refused: ${error.message}`;
  const err = error as NodeJS.ErrnoException;
  if (err.name === 'TimeoutError' || err.name === 'AbortError') return `timed out after ${timeoutMs} ms`;
  return err.code ? `connection failed: ${err.code}` : `request failed: ${err.message}`;
}

/**
 * Sends due notification deliveries. Deliveries live in PostgreSQL, so any instance's worker may
 * claim them: FOR UPDATE SKIP LOCKED gives each to one worker, a lease bounds how long it holds
 * one, and a delivered row is never claimed again.
 */
export class DeliveryWorker {
  private readonly random: () => number;
  private readonly events: EventPublisher | undefined;

  constructor(private readonly deps: DeliveryWorkerDeps) {
    this.random = deps.random ?? Math.random;
    this.events = deps.pubsub ? new EventPublisher(deps.pubsub, deps.log) : undefined;
  }

  /** One pass: take back leases of workers that stopped, then claim and send a batch. */
  async runOnce(): Promise<DeliveryPass> {
    const { recovered, claimed } = await this.deps.system.$transaction(async (tx) => ({
      recovered: await this.recoverExpiredLeases(tx),
      claimed: await this.claim(this.deps.settings.batchSize, tx),
    }));
    await this.announce(recovered);
    const outcomes = await Promise.all(claimed.map((delivery) => this.attempt(delivery)));
    return {
      recovered: recovered.length,
      claimed: claimed.length,
      delivered: outcomes.filter((o) => o === 'delivered').length,
      failed: outcomes.filter((o) => o === 'failed').length,
      dead: outcomes.filter((o) => o === 'dead').length,
    };
  }

  /**
   * Claims up to `limit` due deliveries of enabled channels, counting the attempt now: a worker
   * that dies mid-send has used it, and its lease expires so another worker retries.
   */
  async claim(limit: number, db: SystemDb = this.deps.system): Promise<ClaimedDelivery[]> {
    const leaseMs = this.deps.settings.leaseMs;
    const rows = await inTransaction(db, (tx) => tx.$queryRaw<
      {
        id: string;
        tenant_id: string;
        config_id: string;
        event_id: string;
        event_type: string;
        payload: NotificationEnvelope;
        attempt_count: number;
        channel_type: ChannelType;
        target_url: string;
        secret: string | null;
      }[]
    >`
      UPDATE notification_deliveries d
      SET status = 'in_progress',
          locked_until = now() + (${leaseMs}::double precision * interval '1 millisecond'),
          attempt_count = d.attempt_count + 1,
          last_attempt_at = clock_timestamp(),
          updated_at = now()
      FROM notification_config c
      WHERE c.id = d.config_id
        AND d.id IN (
          SELECT x.id FROM notification_deliveries x
          WHERE x.status IN ('pending', 'failed') AND x.next_attempt_at <= now()
            AND EXISTS (SELECT 1 FROM notification_config e WHERE e.id = x.config_id AND e.enabled)
          ORDER BY x.next_attempt_at
          LIMIT ${limit}
          FOR UPDATE OF x SKIP LOCKED)
      RETURNING d.id::text, d.tenant_id::text, d.config_id::text, d.event_id::text, d.event_type, d.payload, d.attempt_count, c.channel_type, c.target_url, c.secret`);
    return rows.map((row) => ({
      id: row.id,
      tenantId: row.tenant_id,
      configId: row.config_id,
      eventId: row.event_id,
      eventType: row.event_type,
      payload: row.payload,
      attempt: row.attempt_count,
      channelType: row.channel_type,
      targetUrl: row.target_url,
      secret: row.secret === null ? null : this.deps.secrets.open(row.secret),
    }));
  }

  /**
   * Deliveries whose worker stopped before recording an outcome become due again (or dead when out
   * of attempts). Returns their outcomes, to announce once the transaction has committed.
   */
  async recoverExpiredLeases(db: SystemDb = this.deps.system): Promise<NotificationDeliveryChangedEvent[]> {
    const rows = await inTransaction(db, (tx) => tx.$queryRaw<
      {
        id: string;
        tenant_id: string;
        config_id: string;
        event_id: string;
        event_type: string;
        status: Exclude<Outcome, 'delivered'>;
        attempt_count: number;
        next_attempt_at: Date | null;
        last_error: string;
      }[]
    >`
      UPDATE notification_deliveries
      SET status = CASE WHEN attempt_count >= max_attempts THEN 'dead' ELSE 'failed' END,
          next_attempt_at = now(),
          locked_until = NULL,
          last_error = 'the worker stopped before recording the outcome',
          updated_at = now(),
          attempts = attempts || jsonb_build_array(jsonb_build_object(
            'attempt', attempt_count, 'startedAt', last_attempt_at, 'finishedAt', now(), 'outcome', 'lease_expired',
            'responseCode', NULL, 'error', 'the worker stopped before recording the outcome',
            'retryAt', CASE WHEN attempt_count >= max_attempts THEN NULL ELSE now() END))
      WHERE status = 'in_progress' AND locked_until < now()
      RETURNING id::text, tenant_id::text, config_id::text, event_id::text, event_type, status, attempt_count,
                CASE WHEN status = 'dead' THEN NULL ELSE next_attempt_at END AS next_attempt_at, last_error`);
    const at = new Date().toISOString();
    return rows.map((row) => ({
      tenantId: row.tenant_id,
      deliveryId: row.id,
      configId: row.config_id,
      eventId: row.event_id,
      eventType: row.event_type,
      status: row.status,
      attempt: row.attempt_count,
      responseCode: null,
      error: row.last_error,
      nextAttemptAt: row.next_attempt_at?.toISOString() ?? null,
      at,
    }));
  }

  private async attempt(delivery: ClaimedDelivery): Promise<'delivered' | 'failed' | 'dead' | 'lost'> {
    const started = performance.now();
    let response: WebhookResponse | undefined;
    let error: string | undefined;
    try {
      const target = await resolveTarget(delivery.targetUrl, { allowPrivateTargets: this.deps.settings.allowPrivateTargets, lookup: this.deps.lookup });
      const body = renderBody(delivery.channelType, delivery.payload);
      response = await postWebhook(target, this.headers(delivery, body), body, this.deps.settings.timeoutMs);
    } catch (failure) {
      error = describeFailure(failure, this.deps.settings.timeoutMs);
    }
    const durationMs = Math.round(performance.now() - started);
    const ok = response !== undefined && response.status >= 200 && response.status < 300;
    if (!ok && response) error = `HTTP ${response.status}${response.bodySnippet ? `: ${response.bodySnippet.slice(0, 200)}` : ''}`;
    const recorded = ok
      ? await this.recordSuccess(delivery, response!.status, durationMs)
      : await this.recordFailure(delivery, response?.status ?? null, error!, durationMs);
    const outcome = recorded === 'lost' ? recorded : recorded.status;
    if (recorded !== 'lost') {
      await this.announce([
        {
          tenantId: delivery.tenantId,
          deliveryId: delivery.id,
          configId: delivery.configId,
          eventId: delivery.eventId,
          eventType: delivery.eventType,
          status: recorded.status,
          attempt: delivery.attempt,
          responseCode: response?.status ?? null,
          error: ok ? null : error!,
          nextAttemptAt: recorded.nextAttemptAt?.toISOString() ?? null,
          at: new Date().toISOString(),
        },
      ]);
    }
    if (outcome === 'lost') {
      // Another worker took the delivery over after our lease ran out; its state wins.
      this.deps.log.warn('notification delivery lease lost', { deliveryId: delivery.id, attempt: delivery.attempt });
    } else if (outcome !== 'delivered') {
      this.deps.log.info('notification delivery failed', { deliveryId: delivery.id, attempt: delivery.attempt, outcome, error });
    }
    return outcome;
  }

  private headers(delivery: ClaimedDelivery, body: string): Record<string, string> {
    const timestamp = String(Math.floor(Date.now() / 1000));
    return {
      'content-type': 'application/json',
      'user-agent': USER_AGENT,
      'x-omega-event-id': delivery.eventId,
      'x-omega-event-type': delivery.eventType,
      'x-omega-delivery-id': delivery.id,
      'x-omega-delivery-attempt': String(delivery.attempt),
      [TIMESTAMP_HEADER]: timestamp,
      ...(delivery.secret ? { [SIGNATURE_HEADER]: signPayload(delivery.secret, timestamp, body) } : {}),
    };
  }

  private async announce(outcomes: NotificationDeliveryChangedEvent[]): Promise<void> {
    for (const outcome of outcomes) await this.events?.publish(Topic.NotificationDeliveryChanged, outcome);
  }

  private async recordSuccess(delivery: ClaimedDelivery, status: number, durationMs: number): Promise<Recorded | 'lost'> {
    const updated = await inTransaction(this.deps.system, (tx) => tx.$executeRaw`
      UPDATE notification_deliveries
      SET status = 'delivered', delivered_at = now(), locked_until = NULL, response_code = ${status}, last_error = NULL, updated_at = now(),
          attempts = attempts || jsonb_build_array(jsonb_build_object(
            'attempt', attempt_count, 'startedAt', last_attempt_at, 'finishedAt', clock_timestamp(), 'outcome', 'delivered',
            'responseCode', ${status}::int, 'error', NULL, 'retryAt', NULL, 'durationMs', ${durationMs}::int))
      WHERE id = ${delivery.id}::uuid AND status = 'in_progress' AND attempt_count = ${delivery.attempt}`);
    return updated === 1 ? { status: 'delivered', nextAttemptAt: null } : 'lost';
  }

  private async recordFailure(delivery: ClaimedDelivery, status: number | null, error: string, durationMs: number): Promise<Recorded | 'lost'> {
    const delayMs = retryDelayMs(delivery.attempt, this.deps.settings, this.random);
    const rows = await inTransaction(this.deps.system, (tx) => tx.$queryRaw<{ status: 'failed' | 'dead'; next_attempt_at: Date | null }[]>`
      WITH finished AS (SELECT clock_timestamp() AS at)
      UPDATE notification_deliveries d
      SET status = CASE WHEN d.attempt_count >= d.max_attempts THEN 'dead' ELSE 'failed' END,
          next_attempt_at = CASE WHEN d.attempt_count >= d.max_attempts THEN d.next_attempt_at
                                 ELSE f.at + (${delayMs}::double precision * interval '1 millisecond') END,
          locked_until = NULL, response_code = ${status}::int, last_error = ${error}, updated_at = now(),
          attempts = d.attempts || jsonb_build_array(jsonb_build_object(
            'attempt', d.attempt_count, 'startedAt', d.last_attempt_at, 'finishedAt', f.at,
            'outcome', CASE WHEN d.attempt_count >= d.max_attempts THEN 'dead' ELSE 'failed' END,
            'responseCode', ${status}::int, 'error', ${error}::text, 'durationMs', ${durationMs}::int,
            'retryAt', CASE WHEN d.attempt_count >= d.max_attempts THEN NULL
                            ELSE f.at + (${delayMs}::double precision * interval '1 millisecond') END))
      FROM finished f
      WHERE d.id = ${delivery.id}::uuid AND d.status = 'in_progress' AND d.attempt_count = ${delivery.attempt}
      RETURNING d.status, CASE WHEN d.status = 'dead' THEN NULL ELSE d.next_attempt_at END AS next_attempt_at`);
    const row = rows[0];
    return row ? { status: row.status, nextAttemptAt: row.next_attempt_at } : 'lost';
  }
}
