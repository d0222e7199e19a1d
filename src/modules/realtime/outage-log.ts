import type { Logger } from '../../infra/logger.js';

/** Logs a failing dependency once per interval, not once per call, and says when it works again. */
export class OutageLog {
  private failingSince: number | undefined;
  private lastWarnedAt = 0;
  private suppressed = 0;

  constructor(
    private readonly log: Logger,
    private readonly what: string,
    private readonly intervalMs = 60_000,
  ) {}

  failed(error: unknown): void {
    const now = Date.now();
    this.failingSince ??= now;
    if (now - this.lastWarnedAt < this.intervalMs) {
      this.suppressed += 1;
      return;
    }
    this.log.warn(`${this.what} unavailable`, { reason: (error as Error)?.message ?? String(error), failuresSinceLastLine: this.suppressed });
    this.lastWarnedAt = now;
    this.suppressed = 0;
  }

  succeeded(): void {
    if (this.failingSince === undefined) return;
    this.log.info(`${this.what} available again`, { afterMs: Date.now() - this.failingSince });
    this.failingSince = undefined;
    this.lastWarnedAt = 0;
    this.suppressed = 0;
  }

  /** Runs `work`, recording the outcome; a failure resolves to undefined. */
  async attempt<T>(work: () => Promise<T>): Promise<T | undefined> {
    try {
      const result = await work();
      this.succeeded();
      return result;
    } catch (error) {
      this.failed(error);
      return undefined;
    }
  }
}
