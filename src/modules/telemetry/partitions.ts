import type { PrismaClient } from '../../generated/prisma/client.js';
import { withExclusiveLock } from '../../infra/locks.js';

/** The owner's client, or a transaction of it (where an advisory lock is held). */
type OwnerDb = Parameters<Parameters<typeof withExclusiveLock>[2]>[0];

/** The tables partitioned by month where TimescaleDB is absent, with their time column. */
export const PARTITIONED_TABLES = {
  node_metrics: 'time',
  session_metrics: 'time',
  system_metrics: 'timestamp',
  llm_metrics: 'timestamp',
  system_events: 'timestamp',
} as const;
export type PartitionedTable = keyof typeof PARTITIONED_TABLES;

/** Months created ahead of the current one, so writes land in a month partition, not the default one. */
export const MONTHS_AHEAD = 2;
const PARTITION_NAME = /_p(\d{4})(\d{2})$/;

const monthStart = (time: Date): Date => new Date(Date.UTC(time.getUTCFullYear(), time.getUTCMonth(), 1));
const addMonths = (month: Date, count: number): Date => new Date(Date.UTC(month.getUTCFullYear(), month.getUTCMonth() + count, 1));

/**
 * Monthly partitions of the telemetry tables (migration 20261124005000): partitions are made ahead
 * and for any month whose rows reached the default partition; retention drops whole months.
 */
export class MonthlyPartitions {
  constructor(private readonly system: PrismaClient) {}

  /** Whether the table is partitioned here (false with TimescaleDB, where it is a hypertable). */
  async isPartitioned(table: PartitionedTable): Promise<boolean> {
    const [row] = await this.system.$queryRaw<{ partitioned: boolean }[]>`
      SELECT EXISTS (SELECT 1 FROM pg_partitioned_table WHERE partrelid = to_regclass(${`public.${table}`})) AS partitioned`;
    return row?.partitioned ?? false;
  }

  /** Creates the partitions of this month and the next MONTHS_AHEAD, and of every month found in the default partition. */
  async ensurePartitions(now = new Date()): Promise<number> {
    let created = 0;
    for (const table of Object.keys(PARTITIONED_TABLES) as PartitionedTable[]) {
      if (!(await this.isPartitioned(table))) continue;
      const months = Array.from({ length: MONTHS_AHEAD + 1 }, (_, i) => addMonths(monthStart(now), i));
      months.push(...(await this.monthsInDefault(table)));
      for (const month of months) {
        const made = await withExclusiveLock(this.system, `telemetry.partitions.${table}`, async (tx) => {
          const [row] = await tx.$queryRaw<{ created: boolean }[]>`SELECT ensure_month_partition(${`public.${table}`}::regclass, ${month}::timestamptz) AS created`;
          return row?.created ?? false;
        });
        if (made) created += 1;
      }
    }
    return created;
  }

  /** Drops the month partitions wholly older than `cutoff` and deletes older rows left in the default partition. */
  async dropBefore(table: PartitionedTable, cutoff: Date, db: OwnerDb = this.system): Promise<{ partitions: number; defaultRows: number }> {
    let dropped = 0;
    for (const name of await this.monthsEndingBy(table, cutoff, db)) {
      await db.$executeRawUnsafe(`DROP TABLE telemetry_partitions."${name}"`);
      dropped += 1;
    }
    const timeColumn = PARTITIONED_TABLES[table];
    const defaultRows = await db.$executeRawUnsafe(`DELETE FROM telemetry_partitions."${table}_default" WHERE "${timeColumn}" < $1::timestamptz`, cutoff);
    return { partitions: dropped, defaultRows };
  }

  /** Drops the month partitions wholly older than `cutoff` that hold no row: what moving old rows to an archive leaves. */
  async dropEmptyBefore(table: PartitionedTable, cutoff: Date, db: OwnerDb): Promise<number> {
    const months = await this.monthsEndingBy(table, cutoff, db);
    if (months.length === 0) return 0;
    // Locked as DROP would lock it, before the check, so no row arrives between the check and the drop.
    await db.$executeRawUnsafe(`LOCK TABLE public."${table}" IN ACCESS EXCLUSIVE MODE`);
    let dropped = 0;
    for (const name of months) {
      const [row] = await db.$queryRawUnsafe<{ empty: boolean }[]>(`SELECT NOT EXISTS (SELECT 1 FROM telemetry_partitions."${name}") AS empty`);
      if (!row?.empty) continue;
      await db.$executeRawUnsafe(`DROP TABLE telemetry_partitions."${name}"`);
      dropped += 1;
    }
    return dropped;
  }

  /** The month partitions of the table that end at or before `cutoff`; each name matched PARTITION_NAME, so is a plain identifier. */
  private async monthsEndingBy(table: PartitionedTable, cutoff: Date, db: OwnerDb): Promise<string[]> {
    const partitions = await db.$queryRaw<{ name: string }[]>`
      SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
      WHERE i.inhparent = to_regclass(${`public.${table}`})`;
    return partitions.flatMap(({ name }) => {
      const match = PARTITION_NAME.exec(name);
      if (!match) return [];
      const end = new Date(Date.UTC(Number(match[1]), Number(match[2]), 1));
      return end > cutoff ? [] : [name];
    });
  }

  private async monthsInDefault(table: PartitionedTable): Promise<Date[]> {
    const rows = await this.system.$queryRawUnsafe<{ month: Date }[]>(
      `SELECT DISTINCT date_trunc('month', "${PARTITIONED_TABLES[table]}", 'UTC') AS month FROM telemetry_partitions."${table}_default"`,
    );
    return rows.map((row) => row.month);
  }
}
