// Live answers end to end: the real API on Postgres, `mia-miner run` with the
// llama-server double generating slowly (so "the first token arrives long before
// the last" shows in counts and order of events, never in timings), and clients
// reading SSE: our framing on POST /chat and GET /job/{id}/stream, OpenAI's via
// the official SDK. A second API process on the same database serves readers
// that are not on the miner's process. A miner killed mid-answer shows `restart`.
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { startTestApi, type TestApi } from '../support/apiServer.ts';
import { createTestDatabase, withClient, type TestDatabase } from '../support/database.ts';
import { createBusiness, type TestBusiness } from '../support/factories.ts';
import { eventually, fakeMinerRun, type MinerProcess, tempDir } from '../miner/helpers.ts';
import { sseEvents, type SseEvent } from '../support/sse.ts';


describe('live answers (streaming)', function () {
  this.timeout(90_000);
  let database: TestDatabase;
  let api: TestApi;
  let other: TestApi;
  let business: TestBusiness;
  const miners: MinerProcess[] = [];
  const dirs: { remove: () => void }[] = [];

  function startMiner(name: string, tokensPerSecond: number): MinerProcess {
    const state = tempDir();
    dirs.push(state);
    const miner = fakeMinerRun({ backendUrl: api.url, name, stateDir: state.path, tokensPerSecond, extraArgs: ['--restart-backoff', '0.1'] });
    miners.push(miner);
    return miner;
  }

  before(async () => {
    database = await createTestDatabase();
    const env = { MIA_LEASE_BASE_SECONDS: '3', MIA_LEASE_MS_PER_TOKEN: '0', MIA_REAP_INTERVAL_MS: '200', MIA_MINER_OFFLINE_AFTER_SECONDS: '600' };
    api = await startTestApi({ database, env });
    // A second API process on the same database, without its own maintenance worker.
    other = await startTestApi({ database, env: { ...env, MIA_WORKER: 'off' } });
    business = await createBusiness(api);
  });

  afterEach(async () => {
    for (const miner of miners.splice(0)) await miner.kill();
  });

  after(async () => {
    await other?.close();
    await api?.close();
    await database?.drop();
    for (const dir of dirs) dir.remove();
  });

  function chatStream(base: TestApi, body: Record<string, unknown>, headers: Record<string, string> = {}) {
    return fetch(`${base.url}/chat`, {
      method: 'POST',
      headers: { authorization: `Bearer ${business.api_key}`, 'content-type': 'application/json', ...headers },
      body: JSON.stringify({ stream: true, ...body }),
    });
  }

  it('POST /chat stream:true relays deltas before done, on another API process too, and resumes exactly from Last-Event-ID', async () => {
    const miner = startMiner('stream-a', 40);
    await miner.waitFor(/status idle/);
    // The client is on the process the miner is NOT connected to: deltas cross through Postgres.
    const res = await chatStream(other, { message: 'Where is my order?', max_tokens: 40, temperature: 0 });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /text\/event-stream/);
    const events: SseEvent[] = [];
    for await (const event of sseEvents(res)) {
      events.push(event);
      if (event.event === 'done' || event.event === 'error') break;
    }
    const names = events.map((e) => e.event);
    assert.equal(names[0], 'queued');
    assert.equal(names.at(-1), 'done', JSON.stringify(events));
    const deltas = events.filter((e) => e.event === 'delta');
    // 40 tokens at 40 tok/s posted every ~50 ms: many deltas, all before done.
    assert.ok(deltas.length >= 5, `only ${deltas.length} deltas`);
    assert.ok(names.indexOf('started') < names.indexOf('delta'));
    const done = JSON.parse(events.at(-1)!.data);
    const text = deltas.map((e) => JSON.parse(e.data).text).join('');
    assert.equal(text, done.response);
    assert.equal(done.status, 'completed');
    assert.ok(done.tokens_generated > 0);
    // Ids are <attempt>:<offset after the delta>.
    for (const [i, e] of deltas.entries()) {
      const offset = deltas.slice(0, i + 1).map((d) => JSON.parse(d.data).text).join('').length;
      assert.equal(e.id, `1:${offset}`);
    }

    // A second client resumes from the middle, on either process: exactly the rest.
    const middle = deltas[Math.floor(deltas.length / 2)]!;
    const offset = Number(middle.id!.split(':')[1]);
    for (const base of [api, other]) {
      const again = await fetch(`${base.url}/job/${done.job_id}/stream`, {
        headers: { authorization: `Bearer ${business.api_key}`, 'Last-Event-ID': middle.id! },
      });
      assert.equal(again.status, 200);
      const rest: SseEvent[] = [];
      for await (const event of sseEvents(again)) rest.push(event);
      assert.equal(rest.filter((e) => e.event === 'delta').map((e) => JSON.parse(e.data).text).join(''), done.response.slice(offset));
      assert.equal(rest.at(-1)!.event, 'done');
    }
    const bad = await fetch(`${api.url}/job/${done.job_id}/stream`, {
      headers: { authorization: `Bearer ${business.api_key}`, 'Last-Event-ID': 'nonsense' },
    });
    assert.equal(bad.status, 400);
    // The partial text went with the finished job.
    await withClient(database.url, async (client) => {
      const { rows } = await client.query('SELECT count(*)::int AS n FROM mia.job_deltas WHERE job_id = $1', [done.job_id]);
      assert.equal(rows[0].n, 0);
    });
  });

  it('the official openai SDK gets many content chunks before the answer is finished', async () => {
    const miner = startMiner('stream-b', 40);
    await miner.waitFor(/status idle/);
    const client = new OpenAI({ baseURL: `${other.url}/v1`, apiKey: business.api_key, maxRetries: 0 });
    const stream = await client.chat.completions.create({
      model: 'mia',
      messages: [{ role: 'user', content: 'Tell me about my package.' }],
      max_tokens: 40,
      stream: true,
      stream_options: { include_usage: true },
    });
    let contentChunks = 0;
    let text = '';
    let finish: string | null | undefined;
    let usage: OpenAI.CompletionUsage | undefined | null;
    let chunksBeforeJobDone = 0;
    let jobId: string | undefined;
    for await (const chunk of stream) {
      jobId ??= chunk.id.replace(/^chatcmpl-/, '');
      const choice = chunk.choices[0];
      if (choice?.delta.content) {
        contentChunks += 1;
        text += choice.delta.content;
        if (contentChunks === 3) {
          // Still generating when the third chunk is here: the job is not finished yet.
          await withClient(database.url, async (db) => {
            const { rows } = await db.query('SELECT status FROM mia.jobs WHERE id = $1', [jobId]);
            if (rows[0].status === 'running') chunksBeforeJobDone = contentChunks;
          });
        }
      }
      if (choice?.finish_reason) finish = choice.finish_reason;
      if (chunk.usage) usage = chunk.usage;
    }
    assert.ok(contentChunks >= 5, `${contentChunks} content chunks`);
    assert.equal(chunksBeforeJobDone, 3, 'chunks arrived while the job was still running');
    assert.equal(finish, 'length');
    assert.equal(usage?.completion_tokens, 40);
    const row = await withClient(database.url, async (db) => (await db.query('SELECT output FROM mia.jobs WHERE id = $1', [jobId])).rows[0]);
    assert.equal(text, row.output);
  });

  it('a miner killed mid-answer: the client sees restart, then only the new attempt, and one assistant row', async () => {
    const first = startMiner('stream-dies', 10);
    await first.waitFor(/status idle/);
    const res = await chatStream(api, { message: 'What is my refund status?', max_tokens: 60, temperature: 0 });
    const events: SseEvent[] = [];
    let second: MinerProcess | undefined;
    for await (const event of sseEvents(res)) {
      events.push(event);
      if (event.event === 'delta' && !second && events.filter((e) => e.event === 'delta').length === 3) {
        await first.kill(); // SIGKILL, process group: the miner and its llama-server
        second = startMiner('stream-takes-over', 200);
      }
      if (event.event === 'done' || event.event === 'error') break;
    }
    const names = events.map((e) => e.event);
    const restartAt = names.indexOf('restart');
    assert.ok(restartAt > 0, JSON.stringify(names));
    assert.equal(JSON.parse(events[restartAt]!.data).attempt, 2);
    assert.equal(names.at(-1), 'done');
    const done = JSON.parse(events.at(-1)!.data);
    const after = events.slice(restartAt + 1).filter((e) => e.event === 'delta');
    assert.equal(after.map((e) => JSON.parse(e.data).text).join(''), done.response);
    for (const e of after) assert.match(e.id!, /^2:/);
    assert.equal(done.attempts, 2);
    await withClient(database.url, async (db) => {
      const { rows } = await db.query("SELECT message FROM mia.chat_logs WHERE job_id = $1 AND role = 'assistant'", [done.job_id]);
      assert.equal(rows.length, 1);
      assert.equal(rows[0].message, done.response);
    });
  });

  it('cancel ends the stream with an error saying so; a client that hangs up leaves no subscriber behind', async () => {
    const miner = startMiner('stream-c', 10);
    await miner.waitFor(/status idle/);
    const res = await chatStream(api, { message: 'Cancel me', max_tokens: 200 });
    const events: SseEvent[] = [];
    for await (const event of sseEvents(res)) {
      events.push(event);
      if (event.event === 'delta' && events.filter((e) => e.event === 'delta').length === 2) {
        const jobId = JSON.parse(events[0]!.data).job_id;
        const cancel = await fetch(`${api.url}/job/${jobId}`, { method: 'DELETE', headers: { authorization: `Bearer ${business.api_key}` } });
        assert.equal(cancel.status, 200);
      }
      if (event.event === 'done' || event.event === 'error') break;
    }
    assert.equal(events.at(-1)!.event, 'error');
    assert.equal(JSON.parse(events.at(-1)!.data).error.code, 'cancelled');
    // The miner was told (409 lease_lost on its next batch) and stopped generating.
    await miner.waitFor(/lease lost/);

    // No miner now: a streamed chat stays queued; its client hangs up.
    await miner.kill();
    const gone = await chatStream(other, { message: 'Nobody waits for me' });
    const reader = gone.body!.getReader();
    const first = new TextDecoder().decode((await reader.read()).value);
    const jobId = /"job_id":"([0-9a-f-]{36})"/.exec(first)![1]!;
    assert.ok(other.server.ctx.streams.hub.subscribers >= 1);
    await reader.cancel();
    await eventually(() => other.server.ctx.streams.hub.subscribers === 0 || undefined, 5000);
    // Its only waiter went away before any miner took it: it costs no GPU time.
    await eventually(async () => {
      const status = await withClient(database.url, async (db) => (await db.query('SELECT status FROM mia.jobs WHERE id = $1', [jobId])).rows[0].status);
      return status === 'cancelled' || undefined;
    }, 5000);
  });
});
