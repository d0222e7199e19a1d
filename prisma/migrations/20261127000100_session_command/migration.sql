-- What the node agent runs for a session: a program and its arguments (argv), never given to a
-- shell. Empty for sessions that name none (the agent then falls back to `application`). The
-- archive keeps it as the session had it.
ALTER TABLE "sessions" ADD COLUMN "command" TEXT[] NOT NULL DEFAULT ARRAY[]::TEXT[];
ALTER TABLE "sessions_archive" ADD COLUMN "command" TEXT[] NOT NULL DEFAULT ARRAY[]::TEXT[];
