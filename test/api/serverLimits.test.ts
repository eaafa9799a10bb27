// The HTTP server's own limits: a client that sends its request slowly, or never, gets
// a 408 in our shape and loses the connection; a long-poll is not cut by them; one
// process holds at most MIA_MAX_CONNECTIONS sockets.
import assert from 'node:assert/strict';
import net from 'node:net';
import { loadConfig } from '../../api/config.ts';
import { maxConnections, openFileLimit } from '../../api/http/serverLimits.ts';
import { useTestApi } from '../support/apiServer.ts';
import { registerMiner } from '../support/factories.ts';

function connect(url: string): Promise<net.Socket> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), hostname, () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Everything the server sends until it closes the socket. */
function readUntilClosed(socket: net.Socket): Promise<string> {
  let data = '';
  socket.on('data', (chunk: Buffer) => (data += chunk.toString('utf8')));
  return new Promise((resolve) => socket.once('close', () => resolve(data)));
}

describe('HTTP server limits', function () {
  this.timeout(30_000);
  const api = useTestApi({
    env: { MIA_HEADERS_TIMEOUT_MS: '1000', MIA_REQUEST_TIMEOUT_MS: '1500', MIA_MAX_CONNECTIONS: '20' },
  });

  it('closes a request whose body stalls with 408 request_timeout in our shape', async () => {
    const socket = await connect(api.url);
    const answer = readUntilClosed(socket);
    socket.write('POST /chat HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"mess');
    const text = await answer; // the body's other 94 bytes never come
    assert.match(text, /^HTTP\/1\.1 408 /);
    assert.equal(JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4)).error.code, 'request_timeout');
  });

  it('closes a connection whose headers never end with 408', async () => {
    const socket = await connect(api.url);
    const answer = readUntilClosed(socket);
    socket.write('GET /health HTTP/1.1\r\nHost: x\r\n');
    assert.match(await answer, /^HTTP\/1\.1 408 [\s\S]*request_timeout/);
  });

  it('does not cut a long-poll that waits longer than the request timeout', async () => {
    const miner = await registerMiner(api);
    const res = await api.request('GET', `/job/next?miner_id=${miner.miner_id}&wait=3`, { token: miner.auth_key });
    assert.equal(res.status, 204);
  });

  it('holds at most MIA_MAX_CONNECTIONS sockets, and accepts again when one closes', async () => {
    const held: net.Socket[] = [];
    try {
      while (held.length < 40) {
        const socket = await connect(api.url);
        held.push(socket);
        const closedAtOnce = await new Promise<boolean>((resolve) => {
          socket.once('close', () => resolve(true));
          setTimeout(() => resolve(false), 150);
        });
        if (closedAtOnce) break;
      }
      const refused = held.at(-1)!;
      assert.ok(refused.destroyed, 'a connection past the cap is dropped');
      assert.ok(held.length <= 21, `dropped after ${held.length} connections (cap 20)`);
      held[0]!.destroy();
      await new Promise((r) => setTimeout(r, 100));
      const health = await fetch(`${api.url}/health`);
      assert.equal(health.status, 200);
    } finally {
      for (const socket of held) socket.destroy();
    }
  });

  it('by default keeps 20% of the file-descriptor limit for everything else', () => {
    const limit = openFileLimit();
    const config = loadConfig({ DATABASE_URL: 'postgres://x/y', MIA_ADMIN_TOKEN: 'x'.repeat(32) });
    if (limit === undefined) assert.equal(maxConnections(config), 8000);
    else assert.equal(maxConnections(config), Math.max(64, Math.floor(limit * 0.8)));
  });
});
