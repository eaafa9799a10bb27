// A stream reader on the API process that stores the miner's batches shows them as
// stored, without reading them back, and the submit that created the job starts its
// reader without reading the job (api/streaming/streamHub.ts, jobEvents.ts
// StreamStart). What is shown must be exactly what a reader that reads shows: the
// text of every batch in order, then the stored answer. Counted in statements, not
// timed: the fallback check is slowed to once in 10 minutes so only the batches and
// the finish wake the reader.
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { startTestApi, type TestApi } from '../support/apiServer.ts';
import { createTestDatabase, withClient, type TestDatabase } from '../support/database.ts';
import { createBusiness, type TestBusiness } from '../support/factories.ts';
import { fakeMinerRun, type MinerProcess, tempDir } from '../miner/helpers.ts';
import { sseEvents, type SseEvent } from '../support/sse.ts';
import { jobDeltas } from '../../api/store/jobDeltas.ts';
import { jobs } from '../../api/store/jobs.ts';
import { jobIntegrity } from '../../api/store/jobIntegrity.ts';

describe('stream readers on the miner\'s API process', function () {
  this.timeout(90_000);
  let database: TestDatabase;
  let api: TestApi;
  let business: TestBusiness;
  let miner: MinerProcess;
  const state = tempDir();
  /** Reads of the job per id: delta reads, watches and guardrail reads. */
  const reads = new Map<string, number>();
  const originals = { read: jobDeltas.read, watch: jobs.watch, guardrail: jobIntegrity.guardrail };
  const count = (id: string) => reads.set(id, (reads.get(id) ?? 0) + 1);

  before(async () => {
    database = await createTestDatabase();
    api = await startTestApi({ database, env: { MIA_FALLBACK_POLL_MS: '600000', MIA_MINER_OFFLINE_AFTER_SECONDS: '600' } });
    business = await createBusiness(api);
    jobDeltas.read = (db, id, fromSeq) => (count(id), originals.read(db, id, fromSeq));
    jobs.watch = (db, id) => (count(id), originals.watch(db, id));
    jobIntegrity.guardrail = (db, id) => (count(id), originals.guardrail(db, id));
    miner = fakeMinerRun({ backendUrl: api.url, name: 'held-batches', stateDir: state.path, tokensPerSecond: 40 });
    await miner.waitFor(/status idle/);
  });

  after(async () => {
    Object.assign(jobDeltas, { read: originals.read });
    Object.assign(jobs, { watch: originals.watch });
    Object.assign(jobIntegrity, { guardrail: originals.guardrail });
    await miner?.kill();
    await api?.close();
    await database?.drop();
    state.remove();
  });

  it('the openai SDK gets every batch as stored while the job is read once, at its finish', async () => {
    const client = new OpenAI({ baseURL: `${api.url}/v1`, apiKey: business.api_key, maxRetries: 0 });
    const stream = await client.chat.completions.create({
      model: 'mia',
      messages: [{ role: 'user', content: 'Tell me about my package.' }],
      max_tokens: 40,
      stream: true,
    });
    let jobId = '';
    let chunks = 0;
    let text = '';
    for await (const chunk of stream) {
      jobId ||= chunk.id.replace(/^chatcmpl-/, '');
      const piece = chunk.choices[0]?.delta.content;
      if (piece) {
        chunks += 1;
        text += piece;
      }
    }
    const output = await withClient(database.url, async (db) =>
      (await db.query('SELECT output FROM mia.jobs WHERE id = $1', [jobId])).rows[0].output as string);
    assert.equal(text, output);
    // 40 tokens at 40 tok/s, posted as they come: many batches, each shown without a read.
    assert.ok(chunks >= 5, `${chunks} content chunks`);
    // The finish (its NOTIFY) is the one read: no watch, no guardrail read, no read per batch.
    assert.equal(reads.get(jobId), 1, `the job was read ${reads.get(jobId)} times`);
  });

  it('POST /chat stream:true shows the same text as a reader that reads (GET /job/{id}/stream)', async () => {
    const res = await fetch(`${api.url}/chat`, {
      method: 'POST',
      headers: { authorization: `Bearer ${business.api_key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ stream: true, message: 'Where is my order?', max_tokens: 40, temperature: 0 }),
    });
    assert.equal(res.status, 200);
    const events: SseEvent[] = [];
    let jobId = '';
    let resumed: Promise<SseEvent[]> | undefined;
    for await (const event of sseEvents(res)) {
      events.push(event);
      if (event.event === 'queued') jobId = JSON.parse(event.data).job_id;
      // A second reader joins mid-answer from the start: it reads the batches stored so far.
      if (event.event === 'delta' && !resumed) {
        resumed = (async () => {
          const again = await fetch(`${api.url}/job/${jobId}/stream`, { headers: { authorization: `Bearer ${business.api_key}`, 'Last-Event-ID': '1:0' } });
          const seen: SseEvent[] = [];
          for await (const e of sseEvents(again)) seen.push(e);
          return seen;
        })();
      }
    }
    const done = JSON.parse(events.at(-1)!.data);
    assert.equal(events.at(-1)!.event, 'done');
    const shown = (list: SseEvent[]) => list.filter((e) => e.event === 'delta').map((e) => JSON.parse(e.data).text).join('');
    assert.equal(shown(events), done.response);
    const other = await resumed!;
    assert.equal(other.at(-1)!.event, 'done');
    assert.equal(shown(other), done.response);
    // Ids count the text shown, as for any reader.
    const deltas = events.filter((e) => e.event === 'delta');
    assert.ok(deltas.length >= 5, `${deltas.length} deltas`);
    assert.equal(deltas.at(-1)!.id, `1:${done.response.length}`);
  });
});
