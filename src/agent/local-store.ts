import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';

/** One sample of the host's vitals, as local_resources keeps it. */
export interface ResourceSample {
  timestamp: string;
  cpuUsage: number;
  memoryUsage: number;
  diskUsage: number;
  networkRxBytes: number;
  networkTxBytes: number;
  gpuUsage: number | null;
  temperature: number | null;
}

export interface StoredSample extends ResourceSample {
  rowid: number;
}

/** A session transition waiting to be told to the API, in local_events. */
export interface PendingTransition {
  eventId: number;
  sessionId: string;
  status: 'running' | 'completed' | 'failed';
  reason: string | null;
}

/**
 * Seed 001's node-local store: local_config, local_resources, local_sessions, local_events. Samples
 * and session transitions wait here until the API acknowledges them, so an outage loses nothing
 * acknowledged and a replay sends each once (a batch keeps its key until it is acknowledged).
 * The store is the only writer of its file while open.
 */
export class LocalStore {
  private readonly db: Database.Database;
  /** Undelivered samples, counted once on open and kept up to date, so a full buffer costs no count per sample. */
  private undelivered: number;
  private readonly insertSample: Database.Statement;
  private readonly dropOldest: Database.Statement;
  private readonly keepSample: (sample: ResourceSample, limit: number) => number;
  private readonly replay: Record<'openBatch' | 'firstUndelivered' | 'assignBatch' | 'batchRows' | 'markBatch' | 'pruneDelivered', Database.Statement>;

  constructor(path: string) {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS local_config (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL,
        updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
      );
      CREATE TABLE IF NOT EXISTS local_resources (
        timestamp TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
        cpu_usage REAL,
        memory_usage REAL,
        disk_usage REAL,
        network_rx_bytes INTEGER,
        network_tx_bytes INTEGER,
        gpu_usage REAL,
        temperature REAL,
        batch_key TEXT,
        delivered_at TIMESTAMP
      );
      CREATE INDEX IF NOT EXISTS local_resources_undelivered ON local_resources (delivered_at);
      -- The batch being sent: a few hundred rows of a full buffer, found without reading the rest.
      CREATE INDEX IF NOT EXISTS local_resources_open_batch ON local_resources (batch_key) WHERE delivered_at IS NULL AND batch_key IS NOT NULL;
      CREATE TABLE IF NOT EXISTS local_sessions (
        session_id TEXT PRIMARY KEY,
        status TEXT NOT NULL,
        container_id TEXT,
        pid INTEGER,
        started_at TIMESTAMP,
        resource_limits TEXT
      );
      CREATE TABLE IF NOT EXISTS local_events (
        event_id INTEGER PRIMARY KEY AUTOINCREMENT,
        timestamp TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
        event_type TEXT NOT NULL,
        severity TEXT NOT NULL,
        message TEXT NOT NULL,
        details TEXT,
        delivered_at TIMESTAMP
      );
    `);
    // Columns later releases added to the seed's local_sessions: the process's start time, its exit code.
    const sessionColumns = new Set((this.db.prepare('PRAGMA table_info(local_sessions)').all() as { name: string }[]).map((column) => column.name));
    if (!sessionColumns.has('process_start')) this.db.exec('ALTER TABLE local_sessions ADD COLUMN process_start TEXT');
    if (!sessionColumns.has('exit_code')) this.db.exec('ALTER TABLE local_sessions ADD COLUMN exit_code INTEGER');
    this.undelivered = this.countUndelivered();
    // Each step of a replay reads or writes one batch's rows through an index, whatever the buffer holds.
    this.replay = {
      // Through the open-batch index: the undelivered-rows index would read every buffered row to find it.
      openBatch: this.db.prepare(
        'SELECT batch_key FROM local_resources INDEXED BY local_resources_open_batch WHERE delivered_at IS NULL AND batch_key IS NOT NULL ORDER BY rowid LIMIT 1',
      ),
      firstUndelivered: this.db.prepare('SELECT rowid FROM local_resources WHERE delivered_at IS NULL ORDER BY rowid LIMIT 1'),
      assignBatch: this.db.prepare('UPDATE local_resources SET batch_key = ? WHERE rowid IN (SELECT rowid FROM local_resources WHERE delivered_at IS NULL ORDER BY rowid LIMIT ?)'),
      batchRows: this.db.prepare('SELECT rowid, * FROM local_resources WHERE batch_key = ? AND delivered_at IS NULL ORDER BY rowid'),
      markBatch: this.db.prepare('UPDATE local_resources SET delivered_at = ? WHERE batch_key = ? AND delivered_at IS NULL'),
      pruneDelivered: this.db.prepare('DELETE FROM local_resources WHERE delivered_at IS NOT NULL AND delivered_at < ?'),
    };
    this.insertSample = this.db.prepare(
      `INSERT INTO local_resources (timestamp, cpu_usage, memory_usage, disk_usage, network_rx_bytes, network_tx_bytes, gpu_usage, temperature)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.dropOldest = this.db.prepare(
      'DELETE FROM local_resources WHERE rowid IN (SELECT rowid FROM local_resources WHERE delivered_at IS NULL ORDER BY rowid LIMIT ?)',
    );
    // One transaction per sample: the insert and the drop it causes commit together.
    this.keepSample = this.db.transaction((sample: ResourceSample, limit: number) => {
      this.insertSample.run(sample.timestamp, sample.cpuUsage, sample.memoryUsage, sample.diskUsage, sample.networkRxBytes, sample.networkTxBytes, sample.gpuUsage, sample.temperature);
      const excess = this.undelivered + 1 - limit;
      const dropped = excess > 0 ? this.dropOldest.run(excess).changes : 0;
      if (dropped > 0) this.setConfig('dropped_samples', String(Number(this.config('dropped_samples') ?? 0) + dropped));
      return dropped;
    });
  }

