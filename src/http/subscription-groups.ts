import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { createSourceEventStream, execute, getOperationAST, GraphQLError, type DocumentNode, type ExecutionArgs, type ExecutionResult, type GraphQLSchema } from 'graphql';
import type { Context } from '../context.js';
import type { Logger } from '../infra/logger.js';
import { runInTenant } from '../infra/tenant-scope.js';
import type { Principal } from '../modules/identity/principal.js';
import type { SlowReaderRule } from '../modules/realtime/live-feed.js';
import { SubscriberTooSlowError } from '../modules/shared/errors.js';
import { toGraphQLError } from '../modules/shared/graphql-errors.js';

/** What a group writes to: a ws socket's state and the bytes it has not handed to the kernel yet. */
export interface MemberSocket {
  readonly bufferedAmount: number;
  /** ws's state: only an open socket (1) is written to. */
  readonly readyState: number;
  send(data: Buffer, options: { binary: boolean }): void;
}

/**
 * The connection under a member's socket, when frames may be written to it directly: no extension
 * (compression) was negotiated, so a frame is its header and the message, and ws writes its own
 * frames to the same stream synchronously, so the order of frames holds.
 */
export interface MemberStream {
  /** False once the connection is ending or gone. */
  readonly writable: boolean;
  write(frame: Buffer): boolean;
}

/** graphql-ws frames are text frames, though written from bytes. */
const TEXT_FRAME = { binary: false } as const;
const CLOSING_BRACE = 0x7d;
const OPEN = 1;
/** A WebSocket frame's first byte: the final fragment of a text message. */
const FINAL_TEXT = 0x81;

/** Members written to before the fan-out yields, so a mutation's response and other sockets' input are not held up. */
const FAN_OUT_SLICE = 512;

/** What a graphql-ws `next` message holds around its subscription id and its payload. */
const ID_OPEN = Buffer.from('{"id":');
const NEXT_PAYLOAD = Buffer.from(',"type":"next","payload":');

/**
 * A graphql-ws `next` message in one buffer: `{"id":` the quoted id `,"type":"next","payload":`,
 * the shared payload and `}`, behind an unmasked WebSocket text frame header when `framed` (a
 * server's frames are never masked). `idBytes` is the quoted id's length in UTF-8.
 */
function nextMessage(quotedId: string, idBytes: number, payload: Uint8Array, framed: boolean): Buffer {
  const length = ID_OPEN.length + idBytes + NEXT_PAYLOAD.length + payload.length + 1;
  const header = !framed ? 0 : length < 126 ? 2 : length < 65_536 ? 4 : 10;
  const frame = Buffer.allocUnsafe(header + length);
  if (header > 0) {
    frame[0] = FINAL_TEXT;
    if (header === 2) frame[1] = length;
    else if (header === 4) {
      frame[1] = 126;
      frame.writeUInt16BE(length, 2);
    } else {
      frame[1] = 127;
      frame.writeUInt32BE(Math.floor(length / 2 ** 32), 2);
      frame.writeUInt32BE(length >>> 0, 6);
    }
  }
  let at = header;
  frame.set(ID_OPEN, at);
  at += ID_OPEN.length;
  // An id of ASCII characters (its UTF-8 as long as the string) is copied as such, without the UTF-8 encoder.
  frame.write(quotedId, at, idBytes, idBytes === quotedId.length ? 'latin1' : 'utf8');
  at += idBytes;
  frame.set(NEXT_PAYLOAD, at);
  at += NEXT_PAYLOAD.length;
  frame.set(payload, at);
  frame[at + payload.length] = CLOSING_BRACE;
  return frame;
}

/**
 * The key of a group: the operation's text, name and variables, and what authorization depends on
 * (tenant, role, permissions, environment). Two subscribers with equal keys are served the same bytes.
 */
export function groupKey(query: string, operationName: string | null | undefined, variables: unknown, principal: Principal | null): string {
  const scope = principal ? [principal.tenantId, principal.role, [...principal.permissions].sort(), principal.environmentId] : null;
  return createHash('sha256')
    .update(JSON.stringify([query, operationName ?? null, variables ?? null, scope]))
    .digest('base64url');
}

/**
 * One subscriber of a group, and the iterator graphql-ws holds for it: it yields nothing (the group
 * writes the frames) and settles when the subscriber leaves or its subscription ends.
 */
class GroupMember implements AsyncIterableIterator<never> {
  /** This subscription's id as JSON, and its length in UTF-8: all a `next` message holds of its own. */
  private readonly quotedId: string;
  private readonly idBytes: number;
  /** Live metric points this member skipped while its socket was full, told with its next batch. */
  droppedPoints = 0;
  /** How the subscription ended (with an error or none), once it did. */
  private outcome: { error: unknown } | undefined;
  private waiting: { resolve(result: IteratorResult<never>): void; reject(error: unknown): void } | undefined;

