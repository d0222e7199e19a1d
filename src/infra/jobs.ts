import type { Logger } from './logger.js';

/** A periodic background task of the API (scheduler pass, sweeper, delivery worker, ...). */
export interface BackgroundJob {
  readonly name: string;
  /** Part of serving requests (a write-behind), so it runs even where JOBS_ENABLED=false. */
  readonly servesRequests?: boolean;
  start(): void;
  /** Stops scheduling new runs and waits for a run in progress. */
  stop(): Promise<void>;
}

/**
 * Runs `task` every `intervalMs`, never overlapping itself; an error is logged and the next run
 * still happens. `runNow` lets callers (and tests) trigger a run without waiting.
 */
export function periodicJob(name: string, intervalMs: number, task: () => Promise<void>, log: Logger): BackgroundJob & { runNow(): Promise<void> } {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let stopped = true;

  const runOnce = (): Promise<void> =>
    (running ??= task()
      .catch((error: unknown) => log.error('background job failed', { job: name, error: (error as Error).message }))
      .finally(() => {
        running = undefined;
      }));

  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => {
      void runOnce().finally(schedule);
    }, intervalMs);
    timer.unref();
  };

  return {
    name,
    start() {
      if (!stopped) return;
      stopped = false;
      schedule();
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
    runNow: runOnce,
  };
}
