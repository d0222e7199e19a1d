import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { print, type ExecutionResult } from 'graphql';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { createClient, type Client } from 'graphql-ws';
import { Redis } from 'ioredis';
import WebSocket from 'ws';
import type { Config } from '../../src/config.js';
import { createRedisPubSub, type PubSub, type PubSubOptions } from '../../src/infra/pubsub.js';
import type { TopicName } from '../../src/infra/topics.js';
import { redisAnswers } from './backing-services.js';
import { startTestServer, type DatabaseKind, type TestServer } from './server.js';

/** The pub/sub namespace of this test file's servers and buses, so parallel test files sharing one Redis never hear each other. */
export const PUBSUB_NAMESPACE = `test-${randomBytes(5).toString('hex')}`;

/**
 * Starts a test server that publishes under this file's namespace; `env` adds other start-up settings.
 */
export function startRealtimeServer(kind: DatabaseKind, overrides: Partial<Config> = {}, env: Record<string, string> = {}): Promise<TestServer> {
  return startTestServer(kind, overrides, { env: { PUBSUB_NAMESPACE, ...env } });
}

/** A Redis-backed bus of another API instance, under this file's namespace. */
export function anotherInstanceBus(redisUrl: string, options: Omit<PubSubOptions, 'namespace'> = {}): PubSub {
  return createRedisPubSub(redisUrl, { ...options, namespace: PUBSUB_NAMESPACE });
}