  constructor(
    readonly socket: MemberSocket,
    /** Where whole frames go, bypassing ws's per-message work; without it, ws frames the message. */
    private readonly stream: MemberStream | undefined,
    id: string,
    private readonly group: SubscriptionGroup,
  ) {
    this.quotedId = JSON.stringify(id);
    this.idBytes = Buffer.byteLength(this.quotedId);
  }

  /** Writes `next` with a serialized result: this subscription's id around the shared payload's bytes. */
  write(payload: Buffer): void {
    if (this.socket.readyState !== OPEN) return;
    try {
      if (this.stream) {
        if (this.stream.writable) this.stream.write(nextMessage(this.quotedId, this.idBytes, payload, true));
      } else this.socket.send(nextMessage(this.quotedId, this.idBytes, payload, false), TEXT_FRAME);
    } catch {
      // The socket went away under the group (a keep-alive timeout): this member ends, the others go on.
      this.end();
    }
  }

  get active(): boolean {
    return this.outcome === undefined;
  }

  /** Ends this subscription: completed, or with the error graphql-ws sends as its `error` message. */
  end(error?: unknown): void {
    if (this.outcome) return;
    this.outcome = { error };
    this.group.leave(this);
    const waiting = this.waiting;
    this.waiting = undefined;
    if (!waiting) return;
    if (error === undefined) waiting.resolve(DONE);
    else waiting.reject(error);
  }

  /** Settles only when the subscription ends: the group writes the results itself. */
  next(): Promise<IteratorResult<never>> {
    if (!this.outcome) return new Promise((resolve, reject) => (this.waiting = { resolve, reject }));
    return this.outcome.error === undefined ? Promise.resolve(DONE) : Promise.reject(this.outcome.error);
  }

  return(): Promise<IteratorResult<never>> {
    this.end();
    return Promise.resolve(DONE);
  }

  throw(error?: unknown): Promise<IteratorResult<never>> {
    this.end();
    return Promise.reject(error);
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<never> {
    return this;
  }
}

const DONE: IteratorResult<never> = { value: undefined as never, done: true };

/** What a group needs to run the operation: the arguments of its first subscriber, with that subscriber's context. */
export interface GroupOperation {
  schema: GraphQLSchema;
  document: DocumentNode;
  operationName?: string | null;
  variableValues?: Record<string, unknown> | null;
  contextValue: Context;
}

/**
 * Subscribers of one operation under one authorization scope: one source stream (one listener on the
 * tenant's topic, filtered and permission-checked there), each event executed and serialized once,
 * and the same bytes written to every member socket.
 */
class SubscriptionGroup {
  private readonly members = new Set<GroupMember>();
  private source: AsyncIterator<unknown> | undefined;
  private slowReader: SlowReaderRule = 'end';
  /** The last payload of a latest-value feed, so a member joining later starts from the current value. */
  private latestPayload: Buffer | undefined;
  private closed = false;
  /** Undefined once the stream is open; the errors that refused it otherwise. */
  readonly opened: Promise<ExecutionResult | undefined>;

  constructor(
    readonly operation: GroupOperation,
    private readonly bufferLimitBytes: number,
    private readonly onEmpty: () => void,
    /** Told of every member that joins (+1) or leaves (-1). */
    private readonly onMembers: (delta: number) => void = () => undefined,
    /** Told how long each event took, in seconds, from reaching the group to its last member written. */
    private readonly onFanOut: (seconds: number) => void = () => undefined,
  ) {
    this.opened = this.open();
  }

  join(socket: MemberSocket, stream: MemberStream | undefined, id: string): GroupMember {
    const member = new GroupMember(socket, stream, id, this);
    this.members.add(member);
    this.onMembers(1);
    if (this.latestPayload !== undefined) member.write(this.latestPayload);
    return member;
  }

  leave(member: GroupMember): void {
    if (!this.members.delete(member)) return;
    this.onMembers(-1);
    if (this.members.size === 0) this.close();
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    this.onEmpty();
    void this.source?.return?.();
  }

  private get tenantId(): string | undefined {
    return this.operation.contextValue.principal?.tenantId;
  }

  private inTenant<T>(work: () => T): T {
    const tenantId = this.tenantId;
    return tenantId ? runInTenant(tenantId, work) : work();
  }

  private async open(): Promise<ExecutionResult | undefined> {
    const stream = await this.inTenant(() => createSourceEventStream(this.operation as ExecutionArgs));
    if (!isAsyncIterable(stream)) {
      this.fail();
      return stream;
    }
    this.source = stream[Symbol.asyncIterator]();
    const declared = (stream as { slowReader?: SlowReaderRule }).slowReader;
    if (declared) this.slowReader = declared;
    if (this.closed) void this.source.return?.();
    else void this.pump();
    return undefined;
  }

  /** Refused at the start: the group goes, and its members are answered with the errors. */
  private fail(): void {
    this.closed = true;
    this.onEmpty();
  }

