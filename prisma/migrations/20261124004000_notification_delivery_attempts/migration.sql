-- AlterTable
ALTER TABLE "notification_deliveries" ADD COLUMN     "attempts" JSONB NOT NULL DEFAULT '[]';

-- The attempt log is appended to by the delivery worker; anything but an array is a bug.
ALTER TABLE "notification_deliveries" ADD CONSTRAINT "notification_deliveries_attempts_check" CHECK (jsonb_typeof("attempts") = 'array');
ALTER TABLE "notification_deliveries" ADD CONSTRAINT "notification_deliveries_attempt_count_check" CHECK ("attempt_count" >= 0 AND "max_attempts" >= 1);
ALTER TABLE "notification_config" ADD CONSTRAINT "notification_config_max_attempts_check" CHECK ("max_attempts" BETWEEN 1 AND 50);
