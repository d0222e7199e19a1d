export const SESSION_STATUSES = ['pending', 'scheduled', 'running', 'paused', 'completed', 'failed', 'cancelled'] as const;
export type SessionStatus = (typeof SESSION_STATUSES)[number];

/** States a session never leaves; reaching one releases its allocations. */
export const TERMINAL_STATUSES: readonly SessionStatus[] = ['completed', 'failed', 'cancelled'];

/** States in which a session counts against its user's quotas. */
export const LIVE_STATUSES: readonly SessionStatus[] = ['pending', 'scheduled', 'running', 'paused'];

/**
 * The session state machine. pending -> scheduled happens only through the scheduler, which
 * allocates the resources in the same transaction; every other move is a plain transition.
 */
export const SESSION_TRANSITIONS: Readonly<Record<SessionStatus, readonly SessionStatus[]>> = {
  pending: ['scheduled', 'cancelled', 'failed'],
  scheduled: ['running', 'cancelled', 'failed'],
  running: ['paused', 'completed', 'failed', 'cancelled'],
  paused: ['running', 'cancelled', 'failed'],
  completed: [],
  failed: [],
  cancelled: [],
};

export const canTransition = (from: SessionStatus, to: SessionStatus): boolean => SESSION_TRANSITIONS[from].includes(to);

export const isTerminal = (status: string): boolean => (TERMINAL_STATUSES as readonly string[]).includes(status);

/** What a failure of its node does to a session: it fails with the node, or goes back to pending to be placed elsewhere. */
export const RESTART_POLICIES = ['never', 'reschedule'] as const;
export type RestartPolicy = (typeof RESTART_POLICIES)[number];