  private async pump(): Promise<void> {
    try {
      for (;;) {
        const step = await this.source!.next();
        if (step.done || this.closed) break;
        await this.deliver(step.value);
      }
      this.endAll();
    } catch (error) {
      this.endAll(toGraphQLError(error));
    }
  }

  private endAll(error?: unknown): void {
    this.close();
    for (const member of [...this.members]) member.end(error);
  }

  /** The event executed against the group's operation, serialized as graphql-ws sends a result. */
  private async run(event: unknown): Promise<Buffer> {
    const result = await this.inTenant(() => execute({ ...(this.operation as ExecutionArgs), rootValue: event }));
    const errors = result.errors?.map((error) => masked(error, this.operation.contextValue.log).toJSON());
    return Buffer.from(JSON.stringify(errors ? { data: result.data, errors } : { data: result.data }));
  }

  private async deliver(event: unknown): Promise<void> {
    const reached = performance.now();
    const payload = await this.run(event);
    if (this.slowReader === 'latest') this.latestPayload = payload;
    let written = 0;
    for (const member of [...this.members]) {
      if (!member.active) continue;
      if (member.socket.bufferedAmount > this.bufferLimitBytes) this.behind(member, event);
      else if (member.droppedPoints > 0) await this.catchUp(member, event);
      else member.write(payload);
      written += 1;
      if (written % FAN_OUT_SLICE === 0) await nextTurn();
    }
    this.onFanOut((performance.now() - reached) / 1000);
  }

  /** A member whose socket is full: live metrics skip the batch and count it; latest values wait for the next; anything else ends. */
  private behind(member: GroupMember, event: unknown): void {
    if (this.slowReader === 'shed') member.droppedPoints += (event as { points?: unknown[] }).points?.length ?? 0;
    else if (this.slowReader === 'end') member.end(toGraphQLError(new SubscriberTooSlowError(this.bufferLimitBytes, 'bytes')));
  }

  /** The first batch after a member skipped some: executed for it alone, so its droppedPoints is its own. */
  private async catchUp(member: GroupMember, event: unknown): Promise<void> {
    const batch = event as { droppedPoints: number };
    const own = await this.run({ ...batch, droppedPoints: batch.droppedPoints + member.droppedPoints });
    member.droppedPoints = 0;
    if (member.active) member.write(own);
  }
}

/** As the HTTP handler answers: an unexpected error's message and stack stay in the server's log. */
function masked(error: GraphQLError, log: Logger): GraphQLError {
  const original = error.originalError;
  if (!original || original instanceof GraphQLError) return error;
  log.error('unexpected error', { path: error.path?.join('.'), error: original.message, stack: original.stack });
  return new GraphQLError('Unexpected error.', { path: error.path, extensions: { code: 'INTERNAL_SERVER_ERROR' } });
}

const isAsyncIterable = (value: unknown): value is AsyncIterable<unknown> =>
  typeof (value as { [Symbol.asyncIterator]?: unknown } | null)?.[Symbol.asyncIterator] === 'function';

/**
 * The groups of this instance's WebSocket subscriptions. A subscriber joins the group of its key,
 * creating it with its own operation when none exists; the group goes when its last member leaves.
 */
export class SubscriptionGroups {
  private readonly groups = new Map<string, SubscriptionGroup>();

  constructor(
    private readonly bufferLimitBytes: number,
    /** Members joining and leaving, by operation name, for the open-subscriptions gauge. */
    private readonly onMembers: (operationName: string, delta: number) => void = () => undefined,
    /** Each event's fan-out time in seconds, by operation name. */
    private readonly onFanOut: (operationName: string, seconds: number) => void = () => undefined,
  ) {}

  /** The operation of the group of `key`, when one is open. */
  operationOf(key: string): GroupOperation | undefined {
    return this.groups.get(key)?.operation;
  }

  /**
   * Joins the group of `key` (created with `operation` when absent): the member's iterator once the
   * group's stream is open, or the errors that refused it.
   */
  async join(key: string, socket: MemberSocket, stream: MemberStream | undefined, id: string, operation: GroupOperation): Promise<AsyncIterableIterator<never> | ExecutionResult> {
    let group = this.groups.get(key);
    if (!group) {
      const operationName = getOperationAST(operation.document, operation.operationName)?.name?.value ?? 'anonymous';
      const created = new SubscriptionGroup(
        operation,
        this.bufferLimitBytes,
        () => {
          if (this.groups.get(key) === created) this.groups.delete(key);
        },
        (delta) => this.onMembers(operationName, delta),
        (seconds) => this.onFanOut(operationName, seconds),
      );
      this.groups.set(key, created);
      group = created;
    }
    const member = group.join(socket, stream, id);
    const refused = await group.opened;
    if (!refused) return member;
    member.end();
    return { ...refused, errors: refused.errors?.map((error) => masked(error, group.operation.contextValue.log)) };
  }
}
