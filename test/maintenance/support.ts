// Helpers shared by the maintenance tests: a bounded wait for a condition the
// worker brings about, a local webhook receiver, and direct SQL on a test database.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { withClient } from '../support/database.ts';

/** Re-check until `check` returns a value other than undefined/false; fail after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined | false>,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export async function sql<T = Record<string, unknown>>(
  url: string,
  text: string,
  values: unknown[] = [],
): Promise<T[]> {
  return withClient(url, async (client) => (await client.query(text, values)).rows as T[]);
}

export type ReceivedWebhook = {
  headers: http.IncomingHttpHeaders;
  body: string;
  answeredWith: number;
};

export type WebhookReceiver = {
  url: string;
  received: ReceivedWebhook[];
  close: () => Promise<void>;
};

/** An HTTP server on 127.0.0.1 that records every POST; `answer(n)` gives the status of the n-th (from 1). */
export async function startWebhookReceiver(
  answer: (n: number) => number = () => 204,
): Promise<WebhookReceiver> {
  const received: ReceivedWebhook[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const status = answer(received.length + 1);
      received.push({
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        answeredWith: status,
      });
      res.statusCode = status;
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    // The receiver's own token in the query string: it must never show up in a log line.
    url: `http://127.0.0.1:${port}/hooks/mia?token=receiver-secret`,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
