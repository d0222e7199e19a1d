import type { Logger } from './logger.js';

/** A periodic background task of the API (scheduler pass, sweeper, delivery worker, ...). */
export interface BackgroundJob {
  readonly name: string;
  /** Part of serving requests (a write-behind), so it runs even where JOBS_ENABLED=false. */
  readonly servesRequests?: boolean;
  start(): void;
  /** Reports each run's outcome and duration from now on (metrics). */
  observe?(observer: JobObserver): void;
  /** Stops scheduling new runs and waits for a run in progress. */
  stop(): Promise<void>;
}

export type JobObserver = (job: string, outcome: 'ok' | 'failed', seconds: number) => void;

/**
 * Runs `task` every `intervalMs`, never overlapping itself; an error is logged and the next run
 * still happens. `runNow` lets callers (and tests) trigger a run without waiting. A task that works
 * in many small steps checks `signal` between them, so that stopping does not wait for all of them.
 */
export function periodicJob(
  name: string,
  intervalMs: number,
  task: (signal: AbortSignal) => Promise<void>,
  log: Logger,
): BackgroundJob & { runNow(): Promise<void> } {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let stopped = true;
  let observer: JobObserver | undefined;
  let stopping = new AbortController();

  const timed = async (): Promise<void> => {
    const started = performance.now();
    try {
      await task(stopping.signal);
      observer?.(name, 'ok', (performance.now() - started) / 1000);
    } catch (error) {
      observer?.(name, 'failed', (performance.now() - started) / 1000);
      log.error('background job failed', { job: name, error: (error as Error).message });
    }
  };

  const runOnce = (): Promise<void> =>
    (running ??= timed().finally(() => {
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
      stopping = new AbortController();
      schedule();
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      stopping.abort();
      await running;
    },
    observe(next) {
      observer = next;
    },
    runNow: runOnce,
  };
}