  config(key: string): string | undefined {
    return (this.db.prepare('SELECT value FROM local_config WHERE key = ?').get(key) as { value: string } | undefined)?.value;
  }

  setConfig(key: string, value: string): void {
    this.db
      .prepare('INSERT INTO local_config (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = CURRENT_TIMESTAMP')
      .run(key, value);
  }

  /** Keeps a sample; past `limit` undelivered samples the oldest go, and the count says how many. */
  addSample(sample: ResourceSample, limit: number): number {
    const dropped = this.keepSample(sample, limit);
    this.undelivered += 1 - dropped;
    return dropped;
  }

  /**
   * The oldest undelivered samples under one batch key: a batch already tried keeps its key and
   * rows, so a resend is recognised by the API; otherwise up to `size` new rows get a new key.
   */
  nextBatch(size: number, keyPrefix: string): { key: string; samples: StoredSample[] } | null {
    return this.db.transaction(() => {
      let key = (this.replay.openBatch.get() as { batch_key: string } | undefined)?.batch_key;
      if (!key) {
        const first = this.replay.firstUndelivered.get() as { rowid: number } | undefined;
        if (!first) return null;
        key = `${keyPrefix}:${first.rowid}`;
        this.replay.assignBatch.run(key, size);
      }
      return { key, samples: (this.replay.batchRows.all(key) as SampleRow[]).map(toSample) };
    })();
  }

  /** The API stored the batch: its rows are kept a while as local history, then pruned. */
  markDelivered(key: string, keepDeliveredFor = 3_600): void {
    this.undelivered -= this.replay.markBatch.run(new Date().toISOString(), key).changes;
    this.replay.pruneDelivered.run(new Date(Date.now() - keepDeliveredFor * 1000).toISOString());
  }

  undeliveredSamples(): number {
    return this.undelivered;
  }

  private countUndelivered(): number {
    return (this.db.prepare('SELECT count(*) AS n FROM local_resources WHERE delivered_at IS NULL').get() as { n: number }).n;
  }

  /** Records an event; session transitions among them wait in order for the API. */
  addEvent(eventType: string, severity: 'info' | 'warning' | 'error', message: string, details: Record<string, unknown> = {}): void {
    this.db.prepare('INSERT INTO local_events (timestamp, event_type, severity, message, details) VALUES (?, ?, ?, ?, ?)').run(
      new Date().toISOString(),
      eventType,
      severity,
      message,
      JSON.stringify(details),
    );
  }

