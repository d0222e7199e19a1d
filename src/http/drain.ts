import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';

const REFUSED_BODY = JSON.stringify({ errors: [{ message: 'The server is shutting down; retry on another instance', extensions: { code: 'SERVICE_UNAVAILABLE', retryable: true } }] });

/**
 * Tracks the HTTP requests in flight so a shutdown can let them finish: once draining, a request
 * that arrives is refused before it starts (503, Connection: close), responses still being written
 * close their connection, and /readyz answers 503 so the load balancer stops sending.
 */
export class RequestDrain {
  private readonly inFlight = new Set<ServerResponse>();
  private draining = false;
  private settled: (() => void) | undefined;

  wrap(handler: RequestListener): RequestListener {
    return (request: IncomingMessage, response: ServerResponse) => {
      if (this.draining) {
        this.refuse(response);
        return;
      }
      this.inFlight.add(response);
      response.once('close', () => {
        this.inFlight.delete(response);
        if (this.draining && this.inFlight.size === 0) this.settled?.();
      });
      handler(request, response);
    };
  }

  /** Starts refusing new requests; resolves when those in flight have finished. */
  drain(): Promise<void> {
    this.draining = true;
    for (const response of this.inFlight) if (!response.headersSent) response.setHeader('connection', 'close');
    if (this.inFlight.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.settled = resolve;
    });
  }

  get inFlightCount(): number {
    return this.inFlight.size;
  }

  private refuse(response: ServerResponse): void {
    response.writeHead(503, { 'content-type': 'application/json', connection: 'close', 'retry-after': '1' });
    response.end(REFUSED_BODY);
  }
}
