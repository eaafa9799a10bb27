// A receiver that accepts the connection and never answers must not hold a
// delivery (and its graphile-worker queue) forever: the timeout has to fire,
// also after garbage collections, while the worker's long-lived signal lives on.
import assert from 'node:assert/strict';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { getEventListeners } from 'node:events';
import { collectGarbage, dependantsOf } from '../support/signals.ts';
import { postWebhook } from '../../api/maintenance/webhookPost.ts';

describe('webhook delivery timeout', () => {
  let server: net.Server;
  let port: number;
  const sockets = new Set<net.Socket>();

  before(async () => {
    // Reads the request and never writes a byte back.
    server = net.createServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.resume();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });

  after(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('fires against a receiver that never answers, after garbage collections', async () => {
    const shutdown = new AbortController();
    const target = { url: new URL(`http://127.0.0.1:${port}/hook`), address: '127.0.0.1', family: 4 as const };
    const delivery = postWebhook(target, '{}', { 'content-type': 'application/json' }, 200, shutdown.signal);
    const gcWhileWaiting = setInterval(collectGarbage, 20);
    try {
      await assert.rejects(delivery, /no answer within 200 ms/);
    } finally {
      clearInterval(gcWhileWaiting);
    }
    // Nothing of the finished delivery stays attached to the worker's signal.
    assert.equal(getEventListeners(shutdown.signal, 'abort').length, 0);
    assert.equal(dependantsOf(shutdown.signal), 0);
  });

  it('ends at once when the worker shuts down', async () => {
    const shutdown = new AbortController();
    const target = { url: new URL(`http://127.0.0.1:${port}/hook`), address: '127.0.0.1', family: 4 as const };
    const delivery = postWebhook(target, '{}', {}, 60_000, shutdown.signal);
    setTimeout(() => shutdown.abort(), 50);
    await assert.rejects(delivery, /interrupted by shutdown/);
  });
});
