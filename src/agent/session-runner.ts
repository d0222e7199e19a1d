import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
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

/** Whether a process is alive (a process of another user still counts). */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * When a process started, in clock ticks since boot (Linux's /proc/<pid>/stat, field 22), or null
 * where there is no /proc: with the pid it names one process, so a recycled pid is not mistaken for it.
 */
export function processStartOf(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may hold spaces: count fields after its last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

/** Whether the process `pid` that started at `startedAt` (null: unknown) is still running. */
export function stillRunning(pid: number, startedAt: string | null): boolean {
  if (!isAlive(pid)) return false;
  const now = processStartOf(pid);
  return startedAt === null || now === null || now === startedAt;
}

const ADOPTED_POLL_MS = 1_000;

type Tracked = { kind: 'child'; child: ChildProcess } | { kind: 'adopted'; pid: number; timer: NodeJS.Timeout };

/**
 * Runs sessions as processes, each the leader of its own process group (so stopping a session stops
 * what it started, and a signal to the agent's group leaves it running), and stops them when asked;
 * each outcome is reported once. A process an earlier agent started is adopted: followed until it
 * ends, its exit code unknown (it is not this agent's child).
 */
export class SessionRunner {
  private readonly running = new Map<string, Tracked>();
  private readonly stopping = new Set<string>();

  /** Starts a session; returns its pid, or null when it could not be started (the outcome says why). */
  start(session: SessionToRun, onExit: (outcome: SessionOutcome) => void): number | null {
    const [program, ...args] = session.argv;
    // A minimal environment: the session's own variables over the system's search path and HOME, nothing of the agent's.
    const env = { PATH: SYSTEM_PATH, HOME: homedir(), ...session.environment };
    const child = spawn(program!, args, { env, stdio: 'ignore', detached: true });
    this.running.set(session.sessionId, { kind: 'child', child });
    const report = this.reporter(session.sessionId, onExit);
    child.on('error', (error) => report({ status: 'failed', reason: `could not start: ${error.message}`, exitCode: null }));
    child.on('exit', (code, signal) => {
      if (code === 0) report({ status: 'completed', exitCode: 0 });
      else report({ status: 'failed', reason: code === null ? `killed by ${signal}` : `exit code ${code}`, exitCode: code });
    });
    return child.pid ?? null;
  }

  /** Follows a process an earlier agent started for the session, until it ends. */
  adopt(sessionId: string, pid: number, startedAt: string | null, onExit: (outcome: SessionOutcome) => void): void {
    const report = this.reporter(sessionId, onExit);
    const timer = setInterval(() => {
      if (stillRunning(pid, startedAt)) return;
      clearInterval(timer);
      report({ status: 'failed', reason: `its process (pid ${pid}) ended while followed after an agent restart; its exit code is unknown`, exitCode: null });
    }, ADOPTED_POLL_MS);
    this.running.set(sessionId, { kind: 'adopted', pid, timer });
  }

  private reporter(sessionId: string, onExit: (outcome: SessionOutcome) => void) {
    let reported = false;
    return (outcome: SessionOutcome) => {
      if (reported) return;
      reported = true;
      this.running.delete(sessionId);
      if (this.stopping.delete(sessionId)) return;
      onExit(outcome);
    };
  }

  isRunning(sessionId: string): boolean {
    return this.running.has(sessionId);
  }

  /** Stops a session the API ended (cancelled or failed elsewhere), its process group with it; its exit is not reported. */
  stop(sessionId: string): boolean {
    const tracked = this.running.get(sessionId);
    if (!tracked) return false;
    this.stopping.add(sessionId);
    const pid = tracked.kind === 'child' ? tracked.child.pid : tracked.pid;
    if (pid === undefined) return true;
    const signal = (name: NodeJS.Signals) => {
      try {
        process.kill(-pid, name);
      } catch {
        // Gone already.
      }
    };
    signal('SIGTERM');
    setTimeout(() => isAlive(pid) && signal('SIGKILL'), 5_000).unref();
    if (tracked.kind === 'adopted') {
      // An adopted process reports nothing when it goes: let the poll see it gone and forget it.
      this.stopping.delete(sessionId);
      clearInterval(tracked.timer);
      this.running.delete(sessionId);
    }
    return true;
  }

  /** Stops following (the processes keep running, for the next agent to adopt). */
  release(): void {
    for (const tracked of this.running.values()) {
      if (tracked.kind === 'adopted') clearInterval(tracked.timer);
      else tracked.child.removeAllListeners('exit').removeAllListeners('error');
    }
    this.running.clear();
  }
}
