import { randomUUID } from 'node:crypto';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { inRequestScope } from '../infra/logger.js';

const REQUEST_ID = /^[A-Za-z0-9._-]{1,128}$/;

/** The client's request id when it is a safe token, otherwise a new one. */
export function requestIdOf(candidate: string | null | undefined): string {
  return candidate && REQUEST_ID.test(candidate) ? candidate : randomUUID();
}

/**
 * Gives every HTTP request one id (the client's `x-request-id` when usable), echoes it in the
 * response, and serves the request in its logging scope so every line logged for it carries the id.
 */
export function withRequestIds(handler: RequestListener): RequestListener<typeof IncomingMessage, typeof ServerResponse> {
  return (req, res) => {
    const requestId = requestIdOf(req.headers['x-request-id'] as string | undefined);
    req.headers['x-request-id'] = requestId;
    res.setHeader('x-request-id', requestId);
    inRequestScope(requestId, () => handler(req, res));
  };
}
