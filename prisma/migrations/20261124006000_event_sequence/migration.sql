-- A monotonic tie-breaker for system_events: rows of one transaction share now(), and their UUIDs
-- are random, so only a sequence keeps them in the order they were written. Existing rows are
-- numbered by (timestamp, event_id); on a partitioned table (or hypertable) every step recurses.
CREATE SEQUENCE "system_events_seq_seq";

ALTER TABLE "system_events" ADD COLUMN "seq" BIGINT;

UPDATE "system_events" AS e SET "seq" = o.n
FROM (SELECT "event_id", "timestamp", row_number() OVER (ORDER BY "timestamp", "event_id") AS n FROM "system_events") AS o
WHERE e."event_id" = o."event_id" AND e."timestamp" = o."timestamp";

SELECT setval('"system_events_seq_seq"', coalesce((SELECT max("seq") FROM "system_events"), 0) + 1, false);

ALTER TABLE "system_events" ALTER COLUMN "seq" SET DEFAULT nextval('"system_events_seq_seq"');
ALTER TABLE "system_events" ALTER COLUMN "seq" SET NOT NULL;
ALTER SEQUENCE "system_events_seq_seq" OWNED BY "system_events"."seq";
GRANT USAGE, SELECT ON SEQUENCE "system_events_seq_seq" TO omega_app;
