// Limits of the HTTP server itself, below Express: how long a client may take to send a
// request, how many connections one process holds, and what a client whose request never
// became one gets back. Node's defaults (a 300 s request timeout, no connection cap, an
// empty 408/400) let slow or half-open clients hold sockets until file descriptors run out.
import { readFileSync } from 'node:fs';
import type http from 'node:http';
import type { Duplex } from 'node:stream';
import type { Config } from '../config.ts';
import { log } from '../log.ts';

/** The soft open-files limit (`ulimit -n`) of this process, or undefined when unknown. */
export function openFileLimit(): number | undefined {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'));
    const soft = Number(line?.split(/\s{2,}/)[1]);
    return Number.isFinite(soft) && soft > 0 ? soft : undefined;
  } catch {
    return undefined; // not Linux
  }
}

export function maxConnections(config: Config): number {
  if (config.MIA_MAX_CONNECTIONS > 0) return config.MIA_MAX_CONNECTIONS;
  // The other 20% of descriptors: Postgres pool and listener, log files, the worker.
  return Math.max(64, Math.floor((openFileLimit() ?? 10_000) * 0.8));
}

function errorResponse(status: number, reason: string, code: string, message: string): string {
  const body = JSON.stringify({ error: { code, message } });
  return (
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json; charset=utf-8\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`
  );
}

/** What Node would answer with an empty body, in our error shape instead. */
function clientErrorResponse(error: NodeJS.ErrnoException): string | undefined {
  switch (error.code) {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return errorResponse(408, 'Request Timeout', 'request_timeout', 'the request (headers and body) did not arrive in time');
    case 'HPE_HEADER_OVERFLOW':
      return errorResponse(431, 'Request Header Fields Too Large', 'bad_request', 'the request headers are too large');
    case 'ECONNRESET':
    case 'EPIPE':
      return undefined; // the client is gone
    default:
      return errorResponse(400, 'Bad Request', 'bad_request', 'the request is not valid HTTP');
  }
}

/**
 * How often Node looks for requests past their header/request timeout. Its default (30 s)
 * would let a stalled body live up to 30 s past the timeout; a scan of the open
 * connections every quarter timeout is cheap even with 10,000 parked long-polls.
 */
export function connectionsCheckingIntervalMs(config: Config): number {
  const shortest = Math.min(config.MIA_HEADERS_TIMEOUT_MS, config.MIA_REQUEST_TIMEOUT_MS);
  return Math.min(5000, Math.max(250, Math.floor(shortest / 4)));
}

export function applyServerLimits(server: http.Server, config: Config): void {
  // Miners keep connections open between long-polls: keep idle sockets longer than
  // the usual 60 s of a proxy in front, so the proxy closes first.
  server.keepAliveTimeout = 75_000;
  server.headersTimeout = config.MIA_HEADERS_TIMEOUT_MS;
  // Counts until the request has fully arrived; the wait for the answer (a long-poll) is not limited by it.
  server.requestTimeout = Math.max(config.MIA_REQUEST_TIMEOUT_MS, config.MIA_HEADERS_TIMEOUT_MS);
  server.maxConnections = maxConnections(config);
  let dropped = 0;
  server.on('drop', () => {
    // A socket refused at the cap: log the first and then every 1,000th, not each.
    if (dropped++ % 1000 === 0) log.warn('connection dropped: MIA_MAX_CONNECTIONS reached', { max: server.maxConnections, dropped });
  });
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
    const response = clientErrorResponse(error);
    if (response && socket.writable && !(socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent) {
      socket.end(response);
    } else {
      socket.destroy();
    }
  });
}