/** A graphql-ws client over a real WebSocket, signed in with these connection params. */
export function wsClient(url: string, connectionParams: Record<string, string>, options: { lazy?: boolean; generateID?: () => string } = {}): Client {
  const { lazy = true, generateID } = options;
  return createClient({ url: url.replace(/^http/, 'ws'), webSocketImpl: WebSocket, retryAttempts: 0, lazy, connectionParams, ...(generateID ? { generateID } : {}) });
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** A socket that stays connected without a subscription, and how the server closed it. */
export interface OpenSocket {
  client: Client;
  closed: Promise<{ code: number; reason: string }>;
  isOpen(): boolean;
}

export async function openSocket(url: string, connectionParams: Record<string, string>): Promise<OpenSocket> {
  let open = false;
  let onClosed: (event: { code: number; reason: string }) => void = () => undefined;
  const closed = new Promise<{ code: number; reason: string }>((resolve) => (onClosed = resolve));
  const client = createClient({
    url: url.replace(/^http/, 'ws'),
    webSocketImpl: WebSocket,
    retryAttempts: 0,
    lazy: false,
    connectionParams,
    onNonLazyError: () => undefined,
  });
  client.on('closed', (event) => {
    open = false;
    const { code, reason } = event as { code: number; reason: string };
    onClosed({ code, reason: String(reason) });
  });
  await new Promise<void>((resolve, reject) => {
    client.on('connected', () => {
      open = true;
      resolve();
    });
    void closed.then((event) => reject(new Error(`closed before connecting: ${event.code} ${event.reason}`)));
  });
  return { client, closed, isOpen: () => open };
}

/** One subscription's results in arrival order; next() waits for the following one. */
export interface LiveSubscription<R> {
  next(): Promise<R>;
  /** The error that ended the subscription, once it ended with one. */
  ended(): Promise<unknown>;
  /** Results received and not yet taken. */
  readonly buffered: number;
  stop(): void;
}

export function subscribe<R, V>(client: Client, document: TypedDocumentNode<R, V>, variables?: V): LiveSubscription<R> {
  const results: ExecutionResult<R>[] = [];
  const waiting: ((result: ExecutionResult<R>) => void)[] = [];
  let settle: (error: unknown) => void = () => undefined;
  const ended = new Promise<unknown>((resolve) => (settle = resolve));
  const stop = client.subscribe<R>(
    { query: print(document), variables: variables as Record<string, unknown> | undefined },
    {
      next: (result) => {
        const wake = waiting.shift();
        if (wake) wake(result as ExecutionResult<R>);
        else results.push(result as ExecutionResult<R>);
      },
      error: (error) => settle(error),
      complete: () => settle(undefined),
    },
  );
  return {
    async next() {
      const result = results.shift() ?? (await new Promise<ExecutionResult<R>>((resolve) => waiting.push(resolve)));
      if (result.errors?.length) throw new Error(`subscription error: ${result.errors.map((e) => e.message).join('; ')}`);
      return result.data as R;
    },
    ended: () => ended,
    get buffered() {
      return results.length;
    },
    stop,
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Waits until `count` Redis subscriptions exist for the tenant's channel of a topic: an instance
 * subscribes there as soon as a subscriber of that tenant is connected, so events published after
 * this resolves reach it.
 */
export async function untilSubscribedInRedis(redisUrl: string, topic: TopicName, tenantId: string, count = 1): Promise<void> {
  const redis = new Redis(redisUrl);
  try {
    const channel = `${PUBSUB_NAMESPACE}:${topic}:${tenantId}`;
    for (let attempt = 0; attempt < 500; attempt += 1) {
      const reply = (await redis.call('PUBSUB', 'NUMSUB', channel)) as [string, number];
      if (Number(reply[1]) >= count) return;
      await sleep(20);
    }
    throw new Error(`no Redis subscription on ${channel}`);
  } finally {
    redis.disconnect();
  }
}

/** Repeats `attempt` until it returns a value (not undefined), for conditions that become true eventually. */
export async function eventually<T>(attempt: () => Promise<T | undefined>, what: string, tries = 300, pauseMs = 50): Promise<T> {
  for (let i = 0; i < tries; i += 1) {
    const value = await attempt();
    if (value !== undefined) return value;
    await sleep(pauseMs);
  }
  throw new Error(`gave up waiting for ${what}`);
}

/** A TCP port nothing listens on (just now). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

/** A redis-server of the test's own, on a spare port, that the test stops and starts again. */
export interface OwnRedis {
  url: string;
  stop(): Promise<void>;
  start(): Promise<void>;
}

export async function startOwnRedis(): Promise<OwnRedis> {
  const port = await freePort();
  const url = `redis://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;
  const start = async () => {
    child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    await eventually(async () => ((await redisAnswers(url)) ? true : undefined), `redis-server on ${port}`, 200, 50);
  };
  await start();
  return {
    url,
    start,
    async stop() {
      const running = child;
      child = undefined;
      if (!running || running.exitCode !== null) return;
      await new Promise<void>((resolve) => {
        running.once('exit', () => resolve());
        running.kill('SIGKILL');
      });
    },
  };
}

/** A subscription over server-sent events (graphql-yoga's SSE transport), read as it arrives. */
export interface SseSubscription<R> {
  next(): Promise<R>;
  /** Resolves when the server ends the stream; with the errors of its last event, if it carried any. */
  ended: Promise<{ errors?: { message: string }[] } | undefined>;
  close(): void;
}

export async function subscribeOverSse<R, V>(url: string, headers: Record<string, string>, document: TypedDocumentNode<R, V>, variables?: V): Promise<SseSubscription<R>> {
  const abort = new AbortController();
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...headers },
    body: JSON.stringify({ query: print(document), variables }),
    signal: abort.signal,
  });
  if (!response.ok || !response.body) throw new Error(`SSE refused: ${response.status}`);
  const results: ExecutionResult<R>[] = [];
  const waiting: ((result: ExecutionResult<R> | undefined) => void)[] = [];
  let last: ExecutionResult<R> | undefined;
  const deliver = (result: ExecutionResult<R> | undefined) => {
    const wake = waiting.shift();
    if (wake) wake(result);
    else if (result) results.push(result);
  };
  const ended = (async () => {
    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        text += decoder.decode(value, { stream: true });
        let boundary: number;
        while ((boundary = text.indexOf('\n\n')) !== -1) {
          const block = text.slice(0, boundary);
          text = text.slice(boundary + 2);
          const data = block
            .split('\n')
            .filter((line) => line.startsWith('data:'))
            .map((line) => line.slice(5).trim())
            .join('');
          if (!data) continue;
          last = JSON.parse(data) as ExecutionResult<R>;
          deliver(last);
        }
      }
    } catch {
      // aborted by close()
    }
    while (waiting.length > 0) deliver(undefined);
    return last?.errors ? { errors: last.errors.map((e) => ({ message: e.message })) } : undefined;
  })();
  return {
    async next() {
      const result = results.shift() ?? (await new Promise<ExecutionResult<R> | undefined>((resolve) => waiting.push(resolve)));
      if (!result) throw new Error('SSE stream ended');
      if (result.errors?.length) throw new Error(`subscription error: ${result.errors.map((e) => e.message).join('; ')}`);
      return result.data as R;
    },
    ended,
    close: () => abort.abort(),
  };
}

/**
 * A graphql-transport-ws subscriber on a bare socket, so a test can stop reading it (pause) and
 * let the server's send buffer fill, as a stalled screen does.
 */
export interface RawSubscriber {
  /** Messages of this subscription (next, error, complete) in arrival order. */
  readonly messages: { type: string; payload?: unknown }[];
  pause(): void;
  resume(): void;
  /** Resolves once `done` holds for the messages received; rejects if the socket closes or the subscription ends first. */
  until(done: (messages: RawSubscriber['messages']) => boolean): Promise<void>;
  close(): void;
}

export async function rawSubscriber<R, V>(url: string, connectionParams: Record<string, string>, document: TypedDocumentNode<R, V>, variables?: V): Promise<RawSubscriber> {
  const socket = new WebSocket(url.replace(/^http/, 'ws'), 'graphql-transport-ws');
  const messages: RawSubscriber['messages'] = [];
  let check: () => void = () => undefined;
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload: connectionParams })));
    socket.once('error', reject);
    socket.on('message', (data: Buffer) => {
      const message = JSON.parse(data.toString()) as { type: string; id?: string; payload?: unknown };
      if (message.type === 'connection_ack') {
        socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: print(document), variables } }));
        resolve();
      } else if (message.id === '1') {
        messages.push({ type: message.type, payload: message.payload });
        check();
      }
    });
  });
  return {
    messages,
    pause: () => socket.pause(),
    resume: () => socket.resume(),
    until: (done) =>
      new Promise<void>((resolve, reject) => {
        const closed = () => reject(new Error(`socket closed after ${messages.length} messages`));
        check = () => {
          if (!done(messages)) {
            const last = messages.at(-1);
            if (last && last.type !== 'next') reject(new Error(`subscription ended: ${JSON.stringify(last)}`));
            return;
          }
          socket.off('close', closed);
          resolve();
        };
        socket.once('close', closed);
        check();
      }),
    close: () => socket.close(),
  };
}
