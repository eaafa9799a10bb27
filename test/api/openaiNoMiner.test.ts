// Issue 19: with no miner online, the SDKs' own retries must not multiply jobs and
// waits. The OpenAI routes answer 503 no_miner_available at once, queueing nothing,
// unless the business opts into waiting; a client that hangs up on a queued
// non-streaming call cancels its job. Judged by the official openai client with its
// default retries, and by a plain client that hangs up (as `curl -m 2` does).
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { startTestApi, type TestApi } from '../support/apiServer.ts';
import { withClient } from '../support/database.ts';
import { createBusiness, type TestBusiness } from '../support/factories.ts';
import { eventually } from '../miner/helpers.ts';

describe('OpenAI routes with no miner online', function () {
  this.timeout(30_000);
  let api: TestApi;
  let business: TestBusiness;

  before(async () => {
    api = await startTestApi({ env: { MIA_OPENAI_WAIT_SECONDS: '20' } });
    business = await createBusiness(api);
  });
  after(async () => {
    await api?.close();
  });

  const jobsOf = (businessId: string) =>
    withClient(api.databaseUrl, async (client) =>
      (await client.query<{ id: string; status: string; error: string | null }>('SELECT id, status, error FROM mia.jobs WHERE business_id = $1', [businessId])).rows,
    );

  it('answers the default openai client at once with 503 no_miner_available, with no retries and no job', async () => {
    let attempts = 0;
    const client = new OpenAI({
      apiKey: business.api_key,
      baseURL: `${api.url}/v1`,
      // The SDK's own fetch, counted: its default maxRetries (2) stays in force.
      fetch: (input, init) => {
        attempts += 1;
        return fetch(input, init);
      },
    });
    for (let call = 0; call < 3; call += 1) {
      await assert.rejects(client.chat.completions.create({ model: 'mia', messages: [{ role: 'user', content: 'Where is my order?' }] }), (error: unknown) => {
        assert.ok(error instanceof OpenAI.APIError, String(error));
        assert.equal(error.status, 503);
        assert.equal(error.code, 'no_miner_available');
        assert.equal(error.type, 'server_error');
        assert.ok(Number(error.headers?.get('retry-after')) >= 1, 'Retry-After says when to come back');
        return true;
      });
    }
    assert.equal(attempts, 3, 'one HTTP attempt per logical call: X-Should-Retry: false stops the SDK retrying');
    assert.deepEqual(await jobsOf(business.id), [], 'nothing was queued');
  });

  it('queues and waits when the request opts in, and a hang-up while queued cancels the job', async () => {
    const abort = new AbortController();
    const call = fetch(`${api.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${business.api_key}`, 'Content-Type': 'application/json', 'X-Mia-Wait-For-Miner': 'true' },
      body: JSON.stringify({ model: 'mia', messages: [{ role: 'user', content: 'I will hang up' }] }),
      signal: abort.signal,
    }).catch((error: unknown) => error);
    const [queued] = await eventually(async () => {
      const rows = await jobsOf(business.id);
      return rows.length === 1 ? rows : undefined;
    });
    assert.equal(queued!.status, 'queued', 'with X-Mia-Wait-For-Miner the job waits for a miner');
    abort.abort();
    assert.ok((await call) instanceof Error);
    const [cancelled] = await eventually(async () => {
      const rows = await jobsOf(business.id);
      return rows[0]?.status === 'cancelled' ? rows : undefined;
    });
    assert.match(cancelled!.error ?? '', /disconnected/);
    assert.equal((await jobsOf(business.id)).length, 1, 'one job for the one logical call');
  });
});

describe('OpenAI routes opted into waiting, when no miner comes', function () {
  this.timeout(30_000);
  let api: TestApi;

  before(async () => {
    api = await startTestApi({ env: { MIA_OPENAI_WAIT_SECONDS: '1', MIA_OPENAI_WAIT_FOR_MINER: 'true' } });
  });
  after(async () => {
    await api?.close();
  });

  it('leaves one cancelled job per logical call of the default openai client, none queued', async () => {
    const business = await createBusiness(api);
    let attempts = 0;
    const client = new OpenAI({
      apiKey: business.api_key,
      baseURL: `${api.url}/v1`,
      fetch: (input, init) => {
        attempts += 1;
        return fetch(input, init);
      },
    });
    for (let call = 0; call < 2; call += 1) {
      await assert.rejects(client.chat.completions.create({ model: 'mia', messages: [{ role: 'user', content: 'Anyone there?' }] }), (error: unknown) => {
        assert.ok(error instanceof OpenAI.APIError, String(error));
        assert.equal(error.status, 504);
        assert.equal(error.code, 'timeout');
        return true;
      });
    }
    assert.equal(attempts, 2, 'the SDK did not retry a call that waited its whole time');
    const rows = await withClient(api.databaseUrl, async (db) =>
      (await db.query<{ status: string }>('SELECT status FROM mia.jobs WHERE business_id = $1', [business.id])).rows);
    assert.deepEqual(rows.map((r) => r.status), ['cancelled', 'cancelled'], 'no abandoned job waits for a miner that comes back');
  });
});
