import { Prisma, type PrismaClient } from '../../generated/prisma/client.js';

/** What the database offers for time series; probed once per service, as the migrations chose at install time. */
export interface TimeseriesFeatures {
  /** TimescaleDB is installed: metrics tables are hypertables and time_bucket exists. */
  timescale: boolean;
}

export const TIMESERIES_PROBE = Prisma.sql`SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') AS timescale`;

export async function detectTimeseriesFeatures(db: PrismaClient): Promise<TimeseriesFeatures> {
  const [row] = await db.$queryRaw<{ timescale: boolean }[]>(TIMESERIES_PROBE);
  return { timescale: row?.timescale ?? false };
}

/** Memoizes the probe: the first caller runs it, a failed probe is retried by the next caller. */
export function timeseriesFeaturesOf(db: PrismaClient): () => Promise<TimeseriesFeatures> {
  let probe: Promise<TimeseriesFeatures> | undefined;
  return () => {
    probe ??= detectTimeseriesFeatures(db).catch((error: unknown) => {
      probe = undefined;
      throw error;
    });
    return probe;
  };
}

/** time_bucket's default origin (a Monday, UTC): buckets line up whichever function computes them. */
const BUCKET_ORIGIN = '2000-01-03T00:00:00Z';

/**
 * The start of the `seconds`-wide bucket holding `column`: time_bucket on TimescaleDB, date_bin
 * elsewhere. The width is a bound parameter, never SQL text.
 */
export function bucketStart(features: TimeseriesFeatures, seconds: number, column: Prisma.Sql): Prisma.Sql {
  const width = Prisma.sql`make_interval(secs => ${seconds}::float8)`;
  return features.timescale
    ? Prisma.sql`time_bucket(${width}, ${column}, ${BUCKET_ORIGIN}::timestamptz)`
    : Prisma.sql`date_bin(${width}, ${column}, ${BUCKET_ORIGIN}::timestamptz)`;
}

export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;

export const floorTo = (time: Date, unitMs: number): Date => new Date(Math.floor(time.getTime() / unitMs) * unitMs);
export const ceilTo = (time: Date, unitMs: number): Date => new Date(Math.ceil(time.getTime() / unitMs) * unitMs);