  /** Session transitions not yet acknowledged by the API, oldest first. */
  pendingTransitions(): PendingTransition[] {
    const rows = this.db
      .prepare("SELECT event_id, details FROM local_events WHERE event_type = 'session.transition' AND delivered_at IS NULL ORDER BY event_id")
      .all() as { event_id: number; details: string }[];
    return rows.map((row) => ({ eventId: row.event_id, ...(JSON.parse(row.details) as Omit<PendingTransition, 'eventId'>) }));
  }

  markEventDelivered(eventId: number): void {
    this.db.prepare('UPDATE local_events SET delivered_at = ? WHERE event_id = ?').run(new Date().toISOString(), eventId);
  }

  /** A session's process started: what a restarted agent needs to find it again. */
  recordStart(sessionId: string, pid: number, processStart: string | null, resourceLimits: Record<string, unknown>): void {
    this.db
      .prepare(
        `INSERT INTO local_sessions (session_id, status, pid, started_at, resource_limits, process_start) VALUES (?, 'running', ?, ?, ?, ?)
         ON CONFLICT (session_id) DO UPDATE SET status = 'running', pid = excluded.pid, started_at = excluded.started_at, process_start = excluded.process_start`,
      )
      .run(sessionId, pid, new Date().toISOString(), JSON.stringify(resourceLimits), processStart);
  }

  /** A session's process ended: its outcome and the transition owed to the API, written together. */
  recordEnd(sessionId: string, status: 'completed' | 'failed', exitCode: number | null, reason: string): void {
    this.db.transaction(() => {
      this.db.prepare('UPDATE local_sessions SET status = ?, exit_code = ? WHERE session_id = ?').run(status, exitCode, sessionId);
      this.addEvent('session.transition', status === 'failed' ? 'warning' : 'info', `session ${sessionId} ${status}: ${reason}`, { sessionId, status, reason });
    })();
  }

  /** Sessions whose process this store last saw running. */
  runningSessions(): { sessionId: string; pid: number; processStart: string | null }[] {
    return (
      this.db.prepare("SELECT session_id, pid, process_start FROM local_sessions WHERE status = 'running' AND pid IS NOT NULL").all() as {
        session_id: string;
        pid: number;
        process_start: string | null;
      }[]
    ).map((row) => ({ sessionId: row.session_id, pid: row.pid, processStart: row.process_start }));
  }

  upsertSession(sessionId: string, status: string, pid: number | null, resourceLimits: Record<string, unknown>): void {
    this.db
      .prepare(
        `INSERT INTO local_sessions (session_id, status, pid, started_at, resource_limits) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (session_id) DO UPDATE SET status = excluded.status, pid = coalesce(excluded.pid, local_sessions.pid)`,
      )
      .run(sessionId, status, pid, new Date().toISOString(), JSON.stringify(resourceLimits));
  }

  session(sessionId: string): { status: string; pid: number | null } | undefined {
    return this.db.prepare('SELECT status, pid FROM local_sessions WHERE session_id = ?').get(sessionId) as { status: string; pid: number | null } | undefined;
  }

  close(): void {
    this.db.close();
  }
}

interface SampleRow {
  rowid: number;
  timestamp: string;
  cpu_usage: number;
  memory_usage: number;
  disk_usage: number;
  network_rx_bytes: number;
  network_tx_bytes: number;
  gpu_usage: number | null;
  temperature: number | null;
}

function toSample(row: SampleRow): StoredSample {
  return {
    rowid: row.rowid,
    timestamp: row.timestamp,
    cpuUsage: row.cpu_usage,
    memoryUsage: row.memory_usage,
    diskUsage: row.disk_usage,
    networkRxBytes: row.network_rx_bytes,
    networkTxBytes: row.network_tx_bytes,
    gpuUsage: row.gpu_usage,
    temperature: row.temperature,
  };
}
