import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { PrismaClient } from '../generated/prisma/client.js';
import type { JobObserver } from './jobs.js';
import { ALL_TENANTS, type PubSub } from './pubsub.js';
import { Topic } from './topics.js';

/** List pages of this process by type and outcome: read in one compiled statement, or through the ORM. */
const compiledReads = new Map<string, { type: string; outcome: 'compiled' | 'fallback'; count: number }>();

/** Counts one list page read (see compiled-read). */
export function countCompiledRead(type: string, outcome: 'compiled' | 'fallback'): void {
  const key = `${type}/${outcome}`;
  const entry = compiledReads.get(key);
  if (entry) entry.count += 1;
  else compiledReads.set(key, { type, outcome, count: 1 });
}

/** What /metrics reads at scrape time, beyond the counters kept as things happen. */
export interface MetricSources {
  system: PrismaClient;
  poolStats(): { total: number; idle: number; waiting: number };
  pubsub: PubSub;
  /** Bytes of embeddings held in process for the exact vector scan. */
  vectorScanBytes(): number;
}

/**
 * The server's Prometheus registry, one per server (tests run several in one process). GraphQL
 * operations are counted by the yoga Prometheus plugin into the same registry.
 */
export class ServerMetrics {
  readonly registry = new Registry();
  private readonly published = new Counter({ name: 'omega_events_published_total', help: 'Events published, by topic', labelNames: ['topic'], registers: [this.registry] });
  private readonly delivered = new Counter({ name: 'omega_events_delivered_total', help: 'Events handed to listeners (subscriptions, workers), by topic', labelNames: ['topic'], registers: [this.registry] });
  readonly activeSubscriptions = new Gauge({ name: 'omega_active_subscriptions', help: 'GraphQL subscriptions open now, by operation', labelNames: ['operationName'], registers: [this.registry] });
  /** How long an event takes from reaching a subscription group to its frame written to the group's last socket. */
  readonly fanOutSeconds = new Histogram({
    name: 'omega_subscription_fanout_seconds',
    help: "From an event reaching a group of equal subscriptions to its frame written to the group's last socket, by operation",
    labelNames: ['operationName'],
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  private readonly jobRuns = new Counter({ name: 'omega_job_runs_total', help: 'Background job runs, by job and outcome', labelNames: ['job', 'outcome'], registers: [this.registry] });
  private readonly jobDuration = new Histogram({
    name: 'omega_job_duration_seconds',
    help: 'Background job run time',
    labelNames: ['job'],
    buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 30, 120, 600],
    registers: [this.registry],
  });
  private readonly placements = new Counter({ name: 'omega_scheduler_placements_total', help: 'Sessions this instance placed on a node', registers: [this.registry] });
  private stopListening: () => void = () => undefined;

  constructor() {
    collectDefaultMetrics({ register: this.registry });
    new Counter({
      name: 'omega_list_reads_total',
      help: 'List pages read by this process, by type and outcome: compiled (one SQL statement) or fallback (through the ORM)',
      labelNames: ['type', 'outcome'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const { type, outcome, count } of compiledReads.values()) this.inc({ type, outcome }, count);
      },
    });
  }

  /** Adds the gauges read at scrape time, and counts this instance's placements; once the database and bus are open. */
  observe(sources: MetricSources): void {
    const { system, pubsub } = sources;
    new Gauge({
      name: 'omega_db_pool_connections',
      help: 'Connections of the API database pool, by state (in_use, idle, waiting for one)',
      labelNames: ['state'],
      registers: [this.registry],
      collect() {
        const stats = sources.poolStats();
        this.set({ state: 'in_use' }, stats.total - stats.idle);
        this.set({ state: 'idle' }, stats.idle);
        this.set({ state: 'waiting' }, stats.waiting);
      },
    });
    if (pubsub.backend === 'redis') {
      new Gauge({
        name: 'omega_redis_connected',
        help: 'Whether events reach other instances through Redis (1), or not (0); absent without Redis',
        registers: [this.registry],
        collect() {
          this.set(pubsub.isConnected() ? 1 : 0);
        },
      });
    }
    new Gauge({
      name: 'omega_vector_scan_memory_bytes',
      help: 'Embeddings this instance holds in memory for the exact vector scan (without pgvector, or not yet in its index), in bytes',
      registers: [this.registry],
      collect() {
        this.set(sources.vectorScanBytes());
      },
    });
    new Gauge({
      name: 'omega_pending_sessions',
      help: 'Compute sessions waiting for a node, all tenants',
      registers: [this.registry],
      async collect() {
        const [row] = await system.$queryRaw<{ count: number }[]>`SELECT count(*)::int AS count FROM sessions WHERE status = 'pending'`;
        this.set(row?.count ?? 0);
      },
    });
    new Gauge({
      name: 'omega_webhook_deliveries',
      help: 'Webhook deliveries, all tenants, by status (pending, delivered, failed, ...)',
      labelNames: ['status'],
      registers: [this.registry],
      async collect() {
        const rows = await system.$queryRaw<{ status: string; count: number }[]>`SELECT status, count(*)::int AS count FROM notification_deliveries GROUP BY status`;
        this.reset();
        for (const row of rows) this.set({ status: row.status }, row.count);
      },
    });
    this.stopListening = pubsub.listen(
      Topic.SessionStateChanged,
      ALL_TENANTS,
      (event) => {
        if (event.previousStatus === 'pending' && event.status === 'scheduled') this.placements.inc();
      },
      { origin: 'local' },
    );
  }

  /** For the pub/sub bus: counts what is published and delivered. */
  readonly events = {
    published: (topic: string) => this.published.inc({ topic }),
    delivered: (topic: string, listeners: number) => this.delivered.inc({ topic }, listeners),
  };

  readonly jobs: JobObserver = (job, outcome, seconds) => {
    this.jobRuns.inc({ job, outcome });
    this.jobDuration.observe({ job }, seconds);
  };

  close(): void {
    this.stopListening();
  }
}
