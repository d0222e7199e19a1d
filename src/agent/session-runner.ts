import { spawn, type ChildProcess } from 'node:child_process';
import { homedir } from 'node:os';

const SYSTEM_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** What the owner of the machine lets the API run: off unless enabled, and only allow-listed programs. */
export interface CommandPolicy {
  runCommands: boolean;
  allowedCommands: string[];
}

export interface SessionToRun {
  sessionId: string;
  /** The program and its arguments (argv), never given to a shell. */
  argv: string[];
  environment: Record<string, string>;
}

/**
 * What a session runs: its `command` (argv) when it has one, else its `application` split on
 * whitespace (sessions created before `command` existed name their program there).
 */
export function argvOf(session: { command?: string[] | null; application?: string | null }): string[] {
  if (session.command?.length) return session.command;
  return session.application?.trim().split(/\s+/).filter(Boolean) ?? [];
}

export type SessionOutcome = { status: 'completed'; exitCode: 0 } | { status: 'failed'; reason: string; exitCode: number | null };

/** Why the policy refuses a session's command, or null when it may run. */
export function refusal(policy: CommandPolicy, argv: string[]): string | null {
  if (!policy.runCommands) return 'this agent does not run commands sent by the API (its owner has not enabled --run-commands)';
  const program = argv[0];
  if (!program) return 'the session names no command (neither its command nor its application field is set)';
  if (!policy.allowedCommands.includes(program)) return `command ${program} is not in the agent's allow-list`;
  return null;
}

/** Runs sessions as child processes and stops them when asked; each outcome is reported once. */
export class SessionRunner {
  private readonly running = new Map<string, ChildProcess>();
  private readonly stopping = new Set<string>();

  start(session: SessionToRun, onExit: (outcome: SessionOutcome) => void): number | null {
    const [program, ...args] = session.argv;
    // A minimal environment: the session's own variables over the system's search path and HOME, nothing of the agent's.
    const env = { PATH: SYSTEM_PATH, HOME: homedir(), ...session.environment };
    const child = spawn(program!, args, { env, stdio: 'ignore' });
    this.running.set(session.sessionId, child);
    let reported = false;
    const report = (outcome: SessionOutcome) => {
      if (reported) return;
      reported = true;
      this.running.delete(session.sessionId);
      if (this.stopping.delete(session.sessionId)) return;
      onExit(outcome);
    };
    child.on('error', (error) => report({ status: 'failed', reason: `could not start: ${error.message}`, exitCode: null }));
    child.on('exit', (code, signal) => {
      if (code === 0) report({ status: 'completed', exitCode: 0 });
      else report({ status: 'failed', reason: code === null ? `killed by ${signal}` : `exit code ${code}`, exitCode: code });
    });
    return child.pid ?? null;
  }

  isRunning(sessionId: string): boolean {
    return this.running.has(sessionId);
  }

  /** Stops a session the API ended (cancelled or failed elsewhere); its exit is not reported. */
  stop(sessionId: string): boolean {
    const child = this.running.get(sessionId);
    if (!child) return false;
    this.stopping.add(sessionId);
    child.kill('SIGTERM');
    setTimeout(() => child.exitCode === null && child.kill('SIGKILL'), 5_000).unref();
    return true;
  }

  stopAll(): void {
    for (const sessionId of [...this.running.keys()]) this.stop(sessionId);
  }
}
