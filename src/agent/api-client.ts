import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';

/** The API could not be reached, or answered with a server failure: worth retrying later. */
export class ApiUnreachableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ApiUnreachableError';
  }
}

/** The API answered but refused the operation: retrying the same request will not help. */
export class ApiRefusedError extends Error {
  constructor(
    message: string,
    readonly typename: string,
  ) {
    super(message);
    this.name = 'ApiRefusedError';
  }
}

/** A small GraphQL client for the agent: HTTP for operations, graphql-ws for subscriptions, an API key for both. */
export class ApiClient {
  constructor(
    private readonly url: string,
    private readonly apiKey: string,
    private readonly timeoutMs = 15_000,
  ) {}

  async request<T>(query: string, variables: Record<string, unknown> = {}): Promise<T> {
    let response: Response;
    try {
      response = await fetch(this.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json', 'x-api-key': this.apiKey },
        body: JSON.stringify({ query, variables }),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (error) {
      throw new ApiUnreachableError((error as Error).message);
    }
    if (response.status >= 500 || response.status === 429) throw new ApiUnreachableError(`HTTP ${response.status}`);
    const body = (await response.json().catch(() => null)) as { data?: T; errors?: { message: string; extensions?: { code?: string } }[] } | null;
    if (!body) throw new ApiUnreachableError(`HTTP ${response.status} without a JSON body`);
    if (body.errors?.length) {
      const [first] = body.errors;
      throw new ApiRefusedError(first!.message, first!.extensions?.code ?? 'GRAPHQL_ERROR');
    }
    return body.data as T;
  }

  /** A mutation whose result is a union: the success member's data, or ApiRefusedError naming the error member. */
  async mutate<T>(query: string, variables: Record<string, unknown>, field: string, successTypename: string): Promise<T> {
    const data = await this.request<Record<string, { __typename: string; message?: string } & T>>(query, variables);
    const result = data[field]!;
    if (result.__typename !== successTypename) throw new ApiRefusedError(result.message ?? result.__typename, result.__typename);
    return result;
  }

  subscriptions(onConnected: () => void): Client {
    return createClient({
      url: this.url.replace(/^http/, 'ws'),
      webSocketImpl: WebSocket,
      connectionParams: { apiKey: this.apiKey },
      lazy: false,
      retryAttempts: Number.POSITIVE_INFINITY,
      shouldRetry: () => true,
      retryWait: async (retries) => new Promise((resolve) => setTimeout(resolve, Math.min(10_000, 500 * 2 ** Math.min(retries, 5)))),
      on: { connected: onConnected },
      onNonLazyError: () => undefined,
    });
  }
}
