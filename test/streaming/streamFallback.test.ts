// Idle streams wait on notifications, not polls (issue 17): the fallback for a lost
// NOTIFY reads every watched job of the process in one statement per tick and wakes
// only the readers whose job moved. Judged by which readers wake and by how many
// statements a tick costs, never by timings.
import assert from 'node:assert/strict';
import { useTestApi } from '../support/apiServer.ts';
import { withClient } from '../support/database.ts';
import { createBusiness } from '../support/factories.ts';
import { StreamHub } from '../../api/streaming/streamHub.ts';
import { StreamFallback } from '../../api/streaming/streamFallback.ts';

describe('the streams fallback check', () => {
  const api = useTestApi();

  it('costs one statement per tick for 1,000 idle streams and wakes only the readers whose job moved', async () => {
    const business = await createBusiness(api);
    const ids = await withClient(api.databaseUrl, async (c) => (await c.query<{ id: string }>(
      `INSERT INTO mia.jobs (business_id, session_id, messages, prompt, max_tokens)
       SELECT $1, 's' || g, '[{"role":"user","content":"hi"}]', 'hi', 16 FROM generate_series(1, 1000) AS g
       RETURNING id`, [business.id])).rows.map((r) => r.id));
    const hub = new StreamHub();

    const abort = new AbortController();
    const subs = ids.map((id) => ({ id, sub: hub.subscribe(id) }));
    const woken = new Set<string>();
    const listen = () => {
      woken.clear();
      for (const { id, sub } of subs) void sub.changed(abort.signal).then(() => { if (!abort.signal.aborted) woken.add(id); });
    };
    const settle = () => new Promise((resolve) => setImmediate(resolve));
    // Statements the check sends, counted at the pool it is given (the real one underneath).
    let sent = 0;
    const db = api.server.ctx.db;
    const counting = new Proxy(db, {
      get: (target, key, receiver) => {
        const value: unknown = Reflect.get(target, key, receiver);
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          if (['any', 'one', 'maybeOne', 'many', 'query'].includes(String(key))) sent += 1;
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
    const fallback = new StreamFallback(counting, hub);

    // The first look wakes every reader once (it may have missed something before subscribing).
    listen();
    await fallback.check();
    await settle();
    assert.equal(woken.size, 1000);

    // Nothing moved: nobody re-reads.
    listen();
    sent = 0;
    await fallback.check();
    await settle();
    assert.equal(woken.size, 0, 'idle streams are not woken');
    assert.equal(sent, 1, 'one statement for all 1,000 streams');

    // A change this hub was not told of (as a claim or a give-back is not) wakes that job's reader only.
    await withClient(api.databaseUrl, (c) => c.query(
      `UPDATE mia.jobs SET status = 'cancelled', completed_at = now() WHERE id = $1`, [ids[7]]));
    listen();
    await fallback.check();
    await settle();
    assert.deepEqual([...woken], [ids[7]]);

    abort.abort();
    for (const { sub } of subs) sub.close();
  });
});
