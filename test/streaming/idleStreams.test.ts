// 1,000 real idle streams (issue 17): customers' SSE connections on queued jobs, held
// open against the in-process API. While nothing moves, the process sends Postgres one
// statement per fallback tick for all of them (sql/jobs_stream_state_get.sql), where it
// used to re-read every stream every tick (~480 commits/s). Judged by counting the
// statements the process sends per tick, never by timings.
import assert from 'node:assert/strict';
import pg from 'pg';
import { useTestApi } from '../support/apiServer.ts';
import { withClient } from '../support/database.ts';
import { createBusiness } from '../support/factories.ts';
import { eventually } from '../miner/helpers.ts';

const streams = 1000;

describe('1,000 idle streams', function () {
  this.timeout(180_000);
  // No maintenance worker in this process, so every statement counted is the streams'.
  const api = useTestApi({ env: { MIA_WORKER: 'off', MIA_FALLBACK_POLL_MS: '100' } });

  it('cost one statement per fallback tick for all of them (≤ 1 commit/s at the default 2 s tick), not one per stream', async () => {
    const business = await createBusiness(api);
    const ids = await withClient(api.databaseUrl, async (c) => (await c.query<{ id: string }>(
      `INSERT INTO mia.jobs (business_id, session_id, messages, prompt, max_tokens)
       SELECT $1, 'idle-' || g, '[{"role":"user","content":"hi"}]', 'hi', 16 FROM generate_series(1, $2::int) AS g
       RETURNING id`, [business.id, streams])).rows.map((r) => r.id));

    const abort = new AbortController();
    const seen = new Map<string, string>(); // job -> everything its stream sent so far
    const opened = ids.map(async (id) => {
      const res = await fetch(`${api.url}/job/${id}/stream`, {
        headers: { authorization: `Bearer ${business.api_key}`, accept: 'text/event-stream' },
        signal: abort.signal,
      });
      assert.equal(res.status, 200, `stream of ${id}`);
      const decoder = new TextDecoder();
      seen.set(id, '');
      try {
        for await (const chunk of res.body!) seen.set(id, seen.get(id)! + decoder.decode(chunk as Uint8Array, { stream: true }));
      } catch {
        // aborted at the end of the test
      }
    });

    const hub = api.server.ctx.streams.hub;
    await eventually(() => hub.jobIds().length === streams && [...seen.values()].filter((t) => t.includes('event: queued')).length === streams,
      60_000, () => `${streams} streams open (${hub.jobIds().length} watched, ${[...seen.values()].filter((t) => t.includes('event: queued')).length} told queued)`);

    // Count every statement this process sends from now on.
    const original = pg.Client.prototype.query;
    let statements = 0;
    let ticks = 0;
    pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
      statements += 1;
      const text = typeof args[0] === 'string' ? args[0] : (args[0] as { text?: string } | undefined)?.text ?? '';
      if (text.includes('d.attempt = j.attempts')) ticks += 1;
      return (original as (...a: unknown[]) => unknown).apply(this, args);
    } as typeof original;
    try {
      await eventually(() => ticks >= 10, 60_000, () => `10 fallback ticks (${ticks})`);
    } finally {
      pg.Client.prototype.query = original;
    }
    assert.ok(statements <= ticks + 5, `${statements} statements in ${ticks} ticks with ${streams} idle streams: one per tick expected`);
    assert.equal(hub.jobIds().length, streams, 'every stream still open');
    for (const [id, text] of seen) assert.doesNotMatch(text, /event: (started|delta|done|error)/, `stream of ${id} stayed idle`);

    abort.abort();
    await Promise.allSettled(opened);
    await eventually(() => hub.subscribers === 0, 30_000, () => `streams closed (${hub.subscribers} left)`);
  });
});
