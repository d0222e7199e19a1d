-- What happens to a session when its node fails: it fails with the node (never) or goes back to pending (reschedule).
ALTER TABLE "sessions" ADD COLUMN "restart_policy" VARCHAR(20) NOT NULL DEFAULT 'never';
ALTER TABLE "sessions" ADD CONSTRAINT "sessions_restart_policy_check" CHECK (restart_policy IN ('never', 'reschedule'));
